package simulator

import (
	"encoding/binary"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavftp"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// ftpGCS drives the simulator's FTP server packet by packet.
type ftpGCS struct {
	*testGCS
	t   *testing.T
	seq uint16
}

func (g *ftpGCS) sendFTP(p mavftp.Packet) {
	g.t.Helper()
	b, err := p.Marshal()
	if err != nil {
		g.t.Fatal(err)
	}
	g.send(1, &common.MessageFileTransferProtocol{TargetSystem: 1, TargetComponent: 1, Payload: b})
}

func isFTPMsg(m message.Message) bool { _, ok := m.(*common.MessageFileTransferProtocol); return ok }

// next returns the next FTP packet after cursor c, failing after 5 s.
func (g *ftpGCS) next(c *int) mavftp.Packet {
	g.t.Helper()
	m := g.waitMsg(c, 1, 5*time.Second, isFTPMsg)
	if m == nil {
		g.t.Fatal("no FTP reply within 5 s")
	}
	f := m.(*common.MessageFileTransferProtocol)
	if f.TargetSystem != 255 || f.TargetComponent != 190 {
		g.t.Fatalf("FTP reply addressed to %d/%d, not to the ground station", f.TargetSystem, f.TargetComponent)
	}
	p, err := mavftp.Unmarshal(&f.Payload)
	if err != nil {
		g.t.Fatal(err)
	}
	return p
}

// do sends a request with a fresh sequence number and returns its reply.
func (g *ftpGCS) do(p mavftp.Packet) mavftp.Packet {
	g.t.Helper()
	g.seq += 10
	p.Seq = g.seq
	return g.resend(p)
}

// resend sends p as it is (a retransmission when p.Seq was used before).
func (g *ftpGCS) resend(p mavftp.Packet) mavftp.Packet {
	g.t.Helper()
	c := g.mark()
	g.sendFTP(p)
	r := g.next(&c)
	if r.Seq != p.Seq+1 || r.ReqOpcode != p.Opcode {
		g.t.Fatalf("reply seq %d to %s, request %s seq %d", r.Seq, r.ReqOpcode, p.Opcode, p.Seq)
	}
	return r
}

func wantNak(t *testing.T, p mavftp.Packet, code mavftp.ErrorCode, errno uint8) {
	t.Helper()
	if got, gotErrno := p.NakCode(); p.Opcode != mavftp.OpNak || got != code || gotErrno != errno {
		t.Fatalf("reply %s %v/%d, want NAK %v/%d", p.Opcode, got, gotErrno, code, errno)
	}
}

func newFTPGCS(t *testing.T, extra int) (*ftpGCS, *Sim) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, func(c *Config) { c.ExtraParams = extra })
	g.channel(1)
	return &ftpGCS{testGCS: g, t: t}, s
}

func TestFTPAdvertised(t *testing.T) {
	g, _ := newFTPGCS(t, 0)
	c := g.mark()
	if r := g.command(1, 1, common.MAV_CMD_REQUEST_MESSAGE, msgAutopilotVersion); r != common.MAV_RESULT_ACCEPTED {
		t.Fatal(r)
	}
	av := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageAutopilotVersion])
	if av == nil || av.(*common.MessageAutopilotVersion).Capabilities&common.MAV_PROTOCOL_CAPABILITY_FTP == 0 {
		t.Fatalf("AUTOPILOT_VERSION %+v does not advertise FTP", av)
	}
}

