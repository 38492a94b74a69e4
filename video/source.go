package video

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// sink receives what a source reads. Calls come from one goroutine at a
// time (the stream runs one source at a time).
type sink interface {
	packet(p *rtp.Packet)
	// params gives the H.264 parameter sets a source learned out of band
	// (RTSP's SDP), so keyframes without in-band SPS/PPS still decode.
	params(sps, pps []byte)
	// keyframeRequester is set by sources that can ask the camera for a
	// keyframe (RTCP PLI); nil clears it.
	keyframeRequester(fn func())
}

// source reads one upstream until ctx ends (nil) or it fails (an error).
type source interface {
	run(ctx context.Context, s sink) error
}

// sourceKind names what kind of upstream a stream has: the MAVLink
// VIDEO_STREAM_TYPE name when given, else the URI's scheme.
func newSource(typ, uri string) (source, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("stream URI %q: %w", uri, err)
	}
	switch {
	case typ == "rtsp" || u.Scheme == "rtsp" || u.Scheme == "rtsps":
		if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
			return nil, fmt.Errorf("stream URI %q: type rtsp needs an rtsp:// URI", uri)
		}
		return &rtspSource{uri: uri}, nil
	case typ == "rtpudp" || (typ == "" && (u.Scheme == "udp" || u.Scheme == "rtp")):
		if u.Scheme != "udp" && u.Scheme != "rtp" {
			return nil, fmt.Errorf("stream URI %q: type rtpudp needs a udp://HOST:PORT URI", uri)
		}
		if u.Port() == "" {
			return nil, fmt.Errorf("stream URI %q: no port (the ArduPilot/QGC default is udp://0.0.0.0:5600)", uri)
		}
		return &udpRTPSource{addr: u.Host}, nil
	case typ == "mpeg-ts":
		if u.Scheme != "udp" || u.Port() == "" {
			return nil, fmt.Errorf("stream URI %q: type mpeg-ts needs a udp://HOST:PORT URI", uri)
		}
		return &mpegtsSource{addr: u.Host}, nil
	case typ == "tcp-mpeg":
		return nil, fmt.Errorf("stream type %s (%s): MPEG-TS over TCP is not relayed yet", typ, uri)
	}
	return nil, fmt.Errorf("stream %q of type %q: not a supported source (rtsp://…, or RTP H.264 on udp://HOST:PORT)", uri, typ)
}

// udpRTPSource listens where the camera sends RTP H.264 (the ArduPilot and
// QGroundControl convention: the ground station listens on UDP 5600). A
// sender that stops and starts again (a camera reboot) needs nothing: the
// socket stays open and the stream renumbers its packets.
type udpRTPSource struct {
	addr string
}

func (s *udpRTPSource) run(ctx context.Context, k sink) error {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", s.addr)
	if err != nil {
		return fmt.Errorf("listen for RTP on udp %s: %w", s.addr, err)
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(1 << 20) // a keyframe arrives as a burst
	}
	stop := context.AfterFunc(ctx, func() { pc.Close() })
	defer stop()
	defer pc.Close()
	k.keyframeRequester(nil)
	buf := make([]byte, 2048)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read RTP on udp %s: %w", s.addr, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil || p.Version != 2 {
			continue // not RTP; counted by nobody, the sender is not ours
		}
		p.Payload = append([]byte(nil), p.Payload...) // buf is reused
		k.packet(&p)
	}
}

// rtspSource plays an RTSP stream's H.264 track (gortsplib client, TCP
// interleaved so it crosses NAT and firewalls of a radio network).
type rtspSource struct {
	uri string
}

func (s *rtspSource) run(ctx context.Context, k sink) error {
	u, err := base.ParseURL(s.uri)
	if err != nil {
		return fmt.Errorf("rtsp URI %q: %w", s.uri, err)
	}
	proto := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto, ReadTimeout: 5 * time.Second}
	if err := c.Start(); err != nil {
		return fmt.Errorf("rtsp %s: %w", s.uri, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	desc, _, err := c.Describe(u)
	if err != nil {
		return fmt.Errorf("rtsp %s: describe: %w", s.uri, err)
	}
	var h264 *format.H264
	medi := desc.FindFormat(&h264)
	if medi == nil {
		return fmt.Errorf("rtsp %s: no H.264 track (only H.264 is relayed)", s.uri)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return fmt.Errorf("rtsp %s: setup: %w", s.uri, err)
	}
	if h264.SPS != nil && h264.PPS != nil {
		k.params(h264.SPS, h264.PPS)
	}
	c.OnPacketRTP(medi, h264, func(p *rtp.Packet) { k.packet(p) })
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("rtsp %s: play: %w", s.uri, err)
	}
	k.keyframeRequester(func() { requestPLI(c, medi) })
	defer k.keyframeRequester(nil)
	err = c.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = errors.New("closed by the server")
	}
	return fmt.Errorf("rtsp %s: %w", s.uri, err)
}

func requestPLI(c *gortsplib.Client, medi *description.Media) {
	// The SSRC is the camera's; 0 lets the server route it to the track.
	_ = c.WritePacketRTCP(medi, &rtcp.PictureLossIndication{}) // best effort: the cached keyframe covers a refusal
}

// hostOf is the host part of a URI, for logs that must not carry passwords.
func hostOf(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		return u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/")
	}
	return "?"
}

// mpegtsSource takes MPEG-TS over UDP (some digital links and encoders
// send it) through Debian's ffmpeg, which only remuxes the H.264 into RTP
// (-c copy, no re-encoding) towards a loopback port this source reads:
// a TS demuxer is not worth hand-writing for the odd camera that needs it.
type mpegtsSource struct {
	addr   string
	ffmpeg string // the binary; "" = ffmpeg on PATH
}

func (s *mpegtsSource) run(ctx context.Context, k sink) error {
	bin := s.ffmpeg
	if bin == "" {
		bin = "ffmpeg"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("MPEG-TS on udp %s needs ffmpeg to remux it: %w", s.addr, err)
	}
	out, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("MPEG-TS on udp %s: loopback socket: %w", s.addr, err)
	}
	defer out.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The station listens where the camera sends, like RTP on 5600.
	cmd := exec.CommandContext(cctx, bin, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-fflags", "nobuffer", "-i", fmt.Sprintf("udp://%s?fifo_size=1000000&overrun_nonfatal=1", s.addr),
		"-map", "0:v:0", "-c", "copy", "-f", "rtp", "-pkt_size", "1200",
		fmt.Sprintf("rtp://%s", out.LocalAddr()))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("MPEG-TS on udp %s: start ffmpeg: %w", s.addr, err)
	}
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		out.Close() // ends the read loop below
	}()
	k.keyframeRequester(nil)
	buf := make([]byte, 2048)
	for {
		n, _, err := out.ReadFrom(buf)
		if err != nil {
			cancel()
			werr := <-exited
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("MPEG-TS on udp %s: ffmpeg ended (%v): %s", s.addr, werr, strings.TrimSpace(stderr.String()))
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		p.Payload = append([]byte(nil), p.Payload...)
		k.packet(&p)
	}
}
