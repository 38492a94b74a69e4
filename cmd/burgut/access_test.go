package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
)

func runBurgut(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(burgutBinary(t), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestUsersAndTokensCLI(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("ops-password-1\n"), 0o600)
	if _, e, code := runBurgut(t, "users", "add", "--data-dir", dir, "--name", "ops", "--role", "operator", "--password-file", pw); code != 0 {
		t.Fatalf("users add: %d %s", code, e)
	}
	if _, e, code := runBurgut(t, "users", "add", "--data-dir", dir, "--name", "ops", "--role", "operator", "--password-file", pw); code != 1 || !strings.Contains(e, "already exists") {
		t.Fatalf("duplicate add: %d %s", code, e)
	}
	if _, e, code := runBurgut(t, "users", "add", "--data-dir", dir, "--name", "x", "--role", "pilot", "--password-file", pw); code != 2 || !strings.Contains(e, "pilot") {
		t.Fatalf("bad role: %d %s", code, e)
	}
	if _, e, code := runBurgut(t, "users", "list", "--data-dir", filepath.Join(dir, "typo")); code == 0 || !strings.Contains(e, "does not exist") {
		t.Fatalf("missing data dir: %d %s", code, e)
	}
	out, _, _ := runBurgut(t, "users", "list", "--data-dir", dir)
	if !strings.Contains(out, "ops") || !strings.Contains(out, "operator") {
		t.Fatalf("list: %s", out)
	}
	tok, e, code := runBurgut(t, "tokens", "create", "--data-dir", dir, "--name", "center", "--role", "observer", "--expires", "24h")
	if code != 0 {
		t.Fatalf("tokens create: %d %s", code, e)
	}
	tok = strings.TrimSuffix(tok, "\n")
	if strings.ContainsAny(tok, " \n") || !strings.HasPrefix(tok, "bgt_") {
		t.Fatalf("stdout is not the token alone: %q", tok)
	}
	st, err := auth.Open(dir, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err := st.CheckToken(context.Background(), tok); err != nil || got.Role != auth.Observer {
		t.Fatalf("printed token does not check: %+v %v", got, err)
	}
	if _, e, code := runBurgut(t, "tokens", "revoke", "--data-dir", dir, "--name", "center"); code != 0 {
		t.Fatalf("revoke: %d %s", code, e)
	}
	if _, err := st.CheckToken(context.Background(), tok); err == nil {
		t.Fatal("revoked token still checks")
	}
	if out, _, _ := runBurgut(t, "tokens", "list", "--data-dir", dir); !strings.Contains(out, "revoked") {
		t.Fatalf("list: %s", out)
	}
	for _, a := range [][]string{{"passwd", "--name", "ops", "--password-file", pw}, {"disable", "--name", "ops"}, {"remove", "--name", "ops"}} {
		if _, e, code := runBurgut(t, append([]string{"users", a[0], "--data-dir", dir}, a[1:]...)...); code != 0 {
			t.Fatalf("users %s: %d %s", a[0], code, e)
		}
	}
}

func TestAuditVerifyCLI(t *testing.T) {
	dir := t.TempDir()
	l, err := audit.Open(dir, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := l.Append(audit.Entry{Actor: "ops", Route: "POST /api/v1/commands/{name}", Status: 200, Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if out, e, code := runBurgut(t, "audit", "verify", "--data-dir", dir); code != 0 || !strings.Contains(out, "5 entries") {
		t.Fatalf("intact: %d %s %s", code, out, e)
	}
	b, _ := os.ReadFile(audit.Path(dir))
	b = bytes.Replace(b, []byte(`"actor":"ops"`), []byte(`"actor":"eve"`), 1)
	os.WriteFile(audit.Path(dir), b, 0o600)
	if _, e, code := runBurgut(t, "audit", "verify", "--data-dir", dir); code == 0 || !strings.Contains(e, "line 1 (entry seq 1)") {
		t.Fatalf("tampered: %d %s", code, e)
	}
}
