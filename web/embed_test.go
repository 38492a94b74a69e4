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
