package groundstation

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// linkRT is one running link: its gomavlib node and the dispatcher state.
// Everything but the atomic counters is owned by the link's dispatcher
// goroutine (the only reader of node.Events() and, on UDP server links, of
// the socket reader's staged datagrams), which holds mu while it works on
// it (tests drive a linkRT directly).
type linkRT struct {
	st   *Station
	l    *link
	node *gomavlib.Node

	mu    sync.Mutex
	dec   *frameDecoder
	batch stageBuf // the UDP datagrams being dispatched
	// While the dispatcher works under mu (batching), the states it makes
	// and the frames it hands the taps are collected in pub and tapped and
	// handed over together before mu is released (endBatch): the fleet's
	// subscribers and the tlog recorder take their locks once per batch
	// instead of once per message (fleet.UpdatePending,
	// Station.AddFrameBatchTap).
	batching bool
	pub      fleet.Pending
	tapped   []TappedFrame

	comps compTable
	// warmSink keeps the sum warm read, so that its loads are not
	// optimised away.
	warmSink uintptr
	// unheard holds the frames of systems not classified yet (hold.go).
	unheard  map[vkey][]heldFrame
	bySys    map[uint8]*vehicleRec // the autopilot record per system ID
	recs     []*vehicleRec
	channels map[*gomavlib.Channel]struct{}
	// hbOrder is the open channels in a stable order, for the heartbeat's
	// slots (heartbeat.go): replaced, never modified, so the heartbeat
	// reads it without waiting for the link's lock.
	hbOrder atomic.Pointer[[]*gomavlib.Channel]

	frames      atomic.Uint64
	parseErrors atomic.Uint64
	// udp is the link's socket listener (UDP server links only): the
	// datagrams it holds are frames the station has not handled yet.
	udp atomic.Pointer[udpListener]
	// udpc is the socket accounting of a UDP client link (streamgate.go);
	// dropLog what the link last logged of its UDP drops (dispatcher-owned:
	// logUDPDrops).
	udpc    udpcSockets
	dropLog udpDropLog
	// caughtUp is when the link last had nothing waiting (unix ns; on UDP
	// server links, when the socket's reader found the socket empty; on
	// the stream links, TCP, UDP client and serial, what their readers'
	// probes vouch for at a tick: streamCaughtUp): frames received
	// before it have all been handled.
	caughtUp     atomic.Int64
	lateTicks    atomic.Uint64
	lostDeferred atomic.Uint64
	// lostUnverified counts vehicles declared lost past
	// Config.LinkLostMaxDefer while the link was still behind.
	lostUnverified atomic.Uint64
	// sockDrops is the kernel's drop count of the link's socket as last
	// read, and sockShedAt the tick that saw it rise (dispatcher-owned).
	sockDrops   uint64
	sockShedAt  time.Time
	tapDropped  atomic.Uint64
	lastLateLog time.Time
	// tapDropped as last logged (dispatcher-owned)
	loggedTapDropped uint64
	lastTapDropLog   time.Time
	nChannels        atomic.Int64
	nVehicles        atomic.Int64
	unattached       atomic.Uint64
	send             sendCounters // frames to vehicles through the send gates (sendgate.go)
	streams          sync.Map     // channel label → *gatedConn (TCP, UDP client, serial links: streamgate.go)

	// rawArena is the rest of the chunk keepRaw copies frames into.
	rawArena []byte

	// cause is the message being mapped, passed with its fleet update so
	// a store can keep one point per message; caused is whether mapping
	// it made an update carrying it (attach: Config.EveryMessage).
	cause  any
	caused bool

	// signedSys holds, per system ID, the signing state of the keyed
	// vehicle owning it on this link (nil: frames are not checked);
	// signRejected counts the frames it dropped, by mavsign.Result.
	signedSys    [256]atomic.Pointer[recSigning]
	signRejected [nReasons]atomic.Uint64

	lastParseLog   time.Time
	parseSinceLog  uint64
	lastParseError string
}

func newLinkRT(st *Station, l *link) *linkRT {
	return &linkRT{
		st:       st,
		l:        l,
		unheard:  make(map[vkey][]heldFrame),
		bySys:    make(map[uint8]*vehicleRec),
		channels: make(map[*gomavlib.Channel]struct{}),
		dec:      newFrameDecoder(st.dialect),
	}
}

// tickEvery is how often the dispatcher checks heartbeat timeouts, pending
// identities and the link quality of silent vehicles.
func (s *Station) tickEvery() time.Duration {
	d := s.cfg.HeartbeatTimeout / 5
	if d > 250*time.Millisecond {
		d = 250 * time.Millisecond
	}
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

// run drains the node's events until ctx ends. It never blocks on anything
// but the events channel and its ticker: fleet updates are in-memory,
// sessions' Handle never blocks, and slow work is handed to setup
// goroutines.
//
// Whenever the link has nothing waiting — nothing staged or in the socket
// of a UDP server link (udpCaughtUp), nothing in the kernel or undecoded
// in the reader of a stream link's connection (streamCaughtUp) — it
// notes the time (caughtUp): a heartbeat check compares a vehicle's last HEARTBEAT with that time, not
// with the clock, so a station that has fallen behind its links never
// declares a vehicle silent whose HEARTBEAT may still be queued.
func (ln *linkRT) run(ctx context.Context) {
	tick := time.NewTicker(ln.st.tickEvery())
	defer tick.Stop()
	events := ln.node.Events()
	ln.caughtUp.Store(time.Now().UnixNano())
	// On a UDP server link the frames come from the socket's reader, which
	// stages datagrams and signals ready; gomavlib's events are only
	// channel openings and closings there, and caught-up is the reader's
	// (drainUDP, udpCaughtUp).
	udp := ln.udp.Load()
	var ready <-chan struct{}
	if udp != nil {
		ready = udp.ready
	}
	for {
		select {
		case <-ctx.Done():
			ln.finishUDP(udp)
			return
		case now := <-tick.C:
			ln.locked(func() { ln.tick(now) })
			continue
		case ev, ok := <-events:
			if !ok {
				return
			}
			ln.locked(func() { ln.handle(ev, time.Now()) })
			continue
		case <-ready:
			ln.drainUDP(udp)
			continue
		default:
		}
		// Nothing waits for the dispatcher. That alone is not caught up:
		// on UDP server links frames may be staged or in the socket, on
		// the others in the kernel or in a reader not yet run (each
		// link's own check at the tick: udpCaughtUp, streamCaughtUp).
		select {
		case <-ctx.Done():
			ln.finishUDP(udp)
			return
		case now := <-tick.C:
			ln.locked(func() { ln.tick(now) })
		case ev, ok := <-events:
			if !ok {
				return
			}
			ln.locked(func() { ln.handle(ev, time.Now()) })
		case <-ready:
			ln.drainUDP(udp)
		}
	}
}

func (ln *linkRT) locked(fn func()) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	ln.batching = true
	defer ln.endBatch()
	fn()
}

