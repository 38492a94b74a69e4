package groundstation

import (
	"fmt"
	"sort"
	"time"

	"github.com/burgut-uav/burgut/internal/latency"
	"github.com/burgut-uav/burgut/internal/mavsign"
)

// LinkInfo describes one configured link for status pages and tests.
type LinkInfo struct {
	Name     string `json:"name"`
	Spec     string `json:"spec"`
	Channels int    `json:"channels"`
	Vehicles int    `json:"vehicles"`
	Frames   uint64 `json:"frames"`
	// ParseErrors counts malformed input (bad CRC, truncated, garbage).
	ParseErrors uint64 `json:"parse_errors"`
	// Unattached counts frames from systems that are not (yet) vehicles.
	Unattached uint64 `json:"unattached"`
	// BehindS is how long the link's dispatcher has had frames waiting
	// without catching up (0 when it keeps up): the station is late.
	BehindS float64 `json:"behind_s"`
	// LateTicks counts heartbeat checks made while the dispatcher was
	// behind; LinkLostDeferred counts link-lost decisions put off because
	// a vehicle's HEARTBEAT may be waiting in the queue, or may have been
	// in a datagram the station dropped (its socket or staging full): a
	// late station does not declare a vehicle silent.
	LateTicks        uint64 `json:"late_ticks"`
	LinkLostDeferred uint64 `json:"link_lost_deferred"`
	// LinkLostUnverified counts vehicles declared lost although the link
	// was still behind, because it had not caught up for
	// Config.LinkLostMaxDefer past the heartbeat timeout (0 unless the
	// station was starved that long).
	LinkLostUnverified uint64 `json:"link_lost_unverified"`
	// TapPendingDropped counts frames of vehicles waiting for their ID that
	// did not fit the bounded buffer kept for the frame taps (tlogs).
	TapPendingDropped uint64 `json:"tap_pending_dropped"`
	// SigningRejected counts frames dropped because they claimed a keyed
	// vehicle's system ID without its valid signature, by reason
	// (unsigned, bad_signature, replayed, too_old, undecodable).
	SigningRejected map[string]uint64 `json:"signing_rejected"`
	// Datagrams counts what the socket delivered (UDP server links).
	// Backlog is the datagrams read and not yet dispatched: staged for
	// the dispatcher (at most 32,768), or held for a remote heard for the
	// first time until gomavlib has opened its channel (milliseconds);
	// what has not been read waits in the socket (Socket.RxQueueBytes).
	// BacklogDropped counts the datagrams read and dropped because one of
	// those queues was full, BacklogDroppedBy the same by queue
	// ("staging", "hold", "accept": the 4,096 remotes not yet accepted).
	// Every datagram read is dispatched, in the backlog, or dropped here.
	Datagrams        uint64            `json:"datagrams"`
	Backlog          int64             `json:"backlog"`
	BacklogDropped   uint64            `json:"backlog_dropped"`
	BacklogDroppedBy map[string]uint64 `json:"backlog_dropped_by"`
	// Socket is the kernel's view of a UDP link's socket, read from the
	// socket itself (socketStats: a UDP client link's current socket, with
	// the drops of the sockets it closed before; nil for other links, or
	// when the kernel cannot say).
	Socket *SocketStats `json:"socket,omitempty"`
	// SendFrames counts frames the station sent to vehicles on the link.
	// On every link kind (UDP, TCP, serial) each passes a send gate that
	// keeps gomavlib's 64-frame write queue per connection from
	// overflowing (gomavlib drops silently there): SendWaited counts
	// frames that waited for the queue to drain, SendShed those shed after
	// waiting 250 ms — a writer that far behind, e.g. a TCP peer or a
	// serial radio that stopped taking data — which the vehicle never got
	// (the protocols retry them).
	SendFrames uint64 `json:"send_frames"`
	SendWaited uint64 `json:"send_waited"`
	SendShed   uint64 `json:"send_shed"`
	// ListDownloads counts mission, fence and rally lists read from the
	// link's vehicles for Download's callers (consoles), ListCacheHits
	// the reads the station's copy or a download already under way
	// answered instead (listcache.go).
	ListDownloads uint64 `json:"list_downloads"`
	ListCacheHits uint64 `json:"list_cache_hits"`
}

// SocketStats are a UDP server link's socket counters as the kernel keeps
// them.
type SocketStats struct {
	// Local is the socket's address (e.g. 127.0.0.1:14550).
	Local string `json:"local"`
	// Drops counts datagrams the kernel dropped because the socket's
	// receive buffer was full: the loss no userspace counter sees.
	Drops uint64 `json:"drops"`
	// RxQueueBytes is what waits in the receive buffer now.
	RxQueueBytes uint64 `json:"rx_queue_bytes"`
}

// Behind is how long the most lagging link's dispatcher has had frames
// waiting without catching up (LinkInfo.BehindS; 0 when every link keeps
// up): cheap enough to poll often, unlike Links.
func (s *Station) Behind() time.Duration {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	var b time.Duration
	for _, ln := range running {
		b = max(b, ln.behind())
	}
	return b
}

