package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// rehearsalRun is `burgut run --scenario` running in this process, with
// a trainee's operator token made beforehand by `burgut tokens create`.
type rehearsalRun struct {
	t        *testing.T
	dir      string
	data     string
	http     string
	token    string
	cancel   context.CancelFunc
	done     chan int
	out, err bytes.Buffer
}

// startRehearsal writes the scenario into a fresh directory and starts
// the run; extra gives more flags, knowing that directory.
func startRehearsal(t *testing.T, scenarioYAML string, extra func(dir string) []string) *rehearsalRun {
	t.Helper()
	if testing.Short() {
		t.Skip("a rehearsal runs in real time")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "drill.yaml")
	if err := os.WriteFile(file, []byte(scenarioYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &rehearsalRun{t: t, dir: dir, data: filepath.Join(dir, "data"), http: fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t)), done: make(chan int, 1)}
	if err := os.Mkdir(r.data, 0o700); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("tokens", "create", "--data-dir", r.data, "--name", "trainee", "--role", "operator")
	if code != 0 {
		t.Fatalf("tokens create: %d %s", code, errOut)
	}
	r.token = strings.TrimSpace(out)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	args := append([]string{"run", "--scenario", file, "--http", r.http,
		"--mavlink", fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t)),
		"--data-dir", r.data, "--mqtt-listen", "", "--log-level", "warn"}, extra(dir)...)
	go func() { r.done <- runMain(ctx, args, &r.out, &r.err) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(2 * time.Minute):
			t.Error("burgut run --scenario did not stop")
		}
	})
	return r
}

// api calls the station as the trainee.
func (r *rehearsalRun) api(method, path string, out any) (int, error) {
	req, err := http.NewRequest(method, "http://"+r.http+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode, nil
}

// waitEvent waits for the first event of kind in the station's event
// list, as the console shows it, and returns its vehicle and seq.
func (r *rehearsalRun) waitEvent(kind string) (string, uint64) {
	r.t.Helper()
	var vehicle string
	var seq uint64
	testenv.Eventually(r.t, 2*time.Minute, "a "+kind+" event", func() bool {
		var evs []struct {
			Seq       uint64 `json:"seq"`
			VehicleID string `json:"vehicle_id"`
			Kind      string `json:"kind"`
		}
		if _, err := r.api("GET", "/api/v1/events?limit=1000", &evs); err != nil {
			return false
		}
		for _, e := range evs {
			if e.Kind == kind {
				vehicle, seq = e.VehicleID, e.Seq
				return true
			}
		}
		return false
	})
	return vehicle, seq
}

// wait returns the exit code once the run has ended.
func (r *rehearsalRun) wait() int {
	r.t.Helper()
	select {
	case code := <-r.done:
		r.done <- code // for the cleanup
		return code
	case <-time.After(3 * time.Minute):
		r.t.Fatal("burgut run --scenario did not end")
		return -1
	}
}

// A rehearsal end to end: `burgut run --scenario FILE` runs the station
// with its console and a scenario whose faults fire on schedule at
// speedup 1; the trainee watches the events through the API, as the
// console does, and answers the battery alert with an RTL. When the
// scenario's duration is over the report is written where --report says,
// and its rehearsal table names each fault, the alert it raised and the
// trainee's first response with its delay.
func TestRehearsalReportsFaultAlertAndResponse(t *testing.T) {
	r := startRehearsal(t, `name: battery drill
seed: 3
duration: 30s
fleet:
  vehicles: 2
  home: {lat: 41.3123, lon: 69.2716}
faults:
  - name: cell failure
    at: 3s
    kind: battery_drop
    vehicles: 1
    pct: 85
  - at: 4s
    kind: link_down
    vehicles: 0
    for: 20s
assertions:
  - kind: all_landed
    by: 30s
`, func(dir string) []string { return []string{"--report", filepath.Join(dir, "out", "drill.html")} })
	reportPath := filepath.Join(r.dir, "out", "drill.html")
	alerted, alertSeq := r.waitEvent("battery_low")
	// The trainee acknowledges the alert, then acts.
	if status, err := r.api("POST", fmt.Sprintf("/api/v1/events/%d/ack", alertSeq), nil); err != nil || status != http.StatusOK {
		t.Fatalf("acknowledge the alert: HTTP %d, %v", status, err)
	}
	status, err := r.api("POST", "/api/v1/vehicles/"+alerted+"/commands/rtl", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trainee's RTL to %s: HTTP %d", alerted, status)
	if code := r.wait(); code != 0 {
		t.Fatalf("burgut run --scenario exited %d\nstdout: %s\nstderr: %s", code, r.out.String(), r.err.String())
	}
	if !strings.Contains(r.out.String(), "rehearsal report: "+reportPath) {
		t.Errorf("the report's path is not printed: %q", r.out.String())
	}
	rows, page := rehearsalRows(t, reportPath)
	if len(rows) != 2 {
		t.Fatalf("rehearsal table has %d rows, want 2 (one per fault): %q", len(rows), rows)
	}
	// Row order is time order: the battery drop (T+3 s) first.
	bat, link := rows[0], rows[1]
	if !strings.HasPrefix(bat[1], "battery_drop: cell failure") || bat[2] != alerted || !strings.HasPrefix(bat[3], "battery_low ("+alerted+")") {
		t.Errorf("battery fault row: %q", bat)
	}
	if bat[5] != "rtl → "+alerted || bat[6] != "token:trainee" || !strings.HasSuffix(bat[7], " s") ||
		!strings.HasPrefix(bat[9], "token:trainee, ") || !strings.HasSuffix(bat[9], " s after the alert") {
		t.Errorf("battery fault's response: %q", bat)
	}
	if !strings.HasPrefix(link[1], "link_down") || !strings.HasPrefix(link[3], "link_lost") || link[5] != "no response" {
		t.Errorf("link fault row: %q", link)
	}
	// The trainee's action is on the timeline too; the scenario's own
	// token is not named as a responder.
	if !bytes.Contains(page, []byte("token:trainee: rtl")) {
		t.Error("the trainee's RTL is not on the timeline")
	}
	if bytes.Contains(page, []byte("Responding: token:rehearsal-")) {
		t.Error("the scenario's own token is counted as a trainee")
	}
}

// Ctrl-C ends a rehearsal early and still writes its report, by default
// under the data directory, saying it was interrupted.
func TestRehearsalInterruptedWritesReport(t *testing.T) {
	r := startRehearsal(t, `name: long drill
duration: 30m
fleet:
  vehicles: 1
faults:
  - at: 1s
    kind: battery_drop
    vehicles: all
    pct: 85
assertions:
  - kind: all_landed
    by: 30m
`, func(string) []string { return nil })
	r.waitEvent("battery_low")
	r.cancel() // what Ctrl-C does to runMain's context
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d after Ctrl-C\n%s", code, r.err.String())
	}
	reports, _ := filepath.Glob(filepath.Join(r.data, "reports", "rehearsal-long-drill-*.html"))
	if len(reports) != 1 {
		t.Fatalf("%d reports under the data dir, want 1; stdout %q", len(reports), r.out.String())
	}
	if !strings.Contains(r.out.String(), "rehearsal report: "+reports[0]) {
		t.Errorf("the report's path is not printed: %q", r.out.String())
	}
	rows, page := rehearsalRows(t, reports[0])
	if len(rows) != 1 || !strings.HasPrefix(rows[0][1], "battery_drop") || !strings.HasPrefix(rows[0][3], "battery_low") || rows[0][5] != "no response" {
		t.Errorf("rehearsal rows: %q", rows)
	}
	if !bytes.Contains(page, []byte("interrupted")) {
		t.Error("the report does not say the rehearsal was interrupted")
	}
}

// rehearsalRows reads a report and returns the cells of its rehearsal
// table, and the page.
func rehearsalRows(t *testing.T, path string) ([][]string, []byte) {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	text := func(n *html.Node) string {
		var b strings.Builder
		var f func(*html.Node)
		f = func(n *html.Node) {
			if n.Type == html.TextNode {
				b.WriteString(n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				f(c)
			}
		}
		f(n)
		return strings.TrimSpace(b.String())
	}
	var rows [][]string
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "id" && a.Val == "rehearsal-table" {
					in = true
				}
			}
			if in && n.Data == "tr" && n.Parent != nil && n.Parent.Data == "tbody" {
				var cells []string
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data == "td" {
						cells = append(cells, text(c))
					}
				}
				rows = append(rows, cells)
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, false)
	return rows, page
}

