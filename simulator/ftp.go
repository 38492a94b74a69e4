package simulator

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/internal/mavftp"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// The MAVLink FTP server, as ArduPilot's GCS_FTP answers: replies carry
// the request's sequence number plus one; a request repeating the
// previous one's number gets the previous reply again (so a retry after a
// lost ACK does not open a file twice); a burst read streams the file as
// ACKs with counting sequence numbers and ends with an end-of-file NAK
// (or after 2000 packets with burst_complete set); requests arriving
// during a burst wait until it is sent, as behind ArduPilot's single FTP
// thread. Bursts are paced over ticks (ftpPacketsPerTick), and every
// packet goes through the vehicle's link faults.
//
// The file tree is small and read-only:
//
//	@PARAM/param.pck   the parameters in ArduPilot's packed format
//	                   (?withdefaults=1, ?start=N, ?count=N as ArduPilot)
//	@SYS/version.txt   firmware identification
//	@SYS/uarts.txt     a serial port table
//
// Differences from ArduPilot, on purpose: only OpenFileRO takes a session
// slot (ArduPilot also takes one for a listing); write opcodes answer
// FileProtected; the param.pck content is a snapshot taken at the first
// read instead of being packed while it is read.

const (
	// ftpPacketsPerTick paces bursts: 10 packets per 20 ms tick, like the
	// PARAM_REQUEST_LIST stream's 10 PARAM_VALUEs.
	ftpPacketsPerTick = 10
	ftpMaxSessions    = 3
	ftpBurstMax       = 2000
	// A session idle this long may be taken over; twice this long it is
	// closed (ArduPilot: 3 s and 20 s).
	ftpSessionTimeout = 3 * time.Second
	ftpSessionKill    = 20 * time.Second
	ftpQueueMax       = 16
	errnoEINVAL       = 22
)

// ftpServer is one vehicle's FTP state; guarded by SimVehicle.mu.
type ftpServer struct {
	sessions [ftpMaxSessions]ftpSession
	nextID   uint8
	last     ftpSent // the last reply, for retransmitted requests
	burst    *ftpBurst
	queue    []ftpQueued
	stats    FTPStats
}

// FTPStats counts a vehicle's FTP server work.
type FTPStats struct {
	Requests uint64 // requests received (decodable or not)
	Replies  uint64 // packets sent, burst packets included
	// Dropped counts requests lost because the queue behind a burst was
	// full (a ground station flooding requests); each is also logged.
	Dropped uint64
}

// FTPStats returns the vehicle's FTP counters.
func (sv *SimVehicle) FTPStats() FTPStats {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.ftp.stats
}

type ftpSession struct {
	used   bool
	id     uint8
	peer   peer
	file   *ftpFile
	active time.Time // wall time of the last reply
}

type ftpSent struct {
	valid bool
	peer  peer
	pkt   mavftp.Packet
}

type ftpQueued struct {
	from peer
	req  mavftp.Packet
}

type ftpBurst struct {
	from    peer
	session *ftpSession
	seq     uint16
	offset  uint32
	size    int
	sent    int
}

// ftpFile is an open file. A parameter file is packed at the first read,
// for that read's size, like ArduPilot, which then refuses reads of any
// other size (its padding depends on it).
type ftpFile struct {
	content  []byte
	params   []mavftp.PackedParam // param.pck until packed
	total    int
	defaults bool
	readSize int
	sizeHint uint32
}

// read returns up to count bytes at off; eof when nothing is left.
func (f *ftpFile) read(off uint32, count int) (data []byte, eof bool, errno uint8) {
	if f.params != nil {
		if f.readSize == 0 && count > 0 {
			b, err := mavftp.EncodeParams(f.params, f.total, f.defaults, count)
			if err != nil {
				return nil, false, errnoEINVAL
			}
			f.content, f.params, f.readSize = b, nil, count
		}
	}
	if f.readSize != 0 && count != f.readSize {
		return nil, false, errnoEINVAL
	}
	if count <= 0 || int64(off) >= int64(len(f.content)) {
		return nil, true, 0
	}
	end := min(int(off)+count, len(f.content))
	return f.content[off:end], false, 0
}

