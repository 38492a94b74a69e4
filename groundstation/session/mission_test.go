package session

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

func TestUploadDownloadRoundTripAllTypes(t *testing.T) {
	for _, mt := range []mavitem.MissionType{mavitem.TypeMission, mavitem.TypeFence, mavitem.TypeRally} {
		t.Run(mt.String(), func(t *testing.T) {
			mv := newModelVehicle()
			l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
			items := testItems(40, mt)
			var calls [][2]int
			if err := l.v.Upload(context.Background(), mt, items, func(d, n int) { calls = append(calls, [2]int{d, n}) }); err != nil {
				t.Fatal(err)
			}
			// 0 at the start, then each item the vehicle confirmed, 40 at its ACK
			if len(calls) != 41 {
				t.Fatalf("progress called %d times: %v", len(calls), calls)
			}
			for i, c := range calls {
				if c != [2]int{i, 40} {
					t.Fatalf("progress call %d = %v", i, c)
				}
			}
			if got := mv.list(mt); !reflect.DeepEqual(got, items) {
				t.Fatalf("vehicle stored\n%v\nwant\n%v", got, items)
			}
			got, err := l.v.Download(context.Background(), mt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, items) {
				t.Fatalf("downloaded\n%v\nwant\n%v", got, items)
			}
			// other types untouched
			for _, other := range []mavitem.MissionType{mavitem.TypeMission, mavitem.TypeFence, mavitem.TypeRally} {
				if other != mt && len(mv.list(other)) != 0 {
					t.Fatalf("%s list changed by a %s upload", other, mt)
				}
			}
		})
	}
}

// The core robustness claim: 30% loss, 30% duplication and 30% reordering
// in both directions, 100 ms each way, many seeds, each upload plan (strict
// for an unknown autopilot, adaptive for ArduPilot, a fixed window), and
// the vehicle still ends up with the mission bit for bit, reads it back bit
// for bit, and no item ever went out carrying another item's content.
func TestUploadDownloadUnderLossDuplicationReordering(t *testing.T) {
	plans := []struct {
		name      string
		window    int
		autopilot int // -1 = never reported
	}{{"strict_unknown", 0, -1}, {"auto_ardupilot", 0, int(common.MAV_AUTOPILOT_ARDUPILOTMEGA)}, {"fixed16_unknown", 16, -1}}
	for _, pl := range plans {
		for seed := int64(1); seed <= 12; seed++ {
			t.Run(fmt.Sprintf("%s_seed%d", pl.name, seed), func(t *testing.T) {
				mv := newModelVehicle()
				mv.legacyReq = seed%2 == 0
				mv.reRequest = time.Second // ArduPilot's MissionItemProtocol
				opts := Options{UploadWindow: pl.window, MissionRetries: 60}
				l := newWorld(t, opts, faults{LossPct: 30, DupPct: 30, ReorderPct: 30}, 100*time.Millisecond, seed, mv.handle).withModel(mv)
				if pl.autopilot >= 0 {
					l.v.SetAutopilot(uint8(pl.autopilot))
				}
				items := testItems(150, mavitem.TypeMission)
				if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
					t.Fatal(err)
				}
				if got := mv.list(mavitem.TypeMission); !reflect.DeepEqual(got, items) {
					t.Fatal("vehicle's mission differs from the upload")
				}
				got, err := l.v.Download(context.Background(), mavitem.TypeMission, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, items) {
					t.Fatal("downloaded mission differs from the upload")
				}
				for _, m := range l.sentOf(isItem) {
					it := m.(*common.MessageMissionItemInt)
					if it.X != items[it.Seq].X || it.Param1 != items[it.Seq].Param1 {
						t.Fatalf("item sent for seq %d carries another item's content", it.Seq)
					}
				}
			})
		}
	}
}

