package groundstation

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// A UDP server link's dispatcher hands a batch of datagrams to the taps
// and the fleet's subscribers together, at the end of the batch: a batch
// tap gets the frames in one call, in the order received, and a
// subscriber that keeps every state gets each position once, in order.
// The reader is held while a burst reaches the socket, so one read takes
// it all and one dispatch batch handles it.
func TestDispatchBatchReachesTapsAndSubscribersTogether(t *testing.T) {
	u := newUDPRemote(t, 42, func(c *Config) { c.IdentityWait = 50 * time.Millisecond })
	var mu sync.Mutex
	var calls []int   // frames per call
	var boot []uint32 // the positions' TimeBootMs, in the order tapped
	u.st.AddFrameBatchTap(func(frames []TappedFrame) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, len(frames))
		for _, f := range frames {
			if m, ok := f.Frame.GetMessage().(*common.MessageGlobalPositionInt); ok && !f.Sent && f.VehicleID != "" {
				boot = append(boot, m.TimeBootMs)
			}
		}
	})
	sub := u.st.fleet.Subscribe(fleet.SubscribeOptions{KeepAll: true})
	defer sub.Close()
	u.send(t, &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR, Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA})
	testenv.Eventually(t, 10*time.Second, "the vehicle published", func() bool { return u.st.fleet.Len() == 1 })

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() {
		once.Do(func() { close(entered) })
		<-release
	}
	u.l.readHook.Store(&hook)
	const burst = 20 // within one read (readBatch)
	for i := 1; i <= burst; i++ {
		u.send(t, &common.MessageGlobalPositionInt{TimeBootMs: uint32(i), Lat: 418123000 + int32(i), Lon: 692716000})
	}
	<-entered
	u.l.readHook.Store(nil)
	close(release)

	var stored []uint32
	testenv.Eventually(t, 10*time.Second, "every position tapped and stored", func() bool {
		b := sub.Next()
		for i, v := range b.Vehicles {
			if m, ok := b.Causes[i].(*common.MessageGlobalPositionInt); ok && v.ID != "" {
				stored = append(stored, m.TimeBootMs)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return len(boot) >= burst && len(stored) >= burst
	})
	if d, _, err := u.l.socketMemInfo(); err == nil && d > 0 {
		t.Skipf("the kernel dropped %d datagrams at the socket: nothing to tell", d)
	}
	want := make([]uint32, burst)
	for i := range want {
		want[i] = uint32(i + 1)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(boot, want) {
		t.Errorf("tapped positions %v, want %v", boot, want)
	}
	if !slices.Equal(stored, want) {
		t.Errorf("positions the subscriber got %v, want %v", stored, want)
	}
	if slices.Max(calls) < 2 {
		t.Errorf("tap calls took %v frames each: the burst was not handed over as a batch", calls)
	}
}
