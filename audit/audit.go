// Package audit is the station's tamper-evident record of who did what:
// every mutating API call and every login attempt appends one entry to an
// append-only file (DATA_DIR/audit/audit.log, JSON lines). Each entry
// carries the hash of the one before it and its own hash over its bytes,
// so editing, removing or reordering entries breaks the chain, and Verify
// names the first entry where it breaks. Every append is fsync'd before
// the call returns, so an answered request is on disk.
//
// The chain proves integrity against edits of the file's middle; cutting
// entries off the end leaves a valid (shorter) chain, which is why the
// entries are also published to the monitoring center (MQTT
// burgut/v1/<station>/audit) for an independent copy.
package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one audited action. Seq, Prev and Hash are set by Append.
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Actor is the user name, "token:NAME" for an API token, or
	// "anonymous"; for a login, the user name that was tried.
	Actor  string `json:"actor"`
	Role   string `json:"role,omitempty"`
	Source string `json:"source"` // the client's address
	// Route is the route pattern ("POST /api/v1/commands/{name}"); Path
	// the request's path.
	Route    string   `json:"route"`
	Path     string   `json:"path,omitempty"`
	Vehicles []string `json:"vehicles,omitempty"` // target vehicle IDs ("*" = all)
	// BodySHA256 is the digest of the request body; Body the body itself
	// for commands and uploads (what was sent to the aircraft).
	BodySHA256 string `json:"body_sha256,omitempty"`
	BodyBytes  int64  `json:"body_bytes,omitempty"`
	Body       string `json:"body,omitempty"`
	Status     int    `json:"status"`
	// Result is "ok" for a 2xx answer, else the error code; Detail says
	// more (e.g. why a login failed), never a secret.
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash"`
}

// FileName is the log's path under the data directory.
const FileName = "audit/audit.log"

// Path is the audit log of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Log appends entries to the audit file. Its methods are safe for
// concurrent use. Concurrent appends share fsyncs (group commit): each
// writes its line under the lock, then waits until an fsync that started
// after its write has finished, so every Append still returns only once
// its entry is on disk, and a burst of N calls costs far fewer than N
// fsyncs.
type Log struct {
	mu       sync.Mutex // chain state (seq, prev) and writes
	f        *os.File
	path     string
	seq      uint64
	prev     string
	size     int64      // end of the last complete entry
	syncMu   sync.Mutex // one fsync at a time
	synced   int64      // bytes known to be on disk (under syncMu)
	log      *slog.Logger
	notify   func(Entry)
	failures atomic.Uint64
	now      func() time.Time
}

// Options configure Open.
type Options struct {
	Log *slog.Logger
	// Notify, when set, is called with each entry once it is written (in
	// sequence order, under the log's lock, before the fsync that makes it
	// durable completes: it must not block; hand off to a queue).
	Notify func(Entry)
	Now    func() time.Time
}

// ErrLocked means another process holds the audit log open for writing.
var ErrLocked = errors.New("audit log is in use by another process")

