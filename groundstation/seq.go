package groundstation

import "time"

// seqTracker accounts one MAVLink component's packet sequence numbers:
// gaps are losses, a packet arriving late into a gap takes one loss back,
// and a packet seen before is a duplicate (not a loss, and not processed
// twice). It remembers the last 256 sequence numbers in a bitmap, with
// each one's frame checksum.
//
// An 8-bit sequence number cannot tell a packet 100 behind from one after
// a gap of 156: both look "from behind". A duplicate is a copy of the same
// frame, so one is only called a duplicate when the frame seen under that
// number had the same checksum; a different frame under a number already
// seen means the sender's count moved on past a long gap (or restarted),
// and the count starts afresh there. Before, such a frame was taken for a
// duplicate and discarded, with the next ones up to the restart threshold:
// after a burst of more than 128 lost frames (a station shedding under
// load, a time-warped simulator's fast streams) real messages —
// a MISSION_ITEM_REACHED among them — vanished as "duplicates".
type seqTracker struct {
	init   bool
	last   uint8
	seen   [4]uint64
	sums   [256]uint16 // checksum of the frame seen under each number
	lastAt time.Time
	behind int // consecutive packets from behind; many in a row = restart
}

// seqResyncGap is how long a component may be silent before its next
// packet starts a fresh count: after a long outage the 8-bit sequence
// number cannot tell how many packets were missed.
const seqResyncGap = 2 * time.Second

// seqResyncBehind is how many consecutive "old" packets mean the sender
// restarted its counter (a reboot) rather than a burst of duplicates.
const seqResyncBehind = 8

func (t *seqTracker) has(s uint8) bool { return t.seen[s>>6]&(1<<(s&63)) != 0 }
func (t *seqTracker) set(s uint8)      { t.seen[s>>6] |= 1 << (s & 63) }
func (t *seqTracker) clr(s uint8)      { t.seen[s>>6] &^= 1 << (s & 63) }

func (t *seqTracker) reset(seq uint8, sum uint16, at time.Time) {
	t.init = true
	t.seen = [4]uint64{}
	t.set(seq)
	t.sums[seq] = sum
	t.last = seq
	t.lastAt = at
	t.behind = 0
}

// observe records one packet with its frame checksum. lost is the change
// in the loss count (may be -1 when a late packet fills a gap); dup
// reports a copy of a packet already seen.
func (t *seqTracker) observe(seq uint8, sum uint16, at time.Time) (lost int, dup bool) {
	if !t.init || at.Sub(t.lastAt) > seqResyncGap {
		t.reset(seq, sum, at)
		return 0, false
	}
	t.lastAt = at
	diff := seq - (t.last + 1) // uint8 arithmetic wraps at 256
	if diff < 128 {
		for s := t.last + 1; s != seq; s++ {
			t.clr(s)
		}
		t.set(seq)
		t.sums[seq] = sum
		t.last = seq
		t.behind = 0
		return int(diff), false
	}
	// From behind: a duplicate, a reordered packet, or a sender whose count
	// moved on past a gap of more than 128 (or restarted).
	if t.has(seq) {
		if t.sums[seq] == sum {
			return 0, true
		}
		t.reset(seq, sum, at) // another frame under a number seen: a new count
		return 0, false
	}
	t.behind++
	if t.behind >= seqResyncBehind {
		t.reset(seq, sum, at)
		return 0, false
	}
	t.set(seq)
	t.sums[seq] = sum
	return -1, false
}

// window keeps per-second counts of received and lost packets over the
// last windowSeconds seconds, for the recent rate and loss percentage.
type window struct {
	first   time.Time
	buckets [windowSeconds]struct {
		sec        int64
		recv, lost int64
	}
}

const windowSeconds = 5

func (w *window) add(at time.Time, recv, lost int) {
	if w.first.IsZero() {
		w.first = at
	}
	sec := at.Unix()
	b := &w.buckets[sec%windowSeconds]
	if b.sec != sec {
		b.sec, b.recv, b.lost = sec, 0, 0
	}
	b.recv += int64(recv)
	b.lost += int64(lost)
}

// stats returns the packet rate (Hz) and loss percentage over the window.
func (w *window) stats(at time.Time) (rateHz, lossPct float64) {
	if w.first.IsZero() {
		return 0, 0
	}
	now := at.Unix()
	var recv, lost int64
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.sec > now-windowSeconds && b.sec <= now {
			recv += b.recv
			lost += b.lost
		}
	}
	start := time.Unix(now-windowSeconds+1, 0)
	if w.first.After(start) {
		start = w.first
	}
	span := at.Sub(start).Seconds()
	if span < 1 {
		span = 1
	}
	if lost < 0 {
		lost = 0
	}
	rateHz = float64(recv) / span
	if recv+lost > 0 {
		lossPct = 100 * float64(lost) / float64(recv+lost)
	}
	return rateHz, lossPct
}

// lossHorizonFrames is how many of a vehicle's frames the long-horizon
// loss estimate (lossEWMA) weighs: about half a minute of telemetry, or
// under a second of an upload's replies.
const lossHorizonFrames = 512

// lossEWMA is a vehicle's loss rate over its last lossHorizonFrames
// frames (an exponentially weighted count), the figure a mission upload's
// copies start from together with the 5 s window. Why both: the 5 s window
// holds about 75 telemetry frames, so at 20 % loss it reads anywhere from
// 10 to 29 % (100 vehicles measured 10.5–27.3 %), and an upload that
// starts from 10 % sends too few copies and stalls; 512 frames narrow that
// to about ±4 % — while the window still sees a link that just got worse
// first. The weight is per frame, not per second, because the estimate's
// precision is the number of frames it counts: during an upload the
// vehicle's own requests refresh it within a second.
type lossEWMA struct {
	recv, lost float64
}

// add counts one received frame and the loss count change observe gave
// with it (-1 when a late frame filled a gap).
func (e *lossEWMA) add(lost int) {
	const keep = 1 - 1.0/lossHorizonFrames
	e.recv = e.recv*keep + 1
	e.lost = max(e.lost*keep+float64(lost), 0)
}

// frac is the estimated loss rate (0..1; 0 before any frame).
func (e *lossEWMA) frac() float64 {
	if e.recv+e.lost == 0 {
		return 0
	}
	return e.lost / (e.recv + e.lost)
}
