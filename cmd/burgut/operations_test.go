package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// burgut operations is a client of the station's operations API: it
// prints the API's answers, exits 1 with the API's error (naming the
// field) and 2 for its own bad arguments.
func TestOperationsCLI(t *testing.T) {
	s := startServe(t)
	tok, stderr, code := runBurgut(t, "tokens", "create", "--data-dir", s.dataDir, "--name", "ops-cli", "--role", "operator")
	if code != 0 {
		t.Fatalf("tokens create: %d %s", code, stderr)
	}
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := "http://" + s.http
	out, stderr, code := runBurgut(t, "operations", "list", "--server", srv, "--token-file", tf)
	var l struct{ Operations []any }
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Operations == nil {
		t.Fatalf("list: %d %q %s", code, out, stderr)
	}
	_, stderr, code = runBurgut(t, "operations", "create", "--server", srv, "--token-file", tf, "--area", "a9", "--vehicles", "u1", "--end", "3h")
	if code != 1 || !strings.Contains(stderr, `"field": "area_id"`) {
		t.Fatalf("create with an unknown area: %d %s", code, stderr)
	}
	if _, stderr, code = runBurgut(t, "operations", "get", "--server", srv, "--token-file", tf, "--id", "op9"); code != 1 || !strings.Contains(stderr, "404") {
		t.Fatalf("get op9: %d %s", code, stderr)
	}
	if _, stderr, code = runBurgut(t, "operations", "stop", "--server", srv); code != 2 || !strings.Contains(stderr, "--id") {
		t.Fatalf("stop without --id: %d %s", code, stderr)
	}
	if _, _, code = runBurgut(t, "operations", "list", "--server", srv); code != 1 {
		t.Fatalf("without a token: exit %d, want 1 (401)", code)
	}
}

// create sends the tuning flags a user needs to match the fleet: the
// endurance the scheduler assumes until it has learned each drone's own
// consumption (with 8-minute packs the API's 20-minute default launches
// reliefs far too late at first), and the pad sequencing. The request is
// captured at a stand-in server: what reaches the API and what it does
// with it are TestOperationsCLI's and missions/operations' tests.
func TestOperationsCLICreateSendsTuning(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/operations" {
			http.Error(w, r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"op1"}`)
	}))
	defer srv.Close()
	var out, errb strings.Builder
	err := operationsCmd(context.Background(), []string{"create", "--server", srv.URL, "--area", "a1", "--slots", "3", "--vehicles", "u1,u2,u3,u4",
		"--end", "2026-12-02T12:00:00Z", "--endurance-min", "8", "--swap-min", "2", "--reserve-pct", "25", "--pad-sequencing", "all"}, &out, &errb)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, errb.String())
	}
	want := map[string]any{"area_id": "a1", "pattern": "perimeter", "slots": 3.0, "start": "now", "end": "2026-12-02T12:00:00Z",
		"endurance_min": 8.0, "swap_min": 2.0, "reserve_pct": 25.0, "pad_sequencing": "all"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	if ids, _ := got["vehicle_ids"].([]any); len(ids) != 4 || ids[3] != "u4" {
		t.Errorf("vehicle_ids = %v", got["vehicle_ids"])
	}
	if out.String() != `{"id":"op1"}` {
		t.Errorf("stdout %q, want the API's answer", out.String())
	}
	if _, ok := got["transit_layer"]; ok {
		t.Errorf("transit_layer sent without --transit-layer: %v (the station's default must apply)", got["transit_layer"])
	}
	got = nil
	if err := operationsCmd(context.Background(), []string{"create", "--server", srv.URL, "--area", "a1", "--vehicles", "u1",
		"--end", "2026-12-02T12:00:00Z", "--transit-layer=false"}, &out, &errb); err != nil {
		t.Fatalf("create --transit-layer=false: %v\n%s", err, errb.String())
	}
	if v, ok := got["transit_layer"]; !ok || v != false {
		t.Errorf("--transit-layer=false sent transit_layer %v (present %v), want false", v, ok)
	}
}
