package session

import (
	"context"
	"errors"
	"fmt"

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
// For ArduPilot vehicles (or with Options.UploadWindow > 1) items also
// stream ahead of the vehicle's requests, with copies and retransmission
// timeouts adapted to the measured loss and round trip; see
// uploadTransfer.
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
// uploaded list. Otherwise a refusal ends the upload with a *MissionError.
// Cancelling ctx sends MISSION_ACK OPERATION_CANCELLED. A second transfer
// of the same type returns ErrBusy.
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
	if err := v.run(ctx, w, v.newUpload(t, items, p)); err != nil {
		return wrap(err)
	}
	return nil
}

// Download reads the vehicle's list of type t, items in seq order exactly
// as the vehicle reports them (for ArduPilot's mission, seq 0 is home).
//
// MISSION_REQUEST_LIST is resent until MISSION_COUNT arrives; then up to
// MissionWindow MISSION_REQUEST_INTs are kept in flight, items are
// deduplicated by seq (stale or duplicated copies are dropped), missing ones
// re-requested once they are two measured round trips overdue (or after
// MissionItemTimeout of silence), and a final MISSION_ACK
// ACCEPTED tells the vehicle the transfer is over. For vehicles whose
// upload is adaptive (ArduPilot, whose MissionItemProtocol answers every
// request on its own, any seq, duplicates too) the read-back is fast on
// lossy links: MISSION_REQUEST_LIST and each request go out in copies
// sized from the measured loss, up to 64 seqs are in flight, and a
// missing item is asked again once it is a retransmission timeout of the
// measured round trip overdue. MissionRetries silences
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
	d := newDownload(v, t, p)
	if err := v.run(ctx, w, d); err != nil {
		return nil, wrap(err)
	}
	return d.items(), nil
}

// compareList returns an error unless got, a list of type t read back,
// is items. For the mission, seq 0 is home, which the vehicle rewrites,
// so it is not compared.
func (v *Vehicle) compareList(t mavitem.MissionType, items, got []mavitem.Item) error {
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
	return v.run(ctx, w, &exchangeTransfer{v: v, msg: msg, settle: settle})
}