// endBatch hands the batch's states to the fleet's subscribers and its
// frames to the taps; the dispatcher calls it before it releases mu.
func (ln *linkRT) endBatch() {
	ln.batching = false
	ln.flushPub()
	ln.st.tapFrames(ln.tapped)
	clear(ln.tapped) // keeps no frame alive
	ln.tapped = ln.tapped[:0]
}

// flushPub hands the batch's states so far to the fleet's subscribers:
// before any other change the dispatcher publishes (an event, a refresh),
// so subscribers see one link's changes in the order it made them.
func (ln *linkRT) flushPub() {
	if ln.pub.Len() > 0 {
		ln.st.fleet.Flush(&ln.pub)
	}
}

// behind is how long the dispatcher has been busy without catching up.
// A stream link's caught-up moment moves at its ticks; asked between
// them, its readers' probes say how far it is now (Station.Behind paces
// the in-process simulator by it every 100 ms).
func (ln *linkRT) behind() time.Duration {
	c := ln.caughtUp.Load()
	if c == 0 {
		return 0
	}
	now := time.Now()
	if ln.isStream() {
		if at, ok := ln.streamsVouch(now); ok && at.UnixNano() > c {
			c = at.UnixNano()
		}
	}
	return max(0, now.Sub(time.Unix(0, c)))
}

func (ln *linkRT) handle(ev gomavlib.Event, at time.Time) {
	switch e := ev.(type) {
	case *gomavlib.EventFrame:
		ln.onFrame(e.Frame, e.Channel, nil, at)
	case *gomavlib.EventParseError:
		ln.onParseError(e.Error, e.Channel, at)
	case *gomavlib.EventChannelOpen:
		ln.channels[e.Channel] = struct{}{}
		ln.setHeartbeatOrder(append(ln.heartbeatOrder(), e.Channel))
		ln.nChannels.Store(int64(len(ln.channels)))
		ln.st.log.Debug("mavlink channel open", "link", ln.l.name, "channel", e.Channel.String())
		ln.udpChannelOpened(e.Channel)
	case *gomavlib.EventChannelClose:
		ln.udpChannelClosed(e.Channel)
		delete(ln.channels, e.Channel)
		ln.setHeartbeatOrder(slices.DeleteFunc(ln.heartbeatOrder(), func(c *gomavlib.Channel) bool { return c == e.Channel }))
		ln.nChannels.Store(int64(len(ln.channels)))
		for _, r := range ln.recs {
			r.ch.CompareAndSwap(e.Channel, nil)
		}
		ln.st.log.Debug("mavlink channel closed", "link", ln.l.name, "channel", e.Channel.String(), "error", e.Error)
	}
}

// onParseError counts malformed input and logs it at most every 10 s per
// link, so a flood of garbage cannot flood the log either.
func (ln *linkRT) onParseError(err error, channel *gomavlib.Channel, at time.Time) {
	ln.parseErrors.Add(1)
	ln.parseSinceLog++
	ln.lastParseError = err.Error()
	if at.Sub(ln.lastParseLog) >= 10*time.Second {
		ch := ""
		if channel != nil {
			ch = channel.String()
		}
		ln.st.log.Warn("malformed MAVLink input", "link", ln.l.name, "channel", ch,
			"error", ln.lastParseError, "count_since_last_log", ln.parseSinceLog, "total", ln.parseErrors.Load())
		ln.lastParseLog = at
		ln.parseSinceLog = 0
	}
}

// onFrame handles one decoded frame heard on channel; raw is the frame as
// received when the link has it (UDP server links; valid only during the
// call), nil otherwise.
func (ln *linkRT) onFrame(f frame.Frame, channel *gomavlib.Channel, raw []byte, at time.Time) {
	ln.frames.Add(1)
	sys, comp := f.GetSystemID(), f.GetComponentID()
	if vs := ln.signedSys[sys].Load(); vs != nil && !ln.admitSigned(vs, f, at) {
		return // not signed with the key of the vehicle owning sys (counted)
	}
	msg := f.GetMessage()
	key := vkey{sys, comp}
	c := ln.comps.get(key)
	if c == nil && sys != ln.st.cfg.SystemID {
		c = ln.classify(key, msg, at, channel)
		if c == nil {
			ln.hold(key, f, channel, raw, at)
			return
		}
		// Classified now: what it sent before is handled first, in order.
		ln.release(key, c)
	}
	if c == nil || c.role == roleIgnored {
		ln.unattachedFrame(f, raw, at)
		return
	}
	ln.attach(c, f, channel, raw, at)
}

