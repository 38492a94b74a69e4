package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/internal/testenv/chromium"
	"github.com/burgut-uav/burgut/video"
)

// A simulated drone's camera in a real browser: `burgut run --video`
// (ffmpeg RTP H.264 → the station's relay → WHEP → Chromium). The page's
// <video> must decode (videoWidth > 0) and play (currentTime advances),
// keep playing when the camera's encoder restarts, and the video wall must
// show the stream with its vehicle and state; WHEP without credentials is
// refused.
func TestLiveVideoInChromium(t *testing.T) {
	browser := chromium.Binary(t)
	if os.Getenv("BURGUT_TEST_FFMPEG") == "" {
		if _, err := exec.LookPath("ffmpeg"); err != nil {
			testenv.Service(t, "BURGUT_TEST_FFMPEG")
		}
	}
	chromium.RequireConsole(t)
	cfg := app.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.Sim.Vehicles = 1
	cfg.Sim.Demo = false
	cfg.Sim.Video = true
	cfg.Sim.VideoBase = testenv.FreeUDPPort(t)
	cfg.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t))}
	cfg.DataDir = t.TempDir()
	cfg.Relay.MQTTListen = "127.0.0.1:0"
	cfg.Relay.StaleAfter = 30 * time.Second
	a := startApp(t, cfg)
	base := "http://" + a.HTTPAddr()

	// The camera's stream, as the station learnt it over MAVLink.
	var vid string
	testenv.Eventually(t, 60*time.Second, "the simulated camera's stream in the vehicle's video list", func() bool {
		for _, v := range a.Fleet.List() {
			if len(v.Video) > 0 && v.Video[0].Type == "rtpudp" {
				vid = v.ID
				return true
			}
		}
		return false
	})
	whepURL := fmt.Sprintf("%s/api/v1/vehicles/%s/video/1/whep", base, vid)

	// Unauthenticated WHEP is refused.
	resp, err := http.Post(whepURL, "application/sdp", strings.NewReader("v=0\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WHEP without credentials = %d, want 401", resp.StatusCode)
	}

	if err := a.Auth.AddUser(context.Background(), "watcher", auth.Observer, "watcher-password"); err != nil {
		t.Fatal(err)
	}
	bctx := chromium.Open(t, browser, chromium.Options{Flags: []chromedp.ExecAllocatorOption{
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}})
	if _, err := chromedp.Run(bctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open the map: %v", err)
	}
	poll := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if err := chromium.Poll(bctx, expr, timeout); err != nil {
			for _, s := range a.Video.Stats() {
				t.Logf("relay %+v", s)
			}
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	eval := func(expr string) float64 {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[float64](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	poll("the login form", chromium.LoginReady, 30*time.Second)
	if err := chromium.Login(bctx, "watcher", "watcher-password"); err != nil {
		t.Fatalf("log in: %v", err)
	}
	// Clicking the vehicle opens its live video beside its details.
	poll("the vehicle in the list", fmt.Sprintf(`document.querySelector('#vehicles li[data-vehicle-id=%q]') !== null`, vid), 30*time.Second)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('#vehicles li[data-vehicle-id=%q]').click()`, vid))); err != nil {
		t.Fatal(err)
	}
	const playing = `(() => { const v = document.querySelector('#details-player video'); return !!v && v.videoWidth > 0 && v.currentTime > %f })()`
	poll("the drone's video playing in the page", fmt.Sprintf(playing, 1.0), 60*time.Second)
	if w := eval(`document.querySelector('#details-player video').videoWidth`); w != 320 {
		t.Errorf("videoWidth %v, want the simulated camera's 320", w)
	}

	// Latency inside the browser, from WebRTC's own statistics: the
	// jitter buffer's average hold and the decode time per frame. Logged
	// for BENCHMARKS.md, not asserted (timing belongs to benchmarks).
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`window.videoStats = null; document.querySelector('#details-player video').burgutPeer.getStats().then((st) => {
		st.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') window.videoStats = JSON.stringify({
			jitter_buffer_ms: 1000 * s.jitterBufferDelay / s.jitterBufferEmittedCount, decode_ms: 1000 * s.totalDecodeTime / s.framesDecoded,
			frames: s.framesDecoded, dropped: s.framesDropped, lost: s.packetsLost, nacks: s.nackCount, plis: s.pliCount }) }) })`)); err != nil {
		t.Fatal(err)
	}
	poll("WebRTC statistics", `window.videoStats !== null`, 10*time.Second)
	if js, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.videoStats`)); err == nil {
		t.Logf("browser inbound video: %s", js)
	}

	// The camera's encoder restarts (new SSRC, sequence, timestamps): the
	// same page keeps playing without a reload.
	st := streamStats(a.Video, vid)
	if !a.Sim.Vehicle(0).RestartVideo() {
		t.Fatal("the simulated camera has no encoder running")
	}
	at := eval(`document.querySelector('#details-player video').currentTime`)
	testenv.Eventually(t, 30*time.Second, "the relay to receive the restarted encoder", func() bool {
		return streamStats(a.Video, vid).PacketsIn > st.PacketsIn+100
	})
	poll("playback to continue after the encoder restarted", fmt.Sprintf(playing, at+3), 60*time.Second)
	if s := streamStats(a.Video, vid); s.Opens != 1 {
		t.Errorf("the relay opened the source %d times, want once", s.Opens)
	}

	// The video wall: every stream, with the vehicle ID and the state.
	for _, u := range []string{"about:blank", base + "/#wall"} {
		if _, err := chromedp.Run(bctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
	}
	poll("the wall tile playing with its caption", fmt.Sprintf(`(() => { const t = document.querySelector('#wall .wall-tile');
		if (!t) return false; const v = t.querySelector('video');
		return v.videoWidth > 0 && v.currentTime > 1 && t.querySelector('figcaption').textContent.includes(%q) && t.dataset.state === 'live' })()`, vid), 60*time.Second)
}

func streamStats(h *video.Hub, vehicle string) video.StreamStats {
	for _, s := range h.Stats() {
		if s.Vehicle == vehicle {
			return s
		}
	}
	return video.StreamStats{}
}
