package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// startHub serves a hub on a real loopback HTTP server until the test ends.
func startHub(t testing.TB, f *fleet.Fleet, cfg HubConfig) (*Hub, string) {
	t.Helper()
	h, url, _ := startHubServer(t, f, cfg, false)
	return h, url
}

// startHubServer is startHub over TLS (wss://) when tls is set; it also
// returns the server (for its TLS client).
func startHubServer(t testing.TB, f *fleet.Fleet, cfg HubConfig, tls bool) (*Hub, string, *httptest.Server) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = quietLog()
	}
	h := NewHub(f, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/stream", h)
	srv := httptest.NewUnstartedServer(mux)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
		srv.Close()
	})
	testenv.Eventually(t, 5*time.Second, "hub running", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.running
	})
	return h, "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/stream", srv
}

func dial(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readFrame(t testing.TB, c *websocket.Conn) Frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var f Frame
	if err := c.ReadJSON(&f); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return f
}

// readUntil reads frames until one of type typ arrives (others are skipped).
func readUntil(t testing.TB, c *websocket.Conn, typ string) Frame {
	t.Helper()
	for {
		if f := readFrame(t, c); f.Type == typ {
			return f
		}
	}
}

func TestStreamSnapshotThenUpdatesAndEvents(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	for i := 0; i < 3; i++ {
		fly(f, fmt.Sprintf("v%d", i), i, nil)
	}
	f.Update("v2", time.Now(), func(v *fleet.Vehicle) { v.BatteryPct = 15 }) // battery_low alert before the client connects
	_, url := startHub(t, f, HubConfig{Station: "gs1"})
	c := dial(t, url)
	snap := readFrame(t, c)
	if snap.Type != "snapshot" || len(snap.Vehicles) != 3 || snap.Schema != SchemaVersion || snap.Station != "gs1" {
		t.Fatalf("first frame = %+v, want a snapshot of 3 vehicles", snap)
	}
	if len(snap.Alerts) != 1 || snap.Alerts[0].Kind != fleet.EventBatteryLow {
		t.Fatalf("snapshot alerts = %+v, want the battery_low alert", snap.Alerts)
	}
	fly(f, "v1", 50, nil)
	st := readUntil(t, c, "state")
	if len(st.Vehicles) != 1 || st.Vehicles[0].ID != "v1" || st.Vehicles[0].Lat != 41.3+50*1e-4 {
		t.Fatalf("state frame = %+v, want v1's new position", st.Vehicles)
	}
	f.Update("v0", time.Now(), func(v *fleet.Vehicle) { v.FenceBreached = true })
	ev := readUntil(t, c, "events")
	if len(ev.Events) != 1 || ev.Events[0].Kind != fleet.EventFenceBreach || ev.Events[0].VehicleID != "v0" {
		t.Fatalf("events frame = %+v, want v0's fence breach", ev.Events)
	}
}

// A vehicle that stops talking is flagged stale without any new update.
func TestStreamFlagsSilentVehicleStale(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	f.Update("old", time.Now().Add(-time.Hour), func(v *fleet.Vehicle) { v.Lat = 1 })
	_, url := startHub(t, f, HubConfig{StaleAfter: time.Minute})
	c := dial(t, url)
	snap := readFrame(t, c)
	if len(snap.Vehicles) != 1 || !snap.Vehicles[0].Stale {
		t.Fatalf("snapshot = %+v, want the hour-old vehicle flagged stale", snap.Vehicles)
	}
	fly(f, "fresh", 1, nil)
	st := readUntil(t, c, "state")
	if st.Vehicles[0].ID != "fresh" || st.Vehicles[0].Stale {
		t.Fatalf("state = %+v, want fresh not stale", st.Vehicles)
	}
}

// While no client is connected the hub keeps every vehicle's newest
// state without wrapping it for sending. A client connecting later starts
// from the snapshot, gets the events of vehicles inside its bbox (judged
// by the states the hub kept while nobody watched) and not of those
// outside, and the stale flag of a vehicle that went silent.
func TestStreamKeepsStatesWhileNoClientIsConnected(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	h, url := startHub(t, f, HubConfig{StaleAfter: 2 * time.Second})
	fly(f, "in", 1, nil)
	f.Update("out", time.Now(), func(v *fleet.Vehicle) { v.Lat, v.Lon = 10, 10 })
	testenv.Eventually(t, 5*time.Second, "the hub took both states", func() bool { return h.Latency()["hub"].Count >= 2 })
	c := dial(t, url+"?bbox=69,41,70,42")
	snap := readFrame(t, c)
	if snap.Type != "snapshot" || len(snap.Vehicles) != 1 || snap.Vehicles[0].ID != "in" {
		t.Fatalf("first frame = %+v, want a snapshot of the vehicle inside the bbox", snap)
	}
	f.Emit(fleet.Event{VehicleID: "out", Kind: fleet.EventStatusText, Message: "outside"})
	f.Emit(fleet.Event{VehicleID: "in", Kind: fleet.EventStatusText, Message: "inside"})
	ev := readUntil(t, c, "events")
	if len(ev.Events) != 1 || ev.Events[0].VehicleID != "in" || ev.Events[0].Message != "inside" {
		t.Fatalf("events = %+v, want only the event of the vehicle inside the bbox", ev.Events)
	}
	st := readUntil(t, c, "state")
	if len(st.Vehicles) != 1 || st.Vehicles[0].ID != "in" || !st.Vehicles[0].Stale {
		t.Fatalf("state = %+v, want the silent vehicle flagged stale", st.Vehicles)
	}
}

