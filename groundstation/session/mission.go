package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// Progress reports a transfer's advance: done of total items or parameters.
// For uploads done counts items the vehicle has confirmed (it requested a
// later one, or ACKed), not items sent. It is called from the operation's
// goroutine and must not block for long.
type Progress func(done, total int)

const (
	missionAccepted        = uint8(common.MAV_MISSION_ACCEPTED)
	missionInvalidSequence = uint8(common.MAV_MISSION_INVALID_SEQUENCE)
	missionGenericError    = uint8(common.MAV_MISSION_ERROR)
	missionDenied          = uint8(common.MAV_MISSION_DENIED)
	missionOperationCancel = uint8(common.MAV_MISSION_OPERATION_CANCELLED)
	maxMissionItems        = 65535
	// endNudges is how many silences after the last item probe the vehicle
	// (last item again + MISSION_REQUEST_LIST) before the upload restarts
	// with MISSION_COUNT.
	endNudges = 3
	// recoverBurst caps the items a windowed upload resends at once.
	recoverBurst = 16
)

// lockTransfer claims the mission-protocol slot for type t; the returned
// func releases it. One transfer per (vehicle, mission type) runs at a time:
// the protocol's messages carry the type, but not a transfer id.
func (v *Vehicle) lockTransfer(t mavitem.MissionType) (func(), error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	if v.transfers[t] {
		return nil, ErrBusy
	}
	v.transfers[t] = true
	return func() {
		v.mu.Lock()
		delete(v.transfers, t)
		v.mu.Unlock()
	}, nil
}

// missionTypeOf returns the mission_type of a mission-protocol message and
// whether msg is one.
func missionTypeOf(msg message.Message) (mavitem.MissionType, bool) {
	switch m := msg.(type) {
	case *common.MessageMissionRequestInt:
		return mavitem.MissionType(m.MissionType), true
	case *common.MessageMissionRequest:
		return mavitem.MissionType(m.MissionType), true
	case *common.MessageMissionAck:
		return mavitem.MissionType(m.MissionType), true
	case *common.MessageMissionCount:
		return mavitem.MissionType(m.MissionType), true
	case *common.MessageMissionItemInt:
		return mavitem.MissionType(m.MissionType), true
	}
	return 0, false
}

func (v *Vehicle) subscribeMission(t mavitem.MissionType) (*waiter, func(), error) {
	return v.subscribe(func(msg message.Message) bool {
		mt, ok := missionTypeOf(msg)
		return ok && mt == t
	})
}

// beginTransfer claims the transfer slot for type t and subscribes to that
// type's mission messages; end releases both. Every mission operation
// starts with it.
func (v *Vehicle) beginTransfer(t mavitem.MissionType) (*waiter, func(), error) {
	release, err := v.lockTransfer(t)
	if err != nil {
		return nil, nil, err
	}
	w, unsubscribe, err := v.subscribeMission(t)
	if err != nil {
		release()
		return nil, nil, err
	}
	return w, func() { unsubscribe(); release() }, nil
}

func (v *Vehicle) missionAck(t mavitem.MissionType, result uint8) *common.MessageMissionAck {
	return &common.MessageMissionAck{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		Type: common.MAV_MISSION_RESULT(result), MissionType: common.MAV_MISSION_TYPE(t),
	}
}

// cancelTransfer tells the vehicle an aborted transfer is over, as the
// mission protocol asks, so it does not wait for its own timeout. Best effort.
func (v *Vehicle) cancelTransfer(t mavitem.MissionType) {
	if err := v.send.Send(v.missionAck(t, missionOperationCancel)); err != nil {
		v.log.Debug("send MISSION_ACK cancelled", "mission_type", t.String(), "err", err)
	}
}

