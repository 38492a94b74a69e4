package operations

import (
	"math"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// double is the kinematic double the pad and cross-slot tests fly
// (flyPadAt, crossSlotFly): point-mass flyers (handover_test.go) over the
// slot plans sps, moved every 0.1 s, and the operation stepped every
// second with its actions played to them as the station's commands
// would be.
type double struct {
	o      *Operation
	sps    []SlotPlan
	f      frame
	fl     map[string]*flyer
	ids    []string       // the flyers, in the order they are added
	slotOf map[string]int // the slot each flies for (0 until launched)
	wall   time.Time      // the operation's wall clock now
	notes  []Note
	// A launched flyer waits launchWait seconds armed on its home, then
	// flies its slot's mission draining drain %/s.
	launchWait, drain float64
}

// newDouble is a double of o, flying sps, at wall time wall.
func newDouble(o *Operation, sps []SlotPlan, wall time.Time) *double {
	return &double{o: o, sps: sps, f: newFrame(sps[0].Plan.Home.Lat, sps[0].Plan.Home.Lon),
		fl: map[string]*flyer{}, slotOf: map[string]int{}, wall: wall}
}

// add puts k in the double, flying for slot.
func (d *double) add(k *flyer, slot int) {
	d.fl[k.id], d.slotOf[k.id] = k, slot
	d.ids = append(d.ids, k.id)
}

// look is the operation's view of the flyers: each state received now.
func (d *double) look(id string) (fleet.Vehicle, bool) {
	k, ok := d.fl[id]
	if !ok {
		return fleet.Vehicle{}, false
	}
	v := k.vehicle(d.f, d.sps[0].Plan.Home)
	v.LastSeen = d.wall
	return v, true
}

// fly runs the double for at most limit seconds from its wall time: every
// 0.1 s it moves the flyers, then calls moved with the seconds flown
// (true ends the run); every second it steps the operation, plays its
// actions, then calls ticked (true ends the run). It reports whether a
// callback ended the run (false: the limit did).
func (d *double) fly(limit float64, moved func(now float64) bool, ticked func() bool) bool {
	const dt = 0.1
	start := d.wall
	for tick := 0; tick < int(math.Round(limit/dt)); tick++ {
		now := float64(tick) * dt
		d.wall = start.Add(secs(now))
		for _, id := range d.ids {
			sp := d.sps[d.slotOf[id]]
			d.fl[id].step(sp.Plan.MissionWithHome(), d.f, sp.Plan.Speed, dt)
		}
		if moved != nil && moved(now) {
			return true
		}
		if tick%10 != 0 { // the scheduler ticks every second
			continue
		}
		acts, notes := d.o.Step(d.wall, d.look)
		d.notes = append(d.notes, notes...)
		for _, a := range acts {
			d.play(a)
		}
		if ticked != nil && ticked() {
			return true
		}
	}
	return false
}

// over says whether the operation's window is over, nothing of it is
// flying home any more and every flyer has landed.
func (d *double) over() bool {
	if d.wall.Before(d.o.End) || d.o.Active() || d.o.returning() {
		return false
	}
	for _, k := range d.fl {
		if k.armed {
			return false
		}
	}
	return true
}

// play carries out a on its flyer at once, and reports it done.
func (d *double) play(a Action) {
	k := d.fl[a.VehicleID]
	switch a.Kind {
	case ActLaunch:
		d.o.LaunchDone(a.VehicleID, true, nil, d.wall)
		d.slotOf[a.VehicleID] = a.Slot
		k.rtlZ = rtlAlt(d.sps[a.Slot].Plan)
		k.started = true
		k.armed, k.mode, k.seq, k.p, k.drain = true, "AUTO", 1, k.home, d.drain
		k.wait = d.launchWait
	case ActContinue:
		k.seq = a.Seq
		d.o.ContinueDone(a.VehicleID, nil, 0)
	case ActReturn:
		if a.RTLAlt > 0 {
			k.rtlZ = a.RTLAlt
		}
		k.mode, k.climbTo = "RTL", 0 // an RTL begins again (after a hold too)
		d.o.ReturnDone(a.VehicleID, nil, d.wall, 0)
	case ActHold:
		k.mode = "BRAKE"
		d.o.HoldDone(a.VehicleID, nil, 0)
	case ActResume:
		k.mode = "AUTO"
		d.o.ResumeDone(a.VehicleID, nil, 0)
	}
}
