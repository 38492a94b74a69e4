//go:build linux

package groundstation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
	"golang.org/x/sys/unix"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// Nothing the station sends on a TCP or serial link is dropped unseen: a
// vehicle that stops reading fills the socket (or the pty), gomavlib's
// writer blocks, and the station's senders wait at the send gate and then
// shed, counted, instead of overflowing gomavlib's 64-frame queue. Once
// the vehicle reads again it receives exactly the frames the station
// counted as sent and not shed. Real TCP sockets (the station as server
// and as client) and a pseudo-terminal for the serial link.
func TestSendGateOnStreamLinks(t *testing.T) {
	for _, kind := range []string{"tcps", "tcp", "serial"} {
		t.Run(kind, func(t *testing.T) {
			spec, peer := streamPeer(t, kind)
			cfg := testConfig(spec)
			st, _ := startStation(t, cfg)
			p := peer()
			defer p.Close()
			rw := newFrameRW(t, p)
			hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_GENERIC, MavlinkVersion: 3}
			sw := &streamwriter.Writer{FrameWriter: rw.Writer, Version: streamwriter.V2, SystemID: 1, ComponentID: 1}
			if err := sw.Initialize(); err != nil {
				t.Fatal(err)
			}
			// The vehicle sends its HEARTBEAT until the station has a record
			// of it (one frame once timed out at load 25), bounded by the
			// test's own deadline.
			ctx := t.Context()
			if d, ok := t.Deadline(); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
				defer cancel()
			}
			record := func() *vehicleRec {
				for _, ln := range st.running {
					ln.mu.Lock()
					r := ln.bySys[1]
					ln.mu.Unlock()
					if r != nil && r.ch.Load() != nil {
						return r
					}
				}
				return nil
			}
			var rec *vehicleRec
			for sentHB := 1; ; sentHB++ {
				if err := sw.Write(hb); err != nil {
					t.Fatalf("heartbeat %d: %v", sentHB, err)
				}
				select {
				case <-ctx.Done():
					t.Fatalf("no record of vehicle 1 after %d heartbeats: %v", sentHB, ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
				if rec = record(); rec != nil {
					break
				}
			}
			ln := rec.ln
			// The vehicle stays alive (a HEARTBEAT a second) while it
			// reads nothing: silent for gomavlib's 60 s idle timeout, as
			// on a loaded machine this test can be, the station closes
			// the connection and what it wrote since is lost.
			hbDone, hbStop := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(hbDone)
				for {
					select {
					case <-hbStop:
						return
					case <-time.After(time.Second):
					}
					if sw.Write(hb) != nil {
						return
					}
				}
			}()
			defer func() { close(hbStop); <-hbDone }()

			// The vehicle reads nothing: send until the gate sheds.
			payload := make([]uint8, 251)
			for i := range payload {
				payload[i] = uint8(i + 1) // no trailing zeros: full-size frames
			}
			msg := &common.MessageFileTransferProtocol{TargetSystem: 1, TargetComponent: 1, Payload: [251]uint8(payload)}
			for sent := 0; ln.send.shed.Load() == 0; sent++ {
				if sent > 1_000_000 {
					t.Fatal("a million frames went to a vehicle that reads nothing and none was shed")
				}
				if err := rec.Send(msg); err != nil {
					t.Fatalf("send %d: %v", sent, err)
				}
			}
			if ln.send.waited.Load() == 0 {
				t.Error("frames were shed without waiting for the writer first")
			}

			// The vehicle reads again: it gets every frame not shed.
			got := make(chan int, 1)
			stopped := make(chan struct{})
			defer func() { // the reader ends when the vehicle's end closes
				p.Close()
				<-stopped
			}()
			go func() {
				defer close(stopped)
				n := 0
				for {
					f, err := rw.Read()
					if err != nil {
						var re frame.ReadError
						if errors.As(err, &re) {
							continue
						}
						return // the vehicle's end closed
					}
					if f.GetSystemID() == st.cfg.SystemID {
						if _, isHB := f.GetMessage().(*common.MessageHeartbeat); !isHB {
							n++
							select {
							case <-got:
							default:
							}
							got <- n
						}
					}
				}
			}()
			// Fail when delivery stops, not when it is slow: under -race on
			// a loaded machine the vehicle's reader took over 60 s for the
			// ~16,000 frames (5,638 read when a fixed deadline ran out).
			var received int
			stall := time.Now().Add(30 * time.Second)
			for uint64(received) != ln.send.frames.Load()-ln.send.shed.Load() {
				if time.Now().After(stall) {
					t.Fatalf("the vehicle received %d frames, then none for 30 s; the station sent %d and shed %d (waited %d)",
						received, ln.send.frames.Load(), ln.send.shed.Load(), ln.send.waited.Load())
				}
				select {
				case n := <-got:
					if n > received {
						stall = time.Now().Add(30 * time.Second)
					}
					received = n
				case <-time.After(100 * time.Millisecond):
				}
			}
			t.Logf("%s: %d frames handed to gomavlib and received, %d waited, %d shed",
				kind, received, ln.send.waited.Load(), ln.send.shed.Load())
		})
	}
}

// streamPeer returns the station's link spec for kind and a function
// that returns the vehicle's end once the station may connect: for
// "tcps" the vehicle dials the station, for "tcp" the station dials the
// vehicle, for "serial" the station opens a pty's terminal and the
// vehicle holds its master.
func streamPeer(t *testing.T, kind string) (string, func() io.ReadWriteCloser) {
	t.Helper()
	switch kind {
	case "tcps":
		port := testenv.FreeTCPPort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		return "tcps:" + addr, func() io.ReadWriteCloser {
			var c net.Conn
			testenv.Eventually(t, 10*time.Second, "dial the station", func() bool {
				var err error
				c, err = net.Dial("tcp4", addr)
				return err == nil
			})
			return c
		}
	case "tcp":
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return "tcp:" + l.Addr().String(), func() io.ReadWriteCloser {
			c, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	case "serial":
		master, tty := openPTY(t)
		return "serial:" + tty + ":57600", func() io.ReadWriteCloser { return master }
	}
	t.Fatalf("no peer for %q", kind)
	return "", nil
}

// openPTY opens a pseudo-terminal pair: the master for the test, the
// terminal's path for the station's serial link.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	// The master is raw as well, so frames pass unchanged both ways.
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatalf("pty termios: %v", err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		t.Fatalf("pty raw: %v", err)
	}
	return master, fmt.Sprintf("/dev/pts/%d", n)
}

// newFrameRW reads and writes MAVLink frames on the vehicle's end.
func newFrameRW(t *testing.T, c io.ReadWriter) *frame.ReadWriter {
	t.Helper()
	d := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := d.Initialize(); err != nil {
		t.Fatal(err)
	}
	rw := &frame.ReadWriter{ByteReadWriter: c, DialectRW: d}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	return rw
}
