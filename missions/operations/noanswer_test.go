package operations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// errSessionTimeout stands for the session's timeout as the app's
// actuator returns it: wrapped in ErrNoAnswer.
var errSessionTimeout = fmt.Errorf("%w: arm: no COMMAND_ACK after 6 attempts: vehicle did not answer in time", ErrNoAnswer)

// unanswered is an Actuator whose launches of the vehicles in its script
// end with the script's errors in turn (nil: the launch goes through);
// with flies set a launch that went unanswered armed the vehicle anyway
// (an arm whose ACK was lost).
type unanswered struct {
	recorder
	w      *world
	mu     sync.Mutex
	script map[string][]error
	flies  map[string]bool
}

func (u *unanswered) Launch(ctx context.Context, id string, p *missions.DronePlan, upload bool, rtlAltM float64, tag Tag) error {
	if err := u.recorder.Launch(ctx, id, p, upload, rtlAltM, tag); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var err error
	if s := u.script[id]; len(s) > 0 {
		err, u.script[id] = s[0], s[1:]
	}
	if err == nil || u.flies[id] {
		u.w.fly(id, 95)
	}
	return err
}

// noAnswerRun is a manager over a one-slot operation of pool drones whose
// launches act scripts; tick steps it once and returns what it sent.
type noAnswerRun struct {
	w    *world
	o    *Operation
	f    *eventFleet
	act  *unanswered
	m    *Manager
	sent []string
}

func newNoAnswerRun(t *testing.T, pool int) *noAnswerRun {
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	r := &noAnswerRun{w: w, o: newOp(1, pool, w)}
	r.f = &eventFleet{fakeFleet: fakeFleet{vs: w.vs}}
	r.act = &unanswered{w: w, script: map[string][]error{}, flies: map[string]bool{}}
	m, err := New(Config{Fleet: r.f, Act: r.act, Now: func() time.Time { return w.wall }})
	if err != nil {
		t.Fatal(err)
	}
	m.ops[r.o.ID] = r.o
	r.m = m
	return r
}

func (r *noAnswerRun) tick(t *testing.T, ctx context.Context) []string {
	n := len(r.act.list())
	r.m.Tick(ctx)
	r.m.wg.Wait()
	got := r.act.list()[n:]
	r.sent = append(r.sent, got...)
	return got
}

// launched lists the vehicles a tick's commands launched.
func launched(done []string) []string {
	var out []string
	for _, d := range done {
		if id, ok := strings.CutPrefix(d, "launch "); ok {
			out = append(out, id)
		}
	}
	return out
}

// opEvents takes f's emitted events and returns the operation events of
// action.
func opEvents(f *eventFleet, action string) []fleet.Event {
	var out []fleet.Event
	for _, e := range f.taken() {
		if a, _ := e.Fields["action"].(string); e.Kind == fleet.EventOperation && a == action {
			out = append(out, e)
		}
	}
	return out
}

