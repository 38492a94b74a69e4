package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/yield"
)

// FleetSource is what the relays read: live updates and snapshots. A
// *fleet.Fleet satisfies it.
type FleetSource interface {
	Subscribe(opts fleet.SubscribeOptions) *fleet.Subscription
	List() []fleet.Vehicle
	// Slot is the vehicle's slot, as fleet.Batch.Slots carries it.
	Slot(id string) (int32, bool)
	Events(since uint64, vehicleID string, limit int) []fleet.Event
}

// PublisherConfig says where and how fast the MQTT publisher publishes.
type PublisherConfig struct {
	// BrokerURL is the broker, e.g. tcp://127.0.0.1:1883 (also ws://, ssl://).
	BrokerURL string
	// Embedded, when set, is the station's own broker: the publisher hands
	// its messages to it in-process (mochi's inline client) instead of
	// through a paho connection over loopback TCP, which cost the station
	// encoding, a socket write, the broker's read and parse of every
	// message (about a sixth of its CPU at 2,000 vehicles). BrokerURL,
	// credentials, TLS and StoreDir are then not used.
	Embedded *Broker
	// Station is the topic's station level.
	Station string
	// ClientID must stay the same across restarts: the broker keeps the
	// persistent session (and unacknowledged events) under it. Default
	// "burgut-<station>".
	ClientID string
	// Username and Password authenticate the publisher (the embedded broker
	// gives its publisher credentials no other client knows).
	Username, Password string
	// TLS, when set, configures ssl:// and wss:// connections (a CA to
	// verify the broker, a client certificate for mutual TLS).
	TLS *tls.Config
	// StoreDir holds paho's file store of unacknowledged QoS 1 messages, so
	// events survive a Burgut restart during a broker outage too. Empty =
	// in memory (events still survive broker outages).
	StoreDir string
	// StateRate is the per-vehicle state publish rate in Hz (default 2).
	StateRate float64
	// StaleAfter flags a vehicle stale when its data is older (default 5 s).
	StaleAfter time.Duration
	// MaxPending bounds events and video messages waiting for the client to
	// accept them (before paho's own store); past it the oldest are dropped
	// and counted. Default 100000.
	MaxPending int
	Log        *slog.Logger
}

// DefaultStaleAfter is when both feeds (MQTT, WebSocket) flag a vehicle
// stale by default.
const DefaultStaleAfter = 5 * time.Second

// DefaultPublisherConfig holds the value every zero numeric field of
// PublisherConfig takes: the one source for these defaults (burgut's
// state-rate flag starts from it).
func DefaultPublisherConfig() PublisherConfig {
	return PublisherConfig{StateRate: 2, StaleAfter: DefaultStaleAfter, MaxPending: 100000}
}

func (c *PublisherConfig) defaults() {
	d := DefaultPublisherConfig()
	if c.ClientID == "" {
		c.ClientID = "burgut-" + TopicLevel(c.Station)
	}
	if c.StateRate <= 0 {
		c.StateRate = d.StateRate
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = d.StaleAfter
	}
	if c.MaxPending <= 0 {
		c.MaxPending = d.MaxPending
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// PublisherStats counts what the publisher did; Dropped* must stay zero
// unless the broker was unreachable for very long.
type PublisherStats struct {
	States        uint64 `json:"states"`
	Events        uint64 `json:"events"`
	Video         uint64 `json:"video"`
	Retried       uint64 `json:"retried"`
	DroppedEvents uint64 `json:"dropped_events"`
}

// Publisher publishes the fleet to an MQTT broker. Create it with
// NewPublisher and run it with Run; it owns one paho client.
type Publisher struct {
	cfg    PublisherConfig
	topics Topics
	src    FleetSource
	client mqtt.Client

	states, events, video, retried, dropped atomic.Uint64
	connected                               atomic.Bool
}

// NewPublisher validates cfg and prepares the paho client; nothing
// connects until Run.
func NewPublisher(src FleetSource, cfg PublisherConfig) (*Publisher, error) {
	cfg.defaults()
	if cfg.BrokerURL == "" {
		return nil, errors.New("mqtt publisher: broker URL is empty")
	}
	if cfg.Station == "" {
		return nil, errors.New("mqtt publisher: station is empty")
	}
	u, err := url.Parse(cfg.BrokerURL)
	if err != nil {
		return nil, fmt.Errorf("mqtt publisher: broker URL %q: %w", cfg.BrokerURL, err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return nil, fmt.Errorf("mqtt publisher: broker URL %q: scheme %q not supported (tcp, ssl, ws, wss)", cfg.BrokerURL, u.Scheme)
	}
	if u.Port() == "" && (u.Scheme == "tcp" || u.Scheme == "mqtt") {
		return nil, fmt.Errorf("mqtt publisher: broker URL %q: port missing (e.g. tcp://%s:1883)", cfg.BrokerURL, u.Hostname())
	}
	p := &Publisher{cfg: cfg, topics: Topics{Station: cfg.Station}, src: src}
	if cfg.Embedded != nil {
		p.client = &inlineClient{srv: cfg.Embedded.Server(), onConnect: p.onConnect}
		return p, nil
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.BrokerURL).
		SetClientID(cfg.ClientID).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).
		SetMaxReconnectInterval(2 * time.Second).
		SetKeepAlive(10 * time.Second).
		SetWriteTimeout(5 * time.Second).
		SetOrderMatters(false)
	if cfg.Username != "" {
		opts.SetUsername(cfg.Username).SetPassword(cfg.Password)
	}
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	if cfg.StoreDir != "" {
		if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
			return nil, fmt.Errorf("mqtt publisher: store dir: %w", err)
		}
		opts.SetStore(mqtt.NewFileStore(cfg.StoreDir))
	} else {
		opts.SetStore(newCopyingMemoryStore())
	}
	will, _ := json.Marshal(StatusPayload{Schema: SchemaVersion, Station: cfg.Station, Status: "offline"})
	opts.SetBinaryWill(p.topics.Status(), will, 1, true)
	opts.SetOnConnectHandler(p.onConnect)
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		p.connected.Store(false)
		cfg.Log.Warn("mqtt connection lost; reconnecting (events are kept)", "broker", cfg.BrokerURL, "err", err)
	})
	p.client = mqtt.NewClient(opts)
	return p, nil
}

