package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

func modelParams(n int) []Param {
	ps := make([]Param, n)
	for i := range ps {
		typ := uint8(common.MAV_PARAM_TYPE_REAL32)
		val := float64(float32(i) * 1.25)
		if i%3 == 0 {
			typ = uint8(common.MAV_PARAM_TYPE_INT16)
			val = float64(i)
		}
		ps[i] = Param{Name: fmt.Sprintf("P_%04d", i), Value: val, Type: typ, Index: i, Count: n}
	}
	return ps
}

func TestParamsAllUnderLossReRequestsMissing(t *testing.T) {
	for _, f := range []faults{{}, {LossPct: 30, DupPct: 20, ReorderPct: 20}} {
		t.Run(fmt.Sprintf("loss%d", f.LossPct), func(t *testing.T) {
			mv := newModelVehicle()
			mv.params = modelParams(400)
			l := newWorld(t, fastOpts(), f, 20*time.Millisecond, 7, mv.handle)
			var lastDone, lastTotal int
			got, err := l.v.ParamsAll(context.Background(), func(d, n int) { lastDone, lastTotal = d, n })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 400 || lastDone != 400 || lastTotal != 400 {
				t.Fatalf("got %d params, progress %d/%d", len(got), lastDone, lastTotal)
			}
			for i, p := range got {
				if p != mv.params[i] {
					t.Fatalf("param %d = %+v, want %+v", i, p, mv.params[i])
				}
			}
			if f.LossPct > 0 {
				reads := l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageParamRequestRead); return ok })
				if len(reads) == 0 {
					t.Fatal("no missing index was re-requested under 30% loss")
				}
			}
		})
	}
}

func TestParamsAllBusyAndTimeout(t *testing.T) {
	opts := fastOpts()
	opts.ParamRetries = 2
	var l *world
	var second error
	l = newWorld(t, opts, faults{}, 0, 1, func(m message.Message) []message.Message {
		if _, ok := m.(*common.MessageParamRequestList); ok && second == nil {
			// a second download while the first one is running
			_, second = l.v.ParamsAll(context.Background(), nil)
		}
		return nil
	})
	_, err := l.v.ParamsAll(context.Background(), nil)
	if !errors.Is(second, ErrBusy) {
		t.Fatalf("second download: %v", second)
	}
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("silent vehicle: %v", err)
	}
	lists := l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageParamRequestList); return ok })
	if len(lists) != 3 || l.elapsed() != 3*opts.ParamTimeout {
		t.Fatalf("%d PARAM_REQUEST_LISTs, gave up after %v of virtual time; want 1 + 2 retries, each waited ParamTimeout", len(lists), l.elapsed())
	}
}

func TestParamGetSetVerified(t *testing.T) {
	mv := newModelVehicle()
	mv.params = modelParams(10)
	mv.paramMax["P_0001"] = 100
	l := newWorld(t, fastOpts(), faults{LossPct: 20}, 20*time.Millisecond, 5, mv.handle)
	ctx := context.Background()

	p, err := l.v.ParamGet(ctx, "P_0003")
	if err != nil || p.Value != 3 || p.Type != uint8(common.MAV_PARAM_TYPE_INT16) || p.Index != -1 {
		t.Fatalf("get: %+v %v", p, err)
	}
	p, err = l.v.ParamSet(ctx, "P_0001", 42.5)
	if err != nil || p.Value != 42.5 {
		t.Fatalf("set: %+v %v", p, err)
	}
	if mv.params[1].Value != 42.5 {
		t.Fatal("vehicle did not store the value")
	}
	// out of the vehicle's range: it echoes the old value
	p, err = l.v.ParamSet(ctx, "P_0001", 1000)
	if !errors.Is(err, ErrParamRejected) || p.Value != 42.5 {
		t.Fatalf("out-of-range set: %+v %v", p, err)
	}
	// integer parameter: rounded before sending, and the range of the type enforced locally
	p, err = l.v.ParamSet(ctx, "P_0006", 7.4)
	if err != nil || p.Value != 7 {
		t.Fatalf("int set: %+v %v", p, err)
	}
	nSets := len(l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageParamSet); return ok }))
	if _, err := l.v.ParamSet(ctx, "P_0006", 40000); err == nil {
		t.Fatal("40000 accepted for an INT16")
	}
	if n := len(l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageParamSet); return ok })); n != nSets {
		t.Fatal("an out-of-type-range value was sent")
	}
}

