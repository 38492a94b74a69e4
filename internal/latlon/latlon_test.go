package latlon

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		s, z string
		want Point
	}{
		{"41.3111,69.2797", "", Point{Lat: 41.3111, Lon: 69.2797}},
		{" -33.9 , 151.2 ", "ALT", Point{Lat: -33.9, Lon: 151.2}},
		{"41.3,69.2,455", "ALT", Point{Lat: 41.3, Lon: 69.2, Z: 455, HasZ: true}},
		{"90,-180,0", "RADIUS", Point{Lat: 90, Lon: -180, HasZ: true}},
	} {
		got, err := Parse(tc.s, tc.z)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q, %q) = %+v, %v; want %+v", tc.s, tc.z, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ s, z, want string }{
		{"41.3", "", "want LAT,LON"},
		{"41.3,69.2,455", "", "want LAT,LON"},
		{"41.3,69.2,1,2", "ALT", "want LAT,LON or LAT,LON,ALT"},
		{"north,69.2", "", `latitude "north" is not a number`},
		{"41.3,NaN", "", `longitude "NaN" is not a number`},
		{"41.3,69.2,high", "ALT", `alt "high" is not a number`},
		{"95,0", "", "latitude 95 is outside -90..90"},
		{"0,181", "", "longitude 181 is outside -180..180"},
		{"", "", "want LAT,LON"},
	} {
		_, err := Parse(tc.s, tc.z)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "\""+tc.s+"\"") {
			t.Errorf("Parse(%q, %q) = %v, want an error quoting the input and saying %q", tc.s, tc.z, err, tc.want)
		}
	}
}
