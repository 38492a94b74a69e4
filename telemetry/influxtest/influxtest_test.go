package influxtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
)

// listensOn is what tells this package's influxd from a stranger that took
// its port: it must see this process's own listener, and only on its port.
func TestListensOn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("listensOn reads /proc")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if !listensOn(os.Getpid(), port) {
		t.Fatalf("listensOn(self, %d) = false with a listener open", port)
	}
	if listensOn(os.Getppid(), port) {
		t.Fatalf("listensOn(parent, %d) = true: the listener is this process's", port)
	}
	ln.Close()
	if listensOn(os.Getpid(), port) {
		t.Fatalf("listensOn(self, %d) = true after the listener closed", port)
	}
}

// fatalTB records a Fatal and ends the goroutine, as testing does, so a
// test can watch Restart refuse.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// A server that answers /health on this influxd's port while it is down is
// not taken for it: Restart reports the start that failed instead of
// handing the test a stranger (once seen in CI as writes that never landed
// and "no database" after a restart).
func TestRestartRefusesAStranger(t *testing.T) {
	s := Start(t, "telemetry")
	s.Kill()
	stranger := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		t.Fatal(err)
	}
	go stranger.Serve(ln)
	defer stranger.Close()
	ftb := &fatalTB{TB: t}
	s.t = ftb
	done := make(chan struct{})
	go func() { defer close(done); s.Restart() }()
	<-done
	s.t = t
	if !strings.Contains(ftb.msg, "influxd exited at start") {
		t.Fatalf("Restart with a stranger on the port: %q, want a failed start", ftb.msg)
	}
}
