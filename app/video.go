package app

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/burgut-uav/burgut/internal/cliflag"
	"github.com/burgut-uav/burgut/metrics"
	"github.com/burgut-uav/burgut/video"
)

// VideoConfig configures the live video relay to the monitoring center
// (package video, issue 15).
type VideoConfig struct {
	MaxViewers int
	UDPPorts   string
	PublicIPs  string
	Sources    []string
	// Record writes every stream to segmented MP4 in data-dir/video, under
	// the tlogs' total cap (tlog-total-mb), oldest deleted first.
	Record bool
}

func (c *VideoConfig) defaults() { c.MaxViewers = 10 }

func (c *VideoConfig) register(fs *flag.FlagSet) {
	fs.IntVar(&c.MaxViewers, "video-max-viewers", c.MaxViewers, "WebRTC viewers per video stream (each costs the stream's bitrate in upload)")
	fs.StringVar(&c.UDPPorts, "video-udp-ports", c.UDPPorts, "UDP port range MIN-MAX WebRTC uses towards browsers, to open in a firewall (empty = any)")
	fs.Var(cliflag.NewList(&c.Sources), "video-source", "a vehicle's camera stream when the camera does not advertise it over MAVLink, repeatable: VEHICLE[/STREAM]=URI with rtsp://… or udp://HOST:PORT (RTP H.264), stream 1 by default")
	fs.BoolVar(&c.Record, "record-video", c.Record, "record every vehicle's video streams to data-dir/video as 1-minute MP4 segments (ffmpeg, no re-encoding), oldest deleted past tlog-total-mb; needs Debian's ffmpeg")
	fs.StringVar(&c.PublicIPs, "video-public-ips", c.PublicIPs, "behind a 1:1 NAT: the public IPs to announce to browsers instead of the host addresses (comma-separated)")
}

func (c *VideoConfig) validate() error {
	if c.MaxViewers < 1 || c.MaxViewers > 1000 {
		return fmt.Errorf("video-max-viewers %d: must be 1-1000", c.MaxViewers)
	}
	if err := (video.Config{UDPPorts: c.UDPPorts, PublicIPs: c.PublicIPs, Sources: c.Sources}).Validate(); err != nil {
		return fmt.Errorf("video: %w", err)
	}
	return nil
}

// startVideo relays the vehicles' camera streams to browsers over WHEP.
func (a *App) startVideo(ctx context.Context) error {
	c := a.Config.Video
	vc := video.Config{
		MaxViewers: c.MaxViewers, UDPPorts: c.UDPPorts, PublicIPs: c.PublicIPs, Sources: c.Sources,
		Log: a.Log.With("part", "video"),
	}
	if c.Record {
		vc.Record = &video.RecordConfig{
			Dir:           filepath.Join(a.Config.DataDir, "video"),
			MaxTotalBytes: int64(a.Config.Telemetry.TlogTotalMB) << 20,
		}
	}
	hub, err := video.NewHub(vc, a.Fleet)
	if err != nil {
		return err
	}
	a.Video = hub
	hub.Register(a.Mux)
	a.Go(ctx, "video", hub.Run)
	a.observeVideo(hub)
	return nil
}

// observeVideo exposes each relayed stream's viewers and traffic.
func (a *App) observeVideo(h *video.Hub) {
	each := func(emit metrics.Emit, f func(s video.StreamStats) float64) {
		for _, s := range h.Stats() {
			emit(f(s), s.Vehicle, fmt.Sprint(s.StreamID))
		}
	}
	a.addFamily(gauge("burgut_video_viewers", "WebRTC viewers per relayed video stream", "vehicle", "stream"), func(emit metrics.Emit) {
		each(emit, func(s video.StreamStats) float64 { return float64(s.Viewers) })
	})
	a.addFamily(gauge("burgut_video_bitrate_bps", "incoming bitrate per relayed video stream over the last second", "vehicle", "stream"), func(emit metrics.Emit) {
		each(emit, func(s video.StreamStats) float64 { return float64(s.BitrateBps) })
	})
	a.addFamily(counter("burgut_video_received_bytes_total", "RTP bytes received from each video source", "vehicle", "stream"), func(emit metrics.Emit) {
		each(emit, func(s video.StreamStats) float64 { return float64(s.BytesIn) })
	})
	a.addFamily(counter("burgut_video_sent_bytes_total", "RTP bytes sent to all viewers of each stream", "vehicle", "stream"), func(emit metrics.Emit) {
		each(emit, func(s video.StreamStats) float64 { return float64(s.BytesOut) })
	})
	a.addFamily(counter("burgut_video_source_opens_total", "times each stream's source was opened (restarts included)", "vehicle", "stream"), func(emit metrics.Emit) {
		each(emit, func(s video.StreamStats) float64 { return float64(s.Opens) })
	})
	a.addFamily(gauge("burgut_video_recording_streams", "streams being recorded now (--record-video)"), func(emit metrics.Emit) {
		emit(float64(h.RecordStats().Recording))
	})
	a.addFamily(gauge("burgut_video_recording_bytes", "bytes all video recordings take on disk"), func(emit metrics.Emit) {
		emit(float64(h.RecordStats().TotalBytes))
	})
	a.addFamily(counter("burgut_video_recording_deleted_files_total", "recordings deleted by the size cap"), func(emit metrics.Emit) {
		emit(float64(h.RecordStats().DeletedFiles))
	})
	a.addFamily(counter("burgut_video_recording_restarts_total", "recording ffmpeg processes that exited on their own and were restarted"), func(emit metrics.Emit) {
		emit(float64(h.RecordStats().Restarts))
	})
	a.addFamily(counter("burgut_video_skipped_packets_total", "packets not sent to a new viewer while it waited for a keyframe", "vehicle", "stream"), func(emit metrics.Emit) {
		each(emit, func(s video.StreamStats) float64 { return float64(s.Skipped) })
	})
}
