#!/usr/bin/env bash
# CPU per message of `burgut serve` (defaults: embedded store, tlogs, embedded
# MQTT broker, WebSocket hub) under `burgut loadgen`; by default without
# InfluxDB or stream clients: the quick A/B measurement behind BENCHMARKS.md's
# "pipeline changes" table.
#
#   scripts/bench-serve.sh VEHICLES SECONDS [serve flags...]
#   BIN=path/to/burgut  binary to measure (default: go build ./cmd/burgut)
#   PROF=1              take a CPU profile over the window (bin/cpu.VEHICLES.prof)
#   ALLOC=1             take an allocation profile over the window instead
#   HEAP=1              take a heap profile at the end (bin/heap.VEHICLES.prof)
#   GODEBUG=gctrace=1   passes through: the GC trace is in bin/serve.last.log
#   WS=N                N WebSocket clients reading every state (scripts/wsdrain.py;
#                       WS_QUERY=rate_hz=2 etc. is added to their URL)
#   WS_EXTRA=QUERY      one more client with this query, e.g. the station
#                       bench's probe client: bbox=69.0,41.7,69.6,41.95&rate_hz=1000
#                       (with --ws-max-rate 1000 among the serve flags)
#   INFLUX=URL          store into this InfluxDB 1.x (a fresh database, dropped
#                       afterwards) instead of the embedded store, e.g.
#                       INFLUX=$BURGUT_TEST_INFLUX_URL after scripts/services.sh start
#   WARM=S              seconds of load before the window starts (default 3)
#   PERF=1              kernel's view over the window, with perf: system-call
#                       counts (perf stat, syscalls:sys_enter_*) and context
#                       switches, then a cpu-clock call-graph profile of serve
#                       (user and kernel stacks, bin/perf.VEHICLES.data; read it
#                       with perf report -i ... --no-children). The window is
#                       split: the first half counts, the second half samples
#
# Prints burgut serve's CPU (% of one core) and µs per message over the
# window (from 3 s into the load until 3 s before its end; us/msg divides by
# the messages offered, us/frame by the frames the station received in the
# window, which differ when it falls behind on a starved machine), sent/received,
# socket drops, RSS (every 10 s and start→end), serve's thread context
# switches per second (csw/s: the runtime parking and waking its threads),
# the machine's load average,
# and every non-zero drop counter from /metrics. Profiles come from
# BURGUT_PPROF (loopback only).
set -euo pipefail
N=${1:?vehicles}; S=${2:?seconds}; shift 2
[ "$S" -ge 10 ] || { echo "SECONDS must be at least 10" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/bin"
BIN=${BIN:-}
if [ -z "$BIN" ]; then (cd "$root" && go build -o bin/burgut ./cmd/burgut); BIN=$root/bin/burgut; fi
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.'"$1"'); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(port SOCK_STREAM); MQTT=$(port SOCK_STREAM); PP=$(port SOCK_STREAM)
NL=$(( (N+249)/250 )); L=(); T=()
for i in $(seq 0 $((NL-1))); do p=$(port SOCK_DGRAM); L+=(--mavlink "l$i=udp:127.0.0.1:$p"); T+=(--target "udp:127.0.0.1:$p"); done
STORE=()
if [ -n "${INFLUX:-}" ]; then
	DB=bench_serve_$$
	curl -sf -o /dev/null -XPOST "$INFLUX/query" --data-urlencode "q=CREATE DATABASE $DB" || { echo "InfluxDB at $INFLUX: cannot create $DB" >&2; exit 1; }
	STORE=(--influx-url "$INFLUX" --influx-bucket "$DB/autogen")
