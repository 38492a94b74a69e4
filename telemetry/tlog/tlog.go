// Package tlog reads, writes, records and replays MAVLink telemetry logs
// (.tlog): the QGroundControl/MAVProxy/Mission Planner format, a sequence
// of [8-byte big-endian microseconds since the Unix epoch][one MAVLink v1
// or v2 frame].
//
// gomavlib's pkg/tlog stops at the first damaged frame; logs from the field
// have damaged frames, so Reader here resynchronises: it reports each damage
// as a *CorruptError with the byte offset and carries on with the next
// valid entry, so the readable rest of a log is always used.
package tlog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// Entry is one logged frame.
type Entry struct {
	Time  time.Time
	Frame frame.Frame
	// Raw is the frame exactly as logged (without the timestamp): replay
	// sends these bytes unchanged.
	Raw []byte
	// Offset is the entry's byte offset in the log (its timestamp's first byte).
	Offset int64
}

// CorruptError reports damaged bytes. Reading can go on after it: the
// reader has already skipped to the next valid entry (or the end).
type CorruptError struct {
	Offset  int64  // where the damaged entry starts
	Skipped int64  // bytes skipped to reach the next valid entry (or the end)
	Reason  string // what was wrong
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("tlog: corrupt entry at byte %d (%s); skipped %d bytes to byte %d", e.Offset, e.Reason, e.Skipped, e.Offset+e.Skipped)
}

// DefaultDialect is the dialect logs are decoded with: ArduPilot's, which
// includes common and minimal.
func DefaultDialect() *dialect.ReadWriter {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		panic(fmt.Sprintf("tlog: ardupilotmega dialect: %v", err)) // a library bug, not input
	}
	return rw
}

var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
)

// Reader reads entries, resynchronising after damage.
type Reader struct {
	br     *bufio.Reader
	off    int64
	dialRW *dialect.ReadWriter
	src    bytes.Reader
	fbr    *bufio.Reader
	fr     *frame.Reader
	lastTS int64
}

// NewReader reads a tlog from r, decoding known messages with rw (nil =
// DefaultDialect).
func NewReader(r io.Reader, rw *dialect.ReadWriter) *Reader {
	if rw == nil {
		rw = DefaultDialect()
	}
	t := &Reader{br: bufio.NewReaderSize(r, 64<<10), dialRW: rw}
	t.fbr = bufio.NewReaderSize(&t.src, 512)
	t.fr = &frame.Reader{BufByteReader: t.fbr, DialectRW: rw}
	_ = t.fr.Initialize() // cannot fail with BufByteReader set
	return t
}

// Next returns the next entry. It returns io.EOF at the end, and a
// *CorruptError (after skipping the damage) for damaged bytes; callers that
// want the rest keep calling Next. Other errors come from the underlying
// reader.
func (t *Reader) Next() (Entry, error) {
	start := t.off
	e, reason, err := t.try(false)
	if err != nil {
		return Entry{}, err
	}
	if reason == "" {
		t.advance(len(e.Raw) + 8)
		return e, nil
	}
	// Damage: skip byte by byte to the next position holding a strictly
	// valid entry (known message, checksum correct, plausible time).
	t.advance(1)
	for {
		_, r2, err := t.try(true)
		if errors.Is(err, io.EOF) || (err == nil && r2 == "end") {
			// Nothing valid until the end: drop the tail.
			n, _ := t.br.Discard(1 << 30)
			t.off += int64(n)
			return Entry{}, &CorruptError{Offset: start, Skipped: t.off - start, Reason: reason}
		}
		if err != nil {
			return Entry{}, err
		}
		if r2 == "" {
			return Entry{}, &CorruptError{Offset: start, Skipped: t.off - start, Reason: reason}
		}
		t.advance(1)
	}
}

func (t *Reader) advance(n int) {
	d, _ := t.br.Discard(n)
	t.off += int64(d)
}

