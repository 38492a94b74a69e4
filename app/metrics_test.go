package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator/loadgen"
)

// scrapeMetrics fetches and parses /metrics with Prometheus' own parser.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// metricValue is the value of the series of family name whose labels
// include every pair in labels ("k=v"); ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for _, want := range labels {
			k, val, _ := strings.Cut(want, "=")
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == val {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetSummary() != nil:
			return float64(m.GetSummary().GetSampleCount()), true
		}
	}
	return 0, false
}

// Under a known load (the project's load generator, 20 vehicles for 3 s)
// /metrics parses and its counters equal what was sent: frames per link,
// vehicles connected, nothing dropped anywhere, socket drops read from the
// kernel for the link's own socket.
func TestMetricsUnderKnownLoad(t *testing.T) {
	a, _ := runApp(t, func(c *Config) {})
	link := fmt.Sprintf("udp:127.0.0.1:%d", mavlinkPort(t, a))
	type result struct {
		res *loadgen.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := loadgen.Run(context.Background(), loadgen.Config{Vehicles: 20, Targets: []string{link}, Duration: 4 * time.Second,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		done <- result{res, err}
	}()
	// One operator command while the fleet flies: counted by outcome.
	testenv.Eventually(t, 10*time.Second, "the first vehicle to be published", func() bool { return a.Fleet.Len() > 0 })
	id := a.Fleet.List()[0].ID
	resp, err := http.Post("http://"+a.HTTPAddr()+"/api/v1/vehicles/"+id+"/commands/arm", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("arm: %s", resp.Status)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	res := r.res
	url := "http://" + a.HTTPAddr() + "/metrics"
	linkName := a.Station.Links()[0].Name
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		fams = scrapeMetrics(t, url)
		got, _ := metricValue(fams, "burgut_mavlink_frames_received_total", "link="+linkName)
		if (uint64(got) == res.SentTotal && latencyCount(fams, "dispatched") == float64(res.SentTotal)) || time.Now().After(deadline) {
			break
		}
	}
	// Every datagram (one frame each) passed every stage of the UDP path,
	// each measured once; the WebSocket hub took vehicle states, though no
	// client was connected to be written to.
	for _, stage := range []string{"socket", "staged", "dispatched"} {
		if n := latencyCount(fams, stage); n != float64(res.SentTotal) {
			t.Errorf("burgut_pipeline_latency_seconds{stage=%s} counted %v datagrams, want %d", stage, n, res.SentTotal)
		}
	}
	if latencyCount(fams, "hub") == 0 || latencyCount(fams, "ws_write") != 0 {
		t.Errorf("latency stages hub %v, ws_write %v: want states taken by the hub and none written (no client)", latencyCount(fams, "hub"), latencyCount(fams, "ws_write"))
	}
	want := map[string]float64{
		"burgut_mavlink_frames_received_total{link=" + linkName + "}":            float64(res.SentTotal),
		"burgut_mavlink_link_vehicles{link=" + linkName + "}":                    20,
		"burgut_mavlink_parse_errors_total{link=" + linkName + "}":               0,
		"burgut_udp_socket_drops_total{link=" + linkName + "}":                   0,
		"burgut_udp_backlog_dropped_total{link=" + linkName + ",reason=staging}": 0,
		"burgut_udp_backlog_dropped_total{link=" + linkName + ",reason=hold}":    0,
		"burgut_udp_backlog_dropped_total{link=" + linkName + ",reason=accept}":  0,
		"burgut_vehicles{state=connected}":                                       20,
		"burgut_vehicles{state=disconnected}":                                    0,
		"burgut_tlog_dropped_total":                                              0,
		"burgut_tlog_lost_frames_total":                                          0,
		"burgut_recorder_dropped_total{reason=queue}":                            0,
		"burgut_fleet_subscriber_dropped_total{subscriber=recorder,kind=states}": 0,
		"burgut_ws_clients":                                           0,
		"burgut_mqtt_dropped_events_total":                            0,
		"burgut_ws_dropped_events_total":                              0,
		"burgut_mqtt_connected":                                       1,
		"burgut_mission_list_downloads_total{link=" + linkName + "}":  0,
		"burgut_mission_list_cache_hits_total{link=" + linkName + "}": 0,
	}
	for key, w := range want {
		name, lbl, _ := strings.Cut(strings.TrimSuffix(key, "}"), "{")
		var labels []string
		if lbl != "" {
			labels = strings.Split(lbl, ",")
		}
		got, ok := metricValue(fams, name, labels...)
		if !ok || got != w {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, w)
		}
	}
	// Families that must be present with some value.
	for _, name := range []string{"burgut_tlog_frames_total", "burgut_recorder_samples_total", "burgut_fleet_subscriber_queue",
		"burgut_udp_socket_rx_queue_bytes", "burgut_store_samples", "burgut_mqtt_published_total", "burgut_ws_dropped_total",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "burgut_up_seconds", "burgut_udp_receive_buffer_bytes",
		"burgut_tlog_queue_capacity", "burgut_tlog_buffer_capacity_bytes", "burgut_tlog_open_files", "burgut_mavlink_dispatcher_behind_seconds"} {
		if fams[name] == nil || len(fams[name].GetMetric()) == 0 {
			t.Errorf("family %s missing", name)
		}
	}
	for _, sub := range []string{"recorder", "websocket", "mqtt"} {
		if _, ok := metricValue(fams, "burgut_fleet_subscriber_queue", "subscriber="+sub, "kind=states"); !ok {
			t.Errorf("fleet subscriber %s not reported", sub)
		}
	}
	if v, _ := metricValue(fams, "burgut_tlog_frames_total"); v == 0 {
		t.Error("no tlog frames counted")
	}
	// The health endpoint summarises the same counters.
	var health struct {
		Shed map[string]float64 `json:"shed"`
		Late map[string]float64 `json:"late"`
	}
	getJSON(t, "http://"+a.HTTPAddr()+"/api/v1/health", &health)
	for _, k := range []string{"udp_socket", "tlog", "recorder", "fleet_subscribers", "mqtt", "websocket"} {
		if v, ok := health.Shed[k]; !ok || v != 0 {
			t.Errorf("health shed[%s] = %v (present %v), want 0", k, v, ok)
		}
	}
	// And whether the station is late (an idle station never defers a link-lost check).
	for _, k := range []string{"behind_s_max", "link_lost_deferred", "link_lost_unverified", "late_ticks"} {
		if _, ok := health.Late[k]; !ok {
			t.Errorf("health late[%s] missing: %v", k, health.Late)
		}
	}
	if health.Late["link_lost_deferred"] != 0 {
		t.Errorf("health late %v: link-lost checks deferred on an idle station", health.Late)
	}
}

// --metrics-listen serves /metrics on its own address, without
// credentials (the access policy in docs/api.md: keep that address private).
func TestMetricsOnItsOwnListener(t *testing.T) {
	a, _ := runApp(t, func(c *Config) { c.MetricsListen = fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t)) })
	if a.MetricsAddr() == "" {
		t.Fatal("no metrics address")
	}
	// No token is registered for this address: it serves without one.
	fams := scrapeMetrics(t, "http://"+a.MetricsAddr()+"/metrics")
	if fams["burgut_vehicles"] == nil || fams["burgut_mavlink_frames_received_total"] == nil {
		t.Fatalf("families: %d, burgut_vehicles missing", len(fams))
	}
}

// latencyCount is the observation count of one stage of
// burgut_pipeline_latency_seconds (-1 when absent).
func latencyCount(fams map[string]*dto.MetricFamily, stage string) float64 {
	for _, m := range fams["burgut_pipeline_latency_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "stage" && l.GetValue() == stage {
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}