fi
BURGUT_PPROF=127.0.0.1:$PP "$BIN" serve --data-dir "$D" --http 127.0.0.1:$HTTP --mqtt-listen 127.0.0.1:$MQTT --log-level warn "${L[@]}" "${STORE[@]}" "$@" 2>"$D/serve.log" &
SP=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$HTTP/api/v1/health" && break; sleep 0.1; done
TOK=$("$BIN" tokens create --data-dir "$D" --name bench --role admin 2>/dev/null)
cpu() { awk '{print $14+$15}' /proc/$SP/stat; }
# sys: serve's kernel time so far (stime), to split cpu% into user and kernel.
sys() { awk '{print $15}' /proc/$SP/stat; }
# csw: the context switches of serve's threads so far (voluntary: a thread
# parked, e.g. the Go runtime idling an M; involuntary: preempted).
csw() { cat /proc/$SP/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/{s+=$2} END{printf "%d", s}'; }
rss() { awk '/VmRSS/{print int($2/1024)}' /proc/$SP/status; }
WSP=()
for _ in $(seq 1 "${WS:-0}"); do
	python3 "$root/scripts/wsdrain.py" "ws://127.0.0.1:$HTTP/api/v1/stream${WS_QUERY:+?$WS_QUERY}" "$TOK" 2>>"$D/ws.log" &
	WSP+=($!)
done
if [ -n "${WS_EXTRA:-}" ]; then
	python3 "$root/scripts/wsdrain.py" "ws://127.0.0.1:$HTTP/api/v1/stream?$WS_EXTRA" "$TOK" 2>>"$D/ws.log" &
	WSP+=($!)
fi
R0=$(rss)
"$BIN" loadgen --vehicles "$N" "${T[@]}" --duration "${S}s" --json "$D/sent.json" --log-level warn >/dev/null &
LP=$!
WARM=${WARM:-3}
sleep "$WARM"
recv() { curl -s -H "Authorization: Bearer $TOK" "http://127.0.0.1:$HTTP/metrics" | awk '/^burgut_mavlink_frames_received_total/{s+=$2} END{printf "%d", s}'; }
F0=$(recv); C0=$(cpu); K0=$(sys); X0=$(csw); T0=$(date +%s.%N); W=$((S-WARM-3))
if [ -n "${PERF:-}" ]; then
	H=$((W/2))
	EV=cpu-clock,context-switches,cpu-migrations
	for c in writev write sendto sendmsg recvmmsg recvfrom read futex epoll_pwait epoll_wait epoll_ctl nanosleep sched_yield pwrite64 fdatasync fsync getsockopt setsockopt tgkill madvise; do
		[ -d /sys/kernel/tracing/events/syscalls/sys_enter_$c ] && EV=$EV,syscalls:sys_enter_$c
	done
	perf stat -e "$EV" -p "$SP" -- sleep "$H" 2>"$root/bin/perfstat.$N.txt" || true
	perf record -q -e cpu-clock -F 999 -g -p "$SP" -o "$root/bin/perf.$N.data" -- sleep $((W-H)) 2>/dev/null || true
elif [ -n "${PROF:-}" ]; then curl -s -o "$root/bin/cpu.$N.prof" "http://127.0.0.1:$PP/debug/pprof/profile?seconds=$W"
elif [ -n "${ALLOC:-}" ]; then curl -s -o "$root/bin/allocs.$N.prof" "http://127.0.0.1:$PP/debug/pprof/allocs?seconds=$W"
else for i in $(seq 1 $((W/10))); do sleep 10; echo "t+$((i*10+WARM))s rss=$(rss)MB load=$(cut -d' ' -f1 /proc/loadavg)"; done; sleep $((W%10)); fi
C1=$(cpu); K1=$(sys); X1=$(csw); T1=$(date +%s.%N); F1=$(recv)
wait $LP
sleep 1 # let the dispatchers take what the readers staged last
R1=$(rss)
[ -n "${HEAP:-}" ] && curl -s -o "$root/bin/heap.$N.prof" "http://127.0.0.1:$PP/debug/pprof/heap"
M=$(curl -s -H "Authorization: Bearer $TOK" "http://127.0.0.1:$HTTP/metrics")
RECV=$(echo "$M" | awk '/^burgut_mavlink_frames_received_total/{s+=$2} END{printf "%d", s}')
DROPS=$(echo "$M" | awk '/^burgut_udp_socket_drops_total/{s+=$2} END{printf "%d", s}')
SENT=$(python3 -c "import json;print(json.load(open('$D/sent.json'))['sent_total'])")
HZ=$(getconf CLK_TCK)
python3 -c "
cpu=($C1-$C0)/$HZ; wall=$T1-$T0; rate=$N*18
print(f'vehicles=$N cpu%={100*cpu/wall:.1f} sys%={100*($K1-$K0)/$HZ/wall:.1f} us/msg={1e6*cpu/(wall*rate):.2f} us/frame={1e6*cpu/max(1,$F1-$F0):.2f} csw/s={($X1-$X0)/wall:.0f} sent=$SENT received=$RECV socket_drops=$DROPS rss=${R0}->${R1}MB load=$(cut -d' ' -f1-3 /proc/loadavg)')"
echo "$M" | grep -E '_dropped_total|_drops_total' | grep -v '^#' | grep -v ' 0$' || true
[ ${#WSP[@]} -gt 0 ] && { kill "${WSP[@]}" 2>/dev/null; wait "${WSP[@]}" 2>/dev/null; echo "ws clients: $(sort "$D/ws.log" | uniq -c | head -3 | tr '\n' ' ')"; }
[ -n "${PERF:-}" ] && grep -vE "^\s*$|^#" "$root/bin/perfstat.$N.txt"
kill -INT $SP; wait $SP || true
# Embedded store: count the stored rows after serve has stopped (its Close
# commits what was pending), per table and per message measurement, next to
# what loadgen sent per message name; a fleet sends every message, so at
# --telemetry-interval 0 rows = sent means nothing was lost.
if [ -z "${INFLUX:-}" ] && [ -f "$D/telemetry.db" ]; then python3 - "$D/telemetry.db" "$D/sent.json" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1]); sent = json.load(open(sys.argv[2]))["sent"]
tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name != 'series'")]
rows = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
msgs = dict(db.execute("SELECT measurement, COUNT(*) FROM messages GROUP BY measurement").fetchall()) if "messages" in rows else {}
print("stored rows: " + " ".join(f"{t}={n}" for t, n in sorted(rows.items())) + f" total={sum(rows.values())}")
print("stored messages: " + " ".join(f"{k}={v}" for k, v in sorted(msgs.items())))
print("sent: " + " ".join(f"{k}={v}" for k, v in sorted(sent.items())) + f" total={sum(sent.values())}")
PY
fi
[ -n "${INFLUX:-}" ] && curl -s -o /dev/null -XPOST "$INFLUX/query" --data-urlencode "q=DROP DATABASE $DB"
cp "$D/serve.log" "$root/bin/serve.last.log"
