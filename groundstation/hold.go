package groundstation

import (
	"bytes"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
)

// Frames heard before their system's first HEARTBEAT.
//
// A system becomes a vehicle on its first autopilot HEARTBEAT (classify);
// until then the station cannot tell a vehicle from another station or a
// companion computer, and its frames used to be counted as unattached and
// dropped. A vehicle heard by a station that has just started — or
// restarted, with the vehicle flying on — sends positions before its next
// HEARTBEAT (1 Hz on ArduCopter; the simulator above 5x real time sends
// HEARTBEAT at most 5 times a wall second and GLOBAL_POSITION_INT every
// tick), and every one of them was lost: the station-restart scenario's
// stored tracks came up 1-7 positions per vehicle short of what was sent
// after the restart. They are held now, per system and component, until
// the HEARTBEAT says what sent them (release): a vehicle's are handled
// before its HEARTBEAT, in the order received; another station's are
// counted unattached then. Frames of a system silent on HEARTBEAT for
// unheardHold are counted unattached at the link's next tick
// (expireUnheard), as are frames past the bounds.

// unheardHold is how long frames wait for their system's HEARTBEAT: two
// periods of MAVLink's 1 Hz heartbeat.
const unheardHold = 2 * time.Second

// Bounds of the hold: frames per component (~2 s of a vehicle streaming
// 60 messages a second) and components per link (a fleet of 250 vehicles
// per link switched on at once, twice over; at most ~10 MB).
const (
	maxUnheardFrames = 128
	maxUnheardComps  = 512
)

// heldFrame is a frame of a component not classified yet, with its
// channel and raw bytes (copied).
type heldFrame struct {
	f   frame.Frame
	ch  *gomavlib.Channel
	raw []byte
	at  time.Time
}

// hold keeps a frame of an unclassified component until its HEARTBEAT
// (under the link's lock); past the bounds it is counted unattached.
func (ln *linkRT) hold(key vkey, f frame.Frame, ch *gomavlib.Channel, raw []byte, at time.Time) {
	h, ok := ln.unheard[key]
	if !ok && len(ln.unheard) >= maxUnheardComps || len(h) >= maxUnheardFrames {
		ln.unattachedFrame(f, raw, at)
		return
	}
	ln.unheard[key] = append(h, heldFrame{f: f, ch: ch, raw: bytes.Clone(raw), at: at})
}

// release handles what a component sent before it was classified as c:
// attached to its vehicle, or counted unattached when c is ignored.
func (ln *linkRT) release(key vkey, c *compRec) {
	held, ok := ln.unheard[key]
	if !ok {
		return
	}
	delete(ln.unheard, key)
	for _, h := range held {
		if c.role == roleIgnored {
			ln.unattachedFrame(h.f, h.raw, h.at)
			continue
		}
		ln.attach(c, h.f, h.ch, h.raw, h.at)
	}
}

// expireUnheard counts unattached the frames held longer than
// unheardHold (under the link's lock, at a tick).
func (ln *linkRT) expireUnheard(now time.Time) {
	for key, held := range ln.unheard {
		n := 0
		for n < len(held) && now.Sub(held[n].at) >= unheardHold {
			ln.unattachedFrame(held[n].f, held[n].raw, held[n].at)
			n++
		}
		if n == len(held) {
			delete(ln.unheard, key)
		} else if n > 0 {
			ln.unheard[key] = append(held[:0], held[n:]...)
		}
	}
}