func TestStreamFilters(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	f.Update("in", time.Now(), func(v *fleet.Vehicle) { v.Lat, v.Lon = 41.31, 69.28 })
	f.Update("out", time.Now(), func(v *fleet.Vehicle) { v.Lat, v.Lon = 40, 60 })
	f.Update("named", time.Now(), func(v *fleet.Vehicle) { v.Lat, v.Lon = 40, 60 })
	_, url := startHub(t, f, HubConfig{})

	// bbox in the query
	c := dial(t, url+"?bbox=69.2,41.2,69.4,41.4&rate_hz=2")
	snap := readFrame(t, c)
	if len(snap.Vehicles) != 1 || snap.Vehicles[0].ID != "in" || snap.Filter.RateHz != 2 {
		t.Fatalf("bbox snapshot = %+v filter %+v", snap.Vehicles, snap.Filter)
	}
	// vehicles by message
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","vehicles":["named"],"rate_hz":1}`)); err != nil {
		t.Fatal(err)
	}
	sub := readUntil(t, c, "subscribed")
	if sub.Filter == nil || len(sub.Filter.Vehicles) != 1 || sub.Filter.RateHz != 1 {
		t.Fatalf("subscribed = %+v", sub.Filter)
	}
	snap = readUntil(t, c, "snapshot")
	if len(snap.Vehicles) != 1 || snap.Vehicles[0].ID != "named" {
		t.Fatalf("vehicle-filtered snapshot = %+v", snap.Vehicles)
	}
	f.Update("out", time.Now(), func(v *fleet.Vehicle) { v.FenceBreached = true })
	f.Update("named", time.Now(), func(v *fleet.Vehicle) { v.FenceBreached = true })
	ev := readUntil(t, c, "events")
	for _, e := range ev.Events {
		if e.VehicleID != "named" {
			t.Fatalf("event of %s passed a filter for 'named'", e.VehicleID)
		}
	}

	// bad query parameters are refused with a JSON error naming the parameter
	for q, field := range map[string]string{"?bbox=1,2,3": "bbox", "?bbox=a,b,c,d": "bbox", "?rate_hz=-1": "rate_hz", "?rate_hz=fast": "rate_hz"} {
		_, resp, err := websocket.DefaultDialer.Dial(url+q, nil)
		if err == nil {
			t.Fatalf("%s: connection accepted", q)
		}
		var body struct {
			Error struct {
				Field string `json:"field"`
			} `json:"error"`
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: response %v, want 400", q, resp)
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if body.Error.Field != field {
			t.Errorf("%s: error field %q, want %q", q, body.Error.Field, field)
		}
	}
}

