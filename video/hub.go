package video

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"

	"github.com/burgut-uav/burgut/fleet"
)

// Config tunes the relay. The zero value of a field selects its default.
type Config struct {
	// MaxViewers per stream (default 10): each viewer costs the station
	// the stream's bitrate in upload.
	MaxViewers int
	// Linger keeps a source open this long after its last viewer left, so
	// a page reload does not reconnect to the drone (default 10 s).
	Linger time.Duration
	// StallAfter marks a live stream stalled when no packet came for this
	// long (default 3 s).
	StallAfter time.Duration
	// UDPPorts "MIN-MAX" restricts the UDP ports WebRTC uses towards the
	// browsers, for a firewall between station and center ("" = any).
	UDPPorts string
	// PublicIPs, when the station is behind a 1:1 NAT, replace the host
	// candidates' addresses in the SDP answers (comma-separated).
	PublicIPs string
	// Sources are streams configured per vehicle, for cameras that do not
	// advertise themselves over MAVLink: "VEHICLE[/STREAM]=URI" (stream 1
	// by default), e.g. "uav-0041002a3334510c=rtsp://10.0.0.5:8554/main".
	// They join the vehicle's video list once the vehicle is known,
	// unless its camera advertises that stream_id itself.
	Sources []string
	// Record, when set, records every advertised stream (record.go).
	Record *RecordConfig
	// Log receives stream state changes and failures.
	Log *slog.Logger
	// PacketTrace, when set, is called once per packet handed to a viewer
	// with the time the relay took the packet from its source and the time
	// the viewer's WriteRTP returned (encrypted and given to the socket).
	// It exists so benchmarks can measure the latency the station itself
	// adds; nil (the default) costs one pointer test per packet.
	PacketTrace func(in, out time.Time)
}

// configured is one parsed Config.Sources entry.
type configured struct {
	key    Key
	stream fleet.VideoStream
}

// ParseSource parses a Config.Sources entry.
func ParseSource(s string) (Key, fleet.VideoStream, error) {
	lhs, uri, ok := strings.Cut(s, "=")
	if !ok || lhs == "" || uri == "" {
		return Key{}, fleet.VideoStream{}, fmt.Errorf("video source %q: want VEHICLE[/STREAM]=URI", s)
	}
	k := Key{Vehicle: lhs, StreamID: 1}
	if id, n, ok := strings.Cut(lhs, "/"); ok {
		x, err := strconv.ParseUint(n, 10, 8)
		if err != nil || id == "" {
			return Key{}, fleet.VideoStream{}, fmt.Errorf("video source %q: stream %q is not a number 0-255", s, n)
		}
		k = Key{Vehicle: id, StreamID: uint8(x)}
	}
	typ := ""
	switch {
	case strings.HasPrefix(uri, "rtsp://"), strings.HasPrefix(uri, "rtsps://"):
		typ = "rtsp"
	case strings.HasPrefix(uri, "udp://"), strings.HasPrefix(uri, "rtp://"):
		typ = "rtpudp"
	}
	if _, err := newSource(typ, uri); err != nil {
		return Key{}, fleet.VideoStream{}, fmt.Errorf("video source %q: %w", s, err)
	}
	return k, fleet.VideoStream{StreamID: k.StreamID, Name: "configured", URI: uri, Type: typ, Encoding: "h264", Running: true}, nil
}

