package telemetry

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"
)

// Source is what history questions need from a store. Both the InfluxDB
// sink and the embedded store implement it; everything else (tracks,
// flights, exports) is computed here from what they return, so both stores
// answer identically for the same data.
type Source interface {
	// Samples returns a vehicle's samples with from <= Time < to, oldest first.
	Samples(ctx context.Context, vehicle string, from, to time.Time) ([]Sample, error)
	// Latest returns the newest sample of every vehicle, ordered by vehicle ID.
	Latest(ctx context.Context) ([]Sample, error)
}

// ErrBadRange is returned for a time range that is empty or reversed.
var ErrBadRange = errors.New("time range: 'to' must be after 'from'")

// Track is a vehicle's path as a GeoJSON LineString (coordinates are
// [lon, lat, alt_msl]), with foreign members saying which vehicle and
// range it covers and when each point was recorded.
type Track struct {
	Type        string       `json:"type"` // always "LineString"
	Coordinates [][3]float64 `json:"coordinates"`
	VehicleID   string       `json:"vehicle_id"`
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	Times       []time.Time  `json:"times"`
	// TotalPoints is how many samples the range held before downsampling.
	TotalPoints int `json:"total_points"`
}

// DefaultMaxPoints is the track point budget when none is given: enough
// for a smooth line on a map, small enough for a phone.
const DefaultMaxPoints = 1000

// TrackOf fetches a vehicle's track between from and to, downsampled to at
// most maxPoints points (0 = DefaultMaxPoints).
func TrackOf(ctx context.Context, src Source, vehicle string, from, to time.Time, maxPoints int) (Track, error) {
	if !to.After(from) {
		return Track{}, ErrBadRange
	}
	ss, err := src.Samples(ctx, vehicle, from, to)
	if err != nil {
		return Track{}, fmt.Errorf("track of %s: %w", vehicle, err)
	}
	return MakeTrack(vehicle, from, to, ss, maxPoints), nil
}

// MakeTrack builds the track of samples (oldest first). Downsampling keeps
// the first and last point and picks the rest evenly by index, so the
// result depends only on the samples.
func MakeTrack(vehicle string, from, to time.Time, ss []Sample, maxPoints int) Track {
	if maxPoints <= 0 {
		maxPoints = DefaultMaxPoints
	}
	ss = positions(ss)
	t := Track{Type: "LineString", VehicleID: vehicle, From: from.UTC(), To: to.UTC(), TotalPoints: len(ss),
		Coordinates: [][3]float64{}, Times: []time.Time{}}
	for _, i := range Downsample(len(ss), maxPoints) {
		s := ss[i]
		t.Coordinates = append(t.Coordinates, [3]float64{s.Lon, s.Lat, s.AltMSL})
		t.Times = append(t.Times, s.Time.UTC())
	}
	return t
}

// positions keeps the samples that carry a position (at telemetry
// interval 0 other messages are samples of their own).
func positions(ss []Sample) []Sample {
	for i := range ss {
		if !ss[i].Has(PartPosition) {
			out := make([]Sample, 0, len(ss))
			for j := range ss {
				if ss[j].Has(PartPosition) {
					out = append(out, ss[j])
				}
			}
			return out
		}
	}
	return ss
}

// carry completes samples that stand for some measurements only
// (telemetry interval 0 read back from InfluxDB) with the newest earlier
// values of the others, so each is the state known at its time.
func carry(ss []Sample) []Sample {
	out := make([]Sample, len(ss))
	copy(out, ss)
	for i := 1; i < len(out); i++ {
		s, prev := &out[i], &out[i-1]
		if s.Parts == 0 {
			continue
		}
		if !s.Has(PartPosition) {
			s.Lat, s.Lon, s.AltMSL, s.RelativeAlt, s.Heading = prev.Lat, prev.Lon, prev.AltMSL, prev.RelativeAlt, prev.Heading
			s.GroundSpeed, s.AirSpeed, s.Climb = prev.GroundSpeed, prev.AirSpeed, prev.Climb
		}
		if !s.Has(PartAttitude) {
			s.Roll, s.Pitch, s.Yaw = prev.Roll, prev.Pitch, prev.Yaw
		}
		if !s.Has(PartPower) {
			s.BatteryPct, s.Voltage, s.Current = prev.BatteryPct, prev.Voltage, prev.Current
		}
		if !s.Has(PartStatus) {
			s.Mode, s.Armed, s.GPSFix, s.Satellites = prev.Mode, prev.Armed, prev.GPSFix, prev.Satellites
		}
		if !s.Has(PartLink) {
			s.LossPct, s.RateHz = prev.LossPct, prev.RateHz
		}
		s.Parts = 0 // complete now
	}
	return out
}