// unattachedFrame counts a frame no vehicle owns (and gives it to the
// tlog taps as such).
func (ln *linkRT) unattachedFrame(f frame.Frame, raw []byte, at time.Time) {
	ln.unattached.Add(1)
	if ln.st.hasTaps() {
		ln.st.tapFrame("", ln.l.name, at, f, bytes.Clone(raw), false)
	}
}

// rawArenaChunk is the size of the chunks keepRaw copies frames into:
// ~130 typical MAVLink frames each.
const rawArenaChunk = 8 << 10

// keepRaw returns a copy of a received frame's bytes for the taps (which
// may keep them), carved from a chunk shared with the frames dispatched
// around it: one allocation per ~130 frames instead of one per frame
// (36,000 a second at 2,000 vehicles). A chunk lives as long as any of
// its frames is kept — the tlog recorder copies them out within its
// drain period — so it holds memory for no longer than its frames would.
// Called by the dispatcher, under the link's lock.
func (ln *linkRT) keepRaw(raw []byte) []byte {
	n := len(raw)
	if n == 0 {
		return nil
	}
	if n > cap(ln.rawArena)-len(ln.rawArena) {
		if n > rawArenaChunk/4 {
			return bytes.Clone(raw)
		}
		ln.rawArena = make([]byte, 0, rawArenaChunk)
	}
	start := len(ln.rawArena)
	ln.rawArena = append(ln.rawArena, raw...)
	return ln.rawArena[start : start+n : start+n]
}

// attach handles a frame of a classified component of a vehicle.
func (ln *linkRT) attach(c *compRec, f frame.Frame, channel *gomavlib.Channel, raw []byte, at time.Time) {
	msg := f.GetMessage()
	rec := c.rec
	lost, dup := c.seq.observe(f.GetSequenceNumber(), f.GetChecksum(), at)
	if channel != rec.ch.Load() {
		rec.ch.Store(channel)
	}
	if ln.st.hasTaps() {
		if ln.batching && rec.published {
			ln.tapped = append(ln.tapped, TappedFrame{VehicleID: rec.id, Link: ln.l.name, At: at, Frame: f, Raw: ln.keepRaw(raw)})
		} else {
			rec.tap(at, f, ln.keepRaw(raw))
		}
	}
	if dup {
		rec.duplicates.Add(1)
		return
	}
	rec.received++
	rec.lost += int64(lost)
	rec.win.add(at, 1, lost)
	rec.lossLong.add(lost)
	rec.lastFrame = at
	// Every frame: an upload's copies follow the loss as it runs.
	if loss := rec.uploadLoss(at); loss != rec.lossToSess {
		rec.lossToSess = loss
		rec.sess.SetLinkLoss(loss)
	}
	rec.sess.Handle(msg)
	ln.cause, ln.caused = msg, false
	ln.mapFrame(rec, c, msg, at)
	if !ln.caused && c.role == roleAutopilot && ln.st.cfg.EveryMessage {
		// A message that changed no state (handled by the session's
		// command, parameter or mission layers, an event, or nothing) is
		// still one message heard: an update that changes only the link
		// quality carries it to the stores. Only the autopilot's: another
		// component's HEARTBEAT or position would be stored as the
		// vehicle's status or position.
		ln.update(rec, at, func(*fleet.Vehicle) {})
	}
	ln.cause = nil
}

// compTable is a link's components by (system, component). A map keyed
// by vkey cost a hash and its cache misses for each of the 36,000 frames
// a second at 2,000 vehicles (~2 % of serve's CPU). Each system's first
// component heard (its autopilot: nearly every frame a vehicle sends)
// sits in the link's own 6 KiB table beside its component ID, so finding
// it is one load from a table that stays in cache; the system's other
// components are in a 256-entry table made when the second one appears.
// When every component was in that second table, the load from it was a
// cache miss on nearly every frame (a different vehicle's table each
// time): 47 % of onFrame's own samples in perf (BENCHMARKS.md).
type compTable [256]sysComps

// sysComps is one system's components: the first heard, then the rest.
type sysComps struct {
	first   *compRec
	firstID uint8
	rest    *[256]*compRec
}

func (t *compTable) get(k vkey) *compRec {
	s := &t[k.sys]
	if s.first != nil && s.firstID == k.comp {
		return s.first
	}
	if s.rest != nil {
		return s.rest[k.comp]
	}
	return nil
}

func (t *compTable) set(k vkey, c *compRec) {
	s := &t[k.sys]
	if s.first == nil || s.firstID == k.comp {
		s.first, s.firstID = c, k.comp
		return
	}
	if s.rest == nil {
		s.rest = new([256]*compRec)
	}
	s.rest[k.comp] = c
}

