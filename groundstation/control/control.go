// Package control decides which operator commands which vehicle (issue
// 12, "Control between operators"). A vehicle is commanded by the one
// actor that holds its control; a command, upload, parameter set or
// mission change from anyone else is refused with 409 "controlled" naming
// the holder and since when. Admins (supervisors) may take control over
// with takeover; emergency commands (rtl, land, pause) are allowed to
// every operator whoever holds control, and say so in the audit log.
//
// An operator's first command to a free vehicle takes its control
// implicitly (as a pilot who picks up a free aircraft owns it), so a
// single operator never has to think about control at all; a second
// operator then meets the refusal instead of silently fighting the first.
//
// Control is released by its holder (DELETE), by a supervisor, at the
// holder's logout, and after the idle timeout (no command from the holder
// for that long). The table is kept in memory: after a restart every
// vehicle is free, which is safe because taking control is cheap and a
// restart ends every browser session too.
package control

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// DefaultIdle is how long a holder keeps control without commanding (the
// default of --control-idle).
const DefaultIdle = 15 * time.Minute

// Hold is one vehicle's control: who holds it and since when.
type Hold struct {
	VehicleID string    `json:"vehicle_id"`
	Holder    string    `json:"holder"`
	Since     time.Time `json:"since"`
	// LastUsed is the holder's last command or take; the idle timeout
	// counts from it.
	LastUsed time.Time `json:"last_used"`
}

// Caller is who asks: the actor's name as the audit log writes it
// ("token:NAME" for an API token) and whether they are a supervisor
// (admin) who may take control over.
type Caller struct {
	Actor      string
	Supervisor bool
}

// Actions of a Change.
const (
	ActionTaken    = "taken"    // explicitly, or implicitly by a first command (Implicit)
	ActionTakeover = "takeover" // a supervisor took it from Previous
	ActionReleased = "released" // by its holder, or a supervisor (By)
	ActionExpired  = "expired"  // idle timeout
	ActionLogout   = "logout"   // the holder logged out
	ActionBypassed = "bypassed" // an emergency command from By went past Holder's control
	ActionRevoked  = "revoked"  // the holder's account was disabled or removed, or its token revoked (By: the admin)
)

// Change is one change of a vehicle's control (or an emergency bypass),
// handed to the table's OnChange so everyone can be told.
type Change struct {
	VehicleID string    `json:"vehicle_id"`
	Action    string    `json:"action"`
	Holder    string    `json:"holder,omitempty"`   // after the change ("" = free)
	Previous  string    `json:"previous,omitempty"` // before it
	By        string    `json:"by,omitempty"`       // who caused it
	Since     time.Time `json:"since"`
	Implicit  bool      `json:"implicit,omitempty"` // taken by a first command
	Command   string    `json:"command,omitempty"`  // the emergency command of a bypass
}

// HeldError refuses a caller because another actor holds the vehicle.
type HeldError struct {
	VehicleID string
	Holder    string
	Since     time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("vehicle %s is controlled by %s since %s: ask them to release it, or an admin may take over", e.VehicleID, e.Holder, e.Since.UTC().Format(time.RFC3339))
}

// ErrNotSupervisor refuses a takeover by someone who is not an admin.
var ErrNotSupervisor = errors.New("only an admin (supervisor) may take control over from another operator")

// Table is the control of every vehicle. Its methods are safe for
// concurrent use; OnChange is called after the table's lock is released.
type Table struct {
	idle     time.Duration
	now      func() time.Time
	onChange func(Change)

	mu      sync.Mutex
	holds   map[string]Hold
	refused uint64            // requests refused because another holds the vehicle
	changes map[string]uint64 // changes by action
}

// Stats counts refusals and changes since the table was made.
type Stats struct {
	Holds   int
	Refused uint64
	Changes map[string]uint64 // by action
}

// Stats returns the running counts (a copy).
func (t *Table) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Stats{Holds: len(t.holds), Refused: t.refused, Changes: make(map[string]uint64, len(t.changes))}
	for k, v := range t.changes {
		s.Changes[k] = v
	}
	return s
}