// Open opens (creating) the audit log of dataDir for appending and takes
// an exclusive lock on it, so two stations never interleave one chain. A
// torn last line (a crash mid-write) is moved to a side file, logged, and
// the chain continues from the last complete entry.
func Open(dataDir string, opts Options) (*Log, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	path := Path(dataDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("open audit log %s: %w", path, ErrLocked)
	}
	l := &Log{f: f, path: path, log: opts.Log, notify: opts.Notify, now: opts.Now}
	if err := l.recover(); err != nil {
		f.Close()
		return nil, err
	}
	if err := l.setSize(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// recover finds the last complete entry (reading backwards from the end)
// and sets seq/prev from it.
func (l *Log) recover() error {
	st, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	tail, start, err := lastLine(l.f, size)
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	complete := len(tail) > 0 && tail[len(tail)-1] == '\n'
	var e Entry
	if complete {
		if _, perr := parseLine(tail[:len(tail)-1]); perr == nil {
			_ = json.Unmarshal(tail, &e)
		} else {
			complete = false
		}
	}
	if !complete {
		side := fmt.Sprintf("%s.torn-%d", l.path, time.Now().UnixNano())
		if err := os.WriteFile(side, tail, 0o600); err != nil {
			return fmt.Errorf("audit log %s: save torn tail: %w", l.path, err)
		}
		if err := l.f.Truncate(start); err != nil {
			return fmt.Errorf("audit log %s: cut torn tail: %w", l.path, err)
		}
		l.log.Error("audit log: incomplete last entry moved aside (crash during a write?)",
			"file", l.path, "moved_to", side, "bytes", len(tail))
		if start == 0 {
			return nil
		}
		return l.recover()
	}
	l.seq, l.prev = e.Seq, e.Hash
	return nil
}

// setSize records the file's size after recovery: everything in it is on
// disk as far as this process knows.
func (l *Log) setSize() error {
	st, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	l.size, l.synced = st.Size(), st.Size()
	return nil
}

// lastLine returns the bytes after the second-to-last newline (the last
// line, with its newline if it has one) and where they start.
func lastLine(f *os.File, size int64) ([]byte, int64, error) {
	const chunk = 64 << 10
	var buf []byte
	end := size
	for end > 0 {
		n := int64(chunk)
		if n > end {
			n = end
		}
		b := make([]byte, n)
		if _, err := f.ReadAt(b, end-n); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		buf = append(b, buf...)
		end -= n
		search := buf
		if len(search) > 0 && search[len(search)-1] == '\n' {
			search = search[:len(search)-1]
		}
		if i := bytes.LastIndexByte(search, '\n'); i >= 0 {
			return buf[i+1:], end + int64(i) + 1, nil
		}
	}
	return buf, 0, nil
}

// Append completes e (Seq, Prev, Hash, Time if zero), writes it and
// fsyncs. An error means the entry is not recorded; the caller decides
// whether the action may proceed (the HTTP guard refuses mutations it
// cannot audit).
func (l *Log) Append(e Entry) (Entry, error) {
	l.mu.Lock()
	if l.f == nil {
		l.mu.Unlock()
		return e, errors.New("audit log is closed")
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	e.Seq = l.seq + 1
	e.Prev = l.prev
	e.Hash = ""
	line, hash, err := encode(e)
	if err != nil {
		l.mu.Unlock()
		l.failures.Add(1)
		return e, err
	}
	if _, err := l.f.Write(line); err != nil {
		// Cut a partial line, so the chain goes on from the last entry.
		_ = l.f.Truncate(l.size)
		l.mu.Unlock()
		l.failures.Add(1)
		return e, fmt.Errorf("audit log %s: write: %w", l.path, err)
	}
	l.size += int64(len(line))
	end, f := l.size, l.f
	e.Hash = hash
	l.seq, l.prev = e.Seq, hash
	if l.notify != nil {
		l.notify(e)
	}
	l.mu.Unlock()
	if err := l.syncTo(f, end); err != nil {
		l.failures.Add(1)
		return e, fmt.Errorf("audit log %s: fsync: %w", l.path, err)
	}
	return e, nil
}

// syncTo returns once the file is on disk at least up to end. Whoever
// holds syncMu fsyncs everything written so far, so callers that queued
// behind it usually find their entry already covered.
func (l *Log) syncTo(f *os.File, end int64) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.synced >= end {
		return nil
	}
	l.mu.Lock()
	upto := l.size
	l.mu.Unlock()
	if err := f.Sync(); err != nil {
		return err
	}
	l.synced = upto
	return nil
}

// Failures counts appends that did not reach the disk.
func (l *Log) Failures() uint64 { return l.failures.Load() }

// Seq is the last entry's sequence number.
func (l *Log) Seq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Close releases the file and its lock.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// hashSuffix is how every line ends: the entry's hash as its last field.
const hashField = `,"hash":"`

// encode renders e (with an empty Hash) as a line whose hash is the
// SHA-256 of everything before the hash field plus the closing brace.
func encode(e Entry) (line []byte, hash string, err error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, "", fmt.Errorf("audit entry: %w", err)
	}
	// b ends with ,"hash":""} — cut it and hash the rest.
	i := bytes.LastIndex(b, []byte(hashField))
	if i < 0 {
		return nil, "", errors.New("audit entry: hash field missing")
	}
	body := append(b[:i:i], '}')
	sum := sha256.Sum256(body)
	hash = hex.EncodeToString(sum[:])
	line = make([]byte, 0, len(b)+70)
	line = append(line, b[:i]...)
	line = append(line, hashField...)
	line = append(line, hash...)
	line = append(line, '"', '}', '\n')
	return line, hash, nil
}

// parseLine checks one line's own hash and returns the entry.
func parseLine(line []byte) (Entry, error) {
	var e Entry
	i := bytes.LastIndex(line, []byte(hashField))
	if i < 0 || len(line) != i+len(hashField)+64+2 || !bytes.HasSuffix(line, []byte(`"}`)) {
		return e, errors.New("line does not end with its hash")
	}
	body := append(line[:i:i], '}')
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != string(line[i+len(hashField):i+len(hashField)+64]) {
		return e, errors.New("hash does not match the entry's contents (edited)")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("not a valid entry: %w", err)
	}
	return e, nil
}

// VerifyError names the first entry where the chain breaks.
type VerifyError struct {
	Line   int    // 1-based line number in the file
	Seq    uint64 // the sequence number the entry claims (0 if unreadable)
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Seq > 0 {
		return fmt.Sprintf("audit log broken at line %d (entry seq %d): %s", e.Line, e.Seq, e.Reason)
	}
	return fmt.Sprintf("audit log broken at line %d: %s", e.Line, e.Reason)
}

// Verify reads the whole chain from r and returns the number of intact
// entries, or a *VerifyError naming the first bad one.
func Verify(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var prev string
	var seq uint64
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return n, fmt.Errorf("read audit log: %w", err)
		}
		lineNo := n + 1
		if line[len(line)-1] != '\n' {
			return n, &VerifyError{Line: lineNo, Reason: reasonIncomplete}
		}
		e, perr := parseLine(line[:len(line)-1])
		if perr != nil {
			return n, &VerifyError{Line: lineNo, Seq: claimedSeq(line), Reason: perr.Error()}
		}
		switch {
		case e.Prev != prev:
			return n, &VerifyError{Line: lineNo, Seq: e.Seq, Reason: "does not follow the entry before it (an entry was removed, inserted or reordered)"}
		case e.Seq != seq+1:
			return n, &VerifyError{Line: lineNo, Seq: e.Seq, Reason: fmt.Sprintf("sequence number %d, want %d", e.Seq, seq+1)}
		}
		prev, seq = e.Hash, e.Seq
		n++
	}
}

// VerifyFile verifies the audit log of a data directory.
// A running station may be in the middle of writing the last line: an
// incomplete last line is read again after a moment before it is reported.
func VerifyFile(dataDir string) (int, error) {
	verify := func() (int, error) {
		f, err := os.Open(Path(dataDir))
		if err != nil {
			return 0, fmt.Errorf("open audit log: %w", err)
		}
		defer f.Close()
		return Verify(f)
	}
	n, err := verify()
	var ve *VerifyError
	if errors.As(err, &ve) && ve.Reason == reasonIncomplete {
		time.Sleep(200 * time.Millisecond)
		n, err = verify()
	}
	return n, err
}

const reasonIncomplete = "last line is incomplete"

// claimedSeq reads the seq an entry claims, even when the rest of the
// line no longer parses.
func claimedSeq(line []byte) uint64 {
	rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
	if !ok {
		return 0
	}
	var n uint64
	for _, c := range rest {
		if c < '0' || c > '9' || n > (1<<63)/10 {
			break
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}
