package session

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavftp"
)

// MAVLink FTP client (https://mavlink.io/en/services/ftp.html) as
// ArduPilot serves it (GCS_FTP.cpp): requests carry a sequence number, the
// reply carries that number plus one and the opcode it answers, and a
// retransmitted request (same number) is answered again. A burst read
// streams the file as consecutive ACKs (sequence numbers counting up) and
// ends with an end-of-file NAK; whatever the link lost in between is read
// again with ReadFile.
//
// Retransmission timers adapt to the link: the round trip is measured on
// replies to requests sent once (RFC 6298's estimator, Karn's rule) and a
// request is resent after srtt+4·rttvar (at least ftpMinRTO), once at that
// timeout and then doubling it up to Options.ParamTimeout. Only attempts that waited the full
// ParamTimeout count against ParamRetries, so a vehicle gets at least the
// patience the parameter protocol gives it (in practice FTP carries the
// parameters), while a loss on a fast link costs tens of milliseconds
// instead of ParamTimeout.

// ftpState is the per-vehicle FTP client state, guarded by Vehicle.mu.
type ftpState struct {
	busy bool
	// seq is the highest sequence number sent or seen. The next request
	// uses seq+1, so it can never be mistaken by the vehicle for a
	// retransmission of an earlier one (ArduPilot answers a request whose
	// number is one below its last reply's with that reply again).
	seq uint16
	// srtt, rttvar carry the round-trip estimate from one operation to
	// the next, so the first request of the next one is timed by it too.
	srtt, rttvar time.Duration
}

// ftpReadWindow is how many ReadFile requests for lost parts of a burst are
// in flight at once.
const ftpReadWindow = 16

// ftpMinRTO is the shortest retransmission timeout: below it a busy
// vehicle or station would be sent duplicates for nothing.
const ftpMinRTO = 50 * time.Millisecond

// ftpBurstMax is how many packets ArduPilot sends for one BurstReadFile
// before asking for another request (GCS_FTP transfer_size).
const ftpBurstMax = 2000

// FTPMaxFile bounds what ReadFile accepts from a vehicle: it guards the
// station's memory against a corrupt offset. ArduCopter's parameter file
// is about 15 KB.
const FTPMaxFile = 16 << 20

// ParamFile is where ArduPilot serves its parameters over FTP.
const ParamFile = "@PARAM/param.pck"

// ErrFTP marks replies that break the FTP protocol (malformed, or
// contradicting each other); FTPError is a NAK the vehicle sent.
var ErrFTP = errors.New("MAVLink FTP protocol error")

// FTPError is a NAK: the vehicle refused an FTP request.
type FTPError struct {
	Op    mavftp.Opcode
	Path  string
	Code  mavftp.ErrorCode
	Errno uint8 // with ErrFailErrno, when the vehicle sent one
}

func (e *FTPError) Error() string {
	s := fmt.Sprintf("vehicle refused %s", e.Op)
	if e.Path != "" {
		s += fmt.Sprintf(" of %q", e.Path)
	}
	s += ": " + e.Code.String()
	if e.Errno != 0 {
		s += fmt.Sprintf(" (errno %d)", e.Errno)
	}
	return s
}

// FTPEntry is one entry of a directory listing.
type FTPEntry struct {
	Name string `json:"name"`
	Dir  bool   `json:"dir"`
	Size int64  `json:"size"` // files only
}

// ftpConn is one running FTP operation: its mailbox, its timer and the
// session the vehicle gave it.
type ftpConn struct {
	v       *Vehicle
	w       *waiter
	timer   Timer     // of v.clock, armed by recv for due
	due     time.Time // when recv gives up waiting (errFTPIdle)
	session uint8
	path    string

	malformed int   // replies that could not be decoded
	lastBad   error // the last of them, for the error message

	srtt, rttvar time.Duration // round-trip estimate; srtt 0 = no sample yet
}

// sampleRTT feeds one round trip of a request sent once into the estimate.
func (c *ftpConn) sampleRTT(d time.Duration) {
	if c.srtt == 0 {
		c.srtt, c.rttvar = max(d, time.Microsecond), d/2
		return
	}
	diff := c.srtt - d
	if diff < 0 {
		diff = -diff
	}
	c.rttvar = (3*c.rttvar + diff) / 4
	c.srtt = (7*c.srtt + d) / 8
}

