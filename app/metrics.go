package app

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/latency"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/metrics"
	"github.com/burgut-uav/burgut/relay"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/influx"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
	"github.com/burgut-uav/burgut/telemetry/tlog"
)

// This file exposes every part's counters on /metrics (issue 10). Each
// observe* function is called by the part's start function with the part
// itself, seen through the one accessor it needs; the families read those
// accessors at scrape time (see package metrics), so nothing here runs on
// a hot path. docs/metrics.md lists the families.

// addFamily registers a family; a duplicate or invalid family is a
// programming error in this file, caught by the metrics test, so it is
// logged rather than failing the service.
func (a *App) addFamily(f metrics.Family, read func(emit metrics.Emit)) {
	if err := a.Metrics.Add(f, read); err != nil {
		a.Log.Error("metrics", "err", err)
	}
}

func counter(name, help string, labels ...string) metrics.Family {
	return metrics.Family{Name: name, Help: help, Kind: metrics.Counter, Labels: labels}
}

func gauge(name, help string, labels ...string) metrics.Family {
	return metrics.Family{Name: name, Help: help, Kind: metrics.Gauge, Labels: labels}
}

// startMetrics serves /metrics: on --metrics-listen when set (so it can
// stay on a private interface), else on the main HTTP listener. The fleet
// families are registered here; each other part registers its own while
// starting (observe* below).
func (a *App) startMetrics(ctx context.Context) error {
	a.observeFleet(a.Fleet)
	a.addFamily(gauge("burgut_up_seconds", "seconds since the service started"), func(emit metrics.Emit) {
		emit(time.Since(a.startedAt).Seconds())
	})
	route := httpapi.Route{Method: http.MethodGet, Pattern: "/metrics", Access: httpapi.Observer, Handler: a.Metrics.Handler()}
	if a.Config.MetricsListen == "" {
		a.Mux.Handle(route)
		return nil
	}
	ln, err := net.Listen("tcp", a.Config.MetricsListen)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", a.Config.MetricsListen, err)
	}
	a.metricsAddr = ln.Addr()
	// Its own route table: this address serves /metrics only, without
	// credentials (docs/api.md, access control: a Prometheus on a private
	// interface scrapes it without a token; keep the address private).
	mux := httpapi.NewMux()
	mux.Handle(route)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.Go(ctx, "metrics server", func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		_ = srv.Close()
		<-errc
		return nil
	})
	a.Log.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// MetricsAddr is where /metrics is served when --metrics-listen is set
// ("" otherwise: it is on HTTPAddr).
func (a *App) MetricsAddr() string {
	if a.metricsAddr == nil {
		return ""
	}
	return a.metricsAddr.String()
}

type fleetStats interface {
	Connected() (total, connected int)
	Subscribers() []fleet.SubscriberStats
}

func (a *App) observeFleet(f fleetStats) {
	a.addFamily(gauge("burgut_vehicles", "vehicles known to the fleet, by link state", "state"), func(emit metrics.Emit) {
		total, conn := f.Connected()
		emit(float64(conn), "connected")
		emit(float64(total-conn), "disconnected")
	})
	// Subscribers with the same name (e.g. two stream hubs) are summed, so
	// the series stay unique.
	type agg struct {
		queued, events     float64
		droppedS, droppedE float64
	}
	read := func() (map[string]*agg, []string) {
		m := map[string]*agg{}
		var names []string
		for _, s := range f.Subscribers() {
			g := m[s.Name]
			if g == nil {
				g = &agg{}
				m[s.Name] = g
				names = append(names, s.Name)
			}
			g.queued += float64(s.Queued)
			g.events += float64(s.Events)
			g.droppedS += float64(s.Dropped.States)
			g.droppedE += float64(s.Dropped.Events)
		}
		return m, names
	}
	a.addFamily(gauge("burgut_fleet_subscriber_queue", "state updates and events waiting for a fleet subscriber (recorder, websocket, mqtt)", "subscriber", "kind"), func(emit metrics.Emit) {
		m, names := read()
		for _, n := range names {
			emit(m[n].queued, n, "states")
			emit(m[n].events, n, "events")
		}
	})
	a.addFamily(counter("burgut_fleet_subscriber_dropped_total", "state updates and events a fleet subscriber lost because it fell behind", "subscriber", "kind"), func(emit metrics.Emit) {
		m, names := read()
		for _, n := range names {
			emit(m[n].droppedS, n, "states")
			emit(m[n].droppedE, n, "events")
		}
	})
}

