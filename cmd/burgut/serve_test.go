package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// The contract: serve runs until SIGINT/SIGTERM and then exits 0.
func TestServeExitsZeroOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t))
			cmd := exec.Command(burgutBinary(t), "serve",
				"--mavlink", fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t)),
				"--http", httpAddr,
				"--mqtt-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreeTCPPort(t)),
				"--data-dir", t.TempDir())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			up := false
			for i := 0; i < 300 && !up; i++ {
				resp, err := http.Get("http://" + httpAddr + "/api/v1/health")
				if err == nil {
					resp.Body.Close()
					up = resp.StatusCode == 200
				}
				if !up {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if !up {
				t.Fatalf("serve never answered /api/v1/health; stderr:\n%s", stderr.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve exited with %v after %v; stderr:\n%s", err, sig, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("serve did not exit after %v; stderr:\n%s", sig, stderr.String())
			}
		})
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
