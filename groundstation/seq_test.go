package groundstation

import (
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

func TestSeqTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	step := 10 * time.Millisecond
	type pkt struct {
		seq       uint8
		wantLost  int
		wantDup   bool
		afterWait time.Duration
	}
	tests := []struct {
		name string
		pkts []pkt
	}{
		{"in order", []pkt{{seq: 5}, {seq: 6}, {seq: 7}}},
		{"gap of two", []pkt{{seq: 5}, {seq: 8, wantLost: 2}, {seq: 9}}},
		{"wrap without loss", []pkt{{seq: 254}, {seq: 255}, {seq: 0}, {seq: 1}}},
		{"wrap with loss", []pkt{{seq: 254}, {seq: 1, wantLost: 2}}},
		{"duplicate", []pkt{{seq: 5}, {seq: 6}, {seq: 6, wantDup: true}, {seq: 7}}},
		{"duplicate of older", []pkt{{seq: 5}, {seq: 6}, {seq: 7}, {seq: 5, wantDup: true}}},
		{"reordered fills gap", []pkt{{seq: 5}, {seq: 7, wantLost: 1}, {seq: 6, wantLost: -1}, {seq: 8}}},
		{"reordered then duplicated", []pkt{{seq: 5}, {seq: 7, wantLost: 1}, {seq: 6, wantLost: -1}, {seq: 6, wantDup: true}}},
		{"resync after silence", []pkt{{seq: 5}, {seq: 200, afterWait: 3 * time.Second}, {seq: 201}}},
		{"restart detected", []pkt{{seq: 100}, {seq: 0}, {seq: 1}, {seq: 2}, {seq: 3}, {seq: 4}, {seq: 5}, {seq: 6}, {seq: 7}, {seq: 8}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr seqTracker
			at := t0
			total := 0
			for i, p := range tc.pkts {
				at = at.Add(step + p.afterWait)
				lost, dup := tr.observe(p.seq, sumOf(p.seq, 0), at)
				total += lost
				if tc.name == "restart detected" {
					continue // checked below
				}
				if lost != p.wantLost || dup != p.wantDup {
					t.Fatalf("packet %d (seq %d): lost %d dup %v, want lost %d dup %v", i, p.seq, lost, dup, p.wantLost, p.wantDup)
				}
			}
			if tc.name == "restart detected" {
				// After a restart the tracker must follow the new counter:
				// the next in-order packet is neither lost nor duplicate.
				lost, dup := tr.observe(9, sumOf(9, 0), at.Add(step))
				if lost != 0 || dup {
					t.Fatalf("after restart: lost %d dup %v, want in order", lost, dup)
				}
			}
		})
	}
}

// sumOf stands for the checksum of the n-th frame a sender sent under seq:
// copies of one frame share it, different frames (almost always) differ.
func sumOf(seq uint8, n int) uint16 { return uint16(seq)*31 + uint16(n)*257 + 7 }

// A sender whose count moved on past a gap of more than 128 frames (a
// station shedding a burst under load) sends numbers that look "from
// behind"; they are new frames, not duplicates, and must be processed. The
// tracker used to discard them (and the next ones, up to its restart
// threshold) as duplicates: a MISSION_ITEM_REACHED went missing that way.
func TestSeqTrackerGapBeyondHalfTheCounterIsNotDuplicates(t *testing.T) {
	var tr seqTracker
	at := time.Unix(0, 0)
	n := 0
	send := func(seq uint8) (int, bool) {
		at = at.Add(time.Millisecond)
		n++
		return tr.observe(seq, sumOf(seq, n), at)
	}
	for i := 0; i <= 300; i++ { // 0 … 255, 0 … 44: every number seen
		if _, dup := send(uint8(i)); dup {
			t.Fatalf("in-order frame %d reported as duplicate", i)
		}
	}
	// 140 frames lost: the next is 45+140 = 185, 116 "behind" 44.
	for i := 0; i < 10; i++ {
		if lost, dup := send(uint8(185 + i)); dup || lost != 0 {
			t.Fatalf("frame %d after the gap: lost %d dup %v, want a new frame", 185+i, lost, dup)
		}
	}
	// A real copy of the last frame is still a duplicate.
	last := uint8(194)
	if _, dup := tr.observe(last, sumOf(last, n), at); !dup {
		t.Fatal("a copy of the last frame after the gap is not reported as duplicate")
	}
}

