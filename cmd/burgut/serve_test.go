package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// served is a running `burgut serve` started by startServe.
type served struct {
	cmd     *exec.Cmd
	http    string
	dataDir string
	stderr  *lockedBuffer
	exited  chan struct{} // closed when the process has exited; then err is set
	err     error
}

// lockedBuffer is stderr written by exec's copier while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe starts the real binary with args plus its own free ports and
// data dir, and waits for /api/v1/health. The process is killed at cleanup.
func startServe(t testing.TB, args ...string) *served {
	t.Helper()
	s := &served{http: fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t)), dataDir: t.TempDir(), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	for i, a := range args { // a --data-dir of the caller's wins, as flags do
		if (a == "--data-dir" || a == "-data-dir") && i+1 < len(args) {
			s.dataDir = args[i+1]
		}
	}
	args = append([]string{"serve",
		"--http", s.http,
		"--mqtt-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t)),
		"--data-dir", s.dataDir}, args...)
	s.cmd = exec.Command(burgutBinary(t), args...)
	s.cmd.Stderr = s.stderr
	if extra := os.Getenv("BURGUT_BENCH_SERVE_ENV"); extra != "" { // e.g. GOMAXPROCS=4 for serve only
		s.cmd.Env = append(os.Environ(), strings.Fields(extra)...)
	}
	if path := os.Getenv("BURGUT_BENCH_SERVE_STDERR"); path != "" { // a bench's diagnostics (GODEBUG=gctrace=1, …)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		s.cmd.Stderr = io.MultiWriter(s.stderr, f)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); <-s.exited })
	testenv.Eventually(t, 30*time.Second, "serve answering /api/v1/health", func() bool {
		select {
		case <-s.exited:
			t.Fatalf("serve exited early: %v; stderr:\n%s", s.err, s.stderr)
		default:
		}
		resp, err := http.Get("http://" + s.http + "/api/v1/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The tests call the API as an admin script would: with a token the
	// CLI made while the station runs.
	tok, stderr, code := runBurgut(t, "tokens", "create", "--data-dir", s.dataDir, "--name", "test-harness", "--role", "admin")
	if code != 0 {
		t.Fatalf("tokens create: %d %s", code, stderr)
	}
	testTokens.Store(s.http, strings.TrimSpace(tok))
	t.Cleanup(func() { testTokens.Delete(s.http) })
	return s
}

// testTokens maps a served station's HTTP address to its admin token;
// testTransport adds it to requests of this package's tests that carry
// no Authorization header of their own.
var testTokens sync.Map

type testTransport struct{ base http.RoundTripper }

func (tt testTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok, ok := testTokens.Load(r.URL.Host); ok && r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tok.(string))
	}
	return tt.base.RoundTrip(r)
}

func init() { http.DefaultClient.Transport = testTransport{http.DefaultTransport} }

// The contract: serve runs until SIGINT/SIGTERM and then exits 0.
func TestServeExitsZeroOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startServe(t, "--mavlink", fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t)))
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-s.exited:
				if s.err != nil {
					t.Fatalf("serve exited with %v after %v; stderr:\n%s", s.err, sig, s.stderr)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("serve did not exit after %v; stderr:\n%s", sig, s.stderr)
			}
		})
	}
}

// Named links (NAME=KIND:ADDRESS) are accepted by serve's validation and
// open under their names (issue 9, defect 5: they were refused with
// `unknown link kind "gcs=udp"`).
func TestServeAcceptsNamedLinks(t *testing.T) {
	s := startServe(t,
		"--mavlink", fmt.Sprintf("gcs=udp:127.0.0.1:%d", testenv.FreeUDPPort(t)),
		"--mavlink", fmt.Sprintf("radio_2=udp:127.0.0.1:%d", testenv.FreeUDPPort(t)))
	// A token made by the CLI while the station runs (issue 11's contract).
	tok, stderr, code := runBurgut(t, "tokens", "create", "--data-dir", s.dataDir, "--name", "links-test", "--role", "observer")
	if code != 0 {
		t.Fatalf("tokens create: %d %s", code, stderr)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.http+"/api/v1/links", nil)
	plain := &http.Client{Transport: http.DefaultTransport}
	if resp, err := plain.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("links without a token: %v %v, want 401", resp, err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var links []struct{ Name, Spec string }
	if err := json.NewDecoder(resp.Body).Decode(&links); err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 || links[0].Name != "gcs" || links[1].Name != "radio_2" {
		t.Fatalf("links = %+v, want gcs and radio_2", links)
	}
}

func TestServeRejectsBadFlagsWithExitTwo(t *testing.T) {
	cmd := exec.Command(burgutBinary(t), "serve", "--mavlink", "pigeon:1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("err = %v, want exit status 2", err)
	}
	if !strings.Contains(stderr.String(), "pigeon") {
		t.Fatalf("stderr does not name the bad link: %s", stderr.String())
	}
}

// First start: with --admin-password-file the account admin has that
// password; without it a one-time password is printed to the log.
func TestServeCreatesTheFirstAdmin(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("first-admin-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--mavlink", fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t)), "--admin-password-file", pw)
	login := func(s *served, user, password string) int {
		resp, err := http.Post("http://"+s.http+"/api/v1/login", "application/json",
			strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := login(s, "admin", "first-admin-pw"); st != http.StatusOK {
		t.Fatalf("login with the password file's password: %d\n%s", st, s.stderr)
	}
	s2 := startServe(t, "--mavlink", fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t)))
	m := regexp.MustCompile(`one-time password.* password=(\S+)`).FindStringSubmatch(s2.stderr.String())
	if m == nil {
		t.Fatalf("no one-time password in the log:\n%s", s2.stderr)
	}
	if st := login(s2, "admin", m[1]); st != http.StatusOK {
		t.Fatalf("login with the logged one-time password: %d", st)
	}
}
