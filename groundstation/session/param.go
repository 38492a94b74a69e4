package session

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavftp"
)

// Param is one onboard parameter as the vehicle reported it. Values travel
// as float32 with ArduPilot's "C cast" encoding (an INT32 of 5 is 5.0), not
// PX4's bytewise encoding.
type Param struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Type  uint8   `json:"type"`  // MAV_PARAM_TYPE
	Index int     `json:"index"` // -1 when the vehicle answered a by-name read with index 65535
	Count int     `json:"count"`
}

const paramIndexNone = 65535

func paramFrom(m *common.MessageParamValue) Param {
	idx := int(m.ParamIndex)
	if m.ParamIndex == paramIndexNone {
		idx = -1
	}
	return Param{Name: m.ParamId, Value: float64(m.ParamValue), Type: uint8(m.ParamType), Index: idx, Count: int(m.ParamCount)}
}

// ParamsAll downloads every parameter, sorted by index: over MAVLink FTP
// (ParamsByFTP) when the vehicle's AUTOPILOT_VERSION advertises
// MAV_PROTOCOL_CAPABILITY_FTP, as ArduPilot's does, and with
// PARAM_REQUEST_LIST (ParamsByList) otherwise or when the FTP download
// fails (logged). Both give the same names, values, types, indices and
// count. One full download per vehicle at a time (ErrBusy otherwise).
func (v *Vehicle) ParamsAll(ctx context.Context, p Progress) ([]Param, error) {
	release, err := v.claimParamsAll()
	if err != nil {
		return nil, fmt.Errorf("download parameters from vehicle %d: %w", v.target.SystemID, err)
	}
	defer release()
	if caps, known := v.Capabilities(); known && caps&uint64(common.MAV_PROTOCOL_CAPABILITY_FTP) != 0 {
		ps, err := v.paramsByFTP(ctx, p)
		if err == nil {
			return ps, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return nil, err
		}
		v.log.Warn("parameter download over FTP failed, falling back to PARAM_REQUEST_LIST", "err", err)
	}
	return v.paramsByList(ctx, p)
}

// claimParamsAll marks a full parameter download as running.
func (v *Vehicle) claimParamsAll() (func(), error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.paramsAll {
		return nil, ErrBusy
	}
	v.paramsAll = true
	return func() {
		v.mu.Lock()
		v.paramsAll = false
		v.mu.Unlock()
	}, nil
}

// ParamsByFTP downloads every parameter as ArduPilot's packed parameter
// file @PARAM/param.pck over MAVLink FTP (a burst read: about 65 packets
// for ArduCopter's 1,350 parameters instead of 1,350 PARAM_VALUEs).
// INT32 values are exact, where PARAM_VALUE rounds them through a
// float32. p gets (n, n) once the file is decoded. One full download per
// vehicle at a time (ErrBusy otherwise).
func (v *Vehicle) ParamsByFTP(ctx context.Context, p Progress) ([]Param, error) {
	release, err := v.claimParamsAll()
	if err != nil {
		return nil, fmt.Errorf("download parameters from vehicle %d over FTP: %w", v.target.SystemID, err)
	}
	defer release()
	return v.paramsByFTP(ctx, p)
}

func (v *Vehicle) paramsByFTP(ctx context.Context, p Progress) ([]Param, error) {
	wrap := func(err error) error {
		return fmt.Errorf("download parameters from vehicle %d over FTP: %w", v.target.SystemID, err)
	}
	b, err := v.ftpRead(ctx, ParamFile, nil)
	if err != nil {
		return nil, wrap(err)
	}
	f, err := mavftp.DecodeParams(b)
	if err != nil {
		return nil, wrap(err)
	}
	if len(f.Params) != f.Total {
		return nil, wrap(fmt.Errorf("%w: %s holds %d of the vehicle's %d parameters", ErrFTP, ParamFile, len(f.Params), f.Total))
	}
	out := make([]Param, len(f.Params))
	v.mu.Lock()
	for i, fp := range f.Params {
		out[i] = Param{Name: fp.Name, Value: fp.Value, Type: uint8(fp.Type), Index: i, Count: len(f.Params)}
		v.paramType[fp.Name] = uint8(fp.Type)
	}
	v.paramCount = len(f.Params)
	v.mu.Unlock()
	if p != nil {
		p(len(out), len(out))
	}
	return out, nil
}

