package video_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/video"
)

// ffmpegBin is Debian's ffmpeg, the real encoder of every source here.
func ffmpegBin(t *testing.T) string {
	t.Helper()
	if v := os.Getenv("BURGUT_TEST_FFMPEG"); v != "" {
		return v
	}
	if p, err := exec.LookPath("ffmpeg"); err == nil {
		return p
	}
	return testenv.Service(t, "BURGUT_TEST_FFMPEG") // skips, or fails under make test
}

// startFFmpeg encodes a test pattern as RTP H.264 to 127.0.0.1:port until
// the returned stop is called (or the test ends).
func startFFmpeg(t *testing.T, port int) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ffmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-g", "10", "-x264-params", "repeat-headers=1",
		"-f", "rtp", "-payload_type", "96", "-pkt_size", "1200", fmt.Sprintf("rtp://127.0.0.1:%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait() // killed on purpose
		})
	}
	t.Cleanup(stop)
	return stop
}

type relay struct {
	hub   *video.Hub
	fleet *fleet.Fleet
	srv   *httptest.Server
}

// startRelay runs a hub over a real fleet holding one vehicle "uav-1"
// whose camera advertises stream 1 at uri.
func startRelay(t *testing.T, typ, uri string, cfg video.Config) *relay {
	t.Helper()
	fl := fleet.New(fleet.DefaultConfig())
	fl.Update("uav-1", time.Now(), func(v *fleet.Vehicle) {
		v.Video = []fleet.VideoStream{{CameraID: 100, StreamID: 1, Name: "cam", URI: uri, Type: typ, Encoding: "h264", Running: true}}
	})
	return startRelayOn(t, fl, cfg)
}

func startRelayOn(t testing.TB, fl *fleet.Fleet, cfg video.Config) *relay {
	t.Helper()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := video.NewHub(cfg, fl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	mux := httpapi.NewMux()
	hub.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	})
	return &relay{hub: hub, fleet: fl, srv: srv}
}

func (r *relay) stats(t *testing.T) video.StreamStats {
	t.Helper()
	for _, s := range r.hub.Stats() {
		if s.Vehicle == "uav-1" && s.StreamID == 1 {
			return s
		}
	}
	return video.StreamStats{}
}

func (r *relay) state() string {
	v, _ := r.fleet.Get("uav-1")
	if len(v.Video) == 0 {
		return ""
	}
	return v.Video[0].State
}

// viewer is a WebRTC client as a browser is: it offers to receive H.264,
// posts the offer to the WHEP route and counts what arrives.
type viewer struct {
	pc       *webrtc.PeerConnection
	location string
	packets  atomic.Int64
	first    atomic.Value // the NAL type of the first payload received
	keyAfter atomic.Int64 // packets carrying SPS or IDR
}

func watch(t *testing.T, base string) *viewer {
	t.Helper()
	return watchPath(t, base, "/api/v1/vehicles/uav-1/video/1/whep", nil)
}

