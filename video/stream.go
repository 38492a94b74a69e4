package video

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/burgut-uav/burgut/fleet"
)

// State is a stream's condition as the vehicle's video list shows it.
type State string

// Stream states.
const (
	StateIdle       State = "idle"       // nobody watches; the source is closed
	StateConnecting State = "connecting" // opening the source, no packet yet
	StateLive       State = "live"       // packets are flowing
	StateStalled    State = "stalled"    // open, but no packet for Config.StallAfter
	StateFailed     State = "failed"     // the source failed; retried with backoff
)

// Key names one stream: a vehicle and the stream_id of its video list.
type Key struct {
	Vehicle  string
	StreamID uint8
}

// maxCachePackets bounds the keyframe cache: a keyframe larger than this
// many packets (~600 KB) is not cached; viewers then wait for the next.
const maxCachePackets = 512

// Stream is one upstream shared by every viewer of a vehicle's stream.
type Stream struct {
	hub *Hub
	key Key

	mu        sync.Mutex
	info      fleet.VideoStream
	viewers   map[string]*viewer
	state     State
	lastErr   string
	cancel    context.CancelFunc // the running source; nil when idle
	idleSince time.Time          // when the last viewer left (linger)
	requestKF func()             // PLI upstream, when the source supports it
	lastKFReq time.Time

	// Only the source goroutine touches these (one source runs at a time).
	ssrc      uint32
	haveSSRC  bool
	tsOff     uint32
	lastTS    uint32
	cache     []*rtp.Packet
	cacheTS   uint32
	building  bool
	sps, pps  []byte
	stateSeen atomic.Value // State, read without the lock on the hot path

	opens, packetsIn, bytesIn, bytesOut, skipped, writeErrs atomic.Uint64
	lastPacket                                              atomic.Int64 // unix nanos
	bitrate                                                 atomic.Uint64
	lastBytes                                               uint64 // hub tick only
}

// viewer is one browser's PeerConnection on a stream.
type viewer struct {
	id    string
	pc    *webrtc.PeerConnection // nil for the recorder
	track interface{ WriteRTP(*rtp.Packet) error }
	stop  func()      // ends the recorder's ffmpeg (nil for browsers)
	ready atomic.Bool // connected: packets written now reach the browser

	// Source goroutine only.
	primed bool   // the cached keyframe was sent
	gated  bool   // waiting for a keyframe before sending live packets
	seq    uint16 // the viewer's own sequence numbers: contiguous whatever is skipped
}

func (s *Stream) setState(st State, errText string) {
	s.mu.Lock()
	changed := s.state != st || s.lastErr != errText
	s.state, s.lastErr = st, errText
	s.mu.Unlock()
	s.stateSeen.Store(st)
	if changed {
		if st == StateFailed {
			s.hub.log.Warn("video stream failed", "vehicle", s.key.Vehicle, "stream", s.key.StreamID, "err", errText)
		} else {
			s.hub.log.Info("video stream", "vehicle", s.key.Vehicle, "stream", s.key.StreamID, "state", st)
		}
		s.hub.publishState(s.key, st)
	}
}

func (s *Stream) currentState() State {
	if v, ok := s.stateSeen.Load().(State); ok {
		return v
	}
	return StateIdle
}