// Malformed subscription messages get an error frame saying what and
// where; the connection stays usable.
func TestStreamMalformedMessagesGetErrorFrames(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	fly(f, "v0", 0, nil)
	_, url := startHub(t, f, HubConfig{MaxRateHz: 20})
	c := dial(t, url)
	readFrame(t, c) // snapshot
	cases := []struct{ msg, want string }{
		{`{"type":"subscribe",`, "incomplete JSON"},
		{`not json`, "malformed JSON at byte 2"},
		{`{"type":"subscribe","bbox":[1,2,3]}`, `"bbox": want 4 numbers`},
		{`{"type":"subscribe","bbox":[10,50,0,40]}`, `"bbox": min must not exceed max`},
		{`{"type":"subscribe","bbox":[0,95,1,96]}`, `"bbox": value 2 (95) out of range`},
		{`{"type":"subscribe","bbox":"x"}`, `field "bbox"`},
		{`{"type":"subscribe","vehicles":[1,2]}`, `field "vehicles`},
		{`{"type":"subscribe","vehicles":[""]}`, `"vehicles"[0]: empty vehicle id`},
		{`{"type":"subscribe","rate_hz":0}`, `"rate_hz": 0 Hz: must be in (0, 20]`},
		{`{"type":"subscribe","rate_hz":500}`, `"rate_hz": 500 Hz`},
		{`{"type":"subscribe","colour":"red"}`, `unknown field "colour"`},
		{`{"type":"unsubscribe"}`, `unknown message type "unsubscribe"`},
		{`{"vehicles":["v0"]}`, `"type" is missing`},
		{`{"type":"subscribe"} {"type":"subscribe"}`, "data after the JSON object"},
	}
	for i, tc := range cases {
		if err := c.WriteMessage(websocket.TextMessage, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		fr := readUntil(t, c, "error")
		if !strings.Contains(fr.Error, tc.want) || !strings.HasPrefix(fr.Error, fmt.Sprintf("message %d:", i+1)) {
			t.Errorf("%s → error %q, want it to contain %q and name message %d", tc.msg, fr.Error, tc.want, i+1)
		}
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if fr := readUntil(t, c, "error"); !strings.Contains(fr.Error, "binary frame") {
		t.Errorf("binary frame → %q", fr.Error)
	}
	// still usable
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","vehicles":["v0"]}`)); err != nil {
		t.Fatal(err)
	}
	readUntil(t, c, "subscribed")
}

func TestStreamChecksOrigin(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	_, url := startHub(t, f, HubConfig{AllowedOrigins: []string{"http://console.example"}})
	host := strings.TrimPrefix(strings.Split(url, "/api")[0], "ws://")
	for origin, ok := range map[string]bool{"http://" + host: true, "http://evil.example": false, "http://console.example": true} {
		c, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {origin}})
		if ok && err != nil {
			t.Errorf("origin %s refused: %v", origin, err)
		}
		if !ok && (err == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %s accepted", origin)
		}
		if c != nil {
			c.Close()
		}
	}
}

// A client that never answers pings is dropped by the keepalive.
func TestStreamDropsClientThatMissesPings(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	h, url := startHub(t, f, HubConfig{PingInterval: 100 * time.Millisecond})
	dial(t, url) // never reads, so never answers a ping
	testenv.Eventually(t, 10*time.Second, "the silent client to be dropped", func() bool { return h.Stats().Dropped == 1 })
	// The drop is counted when it is decided; the client leaves the count
	// once its handler has stopped its writer and closed the socket, a
	// moment later (reading Clients at once failed under load).
	testenv.Eventually(t, 10*time.Second, "the dropped client to leave the hub", func() bool { return h.Stats().Clients == 0 })
	if d := h.Stats().Dropped; d != 1 {
		t.Fatalf("dropped = %d, want 1", d)
	}
}

// dialSlow opens a connection that never reads, with a tiny receive
// buffer so its socket fills quickly.
func dialSlow(t testing.TB, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			_ = rc.Control(func(fd uintptr) { serr = setRcvbuf(fd, 4096) })
			return serr
		}}
		return nd.Dial(network, addr)
	}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// 200 clients, 10 of which never read: the 190 others still get state at
