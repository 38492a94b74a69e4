package groundstation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// UploadOptions tunes a verified upload.
type UploadOptions struct {
	// Verify reads the list back after the upload and compares it item by
	// item; a difference counts as a failed attempt.
	Verify bool
	// Attempts is how many upload (+ verify) rounds to try (default 3).
	Attempts int
	// Progress, if set, reports items sent in the current attempt.
	Progress func(done, total int)
	// Mission and EventArea tag the vehicle's state and stored telemetry
	// (fleet.Vehicle.Mission/EventArea) when a mission list is uploaded:
	// the plan and area IDs for an upload from a plan assignment, empty
	// for a raw upload. A mission upload always replaces the tags — a
	// failed one clears them, since the vehicle may no longer hold the
	// tagged mission — and they last until the mission completes or the
	// next mission upload or clear. Ignored for fences and rally points.
	Mission, EventArea string
}

// UploadReport is the per-vehicle outcome of an upload, as the HTTP API
// and group operations return it.
type UploadReport struct {
	VehicleID string        `json:"vehicle_id"`
	Type      string        `json:"type"`
	Items     int           `json:"items"`
	Attempts  int           `json:"attempts"`
	Verified  bool          `json:"verified"`
	Duration  time.Duration `json:"duration_ns"`
	Error     string        `json:"error,omitempty"`
}

// ErrNotVerified is returned (wrapped, with the first difference) when
// every attempt's read-back differed from the list sent: the vehicle keeps
// something else than it was given. The HTTP API maps it to 422 refused.
var ErrNotVerified = errors.New("read-back differs from the list sent")

