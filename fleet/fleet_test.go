package fleet

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func kinds(evs []Event) []EventKind {
	out := make([]EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

func TestUpdateDerivesEventsFromStateChanges(t *testing.T) {
	cases := []struct {
		name   string
		before func(v *Vehicle)
		after  func(v *Vehicle)
		want   []EventKind
	}{
		{"arming raises armed", func(v *Vehicle) {}, func(v *Vehicle) { v.Armed = true }, []EventKind{EventArmed}},
		{"disarming raises disarmed", func(v *Vehicle) { v.Armed = true }, func(v *Vehicle) { v.Armed = false }, []EventKind{EventDisarmed}},
		{"mode change names both modes", func(v *Vehicle) { v.Mode = "GUIDED" }, func(v *Vehicle) { v.Mode = "RTL" }, []EventKind{EventModeChanged}},
		{"first mode is not a change", func(v *Vehicle) {}, func(v *Vehicle) { v.Mode = "STABILIZE" }, nil},
		{"fence breach is critical", func(v *Vehicle) {}, func(v *Vehicle) { v.FenceBreached = true }, []EventKind{EventFenceBreach}},
		{"fence cleared", func(v *Vehicle) { v.FenceBreached = true }, func(v *Vehicle) { v.FenceBreached = false }, []EventKind{EventFenceCleared}},
		{"battery falls through low", func(v *Vehicle) { v.BatteryPct = 25 }, func(v *Vehicle) { v.BatteryPct = 19 }, []EventKind{EventBatteryLow}},
		{"battery falls through critical", func(v *Vehicle) { v.BatteryPct = 15 }, func(v *Vehicle) { v.BatteryPct = 9 }, []EventKind{EventBatteryCritical}},
		{"battery staying low does not repeat", func(v *Vehicle) { v.BatteryPct = 18 }, func(v *Vehicle) { v.BatteryPct = 17 }, nil},
		{"link lost", func(v *Vehicle) {}, func(v *Vehicle) { v.Connected = false }, []EventKind{EventLinkLost}},
		{"link regained", func(v *Vehicle) { v.Connected = false }, func(v *Vehicle) { v.Connected = true }, []EventKind{EventLinkRegained}},
		{"video appears", func(v *Vehicle) {}, func(v *Vehicle) { v.Video = []VideoStream{{URI: "rtsp://x"}} }, []EventKind{EventVideoChanged}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := New(DefaultConfig())
			f.Update("v1", t0, func(v *Vehicle) { v.BatteryPct = 90; c.before(v) })
			_, evs := f.Update("v1", t0.Add(time.Second), c.after)
			if fmt.Sprint(kinds(evs)) != fmt.Sprint(c.want) {
				t.Fatalf("events %v, want %v", kinds(evs), c.want)
			}
			for _, e := range evs {
				if e.VehicleID != "v1" || e.Seq == 0 || e.Message == "" {
					t.Fatalf("event missing identity: %+v", e)
				}
			}
		})
	}
}

// A refresh's note lands in the fields of the events it derives, beside
// their own (link_lost keeps last_seen), is recorded in the history as
// published, and is not kept for later events.
func TestRefreshNotedAddsNoteToDerivedEvents(t *testing.T) {
	f := New(DefaultConfig())
	f.Update("v1", t0, func(v *Vehicle) {})
	note := map[string]any{"unverified": true, "unverified_reason": "station_behind"}
	_, evs := f.RefreshNoted("v1", t0, t0.Add(time.Minute), note, func(v *Vehicle) { v.Connected = false })
	if len(evs) != 1 || evs[0].Kind != EventLinkLost {
		t.Fatalf("events %+v, want one link_lost", evs)
	}
	hist := f.Events(evs[0].Seq-1, "v1", 0)
	if len(hist) != 1 {
		t.Fatalf("history %+v, want the link_lost", hist)
	}
	for _, e := range []Event{evs[0], hist[0]} {
		if e.Fields["unverified"] != true || e.Fields["unverified_reason"] != "station_behind" {
			t.Errorf("link_lost fields %v, want the note", e.Fields)
		}
		if ls, _ := e.Fields["last_seen"].(time.Time); !ls.Equal(t0) {
			t.Errorf("link_lost last_seen %v, want %v", e.Fields["last_seen"], t0)
		}
	}
	note["unverified"] = false // the caller's map is not the event's
	if hist[0].Fields["unverified"] != true {
		t.Error("the event shares the caller's note map")
	}
	_, evs = f.Update("v1", t0.Add(2*time.Minute), func(v *Vehicle) { v.Connected = true })
	if len(evs) != 1 || evs[0].Kind != EventLinkRegained || evs[0].Fields["unverified"] != nil {
		t.Errorf("events after the note %+v, want a plain link_regained", evs)
	}
	// A noted refresh that derives nothing records nothing.
	if _, evs := f.RefreshNoted("v1", t0, t0.Add(3*time.Minute), note, func(v *Vehicle) { v.LinkQuality.RateHz = 5 }); len(evs) != 0 {
		t.Errorf("events %+v from a refresh that changed no event field", evs)
	}
}

func TestFirstUpdateConnectsAndLowFirstBatteryAlerts(t *testing.T) {
	f := New(DefaultConfig())
	v, evs := f.Update("v1", t0, func(v *Vehicle) { v.SystemID = 3; v.Link = "udp14550"; v.BatteryPct = 8 })
	if fmt.Sprint(kinds(evs)) != fmt.Sprint([]EventKind{EventConnected, EventBatteryCritical}) {
		t.Fatalf("events %v", kinds(evs))
	}
	if !v.Connected || v.FirstSeen != t0 || v.LastSeen != t0 || v.ID != "v1" {
		t.Fatalf("snapshot %+v", v)
	}
	if evs[1].Severity != SeverityCritical || !evs[1].IsAlert() {
		t.Fatalf("battery critical should be a critical alert: %+v", evs[1])
	}
}

func TestUnknownBatteryIsMinusOneNotZero(t *testing.T) {
	f := New(DefaultConfig())
	v, evs := f.Update("v1", t0, func(v *Vehicle) {})
	if v.BatteryPct != -1 {
		t.Fatalf("battery = %v, want -1 (unknown)", v.BatteryPct)
	}
	if len(evs) != 1 {
		t.Fatalf("unknown battery must not alert: %v", kinds(evs))
	}
}

func TestSnapshotsDoNotAlias(t *testing.T) {
	f := New(DefaultConfig())
	f.Update("v1", t0, func(v *Vehicle) { v.Home = &Point{Lat: 1}; v.Video = []VideoStream{{URI: "a"}} })
	s, _ := f.Get("v1")
	s.Home.Lat = 99
	s.Video[0].URI = "changed"
	again, _ := f.Get("v1")
	if again.Home.Lat != 1 || again.Video[0].URI != "a" {
		t.Fatalf("snapshot mutation leaked into the fleet: %+v", again)
	}
}

func TestEventsHistoryFiltersAndWraps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.EventHistory = 5
	f := New(cfg)
	for i := 0; i < 8; i++ {
		f.Emit(Event{VehicleID: fmt.Sprintf("v%d", i%2), Kind: EventStatusText, Time: t0})
	}
	all := f.Events(0, "", 0)
	if len(all) != 5 || all[0].Seq != 4 || all[4].Seq != 8 {
		t.Fatalf("history = %+v, want seqs 4..8", all)
	}
	v1 := f.Events(5, "v1", 0)
	if len(v1) != 2 || v1[0].Seq != 6 || v1[1].Seq != 8 {
		t.Fatalf("v1 since 5 = %+v", v1)
	}
	if got := f.Events(0, "", 2); len(got) != 2 || got[1].Seq != 8 {
		t.Fatalf("limit keeps the newest: %+v", got)
	}
}

