package mavsign

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

func testRW(t testing.TB) *dialect.ReadWriter {
	t.Helper()
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	return rw
}

func mustKey(t testing.TB, b byte) Key {
	var k Key
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// wire signs msg with s, writes it with gomavlib's frame writer and reads
// it back with gomavlib's reader (no node key), as the station and the
// simulator receive it.
func wire(t testing.TB, rw *dialect.ReadWriter, s *Signer, seq byte, msg message.Message, now time.Time) frame.Frame {
	t.Helper()
	mp := rw.GetMessage(msg.GetID())
	f := &frame.V2Frame{SequenceNumber: seq, SystemID: 7, ComponentID: 1, Message: mp.Write(msg, true)}
	if s != nil {
		s.Sign(f, mp.CRCExtra(), now)
	} else {
		f.Checksum = f.GenerateChecksum(mp.CRCExtra())
	}
	var buf bytes.Buffer
	w := &frame.Writer{ByteWriter: &buf, DialectRW: rw}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(f); err != nil {
		t.Fatal(err)
	}
	r := &frame.Reader{BufByteReader: bufio.NewReader(&buf), DialectRW: rw}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	got, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestVerifyRules(t *testing.T) {
	rw := testRW(t)
	key, other := mustKey(t, 1), mustKey(t, 99)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := NewSigner(key, 3)
	v := NewVerifier(key)
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA}
	// STATUSTEXT has a string field: gomavlib's reader re-encodes it and
	// recomputes the CRC; verification must still match.
	txt := &common.MessageStatustext{Severity: common.MAV_SEVERITY_INFO, Text: "signed hello"}

	f1 := wire(t, rw, s, 1, hb, now)
	if r := v.Verify(rw, f1, now); r != OK {
		t.Fatalf("first signed frame: %v", r)
	}
	if r := v.Verify(rw, wire(t, rw, s, 2, txt, now), now); r != OK {
		t.Fatalf("signed STATUSTEXT: %v", r)
	}
	if r := v.Verify(rw, f1, now); r != Replayed {
		t.Fatalf("replayed frame: %v, want replayed", r)
	}
	if r := v.Verify(rw, wire(t, rw, nil, 3, hb, now), now); r != Unsigned {
		t.Fatalf("unsigned frame: %v, want unsigned", r)
	}
	if r := v.Verify(rw, wire(t, rw, NewSigner(other, 3), 4, hb, now), now); r != BadSignature {
		t.Fatalf("frame signed with another key: %v, want bad_signature", r)
	}
	// Altering a signed frame's content breaks the signature.
	f5 := wire(t, rw, s, 5, hb, now).(*frame.V2Frame)
	f5.Message.(*common.MessageHeartbeat).CustomMode = 4
	if r := v.Verify(rw, f5, now); r != BadSignature {
		t.Fatalf("altered frame: %v, want bad_signature", r)
	}
	// A new stream (another link ID) more than a minute behind the
	// verifier's clock is too old; within the minute it is accepted.
	if r := v.Verify(rw, wire(t, rw, NewSigner(key, 9), 6, hb, now.Add(-61*time.Second)), now); r != TooOld {
		t.Fatalf("stale new stream: %v, want too_old", r)
	}
	if r := v.Verify(rw, wire(t, rw, NewSigner(key, 10), 7, hb, now.Add(-30*time.Second)), now); r != OK {
		t.Fatalf("new stream 30 s behind: %v, want ok", r)
	}
	// The verifier's own timestamp follows accepted frames: a stream new
	// to it cannot reuse timestamps from a minute before the newest.
	if r := v.Verify(rw, wire(t, rw, NewSigner(key, 11), 8, hb, now.Add(-2*time.Minute)), now.Add(-5*time.Minute)); r != TooOld {
		t.Fatalf("new stream behind the newest accepted timestamp: %v, want too_old", r)
	}
}

func TestSignerTimestampsIncrease(t *testing.T) {
	rw := testRW(t)
	key := mustKey(t, 7)
	s := NewSigner(key, 0)
	v := NewVerifier(key)
	now := time.Now()
	// Many frames at the same instant: each needs its own timestamp or the
	// receiver drops all but the first as replays.
	for i := range 50 {
		if r := v.Verify(rw, wire(t, rw, s, byte(i), &common.MessageHeartbeat{}, now), now); r != OK {
			t.Fatalf("frame %d at the same instant: %v", i, r)
		}
	}
}

func TestTimestampUnits(t *testing.T) {
	if got := Timestamp(Epoch.Add(time.Second)); got != 100_000 {
		t.Fatalf("one second after the epoch = %d units, want 100000", got)
	}
	if got := Timestamp(Epoch.Add(-time.Hour)); got != 0 {
		t.Fatalf("before the epoch = %d, want 0", got)
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	k := mustKey(t, 0xab)
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %s %+v %#v", k, k, k, k), k.LogValue().String()} {
		if strings.Contains(strings.ToLower(s), k.Hex()[:16]) {
			t.Fatalf("key material printed: %q", s)
		}
		if !strings.Contains(s, k.Fingerprint()) {
			t.Fatalf("fingerprint missing from %q", s)
		}
	}
	if k.Fingerprint() == mustKey(t, 0xac).Fingerprint() {
		t.Fatal("two keys share a fingerprint")
	}
}

func TestParseKey(t *testing.T) {
	k := mustKey(t, 5)
	got, err := ParseKey(" " + k.Hex() + "\n")
	if err != nil || got != k {
		t.Fatalf("ParseKey(hex) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "abcd", strings.Repeat("zz", 32), k.Hex() + "00"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	g1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := GenerateKey()
	if g1 == g2 || g1.IsZero() {
		t.Fatal("GenerateKey repeats or is zero")
	}
}

// BenchmarkVerify is the station's cost per frame from a keyed vehicle:
// re-encoding the decoded message and one SHA-256 (GLOBAL_POSITION_INT,
// the most frequent telemetry message).
func BenchmarkVerify(b *testing.B) {
	rw := testRW(b)
	key := mustKey(b, 1)
	s := NewSigner(key, 0)
	now := time.Now()
	msg := &common.MessageGlobalPositionInt{TimeBootMs: 1234, Lat: 515000000, Lon: -1000000, Alt: 120000, RelativeAlt: 100000, Vx: 120, Vy: -40, Hdg: 9000}
	frames := make([]frame.Frame, 1024)
	for i := range frames {
		frames[i] = wire(b, rw, s, byte(i), msg, now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%len(frames) == 0 {
			b.StopTimer()
			v := NewVerifier(key) // fresh stream state: every frame is new again
			b.StartTimer()
			benchVerifier = v
		}
		if r := benchVerifier.Verify(rw, frames[i%len(frames)], now); r != OK {
			b.Fatalf("frame %d: %v", i, r)
		}
	}
}

var benchVerifier *Verifier

// BenchmarkSign is the cost of signing one outgoing frame.
func BenchmarkSign(b *testing.B) {
	rw := testRW(b)
	s := NewSigner(mustKey(b, 1), 0)
	mp := rw.GetMessage((&common.MessageCommandLong{}).GetID())
	raw := mp.Write(&common.MessageCommandLong{TargetSystem: 1, Command: common.MAV_CMD_COMPONENT_ARM_DISARM, Param1: 1}, true)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		f := &frame.V2Frame{SystemID: 255, ComponentID: 190, Message: raw}
		s.Sign(f, mp.CRCExtra(), now)
	}
}

// FuzzVerify feeds arbitrary bytes through gomavlib's reader (no node
// key, as the station runs it) into Verify: nothing may panic, and only a
// frame carrying the key's signature may pass.
func FuzzVerify(f *testing.F) {
	rw := testRW(f)
	key := mustKey(f, 9)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := NewSigner(key, 1)
	for i, m := range []message.Message{&common.MessageHeartbeat{}, &common.MessageStatustext{Text: "x"}, &common.MessageCommandLong{Command: 400}} {
		f.Add(marshalTest(f, wire(f, rw, s, byte(i), m, now)))
		f.Add(marshalTest(f, wire(f, rw, nil, byte(i), m, now)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &frame.Reader{BufByteReader: bufio.NewReader(bytes.NewReader(b)), DialectRW: rw}
		if err := r.Initialize(); err != nil {
			t.Fatal(err)
		}
		v := NewVerifier(key)
		for range 8 {
			fr, err := r.Read()
			if err != nil {
				if _, ok := err.(frame.ReadError); ok {
					continue
				}
				return
			}
			if v.Verify(rw, fr, now) == OK {
				if f2, ok := fr.(*frame.V2Frame); !ok || !f2.IsSigned() {
					t.Fatalf("an unsigned frame verified: %+v", fr)
				}
			}
		}
	})
}

func marshalTest(t testing.TB, f frame.Frame) []byte {
	var buf bytes.Buffer
	w := &frame.Writer{ByteWriter: &buf, DialectRW: testRW(t)}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
