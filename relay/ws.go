package relay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/latency"
	"github.com/burgut-uav/burgut/internal/yield"
)

// HubConfig bounds what each WebSocket client may cost.
type HubConfig struct {
	Station string
	// StaleAfter flags a vehicle stale when its data is older (default 5 s).
	StaleAfter time.Duration
	// DefaultRateHz is how many state frames per second a client gets
	// unless it asks for fewer (default 10); MaxRateHz caps what it may ask
	// for (default 50).
	DefaultRateHz, MaxRateHz float64
	// MaxQueuedEvents is how many events (and control frames) may wait for a
	// client's writer; a client that falls further behind is dropped
	// (default 10,000: a fleet of 2,000 switched on together emits a burst
	// of more than 2,000 events within a second or two, which a client busy
	// writing the whole fleet's states took too long to drain at 1,000, so
	// healthy clients were dropped; ~3 MiB per client at most). Positions
	// never queue: the newest replaces the older.
	MaxQueuedEvents int
	// WriteTimeout drops a client whose socket accepts no data for this
	// long (default 10 s).
	WriteTimeout time.Duration
	// PingInterval is the keepalive period; a client that answers no ping
	// within two periods is dropped (default 20 s).
	PingInterval time.Duration
	// AllowedOrigins lists origins (scheme://host[:port]) allowed besides
	// the page's own; "*" allows any. Default: same origin only.
	AllowedOrigins []string
	// MaxClients refuses connections past it with 503 (default 2000).
	MaxClients int
	// SnapshotAlerts is how many recent alerts the snapshot carries (default 100).
	SnapshotAlerts int
	Log            *slog.Logger
}

// DefaultHubConfig holds the value every zero field of HubConfig takes:
// the one source for these defaults (burgut's ws-* and stale-after flags
// start from them).
func DefaultHubConfig() HubConfig {
	return HubConfig{StaleAfter: DefaultStaleAfter, DefaultRateHz: 10, MaxRateHz: 50, MaxQueuedEvents: 10000,
		WriteTimeout: 10 * time.Second, PingInterval: 20 * time.Second, MaxClients: 2000, SnapshotAlerts: 100}
}