// A launch the vehicle did not answer, with the vehicle still on the
// ground, does not fail the drone (the old code failed it at once: a
// crew had to confirm it ready again): after the start grace it is back
// in the pool with a launch_failed event saying it will be retried,
// another drone is launched for the slot on the next tick, the slot
// counts no replacement, and the drone is picked again once the others
// are gone and its back-off is over.
func TestUnansweredLaunchReturnsTheDroneToThePool(t *testing.T) {
	r := newNoAnswerRun(t, 2)
	ctx := t.Context()
	r.act.script["u000"] = []error{errSessionTimeout}
	r.w.wall = r.o.Start.Add(-time.Minute)
	if got := launched(r.tick(t, ctx)); len(got) != 1 || got[0] != "u000" {
		t.Fatalf("first tick launched %v, want u000", got)
	}
	if v := r.o.vehicle("u000"); v.Role != RoleTransit || !v.LaunchUnconfirmed {
		t.Fatalf("after the unanswered launch u000 is %s (unconfirmed %v), want transit and unconfirmed", v.Role, v.LaunchUnconfirmed)
	}
	if len(opEvents(r.f, "launch_unconfirmed")) != 1 {
		t.Fatal("no launch_unconfirmed event")
	}
	// Within the grace nothing is decided and nothing else is launched.
	r.w.wall = r.w.wall.Add(2 * time.Second)
	if got := launched(r.tick(t, ctx)); len(got) != 0 || r.o.vehicle("u000").Role != RoleTransit {
		t.Fatalf("within the grace: launched %v, u000 %s", got, r.o.vehicle("u000").Role)
	}
	// Past it, still on the ground: back to the pool, u001 goes.
	r.w.wall = r.w.wall.Add(4 * time.Second)
	got := launched(r.tick(t, ctx))
	v := r.o.vehicle("u000")
	if v.Role != RolePool || v.LaunchNoAnswer != 1 || v.RetryAt == nil {
		t.Fatalf("u000 after the grace: role %s, no answer %d, retry at %v; want pool, 1, set", v.Role, v.LaunchNoAnswer, v.RetryAt)
	}
	if len(got) != 1 || got[0] != "u001" {
		t.Fatalf("after u000 went back to the pool the station launched %v, want u001", got)
	}
	es := opEvents(r.f, "launch_failed")
	if len(es) != 1 || es[0].VehicleID != "u000" || es[0].Fields["retry"] != true || es[0].Fields["attempts"] != 1 {
		t.Fatalf("launch_failed events %+v, want one for u000 with retry true, attempts 1", es)
	}
	if n := r.o.Slots[0].Replacement; n != 0 {
		t.Fatalf("slot 0 counts %d replacements for a drone that never flew for it", n)
	}
	// u001 covers; later it fails, and u000 (its back-off long over) is
	// picked again and flies.
	r.w.wall = r.o.Start
	r.tick(t, ctx)
	if !r.o.Slots[0].Covered || r.o.Slots[0].VehicleID != "u001" {
		t.Fatalf("slot 0 at the start: %+v", *r.o.Slots[0])
	}
	r.w.wall = r.w.wall.Add(time.Minute)
	set(r.w, "u001", func(v *fleet.Vehicle) { v.Connected = false })
	if got := launched(r.tick(t, ctx)); len(got) != 1 || got[0] != "u000" {
		t.Fatalf("after u001 failed the station launched %v, want u000 again", got)
	}
	if v := r.o.vehicle("u000"); v.Role != RoleTransit || v.LaunchUnconfirmed || v.LaunchNoAnswer != 0 {
		t.Fatalf("u000 relaunched: role %s, unconfirmed %v, no answer %d; want transit, confirmed, 0", v.Role, v.LaunchUnconfirmed, v.LaunchNoAnswer)
	}
}

// Three unanswered launches in a row fail the drone, and not before: with
// a pool of one the same drone is tried after each back-off (5 s, 10 s),
// and the third puts it out with retry false and the slot's replacement
// counted, as a refusal would.
func TestThreeUnansweredLaunchesFailTheDrone(t *testing.T) {
	r := newNoAnswerRun(t, 1)
	ctx := t.Context()
	r.act.script["u000"] = []error{errSessionTimeout, errSessionTimeout, errSessionTimeout}
	r.w.wall = r.o.Start.Add(-time.Minute)
	for i := 0; i < 120; i++ {
		r.tick(t, ctx)
		if r.o.vehicle("u000").Role == RoleFailed {
			break
		}
		r.w.wall = r.w.wall.Add(time.Second)
	}
	if n := len(launched(r.sent)); n != 3 {
		t.Fatalf("u000 was launched %d times, want 3", n)
	}
	v := r.o.vehicle("u000")
	if v.Role != RoleFailed || !strings.Contains(v.Reason, "no answer 3 times") {
		t.Fatalf("u000: role %s reason %q, want failed after 3 unanswered launches", v.Role, v.Reason)
	}
	es := opEvents(r.f, "launch_failed")
	if len(es) != 3 {
		t.Fatalf("%d launch_failed events, want 3", len(es))
	}
	for i, e := range es {
		if want := i < 2; e.Fields["retry"] != want || e.Fields["attempts"] != i+1 {
			t.Fatalf("launch_failed %d: retry %v attempts %v, want %v and %d", i, e.Fields["retry"], e.Fields["attempts"], want, i+1)
		}
	}
	if n := r.o.Slots[0].Replacement; n != 1 {
		t.Fatalf("slot 0 counts %d replacements, want 1 (its own drone failed)", n)
	}
	// Failed, it is not tried again.
	for i := 0; i < 10; i++ {
		r.w.wall = r.w.wall.Add(5 * time.Second)
		if got := launched(r.tick(t, ctx)); len(got) != 0 {
			t.Fatalf("the failed u000 was launched again: %v", got)
		}
	}
}

