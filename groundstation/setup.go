package groundstation

import (
	"context"
	"errors"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/groundstation/session"
)

// streamMessages are the telemetry messages requested from every vehicle
// with MAV_CMD_SET_MESSAGE_INTERVAL, with their rate relative to
// StreamRateHz (HOME_POSITION and FENCE_STATUS change rarely).
var streamMessages = []struct {
	id     uint32
	factor float64
}{
	{33, 1},    // GLOBAL_POSITION_INT
	{30, 1},    // ATTITUDE
	{1, 1},     // SYS_STATUS
	{74, 1},    // VFR_HUD
	{24, 1},    // GPS_RAW_INT
	{147, 1},   // BATTERY_STATUS
	{245, 1},   // EXTENDED_SYS_STATE
	{42, 1},    // MISSION_CURRENT
	{242, 0.1}, // HOME_POSITION
	{162, 0.5}, // FENCE_STATUS
}

const (
	msgAutopilotVersion  = 148
	msgHomePosition      = 242
	msgCameraInformation = 259
	msgVideoStreamInfo   = 269
)

// requestSetup asks for setup work on the vehicle: stream rates, the
// AUTOPILOT_VERSION (identity), and/or a camera's information and streams
// (camera != 0). Work requested while a setup runs is merged and done by
// the same goroutine afterwards, so a vehicle never has two setups racing
// (they would collide on the session's one-command-per-MAV_CMD rule).
// Safe to call from the dispatcher: it never blocks.
func (r *vehicleRec) requestSetup(reason string, rates, identity bool, camera uint8) {
	r.setupMu.Lock()
	defer r.setupMu.Unlock()
	r.wantRates = r.wantRates || rates
	r.wantIdentity = r.wantIdentity || identity
	if camera != 0 {
		if r.wantCams == nil {
			r.wantCams = make(map[uint8]bool)
		}
		r.wantCams[camera] = true
	}
	r.setupReason = reason
	if r.setupRunning {
		return
	}
	r.setupRunning = true
	r.st.spawn(r.runSetup)
}

func (r *vehicleRec) runSetup(ctx context.Context) {
	for {
		r.setupMu.Lock()
		rates, identity, cams, reason := r.wantRates, r.wantIdentity, r.wantCams, r.setupReason
		r.wantRates, r.wantIdentity, r.wantCams = false, false, nil
		if !rates && !identity && len(cams) == 0 {
			r.setupRunning = false
			r.setupMu.Unlock()
			return
		}
		r.setupMu.Unlock()

		select {
		case r.st.setupSem <- struct{}{}:
		case <-ctx.Done():
			r.setupMu.Lock()
			r.setupRunning = false
			r.setupMu.Unlock()
			return
		}
		r.setups.Add(1)
		err := r.setupOnce(ctx, reason, rates, identity, cams)
		<-r.st.setupSem
		if err != nil && ctx.Err() == nil {
			r.st.log.Warn("vehicle setup incomplete", "link", r.ln.l.name, "sysid", r.sys, "id", r.ID(), "reason", reason, "error", err)
		}
	}
}

func (r *vehicleRec) setupOnce(ctx context.Context, reason string, rates, identity bool, cams map[uint8]bool) error {
	log := r.st.log.With("link", r.ln.l.name, "sysid", r.sys, "reason", reason)
	if identity && r.uid.Load() == 0 {
		res, err := r.command(ctx, requestMessage(msgAutopilotVersion, 0, 0))
		if err != nil && ctx.Err() != nil {
			return err
		}
		// Without an answer the vehicle is published under its link-derived
		// ID once IdentityWait runs out; the streams are still requested.
		log.Debug("AUTOPILOT_VERSION requested", "result", res.ResultName, "error", err)
	}
	if rates {
		r.rateRequests.Add(1)
		interval := 1e6 / r.st.cfg.StreamRateHz
		allOK := true
		for _, sm := range streamMessages {
			us := interval / sm.factor
			res, err := r.command(ctx, session.CommandRequest{
				Command: uint16(common.MAV_CMD_SET_MESSAGE_INTERVAL),
				Params:  [7]float32{float32(sm.id), float32(us)},
			})
			if err != nil {
				return err
			}
			if !res.Accepted() {
				allOK = false
				log.Debug("SET_MESSAGE_INTERVAL refused", "msg_id", sm.id, "result", res.ResultName)
			}
		}
		r.streamsOK.Store(allOK)
		if !allOK && common.MAV_AUTOPILOT(r.autopilot.Load()) == common.MAV_AUTOPILOT_ARDUPILOTMEGA {
			// Older ArduPilot firmware: the classic stream groups.
			hz := uint16(r.st.cfg.StreamRateHz + 0.5)
			if hz == 0 {
				hz = 1
			}
			for _, stream := range []common.MAV_DATA_STREAM{common.MAV_DATA_STREAM_ALL} {
				if err := r.Send(&common.MessageRequestDataStream{TargetSystem: r.sys, TargetComponent: r.comp,
					ReqStreamId: stream, ReqMessageRate: hz, StartStop: 1}); err != nil {
					return err
				}
			}
		}
		if _, err := r.command(ctx, requestMessage(msgHomePosition, 0, 0)); err != nil {
			return err
		}
	}
	for comp := range cams {
		if _, err := r.command(ctx, requestMessage(msgCameraInformation, 0, comp)); err != nil {
			return err
		}
		if _, err := r.command(ctx, requestMessage(msgVideoStreamInfo, 0, comp)); err != nil {
			return err
		}
	}
	return nil
}

// command runs one setup command, waiting out ErrBusy (an operator's
// command of the same MAV_CMD in flight) a few times.
func (r *vehicleRec) command(ctx context.Context, req session.CommandRequest) (session.CommandResult, error) {
	for i := 0; ; i++ {
		res, err := r.sess.Command(ctx, req)
		if !errors.Is(err, session.ErrBusy) || i >= 10 {
			return res, err
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
}

// requestMessage builds MAV_CMD_REQUEST_MESSAGE for msgID (param2 is the
// message-specific index, e.g. the video stream; 0 = all).
func requestMessage(msgID uint32, param2 float32, comp uint8) session.CommandRequest {
	return session.CommandRequest{
		Command:         uint16(common.MAV_CMD_REQUEST_MESSAGE),
		Params:          [7]float32{float32(msgID), param2},
		TargetComponent: comp,
	}
}
