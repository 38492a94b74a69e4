package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
)

func TestSitlBadFlagsExitTwoWithReason(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sitl", "--vehicles", "0"}, "vehicles"},
		{[]string{"sitl", "--gcs", "tcp:1.2.3.4:5"}, "udp:HOST:PORT"},
		{[]string{"sitl", "--home", "95,10"}, "latitude"},
		{[]string{"sitl", "--vehicles", "300"}, "ground-station addresses"},
		{[]string{"sitl", "--loss", "150"}, "loss"},
		{[]string{"sitl", "--fault", "kind=meteor"}, "unknown kind"},
		{[]string{"sitl", "--speedup", "banana"}, "speedup"},
		{[]string{"sitl", "extra"}, "unexpected argument"},
		{[]string{"sitl", "--vehicles", "2", "--vehicle", "vehicle=1,endurance-min=-3"}, "vehicle 1: endurance-min -3"},
		{[]string{"sitl", "--vehicles", "2", "--vehicle", "vehicle=5,endurance-min=10"}, "vehicle 5 settings: no such vehicle"},
		{[]string{"sitl", "--vehicle", "endurance-min=10"}, "vehicle=INDEX is missing"},
		{[]string{"sitl", "--vehicles", "2", "--vehicle", "vehicle=1,swap-min=1", "--vehicle", "vehicle=1,swap-min=2"}, "vehicle 1 is given twice"},
	} {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), tc.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message mentioning %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// TestSitlBinaryFliesAndStopsOnSignal runs the real binary against a UDP
// socket playing the ground station: heartbeats from every system ID
// arrive, and SIGINT ends it with status 0.
func TestSitlBinaryFliesAndStopsOnSignal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "burgut")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build burgut: %v\n%s", err, out)
	}
	gcs, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Close()
	cmd := exec.Command(bin, "sitl", "--vehicles", "3", "--gcs", "udp:"+gcs.LocalAddr().String(), "--speedup", "2", "--log-level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // only matters if the test fails early
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint8]bool{}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 3 && time.Now().Before(deadline) {
		gcs.SetReadDeadline(time.Now().Add(time.Second)) //nolint:errcheck
		n, _, err := gcs.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		rd := &frame.Reader{BufByteReader: bufio.NewReader(bytes.NewReader(buf[:n])), DialectRW: rw}
		if err := rd.Initialize(); err != nil {
			t.Fatal(err)
		}
		for {
			fr, err := rd.Read()
			if err != nil {
				break
			}
			if _, ok := fr.GetMessage().(*common.MessageHeartbeat); ok && fr.GetComponentID() == 1 {
				seen[fr.GetSystemID()] = true
			}
		}
	}
	if !seen[1] || !seen[2] || !seen[3] {
		t.Fatalf("heartbeats from systems %v, want 1, 2 and 3; stderr: %s", seen, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("burgut sitl after SIGINT: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("burgut sitl did not exit after SIGINT")
	}
}
