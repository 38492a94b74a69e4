package simulator

import (
	"math/rand/v2"
	"time"
)

// linkState is one vehicle's simulated radio link. The same faults apply
// to both directions; each direction has its own delay queue and its own
// held-back packet for reordering. Guarded by SimVehicle.mu.
type linkState struct {
	faults    LinkFaults
	down      bool
	downUntil time.Time // zero with down = until LinkUp
	rng       *rand.Rand
	out, in   direction
}

type direction struct {
	queue   []delayed
	held    []byte
	heldAt  time.Time
	dropped uint64
}

type delayed struct {
	at   time.Time
	data []byte
}

// maxHold bounds how long a packet held back for reordering waits for a
// successor before it is let through anyway.
const maxHold = 200 * time.Millisecond

func (l *linkState) isDown(now time.Time) bool {
	if l.down && !l.downUntil.IsZero() && !now.Before(l.downUntil) {
		l.down = false
	}
	return l.down
}

func (l *linkState) roll(pct float64) bool {
	return pct > 0 && l.rng.Float64()*100 < pct
}

// pass runs one packet through the faults of direction d; deliver is called
// for every copy that should arrive now. Delayed and held copies are kept
// (copied) for flush.
func (l *linkState) pass(d *direction, b []byte, now time.Time, deliver func([]byte)) {
	if l.isDown(now) || l.roll(l.faults.LossPct) {
		d.dropped++
		return
	}
	copies := 1
	if l.roll(l.faults.DupPct) {
		copies = 2
	}
	for range copies {
		if d.held == nil && l.roll(l.faults.ReorderPct) {
			d.held = append([]byte(nil), b...)
			d.heldAt = now
			continue
		}
		l.schedule(d, b, now, deliver)
		if d.held != nil {
			h := d.held
			d.held = nil
			l.schedule(d, h, now, deliver)
		}
	}
}

func (l *linkState) schedule(d *direction, b []byte, now time.Time, deliver func([]byte)) {
	delay := l.faults.Latency
	if l.faults.Jitter > 0 {
		delay += time.Duration(l.rng.Int64N(int64(l.faults.Jitter) + 1))
	}
	if delay <= 0 {
		deliver(b)
		return
	}
	d.queue = append(d.queue, delayed{at: now.Add(delay), data: append([]byte(nil), b...)})
}

// flush delivers the delayed packets of d that are due and releases a
// reorder-held packet that waited too long.
func (l *linkState) flush(d *direction, now time.Time, deliver func([]byte)) {
	if d.held != nil && now.Sub(d.heldAt) > maxHold {
		h := d.held
		d.held = nil
		l.schedule(d, h, now, deliver)
	}
	if len(d.queue) == 0 {
		return
	}
	keep := d.queue[:0]
	var due []delayed
	for _, p := range d.queue {
		if !p.at.After(now) {
			due = append(due, p)
		} else {
			keep = append(keep, p)
		}
	}
	d.queue = keep
	for _, p := range due {
		deliver(p.data)
	}
}

// linkOut sends one encoded frame towards the ground station through the
// link faults. Called with sv.mu held.
func (sv *SimVehicle) linkOut(b []byte) {
	l := &sv.link
	if !l.down && !l.faults.active() && l.out.held == nil {
		sv.sendUDP(b)
		return
	}
	l.pass(&l.out, b, sv.wallNow, sv.sendUDP)
}

// linkIn takes one received datagram through the link faults and decodes
// what survives. Called with sv.mu held.
func (sv *SimVehicle) linkIn(b []byte) {
	l := &sv.link
	if !l.down && !l.faults.active() && l.in.held == nil {
		sv.decodeDatagram(b)
		return
	}
	l.pass(&l.in, b, sv.wallNow, sv.decodeDatagram)
}

// linkFlush delivers delayed packets in both directions.
func (sv *SimVehicle) linkFlush(now time.Time) {
	l := &sv.link
	l.isDown(now)
	l.flush(&l.out, now, sv.sendUDP)
	l.flush(&l.in, now, sv.decodeDatagram)
}
