package scenario

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakePad is a launch pad world: a launched vehicle climbs straight up
// at 2.5 m/s from its home (unless it is stuck), the clock moves 1 s a
// poll, and every launch records the distances of the pad's vehicles
// already up from the launching vehicle's home.
type fakePad struct {
	homes    []enu
	tops     []float64 // takeoff altitudes: climbs end there, then fly east at 8 m/s (NaN: climb for ever)
	stuck    map[int]bool
	refuse   map[int]bool
	t        time.Duration
	up       map[int]time.Duration
	rounds   [][]int
	fast     bool // inside atSpeedup
	fastWait int  // polls made at the speedup
	slowWait int  // polls made at real time
	tooClose []string
}

func (f *fakePad) pos(k int) enu {
	p := f.homes[k]
	if t, ok := f.up[k]; ok && !f.stuck[k] {
		s := (f.t - t).Seconds()
		p[2] += 2.5 * s
		if top := f.tops[k]; p[2] > top { // levelled off at top, then east
			climb := (top - f.homes[k][2]) / 2.5
			p[2], p[0] = top, p[0]+8*(s-climb)
		}
	}
	return p
}

func (f *fakePad) launch(_ context.Context, ks []int) map[int]error {
	if f.fast {
		f.tooClose = append(f.tooClose, "launched at the speedup")
	}
	f.rounds = append(f.rounds, slices.Clone(ks))
	failed := map[int]error{}
	for _, k := range ks {
		for j := range f.up {
			if d := f.pos(j).dist(f.homes[k]); d < 10 {
				f.tooClose = append(f.tooClose, fmt.Sprintf("%d launched with %d %.1f m from its home", k, j, d))
			}
		}
		if f.refuse[k] {
			failed[k] = errors.New("arm: refused")
			continue
		}
		f.up[k] = f.t
	}
	return failed
}

func (f *fakePad) positions(context.Context) ([]enu, error) {
	out := make([]enu, len(f.homes))
	for k := range out {
		out[k] = f.pos(k)
	}
	return out, nil
}

func (f *fakePad) now() time.Duration { return f.t }
func (f *fakePad) name(k int) string  { return fmt.Sprintf("v%d", k) }

func (f *fakePad) pause(context.Context) error {
	if f.fast {
		f.fastWait++
	} else {
		f.slowWait++
	}
	f.t += time.Second
	return nil
}

func (f *fakePad) atSpeedup(fn func() error) error {
	f.fast = true
	defer func() { f.fast = false }()
	return fn()
}

func newFakePad(homes ...enu) *fakePad {
	tops := make([]float64, len(homes))
	for i := range tops {
		tops[i] = math.NaN()
	}
	return &fakePad{homes: homes, tops: tops, stuck: map[int]bool{}, refuse: map[int]bool{}, up: map[int]time.Duration{}}
}

// TestLaunchSequencesSharedPads: vehicles whose homes are within the
// separation launch one at a time, each once the ones before it from its
// pad are clear of its home, waiting at the speedup; pads far apart
// launch together; a vehicle that never gets clear fails the step at the
// bound and the rest are not launched; a vehicle whose launch failed is
// no obstacle.
func TestLaunchSequencesSharedPads(t *testing.T) {
	ctx := context.Background()
	// 0, 1, 2 a chain 5 m apart (0 and 2 are 10 m apart, so each shares
	// a pad with 1 but not with each other); 3 and 4 a pad 500 m away; 5
	// alone 500 m the other way.
	f := newFakePad(enu{0, 0, 0}, enu{5, 0, 0}, enu{10, 0, 0}, enu{500, 0, 0}, enu{500, 3, 0}, enu{-500, 0, 0})
	recs, err := sequenceLaunch(ctx, f, f.homes, f.tops, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{0, 2, 3, 5}, {1, 4}}
	if fmt.Sprint(f.rounds) != fmt.Sprint(want) {
		t.Fatalf("launch rounds %v, want %v", f.rounds, want)
	}
	if len(f.tooClose) > 0 {
		t.Fatalf("launched too early: %v", f.tooClose)
	}
	if f.fastWait == 0 || f.slowWait > 0 {
		t.Fatalf("waited %d polls at the speedup and %d at real time; want all at the speedup", f.fastWait, f.slowWait)
	}
	for _, x := range recs {
		if x.skipped || x.err != nil {
			t.Fatalf("vehicle %d: skipped %v, err %v", x.k, x.skipped, x.err)
		}
		if first := x.k != 1 && x.k != 4; first != (x.waited == 0) || first != (x.at == 0) {
			t.Fatalf("vehicle %d launched at %v after waiting %v", x.k, x.at, x.waited)
		}
	}

	// Three on one pad go one at a time, in order.
	f = newFakePad(enu{0, 0, 0}, enu{3, 0, 0}, enu{0, 3, 0}, enu{200, 0, 0})
	recs, err = sequenceLaunch(ctx, f, f.homes, f.tops, 10, time.Minute)
	if err != nil || fmt.Sprint(f.rounds) != "[[0 3] [1] [2]]" || len(f.tooClose) > 0 || !(recs[2].at > recs[1].at && recs[1].at > 0) {
		t.Fatalf("one pad of three: rounds %v, records %+v, too close %v, err %v", f.rounds, recs, f.tooClose, err)
	}

	// Far apart: one round, no waiting.
	f = newFakePad(enu{0, 0, 0}, enu{100, 0, 0}, enu{0, 100, 0})
	if _, err := sequenceLaunch(ctx, f, f.homes, f.tops, 10, time.Minute); err != nil || len(f.rounds) != 1 || len(f.rounds[0]) != 3 || f.fastWait+f.slowWait != 0 {
		t.Fatalf("far homes: rounds %v, %d polls, err %v; want one round of 3 and no wait", f.rounds, f.fastWait+f.slowWait, err)
	}

	// Never clear: the bound fails the step, the rest are not launched.
	f = newFakePad(enu{0, 0, 0}, enu{4, 0, 0}, enu{8, 0, 0})
	f.stuck[0] = true
	recs, err = sequenceLaunch(ctx, f, f.homes, f.tops, 10, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "v0 is 4.0 m from the home of v1") || !strings.Contains(err.Error(), "after 1m0s") {
		t.Fatalf("a stuck vehicle: err %v", err)
	}
	if len(f.rounds) != 1 || !recs[1].skipped || !recs[2].skipped || recs[0].skipped || f.t < time.Minute {
		t.Fatalf("a stuck vehicle: rounds %v, records %+v at %v", f.rounds, recs, f.t)
	}

	// A failed launch leaves the vehicle on the ground: the next one
	// goes without waiting for it, and the failure is reported.
	f = newFakePad(enu{0, 0, 0}, enu{4, 0, 0})
	f.refuse[0] = true
	recs, err = sequenceLaunch(ctx, f, f.homes, f.tops, 10, time.Minute)
	if err != nil || recs[0].err == nil || recs[1].err != nil || recs[1].skipped || recs[1].waited != 0 || len(f.rounds) != 2 {
		t.Fatalf("a refused launch: err %v, records %+v, rounds %v", err, recs, f.rounds)
	}
}

