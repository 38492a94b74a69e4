package groundstation

import (
	"sync"
	"time"

	"github.com/burgut-uav/burgut/fleet"
)

// transferSteps bounds how many progress states one upload publishes: the
// vehicle's state is published every total/transferSteps items (and at
// the first and last), so a 700-item mission costs ~50 publishes, not 700,
// while a console still sees it advance.
const transferSteps = 50

// transferState publishes an upload's advance on the vehicle's state
// (fleet.Vehicle.Transfer) for consoles to follow: the items the vehicle
// confirmed per attempt, the read-back, and the verdict with the reason
// of a failure. The session reports progress from its own goroutine, so
// the state is locked.
type transferState struct {
	fl *fleet.Fleet
	id string

	mu   sync.Mutex
	t    fleet.Transfer
	sent int // Done when last published
}

func newTransferState(fl *fleet.Fleet, vehicleID, typ string, total int) *transferState {
	return &transferState{fl: fl, id: vehicleID, t: fleet.Transfer{Type: typ, Total: total, Started: time.Now()}}
}

func (s *transferState) publishLocked() {
	s.sent = s.t.Done
	s.fl.SetTransfer(s.id, s.t)
}

// attempt starts attempt a: nothing confirmed yet.
func (s *transferState) attempt(a int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Phase, s.t.Attempt, s.t.Done, s.t.Error = fleet.TransferUploading, a, 0, ""
	s.publishLocked()
}

// progress is the session's report: done of total items sent.
func (s *transferState) progress(done, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Done, s.t.Total = done, total
	if done == total || done-s.sent >= max(1, total/transferSteps) {
		s.publishLocked()
	}
}

// verifying says the list went through and is being read back.
func (s *transferState) verifying() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Phase, s.t.Done = fleet.TransferVerifying, s.t.Total
	s.publishLocked()
}

// end publishes the verdict: phase verified, uploaded or failed (err).
func (s *transferState) end(phase string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Phase = phase
	if err != nil {
		s.t.Error = err.Error()
	} else {
		s.t.Done = s.t.Total
	}
	s.publishLocked()
}
