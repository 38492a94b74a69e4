package telemetry

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/fastfloat"
)

// Sample is one stored observation of one vehicle: the tags that say which
// vehicle (and mission, event area) it belongs to, and every field of the
// schema. Both stores keep exactly these values, so a Sample read back from
// InfluxDB equals one read back from the embedded store bit for bit.
type Sample struct {
	Time time.Time `json:"time"`

	// Tags (bounded cardinality: see README.md).
	Vehicle   string `json:"vehicle_id"`
	Link      string `json:"link"`
	SystemID  uint8  `json:"system_id"`
	Type      string `json:"type"`
	Mission   string `json:"mission,omitempty"`
	EventArea string `json:"event_area,omitempty"`

	// position
	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	AltMSL      float64 `json:"alt_msl_m"`
	RelativeAlt float64 `json:"relative_alt_m"`
	Heading     float64 `json:"heading_deg"`
	GroundSpeed float64 `json:"ground_speed_mps"`
	AirSpeed    float64 `json:"air_speed_mps"`
	Climb       float64 `json:"climb_mps"`
	// attitude
	Roll  float64 `json:"roll_deg"`
	Pitch float64 `json:"pitch_deg"`
	Yaw   float64 `json:"yaw_deg"`
	// power; BatteryPct is -1 when the autopilot does not report it
	BatteryPct float64 `json:"battery_pct"`
	Voltage    float64 `json:"battery_v"`
	Current    float64 `json:"battery_a"`
	// status
	Mode       string `json:"mode"`
	Armed      bool   `json:"armed"`
	GPSFix     int64  `json:"gps_fix"`
	Satellites int64  `json:"satellites"`
	// link
	LossPct float64 `json:"link_loss_pct"`
	RateHz  float64 `json:"link_rate_hz"`

	// Parts says which measurements the sample stands for; 0 means all
	// five (a sample of the interval policy). At telemetry interval 0 each
	// sample is one message: a GLOBAL_POSITION_INT is PartPosition only,
	// so InfluxDB gets exactly one position point for it, and the embedded
	// store marks the row (its other columns hold the state known then).
	Parts Parts `json:"-"`
}

// Parts is a set of the schema's measurements.
type Parts uint8

// The schema's measurements as Parts.
const (
	PartPosition Parts = 1 << iota
	PartAttitude
	PartPower
	PartStatus
	PartLink
	AllParts = PartPosition | PartAttitude | PartPower | PartStatus | PartLink
)

// Has reports whether the sample stands for measurement p.
func (s *Sample) Has(p Parts) bool { return s.Parts == 0 || s.Parts&p != 0 }

// Points is how many InfluxDB points (lines) the sample becomes.
func (s *Sample) Points() int {
	if s.Parts == 0 {
		return PointsPerSample
	}
	n := 0
	for p := s.Parts & AllParts; p != 0; p &= p - 1 {
		n++
	}
	return n
}

// FromVehicle turns a fleet snapshot into a Sample stamped with the time the
// data was received (v.Updated). Using the receive time, never time.Now at
// write time, makes a re-sent sample identical to the first copy, which is
// what lets InfluxDB (and the embedded store) drop the duplicate.
func FromVehicle(v fleet.Vehicle) Sample {
	return Sample{
		Time:        sampleTime(&v).UTC(),
		Vehicle:     v.ID,
		Link:        v.Link,
		SystemID:    v.SystemID,
		Type:        v.Type,
		Mission:     v.Mission,
		EventArea:   v.EventArea,
		Lat:         v.Lat,
		Lon:         v.Lon,
		AltMSL:      v.AltMSL,
		RelativeAlt: v.RelativeAlt,
		Heading:     v.HeadingDeg,
		GroundSpeed: v.GroundSpeed,
		AirSpeed:    v.AirSpeed,
		Climb:       v.Climb,
		Roll:        v.RollDeg,
		Pitch:       v.PitchDeg,
		Yaw:         v.YawDeg,
		BatteryPct:  v.BatteryPct,
		Voltage:     v.BatteryVolt,
		Current:     v.BatteryAmp,
		Mode:        v.Mode,
		Armed:       v.Armed,
		GPSFix:      int64(v.GPSFix),
		Satellites:  int64(v.Satellites),
		LossPct:     v.LinkQuality.LossPct,
		RateHz:      v.LinkQuality.RateHz,
	}
}

// sampleTime is the time a sample of v stands for: its last update, or
// when it was last heard if it was never updated.
func sampleTime(v *fleet.Vehicle) time.Time {
	if v.Updated.IsZero() {
		return v.LastSeen
	}
	return v.Updated
}

// Measurement names of the schema (README.md). Add, never rename: dashboards
// and Flux queries of the monitoring center name them.
const (
	MeasPosition = "position"
	MeasAttitude = "attitude"
	MeasPower    = "power"
	MeasStatus   = "status"
	MeasLink     = "link"
)

// Measurements lists the schema's measurements in the order lines are written.
var Measurements = []string{MeasPosition, MeasAttitude, MeasPower, MeasStatus, MeasLink}

// PointsPerSample is how many InfluxDB points (lines) one Sample becomes.
const PointsPerSample = 5