func TestSeqTrackerLossAccounting(t *testing.T) {
	// 1001 packets, every 4th dropped, some duplicated and reordered: the
	// loss total must equal the dropped count exactly.
	var tr seqTracker
	at := time.Unix(0, 0)
	var sent []uint8
	dropped := 0
	for i := 0; i < 1001; i++ { // ends on a received packet, so every drop is followed by one
		if i%4 == 3 {
			dropped++
			continue
		}
		sent = append(sent, uint8(i))
	}
	// swap neighbours every 10 packets and duplicate every 7th
	for i := 10; i+1 < len(sent); i += 10 { // not the first: nothing precedes it
		sent[i], sent[i+1] = sent[i+1], sent[i]
	}
	total, dups := 0, 0
	for i, s := range sent {
		at = at.Add(time.Millisecond)
		l, d := tr.observe(s, sumOf(s, i), at)
		total += l
		if d {
			dups++
		}
		if i%7 == 0 {
			l, d := tr.observe(s, sumOf(s, i), at)
			total += l
			if !d {
				t.Fatalf("re-sent packet %d not reported as duplicate", s)
			}
			dups++
		}
	}
	if total != dropped {
		t.Fatalf("lost %d, want %d", total, dropped)
	}
	if dups == 0 {
		t.Fatal("no duplicates counted")
	}
}

func TestWindow(t *testing.T) {
	var w window
	t0 := time.Unix(5000, 0)
	for i := 0; i < 100; i++ { // 10 Hz for 10 s, 1 in 10 lost
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		lost := 0
		if i%10 == 0 {
			lost = 1
		}
		w.add(at, 1, lost)
	}
	rate, loss := w.stats(t0.Add(10 * time.Second))
	if rate < 8 || rate > 12 {
		t.Fatalf("rate %.2f Hz, want about 10", rate)
	}
	if loss < 5 || loss > 15 {
		t.Fatalf("loss %.2f %%, want about 9", loss)
	}
	rate, _ = w.stats(t0.Add(30 * time.Second))
	if rate != 0 {
		t.Fatalf("rate after 20 s of silence %.2f, want 0", rate)
	}
}

// The loss an upload starts from counts the last lossHorizonFrames
// frames, so at 20 % loss it reads close to 20 % where the 5 s window's
// 75-odd frames read 10–29 %; and it is the larger of the two, so a link
// that just got worse is seen at once through the window.
func TestUploadLossCountsALongHorizon(t *testing.T) {
	var r vehicleRec
	t0 := time.Unix(1000, 0)
	at := t0
	// 2,000 frames, every fifth lost: 20 % loss, 15 frames a second
	for i := range 2000 {
		at = t0.Add(time.Duration(i) * time.Second / 15)
		lost := 0
		if i%4 == 3 {
			lost = 1 // one missing after every fourth received: 1 of 5 lost
		}
		r.win.add(at, 1, lost)
		r.lossLong.add(lost)
	}
	if got := r.lossLong.frac(); got < 0.19 || got > 0.21 {
		t.Fatalf("long-horizon loss %.3f, want 0.20", got)
	}
	// the link gets worse: the window sees it first
	for i := range 75 {
		at = at.Add(time.Second / 15)
		lost := 0
		if i%2 == 1 {
			lost = 1
		}
		r.win.add(at, 1, lost)
		r.lossLong.add(lost)
	}
	_, pct := r.win.stats(at)
	if got := r.uploadLoss(at); got != pct/100 || got <= r.lossLong.frac() {
		t.Fatalf("uploadLoss %.3f: want the window's %.3f over the long count's %.3f", got, pct/100, r.lossLong.frac())
	}
	// a late frame filling a gap takes a loss back, never below zero
	var e lossEWMA
	e.add(-1)
	if e.frac() != 0 {
		t.Fatalf("loss %.3f after a late frame alone, want 0", e.frac())
	}
}

// The session is given the link's loss as it changes, frame by frame:
// it rises at a gap in the vehicle's sequence, and falls again as
// lossless frames come in, and what the session holds is always the
// loss an upload would start from at the latest frame (the dispatcher
// writes it only when it changed, not at every frame).
func TestSessionFollowsTheLinkLoss(t *testing.T) {
	o := newOffline(t)
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA}
	pos := &common.MessageGlobalPositionInt{Lat: 418123000, Lon: 692716000}
	o.send(7, 1, hb)
	c := o.ln.comps.get(vkey{7, 1})
	if c == nil {
		t.Fatal("the vehicle was not classified")
	}
	rec := c.rec
	check := func(when string) float64 {
		t.Helper()
		want := rec.uploadLoss(o.at)
		if got := rec.sess.LinkLoss(); got != want {
			t.Fatalf("%s: the session holds loss %.4f, the link measures %.4f", when, got, want)
		}
		return want
	}
	for range 50 {
		o.send(7, 1, pos)
	}
	if l := check("lossless"); l != 0 {
		t.Fatalf("loss %.4f on a lossless link", l)
	}
	o.seq[vkey{7, 1}] += 10 // ten frames lost
	o.send(7, 1, pos)
	peak := check("after a gap of 10")
	if peak <= 0 {
		t.Fatal("no loss after a gap of 10 frames")
	}
	// Lossless frames for 20 s at 15 a second: the window forgets the
	// gap and the long count dilutes it.
	for range 300 {
		o.at = o.at.Add(time.Second/15 - 10*time.Millisecond) // send adds 10 ms
		o.send(7, 1, pos)
		check("lossless again")
	}
	if l := check("20 s later"); l >= peak/2 {
		t.Fatalf("loss %.4f 20 s after the gap, want well below its peak %.4f", l, peak)
	}
}