// rto is the base retransmission timeout: ParamTimeout until a round trip
// has been measured.
func (c *ftpConn) rto() time.Duration {
	if c.srtt == 0 {
		return c.v.opts.ParamTimeout
	}
	return min(max(c.srtt+4*c.rttvar, ftpMinRTO), c.v.opts.ParamTimeout)
}

// attemptTimeout is how long attempt n (0-based) of a request waits: the
// RTO for the first two (a single loss is the common case on a radio
// link), then doubling up to ParamTimeout (the vehicle may be busy).
func (c *ftpConn) attemptTimeout(n int) time.Duration {
	d := c.rto()
	for ; n > 1 && d < c.v.opts.ParamTimeout; n-- {
		d *= 2
	}
	return min(d, c.v.opts.ParamTimeout)
}

// retries tracks one request's attempts; exhausted once ParamRetries+1 of
// them waited the full ParamTimeout.
type retries struct {
	sent, full int
	wait       time.Duration // of the attempt in flight
	sentAt     time.Time
}

func (r *retries) attempt(c *ftpConn) time.Duration {
	r.wait = c.attemptTimeout(r.sent)
	r.sent++
	r.sentAt = c.v.clock.Now()
	return r.wait
}

// expired records that the attempt in flight went unanswered and reports
// whether the request has used up its retries.
func (r *retries) expired(c *ftpConn) bool {
	if r.wait >= c.v.opts.ParamTimeout {
		r.full++
	}
	return r.full > c.v.opts.ParamRetries
}

// answered feeds the round trip when only one attempt was sent.
func (r *retries) answered(c *ftpConn) {
	if r.sent == 1 {
		c.sampleRTT(c.v.clock.Now().Sub(r.sentAt))
	}
}

// beginFTP claims the vehicle's FTP client (one operation at a time, so
// sequence numbers and sessions never interleave) and subscribes to
// FILE_TRANSFER_PROTOCOL.
func (v *Vehicle) beginFTP(path string) (*ftpConn, func(), error) {
	v.mu.Lock()
	if v.ftp.busy {
		v.mu.Unlock()
		return nil, nil, ErrBusy
	}
	v.ftp.busy = true
	c := &ftpConn{v: v, timer: v.stoppedTimer(), path: path, srtt: v.ftp.srtt, rttvar: v.ftp.rttvar}
	v.mu.Unlock()
	release := func() {
		v.mu.Lock()
		v.ftp.busy = false
		v.ftp.srtt, v.ftp.rttvar = c.srtt, c.rttvar
		v.mu.Unlock()
	}
	station := v.opts.StationSystemID
	w, unsubscribe, err := v.subscribe(func(msg message.Message) bool {
		m, ok := msg.(*common.MessageFileTransferProtocol)
		return ok && (station == 0 || m.TargetSystem == 0 || m.TargetSystem == station)
	})
	if err != nil {
		release()
		return nil, nil, err
	}
	c.w = w
	return c, func() {
		c.timer.Stop()
		unsubscribe()
		release()
	}, nil
}

func (c *ftpConn) nextSeq() uint16 {
	c.v.mu.Lock()
	defer c.v.mu.Unlock()
	c.v.ftp.seq++
	return c.v.ftp.seq
}

// observe keeps ftpState.seq at the highest sequence number the vehicle
// used (burst replies count up past the request's).
func (c *ftpConn) observe(seq uint16) {
	c.v.mu.Lock()
	defer c.v.mu.Unlock()
	if int16(seq-c.v.ftp.seq) > 0 {
		c.v.ftp.seq = seq
	}
}

func (c *ftpConn) send(p *mavftp.Packet) error {
	payload, err := p.Marshal()
	if err != nil {
		return err
	}
	return c.v.sendMsg(&common.MessageFileTransferProtocol{
		TargetSystem: c.v.target.SystemID, TargetComponent: c.v.target.ComponentID, Payload: payload,
	})
}