// classify decides what a (system, component) heard for the first time
// is: a new vehicle (autopilot HEARTBEAT), a camera or other component of
// a known vehicle, a station to ignore, or nothing yet (nil: asked again
// on its next frame).
func (ln *linkRT) classify(key vkey, msg any, at time.Time, ch *gomavlib.Channel) *compRec {
	hb, isHB := msg.(*common.MessageHeartbeat)
	owner := ln.bySys[key.sys]
	switch {
	case isHB && hb.Type == common.MAV_TYPE_GCS:
		c := &compRec{role: roleIgnored}
		ln.comps.set(key, c)
		return c
	case isHB && isVehicleHeartbeat(hb.Type, hb.Autopilot):
		rec := ln.newVehicle(key, at, ch)
		c := &compRec{rec: rec, role: roleAutopilot, id: key.comp}
		ln.comps.set(key, c)
		if owner == nil {
			ln.bySys[key.sys] = rec
		}
		return c
	case owner == nil:
		return nil
	case isHB && hb.Type == common.MAV_TYPE_CAMERA:
		c := &compRec{rec: owner, role: roleCamera, id: key.comp}
		ln.comps.set(key, c)
		return c
	default:
		switch msg.(type) {
		case *common.MessageCameraInformation, *common.MessageVideoStreamInformation:
			c := &compRec{rec: owner, role: roleCamera, id: key.comp}
			ln.comps.set(key, c)
			return c
		}
		c := &compRec{rec: owner, role: roleOther, id: key.comp}
		ln.comps.set(key, c)
		return c
	}
}

func (ln *linkRT) newVehicle(key vkey, at time.Time, ch *gomavlib.Channel) *vehicleRec {
	base := ln.l.name + "-" + strconv.Itoa(int(key.sys))
	if key.comp != 1 {
		base += "-" + strconv.Itoa(int(key.comp))
	}
	rec := &vehicleRec{
		st:           ln.st,
		ln:           ln,
		sys:          key.sys,
		comp:         key.comp,
		base:         base,
		pendingSince: at,
		connected:    true,
		pre:          fleet.Vehicle{BatteryPct: -1, MissionSeq: -1, Connected: true},
		video:        make(map[uint16]fleet.VideoStream),
		camInfo:      make(map[uint8][2]string),
		textChunks:   make(map[uint16]string),
	}
	opts := ln.st.cfg.Session
	if opts.Log == nil {
		opts.Log = ln.st.log
	}
	opts.Log = opts.Log.With("link", ln.l.name)
	rec.sess = session.New(rec, session.Target{SystemID: key.sys, ComponentID: key.comp}, opts)
	// The channel is known before setup starts sending (below), or its
	// first requests would find no channel to the vehicle.
	if ch != nil {
		rec.ch.Store(ch)
	}
	ln.recs = append(ln.recs, rec)
	ln.nVehicles.Store(int64(len(ln.recs)))
	ln.st.log.Info("vehicle heard", "link", ln.l.name, "sysid", key.sys, "compid", key.comp)
	rec.requestSetup("discovered", true, true, 0)
	return rec
}

// update applies fn to the vehicle's fleet state (or to its pending
// state before it is published), refreshing its link quality. at is when
// the frame that caused the change was received.
func (ln *linkRT) update(rec *vehicleRec, at time.Time, fn func(v *fleet.Vehicle)) {
	lq := rec.linkQuality(at)
	rec.lastLQ = at
	if ln.cause != nil {
		ln.caused = true
	}
	if !rec.published {
		fn(&rec.pre)
		rec.pre.LinkQuality = lq
		if ln.cause != nil {
			if len(rec.preHeard) < maxPreHeard {
				rec.preHeard = append(rec.preHeard, heardState{at: at, cause: ln.cause, v: rec.pre})
			} else {
				ln.tapDropped.Add(1)
			}
		}
		return
	}
	set := func(v *fleet.Vehicle) {
		fn(v)
		v.LinkQuality = lq
	}
	if ln.batching {
		ln.st.fleet.UpdatePending(&ln.pub, &rec.ref, rec.id, at, ln.cause, set)
		return
	}
	ln.st.fleet.UpdateRef(&rec.ref, rec.id, at, ln.cause, set)
}

// refresh applies a change no frame caused (link lost, the decaying rate
// of a silent vehicle) at now. The fleet keeps LastSeen at the last frame
// heard, so nothing downstream stores or shows it as data received now.
func (ln *linkRT) refresh(rec *vehicleRec, now time.Time, fn func(v *fleet.Vehicle)) {
	ln.refreshNoted(rec, now, nil, fn)
}

// refreshNoted is refresh with a note for the events it derives
// (fleet.RefreshNoted).
func (ln *linkRT) refreshNoted(rec *vehicleRec, now time.Time, note map[string]any, fn func(v *fleet.Vehicle)) {
	lq := rec.linkQuality(now)
	rec.lastLQ = now
	ln.flushPub()
	ln.st.fleet.RefreshNoted(rec.id, rec.lastFrame, now, note, func(v *fleet.Vehicle) {
		fn(v)
		v.LinkQuality = lq
	})
}

// publish gives a pending vehicle its ID and puts it into the fleet.
func (ln *linkRT) publish(rec *vehicleRec, at time.Time) {
	id := ln.st.reg.resolve(rec.base, rec.uid.Load())
	rec.setID(id)
	ln.attachSigning(rec, id)
	rec.published = true
	rec.tapPublish(id)
	ln.st.reg.put(id, rec)
	pre := rec.pre
	pre.SystemID, pre.ComponentID, pre.Link, pre.UID = rec.sys, rec.comp, ln.l.name, rec.uid.Load()
	pre.Connected = rec.connected
	pre.LinkQuality = rec.linkQuality(at)
	ln.flushPub()
	ln.st.fleet.Update(id, at, func(v *fleet.Vehicle) {
		first, mission, area := v.FirstSeen, v.Mission, v.EventArea
		if first.IsZero() || rec.pendingSince.Before(first) {
			first = rec.pendingSince
		}
		*v = pre
		v.FirstSeen, v.Mission, v.EventArea = first, mission, area
	})
	// What was heard while the vehicle waited for its ID goes to the
	// stores now, message by message, with its own times.
	for _, h := range rec.preHeard {
		h.v.SystemID, h.v.ComponentID, h.v.Link, h.v.UID = rec.sys, rec.comp, ln.l.name, rec.uid.Load()
		ln.st.fleet.Replay(id, h.at, h.cause, h.v)
	}
	rec.preHeard = nil
	ln.st.log.Info("vehicle published", "id", id, "link", ln.l.name, "sysid", rec.sys, "uid", rec.uid.Load())
}