type stationStats interface {
	Links() []groundstation.LinkInfo
	SocketBuffer() groundstation.SocketBuffer
	latencyStages
}

// latencyStages is a part that measures stages of a datagram's way to
// the clients (groundstation.Station, relay.Hub).
type latencyStages interface {
	Latency() map[string]latency.Snapshot
}

// latencySources are the parts whose stages make up
// burgut_pipeline_latency_seconds; the family is registered with the
// first of them.
type latencySources struct {
	mu    sync.Mutex
	parts []latencyStages
}

// observeLatency adds a part's stages to burgut_pipeline_latency_seconds.
func (a *App) observeLatency(p latencyStages) {
	a.latency.mu.Lock()
	defer a.latency.mu.Unlock()
	a.latency.parts = append(a.latency.parts, p)
	if len(a.latency.parts) > 1 {
		return
	}
	f := metrics.Family{Name: "burgut_pipeline_latency_seconds", Labels: []string{"stage"},
		Help: "age of a datagram's data, from its arrival at the station's socket (kernel timestamp), when it reaches each stage: socket (read), staged (taken by the link's dispatcher), dispatched (decoded, in the fleet), hub (taken by the WebSocket hub), ws_write (written to a client, less the client's own rate_hz hold)"}
	if err := a.Metrics.AddHistogram(f, func(emit metrics.HistogramEmit) {
		a.latency.mu.Lock()
		parts := slices.Clone(a.latency.parts)
		a.latency.mu.Unlock()
		for _, p := range parts {
			stages := p.Latency()
			for _, name := range slices.Sorted(maps.Keys(stages)) {
				st := stages[name]
				emit(st.Count, st.Sum, st.Cumulative(), name)
			}
		}
	}); err != nil {
		a.Log.Error("metrics", "err", err)
	}
}

