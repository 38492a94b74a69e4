package session

import (
	"math"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/internal/mavftp"
)

// TestDecodeRecordedParamPck reassembles the @PARAM/param.pck that the real
// ArduCopter 4.7 SITL sent MAVProxy in the recorded tlog (a burst read of
// 80-byte blocks, opened with ?withdefaults=1) and decodes it: every
// parameter must match the PARAM_VALUE the same vehicle sent for it.
func TestDecodeRecordedParamPck(t *testing.T) {
	frames := readTlog(t) // skips when ../shared is absent
	var (
		data    []byte
		eof     = -1
		sawOpen bool
	)
	values := map[string]*common.MessageParamValue{}
	for _, f := range frames {
		switch m := f.msg.(type) {
		case *common.MessageParamValue:
			if _, seen := values[m.ParamId]; !seen && !f.fromGCS {
				values[m.ParamId] = m // the first: later ones follow PARAM_SETs and uploads
			}
		case *common.MessageFileTransferProtocol:
			p, err := mavftp.Unmarshal(&m.Payload)
			if err != nil {
				t.Fatalf("recorded FTP frame: %v", err)
			}
			if f.fromGCS {
				if p.Opcode == mavftp.OpOpenFileRO && string(p.Data) == ParamFile+"?withdefaults=1" {
					sawOpen = true
				}
				continue
			}
			if p.ReqOpcode != mavftp.OpBurstReadFile {
				continue
			}
			if p.Opcode == mavftp.OpNak {
				eof = int(p.Offset)
				continue
			}
			if end := int(p.Offset) + len(p.Data); end > len(data) {
				data = append(data, make([]byte, end-len(data))...)
			}
			copy(data[p.Offset:], p.Data)
		}
	}
	if !sawOpen || eof != len(data) || eof < 10000 {
		t.Fatalf("tlog: open seen %v, EOF at %d, %d bytes assembled", sawOpen, eof, len(data))
	}
	f, err := mavftp.DecodeParams(data)
	if err != nil {
		t.Fatal(err)
	}
	if !f.WithDefaults || len(f.Params) != f.Total || f.Total < 1300 {
		t.Fatalf("decoded: with defaults %v, %d of %d parameters", f.WithDefaults, len(f.Params), f.Total)
	}
	checked, differ := 0, 0
	for _, p := range f.Params {
		pv, ok := values[p.Name]
		if !ok {
			continue
		}
		checked++
		// this SITL's PARAM_VALUE list calls every type REAL32; the echoes
		// of PARAM_SET carry the real type
		if pv.ParamType != common.MAV_PARAM_TYPE_REAL32 && pv.ParamType != p.Type {
			t.Errorf("%s: type %v in param.pck, %v in PARAM_VALUE", p.Name, p.Type, pv.ParamType)
		}
		// PARAM_VALUE carries a float32: an INT32 beyond 2^24 is rounded there
		if float32(p.Value) != pv.ParamValue && !(math.IsNaN(p.Value) && math.IsNaN(float64(pv.ParamValue))) {
			differ++
			t.Logf("%s = %v in param.pck, %v in PARAM_VALUE", p.Name, p.Value, pv.ParamValue)
		}
	}
	if checked < len(f.Params)*9/10 || differ > 1 {
		t.Fatalf("%d of %d parameters also seen as PARAM_VALUE, %d values differ", checked, len(f.Params), differ)
	}
	// The simulator's encoder, given the same parameters and MAVProxy's
	// 80-byte reads, writes ArduPilot's file byte for byte (prefixes,
	// flags, padding).
	re, err := mavftp.EncodeParams(f.Params, f.Total, true, 80)
	if err != nil {
		t.Fatal(err)
	}
	if string(re) != string(data) {
		i := 0
		for i < min(len(re), len(data)) && re[i] == data[i] {
			i++
		}
		t.Fatalf("re-encoded param.pck differs from ArduPilot's at byte %d (%d vs %d bytes)", i, len(re), len(data))
	}
	t.Logf("param.pck of %d bytes: %d parameters, %d checked against PARAM_VALUE, %d differ", len(data), len(f.Params), checked, differ)
}