func TestParamBadInput(t *testing.T) {
	mv := newModelVehicle()
	mv.params = modelParams(3)
	opts := fastOpts()
	opts.ParamRetries = 2
	l := newWorld(t, opts, faults{}, 0, 1, mv.handle)
	ctx := context.Background()
	for _, name := range []string{"", "THIS_NAME_IS_TOO_LONG"} {
		if _, err := l.v.ParamGet(ctx, name); err == nil {
			t.Fatalf("ParamGet(%q) succeeded", name)
		}
		if _, err := l.v.ParamSet(ctx, name, 1); err == nil {
			t.Fatalf("ParamSet(%q) succeeded", name)
		}
	}
	if len(l.sentOf(func(message.Message) bool { return true })) != 0 {
		t.Fatal("invalid names reached the link")
	}
	if _, err := l.v.ParamGet(ctx, "NO_SUCH"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := l.v.ParamSet(ctx, "P_0000", 0); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []float64{nan(), inf()} {
		if _, err := l.v.ParamSet(ctx, "P_0000", bad); err == nil {
			t.Fatalf("ParamSet(%v) succeeded", bad)
		}
	}
}

func nan() float64 { var z float64; return z / z }
func inf() float64 { var z float64; return 1 / z }

// A stale PARAM_VALUE (a late duplicate of an earlier read) arriving while
// the echo of PARAM_SET is lost is not a refusal: the set is sent again.
// A vehicle answering two attempts with its old value has refused.
func TestParamSetStaleValueIsNotARefusal(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			sets := 0
			l := newWorld(t, fastOpts(), faults{}, 0, 1, func(m message.Message) []message.Message {
				s, ok := m.(*common.MessageParamSet)
				if !ok {
					return nil
				}
				sets++
				old := &common.MessageParamValue{ParamId: s.ParamId, ParamValue: 1, ParamType: s.ParamType, ParamCount: 1, ParamIndex: 65535}
				if sets == 1 || refuse {
					return []message.Message{old} // first echo lost, a stale value arrives
				}
				echo := *old
				echo.ParamValue = s.ParamValue
				return []message.Message{&echo}
			})
			l.v.Handle(&common.MessageParamValue{ParamId: "P", ParamValue: 1, ParamType: common.MAV_PARAM_TYPE_REAL32, ParamCount: 1})
			p, err := l.v.ParamSet(context.Background(), "P", 2)
			if refuse {
				if !errors.Is(err, ErrParamRejected) || p.Value != 1 || sets != 2 {
					t.Fatalf("%+v %v after %d sets; want ErrParamRejected after 2", p, err, sets)
				}
				return
			}
			if err != nil || p.Value != 2 || sets != 2 {
				t.Fatalf("%+v %v after %d sets", p, err, sets)
			}
		})
	}
}

// A name the vehicle lacks fails fast: before its parameter table is known
// the read gives up after ParamNameTimeout (six requests, ArduPilot
// answers none), not ParamRetries × ParamTimeout (9 s by default); once
// the table is known in full the read and the set fail at once with
// ErrUnknownParam and send nothing. Default options, virtual clock.
func TestUnknownParamFailsFast(t *testing.T) {
	mv := newModelVehicle()
	mv.params = modelParams(10)
	l := newWorld(t, Options{}, faults{}, 50*time.Millisecond, 1, mv.handle)
	ctx := context.Background()
	isRead := func(m message.Message) bool { _, ok := m.(*common.MessageParamRequestRead); return ok }

	if _, err := l.v.ParamGet(ctx, "NO_SUCH"); !errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnknownParam) {
		t.Fatalf("unknown name, table not known: %v, want ErrTimeout", err)
	}
	if got, want := l.elapsed(), DefaultOptions().ParamNameTimeout; got != want {
		t.Errorf("gave up after %v of virtual time, want ParamNameTimeout %v", got, want)
	}
	if n := len(l.sentOf(isRead)); n != paramNameAttempts {
		t.Errorf("%d PARAM_REQUEST_READs sent, want %d", n, paramNameAttempts)
	}

	if _, err := l.v.ParamsAll(ctx, nil); err != nil {
		t.Fatal(err)
	}
	sent, at := len(l.sentOf(func(message.Message) bool { return true })), l.elapsed()
	_, err := l.v.ParamGet(ctx, "NO_SUCH")
	if !errors.Is(err, ErrUnknownParam) || !strings.Contains(err.Error(), `"NO_SUCH"`) {
		t.Fatalf("unknown name, table known: %v, want ErrUnknownParam naming it", err)
	}
	if _, err := l.v.ParamSet(ctx, "NO_SUCH", 1); !errors.Is(err, ErrUnknownParam) {
		t.Fatalf("set of an unknown name, table known: %v, want ErrUnknownParam", err)
	}
	if n := len(l.sentOf(func(message.Message) bool { return true })); n != sent || l.elapsed() != at {
		t.Errorf("%d frames sent and %v passed for names outside a known table, want none", n-sent, l.elapsed()-at)
	}
	// a known name is still read from the vehicle
	if p, err := l.v.ParamGet(ctx, "P_0004"); err != nil || p.Value != 5 {
		t.Fatalf("known name after the table: %+v %v", p, err)
	}
}