// observeStation exposes the MAVLink links: frames and errors counted by
// the dispatchers, and the kernel's own count of datagrams dropped at each
// UDP socket (receive buffer full) — the loss no userspace counter sees.
func (a *App) observeStation(st stationStats) {
	a.observeLatency(st)
	perLink := func(name, help string, kind metrics.Kind, v func(l groundstation.LinkInfo) float64) {
		a.addFamily(metrics.Family{Name: name, Help: help, Kind: kind, Labels: []string{"link"}}, func(emit metrics.Emit) {
			for _, l := range st.Links() {
				emit(v(l), l.Name)
			}
		})
	}
	perLink("burgut_mavlink_frames_received_total", "MAVLink frames decoded per link", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.Frames) })
	perLink("burgut_mavlink_parse_errors_total", "malformed MAVLink input per link (bad CRC, truncated, garbage)", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.ParseErrors) })
	perLink("burgut_mavlink_unattached_frames_total", "frames from systems that are not (yet) vehicles, per link", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.Unattached) })
	perLink("burgut_mavlink_link_vehicles", "vehicles heard on each link", metrics.Gauge, func(l groundstation.LinkInfo) float64 { return float64(l.Vehicles) })
	perLink("burgut_mavlink_dispatcher_behind_seconds", "how long the link's dispatcher has had frames waiting without catching up (0 = keeping up): the station is late", metrics.Gauge, func(l groundstation.LinkInfo) float64 { return l.BehindS })
	perLink("burgut_mavlink_late_ticks_total", "heartbeat checks made while the link's dispatcher was behind", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.LateTicks) })
	perLink("burgut_mavlink_link_lost_deferred_total", "link-lost decisions put off because the station, not the vehicle, was late", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.LinkLostDeferred) })
	perLink("burgut_mavlink_link_lost_unverified_total", "vehicles declared lost although the station was still behind the link, because it had not caught up for 30 s past the heartbeat timeout", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.LinkLostUnverified) })
	perLink("burgut_mavlink_tap_pending_dropped_total", "frames of vehicles still waiting for their ID that did not fit the buffer kept for the tlogs (lost from the tlog)", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.TapPendingDropped) })
	perLink("burgut_udp_datagrams_total", "datagrams the link's UDP socket delivered to the station (UDP server links)", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.Datagrams) })
	perLink("burgut_udp_backlog", "datagrams read from the link's UDP socket and not yet dispatched: staged for the dispatcher, or held for a new remote until its channel is open (what is not read yet waits in the socket: burgut_udp_socket_rx_queue_bytes)", metrics.Gauge, func(l groundstation.LinkInfo) float64 { return float64(l.Backlog) })
	a.addFamily(counter("burgut_udp_backlog_dropped_total", "datagrams read from the link's UDP socket and dropped before decoding because a queue was full: reason staging (the dispatcher's 32,768), hold (a new remote's 256 before its channel opened), accept (the 4,096 new remotes)", "link", "reason"), func(emit metrics.Emit) {
		for _, l := range st.Links() {
			for _, reason := range slices.Sorted(maps.Keys(l.BacklogDroppedBy)) {
				emit(float64(l.BacklogDroppedBy[reason]), l.Name, reason)
			}
		}
	})
	perLink("burgut_mavlink_frames_sent_total", "MAVLink frames the station sent to vehicles per link, as its send gate counts them (commands, requests, mission items; not gomavlib's own heartbeats)", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.SendFrames) })
	perLink("burgut_mavlink_send_waited_total", "frames to vehicles that waited for gomavlib's 64-frame write queue to drain (every link kind; gomavlib drops silently when it is full)", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.SendWaited) })
	perLink("burgut_mavlink_send_shed_total", "frames to vehicles shed because gomavlib's write queue stayed full for 250 ms: never sent (the protocols retry them)", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.SendShed) })
	perLink("burgut_mission_list_downloads_total", "mission, fence and rally lists read from the link's vehicles for consoles and API callers (MAVLink downloads)", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.ListDownloads) })
	perLink("burgut_mission_list_cache_hits_total", "reads of vehicles' lists answered by the station's copy or by a download already under way, instead of a MAVLink download", metrics.Counter, func(l groundstation.LinkInfo) float64 { return float64(l.ListCacheHits) })
	perLink("burgut_mavlink_link_channels", "open channels (remote addresses or connections) per link", metrics.Gauge, func(l groundstation.LinkInfo) float64 { return float64(l.Channels) })

	a.addFamily(gauge("burgut_udp_receive_buffer_bytes", "UDP receive buffer of the MAVLink sockets: requested, effective (SO_RCVBUF as the kernel reports it) and net.core.rmem_max", "kind"), func(emit metrics.Emit) {
		b := st.SocketBuffer()
		emit(float64(b.Requested), "requested")
		emit(float64(b.Effective), "effective")
		emit(float64(b.RmemMax), "rmem_max")
	})

	// UDP sockets: each UDP server link's own socket, as the kernel counts
	// it (read from the socket, not by scanning /proc/net/udp, which can
	// skip a socket while others come and go).
	sockets := func(emit func(s groundstation.SocketStats, link string)) {
		for _, l := range st.Links() {
			if l.Socket != nil {
				emit(*l.Socket, l.Name)
			}
		}
	}
	a.addFamily(counter("burgut_udp_socket_drops_total", "datagrams the kernel dropped at a link's UDP socket because its receive buffer was full (SO_MEMINFO of the socket, the drops column of /proc/net/udp)", "link", "local"), func(emit metrics.Emit) {
		sockets(func(s groundstation.SocketStats, link string) { emit(float64(s.Drops), link, s.Local) })
	})
	a.addFamily(gauge("burgut_udp_socket_rx_queue_bytes", "bytes waiting in a link's UDP receive buffer (SO_MEMINFO of the socket)", "link", "local"), func(emit metrics.Emit) {
		sockets(func(s groundstation.SocketStats, link string) { emit(float64(s.RxQueueBytes), link, s.Local) })
	})
}

type recorderStats interface {
	Stats() telemetry.RecorderStats
}

