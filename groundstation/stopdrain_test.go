package groundstation

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// A station stopped while datagrams wait in its UDP socket dispatches
// them before it stops: the vehicle sent them before the station went
// down, and a restart must not lose them. The socket's reader is starved
// (as on a loaded machine) while a remote sends positions over a real
// socket; the station is told to stop; only then does the reader get the
// CPU back. Every position sent is decoded. Before finishUDP the
// dispatcher returned at the stop and every queued datagram was lost,
// unlogged (the station-restart scenario came up 4 positions per
// vehicle short under CI load).
func TestStopDispatchesWhatReachedTheSocket(t *testing.T) {
	const burst = 100
	u := newUDPRemote(t, 42, nil)
	st, ln, l, logs, stop := u.st, u.ln, u.l, u.logs, u.stop
	send := func(i int) {
		t.Helper()
		u.send(t, &common.MessageGlobalPositionInt{TimeBootMs: uint32(i), Lat: 418123000, Lon: 692716000})
	}
	// The remote's channel is open before the stall, so what follows is
	// staged for the dispatcher, not held for a channel.
	send(0)
	testenv.Eventually(t, 10*time.Second, "the first frame decoded", func() bool { return ln.frames.Load() == 1 })

	// Starve the reader: its next read blocks until released.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() {
		once.Do(func() { close(entered) })
		<-release
	}
	l.readHook.Store(&hook)
	for i := 1; i <= burst; i++ {
		send(i)
	}
	<-entered
	drops := func() uint64 {
		d, _, err := l.socketMemInfo()
		if err != nil {
			return 0
		}
		return d
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	testenv.Eventually(t, 10*time.Second, "the station stopping", func() bool { return st.runCtx.Err() != nil })
	close(release)
	<-stopped
	if d := drops(); d > 0 {
		t.Skipf("the kernel dropped %d of %d datagrams at the socket (receive buffer): nothing to tell", d, burst)
	}
	if got := ln.frames.Load(); got != burst+1 {
		t.Errorf("sent %d positions before the stop; the station decoded %d", burst+1, got)
	}
	if s := logs.String(); strings.Contains(s, "not dispatched") || strings.Contains(s, "stopped dispatching") {
		t.Errorf("the stop left datagrams behind:\n%s", s)
	}
}