// Why a link_lost could not be verified (its event's unverified_reason):
// the station had not caught up with the link since the vehicle's last
// HEARTBEAT plus the timeout (a HEARTBEAT may still be queued), or it had
// but dropped datagrams of the vehicle unread since (one may have been a
// HEARTBEAT).
const (
	unverifiedBehind  = "station_behind"
	unverifiedDropped = "dropped_unread"
)

// tick handles time-driven state: identity waits running out, heartbeat
// timeouts (link_lost), and the decaying rate of vehicles gone silent.
func (ln *linkRT) tick(now time.Time) {
	cfg := &ln.st.cfg
	ln.udpCaughtUp(now)
	ln.streamCaughtUp(now)
	ln.logUDPDrops(now)
	ln.expireUnheard(now)
	// Heartbeats are judged against the last moment the dispatcher had
	// handled everything it was given: when it is behind, a vehicle's
	// HEARTBEAT may be waiting in the queue (staged, or in the socket),
	// and the station being late must not read as the vehicle being
	// silent. The decision is put off (counted) up to LinkLostMaxDefer
	// past the timeout; a station still behind then cannot vouch for the
	// vehicle, which is declared lost, counted as unverified.
	caught := now
	if c := ln.caughtUp.Load(); c != 0 && c < now.UnixNano() {
		caught = time.Unix(0, c)
	}
	late := now.Sub(caught) > ln.st.tickEvery()
	if late {
		ln.lateTicks.Add(1)
	}
	if d := ln.tapDropped.Load(); d > ln.loggedTapDropped && now.Sub(ln.lastTapDropLog) >= 10*time.Second {
		ln.st.log.Warn("frames of vehicles waiting for their ID dropped from the tlog buffer", "link", ln.l.name,
			"dropped", d-ln.loggedTapDropped, "total", d)
		ln.loggedTapDropped, ln.lastTapDropLog = d, now
	}
	deferred := 0
	defer func() {
		if deferred > 0 {
			ln.lostDeferred.Add(uint64(deferred))
			if now.Sub(ln.lastLateLog) >= 10*time.Second {
				ln.lastLateLog = now
				ln.st.log.Warn("station behind its link, or dropping its datagrams: link-lost checks deferred", "link", ln.l.name,
					"behind", now.Sub(caught).String(), "vehicles_deferred", deferred, "total_deferred", ln.lostDeferred.Load())
			}
		}
	}()
	for _, rec := range ln.recs {
		if !rec.published {
			if now.Sub(rec.pendingSince) >= cfg.IdentityWait {
				ln.publish(rec, rec.lastFrame) // stamped with data heard, not the tick
			}
			continue
		}
		if rec.connected && now.Sub(rec.lastHB) > cfg.HeartbeatTimeout {
			// Heard: its last HEARTBEAT, or a later datagram the station
			// dropped unread (it may have been one).
			heard := rec.lastHB
			if shed := ln.shedAfter(rec); shed.After(heard) {
				heard = shed
			}
			switch {
			case caught.Sub(heard) > cfg.HeartbeatTimeout:
				// Silent for the timeout up to a moment the station had
				// handled everything received, and dropped nothing that
				// may have been its HEARTBEAT: really silent.
				rec.connected = false
				ln.st.log.Warn("vehicle link lost", "id", rec.id, "link", ln.l.name, "last_heartbeat", rec.lastHB)
				ln.refresh(rec, now, func(v *fleet.Vehicle) { v.Connected = false })
				continue
			case now.Sub(rec.lastHB) > cfg.HeartbeatTimeout+cfg.LinkLostMaxDefer:
				// The station has not caught up with the link for so long
				// that it cannot vouch for the vehicle: lost, and said so.
				// The event says so too, and why: a consumer acting on
				// link_lost (an alert, a rehearsal) must be able to tell a
				// silence the station verified from one it could not.
				rec.connected = false
				ln.lostUnverified.Add(1)
				reason := unverifiedBehind
				if caught.Sub(rec.lastHB) > cfg.HeartbeatTimeout {
					// Caught up past the timeout, yet it dropped datagrams
					// after the HEARTBEAT that may have been one.
					reason = unverifiedDropped
				}
				behind := now.Sub(caught)
				ln.st.log.Warn("vehicle link lost while the station is behind its link: its HEARTBEAT may still be queued",
					"id", rec.id, "link", ln.l.name, "last_heartbeat", rec.lastHB, "behind", behind.String(),
					"reason", reason, "total_unverified", ln.lostUnverified.Load())
				note := map[string]any{"unverified": true, "unverified_reason": reason,
					"behind_s": math.Round(behind.Seconds()*1000) / 1000}
				ln.refreshNoted(rec, now, note, func(v *fleet.Vehicle) { v.Connected = false })
				continue
			default:
				deferred++
			}
		}
		if now.Sub(rec.lastFrame) >= time.Second && now.Sub(rec.lastLQ) >= time.Second {
			ln.refresh(rec, now, func(v *fleet.Vehicle) {})
		}
	}
}