func TestListIsSortedByID(t *testing.T) {
	f := New(DefaultConfig())
	for _, id := range []string{"c", "a", "b"} {
		f.Update(id, t0, func(v *Vehicle) {})
	}
	l := f.List()
	if len(l) != 3 || l[0].ID != "a" || l[2].ID != "c" || f.Len() != 3 {
		t.Fatalf("list %v", l)
	}
}

func TestCoalescingSubscriptionKeepsNewestPerVehicle(t *testing.T) {
	f := New(DefaultConfig())
	sub := f.Subscribe(SubscribeOptions{})
	defer sub.Close()
	for i := 0; i < 100; i++ {
		f.Update("a", t0, func(v *Vehicle) { v.Lat = float64(i) })
		f.Update("b", t0, func(v *Vehicle) { v.Lat = -float64(i) })
	}
	<-sub.C
	b := sub.Next()
	if len(b.Vehicles) != 2 || b.Vehicles[0].ID != "a" || b.Vehicles[0].Lat != 99 || b.Vehicles[1].Lat != -99 {
		t.Fatalf("coalesced batch = %+v", b.Vehicles)
	}
	if len(b.Events) != 2 { // two connected events
		t.Fatalf("events %v", kinds(b.Events))
	}
	if again := sub.Next(); len(again.Vehicles) != 0 || len(again.Events) != 0 {
		t.Fatalf("Next after draining returned %+v", again)
	}
}

