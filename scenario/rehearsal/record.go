package rehearsal

import (
	"sync"

	"github.com/burgut-uav/burgut/fleet"
)

// Recorder keeps every event the station's fleet emits while a rehearsal
// runs: the alerts Match looks for and the command events with their
// actors. The fleet's own history is a bounded ring (and the scenario
// engine sees events only as often as it polls), so a rehearsal records
// them itself, in process, from the moment it starts.
type Recorder struct {
	sub    *fleet.Subscription
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	events []fleet.Event
	lost   uint64
}

// recordQueue bounds the events waiting between two wake-ups of the
// recorder; it drains continuously, so only a stalled process loses any
// (counted, see Stop).
const recordQueue = 100000

// Record starts recording f's events; call Stop to end it.
func Record(f *fleet.Fleet) *Recorder {
	r := &Recorder{
		sub:  f.Subscribe(fleet.SubscribeOptions{Name: "rehearsal", MaxQueue: recordQueue}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go r.run()
	return r
}

func (r *Recorder) run() {
	defer close(r.done)
	for {
		select {
		case <-r.sub.C:
			r.take()
		case <-r.stop:
			r.take()
			return
		}
	}
}

func (r *Recorder) take() {
	b := r.sub.Next()
	r.mu.Lock()
	r.events = append(r.events, b.Events...)
	r.lost = b.Dropped.Events
	r.mu.Unlock()
}

// Stop ends the recording and returns the events in emission order and
// how many the subscription had to drop.
func (r *Recorder) Stop() (events []fleet.Event, dropped uint64) {
	close(r.stop)
	<-r.done
	r.sub.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events, r.lost
}
