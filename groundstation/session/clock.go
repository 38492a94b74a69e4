package session

import (
	"context"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// Clock is the time source of every session operation (Options.Clock). The
// real clock is the default; tests drive a virtual one so that timeouts
// fire when the test decides, not when a loaded machine gets round to it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the sessions use. Reset discards a
// tick that was not received (Go ≥ 1.23 semantics), so no draining.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration) bool
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) NewTimer(d time.Duration) Timer         { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
func (r realTimer) Stop() bool                 { return r.t.Stop() }

// next waits on the session's clock for the next message w accepted or
// for due, whichever comes first: it returns the message, or nil once due
// has passed. A message already queued is returned before the deadline is
// looked at (a burst of replies is never mistaken for silence), and timer
// is re-armed right before every wait, which is when a virtual clock
// lets time move. ctx and Close end the wait with ctx.Err / ErrClosed.
// It is the wait of the operations that are loops rather than transfers
// (commands, parameters); timer comes from v.clock.NewTimer.
func (v *Vehicle) next(ctx context.Context, w *waiter, timer Timer, due time.Time) (message.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-v.done:
		return nil, ErrClosed
	case msg := <-w.ch:
		return msg, nil
	default:
	}
	timer.Reset(due.Sub(v.clock.Now()))
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-v.done:
		return nil, ErrClosed
	case msg := <-w.ch:
		return msg, nil
	case <-timer.C():
		return nil, nil
	}
}

// stoppedTimer returns a timer of v's clock that fires only after
// Reset.
func (v *Vehicle) stoppedTimer() Timer {
	t := v.clock.NewTimer(time.Hour)
	t.Stop()
	return t
}
