package main

import (
	"encoding/json"
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
