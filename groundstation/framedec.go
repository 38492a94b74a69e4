package groundstation

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// frameDecoder decodes one MAVLink frame at the start of a byte slice, with
// the result of gomavlib's frame.Reader (same frame values, same checksum
// and decode checks, the same checksum normalisation of messages with
// string fields or trailing zero bytes) but straight from the datagram:
// no bufio copy, no hash object and byte-slice literals per checksum, no
// reflection per frame to know whether a message has string fields (it is
// remembered per message ID). TestFrameDecoderMatchesGomavlib holds it to
// gomavlib's reader. Owned by one goroutine (the link's dispatcher).
type frameDecoder struct {
	rw      *dialect.ReadWriter
	strings map[uint32]bool // message ID → has string fields
	hand    map[uint32]handDecoder
}

func newFrameDecoder(rw *dialect.ReadWriter) *frameDecoder {
	return &frameDecoder{rw: rw, strings: make(map[uint32]bool), hand: handDecoders(rw)}
}

var errTruncated = errors.New("truncated frame")

// decode returns the frame at the start of data and its length in bytes.
func (d *frameDecoder) decode(data []byte) (frame.Frame, int, error) {
	if len(data) == 0 {
		return nil, 0, errTruncated
	}
	switch data[0] {
	case frame.V2MagicByte:
		return d.decodeV2(data)
	case frame.V1MagicByte:
		return d.decodeV1(data)
	}
	return nil, 0, fmt.Errorf("invalid magic byte: %x", data[0])
}

// frameIDs reads the sequence number, system and component of the frame
// at the start of data from its header (the offsets decodeV2 and
// decodeV1 read), without decoding it; false when data does not start
// with a whole header of either version.
func frameIDs(data []byte) (seq, sys, comp uint8, ok bool) {
	switch {
	case len(data) >= 10 && data[0] == frame.V2MagicByte:
		return data[4], data[5], data[6], true
	case len(data) >= 6 && data[0] == frame.V1MagicByte:
		return data[2], data[3], data[4], true
	}
	return 0, 0, 0, false
}

func (d *frameDecoder) decodeV2(data []byte) (frame.Frame, int, error) {
	if len(data) < 10 {
		return nil, 0, errTruncated
	}
	plen := int(data[1])
	f := &frame.V2Frame{IncompatibilityFlag: data[2], CompatibilityFlag: data[3], SequenceNumber: data[4],
		SystemID: data[5], ComponentID: data[6]}
	if f.IncompatibilityFlag != 0 && f.IncompatibilityFlag != frame.V2FlagSigned {
		return nil, 0, fmt.Errorf("unknown incompatibility flag: %d", f.IncompatibilityFlag)
	}
	n := 10 + plen + 2
	if f.IsSigned() {
		n += 13
	}
	if len(data) < n {
		return nil, 0, errTruncated
	}
	id := uint32(data[7]) | uint32(data[8])<<8 | uint32(data[9])<<16
	payload := data[10 : 10+plen : 10+plen] // capped: a decoder that pads appends to a copy
	f.Checksum = binary.LittleEndian.Uint16(data[10+plen:])
	if f.IsSigned() {
		s := data[12+plen:]
		f.SignatureLinkID = s[0]
		f.SignatureTimestamp = uint64(s[1]) | uint64(s[2])<<8 | uint64(s[3])<<16 | uint64(s[4])<<24 | uint64(s[5])<<32 | uint64(s[6])<<40
		f.Signature = new(frame.V2Signature)
		copy(f.Signature[:], s[7:13])
	}
	mp := d.rw.GetMessage(id)
	if mp == nil {
		f.Message = &message.MessageRaw{ID: id, Payload: cloneOrNil(payload)}
		return f, n, nil
	}
	if sum := x25(data[1:10+plen], mp.CRCExtra()); sum != f.Checksum {
		return nil, 0, fmt.Errorf("wrong checksum, expected %.4x, got %.4x, message id is %d", sum, f.Checksum, id)
	}
	var msg message.Message
	if dec := d.hand[id]; dec != nil {
		msg = dec(payload)
	} else {
		var err error
		if msg, err = mp.Read(&message.MessageRaw{ID: id, Payload: payload}, true); err != nil {
			return nil, 0, fmt.Errorf("unable to decode message: %w", err)
		}
	}
	if d.hasStrings(id, msg) || (plen > 1 && payload[plen-1] == 0) {
		// As gomavlib: the checksum of the message as it re-encodes.
		f.Message = mp.Write(msg, true)
		f.Checksum = f.GenerateChecksum(mp.CRCExtra())
	}
	f.Message = msg
	return f, n, nil
}

func (d *frameDecoder) decodeV1(data []byte) (frame.Frame, int, error) {
	if len(data) < 6 {
		return nil, 0, errTruncated
	}
	plen := int(data[1])
	n := 6 + plen + 2
	if len(data) < n {
		return nil, 0, errTruncated
	}
	f := &frame.V1Frame{SequenceNumber: data[2], SystemID: data[3], ComponentID: data[4]}
	id := uint32(data[5])
	payload := data[6 : 6+plen : 6+plen]
	f.Checksum = binary.LittleEndian.Uint16(data[6+plen:])
	mp := d.rw.GetMessage(id)
	if mp == nil {
		f.Message = &message.MessageRaw{ID: id, Payload: cloneOrNil(payload)}
		return f, n, nil
	}
	if sum := x25(data[1:6+plen], mp.CRCExtra()); sum != f.Checksum {
		return nil, 0, fmt.Errorf("wrong checksum, expected %.4x, got %.4x, message id is %d", sum, f.Checksum, id)
	}
	msg, err := mp.Read(&message.MessageRaw{ID: id, Payload: payload}, false)
	if err != nil {
		return nil, 0, fmt.Errorf("unable to decode message: %w", err)
	}
	if d.hasStrings(id, msg) {
		f.Message = mp.Write(msg, false)
		f.Checksum = f.GenerateChecksum(mp.CRCExtra())
	}
	f.Message = msg
	return f, n, nil
}

// hasStrings reports whether the message type has string fields.
func (d *frameDecoder) hasStrings(id uint32, msg message.Message) bool {
	if v, ok := d.strings[id]; ok {
		return v
	}
	typ := reflect.TypeOf(msg).Elem()
	v := false
	for i := range typ.NumField() {
		if typ.Field(i).Type == reflect.TypeFor[string]() {
			v = true
			break
		}
	}
	d.strings[id] = v
	return v
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// x25 is MAVLink's CRC-16/MCRF4XX over b and then the message's CRC extra.
func x25(b []byte, extra byte) uint16 {
	crc := uint16(0xFFFF)
	acc := func(c byte) {
		tmp := uint16(c) ^ (crc & 0xFF)
		tmp ^= tmp << 4
		tmp &= 0xFF
		crc = (crc >> 8) ^ (tmp << 8) ^ (tmp << 3) ^ (tmp >> 4)
	}
	for _, c := range b {
		acc(c)
	}
	acc(extra)
	return crc
}
