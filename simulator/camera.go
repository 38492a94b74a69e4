package simulator

import (
	"fmt"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// The camera component (MAV_COMP_ID_CAMERA = 100) of every vehicle: its own
// HEARTBEAT, CAMERA_INFORMATION and one video stream, so a ground station
// can discover each vehicle's stream URI the way QGroundControl does.

func (sv *SimVehicle) cameraHeartbeat() *common.MessageHeartbeat {
	return &common.MessageHeartbeat{
		Type:           common.MAV_TYPE_CAMERA,
		Autopilot:      common.MAV_AUTOPILOT_INVALID,
		SystemStatus:   common.MAV_STATE_ACTIVE,
		MavlinkVersion: 3,
	}
}

func fixed32(s string) [32]uint8 {
	var b [32]uint8
	copy(b[:], s)
	return b
}

func (sv *SimVehicle) cameraInformation() *common.MessageCameraInformation {
	return &common.MessageCameraInformation{
		TimeBootMs:      uint32(sv.model.Now().Milliseconds()),
		VendorName:      fixed32("Burgut"),
		ModelName:       fixed32("SITL camera"),
		FirmwareVersion: 1,
		FocalLength:     4.4,
		SensorSizeH:     6.17,
		SensorSizeV:     4.55,
		ResolutionH:     1920,
		ResolutionV:     1080,
		Flags:           common.CAMERA_CAP_FLAGS_HAS_VIDEO_STREAM | common.CAMERA_CAP_FLAGS_CAPTURE_VIDEO,
	}
}

func (sv *SimVehicle) videoStreamInformation() *common.MessageVideoStreamInformation {
	if sv.videoPort > 0 { // a real stream (video.go): RTP H.264 to the GCS
		return &common.MessageVideoStreamInformation{
			StreamId: 1, Count: 1,
			Type:        common.VIDEO_STREAM_TYPE_RTPUDP,
			Flags:       common.VIDEO_STREAM_STATUS_FLAGS_RUNNING,
			Framerate:   videoFPS,
			ResolutionH: videoWidth,
			ResolutionV: videoHeight,
			Bitrate:     videoBitrate,
			Hfov:        90,
			Name:        fmt.Sprintf("uav-%d", sv.sysid),
			Uri:         sv.videoURI,
			Encoding:    common.VIDEO_STREAM_ENCODING_H264,
		}
	}
	return &common.MessageVideoStreamInformation{
		StreamId:    1,
		Count:       1,
		Type:        common.VIDEO_STREAM_TYPE_RTSP,
		Flags:       common.VIDEO_STREAM_STATUS_FLAGS_RUNNING,
		Framerate:   30,
		ResolutionH: 1920,
		ResolutionV: 1080,
		Bitrate:     4_000_000,
		Hfov:        90,
		Name:        fmt.Sprintf("uav-%d", sv.sysid),
		Uri:         sv.videoURI,
		Encoding:    common.VIDEO_STREAM_ENCODING_H264,
	}
}

// cameraCommand answers the commands addressed to the camera component and
// sends the requested information after the ACK.
func (sv *SimVehicle) cameraCommand(c command) uint8 {
	switch c.id {
	case cmdRequestCameraInfo:
		sv.sendCamAfterAck(sv.cameraInformation())
		return vehicle.ResultAccepted
	case cmdRequestVideoInfo:
		sv.sendCamAfterAck(sv.videoStreamInformation())
		return vehicle.ResultAccepted
	case cmdRequestMessage:
		switch uint32(c.p[0]) {
		case msgCameraInformation:
			sv.sendCamAfterAck(sv.cameraInformation())
			return vehicle.ResultAccepted
		case msgVideoStreamInfo:
			sv.sendCamAfterAck(sv.videoStreamInformation())
			return vehicle.ResultAccepted
		case msgHeartbeat:
			sv.sendCamAfterAck(sv.cameraHeartbeat())
			return vehicle.ResultAccepted
		}
		return vehicle.ResultFailed
	}
	return vehicle.ResultUnsupported
}

// sendCamAfterAck queues a camera message to follow the COMMAND_ACK that
// handleCommand sends next.
func (sv *SimVehicle) sendCamAfterAck(m message.Message) {
	sv.camPending = append(sv.camPending, m)
}

func (sv *SimVehicle) flushCamPending() {
	for _, m := range sv.camPending {
		sv.sendCam(m)
	}
	sv.camPending = sv.camPending[:0]
}