// runSource opens the source and keeps it open, restarting it with
// backoff (0.5 s doubling to 10 s; reset after a minute of good running)
// until ctx ends.
func (s *Stream) runSource(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for {
		s.mu.Lock()
		info := s.info
		s.mu.Unlock()
		s.setState(StateConnecting, "")
		src, err := newSource(info.Type, info.URI)
		if err == nil {
			s.opens.Add(1)
			s.hub.log.Info("video source opening", "vehicle", s.key.Vehicle, "stream", s.key.StreamID, "uri", hostOf(info.URI))
			start := time.Now()
			err = src.run(ctx, s)
			if time.Since(start) > time.Minute {
				backoff = 500 * time.Millisecond
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.setState(StateFailed, err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (s *Stream) params(sps, pps []byte) {
	s.sps, s.pps = append([]byte(nil), sps...), append([]byte(nil), pps...)
}

func (s *Stream) keyframeRequester(fn func()) {
	s.mu.Lock()
	s.requestKF = fn
	s.mu.Unlock()
}

// requestKeyframe asks the source for a keyframe (at most once a second):
// a new viewer or a browser's PLI.
func (s *Stream) requestKeyframe() {
	s.mu.Lock()
	fn := s.requestKF
	if fn == nil || time.Since(s.lastKFReq) < time.Second {
		s.mu.Unlock()
		return
	}
	s.lastKFReq = time.Now()
	s.mu.Unlock()
	fn()
}

// packet takes one RTP packet from the source and sends it to every viewer.
func (s *Stream) packet(p *rtp.Packet) {
	now := time.Now()
	s.lastPacket.Store(now.UnixNano())
	s.packetsIn.Add(1)
	s.bytesIn.Add(uint64(len(p.Payload) + 12))
	if s.currentState() != StateLive {
		s.setState(StateLive, "")
	}
	// Keep timestamps moving forward when the sender restarts (new SSRC,
	// new random timestamp base): the browser's jitter buffer would
	// otherwise hold or drop the new frames.
	if !s.haveSSRC || p.SSRC != s.ssrc {
		if s.haveSSRC {
			s.tsOff = s.lastTS + 3000 - p.Timestamp // one frame at 30 fps later
		}
		s.ssrc, s.haveSSRC = p.SSRC, true
		s.cache, s.building = nil, false
	}
	out := *p
	out.Timestamp = p.Timestamp + s.tsOff
	s.lastTS = out.Timestamp

	ni := inspectH264(p.Payload)
	keyStart := (ni.sps || ni.idr) && !(s.building && out.Timestamp == s.cacheTS)
	var pre []*rtp.Packet
	if keyStart {
		if !ni.sps && s.sps != nil {
			// The keyframe carries no parameter sets (they came in the SDP):
			// send them in band first, so any viewer can start here.
			for _, ps := range [][]byte{s.sps, s.pps} {
				pre = append(pre, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: p.PayloadType, Timestamp: out.Timestamp, SSRC: p.SSRC}, Payload: ps})
			}
		}
		s.cache = append([]*rtp.Packet(nil), pre...)
		s.cacheTS, s.building = out.Timestamp, true
	} else if s.building && out.Timestamp != s.cacheTS {
		s.building = false // the keyframe is complete
	}
	if s.building {
		if len(s.cache) < maxCachePackets {
			c := out
			c.Payload = append([]byte(nil), p.Payload...)
			s.cache = append(s.cache, &c)
		} else {
			s.cache, s.building = nil, false
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.viewers {
		if !v.ready.Load() {
			continue
		}
		if !v.primed {
			v.primed = true
			if len(s.cache) > 0 {
				for _, c := range s.cache {
					s.write(v, c)
				}
				// Mid-keyframe: the cache ends with this packet, the rest
				// follows live. Otherwise skip to the next keyframe, the
				// frames in between refer to ones this viewer never got.
				v.gated = !s.building
				if s.building {
					continue
				}
			} else {
				v.gated = true
			}
		}
		if v.gated {
			if !keyStart {
				s.skipped.Add(1)
				continue
			}
			v.gated = false
		}
		for _, c := range pre {
			s.write(v, c)
		}
		s.write(v, &out)
		if tr := s.hub.cfg.PacketTrace; tr != nil {
			tr(now, time.Now())
		}
	}
}

func (s *Stream) write(v *viewer, p *rtp.Packet) {
	o := *p
	o.SequenceNumber = v.seq
	v.seq++
	if err := v.track.WriteRTP(&o); err != nil {
		s.writeErrs.Add(1)
		return
	}
	s.bytesOut.Add(uint64(len(o.Payload) + 12))
}