// A StatesOnTick subscriber is signalled by events only: state updates
// wait, coalesced, for its own Next.
func TestStatesOnTickSubscriptionIsSignalledByEventsOnly(t *testing.T) {
	f := New(DefaultConfig())
	f.Update("a", t0, func(v *Vehicle) {}) // the connected event goes before the subscription
	sub := f.Subscribe(SubscribeOptions{StatesOnTick: true})
	defer sub.Close()
	for i := 0; i < 50; i++ {
		f.Update("a", t0, func(v *Vehicle) { v.Lat = float64(i) })
	}
	select {
	case <-sub.C:
		t.Fatal("signalled for state updates")
	default:
	}
	f.Emit(Event{VehicleID: "a", Kind: EventStatusText, Time: t0})
	select {
	case <-sub.C:
	default:
		t.Fatal("not signalled for an event")
	}
	b := sub.Next()
	if len(b.Vehicles) != 1 || b.Vehicles[0].Lat != 49 || len(b.Events) != 1 {
		t.Fatalf("batch: %d states (lat %v), %d events; want the newest of a and the status text",
			len(b.Vehicles), b.Vehicles, len(b.Events))
	}
}

// Next reuses the memory of the batch before the last: over many rounds
// each batch still holds exactly its own states, newest per vehicle in
// order of first arrival, and a batch stays intact while the next one
// fills.
func TestSubscriptionBatchesOverReusedMemory(t *testing.T) {
	f := New(DefaultConfig())
	coal := f.Subscribe(SubscribeOptions{})
	all := f.Subscribe(SubscribeOptions{KeepAll: true})
	defer coal.Close()
	defer all.Close()
	ids := []string{"a", "b", "c"}
	for round := 0; round < 5; round++ {
		// Round r updates r+1 vehicles (starting at a different one), twice each.
		var want []string
		for k := 0; k <= round%3; k++ {
			want = append(want, ids[(round+k)%3])
		}
		for rep := 0; rep < 2; rep++ {
			for _, id := range want {
				f.UpdateFrom(id, t0, round*10+rep, func(v *Vehicle) { v.Lat = float64(round*10 + rep) })
			}
		}
		cb, ab := coal.Next(), all.Next()
		if len(cb.Vehicles) != len(want) {
			t.Fatalf("round %d: coalesced %d states, want %d", round, len(cb.Vehicles), len(want))
		}
		for i, id := range want {
			if v := cb.Vehicles[i]; v.ID != id || v.Lat != float64(round*10+1) {
				t.Fatalf("round %d: coalesced state %d = %s lat %v, want %s lat %d", round, i, v.ID, v.Lat, id, round*10+1)
			}
		}
		if len(ab.Vehicles) != 2*len(want) || len(ab.Causes) != len(ab.Vehicles) {
			t.Fatalf("round %d: kept %d states (%d causes), want %d", round, len(ab.Vehicles), len(ab.Causes), 2*len(want))
		}
		for i, v := range ab.Vehicles {
			rep := i / len(want)
			if v.ID != want[i%len(want)] || v.Lat != float64(round*10+rep) || ab.Causes[i] != round*10+rep {
				t.Fatalf("round %d: state %d = %s lat %v cause %v", round, i, v.ID, v.Lat, ab.Causes[i])
			}
		}
		// The next round's updates must not write into this batch.
		f.UpdateFrom("a", t0, -1, func(v *Vehicle) { v.Lat = -1 })
		if cb.Vehicles[0].Lat == -1 || ab.Vehicles[0].Lat == -1 {
			t.Fatalf("round %d: an update changed the batch already handed out", round)
		}
		coal.Next()
		all.Next()
	}
}

