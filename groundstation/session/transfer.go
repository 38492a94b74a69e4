package session

import (
	"context"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// transfer is one mission-protocol exchange (upload, download, clear, set
// current) written as a state machine: it reacts to the vehicle's messages
// and to its own deadline and never blocks, sleeps or reads a clock, so
// Vehicle.run can drive it on any Clock and a test can drive it on a
// virtual one. Errors it returns are not wrapped; the operation wraps them.
type transfer interface {
	// start sends the opening request.
	start(now time.Time) error
	// handle takes one message the transfer's waiter accepted; done ends
	// the transfer with err (nil = success).
	handle(msg message.Message, now time.Time) (done bool, err error)
	// timeout is called once the deadline has passed.
	timeout(now time.Time) (done bool, err error)
	// deadline is when timeout is due next.
	deadline() time.Time
	// cancelled tells the vehicle the transfer was abandoned (best effort).
	cancelled()
}

// run drives tr until it finishes, ctx is cancelled (tr.cancelled is
// called, ctx.Err returned) or the session closes (ErrClosed). Messages
// already queued are handled before the deadline is looked at, so a
// burst of replies is never mistaken for silence, and with a virtual
// clock nothing depends on goroutine scheduling.
func (v *Vehicle) run(ctx context.Context, w *waiter, tr transfer) error {
	if err := tr.start(v.clock.Now()); err != nil {
		return err
	}
	timer := v.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if err := ctx.Err(); err != nil {
			tr.cancelled()
			return err
		}
		var msg message.Message
		select {
		case <-v.done:
			return ErrClosed
		case msg = <-w.ch:
		default:
		}
		var done bool
		var err error
		if msg == nil {
			timer.Reset(tr.deadline().Sub(v.clock.Now()))
			select {
			case <-ctx.Done():
				continue
			case <-v.done:
				return ErrClosed
			case <-timer.C():
				done, err = tr.timeout(v.clock.Now())
			case msg = <-w.ch:
			}
		}
		if msg != nil {
			done, err = tr.handle(msg, v.clock.Now())
		}
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// exchangeTransfer sends one idempotent request and waits for a reply
// that settles it, resending on each MissionItemTimeout up to
// MissionRetries times (clear, set current): a resend after a late reply
// must be harmless.
type exchangeTransfer struct {
	v        *Vehicle
	msg      message.Message
	settle   func(message.Message) (bool, error)
	attempts int
	due      time.Time
}

func (x *exchangeTransfer) send(now time.Time) error {
	x.attempts++
	x.due = now.Add(x.v.opts.MissionItemTimeout)
	return x.v.sendMsg(x.msg)
}

func (x *exchangeTransfer) start(now time.Time) error { return x.send(now) }
func (x *exchangeTransfer) deadline() time.Time       { return x.due }
func (x *exchangeTransfer) cancelled()                {}

func (x *exchangeTransfer) handle(msg message.Message, _ time.Time) (bool, error) {
	return x.settle(msg)
}

func (x *exchangeTransfer) timeout(now time.Time) (bool, error) {
	if now.Before(x.due) {
		return false, nil
	}
	if x.attempts > x.v.opts.MissionRetries {
		return true, errNoReply
	}
	return false, x.send(now)
}
