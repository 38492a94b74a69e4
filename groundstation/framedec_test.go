package groundstation

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// The station's frame decoder gives exactly what gomavlib's frame.Reader
// gives for the same bytes — the frame, its length, or an error — over
// every message of the dialect with random payloads (full, truncated,
// padded), MAVLink 1 and 2, signed and unsigned, with good and bad
// checksums, unknown messages, cut frames and garbage; and what it
// returns does not change when the datagram buffer is reused.
func TestFrameDecoderMatchesGomavlib(t *testing.T) {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	d := newFrameDecoder(rw)
	rnd := rand.New(rand.NewPCG(1, 2))
	var ids []uint32
	for _, m := range ardupilotmega.Dialect.Messages {
		ids = append(ids, m.GetID())
	}
	ids = append(ids, 60000, 201) // not in the dialect
	checked, ok := 0, 0
	for round := 0; round < 20; round++ {
		for _, id := range ids {
			for variant := 0; variant < 6; variant++ {
				data := buildFrame(rnd, rw, id, variant)
				// gomavlib's reader on the same bytes
				src := bytes.NewReader(data)
				gr := &frame.Reader{BufByteReader: bufio.NewReaderSize(src, 512), DialectRW: rw}
				if err := gr.Initialize(); err != nil {
					t.Fatal(err)
				}
				want, werr := gr.Read()
				wantN := len(data) - src.Len() - gr.BufByteReader.Buffered()

				buf := append([]byte(nil), data...)
				got, n, err := d.decode(buf)
				checked++
				if (err != nil) != (werr != nil) {
					t.Fatalf("id %d variant %d % x: decoder error %v, gomavlib error %v", id, variant, data, err, werr)
				}
				if err != nil {
					continue
				}
				ok++
				for i := range buf { // the reader reuses its buffer
					buf[i] = 0xA5
				}
				if n != wantN || !sameFrame(rw, got, want) {
					t.Fatalf("id %d variant %d % x:\n got %d bytes %#v (%#v)\nwant %d bytes %#v (%#v)", id, variant, data, n, got, got.GetMessage(), wantN, want, want.GetMessage())
				}
			}
		}
	}
	if ok < checked/3 {
		t.Fatalf("only %d of %d frames decoded: the corpus must mostly hold valid frames", ok, checked)
	}
}

// buildFrame encodes one frame of message id: variant 0 a full MAVLink 2
// payload, 1 a random-length one, 2 signed, 3 MAVLink 1, 4 a bad checksum,
// 5 cut short or followed by garbage.
func buildFrame(rnd *rand.Rand, rw *dialect.ReadWriter, id uint32, variant int) []byte {
	plen := rnd.IntN(256)
	if mp := rw.GetMessage(id); mp != nil && variant != 1 {
		plen = len(mp.Write(randomMessage(rnd, mp), variant != 3).Payload)
		if variant == 3 && rnd.IntN(2) == 0 {
			plen = len(mp.Write(randomMessage(rnd, mp), false).Payload)
		}
	}
	payload := make([]byte, plen)
	for i := range payload {
		if rnd.IntN(4) != 0 {
			payload[i] = byte(rnd.IntN(256))
		}
	}
	var data []byte
	if variant == 3 && id < 256 {
		data = append(data, frame.V1MagicByte, byte(plen), byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(id))
	} else {
		flags := byte(0)
		if variant == 2 {
			flags = frame.V2FlagSigned
		}
		data = append(data, frame.V2MagicByte, byte(plen), flags, byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(rnd.IntN(256)),
			byte(id), byte(id>>8), byte(id>>16))
	}
	data = append(data, payload...)
	var extra byte
	if mp := rw.GetMessage(id); mp != nil {
		extra = mp.CRCExtra()
	}
	sum := x25(data[1:], extra)
	if variant == 4 {
		sum ^= 0x0101
	}
	data = binary.LittleEndian.AppendUint16(data, sum)
	if variant == 2 {
		for i := 0; i < 13; i++ {
			data = append(data, byte(rnd.IntN(256)))
		}
	}
	if variant == 5 {
		if rnd.IntN(2) == 0 {
			data = data[:rnd.IntN(len(data))]
		} else {
			data = append(data, 0xFD, 0x03, 0x00)
		}
	}
	return data
}

// randomMessage is a message of mp's type decoded from random bytes.
func randomMessage(rnd *rand.Rand, mp *message.ReadWriter) message.Message {
	for {
		b := make([]byte, 255)
		for i := range b {
			b[i] = byte(rnd.IntN(256))
		}
		if m, err := mp.Read(&message.MessageRaw{ID: 0, Payload: b}, true); err == nil {
			return m
		}
	}
}

// sameFrame compares two frames field by field and their messages by
// their encoding (a NaN field is not equal to itself).
func sameFrame(rw *dialect.ReadWriter, a, b frame.Frame) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) || reflect.TypeOf(a.GetMessage()) != reflect.TypeOf(b.GetMessage()) {
		return false
	}
	enc := func(f frame.Frame) any {
		m := f.GetMessage()
		if _, raw := m.(*message.MessageRaw); !raw {
			_, v2 := f.(*frame.V2Frame)
			m = rw.GetMessage(m.GetID()).Write(m, v2)
		}
		return m
	}
	ma, mb := enc(a), enc(b)
	switch fa := a.(type) {
	case *frame.V2Frame:
		ca, cb := *fa, *b.(*frame.V2Frame)
		ca.Message, cb.Message = nil, nil
		return reflect.DeepEqual(ca, cb) && reflect.DeepEqual(ma, mb)
	case *frame.V1Frame:
		ca, cb := *fa, *b.(*frame.V1Frame)
		ca.Message, cb.Message = nil, nil
		return reflect.DeepEqual(ca, cb) && reflect.DeepEqual(ma, mb)
	}
	return false
}
