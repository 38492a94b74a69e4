package groundstation

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// The hand decoders give gomavlib's message for every payload length from
// empty (all trimmed) to longer than the message, random bytes (NaN and
// infinite floats included: compared by their re-encoded bytes), and the
// station's dialect uses all three (TestFrameDecoderMatchesGomavlib then
// covers them inside whole frames too).
func TestHandDecodersMatchGomavlib(t *testing.T) {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	hand := handDecoders(rw)
	if len(hand) != 7 {
		t.Fatalf("hand decoders for the station's dialect: %d, want 7", len(hand))
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for id, dec := range hand {
		mp := rw.GetMessage(id)
		for n := 0; n <= 64; n++ {
			for round := 0; round < 50; round++ {
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(rnd.Uint32())
				}
				orig := bytes.Clone(p)
				want, err := mp.Read(&message.MessageRaw{ID: id, Payload: bytes.Clone(p)}, true)
				if err != nil {
					t.Fatalf("gomavlib: id %d, %d bytes: %v", id, n, err)
				}
				got := dec(p)
				if reflect.TypeOf(got) != reflect.TypeOf(want) {
					t.Fatalf("id %d: %T, gomavlib %T", id, got, want)
				}
				if g, w := mp.Write(got, true), mp.Write(want, true); !bytes.Equal(g.Payload, w.Payload) {
					t.Fatalf("id %d, payload % x: hand %+v, gomavlib %+v", id, p, got, want)
				}
				if !bytes.Equal(p, orig) {
					t.Fatalf("id %d: the payload was changed", id)
				}
			}
		}
	}
}

// BenchmarkDecodeGlobalPositionInt: the hand decoder against gomavlib's
// reflection decoder on one full GLOBAL_POSITION_INT payload.
func BenchmarkDecodeGlobalPositionInt(b *testing.B) {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		b.Fatal(err)
	}
	const id = 33
	p := make([]byte, 28)
	for i := range p {
		p[i] = byte(i*37 + 1)
	}
	b.Run("hand", func(b *testing.B) {
		dec := handDecoders(rw)[id]
		b.ReportAllocs()
		for b.Loop() {
			_ = dec(p)
		}
	})
	b.Run("gomavlib", func(b *testing.B) {
		mp := rw.GetMessage(id)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = mp.Read(&message.MessageRaw{ID: id, Payload: p}, true)
		}
	})
}
