// Package latlon parses the "LAT,LON[,Z]" positions typed on command lines
// and in config files (the simulator's homes, burgut run's --home, the
// planner's --launch), so every one of them accepts and refuses the same
// text with the same messages.
package latlon

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Point is a parsed position: degrees, and an optional third number whose
// meaning (altitude, radius) belongs to the caller.
type Point struct {
	Lat, Lon float64
	Z        float64
	HasZ     bool
}

// Parse parses "LAT,LON" or, when zName is not empty, also "LAT,LON,Z"
// where zName says what Z is (e.g. "ALT", "RADIUS"). Latitude must be in
// -90..90, longitude in -180..180, every number finite. The error quotes s
// and names the part at fault; callers prefix the setting.
func Parse(s, zName string) (Point, error) {
	want := "LAT,LON"
	if zName != "" {
		want = "LAT,LON or LAT,LON," + zName
	}
	parts := strings.Split(s, ",")
	if len(parts) != 2 && (zName == "" || len(parts) != 3) {
		return Point{}, fmt.Errorf("%q: want %s", s, want)
	}
	names := [3]string{"latitude", "longitude", strings.ToLower(zName)}
	var v [3]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return Point{}, fmt.Errorf("%q: %s %q is not a number (want %s)", s, names[i], strings.TrimSpace(p), want)
		}
		v[i] = f
	}
	pt := Point{Lat: v[0], Lon: v[1], Z: v[2], HasZ: len(parts) == 3}
	if pt.Lat < -90 || pt.Lat > 90 {
		return pt, fmt.Errorf("%q: latitude %v is outside -90..90", s, pt.Lat)
	}
	if pt.Lon < -180 || pt.Lon > 180 {
		return pt, fmt.Errorf("%q: longitude %v is outside -180..180", s, pt.Lon)
	}
	return pt, nil
}