// onConnect announces the station online (retained) on every connection.
func (p *Publisher) onConnect(c mqtt.Client) {
	p.connected.Store(true)
	if p.cfg.Embedded != nil {
		p.cfg.Log.Info("mqtt publishing in-process to the embedded broker", "client_id", p.cfg.ClientID)
	} else {
		p.cfg.Log.Info("mqtt connected", "broker", p.cfg.BrokerURL, "client_id", p.cfg.ClientID)
	}
	b, _ := json.Marshal(StatusPayload{Schema: SchemaVersion, Station: p.cfg.Station, Status: "online", Time: time.Now().UTC()})
	c.Publish(p.topics.Status(), 1, true, b)
}

// PublishAudit publishes one audit log entry (QoS 1, not retained) on
// Topics.Audit, for the center's own archive. paho stores it while the
// broker is unreachable. It may block briefly: call it from a goroutine
// that owns a queue, not from a request.
func (p *Publisher) PublishAudit(entry any) error {
	b, err := json.Marshal(entry)
	if err != nil {
		return fmt.Errorf("mqtt audit: %w", err)
	}
	p.publish(outMsg{p.topics.Audit(), 1, false, b})
	return nil
}

// PublishOperation publishes a patrol operation's coverage metrics
// (QoS 1, retained) on Topics.Operation, so a subscriber learns the
// current picture at once.
func (p *Publisher) PublishOperation(id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("mqtt operation: %w", err)
	}
	p.publish(outMsg{p.topics.Operation(id), 1, true, b})
	return nil
}

// Topics is the publisher's topic scheme.
func (p *Publisher) Topics() Topics { return p.topics }

// Connected reports whether the client is connected to the broker now.
func (p *Publisher) Connected() bool { return p.connected.Load() }

// Stats returns running totals.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{States: p.states.Load(), Events: p.events.Load(), Video: p.video.Load(),
		Retried: p.retried.Load(), DroppedEvents: p.dropped.Load()}
}

type outMsg struct {
	topic   string
	qos     byte
	retain  bool
	payload []byte
}

