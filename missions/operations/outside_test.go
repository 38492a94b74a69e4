package operations

import (
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// firstLaunch runs the first scheduler step of a one-slot stadium
// operation due now, its one drone parked at the launch point, with
// outside the airborne drones that are not the operation's, and returns
// whether it launched and the notes.
func firstLaunch(t *testing.T, outside ...fleet.Vehicle) (bool, []Note) {
	t.Helper()
	sps := padPlans(t)[:1]
	wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	o := &Operation{ID: "op1", SlotCount: 1, Created: wall, TimeScale: 1, State: StateScheduled, Start: wall, End: wall.Add(time.Hour),
		Plans: sps, Slots: []*Slot{{Index: 0}}, VehicleIDs: []string{"d0"},
		Vehicles: []*VehicleState{{ID: "d0", Role: RolePool, Slot: -1, Uploaded: -1}}}
	o.Params.defaults()
	f := newFrame(sps[0].Plan.Home.Lat, sps[0].Plan.Home.Lon)
	k := &flyer{id: "d0", pct: 100, mode: "GUIDED"}
	look := func(id string) (fleet.Vehicle, bool) {
		if id != "d0" {
			return fleet.Vehicle{}, false
		}
		v := k.vehicle(f, sps[0].Plan.Home)
		v.LastSeen = wall
		return v, true
	}
	o.outside = airborneOutside(o, outside)
	acts, notes := o.Step(wall, look)
	for _, a := range acts {
		if a.Kind == ActLaunch {
			return true, notes
		}
	}
	return false, notes
}

// outsider is an airborne drone that is not the operation's, at x, y, z
// metres from the stadium pad's launch point, flying at vn, ve m/s.
func outsider(t *testing.T, id string, x, y, z, vn, ve float64) fleet.Vehicle {
	h := padPlans(t)[0].Plan.Home
	ll := newFrame(h.Lat, h.Lon).ll(p3{x, y, z})
	return fleet.Vehicle{ID: id, Connected: true, Armed: true, LandedState: "in_air", GPSFix: 3, Mode: "LOITER",
		Lat: ll[1], Lon: ll[0], RelativeAlt: z, VelNorth: vn, VelEast: ve, GroundSpeed: vn*vn + ve*ve}
}

// Pad sequencing sees every airborne drone of the fleet, not only the
// operation's: an operator's drone hovering 15 m over the launch point,
// or flying towards it and due over it within the monitor's horizon,
// holds the launch (launch_waiting naming it); one far away, or flying
// away, or on the ground, does not. Before, the pad judged only the
// operation's own drones and launched under it.
func TestPadSeesDronesOutsideTheOperation(t *testing.T) {
	launched, notes := firstLaunch(t, outsider(t, "manual-1", 5, 0, 15, 0, 0))
	if launched {
		t.Fatal("launched under a drone outside the operation hovering 15 m over the pad")
	}
	why := ""
	for _, n := range notes {
		if n.Fields["action"] == "launch_waiting" {
			why = n.Message
		}
	}
	if !strings.Contains(why, "manual-1, flying outside the operation, is") || !strings.Contains(why, "now") {
		t.Errorf("launch_waiting note %q: want it to name manual-1 and when", why)
	}
	// 250 m west at 15 m, flying east at 15 m/s: over the pad in ~17 s.
	launched, notes = firstLaunch(t, outsider(t, "manual-2", -250, 0, 15, 0, 15))
	if launched {
		t.Fatal("launched into the way of a drone outside the operation due over the pad in 17 s")
	}
	if !strings.Contains(notesText(notes), "manual-2") || !strings.Contains(notesText(notes), "in 1") {
		t.Errorf("notes %q: want manual-2 named, due in some seconds", notesText(notes))
	}
	for _, c := range []struct {
		name string
		v    fleet.Vehicle
	}{
		{"600 m away", outsider(t, "far", -600, 0, 15, 0, 0)},
		{"flying away", outsider(t, "away", -60, 0, 15, 0, -12)},
		{"on the ground", func() fleet.Vehicle {
			v := outsider(t, "parked", 5, 0, 0, 0, 0)
			v.Armed, v.LandedState = false, "on_ground"
			return v
		}()},
	} {
		if launched, notes := firstLaunch(t, c.v); !launched {
			t.Errorf("%s: not launched: %s", c.name, notesText(notes))
		}
	}
	// The operation's own drones are not judged as outsiders.
	if got := airborneOutside(&Operation{Vehicles: []*VehicleState{{ID: "d0"}}}, []fleet.Vehicle{outsider(t, "d0", 0, 0, 20, 0, 0), outsider(t, "x", 0, 0, 20, 0, 0)}); len(got) != 1 || got[0].ID != "x" {
		t.Errorf("airborneOutside: %v", got)
	}
}

func notesText(ns []Note) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(n.Message + "; ")
	}
	return b.String()
}

