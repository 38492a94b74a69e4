#!/usr/bin/env python3
"""Group a perf profile of burgut serve by the goroutine (or runtime
thread) each sample ran in, user and kernel time together.

    perf record -e cpu-clock -F 999 -g -p $(pgrep -f 'burgut serve') -o serve.data -- sleep 30
    perf script -i serve.data -F ip,sym,dso | scripts/perf-roots.py

Why not pprof: on this VM Go's CPU profiler charged the UDP readers'
batch clock with 22 % of serve's samples where perf's cpu-clock sampling
(its own high-resolution timer, user and kernel stacks) gave it 1.6 %
(BENCHMARKS.md), in runs of the same binary minutes apart. The likely
reason: the profiler's per-thread CPU timers are checked at the kernel's
scheduler tick, so work that wakes at a fixed phase of that tick is
sampled out of proportion. Use pprof for where time goes inside
a goroutine, this for how serve's CPU splits between them.

A sample goes to the first group whose pattern its stack matches (in the
order below); "other" is the rest.
"""
import collections
import re
import sys

GROUPS = [
    ('batch clock', r'batchClock\)\.run'),
    ('UDP readers', r'udpListener\)\.readLoop'),
    ('link dispatchers', r'linkRT\)\.run|Station\)\.Run'),
    ('WebSocket hub', r'relay\.\(\*Hub\)\.Run'),
    ('WebSocket writers', r'wsClient\)\.writeLoop'),
    ('MQTT publisher', r'Publisher\)\.Run'),
    ('recorder and InfluxDB sink', r'telemetry\.\(\*Recorder\)|influx\.\(\*Sink\)'),
    ('tlog', r'tlog\.\(\*Recorder\)'),
    ('gomavlib (station HEARTBEATs, channels)', r'gomavlib'),
    ('GC and scavenger', r'gcBgMarkWorker|gcDrain|bgsweep|bgscavenge|markroot|gcStart'),
    ('sysmon', r'runtime\.sysmon'),
    ('scheduler (idle threads)', r'runtime\.schedule|findRunnable|runtime\.mstart|park_m|runtime\.mcall'),
]
COMPILED = [(name, re.compile(rx)) for name, rx in GROUPS]


def group(stack):
    s = ';'.join(stack)
    for name, rx in COMPILED:
        if rx.search(s):
            return name
    return 'other'


counts, kernel = collections.Counter(), collections.Counter()
stack, in_kernel = [], None


def flush():
    if stack:
        g = group(stack)
        counts[g] += 1
        if in_kernel:
            kernel[g] += 1


for line in sys.stdin:
    if not line.strip():
        flush()
        stack, in_kernel = [], None
        continue
    parts = line.split()
    if len(parts) < 2:
        continue
    if in_kernel is None:
        in_kernel = 'kernel' in parts[-1]  # the leaf frame's DSO
    stack.append(parts[1])
flush()
total = sum(counts.values())
if not total:
    sys.exit('no samples')
print(f'{"% of samples":>12} {"kernel leaf":>12}  group')
for g, n in counts.most_common():
    print(f'{100 * n / total:11.1f}% {100 * kernel[g] / total:11.1f}%  {g}')
print(f'{total:12d} samples')
