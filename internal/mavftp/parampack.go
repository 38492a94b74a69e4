package mavftp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

// ArduPilot's packed parameter file, @PARAM/param.pck (AP_Filesystem_Param):
//
//	header: uint16 magic (0x671b, or 0x671c when default values are
//	        included), uint16 num_params (in this file), uint16
//	        total_params (on the vehicle); little-endian.
//	per parameter:
//	  uint8 type:4 (AP_PARAM INT8=1, INT16=2, INT32=3, FLOAT=4),
//	        flags:4 (bit 0: a default value follows the value)
//	  uint8 common_len:4 (name bytes shared with the previous entry),
//	        name_len:4 (the remaining name length - 1)
//	  name_len+1 name bytes, then the value (1, 2 or 4 bytes,
//	  little-endian), then the default when flagged.
//
// Zero bytes before an entry are padding: the vehicle inserts them so that
// a value never straddles the boundary of the fixed read size the client
// uses, which keeps a block that is read again byte-identical.

// Magic numbers of the file header.
const (
	MagicParams             = 0x671b
	MagicParamsWithDefaults = 0x671c
)

// ParamHeaderLen is the size of the param.pck header.
const ParamHeaderLen = 6

// maxParamName is the longest parameter name MAVLink (and ArduPilot) has.
const maxParamName = 16

// PackedParam is one parameter of a param.pck file. Type is the
// MAV_PARAM_TYPE (INT8, INT16, INT32 or REAL32, the types ArduPilot has);
// Value is exact (an INT32 is not rounded through float32).
type PackedParam struct {
	Name  string
	Type  common.MAV_PARAM_TYPE
	Value float64
	// Default is the default value in a file with defaults: the one the
	// entry carries when HasDefault, else equal to Value (ArduPilot leaves
	// it out when it equals the value).
	Default float64
	// HasDefault: the entry carries its default (flags bit 0). ArduPilot
	// sets it when value and default differ as floats, which can also
	// happen for equal integers (a default beyond its type's range).
	HasDefault bool
}

// ParamFile is a decoded param.pck.
type ParamFile struct {
	// WithDefaults is set when the header's magic announces default values
	// (the file was opened with ?withdefaults=1). A parameter without its
	// own default then has the default equal to its value.
	WithDefaults bool
	// Total is the vehicle's parameter count; len(Params) is the count in
	// this file (smaller only when opened with ?start= or ?count=).
	Total  int
	Params []PackedParam
}

// apType maps a MAV_PARAM_TYPE to ArduPilot's ap_var_type and its size.
func apType(t common.MAV_PARAM_TYPE) (code uint8, size int, err error) {
	switch t {
	case common.MAV_PARAM_TYPE_INT8:
		return 1, 1, nil
	case common.MAV_PARAM_TYPE_INT16:
		return 2, 2, nil
	case common.MAV_PARAM_TYPE_INT32:
		return 3, 4, nil
	case common.MAV_PARAM_TYPE_REAL32:
		return 4, 4, nil
	}
	return 0, 0, fmt.Errorf("type %s has no param.pck encoding (ArduPilot has INT8, INT16, INT32 and REAL32)", t)
}

// mavType is the inverse of apType.
func mavType(code uint8) (common.MAV_PARAM_TYPE, int, bool) {
	switch code {
	case 1:
		return common.MAV_PARAM_TYPE_INT8, 1, true
	case 2:
		return common.MAV_PARAM_TYPE_INT16, 2, true
	case 3:
		return common.MAV_PARAM_TYPE_INT32, 4, true
	case 4:
		return common.MAV_PARAM_TYPE_REAL32, 4, true
	}
	return 0, 0, false
}

// ErrParamFile marks every decoding error of DecodeParams (test with
// errors.Is); the message says what is wrong and at which byte.
var ErrParamFile = errors.New("malformed param.pck")