// Options configure New.
type Options struct {
	Idle     time.Duration    // 0 = DefaultIdle
	Now      func() time.Time // nil = time.Now (tests pass a fake clock)
	OnChange func(Change)     // nil = nobody is told
}

// New returns an empty table: every vehicle free.
func New(o Options) *Table {
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Table{idle: o.Idle, now: o.Now, onChange: o.OnChange, holds: map[string]Hold{}, changes: map[string]uint64{}}
}

// Idle is the idle timeout.
func (t *Table) Idle() time.Duration { return t.idle }

func (t *Table) tell(cs ...Change) {
	t.mu.Lock()
	for _, c := range cs {
		t.changes[c.Action]++
	}
	t.mu.Unlock()
	if t.onChange == nil {
		return
	}
	for _, c := range cs {
		t.onChange(c)
	}
}

// Get returns the vehicle's hold, if anyone holds it.
func (t *Table) Get(vehicleID string) (Hold, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.holds[vehicleID]
	return h, ok
}

// List returns every hold, by vehicle ID.
func (t *Table) List() []Hold {
	t.mu.Lock()
	out := make([]Hold, 0, len(t.holds))
	for _, h := range t.holds {
		out = append(out, h)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].VehicleID < out[j].VehicleID })
	return out
}

// Take gives c the vehicle's control. Taking one's own vehicle again only
// restarts its idle timer. Another holder's vehicle is refused with a
// *HeldError unless takeover is set by a supervisor (ErrNotSupervisor
// otherwise); the Change then names both.
func (t *Table) Take(c Caller, vehicleID string, takeover bool) (Hold, Change, error) {
	now := t.now()
	t.mu.Lock()
	h, held := t.holds[vehicleID]
	var ch Change
	switch {
	case held && h.Holder == c.Actor:
		h.LastUsed = now
		t.holds[vehicleID] = h
		t.mu.Unlock()
		return h, ch, nil
	case held && !takeover:
		t.refused++
		t.mu.Unlock()
		return h, ch, &HeldError{VehicleID: vehicleID, Holder: h.Holder, Since: h.Since}
	case held && !c.Supervisor:
		t.refused++
		t.mu.Unlock()
		return h, ch, fmt.Errorf("vehicle %s is controlled by %s since %s: %w", vehicleID, h.Holder, h.Since.UTC().Format(time.RFC3339), ErrNotSupervisor)
	case held:
		ch = Change{VehicleID: vehicleID, Action: ActionTakeover, Holder: c.Actor, Previous: h.Holder, By: c.Actor, Since: now}
	default:
		ch = Change{VehicleID: vehicleID, Action: ActionTaken, Holder: c.Actor, By: c.Actor, Since: now}
	}
	h = Hold{VehicleID: vehicleID, Holder: c.Actor, Since: now, LastUsed: now}
	t.holds[vehicleID] = h
	t.mu.Unlock()
	t.tell(ch)
	return h, ch, nil
}

// Release frees the vehicle. Its holder and supervisors may release it;
// anyone else gets a *HeldError. Releasing a free vehicle is not an error
// (released is false).
func (t *Table) Release(c Caller, vehicleID string) (released bool, err error) {
	t.mu.Lock()
	h, held := t.holds[vehicleID]
	switch {
	case !held:
		t.mu.Unlock()
		return false, nil
	case h.Holder != c.Actor && !c.Supervisor:
		t.refused++
		t.mu.Unlock()
		return false, &HeldError{VehicleID: vehicleID, Holder: h.Holder, Since: h.Since}
	}
	delete(t.holds, vehicleID)
	t.mu.Unlock()
	t.tell(Change{VehicleID: vehicleID, Action: ActionReleased, Previous: h.Holder, By: c.Actor, Since: t.now()})
	return true, nil
}

// ReleaseAll frees every vehicle actor holds (action: ActionReleased, or
// ActionLogout at a logout) and returns their IDs.
func (t *Table) ReleaseAll(actor, action string) []string {
	cs := t.ReleaseWhere(func(holder string) bool { return holder == actor }, action, actor)
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.VehicleID
	}
	return ids
}