func TestKeepAllSubscriptionBoundsQueueAndCountsDrops(t *testing.T) {
	f := New(DefaultConfig())
	sub := f.Subscribe(SubscribeOptions{KeepAll: true, MaxQueue: 10})
	defer sub.Close()
	for i := 0; i < 25; i++ {
		f.Update("a", t0, func(v *Vehicle) { v.Lat = float64(i) })
	}
	b := sub.Next()
	if len(b.Vehicles) != 10 || b.Vehicles[0].Lat != 15 || b.Vehicles[9].Lat != 24 {
		t.Fatalf("kept %d states from %v to %v, want the newest 10", len(b.Vehicles), b.Vehicles[0].Lat, b.Vehicles[len(b.Vehicles)-1].Lat)
	}
	if b.Dropped.States != 15 {
		t.Fatalf("dropped = %+v, want 15 states", b.Dropped)
	}
}

// A full KeepAll queue drops its oldest eighth at once, in place: it
// never holds more than MaxQueue states nor grows its memory past them.
func TestKeepAllFullQueueDropsOldestEighthInPlace(t *testing.T) {
	f := New(DefaultConfig())
	sub := f.Subscribe(SubscribeOptions{KeepAll: true, MaxQueue: 80})
	defer sub.Close()
	for i := 0; i < 1000; i++ {
		f.UpdateFrom("a", t0, i, func(v *Vehicle) { v.Lat = float64(i) })
		sub.mu.Lock()
		n, c := len(sub.queue), cap(sub.queue)
		sub.mu.Unlock()
		if n > 80 || c > 80 {
			t.Fatalf("after %d updates: %d queued in a slice of %d, want at most 80", i+1, n, c)
		}
	}
	b := sub.Next()
	// 1000 updates: the 81st dropped the oldest 10, and every 10 after it
	// another 10.
	if want := 1000 - 10*((1000-80+9)/10); len(b.Vehicles) != want || b.Dropped.States != uint64(1000-want) {
		t.Fatalf("kept %d, dropped %d; want %d kept", len(b.Vehicles), b.Dropped.States, want)
	}
	for i, v := range b.Vehicles {
		if want := float64(1000 - len(b.Vehicles) + i); v.Lat != want || b.Causes[i] != int(want) {
			t.Fatalf("state %d: lat %v cause %v, want the newest in order (%v)", i, v.Lat, b.Causes[i], want)
		}
	}
}

func TestClosedSubscriptionReceivesNothing(t *testing.T) {
	f := New(DefaultConfig())
	sub := f.Subscribe(SubscribeOptions{})
	sub.Close()
	sub.Close() // idempotent
	f.Update("a", t0, func(v *Vehicle) {})
	if b := sub.Next(); len(b.Vehicles) != 0 {
		t.Fatalf("closed subscription got %+v", b)
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	f := New(DefaultConfig())
	sub := f.Subscribe(SubscribeOptions{})
	defer sub.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() { // a slow reader must not block the writer
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-sub.C:
				sub.Next()
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = f.List()
				_ = f.Events(0, "", 10)
			}
		}
	}()
	for i := 0; i < 2000; i++ {
		f.Update(fmt.Sprintf("v%d", i%50), t0.Add(time.Duration(i)), func(v *Vehicle) { v.Lat = float64(i) })
	}
	close(stop)
	wg.Wait()
	if f.Len() != 50 {
		t.Fatalf("len = %d", f.Len())
	}
}

func TestStale(t *testing.T) {
	v := Vehicle{Connected: true, LastSeen: t0}
	if v.Stale(t0.Add(time.Second), 3*time.Second) {
		t.Fatal("fresh vehicle reported stale")
	}
	if !v.Stale(t0.Add(4*time.Second), 3*time.Second) {
		t.Fatal("old data not reported stale")
	}
	v.Connected = false
	if !v.Stale(t0, time.Hour) {
		t.Fatal("disconnected vehicle must be stale")
	}
}

