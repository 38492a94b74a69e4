package groundstation

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// heartbeatSlots is how many parts the heartbeat period is cut into: every
// 1/heartbeatSlots of a second, the channels of one slot get theirs.
const heartbeatSlots = 50

// hbTarget is one open channel in a link's heartbeat order, with its
// remote's conn on a UDP server link (nil on other links).
type hbTarget struct {
	ch *gomavlib.Channel
	c  *udpConn
}

// heartbeats sends the station's (unsigned) HEARTBEAT to every open
// channel of every link once a second until ctx ends, a fiftieth of the
// channels every 20 ms. gomavlib's own heartbeat writes to every channel
// at once, and each channel has its own writer goroutine: at 2,000
// vehicles that was 2,000 goroutines made runnable in the same instant
// once a second, ~90 ms of run queue that every datagram arriving in that
// time waited behind (a runtime trace of `burgut serve` under loadgen
// showed the WebSocket latency spikes once a second). Spread, the same
// 2,000 writes are 40 every 20 ms.
//
// On UDP server links this goroutine writes the slot's HEARTBEATs itself,
// one sendmmsg per link (udpListener.sendBatch), instead of handing each
// to its channel's writer goroutine: through gomavlib, every HEARTBEAT was
// a goroutine wake-up, a frame encoding and a sendto of its own, ~6 % of
// the station's CPU at 2,000 vehicles (BENCHMARKS.md). Other links (TCP,
// UDP client, serial: one channel or a few each) still go through gomavlib.
func (s *Station) heartbeats(ctx context.Context) {
	t := time.NewTicker(time.Second / heartbeatSlots)
	defer t.Stop()
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_GCS, Autopilot: common.MAV_AUTOPILOT_INVALID,
		SystemStatus: common.MAV_STATE_ACTIVE, MavlinkVersion: 3}
	enc := newHeartbeatEncoder(s.dialect.GetMessage(hb.GetID()), hb, s.cfg.SystemID, uint8(common.MAV_COMP_ID_MISSIONPLANNER))
	var (
		ts    []hbTarget
		batch udpBatch
	)
	for slot := 0; ; slot = (slot + 1) % heartbeatSlots {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		for _, ln := range running {
			ts = ln.heartbeatSlot(ts[:0], slot)
			batch.reset()
			var l *udpListener
			for _, tg := range ts {
				if tg.c == nil || enc == nil {
					_ = ln.node.WriteMessageTo(tg.ch, hb) // a channel that just closed misses one
					continue
				}
				if tg.c.closed() {
					continue
				}
				l = tg.c.l
				batch.add(tg.c.remote, enc.frame(tg.c.nextHeartbeatSeq()))
			}
			if l != nil {
				l.sendBatch(&batch) // a remote the kernel refuses misses one, as above
			}
		}
		clear(ts)
	}
}

// heartbeatEncoder builds the station's HEARTBEAT frame for any sequence
// number: only the sequence number and the checksum differ between
// remotes.
type heartbeatEncoder struct {
	tmpl     []byte // the frame with sequence number 0
	crcExtra byte
}

// newHeartbeatEncoder encodes msg once as a MAVLink 2 frame from sysID/
// compID (nil if the dialect lacks the message, which cannot happen with
// the station's dialect).
func newHeartbeatEncoder(mp *message.ReadWriter, msg message.Message, sysID, compID uint8) *heartbeatEncoder {
	if mp == nil {
		return nil
	}
	raw := mp.Write(msg, true) // MAVLink 2: trailing zero bytes truncated
	b := make([]byte, 0, 10+len(raw.Payload)+2)
	b = append(b, frame.V2MagicByte, byte(len(raw.Payload)), 0, 0, 0, sysID, compID,
		byte(raw.ID), byte(raw.ID>>8), byte(raw.ID>>16))
	b = append(b, raw.Payload...)
	b = append(b, 0, 0)
	return &heartbeatEncoder{tmpl: b, crcExtra: mp.CRCExtra()}
}

// frame returns the HEARTBEAT with sequence number seq, in a new slice.
func (e *heartbeatEncoder) frame(seq uint8) []byte {
	b := slices.Clone(e.tmpl)
	b[4] = seq
	binary.LittleEndian.PutUint16(b[len(b)-2:], x25(b[1:len(b)-2], e.crcExtra))
	return b
}

// udpBatch is datagrams to send from one UDP socket, each to its remote.
type udpBatch struct {
	to   []netip.AddrPort
	data [][]byte
}

func (b *udpBatch) reset() {
	b.to = b.to[:0]
	clear(b.data)
	b.data = b.data[:0]
}

func (b *udpBatch) add(to netip.AddrPort, data []byte) {
	b.to = append(b.to, to)
	b.data = append(b.data, data)
}

// nextHeartbeatSeq is the sequence number of the station's next HEARTBEAT
// to this remote. The heartbeat goroutine is its only user. The frames
// gomavlib writes to the remote (commands, uploads) are numbered by
// gomavlib's channel writer and signed frames by the vehicle's record, each
// on its own count: a receiver sees the station's numbering jump when they
// interleave, as it already did with signed frames.
func (c *udpConn) nextHeartbeatSeq() uint8 {
	s := c.hbSeq
	c.hbSeq++
	return s
}

// closed reports whether the conn was closed (its channel closed).
func (c *udpConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// heartbeatSlot appends the link's channels that get their heartbeat in
// slot: every heartbeatSlots-th of the open channels, in the order they
// opened.
func (ln *linkRT) heartbeatSlot(out []hbTarget, slot int) []hbTarget {
	p := ln.hbOrder.Load()
	if p == nil {
		return out
	}
	order := *p
	for i := slot; i < len(order); i += heartbeatSlots {
		out = append(out, order[i])
	}
	return out
}

// heartbeatOrder returns a copy of the open channels in heartbeat order.
func (ln *linkRT) heartbeatOrder() []hbTarget {
	if p := ln.hbOrder.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// setHeartbeatOrder replaces the heartbeat order (the dispatcher, on a
// channel opening or closing).
func (ln *linkRT) setHeartbeatOrder(order []hbTarget) { ln.hbOrder.Store(&order) }
