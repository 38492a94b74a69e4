package tlog

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/minimal"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
)

// Size defaults for zero RecorderOptions fields (burgut's tlog-file-mb,
// tlog-total-mb and tlog-buffer-mb flags start from them).
const (
	DefaultMaxFileBytes   = 64 << 20
	DefaultMaxTotalBytes  = 4 << 30
	DefaultMaxBufferBytes = 128 << 20
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
	// MaxBufferBytes caps the encoded frames held in memory, not yet
	// written to their files: while the filesystem stalls (creating 2,000
	// vehicles' directories and files, other fsyncs on the same disk) they
	// wait here, and only past this cap are frames dropped and counted.
	// Default 128 MiB: at 2,000 vehicles × 18 frames/s (~1.8 MB/s of
	// tlog) about 70 s of a stalled disk.
	MaxBufferBytes int64
	// QueueLen bounds frames handed over by Tap and not yet taken into
	// the buffers; beyond it frames are dropped and counted, never
	// blocking the ground station (default 262144: seven seconds of 2,000
	// vehicles at 18 frames/s). Taking them does no file I/O, so the
	// queue stays short unless the process is starved of CPU.
	QueueLen int
	// MaxOpen bounds open files; past it the files written least recently
	// are closed at the next flush (and reopened for append when their
	// vehicle speaks again). Default 4096, at most half the process's
	// file limit.
	MaxOpen int
	// FlushEvery is how often each vehicle's buffered frames are handed to
	// the file writer (default 1 s); a vehicle's buffer is also handed
	// over when it reaches 64 KiB. A crash loses at most this much of a
	// tlog, plus whatever a stalled disk had not taken yet.
	FlushEvery time.Duration
	// StopWait bounds how long Run waits at shutdown for the file writer
	// to write what is buffered (default 10 s); a disk stalled longer
	// loses the rest, counted in LostFrames and returned as an error.
	StopWait time.Duration
	Log      *slog.Logger
}

// RecorderStats counts the recorder's work and losses.
type RecorderStats struct {
	// Frames and Bytes are taken into the buffers (and written but for
	// LostFrames); WrittenFrames have reached their files.
	Frames        uint64 `json:"frames"`
	Bytes         uint64 `json:"bytes"`
	WrittenFrames uint64 `json:"written_frames"`
	// Dropped frames never reached a buffer: the queue or the buffer
	// cap was full.
	Dropped uint64 `json:"dropped"`
	// LostFrames were buffered but could not be written: a failed
	// open/write, or a disk still stalled when Run had to stop.
	LostFrames    uint64 `json:"lost_frames"`
	WriteErrors   uint64 `json:"write_errors"`
	Files         uint64 `json:"files_started"`
	DeletedFiles  uint64 `json:"deleted_files"` // by the total disk cap
	TotalBytes    int64  `json:"total_bytes"`
	MaxTotalBytes int64  `json:"max_total_bytes"`
	// Queued is how many frames wait to be taken now, of QueueLen.
	Queued   int `json:"queued"`
	QueueLen int `json:"queue_len"`
	// BufferBytes is how many encoded bytes wait to be written now, of
	// MaxBufferBytes.
	BufferBytes    int64 `json:"buffer_bytes"`
	MaxBufferBytes int64 `json:"max_buffer_bytes"`
	// OpenFiles is how many tlogs are open now.
	OpenFiles int `json:"open_files"`
}

type tapped struct {
	vehicle string
	at      time.Time
	f       frame.Frame
	raw     []byte // the frame as received, when known
}

// flushBytes is the buffer size past which a vehicle's frames are handed
// to the writer before the next timed flush.
const flushBytes = 64 << 10

// vehicleLog is one vehicle's log. Its first fields belong to Run (the
// drain), the last ones to the file writer; restart is how the writer
// tells the drain that the disk cap deleted the part being written.
type vehicleLog struct {
	path   string // current part
	base   string // flight's base name, without .tlog
	part   int
	size   int64 // bytes of the current part, buffered ones included
	armed  bool
	buf    []byte // encoded entries not yet handed to the writer
	frames int    // entries in buf

	restart atomic.Bool

	// owned by the writer
	f         *os.File
	fpath     string // the file f is
	lastWrite time.Time
}