// try parses the entry at the current position without consuming it. It
// returns reason "" for a valid entry, "end" when no bytes are left (only
// in strict mode), or why the entry is invalid.
func (t *Reader) try(strict bool) (Entry, string, error) {
	hdr, err := t.br.Peek(10)
	if len(hdr) == 0 {
		if errors.Is(err, io.EOF) {
			if strict {
				return Entry{}, "end", nil
			}
			return Entry{}, "", io.EOF
		}
		return Entry{}, "", fmt.Errorf("tlog: read at byte %d: %w", t.off, err)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return Entry{}, "", fmt.Errorf("tlog: read at byte %d: %w", t.off, err)
	}
	if len(hdr) < 10 {
		return Entry{}, "truncated entry at the end of the log", nil
	}
	ts := int64(binary.BigEndian.Uint64(hdr))
	if ts < minTime || ts > maxTime {
		return Entry{}, fmt.Sprintf("implausible timestamp %d µs", ts), nil
	}
	if strict && t.lastTS != 0 && (ts < t.lastTS-int64(time.Hour/time.Microsecond) || ts > t.lastTS+int64(24*time.Hour/time.Microsecond)) {
		return Entry{}, "timestamp far from its neighbours", nil
	}
	var n int
	switch hdr[8] {
	case frame.V1MagicByte:
		n = 6 + int(hdr[9]) + 2
	case frame.V2MagicByte:
		h2, _ := t.br.Peek(11)
		if len(h2) < 11 {
			return Entry{}, "truncated entry at the end of the log", nil
		}
		n = 10 + int(hdr[9]) + 2
		if h2[10]&frame.V2FlagSigned != 0 {
			n += 13
		}
	default:
		return Entry{}, fmt.Sprintf("no MAVLink frame start (0xFE/0xFD) after the timestamp, got 0x%02X", hdr[8]), nil
	}
	b, _ := t.br.Peek(8 + n)
	if len(b) < 8+n {
		return Entry{}, "truncated entry at the end of the log", nil
	}
	raw := b[8:]
	t.src.Reset(raw)
	t.fbr.Reset(&t.src)
	f, err := t.fr.Read()
	if err != nil {
		return Entry{}, err.Error(), nil
	}
	if strict {
		if t.dialRW.GetMessage(f.GetMessage().GetID()) == nil {
			return Entry{}, "unknown message", nil
		}
	}
	t.lastTS = ts
	return Entry{Time: time.UnixMicro(ts).UTC(), Frame: f, Raw: append([]byte(nil), raw...), Offset: t.off}, "", nil
}

// Writer appends entries to a tlog.
type Writer struct {
	rw  *dialect.ReadWriter
	w   io.Writer
	fw  *frame.Writer
	buf bytes.Buffer
}

// NewWriter writes a tlog to w, encoding decoded messages with rw (nil =
// DefaultDialect).
func NewWriter(w io.Writer, rw *dialect.ReadWriter) *Writer {
	if rw == nil {
		rw = DefaultDialect()
	}
	t := &Writer{w: w, rw: rw}
	t.fw = &frame.Writer{ByteWriter: &t.buf, DialectRW: rw}
	_ = t.fw.Initialize() // cannot fail with ByteWriter set
	return t
}

// Write logs a frame received at at. The frame is not modified (it is
// copied before encoding), so a frame shared with other readers is safe.
// It returns the bytes written.
func (t *Writer) Write(at time.Time, f frame.Frame) (int, error) {
	// Encode on a copy, with the checksum of the encoded payload (a frame
	// built locally has none; a received one gets the same value back).
	if _, raw := f.GetMessage().(*message.MessageRaw); !raw {
		mp := t.rw.GetMessage(f.GetMessage().GetID())
		if mp == nil {
			return 0, fmt.Errorf("tlog: message %d is not in the dialect", f.GetMessage().GetID())
		}
		switch ff := f.(type) {
		case *frame.V1Frame:
			c := *ff
			c.Message = mp.Write(ff.Message, false)
			c.Checksum = c.GenerateChecksum(mp.CRCExtra())
			f = &c
		case *frame.V2Frame:
			c := *ff
			c.Message = mp.Write(ff.Message, true)
			c.Checksum = c.GenerateChecksum(mp.CRCExtra())
			f = &c
		}
	}
	t.buf.Reset()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.UnixMicro()))
	t.buf.Write(ts[:])
	if err := t.fw.Write(f); err != nil {
		return 0, fmt.Errorf("tlog: encode frame (message %d): %w", f.GetMessage().GetID(), err)
	}
	n, err := t.w.Write(t.buf.Bytes())
	if err != nil {
		return n, fmt.Errorf("tlog: write: %w", err)
	}
	return n, nil
}

// WriteRaw logs an already encoded frame.
func (t *Writer) WriteRaw(at time.Time, raw []byte) (int, error) {
	t.buf.Reset()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.UnixMicro()))
	t.buf.Write(ts[:])
	t.buf.Write(raw)
	n, err := t.w.Write(t.buf.Bytes())
	if err != nil {
		return n, fmt.Errorf("tlog: write: %w", err)
	}
	return n, nil
}
