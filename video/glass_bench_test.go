package video_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/internal/testenv/chromium"
	"github.com/burgut-uav/burgut/video"
)

// glassPage plays the stream over WHEP and, for every frame the browser
// presents (requestVideoFrameCallback), reads the capture clock ffmpeg
// burnt into the frame's top row — 20 black/white 16×16 blocks, bit i =
// block i, the milliseconds since the benchmark's epoch — from a canvas,
// and records the presentation time on the same clock. Both clocks are
// this machine's wall clock, so their difference is glass-to-glass:
// encode + RTP + relay + WebRTC + jitter buffer + decode + render.
const glassPage = `<!doctype html><html><body><video id=v muted autoplay playsinline></video><canvas id=c width=320 height=16></canvas><script>
window.samples = []; window.failure = null;
(async () => {
  try {
    const v = document.getElementById('v'), c = document.getElementById('c').getContext('2d', {willReadFrequently: true});
    const pc = new RTCPeerConnection(); window.pc = pc;
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.ontrack = (ev) => { v.srcObject = ev.streams[0] || new MediaStream([ev.track]); v.play().catch(() => {}); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((res) => { if (pc.iceGatheringState === 'complete') return res(); const t = setTimeout(res, 2000);
      pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); res(); } }); });
    const r = await fetch(WHEP, {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
    if (r.status !== 201) throw new Error('WHEP ' + r.status);
    await pc.setRemoteDescription({type: 'answer', sdp: await r.text()});
    const onFrame = (now, md) => {
      // performance clock → wall clock, recalibrated per frame.
      const off = Date.now() - performance.now();
      c.drawImage(v, 0, 0, 320, 16, 0, 0, 320, 16);
      const px = c.getImageData(0, 0, 320, 16).data;
      let code = 0;
      for (let i = 0; i < 20; i++) if (px[(8 * 320 + i * 16 + 8) * 4] > 128) code += 2 ** i;
      window.samples.push({code, shown: off + md.expectedDisplayTime, received: md.receiveTime ? off + md.receiveTime : 0});
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  } catch (e) { window.failure = String(e); }
})();
</script></body></html>`

// BenchmarkGlassToGlass measures the picture's delay from capture to the
// browser's screen: Debian ffmpeg stamps each frame with the wall clock as
// it leaves the filter graph (RTCTIME), encodes it like the simulator
// (x264 ultrafast/zerolatency, baseline, 30 fps) and sends RTP H.264 over
// UDP to the relay; headless Chromium plays it over WHEP and decodes the
// stamp from each presented frame. Reports p50/p99 of presented − captured
// and of received − captured (the network and relay share, from the
// frame's last packet arrival as WebRTC reports it).
//
//	BURGUT_TEST_CHROMIUM=/usr/bin/chromium go test -run '^$' -bench GlassToGlass -benchtime 1x ./video/
//
// BURGUT_BENCH_SECONDS sets the sampling window (default 10).
func BenchmarkGlassToGlass(b *testing.B) {
	browser := chromium.Binary(b)
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		b.Skip("ffmpeg not installed")
	}
	secs := 10
	if v := os.Getenv("BURGUT_BENCH_SECONDS"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &secs); err != nil || secs <= 0 {
			b.Fatalf("BURGUT_BENCH_SECONDS=%q: want a positive number of seconds", v)
		}
	}
	for range b.N {
		runGlassBench(b, browser, ffmpeg, time.Duration(secs)*time.Second)
	}
}

