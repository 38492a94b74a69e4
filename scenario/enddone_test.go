package scenario

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A run that started an operation does not end on "every vehicle landed"
// while the station still reports the operation running: drones armed and
// disarmed again on the pad looked like flown and landed, and a stadium run
// once ended after 12 simulated seconds with nothing checked.
func TestRunDoesNotEndWhileItsOperationRuns(t *testing.T) {
	var state atomic.Value
	state.Store("running")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/api/v1/operations/op1" {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"op1","state":"` + state.Load().(string) + `"}`))
	}))
	defer srv.Close()
	r := &runner{st: &station{base: srv.URL, http: srv.Client()}}
	ctx := context.Background()
	if !r.operationsDone(ctx) {
		t.Fatal("no operation started, yet not done")
	}
	r.operations = []string{"op1"}
	for _, st := range []string{"scheduled", "running"} {
		state.Store(st)
		if r.operationsDone(ctx) {
			t.Fatalf("operation %s counted as done", st)
		}
	}
	for _, st := range []string{"finished", "failed"} {
		state.Store(st)
		if !r.operationsDone(ctx) {
			t.Fatalf("operation %s not counted as done", st)
		}
	}
	// An operation the station cannot report keeps the run going.
	r.operations = []string{"op1", "gone"}
	if r.operationsDone(ctx) {
		t.Fatal("an operation the station answers 404 for counted as done")
	}
}