// errFTPIdle is recv's "the timer fired".
var errFTPIdle = errors.New("no reply")

// wait sets recv's deadline d from now.
func (c *ftpConn) wait(d time.Duration) { c.due = c.v.clock.Now().Add(d) }

// recv returns the next decodable FTP packet, or errFTPIdle once c.due
// passes first (on the session's Clock). Undecodable packets are counted
// and skipped: like a lost packet, the retry logic recovers.
func (c *ftpConn) recv(ctx context.Context) (mavftp.Packet, error) {
	for {
		msg, err := c.v.next(ctx, c.w, c.timer, c.due)
		if err != nil {
			return mavftp.Packet{}, err
		}
		if msg == nil {
			return mavftp.Packet{}, errFTPIdle
		}
		m := msg.(*common.MessageFileTransferProtocol)
		p, err := mavftp.Unmarshal(&m.Payload)
		if err != nil {
			c.bad(err)
			continue
		}
		c.observe(p.Seq)
		return p, nil
	}
}

func (c *ftpConn) bad(err error) {
	c.malformed++
	c.lastBad = err
	c.v.log.Debug("malformed MAVLink FTP reply ignored", "path", c.path, "err", err)
}

// timeoutErr is the error after the last retry, naming the last malformed
// reply when there was one (a vehicle that only ever answers garbage).
func (c *ftpConn) timeoutErr(what string, tries int) error {
	err := fmt.Errorf("no answer to %s after %d attempts: %w", what, tries, ErrTimeout)
	if c.lastBad != nil {
		err = fmt.Errorf("%w; %d malformed replies, the last: %w", err, c.malformed, errors.Join(ErrFTP, c.lastBad))
	}
	return err
}

func (c *ftpConn) nak(p *mavftp.Packet, op mavftp.Opcode) *FTPError {
	code, errno := p.NakCode()
	return &FTPError{Op: op, Path: c.path, Code: code, Errno: errno}
}

// transact sends one request and waits for its ACK, resending the same
// packet (same sequence number) on timeouts. A NAK is returned as
// *FTPError together with the packet. The reply must carry the request's
// sequence number plus one and answer its opcode; with matchSession also
// its session (every request but Open and Reset, for which the vehicle
// chooses).
func (c *ftpConn) transact(ctx context.Context, req mavftp.Packet, matchSession bool) (mavftp.Packet, error) {
	req.Seq = c.nextSeq()
	var try retries
	for {
		if err := c.send(&req); err != nil {
			return mavftp.Packet{}, err
		}
		c.wait(try.attempt(c))
		for {
			p, err := c.recv(ctx)
			if errors.Is(err, errFTPIdle) {
				break
			}
			if err != nil {
				return mavftp.Packet{}, err
			}
			if p.Seq != req.Seq+1 || p.ReqOpcode != req.Opcode || (matchSession && p.Session != req.Session) {
				continue // stale: an earlier request's or burst's packet
			}
			switch p.Opcode {
			case mavftp.OpAck:
				try.answered(c)
				return p, nil
			case mavftp.OpNak:
				try.answered(c)
				return p, c.nak(&p, req.Opcode)
			}
			c.bad(fmt.Errorf("reply to %s with opcode %s", req.Opcode, p.Opcode))
		}
		if try.expired(c) {
			return mavftp.Packet{}, c.timeoutErr(req.Opcode.String(), try.sent)
		}
	}
}

// FTPReadFile reads a whole file from the vehicle: OpenFileRO, burst reads
// until the vehicle reports the end of the file, ReadFile for every part
// the link lost, TerminateSession. p, when set, gets (bytes received, size
// the vehicle announced or the end once known); ArduPilot announces an
// estimate for @PARAM/param.pck, so the end is only known at EOF.
func (v *Vehicle) FTPReadFile(ctx context.Context, path string, p Progress) ([]byte, error) {
	b, err := v.ftpRead(ctx, path, p)
	if err != nil {
		return nil, fmt.Errorf("read %q from vehicle %d over FTP: %w", path, v.target.SystemID, err)
	}
	return b, nil
}

