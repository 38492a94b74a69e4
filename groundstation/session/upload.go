package session

import (
	"fmt"
	"math"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// Windowed-upload tuning. Why these numbers: see uploadTransfer.
const (
	autoWindowStart = 16 // items ahead of the vehicle's request when a windowed upload starts
	autoWindowMax   = 64 // largest adaptive window (also the largest --mission-window)
	autoWindowMin   = 8  // a stall never shrinks the window below this
	maxCopies       = 6  // copies of one item on the worst links
	// maxBurstFrames caps the frames one event sends, so a burst fits
	// gomavlib's 64-frame write queue per channel (it drops silently
	// beyond); the rest goes out as the vehicle's requests come.
	maxBurstFrames = 32
	perRequest     = 2
	// minRTOMargin is the least slack a retransmission timeout keeps over
	// the smoothed round trip, for a vehicle's processing jitter.
	minRTOMargin = 20 * time.Millisecond
	// priorWeight is how many requests' worth of evidence the loss
	// estimate's prior counts for: the larger of the station's measured
	// link loss and the last upload's, or priorLoss when neither is known.
	priorWeight = 4
	priorLoss   = 0.005
)

// uploadPlan is how an upload streams items: window 1 is the strict
// MAVLink sequence (one item per request); otherwise up to window items
// go ahead of the vehicle's request, growing to maxWindow.
type uploadPlan struct {
	window, maxWindow int
	adaptive          bool // the window follows the link (auto); else fixed
}

func (p uploadPlan) windowed() bool { return p.window > 1 }

// uploadPlan chooses the plan for this vehicle: Options.UploadWindow when
// set (1 = strict, N = a fixed window of N), else by autopilot (see
// streamsEarlyItems): the adaptive window where early items are known to
// be safe, the strict MAVLink sequence everywhere else.
func (v *Vehicle) uploadPlan() uploadPlan {
	switch w := v.opts.UploadWindow; {
	case w == 1:
		return uploadPlan{window: 1, maxWindow: 1}
	case w > 1:
		return uploadPlan{window: w, maxWindow: w}
	}
	if ok, why := v.streamsEarlyItems(); !ok {
		v.log.Debug("mission upload: strict sequence", "reason", why)
		return uploadPlan{window: 1, maxWindow: 1}
	}
	return uploadPlan{window: autoWindowStart, maxWindow: autoWindowMax, adaptive: true}
}

// minWindowedArduPilot is the first ArduPilot release (major version, from
// AUTOPILOT_VERSION.flight_sw_version) whose uploads go through
// MissionItemProtocol, the code verified to take in-order early items and
// answer the others with a non-final INVALID_SEQUENCE (ArduCopter 4.7
// flown through Burgut; ArduSub 4.1 in the shared tlogs). 3.x answered
// uploads from older GCS_Common code that was not checked.
const minWindowedArduPilot = 4

// streamsEarlyItems reports whether items may go out ahead of the
// vehicle's requests, and why not. The HEARTBEAT's autopilot must be
// ArduPilot (MAV_AUTOPILOT_ARDUPILOTMEGA); when the vehicle has also
// answered AUTOPILOT_VERSION (the ground station asks on connect) that
// must say a MissionItemProtocol release: flight_sw_version 4.0 or later,
// or, from autopilots that leave the version 0, the MISSION_FENCE
// capability, which ArduPilot advertises since fences moved onto that
// protocol (ArduPlane 3.10 in the shared tlogs lacks it, ArduSub 4.1 has
// it). Before AUTOPILOT_VERSION arrives the HEARTBEAT decides alone.
func (v *Vehicle) streamsEarlyItems() (bool, string) {
	ap, ok := v.Autopilot()
	switch {
	case !ok:
		return false, "autopilot not known yet"
	case ap != uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA):
		return false, fmt.Sprintf("autopilot %d is not ArduPilot", ap)
	}
	caps, sw, known := v.version()
	switch major := sw >> 24; {
	case !known:
		return true, ""
	case major >= minWindowedArduPilot:
		return true, ""
	case sw != 0:
		return false, fmt.Sprintf("ArduPilot %d.%d predates MissionItemProtocol", major, sw>>16&0xff)
	case caps&uint64(common.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE) == 0:
		return false, "ArduPilot without a version or the MISSION_FENCE capability"
	}
	return true, ""
}