func (a *App) observeRecorder(r recorderStats) {
	a.addFamily(counter("burgut_recorder_updates_total", "fleet state updates seen by the telemetry recorder"), func(emit metrics.Emit) { emit(float64(r.Stats().Updates)) })
	a.addFamily(counter("burgut_recorder_samples_total", "samples the recorder handed to the store"), func(emit metrics.Emit) { emit(float64(r.Stats().Samples)) })
	a.addFamily(counter("burgut_recorder_points_total", "message points handed to the store (--telemetry-interval 0: one per message outside the schema's measurements)"), func(emit metrics.Emit) { emit(float64(r.Stats().Points)) })
	a.addFamily(counter("burgut_recorder_skipped_total", "updates thinned out by the sample interval (by design, not a loss)"), func(emit metrics.Emit) { emit(float64(r.Stats().Skipped)) })
	a.addFamily(counter("burgut_recorder_dropped_total", "updates or samples the recorder lost: queue = the store fell behind, write = a failed store write", "reason"), func(emit metrics.Emit) {
		s := r.Stats()
		emit(float64(s.DroppedQueue), "queue")
		emit(float64(s.DroppedWrites), "write")
	})
	a.addFamily(gauge("burgut_recorder_queue", "samples and message points the recorder holds for the store's next write"), func(emit metrics.Emit) { emit(float64(r.Stats().Queued)) })
	a.addFamily(counter("burgut_recorder_write_errors_total", "failed store writes"), func(emit metrics.Emit) { emit(float64(r.Stats().WriteErrors)) })
}

type tlogStats interface {
	Stats() tlog.RecorderStats
}

func (a *App) observeTlogs(r tlogStats) {
	a.addFamily(counter("burgut_tlog_frames_total", "frames taken for tlogs (buffered in memory, then written)"), func(emit metrics.Emit) { emit(float64(r.Stats().Frames)) })
	a.addFamily(counter("burgut_tlog_bytes_total", "bytes taken for tlogs"), func(emit metrics.Emit) { emit(float64(r.Stats().Bytes)) })
	a.addFamily(counter("burgut_tlog_written_frames_total", "frames written to their tlog files"), func(emit metrics.Emit) { emit(float64(r.Stats().WrittenFrames)) })
	a.addFamily(counter("burgut_tlog_dropped_total", "frames the tlog recorder dropped: its queue or its memory buffer (burgut_tlog_buffer_capacity_bytes) was full"), func(emit metrics.Emit) { emit(float64(r.Stats().Dropped)) })
	a.addFamily(counter("burgut_tlog_lost_frames_total", "buffered tlog frames that could not be written: a failed open or write, or a disk still stalled at shutdown"), func(emit metrics.Emit) { emit(float64(r.Stats().LostFrames)) })
	a.addFamily(gauge("burgut_tlog_queue", "frames waiting to be taken into the tlog buffers (of burgut_tlog_queue_capacity)"), func(emit metrics.Emit) { emit(float64(r.Stats().Queued)) })
	a.addFamily(gauge("burgut_tlog_queue_capacity", "the tlog recorder's queue bound: past it frames are dropped and counted"), func(emit metrics.Emit) { emit(float64(r.Stats().QueueLen)) })
	a.addFamily(gauge("burgut_tlog_buffer_bytes", "encoded tlog frames in memory not yet written (of burgut_tlog_buffer_capacity_bytes): grows while the disk is slow"), func(emit metrics.Emit) { emit(float64(r.Stats().BufferBytes)) })
	a.addFamily(gauge("burgut_tlog_buffer_capacity_bytes", "the tlog buffer's bound (--tlog-buffer-mb): past it frames are dropped and counted"), func(emit metrics.Emit) { emit(float64(r.Stats().MaxBufferBytes)) })
	a.addFamily(gauge("burgut_tlog_open_files", "tlogs open now"), func(emit metrics.Emit) { emit(float64(r.Stats().OpenFiles)) })
	a.addFamily(counter("burgut_tlog_write_errors_total", "failed tlog writes"), func(emit metrics.Emit) { emit(float64(r.Stats().WriteErrors)) })
	a.addFamily(counter("burgut_tlog_files_started_total", "tlog files started"), func(emit metrics.Emit) { emit(float64(r.Stats().Files)) })
	a.addFamily(counter("burgut_tlog_deleted_files_total", "tlog files deleted by the total disk cap"), func(emit metrics.Emit) { emit(float64(r.Stats().DeletedFiles)) })
	a.addFamily(gauge("burgut_tlog_disk_bytes", "bytes all tlogs take on disk"), func(emit metrics.Emit) { emit(float64(r.Stats().TotalBytes)) })
}