func (c *HubConfig) defaults() {
	d := DefaultHubConfig()
	if c.StaleAfter <= 0 {
		c.StaleAfter = d.StaleAfter
	}
	if c.MaxRateHz <= 0 {
		c.MaxRateHz = d.MaxRateHz
	}
	if c.DefaultRateHz <= 0 {
		c.DefaultRateHz = min(d.DefaultRateHz, c.MaxRateHz)
	}
	if c.MaxQueuedEvents <= 0 {
		c.MaxQueuedEvents = d.MaxQueuedEvents
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.PingInterval <= 0 {
		c.PingInterval = d.PingInterval
	}
	if c.MaxClients <= 0 {
		c.MaxClients = d.MaxClients
	}
	if c.SnapshotAlerts <= 0 {
		c.SnapshotAlerts = d.SnapshotAlerts
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// WireVehicle is a vehicle as the stream sends it: the fleet.Vehicle
// fields plus the stale flag.
type WireVehicle struct {
	fleet.Vehicle
	Stale bool `json:"stale"`
}

// MarshalJSON encodes w as state frames carry it (encodeWireVehicle), so
// a snapshot, written with encoding/json, has a NaN the autopilot sent as
// null too: encoding/json refused it and the snapshot went out empty,
// dropping the client.
func (w WireVehicle) MarshalJSON() ([]byte, error) {
	return encodeWireVehicle(&w.Vehicle, w.Stale, nil), nil
}

// Frame is every message the server sends; Type says which fields are set:
//
//	snapshot    vehicles (all matching the filter), alerts (recent), filter
//	state       vehicles (changed since the last state frame)
//	events      events (in order)
//	subscribed  filter (the filter now in force)
//	error       error (what was wrong and where); the connection stays open
type Frame struct {
	Type     string        `json:"type"`
	Schema   int           `json:"schema"`
	Station  string        `json:"station,omitempty"`
	Time     time.Time     `json:"time"`
	Vehicles []WireVehicle `json:"vehicles,omitempty"`
	Events   []fleet.Event `json:"events,omitempty"`
	Alerts   []fleet.Event `json:"alerts,omitempty"`
	Filter   *Filter       `json:"filter,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// Filter is what a client asked to see. Empty Vehicles and nil BBox mean
// everything.
type Filter struct {
	Vehicles []string `json:"vehicles,omitempty"`
	// BBox is [minLon, minLat, maxLon, maxLat] (GeoJSON order). Events of a
	// vehicle pass when its last known position is inside.
	BBox   []float64 `json:"bbox,omitempty"`
	RateHz float64   `json:"rate_hz"`
}

func (f *Filter) match(v *fleet.Vehicle) bool { return f.matchAt(v.ID, v.Lat, v.Lon) }

// matchAt is match for a vehicle known by its ID and position.
func (f *Filter) matchAt(id string, lat, lon float64) bool {
	if len(f.Vehicles) > 0 && !slices.Contains(f.Vehicles, id) {
		return false
	}
	if f.BBox != nil {
		return lon >= f.BBox[0] && lat >= f.BBox[1] && lon <= f.BBox[2] && lat <= f.BBox[3]
	}
	return true
}

// clientMessage is what a client may send.
type clientMessage struct {
	Type     string     `json:"type"`
	Vehicles []string   `json:"vehicles"`
	BBox     *[]float64 `json:"bbox"`
	RateHz   *float64   `json:"rate_hz"`
}

// HubStats are running totals for the health endpoint and benchmarks.
type HubStats struct {
	Clients  int64  `json:"clients"`
	Accepted uint64 `json:"accepted"`
	Dropped  uint64 `json:"dropped"`
	Frames   uint64 `json:"frames"`
	// Coalesced counts vehicle states a client never got because a newer
	// state of the same vehicle replaced them before its writer sent them
	// (its rate_hz, or a slow socket): positions are coalesced by design,
	// and what each client missed that way is counted here.
	Coalesced uint64 `json:"coalesced"`
	// DroppedEvents counts events (live, or alerts of a snapshot) that
	// could not be encoded as JSON (a NaN nested in a field) and so went
	// to no client: the frame around them stays readable.
	DroppedEvents uint64 `json:"dropped_events"`
}

// Hub serves the /api/v1/stream WebSocket: one goroutine (Run) fans the
// fleet out to every connection; each connection has its own writer.
type Hub struct {
	cfg      HubConfig
	src      FleetSource
	upgrader websocket.Upgrader

	mu      sync.Mutex
	clients map[*wsClient]struct{}
	running bool
	stopped bool
	conns   sync.WaitGroup

	// eager: the hub encodes states as it takes them (eagerLocked).
	eager bool

	nClients                              atomic.Int64
	accepted, dropped, written, coalesced atomic.Uint64
	// unencodable counts events no client got because they could not be
	// encoded; lastUnencLog (unix ns) paces its log line.
	unencodable  atomic.Uint64
	lastUnencLog atomic.Int64

	// lat measures, from a datagram's arrival at the station (the
	// vehicle's Updated time), when the hub took the state it caused from
	// the fleet, and when a client's writer had written it to the socket.
	lat struct{ hub, wsWrite latency.Histogram }
	// bulk lets one writer at a time build a large state frame.
	bulk chan struct{}
}

// NewHub prepares a hub; ServeHTTP refuses connections until Run starts.
func NewHub(src FleetSource, cfg HubConfig) *Hub {
	cfg.defaults()
	h := &Hub{cfg: cfg, src: src, clients: map[*wsClient]struct{}{}, bulk: make(chan struct{}, 1)}
	h.upgrader = websocket.Upgrader{CheckOrigin: h.checkOrigin, ReadBufferSize: 1024, WriteBufferSize: 4096}
	return h
}

// Stats returns running totals.
func (h *Hub) Stats() HubStats {
	return HubStats{Clients: h.nClients.Load(), Accepted: h.accepted.Load(), Dropped: h.dropped.Load(), Frames: h.written.Load(),
		Coalesced: h.coalesced.Load(), DroppedEvents: h.unencodable.Load()}
}

// Latency returns the hub's latency stages, each measured from the
// arrival of the data a state carries (fleet.Vehicle.Updated): "hub" (the
// hub took the state from the fleet) and "ws_write" (a client's writer
// finished writing it to the socket; the time the client's own rate_hz
// held the state back is not counted, so a 1 Hz client does not read as
// a slow station). States without new data (a stale flag flipping) are
// not measured.
func (h *Hub) Latency() map[string]latency.Snapshot {
	return map[string]latency.Snapshot{"hub": h.lat.hub.Snapshot(), "ws_write": h.lat.wsWrite.Snapshot()}
}

func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser
	}
	u, err := url.Parse(origin)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// Run fans fleet updates out to the clients until ctx ends, then closes
// every connection and waits for their goroutines.
func (h *Hub) Run(ctx context.Context) error {
	sub := h.src.Subscribe(fleet.SubscribeOptions{Name: "websocket"})
	defer sub.Close()
	view := &hubView{slot: map[string]int32{}}
	h.mu.Lock()
	h.running = true
	for _, v := range h.src.List() {
		if slot, ok := h.src.Slot(v.ID); ok {
			view.latest[view.at(slot, v.ID)] = v
		}
	}
	h.mu.Unlock()
	staleTick := time.NewTicker(time.Second)
	defer staleTick.Stop()
	// A busy fleet signals the subscription thousands of times a second;
	// the hub takes what is pending at most every hubDrainEvery, so it
	// wakes a bounded number of times and each batch coalesces more. The
	// first update after a quiet spell is taken at once: waiting a fixed
	// tick added up to hubDrainEvery to every position of a small fleet.
	drain := time.NewTimer(time.Hour)
	drain.Stop()
	var lastDrain time.Time
	var wire []*encVehicle // reused: clients keep the states, not the slice
	// stateSize sizes a batch's slab of encodings: the largest mean state
	// size seen, plus an eighth. A fixed 700 bytes was short of the ~930
	// of a flying vehicle's state, so every batch's slab was grown once
	// or twice as it filled — twice the memory and a copy of what was
	// encoded, the largest part of the station's allocation at 2,000
	// vehicles.
	stateSize := encodedStateSize
	updates := 0 // states taken since the last stale tick (~1 s)
	take := func() {
		b := sub.Next()
		now := time.Now()
		lastDrain = now
		nowNs := now.UnixNano()
		// With no client connected the states are only kept (for the
		// stale flags and events' filters), not wrapped for sending: a
		// client that connects later starts from a snapshot of the fleet
		// taken under h.mu, newer than this batch.
		h.mu.Lock()
		idle, eager := len(h.clients) == 0, h.eager
		h.mu.Unlock()
		updates += len(b.Vehicles)
		clear(wire)
		wire = wire[:0]
		// The batch's states are allocated together, and (eager) their
		// encodings share one slab: one object each per batch instead of
		// two per state (a ~600-byte copy of the vehicle and a 1 KiB
		// buffer), which at 36,000 states a second were most of the
		// station's allocation, and so most of its GC cycles.
		var encs []encVehicle
		if !idle {
			encs = make([]encVehicle, 0, len(b.Vehicles))
		}
		for i := range b.Vehicles {
			v := &b.Vehicles[i]
			slot := b.Slots[i]
			if slot < 0 { // never from the fleet's own updates
				var ok bool
				if slot, ok = h.src.Slot(v.ID); !ok {
					continue
				}
			}
			slot = view.at(slot, v.ID)
			prev := &view.latest[slot]
			stale := v.Stale(now, h.cfg.StaleAfter)
			var data int64
			if prev.ID == "" || v.Updated.After(prev.Updated) {
				data = v.Updated.UnixNano()
				h.lat.hub.ObserveSince(data, nowNs)
			}
			view.staleSent[slot] = stale
			*prev = *v
			if !idle {
				// Encoded lazily, once, by the first client writer that
				// sends it; every client sends the same bytes, and a state
				// no client sends is never encoded.
				encs = append(encs, encVehicle{id: v.ID, lat: v.Lat, lon: v.Lon, stale: stale, slot: slot, data: data, offered: nowNs})
				e := &encs[len(encs)-1]
				if !eager {
					e.v = new(fleet.Vehicle)
					*e.v = *v
				} else {
					e.v = v // encoded below, before the batch is reused
				}
				wire = append(wire, e)
			}
		}
		if eager {
			// Encoded here, as the states arrive (a few dozen per
			// millisecond's batch), not by the first client writer to send
			// them: a writer of a 2,000-vehicle frame spent milliseconds
			// encoding, yielding its CPU every half millisecond, before its
			// first byte went out, and every state in its frame waited for
			// the last (the all-client ws_write p99 was 29–41 ms where the
			// hub's was 17–22). With several clients nearly every state is
			// sent to one of them before a newer one replaces it, so the
			// encodings are the same in number.
			var slice yield.Slice
			slab := make([]byte, 0, len(wire)*stateSize+stateSize)
			for _, e := range wire {
				start := len(slab)
				slab = appendWireVehicle(append(slab, ','), e.v, e.stale)
				e.pre, e.v = slab[start:len(slab):len(slab)], nil
				slice.Tick()
			}
			if len(wire) > 0 {
				mean := len(slab) / len(wire)
				stateSize = max(stateSize, mean+mean/8)
			}
		}
		events := h.encodeEvents(b.Events)
		if len(wire) == 0 && len(events) == 0 {
			return
		}
		h.mu.Lock()
		for c := range h.clients {
			c.offer(wire, events, view)
		}
		h.mu.Unlock()
	}
	// While the drain timer runs the hub does not listen to the
	// subscription (signal is nil): every update pushed meanwhile signalled
	// it again, a wake-up (and a thread switch) per dispatcher batch that
	// only found the timer already set.
	signal := sub.C
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.stopped = true
			for c := range h.clients {
				c.drop("server shutting down")
			}
			h.mu.Unlock()
			h.conns.Wait()
			return nil
		case <-signal:
			if wait := hubDrainEvery - time.Since(lastDrain); wait > 0 {
				drain.Reset(wait)
				signal = nil
				break
			}
			take()
		case <-drain.C:
			signal = sub.C // an update since take() left its signal there
			take()
		case now := <-staleTick.C:
			// A vehicle that goes silent sends no update: tell clients it went stale.
			var wire []*encVehicle
			h.mu.Lock()
			h.eager = h.eagerLocked(updates, len(view.latest))
			updates = 0
			for slot := range view.latest {
				v := &view.latest[slot]
				if s := v.Stale(now, h.cfg.StaleAfter); v.ID != "" && s != view.staleSent[slot] {
					view.staleSent[slot] = s
					c := *v
					wire = append(wire, &encVehicle{v: &c, id: v.ID, lat: v.Lat, lon: v.Lon, stale: s, slot: int32(slot)})
				}
			}
			if len(wire) > 0 {
				for c := range h.clients {
					c.offer(wire, nil, view)
				}
			}
			h.mu.Unlock()
		}
	}
}

// ServeHTTP upgrades to a WebSocket. The initial filter may be given as
// query parameters: vehicles=a,b  bbox=minLon,minLat,maxLon,maxLat  rate_hz=1.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	filter, err := h.filterFromQuery(r.URL.Query())
	if err != nil {
		httpapi.WriteError(w, r, h.cfg.Log, err)
		return
	}
	h.mu.Lock()
	switch {
	case !h.running || h.stopped:
		h.mu.Unlock()
		httpapi.WriteError(w, r, h.cfg.Log, httpapi.New(httpapi.CodeUnavailable, "stream is not running"))
		return
	case len(h.clients) >= h.cfg.MaxClients:
		h.mu.Unlock()
		httpapi.WriteError(w, r, h.cfg.Log, httpapi.New(httpapi.CodeUnavailable, "too many stream clients (%d)", h.cfg.MaxClients))
		return
	}
	h.conns.Add(1)
	h.mu.Unlock()
	defer h.conns.Done()

	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered with an HTTP error (e.g. 403 for a foreign origin)
	}
	c := &wsClient{hub: h, conn: conn, filter: filter, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.answerControlFrames()
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	c.mu.Lock()
	c.snapshotLocked()
	c.mu.Unlock()
	h.mu.Unlock()
	h.accepted.Add(1)
	h.nClients.Add(1)

	var writer sync.WaitGroup
	writer.Add(1)
	go func() { defer writer.Done(); c.writeLoop() }()
	c.readLoop()
	c.drop("")
	writer.Wait()
	conn.Close()
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	h.nClients.Add(-1)
}

func (h *Hub) filterFromQuery(q url.Values) (Filter, error) {
	f := Filter{RateHz: h.cfg.DefaultRateHz}
	if s := q.Get("vehicles"); s != "" {
		for _, id := range strings.Split(s, ",") {
			if id = strings.TrimSpace(id); id != "" {
				f.Vehicles = append(f.Vehicles, id)
			}
		}
	}
	if s := q.Get("bbox"); s != "" {
		parts := strings.Split(s, ",")
		bbox := make([]float64, len(parts))
		for i, p := range parts {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return f, httpapi.Invalid("bbox", "value %d (%q) is not a number", i+1, p)
			}
			bbox[i] = v
		}
		if err := validBBox(bbox); err != nil {
			return f, httpapi.Invalid("bbox", "%v", err)
		}
		f.BBox = bbox
	}
	if s := q.Get("rate_hz"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return f, httpapi.Invalid("rate_hz", "%q is not a number", s)
		}
		if err := h.validRate(v); err != nil {
			return f, httpapi.Invalid("rate_hz", "%v", err)
		}
		f.RateHz = v
	}
	return f, nil
}

func validBBox(b []float64) error {
	if len(b) != 4 {
		return fmt.Errorf("want 4 numbers [minLon, minLat, maxLon, maxLat], got %d", len(b))
	}
	for i, v := range b {
		lim := 180.0
		if i%2 == 1 {
			lim = 90
		}
		if math.IsNaN(v) || v < -lim || v > lim {
			return fmt.Errorf("value %d (%v) out of range ±%v", i+1, v, lim)
		}
	}
	if b[0] > b[2] || b[1] > b[3] {
		return fmt.Errorf("min must not exceed max: [%v, %v, %v, %v]", b[0], b[1], b[2], b[3])
	}
	return nil
}

func (h *Hub) validRate(v float64) error {
	if math.IsNaN(v) || v <= 0 || v > h.cfg.MaxRateHz {
		return fmt.Errorf("%v Hz: must be in (0, %v]", v, h.cfg.MaxRateHz)
	}
	return nil
}

// wsClient is one connection. The hub goroutine offers data under mu; the
// writer goroutine takes it; the reader (the HTTP handler's goroutine)
// handles client messages.
type wsClient struct {
	hub  *Hub
	conn *websocket.Conn

	mu     sync.Mutex
	filter Filter
	// states holds the newest pending state of each vehicle, indexed by
	// the vehicle's hub slot (encVehicle.slot); order lists the pending
	// slots in order of first arrival. A slice, not a map keyed by ID:
	// the hub offers every update to every client, and at 100 clients two
	// map operations per update per client were a sixth of the station's
	// CPU.
	states  []*encVehicle
	order   []int32
	events  []encEvent
	control []Frame
	dropped bool
	// wmu orders the state frames the writer writes to the socket itself
	// (writeStateFrame, not through the websocket library) with the
	// control frames the reader goroutine answers through the library
	// (pong, close): the library's own lock does not cover the former.
	wmu sync.Mutex
	// hdr and head hold the WebSocket header and the JSON head of the
	// state frame being written; bw buffers the pieces on a connection
	// without writev.
	hdr  [10]byte
	head []byte
	bw   *bufio.Writer
	// rateWait is set while the writer has states waiting for its rate
	// timer (it takes them when the timer fires).
	rateWait bool
	reason   string
	wake     chan struct{}
	done     chan struct{}
	nmsg     int // client messages received, to say which one was bad
}

func (c *wsClient) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// offer queues updates; called by the hub goroutine with hub.mu held. It
// never blocks.
func (c *wsClient) offer(vs []*encVehicle, es []encEvent, view *hubView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		return
	}
	n, replaced, nev := 0, 0, 0
	for i := range vs {
		if !c.filter.matchAt(vs[i].id, vs[i].lat, vs[i].lon) {
			continue
		}
		slot := vs[i].slot
		if int(slot) >= len(c.states) {
			c.states = append(c.states, make([]*encVehicle, int(slot)+1-len(c.states))...)
		}
		if c.states[slot] == nil {
			c.order = append(c.order, slot)
		} else {
			replaced++
		}
		c.states[slot] = vs[i]
		n++
	}
	if replaced > 0 {
		c.hub.coalesced.Add(uint64(replaced))
	}
	for _, e := range es {
		v, ok := view.get(e.vehicleID)
		if !ok {
			v = fleet.Vehicle{ID: e.vehicleID}
		}
		if !c.filter.match(&v) {
			continue
		}
		c.events = append(c.events, e)
		nev++
	}
	if len(c.events)+len(c.control) > c.hub.cfg.MaxQueuedEvents {
		c.dropLocked(fmt.Sprintf("client too slow: more than %d events queued", c.hub.cfg.MaxQueuedEvents))
		return
	}
	// A writer waiting for its rate timer takes the states when it fires:
	// waking it for every update (hundreds a second for a 10 Hz client of
	// a busy fleet) only to find it must wait was most of its wake-ups.
	if nev > 0 || (n > 0 && !c.rateWait) {
		c.signal()
	}
}

func (c *wsClient) drop(reason string) {
	c.mu.Lock()
	c.dropLocked(reason)
	c.mu.Unlock()
}

func (c *wsClient) dropLocked(reason string) {
	if c.dropped {
		return
	}
	c.dropped = true
	c.reason = reason
	close(c.done)
	if reason != "" && reason != "server shutting down" {
		c.hub.dropped.Add(1)
		c.hub.cfg.Log.Warn("stream client dropped", "remote", c.conn.RemoteAddr().String(), "reason", reason)
	}
	// Unblock a writer stuck on a full socket and the reader.
	_ = c.conn.UnderlyingConn().Close()
}

// snapshotLocked replaces anything queued for the client with a snapshot
// of every vehicle (and recent alerts) matching the filter.
func (c *wsClient) snapshotLocked() {
	now := time.Now()
	f := c.filter
	snap := Frame{Type: "snapshot", Schema: SchemaVersion, Station: c.hub.cfg.Station, Time: now.UTC(), Filter: &f,
		Vehicles: []WireVehicle{}, Alerts: []fleet.Event{}}
	pos := map[string]fleet.Vehicle{}
	for _, v := range c.hub.src.List() {
		pos[v.ID] = v
		if c.filter.match(&v) {
			snap.Vehicles = append(snap.Vehicles, WireVehicle{Vehicle: v, Stale: v.Stale(now, c.hub.cfg.StaleAfter)})
		}
	}
	recent := c.hub.src.Events(0, "", 0)
	for i := len(recent) - 1; i >= 0 && len(snap.Alerts) < c.hub.cfg.SnapshotAlerts; i-- {
		e := recent[i]
		v, ok := pos[e.VehicleID]
		if !ok {
			v = fleet.Vehicle{ID: e.VehicleID}
		}
		if e.IsAlert() && c.filter.match(&v) {
			// One alert that cannot be encoded would fail the whole
			// snapshot, and so drop every client as it connects.
			if _, err := json.Marshal(e); err != nil {
				c.hub.unencodableEvent(e, err)
				continue
			}
			snap.Alerts = append(snap.Alerts, e)
		}
	}
	slices.Reverse(snap.Alerts)
	// The snapshot carries the newest state of every vehicle: the states
	// still waiting are replaced by it.
	c.hub.coalesced.Add(uint64(len(c.order)))
	for _, slot := range c.order {
		c.states[slot] = nil
	}
	c.order = c.order[:0]
	c.control = append(c.control, snap)
	c.signal()
}

func (c *wsClient) controlLocked(f Frame) {
	f.Schema = SchemaVersion
	f.Time = time.Now().UTC()
	c.control = append(c.control, f)
	if len(c.events)+len(c.control) > c.hub.cfg.MaxQueuedEvents {
		c.dropLocked("client too slow: control frames piling up")
		return
	}
	c.signal()
}

// answerControlFrames makes the reader answer a ping (pong) and a close
// (close) under wmu, so an answer never lands inside a state frame the
// writer is writing to the socket itself. A pong waits for the client as
// long as any other frame (WriteTimeout); a client that does not take it
// in that time is dropped as too slow, and on any other failed pong the
// reader stops as when the client leaves. The library's own handler,
// which this followed, gives a pong a second and lets a failed one pass,
// and that second was the shortest write deadline a client met: a client
// that stopped reading for a second while a pong waited lost the pong
// (one that timed out waiting for the library's writer is never sent),
// and its connection with it at a later frame — a timed-out write leaves
// a TLS connection unable to write again (crypto/tls), and the library
// refuses every write after one that failed (the state frames, written
// past it, carried on until the next ping).
func (c *wsClient) answerControlFrames() {
	answer := func(typ int, data []byte) error {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.conn.WriteControl(typ, data, time.Now().Add(c.hub.cfg.WriteTimeout))
	}
	c.conn.SetPingHandler(func(data string) error {
		err := answer(websocket.PongMessage, []byte(data))
		if err == nil || errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.drop(fmt.Sprintf("pong: client took no data for %v", c.hub.cfg.WriteTimeout))
		}
		return err
	})
	c.conn.SetCloseHandler(func(code int, _ string) error {
		_ = answer(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
		return nil
	})
}

func (c *wsClient) readLoop() {
	pongWait := 2 * c.hub.cfg.PingInterval
	c.conn.SetReadLimit(64 << 10)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			// A read timeout means no pong (nor anything else) for pongWait:
			// the server drops the client. Any other error is the client leaving.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.drop(fmt.Sprintf("keepalive: nothing received for %v", pongWait))
			}
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		c.mu.Lock()
		c.nmsg++
		if typ != websocket.TextMessage {
			c.controlLocked(Frame{Type: "error", Error: fmt.Sprintf("message %d: binary frame; send JSON text such as {\"type\":\"subscribe\",\"vehicles\":[\"id\"]}", c.nmsg)})
		} else if nf, err := c.hub.parseMessage(data, c.filter); err != nil {
			c.controlLocked(Frame{Type: "error", Error: fmt.Sprintf("message %d: %v", c.nmsg, err)})
		} else if nf != nil {
			c.filter = *nf
			f := *nf
			c.controlLocked(Frame{Type: "subscribed", Filter: &f})
			c.snapshotLocked()
		}
		c.mu.Unlock()
	}
}

// parseMessage validates a client message; it returns the new filter for
// a subscribe message, nil for a no-op (ping), or an error naming what is
// wrong and where.
func (h *Hub) parseMessage(data []byte, cur Filter) (*Filter, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m clientMessage
	if err := dec.Decode(&m); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("malformed JSON at byte %d: %v", syn.Offset, syn)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("field %q at byte %d: got JSON %s, want %s", typ.Field, typ.Offset, typ.Value, typ.Type)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("incomplete JSON: want an object such as {\"type\":\"subscribe\"}")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return nil, fmt.Errorf("%s (known: type, vehicles, bbox, rate_hz)", strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	switch m.Type {
	case "ping":
		return nil, nil
	case "subscribe":
	case "":
		return nil, errors.New("field \"type\" is missing (want \"subscribe\" or \"ping\")")
	default:
		return nil, fmt.Errorf("field \"type\": unknown message type %q (want \"subscribe\" or \"ping\")", m.Type)
	}
	f := Filter{RateHz: cur.RateHz}
	for i, id := range m.Vehicles {
		if id == "" {
			return nil, fmt.Errorf("field \"vehicles\"[%d]: empty vehicle id", i)
		}
	}
	f.Vehicles = m.Vehicles
	if m.BBox != nil {
		if err := validBBox(*m.BBox); err != nil {
			return nil, fmt.Errorf("field \"bbox\": %v", err)
		}
		f.BBox = *m.BBox
	}
	if m.RateHz != nil {
		if err := h.validRate(*m.RateHz); err != nil {
			return nil, fmt.Errorf("field \"rate_hz\": %v", err)
		}
		f.RateHz = *m.RateHz
	}
	return &f, nil
}

func (c *wsClient) writeLoop() {
	ping := time.NewTicker(c.hub.cfg.PingInterval)
	defer ping.Stop()
	rateTimer := time.NewTimer(time.Hour)
	rateTimer.Stop()
	var nextState time.Time
	armed := false
	// The events frame being written and its items, reused from write to
	// write; a state frame is written from the states' shared encodings
	// (pieces, reused), never copied into a per-client buffer.
	var buf []byte
	var raws, pieces [][]byte
	var states []*encVehicle
	var arrived []int64 // when the data of each state written arrived (latency)
	var observed latency.Local
	for {
		select {
		case <-c.done:
			return
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.cfg.WriteTimeout)); err != nil {
				c.drop(fmt.Sprintf("ping: %v", err))
				return
			}
			continue
		case <-c.wake:
		case <-rateTimer.C:
			armed = false
		}
		now := time.Now()
		c.mu.Lock()
		control, events := c.control, c.events
		c.control, c.events = nil, nil
		clear(states)
		states = states[:0]
		allowed := nextState.UnixNano() // the earliest the client's rate let these states go
		c.rateWait = false
		if len(c.order) > 0 {
			if now.Before(nextState) {
				if !armed {
					rateTimer.Reset(nextState.Sub(now))
					armed = true
				}
				c.rateWait = true // the timer takes the states: offers need not wake us
			} else {
				for _, slot := range c.order {
					states = append(states, c.states[slot])
					c.states[slot] = nil
				}
				c.order = c.order[:0]
				nextState = now.Add(time.Duration(float64(time.Second) / c.filter.RateHz))
			}
		}
		c.mu.Unlock()
		for _, f := range control {
			if !c.write(f) {
				return
			}
		}
		if len(events) > 0 {
			raws = raws[:0]
			for i := range events {
				raws = append(raws, events[i].raw)
			}
			buf = appendRawFrame(buf[:0], "events", now, "events", raws)
			if !c.writeRaw(buf) {
				return
			}
		}
		if len(states) > 0 {
			// A large frame's states are encoded (once, shared by every
			// client) by one writer at a time: ten clients reading a
			// 2,000-vehicle fleet at once filled both CPUs' run queues, so
			// the link readers, dispatchers and small clients (one vehicle
			// at a high rate) waited behind them. The socket write is
			// outside: a stuck client must not hold the others up.
			bulk := len(states) >= bulkStates
			if bulk {
				select {
				case c.hub.bulk <- struct{}{}:
				case <-c.done:
					return
				}
			}
			pieces = append(pieces[:0], nil, nil) // the WebSocket header and the frame's JSON head
			var slice yield.Slice                 // the first writer of new states encodes them: milliseconds at 2,000
			for i := range states {
				pieces = append(pieces, states[i].bytes())
				slice.Tick()
			}
			if bulk {
				<-c.hub.bulk
			}
			// Only the encodings are needed from here: the states (each a
			// copy of its vehicle) are let go before the write, which may
			// block for as long as the client takes to read — 100 clients
			// mid-write held up to 100 generations of the fleet's states.
			arrived = arrived[:0]
			for _, e := range states {
				if e.data != 0 {
					held := max(0, allowed-e.offered) // by the client's own rate, not the station
					arrived = append(arrived, e.data+held)
				}
			}
			clear(states)
			var ok bool
			if pieces, ok = c.writeStateFrame(now, pieces); !ok {
				return
			}
			done := time.Now().UnixNano()
			for _, at := range arrived {
				observed.ObserveSince(at, done)
			}
			c.hub.lat.wsWrite.AddLocal(&observed)
		}
		clear(raws) // keep no encoded state alive until the next write
		if cap(buf) > maxKeptFrame {
			buf = nil // a one-off huge frame is not kept
		}
	}
}

// eagerEncodeClients is how many connected clients it takes for the hub to
// encode every state as it takes it (see Run and eagerLocked).
const eagerEncodeClients = 2

// eagerLocked decides, once a second, whether the hub encodes every state
// as it takes it (off the writers' path to the socket) or leaves each to
// the first writer that sends it: eagerly when two or more clients are
// connected and their rates ask for at least as many states a second as
// the fleet produced in the last second (updates), so that nearly every
// state is sent to someone before a newer one replaces it. A fleet that
// changes faster than its clients read (a test moving 300 vehicles as
// fast as it can, two clients at 5 and 50 Hz) would otherwise have the hub
// encode ten times the states anyone sends. vehicles is how many the hub
// knows. Called with h.mu held.
func (h *Hub) eagerLocked(updates, vehicles int) bool {
	if len(h.clients) < eagerEncodeClients || updates == 0 {
		return false
	}
	demand := 0.0
	for c := range h.clients {
		c.mu.Lock()
		n := vehicles
		if len(c.filter.Vehicles) > 0 {
			n = min(n, len(c.filter.Vehicles))
		}
		demand += c.filter.RateHz * float64(n)
		c.mu.Unlock()
	}
	return demand >= float64(updates)
}

// bulkStates is the size of a state frame from which writers build it one
// at a time (Hub.bulk).
const bulkStates = 64

// hubDrainEvery bounds how often the hub takes fleet updates: at most a
// millisecond of added latency, far below a client's state period. (It
// was 4 ms while every batch woke every client's writer; now a writer
// waiting for its rate timer is not woken, so a short period costs few
// wake-ups.)
const hubDrainEvery = time.Millisecond

// encVehicle is a vehicle's state, encoded at most once for every client.
type encVehicle struct {
	// v is the state to encode when a writer first sends it; nil once
	// pre holds the encoding (the hub encoded it as it took it).
	v *fleet.Vehicle
	// id and the position are what clients' filters look at.
	id       string
	lat, lon float64
	slot     int32 // the vehicle's index in the hub (Hub.slots)
	stale    bool
	// data is when the data this state carries arrived (Unix ns), 0 if
	// the state carries no new data; offered is when the hub offered it
	// to the clients.
	data, offered int64
	once          sync.Once
	// raw is ',' and the JSON of the WireVehicle: every state but a
	// frame's first is written with its comma, from the same bytes. pre
	// is the same, set by the hub before it offers the state to any
	// client.
	raw, pre []byte
}

// encodedStateSize is the size of one state's JSON the hub assumes, to
// size its slab of a batch's encodings, until it has encoded some (Run's
// stateSize).
const encodedStateSize = 700

// hubView is the hub's copy of every vehicle's newest state, owned by Run
// (offer reads it from there, under h.mu): each vehicle has a slot, the
// fleet's (fleet.Batch.Slots), its index here and in each client's
// pending states, so a state taken from the fleet costs no lookup. With
// maps keyed by ID (the newest state, the stale flag sent, the slot) it
// was four lookups and two copies of the state per update, ~2 % of the
// station's CPU at 2,000 vehicles; the one lookup left, the slot's by ID,
// was ~1 %. slot (by ID) is only for get.
type hubView struct {
	slot      map[string]int32
	latest    []fleet.Vehicle // by slot; ID "" until the vehicle's first state
	staleSent []bool          // by slot: the stale flag clients were last sent
}

// at makes room for the vehicle's fleet slot and returns it.
func (w *hubView) at(slot int32, id string) int32 {
	if n := int(slot) + 1; n > len(w.latest) {
		w.latest = append(w.latest, make([]fleet.Vehicle, n-len(w.latest))...)
		w.staleSent = append(w.staleSent, make([]bool, n-len(w.staleSent))...)
	}
	if w.latest[slot].ID == "" {
		w.slot[id] = slot
	}
	return slot
}

// get returns the newest state of the vehicle, if the hub has one.
func (w *hubView) get(id string) (fleet.Vehicle, bool) {
	s, ok := w.slot[id]
	if !ok || w.latest[s].ID == "" {
		return fleet.Vehicle{}, false
	}
	return w.latest[s], true
}

// bytes returns ',' and the JSON of the state, encoding it on first use;
// client writers call it concurrently.
func (e *encVehicle) bytes() []byte {
	if e.pre != nil {
		return e.pre
	}
	e.once.Do(func() { e.raw = encodeWireVehicle(e.v, e.stale, []byte{','}) })
	return e.raw
}

// encodeWireVehicle is json.Marshal(WireVehicle{*v, stale}) through the
// fleet's reflection-free encoder (byte for byte the same, except that a
// NaN or ±Inf, which encoding/json refuses, is null as in MQTT state: see
// fleet.Vehicle.AppendJSONFields): encoding states was the largest part
// of the WebSocket writers' CPU. The JSON is appended to prefix (which
// may be nil).
func encodeWireVehicle(v *fleet.Vehicle, stale bool, prefix []byte) []byte {
	return appendWireVehicle(append(make([]byte, 0, 1024), prefix...), v, stale)
}

// appendWireVehicle appends the JSON of WireVehicle{*v, stale} to b.
func appendWireVehicle(b []byte, v *fleet.Vehicle, stale bool) []byte {
	b = append(b, '{')
	b = v.AppendJSONFields(b)
	b = append(b, `,"stale":`...)
	b = strconv.AppendBool(b, stale)
	return append(b, '}')
}

type encEvent struct {
	vehicleID string
	raw       []byte
}

// encodeEvents encodes each event once for every client; an event that
// cannot be encoded is left empty (appendRawFrame skips it) and counted.
func (h *Hub) encodeEvents(es []fleet.Event) []encEvent {
	out := make([]encEvent, len(es))
	for i, e := range es {
		raw, err := json.Marshal(e)
		if err != nil {
			h.unencodableEvent(e, err)
			raw = nil
		}
		out[i] = encEvent{vehicleID: e.VehicleID, raw: raw}
	}
	return out
}

// unencodableLogEvery paces the log line about events no client got.
const unencodableLogEvery = 10 * time.Second

// unencodableEvent counts an event that could not be encoded, and logs it
// (the first, then at most one every unencodableLogEvery, with the total).
func (h *Hub) unencodableEvent(e fleet.Event, err error) {
	n := h.unencodable.Add(1)
	now := time.Now().UnixNano()
	last := h.lastUnencLog.Load()
	if (last == 0 || now-last >= int64(unencodableLogEvery)) && h.lastUnencLog.CompareAndSwap(last, now) {
		h.cfg.Log.Error("stream: event not encodable, sent to no client", "vehicle", e.VehicleID, "kind", string(e.Kind),
			"err", err, "total", n)
	}
}

// maxKeptFrame bounds the events frame buffer a client writer keeps
// between writes (a burst of events, e.g. a fleet switched on, makes one
// large frame, not kept; state frames need no buffer).
const maxKeptFrame = 64 << 10

// appendRawFrame appends a Frame's JSON, assembled from pre-encoded
// items, to b.
func appendRawFrame(b []byte, typ string, now time.Time, field string, items [][]byte) []byte {
	n := 96
	for _, it := range items {
		n += len(it) + 1
	}
	b = slices.Grow(b, n)
	b = appendFrameHead(b, typ, now, field)
	first := true
	for _, it := range items {
		if len(it) == 0 {
			continue // an item that failed to encode (states never do): the frame stays valid JSON
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, it...)
	}
	return append(b, "]}"...)
}

// appendFrameHead appends a Frame's JSON up to the opening bracket of its
// list field.
func appendFrameHead(b []byte, typ string, now time.Time, field string) []byte {
	b = fmt.Appendf(b, `{"type":%q,"schema":%d,"time":`, typ, SchemaVersion)
	b = now.UTC().AppendFormat(append(b, '"'), time.RFC3339Nano)
	return fmt.Appendf(b, `","%s":[`, field)
}

// frameTail closes a frame appendFrameHead opened.
var frameTail = []byte("]}")

// appendTextFrameHeader appends the header of one final, unmasked text
// frame with n bytes of payload (RFC 6455 §5.2: a server does not mask).
func appendTextFrameHeader(b []byte, n int) []byte {
	b = append(b, 0x81)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// writeStateFrame writes a state frame as one WebSocket message straight
// from the states' shared encodings: pieces is two empty slots (for the
// WebSocket header and the frame's JSON head) and then each state's
// bytes (encVehicle.bytes: ',' and its JSON). The kernel copies them from
// there (one writev per 1,024 pieces) or, on a connection without writev
// (TLS), a small buffered writer does. A client reading the whole fleet of
// 2,000 vehicles gets a ~1.3 MB frame several times a second: built in a
// per-client buffer it cost every client a copy of the frame and kept a
// buffer that size per client (100 clients: 130 MB of the heap, twice
// that in RSS with the GC's headroom). It returns pieces emptied for
// reuse and false when the client was dropped.
func (c *wsClient) writeStateFrame(now time.Time, pieces [][]byte) ([][]byte, bool) {
	c.head = appendFrameHead(c.head[:0], "state", now, "vehicles")
	if len(pieces) > 2 {
		pieces[2] = pieces[2][1:] // the first state has no comma before it
	}
	n := len(c.head) + len(frameTail)
	for _, p := range pieces[2:] {
		n += len(p)
	}
	pieces[0], pieces[1] = appendTextFrameHeader(c.hdr[:0], n), c.head
	pieces = append(pieces, frameTail)
	out := net.Buffers(pieces)
	conn := c.conn.UnderlyingConn()
	c.wmu.Lock()
	_ = conn.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout))
	var err error
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		_, err = out.WriteTo(conn)
	default:
		if c.bw == nil {
			c.bw = bufio.NewWriterSize(conn, 32<<10)
		}
		for _, p := range pieces {
			if _, err = c.bw.Write(p); err != nil {
				break
			}
		}
		if err == nil {
			err = c.bw.Flush()
		}
		c.bw.Reset(conn) // no half-written frame is kept after an error
	}
	c.wmu.Unlock()
	clear(pieces) // keep no encoded state alive until the next write
	if err != nil {
		c.drop(fmt.Sprintf("write: %v", err))
		return pieces[:0], false
	}
	c.hub.written.Add(1)
	return pieces[:0], true
}

func (c *wsClient) writeRaw(b []byte) bool {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout))
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.drop(fmt.Sprintf("write: %v", err))
		return false
	}
	c.hub.written.Add(1)
	return true
}

func (c *wsClient) write(f Frame) bool {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.hub.cfg.WriteTimeout))
	if err := c.conn.WriteJSON(f); err != nil {
		c.drop(fmt.Sprintf("write: %v", err))
		return false
	}
	c.hub.written.Add(1)
	return true
}