func (c *Config) defaults() {
	if c.MaxViewers <= 0 {
		c.MaxViewers = 10
	}
	if c.Linger <= 0 {
		c.Linger = 10 * time.Second
	}
	if c.StallAfter <= 0 {
		c.StallAfter = 3 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if r := c.Record; r != nil {
		if r.MaxTotalBytes <= 0 {
			r.MaxTotalBytes = 4 << 30
		}
		if r.Segment <= 0 {
			r.Segment = time.Minute
		}
		if r.FFmpeg == "" {
			r.FFmpeg = "ffmpeg"
		}
	}
}

// ParsePortRange parses "MIN-MAX" ("" = no range).
func ParsePortRange(s string) (lo, hi uint16, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || y < x {
		return 0, 0, fmt.Errorf("UDP port range %q: want MIN-MAX, e.g. 50000-50100", s)
	}
	return uint16(x), uint16(y), nil
}

// Validate names the setting at fault.
func (c Config) Validate() error {
	if _, _, err := ParsePortRange(c.UDPPorts); err != nil {
		return err
	}
	for _, src := range c.Sources {
		if _, _, err := ParseSource(src); err != nil {
			return err
		}
	}
	for _, ip := range splitList(c.PublicIPs) {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("public IP %q: not an IP address", ip)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Fleet is what the hub needs of the fleet: the vehicles' advertised
// streams, and a way to show each stream's state in them.
type Fleet interface {
	Get(id string) (fleet.Vehicle, bool)
	List() []fleet.Vehicle
	Refresh(id string, lastHeard, now time.Time, fn func(v *fleet.Vehicle)) (fleet.Vehicle, []fleet.Event)
}

// Hub owns every relayed stream and the WebRTC side towards browsers.
type Hub struct {
	cfg   Config
	fleet Fleet
	log   *slog.Logger
	api   *webrtc.API

	sources []configured
	list    func() []fleet.Vehicle

	recording   atomic.Int64
	recordBytes atomic.Int64
	deleted     atomic.Uint64
	restarts    atomic.Uint64

	mu       sync.Mutex
	streams  map[Key]*Stream
	ctx      context.Context // set by Run; nil before and after
	stopping bool            // shutdown began: no new closer goroutines
	wg       sync.WaitGroup  // source goroutines
	closers  sync.WaitGroup  // PeerConnection.Close of removed viewers
}

// ErrNotRunning is returned for viewers arriving before Run or after it ended.
var ErrNotRunning = errors.New("video relay is not running")

// NewHub prepares the relay; nothing runs until Run.
func NewHub(cfg Config, fl Fleet) (*Hub, error) {
	if cfg.Record != nil {
		rc := *cfg.Record // defaults fill a copy, not the caller's
		cfg.Record = &rc
	}
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Record != nil {
		if cfg.Record.Dir == "" {
			return nil, errors.New("video recording: no directory")
		}
		if _, err := exec.LookPath(cfg.Record.FFmpeg); err != nil {
			return nil, fmt.Errorf("video recording needs ffmpeg (install Debian's ffmpeg, or drop --record-video): %w", err)
		}
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: h264Cap, PayloadType: 102}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("video: register H.264: %w", err)
	}
	// The station only sends: answer NACKs from a 256-packet history per
	// viewer (about a second at 2 Mbit/s; pion's default 1024 costs
	// ~1.2 MB per viewer), and send RTCP sender reports.
	ir := &interceptor.Registry{}
	resp, err := nack.NewResponderInterceptor(nack.ResponderSize(256))
	if err != nil {
		return nil, fmt.Errorf("video: NACK responder: %w", err)
	}
	ir.Add(resp)
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("video: RTCP reports: %w", err)
	}
	var se webrtc.SettingEngine
	// Loopback too: a browser on the station itself (and the tests) must
	// connect; mDNS off, the answers carry plain addresses.
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if lo, hi, _ := ParsePortRange(cfg.UDPPorts); lo != 0 {
		if err := se.SetEphemeralUDPPortRange(lo, hi); err != nil {
			return nil, fmt.Errorf("video: UDP ports %q: %w", cfg.UDPPorts, err)
		}
	}
	if ips := splitList(cfg.PublicIPs); len(ips) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: ips, AsCandidateType: webrtc.ICECandidateTypeHost}); err != nil {
			return nil, fmt.Errorf("video: public IPs %q: %w", cfg.PublicIPs, err)
		}
	}
	var sources []configured
	for _, src := range cfg.Sources {
		k, st, _ := ParseSource(src) // validated above
		sources = append(sources, configured{key: k, stream: st})
	}
	return &Hub{
		cfg:     cfg,
		sources: sources,
		list:    fl.List,
		fleet:   fl,
		log:     cfg.Log,
		api:     webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)),
		streams: map[Key]*Stream{},
	}, nil
}