func (v *Vehicle) itemMessage(t mavitem.MissionType, seq int, it mavitem.Item) *common.MessageMissionItemInt {
	return &common.MessageMissionItemInt{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		Seq: uint16(seq), Frame: common.MAV_FRAME(it.Frame), Command: common.MAV_CMD(it.Command),
		Current: it.Current, Autocontinue: it.Autocontinue,
		Param1: it.Param1, Param2: it.Param2, Param3: it.Param3, Param4: it.Param4,
		X: it.X, Y: it.Y, Z: it.Z, MissionType: common.MAV_MISSION_TYPE(t),
	}
}

// Upload replaces the vehicle's list of type t with items (their position
// in the slice is their seq; each item's Seq and MissionType fields are
// overwritten with it and t). An empty list clears the vehicle's list.
//
// The vehicle drives the transfer: MISSION_COUNT goes out, then every
// MISSION_REQUEST_INT (or legacy MISSION_REQUEST, which ArduCopter 4.7
// still sends) is answered with MISSION_ITEM_INT for exactly the seq
// requested — duplicated and reordered requests are answered again and can
// never shift items, because an item is always sent with its own seq.
// Silence for MissionItemTimeout resends MISSION_COUNT before the first
// request, and mid-transfer the highest requested item and the one after it
// (for vehicles that do not re-request on their own). After the last item,
// silence means the last item or the final ACK was lost: the last item goes
// again together with a MISSION_REQUEST_LIST probe — a vehicle still
// receiving answers DENIED (not final), a finished one its MISSION_COUNT,
// which equal to len(items) completes the upload (the probe's download is
// closed with MISSION_ACK) and otherwise restarts it. MissionRetries
// silences in a row end with ErrTimeout.
//
// With Options.UploadWindow > 1 the station also streams up to that many
// items ahead of the vehicle's request (see UploadWindow).
//
// The final MISSION_ACK counts only once every item has gone out at least
// once, so a late ACCEPTED from a previous transfer cannot end this one;
// MAV_MISSION_INVALID_SEQUENCE (ArduPilot's answer to a duplicated or early
// item) is not final. Before the first request, MAV_MISSION_ERROR is taken
// for what ArduPilot answers to stray items of a finished upload and only
// noted, and any other refusal is believed only when it repeats after
// MISSION_COUNT is resent (a stale answer must not fail this transfer).
// After every item has gone out, MAV_MISSION_ERROR may likewise answer a
// stray copy that reached a vehicle which had already finished (its
// ACCEPTED lost): the vehicle is probed, and if it finished holding n
// items the list is read back; the refusal stands unless it is the
// uploaded list. Otherwise a refusal ends the
// upload with a *MissionError. Cancelling ctx sends MISSION_ACK
// OPERATION_CANCELLED. A second transfer of the same type returns ErrBusy.
func (v *Vehicle) Upload(ctx context.Context, t mavitem.MissionType, items []mavitem.Item, p Progress) error {
	n := len(items)
	wrap := func(err error) error {
		return fmt.Errorf("upload %s (%d items) to vehicle %d: %w", t, n, v.target.SystemID, err)
	}
	if n > maxMissionItems {
		return wrap(fmt.Errorf("too many items: MAVLink allows at most %d", maxMissionItems))
	}
	w, end, err := v.beginTransfer(t)
	if err != nil {
		return wrap(err)
	}
	defer end()

	countMsg := &common.MessageMissionCount{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		Count: uint16(n), MissionType: common.MAV_MISSION_TYPE(t),
	}
	if err := v.sendMsg(countMsg); err != nil {
		return wrap(err)
	}
	if p != nil {
		p(0, n)
	}
	window := v.opts.UploadWindow
	sent := make([]bool, n)
	lastSent := make([]time.Time, n)
	resent := make([]bool, n) // sent again after its first burst: no RTT sample
	distinct, lastSeq, maxSeq, silent, earlyRefusals, lastRefusal := 0, -1, 0, 0, 0, -1
	frontier := -1                       // highest seq the vehicle asked for (it holds everything below)
	rtt := v.opts.MissionItemTimeout / 8 // estimate of item→next-request time, refined as requests come
	sendItem := func(seq int, now time.Time) error {
		if err := v.sendMsg(v.itemMessage(t, seq, items[seq])); err != nil {
			return err
		}
		if !lastSent[seq].IsZero() && !lastSent[seq].Equal(now) {
			resent[seq] = true
		}
		lastSent[seq] = now
		if !sent[seq] {
			sent[seq] = true
			distinct++
		}
		return nil
	}
	// Progress counts what the vehicle confirmed: a request for seq s
	// means it holds items 0..s-1; the final ACK confirms all.
	confirmed := 0
	confirm := func(c int) {
		if c > confirmed {
			confirmed = c
			if p != nil {
				p(c, n)
			}
		}
	}
	// stale reports whether item k may be lost: never sent, or sent more
	// than two round trips ago.
	stale := func(k int, now time.Time) bool {
		return lastSent[k].IsZero() || now.Sub(lastSent[k]) > 2*rtt+5*time.Millisecond
	}
	// copies adapts redundancy to the loss seen so far in windowed mode:
	// each lost item stalls the vehicle (it accepts items only in order)
	// for a round trip, so on a lossy link every item goes out two or three
	// times; a clean link keeps one copy.
	recoveries := 0
	copies := func() int {
		est := float64(recoveries) / float64(max(frontier, 0)+1)
		switch {
		case est < 0.02:
			return 1
		case est < 0.1:
			return 2
		}
		return 3
	}
	sendCopies := func(seq int, now time.Time) error {
		for range copies() {
			if err := sendItem(seq, now); err != nil {
				return err
			}
		}
		return nil
	}
	// recoverFrontier resends, in order, the awaited item and the window
	// behind it: the vehicle refused those as out of sequence (go-back-N).
	recoverFrontier := func(now time.Time) error {
		if frontier < 0 || frontier >= n {
			return nil
		}
		recoveries++
		// at most recoverBurst items, so the burst (times copies) fits
		// gomavlib's 64-frame write queue
		burst := frontier + min(window, recoverBurst)
		for k := frontier; k < n && k < burst && (k == frontier || !lastSent[k].IsZero()); k++ {
			if err := sendCopies(k, now); err != nil {
				return err
			}
		}
		// the rest of the window was refused too: send it again as soon
		// as the vehicle's next requests open the window
		for k := burst; k < n && k < frontier+window; k++ {
			lastSent[k] = time.Time{}
		}
		return nil
	}
	probeMsg := &common.MessageMissionRequestList{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		MissionType: common.MAV_MISSION_TYPE(t),
	}
	probed := false
	// lateRefusal is a MAV_MISSION_ERROR that came after every item had
	// gone out (-1: none). ArduPilot answers items that arrive after it
	// finished an upload with MAV_MISSION_ERROR, and a windowed upload on a
	// lossy link sends copies, so this may be the answer to a stray copy
	// while the final ACCEPTED was lost; or the vehicle refused the list.
	// The probe tells: a vehicle still receiving answers DENIED, a finished
	// one its count, and then only the list it holds can say which.
	lateRefusal := -1
	// restart begins the transfer again from MISSION_COUNT, forgetting
	// what was sent, so the final ACK again counts only after every item.
	restart := func() error {
		if err := v.sendMsg(countMsg); err != nil {
			return err
		}
		frontier, probed, distinct, maxSeq, lastSeq, lateRefusal = -1, false, 0, 0, -1, -1
		clear(lastSent)
		clear(resent)
		clear(sent)
		return nil
	}
	timer := newStoppedTimer()
	defer timer.Stop()
	timer.Reset(v.opts.MissionItemTimeout)
	for {
		select {
		case <-ctx.Done():
			v.cancelTransfer(t)
			return wrap(ctx.Err())
		case <-v.done:
			return wrap(ErrClosed)
		case <-timer.C:
			silent++
			if silent > v.opts.MissionRetries {
				if distinct == 0 && lastRefusal >= 0 {
					return wrap(fmt.Errorf("no MISSION_REQUEST after %d MISSION_COUNTs, only %s: %w", silent, missionResultName(uint8(lastRefusal)), ErrTimeout))
				}
				if distinct == 0 {
					return wrap(fmt.Errorf("no MISSION_REQUEST after %d MISSION_COUNTs: %w", silent, ErrTimeout))
				}
				return wrap(fmt.Errorf("stalled after %d of %d items sent (last requested seq %d): %w", distinct, n, lastSeq, ErrTimeout))
			}
			now := time.Now()
			if distinct == 0 || (distinct == n && silent > endNudges) {
				// Nothing requested yet, or everything sent and the probe
				// below got no answer either: restart; the vehicle allows
				// a restart from the same station.
				v.log.Debug("mission upload silent, resending MISSION_COUNT", "mission_type", t.String(), "silent", silent)
				if err := restart(); err != nil {
					return wrap(err)
				}
			} else if distinct == n {
				// Everything sent, no final ACK: either the last item or
				// the ACK was lost. Resend the last item and ask the
				// vehicle for its count: ArduPilot answers DENIED while
				// still receiving and MISSION_COUNT once it has finished.
				v.log.Debug("mission upload: no final ACK, probing", "mission_type", t.String(), "silent", silent)
				if err := sendItem(maxSeq, now); err != nil {
					return wrap(err)
				}
				if err := v.sendMsg(probeMsg); err != nil {
					return wrap(err)
				}
				probed = true
			} else {
				// Mid-transfer: either our item maxSeq or the vehicle's
				// request for maxSeq+1 was lost. Send both; the vehicle
				// takes the one it waits for and NACKs the other with
				// INVALID_SEQUENCE, which is not final.
				v.log.Debug("mission upload silent, resending items", "mission_type", t.String(), "seq", maxSeq, "silent", silent)
				if window > 1 && frontier >= 0 {
					if err := recoverFrontier(now); err != nil {
						return wrap(err)
					}
				}
				for seq := maxSeq; seq <= maxSeq+1 && seq < n; seq++ {
					if err := sendItem(seq, now); err != nil {
						return wrap(err)
					}
				}
			}
			timer.Reset(v.opts.MissionItemTimeout)
		case msg := <-w.ch:
			seq := -1
			switch m := msg.(type) {
			case *common.MessageMissionRequestInt:
				seq = int(m.Seq)
			case *common.MessageMissionRequest:
				seq = int(m.Seq)
			case *common.MessageMissionCount:
				if !probed || distinct != n {
					continue
				}
				probed = false
				if int(m.Count) == n && lateRefusal >= 0 {
					// finished and holding n items after a refusal: read
					// the list back; it is ours only if the refusal was
					// the answer to a stray copy
					if err := v.verifyUpload(ctx, t, items, w); err != nil {
						if ctx.Err() != nil || errors.Is(err, ErrClosed) {
							return wrap(err)
						}
						// another list, or it could not be read: the refusal stands
						return wrap(newMissionError(uint8(lateRefusal), lastSeq))
					}
					v.log.Debug("mission upload: refusal was for a stray item, vehicle holds the list", "mission_type", t.String())
					confirm(n)
					return nil
				}
				if int(m.Count) == n {
					// finished and holding n items: only the ACK was lost
					v.log.Debug("mission upload: final ACK lost, vehicle reports the full count", "mission_type", t.String())
					if err := v.sendMsg(v.missionAck(t, missionAccepted)); err != nil { // closes the probe's download
						return wrap(err)
					}
					confirm(n)
					return nil
				}
				if lateRefusal >= 0 {
					// finished without our list: the refusal was real
					return wrap(newMissionError(uint8(lateRefusal), lastSeq))
				}
				v.log.Debug("mission upload: vehicle finished without our list, restarting", "mission_type", t.String(), "count", m.Count)
				if err := restart(); err != nil {
					return wrap(err)
				}
				timer.Reset(v.opts.MissionItemTimeout)
				continue
			case *common.MessageMissionAck:
				r := uint8(m.Type)
				switch {
				case r == missionAccepted && distinct == n:
					confirm(n)
					return nil
				case r == missionDenied && probed:
					// the probe's answer while the vehicle still receives
					v.log.Debug("mission upload: vehicle still receiving", "mission_type", t.String())
				case r == missionAccepted:
					v.log.Debug("ignoring early MISSION_ACK ACCEPTED (stale, from an earlier transfer)", "mission_type", t.String(), "sent", distinct, "total", n)
				case r == missionInvalidSequence:
					// An item arrived out of order: in windowed mode the
					// awaited one was probably lost; resend it at most
					// once per round trip.
					// (The refused item was sent after the awaited one, so
					// if the awaited one were coming it would be there.)
					if now := time.Now(); window > 1 && frontier >= 0 && frontier < n && now.Sub(lastSent[frontier]) > rtt*3/4 {
						if err := recoverFrontier(now); err != nil {
							return wrap(err)
						}
					}
				case distinct == 0 && r == missionGenericError:
					// ArduPilot and the simulator answer stray items of a
					// finished upload with MAV_MISSION_ERROR, so before the
					// first request it says nothing about this transfer:
					// the silence timer keeps resending MISSION_COUNT.
					lastRefusal = int(r)
				case distinct == n && r == missionGenericError:
					// every item went out: possibly the answer to a stray
					// copy after the vehicle finished (see lateRefusal)
					lateRefusal = int(r)
					if !probed {
						v.log.Debug("mission upload: MAV_MISSION_ERROR after the last item, probing", "mission_type", t.String())
						if err := v.sendMsg(probeMsg); err != nil {
							return wrap(err)
						}
						probed = true
					}
				case distinct == 0 && earlyRefusals == 0:
					// Before any request: possibly a stale refusal of an
					// earlier transfer. Ask again; believe it if it repeats.
					earlyRefusals++
					v.log.Debug("refusal before the first request, resending MISSION_COUNT", "mission_type", t.String(), "result", missionResultName(r))
					if err := v.sendMsg(countMsg); err != nil {
						return wrap(err)
					}
					timer.Reset(v.opts.MissionItemTimeout)
				default:
					return wrap(newMissionError(r, lastSeq))
				}
				continue
			default:
				continue
			}
			if seq < 0 || seq >= n {
				v.log.Warn("vehicle requested a seq beyond the upload", "mission_type", t.String(), "seq", seq, "count", n)
				continue
			}
			now := time.Now()
			confirm(seq)
			silent = 0
			lastSeq = seq
			maxSeq = max(maxSeq, seq)
			timer.Reset(v.opts.MissionItemTimeout)
			if window <= 1 {
				if err := sendItem(seq, now); err != nil {
					return wrap(err)
				}
				continue
			}
			switch {
			case seq > frontier:
				if seq > 0 && !lastSent[seq-1].IsZero() && !resent[seq-1] {
					rtt = (7*rtt + now.Sub(lastSent[seq-1])) / 8
				}
				frontier = seq
			case seq == frontier:
				// asked again: the vehicle is still waiting for it
				if stale(seq, now) {
					if err := recoverFrontier(now); err != nil {
						return wrap(err)
					}
				}
				continue
			default: // an old request, duplicated or reordered
				if stale(seq, now) {
					if err := sendItem(seq, now); err != nil {
						return wrap(err)
					}
				}
				continue
			}
			for k := seq; k < n && k < seq+window; k++ {
				if stale(k, now) {
					if err := sendCopies(k, now); err != nil {
						return wrap(err)
					}
				}
			}
		}
	}
}

