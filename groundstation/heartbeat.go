package groundstation

import (
	"context"
	"slices"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

// heartbeatSlots is how many parts the heartbeat period is cut into: every
// 1/heartbeatSlots of a second, the channels of one slot get theirs.
const heartbeatSlots = 50

// heartbeats sends the station's (unsigned) HEARTBEAT to every open
// channel of every link once a second until ctx ends, a fiftieth of the
// channels every 20 ms. gomavlib's own heartbeat writes to every channel
// at once, and each channel has its own writer goroutine: at 2,000
// vehicles that was 2,000 goroutines made runnable in the same instant
// once a second, ~90 ms of run queue that every datagram arriving in that
// time waited behind (a runtime trace of `burgut serve` under loadgen
// showed the WebSocket latency spikes once a second). Spread, the same
// 2,000 writes are 40 every 20 ms.
func (s *Station) heartbeats(ctx context.Context) {
	t := time.NewTicker(time.Second / heartbeatSlots)
	defer t.Stop()
	hb := &common.MessageHeartbeat{Type: common.MAV_TYPE_GCS, Autopilot: common.MAV_AUTOPILOT_INVALID,
		SystemStatus: common.MAV_STATE_ACTIVE, MavlinkVersion: 3}
	var chs []*gomavlib.Channel
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
			chs = ln.heartbeatSlot(chs[:0], slot)
			for _, ch := range chs {
				_ = ln.node.WriteMessageTo(ch, hb) // a channel that just closed misses one
			}
		}
		clear(chs)
	}
}

// heartbeatSlot appends the link's channels that get their heartbeat in
// slot: every heartbeatSlots-th of the open channels, in the order they
// opened.
func (ln *linkRT) heartbeatSlot(out []*gomavlib.Channel, slot int) []*gomavlib.Channel {
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
func (ln *linkRT) heartbeatOrder() []*gomavlib.Channel {
	if p := ln.hbOrder.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// setHeartbeatOrder replaces the heartbeat order (the dispatcher, on a
// channel opening or closing).
func (ln *linkRT) setHeartbeatOrder(order []*gomavlib.Channel) { ln.hbOrder.Store(&order) }
