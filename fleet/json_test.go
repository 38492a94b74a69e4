package fleet

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// AppendJSONFields writes what encoding/json writes, byte for byte, for
// vehicles whose every field (found by reflection, so a field added to
// Vehicle is covered without touching this test) takes random values:
// empty and odd strings, floats of every magnitude, nil and set pointers,
// nil, empty and full slices, times in other zones.
func TestAppendJSONFieldsMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var v Vehicle
		fill(rng, reflect.ValueOf(&v).Elem(), 0)
		want, err := json.Marshal(&v)
		if err != nil {
			t.Fatal(err)
		}
		got := append(v.AppendJSONFields([]byte("{")), '}')
		if !bytes.Equal(got, want) {
			t.Fatalf("vehicle %d:\n got %s\nwant %s", i, got, want)
		}
		// VideoStream's MarshalJSON is appendJSON (used above too):
		// held to encoding/json's own encoding of the type.
		for _, s := range v.Video {
			want, err := json.Marshal(plainVideoStream(s))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(s); !bytes.Equal(got, want) {
				t.Fatalf("vehicle %d video:\n got %s\nwant %s", i, got, want)
			}
		}
	}
}

// plainVideoStream is VideoStream without its MarshalJSON.
type plainVideoStream VideoStream

// refusedByEncodingJSON reports whether encoding/json's own encoding
// (VideoStream's without its MarshalJSON) refuses v.
func refusedByEncodingJSON(v *Vehicle) bool {
	if _, err := json.Marshal(v); err != nil {
		return true
	}
	for _, s := range v.Video {
		if _, err := json.Marshal(plainVideoStream(s)); err != nil {
			return true
		}
	}
	return false
}

// What encoding/json refuses is still encoded, never an error: a NaN or
// ±Inf (an autopilot's "not known") is null wherever it is and the rest
// is what encoding/json writes; a time out of encoding/json's range is
// written in the same format. The output is always valid JSON.
func TestAppendJSONFieldsEncodesWhatEncodingJSONRefuses(t *testing.T) {
	const mark = 1234.5 // stands for the non-finite value in encoding/json's copy
	for name, c := range map[string]struct {
		set func(v *Vehicle, f float64)
	}{
		"NaN lat":          {func(v *Vehicle, f float64) { v.Lat = f }},
		"NaN air speed":    {func(v *Vehicle, f float64) { v.AirSpeed = f }},
		"-Inf home lon":    {func(v *Vehicle, f float64) { v.Home = &Point{Lat: 1, Lon: f} }},
		"+Inf loss":        {func(v *Vehicle, f float64) { v.LinkQuality.LossPct = f }},
		"NaN framerate":    {func(v *Vehicle, f float64) { v.Video = []VideoStream{{Name: "a", Framerate: f}} }},
		"NaN roll and yaw": {func(v *Vehicle, f float64) { v.RollDeg, v.YawDeg = f, f }},
	} {
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			v := Vehicle{ID: "v", Mode: "AUTO", BatteryPct: 50}
			c.set(&v, bad)
			if !refusedByEncodingJSON(&v) {
				t.Fatalf("%s: encoding/json accepts it", name)
			}
			got := append(v.AppendJSONFields([]byte("{")), '}')
			if !json.Valid(got) {
				t.Fatalf("%s (%v): invalid JSON %s", name, bad, got)
			}
			c.set(&v, mark)
			want, err := json.Marshal(&v)
			if err != nil {
				t.Fatal(err)
			}
			want = bytes.ReplaceAll(want, []byte("1234.5"), []byte("null"))
			if !bytes.Equal(got, want) {
				t.Fatalf("%s (%v):\n got %s\nwant %s", name, bad, got, want)
			}
		}
	}
	for name, v := range map[string]Vehicle{
		"year 10000":     {Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"offset of 24 h": {FirstSeen: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 24*3600))},
	} {
		if _, err := json.Marshal(&v); err == nil {
			t.Fatalf("%s: encoding/json accepts it", name)
		}
		if got := append(v.AppendJSONFields([]byte("{")), '}'); !json.Valid(got) {
			t.Fatalf("%s: invalid JSON %s", name, got)
		}
	}
}

