package report

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPassedCounts(t *testing.T) {
	r := Report{Assertions: []Assertion{{Name: "a", Passed: true}, {Name: "b"}, {Name: "c", Passed: true}}}
	p, f := r.Passed()
	if p != 2 || f != 1 {
		t.Fatalf("Passed() = %d, %d; want 2, 1", p, f)
	}
}

func TestValidateNamesTheBadDatum(t *testing.T) {
	good := func() Report {
		return Report{
			Tracks:    []Track{{Vehicle: "v1", Samples: []Sample{{At: 0, Lat: 41.3, Lon: 69.2}, {At: time.Second, Lat: 41.31, Lon: 69.21}}}},
			Areas:     []Area{{Name: "field", Kind: "fence", Rings: [][]LatLon{{{41, 69}, {41.1, 69}, {41.1, 69.1}}}}},
			Rehearsal: &Rehearsal{Faults: []FaultResponse{{Fault: "gps_loss", Alert: &Alert{Delay: time.Second}, Response: &Response{Delay: 2 * time.Second}}}},
		}
	}
	if err := (&Report{}).Validate(); err != nil {
		t.Fatalf("empty report: %v", err)
	}
	r := good()
	if err := r.Validate(); err != nil {
		t.Fatalf("good report: %v", err)
	}
	cases := []struct {
		name  string
		spoil func(*Report)
		want  string
	}{
		{"no vehicle", func(r *Report) { r.Tracks[0].Vehicle = "" }, "no vehicle ID"},
		{"lat off globe", func(r *Report) { r.Tracks[0].Samples[1].Lat = 91 }, "track v1 sample 1"},
		{"NaN lon", func(r *Report) { r.Tracks[0].Samples[0].Lon = math.NaN() }, "track v1 sample 0"},
		{"time backwards", func(r *Report) { r.Tracks[0].Samples[1].At = -time.Second }, "before the previous"},
		{"area point", func(r *Report) { r.Areas[0].Rings[0][2].Lon = 200 }, `area "field" ring 0 point 2`},
		{"alert delay", func(r *Report) { r.Rehearsal.Faults[0].Alert.Delay = -1 }, "alert delay"},
		{"response delay", func(r *Report) { r.Rehearsal.Faults[0].Response.Delay = -1 }, "response delay"},
	}
	for _, c := range cases {
		r := good()
		c.spoil(&r)
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v; want an error containing %q", c.name, err, c.want)
		}
	}
}