// scriptedUploadVehicle answers MISSION_COUNT with a fixed request sequence
// (duplicates, reordering), then ACCEPTED; it records the items received.
func TestUploadAnswersDuplicatedAndReorderedRequestsExactly(t *testing.T) {
	items := testItems(5, mavitem.TypeMission)
	var mu sync.Mutex
	var got []*common.MessageMissionItemInt
	order := []uint16{0, 0, 2, 1, 1, 4, 3, 3, 4}
	model := func(msg message.Message) []message.Message {
		switch m := msg.(type) {
		case *common.MessageMissionCount:
			var out []message.Message
			// a stale ACCEPTED from an earlier transfer arrives first: must be ignored
			out = append(out, ack(mavitem.TypeMission, common.MAV_MISSION_ACCEPTED))
			for _, s := range order {
				out = append(out, &common.MessageMissionRequestInt{Seq: s, MissionType: m.MissionType})
			}
			return out
		case *common.MessageMissionItemInt:
			mu.Lock()
			got = append(got, m)
			n := len(got)
			mu.Unlock()
			if n == len(order) {
				return []message.Message{ack(mavitem.TypeMission, common.MAV_MISSION_ACCEPTED)}
			}
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(order) {
		t.Fatalf("answered %d requests, want %d", len(got), len(order))
	}
	for i, m := range got {
		if m.Seq != order[i] {
			t.Fatalf("answer %d has seq %d, want %d", i, m.Seq, order[i])
		}
		want := items[m.Seq]
		if m.X != want.X || m.Y != want.Y || m.Z != want.Z || m.Param1 != want.Param1 || m.Param4 != want.Param4 {
			t.Fatalf("answer for seq %d carries the wrong item", m.Seq)
		}
	}
}

func TestUploadNackIsMissionError(t *testing.T) {
	mv := newModelVehicle()
	mv.maxItems = 10
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(11, mavitem.TypeMission), nil)
	var me *MissionError
	if !errors.As(err, &me) || me.Result != uint8(common.MAV_MISSION_NO_SPACE) || me.Name != "MAV_MISSION_NO_SPACE" {
		t.Fatalf("err = %v, want MissionError NO_SPACE", err)
	}
	if me.Meaning == "" {
		t.Fatal("no meaning given")
	}
}

func TestUploadNackAfterItem(t *testing.T) {
	model := func(msg message.Message) []message.Message {
		switch m := msg.(type) {
		case *common.MessageMissionCount:
			return []message.Message{&common.MessageMissionRequestInt{Seq: 0, MissionType: m.MissionType}}
		case *common.MessageMissionItemInt:
			return []message.Message{ack(mavitem.TypeFence, common.MAV_MISSION_UNSUPPORTED_FRAME)}
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	err := l.v.Upload(context.Background(), mavitem.TypeFence, testItems(3, mavitem.TypeFence), nil)
	var me *MissionError
	if !errors.As(err, &me) || me.Result != 2 || me.Seq != 0 {
		t.Fatalf("err = %v", err)
	}
}

func TestUploadEmptyClears(t *testing.T) {
	mv := newModelVehicle()
	mv.lists[mavitem.TypeRally] = testItems(3, mavitem.TypeRally)
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	if err := l.v.Upload(context.Background(), mavitem.TypeRally, nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(mv.list(mavitem.TypeRally)) != 0 {
		t.Fatal("rally list not cleared")
	}
}

func TestUploadTimeoutWhenVehicleSilent(t *testing.T) {
	opts := fastOpts()
	opts.MissionRetries = 3
	l := newWorld(t, opts, faults{}, 0, 1, func(message.Message) []message.Message { return nil })
	err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(3, mavitem.TypeMission), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	counts := l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageMissionCount); return ok })
	if len(counts) != 4 {
		t.Fatalf("MISSION_COUNT sent %d times, want 1 + 3 retries", len(counts))
	}
}

func TestUploadCancelSendsOperationCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	model := func(msg message.Message) []message.Message {
		if m, ok := msg.(*common.MessageMissionCount); ok {
			cancel() // the operator gives up once the transfer started
			return []message.Message{&common.MessageMissionRequestInt{Seq: 0, MissionType: m.MissionType}}
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	err := l.v.Upload(ctx, mavitem.TypeMission, testItems(3, mavitem.TypeMission), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	acks := l.sentOf(func(m message.Message) bool {
		a, ok := m.(*common.MessageMissionAck)
		return ok && a.Type == common.MAV_MISSION_OPERATION_CANCELLED && a.MissionType == common.MAV_MISSION_TYPE_MISSION
	})
	if len(acks) != 1 {
		t.Fatalf("sent %d OPERATION_CANCELLED acks", len(acks))
	}
}

func TestMissionTransferBusyPerType(t *testing.T) {
	mv := newModelVehicle()
	var l *world
	var second, download error
	asked := false
	model := func(msg message.Message) []message.Message {
		if c, ok := msg.(*common.MessageMissionCount); ok && c.MissionType == common.MAV_MISSION_TYPE_MISSION && !asked {
			// while the first upload runs, a second one and a download of the same type
			asked = true
			second = l.v.Upload(context.Background(), mavitem.TypeMission, testItems(3, mavitem.TypeMission), nil)
			_, download = l.v.Download(context.Background(), mavitem.TypeMission, nil)
		}
		return mv.handle(msg)
	}
	l = newWorld(t, fastOpts(), faults{}, 0, 1, model)
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(3, mavitem.TypeMission), nil); err != nil {
		t.Fatal(err)
	}
	if !asked {
		t.Fatal("the model never saw MISSION_COUNT")
	}
	if !errors.Is(second, ErrBusy) {
		t.Fatalf("second mission upload: err = %v, want ErrBusy", second)
	}
	if !errors.Is(download, ErrBusy) {
		t.Fatalf("mission download during upload: err = %v, want ErrBusy", download)
	}
	// the slot is free again, and a fence transfer is independent of it
	if err := l.v.Upload(context.Background(), mavitem.TypeFence, testItems(2, mavitem.TypeFence), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(4, mavitem.TypeMission), nil); err != nil {
		t.Fatal(err)
	}
}

func TestDownloadIgnoresStaleDuplicatesAndOtherTypes(t *testing.T) {
	items := testItems(4, mavitem.TypeRally)
	model := func(msg message.Message) []message.Message {
		switch m := msg.(type) {
		case *common.MessageMissionRequestList:
			return []message.Message{
				// a stale item from an earlier download and another type's count arrive first
				&common.MessageMissionItemInt{Seq: 0, X: 1, MissionType: common.MAV_MISSION_TYPE_RALLY},
				&common.MessageMissionCount{Count: 99, MissionType: common.MAV_MISSION_TYPE_MISSION},
				&common.MessageMissionCount{Count: 4, MissionType: m.MissionType},
			}
		case *common.MessageMissionRequestInt:
			it := items[m.Seq]
			good := &common.MessageMissionItemInt{Seq: it.Seq, Frame: common.MAV_FRAME(it.Frame), Command: common.MAV_CMD(it.Command),
				Autocontinue: 1, Param1: it.Param1, Param2: it.Param2, Param3: it.Param3, Param4: it.Param4, X: it.X, Y: it.Y, Z: it.Z,
				MissionType: m.MissionType}
			wrongType := *good
			wrongType.MissionType = common.MAV_MISSION_TYPE_FENCE
			wrongType.X = 7
			return []message.Message{&wrongType, good, good}
		}
		return nil
	}
	opts := fastOpts()
	opts.MissionWindow = 1
	l := newWorld(t, opts, faults{}, 0, 1, model)
	got, err := l.v.Download(context.Background(), mavitem.TypeRally, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, items) {
		t.Fatalf("got %v\nwant %v", got, items)
	}
	final := l.sentOf(func(m message.Message) bool {
		a, ok := m.(*common.MessageMissionAck)
		return ok && a.Type == common.MAV_MISSION_ACCEPTED && a.MissionType == common.MAV_MISSION_TYPE_RALLY
	})
	if len(final) != 1 {
		t.Fatalf("final MISSION_ACK sent %d times", len(final))
	}
}

func TestDownloadNackBeforeCount(t *testing.T) {
	model := func(msg message.Message) []message.Message {
		if m, ok := msg.(*common.MessageMissionRequestList); ok {
			return []message.Message{ack(mavitem.MissionType(m.MissionType), common.MAV_MISSION_UNSUPPORTED)}
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	_, err := l.v.Download(context.Background(), mavitem.TypeFence, nil)
	var me *MissionError
	if !errors.As(err, &me) || me.Name != "MAV_MISSION_UNSUPPORTED" {
		t.Fatalf("err = %v", err)
	}
}

func TestDownloadEmptyAndProgress(t *testing.T) {
	mv := newModelVehicle()
	l := newWorld(t, fastOpts(), faults{}, 0, 1, mv.handle)
	got, err := l.v.Download(context.Background(), mavitem.TypeMission, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("%v %v", got, err)
	}
	mv.lists[mavitem.TypeMission] = testItems(30, mavitem.TypeMission)
	var calls []int
	if _, err := l.v.Download(context.Background(), mavitem.TypeMission, func(d, n int) {
		if n != 30 {
			t.Errorf("total %d", n)
		}
		calls = append(calls, d)
	}); err != nil {
		t.Fatal(err)
	}
	for i, d := range calls {
		if d != i {
			t.Fatalf("progress %v not 0..30 in steps of one", calls)
		}
	}
	if len(calls) != 31 {
		t.Fatalf("progress called %d times", len(calls))
	}
}

func TestDownloadTimeout(t *testing.T) {
	opts := fastOpts()
	opts.MissionRetries = 2
	l := newWorld(t, opts, faults{}, 0, 1, func(message.Message) []message.Message { return nil })
	if _, err := l.v.Download(context.Background(), mavitem.TypeMission, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
}

func TestClearAndSetCurrent(t *testing.T) {
	mv := newModelVehicle()
	mv.lists[mavitem.TypeMission] = testItems(6, mavitem.TypeMission)
	mv.lists[mavitem.TypeFence] = testItems(2, mavitem.TypeFence)
	l := newWorld(t, fastOpts(), faults{LossPct: 30}, 0, 3, mv.handle)
	if err := l.v.SetCurrent(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	mv.mu.Lock()
	cur := mv.current
	mv.mu.Unlock()
	if cur != 4 {
		t.Fatalf("current = %d", cur)
	}
	if err := l.v.Clear(context.Background(), mavitem.TypeFence); err != nil {
		t.Fatal(err)
	}
	if len(mv.list(mavitem.TypeFence)) != 0 || len(mv.list(mavitem.TypeMission)) != 6 {
		t.Fatal("clear removed the wrong list")
	}
}

func TestSetCurrentRejectedTimesOut(t *testing.T) {
	mv := newModelVehicle()
	mv.lists[mavitem.TypeMission] = testItems(3, mavitem.TypeMission)
	opts := fastOpts()
	opts.MissionRetries = 2
	l := newWorld(t, opts, faults{}, 0, 1, mv.handle)
	// seq 9 does not exist: the vehicle keeps reporting its current item
	if err := l.v.SetCurrent(context.Background(), 9); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
}

func TestUploadRejectsTooManyItems(t *testing.T) {
	v := New(SenderFunc(func(message.Message) error { t.Fatal("nothing should be sent"); return nil }), Target{1, 1}, fastOpts())
	defer v.Close()
	if err := v.Upload(context.Background(), mavitem.TypeMission, make([]mavitem.Item, 70000), nil); err == nil {
		t.Fatal("no error for 70000 items")
	}
}

func TestUploadClosedMidway(t *testing.T) {
	var l *world
	l = newWorld(t, fastOpts(), faults{}, 0, 1, func(msg message.Message) []message.Message {
		l.v.Close() // the vehicle is removed while the upload waits for it
		return nil
	})
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(2, 0), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
}

// A refusal left over from an earlier transfer (ArduPilot answers a stray
// item after an upload with MAV_MISSION_ERROR) arrives before the first
// request: it must not fail this upload. A refusal that repeats after
// MISSION_COUNT is resent is real (see TestUploadNackIsMissionError).
func TestUploadIgnoresOneStaleRefusalBeforeFirstRequest(t *testing.T) {
	mv := newModelVehicle()
	first := true
	model := func(msg message.Message) []message.Message {
		out := mv.handle(msg)
		if _, ok := msg.(*common.MessageMissionCount); ok && first {
			first = false
			return append([]message.Message{ack(mavitem.TypeMission, common.MAV_MISSION_ERROR)}, out...)
		}
		return out
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	items := testItems(10, mavitem.TypeMission)
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mv.list(mavitem.TypeMission), items) {
		t.Fatal("mission differs")
	}
}

// A DENIED answering a probe of an earlier round of the same upload (a
// copy the link held up past the restart) is not the vehicle refusing the
// restarted round: the upload goes on and the vehicle holds the list.
func TestUploadIgnoresALateProbeAnswerAfterARestart(t *testing.T) {
	mv := newModelVehicle()
	var mu sync.Mutex
	counts, probed, injected := 0, false, false
	model := func(msg message.Message) []message.Message {
		mu.Lock()
		defer mu.Unlock()
		switch msg.(type) {
		case *common.MessageMissionCount:
			counts++
		case *common.MessageMissionRequestList:
			probed = true
			return nil // its answer is held up on the link
		}
		out := mv.handle(msg)
		if counts == 1 { // the first round's final ACCEPTED is lost: the station probes, then restarts
			out = slices.DeleteFunc(out, func(m message.Message) bool {
				a, ok := m.(*common.MessageMissionAck)
				return ok && a.Type == common.MAV_MISSION_ACCEPTED
			})
		}
		if counts > 1 && probed && !injected && requestsSeq(out, 3) {
			injected = true // the first round's probe answered, late, mid-way through the second
			out = append([]message.Message{ack(mavitem.TypeMission, common.MAV_MISSION_DENIED)}, out...)
		}
		return out
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	items := testItems(7, mavitem.TypeMission)
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !injected {
		t.Fatal("the late DENIED was never sent: the upload did not restart after a probe")
	}
	if !reflect.DeepEqual(mv.list(mavitem.TypeMission), items) {
		t.Fatal("mission differs")
	}
}

// requestsSeq reports whether msgs hold a request for item seq.
func requestsSeq(msgs []message.Message, seq uint16) bool {
	for _, m := range msgs {
		switch r := m.(type) {
		case *common.MessageMissionRequest:
			if r.Seq == seq {
				return true
			}
		case *common.MessageMissionRequestInt:
			if r.Seq == seq {
				return true
			}
		}
	}
	return false
}

// Windowed upload without faults: every item goes out exactly once (no
// copies, no retransmission on a clean link) and the mission is exact.
func TestUploadWindowSendsEachItemOnceOnCleanLink(t *testing.T) {
	for _, c := range []struct {
		name   string
		window int
	}{{"auto", 0}, {"fixed8", 8}} {
		t.Run(c.name, func(t *testing.T) {
			mv := newModelVehicle()
			l := newWorld(t, Options{UploadWindow: c.window}, faults{}, 100*time.Millisecond, 1, mv.handle).withModel(mv)
			l.v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
			items := testItems(300, mavitem.TypeMission)
			if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(mv.list(mavitem.TypeMission), items) {
				t.Fatal("mission differs")
			}
			if sent := l.sentOf(isItem); len(sent) != len(items) {
				t.Fatalf("sent %d items for a %d-item mission on a clean link", len(sent), len(items))
			}
		})
	}
}

func TestDownloadCancelSendsOperationCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	model := func(msg message.Message) []message.Message {
		if m, ok := msg.(*common.MessageMissionRequestList); ok {
			return []message.Message{&common.MessageMissionCount{Count: 5, MissionType: m.MissionType}}
		}
		if _, ok := msg.(*common.MessageMissionRequestInt); ok {
			cancel() // items never come; the operator gives up
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	if _, err := l.v.Download(ctx, mavitem.TypeFence, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	acks := l.sentOf(func(m message.Message) bool {
		a, ok := m.(*common.MessageMissionAck)
		return ok && a.Type == common.MAV_MISSION_OPERATION_CANCELLED && a.MissionType == common.MAV_MISSION_TYPE_FENCE
	})
	if len(acks) != 1 {
		t.Fatalf("sent %d OPERATION_CANCELLED acks", len(acks))
	}
}

// ArduPilot answers an item that arrives after it finished an upload with
// MAV_MISSION_ERROR. When the final ACCEPTED is lost and such an answer to
// a stray copy arrives instead, the upload succeeded: the station reads the
// list back (it is the uploaded one) instead of reporting a refusal.
func TestUploadErrorForStrayCopyAfterFinishIsNotARefusal(t *testing.T) {
	mv := newModelVehicle()
	model := func(msg message.Message) []message.Message {
		out := mv.handle(msg)
		if _, ok := msg.(*common.MessageMissionItemInt); ok {
			for i, m := range out {
				if a, ok := m.(*common.MessageMissionAck); ok && a.Type == common.MAV_MISSION_ACCEPTED {
					out[i] = ack(mavitem.TypeMission, common.MAV_MISSION_ERROR) // ACCEPTED lost, a stray's answer came
				}
			}
		}
		return out
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	items := testItems(10, mavitem.TypeMission)
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mv.list(mavitem.TypeMission), items) {
		t.Fatal("mission differs")
	}
}

// A MAV_MISSION_ERROR for the last item that the vehicle means (it keeps
// its old list) stays a refusal, also when the old list has as many items.
func TestUploadErrorForLastItemIsARefusal(t *testing.T) {
	for _, old := range []int{0, 10} {
		t.Run(fmt.Sprint(old, "_items_before"), func(t *testing.T) {
			mv := newModelVehicle()
			mv.lists[mavitem.TypeMission] = testItems(old, mavitem.TypeMission)
			for i := range mv.lists[mavitem.TypeMission] {
				mv.lists[mavitem.TypeMission][i].Z += 100 // another mission
			}
			model := func(msg message.Message) []message.Message {
				if it, ok := msg.(*common.MessageMissionItemInt); ok && it.Seq == 9 {
					mv.mu.Lock()
					defer mv.mu.Unlock()
					if mv.receiving && mv.rxNext == 9 {
						mv.receiving = false // storing the list failed
						return []message.Message{ack(mavitem.TypeMission, common.MAV_MISSION_ERROR)}
					}
				}
				return mv.handle(msg)
			}
			l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
			err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(10, mavitem.TypeMission), nil)
			var me *MissionError
			if !errors.As(err, &me) || me.Name != "MAV_MISSION_ERROR" {
				t.Fatalf("err = %v, want MissionError MAV_MISSION_ERROR", err)
			}
		})
	}
}