// Run publishes until ctx is cancelled, then announces "offline" and
// disconnects. It returns nil on a clean stop.
func (p *Publisher) Run(ctx context.Context) error {
	// States go out on the state tick, so they are taken then (coalesced
	// in the subscription meanwhile); events wake the publisher at once.
	sub := p.src.Subscribe(fleet.SubscribeOptions{MaxQueue: p.cfg.MaxPending, Name: "mqtt", StatesOnTick: true})
	defer sub.Close()
	p.client.Connect() // with ConnectRetry it keeps trying in the background; publishes are stored meanwhile

	// One entry per vehicle, updated in place: a busy fleet updates each
	// vehicle many times between two ticks, and three maps keyed by ID
	// (one holding a copy of the whole state) cost three lookups and a
	// map assignment of the state per update.
	vehicles := map[string]*pubVehicle{}
	vehicle := func(id string) *pubVehicle {
		pv := vehicles[id]
		if pv == nil {
			pv = &pubVehicle{stateTopic: p.topics.State(id)}
			vehicles[id] = pv
		}
		return pv
	}
	var pending []outMsg // QoS 1 messages the client refused (not connected): retried in order
	var lastDropped uint64

	for _, v := range p.src.List() {
		pv := vehicle(v.ID)
		pv.v, pv.dirty = v, true
	}

	send := func(m outMsg) {
		if len(pending) > 0 { // keep order behind earlier failures
			pending = append(pending, m)
		} else if !p.publish(m) {
			pending = append(pending, m)
		}
		if len(pending) > p.cfg.MaxPending {
			n := len(pending) - p.cfg.MaxPending
			pending = slices.Delete(pending, 0, n)
			p.dropped.Add(uint64(n))
			p.cfg.Log.Error("mqtt: events dropped, broker unreachable too long", "dropped", n)
		}
	}
	videoMsg := func(pv *pubVehicle) {
		v := &pv.v
		streams := v.Video
		if streams == nil {
			streams = []fleet.VideoStream{}
		}
		if b, ok := p.marshal("video", VideoPayload{Schema: SchemaVersion, Station: p.cfg.Station, VehicleID: v.ID, Time: v.Updated.UTC(), Streams: streams}); ok {
			send(outMsg{p.topics.Video(v.ID), 1, true, b})
			p.video.Add(1)
		}
		pv.videoSent, pv.videoSeen = slices.Clone(v.Video), true
	}
	for _, pv := range vehicles {
		if len(pv.v.Video) > 0 {
			videoMsg(pv)
		}
	}
	statePrefix := p.statePrefix()
	var scratch []byte

	take := func() {
		b := sub.Next()
		if b.Dropped.Events > lastDropped {
			p.dropped.Add(b.Dropped.Events - lastDropped)
			p.cfg.Log.Error("mqtt: fleet subscription dropped events", "dropped", b.Dropped.Events-lastDropped)
			lastDropped = b.Dropped.Events
		}
		for i := range b.Vehicles {
			v := &b.Vehicles[i]
			pv := vehicle(v.ID)
			pv.v, pv.dirty = *v, true
			if (pv.videoSeen || len(v.Video) > 0) && !slices.Equal(pv.videoSent, v.Video) {
				videoMsg(pv)
			}
		}
		for _, e := range b.Events {
			payload, ok := p.marshal("event", EventPayload{Schema: SchemaVersion, Station: p.cfg.Station, Event: e})
			if !ok {
				continue
			}
			send(outMsg{p.topics.Events(e.VehicleID), 1, false, payload})
			if e.IsAlert() {
				send(outMsg{p.topics.Alerts(), 1, false, payload})
			}
			p.events.Add(1)
		}
	}

	tick := time.NewTicker(time.Duration(float64(time.Second) / p.cfg.StateRate))
	defer tick.Stop()
	// Events signal the subscription (states do not: StatesOnTick); the
	// publisher takes them at most every mqttDrainEvery, so a burst of
	// events (a fleet appearing) wakes it a bounded number of times.
	drain := time.NewTimer(time.Hour)
	drain.Stop()
	draining := false
	for {
		select {
		case <-ctx.Done():
			p.shutdown(pending)
			return nil
		case <-sub.C:
			if !draining {
				drain.Reset(mqttDrainEvery)
				draining = true
			}
		case <-drain.C:
			draining = false
			take()
		case <-tick.C:
			take()
			for len(pending) > 0 && p.publish(pending[0]) {
				pending = pending[1:]
				p.retried.Add(1)
			}
			now := time.Now()
			var slice yield.Slice
			for _, pv := range vehicles {
				stale := pv.v.Stale(now, p.cfg.StaleAfter)
				if !pv.dirty && pv.staleSent == stale {
					continue
				}
				var b []byte
				b, scratch = appendStatePayload(scratch[:0], statePrefix, stale, &pv.v)
				// QoS 0: a lost position is replaced by the next one.
				p.client.Publish(pv.stateTopic, 0, true, b)
				p.states.Add(1)
				pv.dirty, pv.staleSent = false, stale
				// Publishing a 2,000-vehicle fleet's states is tens of
				// milliseconds in one go (a runtime trace caught one of
				// 148 ms; yielding every 100 publishes still left runs of
				// 5–8 ms): the link readers and dispatchers waiting for
				// this CPU run between slices of it.
				slice.Tick()
			}
		}
	}
}