// ParamsByList downloads every parameter with PARAM_REQUEST_LIST
// (resent while nothing arrives), collecting the stream by index; once the
// stream pauses for ParamTimeout the missing indices are re-requested with
// PARAM_REQUEST_READ, ParamWindow at a time, until all are there.
// ParamRetries pauses in a row without progress end with ErrTimeout. One
// full download per vehicle at a time (ErrBusy otherwise).
func (v *Vehicle) ParamsByList(ctx context.Context, p Progress) ([]Param, error) {
	release, err := v.claimParamsAll()
	if err != nil {
		return nil, fmt.Errorf("download parameters from vehicle %d: %w", v.target.SystemID, err)
	}
	defer release()
	return v.paramsByList(ctx, p)
}

func (v *Vehicle) paramsByList(ctx context.Context, p Progress) ([]Param, error) {
	wrap := func(err error) error {
		return fmt.Errorf("download parameters from vehicle %d: %w", v.target.SystemID, err)
	}
	w, unsubscribe, err := v.subscribe(func(msg message.Message) bool {
		_, ok := msg.(*common.MessageParamValue)
		return ok
	})
	if err != nil {
		return nil, wrap(err)
	}
	defer unsubscribe()

	listMsg := &common.MessageParamRequestList{TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID}
	if err := v.sendMsg(listMsg); err != nil {
		return nil, wrap(err)
	}
	timer := v.stoppedTimer()
	defer timer.Stop()
	due := v.clock.Now().Add(v.opts.ParamTimeout)

	count := -1
	var params []Param
	var have []bool
	received, silent, cursor, inflight := 0, 0, 0, 0
	rerequest := false // set once the vehicle's own stream has paused
	fill := func() error {
		for inflight < v.opts.ParamWindow && cursor < count {
			if !have[cursor] {
				if err := v.sendMsg(&common.MessageParamRequestRead{
					TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
					ParamIndex: int16(cursor),
				}); err != nil {
					return err
				}
				inflight++
			}
			cursor++
		}
		return nil
	}
	grow := func(n int) {
		for len(params) < n {
			params = append(params, Param{})
			have = append(have, false)
		}
		count = n
	}
	for {
		msg, err := v.next(ctx, w, timer, due)
		if err != nil {
			return nil, wrap(err)
		}
		switch {
		case msg == nil: // a pause of ParamTimeout
			silent++
			if silent > v.opts.ParamRetries {
				if count < 0 {
					return nil, wrap(fmt.Errorf("no PARAM_VALUE after %d PARAM_REQUEST_LISTs: %w", silent, ErrTimeout))
				}
				return nil, wrap(fmt.Errorf("stalled with %d of %d parameters: %w", received, count, ErrTimeout))
			}
			if count < 0 {
				if err := v.sendMsg(listMsg); err != nil {
					return nil, wrap(err)
				}
			} else {
				rerequest = true
				cursor, inflight = 0, 0
				if err := fill(); err != nil {
					return nil, wrap(err)
				}
			}
			due = v.clock.Now().Add(v.opts.ParamTimeout)
		default:
			m := msg.(*common.MessageParamValue)
			if m.ParamIndex == paramIndexNone || m.ParamCount == 0 || m.ParamCount == paramIndexNone {
				continue // answer to a by-name read: carries no index
			}
			if count < 0 || int(m.ParamCount) > count {
				if count < 0 && p != nil {
					p(0, int(m.ParamCount))
				}
				grow(int(m.ParamCount))
			}
			idx := int(m.ParamIndex)
			if idx >= count || have[idx] {
				continue
			}
			have[idx] = true
			params[idx] = paramFrom(m)
			params[idx].Count = count
			received++
			silent = 0
			if p != nil {
				p(received, count)
			}
			if received == count {
				sort.SliceStable(params, func(i, j int) bool { return params[i].Index < params[j].Index })
				return params, nil
			}
			if rerequest {
				if inflight > 0 {
					inflight--
				}
				if err := fill(); err != nil {
					return nil, wrap(err)
				}
			}
			due = v.clock.Now().Add(v.opts.ParamTimeout)
		}
	}
}