func (v *Vehicle) ftpRead(ctx context.Context, path string, p Progress) ([]byte, error) {
	if err := checkFTPPath(path); err != nil {
		return nil, err
	}
	c, end, err := v.beginFTP(path)
	if err != nil {
		return nil, err
	}
	defer end()
	hint, err := c.open(ctx)
	if err != nil {
		return nil, err
	}
	defer c.terminate()
	r := &ftpReader{c: c, hint: hint, progress: p, eof: -1}
	if err := r.burst(ctx); err != nil {
		return nil, err
	}
	if err := r.fillGaps(ctx); err != nil {
		return nil, err
	}
	return r.data[:r.eof], nil
}

func checkFTPPath(path string) error {
	if path == "" {
		return fmt.Errorf("path is empty")
	}
	if len(path) > mavftp.DataMax {
		return fmt.Errorf("path of %d bytes is longer than the %d an FTP packet carries", len(path), mavftp.DataMax)
	}
	if strings.IndexByte(path, 0) >= 0 {
		return fmt.Errorf("path %q holds a NUL byte", path)
	}
	return nil
}

// open opens c.path read-only and returns the size the vehicle announced
// (-1 when the ACK carried none). When the vehicle has no session to give
// (an earlier transfer whose TerminateSession was lost still holds it),
// the sessions are reset and the open is tried once more.
func (c *ftpConn) open(ctx context.Context) (int64, error) {
	req := mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Data: []byte(c.path)}
	ack, err := c.transact(ctx, req, false)
	var ferr *FTPError
	if errors.As(err, &ferr) && (ferr.Code == mavftp.ErrFail || ferr.Code == mavftp.ErrNoSessionsAvailable) {
		if _, rerr := c.transact(ctx, mavftp.Packet{Opcode: mavftp.OpResetSessions}, false); rerr != nil {
			return 0, fmt.Errorf("%w; then ResetSessions: %w", err, rerr)
		}
		ack, err = c.transact(ctx, req, false)
	}
	if err != nil {
		return 0, err
	}
	c.session = ack.Session
	if len(ack.Data) < 4 {
		return -1, nil
	}
	return int64(binary.LittleEndian.Uint32(ack.Data)), nil
}

// terminate closes the session without waiting for the answer: the data
// is already here, and a vehicle that misses both copies closes the idle
// session by itself (ArduPilot: another client may take it after 3 s, it
// is closed after 20 s; open resets the sessions if it finds none free).
// Waiting would cost every download a round trip.
func (c *ftpConn) terminate() {
	req := mavftp.Packet{Opcode: mavftp.OpTerminateSession, Session: c.session, Seq: c.nextSeq()}
	for range 2 { // the same request twice: the vehicle answers the copy from its last reply
		if err := c.send(&req); err != nil {
			c.v.log.Debug("FTP TerminateSession not sent", "path", c.path, "err", err)
			return
		}
	}
}

// ftpReader assembles one file from burst and ReadFile replies arriving in
// any order, any number of times.
type ftpReader struct {
	c        *ftpConn
	hint     int64
	progress Progress
	data     []byte
	have     spans
	eof      int64 // -1 until the vehicle reported the end of the file

	bursting   bool   // a burst was requested; firstBurst is its sequence number
	firstBurst uint16 // packets of any burst of this read come after it
}

// store copies a reply's data to its offset.
func (r *ftpReader) store(off uint32, b []byte) error {
	end := int64(off) + int64(len(b))
	if end > FTPMaxFile {
		return fmt.Errorf("%w: data at offset %d: file larger than the %d bytes accepted", ErrFTP, off, FTPMaxFile)
	}
	if r.eof >= 0 && end > r.eof {
		return fmt.Errorf("%w: data up to byte %d after the vehicle reported the end of the file at %d", ErrFTP, end, r.eof)
	}
	if len(b) == 0 {
		return nil
	}
	if int64(len(r.data)) < end {
		r.data = append(r.data, make([]byte, end-int64(len(r.data)))...)
	}
	copy(r.data[off:], b)
	r.have.add(int64(off), end)
	if r.progress != nil {
		total := r.hint
		if r.eof >= 0 {
			total = r.eof
		}
		r.progress(int(r.have.total()), int(max(total, r.have.total())))
	}
	return nil
}