// An arm whose ACK was lost: the launch returned no answer, but the
// vehicle armed and flies its mission. The next tick sees it flying and
// takes it as launched (launch_confirmed): it is not sent home, not
// launched again, no other drone is launched for the slot, and it goes
// on station as any launched drone.
func TestUnansweredLaunchThatFlewIsKept(t *testing.T) {
	r := newNoAnswerRun(t, 2)
	ctx := t.Context()
	r.act.script["u000"] = []error{errSessionTimeout}
	r.act.flies["u000"] = true
	r.w.wall = r.o.Start.Add(-time.Minute)
	r.tick(t, ctx)
	for i := 0; i < 10; i++ {
		r.w.wall = r.w.wall.Add(time.Second)
		for _, d := range r.tick(t, ctx) {
			t.Fatalf("tick %d after the unanswered launch sent %q", i, d)
		}
	}
	v := r.o.vehicle("u000")
	if v.LaunchUnconfirmed || v.Role != RoleStation || r.o.Slots[0].VehicleID != "u000" {
		t.Fatalf("u000: role %s unconfirmed %v, slot 0 %+v; want on station in slot 0", v.Role, v.LaunchUnconfirmed, *r.o.Slots[0])
	}
	if es := opEvents(r.f, "launch_confirmed"); len(es) != 1 || es[0].VehicleID != "u000" {
		t.Fatalf("launch_confirmed events %+v, want one for u000", es)
	}
	if n := r.o.Slots[0].Replacement; n != 0 || v.Launches != 1 {
		t.Fatalf("replacements %d launches %d, want 0 and 1", n, v.Launches)
	}
}

// A refusal (DENIED) still fails the drone at once, and an unanswered
// upload — nothing was flown — returns it to the pool at once, with no
// start grace to wait.
func TestRefusedAndUnansweredUploadLaunches(t *testing.T) {
	t.Run("denied", func(t *testing.T) {
		r := newNoAnswerRun(t, 2)
		r.act.script["u000"] = []error{errors.New("vehicle u000 refused arm: MAV_RESULT_DENIED")}
		r.w.wall = r.o.Start.Add(-time.Minute)
		r.tick(t, t.Context())
		if v := r.o.vehicle("u000"); v.Role != RoleFailed {
			t.Fatalf("a denied launch left u000 %s, want failed", v.Role)
		}
	})
	t.Run("upload", func(t *testing.T) {
		r := newNoAnswerRun(t, 2)
		r.act.script["u000"] = []error{fmt.Errorf("%w: %w: mission: no MISSION_REQUEST: timeout", ErrNoAnswer, ErrUpload)}
		r.w.wall = r.o.Start.Add(-time.Minute)
		r.tick(t, t.Context())
		v := r.o.vehicle("u000")
		if v.Role != RolePool || v.LaunchNoAnswer != 1 || v.Uploaded != -1 {
			t.Fatalf("after an unanswered upload u000 is %s (no answer %d, uploaded %d), want pool, 1, -1", v.Role, v.LaunchNoAnswer, v.Uploaded)
		}
		r.w.wall = r.w.wall.Add(time.Second)
		if got := launched(r.tick(t, t.Context())); len(got) != 1 || got[0] != "u001" {
			t.Fatalf("the next tick launched %v, want u001", got)
		}
	})
}