// listingFleet is a fleet that can list every vehicle, as *fleet.Fleet.
type listingFleet struct {
	fakeFleet
	all []fleet.Vehicle
}

func (f *listingFleet) List() []fleet.Vehicle { return f.all }

// The Manager hands each active operation every airborne drone of the
// fleet that is not its own, each tick: another operation's, an
// operator's; not its own drones, not drones on the ground.
func TestManagerSeesEveryAirborneDrone(t *testing.T) {
	own := outsider(t, "u1", 0, 0, 20, 0, 0)
	other := outsider(t, "other-op-drone", 40, 0, 30, 0, 0)
	parked := outsider(t, "parked", 10, 0, 0, 0, 0)
	parked.Armed, parked.LandedState = false, "on_ground"
	lf := &listingFleet{fakeFleet: fakeFleet{vs: map[string]fleet.Vehicle{"u1": own}}, all: []fleet.Vehicle{own, other, parked}}
	m, err := New(Config{Fleet: lf})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	o, err := m.Create(Spec{AreaID: "a1", Pattern: "perimeter", VehicleIDs: []string{"u1"}, Start: now, End: now.Add(time.Hour), Plans: padPlans(t)[:1]})
	if err != nil {
		t.Fatal(err)
	}
	m.Tick(t.Context())
	m.mu.Lock()
	got := m.ops[o.ID].outside
	m.mu.Unlock()
	if len(got) != 1 || got[0].ID != "other-op-drone" {
		t.Fatalf("outside after a tick: %v, want other-op-drone only", got)
	}
}

// A drone of the operation flying home (RTL, 100 m out at its return
// altitude) is held while a drone outside the operation hovers on its way
// in (40 m from the pad at the same height): pad_hold naming it. Without
// it, or with it 300 m off to the side, the drone is let in.
func TestLandingHeldForADroneOutsideTheOperation(t *testing.T) {
	sps := padPlans(t)[:1]
	z := rtlAlt(sps[0].Plan)
	run := func(outside ...fleet.Vehicle) []Note {
		wall := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
		o := &Operation{ID: "op1", SlotCount: 1, Created: wall, TimeScale: 1, State: StateRunning, Start: wall.Add(-time.Hour), End: wall.Add(time.Hour),
			Plans: sps, Slots: []*Slot{{Index: 0}}, VehicleIDs: []string{"d0"},
			Vehicles: []*VehicleState{{ID: "d0", Role: RoleReturning, Slot: 0, Uploaded: 0}}}
		o.Params.defaults()
		o.Last = wall
		f := newFrame(sps[0].Plan.Home.Lat, sps[0].Plan.Home.Lon)
		k := &flyer{id: "d0", pct: 60, mode: "RTL", armed: true, p: p3{100, 0, z}}
		look := func(id string) (fleet.Vehicle, bool) {
			if id != "d0" {
				return fleet.Vehicle{}, false
			}
			v := k.vehicle(f, sps[0].Plan.Home)
			v.LastSeen, v.VelEast = wall, -10
			return v, true
		}
		o.outside = airborneOutside(o, outside)
		_, notes := o.Step(wall, look)
		return notes
	}
	held := func(ns []Note) string {
		for _, n := range ns {
			if n.Fields["action"] == "pad_hold" {
				return n.Message
			}
		}
		return ""
	}
	if why := held(run(outsider(t, "manual-1", 40, 0, z, 0, 0))); !strings.Contains(why, "manual-1") {
		t.Errorf("a drone outside the operation hovering on the way in: pad_hold %q, want it held naming manual-1", why)
	}
	if why := held(run()); why != "" {
		t.Errorf("nothing in the way: held: %s", why)
	}
	if why := held(run(outsider(t, "aside", 0, 300, z, 0, 0))); why != "" {
		t.Errorf("a drone 300 m aside: held: %s", why)
	}
}
