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
// loss, a window of distinct seqs grows from autoWindowStart to
// autoWindowMax by one per item received, and each missing item is asked
// again, in one more copy, once it is a retransmission timeout (measured
// round trip plus margin, as the upload's) overdue — with its own timer,
// not the silence timeout. A 700-item read-back at 20 % loss and 200 ms
// took 25–47 s with the window of 16, one copy and re-requests only
// when later items came or after 1.5 s of silence.
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
	window int          // fast: distinct seqs in flight, at most
	est    linkEstimate // fast: round trip and loss
	out    int          // fast: seqs requested and not yet received
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
		d.fast, d.window = true, autoWindowStart
		d.est.srtt = v.opts.MissionItemTimeout / 8 // until the first item says better
		d.est.rttvar = d.est.srtt / 2
		v.mu.Lock()
		if v.link.set {
			d.est.srtt, d.est.rttvar = v.link.srtt, v.link.srtt/4
		}
		v.mu.Unlock()
		d.est.station = math.Float64frombits(v.linkLoss.Load())
	}
	return d
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
		copies = downloadCopies(d.est.station, true)
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

// planCheck sets checkAt to the earliest time an outstanding request is a
// retransmission timeout old, by one scan.
func (d *downloadTransfer) planCheck() {
	d.checkAt = time.Time{}
	for k := d.low; k < d.cursor; k++ {
		if d.have[k] || d.reqAt[k].IsZero() {
			continue
		}
		if at := d.reqAt[k].Add(d.rto(k)); d.checkAt.IsZero() || at.Before(d.checkAt) {
			d.checkAt = at
		}
	}
}

// rto is how long a fast download waits for item k before asking again:
// the measured timeout, at least minDownloadRTO, doubled for each time k
// was asked already (or per round of re-requests since the last clean
// sample).
func (d *downloadTransfer) rto(k int) time.Duration {
	r := max(d.est.rto(), minDownloadRTO) << min(max(uint(max(d.reqCount[k], 1)-1), d.backoff), 4)
	return min(r, d.v.opts.MissionItemTimeout)
}

// fastDownloadMinRTT is the MISSION_COUNT round trip below which a
// read-back stays plain (MissionWindow requests, one copy): on such a
// link 700 items take a fraction of a second anyway, and there 100
// fast read-backs at once on a loaded machine (the upload benchmark's
// verification, faults off) stalled in 3 of 6 rounds — some vehicles
// stopped answering after the first burst of requests, not understood
// yet — where the plain read-back never did.
const fastDownloadMinRTT = 20 * time.Millisecond

// minDownloadRTO is the least time a fast download waits for an item
// before asking again. The round trip it measures first (MISSION_COUNT's,
// from an idle vehicle) can be a millisecond on a fast link, while 100
// read-backs at once on a loaded machine take far longer to answer: with a
// 21 ms timeout every request was repeated four times before the first
// answer, and the repeats' answers crowded out the rest until transfers
// stalled. On a 200 ms link the measured timeout is longer anyway; on a
// fast one a lost item costs this much.
const minDownloadRTO = 200 * time.Millisecond

func (d *downloadTransfer) cancelled() {
	if d.n >= 0 {
		d.v.cancelTransfer(d.t)
	}
}

func (d *downloadTransfer) request(seq int, now time.Time) error {
	copies := 1
	if d.fast {
		copies = downloadCopies(d.est.station, d.reqCount[seq] > 0)
	}
	d.reqAt[seq] = now
	if d.reqCount[seq] < 255 {
		d.reqCount[seq]++
	}
	if d.fast {
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

// reRequestLost asks a fast download's overdue items again, lowest first,
// at most seqs of them and maxBurstFrames frames at once (the rest on the
// next event).
func (d *downloadTransfer) reRequestLost(now time.Time, seqs int) error {
	for d.low < d.n && d.have[d.low] {
		d.low++
	}
	frames := 0
	for k := d.low; k < d.cursor && frames < maxBurstFrames && seqs > 0; k++ {
		if d.have[k] || d.reqAt[k].IsZero() || now.Sub(d.reqAt[k]) < d.rto(k) {
			continue
		}
		frames += downloadCopies(d.est.station, true)
		seqs--
		if err := d.request(k, now); err != nil {
			return err
		}
	}
	if frames > 0 {
		d.backoff = min(d.backoff+1, 4)
	}
	d.planCheck()
	return nil
}

// fillFast keeps a fast download's window of distinct seqs in flight,
// asking for at most seqs new ones and never more than maxBurstFrames
// frames at once. An item received releases perRequest (ack clocking, as
// the upload's): answers come in clumps, and bursts beyond that
// overflow queues on the way (gomavlib's, a radio's, ArduPilot's, which
// drops an answer it has no room for).
func (d *downloadTransfer) fillFast(now time.Time, seqs int) error {
	frames := 0
	for d.out < d.window && d.cursor < d.n && frames < maxBurstFrames && seqs > 0 {
		if !d.have[d.cursor] {
			seqs--
			frames += downloadCopies(d.est.station, false)
			if err := d.request(d.cursor, now); err != nil {
				return err
			}
			d.out++
		}
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
			if err := d.request(k, now); err != nil {
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
			if err := d.request(d.cursor, now); err != nil {
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
		if d.fast && d.listSends == 1 {
			rtt := now.Sub(d.listAt)
			d.est.samples = 0 // this link's round trip now, not a remembered one
			d.est.sampleRTT(rtt)
			if rtt < fastDownloadMinRTT {
				d.fast = false
			}
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
		if d.reqCount[seq] == 1 {
			d.rtt = (7*d.rtt + now.Sub(d.reqAt[seq])) / 8
		}
		if d.fast {
			if !d.reqAt[seq].IsZero() && d.out > 0 {
				d.out--
			}
			if d.reqCount[seq] == 1 { // Karn's rule
				d.est.sampleRTT(now.Sub(d.reqAt[seq]))
				if d.backoff != 0 {
					d.backoff = 0
					d.planCheck() // the timeouts of what is outstanding shrank
				}
			}
			d.est.station = math.Float64frombits(d.v.linkLoss.Load())
			d.window = min(d.window+1, autoWindowMax)
		}
		if d.progress != nil {
			d.progress(d.received, d.n)
		}
		if d.received == d.n {
			return d.finish()
		}
		d.due = now.Add(d.v.opts.MissionItemTimeout)
		if d.fast {
			if r := d.overdueAt(); !r.IsZero() && !now.Before(r) {
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