// watchPath is watch for any stream; onPacket, if set, sees every packet.
func watchPath(t testing.TB, base, path string, onPacket func(p *rtp.Packet)) *viewer {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	v := &viewer{pc: pc}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if onPacket != nil {
				onPacket(p)
			}
			if len(p.Payload) == 0 {
				continue
			}
			n := p.Payload[0] & 0x1f
			if n == 28 && len(p.Payload) > 1 {
				n = p.Payload[1] & 0x1f
			}
			v.first.CompareAndSwap(nil, n)
			if n == 5 || n == 7 {
				v.keyAfter.Add(1)
			}
			v.packets.Add(1)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	resp, err := http.Post(base+path, "application/sdp", strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP POST = %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Fatalf("WHEP answer Content-Type %q", ct)
	}
	v.location = resp.Header.Get("Location")
	if !strings.HasPrefix(v.location, path+"/") {
		t.Fatalf("WHEP Location %q", v.location)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	return v
}

// startsWithKeyframe: what a viewer receives first is SPS or an IDR, never
// a frame that refers to ones it did not get.
func (v *viewer) startsWithKeyframe(t *testing.T) {
	t.Helper()
	if n, _ := v.first.Load().(uint8); n != 7 && n != 5 && n != 24 {
		t.Errorf("first packet carried NAL type %d, want SPS (7), IDR (5) or a STAP-A of them (24)", n)
	}
}

func TestUDPRTPStreamReachesThreeViewersFromOneUpstream(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	stop := startFFmpeg(t, port)
	r := startRelay(t, "rtpudp", fmt.Sprintf("udp://127.0.0.1:%d", port), video.Config{})
	var vs []*viewer
	for range 3 {
		vs = append(vs, watch(t, r.srv.URL))
	}
	for i, v := range vs {
		testenv.Eventually(t, 30*time.Second, fmt.Sprintf("viewer %d to receive 50 packets", i), func() bool { return v.packets.Load() >= 50 })
		v.startsWithKeyframe(t)
	}
	st := r.stats(t)
	if st.Opens != 1 || st.Viewers != 3 {
		t.Fatalf("after 3 viewers: source opened %d times with %d viewers, want once with 3", st.Opens, st.Viewers)
	}
	testenv.Eventually(t, 10*time.Second, "state live in the vehicle's video list", func() bool { return r.state() == "live" })
	if st.BytesOut < 3*st.BytesIn/2 {
		t.Errorf("sent %d bytes to 3 viewers of %d received: fan-out missing", st.BytesOut, st.BytesIn)
	}

	// The camera reboots: a new encoder (new SSRC, timestamps, sequence
	// numbers) on the same port. Every viewer keeps receiving.
	stop()
	before := make([]int64, len(vs))
	for i, v := range vs {
		before[i] = v.packets.Load()
	}
	testenv.Eventually(t, 30*time.Second, "state stalled after the encoder died", func() bool { return r.state() == "stalled" })
	startFFmpeg(t, port)
	for i, v := range vs {
		testenv.Eventually(t, 30*time.Second, fmt.Sprintf("viewer %d to receive after the restart", i), func() bool { return v.packets.Load() >= before[i]+30 })
	}
	testenv.Eventually(t, 10*time.Second, "state live again", func() bool { return r.state() == "live" })

	// DELETE ends one session; the others stay.
	req, _ := http.NewRequest(http.MethodDelete, r.srv.URL+vs[0].location, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE session = %d", resp.StatusCode)
	}
	testenv.Eventually(t, 10*time.Second, "2 viewers left", func() bool { return r.stats(t).Viewers == 2 })
	if st := r.stats(t); st.Opens != 1 {
		t.Errorf("source opened %d times, want once (the UDP listener survives a sender restart)", st.Opens)
	}
}

func TestViewerLimitAndBadOffers(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	startFFmpeg(t, port)
	r := startRelay(t, "rtpudp", fmt.Sprintf("udp://127.0.0.1:%d", port), video.Config{MaxViewers: 1})
	watch(t, r.srv.URL)
	post := func(path, ct, body string) (int, string) {
		resp, err := http.Post(r.srv.URL+path, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		path, ct, body string
		want           int
	}{
		{"/api/v1/vehicles/uav-1/video/1/whep", "application/sdp", "v=0\r\n", http.StatusServiceUnavailable}, // the one viewer allowed is there
		{"/api/v1/vehicles/uav-1/video/1/whep", "application/json", "{}", http.StatusUnsupportedMediaType},
		{"/api/v1/vehicles/uav-9/video/1/whep", "application/sdp", "v=0\r\n", http.StatusNotFound},
		{"/api/v1/vehicles/uav-1/video/7/whep", "application/sdp", "v=0\r\n", http.StatusNotFound},
		{"/api/v1/vehicles/uav-1/video/x/whep", "application/sdp", "v=0\r\n", http.StatusBadRequest},
	} {
		if got, body := post(c.path, c.ct, c.body); got != c.want {
			t.Errorf("POST %s (%s) = %d %s, want %d", c.path, c.ct, got, body, c.want)
		}
	}
}

func TestGarbageOfferIsA400(t *testing.T) {
	r := startRelay(t, "rtpudp", fmt.Sprintf("udp://127.0.0.1:%d", testenv.FreeUDPPort(t)), video.Config{})
	resp, err := http.Post(r.srv.URL+"/api/v1/vehicles/uav-1/video/1/whep", "application/sdp", strings.NewReader("not an SDP"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("garbage offer = %d, want 400", resp.StatusCode)
	}
}

// rtspServer serves one H.264 track on rtsp://127.0.0.1:PORT/cam, fed by
// an ffmpeg RTP stream the test receives (gortsplib's server, as mediamtx).
type rtspServer struct {
	server *gortsplib.Server
	stream *gortsplib.ServerStream
	plays  atomic.Int64
	plis   atomic.Int64 // keyframe requests from readers
}

func (h *rtspServer) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *rtspServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *rtspServer) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	h.plays.Add(1)
	ctx.Session.OnPacketRTCPAny(func(_ *description.Media, p rtcp.Packet) {
		if _, ok := p.(*rtcp.PictureLossIndication); ok {
			h.plis.Add(1)
		}
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func startRTSP(t *testing.T) (uri string, srv *rtspServer) {
	t.Helper()
	port := testenv.FreeTCPPort(t)
	srv = &rtspServer{}
	srv.server = &gortsplib.Server{Handler: srv, RTSPAddress: fmt.Sprintf("127.0.0.1:%d", port)}
	if err := srv.server.Start(); err != nil {
		t.Fatal(err)
	}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}}
	srv.stream = &gortsplib.ServerStream{Server: srv.server, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := srv.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	// ffmpeg → UDP → the server's stream.
	in, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) == nil {
				p.Payload = append([]byte(nil), p.Payload...)
				_ = srv.stream.WritePacketRTP(medi, &p) // no reader yet is fine
			}
		}
	}()
	startFFmpeg(t, in.LocalAddr().(*net.UDPAddr).Port)
	t.Cleanup(func() {
		in.Close()
		<-done
		srv.stream.Close()
		srv.server.Close()
	})
	return fmt.Sprintf("rtsp://127.0.0.1:%d/cam", port), srv
}