// A resume whose speed command failed after AUTO went through (Actuator's
// Resume: AUTO, then DO_CHANGE_SPEED with the plan's speed) leaves the
// drone flying its mission at WPNAV_SPEED: the manager warns
// (resume_failed) and the scheduler sends the resume — AUTO and the speed
// — again on the next tick, though the drone already shows AUTO, until
// one succeeds; then the yield is over and nothing more is sent.
func TestAResumeWhoseSpeedFailedIsSentAgain(t *testing.T) {
	w, o, id, tick := yieldedOnStation(t)
	v := o.vehicle(id)
	resumes := func() []string {
		_, rs, _, _ := tick()
		return rs
	}
	if got := resumes(); len(got) != 1 || got[0] != id {
		t.Fatalf("the way clear: resumes %v, want %s", got, id)
	}
	// AUTO went through, the speed did not.
	set(w, id, func(fv *fleet.Vehicle) { fv.Mode = "AUTO" })
	notes := o.ResumeDone(id, errors.New("DO_CHANGE_SPEED: no COMMAND_ACK after 6 attempts"), 0)
	if len(notes) != 1 || notes[0].Fields["action"] != "resume_failed" {
		t.Fatalf("a failed resume noted %+v, want resume_failed", notes)
	}
	if got := resumes(); len(got) != 1 || got[0] != id {
		t.Fatalf("after the failed speed: resumes %v, want %s again (its speed is still WPNAV_SPEED)", got, id)
	}
	if notes := o.ResumeDone(id, nil, 0); len(notes) != 0 {
		t.Fatalf("a resume that went through noted %+v", notes)
	}
	for i := range 3 {
		if got := resumes(); len(got) != 0 {
			t.Fatalf("tick %d after the resume went through: resumes %v again", i, got)
		}
	}
	if v.YieldTo != "" {
		t.Fatalf("the yield is still on record: %q", v.YieldTo)
	}
}

// An unanswered launch whose outcome comes back after the operation
// ended: nothing watches a drone in transit then (a finished operation
// only sees its returning drones land), so it is sent home at once
// rather than left flying unmanaged; one that stayed on the ground is
// seen landed on the next tick and is back in the pool.
func TestUnansweredLaunchAfterTheEndIsSentHome(t *testing.T) {
	for _, flew := range []bool{true, false} {
		t.Run(fmt.Sprintf("flew %v", flew), func(t *testing.T) {
			w, o, id := launchedFirst(t)
			w.wall = o.End.Add(time.Second)
			o.Step(w.wall, w.look)
			if o.Active() {
				t.Fatalf("the operation is %s after its end", o.State)
			}
			if flew {
				w.fly(id, 95)
			}
			as, _ := o.LaunchDone(id, true, errSessionTimeout, w.wall)
			if got := acts(as, ActReturn); len(got) != 1 || got[0] != id || o.vehicle(id).Role != RoleReturning {
				t.Fatalf("after the end: actions %v, %s %s; want %s sent home", as, id, o.vehicle(id).Role, id)
			}
			w.wall = w.wall.Add(time.Second)
			o.Step(w.wall, w.look)
			if want := map[bool]Role{true: RoleReturning, false: RolePool}[flew]; o.vehicle(id).Role != want {
				t.Fatalf("next tick: %s is %s, want %s", id, o.vehicle(id).Role, want)
			}
		})
	}
}