// Drones on one pad taking off to different altitudes: the next one
// goes only once the one before is clear of its whole climb, not just of
// its home — with the home alone (the old rule) the second, bound for
// 70 m, launched while the first hovered at 30 m over the pad and
// climbed through it. Their distance is watched every second of the
// launch and after.
func TestLaunchKeepsTheClimbClear(t *testing.T) {
	ctx := context.Background()
	for _, known := range []bool{true, false} {
		f := newFakePad(enu{0, 0, 0}, enu{6, 0, 0})
		f.tops = []float64{40, 70} // both fly east once levelled
		tops := []float64{40, 70}
		if !known {
			tops = []float64{math.NaN(), math.NaN()}
		}
		if _, err := sequenceLaunch(ctx, f, f.homes, tops, 30, time.Minute); err != nil {
			t.Fatal(err)
		}
		closest := math.Inf(1)
		for range 60 { // the second's climb and levelling off
			closest = min(closest, f.pos(0).dist(f.pos(1)))
			f.t += time.Second
		}
		switch {
		case known && closest < 30:
			t.Fatalf("climb known: the two came within %.1f m", closest)
		case !known && closest >= 30:
			t.Fatalf("climb not known (the home alone kept clear): closest %.1f m; the test no longer shows the difference", closest)
		}
	}
}

// A vehicle whose home the station does not know cannot be sequenced on
// its pad: the launch step refuses before launching anything, naming
// every such vehicle (it used to launch it in the first round, beside
// whoever shared its pad). With every home known they are metres from
// the first vehicle's.
func TestPadHomesRefuseAVehicleWithoutAHome(t *testing.T) {
	home := func(lat, lon float64) vstate {
		var v vstate
		v.Home = &struct {
			Lat    float64 `json:"lat"`
			Lon    float64 `json:"lon"`
			AltMSL float64 `json:"alt_msl_m"`
		}{lat, lon, 450}
		return v
	}
	byID := map[string]vstate{"a": home(41.3, 69.2), "b": home(41.3+10/111320.0, 69.2), "c": {}}
	name := func(ids []string) func(int) string { return func(k int) string { return "vehicle " + ids[k] } }
	ids := []string{"a", "c", "b", "gone"}
	if _, err := padHomes(ids, byID, name(ids)); err == nil || !strings.Contains(err.Error(), "no home for vehicle c, vehicle gone") || !strings.Contains(err.Error(), "nothing was launched") {
		t.Fatalf("err %v: want a refusal naming c and gone", err)
	}
	ids = []string{"a", "b"}
	hs, err := padHomes(ids, byID, name(ids))
	if err != nil {
		t.Fatal(err)
	}
	if d := hs[1].dist(hs[0]); hs[0] != (enu{}) || d < 9.99 || d > 10.01 {
		t.Fatalf("homes %v: want a at the origin and b 10 m north", hs)
	}
}