// handleFTP answers one FILE_TRANSFER_PROTOCOL message. Called with sv.mu
// held.
func (sv *SimVehicle) handleFTP(from peer, m *common.MessageFileTransferProtocol) {
	sv.ftp.stats.Requests++
	req, err := mavftp.Unmarshal(&m.Payload)
	if err != nil {
		sv.warn("malformed FTP request", "from_sysid", from.sys, "err", err)
		reply := mavftp.Packet{Seq: req.Seq + 1, Session: req.Session, ReqOpcode: req.Opcode}
		sv.ftpNak(&reply, mavftp.ErrInvalidDataSize, 0)
		sv.ftpSend(from, reply)
		return
	}
	if req.Opcode == mavftp.OpAck || req.Opcode == mavftp.OpNak {
		return // replies are not requests: ArduPilot eats them
	}
	s := &sv.ftp
	if s.burst != nil {
		if len(s.queue) >= ftpQueueMax {
			s.stats.Dropped++
			sv.warn("FTP request dropped: queue behind a burst is full", "opcode", req.Opcode, "dropped_total", s.stats.Dropped)
			return
		}
		s.queue = append(s.queue, ftpQueued{from, req})
		return
	}
	sv.ftpRequest(from, req)
}

// ftpRequest handles one request when no burst is running.
func (sv *SimVehicle) ftpRequest(from peer, req mavftp.Packet) {
	s := &sv.ftp
	now := sv.wallNow
	reply := mavftp.Packet{Seq: req.Seq + 1, Session: req.Session, ReqOpcode: req.Opcode}
	if req.Opcode == mavftp.OpResetSessions {
		for i := range s.sessions {
			if s.sessions[i].used && s.sessions[i].peer == from {
				s.sessions[i] = ftpSession{}
			}
		}
		reply.Opcode = mavftp.OpAck
		sv.ftpSend(from, reply)
		return
	}
	// A retransmission: the reply was lost. (ArduPilot also insists on the
	// same session, so a repeated open with session 0 opens the file in a
	// second session; here it gets the first answer again.)
	if s.last.valid && s.last.peer == from && s.last.pkt.Seq == req.Seq+1 && s.last.pkt.ReqOpcode == req.Opcode &&
		(s.last.pkt.Session == req.Session || req.Opcode == mavftp.OpOpenFileRO) {
		sv.ftpSend(from, s.last.pkt)
		return
	}
	sess := sv.ftpSession(from, req.Session)
	switch req.Opcode {
	case mavftp.OpNone:
		reply.Opcode = mavftp.OpAck
	case mavftp.OpTerminateSession:
		if sess != nil {
			*sess = ftpSession{}
		}
		reply.Opcode = mavftp.OpAck
	case mavftp.OpListDirectory:
		sv.ftpList(&req, &reply)
	case mavftp.OpOpenFileRO:
		if sess != nil && sess.file != nil {
			sv.ftpNak(&reply, mavftp.ErrFail, 0) // one file per session
			break
		}
		f, code, errno := sv.ftpOpen(ftpPath(req.Data))
		if f == nil {
			sv.ftpNak(&reply, code, errno)
			break
		}
		if sess == nil {
			if sess = sv.ftpNewSession(from, req.Session, now); sess == nil {
				sv.ftpNak(&reply, mavftp.ErrNoSessionsAvailable, 0)
				break
			}
		}
		sess.file = f
		reply.Session = sess.id
		reply.Opcode = mavftp.OpAck
		reply.Data = binary.LittleEndian.AppendUint32(nil, f.sizeHint)
	case mavftp.OpReadFile:
		if sess == nil || sess.file == nil {
			sv.ftpNak(&reply, mavftp.ErrFileNotFound, 0)
			break
		}
		data, eof, errno := sess.file.read(req.Offset, int(min(req.Size, mavftp.DataMax)))
		switch {
		case errno != 0:
			sv.ftpNak(&reply, mavftp.ErrFailErrno, errno)
		case eof:
			sv.ftpNak(&reply, mavftp.ErrEOF, 0)
		default:
			reply.Opcode, reply.Offset, reply.Data = mavftp.OpAck, req.Offset, data
		}
	case mavftp.OpBurstReadFile:
		if sess == nil || sess.file == nil {
			sv.ftpNak(&reply, mavftp.ErrFileNotFound, 0)
			break
		}
		size := int(req.Size)
		if size == 0 || size > mavftp.DataMax {
			size = mavftp.DataMax
		}
		sess.active = now
		s.burst = &ftpBurst{from: from, session: sess, seq: req.Seq + 1, offset: req.Offset, size: size}
		sv.ftpStep()
		return
	case mavftp.OpCalcFileCRC32:
		f, code, errno := sv.ftpOpen(ftpPath(req.Data))
		if f == nil {
			sv.ftpNak(&reply, code, errno)
			break
		}
		if f.params != nil {
			f.read(0, mavftp.DataMax) // pack it
		}
		reply.Opcode = mavftp.OpAck
		reply.Data = binary.LittleEndian.AppendUint32(nil, mavftp.CRC32(f.content))
	case mavftp.OpCreateFile, mavftp.OpWriteFile, mavftp.OpRemoveFile, mavftp.OpCreateDirectory,
		mavftp.OpRemoveDirectory, mavftp.OpOpenFileWO, mavftp.OpRename:
		sv.ftpNak(&reply, mavftp.ErrFileProtected, 0)
	default:
		sv.ftpNak(&reply, mavftp.ErrUnknownCommand, 0)
	}
	if sess != nil {
		sess.active = now
	}
	sv.ftpSend(from, reply)
}

