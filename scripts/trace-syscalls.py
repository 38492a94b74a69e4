#!/usr/bin/env python3
"""Tally a Go runtime trace's system calls by the Go code that made them,
and how many of them lost their P to the runtime's monitor (sysmon).

    curl -s -o serve.trace "http://$BURGUT_PPROF/debug/pprof/trace?seconds=2"
    go tool trace -d=parsed serve.trace | scripts/trace-syscalls.py

A goroutine in a system call made through the runtime (syscall.Syscall,
not RawSyscall) keeps its P until it returns or sysmon takes the P back
(a hand-off: the P goes to another thread, which may have to be woken,
and the caller, back from the kernel, waits for a P again). On this
2-vCPU VM a thread's wake-up costs tens of µs (scripts/wakecost), so
which calls lose their P matters; a CPU profile does not show it.

For every call: the first frame outside the runtime, syscall and
standard-library I/O wrappers; the count; how many came back without
their P (Syscall->Runnable in the trace); and the median time in the call.
"""
import collections
import re
import sys

SKIP = re.compile(r'^(runtime\.|syscall\.|golang\.org/x/sys|internal/|os\.|net\.|io\.|bufio\.)')
EVENT = re.compile(r'Time=(\d+) GoID=(\d+) (\w+)->(\w+)')

entered = collections.Counter()
lost = collections.Counter()
durations = collections.defaultdict(list)
current = {}  # goroutine -> (caller, time it entered the call)
lines = sys.stdin.read().split('\n')
for i, line in enumerate(lines):
    if 'StateTransition' not in line:
        continue
    m = EVENT.search(line)
    if not m:
        continue
    t, g, a, b = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    if a == 'Running' and b == 'Syscall':
        caller = '?'
        j = i + 1
        if j < len(lines) and lines[j].startswith('TransitionStack='):
            j += 1
            while j < len(lines) and lines[j].startswith('\t'):
                if not lines[j].startswith('\t\t'):
                    fn = lines[j].strip().split(' @')[0]
                    if not SKIP.match(fn):
                        caller = fn
                        break
                j += 1
        current[g] = (caller, t)
        entered[caller] += 1
    elif a == 'Syscall' and b in ('Running', 'Runnable') and g in current:
        caller, t0 = current.pop(g)
        durations[caller].append(t - t0)
        if b == 'Runnable':
            lost[caller] += 1

print(f'{"calls":>7} {"lost P":>7} {"median µs":>10}  caller')
for caller, n in entered.most_common():
    d = sorted(durations[caller])
    med = d[len(d) // 2] / 1000 if d else float('nan')
    print(f'{n:7d} {lost[caller]:7d} {med:10.1f}  {caller}')
print(f'{sum(entered.values()):7d} {sum(lost.values()):7d}             all')
