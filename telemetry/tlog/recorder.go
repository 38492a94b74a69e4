package tlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

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
	// dropped and counted, never blocking the ground station (default
	// 262144: seven seconds of 2,000 vehicles at 18 frames/s).
	QueueLen int
	// MaxOpen bounds open files; past it the files written least recently
	// are closed at the next flush (and reopened for append when their
	// vehicle speaks again). Default 4096, at most half the process's
	// file limit.
	MaxOpen int
	// FlushEvery is how often each vehicle's buffered frames are written
	// to its file (default 1 s); a vehicle's buffer is also written when
	// it reaches 64 KiB. A crash loses at most this much of a tlog.
	FlushEvery time.Duration
	Log        *slog.Logger
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
	// Queued is how many frames wait to be written now, of QueueLen.
	Queued   int `json:"queued"`
	QueueLen int `json:"queue_len"`
	// OpenFiles is how many tlogs are open now.
	OpenFiles int `json:"open_files"`
}

type tapped struct {
	vehicle string
	at      time.Time
	f       frame.Frame
	raw     []byte // the frame as received, when known
}

// flushBytes is the buffer size past which a vehicle's frames are written
// before the next timed flush.
const flushBytes = 64 << 10

type vehicleLog struct {
	path      string // current file
	base      string // flight's base name, without .tlog
	part      int
	size      int64 // bytes of the current part, buffered ones included
	armed     bool
	f         *os.File
	buf       []byte // encoded entries not yet written
	lastWrite time.Time
}

// Recorder writes every vehicle's raw MAVLink stream to tlogs: one file per
// vehicle per flight (a new file when the vehicle is first heard and at
// each arming), split into parts by size, under a total disk cap.
//
// Frames are handed over in batches (Tap appends to a slice under a
// mutex; Run swaps it out), encoded into a buffer per vehicle and written
// once per FlushEvery, so a fleet costs one write per vehicle per second
// rather than one per frame; files stay open between flushes, and a part
// is fsynced when it is finished.
type Recorder struct {
	opts RecorderOptions
	log  *slog.Logger
	rw   *dialect.ReadWriter
	wake chan struct{}

	mu      sync.Mutex
	pending []tapped
	stats   RecorderStats

	// owned by Run
	spare       []tapped
	vehicles    map[string]*vehicleLog
	byID        *[idCacheSize]idSlot // in front of vehicles (vehicleOf)
	open        int
	w           *Writer
	cur         *vehicleLog
	loggedDrops uint64
	lastDropLog time.Time
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
		opts.QueueLen = 262144
	}
	if opts.MaxOpen <= 0 {
		opts.MaxOpen = 4096
		if lim, ok := openFileLimit(); ok && lim/2 < uint64(opts.MaxOpen) {
			opts.MaxOpen = max(16, int(lim/2))
		}
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("tlog recorder: %w", err)
	}
	r := &Recorder{opts: opts, log: opts.Log, rw: DefaultDialect(), wake: make(chan struct{}, 1),
		vehicles: map[string]*vehicleLog{}, byID: new([idCacheSize]idSlot)}
	r.stats.MaxTotalBytes = opts.MaxTotalBytes
	r.stats.QueueLen = opts.QueueLen
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