// chunk is a vehicle's encoded frames handed from the drain to the
// writer, for the file at path; finish fsyncs and closes that file after.
type chunk struct {
	vl     *vehicleLog
	path   string
	data   []byte
	frames int
	finish bool
}

// Recorder writes every vehicle's raw MAVLink stream to tlogs: one file per
// vehicle per flight (a new file when the vehicle is first heard and at
// each arming), split into parts by size, under a total disk cap.
//
// Frames are handed over in batches (Tap appends to a slice under a
// mutex; Run swaps it out) and encoded into a buffer per vehicle; once per
// FlushEvery the buffers go, as chunks, to a file writer of their own, so
// a fleet costs one write per vehicle per second rather than one per
// frame. Taking frames and writing files are apart because the disk can
// stall for seconds (2,000 first mkdirs and creates under load, fsyncs of
// the store beside it): a stalled writer only lets the buffers grow, up
// to MaxBufferBytes, and the ground station's frames keep being taken.
// Files stay open between flushes, and a part is fsynced when finished.
type Recorder struct {
	opts RecorderOptions
	log  *slog.Logger
	rw   *dialect.ReadWriter
	wake chan struct{}

	mu      sync.Mutex
	pending []tapped
	stats   RecorderStats

	// buffered is bytes in vehicles' buffers and chunks not yet written:
	// added by the drain (under mu, with TotalBytes), taken off by the
	// writer.
	buffered atomic.Int64
	// inflight is frames handed to the writer and not yet written or
	// counted lost: what a disk stalled at shutdown loses.
	inflight atomic.Int64

	// between the drain and the writer
	wmu      sync.Mutex
	chunks   []chunk
	free     [][]byte // written chunks' buffers, for the drain to reuse
	wwake    chan struct{}
	stopW    chan struct{} // closed by Run once everything is handed over
	wdone    chan struct{} // closed by the writer when it has returned
	abandon  atomic.Bool   // Run stopped waiting: the writer writes no more
	openFile func(path string) (*os.File, error)

	// owned by Run
	spare       []tapped
	out         []chunk
	vehicles    map[string]*vehicleLog
	byID        *[idCacheSize]idSlot // in front of vehicles (vehicleOf)
	w           *Writer
	cur         *vehicleLog
	loggedDrops uint64
	lastDropLog time.Time

	// owned by the writer
	openLogs map[*vehicleLog]struct{}
	// lastWritten is the order of the writer's last write to each file it
	// wrote in this run (wseq counts writes): the disk cap deletes by it,
	// because the files' modification times tie — the kernel's clock
	// for them is coarse (a few ms), and a burst writes many parts within
	// one tick — and a tie broken the wrong way deleted the newest part
	// (TestRecorderFlightsPartsAndCap: newest frame kept 1931 or 1973 of
	// 1999, 3 in 40 runs with -race beside other tests).
	lastWritten map[string]uint64
	wseq        uint64
}