// mapFrame turns one message into fleet state and events.
func (ln *linkRT) mapFrame(rec *vehicleRec, c *compRec, msg any, at time.Time) {
	if c.role == roleCamera {
		ln.mapCamera(rec, c, msg, at)
		return
	}
	if c.role != roleAutopilot {
		return
	}
	switch m := msg.(type) {
	case *common.MessageHeartbeat:
		ln.onHeartbeat(rec, m, at)
	case *common.MessageGlobalPositionInt:
		ln.checkReboot(rec, m.TimeBootMs, at)
		ln.update(rec, at, func(v *fleet.Vehicle) {
			v.Lat = float64(m.Lat) / 1e7
			v.Lon = float64(m.Lon) / 1e7
			v.AltMSL = float64(m.Alt) / 1000
			v.RelativeAlt = float64(m.RelativeAlt) / 1000
			if m.Hdg != math.MaxUint16 {
				v.HeadingDeg = float64(m.Hdg) / 100
			}
			v.GroundSpeed = roundTo(math.Hypot(float64(m.Vx), float64(m.Vy))/100, speedResolution)
			v.VelNorth, v.VelEast = float64(m.Vx)/100, float64(m.Vy)/100
			v.Climb = -float64(m.Vz) / 100
		})
	case *common.MessageAttitude:
		ln.checkReboot(rec, m.TimeBootMs, at)
		ln.update(rec, at, func(v *fleet.Vehicle) {
			v.RollDeg = roundTo(float64(m.Roll)*180/math.Pi, angleResolution)
			v.PitchDeg = roundTo(float64(m.Pitch)*180/math.Pi, angleResolution)
			yaw := float64(m.Yaw) * 180 / math.Pi
			if yaw < 0 {
				yaw += 360
			}
			if yaw = roundTo(yaw, angleResolution); yaw >= 360 { // 359.99996 rounds up
				yaw -= 360
			}
			v.YawDeg = yaw
		})
	case *common.MessageVfrHud:
		ln.update(rec, at, func(v *fleet.Vehicle) {
			v.AirSpeed = roundTo(float64(m.Airspeed), speedResolution)
			v.GroundSpeed = roundTo(float64(m.Groundspeed), speedResolution)
			v.Climb = roundTo(float64(m.Climb), speedResolution)
			v.HeadingDeg = float64(m.Heading)
		})
	case *common.MessageSysStatus:
		ln.update(rec, at, func(v *fleet.Vehicle) {
			if m.VoltageBattery != math.MaxUint16 {
				v.BatteryVolt = float64(m.VoltageBattery) / 1000
			}
			if m.CurrentBattery >= 0 {
				v.BatteryAmp = float64(m.CurrentBattery) / 100
			}
			if m.BatteryRemaining >= 0 {
				v.BatteryPct = float64(m.BatteryRemaining)
			}
			const fence = common.MAV_SYS_STATUS_GEOFENCE
			if !rec.fenceStatus && m.OnboardControlSensorsEnabled&fence != 0 {
				v.FenceBreached = m.OnboardControlSensorsHealth&fence == 0
			}
		})
	case *common.MessageBatteryStatus:
		if m.Id != 0 {
			return
		}
		ln.update(rec, at, func(v *fleet.Vehicle) {
			if m.BatteryRemaining >= 0 {
				v.BatteryPct = float64(m.BatteryRemaining)
			}
			var mv float64
			for _, c := range m.Voltages {
				if c != math.MaxUint16 {
					mv += float64(c)
				}
			}
			if mv > 0 {
				v.BatteryVolt = mv / 1000
			}
			if m.CurrentBattery >= 0 {
				v.BatteryAmp = float64(m.CurrentBattery) / 100
			}
		})
	case *common.MessageGpsRawInt:
		ln.update(rec, at, func(v *fleet.Vehicle) {
			v.GPSFix = int(m.FixType)
			if m.SatellitesVisible != math.MaxUint8 {
				v.Satellites = int(m.SatellitesVisible)
			}
		})
	case *common.MessageHomePosition:
		ln.update(rec, at, func(v *fleet.Vehicle) {
			v.Home = &fleet.Point{Lat: float64(m.Latitude) / 1e7, Lon: float64(m.Longitude) / 1e7, AltMSL: float64(m.Altitude) / 1000}
		})
	case *common.MessageExtendedSysState:
		ln.update(rec, at, func(v *fleet.Vehicle) { v.LandedState = lookup(landedNames, int(m.LandedState)) })
	case *common.MessageFenceStatus:
		rec.fenceStatus = true
		ln.update(rec, at, func(v *fleet.Vehicle) { v.FenceBreached = m.BreachStatus != 0 })
	case *common.MessageMissionCurrent:
		rec.lists.observeCurrent(m.Total, common.MAV_AUTOPILOT(rec.autopilot.Load()) == common.MAV_AUTOPILOT_ARDUPILOTMEGA,
			[3]uint32{m.MissionId, m.FenceId, m.RallyPointsId})
		if m.Total != math.MaxUint16 {
			rec.missionTotal = int(m.Total)
		}
		ln.update(rec, at, func(v *fleet.Vehicle) {
			v.MissionSeq = int(m.Seq)
			if rec.missionTotal > 0 {
				v.MissionCount = rec.missionTotal
			}
		})
		switch m.MissionState {
		case common.MISSION_STATE_COMPLETE:
			ln.missionComplete(rec, at, int(m.Seq))
		case common.MISSION_STATE_ACTIVE, common.MISSION_STATE_NOT_STARTED, common.MISSION_STATE_NO_MISSION:
			rec.completeSent = false
		}
	case *common.MessageMissionAck:
		// Sent by a vehicle only at the end of an upload or clear (this
		// station's or another's): the list may have changed.
		rec.lists.invalidate(mavitem.MissionType(m.MissionType))
	case *common.MessageMissionCount:
		rec.lists.observeCount(mavitem.MissionType(m.MissionType), m.Count)
	case *common.MessageMissionItemReached:
		seq := int(m.Seq)
		ln.emit(rec, at, fleet.Event{Kind: fleet.EventMissionItemReached, Severity: fleet.SeverityInfo,
			Message: fmt.Sprintf("%s reached mission item %d", rec.id, seq), Fields: map[string]any{"seq": seq}})
		if last := rec.lastMissionSeq(); last > 0 && seq >= last {
			ln.missionComplete(rec, at, seq)
		} else {
			rec.completeSent = false
		}
	case *common.MessageStatustext:
		ln.onStatusText(rec, m, at)
	case *common.MessageAutopilotVersion:
		uid := m.Uid
		if uid == 0 {
			uid = uidFromUID2(m.Uid2)
		}
		if uid == 0 || uid == rec.uid.Load() {
			return
		}
		rec.uid.Store(uid)
		if !rec.published {
			ln.publish(rec, at)
			return
		}
		ln.st.reg.learn(rec.id, uid)
		ln.update(rec, at, func(v *fleet.Vehicle) { v.UID = uid })
	}
}