// the rate they asked for and every event, and the 10 are dropped once
// their queue passes the limit.
func TestStream200ClientsTenNeverRead(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	const vehicles = 10
	for i := 0; i < vehicles; i++ {
		fly(f, fmt.Sprintf("v%d", i), i, nil)
	}
	h, url := startHub(t, f, HubConfig{MaxQueuedEvents: 100, PingInterval: time.Hour, WriteTimeout: time.Hour})

	watched := make([]string, vehicles)
	for i := range watched {
		watched[i] = fmt.Sprintf("v%d", i)
	}
	type tally struct {
		mu     sync.Mutex
		states int
		seen   map[string]bool
		events map[uint64]bool
	}
	readers := make([]*tally, 190)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range readers {
		r := &tally{seen: map[string]bool{}, events: map[uint64]bool{}}
		readers[i] = r
		c := dial(t, url+"?rate_hz=5&vehicles="+strings.Join(watched, ","))
		wg.Add(1)
		go func() {
			defer wg.Done()
			go func() { <-ctx.Done(); c.Close() }()
			for {
				var fr Frame
				if err := c.ReadJSON(&fr); err != nil {
					return
				}
				r.mu.Lock()
				switch fr.Type {
				case "state":
					r.states++
					for _, v := range fr.Vehicles {
						r.seen[v.ID] = true
					}
				case "events":
					for _, e := range fr.Events {
						r.events[e.Seq] = true
					}
				}
				r.mu.Unlock()
			}
		}()
	}
	for i := 0; i < 10; i++ {
		dialSlow(t, url) // watches everything, reads nothing
	}
	testenv.Eventually(t, 10*time.Second, "200 clients connected", func() bool { return h.Stats().Clients == 200 })

	// Fly the watched vehicles; flood a vehicle only the slow clients watch.
	var want []uint64
	noise := strings.Repeat("x", 2000)
	for step := 0; h.Stats().Dropped < 10 && step < 20000; step++ {
		for i := 0; i < vehicles; i++ {
			fly(f, watched[i], step, nil)
		}
		if step%50 == 0 {
			e := f.Emit(fleet.Event{VehicleID: watched[step/50%vehicles], Kind: fleet.EventStatusText, Message: "watched"})
			want = append(want, e.Seq)
		}
		for j := 0; j < 5; j++ {
			f.Emit(fleet.Event{VehicleID: "noise", Kind: fleet.EventStatusText, Message: noise})
		}
		time.Sleep(time.Millisecond)
	}
	if d := h.Stats().Dropped; d != 10 {
		t.Fatalf("dropped %d clients, want the 10 that never read", d)
	}
	// a few more updates after the drops
	for step := 0; step < 20; step++ {
		for i := 0; i < vehicles; i++ {
			fly(f, watched[i], step, nil)
		}
		e := f.Emit(fleet.Event{VehicleID: "v0", Kind: fleet.EventStatusText, Message: "after"})
		want = append(want, e.Seq)
		time.Sleep(20 * time.Millisecond)
	}
	testenv.Eventually(t, 20*time.Second, "every reader to get every watched event", func() bool {
		for _, r := range readers {
			r.mu.Lock()
			n := 0
			for _, s := range want {
				if r.events[s] {
					n++
				}
			}
			r.mu.Unlock()
			if n != len(want) {
				return false
			}
		}
		return true
	})
	for i, r := range readers {
		r.mu.Lock()
		if r.states < 2 || len(r.seen) != vehicles {
			t.Errorf("reader %d: %d state frames covering %d vehicles", i, r.states, len(r.seen))
		}
		r.mu.Unlock()
	}
	if got := h.Stats().Clients; got != 190 {
		t.Errorf("clients connected = %d, want 190", got)
	}
	t.Logf("stats %+v; %d watched events", h.Stats(), len(want))
	cancel()
	wg.Wait()
}

// stateReader counts the state frames one WebSocket client receives and
// remembers the newest position of the last vehicle in them.
type stateReader struct {
	mu     sync.Mutex
	frames int
	last   float64
	done   chan struct{}
}

func readStates(c *websocket.Conn) *stateReader {
	r := &stateReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			var fr Frame
			if err := c.ReadJSON(&fr); err != nil {
				return
			}
			if fr.Type == "state" && len(fr.Vehicles) > 0 {
				r.mu.Lock()
				r.frames++
				r.last = fr.Vehicles[len(fr.Vehicles)-1].Lat
				r.mu.Unlock()
			}
		}
	}()
	return r
}

func (r *stateReader) get() (frames int, last float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames, r.last
}

// State frames are coalesced: a client gets the newest position at its own
// rate, never a queue of stale ones. Clients at 1 Hz and 50 Hz both end on
// the final position of a burst of updates, and the 1 Hz client got fewer
// frames than there were updates. How many frames each rate gets over time
// is BenchmarkStreamRates' measure, not a unit test's.
func TestStreamCoalescesToTheNewestPosition(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	fly(f, "v0", 0, nil)
	h, url := startHub(t, f, HubConfig{MaxRateHz: 50})
	slowConn, fastConn := dial(t, url+"?rate_hz=1"), dial(t, url+"?rate_hz=50")
	slow, fast := readStates(slowConn), readStates(fastConn)
	testenv.Eventually(t, 10*time.Second, "both clients registered", func() bool { return h.Stats().Clients == 2 })
	updates := 150
	for i := 1; i <= updates; i++ {
		fly(f, "v0", i, nil)
	}
	final := 41.3 + float64(updates)*1e-4
	testenv.Eventually(t, 30*time.Second, "both clients at the final position", func() bool {
		_, ls := slow.get()
		_, lf := fast.get()
		return ls == final && lf == final
	})
	if n, _ := slow.get(); n >= updates {
		t.Errorf("1 Hz client got %d state frames for %d updates: not coalesced", n, updates)
	}
	// Nothing is missed silently: every state the hub took (the "hub"
	// latency stage counts them) reached each client either written (the
	// "ws_write" stage) or replaced by a newer one (Coalesced).
	ns, _ := slow.get()
	nf, _ := fast.get()
	// A writer counts its frame once the write returned, which may be
	// just after the client read it.
	var taken, written uint64
	testenv.Eventually(t, 10*time.Second, "every frame the clients read counted as written", func() bool {
		lat := h.Latency()
		taken, written = lat["hub"].Count, lat["ws_write"].Count
		return written == uint64(ns+nf)
	})
	if taken == 0 {
		t.Errorf("hub took no states (ws_write counted %d)", written)
	}
	if co := h.Stats().Coalesced; 2*taken != written+co {
		t.Errorf("2 clients × %d states taken = %d, but %d written + %d coalesced = %d", taken, 2*taken, written, co, written+co)
	}
	slowConn.Close()
	fastConn.Close()
	<-slow.done
	<-fast.done
}