// Open, read at a fixed size, the retransmission answer, one file per
// session, EOF.
func TestFTPOpenReadAndRetransmission(t *testing.T) {
	g, s := newFTPGCS(t, 100)
	open := mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Data: []byte("@PARAM/param.pck")}
	ack := g.do(open)
	n := len(s.Vehicle(0).allParamsLocked())
	if ack.Opcode != mavftp.OpAck || ack.Session == 0 || len(ack.Data) != 4 || binary.LittleEndian.Uint32(ack.Data) != uint32(n*12) {
		t.Fatalf("open: %+v, want ACK with a session and the size estimate %d", ack, n*12)
	}
	// the same request again (its ACK lost): the same answer, no second open
	open.Seq = g.seq
	again := g.resend(open)
	if again.Session != ack.Session || again.Opcode != mavftp.OpAck {
		t.Fatalf("retransmitted open: %+v, first %+v", again, ack)
	}
	// a new open in the same session: one file per session
	wantNak(t, g.do(mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Session: ack.Session, Data: open.Data}), mavftp.ErrFail, 0)

	read := func(off uint32, size uint8) mavftp.Packet {
		return g.do(mavftp.Packet{Opcode: mavftp.OpReadFile, Session: ack.Session, Offset: off, Size: size})
	}
	first := read(0, 80)
	if first.Opcode != mavftp.OpAck || len(first.Data) != 80 || binary.LittleEndian.Uint16(first.Data) != mavftp.MagicParams {
		t.Fatalf("first read: %+v", first)
	}
	// the padding depends on the read size: another size is refused, as ArduPilot does
	wantNak(t, read(80, 239), mavftp.ErrFailErrno, 22)
	var file []byte
	file = append(file, first.Data...)
	for off := uint32(80); ; off += 80 {
		r := read(off, 80)
		if r.Opcode == mavftp.OpNak {
			wantNak(t, r, mavftp.ErrEOF, 0)
			break
		}
		if r.Offset != off {
			t.Fatalf("read at %d answered for %d", off, r.Offset)
		}
		file = append(file, r.Data...)
	}
	f, err := mavftp.DecodeParams(file)
	if err != nil || len(f.Params) != n || f.Total != n {
		t.Fatalf("decoded %d bytes: %v", len(file), err)
	}
	if g.do(mavftp.Packet{Opcode: mavftp.OpTerminateSession, Session: ack.Session}).Opcode != mavftp.OpAck {
		t.Fatal("terminate not acknowledged")
	}
	wantNak(t, read(0, 80), mavftp.ErrFileNotFound, 0)
}

// A burst streams the file with counting sequence numbers and ends with an
// EOF NAK flagged burst complete; a request sent during the burst is
// answered after it.
func TestFTPBurstAndQueuedRequest(t *testing.T) {
	g, s := newFTPGCS(t, 1280)
	ack := g.do(mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Data: []byte("@PARAM/param.pck?withdefaults=1")})
	if ack.Opcode != mavftp.OpAck {
		t.Fatalf("open: %+v", ack)
	}
	c := g.mark()
	g.seq += 10
	burstSeq := g.seq
	g.sendFTP(mavftp.Packet{Seq: burstSeq, Opcode: mavftp.OpBurstReadFile, Session: ack.Session, Size: mavftp.DataMax})
	g.seq += 10
	g.sendFTP(mavftp.Packet{Seq: g.seq, Opcode: mavftp.OpNone, Session: ack.Session})
	var file []byte
	for i := uint16(1); ; i++ {
		p := g.next(&c)
		if p.ReqOpcode == mavftp.OpNone {
			t.Fatalf("the request sent during the burst was answered before the burst's end (packet %d)", i)
		}
		if p.Seq != burstSeq+i || p.ReqOpcode != mavftp.OpBurstReadFile || int(p.Offset) != len(file) {
			t.Fatalf("burst packet %d: seq %d offset %d, want seq %d offset %d", i, p.Seq, p.Offset, burstSeq+i, len(file))
		}
		if p.Opcode == mavftp.OpNak {
			wantNak(t, p, mavftp.ErrEOF, 0)
			if !p.BurstComplete {
				t.Fatal("EOF NAK not flagged burst complete")
			}
			break
		}
		file = append(file, p.Data...)
	}
	if p := g.next(&c); p.ReqOpcode != mavftp.OpNone || p.Seq != g.seq+1 || p.Opcode != mavftp.OpAck {
		t.Fatalf("queued request's reply: %+v", p)
	}
	f, err := mavftp.DecodeParams(file)
	if err != nil {
		t.Fatal(err)
	}
	all := s.Vehicle(0).allParamsLocked()
	if !f.WithDefaults || len(f.Params) != len(all) || len(all) < 1300 {
		t.Fatalf("%d parameters (with defaults %v), vehicle has %d", len(f.Params), f.WithDefaults, len(all))
	}
	for i, p := range f.Params {
		if p.Name != all[i].Name || float32(p.Value) != float32(all[i].Value) || uint8(p.Type) != all[i].Type || p.HasDefault {
			t.Fatalf("parameter %d: %+v, vehicle %+v", i, p, all[i])
		}
	}
}

