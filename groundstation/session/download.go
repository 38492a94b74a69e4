package session

import (
	"fmt"
	"math"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// downloadTransfer reads the vehicle's list of one type (see Download):
// MISSION_REQUEST_LIST until MISSION_COUNT, then up to MissionWindow
// MISSION_REQUEST_INTs in flight, lowest seqs first, items deduplicated
// by seq, overdue ones asked again.
//
// Fast (the vehicle's upload plan is adaptive: ArduPilot with
// MissionItemProtocol and UploadWindow auto): ArduPilot answers every
// MISSION_REQUEST_INT on its own, whatever its seq and however often
// it comes (MissionItemProtocol::handle_mission_request_int keeps no
// download state), so requests go out in copies sized from the link's
// loss, and each missing item is asked again, in more copies, once it is
// a retransmission timeout (measured round trip plus margin, as the
// upload's) overdue — with its own timer, not the silence timeout. A
// 700-item read-back at 20 % loss and 200 ms took 25–47 s with the
// window of 16, one copy and re-requests only when later items came or
// after 1.5 s of silence.
//
// Its congestion control counts frames, not seqs: window is the request
// frames in flight, copies included (inFlight), growing from
// downloadFramesStart to downloadFramesMax by an item's copies per item
// received, with at most autoWindowMax distinct seqs outstanding. A
// request that times out is presumed lost — its copies leave inFlight —
// and is asked again only as the window allows, before any new seq, so
// a round of timeouts replaces what it presumes lost instead of adding
// to it. Congestion (the round trip grown to twice the least seen, or
// most of what is outstanding timing out at once: a queue, not random
// loss) halves the window, stops its growth and freezes the loss the
// copies follow: the drops of a queue the read-back fills itself, which
// the station's sequence-gap count reads as link loss, must not buy more
// copies. Before (counting distinct seqs, copies from whatever loss the
// station measured, retransmission timeouts of at least 200 ms), 100
// read-backs at once on a loaded machine sent up to ~256 request frames
// per vehicle, read their own queue drops as loss, raised their copies
// and stalled (congestion collapse; TestFastDownloadsShareAQueue).
type downloadTransfer struct {
	v        *Vehicle
	t        mavitem.MissionType
	progress Progress
	listMsg  *common.MessageMissionRequestList

	n        int // -1 until MISSION_COUNT
	got      []mavitem.Item
	have     []bool
	reqAt    []time.Time // when each seq was last requested
	reqCount []uint8     // how often (saturating), for clean RTT samples
	received int
	inflight int
	cursor   int // next seq fill considers
	low      int // lowest seq not yet received
	rtt      time.Duration

	fast   bool         // see the type's doc
	window int          // fast: request frames in flight, at most
	est    linkEstimate // fast: round trip (loss: see loss)
	out    int          // fast: seqs requested and not yet received
	// fast: flight is the copies of each seq's last request still
	// presumed on the way (0: none, or presumed lost), inFlight their sum,
	// lost the seqs presumed lost and not asked again yet.
	flight   []uint8
	inFlight int
	lost     int
	prevAt   []time.Time // fast: the request before reqAt (spurious timeouts)
	// loss is what a fast download's copies follow: the station's figure,
	// read at every item, but never raised while congested (see the
	// type's doc). queued is set by a round of timeouts that looked like
	// a queue, until a clean round trip shows none.
	loss   float64
	queued bool
	acked  int // fast, congested: items received since the window last grew
	// rounds of timeouts and window halvings, for the debug log
	rounds, halvings int
	// backoff doubles a fast download's timeout for each round of
	// re-requests since the last clean round-trip sample (Karn's
	// algorithm): a timeout too short at the start — a round trip
	// remembered from another transfer — re-requests every item before
	// any answer, and only answers to items asked once can correct it.
	backoff   uint
	checkAt   time.Time // fast: see overdueAt
	listAt    time.Time // when MISSION_REQUEST_LIST last went out
	listSends int

	silent        int
	earlyRefusals int
	lastRefusal   int
	due           time.Time
}

func newDownload(v *Vehicle, t mavitem.MissionType, p Progress) *downloadTransfer {
	d := &downloadTransfer{
		v: v, t: t, progress: p, n: -1, lastRefusal: -1,
		rtt: v.opts.MissionItemTimeout / 8,
		listMsg: &common.MessageMissionRequestList{
			TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
			MissionType: common.MAV_MISSION_TYPE(t),
		},
	}
	if v.uploadPlan().adaptive {
		d.fast, d.window = true, downloadFramesStart
		d.est.srtt = v.opts.MissionItemTimeout / 8 // until the first item says better
		d.est.rttvar = d.est.srtt / 2
		v.mu.Lock()
		if v.link.set {
			d.est.srtt, d.est.rttvar = v.link.srtt, v.link.srtt/4
		}
		v.mu.Unlock()
		d.loss = math.Float64frombits(v.linkLoss.Load())
	}
	return d
}

// A fast download's window, in request frames (copies included): it
// starts and ends where a window of autoWindowStart and autoWindowMax seqs
// in two copies (20 % loss) was, and a congested one never shrinks below
// two repeats in maxDownloadCopies.
const (
	downloadFramesStart = 2 * autoWindowStart
	downloadFramesMax   = 2 * autoWindowMax
	downloadFramesMin   = 2 * maxDownloadCopies
)

// congested reports whether a fast download's queues are filling: the
// smoothed round trip is more than twice the least seen plus
// minRTOMargin, or a round of timeouts since the last clean round trip
// looked like a queue. Less eager than the upload's 1.5 times
// (linkEstimate.congested): on a loaded machine 100 read-backs over a
// 200 ms link ran at 250–400 ms against a least of 210–230 ms from
// scheduling alone, and at 1.5 times each halved its window 7–17 times
// (slowest 16.9 s against 8.7 s, load 7–8). A queue the transfers fill
// themselves grows the round trip far more (seconds, in
// TestFastDownloadsShareAQueue), and without this signal they collapse.
func (d *downloadTransfer) congested() bool {
	return d.queued || (d.est.samples >= 8 && d.est.srtt > 2*d.est.minRTT+minRTOMargin)
}

// copies is how many copies a fast download's request gets now. A repeat
// gets more (downloadCopies) unless congested: a congested repeat is as
// likely an answer that was only late, and extra copies would add to the
// queue that delayed it.
func (d *downloadTransfer) copies(repeat bool) int {
	return downloadCopies(d.loss, repeat && !d.congested())
}

// downloadCopies is how many copies of a request a fast download sends
// at loss rate p: each copy gets its item back with chance (1-p)² (the
// request and the answer both cross the link), and the transfer waits a
// retransmission timeout for every item all of whose copies failed. A
// first request aims at under 15 % of items missing (at 20 % loss, 2
// copies: 13 %), a repeat at under 3 % (4 copies: 1.7 %), so the last
// missing items of a list take one or two timeouts instead of five or six.
func downloadCopies(p float64, repeat bool) int {
	fail := 1 - (1-p)*(1-p)
	target := 0.15
	if repeat {
		target = 0.03
	}
	c := 1
	for ; c < maxDownloadCopies && math.Pow(fail, float64(c)) > target; c++ {
	}
	return c
}

// maxDownloadCopies bounds a request's copies: every copy that arrives is
// answered with a whole item on the vehicle's side of the link.
const maxDownloadCopies = 4

// items is the list read, once the transfer finished without error.
func (d *downloadTransfer) items() []mavitem.Item { return d.got }

func (d *downloadTransfer) start(now time.Time) error {
	d.due = now.Add(d.v.opts.MissionItemTimeout)
	return d.sendList(now)
}

// sendList sends MISSION_REQUEST_LIST, in a fast download in as many
// copies as a repeated item request: the vehicle answers each with its
// MISSION_COUNT (the extra ones are ignored), and one request at 20 %
// loss fails both ways 36 % of the time, so six in a row failed for one
// vehicle in a round of 100 read-backs. The vehicle's MISSION_COUNT is the
// transfer's first round-trip sample when the request went out once.
func (d *downloadTransfer) sendList(now time.Time) error {
	d.listAt = now
	d.listSends++
	copies := 1
	if d.fast {
		copies = downloadCopies(d.loss, true)
	}
	for range copies {
		if err := d.v.sendMsg(d.listMsg); err != nil {
			return err
		}
	}
	return nil
}

func (d *downloadTransfer) deadline() time.Time {
	if r := d.overdueAt(); !r.IsZero() && r.Before(d.due) {
		return r
	}
	return d.due
}

// overdueAt is when a fast download next looks for overdue requests
// (zero: none outstanding, or not fast). It is kept, not computed per
// call: scanning every outstanding seq on each message cost 100 read-backs
// at once a core on a fast link. It may be early (an item came since);
// reRequestLost then finds nothing due and sets the next check.
func (d *downloadTransfer) overdueAt() time.Time {
	if !d.fast || d.n <= 0 {
		return time.Time{}
	}
	return d.checkAt
}

// planCheck sets checkAt to the earliest time a request still presumed
// on the way is a retransmission timeout old, by one scan.
func (d *downloadTransfer) planCheck() {
	d.checkAt = time.Time{}
	for k := d.low; k < d.cursor; k++ {
		if d.have[k] || d.flight[k] == 0 {
			continue
		}
		if at := d.reqAt[k].Add(d.rto(k)); d.checkAt.IsZero() || at.Before(d.checkAt) {
			d.checkAt = at
		}
	}
}

// rto is how long a fast download waits for item k before asking again:
// the measured timeout (srtt + 4·rttvar, RFC 6298, whose samples carry
// the queueing the transfer meets — the vehicle's and the station's
// dispatch included), doubled for each time k was asked already (or per
// round of re-requests since the last clean sample). Until the first
// clean item sample it is at least initialDownloadRTO.
func (d *downloadTransfer) rto(k int) time.Duration {
	r := d.est.rto()
	if d.est.samples < 2 { // only MISSION_COUNT's, or a remembered round trip
		r = max(r, initialDownloadRTO)
	}
	r <<= min(max(uint(max(d.reqCount[k], 1)-1), d.backoff), 4)
	return min(r, d.v.opts.MissionItemTimeout)
}

// initialDownloadRTO is the least time a fast download waits for the
// items of its first requests, before any has come back: the round trip
// it measured (MISSION_COUNT's, from an idle vehicle) can be a
// millisecond on a fast link, and does not include the queueing of a
// burst of requests behind each other, or behind 99 other read-backs on
// a loaded machine — with a 21 ms timeout every first request was
// repeated four times before the first answer. From the first item on,
// the samples carry that queueing and the estimator's timeout is used
// alone: a fixed floor of 200 ms (as this was) sat below the queueing
// of a loaded machine and fired anyway, while on a quiet fast link every
// lost item cost it.
const initialDownloadRTO = 200 * time.Millisecond

func (d *downloadTransfer) cancelled() {
	if d.n >= 0 {
		d.v.cancelTransfer(d.t)
	}
}

// request asks for seq in copies frames (a fast download counts them in
// flight).
func (d *downloadTransfer) request(seq, copies int, now time.Time) error {
	if d.fast {
		d.prevAt[seq] = d.reqAt[seq]
	}
	d.reqAt[seq] = now
	if d.reqCount[seq] < 255 {
		d.reqCount[seq]++
	}
	if d.fast {
		d.flight[seq] = uint8(copies)
		d.inFlight += copies
		if at := now.Add(d.rto(seq)); d.checkAt.IsZero() || at.Before(d.checkAt) {
			d.checkAt = at
		}
	}
	msg := &common.MessageMissionRequestInt{
		TargetSystem: d.v.target.SystemID, TargetComponent: d.v.target.ComponentID,
		Seq: uint16(seq), MissionType: common.MAV_MISSION_TYPE(d.t),
	}
	for range copies {
		if err := d.v.sendMsg(msg); err != nil {
			return err
		}
	}
	return nil
}

// reRequestLost presumes a fast download's overdue requests lost (their
// copies leave the flight) and asks the items presumed lost again, lowest
// first, as the window allows: at most seqs of them and maxBurstFrames
// frames at once (the rest as items come back and free the window, or at
// the next timeout). A round of timeouts backs the timeout off (Karn);
// when it looks like a queue rather than random loss — the transfer is
// congested, or most of what was outstanding timed out at once — it
// halves the window too.
func (d *downloadTransfer) reRequestLost(now time.Time, seqs int) error {
	for d.low < d.n && d.have[d.low] {
		d.low++
	}
	if r := d.overdueAt(); !r.IsZero() && !now.Before(r) {
		outstanding, overdue := 0, 0
		for k := d.low; k < d.cursor; k++ {
			if d.have[k] || d.flight[k] == 0 {
				continue
			}
			outstanding++
			if now.Sub(d.reqAt[k]) >= d.rto(k) {
				d.inFlight -= int(d.flight[k])
				d.flight[k] = 0
				d.lost++
				overdue++
			}
		}
		if overdue > 0 {
			d.rounds++
			d.backoff = min(d.backoff+1, 4)
			if overdue >= massTimeout && 2*overdue > outstanding {
				d.queued = true
			}
			if d.congested() {
				d.window = max(d.window/2, downloadFramesMin)
				d.halvings++
			}
		}
	}
	frames := 0
	for k := d.low; k < d.cursor && d.lost > 0 && frames < maxBurstFrames && seqs > 0; k++ {
		if d.have[k] || d.flight[k] > 0 || d.reqAt[k].IsZero() {
			continue
		}
		c := d.copies(true)
		if d.inFlight+c > d.window {
			break
		}
		d.lost--
		frames += c
		seqs--
		if err := d.request(k, c, now); err != nil {
			return err
		}
	}
	d.planCheck()
	return nil
}

// massTimeout is the least number of requests timing out in one round
// that can say "a queue" rather than "random loss" (with more than half of
// what was outstanding). At 4, a window halved to a few seqs at 20 % loss
// met it by chance and stayed small (8–33 frames at the end for a
// quarter of 100 read-backs).
const massTimeout = 8

// fillFast asks a fast download's next seqs while the window has room
// for their copies and nothing presumed lost waits to be asked again:
// at most seqs of them, at most autoWindowMax outstanding, and never more
// than maxBurstFrames frames at once. An item received releases
// perRequest (ack clocking, as the upload's): answers come in clumps, and
// bursts beyond that overflow queues on the way (gomavlib's, a radio's,
// ArduPilot's, which drops an answer it has no room for).
func (d *downloadTransfer) fillFast(now time.Time, seqs int) error {
	frames := 0
	for d.lost == 0 && d.out < autoWindowMax && d.cursor < d.n && frames < maxBurstFrames && seqs > 0 {
		if d.have[d.cursor] {
			d.cursor++
			continue
		}
		c := d.copies(false)
		if d.inFlight+c > d.window {
			break
		}
		seqs--
		frames += c
		if err := d.request(d.cursor, c, now); err != nil {
			return err
		}
		d.out++
		d.cursor++
	}
	return nil
}

// reRequestOverdue asks again for items requested more than two round
// trips ago that have not come while later ones did: lost on the way.
func (d *downloadTransfer) reRequestOverdue(now time.Time) error {
	for d.low < d.n && d.have[d.low] {
		d.low++
	}
	again := 0
	for k := d.low; k < d.cursor && again < d.v.opts.MissionWindow; k++ {
		if !d.have[k] && !d.reqAt[k].IsZero() && now.Sub(d.reqAt[k]) > 2*d.rtt+5*time.Millisecond {
			if err := d.request(k, 1, now); err != nil {
				return err
			}
			again++
		}
	}
	return nil
}

// fill keeps up to MissionWindow requests in flight, lowest seqs first.
func (d *downloadTransfer) fill(now time.Time) error {
	if d.fast {
		return d.fillFast(now, maxBurstFrames)
	}
	for d.inflight < d.v.opts.MissionWindow && d.cursor < d.n {
		if !d.have[d.cursor] {
			if err := d.request(d.cursor, 1, now); err != nil {
				return err
			}
			d.inflight++
		}
		d.cursor++
	}
	return nil
}

// finish closes the transfer on the vehicle's side.
func (d *downloadTransfer) finish() (bool, error) {
	if d.fast {
		d.v.log.Debug("mission download finished", "mission_type", d.t.String(), "items", d.n, "window", d.window,
			"copies", d.copies(false), "loss", d.loss, "srtt", d.est.srtt, "min_rtt", d.est.minRTT, "rttvar", d.est.rttvar,
			"timeout_rounds", d.rounds, "halvings", d.halvings, "congested", d.congested())
	}
	return true, d.v.sendMsg(d.v.missionAck(d.t, missionAccepted))
}

func (d *downloadTransfer) timeout(now time.Time) (bool, error) {
	if now.Before(d.due) {
		if r := d.overdueAt(); !r.IsZero() && !now.Before(r) {
			if err := d.reRequestLost(now, maxBurstFrames); err != nil {
				return true, err
			}
			return false, d.fill(now)
		}
		return false, nil
	}
	d.silent++
	if d.silent > d.v.opts.MissionRetries {
		switch {
		case d.n < 0 && d.lastRefusal >= 0:
			return true, fmt.Errorf("no MISSION_COUNT after %d MISSION_REQUEST_LISTs, only %s: %w", d.silent, missionResultName(uint8(d.lastRefusal)), ErrTimeout)
		case d.n < 0:
			return true, fmt.Errorf("no MISSION_COUNT after %d MISSION_REQUEST_LISTs: %w", d.silent, ErrTimeout)
		}
		return true, fmt.Errorf("stalled with %d of %d items received: %w", d.received, d.n, ErrTimeout)
	}
	d.due = now.Add(d.v.opts.MissionItemTimeout)
	if d.n < 0 {
		return false, d.sendList(now)
	}
	d.cursor, d.inflight, d.out = 0, 0, 0
	if d.fast {
		clear(d.reqAt) // ask again from the lowest missing seq
		clear(d.prevAt)
		clear(d.flight)
		d.inFlight, d.lost, d.low = 0, 0, 0
		d.checkAt = time.Time{}
	}
	return false, d.fill(now)
}

func (d *downloadTransfer) handle(msg message.Message, now time.Time) (bool, error) {
	switch m := msg.(type) {
	case *common.MessageMissionCount:
		if d.n >= 0 {
			return false, nil // duplicate or resent count
		}
		d.n = int(m.Count)
		d.got = make([]mavitem.Item, d.n)
		d.have = make([]bool, d.n)
		d.reqAt = make([]time.Time, d.n)
		d.reqCount = make([]uint8, d.n)
		d.silent = 0
		if d.fast {
			d.flight = make([]uint8, d.n)
			d.prevAt = make([]time.Time, d.n)
		}
		if d.fast && d.listSends == 1 {
			d.est.samples = 0 // this link's round trip now, not a remembered one
			d.est.sampleRTT(now.Sub(d.listAt))
		}
		if d.progress != nil {
			d.progress(0, d.n)
		}
		if d.n == 0 {
			return d.finish()
		}
		d.due = now.Add(d.v.opts.MissionItemTimeout)
		return false, d.fill(now)
	case *common.MessageMissionItemInt:
		seq := int(m.Seq)
		if d.n < 0 || seq >= d.n || d.have[seq] {
			return false, nil // stale, out of range or duplicate
		}
		d.have[seq] = true
		d.got[seq] = mavitem.Item{
			Seq: m.Seq, Frame: uint8(m.Frame), Command: uint16(m.Command),
			Current: m.Current, Autocontinue: m.Autocontinue,
			Param1: m.Param1, Param2: m.Param2, Param3: m.Param3, Param4: m.Param4,
			X: m.X, Y: m.Y, Z: m.Z, MissionType: d.t,
		}
		d.received++
		d.silent = 0
		if d.inflight > 0 {
			d.inflight--
		}
		if d.reqCount[seq] == 1 && !d.reqAt[seq].IsZero() {
			d.rtt = (7*d.rtt + now.Sub(d.reqAt[seq])) / 8
		}
		if d.fast {
			d.received1(seq, now)
		}
		if d.progress != nil {
			d.progress(d.received, d.n)
		}
		if d.received == d.n {
			return d.finish()
		}
		d.due = now.Add(d.v.opts.MissionItemTimeout)
		if d.fast {
			if r := d.overdueAt(); d.lost > 0 || (!r.IsZero() && !now.Before(r)) {
				if err := d.reRequestLost(now, perRequest); err != nil {
					return true, err
				}
			}
			return false, d.fillFast(now, perRequest)
		}
		if err := d.reRequestOverdue(now); err != nil {
			return true, err
		}
		return false, d.fill(now)
	case *common.MessageMissionAck:
		r := uint8(m.Type)
		if d.n < 0 && r == missionGenericError {
			d.lastRefusal = int(r) // likely a stale answer to a stray item; keep asking
			return false, nil
		}
		if d.n < 0 && r != missionAccepted && r != missionInvalidSequence {
			if d.earlyRefusals > 0 {
				return true, newMissionError(r, -1)
			}
			// possibly a stale refusal from an earlier transfer: ask
			// again and believe it only if it repeats
			d.earlyRefusals++
			d.due = now.Add(d.v.opts.MissionItemTimeout)
			return false, d.sendList(now)
		}
		d.v.log.Debug("ignoring MISSION_ACK during download", "mission_type", d.t.String(), "result", missionResultName(r))
	}
	return false, nil
}

// received1 updates a fast download for item seq, just received: the
// flight, the round trip (Karn's rule; a spurious timeout's real round
// trip), the congestion state, the loss the copies follow and the window.
func (d *downloadTransfer) received1(seq int, now time.Time) {
	switch {
	case d.flight[seq] > 0:
		d.inFlight -= int(d.flight[seq])
		d.flight[seq] = 0
	case !d.reqAt[seq].IsZero():
		d.lost-- // presumed lost and not asked again yet: only late
	}
	if !d.reqAt[seq].IsZero() && d.out > 0 {
		d.out--
	}
	// No sample for an item not asked for since the last silence (reqAt
	// cleared, reqCount kept): the round trip from the zero time was
	// sampled before, overflowed the estimator, made the timeout negative,
	// and one of 100 read-backs on a loaded machine then sent 5 million
	// requests.
	switch n := d.reqCount[seq]; {
	case d.reqAt[seq].IsZero():
	case n == 1: // Karn's rule
		d.est.sampleRTT(now.Sub(d.reqAt[seq]))
		d.clean()
	case n == 2 && !d.prevAt[seq].IsZero() && d.est.samples > 1 && now.Sub(d.reqAt[seq]) < d.est.minRTT*3/4:
		// sooner after the repeat than any answer to it could come: the
		// answer to the first request, and the timeout was spurious —
		// its real round trip is what the estimator has to learn
		d.est.spuriousRTO(now.Sub(d.prevAt[seq]))
		d.clean()
	}
	if st := math.Float64frombits(d.v.linkLoss.Load()); !d.congested() || st < d.loss {
		d.loss = st
	}
	// Growth: an item's copies per item (one more seq per item, doubling
	// the window per round trip) while the queues are empty; once
	// congested, an item's copies per window of frames received (one
	// more seq per round trip).
	c := d.copies(false)
	if d.congested() {
		if d.acked++; d.acked*c < d.window {
			return
		}
	}
	d.acked = 0
	d.window = min(d.window+c, downloadFramesMax)
}

// clean acts on a round-trip sample: the backoff ends (the timeouts of
// what is outstanding shrink), and a round of timeouts taken for a queue
// is forgotten once the round trip shows none.
func (d *downloadTransfer) clean() {
	if !d.est.congested() {
		d.queued = false
	}
	if d.backoff != 0 {
		d.backoff = 0
		d.planCheck()
	}
}
