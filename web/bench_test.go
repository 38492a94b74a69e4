package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/internal/testenv/chromium"
	"github.com/burgut-uav/burgut/simulator/loadgen"
	"github.com/burgut-uav/burgut/web"
)

// BenchmarkConsoleFrames measures the console in Chromium with N moving
// vehicles (burgut loadgen: circles at 8–15 m/s, 10 Hz positions) streamed
// by a real station: page load size, time from login to the first
// vehicle drawn, and the page's frame time (requestAnimationFrame
// intervals, p50/p95/max) over BURGUT_BENCH_SECONDS (default 10) once all
// N are listed, and the tab's memory (JS heap after a forced collection,
// renderer PSS) at the start, half-way and at the end of that window. Results are reported as metrics, not thresholds; they go
// in BENCHMARKS.md. N from BURGUT_BENCH_CONSOLE_VEHICLES (default 100,1000).
func BenchmarkConsoleFrames(b *testing.B) {
	browser := chromium.Binary(b)
	if !web.Built() {
		b.Skip("web map not built: run 'make web'")
	}
	counts := []int{100, 1000}
	if s := os.Getenv("BURGUT_BENCH_CONSOLE_VEHICLES"); s != "" {
		counts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				b.Fatalf("BURGUT_BENCH_CONSOLE_VEHICLES %q: want numbers", s)
			}
			counts = append(counts, n)
		}
	}
	seconds := 10
	if s := os.Getenv("BURGUT_BENCH_SECONDS"); s != "" {
		seconds, _ = strconv.Atoi(s)
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("vehicles=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchFrames(b, browser, n, seconds)
			}
		})
	}
}