// linkMemory is what the last windowed upload measured, the starting
// point of the next one to the same vehicle.
type linkMemory struct {
	srtt time.Duration
	loss float64
	set  bool
}

// linkEstimate is what a windowed upload learns about the link while it
// runs: the round trip from sending an item to the vehicle's request for
// the next one (RFC 6298's smoothed estimator, samples only from items
// sent once, as Karn's rule asks) and the loss rate, from the gaps in
// the vehicle's requests — it sends one per item it accepts, so a request
// seq that never arrives was lost on the way down — and the ground
// station's own measurement (SetLinkLoss). The link is
// taken to lose as much on the way up (radios and the simulator are
// symmetric); an asymmetric link still completes, through more
// retransmission timeouts.
type linkEstimate struct {
	srtt, rttvar time.Duration
	minRTT       time.Duration // the round trip with empty queues, as far as seen
	samples      int
	lost, total  int     // request seqs missing / expected so far
	prior        float64 // loss assumed before any request
	station      float64 // the ground station's measured link loss (0 = none)
}

func (e *linkEstimate) sampleRTT(d time.Duration) {
	if d < 0 {
		return
	}
	if e.samples == 0 || d < e.minRTT {
		e.minRTT = d
	}
	if e.samples == 0 {
		e.srtt, e.rttvar = d, d/4
	} else {
		diff := e.srtt - d
		if diff < 0 {
			diff = -diff
		}
		e.rttvar = (3*e.rttvar + diff) / 4
		e.srtt = (7*e.srtt + d) / 8
	}
	e.samples++
}

// spuriousRTO records a retransmission timeout that fired while the
// vehicle's request was only late: d is the round trip it really took,
// from the send before the go-back. It is sampled like any round trip:
// Karn's rule had kept every such sample out, so the timeout never
// learnt the delay that fired it, and on a machine whose scheduling
// delays the requests of 100 parallel uploads by more than the round
// trip's variance the same lateness fired go-back after go-back (26–30
// per 700 items where the loss explains 6). Only sampled, not kept as a
// floor: a floor of the worst lateness seen (tried, decaying over an
// upload) held timeouts at 1–1.4 s after one stall of the machine, and
// every real loss then cost that long, where a needless go-back costs a
// few frames.
func (e *linkEstimate) spuriousRTO(d time.Duration) {
	if d > 0 {
		e.sampleRTT(d)
	}
}

// rto is how long after sending the item the vehicle waits for before its
// request for the next one may be overdue.
func (e *linkEstimate) rto() time.Duration {
	return e.srtt + max(4*e.rttvar, e.srtt/4, minRTOMargin)
}

// loss is the larger of the station's measurement and the upload's own:
// request gaps understate the loss when a vehicle answers each copy of an
// item it already holds with another request (the simulator does), and
// the station's sequence-number count covers a longer span.
func (e *linkEstimate) loss() float64 {
	lost := max(e.lost, 0)
	own := (float64(lost) + priorWeight*e.prior) / (float64(e.total) + priorWeight)
	return max(own, e.station)
}

// congested reports whether the round trip has grown well past the least
// one seen: queues along the way (a radio's buffer, the sockets of a busy
// station) are filling. A congested upload stops growing its window, and
// its copies follow only the loss the ground station measured on the link
// (copies): the drops of a full queue are not random loss, and copies
// against them would only add to the queue — 100 parallel uploads on one
// machine once read their own queue drops as link loss, sent four copies
// each, and dropped more (congestion collapse).
func (e *linkEstimate) congested() bool {
	return e.samples >= 8 && e.srtt > e.minRTT*3/2+minRTOMargin
}

