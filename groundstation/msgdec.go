package groundstation

import (
	"encoding/binary"
	"math"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// The three messages that make up most of a fleet's traffic
// (GLOBAL_POSITION_INT at 10 Hz, ATTITUDE and VFR_HUD at 2 Hz: 14 of a
// vehicle's 18 messages a second) are decoded by hand: gomavlib's decoder
// allocates through reflection and walks the fields one reflect.Value at a
// time, ~3 % of the whole station's CPU at 2,000 vehicles. The result is
// exactly gomavlib's (TestHandDecodersMatchGomavlib): MAVLink 2 payload
// bytes the sender trimmed read as zeros, bytes past the message ignored.
type handDecoder func(p []byte) message.Message

// handDecoders returns the hand decoders by message ID for the messages
// whose type in rw's dialect is the one they produce (a dialect that
// defines the ID otherwise keeps gomavlib's decoder).
func handDecoders(rw *dialect.ReadWriter) map[uint32]handDecoder {
	all := map[uint32]handDecoder{
		(&common.MessageGlobalPositionInt{}).GetID(): decodeGlobalPositionInt,
		(&common.MessageAttitude{}).GetID():          decodeAttitude,
		(&common.MessageVfrHud{}).GetID():            decodeVfrHud,
	}
	out := map[uint32]handDecoder{}
	for id, dec := range all {
		mp := rw.GetMessage(id)
		if mp == nil {
			continue
		}
		m, err := mp.Read(&message.MessageRaw{ID: id}, true)
		if err != nil {
			continue
		}
		if got := dec(nil); sameType(m, got) {
			out[id] = dec
		}
	}
	return out
}

func sameType(a, b message.Message) bool {
	switch a.(type) {
	case *common.MessageGlobalPositionInt:
		_, ok := b.(*common.MessageGlobalPositionInt)
		return ok
	case *common.MessageAttitude:
		_, ok := b.(*common.MessageAttitude)
		return ok
	case *common.MessageVfrHud:
		_, ok := b.(*common.MessageVfrHud)
		return ok
	}
	return false
}

// padded returns p as a payload of n bytes: the bytes a MAVLink 2 sender
// trimmed (trailing zeros) are zeros, bytes past n are ignored.
func padded(p []byte, n int, buf *[32]byte) []byte {
	if len(p) >= n {
		return p[:n]
	}
	b := buf[:n]
	clear(b[copy(b, p):])
	return b
}

func decodeGlobalPositionInt(p []byte) message.Message {
	var buf [32]byte
	b := padded(p, 28, &buf)
	le := binary.LittleEndian
	return &common.MessageGlobalPositionInt{
		TimeBootMs:  le.Uint32(b[0:]),
		Lat:         int32(le.Uint32(b[4:])),
		Lon:         int32(le.Uint32(b[8:])),
		Alt:         int32(le.Uint32(b[12:])),
		RelativeAlt: int32(le.Uint32(b[16:])),
		Vx:          int16(le.Uint16(b[20:])),
		Vy:          int16(le.Uint16(b[22:])),
		Vz:          int16(le.Uint16(b[24:])),
		Hdg:         le.Uint16(b[26:]),
	}
}

func decodeAttitude(p []byte) message.Message {
	var buf [32]byte
	b := padded(p, 28, &buf)
	le := binary.LittleEndian
	f := func(off int) float32 { return math.Float32frombits(le.Uint32(b[off:])) }
	return &common.MessageAttitude{
		TimeBootMs: le.Uint32(b[0:]),
		Roll:       f(4), Pitch: f(8), Yaw: f(12),
		Rollspeed: f(16), Pitchspeed: f(20), Yawspeed: f(24),
	}
}

func decodeVfrHud(p []byte) message.Message {
	var buf [32]byte
	b := padded(p, 20, &buf)
	le := binary.LittleEndian
	f := func(off int) float32 { return math.Float32frombits(le.Uint32(b[off:])) }
	return &common.MessageVfrHud{
		Airspeed: f(0), Groundspeed: f(4), Alt: f(8), Climb: f(12),
		Heading:  int16(le.Uint16(b[16:])),
		Throttle: le.Uint16(b[18:]),
	}
}