func benchFrames(b *testing.B, browser string, n, seconds int) {
	links := (n + 249) / 250
	cfg := app.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.GroundStation.MAVLink = nil
	var targets []string
	for i := 0; i < links; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreeUDPPort(b))
		cfg.GroundStation.MAVLink = append(cfg.GroundStation.MAVLink, fmt.Sprintf("l%d=udp:%s", i, addr))
		targets = append(targets, "udp:"+addr)
	}
	cfg.DataDir = b.TempDir()
	cfg.Relay.MQTTListen = "127.0.0.1:0"
	a := app.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	defer func() { cancel(); <-runErr }()
	select {
	case <-a.Ready():
	case err := <-runErr:
		b.Fatalf("app: %v", err)
	}
	if err := a.Auth.AddUser(ctx, "pilot", auth.Operator, "pilot-password"); err != nil {
		b.Fatal(err)
	}
	lg := make(chan error, 1)
	go func() {
		_, err := loadgen.Run(ctx, loadgen.Config{Vehicles: n, Targets: targets, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
		lg <- err
	}()
	defer func() { cancel(); <-lg }()

	bctx := chromium.Open(b, browser, chromium.Options{})
	defer func() { _ = chromedp.Cancel(bctx) }() // each run's browser ends with it
	run := func(js string, timeout time.Duration) string {
		b.Helper()
		rctx, c := context.WithTimeout(bctx, timeout)
		defer c()
		v, err := chromedp.Run(rctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatalf("%.60s…: %v", js, err)
		}
		return v
	}
	if _, err := chromedp.Run(bctx, chromedp.Navigate("http://"+a.HTTPAddr()+"/")); err != nil {
		b.Fatal(err)
	}
	loadBytes := run(`new Promise(r => setTimeout(r, 500)).then(() => String(performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).reduce((s, e) => s + (e.encodedBodySize || 0), 0)))`, 30*time.Second)
	run(`fetch('/api/v1/login', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({username: 'pilot', password: 'pilot-password'})}).then(r => String(r.status))`, 30*time.Second)
	// Reload with the session: the console starts, connects and draws.
	if _, err := chromedp.Run(bctx, chromedp.Navigate("http://"+a.HTTPAddr()+"/")); err != nil {
		b.Fatal(err)
	}
	first := run(`new Promise(res => { const t = () => document.querySelector('#vehicles li[data-vehicle-id]:not([data-lat="0"])') ? res(String(performance.now())) : requestAnimationFrame(t); t(); })`, 60*time.Second)
	all := run(fmt.Sprintf(`new Promise(res => { const t = () => document.querySelectorAll('#vehicles li[data-vehicle-id]:not([data-lat="0"])').length >= %d ? res(String(performance.now())) : setTimeout(t, 50); t(); })`, n), 120*time.Second)
	// Memory at the start of the window: the JS heap after a forced
	// collection (so garbage is not counted) and the renderer processes'
	// resident memory (the whole tab: DOM, canvas, compiled code).
	heap0, rss0 := tabMemory(b, bctx)
	// The window runs in two halves, the intervals kept in the page, with
	// the memory measured between them (the forced collection's pause
	// falls between the halves, not in a measured frame).
	half := func(secs int, final bool) string {
		return run(fmt.Sprintf(`new Promise(res => {
		const iv = window.benchIv = window.benchIv || []; let last = performance.now(); const end = last + %d * 1000;
		const f = (now) => { iv.push(now - last); last = now; if (now < end) requestAnimationFrame(f); else if (!%v) res(''); else {
			iv.sort((a, b) => a - b); const q = (p) => iv[Math.min(iv.length - 1, Math.floor(p * iv.length))];
			res([q(0.5), q(0.95), iv[iv.length - 1], iv.length, (performance.memory ? performance.memory.usedJSHeapSize : 0)].join(' ')); } };
		requestAnimationFrame(f); })`, secs, final), time.Duration(secs+60)*time.Second)
	}
	half(seconds/2, false)
	heapMid, rssMid := tabMemory(b, bctx)
	frames := half(seconds-seconds/2, true)
	heap1, rss1 := tabMemory(b, bctx)
	nodes := run(`String(document.getElementsByTagName('*').length)`, 30*time.Second)
	var p50, p95, max float64
	var count int
	var heap float64
	fmt.Sscan(frames, &p50, &p95, &max, &count, &heap)
	lb, _ := strconv.ParseFloat(loadBytes, 64)
	f1, _ := strconv.ParseFloat(first, 64)
	fa, _ := strconv.ParseFloat(all, 64)
	b.ReportMetric(lb/1024, "page-KiB")
	b.ReportMetric(f1, "ms-to-first-vehicle")
	b.ReportMetric(fa, "ms-to-all-vehicles")
	b.ReportMetric(p50, "frame-p50-ms")
	b.ReportMetric(p95, "frame-p95-ms")
	b.ReportMetric(max, "frame-max-ms")
	b.ReportMetric(heap/(1<<20), "js-heap-MiB")
	b.ReportMetric(heap1/(1<<20), "js-heap-after-gc-MiB")
	b.ReportMetric(rss1/(1<<20), "tab-pss-MiB")
	b.Logf("%d vehicles: page %.0f KiB, first vehicle %.0f ms after load, all %.0f ms; %d frames in %d s: p50 %.1f ms, p95 %.1f ms, max %.1f ms; JS heap %.1f MiB (after GC: %.1f MiB at the start of the window, %.1f MiB half-way, %.1f MiB at its end); renderer PSS %.0f → %.0f → %.0f MiB; %s DOM elements",
		n, lb/1024, f1, fa, count, seconds, p50, p95, max, heap/(1<<20), heap0/(1<<20), heapMid/(1<<20), heap1/(1<<20), rss0/(1<<20), rssMid/(1<<20), rss1/(1<<20), nodes)
}

// tabMemory forces a garbage collection in the page and returns the used
// JS heap (CDP Runtime.getHeapUsage) and the proportional resident
// memory of the browser's renderer processes (the tab; from /proc, 0
// where there is none).
func tabMemory(b *testing.B, bctx context.Context) (heap, rss float64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (runtime.GetHeapUsageResult, error) {
		if _, err := cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
			return runtime.GetHeapUsageResult{}, err
		}
		return cdp.Call(ctx, t, runtime.GetHeapUsage, cdp.Empty{})
	})
	if err != nil {
		b.Fatalf("heap usage: %v", err)
	}
	if br := chromedp.FromContext(bctx).Browser; br != nil && br.Process() != nil {
		rss = rendererPSS(br.Process().Pid)
	}
	return u.UsedSize, rss
}

// rendererPSS sums the proportional resident memory (Pss) of the
// descendants of pid started as Chromium renderers (--type=renderer).
func rendererPSS(pid int) float64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so cut at the last ')'.
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	under := func(p int) bool {
		for i := 0; i < 64 && p > 1; i++ {
			if p = parent[p]; p == pid {
				return true
			}
		}
		return false
	}
	var total float64
	for p := range parent {
		if !under(p) {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if !strings.Contains(string(cmd), "--type=renderer") {
			continue
		}
		// Pss: shared pages (Chromium's code, fonts) divided among the
		// processes that map them, so the sum is the tab's share.
		sm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		for _, line := range strings.Split(string(sm), "\n") {
			if kb, ok := strings.CutPrefix(line, "Pss:"); ok {
				v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 64)
				total += v * 1024
			}
		}
	}
	return total
}