type influxStats interface {
	Stats() influx.Stats
}

// observeInflux exposes the InfluxDB sink and its disk spool.
func (a *App) observeInflux(s influxStats) {
	a.addFamily(counter("burgut_influx_points_sent_total", "points InfluxDB acknowledged"), func(emit metrics.Emit) { emit(float64(s.Stats().SentPoints)) })
	a.addFamily(counter("burgut_influx_failed_writes_total", "failed InfluxDB write attempts (the batch stays spooled and is retried)"), func(emit metrics.Emit) { emit(float64(s.Stats().FailedAttempts)) })
	a.addFamily(counter("burgut_influx_rejected_points_total", "points InfluxDB refused as malformed (dropped)"), func(emit metrics.Emit) { emit(float64(s.Stats().RejectedPoints)) })
	a.addFamily(gauge("burgut_influx_connected", "1 if the last InfluxDB write succeeded"), func(emit metrics.Emit) {
		v := 0.0
		if s.Stats().Connected {
			v = 1
		}
		emit(v)
	})
	if err := a.Metrics.AddSummary(metrics.Family{Name: "burgut_influx_write_duration_seconds", Help: "time of each successful InfluxDB batch write (count = batches)"}, func(emit metrics.SummaryEmit) {
		st := s.Stats()
		emit(st.SentBatches, st.WriteSeconds)
	}); err != nil {
		a.Log.Error("metrics", "err", err)
	}
	a.addFamily(gauge("burgut_spool_bytes", "bytes in the InfluxDB disk spool"), func(emit metrics.Emit) { emit(float64(s.Stats().Spool.Bytes)) })
	a.addFamily(gauge("burgut_spool_max_bytes", "the spool's size cap"), func(emit metrics.Emit) { emit(float64(s.Stats().Spool.MaxBytes)) })
	a.addFamily(gauge("burgut_spool_pending_points", "points in the spool not yet delivered"), func(emit metrics.Emit) { emit(float64(s.Stats().Spool.PendingPoints)) })
	a.addFamily(counter("burgut_spool_appended_points_total", "points written to the spool"), func(emit metrics.Emit) { emit(float64(s.Stats().Spool.AppendedPoints)) })
	a.addFamily(counter("burgut_spool_dropped_points_total", "undelivered points the full spool dropped (oldest first)"), func(emit metrics.Emit) { emit(float64(s.Stats().Spool.DroppedPoints)) })
}

type storeStats interface {
	Stats(ctx context.Context) (sqlitestore.Stats, error)
}

func (a *App) observeStore(s storeStats) {
	stat := func(f func(st sqlitestore.Stats) float64) func(emit metrics.Emit) {
		return func(emit metrics.Emit) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if st, err := s.Stats(ctx); err == nil {
				emit(f(st))
			}
		}
	}
	a.addFamily(gauge("burgut_store_samples", "rows in the embedded store: one per measurement point (five per whole sample) or message point"),
		stat(func(st sqlitestore.Stats) float64 { return float64(st.Samples) }))
	a.addFamily(counter("burgut_store_pruned_samples_total", "rows the embedded store deleted by retention (age or size cap)"),
		stat(func(st sqlitestore.Stats) float64 { return float64(st.PrunedSamples) }))
	a.addFamily(counter("burgut_store_rows_written_total", "rows the embedded store's writer committed"),
		stat(func(st sqlitestore.Stats) float64 { return float64(st.Rows) }))
	a.addFamily(counter("burgut_store_duplicate_rows_total", "rows not stored again: same series, measurement and time as a stored row (a replay)"),
		stat(func(st sqlitestore.Stats) float64 { return float64(st.Duplicates) }))
	a.addFamily(counter("burgut_store_dropped_rows_total", "rows lost with failed embedded-store commits"),
		stat(func(st sqlitestore.Stats) float64 { return float64(st.DroppedRows) }))
	a.addFamily(gauge("burgut_store_pending_rows", "rows waiting for the embedded store's next commit"),
		stat(func(st sqlitestore.Stats) float64 { return float64(st.PendingRows) }))
}