// Upload replaces a vehicle's mission, fence or rally list. With Verify it
// reads the list back and compares it field by field, tolerating
// ArduPilot's normalisations (see sameItems), and retries the whole
// transfer up to Attempts times on a link failure or a mismatch. A
// vehicle's explicit refusal (MAV_MISSION_NO_SPACE, UNSUPPORTED…) is not
// retried: sending the same list again would be refused again. Items are
// renumbered 0..n-1 and stamped with t.
func (s *Station) Upload(ctx context.Context, vehicleID string, t mavitem.MissionType, items []mavitem.Item, o UploadOptions) (UploadReport, error) {
	start := time.Now()
	rep := UploadReport{VehicleID: vehicleID, Type: t.String(), Items: len(items)}
	var ts *transferState // the vehicle's Transfer, once it is known
	fail := func(err error) (UploadReport, error) {
		rep.Duration = time.Since(start)
		rep.Error = err.Error()
		if ts != nil {
			ts.end(fleet.TransferFailed, err)
		}
		return rep, err
	}
	rec := s.reg.get(vehicleID)
	if rec == nil {
		return fail(fmt.Errorf("vehicle %q: %w", vehicleID, ErrUnknownVehicle))
	}
	ts = newTransferState(s.fleet, vehicleID, t.String(), len(items))
	progress := func(done, total int) {
		ts.progress(done, total)
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	want := make([]mavitem.Item, len(items))
	for i, it := range items {
		it.Seq = uint16(i)
		it.MissionType = t
		want[i] = it
	}
	// Whatever the outcome the list may have changed; a verified upload
	// keeps its read-back as what the vehicle holds.
	rec.lists.invalidate(t)
	defer func() {
		if !rep.Verified {
			rec.lists.invalidate(t)
		}
	}()
	if t == mavitem.TypeMission {
		// Whatever the outcome, the tags describe what is on board after it.
		defer func() {
			mission, area := o.Mission, o.EventArea
			if rep.Error != "" {
				mission, area = "", ""
			}
			s.fleet.SetAssignment(vehicleID, mission, area)
		}()
	}
	var lastErr error
	for a := 1; a <= o.Attempts; a++ {
		rep.Attempts = a
		ts.attempt(a)
		err := whenFree(ctx, func() error { return rec.sess.Upload(ctx, t, want, progress) })
		if err != nil {
			lastErr = fmt.Errorf("upload %s to vehicle %s (attempt %d): %w", t, vehicleID, a, err)
			if ctx.Err() != nil || !retryable(err) {
				break
			}
			s.log.Debug("upload attempt failed", "vehicle", vehicleID, "attempt", a, "error", err)
			continue
		}
		if t == mavitem.TypeMission {
			rec.missionItems.Store(int64(len(want)))
		}
		if !o.Verify {
			rep.Duration = time.Since(start)
			ts.end(fleet.TransferUploaded, nil)
			return rep, nil
		}
		ts.verifying()
		var got []mavitem.Item
		err = whenFree(ctx, func() (err error) {
			got, err = rec.sess.Download(ctx, t, nil)
			return err
		})
		if err != nil {
			lastErr = fmt.Errorf("read back %s from vehicle %s (attempt %d): %w", t, vehicleID, a, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if diff := sameItems(t, want, got); diff != "" {
			lastErr = fmt.Errorf("verify %s on vehicle %s (attempt %d): %w: %s", t, vehicleID, a, ErrNotVerified, diff)
			s.log.Warn("upload verification failed", "vehicle", vehicleID, "attempt", a, "diff", diff)
			continue
		}
		rep.Verified = true
		rec.lists.set(t, got)
		rep.Duration = time.Since(start)
		ts.end(fleet.TransferVerified, nil)
		return rep, nil
	}
	return fail(lastErr)
}

// busyWait bounds how long a transfer waits for the vehicle's slot of its
// mission type while another transfer holds it (session.ErrBusy): a
// console reading a vehicle's on-board mission right when an operator
// uploads one, or two consoles reading it at once. Such a transfer takes
// seconds, so waiting for it beats failing the operator's upload.
const busyWait = 15 * time.Second

// busyPoll is how often a waiting transfer tries the slot again.
const busyPoll = 100 * time.Millisecond

// whenFree runs fn, again every busyPoll while it fails with
// session.ErrBusy, for at most busyWait or until ctx ends; it returns
// fn's last error.
func whenFree(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(busyWait)
	for {
		err := fn()
		if !errors.Is(err, session.ErrBusy) || !time.Now().Before(deadline) {
			return err
		}
		t := time.NewTimer(busyPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// retryable tells a failed transfer worth repeating (timeouts, a transfer
// cancelled or out of sequence under loss) from a refusal that would only
// repeat.
func retryable(err error) bool {
	var me *session.MissionError
	if errors.As(err, &me) {
		switch me.Result {
		case 1, 13, 15: // MAV_MISSION_ERROR, INVALID_SEQUENCE, OPERATION_CANCELLED
			return true
		}
		return false
	}
	return !errors.Is(err, ErrUnknownVehicle) && !errors.Is(err, session.ErrClosed)
}

// sameItems compares an uploaded list with its read-back and describes
// the first difference ("" = equal). Tolerated, because ArduPilot does
// this to every list: item 0 of a mission (ArduPilot rewrites it with the
// home position), the current and autocontinue flags, the _INT and non-INT
// variants of a frame, float32 rounding of params and altitude stored in
// centimetres. An empty mission reads back as home alone: ArduPilot always
// keeps home as item 0.
func sameItems(t mavitem.MissionType, want, got []mavitem.Item) string {
	if t == mavitem.TypeMission && len(want) == 0 && len(got) == 1 && got[0].Seq == 0 {
		return ""
	}
	if len(want) != len(got) {
		return fmt.Sprintf("vehicle has %d items, sent %d", len(got), len(want))
	}
	for i := range want {
		if t == mavitem.TypeMission && i == 0 {
			continue
		}
		w, g := want[i], got[i]
		switch {
		case g.Seq != uint16(i):
			return fmt.Sprintf("item %d: seq %d", i, g.Seq)
		case w.Command != g.Command:
			return fmt.Sprintf("item %d: command %d, sent %d", i, g.Command, w.Command)
		case hasLocation(w.Command) && baseFrame(w.Frame) != baseFrame(g.Frame):
			return fmt.Sprintf("item %d: frame %d, sent %d", i, g.Frame, w.Frame)
		case w.X != g.X || w.Y != g.Y:
			return fmt.Sprintf("item %d: position %d,%d, sent %d,%d", i, g.X, g.Y, w.X, w.Y)
		case !closeEnough(w.Z, g.Z, 0.01):
			return fmt.Sprintf("item %d: z %g, sent %g", i, g.Z, w.Z)
		}
		wp := [4]float32{w.Param1, w.Param2, w.Param3, w.Param4}
		gp := [4]float32{g.Param1, g.Param2, g.Param3, g.Param4}
		for k := range wp {
			if !closeEnough(wp[k], gp[k], 1e-4) {
				return fmt.Sprintf("item %d: param%d %g, sent %g", i, k+1, gp[k], wp[k])
			}
		}
	}
	return ""
}

// hasLocation reports whether ArduPilot stores an item's frame. It keeps
// the frame only of commands that carry a position; for the others (RTL,
// DO_JUMP, DO_CHANGE_SPEED…) it answers frame 0 whatever was sent, as the
// recorded ArduCopter 4.7 does with NAV_RETURN_TO_LAUNCH sent in frame 3.
func hasLocation(cmd uint16) bool {
	switch cmd {
	case 16, 17, 18, 19, 21, 22, 31, 82, 84, 85, 94, 189, 195, 201,
		5001, 5002, 5003, 5004, 5100:
		return true
	}
	return false
}

// baseFrame maps MAV_FRAME *_INT variants to their plain frame.
func baseFrame(f uint8) uint8 {
	switch f {
	case 5: // GLOBAL_INT
		return 0
	case 6: // GLOBAL_RELATIVE_ALT_INT
		return 3
	case 11: // GLOBAL_TERRAIN_ALT_INT
		return 10
	}
	return f
}

func closeEnough(a, b float32, abs float64) bool {
	fa, fb := float64(a), float64(b)
	if math.IsNaN(fa) || math.IsNaN(fb) {
		return math.IsNaN(fa) && math.IsNaN(fb)
	}
	return math.Abs(fa-fb) <= abs+1e-6*math.Max(math.Abs(fa), math.Abs(fb))
}

// Download reads a vehicle's mission, fence or rally list: the station's
// copy while it is known to be current, else from the vehicle, one
// download shared by every caller meanwhile (listcache.go).
func (s *Station) Download(ctx context.Context, vehicleID string, t mavitem.MissionType) ([]mavitem.Item, error) {
	rec := s.reg.get(vehicleID)
	if rec == nil {
		return nil, fmt.Errorf("vehicle %q: %w", vehicleID, ErrUnknownVehicle)
	}
	items, err := rec.lists.get(ctx, t, func(ctx context.Context) (items []mavitem.Item, err error) {
		err = whenFree(ctx, func() (err error) {
			items, err = rec.sess.Download(ctx, t, nil)
			return err
		})
		return items, err
	})
	if err != nil {
		return nil, fmt.Errorf("download %s from vehicle %s: %w", t, vehicleID, err)
	}
	if t == mavitem.TypeMission {
		rec.missionItems.Store(int64(len(items)))
	}
	return items, nil
}

// MissionItem is item seq of the vehicle's mission as the station last
// uploaded or read it, if it keeps a copy that no signal has invalidated
// (listcache.go), whatever its age; it never talks to the vehicle.
func (s *Station) MissionItem(vehicleID string, seq int) (mavitem.Item, bool) {
	rec := s.reg.get(vehicleID)
	if rec == nil {
		return mavitem.Item{}, false
	}
	return rec.lists.peek(mavitem.TypeMission, seq)
}

// Clear removes a vehicle's mission, fence or rally list
// (MISSION_CLEAR_ALL). Clearing the mission also ends its assignment: the
// vehicle's mission and event-area tags are cleared whatever the outcome,
// as after a failed upload.
func (s *Station) Clear(ctx context.Context, vehicleID string, t mavitem.MissionType) error {
	rec := s.reg.get(vehicleID)
	if rec == nil {
		return fmt.Errorf("vehicle %q: %w", vehicleID, ErrUnknownVehicle)
	}
	err := rec.sess.Clear(ctx, t)
	rec.lists.invalidate(t)
	if t == mavitem.TypeMission {
		s.fleet.SetAssignment(vehicleID, "", "")
		rec.missionItems.Store(0) // unknown until the next transfer or MISSION_CURRENT
	}
	if err != nil {
		return fmt.Errorf("clear %s on vehicle %s: %w", t, vehicleID, err)
	}
	return nil
}

// GroupResult is one vehicle's outcome of a group operation.
type GroupResult struct {
	VehicleID string `json:"vehicle_id"`
	OK        bool   `json:"ok"`
	Result    any    `json:"result,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Group runs fn for every vehicle in parallel, at most concurrency at once
// (default 32), and returns one result per vehicle in input order: "the
// same command to all vehicles" with a per-vehicle answer. An unknown
// vehicle gets an error result without calling fn; a cancelled ctx fails
// the vehicles not yet started.
func (s *Station) Group(ctx context.Context, vehicleIDs []string, concurrency int, fn func(ctx context.Context, vehicleID string) (any, error)) []GroupResult {
	if concurrency <= 0 {
		concurrency = 32
	}
	out := make([]GroupResult, len(vehicleIDs))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, id := range vehicleIDs {
		out[i].VehicleID = id
		if s.reg.get(id) == nil {
			out[i].Error = fmt.Errorf("vehicle %q: %w", id, ErrUnknownVehicle).Error()
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i].Error = ctx.Err().Error()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := fn(ctx, id)
			out[i].Result = res
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].OK = true
		}()
	}
	wg.Wait()
	return out
}
