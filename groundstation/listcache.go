package groundstation

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// listCacheMaxAge bounds how long a list read from a vehicle is served
// without reading it again. The signals below catch every change this
// station makes and every change of the mission's length, but ArduPilot
// names no version of its lists: a recorded ArduCopter 4.7 session sends
// MISSION_CURRENT's mission_id, fence_id and rally_points_id and the
// opaque_id of MISSION_ACK and MISSION_COUNT as 0 after mission, fence and
// rally uploads (simulator's TestAnswersMatchRecordedArduCopter holds the
// simulator to it), and ArduPilot's opaque-ID work (ardupilot#20834) is
// not merged. So a list another ground station replaced by one of the same
// length, on a channel whose MISSION_ACK this station does not see, is
// seen only when the cached copy expires. Vehicles that send the IDs
// (PX4) are caught at once by them.
const listCacheMaxAge = 30 * time.Second

// listCache keeps a vehicle's on-board mission, fence and rally lists as
// last read, so that every console showing a vehicle's mission costs the
// link one MAVLink download, not one per console: concurrent reads share
// one download, later reads get the copy. A copy is dropped when the list
// may have changed:
//   - this station uploads or clears the list (Upload keeps the verified
//     read-back instead: it is what the vehicle holds);
//   - the vehicle sends MISSION_ACK for that list, which it does only at
//     the end of an upload or clear, this station's or another's;
//   - MISSION_CURRENT's total or MISSION_COUNT's count disagrees with the
//     cached mission's length, or MISSION_CURRENT's mission_id, fence_id
//     or rally_points_id changes (PX4 sends them; ArduPilot sends 0);
//   - the vehicle's link is regained (anything may have happened) or it
//     rebooted (BRD_SD_MISSION and BRD_SD_FENCE move storage at boot);
//   - listCacheMaxAge has passed.
//
// A download that was under way when its list was dropped still answers
// its callers but is not kept.
type listCache struct {
	mu    sync.Mutex
	lists [3]cachedList // by mavitem.MissionType: mission, fence, rally

	// the list IDs of the last MISSION_CURRENT (none while seen is false)
	seen bool
	ids  [3]uint32

	waiters   int           // callers waiting for another's download (tests)
	downloads atomic.Uint64 // lists read from the vehicle for callers of get
	hits      atomic.Uint64 // reads answered from the cache or a shared download
}

type cachedList struct {
	items  []mavitem.Item
	at     time.Time // when read; zero: nothing kept
	gen    uint64    // bumped whenever the list may have changed
	flight *listFlight
}

// listFlight is one download shared by every caller that asks meanwhile.
type listFlight struct {
	done  chan struct{}
	items []mavitem.Item
	err   error
}

func (c *listCache) list(t mavitem.MissionType) *cachedList {
	if int(t) < len(c.lists) {
		return &c.lists[t]
	}
	return nil
}

// get returns list t, from the cache when a copy is kept, else from the
// one download under way, else from a new download by fetch (run with the
// caller's ctx). A caller that joined a download whose starter gave up
// (its context ended) downloads itself.
func (c *listCache) get(ctx context.Context, t mavitem.MissionType, fetch func(context.Context) ([]mavitem.Item, error)) ([]mavitem.Item, error) {
	l := c.list(t)
	if l == nil {
		c.downloads.Add(1)
		return fetch(ctx)
	}
	for {
		c.mu.Lock()
		if !l.at.IsZero() && time.Since(l.at) < listCacheMaxAge {
			items := slices.Clone(l.items)
			c.mu.Unlock()
			c.hits.Add(1)
			return items, nil
		}
		if f := l.flight; f != nil {
			c.waiters++
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
			}
			c.mu.Lock()
			c.waiters--
			c.mu.Unlock()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				continue
			}
			c.hits.Add(1)
			return slices.Clone(f.items), f.err
		}
		f := &listFlight{done: make(chan struct{})}
		l.flight = f
		gen := l.gen
		c.mu.Unlock()

		c.downloads.Add(1)
		f.items, f.err = fetch(ctx)
		c.mu.Lock()
		if l.flight == f {
			l.flight = nil
		}
		// Kept even when it disagrees with the last MISSION_CURRENT total,
		// which may predate the list's change: a vehicle sends in order, so
		// a total sent after the download judges it (observeCurrent).
		if f.err == nil && l.gen == gen {
			l.items, l.at = f.items, time.Now()
		}
		c.mu.Unlock()
		close(f.done)
		return slices.Clone(f.items), f.err
	}
}

// peek returns item seq of list t from the station's copy, if one is
// kept, without reading the vehicle and whatever the copy's age: for
// callers that want a hint now (the separation monitor's target
// altitudes, every half second for every climbing drone), not the
// freshest list.
func (c *listCache) peek(t mavitem.MissionType, seq int) (mavitem.Item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.list(t)
	if l == nil || l.at.IsZero() || seq < 0 || seq >= len(l.items) {
		return mavitem.Item{}, false
	}
	return l.items[seq], true
}

// set keeps items as what the vehicle holds of list t (a verified
// upload's read-back).
func (c *listCache) set(t mavitem.MissionType, items []mavitem.Item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.list(t); l != nil {
		l.gen++
		l.items, l.at, l.flight = slices.Clone(items), time.Now(), nil
	}
}

// missionTypeAll is MAV_MISSION_TYPE_ALL: a MISSION_CLEAR_ALL of every
// list, and its MISSION_ACK, carry it.
const missionTypeAll mavitem.MissionType = 255

// invalidate drops list t (every list for missionTypeAll): it may have
// changed. A download under way is left to finish for its callers; new
// callers start another.
func (c *listCache) invalidate(t mavitem.MissionType) {
	if t == missionTypeAll {
		c.invalidateAll()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidateLocked(t)
}

func (c *listCache) invalidateLocked(t mavitem.MissionType) {
	if l := c.list(t); l != nil {
		l.gen++
		l.items, l.at, l.flight = nil, time.Time{}, nil
	}
}

// invalidateAll drops every list (the vehicle's link was regained).
func (c *listCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.lists {
		c.invalidateLocked(mavitem.MissionType(t))
	}
}

// observeCurrent takes a MISSION_CURRENT's total and list IDs.
func (c *listCache) observeCurrent(total uint16, ardupilot bool, ids [3]uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := &c.lists[mavitem.TypeMission]; !l.at.IsZero() && !totalMatches(int(total), ardupilot, len(l.items)) {
		c.invalidateLocked(mavitem.TypeMission)
	}
	for t, id := range ids {
		if c.seen && id != c.ids[t] {
			c.invalidateLocked(mavitem.MissionType(t))
		}
	}
	c.seen, c.ids = true, ids
}

// observeCount takes a MISSION_COUNT the vehicle sent (to this station or
// another): the list's length now.
func (c *listCache) observeCount(t mavitem.MissionType, count uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.list(t); l != nil && !l.at.IsZero() && len(l.items) != int(count) {
		c.invalidateLocked(t)
	}
}

// totalMatches reports whether a mission of n items (home included, as
// downloaded) agrees with a MISSION_CURRENT total: ArduPilot counts the
// items after home; others count them all, and send 0 when they do not
// say and UINT16_MAX for no mission.
func totalMatches(total int, ardupilot bool, n int) bool {
	switch {
	case ardupilot:
		return total == max(n-1, 0)
	case total == 0:
		return true
	case total == math.MaxUint16:
		return n == 0
	}
	return total == n
}