// Download reads the vehicle's list of type t, items in seq order exactly
// as the vehicle reports them (for ArduPilot's mission, seq 0 is home).
//
// MISSION_REQUEST_LIST is resent until MISSION_COUNT arrives; then up to
// MissionWindow MISSION_REQUEST_INTs are kept in flight, items are
// deduplicated by seq (stale or duplicated copies are dropped), missing ones
// re-requested once they are two measured round trips overdue (or after
// MissionItemTimeout of silence), and a final MISSION_ACK
// ACCEPTED tells the vehicle the transfer is over. MissionRetries silences
// in a row end with ErrTimeout; a vehicle NACK before MISSION_COUNT (e.g.
// MAV_MISSION_UNSUPPORTED for fences) that repeats when the request is
// resent is a *MissionError. Cancelling ctx after MISSION_COUNT sends
// MISSION_ACK OPERATION_CANCELLED.
func (v *Vehicle) Download(ctx context.Context, t mavitem.MissionType, p Progress) ([]mavitem.Item, error) {
	wrap := func(err error) error {
		return fmt.Errorf("download %s from vehicle %d: %w", t, v.target.SystemID, err)
	}
	w, end, err := v.beginTransfer(t)
	if err != nil {
		return nil, wrap(err)
	}
	defer end()
	got, err := v.download(ctx, t, p, w)
	if err != nil {
		return nil, wrap(err)
	}
	return got, nil
}

