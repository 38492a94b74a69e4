package session

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// CommandRequest is one MAV_CMD to send, as COMMAND_LONG or COMMAND_INT.
type CommandRequest struct {
	Command uint16     // MAV_CMD
	Params  [7]float32 // COMMAND_LONG params 1..7 (COMMAND_INT uses 1..4)
	// Int sends COMMAND_INT: Frame, X (lat ×1e7), Y (lon ×1e7), Z replace params 5..7.
	Int             bool
	Frame           uint8
	X, Y            int32
	Z               float32
	TargetComponent uint8 // 0 = the session's target component
}

// CommandResult is what the vehicle answered. A non-ACCEPTED Result is not
// an error: the caller decides (the HTTP API returns it with its MAV_RESULT).
type CommandResult struct {
	Result       uint8  // MAV_RESULT
	ResultName   string // "ACCEPTED", "DENIED", …
	Progress     uint8  // last IN_PROGRESS percentage
	ResultParam2 int32
	Attempts     int
	// Texts are the STATUSTEXTs the vehicle sent while the command was
	// pending and, after a refusal, within Options.RefusalTextWindow
	// (ArduCopter explains a refusal just after its COMMAND_ACK, e.g.
	// "Arm: AUTO mode not armable"). Text is them joined by "; ".
	Texts []string
	Text  string
}

// Accepted reports whether the vehicle accepted the command.
func (r CommandResult) Accepted() bool { return r.Result == uint8(common.MAV_RESULT_ACCEPTED) }

const resultInProgress = uint8(common.MAV_RESULT_IN_PROGRESS)

// Command sends req and waits for the COMMAND_ACK with the same command id.
// Without an ACK within CommandTimeout it resends with the confirmation
// field incremented, up to CommandRetries times, then returns ErrTimeout
// (wrapped) with the attempts made. An IN_PROGRESS ACK stops the resending
// (the vehicle has the command; sending it again would start it again) and
// extends the wait by CommandProgressTimeout per progress report.
//
// Whatever ACK arrives first for this command id ends the wait, even if it
// answers an earlier attempt: a late ACK never causes another send, and
// ACKs arriving after the result are dropped. A second Command with the same
// MAV_CMD while this one is pending returns ErrBusy.
func (v *Vehicle) Command(ctx context.Context, req CommandRequest) (CommandResult, error) {
	res := CommandResult{}
	v.mu.Lock()
	if v.commands[req.Command] {
		v.mu.Unlock()
		return res, fmt.Errorf("command %d to vehicle %d: %w", req.Command, v.target.SystemID, ErrBusy)
	}
	v.commands[req.Command] = true
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		delete(v.commands, req.Command)
		v.mu.Unlock()
	}()

	w, unsubscribe, err := v.subscribeN(commandInbox, func(msg message.Message) bool {
		switch m := msg.(type) {
		case *common.MessageCommandAck:
			return uint16(m.Command) == req.Command
		case *common.MessageStatustext:
			return true
		}
		return false
	})
	if err != nil {
		return res, fmt.Errorf("command %d to vehicle %d: %w", req.Command, v.target.SystemID, err)
	}
	defer unsubscribe()

	var tc textCollector
	inProgress := false
	timer := v.stoppedTimer()
	defer timer.Stop()
	fail := func(err error) (CommandResult, error) {
		return res, fmt.Errorf("command %d to vehicle %d: %w", req.Command, v.target.SystemID, err)
	}
	var due time.Time
	for {
		if !inProgress {
			if res.Attempts > v.opts.CommandRetries {
				res.Texts = tc.result()
				res.Text = strings.Join(res.Texts, "; ")
				return fail(fmt.Errorf("no COMMAND_ACK after %d attempts: %w", res.Attempts, ErrTimeout))
			}
			if err := v.sendMsg(v.commandMessage(req, uint8(res.Attempts))); err != nil {
				return res, fmt.Errorf("command %d: %w", req.Command, err)
			}
			res.Attempts++
			due = v.clock.Now().Add(v.opts.CommandTimeout)
		}
	wait:
		for {
			msg, err := v.next(ctx, w, timer, due)
			if err != nil {
				return fail(err)
			}
			if msg == nil { // due
				if inProgress {
					res.Texts = tc.result()
					res.Text = strings.Join(res.Texts, "; ")
					return fail(fmt.Errorf("in progress (%d%%) but no further ACK: %w", res.Progress, ErrTimeout))
				}
				break wait
			}
			switch m := msg.(type) {
			case *common.MessageStatustext:
				tc.add(m)
			case *common.MessageCommandAck:
				if st := v.opts.StationSystemID; st != 0 && m.TargetSystem != 0 && m.TargetSystem != st {
					continue // answers another ground station's command
				}
				res.Result = uint8(m.Result)
				res.ResultName = ResultName(res.Result)
				res.ResultParam2 = m.ResultParam2
				if res.Result == resultInProgress {
					res.Progress = m.Progress
					inProgress = true
					due = v.clock.Now().Add(v.opts.CommandProgressTimeout)
					continue
				}
				if !res.Accepted() {
					v.refusalTexts(ctx, w, timer, &tc)
				}
				res.Texts = tc.result()
				res.Text = strings.Join(res.Texts, "; ")
				return res, nil
			}
		}
	}
}