// setEOF records the end of the file the vehicle reported.
func (r *ftpReader) setEOF(at int64) error {
	if hi := r.have.end(); at < hi {
		return fmt.Errorf("%w: vehicle reported the end of the file at byte %d after sending data up to byte %d", ErrFTP, at, hi)
	}
	if r.eof < 0 || at < r.eof {
		r.eof = at
	}
	return nil
}

// burstPacket takes a packet of any burst of this read (sequence number
// after the first burst request's): its data is good whichever burst it
// came from. It reports whether p was one, and whether it ends the burst
// that was requested with sequence number cur (end of file, or the
// vehicle's packet limit).
func (r *ftpReader) burstPacket(p *mavftp.Packet, cur uint16) (ok, ends bool, err error) {
	c := r.c
	if !r.bursting || p.ReqOpcode != mavftp.OpBurstReadFile || p.Session != c.session || int16(p.Seq-r.firstBurst) <= 0 {
		return false, false, nil
	}
	mine := p.Seq-cur >= 1 && p.Seq-cur <= ftpBurstMax+1
	switch p.Opcode {
	case mavftp.OpAck:
		return true, mine && p.BurstComplete, r.store(p.Offset, p.Data)
	case mavftp.OpNak:
		code, _ := p.NakCode()
		if code != mavftp.ErrEOF {
			if !mine {
				return true, false, nil // an old burst's failure; this one may do better
			}
			return true, true, c.nak(p, mavftp.OpBurstReadFile)
		}
		return true, mine, r.setEOF(int64(p.Offset))
	}
	c.bad(fmt.Errorf("burst packet with opcode %s", p.Opcode))
	return true, false, nil
}

// burst runs BurstReadFile from the end of what is held until the end of
// the file is known. A burst ends with the vehicle's end-of-file NAK, with
// its last packet (flagged burst complete) when it hit its packet limit,
// or when nothing arrives for a while: the retransmission timeout for the
// first packet, then that plus twice the longest gap between its packets
// so far. Bursts that bring nothing new are retried like any request.
func (r *ftpReader) burst(ctx context.Context) error {
	c := r.c
	var try retries
	for r.eof < 0 {
		before := r.have.total()
		req := mavftp.Packet{Opcode: mavftp.OpBurstReadFile, Session: c.session, Offset: uint32(r.have.end()),
			Size: mavftp.DataMax, Seq: c.nextSeq()}
		if !r.bursting {
			r.bursting, r.firstBurst = true, req.Seq
		}
		if err := c.send(&req); err != nil {
			return err
		}
		c.wait(try.attempt(c))
		var last time.Time
		var gap time.Duration
		for {
			p, err := c.recv(ctx)
			if errors.Is(err, errFTPIdle) {
				break
			}
			if err != nil {
				return err
			}
			ok, ends, err := r.burstPacket(&p, req.Seq)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			now := c.v.clock.Now()
			if last.IsZero() {
				if p.Seq == req.Seq+1 {
					try.answered(c)
				}
			} else {
				gap = max(gap, now.Sub(last))
			}
			last = now
			if ends {
				break
			}
			c.wait(min(c.rto()+2*gap, c.v.opts.ParamTimeout))
		}
		if r.have.total() > before || r.eof >= 0 {
			try = retries{}
			continue
		}
		if try.expired(c) {
			return c.timeoutErr(fmt.Sprintf("BurstReadFile at offset %d", req.Offset), try.sent)
		}
	}
	return nil
}

