// Package video relays each drone's camera stream to the monitoring
// center's browsers: drone → station → browser.
//
// A drone's radio network is usually unreachable from the center and its
// stream (RTP H.264 on UDP 5600, RTSP from a gimbal) is not something a
// browser can play, so the station pulls one upstream per stream (Hub,
// Stream) and fans its RTP packets out, without re-encoding, to every
// browser over WebRTC negotiated with WHEP (whep.go). Sources: RTP H.264
// over UDP, RTSP (gortsplib), MPEG-TS over UDP (remuxed to RTP by ffmpeg,
// no re-encoding).
//
//	POST   /api/v1/vehicles/{id}/video/{stream_id}/whep            SDP offer → 201 + answer, Location
//	DELETE /api/v1/vehicles/{id}/video/{stream_id}/whep/{session}  ends that viewer
//
// Sources are opened when the first viewer arrives and closed a little
// after the last one leaves, so an idle radio link carries no video. A
// source that dies is restarted with backoff; each stream's state (idle,
// connecting, live, stalled, failed) is written into the vehicle's video
// list in the fleet, where the API, the WebSocket stream and the map see
// it.
//
// A viewer joining mid-stream must see a picture at once, not after the
// next periodic keyframe: the stream keeps the last keyframe's packets
// (SPS, PPS, IDR) and sends them first, then live packets from the next
// keyframe on; where the source can be asked (RTSP), a PLI is sent
// upstream too.
package video