func (sv *SimVehicle) ftpNak(reply *mavftp.Packet, code mavftp.ErrorCode, errno uint8) {
	reply.Opcode = mavftp.OpNak
	reply.Data = []byte{uint8(code)}
	if code == mavftp.ErrFailErrno {
		reply.Data = append(reply.Data, errno)
	}
	reply.Size = 0
}

func (sv *SimVehicle) ftpSend(to peer, p mavftp.Packet) {
	payload, err := p.Marshal()
	if err != nil {
		sv.log.Error("encode FTP reply", "err", err)
		return
	}
	sv.ftp.last = ftpSent{valid: true, peer: to, pkt: p}
	sv.ftp.stats.Replies++
	sv.send(&common.MessageFileTransferProtocol{TargetSystem: to.sys, TargetComponent: to.comp, Payload: payload})
}

// ftpSession finds the session (peer, id); nil when there is none.
func (sv *SimVehicle) ftpSession(from peer, id uint8) *ftpSession {
	for i := range sv.ftp.sessions {
		s := &sv.ftp.sessions[i]
		if s.used && s.peer == from && s.id == id {
			return s
		}
	}
	return nil
}

// ftpNewSession takes a free slot, or one idle for ftpSessionTimeout. A
// request with session 0 gets a fresh ID, as in ArduPilot 4.7.
func (sv *SimVehicle) ftpNewSession(from peer, id uint8, now time.Time) *ftpSession {
	s := &sv.ftp
	var slot *ftpSession
	for i := range s.sessions {
		c := &s.sessions[i]
		if !c.used {
			slot = c
			break
		}
		if now.Sub(c.active) > ftpSessionTimeout && (slot == nil || c.active.Before(slot.active)) {
			slot = c
		}
	}
	if slot == nil {
		return nil
	}
	if id == 0 {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		id = s.nextID
	}
	*slot = ftpSession{used: true, id: id, peer: from, active: now}
	return slot
}

// ftpPath is the path a request carries (a client may send its NUL).
func ftpPath(b []byte) string { return strings.TrimRight(string(b), "\x00") }

// ftpOpen resolves a path of the virtual tree.
func (sv *SimVehicle) ftpOpen(path string) (*ftpFile, mavftp.ErrorCode, uint8) {
	if path == "" {
		return nil, mavftp.ErrInvalidDataSize, 0
	}
	name, query, _ := strings.Cut(path, "?")
	switch name {
	case "@PARAM/param.pck":
		return sv.ftpParamFile(query)
	case "@SYS/version.txt", "@SYS/uarts.txt":
		b := sv.ftpSysFile(name)
		return &ftpFile{content: b, sizeHint: uint32(len(b))}, 0, 0
	}
	return nil, mavftp.ErrFileNotFound, 0
}

// ftpParamFile snapshots the parameters for @PARAM/param.pck, with
// ArduPilot's URI options start=, count= and withdefaults=.
func (sv *SimVehicle) ftpParamFile(query string) (*ftpFile, mavftp.ErrorCode, uint8) {
	var start, count int
	defaults := false
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0 || n >= 65535:
			return nil, mavftp.ErrFailErrno, errnoEINVAL
		case k == "start":
			start = n
		case k == "count":
			count = n
		case k == "withdefaults" && n <= 1:
			defaults = n == 1
		default:
			return nil, mavftp.ErrFailErrno, errnoEINVAL
		}
	}
	all := sv.allParams()
	if start >= len(all) {
		return nil, mavftp.ErrFailErrno, errnoEINVAL
	}
	sel := all[start:]
	if count > 0 && count < len(sel) {
		sel = sel[:count]
	}
	var def map[string]float64
	if defaults {
		def = sv.paramDefaults()
	}
	ps := make([]mavftp.PackedParam, len(sel))
	for i, p := range sel {
		ps[i] = mavftp.PackedParam{Name: p.Name, Type: common.MAV_PARAM_TYPE(p.Type), Value: p.Value}
		ps[i].Default = p.Value
		if d, ok := def[p.Name]; ok && d != p.Value {
			ps[i].Default, ps[i].HasDefault = d, true
		}
	}
	// ArduPilot announces an estimate, not the size: 12 bytes a parameter
	return &ftpFile{params: ps, total: len(all), defaults: defaults, sizeHint: uint32(len(all) * 12)}, 0, 0
}