// plainWireVehicle is WireVehicle without its MarshalJSON: what
// encoding/json itself makes of it.
type plainWireVehicle WireVehicle

// A state on the stream is byte for byte what encoding/json makes of a
// WireVehicle, and a NaN (which encoding/json refuses) is null.
func TestEncodeWireVehicleIsEncodingJSON(t *testing.T) {
	if got, err := json.Marshal(WireVehicle{Vehicle: fleet.Vehicle{ID: "m"}}); err != nil || string(got) != string(encodeWireVehicle(&fleet.Vehicle{ID: "m"}, false, nil)) {
		t.Fatalf("WireVehicle's MarshalJSON %s (%v) is not encodeWireVehicle", got, err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	vs := []fleet.Vehicle{
		{ID: "uav-1"},
		{ID: "uav-<2>&\u2028", SystemID: 7, ComponentID: 1, Link: "udp14550", UID: 42, Type: "quadrotor", Autopilot: "ardupilotmega",
			Lat: 41.31, Lon: 69.28, AltMSL: 450.5, RelativeAlt: 0.001, HeadingDeg: 359.9, GroundSpeed: 1e-7, Climb: -2.5, VelNorth: 1e21,
			BatteryPct: -1, GPSFix: 3, Satellites: 12, Mode: "AUTO", Armed: true, MissionSeq: -1, Home: &fleet.Point{Lat: 1, Lon: 2, AltMSL: 3},
			FenceBreached: true, LandedState: "in_air", Signing: "signed", LinkQuality: fleet.LinkQuality{Received: 10, LossPct: 0.5, RateHz: 18},
			Video:   []fleet.VideoStream{{CameraID: 100, StreamID: 1, Name: "front", URI: "rtsp://x", Type: "rtsp", Running: true}},
			Mission: "m1", EventArea: "a", Control: &fleet.Control{Holder: "op", Since: now}, Connected: true, FirstSeen: now, LastSeen: now, Updated: now},
	}
	for i, v := range vs {
		for _, stale := range []bool{false, true} {
			want, err := json.Marshal(plainWireVehicle{Vehicle: v, Stale: stale})
			if err != nil {
				t.Fatal(err)
			}
			if got := encodeWireVehicle(&v, stale, nil); string(got) != string(want) {
				t.Errorf("vehicle %d stale %v:\n got %s\nwant %s", i, stale, got, want)
			}
		}
	}
	// A NaN, which encoding/json refuses, is null as in MQTT state: the
	// vehicle stays on the stream.
	nan := fleet.Vehicle{ID: "nan", Lat: math.NaN()}
	got := encodeWireVehicle(&nan, false, nil)
	nan.Lat = 1234.5
	want, err := json.Marshal(plainWireVehicle{Vehicle: nan})
	if err != nil {
		t.Fatal(err)
	}
	if want = bytes.ReplaceAll(want, []byte("1234.5"), []byte("null")); !bytes.Equal(got, want) {
		t.Errorf("NaN:\n got %s\nwant %s", got, want)
	}
}

// State frames are written to the socket from the states' shared
// encodings, outside the websocket library: over plain TCP (writev) and
// over TLS (a buffered writer), with frames longer than 64 KiB (the
// 8-byte length header), while the client pings all the time (the
// reader's pong answers must never land inside a state frame), every
// frame parses and carries every vehicle, and every ping is answered.
// The client learns that every pong has come by a message sent after its
// last ping: the station answers pings in the order they come, before it
// reads the message, whose answer (an error frame) is therefore behind
// the last pong. (Waiting for the pongs while reading until some data
// frame came relied on one arriving: the stale flags, 5 s after the fleet
// stopped moving, against a 10 s read deadline.)
func TestStreamStateFramesWrittenDirectlyStayWhole(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			f := fleet.New(fleet.DefaultConfig())
			const vehicles = 300 // ~200 KB a frame
			for i := range vehicles {
				fly(f, fmt.Sprintf("v%03d", i), i, testVideo)
			}
			// What is checked is whole frames and answered pings, not how
			// long a slow client is waited for (its own tests): a client
			// reading 200 KB frames under -race on a loaded machine is
			// given a minute a frame, not the default 10 s.
			h, url, srv := startHubServer(t, f, HubConfig{MaxRateHz: 50, WriteTimeout: time.Minute}, useTLS)
			d := websocket.Dialer{}
			if useTLS {
				d.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			c, _, err := d.Dial(url+"?rate_hz=50", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pongs := 0 // the pong handler runs in the reading goroutine
			c.SetPongHandler(func(string) error { pongs++; return nil })
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(2)
			pings := 0
			go func() { // the client pings while the station writes state frames
				defer wg.Done()
				for ; ; pings++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := c.WriteControl(websocket.PingMessage, []byte(fmt.Sprint(pings)), time.Now().Add(5*time.Second)); err != nil {
						t.Errorf("ping %d: %v", pings, err)
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}()
			go func() { // and the fleet moves
				defer wg.Done()
				moveFleet(f, vehicles, stop)
			}()
			full := 0
			for full < 20 {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				typ, data, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("after %d full state frames: %v", full, err)
				}
				var fr Frame
				if typ != websocket.TextMessage {
					t.Fatalf("message type %d", typ)
				}
				if err := json.Unmarshal(data, &fr); err != nil {
					t.Fatalf("frame of %d bytes does not parse: %v", len(data), err)
				}
				if fr.Type == "state" && len(fr.Vehicles) == vehicles {
					full++
				}
			}
			close(stop)
			wg.Wait()
			// The pongs come back while the client keeps reading, until
			// the answer to a message sent after the last ping.
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"last-ping-sent"}`)); err != nil {
				t.Fatal(err)
			}
			for answered := false; !answered; {
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, data, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("waiting for the pongs of %d pings (%d came): %v", pings, pongs, err)
				}
				var fr Frame
				if err := json.Unmarshal(data, &fr); err != nil {
					t.Fatalf("frame of %d bytes does not parse: %v", len(data), err)
				}
				answered = fr.Type == "error" && strings.Contains(fr.Error, "last-ping-sent")
			}
			if pings == 0 || pongs != pings {
				t.Fatalf("%d pongs for %d pings", pongs, pings)
			}
			if d := h.Stats().Dropped; d != 0 {
				t.Errorf("%d clients dropped", d)
			}
		})
	}
}

// A client that stops reading for a few seconds while its ping's pong
// waits (here behind an events frame the socket cannot take) gets the
// pong when it reads again and keeps its connection, over TLS too: a
// pong waits as long as any frame (WriteTimeout). Given a second, as the
// websocket library's own handler gives it, the pong was lost and, had
// its write begun, the connection with it.
func TestStreamPongWaitsForASlowClientAsLongAsAnyFrame(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			f := fleet.New(fleet.DefaultConfig())
			fly(f, "v", 0, nil)
			h, url, srv := startHubServer(t, f, HubConfig{WriteTimeout: time.Minute, MaxQueuedEvents: 100000}, useTLS)
			d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
				nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
					var serr error
					_ = rc.Control(func(fd uintptr) { serr = setRcvbuf(fd, 4096) })
					return serr
				}}
				return nd.Dial(network, addr)
			}}
			if useTLS {
				d.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			c, _, err := d.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			read := func(until func(*Frame) bool) {
				t.Helper()
				for {
					_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
					_, data, err := c.ReadMessage()
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					var fr Frame
					if err := json.Unmarshal(data, &fr); err != nil {
						t.Fatalf("frame of %d bytes does not parse: %v", len(data), err)
					}
					if until(&fr) {
						return
					}
				}
			}
			read(func(fr *Frame) bool { return fr.Type == "snapshot" })
			// About 8 MB of events: more than the sockets hold (2 MB did
			// not fill them), so the station's writer blocks in a frame.
			pad := strings.Repeat("x", 10000)
			for i := range 800 {
				f.Emit(fleet.Event{VehicleID: "v", Kind: fleet.EventStatusText, Message: fmt.Sprint(i, pad)})
			}
			// The client is busy (it reads nothing) from before the writer
			// blocks to well after the ping.
			time.Sleep(time.Second)
			pongs := 0
			c.SetPongHandler(func(string) error { pongs++; return nil })
			if err := c.WriteControl(websocket.PingMessage, []byte("busy"), time.Now().Add(10*time.Second)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"after-the-ping"}`)); err != nil {
				t.Fatal(err)
			}
			// The station answers the message after the pong.
			read(func(fr *Frame) bool { return fr.Type == "error" && strings.Contains(fr.Error, "after-the-ping") })
			if pongs != 1 {
				t.Errorf("%d pongs for 1 ping", pongs)
			}
			if d := h.Stats().Dropped; d != 0 {
				t.Errorf("%d clients dropped", d)
			}
		})
	}
}

