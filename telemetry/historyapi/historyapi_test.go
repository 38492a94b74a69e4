package historyapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
	"github.com/burgut-uav/burgut/telemetry/telemetrytest"
)

var start = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func server(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := sqlitestore.Open(filepath.Join(t.TempDir(), "t.db"), sqlitestore.Options{MaxAge: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.WriteSamples(context.Background(), telemetrytest.Flight("v1", 1, start, 600, time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = st.WriteSamples(context.Background(), telemetrytest.Flight("v2", 2, start, 10, time.Second))
	mux := httpapi.NewMux()
	Register(mux, st, Options{Status: func(context.Context) any { return map[string]string{"store": "sqlite"} },
		Now: func() time.Time { return start.Add(30 * time.Minute) }})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string, q url.Values) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(srv.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestTrackGeoJSONLineString(t *testing.T) {
	srv := server(t)
	code, body, hdr := get(t, srv, "/api/v1/vehicles/v1/track", url.Values{
		"from": {start.Format(time.RFC3339)}, "to": {start.Add(time.Hour).Format(time.RFC3339)}, "max_points": {"100"}})
	if code != 200 || hdr.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("HTTP %d %s: %s", code, hdr.Get("Content-Type"), body)
	}
	var g struct {
		Type        string       `json:"type"`
		Coordinates [][3]float64 `json:"coordinates"`
		TotalPoints int          `json:"total_points"`
	}
	if err := json.Unmarshal([]byte(body), &g); err != nil {
		t.Fatal(err)
	}
	if g.Type != "LineString" || len(g.Coordinates) != 100 || g.TotalPoints != 600 {
		t.Fatalf("type %s, %d coords, total %d", g.Type, len(g.Coordinates), g.TotalPoints)
	}
	if c := g.Coordinates[0]; c[0] < 69 || c[0] > 70 || c[1] < 41 || c[1] > 42 {
		t.Fatalf("coordinates not [lon, lat, alt]: %v", c)
	}
	// CSV of the same track.
	code, body, _ = get(t, srv, "/api/v1/vehicles/v1/track", url.Values{
		"from": {start.Format(time.RFC3339)}, "to": {start.Add(time.Hour).Format(time.RFC3339)}, "max_points": {"10"}, "format": {"csv"}})
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(recs) != 11 || recs[0][1] != "lon" {
		t.Fatalf("CSV track: HTTP %d, %d rows, %v", code, len(recs), err)
	}
	// Default range: the last hour before "now" (start+30 min) holds 30 min of v1.
	code, body, _ = get(t, srv, "/api/v1/vehicles/v1/track", nil)
	_ = json.Unmarshal([]byte(body), &g)
	if code != 200 || g.TotalPoints != 1800 && g.TotalPoints != 600 {
		t.Fatalf("default range: HTTP %d total %d", code, g.TotalPoints)
	}
}

func TestFlightsLatestExportStatus(t *testing.T) {
	srv := server(t)
	code, body, _ := get(t, srv, "/api/v1/vehicles/v1/flights", nil)
	var fl struct {
		Flights []struct {
			Start time.Time `json:"start"`
		} `json:"flights"`
	}
	if err := json.Unmarshal([]byte(body), &fl); code != 200 || err != nil || len(fl.Flights) != 1 || !fl.Flights[0].Start.Equal(start.Add(5*time.Second)) {
		t.Fatalf("flights: HTTP %d %s", code, body)
	}
	code, body, _ = get(t, srv, "/api/v1/history/latest", nil)
	var lt struct {
		Vehicles []struct {
			ID   string    `json:"vehicle_id"`
			Time time.Time `json:"time"`
		} `json:"vehicles"`
	}
	if err := json.Unmarshal([]byte(body), &lt); code != 200 || err != nil || len(lt.Vehicles) != 2 || !lt.Vehicles[0].Time.Equal(start.Add(599*time.Second)) {
		t.Fatalf("latest: HTTP %d %s", code, body)
	}
	q := url.Values{"from": {start.Format(time.RFC3339)}, "to": {start.Add(time.Hour).Format(time.RFC3339)}}
	code, body, hdr := get(t, srv, "/api/v1/vehicles/v2/history", q)
	recs, _ := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || len(recs) != 11 || !strings.Contains(hdr.Get("Content-Disposition"), "v2-") {
		t.Fatalf("CSV export: HTTP %d, %d rows", code, len(recs))
	}
	q.Set("format", "geojson")
	code, body, _ = get(t, srv, "/api/v1/vehicles/v2/history", q)
	var fc struct {
		Type     string `json:"type"`
		Features []any  `json:"features"`
	}
	if err := json.Unmarshal([]byte(body), &fc); code != 200 || err != nil || fc.Type != "FeatureCollection" || len(fc.Features) != 10 {
		t.Fatalf("GeoJSON export: HTTP %d %s", code, body[:min(len(body), 200)])
	}
	code, body, _ = get(t, srv, "/api/v1/telemetry/status", nil)
	if code != 200 || !strings.Contains(body, "sqlite") {
		t.Fatalf("status: %d %s", code, body)
	}
}

// Malformed query parameters → 400 naming the parameter.
func TestBadParams(t *testing.T) {
	srv := server(t)
	for _, c := range []struct {
		path  string
		q     url.Values
		field string
	}{
		{"/api/v1/vehicles/v1/track", url.Values{"from": {"yesterday"}}, "from"},
		{"/api/v1/vehicles/v1/track", url.Values{"to": {"2026-13-01T00:00:00Z"}}, "to"},
		{"/api/v1/vehicles/v1/track", url.Values{"from": {"2026-03-01T11:00:00Z"}, "to": {"2026-03-01T10:00:00Z"}}, "to"},
		{"/api/v1/vehicles/v1/track", url.Values{"max_points": {"lots"}}, "max_points"},
		{"/api/v1/vehicles/v1/track", url.Values{"max_points": {"1"}}, "max_points"},
		{"/api/v1/vehicles/v1/track", url.Values{"format": {"kml"}}, "format"},
		{"/api/v1/vehicles/v1/history", url.Values{"format": {"xml"}}, "format"},
		{"/api/v1/vehicles/v1/history", url.Values{"from": {"2020-01-01T00:00:00Z"}, "to": {"2026-01-01T00:00:00Z"}}, "from"},
		{"/api/v1/vehicles/v1/flights", url.Values{"to": {"1700000000"}}, "to"},
	} {
		code, body, _ := get(t, srv, c.path, c.q)
		var e struct {
			Error struct {
				Code  string `json:"code"`
				Field string `json:"field"`
			} `json:"error"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		if code != 400 || e.Error.Field != c.field || e.Error.Code != "invalid" {
			t.Errorf("%s?%s: HTTP %d field %q, want 400 naming %q: %s", c.path, c.q.Encode(), code, e.Error.Field, c.field, body)
		}
	}
}
