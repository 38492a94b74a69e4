package control

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTable(t *testing.T, idle time.Duration) (*Table, *clock, *[]Change) {
	t.Helper()
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	var changes []Change
	tb := New(Options{Idle: idle, Now: c.now, OnChange: func(ch Change) { changes = append(changes, ch) }})
	return tb, c, &changes
}

var (
	op1   = Caller{Actor: "op1"}
	op2   = Caller{Actor: "op2"}
	admin = Caller{Actor: "admin", Supervisor: true}
)

func TestTakeRefusesAnotherHolderAndNamesThem(t *testing.T) {
	tb, c, changes := newTable(t, time.Minute)
	h, ch, err := tb.Take(op1, "uav1", false)
	if err != nil || h.Holder != "op1" || ch.Action != ActionTaken || !h.Since.Equal(c.t) {
		t.Fatalf("take: %+v %+v %v", h, ch, err)
	}
	since := c.t
	c.advance(10 * time.Second)
	_, _, err = tb.Take(op2, "uav1", false)
	var he *HeldError
	if !errors.As(err, &he) || he.Holder != "op1" || !he.Since.Equal(since) || he.VehicleID != "uav1" {
		t.Fatalf("op2 take: %v", err)
	}
	// An operator may not take over, even when asking for it.
	if _, _, err := tb.Take(op2, "uav1", true); !errors.Is(err, ErrNotSupervisor) {
		t.Fatalf("op2 takeover: %v, want ErrNotSupervisor", err)
	}
	if h, _ := tb.Get("uav1"); h.Holder != "op1" {
		t.Fatalf("holder after refusals = %q", h.Holder)
	}
	if len(*changes) != 1 {
		t.Fatalf("refusals changed control: %+v", *changes)
	}
	if s := tb.Stats(); s.Refused != 2 || s.Holds != 1 || s.Changes[ActionTaken] != 1 || len(s.Changes) != 1 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestTakingOwnVehicleAgainKeepsSince(t *testing.T) {
	tb, c, changes := newTable(t, time.Minute)
	tb.Take(op1, "uav1", false)
	since := c.t
	c.advance(30 * time.Second)
	h, ch, err := tb.Take(op1, "uav1", false)
	if err != nil || !h.Since.Equal(since) || !h.LastUsed.Equal(c.t) || ch.Action != "" {
		t.Fatalf("retake: %+v %+v %v", h, ch, err)
	}
	if len(*changes) != 1 {
		t.Fatalf("a retake is not a change: %+v", *changes)
	}
}

func TestSupervisorTakeoverNamesBoth(t *testing.T) {
	tb, _, changes := newTable(t, time.Minute)
	tb.Take(op1, "uav1", false)
	if _, _, err := tb.Take(admin, "uav1", false); err == nil {
		t.Fatal("an admin without takeover took a held vehicle")
	}
	h, ch, err := tb.Take(admin, "uav1", true)
	if err != nil || h.Holder != "admin" || ch.Action != ActionTakeover || ch.Previous != "op1" || ch.Holder != "admin" {
		t.Fatalf("takeover: %+v %+v %v", h, ch, err)
	}
	if last := (*changes)[len(*changes)-1]; last != ch {
		t.Fatalf("OnChange saw %+v, want %+v", last, ch)
	}
	// op1 is now refused, naming the admin.
	var he *HeldError
	if _, err := tb.Authorize(op1, "uav1", false, "arm"); !errors.As(err, &he) || he.Holder != "admin" {
		t.Fatalf("op1 after takeover: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	tb, c, changes := newTable(t, time.Minute)
	// A first command takes a free vehicle.
	d, err := tb.Authorize(op1, "uav1", false, "arm")
	if err != nil || !d.Took || d.Hold.Holder != "op1" {
		t.Fatalf("first command: %+v %v", d, err)
	}
	if ch := (*changes)[0]; ch.Action != ActionTaken || !ch.Implicit {
		t.Fatalf("implicit take change: %+v", ch)
	}
	// The holder goes on commanding.
	if d, err := tb.Authorize(op1, "uav1", false, "takeoff"); err != nil || d.Took || d.Bypassed != "" {
		t.Fatalf("holder's command: %+v %v", d, err)
	}
	// Someone else is refused, naming the holder.
	var he *HeldError
	if _, err := tb.Authorize(op2, "uav1", false, "mode"); !errors.As(err, &he) || he.Holder != "op1" {
		t.Fatalf("op2's command: %v", err)
	}
	// Even an admin needs an explicit takeover for a normal command.
	if _, err := tb.Authorize(admin, "uav1", false, "mode"); !errors.As(err, &he) {
		t.Fatalf("admin's command without takeover: %v", err)
	}
	// An emergency command goes past the holder and is reported.
	n := len(*changes)
	d, err = tb.Authorize(op2, "uav1", true, "rtl")
	if err != nil || d.Bypassed != "op1" {
		t.Fatalf("op2's rtl: %+v %v", d, err)
	}
	if ch := (*changes)[n]; ch.Action != ActionBypassed || ch.By != "op2" || ch.Holder != "op1" || ch.Command != "rtl" {
		t.Fatalf("bypass change: %+v", ch)
	}
	if h, _ := tb.Get("uav1"); h.Holder != "op1" {
		t.Fatalf("an emergency command moved control to %q", h.Holder)
	}
	// An emergency command to a free vehicle does not take it.
	c.advance(time.Second)
	if d, err := tb.Authorize(op2, "uav2", true, "land"); err != nil || d.Took {
		t.Fatalf("land to a free vehicle: %+v %v", d, err)
	}
	if _, held := tb.Get("uav2"); held {
		t.Fatal("an emergency command took a free vehicle")
	}
}

func TestIdleTimeoutCountsFromTheLastCommand(t *testing.T) {
	tb, c, changes := newTable(t, time.Minute)
	tb.Take(op1, "uav1", false)
	tb.Take(op2, "uav2", false)
	c.advance(40 * time.Second)
	if _, err := tb.Authorize(op1, "uav1", false, "arm"); err != nil { // restarts uav1's timer
		t.Fatal(err)
	}
	// Another's emergency command does not keep the holder's control alive.
	if _, err := tb.Authorize(op1, "uav2", true, "pause"); err != nil {
		t.Fatal(err)
	}
	c.advance(20 * time.Second) // uav2 idle 60 s, uav1 20 s
	if got := tb.Sweep(); !slices.Equal(got, []string{"uav2"}) {
		t.Fatalf("sweep at 60 s released %v, want [uav2]", got)
	}
	if ch := (*changes)[len(*changes)-1]; ch.Action != ActionExpired || ch.Previous != "op2" || ch.VehicleID != "uav2" {
		t.Fatalf("expiry change: %+v", ch)
	}
	c.advance(39 * time.Second)
	if got := tb.Sweep(); len(got) != 0 {
		t.Fatalf("sweep at 59 s idle released %v", got)
	}
	c.advance(time.Second)
	if got := tb.Sweep(); !slices.Equal(got, []string{"uav1"}) {
		t.Fatalf("sweep released %v, want [uav1]", got)
	}
	if len(tb.List()) != 0 {
		t.Fatalf("holds left: %+v", tb.List())
	}
}

func TestRelease(t *testing.T) {
	tb, _, changes := newTable(t, time.Minute)
	tb.Take(op1, "uav1", false)
	tb.Take(op1, "uav2", false)
	tb.Take(op2, "uav3", false)
	var he *HeldError
	if _, err := tb.Release(op2, "uav1"); !errors.As(err, &he) || he.Holder != "op1" {
		t.Fatalf("op2 releasing op1's vehicle: %v", err)
	}
	if ok, err := tb.Release(op1, "uav1"); !ok || err != nil {
		t.Fatalf("holder's release: %v %v", ok, err)
	}
	if ok, err := tb.Release(op1, "uav1"); ok || err != nil {
		t.Fatalf("releasing a free vehicle: %v %v", ok, err)
	}
	if ok, err := tb.Release(admin, "uav3"); !ok || err != nil {
		t.Fatalf("supervisor's release: %v %v", ok, err)
	}
	if ch := (*changes)[len(*changes)-1]; ch.Action != ActionReleased || ch.By != "admin" || ch.Previous != "op2" {
		t.Fatalf("release change: %+v", ch)
	}
	tb.Take(op1, "uav4", false)
	if got := tb.ReleaseAll("op1", ActionLogout); !slices.Equal(got, []string{"uav2", "uav4"}) {
		t.Fatalf("logout released %v", got)
	}
	if ch := (*changes)[len(*changes)-1]; ch.Action != ActionLogout || ch.Previous != "op1" {
		t.Fatalf("logout change: %+v", ch)
	}
	if len(tb.List()) != 0 {
		t.Fatalf("holds left: %+v", tb.List())
	}
}

func TestTokensHoldByTheirOwnName(t *testing.T) {
	tb, _, _ := newTable(t, time.Minute)
	tok := Caller{Actor: "token:autopilot"}
	tb.Take(tok, "uav1", false)
	var he *HeldError
	if _, err := tb.Authorize(Caller{Actor: "autopilot"}, "uav1", false, "arm"); !errors.As(err, &he) || he.Holder != "token:autopilot" {
		t.Fatalf("a user named like the token commanded its vehicle: %v", err)
	}
}

func TestEmergencyCommands(t *testing.T) {
	for _, c := range []string{"rtl", "land", "pause"} {
		if !Emergency(c) {
			t.Errorf("%s is not an emergency command", c)
		}
	}
	for _, c := range []string{"arm", "disarm", "takeoff", "mode", "goto", "mission_start", "continue", "speed", "command", ""} {
		if Emergency(c) {
			t.Errorf("%s is an emergency command", c)
		}
	}
}

// BenchmarkAuthorize measures the check every command pays, with 1,000
// vehicles held by 10 operators; every other call is a refusal.
func BenchmarkAuthorize(b *testing.B) {
	tb := New(Options{})
	ids := make([]string, 1000)
	callers := make([]Caller, 10)
	for i := range callers {
		callers[i] = Caller{Actor: fmt.Sprintf("op%d", i)}
	}
	for i := range ids {
		ids[i] = fmt.Sprintf("uav-%d", i)
		tb.Take(callers[i%10], ids[i], false)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = tb.Authorize(callers[(i+i%2)%10], ids[i%len(ids)], false, "arm")
	}
}

// An account disabled or a token revoked: every vehicle its holder held
// is freed at once, each change naming the holder and the admin, and the
// other holders keep theirs.
func TestReleaseWhereFreesAGoneHoldersVehicles(t *testing.T) {
	tb, _, changes := newTable(t, time.Minute)
	tok := Caller{Actor: "token:autopilot"}
	tb.Take(op1, "uav1", false)
	tb.Take(op1, "uav3", false)
	tb.Take(op2, "uav2", false)
	tb.Take(tok, "uav4", false)
	asked := map[string]int{}
	gone := map[string]bool{"op1": true, "token:autopilot": true}
	n := len(*changes)
	cs := tb.ReleaseWhere(func(h string) bool { asked[h]++; return gone[h] }, ActionRevoked, "admin")
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.VehicleID)
		if c.Action != ActionRevoked || c.By != "admin" || c.Holder != "" || !gone[c.Previous] {
			t.Errorf("change %+v", c)
		}
	}
	if !slices.Equal(ids, []string{"uav1", "uav3", "uav4"}) {
		t.Fatalf("released %v", ids)
	}
	if got := (*changes)[n:]; len(got) != 3 {
		t.Fatalf("told %d changes, want 3: %+v", len(got), got)
	}
	for h, k := range asked {
		if k != 1 {
			t.Errorf("gone(%q) asked %d times, want once per holder", h, k)
		}
	}
	if hs := tb.List(); len(hs) != 1 || hs[0].Holder != "op2" {
		t.Fatalf("holds left: %+v", hs)
	}
	if st := tb.Stats(); st.Changes[ActionRevoked] != 3 {
		t.Fatalf("revoked changes counted %d", st.Changes[ActionRevoked])
	}
	if cs := tb.ReleaseWhere(func(string) bool { return false }, ActionRevoked, "admin"); len(cs) != 0 {
		t.Fatalf("nobody gone released %+v", cs)
	}
}
