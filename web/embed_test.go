package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesMapOrExplainsHowToBuildIt(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := get("/")
	if !Built() {
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "make web") {
			t.Fatalf("unbuilt map: %d %q, want 503 telling to run make web", resp.StatusCode, body)
		}
		return
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<div id="map"`) || !strings.Contains(body, "main.js") {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
	resp, body = get("/main.js")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !strings.Contains(body, "/api/v1/stream") {
		t.Fatalf("GET /main.js = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ = get("/main.css"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /main.css = %d", resp.StatusCode)
	}
	for _, p := range []string{"/nope.js", "/.keep"} {
		if resp, _ = get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}

// The configured tile template reaches the page (escaped) in its meta tag,
// and the default page names no tile server at all.
func TestMapTilesReachThePage(t *testing.T) {
	if !Built() {
		t.Skip("web map not built: run 'make web'")
	}
	page := func(h http.Handler) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Body.String()
	}
	if got := page(Handler()); !strings.Contains(got, `<meta name="burgut-map-tiles" content="">`) {
		t.Fatalf("default page has a tile URL: %s", got)
	}
	got := page(NewHandler(Options{MapTiles: "https://tiles.city.example/{z}/{x}/{y}.png", MapAttribution: `© City "GIS"`}))
	for _, want := range []string{
		`<meta name="burgut-map-tiles" content="https://tiles.city.example/{z}/{x}/{y}.png">`,
		`<meta name="burgut-map-attribution" content="© City &#34;GIS&#34;">`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestTileSource(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"", "", ""},
		{"https://tiles.city.example/{z}/{x}/{y}.png", "https://tiles.city.example", ""},
		{"http://{s}.tile.example.org:8080/{z}/{x}/{y}.png", "http://*.tile.example.org:8080", ""},
		{"https://tiles.city.example/{z}/{x}.png", "", "want an XYZ URL template"},
		{"file:///tmp/{z}/{x}/{y}.png", "", "http:// or https://"},
		{"ftp://x/{z}/{x}/{y}", "", "http:// or https://"},
	} {
		got, err := TileSource(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("TileSource(%q) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("TileSource(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