// A vehicle whose autopilot sent a NaN stays on the stream with that
// field null, in the snapshot and in state frames; encoding/json refused
// the snapshot's NaN, which dropped every client as it connected.
func TestStreamVehicleWithNaNStaysOnTheStream(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	fly(f, "ok", 0, nil)
	fly(f, "nan", 1, nil)
	f.Update("nan", time.Now(), func(v *fleet.Vehicle) { v.AirSpeed = math.NaN() })
	_, url := startHub(t, f, HubConfig{})
	c := dial(t, url)
	read := func(typ string) map[string]any {
		t.Helper()
		for {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, raw, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for a %s frame: %v", typ, err)
			}
			var fr map[string]any
			if err := json.Unmarshal(raw, &fr); err != nil {
				t.Fatalf("frame %s: %v", raw, err)
			}
			if fr["type"] == typ {
				return fr
			}
		}
	}
	nanOf := func(fr map[string]any) map[string]any {
		t.Helper()
		vs, _ := fr["vehicles"].([]any)
		for _, v := range vs {
			if m, _ := v.(map[string]any); m["id"] == "nan" {
				if as, ok := m["air_speed_mps"]; !ok || as != nil {
					t.Fatalf("%s frame: the NaN vehicle's air_speed_mps = %v, want null", fr["type"], as)
				}
				return m
			}
		}
		t.Fatalf("%s frame lacks the NaN vehicle: %v", fr["type"], fr["vehicles"])
		return nil
	}
	if snap := read("snapshot"); len(snap["vehicles"].([]any)) != 2 {
		t.Fatalf("snapshot vehicles %v, want both", snap["vehicles"])
	} else {
		nanOf(snap)
	}
	fly(f, "nan", 7, nil)
	if v := nanOf(read("state")); v["lat"] != 41.3+7*1e-4 {
		t.Fatalf("state of the NaN vehicle %v, want its new position", v)
	}
}