// launchedFirst is a one-slot operation of two pool drones (u000, u001)
// stepped once a minute before its window: it returns the drone that
// tick launched (the operation waits for its LaunchDone).
func launchedFirst(t *testing.T) (*world, *Operation, string) {
	t.Helper()
	w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	o := newOp(1, 2, w)
	w.wall = o.Start.Add(-time.Minute)
	as, _ := o.Step(w.wall, w.look)
	if l := acts(as, ActLaunch); len(l) != 1 || l[0] != "u000" {
		t.Fatalf("first tick: %v, want u000 launched", as)
	}
	return w, o, "u000"
}

// yieldedOnStation is launchedFirst's drone flying its patrol, braked for a
// return that is gone: the next tick's yields send it on. It returns the
// drone and a tick that steps the operation a second and returns the
// launches, resumes and returns sent, and the notes' actions.
func yieldedOnStation(t *testing.T) (*world, *Operation, string, func() (launches, resumes, returns []string, notes []string)) {
	t.Helper()
	w, o, id := launchedFirst(t)
	o.LaunchDone(id, true, nil, w.wall)
	w.fly(id, 95)
	w.wall = o.Start
	o.Step(w.wall, w.look)
	if v := o.vehicle(id); v.Role != RoleStation {
		t.Fatalf("%s is %s, want on station", id, v.Role)
	}
	since := o.Now(w.wall).Add(-20 * time.Second)
	v := o.vehicle(id)
	v.YieldTo, v.YieldSince = "gone", &since
	set(w, id, func(fv *fleet.Vehicle) { fv.Mode = "BRAKE" })
	return w, o, id, func() (launches, resumes, returns []string, notes []string) {
		w.wall = w.wall.Add(time.Second)
		as, ns := o.Step(w.wall, w.look)
		for _, n := range ns {
			notes = append(notes, fmt.Sprint(n.Fields["action"]))
		}
		return acts(as, ActLaunch), acts(as, ActResume), acts(as, ActReturn), notes
	}
}

// A resume that fails resumeTries times in a row is sent no more, and
// the drone fails — replaced on the same tick and sent home, as a drone
// that refuses RTL three times: one still braked does not take the
// command; one that shows AUTO with its speed unset flies its loop at its
// default speed where the scheduler assumes the plan's. Before the bound
// the resume was sent again on every tick for as long as it failed.
func TestAResumeFailingThreeTimesFailsTheDrone(t *testing.T) {
	for _, c := range []struct {
		name, mode string // the mode the drone shows after each failed resume
		err        error
		reason     string
	}{
		{"refused, still braked", "BRAKE", errors.New("AUTO: COMMAND_ACK DENIED"), "not sent on"},
		{"speed unset, flying AUTO", "AUTO", errors.New("DO_CHANGE_SPEED: no COMMAND_ACK after 6 attempts"), "speed could not be set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, o, id, tick := yieldedOnStation(t)
			sent := 0
			for i := range 10 {
				ls, rs, rtl, ns := tick()
				if len(rs) == 1 {
					sent++
					set(w, id, func(fv *fleet.Vehicle) { fv.Mode = c.mode })
					o.ResumeDone(id, c.err, 0)
					continue
				}
				if sent < resumeTries {
					continue
				}
				if v := o.vehicle(id); v.Role != RoleFailed || !strings.Contains(v.Reason, c.reason) {
					t.Fatalf("tick %d, after %d failed resumes: %s is %s (%q), want failed (%q)", i, sent, id, v.Role, v.Reason, c.reason)
				}
				if len(rtl) != 1 || rtl[0] != id || len(ls) != 1 || ls[0] == id {
					t.Fatalf("on failing it: returns %v, launches %v; want %s sent home and the other drone launched", rtl, ls, id)
				}
				if !strings.Contains(strings.Join(ns, " "), "failed") || o.Slots[0].Replacement != 1 {
					t.Fatalf("notes %v, replacements %d: want a failed note and one replacement", ns, o.Slots[0].Replacement)
				}
				return
			}
			t.Fatalf("resumes sent %d in 10 ticks and %s is %s: want %d, then failed", sent, id, o.vehicle(id).Role, resumeTries)
		})
	}
}