// copies is how many copies of an item to send now, with window items
// in flight. When congested, they follow the station's own measurement
// (MAVLink sequence numbers over everything the vehicle sends), which
// queue drops in this upload's path do not inflate, instead of the
// upload's request gaps, which they do; and they are chosen as for a full
// window whatever the window is: a congested upload's window has shrunk,
// but a stall still costs a retransmission timeout of the grown round
// trip, the time of a full window. Not fewer: below the link's random
// loss every lost item stalls the window. One copy regardless (as this was until 2026-12) made 100
// parallel uploads at 20 % loss on a loaded machine — where the round
// trip grows with the load, not with the link's queues, which the send
// gate keeps from overflowing — stall every two or three items for half a
// second: the slowest took 27–44 s instead of 7.
func (e *linkEstimate) copies(window int) int {
	if e.congested() {
		return copiesFor(e.station, max(window, autoWindowMax))
	}
	return copiesFor(e.loss(), window)
}

// copiesFor is the number of copies per item that costs the fewest
// frames at loss rate p with window items in flight (at least
// autoWindowStart counted). The in-order vehicle refuses everything
// after an item whose copies were all lost, so a stall (chance p^c per
// item) costs a go-back of the window, c frames per item again, on top of
// a retransmission timeout: the expected frames per item are
// c·(1 + p^c·window). Fewer copies look cheaper only until the go-backs
// are counted: at 20 % loss and a window of 64, 3 copies stall every 125
// items and cost 4.5 frames per item, 4 copies stall every 625 and cost
// 4.4, and the upload saves the stalls' timeouts. With a full window of
// 64: 1 copy below 1.7 % loss, 2 below 9.6 %, 3 below 19 %, 4 below 28 %,
// 5 below 35 %, else 6 (from 50 % on the formula, whose go-backs stop
// growing once every window stalls, would fall back to one copy: it stays
// at maxCopies, which shortens the stalls).
func copiesFor(p float64, window int) int {
	if p >= 0.5 {
		return maxCopies
	}
	w := float64(max(window, autoWindowStart))
	best, bestCost := 1, math.Inf(1)
	for c := 1; c <= maxCopies; c++ {
		cost := float64(c) * (1 + math.Pow(p, float64(c))*w)
		if cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// uploadTransfer replaces the vehicle's list of one type (see Upload).
//
// Strict (window 1): every MISSION_REQUEST(_INT) is answered with exactly
// the item requested; silence resends the highest requested item and the
// one after it.
//
// Windowed: the vehicle accepts items only in order, so the cost of an
// upload is the round trips it waits. Up to window items go out ahead of
// its request (ack-clocked: each request opens the window by the items it
// confirms), each in copiesFor(loss) copies so that a lost item rarely
// stalls it. When the vehicle does not ask for the next item within a
// retransmission timeout of the awaited one (measured round trip plus
// margin, doubled per repeat) or re-requests it after that, the awaited
// item was lost and every later item was refused as out of sequence: the
// station goes back and resends from the awaited item (go-back-N; a
// vehicle that keeps no out-of-order items needs them again). The window
// grows by one per confirmed item up to maxWindow and shrinks by a
// quarter per stall, so a congested radio gets fewer frames in flight.
type uploadTransfer struct {
	v        *Vehicle
	t        mavitem.MissionType
	items    []mavitem.Item
	n        int
	progress Progress
	countMsg *common.MessageMissionCount
	probeMsg *common.MessageMissionRequestList

	plan   uploadPlan
	window int
	est    linkEstimate

	sentAt   []time.Time // last send of each item (zero = not in this round)
	prevAt   []time.Time // the send before that (zero = none)
	bursts   []uint8     // how often each item went out (saturating), for Karn's rule
	reqSeen  []bool      // windowed: request seqs that arrived
	distinct int         // items sent at least once this round
	next     int         // windowed: next item to (re)send
	frontier int         // highest seq the vehicle requested (it holds all below); -1 before
	lastSeq  int         // last requested seq (for errors)
	maxSeq   int         // highest requested seq
	backoff  uint        // retransmission timeouts of the current frontier in a row
	stalls   int
	spurious int // go-backs the vehicle's late request showed needless
	// preStall is the window before the latest go-back and stallSeq the
	// item it went back to; the window is restored when that go-back
	// proves spurious.
	preStall, stallSeq int

	countAt    time.Time // when MISSION_COUNT last went out
	countSends int       // MISSION_COUNTs sent this round (an RTT sample only from one)
	restarted  bool      // a request may answer an earlier round's count

	confirmed     int
	silent        int
	silenceAt     time.Time
	earlyRefusals int
	lastRefusal   int
	// lateRefusal is a MAV_MISSION_ERROR that came after every item had
	// gone out (-1: none). ArduPilot answers items that arrive after it
	// finished an upload with MAV_MISSION_ERROR, and a windowed upload on a
	// lossy link sends copies, so this may be the answer to a stray copy
	// while the final ACCEPTED was lost; or the vehicle refused the list.
	// The probe tells: a vehicle still receiving answers DENIED, a finished
	// one its count, and then only the list it holds can say which.
	lateRefusal int
	probed      bool // a probe is outstanding
	// probes counts the probes of the whole transfer, not of this round:
	// a copy of an earlier round's probe, delayed or duplicated on the
	// link, is answered DENIED while the vehicle receives the restarted
	// round, and with the count reset at the restart that answer failed
	// the upload as the vehicle's refusal (the likely cause of
	// TestGroupUploadUnderLossThenFly's "refused the transfer after item
	// 5: MAV_MISSION_DENIED" under load, on links that delay and copy).
	probes int
	verify *downloadTransfer // reading the list back after a late refusal
}

func (v *Vehicle) newUpload(t mavitem.MissionType, items []mavitem.Item, p Progress) *uploadTransfer {
	n := len(items)
	u := &uploadTransfer{
		v: v, t: t, items: items, n: n, progress: p,
		countMsg: &common.MessageMissionCount{
			TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
			Count: uint16(n), MissionType: common.MAV_MISSION_TYPE(t),
		},
		probeMsg: &common.MessageMissionRequestList{
			TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
			MissionType: common.MAV_MISSION_TYPE(t),
		},
		plan:   v.uploadPlan(),
		sentAt: make([]time.Time, n), prevAt: make([]time.Time, n), bursts: make([]uint8, n), reqSeen: make([]bool, n),
		frontier: -1, lastSeq: -1, lastRefusal: -1, lateRefusal: -1, stallSeq: -1,
	}
	u.window = u.plan.window
	u.est.prior = priorLoss
	u.est.srtt = v.opts.MissionItemTimeout / 8 // until the first request says better
	u.est.rttvar = u.est.srtt / 2
	v.mu.Lock()
	if v.link.set {
		u.est.prior, u.est.srtt, u.est.rttvar = v.link.loss, v.link.srtt, v.link.srtt/4
	}
	v.mu.Unlock()
	u.est.station = math.Float64frombits(v.linkLoss.Load())
	u.est.prior = max(u.est.prior, u.est.station)
	return u
}

func (u *uploadTransfer) start(now time.Time) error {
	if err := u.sendCount(now); err != nil {
		return err
	}
	if u.progress != nil {
		u.progress(0, u.n)
	}
	return nil
}

// sendCount sends MISSION_COUNT, in as many copies as items get when
// windowed: a lost count costs a whole timeout. Copies sent back to back
// reach the vehicle before any item, so a vehicle that restarts on a
// repeated count (ArduPilot) loses nothing.
func (u *uploadTransfer) sendCount(now time.Time) error {
	u.countAt = now
	u.countSends++
	u.silenceAt = now.Add(u.v.opts.MissionItemTimeout)
	copies := 1
	if u.plan.windowed() {
		copies = u.est.copies(u.window)
	}
	for range copies {
		if err := u.v.sendMsg(u.countMsg); err != nil {
			return err
		}
	}
	return nil
}

func (u *uploadTransfer) cancelled() { u.v.cancelTransfer(u.t) }

// sendItem sends item seq in copies frames.
func (u *uploadTransfer) sendItem(seq, copies int, now time.Time) error {
	for range copies {
		if err := u.v.sendMsg(u.v.itemMessage(u.t, seq, u.items[seq])); err != nil {
			return err
		}
	}
	if u.bursts[seq] == 0 {
		u.distinct++
	}
	if u.bursts[seq] < 255 {
		u.bursts[seq]++
	}
	u.prevAt[seq] = u.sentAt[seq]
	u.sentAt[seq] = now
	return nil
}

// confirm reports progress: a request for seq s means the vehicle holds
// items 0..s-1; the final ACK confirms all.
func (u *uploadTransfer) confirm(c int) {
	if c > u.confirmed {
		u.confirmed = c
		if u.progress != nil {
			u.progress(c, u.n)
		}
	}
}

// rto is the current retransmission timeout, backed off per repeat and
// never longer than the silence timeout.
func (u *uploadTransfer) rto() time.Duration {
	r := u.est.rto() << min(u.backoff, 6)
	return min(r, u.v.opts.MissionItemTimeout)
}

// rtoAt is when the vehicle's next request is overdue: the request for
// the first item after MISSION_COUNT, or for the one after the awaited
// item (zero when nothing is awaited, and always in strict mode).
func (u *uploadTransfer) rtoAt() time.Time {
	switch {
	case !u.plan.windowed() || u.frontier >= u.n:
		return time.Time{}
	case u.frontier < 0:
		if u.distinct > 0 || u.countSends == 0 {
			return time.Time{}
		}
		return u.countAt.Add(u.rto())
	case u.sentAt[u.frontier].IsZero():
		return time.Time{}
	}
	return u.sentAt[u.frontier].Add(u.rto())
}

func (u *uploadTransfer) deadline() time.Time {
	if u.verify != nil {
		return u.verify.deadline()
	}
	if r := u.rtoAt(); !r.IsZero() && r.Before(u.silenceAt) {
		return r
	}
	return u.silenceAt
}

// fill sends up to items of the window not yet sent, lowest first, and
// never more than maxBurstFrames frames. A request releases at most
// perRequest items: the vehicle takes one item per request, so the window
// refills at twice its pace without bursts that gomavlib's queue (and a
// radio's) would drop — requests arrive in clumps.
func (u *uploadTransfer) fill(now time.Time, items int) error {
	if u.frontier < 0 {
		return nil
	}
	c := u.est.copies(u.window)
	for budget := max(min(items, maxBurstFrames/c), 1); budget > 0 && u.next < u.n && u.next < u.frontier+u.window; budget-- {
		if err := u.sendItem(u.next, c, now); err != nil {
			return err
		}
		u.next++
	}
	return nil
}

// recover goes back to the awaited item: it was lost, and the vehicle
// refused everything sent after it as out of sequence.
func (u *uploadTransfer) recover(now time.Time) error {
	if u.frontier < 0 || u.frontier >= u.n {
		return nil
	}
	u.stalls++
	u.backoff++
	u.preStall, u.stallSeq = u.window, u.frontier
	if u.plan.adaptive {
		u.window = max(u.window*3/4, autoWindowMin)
	}
	// one extra copy of the item the vehicle waits for: a second stall on
	// it costs a doubled timeout
	if err := u.sendItem(u.frontier, min(u.est.copies(u.window)+1, maxCopies), now); err != nil {
		return err
	}
	u.next = u.frontier + 1
	return u.fill(now, maxBurstFrames)
}

// overdue acts on a retransmission timeout: MISSION_COUNT again before
// the first request; else go back to the awaited item, and once every
// item went out also probe at once whether the vehicle finished and only
// its ACK was lost, instead of waiting for a silence.
func (u *uploadTransfer) overdue(now time.Time) error {
	u.v.log.Debug("mission upload: vehicle's next request overdue", "mission_type", u.t.String(),
		"seq", u.frontier, "rto", u.rto(), "window", u.window)
	if u.frontier < 0 {
		u.backoff++
		silenceAt := u.silenceAt
		err := u.sendCount(now)
		u.silenceAt = silenceAt // a timeout, not progress
		return err
	}
	if err := u.recover(now); err != nil {
		return err
	}
	if u.distinct == u.n && !u.probed {
		return u.probe()
	}
	return nil
}

// probe asks a vehicle that may have finished for its count.
func (u *uploadTransfer) probe() error {
	u.probed = true
	u.probes++
	return u.v.sendMsg(u.probeMsg)
}

// restart begins the transfer again from MISSION_COUNT, forgetting what
// was sent, so the final ACK again counts only after every item.
func (u *uploadTransfer) restart(now time.Time) error {
	u.frontier, u.probed, u.distinct, u.maxSeq, u.lastSeq, u.lateRefusal = -1, false, 0, 0, -1, -1
	u.next, u.countSends, u.restarted = 0, 0, true
	clear(u.sentAt)
	clear(u.prevAt)
	clear(u.bursts)
	clear(u.reqSeen)
	return u.sendCount(now)
}

func (u *uploadTransfer) timeout(now time.Time) (bool, error) {
	if u.verify != nil {
		return u.verified(u.verify.timeout(now))
	}
	if now.Before(u.silenceAt) {
		if r := u.rtoAt(); !r.IsZero() && !now.Before(r) {
			return false, u.overdue(now)
		}
		return false, nil
	}
	u.silent++
	opts := u.v.opts
	if u.silent > opts.MissionRetries {
		switch {
		case u.distinct == 0 && u.lastRefusal >= 0:
			return true, fmt.Errorf("no MISSION_REQUEST after %d MISSION_COUNTs, only %s: %w", u.silent, missionResultName(uint8(u.lastRefusal)), ErrTimeout)
		case u.distinct == 0:
			return true, fmt.Errorf("no MISSION_REQUEST after %d MISSION_COUNTs: %w", u.silent, ErrTimeout)
		}
		return true, fmt.Errorf("stalled after %d of %d items sent (last requested seq %d): %w", u.distinct, u.n, u.lastSeq, ErrTimeout)
	}
	switch {
	case u.distinct == 0 || (u.distinct == u.n && u.silent > endNudges):
		// Nothing requested yet, or everything sent and the probe below
		// got no answer either: restart; the vehicle allows a restart
		// from the same station.
		u.v.log.Debug("mission upload silent, resending MISSION_COUNT", "mission_type", u.t.String(), "silent", u.silent)
		return false, u.restart(now)
	case u.distinct == u.n:
		// Everything sent, no final ACK: either the last item or the ACK
		// was lost. Resend the last item and ask the vehicle for its
		// count: ArduPilot answers DENIED while still receiving and
		// MISSION_COUNT once it has finished.
		u.v.log.Debug("mission upload: no final ACK, probing", "mission_type", u.t.String(), "silent", u.silent)
		u.silenceAt = now.Add(opts.MissionItemTimeout)
		if err := u.sendItem(u.maxSeq, 1, now); err != nil {
			return true, err
		}
		return false, u.probe()
	}
	// Mid-transfer: either our item maxSeq or the vehicle's request for
	// maxSeq+1 was lost. Send both; the vehicle takes the one it waits
	// for and NACKs the other with INVALID_SEQUENCE, which is not final.
	u.v.log.Debug("mission upload silent, resending items", "mission_type", u.t.String(), "seq", u.maxSeq, "silent", u.silent)
	u.silenceAt = now.Add(opts.MissionItemTimeout)
	if u.plan.windowed() {
		return false, u.recover(now)
	}
	for seq := u.maxSeq; seq <= u.maxSeq+1 && seq < u.n; seq++ {
		if err := u.sendItem(seq, 1, now); err != nil {
			return true, err
		}
	}
	return false, nil
}

func (u *uploadTransfer) handle(msg message.Message, now time.Time) (bool, error) {
	if u.verify != nil {
		if a, ok := msg.(*common.MessageMissionAck); ok && uint8(a.Type) == missionAccepted {
			// The vehicle's ACCEPTED, late: it completed the upload, so
			// the refusal answered a stray copy. ArduPilot sends ACCEPTED
			// only when an upload completes, never during a download,
			// and every item went out. No need to read 700 items back.
			u.v.log.Debug("mission upload: ACCEPTED during the read-back after a refusal, the refusal was for a stray item", "mission_type", u.t.String())
			u.finished()
			return true, u.v.sendMsg(u.v.missionAck(u.t, missionAccepted)) // closes the read-back
		}
		return u.verified(u.verify.handle(msg, now))
	}
	switch m := msg.(type) {
	case *common.MessageMissionRequestInt:
		return u.onRequest(int(m.Seq), now)
	case *common.MessageMissionRequest:
		return u.onRequest(int(m.Seq), now)
	case *common.MessageMissionCount:
		return u.onCount(int(m.Count), now)
	case *common.MessageMissionAck:
		return u.onAck(uint8(m.Type), now)
	}
	return false, nil
}

func (u *uploadTransfer) onRequest(seq int, now time.Time) (bool, error) {
	if seq < 0 || seq >= u.n {
		u.v.log.Warn("vehicle requested a seq beyond the upload", "mission_type", u.t.String(), "seq", seq, "count", u.n)
		return false, nil
	}
	u.confirm(seq)
	u.silent = 0
	u.lastSeq = seq
	u.maxSeq = max(u.maxSeq, seq)
	u.silenceAt = now.Add(u.v.opts.MissionItemTimeout)
	if !u.plan.windowed() {
		return false, u.sendItem(seq, 1, now)
	}
	fresh := !u.reqSeen[seq]
	u.reqSeen[seq] = true
	// The station's figure is read again at every request, not once: the
	// vehicle's requests and NACKs of this very upload are hundreds of
	// frames a second on its link, so within a second the figure counts
	// them rather than the few telemetry frames it started from (5 s of
	// them read 10–29 % on links losing 20 %), and the copies follow.
	u.est.station = math.Float64frombits(u.v.linkLoss.Load())
	switch {
	case seq > u.frontier:
		// Karn's rule: sample only what went out once — or, when the
		// request came too soon after a resend to answer it, what went
		// out before: the go-back was spurious.
		switch {
		case u.frontier < 0 && u.countSends == 1 && !u.restarted:
			u.est.sampleRTT(now.Sub(u.countAt))
		case seq > 0 && u.bursts[seq-1] == 1:
			u.est.sampleRTT(now.Sub(u.sentAt[seq-1]))
		case seq > 0 && u.stalls > 0 && u.est.samples > 0 && now.Sub(u.sentAt[seq-1]) < u.est.minRTT*3/4:
			// an answer to the resend cannot come before the least
			// round trip: the vehicle had the item already
			if u.bursts[seq-1] == 2 {
				u.est.spuriousRTO(now.Sub(u.prevAt[seq-1]))
			}
			if seq-1 == u.stallSeq {
				u.stallSeq = -1
				u.spurious++
				if u.plan.adaptive {
					u.window = max(u.window, u.preStall)
				}
			}
		}
		u.backoff = 0
		for k := u.frontier + 1; k < seq; k++ {
			if !u.reqSeen[k] {
				u.est.lost++
			}
		}
		u.est.total += seq - u.frontier
		prev := max(u.frontier, 0)
		u.frontier = seq
		if u.plan.adaptive && u.window < u.plan.maxWindow && !u.est.congested() {
			u.window++
		}
		u.next = max(u.next, seq)
		if u.next == seq && seq == 0 {
			return false, u.fill(now, maxBurstFrames) // the first burst
		}
		return false, u.fill(now, perRequest*(seq-prev))
	case seq == u.frontier:
		// Asked again for the item it waits for: a duplicate, the answer
		// to a copy of the previous item, or (once that item is overdue)
		// the vehicle's own re-request for a lost one.
		if r := u.rtoAt(); !r.IsZero() && !now.Before(r) {
			return false, u.overdue(now)
		}
		return false, nil
	}
	// an old request, reordered: it was counted lost when a later one came
	if fresh {
		u.est.lost--
	}
	return false, nil
}

// onCount is the vehicle's answer to the end-of-upload probe.
func (u *uploadTransfer) onCount(count int, now time.Time) (bool, error) {
	if !u.probed || u.distinct != u.n {
		return false, nil
	}
	u.probed = false
	switch {
	case count == u.n && u.lateRefusal >= 0:
		// finished and holding n items after a refusal: read the list
		// back; it is ours only if the refusal answered a stray copy
		u.verify = newDownload(u.v, u.t, nil)
		return false, u.verify.start(now)
	case count == u.n:
		// finished and holding n items: only the ACK was lost
		u.v.log.Debug("mission upload: final ACK lost, vehicle reports the full count", "mission_type", u.t.String())
		u.finished()
		return true, u.v.sendMsg(u.v.missionAck(u.t, missionAccepted)) // closes the probe's download
	case u.lateRefusal >= 0:
		// finished without our list: the refusal was real
		return true, newMissionError(uint8(u.lateRefusal), u.lastSeq)
	}
	u.v.log.Debug("mission upload: vehicle finished without our list, restarting", "mission_type", u.t.String(), "count", count)
	return false, u.restart(now)
}

func (u *uploadTransfer) onAck(r uint8, now time.Time) (bool, error) {
	switch {
	case r == missionAccepted && u.distinct == u.n:
		u.finished()
		return true, nil
	case r == missionDenied && u.probes > 0:
		// a probe's answer while the vehicle still receives (copies may
		// come late): the next overdue request may probe again
		u.probed = false
		u.v.log.Debug("mission upload: vehicle still receiving", "mission_type", u.t.String())
	case r == missionAccepted:
		u.v.log.Debug("ignoring early MISSION_ACK ACCEPTED (stale, from an earlier transfer)", "mission_type", u.t.String(), "sent", u.distinct, "total", u.n)
	case r == missionInvalidSequence:
		// ArduPilot's answer to an early, late or duplicated item: not
		// final, and with copies in flight not a loss signal either; a
		// lost item shows as an overdue request (rtoAt).
	case u.distinct == 0 && r == missionGenericError:
		// ArduPilot and the simulator answer stray items of a finished
		// upload with MAV_MISSION_ERROR, so before the first request it
		// says nothing about this transfer: the silence timeout keeps
		// resending MISSION_COUNT.
		u.lastRefusal = int(r)
	case u.distinct == u.n && r == missionGenericError:
		// every item went out: possibly the answer to a stray copy after
		// the vehicle finished (see lateRefusal)
		u.lateRefusal = int(r)
		if !u.probed {
			u.v.log.Debug("mission upload: MAV_MISSION_ERROR after the last item, probing", "mission_type", u.t.String())
			return false, u.probe()
		}
	case u.distinct == 0 && u.earlyRefusals == 0:
		// Before any request: possibly a stale refusal of an earlier
		// transfer. Ask again; believe it if it repeats.
		u.earlyRefusals++
		u.v.log.Debug("refusal before the first request, resending MISSION_COUNT", "mission_type", u.t.String(), "result", missionResultName(r))
		return false, u.sendCount(now)
	default:
		return true, newMissionError(r, u.lastSeq)
	}
	return false, nil
}

// verified ends the read-back after a late refusal: the upload succeeded
// if the vehicle holds exactly the uploaded list, else the refusal stands.
func (u *uploadTransfer) verified(done bool, err error) (bool, error) {
	if !done && err == nil {
		return false, nil
	}
	if err == nil {
		err = u.v.compareList(u.t, u.items, u.verify.items())
	}
	if err != nil {
		u.v.log.Debug("mission upload: read-back after a refusal failed, the refusal stands", "mission_type", u.t.String(), "err", err)
		return true, newMissionError(uint8(u.lateRefusal), u.lastSeq)
	}
	u.v.log.Debug("mission upload: refusal was for a stray item, vehicle holds the list", "mission_type", u.t.String())
	u.finished()
	return true, nil
}

// finished confirms the whole list and keeps what a windowed upload
// measured for the next one.
func (u *uploadTransfer) finished() {
	u.confirm(u.n)
	if !u.plan.windowed() || u.est.total == 0 {
		return
	}
	loss := u.est.loss()
	u.v.log.Debug("mission upload finished", "mission_type", u.t.String(), "items", u.n, "window", u.window,
		"copies", u.est.copies(u.window), "loss", loss, "srtt", u.est.srtt, "min_rtt", u.est.minRTT, "stalls", u.stalls, "spurious", u.spurious, "rttvar", u.est.rttvar)
	u.v.mu.Lock()
	u.v.link = linkMemory{srtt: u.est.srtt, loss: loss, set: true}
	u.v.mu.Unlock()
}
