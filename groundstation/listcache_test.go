package groundstation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// countingFetch is a download that counts its calls and answers items of
// the current length n.
type countingFetch struct {
	calls atomic.Int32
	n     atomic.Int32
}

func (f *countingFetch) fetch(context.Context) ([]mavitem.Item, error) {
	f.calls.Add(1)
	return make([]mavitem.Item, f.n.Load()), nil
}

func mustGet(t *testing.T, c *listCache, typ mavitem.MissionType, f *countingFetch) []mavitem.Item {
	t.Helper()
	items, err := c.get(context.Background(), typ, f.fetch)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// Each signal that a list may have changed drops that list, and only it;
// a signal that agrees with the copy keeps it.
func TestListCacheSignals(t *testing.T) {
	var c listCache
	f := &countingFetch{}
	f.n.Store(5) // home + 4 items
	get := func(typ mavitem.MissionType) { mustGet(t, &c, typ, f) }
	expect := func(step string, want int32) {
		t.Helper()
		if got := f.calls.Load(); got != want {
			t.Fatalf("%s: %d downloads, want %d", step, got, want)
		}
	}
	get(mavitem.TypeMission)
	get(mavitem.TypeMission)
	expect("two reads", 1)

	c.observeCurrent(4, true, [3]uint32{}) // ArduPilot: 4 items after home
	get(mavitem.TypeMission)
	expect("MISSION_CURRENT agreeing", 1)
	c.observeCount(mavitem.TypeMission, 5)
	get(mavitem.TypeMission)
	expect("MISSION_COUNT agreeing", 1)

	c.observeCurrent(6, true, [3]uint32{})
	f.n.Store(7)
	get(mavitem.TypeMission)
	expect("MISSION_CURRENT with another total", 2)

	c.observeCount(mavitem.TypeMission, 3)
	f.n.Store(3)
	c.observeCurrent(2, true, [3]uint32{})
	get(mavitem.TypeMission)
	expect("MISSION_COUNT with another count", 3)

	get(mavitem.TypeFence)
	expect("fence read", 4)
	c.invalidate(mavitem.TypeMission) // a MISSION_ACK for the mission
	get(mavitem.TypeFence)
	expect("fence after the mission's ACK", 4)
	get(mavitem.TypeMission)
	expect("mission after its ACK", 5)

	// List IDs (PX4): a changed fence_id drops the fence only.
	c.observeCurrent(2, true, [3]uint32{7, 8, 9})
	get(mavitem.TypeMission)
	get(mavitem.TypeFence)
	c.observeCurrent(2, true, [3]uint32{7, 10, 9})
	get(mavitem.TypeMission)
	expect("mission after another fence_id", 7) // both dropped by the first IDs seen
	get(mavitem.TypeFence)
	expect("fence after another fence_id", 8)

	c.set(mavitem.TypeRally, make([]mavitem.Item, 2))
	if got := mustGet(t, &c, mavitem.TypeRally, f); len(got) != 2 {
		t.Fatalf("rally after set: %d items", len(got))
	}
	expect("rally after a verified upload", 8)

	c.invalidateAll()
	get(mavitem.TypeMission)
	get(mavitem.TypeFence)
	get(mavitem.TypeRally)
	expect("every list after link regained", 11)
	c.invalidate(missionTypeAll) // a MISSION_ACK of a clear of every list
	get(mavitem.TypeMission)
	get(mavitem.TypeFence)
	get(mavitem.TypeRally)
	expect("every list after MAV_MISSION_TYPE_ALL", 14)
}

// peek answers from the kept copy only, never downloads, and says
// nothing once a signal drops the copy.
func TestListCachePeek(t *testing.T) {
	var c listCache
	if _, ok := c.peek(mavitem.TypeMission, 1); ok {
		t.Fatal("peek with nothing kept")
	}
	items := []mavitem.Item{{Seq: 0}, {Seq: 1, Command: mavitem.CmdNavTakeoff, Z: 40}}
	c.set(mavitem.TypeMission, items)
	if it, ok := c.peek(mavitem.TypeMission, 1); !ok || it.Z != 40 {
		t.Fatalf("peek item 1: %+v %v", it, ok)
	}
	for _, seq := range []int{-1, 2} {
		if _, ok := c.peek(mavitem.TypeMission, seq); ok {
			t.Fatalf("peek item %d of 2", seq)
		}
	}
	if _, ok := c.peek(mavitem.TypeFence, 0); ok {
		t.Fatal("peek of the fence, never read")
	}
	c.invalidate(mavitem.TypeMission)
	if _, ok := c.peek(mavitem.TypeMission, 1); ok {
		t.Fatal("peek after the mission was dropped")
	}
	if c.downloads.Load() != 0 {
		t.Fatalf("peek downloaded %d lists", c.downloads.Load())
	}
}

// A non-ArduPilot total counts home, and 0 says nothing.
func TestTotalMatches(t *testing.T) {
	cases := []struct {
		total int
		ap    bool
		n     int
		want  bool
	}{
		{4, true, 5, true},
		{5, true, 5, false},
		{0, true, 1, true},
		{0, true, 0, true},
		{5, false, 5, true},
		{4, false, 5, false},
		{0, false, 5, true},
		{65535, false, 0, true},
		{65535, false, 3, false},
	}
	for _, c := range cases {
		if got := totalMatches(c.total, c.ap, c.n); got != c.want {
			t.Errorf("totalMatches(%d, ardupilot %v, %d items) = %v, want %v", c.total, c.ap, c.n, got, c.want)
		}
	}
}

// Callers that ask while a download is under way share it; one dropped
// meanwhile answers its callers but is not kept; a caller whose starter
// gave up downloads itself.
func TestListCacheSharesOneDownload(t *testing.T) {
	var c listCache
	release := make(chan struct{})
	var calls atomic.Int32
	slow := func(ctx context.Context) ([]mavitem.Item, error) {
		calls.Add(1)
		select {
		case <-release:
			return make([]mavitem.Item, 3), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var wg sync.WaitGroup
	const readers = 8
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			items, err := c.get(context.Background(), mavitem.TypeMission, slow)
			if err == nil && len(items) != 3 {
				err = fmt.Errorf("%d items", len(items))
			}
			errs <- err
		})
	}
	testenv.Eventually(t, 10*time.Second, "every reader waiting", func() bool {
		return calls.Load() == 1 && c.hits.Load() == 0 && waiting(&c) == readers-1
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d readers at once made %d downloads, want 1", readers, n)
	}

	// Dropped while under way: answered, not kept.
	c.invalidate(mavitem.TypeMission)
	block := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := c.get(context.Background(), mavitem.TypeMission, func(context.Context) ([]mavitem.Item, error) {
			close(started)
			<-block
			return make([]mavitem.Item, 3), nil
		})
		done <- err
	}()
	<-started
	c.invalidate(mavitem.TypeMission)
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f := &countingFetch{}
	mustGet(t, &c, mavitem.TypeMission, f)
	if f.calls.Load() != 1 {
		t.Fatal("a download dropped while under way was kept")
	}

	// The starter's context ends: the waiter downloads itself.
	c.invalidate(mavitem.TypeMission)
	ctx, cancel := context.WithCancel(context.Background())
	startedB := make(chan struct{})
	leader := make(chan error)
	go func() {
		_, err := c.get(ctx, mavitem.TypeMission, func(ctx context.Context) ([]mavitem.Item, error) {
			close(startedB)
			<-ctx.Done()
			return nil, fmt.Errorf("download: %w", ctx.Err())
		})
		leader <- err
	}()
	<-startedB
	f2 := &countingFetch{}
	f2.n.Store(4)
	waiter := make(chan []mavitem.Item)
	go func() { items, _ := c.get(context.Background(), mavitem.TypeMission, f2.fetch); waiter <- items }()
	testenv.Eventually(t, 10*time.Second, "the second reader waiting", func() bool { return waiting(&c) == 1 })
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("starter: %v", err)
	}
	if items := <-waiter; len(items) != 4 || f2.calls.Load() != 1 {
		t.Fatalf("waiter got %d items after %d downloads of its own", len(items), f2.calls.Load())
	}
}