// Links lists the configured links with their counters (zero before Run).
func (s *Station) Links() []LinkInfo {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	out := make([]LinkInfo, len(s.links))
	for i, l := range s.links {
		out[i] = LinkInfo{Name: l.name, Spec: l.spec, SigningRejected: make(map[string]uint64, len(mavsign.Reasons)), BacklogDroppedBy: map[string]uint64{}}
	}
	for i, ln := range running {
		out[i].Channels = int(ln.nChannels.Load())
		out[i].Vehicles = int(ln.nVehicles.Load())
		out[i].Frames = ln.frames.Load()
		out[i].ParseErrors = ln.parseErrors.Load()
		out[i].Unattached = ln.unattached.Load()
		out[i].BehindS = ln.behind().Seconds()
		out[i].LateTicks = ln.lateTicks.Load()
		out[i].LinkLostDeferred = ln.lostDeferred.Load()
		out[i].LinkLostUnverified = ln.lostUnverified.Load()
		out[i].TapPendingDropped = ln.tapDropped.Load()
		out[i].SendFrames = ln.send.frames.Load()
		out[i].SendWaited = ln.send.waited.Load()
		out[i].SendShed = ln.send.shed.Load()
		for _, r := range mavsign.Reasons {
			out[i].SigningRejected[r.String()] = ln.signRejected[r].Load()
		}
		for _, rec := range s.reg.all() {
			if rec.ln == ln {
				out[i].ListDownloads += rec.lists.downloads.Load()
				out[i].ListCacheHits += rec.lists.hits.Load()
			}
		}
		if sock, ok := ln.socketStats(); ok {
			out[i].Socket = &sock
		}
		if l := ln.udp.Load(); l != nil {
			out[i].Datagrams = l.datagrams.Load()
			out[i].Backlog = l.queued.Load()
			out[i].BacklogDropped = l.dropped()
			for d := range nUDPDrops {
				out[i].BacklogDroppedBy[d.String()] = l.drops[d].Load()
			}
		}
	}
	return out
}

// SocketBuffer reports the UDP receive buffer asked for and what the
// kernel granted (zero before Run).
func (s *Station) SocketBuffer() SocketBuffer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sockBuf
}

// VehicleInfo is the station's side of a vehicle (the fleet holds its
// flight state): where it is reached and what the station did to set it up.
type VehicleInfo struct {
	ID          string `json:"id"`
	Link        string `json:"link"`
	Channel     string `json:"channel"` // remote address it was last heard from
	SystemID    uint8  `json:"system_id"`
	ComponentID uint8  `json:"component_id"`
	UID         uint64 `json:"uid,omitempty"`
	// RateRequests counts stream-rate request rounds: on discovery, after
	// every link_regained and after a detected reboot.
	RateRequests int64 `json:"rate_requests"`
	// StreamsAccepted reports whether the last round's
	// SET_MESSAGE_INTERVALs were all accepted.
	StreamsAccepted bool   `json:"streams_accepted"`
	Setups          int64  `json:"setups"`
	Reboots         int64  `json:"reboots"`
	Duplicates      uint64 `json:"duplicates"`
	// ListDownloads counts mission, fence and rally lists read from the
	// vehicle for callers of Download; ListCacheHits the reads answered
	// from the station's copy or a download already under way instead.
	ListDownloads uint64 `json:"list_downloads"`
	ListCacheHits uint64 `json:"list_cache_hits"`
}

// Vehicle returns the station's side of one vehicle.
func (s *Station) Vehicle(id string) (VehicleInfo, error) {
	rec := s.reg.get(id)
	if rec == nil {
		return VehicleInfo{}, fmt.Errorf("vehicle %q: %w", id, ErrUnknownVehicle)
	}
	return rec.info(), nil
}

// VehicleIDs lists every published vehicle ID, sorted.
func (s *Station) VehicleIDs() []string {
	recs := s.reg.all()
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.ID())
	}
	sort.Strings(out)
	return out
}

func (r *vehicleRec) info() VehicleInfo {
	vi := VehicleInfo{
		ID: r.ID(), Link: r.ln.l.name, SystemID: r.sys, ComponentID: r.comp, UID: r.uid.Load(),
		RateRequests: r.rateRequests.Load(), StreamsAccepted: r.streamsOK.Load(),
		Setups: r.setups.Load(), Reboots: r.reboots.Load(), Duplicates: r.duplicates.Load(),
		ListDownloads: r.lists.downloads.Load(), ListCacheHits: r.lists.hits.Load(),
	}
	if ch := r.ch.Load(); ch != nil {
		vi.Channel = ch.String()
	}
	return vi
}

// Latency returns the UDP server links' latency stages, all links
// together, each measured from a datagram's arrival (the kernel's receive
// timestamp): "socket" (read by the station), "staged" (taken by the
// link's dispatcher), "dispatched" (decoded and applied to the fleet).
func (s *Station) Latency() map[string]latency.Snapshot {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	out := map[string]latency.Snapshot{}
	for _, ln := range running {
		if l := ln.udp.Load(); l != nil {
			out["socket"] = out["socket"].Add(l.lat.socket.Snapshot())
			out["staged"] = out["staged"].Add(l.lat.staged.Snapshot())
			out["dispatched"] = out["dispatched"].Add(l.lat.dispatched.Snapshot())
		}
	}
	return out
}
