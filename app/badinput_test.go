package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/web"
)

// Issue 9, defect 2: a caller's mistake is a 4xx, never a 500. Every
// operation of app/openapi.yaml is sent a corpus of bad path parameters,
// bad query parameters and bad bodies, against the whole service with one
// simulated vehicle, an event area and a plan (so the good path values
// reach past "not found" into the handlers). No answer may be a 5xx, and
// every 4xx must be the house JSON error naming a code.

// badPathValues replace one path parameter at a time; none is a
// well-formed name of something that exists.
var badPathValues = []string{
	"nope", "..", "\x00", "%", "'; DROP TABLE vehicles; --", "ünïcödé-дрон",
	"-1", "1e400", "NaN", " leading space", strings.Repeat("x", 5000), "{id}",
}

// badQueryValues are given to one query parameter at a time.
var badQueryValues = []string{
	"", "x", "-1", "1e400", "NaN", "Inf", "99999999999999999999999", "0x10", "1.5",
	"2026-99-99T99:99:99Z", "true,false", "\x00", strings.Repeat("9", 5000),
}

// badBodies are whole request bodies of the wrong shape.
var badBodies = []string{
	"", "null", "[]", "{", "}", `"a string"`, "1", "true", `{"no_such_field": 1}`,
	`{} {}`, "\xff\xfe not UTF-8", strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
	`{"a":` + strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5001),
	"1e999", `{"x": 1e999}`,
}

// badFieldValues are given to each documented body field in turn.
var badFieldValues = []any{
	nil, "a string", -1, -1e308, 1e308, 1.5, true, []any{}, map[string]any{},
	strings.Repeat("x", 10000), []any{nil}, []any{map[string]any{"x": 1}}, json.RawMessage("1e400"),
	json.RawMessage(`"NaN"`), -9223372036854775808, 18446744073709551615.0,
}

type corpusCase struct {
	what, method, path, query, contentType string
	body                                   []byte
	upgrade                                bool // send as a WebSocket upgrade
}

func TestNoRouteAnswers5xxToBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("sends thousands of requests to the whole service with a simulated vehicle")
	}
	doc := loadOpenAPI(t)
	a, base := startRun(t, 1, 5)
	var vs []fleet.Vehicle
	testenv.Eventually(t, 60*time.Second, "the vehicle", func() bool {
		getJSON(t, base+"/api/v1/vehicles", &vs)
		return len(vs) == 1 && vs[0].GPSFix >= 3 && vs[0].Home != nil
	})
	areaID, planID := corpusAreaAndPlan(t, base)
	good := map[string]string{"vehicles": vs[0].ID, "areas": areaID, "plans": planID}

	var cases []corpusCase
	for _, o := range doc.operations(t) {
		if o.String() == "GET /" && !web.Built() {
			continue // the map's placeholder is a deliberate 503 until `make web`
		}
		values := map[string]string{}
		var query []string
		for _, p := range doc.params(t, o) {
			name, _ := p["name"].(string)
			switch p["in"] {
			case "path":
				values[name] = doc.sampleValue(p)
				if name == "id" {
					values[name] = good[strings.Split(o.path, "/")[3]]
				}
				if name == "name" && strings.Contains(o.path, "/params/") {
					values[name] = "RTL_ALT"
				}
			case "query":
				query = append(query, name)
			}
		}
		goodPath := fillPath(o.path, values)
		hasBody := o.op["requestBody"] != nil
		defaultBody := []byte(nil)
		if hasBody {
			defaultBody = []byte("{}")
		}
		// WebSocket endpoints check their query before upgrading: send those
		// cases both as plain requests and as upgrades.
		resps, _ := o.op["responses"].(map[string]any)
		_, websocket := resps["101"]
		add := func(what, path, query, ct string, body []byte) {
			cases = append(cases, corpusCase{o.String() + ": " + what, o.method, path, query, ct, body, false})
			if websocket {
				cases = append(cases, corpusCase{o.String() + ": upgrade, " + what, o.method, path, query, ct, body, true})
			}
		}
		// Path parameters, one at a time.
		for name := range values {
			for _, bad := range badPathValues {
				v := map[string]string{}
				for k, val := range values {
					v[k] = val
				}
				v[name] = bad
				add(fmt.Sprintf("path %s=%.20q", name, bad), fillPath(o.path, v), "", "application/json", []byte("{}"))
			}
		}
		// Query parameters, one at a time, and one nobody declared.
		for _, name := range query {
			for _, bad := range badQueryValues {
				add(fmt.Sprintf("query %s=%.20q", name, bad), goodPath, url.Values{name: {bad}}.Encode(), "application/json", defaultBody)
			}
			add("query "+name+" twice", goodPath, url.Values{name: {"1", "x"}}.Encode(), "application/json", defaultBody)
		}
		add("unknown query parameter", goodPath, "bogus=1", "application/json", defaultBody)
		if !hasBody && o.method != "POST" && o.method != "PUT" {
			continue
		}
		// Bodies of the wrong shape and content type.
		for _, b := range badBodies {
			add(fmt.Sprintf("body %.20q", b), goodPath, "", "application/json", []byte(b))
		}
		for _, ct := range []string{"text/xml", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/x-www-form-urlencoded"} {
			add("content type "+ct, goodPath, "", ct, []byte("{}"))
		}
		// Each documented field with values of every wrong kind.
		for _, field := range doc.bodyFields(t, o) {
			for _, bad := range badFieldValues {
				b, err := json.Marshal(setPath(field, bad))
				if err != nil {
					t.Fatal(err)
				}
				add(fmt.Sprintf("field %s=%.30s", strings.Join(field, "."), b), goodPath, "", "application/json", b)
			}
		}
	}
	if len(cases) < 1000 {
		t.Fatalf("only %d cases: the corpus generator is broken", len(cases))
	}
	var failed []string
	for _, c := range cases {
		if msg := sendCorpusCase(base, c); msg != "" {
			failed = append(failed, c.what+": "+msg)
		}
	}
	sort.Strings(failed)
	for i, f := range failed {
		if i == 200 {
			t.Errorf("… and %d more", len(failed)-i)
			break
		}
		t.Error(f)
	}
	t.Logf("%d bad requests sent to %d operations, %d answered wrongly", len(cases), len(doc.operations(t)), len(failed))
	if v, ok := a.Fleet.Get(vs[0].ID); !ok || !v.Connected {
		t.Errorf("the vehicle is no longer connected after the corpus: %+v", v)
	}
}

