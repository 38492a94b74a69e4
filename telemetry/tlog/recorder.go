package tlog

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/minimal"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
)

// Size defaults for zero RecorderOptions fields (burgut's tlog-file-mb and
// tlog-total-mb flags start from them).
const (
	DefaultMaxFileBytes  = 64 << 20
	DefaultMaxTotalBytes = 4 << 30
)

// RecorderOptions bound the tlog recorder.
type RecorderOptions struct {
	// Dir holds one sub-directory per vehicle (e.g. data-dir/tlogs).
	Dir string
	// MaxFileBytes starts a new part of a flight's log past this size
	// (default 64 MiB).
	MaxFileBytes int64
	// MaxTotalBytes caps all tlogs together; the oldest files are deleted
	// first (default 4 GiB).
	MaxTotalBytes int64
	// QueueLen bounds frames waiting to be written; beyond it frames are
	// dropped and counted, never blocking the ground station (default 65536).
	QueueLen int
	// MaxOpen bounds open files; the least recently written are closed
	// (and reopened for append when their vehicle speaks again). Default 256.
	MaxOpen int
	Log     *slog.Logger
}

// RecorderStats counts the recorder's work and losses.
type RecorderStats struct {
	Frames        uint64 `json:"frames"`
	Bytes         uint64 `json:"bytes"`
	Dropped       uint64 `json:"dropped"` // queue full
	WriteErrors   uint64 `json:"write_errors"`
	Files         uint64 `json:"files_started"`
	DeletedFiles  uint64 `json:"deleted_files"` // by the total disk cap
	TotalBytes    int64  `json:"total_bytes"`
	MaxTotalBytes int64  `json:"max_total_bytes"`
}

type tapped struct {
	vehicle string
	at      time.Time
	f       frame.Frame
}

type vehicleLog struct {
	path    string // current file
	base    string // flight's base name, without .tlog
	part    int
	size    int64
	armed   bool
	f       *os.File
	bw      *bufio.Writer
	lastUse time.Time
}

// Recorder writes every vehicle's raw MAVLink stream to tlogs: one file per
// vehicle per flight (a new file when the vehicle is first heard and at
// each arming), split into parts by size, under a total disk cap.
type Recorder struct {
	opts RecorderOptions
	log  *slog.Logger
	q    chan tapped
	rw   *dialect.ReadWriter

	mu    sync.Mutex
	stats RecorderStats

	// owned by Run
	vehicles map[string]*vehicleLog
	open     int
	w        *Writer
	cur      *vehicleLog
}

// NewRecorder prepares the directory and measures what is already in it.
func NewRecorder(opts RecorderOptions) (*Recorder, error) {
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxTotalBytes <= 0 {
		opts.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 65536
	}
	if opts.MaxOpen <= 0 {
		opts.MaxOpen = 256
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("tlog recorder: %w", err)
	}
	r := &Recorder{opts: opts, log: opts.Log, q: make(chan tapped, opts.QueueLen), rw: DefaultDialect(),
		vehicles: map[string]*vehicleLog{}}
	r.stats.MaxTotalBytes = opts.MaxTotalBytes
	files, err := r.listFiles()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		r.stats.TotalBytes += f.size
	}
	r.w = NewWriter(&curWriter{r}, r.rw)
	return r, nil
}

// Tap takes one frame received from a vehicle. It never blocks: the frame
// (a shallow copy; its message is only read) is queued or, if the writer is
// that far behind, dropped and counted. Its signature matches the ground
// station's frame tap.
func (r *Recorder) Tap(vehicleID, link string, at time.Time, f frame.Frame) {
	switch ff := f.(type) {
	case *frame.V1Frame:
		c := *ff
		f = &c
	case *frame.V2Frame:
		c := *ff
		f = &c
	}
	select {
	case r.q <- tapped{vehicle: vehicleID, at: at, f: f}:
	default:
		r.mu.Lock()
		r.stats.Dropped++
		r.mu.Unlock()
	}
}

// Stats returns the counters so far.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run writes queued frames until ctx is cancelled, then writes what is
// queued, flushes and closes every file.
func (r *Recorder) Run(ctx context.Context) error {
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	defer r.closeAll()
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case t := <-r.q:
					r.write(t)
				default:
					return nil
				}
			}
		case t := <-r.q:
			r.write(t)
		case <-flush.C:
			r.flushAll()
		}
	}
}

// curWriter routes the tlog Writer's output to the current vehicle's file.
type curWriter struct{ r *Recorder }

func (c *curWriter) Write(p []byte) (int, error) { return c.r.cur.bw.Write(p) }