// Tap takes one frame received from (or sent to) a vehicle. It never
// blocks: the frame is queued or, if the writer is that far behind,
// dropped and counted. The frame is kept until written and must not be
// modified by anyone (gomavlib decodes every frame into a fresh value).
// raw, when not nil, is the frame exactly as received: it is logged as is
// (the evidence of what the vehicle sent, and no encoding work); without
// it the frame is encoded. Its signature matches the ground station's
// frame tap.
func (r *Recorder) Tap(vehicleID, link string, at time.Time, f frame.Frame, raw []byte) {
	r.mu.Lock()
	if len(r.pending) >= r.opts.QueueLen {
		r.stats.Dropped++
		r.mu.Unlock()
		return
	}
	r.pending = append(r.pending, tapped{vehicle: vehicleID, at: at, f: f, raw: raw})
	n := len(r.pending)
	r.mu.Unlock()
	if n == r.opts.QueueLen/4 {
		// Well ahead of the timed drain: wake the writer now.
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// Stats returns the counters so far.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Queued = len(r.pending)
	return s
}

// drainEvery is how often Run takes what Tap queued: often enough to keep
// the queue short, rarely enough that a busy fleet costs few wake-ups.
const drainEvery = 20 * time.Millisecond

// Run writes queued frames until ctx is cancelled, then writes what is
// queued, flushes, fsyncs and closes every file.
func (r *Recorder) Run(ctx context.Context) error {
	drain := time.NewTicker(drainEvery)
	defer drain.Stop()
	flush := time.NewTicker(r.opts.FlushEvery)
	defer flush.Stop()
	defer r.closeAll()
	for {
		select {
		case <-ctx.Done():
			r.drain()
			return nil
		case <-drain.C:
			r.drain()
		case <-r.wake:
			r.drain()
		case now := <-flush.C:
			r.drain()
			r.flushAll()
			r.trimOpen(now)
			r.logDrops(now)
		}
	}
}

// drain writes every queued frame into its vehicle's buffer.
func (r *Recorder) drain() {
	r.mu.Lock()
	batch := r.pending
	r.pending = r.spare[:0]
	r.mu.Unlock()
	if len(batch) == 0 {
		r.spare = batch
		return
	}
	var frames, bytes uint64
	var errs uint64
	for i := range batch {
		n, err := r.write(batch[i])
		if err != nil {
			errs++
		} else {
			frames++
		}
		bytes += uint64(n)
		batch[i] = tapped{} // release the frame
	}
	r.spare = batch[:0]
	r.mu.Lock()
	r.stats.Frames += frames
	r.stats.Bytes += bytes
	r.stats.TotalBytes += int64(bytes)
	over := r.stats.TotalBytes > r.opts.MaxTotalBytes
	r.mu.Unlock()
	if over {
		r.enforceCap()
	}
}

// logDrops logs frames dropped since the last report, at most every 10 s.
func (r *Recorder) logDrops(now time.Time) {
	if now.Sub(r.lastDropLog) < 10*time.Second {
		return
	}
	r.mu.Lock()
	d := r.stats.Dropped
	r.mu.Unlock()
	if d > r.loggedDrops {
		r.log.Warn("tlog frames dropped: the recorder fell behind", "dropped", d-r.loggedDrops, "total", d,
			"queue_len", r.opts.QueueLen)
		r.loggedDrops = d
		r.lastDropLog = now
	}
}

// curWriter routes the tlog Writer's output to the current vehicle's buffer.
type curWriter struct{ r *Recorder }

func (c *curWriter) Write(p []byte) (int, error) {
	c.r.cur.buf = append(c.r.cur.buf, p...)
	return len(p), nil
}

// idCacheSize is the number of slots of the recorder's cache of vehicle
// logs by ID (vehicleOf): a power of two, about twice the vehicles of a
// large fleet, 192 KiB.
const idCacheSize = 8192

// idSlot is a slot of that cache: a vehicle ID and its log.
type idSlot struct {
	id string
	vl *vehicleLog
}

// vehicleOf returns the vehicle's log, nil if it has none. It is called
// for every frame (36,000 a second at 2,000 vehicles), and a lookup in the
// map of 2,000 vehicles by ID cost three cache misses (its control word,
// the key's string header and its bytes), ~2 % of the station's CPU. The
// ground station hands every frame of a vehicle the same ID string, so
// the address of its bytes picks a slot of a direct-mapped cache, and
// the same address and length there are the same ID (strings do not
// change) with no byte read; anything else goes to the map.
func (r *Recorder) vehicleOf(id string) *vehicleLog {
	p := unsafe.StringData(id)
	s := &r.byID[(uintptr(unsafe.Pointer(p))>>3)&(idCacheSize-1)]
	if s.vl != nil && unsafe.StringData(s.id) == p && len(s.id) == len(id) {
		return s.vl
	}
	vl := r.vehicles[id]
	if vl != nil {
		*s = idSlot{id: id, vl: vl}
	}
	return vl
}

func (r *Recorder) write(t tapped) (int, error) {
	vl := r.vehicleOf(t.vehicle)
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
		r.finishPart(vl)
		vl.base = filepath.Join(r.opts.Dir, safeName(t.vehicle), t.at.UTC().Format("20060102-150405.000"))
		vl.part = 1
		r.startPart(vl)
	} else if vl.size >= r.opts.MaxFileBytes {
		r.finishPart(vl)
		vl.part++
		r.startPart(vl)
	}
	r.cur = vl
	var n int
	var err error
	if t.raw != nil {
		// Straight into the vehicle's buffer, as Writer.WriteRaw lays it
		// out (the time, then the frame): through the Writer each frame
		// was copied twice, into its scratch buffer and then here.
		vl.buf = binary.BigEndian.AppendUint64(vl.buf, uint64(t.at.UnixMicro()))
		vl.buf = append(vl.buf, t.raw...)
		n = 8 + len(t.raw)
	} else {
		n, err = r.w.Write(t.at, t.f)
	}
	vl.size += int64(n)
	if err != nil {
		r.fail(fmt.Errorf("tlog %s: %w", vl.path, err))
		return n, err
	}
	if len(vl.buf) >= flushBytes {
		r.flushVehicle(vl)
	}
	return n, nil
}

