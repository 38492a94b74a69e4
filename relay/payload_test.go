package relay

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// A state message's payload is what encoding/json makes of StatePayload,
// byte for byte (fleet's test covers every Vehicle field), and a vehicle
// the fast path cannot encode falls back to encoding/json.
func TestStatePayloadMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 1, 20, 30, 1, 123456789, time.UTC)
	full := fleet.Vehicle{ID: "q<1>&", SystemID: 7, ComponentID: 1, Link: "l0", UID: 99, Type: "quadrotor", Lat: 41.3, Lon: 69.2,
		BatteryPct: -1, Mode: "AUTO", Armed: true, Home: &fleet.Point{Lat: 1e-7, Lon: 2}, LandedState: "in_air", Signing: "signed",
		Video: testVideo, Mission: "m\"1", EventArea: "ea", Control: &fleet.Control{Holder: "token:ops", Since: now},
		Transfer:  &fleet.Transfer{Type: "mission", Phase: "failed", Done: 3, Total: 9, Error: "denied\n", Started: now},
		Connected: true, FirstSeen: now, LastSeen: now.Add(time.Second), Updated: now.Local()}
	for _, station := range []string{"", "tashkent-1", "st\"a<t>ion ✈"} {
		p := &Publisher{cfg: PublisherConfig{Station: station}}
		prefix := p.statePrefix()
		var scratch []byte
		for _, v := range []fleet.Vehicle{{}, full, {ID: "a", Lat: -0.000001, Lon: 1e21}} {
			for _, stale := range []bool{false, true} {
				want, err := json.Marshal(StatePayload{Schema: SchemaVersion, Station: station, Stale: stale, Vehicle: v})
				if err != nil {
					t.Fatal(err)
				}
				var got []byte
				got, scratch = appendStatePayload(scratch[:0], prefix, stale, &v)
				if !bytes.Equal(got, want) {
					t.Fatalf("station %q:\n got %s\nwant %s", station, got, want)
				}
			}
		}
	}
	// A NaN is null, as on the WebSocket stream, and the rest is there.
	nan := fleet.Vehicle{ID: "n", Lat: math.NaN(), Mode: "AUTO"}
	got, _ := appendStatePayload(nil, []byte(`{"schema":1,"stale":`), false, &nan)
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("NaN state %s: %v", got, err)
	}
	if lat, ok := back["lat"]; !ok || lat != nil || back["mode"] != "AUTO" || back["id"] != "n" {
		t.Fatalf("NaN state = %s; want lat null and the other fields", got)
	}
}
