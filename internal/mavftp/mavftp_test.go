package mavftp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

func TestPacketRoundTrip(t *testing.T) {
	p := Packet{Seq: 0xbeef, Session: 3, Opcode: OpAck, ReqOpcode: OpBurstReadFile, BurstComplete: true,
		Offset: 0x01020304, Size: 5, Data: []byte("hello")}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if b[4] != 5 || b[7] != 0 {
		t.Fatalf("size byte %d, padding byte %d", b[4], b[7])
	}
	got, err := Unmarshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(p) {
		t.Fatalf("got %+v, want %+v", got, p)
	}
	p.Size, p.Data = 0, make([]byte, DataMax+1)
	if _, err := p.Marshal(); err == nil {
		t.Fatal("240 data bytes marshalled")
	}
	p.Size, p.Data = 2, []byte("abc")
	if _, err := p.Marshal(); err == nil {
		t.Fatal("3 data bytes marshalled with size 2")
	}
	req := Packet{Opcode: OpReadFile, Size: DataMax}
	b2, err := req.Marshal()
	if err != nil || b2[4] != DataMax {
		t.Fatalf("read request: size byte %d, %v", b2[4], err)
	}
	b[4] = DataMax + 1
	if _, err := Unmarshal(&b); err == nil || !strings.Contains(err.Error(), "240") {
		t.Fatalf("size 240 unmarshalled: %v", err)
	}
}

func TestNakCode(t *testing.T) {
	for _, c := range []struct {
		data  []byte
		code  ErrorCode
		errno uint8
	}{
		{nil, ErrFail, 0},
		{[]byte{6}, ErrEOF, 0},
		{[]byte{2, 22}, ErrFailErrno, 22},
		{[]byte{2}, ErrFailErrno, 0},
	} {
		p := Packet{Opcode: OpNak, Data: c.data}
		if code, errno := p.NakCode(); code != c.code || errno != c.errno {
			t.Errorf("%v: got %v/%d, want %v/%d", c.data, code, errno, c.code, c.errno)
		}
	}
}

// TestCRC32MatchesArduPilot checks the checksum against ArduPilot's
// crc_crc32 loop written out (table-driven, start 0, no inversion).
func TestCRC32MatchesArduPilot(t *testing.T) {
	var tab [256]uint32
	for i := range tab {
		c := uint32(i)
		for range 8 {
			if c&1 != 0 {
				c = 0xEDB88320 ^ c>>1
			} else {
				c >>= 1
			}
		}
		tab[i] = c
	}
	for _, s := range []string{"", "a", "123456789", strings.Repeat("param", 100)} {
		var crc uint32
		for _, b := range []byte(s) {
			crc = tab[byte(crc)^b] ^ crc>>8
		}
		if got := CRC32([]byte(s)); got != crc {
			t.Errorf("%q: got %08x, want %08x", s, got, crc)
		}
	}
}

var types = []common.MAV_PARAM_TYPE{common.MAV_PARAM_TYPE_INT8, common.MAV_PARAM_TYPE_INT16,
	common.MAV_PARAM_TYPE_INT32, common.MAV_PARAM_TYPE_REAL32}

func randomParams(r *rand.Rand, n int) []PackedParam {
	groups := []string{"ATC_RAT_RLL_", "ATC_RAT_PIT_", "SERVO", "RC", "BATT_", "INS_ACC", "X", "LONGGROUPNAME_"}
	ps := make([]PackedParam, 0, n)
	seen := map[string]bool{}
	for len(ps) < n {
		name := groups[r.IntN(len(groups))] + fmt.Sprint(r.IntN(40))
		if r.IntN(3) == 0 {
			name += "_MAX"
		}
		if len(name) > 16 {
			name = name[:16]
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		typ := types[r.IntN(len(types))]
		val := func() float64 {
			switch typ {
			case common.MAV_PARAM_TYPE_INT8:
				return float64(r.IntN(256) - 128)
			case common.MAV_PARAM_TYPE_INT16:
				return float64(r.IntN(65536) - 32768)
			case common.MAV_PARAM_TYPE_INT32:
				return float64(int32(r.Uint32()))
			}
			return float64(float32(r.NormFloat64() * 1000))
		}
		p := PackedParam{Name: name, Type: typ, Value: val()}
		p.Default = p.Value
		switch r.IntN(3) {
		case 0:
			p.Default, p.HasDefault = val(), true
		case 1:
			p.HasDefault = true // carried although equal, as ArduPilot may
		}
		ps = append(ps, p)
	}
	return ps
}

func TestParamsRoundTripAndPadding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, readSize := range []int{7, 80, 239} {
		for _, withDefaults := range []bool{false, true} {
			t.Run(fmt.Sprintf("read%d_defaults%v", readSize, withDefaults), func(t *testing.T) {
				ps := randomParams(r, 600)
				b, err := EncodeParams(ps, len(ps)+5, withDefaults, readSize)
				if err != nil {
					t.Fatal(err)
				}
				f, err := DecodeParams(b)
				if err != nil {
					t.Fatal(err)
				}
				if f.WithDefaults != withDefaults || f.Total != len(ps)+5 || len(f.Params) != len(ps) {
					t.Fatalf("header: defaults %v total %d params %d", f.WithDefaults, f.Total, len(f.Params))
				}
				for i, p := range f.Params {
					want := ps[i]
					if !withDefaults {
						want.Default, want.HasDefault = 0, false
					}
					if p != want {
						t.Fatalf("param %d: got %+v, want %+v", i, p, want)
					}
				}
				checkPadding(t, b, readSize)
			})
		}
	}
}

