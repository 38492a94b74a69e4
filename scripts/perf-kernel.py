#!/usr/bin/env python3
"""Split a perf profile of burgut serve into user and kernel time and charge
the kernel samples to the Go code that entered the kernel.

    perf script -i bin/perf.2000.data -F ip,sym,dso | scripts/perf-kernel.py

pprof sees only Go frames; this answers what share of serve's CPU the kernel
spends and for whom (BENCHMARKS.md, "CPU per message from the kernel's
side"). A sample counts as kernel when its leaf frame is in the kernel; it
is charged to the first Go frame above the syscall wrappers. Loopback
receive work (the TCP/UDP receive path the kernel runs in the sender's
context on loopback, which a remote peer would run itself) and the switch-in
after a blocked thread (finish_task_switch) are shown apart.
"""
import collections
import re
import sys

WRAPPERS = ('syscall.', 'internal/runtime/syscall', 'internal/poll', 'golang.org/x/sys',
            '[unknown]', 'net.', 'os.', 'runtime.exitsyscall', 'runtime.entersyscall',
            'runtime.reentersyscall')
RX = re.compile(r'^(tcp_v4_rcv|tcp_rcv|tcp_data_queue|tcp_v4_do_rcv|tcp_queue_rcv|ip_rcv|'
                r'ip_local_deliver|ip_protocol_deliver|__netif_receive|process_backlog|'
                r'net_rx_action|handle_softirqs|__do_softirq|tcp_event_data_recv|'
                r'sock_def_readable|tcp_ack|tcp_clean_rtx|__udp4_lib_rcv|udp_queue_rcv|'
                r'__udp_enqueue|udp_rcv|tcp_add_backlog|loopback_xmit|netif_rx|enqueue_to_backlog)')
SWITCH_FROM = (('sys_epoll_pwait', 'epoll_pwait'), ('futex', 'futex'),
               ('clock_nanosleep', 'clock_nanosleep'), ('sys_nanosleep', 'nanosleep'),
               ('sched_yield', 'sched_yield'), ('irqentry', 'preemption/irq exit'),
               ('exit_to_user', 'preemption/irq exit'))

total = kernel = 0
by_caller, rx, switch = collections.Counter(), collections.Counter(), collections.Counter()


def sample(frames):
    global total, kernel
    if not frames:
        return
    total += 1
    if not frames[0][1]:
        return
    kernel += 1
    caller = next((s for s, k in frames if not k and not s.startswith(WRAPPERS)), '?')
    by_caller[caller] += 1
    leaf = frames[0][0]
    if RX.match(leaf):
        rx[caller] += 1
    if leaf.startswith('finish_task_switch'):
        names = ' '.join(s for s, _ in frames)
        switch[next((w for k, w in SWITCH_FROM if k in names), 'other')] += 1


frames = []
for line in sys.stdin:
    if not line.strip():
        sample(frames)
        frames = []
        continue
    if not line.startswith((' ', '\t')):
        continue
    parts = line.strip().split(None, 1)
    if len(parts) < 2:
        continue
    m = re.match(r'(.*?)(\+0x[0-9a-f]+)? \((.*)\)$', parts[1])
    sym, dso = (m.group(1), m.group(3)) if m else (parts[1], '')
    frames.append((sym, 'kernel' in dso or (dso.startswith('[') and 'vdso' not in dso)))
sample(frames)
if not total:
    sys.exit('no samples: pipe `perf script -F ip,sym,dso` in')
pct = lambda n: 100 * n / total  # noqa: E731
print(f'samples {total}, kernel leaf {kernel} ({pct(kernel):.1f}% of serve)')
print('kernel samples by the Go code that entered the kernel (% of serve; loopback receive path inside):')
for c, n in by_caller.most_common(15):
    print(f'  {pct(n):5.1f}%  rx {pct(rx[c]):4.2f}%  {c}')
print(f'loopback/softirq receive path in all: {pct(sum(rx.values())):.2f}%')
print(f'switch-in after blocking (finish_task_switch): {pct(sum(switch.values())):.1f}%: '
      + ', '.join(f'{w} {n}' for w, n in switch.most_common()))