// An event encoding/json refuses (a NaN nested in a field's list: the
// fleet turns a field's own NaN into null, not one nested deeper) goes to
// no client and is counted: as an alert of the snapshot it would have
// failed the whole snapshot and dropped the client on connect, and live
// the events after it still go out.
func TestStreamUnencodableEventIsCountedNotSent(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	fly(f, "v", 0, nil)
	bad := fleet.Event{VehicleID: "v", Kind: "test_nan", Severity: fleet.SeverityCritical, Message: "bad",
		Fields: map[string]any{"x": []float64{math.NaN()}}}
	f.Emit(bad)
	f.Emit(fleet.Event{VehicleID: "v", Kind: "test_alert_ok", Severity: fleet.SeverityWarning, Message: "good"})
	h, url := startHub(t, f, HubConfig{})
	c := dial(t, url)
	snap := readFrame(t, c)
	if snap.Type != "snapshot" || len(snap.Vehicles) != 1 {
		t.Fatalf("first frame = %+v, want a snapshot of the vehicle", snap)
	}
	if len(snap.Alerts) != 1 || snap.Alerts[0].Kind != "test_alert_ok" {
		t.Fatalf("snapshot alerts = %+v, want only the encodable one", snap.Alerts)
	}
	if got := h.Stats().DroppedEvents; got != 1 {
		t.Fatalf("dropped events after the snapshot = %d, want 1 (the unencodable alert)", got)
	}
	f.Emit(bad)
	f.Emit(fleet.Event{VehicleID: "v", Kind: "test_ok", Severity: fleet.SeverityInfo, Message: "good"})
	for {
		ev := readUntil(t, c, "events")
		done := false
		for _, e := range ev.Events {
			if e.Kind == "test_nan" {
				t.Fatalf("unencodable event sent: %+v", e)
			}
			done = done || e.Kind == "test_ok"
		}
		if done {
			break
		}
	}
	if got := h.Stats().DroppedEvents; got != 2 {
		t.Errorf("dropped events = %d, want 2 (the snapshot's alert and the live event)", got)
	}
	if got := h.Stats().Dropped; got != 0 {
		t.Errorf("clients dropped = %d, want 0", got)
	}
}