func BenchmarkUpdateWithThreeSubscribers(b *testing.B) {
	f := New(DefaultConfig())
	for i := 0; i < 3; i++ {
		s := f.Subscribe(SubscribeOptions{KeepAll: i == 0, MaxQueue: 1 << 20})
		defer s.Close()
	}
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf("udp14550-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Update(ids[i%len(ids)], t0, func(v *Vehicle) { v.Lat = float64(i) })
	}
}

// Several writers (one dispatcher per link) update and emit at once; a
// subscriber still receives every event in Seq order.
func TestConcurrentWritersDeliverEventsInSeqOrder(t *testing.T) {
	f := New(Config{BatteryLowPct: 20, BatteryCriticalPct: 10, EventHistory: 100})
	sub := f.Subscribe(SubscribeOptions{KeepAll: true, MaxQueue: 1 << 20})
	defer sub.Close()
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				id := fmt.Sprintf("w%d-%d", w, i%10)
				f.Update(id, t0, func(v *Vehicle) { v.Armed = i%2 == 0 })
				f.Emit(Event{VehicleID: id, Kind: EventStatusText, Time: t0})
			}
		}()
	}
	wg.Wait()
	b := sub.Next()
	if len(b.Events) == 0 {
		t.Fatal("no events")
	}
	for i, e := range b.Events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d delivered with seq %d", i, e.Seq)
		}
	}
}

// An event field holding a NaN or ±Inf is recorded as nil, so the event
// encodes (null) for every relay; the caller's map is left as it was.
func TestEventFieldNaNIsRecordedAsNil(t *testing.T) {
	f := New(DefaultConfig())
	fields := map[string]any{"distance_m": math.NaN(), "tca_s": float32(math.Inf(1)), "seq": 3, "ok": 1.5}
	e := f.Emit(Event{VehicleID: "v", Kind: "test", Fields: fields})
	want := map[string]any{"distance_m": nil, "tca_s": nil, "seq": 3, "ok": 1.5}
	if !reflect.DeepEqual(e.Fields, want) {
		t.Fatalf("recorded fields %v, want %v", e.Fields, want)
	}
	if hist := f.Events(0, "", 0); len(hist) != 1 || !reflect.DeepEqual(hist[0].Fields, want) {
		t.Fatalf("history %+v", hist)
	}
	if b, err := json.Marshal(e); err != nil || !strings.Contains(string(b), `"distance_m":null`) {
		t.Fatalf("encoded %s, %v", b, err)
	}
	if !math.IsNaN(fields["distance_m"].(float64)) {
		t.Fatal("the caller's map was changed")
	}
}

// BenchmarkUpdateFanout2000 is the fleet's side of `burgut serve` at
// 2,000 vehicles, 36,000 updates a second, with the binary's three
// subscribers draining as they do there: the WebSocket hub (coalesced,
// every millisecond: 36 updates), the MQTT publisher (coalesced, states
// on its 2 Hz tick: 18,000) and the recorder (KeepAll, every 20 ms: 720
// updates, but not while it writes its batch of the second to the store,
// here two thirds of a second at fleet load on a busy machine: 24,000
// updates). One op is one update, its share of the drains included.
func BenchmarkUpdateFanout2000(b *testing.B) {
	f := New(DefaultConfig())
	hub := f.Subscribe(SubscribeOptions{Name: "websocket"})
	mqtt := f.Subscribe(SubscribeOptions{Name: "mqtt", StatesOnTick: true})
	rec := f.Subscribe(SubscribeOptions{KeepAll: true, MaxQueue: 200000, Name: "recorder"})
	defer hub.Close()
	defer mqtt.Close()
	defer rec.Close()
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf("l%d-%d", i/250, i%250+1)
		f.Update(ids[i], t0, func(v *Vehicle) { v.Mode = "GUIDED"; v.Link = "l0" })
	}
	hub.Next()
	mqtt.Next()
	rec.Next()
	cause := any(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.UpdateFrom(ids[i%len(ids)], t0, cause, func(v *Vehicle) { v.Lat = float64(i) })
		if i%36 == 35 {
			hub.Next()
		}
		if i%18000 == 17999 {
			mqtt.Next()
		}
		if s := i % 36000; s%720 == 719 && s >= 24000 {
			rec.Next()
		}
	}
}