// fillGaps reads the parts of [0, eof) the bursts lost with ReadFile,
// ftpReadWindow requests in flight, each retried like any request.
// Requests are DataMax bytes, like the burst's: ArduPilot fixes the read
// size of a parameter file at the first read and pads the file for it.
func (r *ftpReader) fillGaps(ctx context.Context) error {
	c := r.c
	type pending struct {
		req mavftp.Packet
		try retries
		due time.Time
	}
	var inflight []*pending
	cursor := int64(0) // gaps below cursor have a request in flight or were filled
	for {
		// top up the window with the next gaps
		for len(inflight) < ftpReadWindow {
			lo, hi, ok := r.have.gap(cursor, r.eof)
			if !ok {
				break
			}
			q := &pending{req: mavftp.Packet{Opcode: mavftp.OpReadFile, Session: c.session, Offset: uint32(lo),
				Size: mavftp.DataMax, Seq: c.nextSeq()}}
			if err := c.send(&q.req); err != nil {
				return err
			}
			q.due = c.v.clock.Now().Add(q.try.attempt(c))
			inflight = append(inflight, q)
			cursor = lo + min(hi-lo, mavftp.DataMax)
		}
		if len(inflight) == 0 {
			if _, _, ok := r.have.gap(0, r.eof); ok {
				cursor = 0 // a reply covered less than asked: look again
				continue
			}
			return nil
		}
		first := slices.MinFunc(inflight, func(a, b *pending) int { return a.due.Compare(b.due) })
		c.due = first.due
		p, err := c.recv(ctx)
		if errors.Is(err, errFTPIdle) {
			for _, q := range inflight {
				if c.v.clock.Now().Before(q.due) {
					continue
				}
				if q.try.expired(c) {
					return c.timeoutErr(fmt.Sprintf("ReadFile at offset %d", q.req.Offset), q.try.sent)
				}
				if err := c.send(&q.req); err != nil {
					return err
				}
				q.due = c.v.clock.Now().Add(q.try.attempt(c))
			}
			continue
		}
		if err != nil {
			return err
		}
		if ok, _, err := r.burstPacket(&p, p.Seq); ok || err != nil { // cur = p.Seq: no burst is current here
			if err != nil {
				return err
			}
			continue // a late burst packet: its data counts all the same
		}
		i := slices.IndexFunc(inflight, func(q *pending) bool { return q.req.Seq+1 == p.Seq })
		if i < 0 || p.ReqOpcode != mavftp.OpReadFile || p.Session != c.session {
			continue // stale: an answer to an earlier attempt or request
		}
		q := inflight[i]
		switch p.Opcode {
		case mavftp.OpAck:
			if p.Offset != q.req.Offset {
				c.bad(fmt.Errorf("ReadFile at offset %d answered for offset %d", q.req.Offset, p.Offset))
				continue
			}
			if len(p.Data) == 0 {
				if err := r.setEOF(int64(q.req.Offset)); err != nil {
					return err
				}
			} else if err := r.store(p.Offset, p.Data); err != nil {
				return err
			}
		case mavftp.OpNak:
			code, _ := p.NakCode()
			if code != mavftp.ErrEOF {
				return c.nak(&p, mavftp.OpReadFile)
			}
			// ArduPilot's ReadFile NAK carries no offset: the request's is the end
			if err := r.setEOF(int64(q.req.Offset)); err != nil {
				return err
			}
		default:
			c.bad(fmt.Errorf("ReadFile reply with opcode %s", p.Opcode))
			continue
		}
		q.try.answered(c)
		inflight = slices.Delete(inflight, i, i+1)
	}
}

// FTPListDirectory lists a directory on the vehicle (ListDirectory, one
// request per packet of entries until the vehicle's end-of-file NAK).
// Skipped entries ('S', which ArduPilot uses for what it cannot describe)
// are left out.
func (v *Vehicle) FTPListDirectory(ctx context.Context, path string) ([]FTPEntry, error) {
	wrap := func(err error) error {
		return fmt.Errorf("list %q on vehicle %d over FTP: %w", path, v.target.SystemID, err)
	}
	if err := checkFTPPath(path); err != nil {
		return nil, wrap(err)
	}
	c, end, err := v.beginFTP(path)
	if err != nil {
		return nil, wrap(err)
	}
	defer end()
	var out []FTPEntry
	for offset := 0; ; {
		if offset > 100000 {
			return nil, wrap(fmt.Errorf("%w: directory listing goes on beyond %d entries", ErrFTP, offset))
		}
		ack, err := c.transact(ctx, mavftp.Packet{Opcode: mavftp.OpListDirectory, Offset: uint32(offset), Data: []byte(path)}, false)
		var ferr *FTPError
		if errors.As(err, &ferr) && ferr.Code == mavftp.ErrEOF {
			return out, nil
		}
		if err != nil {
			return nil, wrap(err)
		}
		entries, n, err := parseListing(ack.Data)
		if err != nil {
			return nil, wrap(fmt.Errorf("entry %d on: %w", offset, err))
		}
		if n == 0 {
			return nil, wrap(fmt.Errorf("%w: listing reply at entry %d holds no entries", ErrFTP, offset))
		}
		out = append(out, entries...)
		offset += n
	}
}