// A client that stops reading while whole-fleet state frames stream
// blocks only its own writer (the frame's pieces are the shared
// encodings, nothing is copied for it): states replaced before they were
// sent are counted (coalesced), it is dropped once its socket has taken
// nothing for WriteTimeout (counted), and a reading client keeps getting
// whole frames.
func TestStreamClientThatStopsReadingIsDroppedAlone(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	const vehicles = 300
	for i := range vehicles {
		fly(f, fmt.Sprintf("v%03d", i), i, testVideo)
	}
	// The write timeout is what tells the two clients apart: the one that
	// stopped reading is dropped whatever its length, the reading one only
	// if it falls that far behind. In the sweep under load (20-36 on 2
	// CPUs) the reading one, its frames read and decoded by this -race test,
	// fell 3 s behind and was dropped too; 10 s is the hub's default.
	h, url := startHub(t, f, HubConfig{MaxRateHz: 50, WriteTimeout: 10 * time.Second, PingInterval: time.Hour})
	slow := dialSlow(t, url+"?rate_hz=50") // ~10 MB/s offered, never read
	_ = slow
	reader := dial(t, url+"?rate_hz=5")
	testenv.Eventually(t, 10*time.Second, "both clients registered", func() bool { return h.Stats().Clients == 2 })
	stop := make(chan struct{})
	moved := make(chan struct{})
	go func() {
		defer close(moved)
		moveFleet(f, vehicles, stop)
	}()
	defer func() { close(stop); <-moved }()
	full := func() int {
		n := 0
		for n < 5 {
			fr := readUntil(t, reader, "state")
			if len(fr.Vehicles) == vehicles {
				n++
			}
		}
		return n
	}
	full()
	testenv.Eventually(t, 60*time.Second, "the client that stopped reading dropped", func() bool {
		_ = reader.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, _ = reader.ReadMessage() // keep reading meanwhile
		return h.Stats().Dropped == 1
	})
	full() // the reading client goes on
	st := h.Stats()
	if st.Clients != 1 || st.Dropped != 1 {
		t.Errorf("clients %d dropped %d, want 1 and 1", st.Clients, st.Dropped)
	}
	if st.Coalesced == 0 {
		t.Error("no state counted as coalesced: the stalled client's states went somewhere uncounted")
	}
}

// moveFleet moves vehicles v000… of f one after the other, a millisecond's
// pause after each pass over the fleet, until stop closes: a fleet whose
// every state keeps changing, for the hub to write.
func moveFleet(f *fleet.Fleet, vehicles int, stop <-chan struct{}) {
	for step := 0; ; step++ {
		select {
		case <-stop:
			return
		default:
		}
		fly(f, fmt.Sprintf("v%03d", step%vehicles), step, nil)
		if step%vehicles == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// With several clients connected the hub encodes each state as it takes
// it (into one slab per batch) instead of leaving it to the first writer:
// every client, the filtered one too, still gets exactly the fleet's
// state as encodeWireVehicle writes it.
func TestStreamStatesEncodedByTheHubAreTheFleetsJSON(t *testing.T) {
	f := fleet.New(fleet.DefaultConfig())
	for i := range 3 {
		fly(f, fmt.Sprintf("v%d", i), i, nil)
	}
	h, url := startHub(t, f, HubConfig{})
	clients := []*websocket.Conn{dial(t, url), dial(t, url), dial(t, url+"?vehicles=v1")}
	for _, c := range clients {
		if s := readFrame(t, c); s.Type != "snapshot" {
			t.Fatalf("first frame %q, want a snapshot", s.Type)
		}
	}
	// Three clients at 10 Hz ask for more states than this fleet makes:
	// within a second or two the hub encodes them itself.
	testenv.Eventually(t, 10*time.Second, "the hub to encode states itself", func() bool {
		fly(f, "v0", 1, nil)
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.eager
	})
	fly(f, "v2", 20, nil)
	fly(f, "v1", 10, nil)
	want := map[string][]byte{}
	for _, v := range f.List() {
		want[v.ID] = encodeWireVehicle(&v, false, nil)
	}
	for i, c := range clients {
		got := map[string]bool{}
		for !got["v1"] {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			var fr struct {
				Type     string            `json:"type"`
				Vehicles []json.RawMessage `json:"vehicles"`
			}
			if err := json.Unmarshal(data, &fr); err != nil {
				t.Fatalf("client %d: frame does not parse: %v", i, err)
			}
			if fr.Type != "state" {
				continue
			}
			for _, raw := range fr.Vehicles {
				var v struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Fatal(err)
				}
				if v.ID == "v0" {
					continue // moved while the test waited: its newest state is not want's
				}
				if !bytes.Equal(raw, want[v.ID]) {
					t.Errorf("client %d: %s's state\n got %s\nwant %s", i, v.ID, raw, want[v.ID])
				}
				got[v.ID] = true
			}
		}
		if i == 2 && (got["v0"] || got["v2"]) {
			t.Errorf("the client filtered to v1 got %v", got)
		}
	}
}