// A KeepAll subscriber that takes a large batch now and then (a recorder
// writing a second's batch to its store meanwhile) keeps the batch
// memory for it: the steady cycle of large and small batches allocates
// nothing. After a one-off backlog the memory is let go again.
func TestKeepAllReusesMemoryForRecurringLargeBatches(t *testing.T) {
	f := New(DefaultConfig())
	sub := f.Subscribe(SubscribeOptions{KeepAll: true, MaxQueue: 200000})
	defer sub.Close()
	const large = 2 * maxSpare // past what was kept before the large batches recurred
	push := func(n int) {
		for i := 0; i < n; i++ {
			f.UpdateFrom("a", t0, nil, func(v *Vehicle) { v.Lat = float64(i) })
		}
	}
	cycle := func() {
		push(large)
		if b := sub.Next(); len(b.Vehicles) != large {
			t.Fatalf("took %d states, want %d", len(b.Vehicles), large)
		}
		for i := 0; i < 20; i++ {
			push(100)
			if b := sub.Next(); len(b.Vehicles) != 100 {
				t.Fatalf("took %d states, want 100", len(b.Vehicles))
			}
		}
	}
	cycle()
	cycle()
	if a := testing.AllocsPerRun(3, cycle); a != 0 {
		t.Fatalf("a cycle of one large and 20 small batches allocated %v times, want 0", a)
	}
	// The large batches stop: the memory kept for them goes once the peak
	// has decayed below half of it.
	for i := 0; i < 2000; i++ {
		push(10)
		sub.Next()
	}
	sub.mu.Lock()
	q, s := cap(sub.queue), cap(sub.spare)
	sub.mu.Unlock()
	if q > maxSpare || s > maxSpare {
		t.Fatalf("after 2,000 small batches the subscription keeps slices of %d and %d states, want at most %d", q, s, maxSpare)
	}
}

// A coalescing subscription made after vehicles exist keeps the newest
// state per vehicle by the vehicle's slot, in order of first arrival, and
// starts afresh after each Next.
func TestCoalescingBySlotAfterVehiclesExist(t *testing.T) {
	f := New(DefaultConfig())
	for _, id := range []string{"a", "b", "c"} {
		f.Update(id, t0, func(v *Vehicle) {})
	}
	sub := f.Subscribe(SubscribeOptions{})
	defer sub.Close()
	for round := 0; round < 3; round++ {
		f.Update("c", t0, func(v *Vehicle) { v.Lat = float64(round) })
		f.Update("a", t0, func(v *Vehicle) { v.Lat = -1 })
		f.Update("a", t0, func(v *Vehicle) { v.Lat = float64(round) })
		b := sub.Next()
		if len(b.Vehicles) != 2 || b.Vehicles[0].ID != "c" || b.Vehicles[1].ID != "a" ||
			b.Vehicles[0].Lat != float64(round) || b.Vehicles[1].Lat != float64(round) {
			t.Fatalf("round %d: batch %+v, want c then a, each at lat %d", round, b.Vehicles, round)
		}
	}
	if b := sub.Next(); len(b.Vehicles) != 0 {
		t.Fatalf("nothing pending, got %d states", len(b.Vehicles))
	}
}

