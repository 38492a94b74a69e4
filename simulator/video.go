package simulator

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Simulated camera video (Config.Video, `burgut sitl --video`): each
// vehicle's camera is a real RTP H.264 stream that Debian's ffmpeg encodes
// from a test pattern, overlaid with the vehicle's ID, its position and
// the UTC time to the millisecond, so a viewer can tell whose picture it
// is and how late it arrives. It goes where ArduPilot companions send
// theirs: RTP over UDP to the ground station, one port per vehicle
// (VideoBasePort + index), advertised in VIDEO_STREAM_INFORMATION. Small
// (320x240, 10 fps, ~250 kbit/s) so a laptop runs a fleet of them.

// DefaultVideoBasePort is vehicle 0's RTP port (QGroundControl's 5600).
const DefaultVideoBasePort = 5600

const (
	videoWidth, videoHeight, videoFPS = 320, 240, 10
	videoBitrate                      = 250_000
)

// videoFont is the overlay's font (Debian fonts-dejavu-core); without it
// ffmpeg falls back to fontconfig's default.
const videoFont = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"

// videoPort is vehicle index's RTP destination port.
func (cfg *Config) videoPort(index int) int { return cfg.VideoBasePort + index }

// checkVideo makes sure --video can work before anything starts.
func (cfg *Config) checkVideo() error {
	if !cfg.anyVideo() {
		return nil
	}
	if cfg.VideoBasePort <= 0 || cfg.VideoBasePort+cfg.Vehicles > 65535 {
		return fmt.Errorf("video base port %d: vehicles need ports %d..%d", cfg.VideoBasePort, cfg.VideoBasePort, cfg.VideoBasePort+cfg.Vehicles-1)
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if _, err := exec.LookPath(cfg.FFmpeg); err != nil {
		return fmt.Errorf("video: %s not found (install Debian's ffmpeg, or run without --video): %w", cfg.FFmpeg, err)
	}
	return nil
}

// videoRun encodes every vehicle's camera until ctx ends: one ffmpeg per
// vehicle, restarted with backoff when it exits, and the overlay text
// files they reload every frame, rewritten 5 times a second.
func (s *Sim) videoRun(ctx context.Context, wg *sync.WaitGroup) error {
	dir, err := os.MkdirTemp("", "burgut-sitl-video-")
	if err != nil {
		return fmt.Errorf("video: overlay directory: %w", err)
	}
	for _, sv := range s.vehicles {
		sv.videoText = filepath.Join(dir, fmt.Sprintf("v%d.txt", sv.index))
		sv.writeOverlay()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer os.RemoveAll(dir)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, sv := range s.vehicles {
					sv.writeOverlay()
				}
			}
		}
	}()
	for _, sv := range s.vehicles {
		if sv.videoPort == 0 {
			continue // this vehicle's camera has no stream (VehicleSettings.Video)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv.runFFmpeg(ctx, s.cfg.FFmpeg)
		}()
	}
	return nil
}

// writeOverlay replaces the vehicle's overlay file atomically (ffmpeg may
// read it at any moment).
func (sv *SimVehicle) writeOverlay() {
	st := sv.State()
	// The ID the station gives the vehicle (uav- and its autopilot UID), so
	// a picture on the wall can be matched to the map without doubt.
	txt := fmt.Sprintf("uav-%016x  sysid %d\n%.6f %.6f  %.0f m", sv.uid, sv.sysid, st.Lat, st.Lon, st.AltMSL)
	tmp := sv.videoText + ".tmp"
	if err := os.WriteFile(tmp, []byte(txt), 0o600); err != nil {
		sv.warn("video overlay", "err", err)
		return
	}
	if err := os.Rename(tmp, sv.videoText); err != nil {
		sv.warn("video overlay", "err", err)
	}
}

// ffmpegArgs is the encoder command line for one vehicle.
func (sv *SimVehicle) ffmpegArgs(now time.Time) []string {
	font := ""
	if _, err := os.Stat(videoFont); err == nil {
		font = "fontfile=" + videoFont + ":"
	}
	// The clock: the frame's pts plus the UTC time of day at start, printed
	// HH:MM:SS.mmm; -re paces the generated frames to the wall clock.
	midnight := now.UTC().Truncate(24 * time.Hour)
	offset := now.Sub(midnight).Seconds()
	vf := fmt.Sprintf("drawtext=%stextfile=%s:reload=1:x=4:y=4:fontsize=13:fontcolor=white:box=1:boxcolor=black@0.6,"+
		"drawtext=%stext='UTC %%{pts\\:hms\\:%.3f}':x=4:y=%d:fontsize=15:fontcolor=yellow:box=1:boxcolor=black@0.6",
		font, filterEscape(sv.videoText), font, offset, videoHeight-22)
	return []string{
		"-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%dx%d:rate=%d", videoWidth, videoHeight, videoFPS),
		"-vf", vf,
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-g", fmt.Sprint(videoFPS), "-b:v", fmt.Sprint(videoBitrate), "-x264-params", "repeat-headers=1",
		"-f", "rtp", "-payload_type", "96", "-pkt_size", "1200",
		fmt.Sprintf("rtp://%s:%d", sv.gcs.IP, sv.videoPort),
	}
}

// filterEscape quotes a path for an ffmpeg filter option value.
func filterEscape(s string) string {
	return strings.NewReplacer(`\`, `\\\\`, `:`, `\\:`, `'`, `\\'`).Replace(s)
}

// runFFmpeg keeps the vehicle's encoder running until ctx ends.
func (sv *SimVehicle) runFFmpeg(ctx context.Context, bin string) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		cctx, cancel := context.WithCancel(ctx)
		cmd := exec.CommandContext(cctx, bin, sv.ffmpegArgs(time.Now())...)
		var stderr strings.Builder
		cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
		start := time.Now()
		err := cmd.Start()
		if err == nil {
			sv.mu.Lock()
			sv.videoStop = cancel
			sv.mu.Unlock()
			err = cmd.Wait()
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		sv.log.Warn("simulated camera encoder exited; restarting", "err", err, "stderr", strings.TrimSpace(stderr.String()))
		if time.Since(start) > 30*time.Second {
			backoff = 500 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// RestartVideo kills the vehicle's encoder, as a camera reboot would; it
// comes back by itself. False when the vehicle has no video running.
func (sv *SimVehicle) RestartVideo() bool {
	sv.mu.Lock()
	stop := sv.videoStop
	sv.videoStop = nil
	sv.mu.Unlock()
	if stop == nil {
		return false
	}
	stop()
	return true
}

// VideoPort is the UDP port the vehicle's camera sends RTP to (0 without video).
func (sv *SimVehicle) VideoPort() int { return sv.videoPort }

type limitedWriter struct {
	w interface{ WriteString(string) (int, error) }
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.WriteString(string(p[:k]))
		l.n -= k
	}
	return len(p), nil
}