type mqttStats interface {
	Stats() relay.PublisherStats
	Connected() bool
}

func (a *App) observeMQTT(p mqttStats) {
	a.addFamily(counter("burgut_mqtt_published_total", "MQTT messages published, by kind", "kind"), func(emit metrics.Emit) {
		s := p.Stats()
		emit(float64(s.States), "state")
		emit(float64(s.Events), "event")
		emit(float64(s.Video), "video")
	})
	a.addFamily(counter("burgut_mqtt_retried_total", "MQTT publishes retried"), func(emit metrics.Emit) { emit(float64(p.Stats().Retried)) })
	a.addFamily(counter("burgut_mqtt_dropped_events_total", "events the MQTT publisher dropped (broker unreachable too long, or not encodable)"), func(emit metrics.Emit) { emit(float64(p.Stats().DroppedEvents)) })
	a.addFamily(gauge("burgut_mqtt_connected", "1 while connected to the MQTT broker"), func(emit metrics.Emit) {
		v := 0.0
		if p.Connected() {
			v = 1
		}
		emit(v)
	})
}

type hubStats interface {
	Stats() relay.HubStats
	latencyStages
}

func (a *App) observeHub(h hubStats) {
	a.observeLatency(h)
	a.addFamily(counter("burgut_ws_coalesced_total", "vehicle states a WebSocket client did not get because a newer state of the vehicle replaced them first (its rate_hz, or a slow socket)"), func(emit metrics.Emit) { emit(float64(h.Stats().Coalesced)) })
	a.addFamily(gauge("burgut_ws_clients", "WebSocket stream clients connected"), func(emit metrics.Emit) { emit(float64(h.Stats().Clients)) })
	a.addFamily(counter("burgut_ws_accepted_total", "WebSocket stream connections accepted"), func(emit metrics.Emit) { emit(float64(h.Stats().Accepted)) })
	a.addFamily(counter("burgut_ws_frames_total", "frames written to WebSocket clients"), func(emit metrics.Emit) { emit(float64(h.Stats().Frames)) })
	a.addFamily(counter("burgut_ws_dropped_total", "WebSocket clients dropped: too many events queued, no keepalive answer, or a write failing"), func(emit metrics.Emit) { emit(float64(h.Stats().Dropped)) })
	a.addFamily(counter("burgut_ws_dropped_events_total", "events the WebSocket hub sent to no client because they could not be encoded (live, or alerts of a snapshot)"), func(emit metrics.Emit) { emit(float64(h.Stats().DroppedEvents)) })
}

// opCounter counts the outcome of every command and list upload the
// station is asked for (HTTP API and planner), for /metrics: a rise in
// refusals or failed uploads is what an operator wants to see first.
type opCounter struct {
	mu       sync.Mutex
	commands map[string]uint64 // MAV_RESULT name, or "error" (no answer, link down)
	uploads  map[string]uint64 // verified, unverified, failed
}

func (c *opCounter) command(res session.CommandResult, err error) {
	k := res.ResultName
	if err != nil || k == "" {
		k = "error"
	}
	c.mu.Lock()
	c.commands[k]++
	c.mu.Unlock()
}

func (c *opCounter) upload(rep groundstation.UploadReport, err error) {
	k := "verified"
	switch {
	case err != nil:
		k = "failed"
	case !rep.Verified:
		k = "unverified"
	}
	c.mu.Lock()
	c.uploads[k]++
	c.mu.Unlock()
}

// ops returns the App's operation counter, registering its families on
// first use.
func (a *App) ops() *opCounter {
	a.opsOnce.Do(func() {
		c := &opCounter{commands: map[string]uint64{}, uploads: map[string]uint64{}}
		a.opCounter = c
		emitMap := func(m map[string]uint64) func(metrics.Emit) {
			return func(emit metrics.Emit) {
				c.mu.Lock()
				defer c.mu.Unlock()
				for k, v := range m {
					emit(float64(v), k)
				}
			}
		}
		a.addFamily(counter("burgut_commands_total", "commands sent to vehicles (API, setup excluded) by outcome: the MAV_RESULT name, or error (no answer)", "result"), emitMap(c.commands))
		a.addFamily(counter("burgut_uploads_total", "mission/fence/rally uploads (API and planner) by outcome: verified, unverified, failed", "result"), emitMap(c.uploads))
	})
	return a.opCounter
}

