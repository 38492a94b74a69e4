package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/telemetry"
)

// dashboard is the part of Grafana's dashboard model the checks read.
type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RefID  string `json:"refId"`
			Query  string `json:"query"`
			Expr   string `json:"expr"`
			Legend string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// influxSchema is what the telemetry package writes: measurement → fields,
// and the tags, read from the line protocol of a fully populated sample,
// so the check follows the schema's one owner rather than a copy of it.
func influxSchema(t *testing.T) (fields map[string]map[string]bool, tags map[string]bool) {
	t.Helper()
	s := telemetry.Sample{Time: time.Unix(1, 0), Vehicle: "v", Link: "l", SystemID: 1, Type: "quadrotor", Mission: "m", EventArea: "a", Mode: "AUTO"}
	fields, tags = map[string]map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(s.AppendLines(nil))), "\n") {
		parts := strings.Split(line, " ")
		if len(parts) != 3 {
			t.Fatalf("line %q: want 'measurement,tags fields time'", line)
		}
		head := strings.Split(parts[0], ",")
		meas := head[0]
		for _, kv := range head[1:] {
			k, _, _ := strings.Cut(kv, "=")
			tags[k] = true
		}
		fields[meas] = map[string]bool{}
		for _, kv := range strings.Split(parts[1], ",") {
			k, _, _ := strings.Cut(kv, "=")
			fields[meas][k] = true
		}
	}
	if len(fields) != len(telemetry.Measurements) {
		t.Fatalf("schema read from the line protocol: %v, want the measurements %v", fields, telemetry.Measurements)
	}
	return fields, tags
}

var (
	fluxMeasRe  = regexp.MustCompile(`_measurement == "([^"]+)"|measurement: "([^"]+)"`)
	fluxFieldRe = regexp.MustCompile(`_field == "([^"]+)"`)
	fluxTagRe   = regexp.MustCompile(`r\.([a-z_]+)\b|tag: "([^"]+)"|rowKey: \["([^"]+)"\]`)
	fluxColsRe  = regexp.MustCompile(`columns: \[([^\]]*)\]`)
	promNameRe  = regexp.MustCompile(`\b((?:burgut|process|go)_[a-z0-9_]+)\b`)
	promByRe    = regexp.MustCompile(`by \(([^)]*)\)`)
	legendRe    = regexp.MustCompile(`\{\{\s*([a-z_]+)\s*\}\}`)
)

// The Grafana dashboard in deploy/grafana parses, and every InfluxDB query
// names only measurements, fields and tags the telemetry package writes,
// and every Prometheus query only families and labels /metrics serves.
func TestGrafanaDashboardReferencesWhatExists(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "grafana", "burgut.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("deploy/grafana/burgut.json does not parse: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) < 10 {
		t.Fatalf("dashboard %q (uid %q) has %d panels", d.Title, d.UID, len(d.Panels))
	}
	fields, tags := influxSchema(t)
	// A vehicle-selector variable queries the schema too.
	var queries []string
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && strings.Contains(q, "schema.") {
			queries = append(queries, q)
		}
	}

	// /metrics of a running service with InfluxDB configured (unreachable:
	// the sink needs no server to start), so every family is registered.
	a, _ := runApp(t, func(c *Config) {
		c.Telemetry.InfluxURL = fmt.Sprintf("http://127.0.0.1:%d", testenv.FreeTCPPort(t))
		c.Telemetry.InfluxBucket = "telemetry/autogen"
	})
	<-a.Station.Ready() // its links' sockets are open: the socket families have series
	fams := scrapeMetrics(t, "http://"+a.HTTPAddr()+"/metrics")
	labelsOf := func(name string) map[string]bool {
		out := map[string]bool{}
		for _, m := range fams[name].GetMetric() {
			for _, lp := range m.GetLabel() {
				out[lp.GetName()] = true
			}
		}
		return out
	}

	var nInflux, nProm int
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || (p.Datasource.UID != "${influx}" && p.Datasource.UID != "${prometheus}") {
			t.Errorf("panel %q: datasource %+v, want the dashboard's ${influx} or ${prometheus} variable", p.Title, p.Datasource)
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %q query %s", p.Title, tg.RefID)
			switch p.Datasource.UID {
			case "${influx}":
				nInflux++
				queries = append(queries, tg.Query)
				if tg.Query == "" {
					t.Errorf("%s: empty Flux query", where)
				}
			case "${prometheus}":
				nProm++
				if tg.Expr == "" {
					t.Errorf("%s: empty PromQL expression", where)
					continue
				}
				names := promNameRe.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("%s: %q names no metric", where, tg.Expr)
				}
				for _, n := range names {
					base := n
					if fams[n] == nil {
						base = strings.TrimSuffix(strings.TrimSuffix(n, "_sum"), "_count")
					}
					if fams[base] == nil {
						t.Errorf("%s: metric %s is not served by /metrics", where, n)
						continue
					}
					var used []string
					for _, m := range promByRe.FindAllStringSubmatch(tg.Expr, -1) {
						used = append(used, strings.Split(m[1], ",")...)
					}
					if len(names) == 1 {
						for _, m := range legendRe.FindAllStringSubmatch(tg.Legend, -1) {
							used = append(used, m[1])
						}
					}
					have := labelsOf(base)
					for _, l := range used {
						if l = strings.TrimSpace(l); l != "" && !have[l] {
							t.Errorf("%s: %s has no label %q (has %v)", where, base, l, have)
						}
					}
				}
			}
		}
	}
	if nInflux < 5 || nProm < 10 {
		t.Fatalf("%d Flux and %d PromQL queries: the dashboard lost its panels", nInflux, nProm)
	}

	for _, q := range queries {
		var meas []string
		for _, m := range fluxMeasRe.FindAllStringSubmatch(q, -1) {
			meas = append(meas, m[1]+m[2])
		}
		if len(meas) == 0 {
			t.Errorf("Flux query names no measurement:\n%s", q)
			continue
		}
		for _, m := range meas {
			if fields[m] == nil {
				t.Errorf("measurement %q does not exist (schema: %v):\n%s", m, keys(fields), q)
			}
		}
		for _, f := range fluxFieldRe.FindAllStringSubmatch(q, -1) {
			found := false
			for _, m := range meas {
				found = found || fields[m][f[1]]
			}
			if !found {
				t.Errorf("field %q is in none of %v:\n%s", f[1], meas, q)
			}
		}
		known := func(col string) bool {
			col = strings.Trim(strings.TrimSpace(col), `"`)
			if strings.HasPrefix(col, "_") || tags[col] {
				return true
			}
			for _, m := range meas {
				if fields[m][col] {
					return true
				}
			}
			return false
		}
		for _, m := range fluxTagRe.FindAllStringSubmatch(q, -1) {
			if c := m[1] + m[2] + m[3]; !known(c) {
				t.Errorf("column %q is neither a tag nor a field of %v:\n%s", c, meas, q)
			}
		}
		for _, m := range fluxColsRe.FindAllStringSubmatch(q, -1) {
			for _, c := range strings.Split(m[1], ",") {
				if !known(c) {
					t.Errorf("column %s is neither a tag nor a field of %v:\n%s", c, meas, q)
				}
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