// Mistakes in a rehearsal's command line are refused before anything
// starts: a speedup (a rehearsal is real time), --report without
// --scenario, and a bad scenario file, named by line.
func TestRehearsalBadArguments(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nduration: 1m\nfleet:\n  vehicles: 1\nfaults:\n  - at: 1s\n    kind: sunspots\nassertions:\n  - kind: all_landed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--scenario", bad, "--speedup", "5"}, 2, "a rehearsal runs in real time"},
		{[]string{"--report", filepath.Join(dir, "r.html")}, 2, "only a rehearsal (--scenario FILE) writes a report"},
		{[]string{"--scenario", bad}, 1, bad + ":7:"},
	} {
		args := append([]string{"run", "--data-dir", filepath.Join(dir, "data"), "--http", "127.0.0.1:0", "--mqtt-listen", ""}, c.args...)
		code, _, errOut := run(args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("burgut %s: exit %d, stderr %q; want exit %d naming %q", strings.Join(args, " "), code, errOut, c.code, c.want)
		}
	}
}

// Ctrl-C while the scenario's fleet is still getting ready (here an
// external link nobody sends on) ends the rehearsal cleanly and says
// there is no report.
func TestRehearsalInterruptedBeforeReady(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a station")
	}
	port := testenv.FreeUDPPort(t)
	r := startRehearsal(t, fmt.Sprintf(`name: nobody came
duration: 5m
fleet:
  links: ["udp:127.0.0.1:%d"]
  expect: 2
assertions:
  - kind: all_landed
    by: 5m
`, port), func(string) []string { return nil })
	testenv.Eventually(t, time.Minute, "the rehearsal's station to answer", func() bool {
		status, err := r.api("GET", "/api/v1/vehicles", nil)
		return err == nil && status == http.StatusOK
	})
	r.cancel()
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.err.String())
	}
	if !strings.Contains(r.out.String(), "no report written") {
		t.Errorf("stdout %q does not say why there is no report", r.out.String())
	}
	if reports, _ := filepath.Glob(filepath.Join(r.data, "reports", "*")); len(reports) != 0 {
		t.Errorf("reports written for a rehearsal that never flew: %v", reports)
	}
}