// A writer's Ref finds its vehicle without the map; what subscribers see
// and the events derived are those of UpdateFrom, including the first
// update that creates the vehicle, and a Ref handed another ID (a writer
// reusing it by mistake) still updates the vehicle with that ID.
func TestUpdateRefIsUpdateFrom(t *testing.T) {
	byRef, byID := New(DefaultConfig()), New(DefaultConfig())
	subRef := byRef.Subscribe(SubscribeOptions{KeepAll: true})
	defer subRef.Close()
	subID := byID.Subscribe(SubscribeOptions{KeepAll: true})
	defer subID.Close()
	var ra, rb Ref
	steps := []struct {
		id  string
		ref *Ref
		fn  func(v *Vehicle)
	}{
		{"a", &ra, func(v *Vehicle) { v.Mode = "STABILIZE"; v.BatteryPct = 50 }},
		{"b", &rb, func(v *Vehicle) { v.Mode = "GUIDED" }},
		{"a", &ra, func(v *Vehicle) { v.Mode = "AUTO"; v.Armed = true }},
		{"a", &ra, func(v *Vehicle) { v.BatteryPct = 19 }},
		{"b", &ra, func(v *Vehicle) { v.Mode = "RTL" }}, // ra now names b
		{"a", &ra, func(v *Vehicle) { v.Lat = 41 }},
	}
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * time.Second)
		byRef.UpdateRef(s.ref, s.id, at, i, s.fn)
		byID.UpdateFrom(s.id, at, i, s.fn)
	}
	got, want := subRef.Next(), subID.Next()
	if len(got.Vehicles) != len(steps) || !reflect.DeepEqual(got.Vehicles, want.Vehicles) || !reflect.DeepEqual(got.Causes, want.Causes) {
		t.Fatalf("states by Ref:\n%+v\ncauses %v\nby ID:\n%+v\ncauses %v", got.Vehicles, got.Causes, want.Vehicles, want.Causes)
	}
	if !reflect.DeepEqual(kinds(got.Events), kinds(want.Events)) || len(got.Events) != 6 {
		t.Fatalf("events by Ref %v, by ID %v (want connected ×2, armed, mode_changed, battery_low, mode_changed)", kinds(got.Events), kinds(want.Events))
	}
	if byRef.Len() != 2 {
		t.Fatalf("%d vehicles, want 2", byRef.Len())
	}
	if a, _ := byRef.Get("a"); a.Lat != 41 || a.Mode != "AUTO" || !a.Armed {
		t.Fatalf("a = %+v", a)
	}
	if b, _ := byRef.Get("b"); b.Mode != "RTL" {
		t.Fatalf("b's mode %q, want RTL", b.Mode)
	}
}

// A coalescing subscription's Batch.Slots is aligned with its Vehicles:
// each state's vehicle slot, as Fleet.Slot gives it, across batches whose
// memory is reused and vehicles that appear after the subscription.
func TestCoalescingBatchCarriesSlots(t *testing.T) {
	f := New(DefaultConfig())
	f.Update("x", t0, func(v *Vehicle) {})
	sub := f.Subscribe(SubscribeOptions{})
	defer sub.Close()
	ids := []string{"x", "a", "b", "c", "d"}
	for round := 0; round < 5; round++ {
		// The first round updates every vehicle (the four new ones appear
		// after the subscription); each later one a different subset, in
		// a different order, some vehicles twice (coalesced into one
		// state).
		var want []string
		for k := range ids {
			if round == 0 {
				f.Update(ids[len(ids)-1-k], t0, func(v *Vehicle) {})
				want = append(want, ids[len(ids)-1-k])
				continue
			}
			id := ids[(k*(round+2))%len(ids)]
			if (k+round)%3 == 0 {
				continue
			}
			f.Update(id, t0, func(v *Vehicle) { v.Lat = float64(round) })
			if !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
		f.Update(want[0], t0, func(v *Vehicle) { v.Lon = float64(round) })
		b := sub.Next()
		if len(b.Slots) != len(b.Vehicles) || len(b.Vehicles) != len(want) {
			t.Fatalf("round %d: %d states, %d slots, want %d (%v)", round, len(b.Vehicles), len(b.Slots), len(want), want)
		}
		for i := range b.Vehicles {
			slot, ok := f.Slot(b.Vehicles[i].ID)
			if !ok || b.Slots[i] != slot || b.Vehicles[i].ID != want[i] {
				t.Fatalf("round %d: state %d is %s in slot %d, want %s in slot %d", round, i, b.Vehicles[i].ID, b.Slots[i], want[i], slot)
			}
		}
	}
	seen := map[int32]string{}
	for _, id := range ids {
		slot, ok := f.Slot(id)
		if !ok || slot < 0 || int(slot) >= len(ids) || seen[slot] != "" {
			t.Fatalf("%s has slot %d (%v); taken: %v", id, slot, ok, seen)
		}
		seen[slot] = id
	}
	if _, ok := f.Slot("nobody"); ok {
		t.Fatal("an unknown vehicle has a slot")
	}
	keep := f.Subscribe(SubscribeOptions{KeepAll: true})
	defer keep.Close()
	f.Update("x", t0, func(v *Vehicle) {})
	if b := keep.Next(); len(b.Vehicles) != 1 || b.Slots != nil {
		t.Fatalf("KeepAll batch: %d states, slots %v (want 1, none)", len(b.Vehicles), b.Slots)
	}
}