var oddStrings = []string{"", "a", "quad-1", `q"uote\`, "<b>&amp;</b>", "tab\tnl\ncr\r\b\f\x00\x1f\x7f",
	"ünïcødé ✈", "\u2028\u2029", "bad \xff\xfe utf8", "🚁"}

func fill(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(oddStrings[rng.IntN(len(oddStrings))])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch rng.IntN(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(-1)
		default:
			v.SetInt(rng.Int64N(1<<31) - 1<<30)
		}
	case reflect.Uint8, reflect.Uint32, reflect.Uint64:
		if rng.IntN(3) == 0 {
			v.SetUint(0)
		} else {
			v.SetUint(rng.Uint64() >> (64 - v.Type().Bits()))
		}
	case reflect.Float64:
		fs := []float64{0, math.Copysign(0, -1), 1, -1, 41.299496, 69.240074, 1e-7, -3.3e-9, 1e21, 1.5e300, 123456789.125, 5e-324}
		switch rng.IntN(3) {
		case 0:
			v.SetFloat(fs[rng.IntN(len(fs))])
		case 1:
			v.SetFloat((rng.Float64() - 0.5) * math.Pow(10, float64(rng.IntN(12)-4)))
		default: // a MAVLink integer scaled as the station scales it (1e-7 degrees, mm, cm/s)
			v.SetFloat(float64(rng.Int64N(1<<40)-1<<39) / math.Pow(10, float64(rng.IntN(8))))
		}
	case reflect.Pointer:
		if rng.IntN(2) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(rng, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		switch rng.IntN(3) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			s := reflect.MakeSlice(v.Type(), 1+rng.IntN(3), 3)
			for i := 0; i < s.Len(); i++ {
				fill(rng, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			zones := []*time.Location{time.UTC, time.Local, time.FixedZone("UZT", 5*3600), time.FixedZone("m", -150*60), time.FixedZone("s", 30)}
			tm := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))])
			if rng.IntN(5) == 0 {
				tm = time.Time{}
			}
			v.Set(reflect.ValueOf(tm))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), depth+1)
			}
		}
	default:
		panic("fill: add a case for " + v.Type().String())
	}
}

// BenchmarkAppendJSONFields encodes a flying vehicle's state as the
// station holds it (positions, speeds and volts scaled from MAVLink
// integers, attitude from float32 radians), as the relays do for every
// state they send.
func BenchmarkAppendJSONFields(b *testing.B) {
	at := time.Date(2026, 12, 2, 2, 30, 0, 123456789, time.UTC)
	v := Vehicle{ID: "l3-117", SystemID: 117, ComponentID: 1, Link: "l3", Type: "quadrotor", Autopilot: "ardupilotmega",
		Lat: float64(473977419) / 1e7, Lon: float64(85455938) / 1e7, AltMSL: float64(584123) / 1000, RelativeAlt: float64(50213) / 1000,
		HeadingDeg: float64(27345) / 100, GroundSpeed: math.Hypot(812, -305) / 100, AirSpeed: float64(float32(8.7)), Climb: -float64(-12) / 100,
		VelNorth: 8.12, VelEast: -3.05, RollDeg: float64(float32(0.0523)) * 180 / math.Pi, PitchDeg: float64(float32(-0.1047)) * 180 / math.Pi,
		YawDeg: float64(float32(1.2)) * 180 / math.Pi, BatteryPct: 87, BatteryVolt: float64(15842) / 1000, BatteryAmp: float64(1234) / 100,
		GPSFix: 3, Satellites: 14, Mode: "AUTO", CustomMode: 3, Armed: true, SystemStatus: "active", MissionSeq: 4, MissionCount: 12,
		LinkQuality: LinkQuality{Received: 123456, Lost: 12, LossPct: 0.0097, RateHz: 18.02}, Connected: true,
		FirstSeen: at.Add(-time.Hour), LastSeen: at, Updated: at}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = v.AppendJSONFields(buf[:0])
	}
}