// countingStation is the vehicle API's view of the station with every
// command and upload counted.
type countingStation struct {
	vehicleapi.Station
	c *opCounter
}

// countOps wraps the API's station (nil stays nil: no ground station).
func (a *App) countOps(s vehicleapi.Station) vehicleapi.Station {
	if s == nil {
		return nil
	}
	return countingStation{s, a.ops()}
}

func (s countingStation) Command(ctx context.Context, id string, req session.CommandRequest) (session.CommandResult, error) {
	res, err := s.Station.Command(ctx, id, req)
	s.c.command(res, err)
	return res, err
}

func (s countingStation) SetMode(ctx context.Context, id, mode string) (session.CommandResult, error) {
	res, err := s.Station.SetMode(ctx, id, mode)
	s.c.command(res, err)
	return res, err
}

func (s countingStation) Upload(ctx context.Context, id string, t mavitem.MissionType, items []mavitem.Item, o groundstation.UploadOptions) (groundstation.UploadReport, error) {
	rep, err := s.Station.Upload(ctx, id, t, items, o)
	s.c.upload(rep, err)
	return rep, err
}

// shedFamilies are the counters of what a stage sheds, as GET
// /api/v1/health summarises them (key → family; series are summed).
var shedFamilies = map[string]string{
	"udp_socket":        "burgut_udp_socket_drops_total",
	"udp_backlog":       "burgut_udp_backlog_dropped_total",
	"tlog":              "burgut_tlog_dropped_total",
	"tlog_pending":      "burgut_mavlink_tap_pending_dropped_total",
	"recorder":          "burgut_recorder_dropped_total",
	"fleet_subscribers": "burgut_fleet_subscriber_dropped_total",
	"spool":             "burgut_spool_dropped_points_total",
	"store":             "burgut_store_dropped_rows_total",
	"influx_rejected":   "burgut_influx_rejected_points_total",
	"mqtt":              "burgut_mqtt_dropped_events_total",
	"websocket":         "burgut_ws_dropped_total",
	"websocket_events":  "burgut_ws_dropped_events_total",
	"mavlink_signing":   "burgut_mavlink_signing_rejected_total",
}

// shedTotals sums what every stage has shed since start, read from the
// same families /metrics serves (one source for both); stages not running
// (e.g. no InfluxDB) are absent.
func (a *App) shedTotals() map[string]float64 {
	out := map[string]float64{}
	if a.Metrics == nil {
		return out
	}
	fams, _ := a.Metrics.Gather() // a failing family is skipped, the rest still count
	byName := make(map[string]string, len(shedFamilies))
	for k, f := range shedFamilies {
		byName[f] = k
	}
	for _, f := range fams {
		k, ok := byName[f.GetName()]
		if !ok {
			continue
		}
		total := 0.0
		for _, m := range f.GetMetric() {
			if k == "recorder" && hasLabel(m, "reason", "queue") {
				continue // the recorder subscription's drops: already in fleet_subscribers
			}
			total += m.GetCounter().GetValue()
		}
		out[k] = total
	}
	return out
}

// lateness says whether the station itself is behind its links (as
// opposed to vehicles being silent): the longest a dispatcher has had
// frames waiting, and how many link-lost decisions were put off for it.
func (a *App) lateness() map[string]float64 {
	out := map[string]float64{"behind_s_max": 0, "link_lost_deferred": 0, "link_lost_unverified": 0, "late_ticks": 0}
	if a.Station == nil {
		return out
	}
	for _, l := range a.Station.Links() {
		out["behind_s_max"] = max(out["behind_s_max"], l.BehindS)
		out["link_lost_deferred"] += float64(l.LinkLostDeferred)
		out["link_lost_unverified"] += float64(l.LinkLostUnverified)
		out["late_ticks"] += float64(l.LateTicks)
	}
	return out
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name && lp.GetValue() == value {
			return true
		}
	}
	return false
}