// NewRecorder prepares the directory and measures what is already in it.
func NewRecorder(opts RecorderOptions) (*Recorder, error) {
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxTotalBytes <= 0 {
		opts.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if opts.MaxBufferBytes <= 0 {
		opts.MaxBufferBytes = DefaultMaxBufferBytes
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
	if opts.StopWait <= 0 {
		opts.StopWait = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("tlog recorder: %w", err)
	}
	r := &Recorder{opts: opts, log: opts.Log, rw: DefaultDialect(), wake: make(chan struct{}, 1),
		wwake: make(chan struct{}, 1), stopW: make(chan struct{}), wdone: make(chan struct{}),
		openFile: openAppend,
		vehicles: map[string]*vehicleLog{}, byID: new([idCacheSize]idSlot),
		openLogs: map[*vehicleLog]struct{}{}, lastWritten: map[string]uint64{}}
	r.stats.MaxTotalBytes = opts.MaxTotalBytes
	r.stats.QueueLen = opts.QueueLen
	r.stats.MaxBufferBytes = opts.MaxBufferBytes
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

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// Tap takes one frame received from (or sent to) a vehicle. It never
// blocks: the frame is queued or, if the drain is that far behind,
// dropped and counted. The frame is kept until encoded and must not be
// modified by anyone (gomavlib decodes every frame into a fresh value).
// raw, when not nil, is the frame exactly as received: it is logged as is
// (the evidence of what the vehicle sent, and no encoding work); without
// it the frame is encoded. Its signature matches the ground station's
// frame tap.
func (r *Recorder) Tap(vehicleID, link string, at time.Time, f frame.Frame, raw []byte) {
	r.mu.Lock()
	wake := r.queueLocked(vehicleID, at, f, raw)
	r.mu.Unlock()
	if wake {
		r.wakeDrain()
	}
}

// TapEach is Tap for a batch of frames, queued under one lock: each
// calls add for every frame, in order, and must not block. The ground
// station hands its taps a dispatcher's batch at once; taking the lock
// for each of 36,000 frames a second (2,000 vehicles) moved its cache
// line between the dispatchers' CPUs for every frame.
func (r *Recorder) TapEach(each func(add func(vehicleID string, at time.Time, f frame.Frame, raw []byte))) {
	wake := false
	r.mu.Lock()
	each(func(vehicleID string, at time.Time, f frame.Frame, raw []byte) {
		if r.queueLocked(vehicleID, at, f, raw) {
			wake = true
		}
	})
	r.mu.Unlock()
	if wake {
		r.wakeDrain()
	}
}

// queueLocked queues one frame (or counts it dropped when the queue is
// full) and reports whether the queue just reached a quarter of its
// length, well ahead of the timed drain: then the drain is woken now.
// r.mu must be held.
func (r *Recorder) queueLocked(vehicleID string, at time.Time, f frame.Frame, raw []byte) bool {
	if len(r.pending) >= r.opts.QueueLen {
		r.stats.Dropped++
		return false
	}
	r.pending = append(r.pending, tapped{vehicle: vehicleID, at: at, f: f, raw: raw})
	return len(r.pending) == r.opts.QueueLen/4
}

func (r *Recorder) wakeDrain() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters so far.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Queued = len(r.pending)
	s.BufferBytes = r.buffered.Load()
	return s
}

// drainEvery is how often Run takes what Tap queued: often enough to keep
// the queue short, rarely enough that a busy fleet costs few wake-ups.
const drainEvery = 20 * time.Millisecond

// Run takes queued frames into the vehicles' buffers and runs the file
// writer until ctx is cancelled, then takes what is queued, hands every
// buffer over and waits (up to StopWait) for the writer to write, fsync
// and close every file. An error says what a stalled disk did not take.
func (r *Recorder) Run(ctx context.Context) error {
	go r.writeLoop()
	drain := time.NewTicker(drainEvery)
	defer drain.Stop()
	flush := time.NewTicker(r.opts.FlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.stop()
		case <-drain.C:
			r.drain()
		case <-r.wake:
			r.drain()
		case now := <-flush.C:
			r.drain()
			r.handAll(false)
			r.logDrops(now)
		}
	}
}

// stop hands everything to the writer and waits for it.
func (r *Recorder) stop() error {
	r.drain()
	r.handAll(true)
	close(r.stopW)
	t := time.NewTimer(r.opts.StopWait)
	defer t.Stop()
	select {
	case <-r.wdone:
		r.logDrops(time.Now().Add(time.Hour))
		return nil
	case <-t.C:
	}
	// The writer is stuck in a file operation: it cannot be interrupted,
	// so it is told to write nothing more, and what it holds is lost.
	r.abandon.Store(true)
	frames := uint64(r.inflight.Load())
	r.mu.Lock()
	r.stats.LostFrames += frames
	lost := r.stats.LostFrames
	r.mu.Unlock()
	r.logDrops(time.Now().Add(time.Hour))
	err := fmt.Errorf("tlog recorder: the disk stalled for more than %v at shutdown: %d buffered frames (%d bytes) not written",
		r.opts.StopWait, frames, r.buffered.Load())
	r.log.Error("tlog frames lost at shutdown", "err", err, "lost_frames_total", lost)
	return err
}

// drain takes every queued frame into its vehicle's buffer, dropping
// (and counting) those past MaxBufferBytes.
func (r *Recorder) drain() {
	r.mu.Lock()
	batch := r.pending
	r.pending = r.spare[:0]
	r.mu.Unlock()
	if len(batch) == 0 {
		r.spare = batch
		r.handOut()
		return
	}
	// The writer only takes bytes off, so this room is never too much.
	room := r.opts.MaxBufferBytes - r.buffered.Load()
	var frames, bytes, dropped uint64
	for i := range batch {
		n, err := r.write(batch[i], room)
		switch {
		case err == nil:
			frames++
			bytes += uint64(n)
			room -= int64(n)
		case errors.Is(err, errFull):
			dropped++
		default:
			r.fail(err)
		}
		batch[i] = tapped{} // release the frame
	}
	r.spare = batch[:0]
	r.mu.Lock()
	r.stats.Frames += frames
	r.stats.Bytes += bytes
	r.stats.Dropped += dropped
	r.stats.TotalBytes += int64(bytes)
	r.buffered.Add(int64(bytes))
	r.mu.Unlock()
	r.handOut()
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
			"queue_len", r.opts.QueueLen, "buffer_bytes", r.buffered.Load(), "max_buffer_bytes", r.opts.MaxBufferBytes)
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

// errFull is a frame past MaxBufferBytes.
var errFull = errors.New("tlog buffer full")

// write encodes t into its vehicle's buffer if it fits in room (errFull
// if not) and returns the bytes taken.
func (r *Recorder) write(t tapped, room int64) (int, error) {
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
	switch {
	case newFlight:
		r.finishPart(vl)
		vl.restart.Store(false)
		vl.base = filepath.Join(r.opts.Dir, safeName(t.vehicle), t.at.UTC().Format("20060102-150405.000"))
		vl.part = 1
		r.startPart(vl)
	case vl.size >= r.opts.MaxFileBytes:
		r.finishPart(vl)
		vl.restart.Store(false)
		vl.part++
		r.startPart(vl)
	case vl.restart.Load():
		// The disk cap deleted this part while it was written: the
		// vehicle's log goes on in a new part, what is buffered with it
		// (a tlog may start at any entry).
		vl.restart.Store(false)
		vl.part++
		r.startPart(vl)
	}
	if vl.buf == nil {
		vl.buf = r.takeBuf()
	}
	if t.raw != nil {
		n := 8 + len(t.raw)
		if int64(n) > room {
			return 0, errFull
		}
		// Straight into the vehicle's buffer, as Writer.WriteRaw lays it
		// out (the time, then the frame): through the Writer each frame
		// was copied twice, into its scratch buffer and then here.
		vl.buf = binary.BigEndian.AppendUint64(vl.buf, uint64(t.at.UnixMicro()))
		vl.buf = append(vl.buf, t.raw...)
		return r.took(vl, n), nil
	}
	r.cur = vl
	before := len(vl.buf)
	n, err := r.w.Write(t.at, t.f)
	if err != nil {
		vl.buf = vl.buf[:before]
		return 0, fmt.Errorf("tlog %s: %w", vl.path, err)
	}
	if int64(n) > room {
		vl.buf = vl.buf[:before]
		return 0, errFull
	}
	return r.took(vl, n), nil
}

// took counts n bytes of one frame into vl's buffer and hands the buffer
// over once it is large.
func (r *Recorder) took(vl *vehicleLog, n int) int {
	vl.size += int64(n)
	vl.frames++
	if len(vl.buf) >= flushBytes {
		r.hand(vl, false)
	}
	return n
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

// finishPart hands what the vehicle has buffered to the writer, which
// writes it, fsyncs and closes the file: a finished part is on disk.
func (r *Recorder) finishPart(vl *vehicleLog) {
	if vl.path != "" {
		r.hand(vl, true)
	}
}

// hand queues vl's buffer for the writer (at the end of the drain's
// batch, handOut).
func (r *Recorder) hand(vl *vehicleLog, finish bool) {
	if len(vl.buf) == 0 && !finish {
		return
	}
	r.out = append(r.out, chunk{vl: vl, path: vl.path, data: vl.buf, frames: vl.frames, finish: finish})
	vl.buf = nil
	vl.frames = 0
}

// handAll hands every vehicle's buffer over (and, with finish, every
// part).
func (r *Recorder) handAll(finish bool) {
	for _, vl := range r.vehicles {
		if finish {
			r.finishPart(vl)
		} else {
			r.hand(vl, false)
		}
	}
	r.handOut()
}

// handOut gives the writer what was handed since the last call.
func (r *Recorder) handOut() {
	if len(r.out) == 0 {
		return
	}
	var frames int64
	for _, c := range r.out {
		frames += int64(c.frames)
	}
	r.inflight.Add(frames)
	r.wmu.Lock()
	r.chunks = append(r.chunks, r.out...)
	r.wmu.Unlock()
	clear(r.out)
	r.out = r.out[:0]
	select {
	case r.wwake <- struct{}{}:
	default:
	}
}

// maxFree bounds the written buffers kept for reuse.
const maxFree = 4096

// takeBuf returns an empty buffer, a written one if there is one.
func (r *Recorder) takeBuf() []byte {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if n := len(r.free); n > 0 {
		b := r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
		return b
	}
	return make([]byte, 0, 1024)
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

// writeLoop is the file writer: it writes the chunks the drain hands
// over, closes idle files once per FlushEvery and enforces the disk cap;
// once Run closed stopW it writes what is left, closes every file and
// returns. Run owns it (it is started and waited for there).
func (r *Recorder) writeLoop() {
	defer close(r.wdone)
	tick := time.NewTicker(r.opts.FlushEvery)
	defer tick.Stop()
	stopping := false
	for {
		r.wmu.Lock()
		batch := r.chunks
		r.chunks = nil
		r.wmu.Unlock()
		if len(batch) > 0 {
			r.writeChunks(batch)
			continue
		}
		if stopping || r.abandon.Load() {
			r.closeAll()
			return
		}
		select {
		case <-r.wwake:
		case now := <-tick.C:
			r.trimOpen(now)
		case <-r.stopW:
			stopping = true
		}
	}
}

// writeChunks writes a batch in order and gives their buffers back.
func (r *Recorder) writeChunks(batch []chunk) {
	var frames uint64
	for i, c := range batch {
		if r.abandon.Load() {
			return // Run counted what is left as lost
		}
		if r.writeChunk(c) {
			frames += uint64(c.frames)
		}
		batch[i] = chunk{}
	}
	r.mu.Lock()
	r.stats.WrittenFrames += frames
	over := r.stats.TotalBytes > r.opts.MaxTotalBytes
	r.mu.Unlock()
	if over {
		r.enforceCap()
	}
}

// writeChunk writes one chunk to its file (opened, with its directory,
// if need be), and fsyncs and closes it if the chunk finishes its part.
// It reports whether the chunk's frames are in the file.
func (r *Recorder) writeChunk(c chunk) bool {
	vl := c.vl
	ok := true
	if len(c.data) > 0 {
		if vl.f != nil && vl.fpath != c.path {
			r.closeFile(vl) // a part the disk cap had deleted
		}
		if vl.f == nil {
			if err := r.open(vl, c.path); err != nil {
				r.fail(err)
				ok = false
			}
		}
		if ok && !r.abandon.Load() {
			if _, err := vl.f.Write(c.data); err != nil {
				r.fail(fmt.Errorf("write tlog %s: %w", c.path, err))
				ok = false
			} else {
				vl.lastWrite = time.Now()
				r.wseq++
				r.lastWritten[c.path] = r.wseq
			}
		}
	}
	if r.abandon.Load() {
		return false
	}
	if c.finish && vl.f != nil && vl.fpath == c.path {
		if err := vl.f.Sync(); err != nil {
			r.fail(fmt.Errorf("fsync tlog %s: %w", c.path, err))
		}
		r.closeFile(vl)
	}
	r.buffered.Add(-int64(len(c.data)))
	r.inflight.Add(-int64(c.frames))
	if !ok {
		// Its frames count as lost, and the totals no longer claim them.
		r.mu.Lock()
		r.stats.LostFrames += uint64(c.frames)
		r.stats.TotalBytes -= int64(len(c.data))
		r.mu.Unlock()
	}
	if c.data != nil && cap(c.data) <= 2*flushBytes {
		r.wmu.Lock()
		if len(r.free) < maxFree {
			r.free = append(r.free, c.data[:0])
		}
		r.wmu.Unlock()
	}
	return ok
}

// open opens vl's file at path for append. Its directory is made on the
// first open that finds it missing, not stat'ed before every open: the
// first-open burst of 2,000 vehicles is what stalls the disk.
func (r *Recorder) open(vl *vehicleLog, path string) error {
	f, err := r.openFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("tlog dir: %w", err)
		}
		f, err = r.openFile(path)
	}
	if err != nil {
		return fmt.Errorf("open tlog: %w", err)
	}
	if r.abandon.Load() {
		_ = f.Close()
		return errors.New("tlog recorder stopped")
	}
	vl.f, vl.fpath = f, path
	r.openLogs[vl] = struct{}{}
	r.setOpen()
	return nil
}

func (r *Recorder) setOpen() {
	r.mu.Lock()
	r.stats.OpenFiles = len(r.openLogs)
	r.mu.Unlock()
}

func (r *Recorder) closeFile(vl *vehicleLog) {
	if vl.f == nil {
		return
	}
	if err := vl.f.Close(); err != nil {
		r.fail(fmt.Errorf("close tlog %s: %w", vl.fpath, err))
	}
	vl.f, vl.fpath = nil, ""
	delete(r.openLogs, vl)
	r.setOpen()
}

// idleClose is how long a vehicle's file stays open without frames.
const idleClose = time.Minute

// trimOpen closes the files of vehicles silent for idleClose and, past
// MaxOpen, those written least recently: once per flush, not per frame.
func (r *Recorder) trimOpen(now time.Time) {
	var open []*vehicleLog
	for vl := range r.openLogs {
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

// closeAll fsyncs and closes the files still open (parts the drain
// finished were closed already).
func (r *Recorder) closeAll() {
	for vl := range r.openLogs {
		if r.abandon.Load() {
			break
		}
		if err := vl.f.Sync(); err != nil {
			r.fail(fmt.Errorf("fsync tlog %s: %w", vl.fpath, err))
		}
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

// enforceCap deletes the oldest tlogs (by last write) until those on disk
// are under 90 % of the cap. What is still buffered is not counted there:
// it is written anyway, and counting it deleted the files just written to
// make room for it (the next batch's check sees it on disk). A file being
// written is closed first and, if it must go too, its vehicle's log goes
// on in a new part (restart). Chunks already handed over for a deleted
// part are written to it again.
func (r *Recorder) enforceCap() {
	files, err := r.listFiles()
	if err != nil {
		r.fail(err)
		return
	}
	// Files of earlier runs first, by modification time; then this run's,
	// in the order they were last written (lastWritten: their times tie).
	slices.SortFunc(files, func(a, b fileInfo) int {
		sa, wa := r.lastWritten[a.path]
		sb, wb := r.lastWritten[b.path]
		switch {
		case wa && wb:
			return cmp.Compare(sa, sb)
		case wa != wb:
			if wa {
				return 1
			}
			return -1
		}
		return a.mod.Compare(b.mod)
	})
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
		for vl := range r.openLogs {
			if vl.fpath == f.path {
				r.closeFile(vl)
				vl.restart.Store(true)
			}
		}
		if err := os.Remove(f.path); err != nil {
			r.fail(fmt.Errorf("delete old tlog: %w", err))
			continue
		}
		total -= f.size
		delete(r.lastWritten, f.path)
		deleted = append(deleted, f.path)
	}
	r.mu.Lock()
	r.stats.TotalBytes = total + r.buffered.Load()
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
