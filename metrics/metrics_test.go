package metrics

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches h's /metrics as Prometheus would and parses it with
// Prometheus' own text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	return fams
}

func TestFamiliesAreReadAtScrapeTime(t *testing.T) {
	r := New()
	frames := map[string]float64{"udp14550": 10, "udp14551": 0}
	if err := r.Add(Family{Name: "test_frames_total", Help: "frames", Kind: Counter, Labels: []string{"link"}}, func(emit Emit) {
		for l, v := range frames {
			emit(v, l)
		}
	}); err != nil {
		t.Fatal(err)
	}
	depth := 3.0
	if err := r.Add(Family{Name: "test_queue", Help: "queue", Kind: Gauge}, func(emit Emit) { emit(depth) }); err != nil {
		t.Fatal(err)
	}
	if err := r.AddSummary(Family{Name: "test_write_seconds", Help: "writes"}, func(emit SummaryEmit) { emit(4, 0.5) }); err != nil {
		t.Fatal(err)
	}
	if err := r.AddHistogram(Family{Name: "test_latency_seconds", Help: "latency", Labels: []string{"stage"}}, func(emit HistogramEmit) {
		emit(3, 0.07, map[float64]uint64{0.01: 1, 0.05: 3}, "hub")
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Family{Name: "test_queue", Help: "again", Kind: Gauge}, func(Emit) {}); err == nil {
		t.Fatal("a duplicate family was accepted")
	}

	frames["udp14551"] = 7
	depth = 5
	fams := scrape(t, r.Handler())
	got := map[string]float64{}
	for _, m := range fams["test_frames_total"].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	if got["udp14550"] != 10 || got["udp14551"] != 7 || fams["test_frames_total"].GetType() != dto.MetricType_COUNTER {
		t.Fatalf("frames %v (%v)", got, fams["test_frames_total"].GetType())
	}
	if v := fams["test_queue"].GetMetric()[0].GetGauge().GetValue(); v != 5 {
		t.Fatalf("queue %v, want the value at scrape time (5)", v)
	}
	s := fams["test_write_seconds"].GetMetric()[0].GetSummary()
	if s.GetSampleCount() != 4 || s.GetSampleSum() != 0.5 {
		t.Fatalf("summary %v", s)
	}
	hf := fams["test_latency_seconds"]
	if hf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("latency family type %v", hf.GetType())
	}
	h := hf.GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 0.07 || len(h.GetBucket()) < 2 || h.GetBucket()[0].GetCumulativeCount() != 1 ||
		hf.GetMetric()[0].GetLabel()[0].GetValue() != "hub" {
		t.Fatalf("histogram %v", hf.GetMetric()[0])
	}
	for _, n := range []string{"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes", "go_sched_latencies_seconds"} {
		if fams[n] == nil {
			t.Errorf("family %s missing", n)
		}
	}
}

// A family emitting the wrong number of labels is a scrape error that
// names it, not a crash, and the other families are still served.
func TestBadSeriesDoesNotBreakTheScrape(t *testing.T) {
	r := New()
	_ = r.Add(Family{Name: "test_bad", Help: "bad", Kind: Gauge, Labels: []string{"a"}}, func(emit Emit) { emit(1) })
	_ = r.Add(Family{Name: "test_good", Help: "good", Kind: Gauge}, func(emit Emit) { emit(2) })
	_, err := r.Gather()
	if err == nil || !strings.Contains(err.Error(), "test_bad") {
		t.Fatalf("gather error %v, want one naming test_bad", err)
	}
	fams := scrape(t, r.Handler())
	if fams["test_good"] == nil {
		t.Fatal("the good family is missing")
	}
}

func TestParseProcNetUDP(t *testing.T) {
	const table = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:38A6 00000000:0000 07 00000000:00000A00 00:00000000 00000000     0        0 98765 2 0000000000000000 42
  124: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1111 2 0000000000000000 0
`
	socks, err := parseProcNetUDP(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 2 {
		t.Fatalf("%d sockets", len(socks))
	}
	s := socks[0]
	if s.Local.String() != "127.0.0.1:14502" || s.Inode != 98765 || s.Drops != 42 || s.RxQueueBytes != 0xA00 {
		t.Fatalf("%+v", s)
	}
	if _, err := parseProcNetUDP(strings.NewReader("header\n 1: garbage\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error %v, want one naming line 2", err)
	}
}

// The kernel's drop counter of a real socket: flood an unread socket with
// a small receive buffer; every datagram is either still queued or
// counted as dropped.
func TestOwnUDPSocketsCountsKernelDrops(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := rx.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const sent = 500
	payload := make([]byte, 100)
	for i := 0; i < sent; i++ {
		if _, err := tx.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	port := rx.LocalAddr().(*net.UDPAddr).Port
	find := func() UDPSocket {
		socks, err := OwnUDPSockets()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range socks {
			if int(s.Local.Port()) == port {
				return s
			}
		}
		t.Fatalf("socket on port %d not among this process's sockets %v", port, socks)
		return UDPSocket{}
	}
	before := find()
	if before.Drops == 0 || before.RxQueueBytes == 0 {
		t.Fatalf("socket %+v: want drops and a full queue", before)
	}
	read := 0
	buf := make([]byte, 200)
	for {
		_ = rx.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := rx.Read(buf); err != nil {
			break
		}
		read++
	}
	after := find()
	if uint64(read)+after.Drops != sent {
		t.Fatalf("read %d + dropped %d != sent %d", read, after.Drops, sent)
	}
}