// DecodeParams decodes a param.pck file. It checks the magic, every entry's
// type and lengths, and that the file holds exactly the number of
// parameters its header announces; anything else is an error naming the
// byte offset, wrapping ErrParamFile.
func DecodeParams(b []byte) (*ParamFile, error) {
	bad := func(off int, format string, args ...any) error {
		return fmt.Errorf("%w: byte %d: %s", ErrParamFile, off, fmt.Sprintf(format, args...))
	}
	if len(b) < ParamHeaderLen {
		return nil, bad(0, "file of %d bytes is shorter than the %d-byte header", len(b), ParamHeaderLen)
	}
	magic := binary.LittleEndian.Uint16(b[0:])
	if magic != MagicParams && magic != MagicParamsWithDefaults {
		return nil, bad(0, "magic 0x%04x, want 0x%04x or 0x%04x", magic, MagicParams, MagicParamsWithDefaults)
	}
	num := int(binary.LittleEndian.Uint16(b[2:]))
	f := &ParamFile{
		WithDefaults: magic == MagicParamsWithDefaults,
		Total:        int(binary.LittleEndian.Uint16(b[4:])),
		Params:       make([]PackedParam, 0, min(num, len(b)/3)),
	}
	if num > f.Total {
		return nil, bad(2, "header announces %d parameters in the file but %d on the vehicle", num, f.Total)
	}
	var last [maxParamName]byte
	lastLen := 0
	off := ParamHeaderLen
	for {
		for off < len(b) && b[off] == 0 {
			off++ // padding
		}
		if off >= len(b) {
			break
		}
		start := off
		if off+2 > len(b) {
			return nil, bad(start, "entry header cut off at the end of the file")
		}
		code, flags := b[off]&0x0f, b[off]>>4
		typ, size, ok := mavType(code)
		if !ok {
			return nil, bad(start, "unknown parameter type %d (after %q)", code, last[:lastLen])
		}
		commonLen := int(b[off+1] & 0x0f)
		nameLen := int(b[off+1]>>4) + 1
		off += 2
		if commonLen > lastLen {
			return nil, bad(start, "entry shares %d name bytes with the previous name %q of %d", commonLen, last[:lastLen], lastLen)
		}
		if commonLen+nameLen > maxParamName {
			return nil, bad(start, "name of %d bytes is longer than %d", commonLen+nameLen, maxParamName)
		}
		hasDefault := f.WithDefaults && flags&1 != 0
		need := nameLen + size
		if hasDefault {
			need += size
		}
		if off+need > len(b) {
			return nil, bad(start, "entry of %d bytes cut off at the end of the file (%d left)", need+2, len(b)-off)
		}
		suffix := b[off : off+nameLen]
		for _, c := range suffix {
			if c == 0 {
				return nil, bad(off, "NUL byte in a parameter name")
			}
		}
		copy(last[commonLen:], suffix)
		lastLen = commonLen + nameLen
		off += nameLen
		p := PackedParam{Name: string(last[:lastLen]), Type: typ, Value: decodeValue(code, b[off:off+size])}
		off += size
		if hasDefault {
			p.Default, p.HasDefault = decodeValue(code, b[off:off+size]), true
			off += size
		} else if f.WithDefaults {
			p.Default = p.Value
		}
		if len(f.Params) == num {
			return nil, bad(start, "more parameters than the %d the header announces", num)
		}
		f.Params = append(f.Params, p)
	}
	if len(f.Params) != num {
		return nil, bad(len(b), "file ends after %d of the %d parameters its header announces", len(f.Params), num)
	}
	return f, nil
}

func decodeValue(code uint8, b []byte) float64 {
	switch code {
	case 1:
		return float64(int8(b[0]))
	case 2:
		return float64(int16(binary.LittleEndian.Uint16(b)))
	case 3:
		return float64(int32(binary.LittleEndian.Uint32(b)))
	default:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	}
}

