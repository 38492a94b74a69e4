package session

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// Malformed or nonsensical replies from a vehicle: each kind is ignored or
// reported by name, never a crash and never a corrupted result.

func TestBadInputUnknownCommandResult(t *testing.T) {
	model := func(msg message.Message) []message.Message {
		if m, ok := msg.(*common.MessageCommandLong); ok {
			return []message.Message{&common.MessageCommandAck{Command: m.Command, Result: 200}}
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	res, err := l.v.Command(context.Background(), CommandRequest{Command: 400})
	if err != nil || res.Result != 200 || res.ResultName != "MAV_RESULT_200" || res.Accepted() {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestBadInputUnknownMissionResult(t *testing.T) {
	model := func(msg message.Message) []message.Message {
		if m, ok := msg.(*common.MessageMissionCount); ok {
			return []message.Message{&common.MessageMissionAck{Type: 99, MissionType: m.MissionType}}
		}
		return nil
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	err := l.v.Upload(context.Background(), mavitem.TypeMission, testItems(2, 0), nil)
	var me *MissionError
	if !errors.As(err, &me) || me.Name != "MAV_MISSION_RESULT_99" || !strings.Contains(err.Error(), "unknown result code") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadInputUploadRequestBeyondCount(t *testing.T) {
	mv := newModelVehicle()
	model := func(msg message.Message) []message.Message {
		out := mv.handle(msg)
		if m, ok := msg.(*common.MessageMissionCount); ok {
			// a request for a seq that does not exist comes first
			out = append([]message.Message{&common.MessageMissionRequestInt{Seq: 500, MissionType: m.MissionType}}, out...)
		}
		return out
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	items := testItems(4, mavitem.TypeMission)
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mv.list(mavitem.TypeMission), items) {
		t.Fatal("mission differs")
	}
}

func TestBadInputDownloadItemsOutOfRange(t *testing.T) {
	mv := newModelVehicle()
	mv.lists[mavitem.TypeMission] = testItems(3, mavitem.TypeMission)
	model := func(msg message.Message) []message.Message {
		out := mv.handle(msg)
		if _, ok := msg.(*common.MessageMissionRequestInt); ok {
			out = append(out, &common.MessageMissionItemInt{Seq: 3, X: 9}, &common.MessageMissionItemInt{Seq: 65535, X: 9})
		}
		return out
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	got, err := l.v.Download(context.Background(), mavitem.TypeMission, nil)
	if err != nil || !reflect.DeepEqual(got, mv.list(mavitem.TypeMission)) {
		t.Fatalf("%v %v", got, err)
	}
}

func TestBadInputParamValuesGarbage(t *testing.T) {
	mv := newModelVehicle()
	mv.params = modelParams(20)
	model := func(msg message.Message) []message.Message {
		out := mv.handle(msg)
		if _, ok := msg.(*common.MessageParamRequestList); ok {
			out = append([]message.Message{
				&common.MessageParamValue{ParamId: "JUNK", ParamCount: 0, ParamIndex: 3},      // no count
				&common.MessageParamValue{ParamId: "JUNK", ParamCount: 20, ParamIndex: 65535}, // by-name reply
				&common.MessageParamValue{ParamId: "JUNK", ParamCount: 20, ParamIndex: 20},    // beyond count
			}, out...)
		}
		return out
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	got, err := l.v.ParamsAll(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		if p != mv.params[i] {
			t.Fatalf("param %d = %+v", i, p)
		}
	}
}
