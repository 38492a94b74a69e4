// Package alertack records which alerts operators have acknowledged
// (issue 12, "Alerts panel"): POST /api/v1/events/{seq}/ack marks a
// warning or critical event as seen by an operator, audited with their
// name; the event list shows each acknowledgement on its event, and an
// "alert_ack" event tells every console on the stream so the alert stops
// sounding everywhere at once.
//
// Acknowledgements live in memory beside the fleet's event history they
// refer to, which is itself in memory and bounded; they are bounded the
// same way (the oldest are forgotten first) so neither outlives the other
// by much.
package alertack

import (
	"sync"
	"time"
)

// Ack is one acknowledgement.
type Ack struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// DefaultMax bounds the acknowledgements kept.
const DefaultMax = 10000

// Table maps event sequence numbers to their acknowledgement. Safe for
// concurrent use.
type Table struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	acks  map[uint64]Ack
	order []uint64 // seqs in the order acknowledged, for the bound
}

// New returns an empty table keeping at most max acknowledgements (0 =
// DefaultMax); now is the clock (nil = time.Now).
func New(max int, now func() time.Time) *Table {
	if max <= 0 {
		max = DefaultMax
	}
	if now == nil {
		now = time.Now
	}
	return &Table{max: max, now: now, acks: map[uint64]Ack{}}
}

// Ack records by's acknowledgement of event seq. The first one counts:
// acknowledging again returns it with first false.
func (t *Table) Ack(seq uint64, by string) (a Ack, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.acks[seq]; ok {
		return a, false
	}
	a = Ack{By: by, At: t.now()}
	t.acks[seq] = a
	t.order = append(t.order, seq)
	if len(t.order) > t.max {
		delete(t.acks, t.order[0])
		t.order = t.order[1:]
	}
	return a, true
}

// Get returns the acknowledgement of event seq, if any.
func (t *Table) Get(seq uint64) (Ack, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.acks[seq]
	return a, ok
}