func runGlassBench(b *testing.B, browser, ffmpeg string, window time.Duration) {
	port := testenv.FreeUDPPort(b)
	fl := fleet.New(fleet.DefaultConfig())
	fl.Update("uav-1", time.Now(), func(v *fleet.Vehicle) {
		v.Video = []fleet.VideoStream{{StreamID: 1, URI: fmt.Sprintf("udp://127.0.0.1:%d", port), Type: "rtpudp", Running: true}}
	})
	hub, err := video.NewHub(video.Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, fl)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("hub: %v", err)
		}
	}()
	api := httpapi.NewMux()
	hub.Register(api)
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.HandleFunc("/glass", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, strings.Replace(glassPage, "WHEP", `'/api/v1/vehicles/uav-1/video/1/whep'`, 1))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The capture clock: milliseconds since epoch0, 20 bits (17 min).
	epoch0 := time.Now().UnixMilli()
	geq := "lum='if(lt(Y,16),if(mod(floor(floor(T*1000+0.5)/pow(2,floor(X/16))),2),235,16),16+mod(X+T*60,200))':cb=128:cr=128"
	fctx, fcancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(fctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "color=c=black:s=320x240:r=30",
		"-vf", fmt.Sprintf("settb=1/1000,setpts=RTCTIME/1000-%d,geq=%s,format=yuv420p", epoch0, geq),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-g", "30", "-b:v", "1M", "-x264-params", "repeat-headers=1",
		"-f", "rtp", "-payload_type", "96", "-pkt_size", "1200", fmt.Sprintf("rtp://127.0.0.1:%d", port))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start ffmpeg: %v", err)
	}
	defer func() { fcancel(); _ = cmd.Wait() }()

	bctx := chromium.Open(b, browser, chromium.Options{Flags: []chromedp.ExecAllocatorOption{chromedp.Flag("autoplay-policy", "no-user-gesture-required")}})
	defer func() { _ = chromedp.Cancel(bctx) }() // each run's browser ends with it
	if _, err := chromedp.Run(bctx, chromedp.Navigate(srv.URL+"/glass")); err != nil {
		b.Fatalf("open the page: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[chromedp.Void](`window.failure !== null || window.samples.length > 30`,
		chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		b.Fatalf("no frames presented: %v (relay %+v)", err, hub.Stats())
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`window.samples = []`)); err != nil {
		b.Fatal(err)
	}
	time.Sleep(window)
	js, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({failure: window.failure, samples: window.samples})`))
	if err != nil {
		b.Fatal(err)
	}
	var res struct {
		Failure *string
		Samples []struct{ Code, Shown, Received float64 }
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		b.Fatal(err)
	}
	if res.Failure != nil {
		b.Fatalf("page: %s", *res.Failure)
	}
	const wrap = 1 << 20
	var shown, recv []float64
	bad := 0
	for _, s := range res.Samples {
		// Undo the 20-bit wrap: the capture is the latest epoch0+code+k·2^20
		// not after the presentation.
		rel := s.Shown - float64(epoch0)
		capt := s.Code + wrap*float64(int64((rel-s.Code)/wrap))
		d := rel - capt
		if d < 0 || d > 10000 {
			bad++ // a misread code (a block blurred by the encoder)
			continue
		}
		shown = append(shown, d)
		if s.Received > 0 {
			recv = append(recv, s.Received-float64(epoch0)-capt)
		}
	}
	if len(shown) == 0 {
		b.Fatalf("no readable frames among %d", len(res.Samples))
	}
	pct := func(xs []float64, p int) float64 {
		if len(xs) == 0 {
			return 0
		}
		sort.Float64s(xs)
		return xs[len(xs)*p/100]
	}
	b.ReportMetric(pct(shown, 50), "g2g_p50_ms")
	b.ReportMetric(pct(shown, 99), "g2g_p99_ms")
	b.ReportMetric(pct(recv, 50), "recv_p50_ms")
	b.ReportMetric(pct(recv, 99), "recv_p99_ms")
	b.Logf("%d frames presented in %v (%d unreadable): capture → presented p50 %.1f ms p99 %.1f ms max %.1f ms; capture → last packet received p50 %.1f ms p99 %.1f ms",
		len(res.Samples), window, bad, pct(shown, 50), pct(shown, 99), shown[len(shown)-1], pct(recv, 50), pct(recv, 99))
}