// checkPadding walks the file and checks that the last value of every
// entry wider than a byte lies inside one readSize block.
func checkPadding(t *testing.T, b []byte, readSize int) {
	t.Helper()
	withDefaults := binary.LittleEndian.Uint16(b) == MagicParamsWithDefaults
	off, entries, pads := ParamHeaderLen, 0, 0
	for off < len(b) {
		if b[off] == 0 {
			off++
			pads++
			continue
		}
		_, size, _ := mavType(b[off] & 0x0f)
		n := 2 + int(b[off+1]>>4) + 1 + size
		if withDefaults && b[off]>>4&1 != 0 {
			n += size
		}
		end := off + n
		if size > 1 && (end-size)/readSize != (end-1)/readSize {
			t.Fatalf("entry %d at byte %d: last value [%d,%d) straddles a %d-byte block", entries, off, end-size, end, readSize)
		}
		off = end
		entries++
	}
	if readSize < 100 && pads == 0 {
		t.Fatalf("no padding at read size %d in %d entries: the check proves nothing", readSize, entries)
	}
}

func TestEncodeParamsRefusesWhatItCannotCarry(t *testing.T) {
	for _, c := range []struct {
		p    PackedParam
		want string
	}{
		{PackedParam{Name: "", Type: common.MAV_PARAM_TYPE_INT8}, "name"},
		{PackedParam{Name: "ABCDEFGHIJKLMNOPQ", Type: common.MAV_PARAM_TYPE_INT8}, "name"},
		{PackedParam{Name: "A\x00B", Type: common.MAV_PARAM_TYPE_INT8}, "NUL"},
		{PackedParam{Name: "A", Type: common.MAV_PARAM_TYPE_UINT8}, "no param.pck encoding"},
		{PackedParam{Name: "A", Type: common.MAV_PARAM_TYPE_INT8, Value: 300}, "not an integer in"},
		{PackedParam{Name: "A", Type: common.MAV_PARAM_TYPE_INT32, Value: 1.5}, "not an integer in"},
		{PackedParam{Name: "A", Type: common.MAV_PARAM_TYPE_REAL32, Value: math.NaN()}, "finite"},
	} {
		if _, err := EncodeParams([]PackedParam{c.p}, 1, false, 239); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.p, err, c.want)
		}
	}
	if _, err := EncodeParams(nil, 0, false, 0); err == nil {
		t.Error("read size 0 accepted")
	}
}

func TestDecodeParamsNamesTheDefect(t *testing.T) {
	good, err := EncodeParams([]PackedParam{
		{Name: "RTL_ALT", Type: common.MAV_PARAM_TYPE_INT32, Value: 1500},
		{Name: "RTL_ALT_FINAL", Type: common.MAV_PARAM_TYPE_INT32, Value: 0},
		{Name: "RTL_SPEED", Type: common.MAV_PARAM_TYPE_REAL32, Value: 0.5},
	}, 3, false, 239)
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than the 6-byte header"},
		{"bad magic", mod(func(b []byte) []byte { b[0] = 0; return b }), "magic"},
		{"truncated", good[:len(good)-2], "cut off"},
		{"header only", good[:6], "ends after 0 of the 3"},
		{"count too high", mod(func(b []byte) []byte { b[2] = 4; b[4] = 4; return b }), "ends after 3 of the 4"},
		{"count too low", mod(func(b []byte) []byte { b[2] = 2; return b }), "more parameters than the 2"},
		{"num over total", mod(func(b []byte) []byte { b[4] = 1; return b }), "on the vehicle"},
		{"bad type", mod(func(b []byte) []byte { b[6] = 7; return b }), "unknown parameter type 7"},
		{"common too long", mod(func(b []byte) []byte { b[7] = 0x65; return b }), "shares 5 name bytes"},
		{"trailing garbage", append(append([]byte(nil), good...), 3), "cut off"},
	} {
		_, err := DecodeParams(c.b)
		if err == nil || !errors.Is(err, ErrParamFile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	f, err := DecodeParams(good)
	if err != nil || f.Params[1].Name != "RTL_ALT_FINAL" || f.Params[2].Value != 0.5 {
		t.Fatalf("good file: %+v, %v", f, err)
	}
}

// FuzzDecodeParams: any input decodes or fails with ErrParamFile, never
// panics; whatever decodes re-encodes to a file that decodes the same.
func FuzzDecodeParams(f *testing.F) {
	seed, _ := EncodeParams(randomParams(rand.New(rand.NewPCG(3, 4)), 20), 20, true, 80)
	f.Add(seed)
	f.Add([]byte{0x1b, 0x67, 1, 0, 1, 0, 0x01, 0x00, 'A', 5})
	f.Add([]byte{0x1c, 0x67, 1, 0, 1, 0, 0x14, 0x30, 'A', 'B', 'C', 'D', 1, 0, 0, 0, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pf, err := DecodeParams(b)
		if err != nil {
			if !errors.Is(err, ErrParamFile) {
				t.Fatalf("error %v does not wrap ErrParamFile", err)
			}
			return
		}
		if len(pf.Params) > len(b) {
			t.Fatalf("%d params from %d bytes", len(pf.Params), len(b))
		}
		re, err := EncodeParams(pf.Params, pf.Total, pf.WithDefaults, DataMax)
		if err != nil {
			return // e.g. a NaN float decoded: the encoder refuses it
		}
		pf2, err := DecodeParams(re)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if len(pf2.Params) != len(pf.Params) {
			t.Fatalf("re-decoded %d of %d", len(pf2.Params), len(pf.Params))
		}
		for i := range pf.Params {
			if pf.Params[i].Name != pf2.Params[i].Name || pf.Params[i].Value != pf2.Params[i].Value {
				t.Fatalf("param %d: %+v became %+v", i, pf.Params[i], pf2.Params[i])
			}
		}
	})
}
