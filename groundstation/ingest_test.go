package groundstation

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// encodeFrame is one MAVLink 2 frame as a vehicle sends it.
func encodeFrame(t *testing.T, st *Station, sys, comp, seq uint8, m message.Message) []byte {
	t.Helper()
	var b bytes.Buffer
	w := &frame.Writer{ByteWriter: &b, DialectRW: st.dialect}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	mp := st.dialect.GetMessage(m.GetID())
	f := &frame.V2Frame{SystemID: sys, ComponentID: comp, SequenceNumber: seq, Message: mp.Write(m, true)}
	f.Checksum = f.GenerateChecksum(mp.CRCExtra())
	if err := w.Write(f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A datagram is decoded on the link itself: every frame in it is
// dispatched (several frames may share a datagram), the taps get each
// frame's bytes exactly as received, and bytes that are no frame are one
// parse error that ends the datagram.
func TestDatagramFramesAreDecodedAndTappedRaw(t *testing.T) {
	o := newOffline(t)
	var mu sync.Mutex
	var raws [][]byte
	o.st.AddFrameTap(func(_, _ string, _ time.Time, f frame.Frame, raw []byte, sent bool) {
		if !sent {
			mu.Lock()
			raws = append(raws, raw)
			mu.Unlock()
		}
	})
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA}
	f1 := encodeFrame(t, o.st, 7, 1, 1, hb)
	f2 := encodeFrame(t, o.st, 7, 1, 2, &common.MessageGlobalPositionInt{Lat: 418123000, Lon: 692716000, Alt: 500000})
	f3 := encodeFrame(t, o.st, 7, 1, 3, &common.MessageStatustext{Severity: common.MAV_SEVERITY_INFO, Text: "hello"})
	dg := append(append(append([]byte{}, f1...), f2...), f3...)
	o.ln.decodeDatagram(nil, dg, o.at)
	o.ln.decodeDatagram(nil, append(append([]byte{}, f1...), 0x00, 0x01, 0x02), o.at) // a duplicate, then garbage

	if n := o.ln.frames.Load(); n != 4 {
		t.Fatalf("%d frames dispatched, want 4 (parse errors %d: %s)", n, o.ln.parseErrors.Load(), o.ln.lastParseError)
	}
	if n := o.ln.parseErrors.Load(); n != 1 {
		t.Fatalf("%d parse errors, want 1 (the garbage tail)", n)
	}
	if rec := o.ln.comps.get(vkey{7, 1}); rec == nil || rec.rec.received != 3 || rec.rec.duplicates.Load() != 1 {
		t.Fatalf("vehicle record %+v: want 3 frames received and 1 duplicate", rec)
	}
	mu.Lock()
	defer mu.Unlock()
	// The vehicle is not published yet: its frames are held for the taps
	// until it has an ID.
	if len(raws) != 0 {
		t.Fatalf("%d frames tapped before the vehicle has an ID", len(raws))
	}
	mu.Unlock()
	o.wait(2 * time.Second) // the identity wait runs out: published
	mu.Lock()
	want := [][]byte{f1, f2, f3, f1}
	if len(raws) != len(want) {
		t.Fatalf("%d frames tapped, want %d", len(raws), len(want))
	}
	for i := range want {
		if !bytes.Equal(raws[i], want[i]) {
			t.Errorf("tapped frame %d: % x, want the received bytes % x", i, raws[i], want[i])
		}
	}
	// The datagram buffer is the reader's to reuse: a tap's bytes are its own.
	for i := range dg {
		dg[i] = 0
	}
	if !bytes.Equal(raws[1], f2) {
		t.Error("tapped bytes changed with the datagram buffer")
	}
}