func (r *Recorder) write(t tapped) {
	vl := r.vehicles[t.vehicle]
	armed, isHB := armedOf(t.f)
	newFlight := vl == nil || (isHB && armed && !vl.armed)
	if vl == nil {
		vl = &vehicleLog{}
		r.vehicles[t.vehicle] = vl
	}
	if isHB {
		vl.armed = armed
	}
	if newFlight {
		r.closeFile(vl)
		vl.base = filepath.Join(r.opts.Dir, safeName(t.vehicle), t.at.UTC().Format("20060102-150405.000"))
		vl.part = 1
		vl.path = ""
	} else if vl.size >= r.opts.MaxFileBytes {
		r.closeFile(vl)
		vl.part++
		vl.path = ""
	}
	if vl.f == nil {
		if err := r.openFile(vl); err != nil {
			r.fail(err)
			return
		}
	}
	r.cur = vl
	n, err := r.w.Write(t.at, t.f)
	vl.size += int64(n)
	vl.lastUse = time.Now()
	r.mu.Lock()
	if err != nil {
		r.stats.WriteErrors++
	} else {
		r.stats.Frames++
	}
	r.stats.Bytes += uint64(n)
	r.stats.TotalBytes += int64(n)
	over := r.stats.TotalBytes > r.opts.MaxTotalBytes
	r.mu.Unlock()
	if err != nil {
		r.fail(fmt.Errorf("write tlog %s: %w", vl.path, err))
	}
	if over {
		r.enforceCap()
	}
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	r.stats.WriteErrors++
	first := r.stats.WriteErrors == 1 || r.stats.WriteErrors%1000 == 0
	r.mu.Unlock()
	if first {
		r.log.Error("tlog recording failed", "err", err)
	}
}

func (r *Recorder) openFile(vl *vehicleLog) error {
	if vl.path == "" {
		vl.path = vl.base + ".tlog"
		if vl.part > 1 {
			vl.path = fmt.Sprintf("%s-part%d.tlog", vl.base, vl.part)
		}
		r.mu.Lock()
		r.stats.Files++
		r.mu.Unlock()
		vl.size = 0
	}
	if r.open >= r.opts.MaxOpen {
		r.closeLRU()
	}
	if err := os.MkdirAll(filepath.Dir(vl.path), 0o755); err != nil {
		return fmt.Errorf("tlog dir: %w", err)
	}
	f, err := os.OpenFile(vl.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open tlog: %w", err)
	}
	vl.f, vl.bw = f, bufio.NewWriterSize(f, 32<<10)
	r.open++
	return nil
}

func (r *Recorder) closeFile(vl *vehicleLog) {
	if vl.f == nil {
		return
	}
	if err := vl.bw.Flush(); err != nil {
		r.fail(fmt.Errorf("flush tlog %s: %w", vl.path, err))
	}
	if err := vl.f.Close(); err != nil {
		r.fail(fmt.Errorf("close tlog %s: %w", vl.path, err))
	}
	vl.f, vl.bw = nil, nil
	r.open--
}

func (r *Recorder) closeLRU() {
	var oldest *vehicleLog
	for _, vl := range r.vehicles {
		if vl.f != nil && (oldest == nil || vl.lastUse.Before(oldest.lastUse)) {
			oldest = vl
		}
	}
	if oldest != nil {
		r.closeFile(oldest)
	}
}

func (r *Recorder) flushAll() {
	for _, vl := range r.vehicles {
		if vl.bw != nil {
			if err := vl.bw.Flush(); err != nil {
				r.fail(fmt.Errorf("flush tlog %s: %w", vl.path, err))
			}
		}
	}
}

func (r *Recorder) closeAll() {
	for _, vl := range r.vehicles {
		r.closeFile(vl)
	}
}

type fileInfo struct {
	path string
	size int64
	mod  time.Time
}

func (r *Recorder) listFiles() ([]fileInfo, error) {
	var out []fileInfo
	err := filepath.WalkDir(r.opts.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tlog") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // deleted meanwhile
		}
		out = append(out, fileInfo{p, info.Size(), info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tlogs in %s: %w", r.opts.Dir, err)
	}
	return out, nil
}

// enforceCap deletes the oldest tlogs (by last write) until the total is
// under 90 % of the cap. Files being written are closed first and, if they
// must go too, continue in a new part.
func (r *Recorder) enforceCap() {
	r.flushAll()
	files, err := r.listFiles()
	if err != nil {
		r.fail(err)
		return
	}
	slices.SortFunc(files, func(a, b fileInfo) int { return a.mod.Compare(b.mod) })
	var total int64
	for _, f := range files {
		total += f.size
	}
	target := r.opts.MaxTotalBytes / 10 * 9
	var deleted []string
	for _, f := range files {
		if total <= target {
			break
		}
		for _, vl := range r.vehicles {
			if vl.path == f.path {
				r.closeFile(vl)
				vl.part++
				vl.path = ""
			}
		}
		if err := os.Remove(f.path); err != nil {
			r.fail(fmt.Errorf("delete old tlog: %w", err))
			continue
		}
		total -= f.size
		deleted = append(deleted, f.path)
	}
	r.mu.Lock()
	r.stats.TotalBytes = total
	r.stats.DeletedFiles += uint64(len(deleted))
	r.mu.Unlock()
	if len(deleted) > 0 {
		r.log.Warn("tlog disk cap reached: deleted the oldest tlogs", "files", len(deleted), "oldest", deleted[0],
			"max_total_bytes", r.opts.MaxTotalBytes)
	}
}

// armedOf reports whether f is an autopilot HEARTBEAT and its armed flag.
func armedOf(f frame.Frame) (armed, ok bool) {
	hb, isHB := f.GetMessage().(*minimal.MessageHeartbeat)
	if !isHB || hb.Autopilot == minimal.MAV_AUTOPILOT_INVALID {
		return false, false
	}
	return hb.BaseMode&minimal.MAV_MODE_FLAG_SAFETY_ARMED != 0, true
}

// safeName keeps a vehicle ID usable as a directory name.
func safeName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "" || s == "." || s == ".." {
		s = "_" + s
	}
	return s
}