// verifyUpload reads the vehicle's list of type t back through the
// upload's subscription w and returns an error unless it is items. For the
// mission, seq 0 is home, which the vehicle rewrites, so it is not compared.
func (v *Vehicle) verifyUpload(ctx context.Context, t mavitem.MissionType, items []mavitem.Item, w *waiter) error {
	got, err := v.download(ctx, t, nil, w)
	if err != nil {
		return err
	}
	if len(got) != len(items) {
		return fmt.Errorf("vehicle holds %d items, %d uploaded", len(got), len(items))
	}
	start := 0
	if t == mavitem.TypeMission {
		start = 1
	}
	for k := start; k < len(items); k++ {
		if *v.itemMessage(t, k, got[k]) != *v.itemMessage(t, k, items[k]) {
			return fmt.Errorf("vehicle's item %d differs from the uploaded one", k)
		}
	}
	return nil
}

// download is Download once the transfer slot is held and w receives the
// mission messages of type t; its errors are not wrapped.
func (v *Vehicle) download(ctx context.Context, t mavitem.MissionType, p Progress, w *waiter) ([]mavitem.Item, error) {
	listMsg := &common.MessageMissionRequestList{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		MissionType: common.MAV_MISSION_TYPE(t),
	}
	if err := v.sendMsg(listMsg); err != nil {
		return nil, err
	}
	timer := newStoppedTimer()
	defer timer.Stop()
	timer.Reset(v.opts.MissionItemTimeout)

	n := -1 // unknown until MISSION_COUNT
	var got []mavitem.Item
	var have []bool
	received, inflight, cursor, silent, earlyRefusals, lastRefusal := 0, 0, 0, 0, 0, -1
	var reqAt []time.Time // when each seq was last requested
	var reqCount []uint8  // how often (saturating), for clean RTT samples
	rtt := v.opts.MissionItemTimeout / 8
	low := 0 // lowest seq not yet received
	request := func(seq int) error {
		reqAt[seq] = time.Now()
		if reqCount[seq] < 255 {
			reqCount[seq]++
		}
		return v.sendMsg(&common.MessageMissionRequestInt{
			TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
			Seq: uint16(seq), MissionType: common.MAV_MISSION_TYPE(t),
		})
	}
	// reRequestOverdue asks again for items requested more than two round
	// trips ago that have not come while later ones did: lost on the way.
	reRequestOverdue := func(now time.Time) error {
		for low < n && have[low] {
			low++
		}
		again := 0
		for k := low; k < cursor && again < v.opts.MissionWindow; k++ {
			if !have[k] && !reqAt[k].IsZero() && now.Sub(reqAt[k]) > 2*rtt+5*time.Millisecond {
				if err := request(k); err != nil {
					return err
				}
				again++
			}
		}
		return nil
	}
	// fill keeps up to MissionWindow requests in flight, lowest seqs first.
	fill := func() error {
		for inflight < v.opts.MissionWindow && cursor < n {
			if !have[cursor] {
				if err := request(cursor); err != nil {
					return err
				}
				inflight++
			}
			cursor++
		}
		return nil
	}
	finish := func() ([]mavitem.Item, error) {
		if err := v.sendMsg(v.missionAck(t, missionAccepted)); err != nil {
			return nil, err
		}
		return got, nil
	}
	for {
		select {
		case <-ctx.Done():
			if n >= 0 {
				v.cancelTransfer(t)
			}
			return nil, ctx.Err()
		case <-v.done:
			return nil, ErrClosed
		case <-timer.C:
			silent++
			if silent > v.opts.MissionRetries {
				if n < 0 && lastRefusal >= 0 {
					return nil, fmt.Errorf("no MISSION_COUNT after %d MISSION_REQUEST_LISTs, only %s: %w", silent, missionResultName(uint8(lastRefusal)), ErrTimeout)
				}
				if n < 0 {
					return nil, fmt.Errorf("no MISSION_COUNT after %d MISSION_REQUEST_LISTs: %w", silent, ErrTimeout)
				}
				return nil, fmt.Errorf("stalled with %d of %d items received: %w", received, n, ErrTimeout)
			}
			if n < 0 {
				if err := v.sendMsg(listMsg); err != nil {
					return nil, err
				}
			} else {
				cursor, inflight = 0, 0
				if err := fill(); err != nil {
					return nil, err
				}
			}
			timer.Reset(v.opts.MissionItemTimeout)
		case msg := <-w.ch:
			switch m := msg.(type) {
			case *common.MessageMissionCount:
				if n >= 0 {
					continue // duplicate or resent count
				}
				n = int(m.Count)
				got = make([]mavitem.Item, n)
				have = make([]bool, n)
				reqAt = make([]time.Time, n)
				reqCount = make([]uint8, n)
				silent = 0
				if p != nil {
					p(0, n)
				}
				if n == 0 {
					return finish()
				}
				if err := fill(); err != nil {
					return nil, err
				}
				timer.Reset(v.opts.MissionItemTimeout)
			case *common.MessageMissionItemInt:
				seq := int(m.Seq)
				if n < 0 || seq >= n || have[seq] {
					continue // stale, out of range or duplicate
				}
				have[seq] = true
				got[seq] = mavitem.Item{
					Seq: m.Seq, Frame: uint8(m.Frame), Command: uint16(m.Command),
					Current: m.Current, Autocontinue: m.Autocontinue,
					Param1: m.Param1, Param2: m.Param2, Param3: m.Param3, Param4: m.Param4,
					X: m.X, Y: m.Y, Z: m.Z, MissionType: t,
				}
				received++
				silent = 0
				if inflight > 0 {
					inflight--
				}
				now := time.Now()
				if reqCount[seq] == 1 {
					rtt = (7*rtt + now.Sub(reqAt[seq])) / 8
				}
				if p != nil {
					p(received, n)
				}
				if received == n {
					return finish()
				}
				if err := reRequestOverdue(now); err != nil {
					return nil, err
				}
				if err := fill(); err != nil {
					return nil, err
				}
				timer.Reset(v.opts.MissionItemTimeout)
			case *common.MessageMissionAck:
				r := uint8(m.Type)
				if n < 0 && r == missionGenericError {
					lastRefusal = int(r) // likely a stale answer to a stray item; keep asking
					continue
				}
				if n < 0 && r != missionAccepted && r != missionInvalidSequence {
					if earlyRefusals > 0 {
						return nil, newMissionError(r, -1)
					}
					// possibly a stale refusal from an earlier transfer:
					// ask again and believe it only if it repeats
					earlyRefusals++
					if err := v.sendMsg(listMsg); err != nil {
						return nil, err
					}
					timer.Reset(v.opts.MissionItemTimeout)
					continue
				}
				v.log.Debug("ignoring MISSION_ACK during download", "mission_type", t.String(), "result", missionResultName(r))
			}
		}
	}
}