// AppendLines appends the sample's line-protocol lines (one per
// measurement it stands for, five for a whole sample, each ending in
// '\n') to b. Floats use the shortest exact
// representation so they read back bit for bit; NaN and ±Inf, which line
// protocol cannot carry, are written as 0.
func (s *Sample) AppendLines(b []byte) []byte {
	ts := s.Time.UnixNano()
	line := func(meas string) {
		b = append(b, meas...)
		b = s.appendTags(b)
		b = append(b, ' ')
	}
	end := func() {
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, '\n')
	}
	if s.Has(PartPosition) {
		line(MeasPosition)
		b = appendFloatField(b, "lat", s.Lat, true)
		b = appendFloatField(b, "lon", s.Lon, false)
		b = appendFloatField(b, "alt_msl", s.AltMSL, false)
		b = appendFloatField(b, "relative_alt", s.RelativeAlt, false)
		b = appendFloatField(b, "heading", s.Heading, false)
		b = appendFloatField(b, "ground_speed", s.GroundSpeed, false)
		b = appendFloatField(b, "air_speed", s.AirSpeed, false)
		b = appendFloatField(b, "climb", s.Climb, false)
		end()
	}
	if s.Has(PartAttitude) {
		line(MeasAttitude)
		b = appendFloatField(b, "roll", s.Roll, true)
		b = appendFloatField(b, "pitch", s.Pitch, false)
		b = appendFloatField(b, "yaw", s.Yaw, false)
		end()
	}
	if s.Has(PartPower) {
		line(MeasPower)
		b = appendFloatField(b, "battery_pct", s.BatteryPct, true)
		b = appendFloatField(b, "voltage", s.Voltage, false)
		b = appendFloatField(b, "current", s.Current, false)
		end()
	}
	if s.Has(PartStatus) {
		line(MeasStatus)
		b = append(b, `mode="`...)
		b = appendEscaped(b, s.Mode, `"\`)
		b = append(b, `",armed=`...)
		b = strconv.AppendBool(b, s.Armed)
		b = append(b, ",gps_fix="...)
		b = strconv.AppendInt(b, s.GPSFix, 10)
		b = append(b, "i,satellites="...)
		b = strconv.AppendInt(b, s.Satellites, 10)
		b = append(b, 'i')
		end()
	}
	if s.Has(PartLink) {
		line(MeasLink)
		b = appendFloatField(b, "loss_pct", s.LossPct, true)
		b = appendFloatField(b, "rate_hz", s.RateHz, false)
		end()
	}
	return b
}

func (s *Sample) appendTags(b []byte) []byte {
	return s.Tags().appendTo(b)
}

// Tags returns the sample's tags.
func (s *Sample) Tags() Tags {
	return Tags{Vehicle: s.Vehicle, Link: s.Link, SystemID: s.SystemID, Type: s.Type, Mission: s.Mission, EventArea: s.EventArea}
}

func (t Tags) appendTo(b []byte) []byte {
	tag := func(k, v string) {
		if v == "" {
			return // line protocol has no empty tag values; absent = not assigned
		}
		b = append(b, ',')
		b = append(b, k...)
		b = append(b, '=')
		b = appendEscaped(b, v, ", =")
	}
	// Tags in key order, as InfluxDB stores them (saves it a sort).
	tag("event_area", t.EventArea)
	tag("link", t.Link)
	tag("mission", t.Mission)
	tag("operation", t.Operation)
	tag("slot", t.Slot)
	if t.SystemID != 0 || t.Operation == "" {
		tag("system_id", strconv.Itoa(int(t.SystemID)))
	}
	tag("type", t.Type)
	tag("vehicle", t.Vehicle)
	return b
}

func appendFloatField(b []byte, name string, v float64, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, name...)
	b = append(b, '=')
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return fastfloat.AppendG(b, v)
}

func appendEscaped(b []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || c == '\r' {
			c = ' ' // a newline would end the line: never valid inside one
		}
		for j := 0; j < len(special); j++ {
			if c == special[j] {
				b = append(b, '\\')
				break
			}
		}
		b = append(b, c)
	}
	return b
}

var lineBreaks = strings.NewReplacer("\n", " ", "\r", " ")

// Clean returns the sample as it reads back from a store: NaN/Inf as 0 and
// line breaks in strings as spaces, the time in UTC.
func (s Sample) Clean() Sample {
	fs := []*float64{&s.Lat, &s.Lon, &s.AltMSL, &s.RelativeAlt, &s.Heading, &s.GroundSpeed, &s.AirSpeed, &s.Climb,
		&s.Roll, &s.Pitch, &s.Yaw, &s.BatteryPct, &s.Voltage, &s.Current, &s.LossPct, &s.RateHz}
	for _, f := range fs {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			*f = 0
		}
	}
	for _, p := range []*string{&s.Mode, &s.Vehicle, &s.Link, &s.Type, &s.Mission, &s.EventArea} {
		if strings.ContainsAny(*p, "\r\n") {
			*p = lineBreaks.Replace(*p)
		}
	}
	s.Time = s.Time.UTC()
	return s
}