// checkParamName rejects names MAVLink cannot carry, before anything is sent.
func checkParamName(name string) error {
	if name == "" {
		return &ArgumentError{Arg: "name", Reason: "parameter name is empty"}
	}
	if len(name) > 16 {
		return &ArgumentError{Arg: "name", Reason: fmt.Sprintf("parameter name %q is longer than MAVLink's 16 characters", name)}
	}
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return &ArgumentError{Arg: "name", Reason: fmt.Sprintf("parameter name %q has %q: names are letters, digits and _", name, c)}
		}
	}
	return nil
}

// paramNameAttempts is the fewest requests a read by name sends: at 20 %
// loss each way one request and its answer both arrive with chance 0.64,
// so six attempts fail for a name the vehicle has 0.2 % of the time.
const paramNameAttempts = 6

// ParamGet reads one parameter by name (PARAM_REQUEST_READ with index -1).
// A name outside a parameter table known in full fails at once with
// ErrUnknownParam; otherwise the request is resent every sixth of
// ParamNameTimeout (or ParamTimeout, if shorter) until that has passed
// without an answer (ErrTimeout: ArduPilot does not answer for a name it
// lacks).
func (v *Vehicle) ParamGet(ctx context.Context, name string) (Param, error) {
	wrap := func(err error) error {
		return fmt.Errorf("read parameter %q from vehicle %d: %w", name, v.target.SystemID, err)
	}
	if err := checkParamName(name); err != nil {
		return Param{}, wrap(err)
	}
	if count, absent := v.paramAbsent(name); absent {
		return Param{}, wrap(fmt.Errorf("%w: not among its %d parameters", ErrUnknownParam, count))
	}
	w, unsubscribe, err := v.subscribeParam(name)
	if err != nil {
		return Param{}, wrap(err)
	}
	defer unsubscribe()
	req := &common.MessageParamRequestRead{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		ParamId: name, ParamIndex: -1,
	}
	timer := v.stoppedTimer()
	defer timer.Stop()
	// An answer to any attempt is taken (the subscription stays), so
	// resending often costs a few frames and saves a loss round.
	interval := min(v.opts.ParamTimeout, v.opts.ParamNameTimeout/paramNameAttempts)
	attempts := max(int(v.opts.ParamNameTimeout/interval), 1)
	for range attempts {
		if err := v.sendMsg(req); err != nil {
			return Param{}, wrap(err)
		}
		msg, err := v.next(ctx, w, timer, v.clock.Now().Add(interval))
		if err != nil {
			return Param{}, wrap(err)
		}
		if msg != nil {
			return paramFrom(msg.(*common.MessageParamValue)), nil
		}
	}
	return Param{}, wrap(fmt.Errorf("no PARAM_VALUE in %v, %d requests (unknown name?): %w", v.opts.ParamNameTimeout, attempts, ErrTimeout))
}

// paramAbsent reports whether the vehicle's parameter table is known in
// full (as many names seen as its parameter count) and lacks name.
func (v *Vehicle) paramAbsent(name string) (count int, absent bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.paramCount == 0 || len(v.paramType) < v.paramCount {
		return v.paramCount, false
	}
	_, known := v.paramType[name]
	return v.paramCount, !known
}

func (v *Vehicle) subscribeParam(name string) (*waiter, func(), error) {
	return v.subscribe(func(msg message.Message) bool {
		m, ok := msg.(*common.MessageParamValue)
		return ok && m.ParamId == name
	})
}

