package fleet

import (
	"sync"
	"time"
)

// SubscribeOptions say what a subscriber can afford to miss.
type SubscribeOptions struct {
	// KeepAll queues every state update instead of keeping only the newest
	// per vehicle. Stores want every sample; a map wants the latest.
	KeepAll bool
	// MaxQueue bounds queued state updates (KeepAll) and events; past it
	// the oldest are dropped and counted (a full KeepAll queue drops its
	// oldest eighth at once). Default 10000.
	MaxQueue int
	// StatesOnTick: state updates do not signal C, only events do. For a
	// subscriber that sends states on a tick of its own (MQTT's 2 Hz) and
	// calls Next then: woken for every update, it copied each vehicle's
	// state ~18 times a second to send it twice. Without KeepAll an update
	// only marks its vehicle, and Next takes the current state of each
	// vehicle marked since the last call: copying every update into the
	// subscription to keep the last was 36,000 copies of a ~520-byte
	// state a second at 2,000 vehicles, for 4,000 sent.
	StatesOnTick bool
	// Name labels the subscriber in Subscribers() (and on /metrics);
	// unnamed ones are reported as "keepall" or "latest" by mode.
	Name string
}

// Subscription receives state updates and events without ever blocking
// the writer. Wait on C, then call Next to take what is pending.
type Subscription struct {
	f    *Fleet
	opts SubscribeOptions
	// C receives a value when something is pending. It is never closed.
	C chan struct{}

	mu sync.Mutex
	// queue holds the pending states: every one (KeepAll) or the newest
	// per vehicle in order of first arrival (coalesced, indexed by latest).
	queue []Vehicle
	// latest (coalesced mode) is, by the vehicle's slot in the fleet
	// (entry.slot), its index in queue plus one (0: none pending); slots
	// (coalesced mode) are the slots of the queued states, aligned with
	// queue (-1 for a state without one), to reset latest at Next and for
	// Batch.Slots. A slice, not a map keyed by ID: two coalescing
	// subscribers looked their ID up for each of 36,000 updates a second
	// at 2,000 vehicles.
	latest []int32
	slots  []int32
	// current (StatesOnTick without KeepAll): latest only marks a slot
	// (1) and Next copies the fleet's current state of the marked ones
	// into cur, the subscriber's (Next's) memory.
	current bool
	cur     []Vehicle
	// revs (coalesced mode) is, by slot, the revision of the newest state
	// queued for the vehicle (coalesce).
	revs   []uint64
	causes []any // KeepAll mode: what caused each queued state
	// spare is the queue handed out by the previous Next, reused by the
	// next one: a busy fleet's states are copied into the same memory
	// instead of a fresh slice per batch (and a map value per vehicle).
	spare  []Vehicle
	spareC []any
	spareS []int32
	// peak is the largest batch Next handed out lately (it decays by
	// 1/1024 a call): the queue grows straight to it, and batch memory up
	// to it is kept. A recorder that stops taking while it writes a
	// second's batch to its store (two thirds of a second on a busy
	// machine at 2,000 vehicles: 24,000 states, 12 MB) regrew its queue
	// from 64 by doublings after every write, copying and allocating up
	// to twice that each time.
	peak      int
	events    []Event
	dropped   Dropped
	closed    bool
	closeOnce sync.Once
}

// Dropped counts what a subscriber lost because it fell behind.
type Dropped struct {
	States uint64 `json:"states"`
	Events uint64 `json:"events"`
}

// Batch is what Next returns: the pending state updates (oldest first) and
// events, and the running totals of what was dropped. Vehicles and Causes
// are valid until the subscription's next Next call, which reuses their
// memory: copy what must be kept longer.
type Batch struct {
	Vehicles []Vehicle
	// Causes (KeepAll subscriptions only) is aligned with Vehicles: the
	// input passed to UpdateFrom for each state, nil for other changes.
	Causes []any
	// Slots (coalescing subscriptions only) is aligned with Vehicles: the
	// vehicle's slot in the fleet (Fleet.Slot: a dense index from 0, in
	// order of first appearance, never reused), -1 if the state has none.
	// A subscriber that keeps something per vehicle indexes a slice with
	// it instead of looking the ID up in a map for every state.
	Slots   []int32
	Events  []Event
	Dropped Dropped
}

// Subscribe registers a new subscriber. Callers must Close it.
func (f *Fleet) Subscribe(opts SubscribeOptions) *Subscription {
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 10000
	}
	s := &Subscription{f: f, opts: opts, C: make(chan struct{}, 1), current: opts.StatesOnTick && !opts.KeepAll}
	f.subMu.Lock()
	f.subs[s] = struct{}{}
	f.subMu.Unlock()
	return s
}