// marshal encodes a payload. One that encoding/json refuses (an event
// field holding a NaN) is never published as an empty message, which a
// subscriber cannot read and which deletes a retained one: it is logged
// and counted with the dropped events.
func (p *Publisher) marshal(what string, v any) ([]byte, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		p.dropped.Add(1)
		p.cfg.Log.Error("mqtt: message not encodable, dropped", "what", what, "err", err)
		return nil, false
	}
	return b, true
}

// mqttDrainEvery bounds how often the publisher takes fleet events (states
// are taken and sent on the state tick).
const mqttDrainEvery = 4 * time.Millisecond

// pubVehicle is what the publisher keeps of a vehicle between ticks.
type pubVehicle struct {
	// stateTopic is Topics.State of the vehicle, built once: building it
	// for every publish (three concatenations and their allocations,
	// 4,000 a second at 2,000 vehicles) was ~0.5 % of the station's CPU.
	stateTopic string
	v          fleet.Vehicle // newest state
	dirty      bool          // changed since last published
	staleSent  bool          // stale flag last published
	videoSent  []fleet.VideoStream
	videoSeen  bool // a video message was published for it
}

// statePrefix is the start of every state message's JSON, up to the stale
// flag's value: `{"schema":1,"station":"…","stale":`.
func (p *Publisher) statePrefix() []byte {
	st, _ := json.Marshal(p.cfg.Station)
	b := append([]byte(`{"schema":`), strconv.Itoa(SchemaVersion)...)
	b = append(append(append(b, `,"station":`...), st...), `,"stale":`...)
	return b
}

// appendStatePayload encodes StatePayload{Schema, Station, Stale, *v} as
// encoding/json does (the payload test holds them equal; a NaN or ±Inf,
// which encoding/json refuses, is null as on the WebSocket stream: see
// fleet.Vehicle.AppendJSONFields) into scratch and returns a copy of
// exactly its size (the broker or paho keep the payload), and scratch for
// the next one.
func appendStatePayload(scratch, prefix []byte, stale bool, v *fleet.Vehicle) (payload, next []byte) {
	b := append(scratch, prefix...)
	b = strconv.AppendBool(b, stale)
	b = append(b, ',')
	b = v.AppendJSONFields(b)
	b = append(b, '}')
	return bytes.Clone(b), b
}

// publish hands m to paho and reports whether paho accepted it (QoS 1
// messages are then in its store until the broker acknowledges them, also
// across reconnects).
func (p *Publisher) publish(m outMsg) bool {
	t := p.client.Publish(m.topic, m.qos, m.retain, m.payload)
	select {
	case <-t.Done():
		return t.Error() == nil
	default:
		return true // in flight or stored for the reconnect
	}
}

func (p *Publisher) shutdown(pending []outMsg) {
	for _, m := range pending {
		if !p.publish(m) {
			p.cfg.Log.Warn("mqtt: stopping with unpublished messages", "count", len(pending))
			break
		}
	}
	if p.client.IsConnectionOpen() {
		b, _ := json.Marshal(StatusPayload{Schema: SchemaVersion, Station: p.cfg.Station, Status: "offline", Time: time.Now().UTC()})
		t := p.client.Publish(p.topics.Status(), 1, true, b)
		t.WaitTimeout(2 * time.Second)
	}
	p.client.Disconnect(1000)
	p.connected.Store(false)
}

// copyingMemoryStore is paho's memory store, except that Get returns a copy
// of the stored packet. On reconnect paho's resume() sets the DUP flag on
// the packet Get returns while the outgoing goroutine may still be writing
// that same packet: with the plain MemoryStore that is a data race inside
// paho (eclipse-paho/paho.mqtt.golang#703, open); the file store is safe
// because it decodes a fresh packet on every Get.
type copyingMemoryStore struct {
	*mqtt.MemoryStore
}

func newCopyingMemoryStore() copyingMemoryStore {
	return copyingMemoryStore{mqtt.NewMemoryStore()}
}

func (s copyingMemoryStore) Get(key string) packets.ControlPacket {
	p := s.MemoryStore.Get(key)
	pp, ok := p.(*packets.PublishPacket)
	if !ok {
		return p // only PUBLISH packets get their DUP flag set by resume()
	}
	// Copy field by field: the outgoing goroutine may be inside pp.Write,
	// which writes RemainingLength, so neither a struct copy nor a re-encode
	// is race-free. These fields are only read after the packet is stored.
	c := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	c.TopicName, c.MessageID, c.Payload = pp.TopicName, pp.MessageID, pp.Payload
	c.Qos, c.Retain, c.Dup = pp.Qos, pp.Retain, pp.Dup
	return c
}