func TestRTSPSourcePlays(t *testing.T) {
	uri, srv := startRTSP(t)
	r := startRelay(t, "rtsp", uri, video.Config{})
	v1 := watch(t, r.srv.URL)
	v2 := watch(t, r.srv.URL)
	for i, v := range []*viewer{v1, v2} {
		testenv.Eventually(t, 30*time.Second, fmt.Sprintf("viewer %d to receive 30 packets over RTSP", i), func() bool { return v.packets.Load() >= 30 })
		v.startsWithKeyframe(t)
	}
	if n := srv.plays.Load(); n != 1 {
		t.Errorf("RTSP server got %d PLAYs for 2 viewers, want 1", n)
	}
	// New viewers ask the camera for a keyframe (RTCP PLI) where it can be asked.
	testenv.Eventually(t, 10*time.Second, "a PLI at the RTSP server", func() bool { return srv.plis.Load() > 0 })
	testenv.Eventually(t, 10*time.Second, "state live", func() bool { return r.state() == "live" })
}

func TestUnsupportedSourceFailsVisibly(t *testing.T) {
	r := startRelay(t, "tcp-mpeg", "tcp://127.0.0.1:5601", video.Config{})
	watch(t, r.srv.URL)
	testenv.Eventually(t, 10*time.Second, "state failed", func() bool { return r.state() == "failed" })
}

// A camera that does not advertise itself: the stream configured for the
// vehicle joins its video list and plays.
func TestConfiguredSourcePlays(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	startFFmpeg(t, port)
	fl := fleet.New(fleet.DefaultConfig())
	fl.Update("uav-1", time.Now(), func(v *fleet.Vehicle) {})
	r := startRelayOn(t, fl, video.Config{Sources: []string{fmt.Sprintf("uav-1/1=udp://127.0.0.1:%d", port)}})
	v := watch(t, r.srv.URL)
	testenv.Eventually(t, 30*time.Second, "packets from the configured source", func() bool { return v.packets.Load() >= 30 })
	if got, _ := fl.Get("uav-1"); len(got.Video) != 1 || got.Video[0].Type != "rtpudp" {
		t.Errorf("video list %+v, want the configured stream", got.Video)
	}
}

func TestBadConfiguredSourcesAreRefused(t *testing.T) {
	for _, s := range []string{"uav-1", "=udp://127.0.0.1:5600", "uav-1/x=udp://127.0.0.1:5600", "uav-1=udp://127.0.0.1", "uav-1=http://cam/"} {
		if err := (video.Config{Sources: []string{s}}).Validate(); err == nil {
			t.Errorf("source %q accepted", s)
		}
	}
	if err := (video.Config{UDPPorts: "5000-4000"}).Validate(); err == nil {
		t.Error("UDP port range 5000-4000 accepted")
	}
}

// MPEG-TS over UDP (remuxed to RTP by ffmpeg, not re-encoded) plays too.
func TestMPEGTSSourcePlays(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	r := startRelay(t, "mpeg-ts", fmt.Sprintf("udp://127.0.0.1:%d", port), video.Config{})
	v := watch(t, r.srv.URL)
	testenv.Eventually(t, 30*time.Second, "the relay listening", func() bool { return r.state() == "connecting" })
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ffmpegBin(t), "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "10",
		"-f", "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait() // killed on purpose
	}()
	testenv.Eventually(t, 30*time.Second, "packets from the MPEG-TS source", func() bool { return v.packets.Load() >= 30 })
	v.startsWithKeyframe(t)
	testenv.Eventually(t, 10*time.Second, "state live", func() bool { return r.state() == "live" })
}