// restartDrill is a rehearsal whose station restarts while two drones
// fly a short perimeter patrol: FS_OPTIONS keeps them in AUTO through the
// GCS failsafe, as a crew planning for station outages sets it.
const restartDrill = `name: restart drill
seed: 4
duration: 5m
fleet:
  vehicles: 2
  home: {lat: 41.3123, lon: 69.2716}
world:
  areas:
    - name: yard
      geojson:
        type: FeatureCollection
        features:
          - type: Feature
            properties: {kind: event-area, name: yard, min_alt_m: 10, max_alt_m: 60}
            geometry: {type: Polygon, coordinates: [[[69.2709, 41.3117], [69.2723, 41.3117], [69.2723, 41.3129], [69.2709, 41.3129], [69.2709, 41.3117]]]}
          - type: Feature
            properties: {kind: launch, name: pad, radius_m: 25}
            geometry: {type: Point, coordinates: [69.2716, 41.3123]}
steps:
  - at: 0s
    plan: {area: yard, as: loop, pattern: perimeter, drones: 2, alt: 20, speed: 8}
  - at: 1s
    name: assign
    assign: {plan: loop, vehicles: all}
  - after: {step: assign}
    name: keep auto
    param: {name: FS_OPTIONS, value: 18, vehicles: all}
  - after: {step: keep auto}
    name: launch
    launch: {vehicles: all}
faults:
  - name: restart
    after: {step: launch, delay: 8s}
    kind: station_restart
    for: 8s
assertions:
  - kind: mission_completed
  - kind: all_landed
    by: 5m
`

// connectedVehicles lists the IDs of the vehicles the station hears, as
// the trainee sees them; ok is false while the station does not answer.
func (r *rehearsalRun) connectedVehicles() (ids []string, ok bool) {
	var vs []struct {
		ID        string `json:"id"`
		Connected bool   `json:"connected"`
	}
	status, err := r.api("GET", "/api/v1/vehicles", &vs)
	if err != nil || status != http.StatusOK {
		return nil, false
	}
	for _, v := range vs {
		if v.Connected {
			ids = append(ids, v.ID)
		}
	}
	slices.Sort(ids)
	return ids, true
}

// A station_restart in a rehearsal restarts the rehearsal's own station:
// it goes away and comes back on the same address and data directory;
// the trainee's token (stored) still works; the vehicles, which flew on,
// reconnect under the same IDs; the plan is still there and the missions
// complete (the scenario's assertions, so the exit code); the report
// records the restart.
func TestRehearsalStationRestart(t *testing.T) {
	r := startRehearsal(t, restartDrill, func(dir string) []string { return []string{"--report", filepath.Join(dir, "drill.html")} })
	var before []string
	testenv.Eventually(t, 2*time.Minute, "both vehicles connected", func() bool {
		ids, _ := r.connectedVehicles()
		before = ids
		return len(ids) == 2
	})
	testenv.Eventually(t, 3*time.Minute, "the station to go down (the scenario's restart)", func() bool {
		_, ok := r.connectedVehicles()
		return !ok
	})
	var after []string
	testenv.Eventually(t, 2*time.Minute, "the station back up with both vehicles", func() bool {
		ids, ok := r.connectedVehicles()
		after = ids
		return ok && len(ids) == 2
	})
	if !slices.Equal(before, after) {
		t.Errorf("vehicles before the restart %v, after %v: want the same IDs", before, after)
	}
	var areas struct {
		Areas []struct {
			Name string `json:"name"`
		} `json:"areas"`
	}
	if status, err := r.api("GET", "/api/v1/areas", &areas); err != nil || status != http.StatusOK || len(areas.Areas) != 1 || areas.Areas[0].Name != "yard" {
		t.Errorf("areas after the restart: HTTP %d, %v, %+v: want the scenario's yard, kept in the data directory", status, err, areas)
	}
	if code := r.wait(); code != 0 {
		t.Fatalf("burgut run --scenario exited %d\nstdout: %s\nstderr: %s", code, r.out.String(), r.err.String())
	}
	rows, page := rehearsalRows(t, filepath.Join(r.dir, "drill.html"))
	if len(rows) != 1 || !strings.HasPrefix(rows[0][1], "station_restart: restart") {
		t.Errorf("rehearsal rows %q: want one, the restart", rows)
	}
	for _, want := range []string{"station back up", "the station restarted 1 time(s)", "mission completed at", `id="failed-count">0 failed<`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the report does not say %q\nstdout: %s", want, r.out.String())
		}
	}
}
