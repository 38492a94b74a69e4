package main

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/simulator/loadgen"
)

// Issue 10's targets, checked by BenchmarkStation on every run (the house
// rule: timing and cost targets live in benchmarks, not in unit tests).
const (
	// targetVehicles is the fleet size up to which nothing may be lost
	// and the latency targets apply ("2,000 vehicles over 8 links …");
	// past it the station may shed load, but must count what it sheds
	// (unaccounted stays 0) and raise no false link_lost.
	targetVehicles = 2000
	// The WebSocket p99 from a datagram's arrival to its delivery: < 25 ms
	// with 10 clients connected, < 50 ms with 100.
	targetP99FewMS, targetP99ManyMS     = 25.0, 50.0
	targetFewClients, targetManyClients = 10, 100
	// defaultUSBudget is the CPU budget per message of the whole binary,
	// every stage included: the "aim for ≤ 10 µs per message"
	// (BURGUT_BENCH_US_BUDGET states another).
	defaultUSBudget = 10.0
	// rssFlatBound is how much RSS may grow from the end of the warmup
	// to the end of the load and still count as flat: the GC's headroom
	// (GOGC 200) moves RSS by ±10–15 % between cycles over a flat live
	// heap (357–461 MB every 10 s of the quiet 10-minute run).
	rssFlatBound = 0.25
)

// benchTarget is one target checked on one run.
type benchTarget struct {
	vehicles, clients int
	name              string
	// correctness targets (nothing lost, every position stored, no false
	// link_lost, every vehicle connected) always fail the benchmark when
	// missed; timing and cost targets fail it unless
	// BURGUT_BENCH_TARGETS=report.
	correctness bool
	applies     bool // false: the target does not apply to this run (n/a)
	pass        bool
	value       string // what was measured
}

func (t benchTarget) result() string {
	switch {
	case !t.applies:
		return "n/a"
	case t.pass:
		return "PASS"
	}
	return "MISS"
}

func (t benchTarget) String() string {
	return fmt.Sprintf("%d vehicles × %d clients: %s: measured %s", t.vehicles, t.clients, t.name, t.value)
}

// benchUSBudget is BURGUT_BENCH_US_BUDGET, or the aim.
func benchUSBudget(b *testing.B) float64 {
	v := strings.TrimSpace(os.Getenv("BURGUT_BENCH_US_BUDGET"))
	if v == "" {
		return defaultUSBudget
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		b.Fatalf("BURGUT_BENCH_US_BUDGET=%q: want a positive number of µs per message", v)
	}
	return f
}

