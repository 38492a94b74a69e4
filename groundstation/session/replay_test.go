package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/tlog"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// These tests replay what real ArduCopter 4.7 SITL answered to MAVProxy
// (../shared/data/tlogs/arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog):
// the session must send exactly what MAVProxy sent (message for message,
// field for field) and accept ArduCopter's real replies, including its
// legacy MISSION_REQUEST during upload.

const copterTlog = "data/tlogs/arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog"

type logged struct {
	fromGCS bool
	sysid   uint8
	compid  uint8
	msg     message.Message
}

func readTlog(t *testing.T) []logged {
	t.Helper()
	f, err := os.Open(testenv.Shared(t, copterTlog))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	r := &tlog.Reader{ByteReader: f, DialectRW: rw}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var out []logged
	for {
		e, err := r.Read()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			t.Fatalf("read tlog: %v", err)
		}
		out = append(out, logged{fromGCS: e.Frame.GetSystemID() == 255, sysid: e.Frame.GetSystemID(), compid: e.Frame.GetComponentID(), msg: e.Frame.GetMessage()})
	}
	if len(out) < 7000 {
		t.Fatalf("read only %d frames", len(out))
	}
	return out
}

// protocolMsg reports whether m belongs to the protocols sessions speak.
func protocolMsg(m message.Message) bool {
	switch m.(type) {
	case *common.MessageMissionCount, *common.MessageMissionRequest, *common.MessageMissionRequestInt,
		*common.MessageMissionItemInt, *common.MessageMissionAck, *common.MessageMissionRequestList,
		*common.MessageCommandLong, *common.MessageCommandAck, *common.MessageParamSet:
		return true
	case *common.MessageParamValue, *common.MessageStatustext:
		return true
	}
	return false
}

// exchange cuts one protocol exchange out of the log: from the first GCS
// frame for which start is true up to and including the first frame for
// which end is true, protocol messages of GCS (255) and autopilot (1/1) only.
func exchange(t *testing.T, all []logged, start, end func(logged) bool) []logged {
	t.Helper()
	var out []logged
	in := false
	for _, l := range all {
		if !protocolMsg(l.msg) || (!l.fromGCS && (l.sysid != 1 || l.compid != 1)) {
			continue
		}
		if !in && l.fromGCS && start(l) {
			in = true
		}
		if in {
			if end(l) {
				return append(out, l)
			}
			if _, ok := l.msg.(*common.MessageParamValue); ok {
				continue // MIS_TOTAL etc. echoes interleaved; not part of the exchange
			}
			out = append(out, l)
		}
	}
	t.Fatal("exchange not found in the tlog")
	return nil
}

// replayer plays the autopilot's side of a logged exchange: each message
// the session sends must equal the next logged GCS message; once a GCS
// burst is matched, the autopilot's following burst is delivered.
type replayer struct {
	t      *testing.T
	script []logged
	mu     sync.Mutex
	pos    int
	errs   []string
}

func (r *replayer) handle(msg message.Message) []message.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pos >= len(r.script) {
		return nil // beyond the log (e.g. our final download ACK, which MAVProxy omits)
	}
	want := r.script[r.pos]
	if !want.fromGCS {
		r.errs = append(r.errs, "session sent while the autopilot was due to answer")
		return nil
	}
	if !reflect.DeepEqual(msg, want.msg) {
		r.errs = append(r.errs, "sent "+describe(msg)+"\n  MAVProxy sent "+describe(want.msg))
		return nil
	}
	r.pos++
	var out []message.Message
	for r.pos < len(r.script) && !r.script[r.pos].fromGCS {
		out = append(out, r.script[r.pos].msg)
		r.pos++
	}
	return out
}

func describe(m message.Message) string { return fmt.Sprintf("%T %+v", m, m) }

func (r *replayer) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		t.Error(e)
	}
	if r.pos < len(r.script) {
		t.Errorf("replay stopped at step %d of %d", r.pos, len(r.script))
	}
}

func itemsOf(ls []logged, fromGCS bool) []mavitem.Item {
	var out []mavitem.Item
	for _, l := range ls {
		m, ok := l.msg.(*common.MessageMissionItemInt)
		if !ok || l.fromGCS != fromGCS {
			continue
		}
		out = append(out, mavitem.Item{Seq: m.Seq, Frame: uint8(m.Frame), Command: uint16(m.Command), Current: m.Current,
			Autocontinue: m.Autocontinue, Param1: m.Param1, Param2: m.Param2, Param3: m.Param3, Param4: m.Param4,
			X: m.X, Y: m.Y, Z: m.Z, MissionType: mavitem.MissionType(m.MissionType)})
	}
	return out
}