func encodeValue(code uint8, v float64, dst []byte) error {
	var lo, hi float64
	switch code {
	case 1:
		lo, hi = math.MinInt8, math.MaxInt8
	case 2:
		lo, hi = math.MinInt16, math.MaxInt16
	case 3:
		lo, hi = math.MinInt32, math.MaxInt32
	default:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("value %v is not a finite number", v)
		}
		binary.LittleEndian.PutUint32(dst, math.Float32bits(float32(v)))
		return nil
	}
	if v != math.Trunc(v) || v < lo || v > hi {
		return fmt.Errorf("value %v is not an integer in [%v, %v]", v, lo, hi)
	}
	switch code {
	case 1:
		dst[0] = uint8(int8(v))
	case 2:
		binary.LittleEndian.PutUint16(dst, uint16(int16(v)))
	default:
		binary.LittleEndian.PutUint32(dst, uint32(int32(v)))
	}
	return nil
}

// EncodeParams builds a param.pck the way ArduPilot does for a client that
// reads it in blocks of readSize bytes: names share their common prefix
// with the previous entry, and zero padding keeps each entry's last value
// inside one block. total is the vehicle's parameter count (≥ len(params));
// withDefaults selects the 0x671c format, in which the parameters with
// HasDefault carry their Default. Names must be 1..16 bytes
// without NUL; values must fit their type.
func EncodeParams(params []PackedParam, total int, withDefaults bool, readSize int) ([]byte, error) {
	if readSize <= 0 || readSize > DataMax {
		return nil, fmt.Errorf("encode param.pck: read size %d outside 1..%d", readSize, DataMax)
	}
	if total < len(params) || total > math.MaxUint16 {
		return nil, fmt.Errorf("encode param.pck: total %d for %d parameters", total, len(params))
	}
	magic := uint16(MagicParams)
	if withDefaults {
		magic = MagicParamsWithDefaults
	}
	out := make([]byte, ParamHeaderLen, ParamHeaderLen+len(params)*12)
	binary.LittleEndian.PutUint16(out[0:], magic)
	binary.LittleEndian.PutUint16(out[2:], uint16(len(params)))
	binary.LittleEndian.PutUint16(out[4:], uint16(total))
	last := ""
	var entry [2 + maxParamName + 8]byte
	for i, p := range params {
		if len(p.Name) == 0 || len(p.Name) > maxParamName {
			return nil, fmt.Errorf("encode param.pck: parameter %d: name %q is not 1..%d bytes", i, p.Name, maxParamName)
		}
		for j := 0; j < len(p.Name); j++ {
			if p.Name[j] == 0 {
				return nil, fmt.Errorf("encode param.pck: parameter %d: name %q holds a NUL byte", i, p.Name)
			}
		}
		code, size, err := apType(p.Type)
		if err != nil {
			return nil, fmt.Errorf("encode param.pck: parameter %s: %w", p.Name, err)
		}
		commonLen := 0
		for commonLen < len(p.Name) && commonLen < len(last) && p.Name[commonLen] == last[commonLen] && commonLen < 15 {
			commonLen++
		}
		if commonLen == len(p.Name) { // a name that is a prefix of the previous one
			commonLen--
		}
		suffix := p.Name[commonLen:]
		addDefault := withDefaults && p.HasDefault
		n := 2 + len(suffix) + size
		if addDefault {
			n += size
		}
		var flags uint8
		if addDefault {
			flags = 1
		}
		entry[0] = code | flags<<4
		entry[1] = uint8(commonLen) | uint8(len(suffix)-1)<<4
		copy(entry[2:], suffix)
		if err := encodeValue(code, p.Value, entry[2+len(suffix):]); err != nil {
			return nil, fmt.Errorf("encode param.pck: parameter %s: %w", p.Name, err)
		}
		if addDefault {
			if err := encodeValue(code, p.Default, entry[2+len(suffix)+size:]); err != nil {
				return nil, fmt.Errorf("encode param.pck: parameter %s default: %w", p.Name, err)
			}
		}
		if size > 1 {
			if mod := (len(out) + n) % readSize; mod > 0 && mod < size {
				for range size - mod {
					out = append(out, 0)
				}
			}
		}
		out = append(out, entry[:n]...)
		last = p.Name
	}
	return out, nil
}