func TestFTPSessionsAndRefusals(t *testing.T) {
	g, _ := newFTPGCS(t, 0)
	open := mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Data: []byte("@SYS/version.txt")}
	ids := map[uint8]bool{}
	for range 3 {
		a := g.do(open)
		if a.Opcode != mavftp.OpAck || ids[a.Session] {
			t.Fatalf("open: %+v (sessions so far %v)", a, ids)
		}
		ids[a.Session] = true
	}
	wantNak(t, g.do(open), mavftp.ErrNoSessionsAvailable, 0)
	if g.do(mavftp.Packet{Opcode: mavftp.OpResetSessions}).Opcode != mavftp.OpAck {
		t.Fatal("reset not acknowledged")
	}
	if a := g.do(open); a.Opcode != mavftp.OpAck {
		t.Fatalf("open after reset: %+v", a)
	}
	wantNak(t, g.do(mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Data: []byte("@SYS/none")}), mavftp.ErrFileNotFound, 0)
	wantNak(t, g.do(mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Data: []byte("@PARAM/param.pck?start=x")}), mavftp.ErrFailErrno, 22)
	wantNak(t, g.do(mavftp.Packet{Opcode: mavftp.OpRemoveFile, Data: []byte("@SYS/version.txt")}), mavftp.ErrFileProtected, 0)
	wantNak(t, g.do(mavftp.Packet{Opcode: 99}), mavftp.ErrUnknownCommand, 0)
	wantNak(t, g.do(mavftp.Packet{Opcode: mavftp.OpBurstReadFile, Session: 77}), mavftp.ErrFileNotFound, 0)

	// a size field the payload cannot hold
	g.seq += 10
	b, _ := (&mavftp.Packet{Seq: g.seq, Opcode: mavftp.OpReadFile}).Marshal()
	b[4] = 250
	c := g.mark()
	g.send(1, &common.MessageFileTransferProtocol{TargetSystem: 1, TargetComponent: 1, Payload: b})
	r := g.next(&c)
	wantNak(t, r, mavftp.ErrInvalidDataSize, 0)
	if r.Seq != g.seq+1 {
		t.Fatalf("NAK seq %d", r.Seq)
	}
}

func TestFTPListAndCRC(t *testing.T) {
	g, _ := newFTPGCS(t, 0)
	list := func(path string, off uint32) mavftp.Packet {
		return g.do(mavftp.Packet{Opcode: mavftp.OpListDirectory, Offset: off, Data: []byte(path)})
	}
	if r := list("/", 0); r.Opcode != mavftp.OpAck || string(r.Data) != "D@PARAM\x00D@SYS\x00" {
		t.Fatalf("list /: %+v", r)
	}
	r := list("@SYS/", 1)
	if r.Opcode != mavftp.OpAck || !strings.HasPrefix(string(r.Data), "Fuarts.txt\t") {
		t.Fatalf("list @SYS from entry 1: %q", r.Data)
	}
	wantNak(t, list("@SYS", 2), mavftp.ErrEOF, 0)
	wantNak(t, list("@NOPE", 0), mavftp.ErrFileNotFound, 0)

	a := g.do(mavftp.Packet{Opcode: mavftp.OpOpenFileRO, Data: []byte("@SYS/uarts.txt")})
	rd := g.do(mavftp.Packet{Opcode: mavftp.OpReadFile, Session: a.Session, Size: mavftp.DataMax})
	crc := g.do(mavftp.Packet{Opcode: mavftp.OpCalcFileCRC32, Data: []byte("@SYS/uarts.txt")})
	if rd.Opcode != mavftp.OpAck || crc.Opcode != mavftp.OpAck || binary.LittleEndian.Uint32(crc.Data) != mavftp.CRC32(rd.Data) {
		t.Fatalf("read %+v, crc %+v", rd, crc)
	}
}

func TestExtraParams(t *testing.T) {
	if _, err := New(Config{Vehicles: 1, GCS: []string{"udp:127.0.0.1:1"}, ExtraParams: -1}); err == nil || !strings.Contains(err.Error(), "extra params") {
		t.Fatalf("ExtraParams -1: %v", err)
	}
	ps := inertParams(MaxExtraParams)
	if len(ps) != MaxExtraParams {
		t.Fatalf("%d of %d inert parameters generated", len(ps), MaxExtraParams)
	}
	seen := map[string]bool{}
	for _, p := range append(ps, modelParamDefs()...) {
		if seen[p.Name] || len(p.Name) > 16 {
			t.Fatalf("parameter name %q repeated or too long", p.Name)
		}
		seen[p.Name] = true
	}
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, func(c *Config) { c.ExtraParams = 10 })
	g.channel(1)
	c := g.mark()
	g.send(1, &common.MessageParamSet{TargetSystem: 1, TargetComponent: 1, ParamId: "SERVO1_MIN", ParamValue: 1000, ParamType: common.MAV_PARAM_TYPE_INT16})
	pv := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageParamValue])
	if pv == nil || pv.(*common.MessageParamValue).ParamValue != 1000 {
		t.Fatalf("PARAM_SET of an inert parameter: %+v", pv)
	}
	g.send(1, &common.MessageParamSet{TargetSystem: 1, TargetComponent: 1, ParamId: "SERVO1_REVERSED", ParamValue: 300, ParamType: common.MAV_PARAM_TYPE_INT8})
	pv = g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageParamValue])
	if pv == nil || pv.(*common.MessageParamValue).ParamValue != 0 {
		t.Fatalf("out-of-range PARAM_SET of an inert parameter: %+v", pv)
	}
	if n := len(s.Vehicle(0).allParamsLocked()); n != len(modelParamDefs())+10 {
		t.Fatalf("%d parameters", n)
	}
}

