package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavftp"
	"github.com/burgut-uav/burgut/simulator"
)

// copterParams is how many parameters ArduCopter 4.7 SITL has (1,358 in
// the recorded tlog); the simulator pads its table to about that.
const copterParams = 1350

// waitCaps requests AUTOPILOT_VERSION until the session has seen one.
func waitCaps(ctx context.Context, t testing.TB, v *Vehicle) uint64 {
	t.Helper()
	for {
		if caps, ok := v.Capabilities(); ok {
			return caps
		}
		if _, err := v.Command(ctx, CommandRequest{Command: uint16(common.MAV_CMD_REQUEST_MESSAGE), Params: [7]float32{148}}); err != nil {
			t.Fatalf("request AUTOPILOT_VERSION: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("no AUTOPILOT_VERSION")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// The acceptance test: over real UDP with 30% loss, duplication and
// reordering in both directions, the parameters downloaded over FTP equal
// those PARAM_REQUEST_LIST gives (ArduCopter's ~1,350), and ParamsAll takes
// the FTP path because the simulator advertises it.
func TestSimParamsFTPEqualsListUnderFaults(t *testing.T) {
	st := newSimStation(t, simOpts())
	sim := startSim(t, st, simulator.Config{Vehicles: 1, Speedup: 1, Seed: 17, ExtraParams: copterParams - 70})
	v := st.vehicle(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if caps := waitCaps(ctx, t, v); caps&uint64(common.MAV_PROTOCOL_CAPABILITY_FTP) == 0 {
		t.Fatalf("simulator does not advertise FTP: capabilities %#x", caps)
	}
	sim.Vehicle(0).SetLinkFaults(simulator.LinkFaults{LossPct: 30, DupPct: 30, ReorderPct: 30})

	list, err := v.ParamsByList(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < copterParams-10 {
		t.Fatalf("PARAM_REQUEST_LIST gave %d parameters", len(list))
	}
	var progress [2]int
	rx0, _, _ := sim.Vehicle(0).Stats()
	got, err := v.ParamsAll(ctx, func(d, n int) { progress = [2]int{d, n} })
	if err != nil {
		t.Fatal(err)
	}
	rx1, _, _ := sim.Vehicle(0).Stats()
	if len(got) != len(list) {
		t.Fatalf("FTP gave %d parameters, the list %d", len(got), len(list))
	}
	for i := range got {
		if got[i] != list[i] {
			t.Fatalf("parameter %d: FTP %+v, list %+v", i, got[i], list[i])
		}
	}
	if progress != [2]int{len(got), len(got)} {
		t.Fatalf("progress %v", progress)
	}
	// Over FTP the station sent tens of requests; through PARAM_REQUEST_LIST
	// it would re-request hundreds of lost parameters at 30% loss.
	if sent := rx1 - rx0; sent > 400 {
		t.Fatalf("the vehicle received %d frames during ParamsAll: not the FTP path", sent)
	}
}

// ParamsAll without the FTP capability (no AUTOPILOT_VERSION seen) uses
// PARAM_REQUEST_LIST and sends no FTP at all.
func TestParamsAllWithoutFTPCapabilityUsesList(t *testing.T) {
	mv := newModelVehicle()
	mv.params = modelParams(50)
	l := newWorld(t, fastOpts(), faults{}, 0, 3, mv.handle)
	got, err := l.v.ParamsAll(context.Background(), nil)
	if err != nil || len(got) != 50 {
		t.Fatalf("%d params, %v", len(got), err)
	}
	if ftp := l.sentOf(isFTP); len(ftp) != 0 {
		t.Fatalf("sent %d FTP requests to a vehicle that does not advertise FTP", len(ftp))
	}
}

func isFTP(m message.Message) bool { _, ok := m.(*common.MessageFileTransferProtocol); return ok }

// A vehicle that advertises FTP but does not answer it: ParamsAll falls
// back to PARAM_REQUEST_LIST and still returns every parameter.
func TestParamsAllFallsBackWhenFTPFails(t *testing.T) {
	mv := newModelVehicle()
	mv.params = modelParams(50)
	opts := fastOpts()
	opts.ParamRetries = 2
	l := newWorld(t, opts, faults{}, 0, 3, mv.handle)
	l.v.Handle(&common.MessageAutopilotVersion{Capabilities: common.MAV_PROTOCOL_CAPABILITY_FTP})
	got, err := l.v.ParamsAll(context.Background(), nil)
	if err != nil || len(got) != 50 {
		t.Fatalf("%d params, %v", len(got), err)
	}
	if ftp := l.sentOf(isFTP); len(ftp) != 3 {
		t.Fatalf("sent %d FTP requests, want 3 (open, retried twice)", len(ftp))
	}
}

// ftpScript is a vehicle whose FTP replies a test writes: reply gets each
// decoded request and returns the packets to send back.
func ftpScript(reply func(req mavftp.Packet) []mavftp.Packet) func(message.Message) []message.Message {
	return func(m message.Message) []message.Message {
		f, ok := m.(*common.MessageFileTransferProtocol)
		if !ok {
			return nil
		}
		req, err := mavftp.Unmarshal(&f.Payload)
		if err != nil {
			panic(err)
		}
		var out []message.Message
		for _, p := range reply(req) {
			payload, err := p.Marshal()
			if err != nil {
				panic(err)
			}
			out = append(out, &common.MessageFileTransferProtocol{TargetSystem: 255, Payload: payload})
		}
		return out
	}
}

func ftpAck(req mavftp.Packet, data []byte) mavftp.Packet {
	return mavftp.Packet{Seq: req.Seq + 1, Session: 1, Opcode: mavftp.OpAck, ReqOpcode: req.Opcode, Offset: req.Offset, Data: data}
}

func ftpNak(req mavftp.Packet, code mavftp.ErrorCode) mavftp.Packet {
	return mavftp.Packet{Seq: req.Seq + 1, Session: 1, Opcode: mavftp.OpNak, ReqOpcode: req.Opcode, Data: []byte{uint8(code)}}
}

// fileServer serves content like ArduPilot, with hooks to break it.
type fileServer struct {
	content []byte
	// burstPkts, when set, decides per burst packet index whether to send it
	burstPkts func(i int) bool
}

func (s *fileServer) reply(req mavftp.Packet) []mavftp.Packet {
	switch req.Opcode {
	case mavftp.OpOpenFileRO:
		return []mavftp.Packet{ftpAck(req, []byte{0xff, 0, 0, 0})}
	case mavftp.OpTerminateSession, mavftp.OpResetSessions:
		return []mavftp.Packet{ftpAck(req, nil)}
	case mavftp.OpReadFile:
		if int(req.Offset) >= len(s.content) {
			return []mavftp.Packet{ftpNak(req, mavftp.ErrEOF)}
		}
		return []mavftp.Packet{ftpAck(req, s.content[req.Offset:min(int(req.Offset)+int(req.Size), len(s.content))])}
	case mavftp.OpBurstReadFile:
		var out []mavftp.Packet
		seq := req.Seq + 1
		off := int(req.Offset)
		for i := 0; ; i++ {
			p := mavftp.Packet{Seq: seq, Session: 1, ReqOpcode: req.Opcode, Offset: uint32(off)}
			if off >= len(s.content) {
				p.Opcode, p.Data, p.BurstComplete = mavftp.OpNak, []byte{uint8(mavftp.ErrEOF)}, true
			} else {
				end := min(off+int(req.Size), len(s.content))
				p.Opcode, p.Data = mavftp.OpAck, s.content[off:end]
				off = end
			}
			if s.burstPkts == nil || s.burstPkts(i) {
				out = append(out, p)
			}
			if p.Opcode == mavftp.OpNak {
				return out
			}
			seq++
		}
	}
	return []mavftp.Packet{ftpNak(req, mavftp.ErrUnknownCommand)}
}

// Burst packets lost in the middle and at the end (with the EOF NAK) are
// read again: the gaps with ReadFile, the tail with a second burst.
func TestFTPReadFillsGapsAndLostTail(t *testing.T) {
	content := []byte(strings.Repeat("0123456789abcdef", 200)) // 3200 bytes, 14 packets
	s := &fileServer{content: content}
	bursts := 0
	s.burstPkts = func(i int) bool {
		if i == 0 {
			bursts++
		}
		// first burst: lose packets 2, 3, 7 and everything from 11 on (the EOF NAK too)
		return bursts > 1 || !(i == 2 || i == 3 || i == 7 || i >= 11)
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, ftpScript(s.reply))
	var prog [2]int
	got, err := l.v.FTPReadFile(context.Background(), "@SYS/big.txt", func(d, n int) { prog = [2]int{d, n} })
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(content) {
		t.Fatalf("got %d bytes, want %d; differ", len(got), len(content))
	}
	if prog != [2]int{len(content), len(content)} {
		t.Fatalf("progress %v", prog)
	}
	var reads []uint32
	for _, m := range l.sentOf(isFTP) {
		p, _ := mavftp.Unmarshal(&m.(*common.MessageFileTransferProtocol).Payload)
		if p.Opcode == mavftp.OpReadFile {
			reads = append(reads, p.Offset)
		}
	}
	if bursts != 2 || fmt.Sprint(reads) != fmt.Sprint([]uint32{2 * 239, 3 * 239, 7 * 239}) {
		t.Fatalf("%d bursts, ReadFile at %v; want 2 bursts and reads of the three gaps", bursts, reads)
	}
}

func TestFTPReadUnderLinkFaults(t *testing.T) {
	content := make([]byte, 20000)
	for i := range content {
		content[i] = byte(i * 7)
	}
	s := &fileServer{content: content}
	l := newWorld(t, fastOpts(), faults{LossPct: 30, DupPct: 30, ReorderPct: 30}, 20*time.Millisecond, 5, ftpScript(s.reply))
	got, err := l.v.FTPReadFile(context.Background(), "f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(content) {
		t.Fatal("content differs")
	}
}

// Bad replies end with a clear error, never a panic or a hang.
func TestFTPBadReplies(t *testing.T) {
	opts := fastOpts()
	opts.ParamRetries = 2
	good := &fileServer{content: []byte("hello world")}
	for _, c := range []struct {
		name  string
		reply func(req mavftp.Packet) []mavftp.Packet
		want  string
		is    error
	}{
		{"open NAK file not found", func(req mavftp.Packet) []mavftp.Packet {
			return []mavftp.Packet{ftpNak(req, mavftp.ErrFileNotFound)}
		}, `vehicle refused OpenFileRO of "f": file not found`, nil},
		{"open NAK errno", func(req mavftp.Packet) []mavftp.Packet {
			p := ftpNak(req, mavftp.ErrFailErrno)
			p.Data = append(p.Data, 22)
			return []mavftp.Packet{p}
		}, "failed with errno (errno 22)", nil},
		{"NAK without data", func(req mavftp.Packet) []mavftp.Packet {
			p := ftpNak(req, 0)
			p.Data = nil
			return []mavftp.Packet{p}
		}, "refused OpenFileRO", nil},
		{"burst NAK", func(req mavftp.Packet) []mavftp.Packet {
			if req.Opcode == mavftp.OpBurstReadFile {
				p := ftpNak(req, mavftp.ErrFileProtected)
				return []mavftp.Packet{p}
			}
			return good.reply(req)
		}, "refused BurstReadFile", nil},
		{"silence", func(mavftp.Packet) []mavftp.Packet { return nil }, "no answer to OpenFileRO after 3 attempts", ErrTimeout},
		{"only wrong sequence numbers", func(req mavftp.Packet) []mavftp.Packet {
			p := ftpAck(req, nil)
			p.Seq += 5
			return []mavftp.Packet{p}
		}, "no answer to OpenFileRO", ErrTimeout},
		{"oversized size field", func(req mavftp.Packet) []mavftp.Packet {
			return nil // replaced below: raw payload with size 250
		}, "malformed replies", ErrFTP},
		{"EOF before the data sent", func(req mavftp.Packet) []mavftp.Packet {
			if req.Opcode == mavftp.OpBurstReadFile {
				out := good.reply(req)
				out[len(out)-1].Offset = 3 // claims the file ends at byte 3
				return out
			}
			return good.reply(req)
		}, "end of the file at byte 3 after sending data up to byte 11", ErrFTP},
		{"offset beyond the limit", func(req mavftp.Packet) []mavftp.Packet {
			if req.Opcode == mavftp.OpBurstReadFile {
				p := ftpAck(req, []byte("x"))
				p.Offset = 1 << 30
				return []mavftp.Packet{p}
			}
			return good.reply(req)
		}, "file larger than", ErrFTP},
	} {
		t.Run(c.name, func(t *testing.T) {
			model := ftpScript(c.reply)
			if c.name == "oversized size field" {
				model = func(m message.Message) []message.Message {
					f := m.(*common.MessageFileTransferProtocol)
					req, _ := mavftp.Unmarshal(&f.Payload)
					p := ftpAck(req, nil)
					b, _ := p.Marshal()
					b[4] = 250
					return []message.Message{&common.MessageFileTransferProtocol{Payload: b}}
				}
			}
			l := newWorld(t, opts, faults{}, 0, 1, model)
			_, err := l.v.FTPReadFile(context.Background(), "f", nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("err %v; want %q (%v)", err, c.want, c.is)
			}
			if !strings.Contains(err.Error(), `read "f" from vehicle 1 over FTP`) {
				t.Fatalf("err %v does not say what was read from whom", err)
			}
		})
	}
}

// A param.pck that is cut off or corrupt fails the FTP download with the
// decoder's error, and ParamsAll then falls back to PARAM_REQUEST_LIST.
func TestParamsByFTPBadFile(t *testing.T) {
	pck, err := mavftp.EncodeParams([]mavftp.PackedParam{
		{Name: "A_ONE", Type: common.MAV_PARAM_TYPE_INT8, Value: 1},
		{Name: "A_TWO", Type: common.MAV_PARAM_TYPE_REAL32, Value: 2.5},
	}, 2, false, mavftp.DataMax)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"truncated", pck[:len(pck)-2], "cut off"},
		{"partial", func() []byte { b := append([]byte(nil), pck...); b[4] = 9; return b }(), "holds 2 of the vehicle's 9 parameters"},
		{"empty", nil, "shorter than the 6-byte header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mv := newModelVehicle()
			mv.params = modelParams(5)
			s := &fileServer{content: c.content}
			script := ftpScript(s.reply)
			l := newWorld(t, fastOpts(), faults{}, 0, 1, func(m message.Message) []message.Message {
				if isFTP(m) {
					return script(m)
				}
				return mv.handle(m)
			})
			_, err := l.v.ParamsByFTP(context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			l.v.Handle(&common.MessageAutopilotVersion{Capabilities: common.MAV_PROTOCOL_CAPABILITY_FTP})
			got, err := l.v.ParamsAll(context.Background(), nil)
			if err != nil || len(got) != 5 {
				t.Fatalf("fallback: %d params, %v", len(got), err)
			}
		})
	}
	// the good file decodes to exact values
	mv := &fileServer{content: pck}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, ftpScript(mv.reply))
	got, err := l.v.ParamsByFTP(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{Name: "A_ONE", Value: 1, Type: 2, Index: 0, Count: 2}, {Name: "A_TWO", Value: 2.5, Type: 9, Index: 1, Count: 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v", got)
	}
}

// Bad paths are refused before anything is sent; a second FTP operation
// while one runs is ErrBusy at once; cancelling the first ends it then. In
// the virtual-clock world, with a vehicle that never answers: at 1 s a
// world event tries the second operation, at 2 s the listing is cancelled.
func TestFTPBusyAndBadPath(t *testing.T) {
	opts := fastOpts()
	opts.ParamTimeout = time.Second // the listing keeps trying past the cancel
	l := newWorld(t, opts, faults{}, 0, 1, func(message.Message) []message.Message { return nil })
	for _, p := range []string{"", strings.Repeat("x", 240), "a\x00b"} {
		if _, err := l.v.FTPReadFile(context.Background(), p, nil); err == nil {
			t.Fatalf("path %q accepted", p)
		}
	}
	if n := len(l.sentOf(func(message.Message) bool { return true })); n != 0 {
		t.Fatalf("bad paths sent %d frames", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var busyErr error
	var busyAt time.Duration
	l.later(time.Second, func() {
		_, busyErr = l.v.FTPCRC32(context.Background(), "@SYS")
		busyAt = l.elapsed()
	})
	l.cancelLater(2*time.Second, cancel)
	if _, err := l.v.FTPListDirectory(ctx, "@SYS"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled listing: %v", err)
	}
	if !errors.Is(busyErr, ErrBusy) || busyAt != time.Second {
		t.Fatalf("second FTP operation: %v at %v, want ErrBusy at once (1s)", busyErr, busyAt)
	}
	if l.elapsed() != 2*time.Second {
		t.Fatalf("listing ended at %v, want at the cancel (2s)", l.elapsed())
	}
}

func TestParseListing(t *testing.T) {
	es, n, err := parseListing([]byte("Dsub\x00Fa.txt\t12\x00S\x00Fb\t0\x00\x00\x00"))
	if err != nil || n != 4 || fmt.Sprint(es) != "[{sub true 0} {a.txt false 12} {b false 0}]" {
		t.Fatalf("%v %d %v", es, n, err)
	}
	for _, bad := range []string{"Fnosize\x00", "Fx\t-1\x00", "D\x00", "Qodd\x00", "F\t3\x00"} {
		if _, _, err := parseListing([]byte(bad)); !errors.Is(err, ErrFTP) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The virtual tree of the simulator, listed, read and checksummed over a
// lossy link.
func TestSimFTPListReadCRC(t *testing.T) {
	st := newSimStation(t, simOpts())
	sim := startSim(t, st, simulator.Config{Vehicles: 1, Speedup: 1, Seed: 19})
	v := st.vehicle(t, 1)
	sim.Vehicle(0).SetLinkFaults(simulator.LinkFaults{LossPct: 30, DupPct: 30, ReorderPct: 30})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root, err := v.FTPListDirectory(ctx, "/")
	if err != nil || fmt.Sprint(root) != "[{@PARAM true 0} {@SYS true 0}]" {
		t.Fatalf("list /: %v %v", root, err)
	}
	sys, err := v.FTPListDirectory(ctx, "@SYS")
	if err != nil || len(sys) != 2 || sys[0].Name != "version.txt" {
		t.Fatalf("list @SYS: %v %v", sys, err)
	}
	b, err := v.FTPReadFile(ctx, "@SYS/version.txt", nil)
	if err != nil || int64(len(b)) != sys[0].Size || !strings.Contains(string(b), "ArduCopter") {
		t.Fatalf("read version.txt: %q %v", b, err)
	}
	crc, err := v.FTPCRC32(ctx, "@SYS/version.txt")
	if err != nil || crc != mavftp.CRC32(b) {
		t.Fatalf("CRC32 %08x %v, local %08x", crc, err, mavftp.CRC32(b))
	}
	var ferr *FTPError
	if _, err := v.FTPReadFile(ctx, "@SYS/nope.txt", nil); !errors.As(err, &ferr) || ferr.Code != mavftp.ErrFileNotFound {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := v.FTPListDirectory(ctx, "@NOPE"); !errors.As(err, &ferr) || ferr.Code != mavftp.ErrFileNotFound {
		t.Fatalf("missing directory: %v", err)
	}
	// with defaults, as MAVProxy asks: a changed parameter carries its default
	if _, err := v.ParamSet(ctx, "FENCE_RADIUS", 350); err != nil {
		t.Fatal(err)
	}
	b, err = v.FTPReadFile(ctx, ParamFile+"?withdefaults=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := mavftp.DecodeParams(b)
	if err != nil || !f.WithDefaults || len(f.Params) != f.Total {
		t.Fatalf("param.pck with defaults: %v", err)
	}
	carried := 0
	for _, p := range f.Params {
		if p.HasDefault {
			carried++
		}
		if p.Name == "FENCE_RADIUS" && (!p.HasDefault || p.Default != 150 || p.Value != 350) ||
			p.Name == "FS_GCS_ENABLE" && (p.HasDefault || p.Default != 1 || p.Value != 1) {
			t.Fatalf("%+v", p)
		}
	}
	if carried != 1 {
		t.Fatalf("%d parameters carry a default; only FENCE_RADIUS differs from its", carried)
	}
}

// A vehicle answering with damaged replies (random header fields and
// sizes, some with the right sequence number) never crashes the client or
// hangs it: every read ends, with the file or with an error that says
// what went wrong (timeout, protocol error, NAK).
func TestFTPReadSurvivesGarbageReplies(t *testing.T) {
	opts := fastOpts()
	opts.ParamRetries = 2
	content := []byte(strings.Repeat("abcdefghij", 100))
	intact, failed := 0, 0
	for seed := range int64(30) {
		rng := rand.New(rand.NewSource(seed))
		good := &fileServer{content: content}
		script := ftpScript(good.reply)
		l := newWorld(t, opts, faults{}, 0, seed, func(m message.Message) []message.Message {
			out := script(m)
			for _, r := range out {
				f := r.(*common.MessageFileTransferProtocol)
				if rng.Intn(3) == 0 {
					for range 1 + rng.Intn(3) {
						f.Payload[rng.Intn(mavftp.HeaderLen)] = byte(rng.Intn(256))
					}
				}
			}
			return out
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		got, err := l.v.FTPReadFile(ctx, "f", nil)
		cancel()
		var ferr *FTPError
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("seed %d: read did not end", seed)
		case err == nil:
			if string(got) == string(content) {
				intact++
			}
		case errors.Is(err, ErrTimeout) || errors.Is(err, ErrFTP) || errors.As(err, &ferr):
			failed++
		default:
			t.Fatalf("seed %d: unclassified error %v", seed, err)
		}
	}
	if intact == 0 || failed == 0 {
		t.Fatalf("%d intact reads, %d failed: the damage was not exercised both ways", intact, failed)
	}
	t.Logf("%d of 30 reads intact despite damaged replies, %d failed cleanly", intact, failed)
}