// uidFromUID2 folds the 18-byte UID2 (used by autopilots without a 64-bit
// UID) into 64 bits with FNV-1a.
func uidFromUID2(b [18]uint8) uint64 {
	var zero [18]uint8
	if b == zero {
		return 0
	}
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (ln *linkRT) onHeartbeat(rec *vehicleRec, m *common.MessageHeartbeat, at time.Time) {
	regained := !rec.connected // only a published vehicle is ever marked lost
	if regained {
		rec.lists.invalidateAll() // its lists may have changed meanwhile
	}
	rec.connected = true
	rec.lastHB = at
	rec.autopilot.Store(uint32(m.Autopilot))
	rec.sess.SetAutopilot(uint8(m.Autopilot)) // ArduPilot gets windowed uploads
	ln.update(rec, at, func(v *fleet.Vehicle) {
		v.SystemID, v.ComponentID, v.Link = rec.sys, rec.comp, ln.l.name
		v.Type = lookup(typeNames, int(m.Type))
		v.Autopilot = lookup(apNames, int(m.Autopilot))
		v.Mode = modeName(m.Autopilot, m.Type, m.BaseMode, m.CustomMode)
		v.CustomMode = m.CustomMode
		v.Armed = m.BaseMode&common.MAV_MODE_FLAG_SAFETY_ARMED != 0
		v.SystemStatus = lookup(stateNames, int(m.SystemStatus))
		v.Connected = true
	})
	if regained {
		ln.st.log.Info("vehicle link regained", "id", rec.id, "link", ln.l.name)
		rec.requestSetup("regained", true, false, 0)
	}
}

// checkReboot notices an autopilot restart by its boot clock going back
// (more than reordering could explain) and re-requests the streams, which
// a rebooted autopilot has forgotten.
func (ln *linkRT) checkReboot(rec *vehicleRec, bootMs uint32, at time.Time) {
	const slack = 3000
	if rec.lastBootMs > slack && bootMs+slack < rec.lastBootMs {
		// The offset of the old boot clock goes before the reboot is
		// counted, so ClockOffsets never pairs it with the new count.
		rec.clockOffset.Store(0)
		rec.offAt = time.Time{}
		rec.reboots.Add(1)
		rec.clockBootMs, rec.clockAt = bootMs, at // a new boot clock: a new window
		ln.st.log.Info("vehicle rebooted", "id", rec.id, "link", ln.l.name, "boot_ms", bootMs, "previous_boot_ms", rec.lastBootMs)
		rec.lastBootMs = bootMs
		rec.requestSetup("reboot", true, true, 0)
		rec.lists.invalidateAll() // a reboot can move the lists' storage (BRD_SD_*)
		return
	}
	if bootMs > rec.lastBootMs {
		rec.lastBootMs = bootMs
	}
	rec.observeClock(bootMs, at, ln.st.cfg.ClockScale)
}

// clockWindow is how much of the station's time a vehicle's boot clock is
// compared over. Arrival jitter of tens of milliseconds is a fraction of a
// per cent of it.
const clockWindow = 10 * time.Second

// clockOffsetWindow is how long the least of a vehicle's clock offsets is
// gathered before it is published: the least filters out the delays a
// frame met on its way (link, socket, the station's own lateness), which
// only ever add to an offset.
const clockOffsetWindow = time.Second

// observeClock measures how fast the vehicle's boot clock runs against the
// station's, one window at a time. A real autopilot's runs at 1; a
// simulator's at its speedup (less when it lags). The operations
// scheduler times launches and returns in operation time, so a station
// whose operation clock disagrees with the vehicles' is told
// (Station.ClockRate; app's clock check) instead of silently mis-timing
// every handover.
//
// It also keeps the vehicle's clock offset: the station time at which its
// boot clock, run back at scale, would read zero. A vehicle whose clock
// keeps pace keeps its offset; a simulator that falls behind its speedup
// moves it later by exactly the wall time it lost, stalls included —
// which a rate measured per window cannot tell (a stall spans windows).
// Station.ClockOffsets publishes it for the operations clock to follow.
func (rec *vehicleRec) observeClock(bootMs uint32, at time.Time, scale float64) {
	if scale <= 0 {
		scale = 1
	}
	off := float64(at.UnixNano())/1e9 - float64(bootMs)/1000/scale
	switch {
	case rec.offAt.IsZero():
		rec.offAt, rec.offMin = at, off
	case at.Sub(rec.offAt) >= clockOffsetWindow:
		rec.clockOffset.Store(math.Float64bits(rec.offMin))
		rec.offAt, rec.offMin = at, off
	default:
		rec.offMin = min(rec.offMin, off)
	}
	if rec.clockAt.IsZero() || bootMs < rec.clockBootMs {
		rec.clockBootMs, rec.clockAt = bootMs, at
		return
	}
	d := at.Sub(rec.clockAt)
	if d < clockWindow {
		return
	}
	rec.clockRate.Store(math.Float64bits(float64(bootMs-rec.clockBootMs) / 1000 / d.Seconds()))
	rec.clockBootMs, rec.clockAt = bootMs, at
}

func (ln *linkRT) missionComplete(rec *vehicleRec, at time.Time, seq int) {
	if rec.completeSent {
		return
	}
	rec.completeSent = true
	ln.emit(rec, at, fleet.Event{Kind: fleet.EventMissionComplete, Severity: fleet.SeverityInfo,
		Message: fmt.Sprintf("%s completed its mission", rec.id), Fields: map[string]any{"seq": seq}})
}

func (ln *linkRT) emit(rec *vehicleRec, at time.Time, e fleet.Event) {
	if !rec.published {
		return // before publication there is no ID to attach the event to
	}
	e.VehicleID = rec.id
	e.Time = at
	ln.flushPub()
	ln.st.fleet.Emit(e)
}

// failsafeWords are what ArduPilot and PX4 put in their failsafe
// STATUSTEXTs ("Failsafe: battery", "GCS Failsafe", "Radio Failsafe").
var failsafeWords = []string{"failsafe", "fail-safe"}

func (ln *linkRT) onStatusText(rec *vehicleRec, m *common.MessageStatustext, at time.Time) {
	text := m.Text
	if m.Id != 0 { // chunked: collect until the short last chunk
		text = rec.textChunks[m.Id] + text
		if len(m.Text) >= 50 && m.ChunkSeq < 20 {
			rec.textChunks[m.Id] = text
			return
		}
		delete(rec.textChunks, m.Id)
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	sev := fleet.SeverityInfo
	switch {
	case m.Severity <= common.MAV_SEVERITY_CRITICAL:
		sev = fleet.SeverityCritical
	case m.Severity <= common.MAV_SEVERITY_WARNING:
		sev = fleet.SeverityWarning
	}
	ln.emit(rec, at, fleet.Event{Kind: fleet.EventStatusText, Severity: sev, Message: text,
		Fields: map[string]any{"mav_severity": int(m.Severity)}})
	lower := strings.ToLower(text)
	if strings.Contains(lower, "cleared") || strings.Contains(lower, "resolved") {
		return // "GCS Failsafe Cleared" ends a failsafe; it is no alert
	}
	for _, w := range failsafeWords {
		if strings.Contains(lower, w) {
			ln.emit(rec, at, fleet.Event{Kind: fleet.EventFailsafe, Severity: fleet.SeverityCritical,
				Message: fmt.Sprintf("%s failsafe: %s", rec.id, text), Fields: map[string]any{"text": text}})
			break
		}
	}
}

// mapCamera keeps the vehicle's video streams from the MAVLink camera
// protocol, and asks a camera that (re)appears for its streams.
func (ln *linkRT) mapCamera(rec *vehicleRec, c *compRec, msg any, at time.Time) {
	comp := c.id
	switch m := msg.(type) {
	case *common.MessageHeartbeat:
		appeared := c.lastHB.IsZero() || at.Sub(c.lastHB) > ln.st.cfg.HeartbeatTimeout
		c.lastHB = at
		if appeared {
			rec.requestSetup("camera", false, false, comp)
		}
	case *common.MessageCameraInformation:
		info := [2]string{cString(m.VendorName[:]), cString(m.ModelName[:])}
		if rec.camInfo[comp] == info {
			return
		}
		rec.camInfo[comp] = info
		for k, s := range rec.video {
			if s.CameraID == comp {
				s.CameraVend, s.CameraModel = info[0], info[1]
				rec.video[k] = s
			}
		}
		ln.setVideo(rec, at)
	case *common.MessageVideoStreamInformation:
		info := rec.camInfo[comp]
		s := fleet.VideoStream{
			CameraID: comp, StreamID: m.StreamId, Name: m.Name, URI: m.Uri,
			Type: lookup(videoTypeNames, int(m.Type)), Width: int(m.ResolutionH), Height: int(m.ResolutionV),
			Framerate: float64(m.Framerate), BitrateKbps: int(m.Bitrate / 1000), // MAVLink sends bits/s
			Running:  m.Flags&common.VIDEO_STREAM_STATUS_FLAGS_RUNNING != 0,
			Encoding: videoEncoding(m.Encoding), CameraVend: info[0], CameraModel: info[1],
		}
		k := uint16(comp)<<8 | uint16(m.StreamId)
		if old, ok := rec.video[k]; ok && old == s {
			return
		}
		rec.video[k] = s
		ln.setVideo(rec, at)
	}
}

func (ln *linkRT) setVideo(rec *vehicleRec, at time.Time) {
	streams := make([]fleet.VideoStream, 0, len(rec.video))
	for _, s := range rec.video {
		streams = append(streams, s)
	}
	sort.Slice(streams, func(i, j int) bool {
		if streams[i].CameraID != streams[j].CameraID {
			return streams[i].CameraID < streams[j].CameraID
		}
		return streams[i].StreamID < streams[j].StreamID
	})
	ln.update(rec, at, func(v *fleet.Vehicle) { v.Video = streams })
}

func videoEncoding(e common.VIDEO_STREAM_ENCODING) string {
	switch e {
	case common.VIDEO_STREAM_ENCODING_H264:
		return "h264"
	case common.VIDEO_STREAM_ENCODING_H265:
		return "h265"
	}
	return ""
}

func cString(b []uint8) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
