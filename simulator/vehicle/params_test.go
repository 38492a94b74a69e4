package vehicle

import (
	"math"
	"testing"
)

func setParam(t *testing.T, v *Vehicle, name string, val float64) {
	t.Helper()
	if _, err := v.SetParam(name, val); err != nil {
		t.Fatal(err)
	}
}

func TestParamSetRefusals(t *testing.T) {
	v := New(Config{SystemID: 7, Home: testHome})
	tests := []struct {
		name string
		val  float64
	}{
		{"FENCE_ACTION", 9},
		{"WPNAV_SPEED", 5000},
		{"WPNAV_SPEED", 0},
		{"RTL_ALT", -100},
		{"FS_GCS_TIMEOUT", math.NaN()},
		{"BATT_LOW_VOLT", math.Inf(1)},
		{"NO_SUCH_PARAM", 1},
	}
	for _, tc := range tests {
		before, known := v.Param(tc.name)
		got, err := v.SetParam(tc.name, tc.val)
		if err == nil {
			t.Errorf("SetParam(%s, %v) accepted, want refused", tc.name, tc.val)
			continue
		}
		after, _ := v.Param(tc.name)
		if known && (after.Value != before.Value || got.Value != before.Value) {
			t.Errorf("%s changed to %v after a refused set", tc.name, after.Value)
		}
	}
}

func TestParamsTypedAndAliased(t *testing.T) {
	v := New(Config{SystemID: 7, Home: testHome})
	ps := v.Params()
	if len(ps) < 50 {
		t.Fatalf("%d params, want the behaviour-driving set", len(ps))
	}
	want := map[string]struct {
		val float64
		typ uint8
	}{
		"MAV_SYSID": {7, ParamInt16}, "WPNAV_SPEED": {1000, ParamReal}, "RTL_ALT": {1500, ParamInt32},
		"FENCE_ENABLE": {0, ParamInt8}, "FENCE_RADIUS": {150, ParamReal}, "FS_GCS_TIMEOUT": {5, ParamReal},
		"BATT_LOW_VOLT": {10.5, ParamReal}, "LAND_SPEED": {50, ParamInt16},
	}
	for name, w := range want {
		p, ok := v.Param(name)
		if !ok || p.Value != w.val || p.Type != w.typ {
			t.Errorf("%s = %+v, want value %v type %d", name, p, w.val, w.typ)
		}
	}
	if p, ok := v.Param("SYSID_THISMAV"); !ok || p.Name != "MAV_SYSID" || p.Value != 7 {
		t.Errorf("SYSID_THISMAV alias = %+v %v", p, ok)
	}
	if p, ok := v.Param("SR0_POSITION"); !ok || p.Name != "MAV1_POSITION" {
		t.Errorf("SR0_POSITION alias = %+v %v", p, ok)
	}
	p, err := v.SetParam("FENCE_ACTION", 2.4)
	if err != nil || p.Value != 2 {
		t.Errorf("integer param set 2.4 = %+v %v, want rounded to 2", p, err)
	}
	// As AP_Param::set_float: +0.01 and truncated, not rounded.
	if p, err := v.SetParam("FENCE_ACTION", 2.6); err != nil || p.Value != 2 {
		t.Errorf("integer param set 2.6 = %+v %v, want 2 as ArduPilot stores it", p, err)
	}
	if p, err := v.SetParam("FENCE_ACTION", 2.995); err != nil || p.Value != 3 {
		t.Errorf("integer param set 2.995 = %+v %v, want 3 as ArduPilot stores it", p, err)
	}
	// Stable order: index i names the same param every time.
	again := v.Params()
	for i := range ps {
		if ps[i].Name != again[i].Name {
			t.Fatalf("param %d is %s then %s", i, ps[i].Name, again[i].Name)
		}
	}
}