func (sv *SimVehicle) ftpSysFile(name string) []byte {
	if name == "@SYS/version.txt" {
		return fmt.Appendf(nil, "ArduCopter V4.7.0-dev (burgut simulator)\nsysid %d\nuid %016x\n", sv.sysid, sv.uid)
	}
	var b []byte
	b = append(b, "UARTV1\n"...)
	for i := range 4 {
		b = fmt.Appendf(b, "SERIAL%d UDP  TX=%d RX=%d TXBD=0 RXBD=0\n", i, 0, 0)
	}
	return b
}

// ftpDirs is the virtual tree's directories: entries as ListDirectory
// sends them ("D<name>" or "F<name>\t<size>").
func (sv *SimVehicle) ftpDir(path string) ([]string, bool) {
	path = strings.TrimSuffix(path, "/")
	switch path {
	case "", ".":
		return []string{"D@PARAM", "D@SYS"}, true
	case "@PARAM":
		return []string{fmt.Sprintf("Fparam.pck\t%d", len(sv.allParams())*12)}, true
	case "@SYS":
		return []string{
			fmt.Sprintf("Fversion.txt\t%d", len(sv.ftpSysFile("@SYS/version.txt"))),
			fmt.Sprintf("Fuarts.txt\t%d", len(sv.ftpSysFile("@SYS/uarts.txt"))),
		}, true
	}
	return nil, false
}

// ftpList answers ListDirectory: the entries from req.Offset on that fit
// one packet, or an end-of-file NAK past the last.
func (sv *SimVehicle) ftpList(req, reply *mavftp.Packet) {
	reply.Offset = req.Offset
	path := ftpPath(req.Data)
	if len(req.Data) == 0 {
		sv.ftpNak(reply, mavftp.ErrInvalidDataSize, 0)
		return
	}
	entries, ok := sv.ftpDir(path)
	if !ok {
		sv.ftpNak(reply, mavftp.ErrFileNotFound, 0)
		return
	}
	var data []byte
	for i := int(min(req.Offset, uint32(len(entries)))); i < len(entries); i++ {
		e := entries[i]
		if len(data)+len(e)+1 > mavftp.DataMax {
			break
		}
		data = append(append(data, e...), 0)
	}
	if len(data) == 0 {
		sv.ftpNak(reply, mavftp.ErrEOF, 0)
		return
	}
	reply.Opcode, reply.Data = mavftp.OpAck, data
}

// ftpStep sends the next packets of a running burst, then the requests
// that waited behind it. Called every tick with sv.mu held.
func (sv *SimVehicle) ftpStep() {
	s := &sv.ftp
	for n := 0; n < ftpPacketsPerTick && s.burst != nil; n++ {
		b := s.burst
		p := mavftp.Packet{Seq: b.seq, Session: b.session.id, ReqOpcode: mavftp.OpBurstReadFile, Offset: b.offset}
		data, eof, errno := b.session.file.read(b.offset, b.size)
		done := true
		switch {
		case errno != 0:
			sv.ftpNak(&p, mavftp.ErrFailErrno, errno)
			p.BurstComplete = true
		case eof:
			sv.ftpNak(&p, mavftp.ErrEOF, 0)
			p.BurstComplete = true
		default:
			b.sent++
			p.Opcode, p.Data = mavftp.OpAck, data
			p.BurstComplete = b.sent == ftpBurstMax
			done = p.BurstComplete
			b.offset += uint32(len(data))
			b.seq++
		}
		b.session.active = sv.wallNow
		sv.ftpSend(b.from, p)
		if done {
			s.burst = nil
		}
	}
	for s.burst == nil && len(s.queue) > 0 {
		q := s.queue[0]
		s.queue = s.queue[1:]
		sv.ftpRequest(q.from, q.req)
	}
	if s.burst == nil {
		sv.ftpExpire()
	}
}

// ftpExpire closes sessions idle for ftpSessionKill.
func (sv *SimVehicle) ftpExpire() {
	for i := range sv.ftp.sessions {
		c := &sv.ftp.sessions[i]
		if c.used && sv.wallNow.Sub(c.active) > ftpSessionKill {
			*c = ftpSession{}
		}
	}
}

// paramDefaults are the values a vehicle starts with: a fresh model's and
// the inert parameters' defaults.
func (sv *SimVehicle) paramDefaults() map[string]float64 {
	d := map[string]float64{}
	for _, p := range vehicle.New(sv.modelCfg).Params() {
		d[p.Name] = p.Value
	}
	for _, p := range inertParams(len(sv.extra)) {
		d[p.Name] = p.Value
	}
	return d
}