func TestReplayArduCopterMissionTransfers(t *testing.T) {
	all := readTlog(t)
	for _, mt := range []mavitem.MissionType{mavitem.TypeMission, mavitem.TypeFence, mavitem.TypeRally} {
		t.Run("upload "+mt.String(), func(t *testing.T) {
			ex := exchange(t, all, func(l logged) bool {
				c, ok := l.msg.(*common.MessageMissionCount)
				return ok && mavitem.MissionType(c.MissionType) == mt
			}, func(l logged) bool {
				a, ok := l.msg.(*common.MessageMissionAck)
				return ok && !l.fromGCS && mavitem.MissionType(a.MissionType) == mt
			})
			items := itemsOf(ex, true)
			if len(items) == 0 {
				t.Fatal("no items in the logged upload")
			}
			rp := &replayer{t: t, script: ex}
			l := newWorld(t, fastOpts(), faults{}, 0, 1, rp.handle)
			if err := l.v.Upload(context.Background(), mt, items, nil); err != nil {
				t.Fatal(err)
			}
			rp.check(t)
		})
		t.Run("download "+mt.String(), func(t *testing.T) {
			ex := exchange(t, all, func(l logged) bool {
				c, ok := l.msg.(*common.MessageMissionRequestList)
				return ok && mavitem.MissionType(c.MissionType) == mt
			}, func(l logged) bool {
				c, ok := l.msg.(*common.MessageMissionItemInt)
				if !ok || l.fromGCS || mavitem.MissionType(c.MissionType) != mt {
					return false
				}
				return c.Seq == lastSeqOf(all, mt)
			})
			want := itemsOf(ex, false)
			rp := &replayer{t: t, script: ex}
			l := newWorld(t, fastOpts(), faults{}, 0, 1, rp.handle)
			got, err := l.v.Download(context.Background(), mt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("downloaded %+v\nwant %+v", got, want)
			}
			rp.check(t)
		})
	}
}

// lastSeqOf is the highest seq ArduCopter reported in a download of mt.
func lastSeqOf(all []logged, mt mavitem.MissionType) uint16 {
	for _, l := range all {
		if c, ok := l.msg.(*common.MessageMissionCount); ok && !l.fromGCS && mavitem.MissionType(c.MissionType) == mt {
			return c.Count - 1
		}
	}
	return 0
}

func TestReplayArduCopterCommands(t *testing.T) {
	all := readTlog(t)
	var cmds []*common.MessageCommandLong
	for _, l := range all {
		if c, ok := l.msg.(*common.MessageCommandLong); ok && l.fromGCS {
			cmds = append(cmds, c)
		}
	}
	if len(cmds) != 4 {
		t.Fatalf("found %d commands in the log, want 4 (mode, arm, takeoff, mode)", len(cmds))
	}
	for i, c := range cmds {
		n := 0
		ex := exchange(t, all, func(l logged) bool {
			if l.msg == message.Message(c) {
				return true
			}
			_, ok := l.msg.(*common.MessageCommandLong)
			if ok && l.fromGCS {
				n++
			}
			return false
		}, func(l logged) bool {
			a, ok := l.msg.(*common.MessageCommandAck)
			return ok && a.Command == c.Command
		})
		rp := &replayer{t: t, script: ex}
		l := newWorld(t, fastOpts(), faults{}, 0, 1, rp.handle)
		res, err := l.v.Command(context.Background(), CommandRequest{
			Command: uint16(c.Command), Params: [7]float32{c.Param1, c.Param2, c.Param3, c.Param4, c.Param5, c.Param6, c.Param7},
		})
		if err != nil || !res.Accepted() || res.Attempts != 1 {
			t.Fatalf("command %d (%v): %+v %v", i, c.Command, res, err)
		}
		rp.check(t)
	}
}

func TestReplayArduCopterParams(t *testing.T) {
	all := readTlog(t)
	// The log's full parameter set (MAVProxy fetched it over FTP and logged
	// it as PARAM_VALUEs from component 190): 1349 real ArduCopter params.
	var table []*common.MessageParamValue
	for _, l := range all {
		if p, ok := l.msg.(*common.MessageParamValue); ok && l.compid == 190 {
			table = append(table, p)
		}
	}
	if len(table) != 1349 {
		t.Fatalf("%d params in the log", len(table))
	}
	// The autopilot streams the list but every 7th frame is lost; missing
	// indices are answered when requested by index.
	model := func(msg message.Message) []message.Message {
		switch m := msg.(type) {
		case *common.MessageParamRequestList:
			var out []message.Message
			for i, p := range table {
				if i%7 != 3 {
					out = append(out, p)
				}
			}
			return out
		case *common.MessageParamRequestRead:
			if m.ParamIndex >= 0 && int(m.ParamIndex) < len(table) {
				return []message.Message{table[m.ParamIndex]}
			}
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	got, err := l.v.ParamsAll(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range table {
		if got[i].Name != p.ParamId || got[i].Value != float64(p.ParamValue) || got[i].Index != i || got[i].Count != 1349 {
			t.Fatalf("param %d: %+v vs logged %+v", i, got[i], p)
		}
	}

	// PARAM_SET FENCE_RADIUS as MAVProxy did; ArduCopter's echo has index 65535.
	ex := exchange(t, all, func(l logged) bool {
		_, ok := l.msg.(*common.MessageParamSet)
		return ok
	}, isEcho)
	set := ex[0].msg.(*common.MessageParamSet)
	rp := &replayer{t: t, script: ex}
	l2 := newWorld(t, fastOpts(), faults{}, 0, 1, rp.handle)
	l2.v.Handle(&common.MessageParamValue{ParamId: set.ParamId, ParamType: set.ParamType, ParamValue: 300, ParamCount: 1349, ParamIndex: 5})
	p, err := l2.v.ParamSet(context.Background(), set.ParamId, float64(set.ParamValue))
	if err != nil || p.Value != 350 || p.Index != -1 {
		t.Fatalf("set FENCE_RADIUS: %+v %v", p, err)
	}
	rp.check(t)
}

func isEcho(l logged) bool {
	p, ok := l.msg.(*common.MessageParamValue)
	return ok && !l.fromGCS && p.ParamId == "FENCE_RADIUS"
}
