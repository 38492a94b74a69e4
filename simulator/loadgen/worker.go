package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
)

// quantum is the wake-up grid: a worker sleeps until the next deadline
// rounded up to it, so 1,000 vehicles per worker cost 1,000 wake-ups/s,
// not 10,000, and sends stay within 1 ms of their deadline.
const quantum = time.Millisecond

// lateAfter is how far behind its deadline a slot counts as late.
const lateAfter = 10 * time.Millisecond

// worker sends the slots of its vehicles in deadline order and answers
// what they receive. It owns its vehicles' sockets between open and
// closeEpoll; only its goroutine touches its fields during run.
type worker struct {
	cfg      *Config
	vehicles []*vehicle // in phase order
	poller   poller     // its vehicles' sockets (sockets_linux.go)
	fw       *frame.Writer
	out      capture
	rbuf     []byte

	received, commands, sendErrors, lateSlots uint64
	maxLag                                    time.Duration
	lastErr                                   error
}

// capture is the frame writer's byte sink: the last encoded frame.
type capture struct{ b []byte }

func (c *capture) Write(p []byte) (int, error) {
	c.b = append(c.b[:0], p...)
	return len(p), nil
}

func (w *worker) open() error {
	if err := w.poller.open(w.vehicles); err != nil {
		return err
	}
	w.fw = &frame.Writer{ByteWriter: &w.out, DialectRW: dialectRW}
	if err := w.fw.Initialize(); err != nil {
		return fmt.Errorf("frame writer: %w", err)
	}
	for _, v := range w.vehicles {
		v.sw = &streamwriter.Writer{FrameWriter: w.fw, Version: streamwriter.V2, SystemID: v.sysid, ComponentID: 1}
		if err := v.sw.Initialize(); err != nil {
			return fmt.Errorf("stream writer: %w", err)
		}
	}
	w.rbuf = make([]byte, 2048)
	return nil
}

func (w *worker) closeEpoll() { w.poller.close() }

// run sends every slot due before end (zero = until ctx ends). Deadlines
// are absolute (start + cycle×k + phase): a late wake-up sends everything
// due and the next sleep is shorter, so the long-run rate is exact.
func (w *worker) run(ctx context.Context, start, end time.Time) {
	if len(w.vehicles) == 0 {
		return
	}
	timer := time.NewTimer(time.Until(start))
	defer timer.Stop()
	var cycle int64
	j := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		w.poll()
		for {
			v := w.vehicles[j]
			due := start.Add(time.Duration(cycle)*Cycle + v.phase)
			if !end.IsZero() && !due.Before(end) {
				return // deadlines only grow from here
			}
			if due.After(now) {
				next := due.Sub(now)
				if r := next % quantum; r != 0 {
					next += quantum - r
				}
				timer.Reset(next)
				break
			}
			if lag := now.Sub(due); lag > w.maxLag {
				w.maxLag = lag
			}
			if now.Sub(due) > lateAfter {
				w.lateSlots++
			}
			w.sendSlot(v, cycle, start)
			if j++; j == len(w.vehicles) {
				j = 0
				cycle++
				now = time.Now()
				w.poll()
			}
		}
	}
}

// sendSlot sends vehicle v's messages of one cycle: GLOBAL_POSITION_INT
// every cycle, the others on their own cycles of the second (HEARTBEAT
// first, so a vehicle's first frame registers it).
func (w *worker) sendSlot(v *vehicle, cycle int64, start time.Time) {
	t := float64(cycle)*Cycle.Seconds() + v.phase.Seconds()
	bootMs := uint32(v.bootOffsetMs + uint64(t*1000))
	switch cycle % 10 {
	case 0:
		w.send(v, mHeartbeat, v.heartbeat())
	case 1, 6:
		w.send(v, mAttitude, v.attitude(t, bootMs))
	case 2, 7:
		w.send(v, mVfrHud, v.vfrHud(t))
	case 3:
		w.send(v, mSysStatus, v.sysStatus(t))
	case 5:
		w.send(v, mBattery, v.battery(t))
	case 8:
		w.send(v, mGPSRaw, v.gpsRaw(t, start))
	}
	msg := v.position(t, bootMs, cycle)
	// Taken before the send: taken after it, a worker descheduled right
	// after handing the datagram over stamped it late, and the station
	// seemed to receive it before it was sent.
	sentAt := time.Now()
	ok := w.send(v, mGlobalPosition, msg)
	if ok && v.index == 0 && w.cfg.Probe != nil {
		w.cfg.Probe(cycle, sentAt)
	}
}

// send encodes msg for v and hands it to the kernel; it counts the frame
// only if the kernel accepted it.
func (w *worker) send(v *vehicle, typ msgType, msg message.Message) bool {
	if err := v.sw.Write(msg); err != nil {
		w.sendErrors++
		w.noteErr(err)
		return false
	}
	if err := writeFD(v.fd, w.out.b); err != nil {
		w.sendErrors++
		w.noteErr(err)
		return false
	}
	v.sent[typ]++
	return true
}

func (w *worker) noteErr(err error) {
	if w.lastErr == nil || w.lastErr.Error() != err.Error() {
		w.cfg.Log.Warn("loadgen send failed", "error", err)
	}
	w.lastErr = err
}

// poll reads whatever arrived on any of the worker's sockets without
// blocking, answering commands addressed to a vehicle.
func (w *worker) poll() {
	w.poller.poll(w.rbuf, func(v *vehicle, b []byte) {
		w.received++
		w.handle(v, b)
	})
}

// handle answers a COMMAND_LONG (message 76) addressed to v: parsed by
// hand from the MAVLink 2 frame, as it is the only message that needs an
// answer and decoding every station heartbeat would be wasted work.
func (w *worker) handle(v *vehicle, b []byte) {
	for len(b) >= 12 {
		if b[0] != 0xFD {
			return
		}
		plen := int(b[1])
		size := 12 + plen
		if b[2]&0x01 != 0 {
			size += 13
		}
		if len(b) < size {
			return
		}
		msgID := uint32(b[7]) | uint32(b[8])<<8 | uint32(b[9])<<16
		if msgID == 76 {
			var p [33]byte // payload, zero-extended (MAVLink 2 truncates trailing zeros)
			copy(p[:], b[10:10+plen])
			if p[30] == v.sysid && (p[31] == 0 || p[31] == 1) {
				w.commands++
				w.answer(v, p, b[5], b[6])
			}
		}
		b = b[size:]
	}
}

func (w *worker) answer(v *vehicle, p [33]byte, fromSys, fromComp byte) {
	cmd := uint16(p[28]) | uint16(p[29])<<8
	param1 := f32(p[0:4])
	w.send(v, mCommandAck, &common.MessageCommandAck{
		Command: common.MAV_CMD(cmd), Result: common.MAV_RESULT_ACCEPTED,
		TargetSystem: fromSys, TargetComponent: fromComp,
	})
	if cmd == uint16(common.MAV_CMD_REQUEST_MESSAGE) && param1 == 148 {
		w.send(v, mAutopilotVersion, v.autopilotVersion())
	}
}