// --record-video: the stream is recorded without any viewer, to MP4
// segments ffprobe reads as H.264 of the source's size, and the size cap
// deletes the oldest.
func TestRecordingWritesPlayableMP4Segments(t *testing.T) {
	ffmpeg := ffmpegBin(t)
	port := testenv.FreeUDPPort(t)
	startFFmpeg(t, port)
	dir := t.TempDir()
	r := startRelay(t, "rtpudp", fmt.Sprintf("udp://127.0.0.1:%d", port), video.Config{
		Record: &video.RecordConfig{Dir: dir, Segment: time.Second, MaxTotalBytes: 60 << 10, FFmpeg: ffmpeg},
	})
	var done []string
	testenv.Eventually(t, 60*time.Second, "three finished MP4 segments", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "uav-1-s1-*.mp4"))
		sort.Strings(files)
		if len(files) < 4 {
			return false
		}
		done = files[:len(files)-1] // the last one is still being written
		return true
	})
	probe := filepath.Join(filepath.Dir(ffmpeg), "ffprobe")
	out, err := exec.Command(probe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", done[len(done)-1]).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v %s", done[len(done)-1], err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "h264,160,120" {
		t.Errorf("recorded segment: %q, want h264,160,120", got)
	}
	if st := r.stats(t); st.Viewers != 0 || st.Opens != 1 {
		t.Errorf("recording: %d viewers (the recorder is not one), %d opens", st.Viewers, st.Opens)
	}
	testenv.Eventually(t, 60*time.Second, "the size cap to delete old segments", func() bool {
		return r.hub.RecordStats().DeletedFiles > 0
	})
	if rs := r.hub.RecordStats(); rs.TotalBytes > 60<<10 {
		t.Errorf("recordings take %d bytes, over the 60 KiB cap", rs.TotalBytes)
	}
}

// A viewer joining mid-stream of a source that cannot be asked for a
// keyframe (RTP/UDP) gets the cached one at once: here no keyframe is sent
// after it joins, and it still receives SPS, PPS and IDR; live frames
// follow from the next keyframe on.
func TestLateViewerGetsTheCachedKeyframe(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	r := startRelay(t, "rtpudp", fmt.Sprintf("udp://127.0.0.1:%d", port), video.Config{})
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seq := uint16(0)
	send := func(ts uint32, marker bool, payload ...byte) {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 42, Marker: marker}, Payload: payload}
		seq++
		b, _ := p.Marshal()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// A first viewer opens the source; the keyframe goes by while only it watches.
	first := watch(t, r.srv.URL)
	testenv.Eventually(t, 30*time.Second, "the source open", func() bool { return r.state() == "connecting" })
	testenv.Eventually(t, 30*time.Second, "the first viewer connected", func() bool {
		send(900, true, 0x41, 1) // P-frames until it is
		return r.stats(t).PacketsIn > 0 && first.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	send(1000, false, 0x67, 0x42, 0xe0, 0x1f) // SPS
	send(1000, false, 0x68, 0xce)             // PPS
	send(1000, true, 0x65, 0x88, 0x84)        // IDR
	send(4000, true, 0x41, 0x9a)              // P
	late := watch(t, r.srv.URL)
	testenv.Eventually(t, 30*time.Second, "the late viewer to get the cached keyframe", func() bool {
		send(7000+uint32(seq)*3000, true, 0x41, 0x9a) // P-frames only from now on
		return late.keyAfter.Load() >= 2
	})
	late.startsWithKeyframe(t)
	// The P-frames after the cached keyframe refer to frames the late
	// viewer never got: it skips them until the next keyframe.
	skipped := r.stats(t).Skipped
	send(uint32(seq)*3000+100000, true, 0x41, 0x9a)
	testenv.Eventually(t, 10*time.Second, "the P-frame skipped for the late viewer", func() bool { return r.stats(t).Skipped > skipped })
	if n := late.packets.Load(); n != 3 {
		t.Errorf("late viewer got %d packets before the next keyframe, want the cached SPS, PPS and IDR", n)
	}
	send(uint32(seq)*3000+200000, true, 0x65, 0x88, 0x84) // the next IDR opens the gate
	send(uint32(seq)*3000+203000, true, 0x41, 0x9a)
	testenv.Eventually(t, 10*time.Second, "live video after the next keyframe", func() bool { return late.packets.Load() >= 5 })
}
