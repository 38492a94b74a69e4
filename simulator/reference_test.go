package simulator

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/tlog"
	"github.com/burgut-uav/burgut/internal/testenv"
)

const referenceTlog = "data/tlogs/arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog"

type tlogFrame struct {
	sys, comp uint8
	msg       message.Message
}

func readTlog(t *testing.T, path string) []tlogFrame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &tlog.Reader{ByteReader: f, DialectRW: dialectRW}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var out []tlogFrame
	for {
		e, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return out
			}
			t.Fatalf("read %s: %v", path, err)
		}
		out = append(out, tlogFrame{e.Frame.GetSystemID(), e.Frame.GetComponentID(), e.Frame.GetMessage()})
	}
}

// replyKey is what must be equal between ArduCopter's answer and ours.
func replyKey(m message.Message) string {
	switch m := m.(type) {
	case *common.MessageMissionRequest:
		return fmt.Sprintf("MISSION_REQUEST seq=%d type=%v", m.Seq, m.MissionType)
	case *common.MessageMissionRequestInt:
		return fmt.Sprintf("MISSION_REQUEST_INT seq=%d type=%v", m.Seq, m.MissionType)
	case *common.MessageMissionAck:
		return fmt.Sprintf("MISSION_ACK %v type=%v opaque_id=%d", m.Type, m.MissionType, m.OpaqueId)
	case *common.MessageMissionCount:
		return fmt.Sprintf("MISSION_COUNT %d type=%v opaque_id=%d", m.Count, m.MissionType, m.OpaqueId)
	case *common.MessageMissionItemInt:
		if m.Seq == 0 && m.MissionType == common.MAV_MISSION_TYPE_MISSION {
			return fmt.Sprintf("MISSION_ITEM_INT seq=0 home cmd=%v frame=%v", m.Command, m.Frame) // home differs by place
		}
		return fmt.Sprintf("MISSION_ITEM_INT seq=%d cmd=%v frame=%v cur=%d auto=%d p1=%v x=%d y=%d z=%v type=%v",
			m.Seq, m.Command, m.Frame, m.Current, m.Autocontinue, m.Param1, m.X, m.Y, m.Z, m.MissionType)
	case *common.MessageCommandAck:
		return fmt.Sprintf("COMMAND_ACK %v %v", m.Command, m.Result)
	case *common.MessageParamValue:
		return fmt.Sprintf("PARAM_VALUE %s=%v index=%d", m.ParamId, m.ParamValue, m.ParamIndex)
	}
	return ""
}

// isRequest selects what the recorded ground station (MAVProxy) sent that
// the vehicle must answer.
func isRequest(m message.Message) bool {
	switch m.(type) {
	case *common.MessageMissionCount, *common.MessageMissionItemInt, *common.MessageMissionRequestList,
		*common.MessageMissionRequestInt, *common.MessageParamSet, *common.MessageCommandLong:
		return true
	}
	return false
}

// TestAnswersMatchRecordedArduCopter replays the ground-station side of a
// real ArduCopter 4.7 SITL session (parameter set, mission, fence and rally
// upload and download, GUIDED arm and takeoff, RTL) against a simulated
// vehicle and checks each answer against the one ArduCopter gave: same
// message, same sequence numbers, results and items. Run with
// LegacyMissionRequest, which makes uploads request items exactly as the
// recording does.
func TestAnswersMatchRecordedArduCopter(t *testing.T) {
	frames := readTlog(t, testenv.Shared(t, referenceTlog))
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, func(c *Config) { c.LegacyMissionRequest = true; c.Speedup = 5 })
	g.channel(1)
	waitHome(t, s.Vehicle(0))
	checked := 0
	var matched []string
	for i, f := range frames {
		if f.sys != 255 || !isRequest(f.msg) {
			continue
		}
		// ArduCopter's answer: the first protocol message from 1/1 after it
		// (for a download request, the item with that seq)
		want := ""
		for _, r := range frames[i+1:] {
			if r.sys != 1 || r.comp != 1 {
				continue
			}
			k := replyKey(r.msg)
			if k == "" {
				continue
			}
			if rq, ok := f.msg.(*common.MessageMissionRequestInt); ok {
				if it, ok := r.msg.(*common.MessageMissionItemInt); !ok || it.Seq != rq.Seq {
					continue
				}
			}
			if strings.HasPrefix(k, "PARAM_VALUE") && !strings.Contains(k, "FENCE_RADIUS") {
				continue // MIS_TOTAL/RALLY_TOTAL notifications we do not send
			}
			want = k
			break
		}
		if want == "" {
			continue
		}
		c := g.mark()
		g.send(1, f.msg)
		got := g.waitMsg(&c, 1, 10*time.Second, func(m message.Message) bool { return replyKey(m) == want })
		if got == nil {
			var seen []string
			g.mu.Lock()
			for _, fr := range g.frames[max(0, c-20):] {
				if k := replyKey(fr.Message()); k != "" {
					seen = append(seen, k)
				}
			}
			g.mu.Unlock()
			t.Fatalf("request %T %+v: ArduCopter answered %q; we answered %q", f.msg, f.msg, want, seen)
		}
		checked++
		matched = append(matched, want)
	}
	// and the texts ArduCopter prints after an accepted mission and fence
	for _, text := range []string{"Flight plan received", "Fence Indexed OK", "Arming motors"} {
		c := 0
		if g.waitMsg(&c, 1, time.Second, func(m message.Message) bool {
			st, ok := m.(*common.MessageStatustext)
			return ok && st.Text == text
		}) == nil {
			t.Errorf("no STATUSTEXT %q, which ArduCopter sends in this session", text)
		}
	}
	// ArduCopter names no version of its lists: MISSION_CURRENT's
	// mission_id, fence_id and rally_points_id stay 0 after the uploads
	// (as MISSION_ACK's and MISSION_COUNT's opaque_id, in the keys above),
	// so the station's list cache cannot rely on them (groundstation
	// listcache.go); the simulated vehicle must not pretend otherwise.
	var recorded *common.MessageMissionCurrent
	for _, f := range frames {
		if m, ok := f.msg.(*common.MessageMissionCurrent); ok && f.sys == 1 {
			recorded = m
		}
	}
	c := g.mark()
	ours, _ := g.waitMsg(&c, 1, 5*time.Second, isMsg[*common.MessageMissionCurrent]).(*common.MessageMissionCurrent)
	if recorded == nil || ours == nil {
		t.Fatalf("MISSION_CURRENT: recorded %v, ours %v", recorded, ours)
	}
	if ids := func(m *common.MessageMissionCurrent) [3]uint32 {
		return [3]uint32{m.MissionId, m.FenceId, m.RallyPointsId}
	}; ids(ours) != ids(recorded) {
		t.Errorf("MISSION_CURRENT list IDs %v, ArduCopter sent %v", ids(ours), ids(recorded))
	}
	if checked < 30 {
		t.Fatalf("only %d exchanges checked; the recording should hold about 40", checked)
	}
	t.Logf("%d request/answer exchanges match ArduCopter 4.7:\n%s", checked, strings.Join(matched, "\n"))
}