func (r *Recorder) startPart(vl *vehicleLog) {
	vl.path = vl.base + ".tlog"
	if vl.part > 1 {
		vl.path = fmt.Sprintf("%s-part%d.tlog", vl.base, vl.part)
	}
	vl.size = 0
	r.mu.Lock()
	r.stats.Files++
	r.mu.Unlock()
}

// finishPart writes what the vehicle has buffered, fsyncs and closes its
// file: a finished part is on disk.
func (r *Recorder) finishPart(vl *vehicleLog) {
	r.flushVehicle(vl)
	if vl.f != nil {
		if err := vl.f.Sync(); err != nil {
			r.fail(fmt.Errorf("fsync tlog %s: %w", vl.path, err))
		}
	}
	r.closeFile(vl)
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

// flushVehicle writes the vehicle's buffer to its file, opening it (for
// append) if needed.
func (r *Recorder) flushVehicle(vl *vehicleLog) {
	if len(vl.buf) == 0 {
		return
	}
	if vl.f == nil {
		if err := r.openFile(vl); err != nil {
			r.fail(err)
			r.lose(vl)
			return
		}
	}
	if _, err := vl.f.Write(vl.buf); err != nil {
		r.fail(fmt.Errorf("write tlog %s: %w", vl.path, err))
		r.lose(vl)
		return
	}
	vl.lastWrite = time.Now()
	vl.buf = vl.buf[:0]
}

// lose discards a buffer that could not be written: its frames count as
// write errors, and the totals no longer claim its bytes.
func (r *Recorder) lose(vl *vehicleLog) {
	n := len(vl.buf)
	vl.size -= int64(n)
	vl.buf = vl.buf[:0]
	r.mu.Lock()
	r.stats.TotalBytes -= int64(n)
	r.mu.Unlock()
}

func (r *Recorder) openFile(vl *vehicleLog) error {
	if err := os.MkdirAll(filepath.Dir(vl.path), 0o755); err != nil {
		return fmt.Errorf("tlog dir: %w", err)
	}
	f, err := os.OpenFile(vl.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open tlog: %w", err)
	}
	vl.f = f
	r.open++
	r.setOpen()
	return nil
}

func (r *Recorder) setOpen() {
	r.mu.Lock()
	r.stats.OpenFiles = r.open
	r.mu.Unlock()
}

func (r *Recorder) closeFile(vl *vehicleLog) {
	if vl.f == nil {
		return
	}
	if err := vl.f.Close(); err != nil {
		r.fail(fmt.Errorf("close tlog %s: %w", vl.path, err))
	}
	vl.f = nil
	r.open--
	r.setOpen()
}

// idleClose is how long a vehicle's file stays open without frames.
const idleClose = time.Minute

// trimOpen closes the files of vehicles silent for idleClose and, past
// MaxOpen, those written least recently: once per flush, not per frame.
func (r *Recorder) trimOpen(now time.Time) {
	var open []*vehicleLog
	for _, vl := range r.vehicles {
		if vl.f == nil {
			continue
		}
		if now.Sub(vl.lastWrite) >= idleClose {
			r.closeFile(vl)
			continue
		}
		open = append(open, vl)
	}
	if len(open) <= r.opts.MaxOpen {
		return
	}
	slices.SortFunc(open, func(a, b *vehicleLog) int { return a.lastWrite.Compare(b.lastWrite) })
	for _, vl := range open[:len(open)-r.opts.MaxOpen] {
		r.closeFile(vl)
	}
}

func (r *Recorder) flushAll() {
	for _, vl := range r.vehicles {
		r.flushVehicle(vl)
	}
}

func (r *Recorder) closeAll() {
	for _, vl := range r.vehicles {
		r.finishPart(vl)
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
				r.startPart(vl)
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
