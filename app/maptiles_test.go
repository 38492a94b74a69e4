package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// --map-tiles: a bad template is refused naming the flag; a good one is
// the only other origin the page's Content-Security-Policy lets images
// come from, and without it none is.
func TestMapTilesFlag(t *testing.T) {
	if _, err := Load("serve", []string{"--map-tiles", "https://tiles.example/{z}/{x}.png"}, false, io.Discard); err == nil || !strings.Contains(err.Error(), "map-tiles") {
		t.Fatalf("bad template: %v, want an error naming map-tiles", err)
	}
	csp := func(args ...string) string {
		cfg, err := Load("serve", args, false, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		(&App{Config: cfg}).securityHeaders(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Header().Get("Content-Security-Policy")
	}
	if got := csp(); !strings.Contains(got, "img-src 'self' data:;") {
		t.Errorf("default CSP %q: want images from the station only", got)
	}
	if got := csp("--map-tiles", "https://{s}.tiles.example/{z}/{x}/{y}.png", "--map-attribution", "© City"); !strings.Contains(got, "img-src 'self' data: https://*.tiles.example;") {
		t.Errorf("CSP with tiles %q: want the tile origin in img-src", got)
	}
}