// evalTargets checks one run against the targets. interval is serve's
// --telemetry-interval (stored = sent is a target at 0 only), clients the
// WebSocket clients reading every vehicle (besides the probe), budget the
// µs per message allowed.
func evalTargets(r benchRow, interval string, clients int, budget float64) []benchTarget {
	small := r.vehicles <= targetVehicles
	t := func(name string, correctness, applies, pass bool, value string) benchTarget {
		return benchTarget{vehicles: r.vehicles, clients: clients, name: name, correctness: correctness, applies: applies, pass: pass, value: value}
	}
	var out []benchTarget
	shed := ""
	if r.shed != "" {
		shed = " (" + r.shed + ")"
	}
	out = append(out,
		t(fmt.Sprintf("0 socket and 0 stage drops (≤ %d vehicles)", targetVehicles), true, small,
			r.socketDrops == 0 && r.stageDrops == 0, fmt.Sprintf("socket %.0f, stages %.0f%s", r.socketDrops, r.stageDrops, shed)),
		t("0 unaccounted frames (every size: what is shed is counted)", true, true,
			r.unaccounted == 0, fmt.Sprintf("%.0f", r.unaccounted)))
	stored := fmt.Sprintf("%.0f of %d", r.stored, r.sentGPI)
	if r.queued != "" {
		stored += "; still queued when counted: " + r.queued
	}
	out = append(out,
		t("every position stored once: stored = sent (interval 0)", true, small && interval == "0",
			r.stored == float64(r.sentGPI), stored),
		t("0 link_lost while the load ran (every size)", true, true, r.linkLost == 0, strconv.Itoa(r.linkLost)),
		t("every vehicle connected at the end (+ the probe)", true, small,
			r.connectedEnd == r.vehicles+1, fmt.Sprintf("%d of %d", r.connectedEnd, r.vehicles+1)))

	// Latency: < 25 ms p99 with up to 10 clients, < 50 ms with up to 100,
	// at up to 2,000 vehicles; for the probe (one client's view, from
	// loadgen's send) and for every client's writes (ws_write, from the
	// datagram's arrival).
	limit, latApplies := targetP99FewMS, small && clients <= targetManyClients
	if clients > targetFewClients {
		limit = targetP99ManyMS
	}
	wsWrite := math.NaN()
	for _, st := range r.stages {
		if st.name == "ws_write" {
			wsWrite = st.p99
		}
	}
	ms := func(v float64) string {
		if math.IsNaN(v) {
			return "no data"
		}
		return fmt.Sprintf("%.1f ms", v)
	}
	out = append(out,
		t(fmt.Sprintf("probe p99 < %.0f ms", limit), false, latApplies, r.p99ms < limit, ms(r.p99ms)),
		t(fmt.Sprintf("every client's ws_write p99 < %.0f ms", limit), false, latApplies && clients > 0, wsWrite < limit, ms(wsWrite)))

	// Cost: µs of serve's CPU per offered message, meaningful where the
	// station kept up (received every frame sent; a starved station that
	// fell behind spent less per offered message).
	us := 1e4 * r.cpuPct / float64(r.vehicles*loadgen.MessagesPerSecond)
	keptUp := r.sent > 0 && r.received == float64(r.sent)
	usValue := fmt.Sprintf("%.1f µs/msg", us)
	if !keptUp {
		usValue += " (the station fell behind: not comparable)"
	}
	out = append(out, t(fmt.Sprintf("CPU ≤ %.1f µs per message, every stage", budget), false, keptUp, us <= budget, usValue))
	growth := math.NaN()
	if r.rssWarmMB > 0 {
		growth = r.rssEndMB/r.rssWarmMB - 1
	}
	out = append(out, t(fmt.Sprintf("RSS flat: end ≤ warm + %.0f %%", 100*rssFlatBound), false, r.rssWarmMB > 0,
		growth <= rssFlatBound, fmt.Sprintf("%.0f → %.0f MB (%+.0f %%)", r.rssWarmMB, r.rssEndMB, 100*growth)))
	return out
}

// benchTargets checks every run and returns the targets table and the
// targets missed.
func benchTargets(rows []benchRow, interval string, clients int, budget float64) (string, []benchTarget) {
	var s strings.Builder
	s.WriteString("Issue 10's targets (correctness misses fail the benchmark; latency and cost misses too unless BURGUT_BENCH_TARGETS=report):\n\n")
	s.WriteString("| vehicles × clients | target | measured | result |\n|---|---|---|---|\n")
	var misses []benchTarget
	for _, r := range rows {
		for _, t := range evalTargets(r, interval, clients, budget) {
			fmt.Fprintf(&s, "| %d × %d | %s | %s | %s |\n", t.vehicles, t.clients, t.name, t.value, t.result())
			if t.applies && !t.pass {
				misses = append(misses, t)
			}
		}
	}
	return s.String(), misses
}