// refusalTexts keeps collecting STATUSTEXT after a refusing ACK, for at
// most RefusalTextWindow, ending once texts are known and a fifth of the
// window has passed quietly. Other messages (late ACKs of earlier
// attempts) are dropped. Cancellation or Close end it early; the refusal
// is still the result.
func (v *Vehicle) refusalTexts(ctx context.Context, w *waiter, timer Timer, tc *textCollector) {
	window := v.opts.RefusalTextWindow
	if window <= 0 {
		return
	}
	now := v.clock.Now()
	end := now.Add(window)
	quiet := end // wait for the first text (or the whole window)
	if len(tc.texts) > 0 {
		quiet = now.Add(window / 5)
	}
	for {
		msg, err := v.next(ctx, w, timer, minTime(end, quiet))
		if err != nil || msg == nil {
			return
		}
		if m, ok := msg.(*common.MessageStatustext); ok {
			tc.add(m)
			quiet = v.clock.Now().Add(window / 5)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// textCollector gathers a vehicle's STATUSTEXTs in arrival order, joining
// the chunks of one long text (MAVLink 2 chunking: same non-zero id,
// chunk_seq counting up) back into one.
type textCollector struct {
	texts  []string
	lastID uint16 // id of the chunked text being assembled, 0 when none
}

func (c *textCollector) add(m *common.MessageStatustext) {
	if m.Id != 0 && m.Id == c.lastID && m.ChunkSeq > 0 && len(c.texts) > 0 {
		c.texts[len(c.texts)-1] += m.Text // a chunk may end in the space between two words
		return
	}
	c.lastID = m.Id
	if t := strings.TrimLeftFunc(m.Text, unicode.IsSpace); strings.TrimSpace(t) != "" {
		c.texts = append(c.texts, t)
	} else {
		c.lastID = 0
	}
}

// result is the texts collected so far, each trimmed.
func (c *textCollector) result() []string {
	out := make([]string, len(c.texts))
	for i, t := range c.texts {
		out[i] = strings.TrimSpace(t)
	}
	return out
}

func (v *Vehicle) commandMessage(req CommandRequest, confirmation uint8) message.Message {
	comp := req.TargetComponent
	if comp == 0 {
		comp = v.target.ComponentID
	}
	if req.Int {
		return &common.MessageCommandInt{
			TargetSystem: v.target.SystemID, TargetComponent: comp,
			Frame: common.MAV_FRAME(req.Frame), Command: common.MAV_CMD(req.Command),
			Param1: req.Params[0], Param2: req.Params[1], Param3: req.Params[2], Param4: req.Params[3],
			X: req.X, Y: req.Y, Z: req.Z,
		}
	}
	return &common.MessageCommandLong{
		TargetSystem: v.target.SystemID, TargetComponent: comp,
		Command: common.MAV_CMD(req.Command), Confirmation: confirmation,
		Param1: req.Params[0], Param2: req.Params[1], Param3: req.Params[2], Param4: req.Params[3],
		Param5: req.Params[4], Param6: req.Params[5], Param7: req.Params[6],
	}
}