// Clear removes the vehicle's list of type t (MISSION_CLEAR_ALL), resending
// until a MISSION_ACK for that type arrives.
func (v *Vehicle) Clear(ctx context.Context, t mavitem.MissionType) error {
	wrap := func(err error) error {
		return fmt.Errorf("clear %s on vehicle %d: %w", t, v.target.SystemID, err)
	}
	w, end, err := v.beginTransfer(t)
	if err != nil {
		return wrap(err)
	}
	defer end()
	clearMsg := &common.MessageMissionClearAll{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		MissionType: common.MAV_MISSION_TYPE(t),
	}
	err = v.exchange(ctx, w, clearMsg, func(msg message.Message) (bool, error) {
		ack, ok := msg.(*common.MessageMissionAck)
		if !ok {
			return false, nil
		}
		switch r := uint8(ack.Type); r {
		case missionAccepted:
			return true, nil
		case missionInvalidSequence:
			return false, nil
		default:
			return true, newMissionError(r, -1)
		}
	})
	if errors.Is(err, errNoReply) {
		err = fmt.Errorf("no MISSION_ACK after %d MISSION_CLEAR_ALLs: %w", v.opts.MissionRetries+1, ErrTimeout)
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// SetCurrent makes seq the vehicle's current mission item
// (MISSION_SET_CURRENT), resending until a MISSION_CURRENT reports seq.
// Setting the current item is idempotent, so a resend after a late
// MISSION_CURRENT cannot make the vehicle skip or repeat items.
func (v *Vehicle) SetCurrent(ctx context.Context, seq uint16) error {
	wrap := func(err error) error {
		return fmt.Errorf("set current mission item %d on vehicle %d: %w", seq, v.target.SystemID, err)
	}
	w, unsubscribe, err := v.subscribe(func(msg message.Message) bool {
		_, ok := msg.(*common.MessageMissionCurrent)
		return ok
	})
	if err != nil {
		return wrap(err)
	}
	defer unsubscribe()
	setMsg := &common.MessageMissionSetCurrent{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID, Seq: seq,
	}
	err = v.exchange(ctx, w, setMsg, func(msg message.Message) (bool, error) {
		return msg.(*common.MessageMissionCurrent).Seq == seq, nil
	})
	if errors.Is(err, errNoReply) {
		err = fmt.Errorf("no MISSION_CURRENT with seq %d after %d attempts: %w", seq, v.opts.MissionRetries+1, ErrTimeout)
	}
	if err != nil {
		return wrap(err)
	}
	return nil
}

// errNoReply is exchange's answer when every attempt timed out; callers
// replace it with an ErrTimeout that says what was awaited.
var errNoReply = errors.New("no settling reply")

// exchange sends msg and waits for a reply that settles it, resending on
// each MissionItemTimeout up to MissionRetries times. settle sees every
// message w receives and reports whether it ends the exchange, with what
// error. For idempotent requests only (clear, set current): a resend after
// a late reply must be harmless.
func (v *Vehicle) exchange(ctx context.Context, w *waiter, msg message.Message, settle func(message.Message) (bool, error)) error {
	timer := newStoppedTimer()
	defer timer.Stop()
	for attempt := 0; attempt <= v.opts.MissionRetries; attempt++ {
		if err := v.sendMsg(msg); err != nil {
			return err
		}
		timer.Reset(v.opts.MissionItemTimeout)
	wait:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-v.done:
				return ErrClosed
			case <-timer.C:
				break wait
			case m := <-w.ch:
				if done, err := settle(m); done {
					return err
				}
			}
		}
	}
	return errNoReply
}
