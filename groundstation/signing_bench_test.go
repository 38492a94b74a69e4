package groundstation

import (
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavsign"
)

// BenchmarkDispatchSignedFrame is BenchmarkDispatchFrame (2,000 vehicles,
// no subscriber) with every system keyed: each frame is verified against
// its vehicle's key (re-encoding, SHA-256, stream timestamp) before the
// usual per-frame path. keyed=false is the same frames unsigned on a link
// without keys, for comparison.
func BenchmarkDispatchSignedFrame(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("keyed=%v", keyed), func(b *testing.B) { benchDispatchSigned(b, keyed) })
	}
}

func benchDispatchSigned(b *testing.B, keyed bool) {
	const vehicles = 2000
	fl := fleet.New(fleet.DefaultConfig())
	ln, stop := benchLink(b, fl, vehicles)
	defer stop()
	keys := make([]storedKey, 251)
	for sys := 1; sys <= 250; sys++ {
		keys[sys] = storedKey{key: testKey(byte(sys))}
	}
	for sys := 1; sys <= 250; sys++ {
		if keyed {
			ln.signedSys[sys].Store(newRecSigning(fmt.Sprintf("bench-%d", sys), keys[sys]))
		}
	}
	// Every frame is built (and signed) beforehand with its vehicle's next
	// sequence number and an increasing timestamp, as a vehicle sends
	// them: none is a duplicate or a replay.
	signers := make([]*mavsign.Signer, 251)
	for sys := 1; sys <= 250; sys++ {
		signers[sys] = mavsign.NewSigner(keys[sys].key, 0)
	}
	frames := make([]*gomavlib.EventFrame, b.N)
	seqs := make([]uint8, vehicles)
	at := time.Now()
	for i := range frames {
		v := i % vehicles
		sys, comp := uint8(v%250+1), uint8(v/250%8+1)
		msg := telemetryMix(i / vehicles)
		mp := testDialect.GetMessage(msg.GetID())
		seqs[v]++
		f := &frame.V2Frame{SequenceNumber: seqs[v], SystemID: sys, ComponentID: comp, Message: mp.Write(msg, true)}
		at = at.Add(100 * time.Nanosecond)
		if keyed {
			signers[sys].Sign(f, mp.CRCExtra(), at)
		} else {
			f.Checksum = f.GenerateChecksum(mp.CRCExtra())
		}
		f.Message = msg // as gomavlib's reader hands it over: decoded
		frames[i] = &gomavlib.EventFrame{Frame: f}
	}
	at = time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at = at.Add(100 * time.Nanosecond)
		ln.onFrame(frames[i].Frame, nil, nil, at)
	}
	b.StopTimer()
	for _, r := range mavsign.Reasons {
		if n := ln.signRejected[r].Load(); n > 0 {
			b.Fatalf("%d frames rejected (%v): the benchmark must measure accepted frames", n, r)
		}
	}
}