// waiting counts the readers waiting for another's download.
func waiting(c *listCache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.waiters)
}

// TestMissionReadsShareOneDownload runs the real simulator: two reads of
// a vehicle's mission in a row cost one MAVLink download, and changes
// made elsewhere — by the vehicle itself, and by a second ground station
// on its TCP port — are seen.
func TestMissionReadsShareOneDownload(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	tcpBase := testenv.FreeTCPPort(t)
	st, fl := startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	var requests atomic.Int32 // MISSION_REQUEST_LIST for the mission, sent by st
	st.AddFrameTap(func(_, _ string, _ time.Time, f frame.Frame, _ []byte, sent bool) {
		// Sent frames carry the encoded payload: target system and
		// component, then mission_type (cut when 0, the mission).
		if m, ok := f.GetMessage().(*message.MessageRaw); ok && sent && m.ID == (&common.MessageMissionRequestList{}).GetID() &&
			(len(m.Payload) < 3 || m.Payload[2] == uint8(common.MAV_MISSION_TYPE_MISSION)) {
			requests.Add(1)
		}
	})
	sim := startSimConfig(t, simulator.Config{Vehicles: 1, Seed: 5, Speedup: 1, TCPBasePort: tcpBase}, port)
	id, home := waitOneVehicle(t, fl, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	read := func() []mavitem.Item {
		t.Helper()
		items, err := st.Download(ctx, id, mavitem.TypeMission)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	// The simulator changes its own mission (as a script on board
	// would): no MISSION_ACK, only MISSION_CURRENT's total tells.
	own := numbered(patrol(home, 3))
	sim.Vehicle(0).Do(func(v *vehicle.Vehicle) {
		if err := v.SetMission(own); err != nil {
			t.Error(err)
		}
	})
	testenv.Eventually(t, 30*time.Second, "the simulator's own mission read", func() bool { return len(read()) == len(own) })
	before := requests.Load()
	first, second := read(), read()
	if d := sameItems(mavitem.TypeMission, own, first); d != "" || len(second) != len(first) {
		t.Fatalf("reads differ from the mission on board: %s (%d, %d items)", d, len(first), len(second))
	}
	if n := requests.Load() - before; n != 0 {
		t.Fatalf("two reads of a known mission sent %d MISSION_REQUEST_LIST, want 0", n)
	}
	// The next change: reads return the old copy until MISSION_CURRENT
	// tells, then one download, then the copy again.
	changed := numbered(patrol(home, 5))
	before = requests.Load()
	sim.Vehicle(0).Do(func(v *vehicle.Vehicle) {
		if err := v.SetMission(changed); err != nil {
			t.Error(err)
		}
	})
	testenv.Eventually(t, 30*time.Second, "the simulator's second mission read", func() bool { return len(read()) == len(changed) })
	read()
	read()
	if n := requests.Load() - before; n != 1 {
		t.Fatalf("reads until the change was seen and two after sent %d MISSION_REQUEST_LIST, want 1", n)
	}

	// Concurrent reads after a change share one download.
	st.reg.get(id).lists.invalidate(mavitem.TypeMission)
	before = requests.Load()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { read() })
	}
	wg.Wait()
	if n := requests.Load() - before; n != 1 {
		t.Fatalf("4 concurrent reads sent %d MISSION_REQUEST_LIST, want 1", n)
	}

	// A second ground station (system 254) on the vehicle's TCP port
	// replaces the mission by one of the same length: the vehicle's
	// MISSION_ACK to it tells this station.
	cfgB := testConfig(fmt.Sprintf("tcp:127.0.0.1:%d", tcpBase))
	cfgB.SystemID = 254
	stB, flB := startStation(t, cfgB)
	testenv.Eventually(t, 60*time.Second, "the vehicle at the second station", func() bool { return len(flB.List()) == 1 })
	other := patrol(home, 5)
	for i := range other {
		other[i].Z += 7
	}
	if _, err := stB.Upload(ctx, flB.List()[0].ID, mavitem.TypeMission, other, UploadOptions{Verify: true}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the second station's mission read", func() bool {
		return sameItems(mavitem.TypeMission, other, read()) == ""
	})
	info, _ := st.Vehicle(id)
	if info.ListCacheHits == 0 || info.ListDownloads == 0 {
		t.Fatalf("vehicle info counts %d downloads and %d cache hits", info.ListDownloads, info.ListCacheHits)
	}
	if l := st.Links()[0]; l.ListDownloads != info.ListDownloads || l.ListCacheHits != info.ListCacheHits {
		t.Fatalf("link counts %d downloads and %d cache hits, its one vehicle %d and %d", l.ListDownloads, l.ListCacheHits, info.ListDownloads, info.ListCacheHits)
	}
}

// numbered gives items their seq, as a transfer does.
func numbered(items []mavitem.Item) []mavitem.Item {
	for i := range items {
		items[i].Seq = uint16(i)
	}
	return items
}