var h264Cap = webrtc.RTPCodecCapability{
	MimeType:    webrtc.MimeTypeH264,
	ClockRate:   90000,
	SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	RTCPFeedback: []webrtc.RTCPFeedback{
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
	},
}

// Run serves viewers until ctx ends, then closes every viewer and source
// and waits for them.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.ctx != nil {
		h.mu.Unlock()
		return errors.New("video: Run called twice")
	}
	h.ctx = ctx
	h.mu.Unlock()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			h.shutdown()
			return nil
		case now := <-t.C:
			h.syncRecorders(ctx)
			h.tick(now, now.Sub(last))
			last = now
		}
	}
}

func (h *Hub) shutdown() {
	h.mu.Lock()
	h.stopping = true
	var pcs []*webrtc.PeerConnection
	for _, s := range h.streams {
		s.mu.Lock()
		for _, v := range s.viewers {
			if v.pc != nil {
				pcs = append(pcs, v.pc)
			}
			if v.stop != nil {
				v.stop()
			}
		}
		s.viewers = map[string]*viewer{}
		if s.cancel != nil {
			s.cancel()
			s.cancel = nil
		}
		s.mu.Unlock()
	}
	h.mu.Unlock()
	for _, pc := range pcs {
		_ = pc.Close() // closing; nothing to report to
	}
	h.wg.Wait()
	h.closers.Wait()
}

// tick marks stalled streams, closes sources nobody watched for Linger,
// computes bitrates and re-applies states the fleet lost (the ground
// station rewrites the video list when a camera re-advertises).
func (h *Hub) tick(now time.Time, dt time.Duration) {
	h.addConfigured()
	h.mu.Lock()
	streams := make([]*Stream, 0, len(h.streams))
	for _, s := range h.streams {
		streams = append(streams, s)
	}
	h.mu.Unlock()
	for _, s := range streams {
		b := s.bytesIn.Load()
		if dt > 0 {
			s.bitrate.Store(uint64(float64(b-s.lastBytes) * 8 / dt.Seconds()))
		}
		s.lastBytes = b
		s.mu.Lock()
		running := s.cancel != nil
		if running && len(s.viewers) == 0 && now.Sub(s.idleSince) >= h.cfg.Linger {
			s.cancel()
			s.cancel = nil
			running = false
		}
		s.mu.Unlock()
		st := s.currentState()
		switch {
		case !running && st != StateIdle:
			s.setState(StateIdle, "")
		case running && st == StateLive && now.Sub(time.Unix(0, s.lastPacket.Load())) > h.cfg.StallAfter:
			s.setState(StateStalled, "no video packets for "+h.cfg.StallAfter.String())
		default:
			h.publishState(s.key, st)
		}
	}
}

// addConfigured puts the configured sources into their vehicles' video
// lists where the camera does not advertise that stream itself.
func (h *Hub) addConfigured() {
	for _, c := range h.sources {
		v, ok := h.fleet.Get(c.key.Vehicle)
		if !ok || findStream(v.Video, c.key.StreamID) >= 0 {
			continue
		}
		h.fleet.Refresh(c.key.Vehicle, v.LastSeen, time.Now(), func(v *fleet.Vehicle) {
			if findStream(v.Video, c.key.StreamID) < 0 {
				v.Video = append(v.Video, c.stream)
			}
		})
	}
}

// publishState writes a stream's state into the vehicle's video list,
// when it differs (so no event is raised for nothing).
func (h *Hub) publishState(k Key, st State) {
	v, ok := h.fleet.Get(k.Vehicle)
	if !ok {
		return
	}
	i := findStream(v.Video, k.StreamID)
	if i < 0 || v.Video[i].State == string(st) {
		return
	}
	h.fleet.Refresh(k.Vehicle, v.LastSeen, time.Now(), func(v *fleet.Vehicle) {
		if i := findStream(v.Video, k.StreamID); i >= 0 {
			v.Video[i].State = string(st)
		}
	})
}

func findStream(vs []fleet.VideoStream, id uint8) int {
	for i, s := range vs {
		if s.StreamID == id {
			return i
		}
	}
	return -1
}

