package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func ok(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }

func TestMuxRefusesRoutesWithoutAccess(t *testing.T) {
	bad := []Route{
		{Method: "GET", Pattern: "/a", Handler: http.HandlerFunc(ok)},                         // no access
		{Method: "GET", Pattern: "/a", Access: Access(9), Handler: http.HandlerFunc(ok)},      // unknown level
		{Method: "", Pattern: "/a", Access: Observer, Handler: http.HandlerFunc(ok)},          // no method
		{Method: "GET", Pattern: "GET /a", Access: Observer, Handler: http.HandlerFunc(ok)},   // method in pattern
		{Method: "GET", Pattern: "/a", Access: Observer},                                      // no handler
		{Method: "FETCH", Pattern: "/a", Access: Observer, Handler: http.HandlerFunc(ok)},     // no such method
		{Method: "GET", Pattern: "api/v1/a", Access: Observer, Handler: http.HandlerFunc(ok)}, // not a path
	}
	for _, r := range bad {
		t.Run(fmt.Sprintf("%s %s %v", r.Method, r.Pattern, r.Access), func(t *testing.T) {
			m := NewMux()
			defer func() {
				if recover() == nil {
					t.Errorf("route %+v was accepted", r)
				}
				if len(m.Routes()) != 0 {
					t.Errorf("a refused route is listed: %v", m.Routes())
				}
			}()
			m.Handle(r)
		})
	}
	m := NewMux()
	m.HandleFunc("GET", "/a", Observer, ok)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a route registered twice was accepted")
			}
		}()
		m.HandleFunc("GET", "/a", Operator, ok)
	}()
}

func TestMuxListsRoutesAndWrapsEachWithItsRoute(t *testing.T) {
	var seen []string
	tag := func(r Route, next http.Handler) http.Handler {
		seen = append(seen, r.String())
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Access", r.Access.String())
			next.ServeHTTP(w, req)
		})
	}
	outer := func(r Route, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Order", w.Header().Get("X-Order")+"outer,")
			next.ServeHTTP(w, req)
		})
	}
	inner := func(r Route, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Order", w.Header().Get("X-Order")+"inner")
			next.ServeHTTP(w, req)
		})
	}
	m := NewMux(outer, tag, inner)
	m.HandleFunc("GET", "/api/v1/health", Anonymous, ok)
	m.HandleFunc("PUT", "/api/v1/things/{id}", Operator, ok)
	routes := m.Routes()
	if len(routes) != 2 || routes[0].String() != "GET /api/v1/health" || routes[1].Access != Operator {
		t.Fatalf("routes %v", routes)
	}
	if strings.Join(seen, ",") != "GET /api/v1/health,PUT /api/v1/things/{id}" {
		t.Errorf("wrap saw %v", seen)
	}
	for _, c := range []struct{ method, path, access string }{
		{"GET", "/api/v1/health", "anonymous"},
		{"PUT", "/api/v1/things/7", "operator"},
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != http.StatusNoContent || rec.Header().Get("X-Access") != c.access || rec.Header().Get("X-Order") != "outer,inner" {
			t.Errorf("%s %s: %d access %q order %q", c.method, c.path, rec.Code, rec.Header().Get("X-Access"), rec.Header().Get("X-Order"))
		}
	}
	if _, p := m.Handler(httptest.NewRequest("PUT", "/api/v1/things/7", nil)); p != "PUT /api/v1/things/{id}" {
		t.Errorf("Handler pattern %q", p)
	}
}

func TestUnmatchedAPIPathsAnswerTheHouseError(t *testing.T) {
	m := NewMux()
	m.HandleFunc("GET", "/api/v1/things/{id}", Observer, func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	})
	m.HandleFunc("DELETE", "/api/v1/things/{id}", Operator, ok)
	m.HandleFunc("GET", "/", Anonymous, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<p>map</p>"))
	})
	cases := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/api/v1/things/7", 200, "", ""},
		{"GET", "/api/v1/nothing", 404, CodeNotFound, ""},                        // not the web map's page
		{"GET", "/api/v1/things/7/../../nothing", 404, CodeNotFound, ""},         // no redirect out of the API
		{"POST", "/api/v1/things/7", 405, CodeMethodNotAll, "GET, HEAD, DELETE"}, // exists for other methods
		{"PUT", "/api/v1/nothing", 404, CodeNotFound, ""},                        // GET / does not make it a 405
		{"GET", "/somewhere/else", 200, "", ""},                                  // outside the API: the catch-all
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.path, rec.Code, c.status, rec.Body)
			continue
		}
		if c.code != "" {
			var e struct{ Error Error }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != c.code {
				t.Errorf("%s %s: body %s, want code %s", c.method, c.path, rec.Body, c.code)
			}
		}
		if got := rec.Header().Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/things/42", nil))
	if !strings.Contains(rec.Body.String(), `"42"`) {
		t.Errorf("path values lost on the way through: %s", rec.Body)
	}
}

func TestRequireWebSocket(t *testing.T) {
	h := RequireWebSocket(http.HandlerFunc(ok))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/stream", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "WebSocket") {
		t.Errorf("plain GET: %d %s", rec.Code, rec.Body)
	}
	req := httptest.NewRequest("GET", "/api/v1/stream", nil)
	req.Header.Set("Connection", "keep-alive, Upgrade")
	req.Header.Set("Upgrade", "websocket")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Errorf("upgrade request not passed on: %d", rec.Code)
	}
}