// TestBenchTargets: a run that holds every target passes them all; each
// kind of miss is a MISS of its own target, of the right class; targets
// that do not apply (past 2,000 vehicles, interval ≠ 0, a starved
// station's µs/msg) are n/a, not misses.
func TestBenchTargets(t *testing.T) {
	good := benchRow{vehicles: 2000, sent: 1106000, sentGPI: 600000, received: 1106000, stored: 600000, cpuPct: 50,
		rssWarmMB: 400, rssEndMB: 420, connectedEnd: 2001, p99ms: 18, stages: []stageLatency{{name: "ws_write", p99: 20}}}
	misses := func(r benchRow, interval string, clients int) map[string]bool {
		t.Helper()
		_, ms := benchTargets([]benchRow{r}, interval, clients, 14)
		out := map[string]bool{}
		for _, m := range ms {
			out[fmt.Sprintf("%s/%v", m.name, m.correctness)] = true
		}
		return out
	}
	if m := misses(good, "0", 10); len(m) != 0 {
		t.Fatalf("a run holding every target missed %v", m)
	}
	for _, tc := range []struct {
		name    string
		change  func(r *benchRow)
		clients int
		want    string
	}{
		{"socket drop", func(r *benchRow) { r.socketDrops = 1 }, 10, "0 socket and 0 stage drops (≤ 2000 vehicles)/true"},
		{"stage drop", func(r *benchRow) { r.stageDrops, r.shed = 3, "ws 3" }, 10, "0 socket and 0 stage drops (≤ 2000 vehicles)/true"},
		{"unaccounted", func(r *benchRow) { r.unaccounted = -2 }, 10, "0 unaccounted frames (every size: what is shed is counted)/true"},
		{"stored", func(r *benchRow) { r.stored = 599999 }, 10, "every position stored once: stored = sent (interval 0)/true"},
		{"link_lost", func(r *benchRow) { r.linkLost = 1 }, 10, "0 link_lost while the load ran (every size)/true"},
		{"connected", func(r *benchRow) { r.connectedEnd = 1999 }, 10, "every vehicle connected at the end (+ the probe)/true"},
		{"probe", func(r *benchRow) { r.p99ms = 25 }, 10, "probe p99 < 25 ms/false"},
		{"probe, no data", func(r *benchRow) { r.p99ms = math.NaN() }, 10, "probe p99 < 25 ms/false"},
		{"ws_write", func(r *benchRow) { r.stages[0].p99 = 29 }, 10, "every client's ws_write p99 < 25 ms/false"},
		{"ws_write at 100 clients", func(r *benchRow) { r.stages[0].p99 = 51 }, 100, "every client's ws_write p99 < 50 ms/false"},
		{"cpu", func(r *benchRow) { r.cpuPct = 60 }, 10, "CPU ≤ 14.0 µs per message, every stage/false"},
		{"rss", func(r *benchRow) { r.rssEndMB = 501 }, 10, "RSS flat: end ≤ warm + 25 %/false"},
	} {
		r := good
		r.stages = []stageLatency{{name: "ws_write", p99: 20}}
		tc.change(&r)
		m := misses(r, "0", tc.clients)
		if len(m) != 1 || !m[tc.want] {
			t.Errorf("%s: missed %v, want only %q", tc.name, m, tc.want)
		}
	}
	// 100 clients: 40 ms is under their 50 ms target.
	r := good
	r.stages, r.p99ms = []stageLatency{{name: "ws_write", p99: 40}}, 40
	if m := misses(r, "0", 100); len(m) != 0 {
		t.Errorf("100 clients at 40 ms p99 missed %v", m)
	}
	// Past 2,000 vehicles drops, stored < sent, fewer connected and any
	// latency are allowed; unaccounted and link_lost are not. A station
	// that fell behind has no comparable µs/msg.
	r = good
	r.vehicles, r.socketDrops, r.stored, r.connectedEnd, r.p99ms, r.received, r.cpuPct = 3000, 5000, 1, 2500, 900, 1000000, 99
	if m := misses(r, "0", 10); len(m) != 0 {
		t.Errorf("3,000 vehicles shedding what it counted missed %v", m)
	}
	r.unaccounted, r.linkLost = 1, 1
	if m := misses(r, "0", 10); len(m) != 2 {
		t.Errorf("3,000 vehicles with unaccounted frames and a link_lost: missed %v, want both", m)
	}
	// At the default interval the stored count is not a target.
	r = good
	r.stored = 30000
	if m := misses(r, "1s", 10); len(m) != 0 {
		t.Errorf("interval 1s missed %v", m)
	}
	table, _ := benchTargets([]benchRow{good}, "0", 10, 14)
	if strings.Count(table, "| PASS |") != 9 || strings.Contains(table, "MISS") {
		t.Errorf("the targets table of a run holding them all:\n%s", table)
	}
}
