package session

import (
	"fmt"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// downloadTransfer reads the vehicle's list of one type (see Download):
// MISSION_REQUEST_LIST until MISSION_COUNT, then up to MissionWindow
// MISSION_REQUEST_INTs in flight, lowest seqs first, items deduplicated
// by seq, overdue ones asked again.
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

	silent        int
	earlyRefusals int
	lastRefusal   int
	due           time.Time
}

func newDownload(v *Vehicle, t mavitem.MissionType, p Progress) *downloadTransfer {
	return &downloadTransfer{
		v: v, t: t, progress: p, n: -1, lastRefusal: -1,
		rtt: v.opts.MissionItemTimeout / 8,
		listMsg: &common.MessageMissionRequestList{
			TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
			MissionType: common.MAV_MISSION_TYPE(t),
		},
	}
}

// items is the list read, once the transfer finished without error.
func (d *downloadTransfer) items() []mavitem.Item { return d.got }

func (d *downloadTransfer) start(now time.Time) error {
	d.due = now.Add(d.v.opts.MissionItemTimeout)
	return d.v.sendMsg(d.listMsg)
}

func (d *downloadTransfer) deadline() time.Time { return d.due }

func (d *downloadTransfer) cancelled() {
	if d.n >= 0 {
		d.v.cancelTransfer(d.t)
	}
}

func (d *downloadTransfer) request(seq int, now time.Time) error {
	d.reqAt[seq] = now
	if d.reqCount[seq] < 255 {
		d.reqCount[seq]++
	}
	return d.v.sendMsg(&common.MessageMissionRequestInt{
		TargetSystem: d.v.target.SystemID, TargetComponent: d.v.target.ComponentID,
		Seq: uint16(seq), MissionType: common.MAV_MISSION_TYPE(d.t),
	})
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
		return false, d.v.sendMsg(d.listMsg)
	}
	d.cursor, d.inflight = 0, 0
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
		if d.progress != nil {
			d.progress(d.received, d.n)
		}
		if d.received == d.n {
			return d.finish()
		}
		if err := d.reRequestOverdue(now); err != nil {
			return true, err
		}
		d.due = now.Add(d.v.opts.MissionItemTimeout)
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
			return false, d.v.sendMsg(d.listMsg)
		}
		d.v.log.Debug("ignoring MISSION_ACK during download", "mission_type", d.t.String(), "result", missionResultName(r))
	}
	return false, nil
}
