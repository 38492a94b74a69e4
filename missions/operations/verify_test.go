package operations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/missions"
)

// checker is a recorder that also reads missions back: each vehicle
// "holds" what diff says ("" its slot's plan), or cannot be read (err).
type checker struct {
	recorder
	diff    string
	err     error
	checked []string
	uploads []string // "id upload=bool" per launch
}

func (c *checker) Launch(ctx context.Context, id string, p *missions.DronePlan, upload bool, rtlAltM float64, tag Tag) error {
	c.mu.Lock()
	c.uploads = append(c.uploads, fmt.Sprintf("%s upload=%v", id, upload))
	c.mu.Unlock()
	return c.recorder.Launch(ctx, id, p, upload, rtlAltM, tag)
}

func (c *checker) CheckMission(_ context.Context, id string, _ *missions.DronePlan, tag Tag) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked = append(c.checked, id+" "+tag.Mission)
	return c.diff, c.err
}

func (c *checker) seen() (checked, uploads []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.checked), slices.Clone(c.uploads)
}

// restart saves o as the station had it and starts a new manager on the
// saved file with act, as a station restart does.
func restart(t *testing.T, o *Operation, w *world, act Actuator) *Manager {
	t.Helper()
	dir := t.TempDir()
	m0, err := New(Config{DataDir: dir, Fleet: &fakeFleet{vs: w.vs}, Now: func() time.Time { return w.wall }})
	if err != nil {
		t.Fatal(err)
	}
	m0.mu.Lock()
	m0.ops[o.ID] = o
	err = m0.saveLocked()
	m0.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{DataDir: dir, Fleet: &fakeFleet{vs: w.vs}, Act: act, Now: func() time.Time { return w.wall }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A pool drone the station had sent its slot's plan before a restart is
// relaunched without an upload only if it still holds that plan: a
// restarted simulator's drones hold none (before, the relaunch skipped
// the upload on the saved uploaded_slot alone and failed: "no
// MISSION_CURRENT with seq 1"), and another GCS may have changed a real
// drone's mission meanwhile.
func TestRelaunchAfterARestartUploadsUnlessTheVehicleHoldsThePlan(t *testing.T) {
	for _, c := range []struct {
		name   string
		diff   string
		err    error
		upload bool
	}{
		{"mission changed", "mission: vehicle has 1 items, sent 12", nil, true},
		{"mission unreadable", "", errors.New("download mission: timeout"), true},
		{"mission held", "", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
			o := newOp(1, 1, w)
			o.Vehicles[0].Uploaded = 0 // sent slot 0's plan before the restart
			act := &checker{diff: c.diff, err: c.err}
			m := restart(t, o, w, act)
			w.wall = o.Start
			m.Tick(t.Context())
			m.wg.Wait()
			checked, uploads := act.seen()
			want := fmt.Sprintf("u000 upload=%v", c.upload)
			if len(uploads) != 1 || uploads[0] != want || len(checked) != 1 || checked[0] != "u000 op1/slot-0" {
				t.Fatalf("launches %v after checks %v, want %q after one check of op1/slot-0", uploads, checked, want)
			}
			m2, _ := m.Get("op1")
			if v := m2.vehicle("u000"); v.Role != RoleTransit || v.Uploaded != 0 {
				t.Fatalf("u000 is %s holding slot %d's plan, want in transit with slot 0's", v.Role, v.Uploaded)
			}
		})
	}
}

// A drone in the air when the station restarted is not interrupted to
// look at its mission; if it flies something else than its slot's plan
// it is replaced and sent home, if its mission cannot be read it keeps
// flying.
func TestFlyingDroneWithAChangedMissionIsReplacedAfterARestart(t *testing.T) {
	for _, c := range []struct {
		name     string
		diff     string
		err      error
		replaced bool
	}{
		{"mission changed", "mission: item 5: position 1,2, sent 3,4", nil, true},
		{"mission unreadable", "", errors.New("download mission: timeout"), false},
		{"mission held", "", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := &world{vs: map[string]fleet.Vehicle{}, wall: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
			o := newOp(1, 2, w)
			w.wall = o.Start
			a, _ := o.Step(w.wall, w.look)
			if l := acts(a, ActLaunch); len(l) != 1 || l[0] != "u000" {
				t.Fatalf("launched %v, want u000", l)
			}
			o.LaunchDone("u000", true, nil, w.wall)
			w.fly("u000", 95)
			w.wall = w.wall.Add(5 * time.Second)
			o.Step(w.wall, w.look)
			if v := o.vehicle("u000"); v.Role != RoleTransit && v.Role != RoleStation {
				t.Fatalf("u000 is %s, want flying", v.Role)
			}
			act := &checker{diff: c.diff, err: c.err}
			m := restart(t, o, w, act)
			for range 3 {
				w.wall = w.wall.Add(5 * time.Second)
				m.Tick(t.Context())
				m.wg.Wait()
			}
			checked, uploads := act.seen()
			if len(checked) != 1 || checked[0] != "u000 op1/slot-0" {
				t.Fatalf("checks %v, want one of u000's op1/slot-0", checked)
			}
			o2, _ := m.Get("op1")
			v := o2.vehicle("u000")
			done := act.list()
			if c.replaced {
				if v.Role == RoleTransit || v.Role == RoleStation || !slices.Contains(done, "launch u001") || len(uploads) != 1 || uploads[0] != "u001 upload=true" {
					t.Fatalf("u000 is %s (%s), actions %v uploads %v: want it replaced by u001", v.Role, v.Reason, done, uploads)
				}
				return
			}
			if v.Role != RoleTransit && v.Role != RoleStation || len(done) != 0 {
				t.Fatalf("u000 is %s (%s), actions %v: want it flying on, nothing sent", v.Role, v.Reason, done)
			}
		})
	}
}

// A station restart while a launch is unconfirmed (it went unanswered,
// LaunchDone) keeps what the operation knew of it — the unconfirmed
// launch and the unanswered count are saved — and looks at the drone
// again: one that flew after all is kept on its slot, neither relaunched
// nor uploaded again; one still on the ground once startGrace has passed
// since the restart goes back to the pool with its second no-answer
// counted (a retry after the back-off), and another drone flies the slot.
func TestAnUnconfirmedLaunchAfterARestart(t *testing.T) {
	for _, flew := range []bool{true, false} {
		t.Run(fmt.Sprintf("flew=%v", flew), func(t *testing.T) {
			w, o, _ := launchedFirst(t)
			o.Vehicles[0].LaunchNoAnswer = 1 // one earlier launch went unanswered too
			o.LaunchDone("u000", true, errSessionTimeout, w.wall)
			if v := o.vehicle("u000"); !v.LaunchUnconfirmed {
				t.Fatalf("u000 after an unanswered launch: %+v, want unconfirmed", v)
			}
			if flew {
				w.fly("u000", 95)
			}
			act := &checker{}
			m := restart(t, o, w, act)
			m2, _ := m.Get("op1")
			if v := m2.vehicle("u000"); !v.LaunchUnconfirmed || v.LaunchNoAnswer != 1 || v.Role != RoleTransit {
				t.Fatalf("u000 after the restart: %s, unconfirmed %v, no answer %d; want in transit, unconfirmed, 1", v.Role, v.LaunchUnconfirmed, v.LaunchNoAnswer)
			}
			for range 8 {
				w.wall = w.wall.Add(time.Second)
				m.Tick(t.Context())
				m.wg.Wait()
			}
			_, uploads := act.seen()
			m2, _ = m.Get("op1")
			v := m2.vehicle("u000")
			if flew {
				if v.LaunchUnconfirmed || v.Role != RoleTransit && v.Role != RoleStation || m2.Slots[0].VehicleID != "u000" || len(uploads) != 0 {
					t.Fatalf("u000 flew: %s, unconfirmed %v, slot 0 flown by %q, launches %v; want it kept on its slot, nothing relaunched", v.Role, v.LaunchUnconfirmed, m2.Slots[0].VehicleID, uploads)
				}
				return
			}
			if v.Role != RolePool || v.LaunchNoAnswer != 2 || v.RetryAt == nil {
				t.Fatalf("u000 on the ground: %s, no answer %d, retry at %v; want back in the pool, 2, a retry time", v.Role, v.LaunchNoAnswer, v.RetryAt)
			}
			if len(uploads) != 1 || uploads[0] != "u001 upload=true" || m2.Slots[0].VehicleID != "u001" {
				t.Fatalf("launches %v, slot 0 flown by %q: want u001 launched for it", uploads, m2.Slots[0].VehicleID)
			}
		})
	}
}