// stream finds or creates the relay of a vehicle's advertised stream.
func (h *Hub) stream(k Key) (*Stream, error) {
	h.addConfigured()
	v, ok := h.fleet.Get(k.Vehicle)
	if !ok {
		return nil, errNoVehicle
	}
	i := findStream(v.Video, k.StreamID)
	if i < 0 {
		return nil, errNoStream
	}
	info := v.Video[i]
	info.State = ""
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.streams[k]
	if !ok {
		s = &Stream{hub: h, key: k, viewers: map[string]*viewer{}, state: StateIdle}
		h.streams[k] = s
	}
	s.mu.Lock()
	if s.info != info {
		if s.info.URI != "" && s.info.URI != info.URI && s.cancel != nil {
			s.cancel() // the camera moved its stream: reopen at the new place
			s.cancel = nil
		}
		s.info = info
	}
	s.mu.Unlock()
	return s, nil
}

var (
	errNoVehicle = errors.New("no such vehicle")
	errNoStream  = errors.New("no such video stream")
	errFull      = errors.New("viewer limit reached")
)

// addViewer attaches v to s, opening the source if none runs.
func (h *Hub) addViewer(s *Stream, v *viewer, recorder bool) error {
	h.mu.Lock()
	ctx := h.ctx
	h.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return ErrNotRunning
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !recorder && s.browsers() >= h.cfg.MaxViewers {
		return errFull
	}
	s.viewers[v.id] = v
	if s.cancel == nil {
		sctx, cancel := context.WithCancel(ctx)
		s.cancel = cancel
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			s.runSource(sctx)
		}()
	}
	return nil
}

// removeViewer detaches and closes a viewer; false if it was not there.
func (h *Hub) removeViewer(s *Stream, id string) bool {
	if id == recorderID {
		return false // not a session: only removeRecorder ends it
	}
	s.mu.Lock()
	v, ok := s.viewers[id]
	if ok {
		delete(s.viewers, id)
		if len(s.viewers) == 0 {
			s.idleSince = time.Now()
		}
	}
	s.mu.Unlock()
	if ok && v.pc == nil {
		return ok // the recorder is ended by removeRecorder, not here
	}
	if ok {
		// Close waits for the connection's own goroutines, and this may run
		// in one of its callbacks: close from a goroutine the hub waits for.
		h.mu.Lock()
		if h.stopping {
			h.mu.Unlock()
			_ = v.pc.Close() // shutdown waits for nothing else now
			return true
		}
		h.closers.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.closers.Done()
			_ = v.pc.Close() // ending the session; nothing to report to
		}()
	}
	return ok
}

// browsers counts the WebRTC viewers (not the recorder); s.mu held.
func (s *Stream) browsers() int {
	n := len(s.viewers)
	if _, ok := s.viewers[recorderID]; ok {
		n--
	}
	return n
}

// StreamStats is one stream's counters, for /metrics and the benchmarks.
type StreamStats struct {
	Vehicle    string
	StreamID   uint8
	State      State
	Viewers    int
	Opens      uint64 // times the source was opened (one per viewer burst, not per viewer)
	PacketsIn  uint64
	BytesIn    uint64
	BytesOut   uint64 // to all viewers
	BitrateBps uint64 // incoming, over the last second
	Skipped    uint64 // packets not sent to a viewer waiting for a keyframe
	WriteErrs  uint64
}

// Stats lists every stream the hub has relayed, sorted.
func (h *Hub) Stats() []StreamStats {
	h.mu.Lock()
	out := make([]StreamStats, 0, len(h.streams))
	for k, s := range h.streams {
		s.mu.Lock()
		n := s.browsers()
		s.mu.Unlock()
		out = append(out, StreamStats{
			Vehicle: k.Vehicle, StreamID: k.StreamID, State: s.currentState(), Viewers: n,
			Opens: s.opens.Load(), PacketsIn: s.packetsIn.Load(), BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
			BitrateBps: s.bitrate.Load(), Skipped: s.skipped.Load(), WriteErrs: s.writeErrs.Load(),
		})
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Vehicle != out[j].Vehicle {
			return out[i].Vehicle < out[j].Vehicle
		}
		return out[i].StreamID < out[j].StreamID
	})
	return out
}
