package video

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pion/rtp"
)

// Recording (Config.Record, `--record-video`): every advertised stream of
// every connected vehicle is kept open and written to segmented MP4 files
// by Debian's ffmpeg, fed the relayed RTP (-c copy: no re-encoding). The
// recorder is a viewer like a browser, so it starts on a keyframe and
// shares the one upstream. Fragmented MP4 stays playable when ffmpeg is
// killed mid-segment. Files go to Record.Dir (next to the tlogs); the
// oldest are deleted when all together pass Record.MaxTotalBytes, as the
// tlogs' cap does.

// RecordConfig turns recording on.
type RecordConfig struct {
	Dir           string
	MaxTotalBytes int64         // default 4 GiB
	Segment       time.Duration // default 1 min
	FFmpeg        string        // default "ffmpeg" on PATH
}

// RecordStats counts what recording did.
type RecordStats struct {
	Recording    int    // streams being recorded now
	TotalBytes   int64  // all recordings on disk
	DeletedFiles uint64 // removed by the size cap
	Restarts     uint64 // ffmpeg processes that exited and were restarted
}

// recorderID marks the recorder among a stream's viewers.
const recorderID = "recorder"

// udpWriter sends the relayed RTP to the stream's ffmpeg.
type udpWriter struct{ c net.Conn }

func (w udpWriter) WriteRTP(p *rtp.Packet) error {
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	_, err = w.c.Write(b)
	return err
}

// syncRecorders attaches a recorder to every advertised stream of every
// connected vehicle and detaches those whose vehicle is gone; then
// enforces the size cap.
func (h *Hub) syncRecorders(ctx context.Context) {
	rc := h.cfg.Record
	if rc == nil || h.list == nil {
		return
	}
	want := map[Key]bool{}
	for _, v := range h.list() {
		if !v.Connected {
			continue
		}
		for _, s := range v.Video {
			want[Key{Vehicle: v.ID, StreamID: s.StreamID}] = true
		}
	}
	for k := range want {
		s, err := h.stream(k)
		if err != nil {
			continue
		}
		s.mu.Lock()
		_, has := s.viewers[recorderID]
		s.mu.Unlock()
		if !has {
			h.startRecorder(ctx, s)
		}
	}
	h.mu.Lock()
	var drop []*Stream
	for k, s := range h.streams {
		if !want[k] {
			drop = append(drop, s)
		}
	}
	h.mu.Unlock()
	for _, s := range drop {
		h.removeRecorder(s)
	}
	h.enforceRecordCap()
}

// startRecorder runs ffmpeg for s and attaches its input as a viewer; the
// process is restarted (with a fresh viewer) until the recorder is removed.
func (h *Hub) startRecorder(ctx context.Context, s *Stream) {
	rc := h.cfg.Record
	if err := os.MkdirAll(rc.Dir, 0o755); err != nil {
		h.log.Error("video recording", "dir", rc.Dir, "err", err)
		return
	}
	in, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		h.log.Error("video recording", "err", err)
		return
	}
	port := in.LocalAddr().(*net.UDPAddr).Port
	in.Close() // ffmpeg binds it; the race with another binder only costs a restart
	sdp := filepath.Join(rc.Dir, fmt.Sprintf(".%s-%d.sdp", s.key.Vehicle, s.key.StreamID))
	body := fmt.Sprintf("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=burgut\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video %d RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n", port)
	if err := os.WriteFile(sdp, []byte(body), 0o600); err != nil {
		h.log.Error("video recording", "err", err)
		return
	}
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		h.log.Error("video recording", "err", err)
		return
	}
	name := filepath.Join(rc.Dir, fmt.Sprintf("%s-s%d-%%Y%%m%%dT%%H%%M%%SZ.mp4", safeName(s.key.Vehicle), s.key.StreamID))
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, rc.FFmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-protocol_whitelist", "file,udp,rtp", "-fflags", "+genpts", "-i", sdp,
		"-map", "0:v:0", "-c", "copy",
		"-f", "segment", "-segment_time", fmt.Sprint(rc.Segment.Seconds()), "-segment_format", "mp4",
		"-segment_format_options", "movflags=+frag_keyframe+empty_moov+default_base_moof",
		"-reset_timestamps", "1", "-strftime", "1", name)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var stderr strings.Builder
	cmd.Stderr = &limited{b: &stderr, n: 2048}
	if err := cmd.Start(); err != nil {
		cancel()
		conn.Close()
		h.log.Error("video recording: start ffmpeg", "err", err)
		return
	}
	v := &viewer{id: recorderID, track: udpWriter{conn}, stop: cancel}
	v.ready.Store(true)
	if err := h.addViewer(s, v, true); err != nil {
		cancel()
		conn.Close()
		_ = cmd.Wait() // killed: it never got a packet
		return
	}
	h.recording.Add(1)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer conn.Close()
		err := cmd.Wait()
		h.recording.Add(-1)
		os.Remove(sdp)
		if cctx.Err() == nil {
			// ffmpeg died on its own: detach, the next sync starts a new one.
			h.restarts.Add(1)
			h.log.Warn("video recording: ffmpeg exited", "vehicle", s.key.Vehicle, "stream", s.key.StreamID, "err", err, "stderr", strings.TrimSpace(stderr.String()))
			h.removeRecorder(s)
		}
	}()
}

func (h *Hub) removeRecorder(s *Stream) {
	s.mu.Lock()
	v, ok := s.viewers[recorderID]
	if ok {
		delete(s.viewers, recorderID)
		if len(s.viewers) == 0 {
			s.idleSince = time.Now()
		}
	}
	s.mu.Unlock()
	if ok && v.stop != nil {
		v.stop()
	}
}

// enforceRecordCap deletes the oldest recordings while all of them take
// more than the cap (down to 90 % of it, so it does not run every tick).
func (h *Hub) enforceRecordCap() {
	rc := h.cfg.Record
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var files []file
	var total int64
	_ = filepath.WalkDir(rc.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".mp4") {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			files = append(files, file{p, fi.Size(), fi.ModTime()})
			total += fi.Size()
		}
		return nil
	})
	if total > rc.MaxTotalBytes {
		sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
		for _, f := range files {
			if total <= rc.MaxTotalBytes/10*9 {
				break
			}
			if err := os.Remove(f.path); err != nil {
				h.log.Error("video recording: delete for the size cap", "file", f.path, "err", err)
				continue
			}
			total -= f.size
			h.deleted.Add(1)
			h.log.Info("video recording deleted for the size cap", "file", f.path, "bytes", f.size)
		}
	}
	h.recordBytes.Store(total)
}

// RecordStats reports recording's counters (zero without Config.Record).
func (h *Hub) RecordStats() RecordStats {
	return RecordStats{Recording: int(h.recording.Load()), TotalBytes: h.recordBytes.Load(), DeletedFiles: h.deleted.Load(), Restarts: h.restarts.Load()}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

type limited struct {
	b *strings.Builder
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if k := min(len(p), l.n); k > 0 {
		l.b.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
