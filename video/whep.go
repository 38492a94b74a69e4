package video

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/burgut-uav/burgut/httpapi"
)

// maxOfferBytes bounds a WHEP offer; browsers send 3-8 KB.
const maxOfferBytes = 64 << 10

// Register declares the WHEP routes (Observer: watching is reading).
func (h *Hub) Register(mux *httpapi.Mux) {
	mux.HandleFunc(http.MethodPost, "/api/v1/vehicles/{id}/video/{stream_id}/whep", httpapi.Observer, h.handleOffer)
	mux.HandleFunc(http.MethodDelete, "/api/v1/vehicles/{id}/video/{stream_id}/whep/{session}", httpapi.Observer, h.handleDelete)
}

func parseKey(r *http.Request) (Key, error) {
	id := r.PathValue("id")
	n, err := strconv.ParseUint(r.PathValue("stream_id"), 10, 8)
	if err != nil {
		return Key{}, httpapi.Invalid("stream_id", "stream_id %q: want a number 0-255 from the vehicle's video list", r.PathValue("stream_id"))
	}
	return Key{Vehicle: id, StreamID: uint8(n)}, nil
}

func (h *Hub) handleOffer(w http.ResponseWriter, r *http.Request) {
	if err := h.offer(w, r); err != nil {
		httpapi.WriteError(w, r, h.log, err)
	}
}

func (h *Hub) offer(w http.ResponseWriter, r *http.Request) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/sdp" {
		return httpapi.New(httpapi.CodeUnsupported, "content type %q: a WHEP offer is application/sdp", r.Header.Get("Content-Type"))
	}
	k, err := parseKey(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferBytes))
	if err != nil {
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			return httpapi.New(httpapi.CodeTooLarge, "SDP offer larger than %d bytes", maxOfferBytes)
		}
		return httpapi.Invalid("", "read SDP offer: %v", err)
	}
	if len(body) == 0 {
		return httpapi.Invalid("", "empty body: want an SDP offer")
	}
	s, err := h.stream(k)
	switch {
	case errors.Is(err, errNoVehicle):
		return httpapi.NotFound("vehicle %q not found", k.Vehicle)
	case errors.Is(err, errNoStream):
		return httpapi.NotFound("vehicle %q has no video stream %d (see its video list)", k.Vehicle, k.StreamID)
	case err != nil:
		return err
	}
	s.mu.Lock()
	full := s.browsers() >= h.cfg.MaxViewers
	s.mu.Unlock()
	if full {
		return httpapi.New(httpapi.CodeUnavailable, "stream %d of %s has its %d viewers already", k.StreamID, k.Vehicle, h.cfg.MaxViewers)
	}

	pc, err := h.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = pc.Close() // the answer failed; the error already says why
		}
	}()
	track, err := webrtc.NewTrackLocalStaticRTP(h264Cap, "video", fmt.Sprintf("%s-%d", k.Vehicle, k.StreamID))
	if err != nil {
		return fmt.Errorf("new track: %w", err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return fmt.Errorf("add track: %w", err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(body)}); err != nil {
		return httpapi.Invalid("", "SDP offer: %v", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return httpapi.Invalid("", "cannot answer the offer (it must receive H.264 video): %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
		return httpapi.New(httpapi.CodeTimeout, "gathering ICE candidates took too long")
	}

	v := &viewer{id: newSessionID(), pc: pc, track: track}
	if err := h.addViewer(s, v, false); err != nil {
		if errors.Is(err, errFull) || errors.Is(err, ErrNotRunning) {
			return httpapi.New(httpapi.CodeUnavailable, "stream %d of %s: %v", k.StreamID, k.Vehicle, err)
		}
		return err
	}
	ok = true
	log := h.log.With("vehicle", k.Vehicle, "stream", k.StreamID, "session", v.id)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			v.ready.Store(true)
			s.requestKeyframe()
			log.Info("video viewer connected")
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			if h.removeViewer(s, v.id) {
				log.Info("video viewer gone", "state", st.String())
			}
		}
	})
	go readRTCP(sender, s, log) // ends when the PeerConnection closes
	loc := fmt.Sprintf("/api/v1/vehicles/%s/video/%d/whep/%s", k.Vehicle, k.StreamID, v.id)
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, pc.LocalDescription().SDP) // the client went away: ICE will fail and remove the viewer
	return nil
}

// readRTCP passes the browser's keyframe requests upstream; reading also
// lets the interceptors (NACK, reports) see the RTCP.
func readRTCP(sender *webrtc.RTPSender, s *Stream, log *slog.Logger) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.requestKeyframe()
			}
		}
	}
}

func (h *Hub) handleDelete(w http.ResponseWriter, r *http.Request) {
	k, err := parseKey(r)
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	h.mu.Lock()
	s := h.streams[k]
	h.mu.Unlock()
	if s == nil || !h.removeViewer(s, r.PathValue("session")) {
		httpapi.WriteError(w, r, h.log, httpapi.NotFound("no WHEP session %q on stream %d of %s", r.PathValue("session"), k.StreamID, k.Vehicle))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