// parseListing decodes one ListDirectory reply: NUL-terminated entries
// "F<name>\t<size>", "D<name>" or "S". n counts every entry, skipped ones
// too, because the next request's offset counts them.
func parseListing(b []byte) (entries []FTPEntry, n int, err error) {
	for _, raw := range strings.Split(string(b), "\x00") {
		if raw == "" {
			continue
		}
		n++
		switch raw[0] {
		case 'S':
		case 'D':
			if len(raw) == 1 {
				return nil, 0, fmt.Errorf("%w: directory entry without a name", ErrFTP)
			}
			entries = append(entries, FTPEntry{Name: raw[1:], Dir: true})
		case 'F':
			name, size, ok := strings.Cut(raw[1:], "\t")
			sz, perr := strconv.ParseInt(size, 10, 64)
			if !ok || name == "" || perr != nil || sz < 0 {
				return nil, 0, fmt.Errorf("%w: file entry %q is not F<name>\\t<size>", ErrFTP, raw)
			}
			entries = append(entries, FTPEntry{Name: name, Size: sz})
		default:
			return nil, 0, fmt.Errorf("%w: entry %q has unknown kind %q", ErrFTP, raw, raw[0])
		}
	}
	return entries, n, nil
}

// FTPCRC32 asks the vehicle for a file's CRC32 (CalcFileCRC32; compare
// with mavftp.CRC32 of a local copy).
func (v *Vehicle) FTPCRC32(ctx context.Context, path string) (uint32, error) {
	wrap := func(err error) error {
		return fmt.Errorf("CRC32 of %q on vehicle %d over FTP: %w", path, v.target.SystemID, err)
	}
	if err := checkFTPPath(path); err != nil {
		return 0, wrap(err)
	}
	c, end, err := v.beginFTP(path)
	if err != nil {
		return 0, wrap(err)
	}
	defer end()
	ack, err := c.transact(ctx, mavftp.Packet{Opcode: mavftp.OpCalcFileCRC32, Data: []byte(path)}, false)
	if err != nil {
		return 0, wrap(err)
	}
	if len(ack.Data) != 4 {
		return 0, wrap(fmt.Errorf("%w: CRC32 reply of %d bytes, want 4", ErrFTP, len(ack.Data)))
	}
	return binary.LittleEndian.Uint32(ack.Data), nil
}

// spans is a set of byte ranges [lo, hi), sorted and merged.
type spans struct{ r [][2]int64 }

func (s *spans) add(lo, hi int64) {
	if lo >= hi {
		return
	}
	i := 0
	for i < len(s.r) && s.r[i][1] < lo {
		i++
	}
	j := i
	for j < len(s.r) && s.r[j][0] <= hi {
		lo, hi = min(lo, s.r[j][0]), max(hi, s.r[j][1])
		j++
	}
	s.r = slices.Replace(s.r, i, j, [2]int64{lo, hi})
}

// end is one past the highest byte held.
func (s *spans) end() int64 {
	if len(s.r) == 0 {
		return 0
	}
	return s.r[len(s.r)-1][1]
}

func (s *spans) total() int64 {
	var n int64
	for _, r := range s.r {
		n += r[1] - r[0]
	}
	return n
}

// gap returns the first missing range at or after from and below limit.
func (s *spans) gap(from, limit int64) (lo, hi int64, ok bool) {
	lo = from
	for _, r := range s.r {
		if r[1] <= lo {
			continue
		}
		if r[0] > lo {
			return lo, min(r[0], limit), lo < limit
		}
		lo = r[1]
	}
	return lo, limit, lo < limit
}