// ReleaseWhere frees every vehicle whose holder gone(holder) reports, with
// action caused by by, and returns their IDs. The app uses it when an
// account is disabled or removed or a token revoked (ActionRevoked): a
// holder who can no longer command must not keep others off a vehicle
// until the idle timeout. gone is called under the table's lock, once per
// distinct holder: it must be cheap (a map lookup, not a database query)
// and must not call back into the table.
func (t *Table) ReleaseWhere(gone func(holder string) bool, action, by string) []Change {
	now := t.now()
	t.mu.Lock()
	verdict := map[string]bool{}
	var cs []Change
	for id, h := range t.holds {
		g, seen := verdict[h.Holder]
		if !seen {
			g = gone(h.Holder)
			verdict[h.Holder] = g
		}
		if g {
			cs = append(cs, Change{VehicleID: id, Action: action, Previous: h.Holder, By: by, Since: now})
			delete(t.holds, id)
		}
	}
	t.mu.Unlock()
	sort.Slice(cs, func(i, j int) bool { return cs[i].VehicleID < cs[j].VehicleID })
	t.tell(cs...)
	return cs
}

// Decision is what Authorize allowed.
type Decision struct {
	// Took: the vehicle was free and this command took its control.
	Took bool
	// Bypassed names the holder an emergency command went past.
	Bypassed string
	Hold     Hold
}

// Authorize is asked before c changes a vehicle (command, upload,
// parameter, mission). The holder is allowed (and its idle timer
// restarts); a free vehicle is taken by c, unless the command is an
// emergency one, which changes nobody's control; another holder's vehicle
// is refused with a *HeldError, unless the command is an emergency one,
// which goes past it (Decision.Bypassed). command names the command for
// the bypass's Change.
func (t *Table) Authorize(c Caller, vehicleID string, emergency bool, command string) (Decision, error) {
	now := t.now()
	t.mu.Lock()
	h, held := t.holds[vehicleID]
	switch {
	case held && h.Holder == c.Actor:
		h.LastUsed = now
		t.holds[vehicleID] = h
		t.mu.Unlock()
		return Decision{Hold: h}, nil
	case held && emergency:
		t.mu.Unlock()
		t.tell(Change{VehicleID: vehicleID, Action: ActionBypassed, Holder: h.Holder, By: c.Actor, Since: h.Since, Command: command})
		return Decision{Bypassed: h.Holder, Hold: h}, nil
	case held:
		t.refused++
		t.mu.Unlock()
		return Decision{Hold: h}, &HeldError{VehicleID: vehicleID, Holder: h.Holder, Since: h.Since}
	case emergency:
		t.mu.Unlock()
		return Decision{}, nil
	}
	h = Hold{VehicleID: vehicleID, Holder: c.Actor, Since: now, LastUsed: now}
	t.holds[vehicleID] = h
	t.mu.Unlock()
	t.tell(Change{VehicleID: vehicleID, Action: ActionTaken, Holder: c.Actor, By: c.Actor, Since: now, Implicit: true})
	return Decision{Took: true, Hold: h}, nil
}

// Sweep releases every hold whose holder has not commanded for the idle
// timeout, and returns their vehicle IDs. The app calls it periodically;
// tests call it with a fake clock.
func (t *Table) Sweep() []string {
	now := t.now()
	t.mu.Lock()
	var expired []Hold
	for id, h := range t.holds {
		if now.Sub(h.LastUsed) >= t.idle {
			expired = append(expired, h)
			delete(t.holds, id)
		}
	}
	t.mu.Unlock()
	sort.Slice(expired, func(i, j int) bool { return expired[i].VehicleID < expired[j].VehicleID })
	ids := make([]string, 0, len(expired))
	for _, h := range expired {
		ids = append(ids, h.VehicleID)
		t.tell(Change{VehicleID: h.VehicleID, Action: ActionExpired, Previous: h.Holder, Since: now})
	}
	return ids
}