// paramTypeRange gives the integer range of a MAV_PARAM_TYPE; ok is false
// for the float types.
func paramTypeRange(t uint8) (lo, hi float64, ok bool) {
	switch common.MAV_PARAM_TYPE(t) {
	case common.MAV_PARAM_TYPE_UINT8:
		return 0, math.MaxUint8, true
	case common.MAV_PARAM_TYPE_INT8:
		return math.MinInt8, math.MaxInt8, true
	case common.MAV_PARAM_TYPE_UINT16:
		return 0, math.MaxUint16, true
	case common.MAV_PARAM_TYPE_INT16:
		return math.MinInt16, math.MaxInt16, true
	case common.MAV_PARAM_TYPE_UINT32:
		return 0, math.MaxUint32, true
	case common.MAV_PARAM_TYPE_INT32:
		return math.MinInt32, math.MaxInt32, true
	}
	return 0, 0, false
}

// ParamSet sets one parameter and verifies the value the vehicle echoes.
// The parameter's type is the last one the vehicle reported (read first
// when unknown); integer types are rounded and range-checked before
// sending. An echo with a different value is not final at once — a stale
// PARAM_VALUE may still be in flight, or be a duplicate of an earlier
// answer — but when two attempts in a row see only other values within
// ParamTimeout, the result is ErrParamRejected (wrapped) with the
// vehicle's value in the returned Param. Without any echo PARAM_SET is
// resent (setting a value twice is harmless) up to ParamRetries times.
func (v *Vehicle) ParamSet(ctx context.Context, name string, value float64) (Param, error) {
	wrap := func(err error) error {
		return fmt.Errorf("set parameter %q to %v on vehicle %d: %w", name, value, v.target.SystemID, err)
	}
	if err := checkParamName(name); err != nil {
		return Param{}, wrap(err)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return Param{}, wrap(&ArgumentError{Arg: "value", Reason: "value is not a finite number"})
	}
	v.mu.Lock()
	typ, known := v.paramType[name]
	v.mu.Unlock()
	if !known {
		cur, err := v.ParamGet(ctx, name)
		if err != nil {
			return Param{}, wrap(err)
		}
		typ = cur.Type
	}
	wire := float32(value)
	if lo, hi, isInt := paramTypeRange(typ); isInt {
		r := math.Round(value)
		if r < lo || r > hi {
			return Param{}, wrap(&ArgumentError{Arg: "value", Reason: fmt.Sprintf("value out of range for %s [%v, %v]", common.MAV_PARAM_TYPE(typ), lo, hi)})
		}
		wire = float32(r)
	}
	w, unsubscribe, err := v.subscribeParam(name)
	if err != nil {
		return Param{}, wrap(err)
	}
	defer unsubscribe()
	set := &common.MessageParamSet{
		TargetSystem: v.target.SystemID, TargetComponent: v.target.ComponentID,
		ParamId: name, ParamValue: wire, ParamType: common.MAV_PARAM_TYPE(typ),
	}
	timer := v.stoppedTimer()
	defer timer.Stop()
	var mismatch *Param
	refusals := 0 // attempts answered only with another value
	for attempt := 0; attempt <= v.opts.ParamRetries; attempt++ {
		if err := v.sendMsg(set); err != nil {
			return Param{}, wrap(err)
		}
		due := v.clock.Now().Add(v.opts.ParamTimeout)
		mismatch = nil
	wait:
		for {
			msg, err := v.next(ctx, w, timer, due)
			if err != nil {
				return Param{}, wrap(err)
			}
			switch {
			case msg == nil:
				if mismatch != nil {
					refusals++
					// one other value may be a stale PARAM_VALUE (a late or
					// duplicated answer to an earlier read) while the echo
					// was lost: only a second attempt answered the same way
					// is a refusal
					if refusals >= 2 || attempt == v.opts.ParamRetries {
						return *mismatch, wrap(fmt.Errorf("vehicle kept %v: %w", mismatch.Value, ErrParamRejected))
					}
				}
				break wait
			default:
				m := msg.(*common.MessageParamValue)
				got := paramFrom(m)
				if m.ParamValue == wire {
					return got, nil
				}
				mismatch = &got
			}
		}
	}
	return Param{}, wrap(fmt.Errorf("no PARAM_VALUE echo after %d PARAM_SETs: %w", v.opts.ParamRetries+1, ErrTimeout))
}