// Close unregisters the subscription; pending data is discarded.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() {
		s.f.subMu.Lock()
		delete(s.f.subs, s)
		s.f.subMu.Unlock()
		s.mu.Lock()
		s.closed = true
		s.latest, s.revs, s.slots, s.queue, s.causes, s.events, s.spare, s.spareC, s.spareS = nil, nil, nil, nil, nil, nil, nil, nil, nil
		s.mu.Unlock()
	})
}

// Next takes everything pending. It never blocks; an empty Batch means
// nothing was pending.
func (s *Subscription) Next() Batch {
	if s.current {
		return s.nextCurrent()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := Batch{Events: s.events, Dropped: s.dropped}
	s.events = nil
	if len(s.queue) == 0 {
		return b
	}
	b.Vehicles = s.queue
	s.peak = max(len(b.Vehicles), s.peak-s.peak/1024)
	if s.opts.KeepAll {
		b.Causes = s.causes
	} else {
		b.Slots = s.slots
		for _, sl := range s.slots {
			if sl >= 0 {
				s.latest[sl] = 0
			}
		}
	}
	// The batch handed out last time is done with: its memory takes the
	// next updates (cleared, so it keeps no old vehicle's data alive).
	clear(s.spare)
	clear(s.spareC)
	s.queue, s.spare = s.spare[:0], b.Vehicles
	if s.opts.KeepAll {
		s.causes, s.spareC = s.spareC[:0], b.Causes
	} else {
		s.slots, s.spareS = s.spareS[:0], b.Slots
	}
	if cap(s.spare) > max(maxSpare, 2*s.peak) {
		// A backlog's worth (a store that fell behind) is not kept for
		// good: memory returns to what a steady flow needs.
		s.spare, s.spareC, s.spareS = nil, nil, nil
	}
	return b
}

// nextCurrent is Next for a StatesOnTick subscription: the current state
// of every vehicle marked since the last call, in the order they were
// first marked. The fleet's lock is taken after the subscription's is
// released (writers take the fleet's, then the subscription's).
func (s *Subscription) nextCurrent() Batch {
	s.mu.Lock()
	b := Batch{Events: s.events, Dropped: s.dropped}
	s.events = nil
	slots, queued := s.slots, s.queue
	for _, sl := range slots {
		if sl >= 0 {
			s.latest[sl] = 0
		}
	}
	// What was handed out last time is done with (Batch's contract).
	clear(s.spare)
	s.slots, s.spareS = s.spareS[:0], slots
	s.queue, s.spare = s.spare[:0], queued
	s.mu.Unlock()
	if len(slots) == 0 {
		return b
	}
	clear(s.cur)
	vs := s.cur[:0]
	qi := 0
	s.f.mu.RLock()
	for _, sl := range slots {
		if sl < 0 { // a state with no slot (never from the fleet's own updates): as queued
			vs = append(vs, queued[qi])
			qi++
			continue
		}
		vs = append(vs, s.f.bySlot[sl].v.clone())
	}
	s.f.mu.RUnlock()
	s.cur = vs
	b.Vehicles, b.Slots = vs, slots
	return b
}

// maxSpare bounds the batch memory a subscription keeps for reuse.
const maxSpare = 16384

// Replay hands KeepAll subscribers (stores) a past state of a vehicle,
// with the input that caused it: the ground station heard a vehicle for a
// while before publishing it (waiting for its UID) and replays what it
// heard then, so a store that keeps every message misses none. The fleet's
// state is not changed, and subscribers that keep only the newest state
// never see the old one.
func (f *Fleet) Replay(id string, at time.Time, cause any, v Vehicle) {
	v.ID = id
	if at.After(v.LastSeen) {
		v.LastSeen = at
	}
	v.Updated = at
	snap := v.clone()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subMu.Lock()
	defer f.subMu.Unlock()
	for s := range f.subs {
		if s.opts.KeepAll {
			s.push(&snap, -1, 0, cause, nil)
		}
	}
}

// publish hands v (the state of the vehicle in slot, at revision rev, or
// nil) and events to every subscriber.
func (f *Fleet) publish(v *Vehicle, slot int32, rev uint64, cause any, events []Event) {
	f.subMu.Lock()
	defer f.subMu.Unlock()
	for s := range f.subs {
		s.push(v, slot, rev, cause, events)
	}
}

// Pending is one writer's states not yet handed to the subscribers
// (UpdatePending, Flush). The zero Pending is ready to use; it must not
// be used by two goroutines at once.
type Pending struct {
	states []Vehicle
	slots  []int32
	revs   []uint64
	causes []any
}

// Len is how many states p holds.
func (p *Pending) Len() int { return len(p.states) }

func (p *Pending) add(v *Vehicle, slot int32, rev uint64, cause any) {
	p.states = append(p.states, v.clone())
	p.slots = append(p.slots, slot)
	p.revs = append(p.revs, rev)
	p.causes = append(p.causes, cause)
}

// Flush hands what p holds to every subscriber, in order, and empties it.
// It may be called with f.mu held (apply does: the lock order is f.mu,
// then f.subMu).
func (f *Fleet) Flush(p *Pending) {
	if len(p.states) == 0 {
		return
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	f.flushSubsLocked(p)
}

func (f *Fleet) flushSubsLocked(p *Pending) {
	for s := range f.subs {
		s.mu.Lock()
		for i := range p.states {
			s.pushLocked(&p.states[i], p.slots[i], p.revs[i], p.causes[i], nil)
		}
		s.mu.Unlock()
		if !s.opts.StatesOnTick {
			s.signal()
		}
	}
	clear(p.states) // keeps no vehicle's data (or cause) alive
	clear(p.causes)
	p.states, p.slots, p.revs, p.causes = p.states[:0], p.slots[:0], p.revs[:0], p.causes[:0]
}

func (s *Subscription) push(v *Vehicle, slot int32, rev uint64, cause any, events []Event) {
	s.mu.Lock()
	s.pushLocked(v, slot, rev, cause, events)
	s.mu.Unlock()
	if s.opts.StatesOnTick && len(events) == 0 {
		return // taken on the subscriber's own tick
	}
	s.signal()
}

// coalesce queues v as the newest state of the vehicle in slot (a
// coalescing subscription), unless the subscription already had a newer
// one: a writer's pending batch (UpdatePending) may reach the
// subscribers after a state another writer published meanwhile.
func (s *Subscription) coalesce(v *Vehicle, slot int32, rev uint64) {
	if int(slot) >= len(s.latest) {
		s.latest = append(s.latest, make([]int32, int(slot)+1-len(s.latest))...)
		s.revs = append(s.revs, make([]uint64, int(slot)+1-len(s.revs))...)
	}
	if s.current { // mark it; Next takes its state then
		if s.latest[slot] == 0 {
			s.latest[slot] = 1
			s.slots = append(s.slots, slot)
		}
		return
	}
	if rev != 0 {
		if rev < s.revs[slot] {
			return // superseded, not lost: the subscriber has (or had) a newer state
		}
		s.revs[slot] = rev
	}
	if s.latest[slot] > 0 {
		s.queue[s.latest[slot]-1] = *v
		return
	}
	s.queue = append(s.queue, *v)
	s.latest[slot] = int32(len(s.queue))
	s.slots = append(s.slots, slot)
}

// signal tells the subscriber something is pending (without piling up).
func (s *Subscription) signal() {
	select {
	case s.C <- struct{}{}:
	default:
	}
}

// pushLocked queues v and events; s.mu must be held. rev is the state's
// revision (0: none): a coalescing subscription never replaces or follows
// a state with an older one of the same vehicle.
func (s *Subscription) pushLocked(v *Vehicle, slot int32, rev uint64, cause any, events []Event) {
	if s.closed {
		return
	}
	if v != nil {
		if s.opts.KeepAll {
			if len(s.queue) >= s.opts.MaxQueue {
				// Full: the oldest eighth goes at once, in place. Sliding the
				// slice by one per update reallocated the whole queue every
				// few thousand updates, so a store that fell behind held
				// several copies of it (1.1 GB RSS at 2,000 vehicles).
				k := max(1, s.opts.MaxQueue/8)
				n := copy(s.queue, s.queue[k:])
				clear(s.queue[n:])
				s.queue = s.queue[:n]
				n = copy(s.causes, s.causes[k:])
				clear(s.causes[n:])
				s.causes = s.causes[:n]
				s.dropped.States += uint64(k)
			}
			if len(s.queue) == cap(s.queue) { // grow, but never past MaxQueue
				n := min(max(2*len(s.queue), 64, s.peak), s.opts.MaxQueue)
				s.queue = append(make([]Vehicle, 0, n), s.queue...)
				s.causes = append(make([]any, 0, n), s.causes...)
			}
			s.queue = append(s.queue, *v)
			s.causes = append(s.causes, cause)
		} else if slot < 0 {
			s.queue = append(s.queue, *v) // no slot (never from the fleet's own updates): not coalesced
			s.slots = append(s.slots, -1)
		} else {
			s.coalesce(v, slot, rev)
		}
	}
	for _, e := range events {
		if len(s.events) >= s.opts.MaxQueue {
			s.events = s.events[1:]
			s.dropped.Events++
		}
		s.events = append(s.events, e)
	}
}
