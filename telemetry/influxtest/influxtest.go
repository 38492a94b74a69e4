// Package influxtest runs a private, real InfluxDB 1.8 server for tests that
// must kill and restart it (outage tests) without disturbing the shared
// instance `make test` starts. It uses the binary scripts/service-influxd.sh
// built (BURGUT_TEST_INFLUXD) and its own loopback ports and temp dirs.
package influxtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// Server is one private influxd process.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Start builds a config in a temp dir, starts influxd, waits for /health
// and creates the database db. The server is stopped when the test ends.
func Start(t testing.TB, db string) *Server {
	t.Helper()
	bin := testenv.Service(t, "BURGUT_TEST_INFLUXD")
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: testenv.FreeTCPPort(t)}
	rpc := testenv.FreeTCPPort(t)
	for rpc == s.port {
		rpc = testenv.FreeTCPPort(t)
	}
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%[2]s/meta"
[data]
  dir = "%[2]s/data"
  wal-dir = "%[2]s/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%[3]d"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[logging]
  level = "error"
`, rpc, s.dir, s.port)
	if err := os.WriteFile(filepath.Join(s.dir, "influxdb.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("private influxd on 127.0.0.1:%d, its log's last lines:\n%s", s.port, s.logTail(40))
		}
	})
	s.Restart()
	q := url.Values{"q": {"CREATE DATABASE " + db}}
	resp, err := http.PostForm(s.URL()+"/query", q)
	if err != nil {
		t.Fatalf("create database %s: %v", db, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("create database %s: HTTP %d", db, resp.StatusCode)
	}
	// influxd may not have persisted the new database yet; a test that
	// kills it right away would lose it. A clean stop persists it.
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	s.cmd = nil
	s.Restart()
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// Kill stops the server abruptly (SIGKILL), as a crash or power cut would,
// and waits for it to be gone. Killing a stopped server does nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same port and data, waiting until
// it answers /health.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("influxtest: Restart of a running server")
	}
	log, err := os.OpenFile(filepath.Join(s.dir, "influxd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "-config", filepath.Join(s.dir, "influxdb.conf"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		s.t.Fatalf("start influxd: %v", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); log.Close(); close(done) }(s.done)
	// influxd reopens its shards and WAL before it serves /health; on a
	// machine loaded by a parallel suite that once took over 60 s (an
	// empty log, the process alive). The wait is a start-up allowance, not
	// a measurement: it ends at once when influxd exits, and each probe has
	// its own deadline so one request that hangs does not use it all up.
	const healthWait = 3 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), healthWait)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		req, _ := http.NewRequestWithContext(pctx, "GET", s.URL()+"/health", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			// Some server answered; it counts only if it is this influxd.
			// A stranger on the port (taken while this one was down) would
			// take the test's writes and answer "no database"; waiting on
			// lets this influxd exit on its failed bind, which is reported.
			if resp.StatusCode == 200 && listensOn(cmd.Process.Pid, s.port) {
				pcancel()
				return
			}
		}
		pcancel()
		select {
		case <-ctx.Done():
			s.t.Fatalf("influxd did not become healthy in %v; log:\n%s", healthWait, s.logTail(20))
		case <-s.done:
			s.cmd = nil
			s.t.Fatalf("influxd exited at start; log:\n%s", s.logTail(20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// listensOn reports whether process pid holds a TCP socket listening on
// port: /proc/net/tcp's listening sockets on that port, matched by inode
// with the sockets among the process's open files. Without /proc (not
// Linux, where the tests that start influxd do not run) it cannot tell,
// and reports true so that Restart keeps its plain /health check there.
func listensOn(pid, port int) bool {
	if runtime.GOOS != "linux" {
		return true
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil && int(p) == port {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[l] {
			return true
		}
	}
	return false
}

// logTail is the last n lines of influxd's log (every start appends to it).
func (s *Server) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "influxd.log"))
	return lastLines(string(b), n)
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
