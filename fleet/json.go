package fleet

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/burgut-uav/burgut/internal/fastfloat"
)

// AppendJSONFields appends v's fields exactly as encoding/json writes them
// inside the object of a Vehicle (or of a struct embedding one, before its
// own fields): `"id":"…",…,"updated":"…"`, without braces. The relays
// encode every state of every vehicle several times a second (MQTT at
// 2 Hz, each WebSocket client's rate), and encoding/json's reflection was
// a third of the MQTT publisher's CPU at 1,000 vehicles. A test holds the
// output byte for byte to encoding/json's over every field, so a field
// added to Vehicle without a line here fails it.
//
// It never fails, where encoding/json does: a float that is not finite
// (NaN, ±Inf) is written as null. An autopilot sends NaN for "not known"
// (VFR_HUD's airspeed, ATTITUDE on a failed estimator); encoding/json
// refuses the whole vehicle for it, which cost an MQTT subscriber the
// retained state (an empty retained payload deletes it) and a WebSocket
// client the vehicle. Times outside encoding/json's range (years
// 0–9999, zone offsets under a day) are written as RFC 3339 all the
// same; the station's clock never makes one. Both relays encode states
// with it, so they agree on every value.
func (v *Vehicle) AppendJSONFields(b []byte) []byte {
	b = append(b, `"id":`...)
	b = appendJSONString(b, v.ID)
	b = append(b, `,"system_id":`...)
	b = strconv.AppendUint(b, uint64(v.SystemID), 10)
	b = append(b, `,"component_id":`...)
	b = strconv.AppendUint(b, uint64(v.ComponentID), 10)
	b = append(b, `,"link":`...)
	b = appendJSONString(b, v.Link)
	if v.UID != 0 {
		b = append(b, `,"uid":`...)
		b = strconv.AppendUint(b, v.UID, 10)
	}
	b = append(b, `,"type":`...)
	b = appendJSONString(b, v.Type)
	b = append(b, `,"autopilot":`...)
	b = appendJSONString(b, v.Autopilot)
	for _, f := range [...]struct {
		key string
		v   float64
	}{
		{`,"lat":`, v.Lat}, {`,"lon":`, v.Lon}, {`,"alt_msl_m":`, v.AltMSL}, {`,"relative_alt_m":`, v.RelativeAlt},
		{`,"heading_deg":`, v.HeadingDeg}, {`,"ground_speed_mps":`, v.GroundSpeed}, {`,"air_speed_mps":`, v.AirSpeed},
		{`,"climb_mps":`, v.Climb}, {`,"vel_north_mps":`, v.VelNorth}, {`,"vel_east_mps":`, v.VelEast},
		{`,"roll_deg":`, v.RollDeg}, {`,"pitch_deg":`, v.PitchDeg}, {`,"yaw_deg":`, v.YawDeg},
		{`,"battery_pct":`, v.BatteryPct}, {`,"battery_v":`, v.BatteryVolt}, {`,"battery_a":`, v.BatteryAmp},
	} {
		b = append(b, f.key...)
		b = appendJSONFloat(b, f.v)
	}
	b = append(b, `,"gps_fix":`...)
	b = strconv.AppendInt(b, int64(v.GPSFix), 10)
	b = append(b, `,"satellites":`...)
	b = strconv.AppendInt(b, int64(v.Satellites), 10)
	b = append(b, `,"mode":`...)
	b = appendJSONString(b, v.Mode)
	b = append(b, `,"custom_mode":`...)
	b = strconv.AppendUint(b, uint64(v.CustomMode), 10)
	b = append(b, `,"armed":`...)
	b = strconv.AppendBool(b, v.Armed)
	b = append(b, `,"system_status":`...)
	b = appendJSONString(b, v.SystemStatus)
	b = append(b, `,"mission_seq":`...)
	b = strconv.AppendInt(b, int64(v.MissionSeq), 10)
	b = append(b, `,"mission_count":`...)
	b = strconv.AppendInt(b, int64(v.MissionCount), 10)
	if v.Home != nil {
		b = append(b, `,"home":{"lat":`...)
		b = appendJSONFloat(b, v.Home.Lat)
		b = append(b, `,"lon":`...)
		b = appendJSONFloat(b, v.Home.Lon)
		b = append(b, `,"alt_msl_m":`...)
		b = appendJSONFloat(b, v.Home.AltMSL)
		b = append(b, '}')
	}
	b = append(b, `,"fence_breached":`...)
	b = strconv.AppendBool(b, v.FenceBreached)
	if v.LandedState != "" {
		b = append(b, `,"landed_state":`...)
		b = appendJSONString(b, v.LandedState)
	}
	if v.Signing != "" {
		b = append(b, `,"signing":`...)
		b = appendJSONString(b, v.Signing)
	}
	q := &v.LinkQuality
	b = append(b, `,"link_quality":{"received":`...)
	b = strconv.AppendUint(b, q.Received, 10)
	b = append(b, `,"lost":`...)
	b = strconv.AppendUint(b, q.Lost, 10)
	b = append(b, `,"loss_pct":`...)
	b = appendJSONFloat(b, q.LossPct)
	b = append(b, `,"rate_hz":`...)
	b = appendJSONFloat(b, q.RateHz)
	b = append(b, `,"latency_s":`...)
	b = appendJSONFloat(b, q.LatencyS)
	b = append(b, '}')
	if len(v.Video) > 0 {
		b = append(b, `,"video":[`...)
		for i := range v.Video {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.Video[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if v.Mission != "" {
		b = append(b, `,"mission":`...)
		b = appendJSONString(b, v.Mission)
	}
	if v.EventArea != "" {
		b = append(b, `,"event_area":`...)
		b = appendJSONString(b, v.EventArea)
	}
	if c := v.Control; c != nil {
		b = append(b, `,"control":{"holder":`...)
		b = appendJSONString(b, c.Holder)
		b = append(b, `,"since":`...)
		b = appendJSONTime(b, c.Since)
		b = append(b, '}')
	}
	if t := v.Transfer; t != nil {
		b = append(b, `,"transfer":{"type":`...)
		b = appendJSONString(b, t.Type)
		b = append(b, `,"phase":`...)
		b = appendJSONString(b, t.Phase)
		b = append(b, `,"done":`...)
		b = strconv.AppendInt(b, int64(t.Done), 10)
		b = append(b, `,"total":`...)
		b = strconv.AppendInt(b, int64(t.Total), 10)
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(t.Attempt), 10)
		if t.Error != "" {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, t.Error)
		}
		b = append(b, `,"started":`...)
		b = appendJSONTime(b, t.Started)
		b = append(b, '}')
	}
	b = append(b, `,"connected":`...)
	b = strconv.AppendBool(b, v.Connected)
	b = append(b, `,"first_seen":`...)
	b = appendJSONTime(b, v.FirstSeen)
	b = append(b, `,"last_seen":`...)
	b = appendJSONTime(b, v.LastSeen)
	b = append(b, `,"updated":`...)
	return appendJSONTime(b, v.Updated)
}

// MarshalJSON encodes s as the vehicle's JSON carries it (appendJSON), so
// a stream whose camera sent a NaN frame rate is null there wherever it
// is encoded (MQTT's video payload, the vehicle API) instead of failing
// the whole document.
func (s VideoStream) MarshalJSON() ([]byte, error) { return s.appendJSON(nil), nil }

func (s *VideoStream) appendJSON(b []byte) []byte {
	b = append(b, `{"camera_id":`...)
	b = strconv.AppendUint(b, uint64(s.CameraID), 10)
	b = append(b, `,"stream_id":`...)
	b = strconv.AppendUint(b, uint64(s.StreamID), 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, s.Name)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, s.URI)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, s.Type)
	if s.Encoding != "" {
		b = append(b, `,"encoding":`...)
		b = appendJSONString(b, s.Encoding)
	}
	if s.Width != 0 {
		b = append(b, `,"width":`...)
		b = strconv.AppendInt(b, int64(s.Width), 10)
	}
	if s.Height != 0 {
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, int64(s.Height), 10)
	}
	if s.Framerate != 0 {
		b = append(b, `,"framerate":`...)
		b = appendJSONFloat(b, s.Framerate)
	}
	if s.BitrateKbps != 0 {
		b = append(b, `,"bitrate_kbps":`...)
		b = strconv.AppendInt(b, int64(s.BitrateKbps), 10)
	}
	b = append(b, `,"running":`...)
	b = strconv.AppendBool(b, s.Running)
	if s.CameraModel != "" {
		b = append(b, `,"camera_model":`...)
		b = appendJSONString(b, s.CameraModel)
	}
	if s.CameraVend != "" {
		b = append(b, `,"camera_vendor":`...)
		b = appendJSONString(b, s.CameraVend)
	}
	if s.State != "" {
		b = append(b, `,"state":`...)
		b = appendJSONString(b, s.State)
	}
	return append(b, '}')
}

// appendJSONFloat writes f as encoding/json does (its floatEncoder for
// float64), and NaN and ±Inf, which it refuses, as null.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	if format == 'f' {
		return fastfloat.AppendF(b, f) // strconv's 'f' output, sooner for decimals
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONTime writes t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, quoted), and the times it refuses in the same format.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as encoding/json does with its default HTML
// escaping: <, > and & as \u003c…, control characters escaped, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