// Downsample returns the indices to keep out of n to stay within budget.
func Downsample(n, budget int) []int {
	if budget <= 0 || n <= budget {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	if budget == 1 {
		return []int{n - 1}
	}
	out := make([]int, budget)
	for i := range out {
		out[i] = int(int64(i) * int64(n-1) / int64(budget-1))
	}
	return out
}

// Flight is one flight of a vehicle: from arming (takeoff) to disarming
// (landing). End is nil while the vehicle is still armed at the end of
// the range.
type Flight struct {
	VehicleID     string     `json:"vehicle_id"`
	Start         time.Time  `json:"start"`
	End           *time.Time `json:"end,omitempty"`
	DurationS     float64    `json:"duration_s"`
	InProgress    bool       `json:"in_progress"`
	TakeoffLat    float64    `json:"takeoff_lat"`
	TakeoffLon    float64    `json:"takeoff_lon"`
	LandingLat    float64    `json:"landing_lat"`
	LandingLon    float64    `json:"landing_lon"`
	MaxRelAltM    float64    `json:"max_relative_alt_m"`
	DistanceM     float64    `json:"distance_m"`
	Samples       int        `json:"samples"`
	Mission       string     `json:"mission,omitempty"`
	EventArea     string     `json:"event_area,omitempty"`
	MinBatteryPct float64    `json:"min_battery_pct"`
}

// FlightsOf lists a vehicle's flights that started between from and to.
func FlightsOf(ctx context.Context, src Source, vehicle string, from, to time.Time) ([]Flight, error) {
	if !to.After(from) {
		return nil, ErrBadRange
	}
	ss, err := src.Samples(ctx, vehicle, from, to)
	if err != nil {
		return nil, fmt.Errorf("flights of %s: %w", vehicle, err)
	}
	return MakeFlights(vehicle, ss), nil
}

// FlightCounter is the one definition of "a flight" by its arm state:
// a flight starts at each observation of the vehicle armed after it was
// seen disarmed (or first seen armed), and ends at the first observation
// of it disarmed. MakeFlights splits stored samples with it, and the
// scenario runner counts the flights a vehicle flew with it from the
// station's armed/disarmed events and states, so that the two counts can
// only differ when the store lost an arm state the station reported —
// a vehicle that disarms on the ground and is armed again is two flights
// to both.
type FlightCounter struct {
	armed   bool
	flights int
}

// See takes the next observed arm state (oldest first) and says whether
// it starts a flight or ends one.
func (c *FlightCounter) See(armed bool) (started, ended bool) {
	started, ended = armed && !c.armed, !armed && c.armed
	if started {
		c.flights++
	}
	c.armed = armed
	return started, ended
}

// Flights is how many flights have started so far.
func (c *FlightCounter) Flights() int { return c.flights }

// Armed is the last arm state seen.
func (c *FlightCounter) Armed() bool { return c.armed }

// MakeFlights splits samples (oldest first) into flights at arm/disarm
// (FlightCounter's definition). The disarmed sample that ends a flight is
// its landing point.
func MakeFlights(vehicle string, ss []Sample) []Flight {
	out := []Flight{}
	var cur *Flight
	var prev orb.Point
	var fc FlightCounter
	for _, s := range carry(ss) {
		p := orb.Point{s.Lon, s.Lat}
		started, ended := fc.See(s.Armed)
		switch {
		case started:
			cur = &Flight{VehicleID: vehicle, Start: s.Time.UTC(), TakeoffLat: s.Lat, TakeoffLon: s.Lon,
				MaxRelAltM: s.RelativeAlt, Mission: s.Mission, EventArea: s.EventArea, MinBatteryPct: s.BatteryPct}
		case cur != nil:
			cur.DistanceM += geo.Distance(prev, p)
		}
		if cur == nil {
			continue
		}
		cur.Samples++
		cur.LandingLat, cur.LandingLon = s.Lat, s.Lon
		cur.MaxRelAltM = max(cur.MaxRelAltM, s.RelativeAlt)
		if s.BatteryPct >= 0 && (cur.MinBatteryPct < 0 || s.BatteryPct < cur.MinBatteryPct) {
			cur.MinBatteryPct = s.BatteryPct
		}
		cur.DurationS = s.Time.Sub(cur.Start).Seconds()
		if cur.Mission == "" {
			cur.Mission = s.Mission
		}
		if cur.EventArea == "" {
			cur.EventArea = s.EventArea
		}
		prev = p
		if ended {
			end := s.Time.UTC()
			cur.End = &end
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		cur.InProgress = true
		out = append(out, *cur)
	}
	return out
}

// CSVHeader is the column order of CSV exports.
var CSVHeader = []string{"time", "vehicle_id", "link", "system_id", "type", "mission", "event_area",
	"lat", "lon", "alt_msl_m", "relative_alt_m", "heading_deg", "ground_speed_mps", "air_speed_mps", "climb_mps",
	"roll_deg", "pitch_deg", "yaw_deg", "battery_pct", "battery_v", "battery_a",
	"mode", "armed", "gps_fix", "satellites", "link_loss_pct", "link_rate_hz"}

// WriteCSV exports samples as CSV with CSVHeader; floats keep full precision.
func WriteCSV(w io.Writer, ss []Sample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write CSV header: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, s := range ss {
		rec := []string{s.Time.UTC().Format(time.RFC3339Nano), s.Vehicle, s.Link, strconv.Itoa(int(s.SystemID)), s.Type, s.Mission, s.EventArea,
			f(s.Lat), f(s.Lon), f(s.AltMSL), f(s.RelativeAlt), f(s.Heading), f(s.GroundSpeed), f(s.AirSpeed), f(s.Climb),
			f(s.Roll), f(s.Pitch), f(s.Yaw), f(s.BatteryPct), f(s.Voltage), f(s.Current),
			s.Mode, strconv.FormatBool(s.Armed), strconv.FormatInt(s.GPSFix, 10), strconv.FormatInt(s.Satellites, 10), f(s.LossPct), f(s.RateHz)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write CSV row: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// TrackCSV writes a track's points as CSV (time, lon, lat, alt_msl_m).
func TrackCSV(w io.Writer, t Track) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"time", "lon", "lat", "alt_msl_m"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i, c := range t.Coordinates {
		_ = cw.Write([]string{t.Times[i].Format(time.RFC3339Nano), f(c[0]), f(c[1]), f(c[2])})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write track CSV: %w", err)
	}
	return nil
}

// WriteGeoJSON exports samples as a GeoJSON FeatureCollection of Points
// ([lon, lat, alt_msl]) whose properties are the sample's other values.
func WriteGeoJSON(w io.Writer, ss []Sample) error {
	type feature struct {
		Type     string `json:"type"`
		Geometry struct {
			Type        string     `json:"type"`
			Coordinates [3]float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties Sample `json:"properties"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: make([]feature, 0, len(ss))}
	for _, s := range ss {
		var f feature
		f.Type = "Feature"
		f.Geometry.Type = "Point"
		f.Geometry.Coordinates = [3]float64{s.Lon, s.Lat, s.AltMSL}
		f.Properties = s
		fc.Features = append(fc.Features, f)
	}
	if err := json.NewEncoder(w).Encode(fc); err != nil {
		return fmt.Errorf("write GeoJSON: %w", err)
	}
	return nil
}