func (sv *SimVehicle) allParamsLocked() []vehicle.Param {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.allParams()
}

func modelParamDefs() []vehicle.Param { return vehicle.New(vehicle.Config{}).Params() }

// FuzzFTPRequest: any FILE_TRANSFER_PROTOCOL payload is answered or
// ignored without a panic, and the queue behind a burst stays bounded.
func FuzzFTPRequest(f *testing.F) {
	for _, p := range []mavftp.Packet{
		{Seq: 1, Opcode: mavftp.OpOpenFileRO, Data: []byte("@PARAM/param.pck?withdefaults=1&start=3&count=9")},
		{Seq: 2, Session: 1, Opcode: mavftp.OpBurstReadFile, Size: 80},
		{Seq: 3, Session: 1, Opcode: mavftp.OpReadFile, Offset: 80, Size: 80},
		{Seq: 4, Opcode: mavftp.OpListDirectory, Data: []byte("@SYS")},
		{Seq: 5, Opcode: mavftp.OpCalcFileCRC32, Data: []byte("@PARAM/param.pck")},
		{Seq: 6, Opcode: mavftp.OpResetSessions},
		{Seq: 7, Session: 1, Opcode: mavftp.OpTerminateSession},
	} {
		b, _ := p.Marshal()
		f.Add(b[:])
	}
	s, err := New(Config{Vehicles: 1, GCS: []string{"udp:127.0.0.1:9"}, ExtraParams: 50, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	sv := s.Vehicle(0)
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &common.MessageFileTransferProtocol{TargetSystem: 1, TargetComponent: 1}
		copy(m.Payload[:], b)
		sv.mu.Lock()
		defer sv.mu.Unlock()
		sv.handleFTP(peer{255, 190}, m)
		for range 3 {
			sv.ftpStep()
		}
		if len(sv.ftp.queue) > ftpQueueMax {
			t.Fatalf("queue of %d", len(sv.ftp.queue))
		}
	})
}

// Requests beyond the queue behind a burst are dropped, counted and
// exposed; the queued ones are answered once the burst is sent.
func TestFTPQueueOverflowCounted(t *testing.T) {
	s, err := New(Config{Vehicles: 1, GCS: []string{"udp:127.0.0.1:9"}, ExtraParams: 200, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sv := s.Vehicle(0)
	gcs := peer{255, 190}
	req := func(p mavftp.Packet) {
		b, _ := p.Marshal()
		sv.mu.Lock()
		defer sv.mu.Unlock()
		sv.handleFTP(gcs, &common.MessageFileTransferProtocol{TargetSystem: 1, TargetComponent: 1, Payload: b})
	}
	req(mavftp.Packet{Seq: 1, Opcode: mavftp.OpOpenFileRO, Data: []byte("@PARAM/param.pck")})
	req(mavftp.Packet{Seq: 3, Session: 1, Opcode: mavftp.OpBurstReadFile, Size: mavftp.DataMax})
	for i := range ftpQueueMax + 5 {
		req(mavftp.Packet{Seq: uint16(100 + 2*i), Session: 1, Opcode: mavftp.OpNone})
	}
	st := sv.FTPStats()
	if st.Dropped != 5 || st.Requests != ftpQueueMax+7 {
		t.Fatalf("stats %+v, want 5 dropped of %d requests", st, ftpQueueMax+7)
	}
	for range 100 {
		sv.tick(time.Now(), 0)
	}
	sv.mu.Lock()
	burst, queued := sv.ftp.burst, len(sv.ftp.queue)
	sv.mu.Unlock()
	st2 := sv.FTPStats()
	if burst != nil || queued != 0 || st2.Replies < st.Replies+ftpQueueMax+2 {
		t.Fatalf("after the burst: burst %v, %d queued, replies %d → %d", burst != nil, queued, st.Replies, st2.Replies)
	}
}