// sendCorpusCase sends one request; it returns what was wrong with the
// answer, or "".
func sendCorpusCase(base string, c corpusCase) string {
	u := base + c.path
	if c.query != "" {
		u += "?" + c.query
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, u, body)
	if err != nil {
		return "" // not a request a client can send (e.g. a NUL in the URL)
	}
	if c.contentType != "" && c.body != nil {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Sprintf("no answer: %v", err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body.Close() // a WebSocket that opened: nothing wrong, and nothing to read
		return ""
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Sprintf("answered %d: %.300s", resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusMovedPermanently {
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		var e apiError
		if ct != "application/json" || json.Unmarshal(raw, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
			return fmt.Sprintf("%d is not the house JSON error (Content-Type %q): %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
	}
	return ""
}

// bodyFields lists the documented request body fields of an operation as
// paths ("vehicle_ids", "items.0.seq"), following $ref and allOf, and one
// level into arrays of objects.
func (d oaDoc) bodyFields(t *testing.T, o oaOp) [][]string {
	t.Helper()
	rb, err := d.resolve(o.op["requestBody"])
	if err != nil || rb == nil {
		return nil
	}
	content, _ := rb.(map[string]any)["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		return nil
	}
	var out [][]string
	var walk func(prefix []string, schema any, depth int)
	walk = func(prefix []string, schema any, depth int) {
		s, _ := d.resolve(schema)
		m, _ := s.(map[string]any)
		if m == nil || depth > 2 {
			return
		}
		for _, part := range []string{"allOf", "oneOf", "anyOf"} {
			list, _ := m[part].([]any)
			for _, sub := range list {
				walk(prefix, sub, depth)
			}
		}
		props, _ := m["properties"].(map[string]any)
		for name, p := range props {
			path := append(append([]string(nil), prefix...), name)
			out = append(out, path)
			ps, _ := d.resolve(p)
			pm, _ := ps.(map[string]any)
			if pm["type"] == "array" {
				walk(append(path, "0"), pm["items"], depth+1)
			} else if pm["type"] == "object" || pm["properties"] != nil || pm["$ref"] != nil {
				walk(path, p, depth+1)
			}
		}
	}
	walk(nil, media["schema"], 0)
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i], ".") < strings.Join(out[j], ".") })
	return out
}

// setPath builds the smallest JSON value with v at path ("items", "0",
// "seq" → {"items": [{"seq": v}]}).
func setPath(path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	inner := setPath(path[1:], v)
	if path[0] == "0" {
		return []any{inner}
	}
	return map[string]any{path[0]: inner}
}

// corpusAreaAndPlan creates a small event area and a perimeter plan over
// it; it returns their ids.
func corpusAreaAndPlan(t *testing.T, base string) (areaID, planID string) {
	t.Helper()
	geo := []byte(`{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"kind":"event-area","name":"corpus","min_alt_m":30,"max_alt_m":60},
  "geometry":{"type":"Polygon","coordinates":[[[69.2400,41.3100],[69.2450,41.3100],[69.2450,41.3140],[69.2400,41.3140],[69.2400,41.3100]]]}},
 {"type":"Feature","properties":{"kind":"launch","name":"pad","radius_m":5},"geometry":{"type":"Point","coordinates":[69.2425,41.3120]}}]}`)
	var area struct {
		ID string `json:"id"`
	}
	resp, err := http.Post(base+"/api/v1/areas", "application/geo+json", bytes.NewReader(geo))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || json.Unmarshal(raw, &area) != nil || area.ID == "" {
		t.Fatalf("create area: %d %s", resp.StatusCode, raw)
	}
	var plan struct {
		ID string `json:"id"`
		apiError
	}
	if code := sendJSON(t, "POST", base+"/api/v1/areas/"+area.ID+"/plans", map[string]any{"pattern": "perimeter"}, &plan); code/100 != 2 || plan.ID == "" {
		t.Fatalf("create plan: %d %+v", code, plan)
	}
	return area.ID, plan.ID
}
