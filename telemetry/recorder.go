package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"

	"github.com/burgut-uav/burgut/fleet"
)

// SampleWriter is where the Recorder puts samples: the InfluxDB sink (which
// appends them to its disk spool) or the embedded store. WriteSamples may
// keep the slice only for the duration of the call.
type SampleWriter interface {
	WriteSamples(ctx context.Context, samples []Sample) error
}

// RecorderConfig is the storage sample policy.
type RecorderConfig struct {
	// Interval is the minimum time between two stored samples of one
	// vehicle. A change of armed, mode, link, mission or event area is
	// always stored at once, so flights and assignments are exact whatever
	// the interval.
	//
	// 0 stores every message, as Telegraf's inputs.mavlink does: each
	// GLOBAL_POSITION_INT is one position point, each ATTITUDE one
	// attitude point, each SYS_STATUS or BATTERY_STATUS one power point,
	// each HEARTBEAT one status and one link point (their fields from the
	// state right after the message), and every other message one point
	// in its own measurement (MessagePrefix + its name) with all its
	// fields. The recorder sees a message only as an update's cause: the
	// ground station makes one for a message that changes no state too
	// (groundstation.Config.EveryMessage), or COMMAND_ACK and the like
	// would never reach it.
	Interval time.Duration
	// BatchSize is how many samples (or message points) are handed to the
	// writer at once; FlushInterval bounds how long a partial batch waits.
	// Each call is one transaction (embedded store) or fsynced spool append
	// (InfluxDB): the default takes a whole second of 2,000 vehicles at
	// telemetry interval 0 in one call.
	BatchSize     int
	FlushInterval time.Duration
	// MaxQueue bounds the fleet subscription's queue: if the writer falls
	// this far behind, the oldest updates are dropped (and counted) rather
	// than ever slowing the ground station's ingest.
	MaxQueue int
}

// DefaultRecorderConfig stores one sample per vehicle per second: 2,000
// vehicles make 10,000 InfluxDB points/s, a fifth of what one InfluxDB on
// two cores takes (see BENCHMARKS.md), leaving room for queries.
func DefaultRecorderConfig() RecorderConfig {
	return RecorderConfig{Interval: time.Second, BatchSize: 50000, FlushInterval: time.Second, MaxQueue: 200000}
}

// RecorderStats counts what the recorder did; exposed on the status API.
type RecorderStats struct {
	Updates       uint64 `json:"updates"`        // fleet state updates seen
	Samples       uint64 `json:"samples"`        // samples handed to the store
	Skipped       uint64 `json:"skipped"`        // updates thinned out by the sample interval
	DroppedQueue  uint64 `json:"dropped_queue"`  // updates lost because the store fell behind
	WriteErrors   uint64 `json:"write_errors"`   // failed WriteSamples calls
	DroppedWrites uint64 `json:"dropped_writes"` // samples and points lost with those failed calls
	// Points counts message points handed to the store (interval 0).
	Points uint64 `json:"points"`
	// Queued is how many samples and points wait for the store now.
	Queued int `json:"queued"`
}

// recorderDrainEvery bounds how often the recorder takes fleet updates.
const recorderDrainEvery = 20 * time.Millisecond

// PointWriter is implemented by stores that keep message points
// (telemetry interval 0); both stores do.
type PointWriter interface {
	WritePoints(ctx context.Context, points []Point) error
}

// Recorder subscribes to the fleet and hands samples to a SampleWriter in
// batches, applying the sample policy. It never blocks the fleet's writer.
type Recorder struct {
	cfg RecorderConfig
	w   SampleWriter
	log *slog.Logger
	sub *fleet.Subscription

	last        map[string]*Sample // last stored sample per vehicle (the interval policy)
	batch       []Sample
	points      []Point
	fields      []Field // the slab message points' fields are cut from
	loggedDrops uint64
	lastDropLog time.Time

	mu    sync.Mutex
	stats RecorderStats
}

// NewRecorder subscribes at once, so no update between construction and
// Run is missed.
func NewRecorder(f *fleet.Fleet, w SampleWriter, cfg RecorderConfig, log *slog.Logger) *Recorder {
	d := DefaultRecorderConfig()
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = d.BatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = d.FlushInterval
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = d.MaxQueue
	}
	if log == nil {
		log = slog.Default()
	}
	return &Recorder{
		cfg: cfg, w: w, log: log,
		sub:  f.Subscribe(fleet.SubscribeOptions{KeepAll: true, MaxQueue: cfg.MaxQueue, Name: "recorder"}),
		last: make(map[string]*Sample),
	}
}

// Stats returns the counters so far.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// logDrops logs updates lost to a full queue, at most every 10 s.
func (r *Recorder) logDrops(now time.Time) {
	r.mu.Lock()
	d := r.stats.DroppedQueue
	r.mu.Unlock()
	if d > r.loggedDrops && now.Sub(r.lastDropLog) >= 10*time.Second {
		r.log.Warn("telemetry updates dropped: the store fell behind", "dropped", d-r.loggedDrops, "total", d,
			"max_queue", r.cfg.MaxQueue)
		r.loggedDrops, r.lastDropLog = d, now
	}
}

// Run records until ctx is cancelled, then stores what is pending (with a
// short grace period) and unsubscribes.
func (r *Recorder) Run(ctx context.Context) error {
	defer r.sub.Close()
	tick := time.NewTicker(r.cfg.FlushInterval)
	defer tick.Stop()
	// A busy fleet signals the subscription for every update; the
	// recorder takes what is pending at most every recorderDrainEvery, so
	// it wakes a bounded number of times a second. While the drain timer
	// runs it does not listen to the subscription (signal is nil): every
	// dispatcher batch's first update would wake it again for nothing.
	drain := time.NewTimer(time.Hour)
	drain.Stop()
	signal := r.sub.C
	for {
		select {
		case <-ctx.Done():
			r.take()
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			for len(r.batch) > 0 || len(r.points) > 0 {
				r.flush(fctx) // each call stores (or drops and counts) one batch
			}
			cancel()
			return nil
		case <-signal:
			drain.Reset(recorderDrainEvery)
			signal = nil
		case <-drain.C:
			signal = r.sub.C // an update since take() left its signal there
			r.take()
			for len(r.batch) >= r.cfg.BatchSize || len(r.points) >= r.cfg.BatchSize {
				r.flush(context.WithoutCancel(ctx)) // a write under way finishes at shutdown: never drop it half-done
			}
		case now := <-tick.C:
			for (len(r.batch) > 0 || len(r.points) > 0) && ctx.Err() == nil {
				r.flush(context.WithoutCancel(ctx)) // a write under way finishes at shutdown: never drop it half-done
			}
			r.logDrops(now)
		}
	}
}

func (r *Recorder) take() {
	b := r.sub.Next()
	var skipped uint64
	for i := range b.Vehicles {
		v := &b.Vehicles[i]
		if r.cfg.Interval <= 0 {
			var cause any
			if i < len(b.Causes) {
				cause = b.Causes[i]
			}
			if !r.takeMessage(v, cause) {
				skipped++
			}
			continue
		}
		// The policy is applied to the vehicle before a sample is built:
		// at the default 1 s interval it stores one update in ~18.
		if !r.keep(v) {
			skipped++
			continue
		}
		r.batch = append(r.batch, FromVehicle(*v))
		if prev := r.last[v.ID]; prev != nil {
			*prev = r.batch[len(r.batch)-1]
		} else {
			s := r.batch[len(r.batch)-1]
			r.last[v.ID] = &s
		}
	}
	r.mu.Lock()
	r.stats.Updates += uint64(len(b.Vehicles))
	r.stats.Skipped += skipped
	r.stats.DroppedQueue = b.Dropped.States
	r.stats.Queued = len(r.batch) + len(r.points)
	r.mu.Unlock()
}

// takeMessage stores one message (interval 0): the schema's measurement
// it feeds, or a point of its own. A state change no message caused (the
// vehicle's publication, a link-lost refresh, an assignment) stores
// nothing: it reports false. Every message is stored, so no last sample
// is kept (keep is the interval policy's), and the sample is built in
// the batch itself: at interval 0 this runs for every message received.
func (r *Recorder) takeMessage(v *fleet.Vehicle, cause any) bool {
	var parts Parts
	switch m := cause.(type) {
	case nil:
		return false
	case *common.MessageGlobalPositionInt:
		parts = PartPosition
	case *common.MessageAttitude:
		parts = PartAttitude
	case *common.MessageSysStatus:
		parts = PartPower
	case *common.MessageBatteryStatus:
		if m.Id != 0 {
			// Only battery 0 is the vehicle's power state; another
			// battery's message is a point of its own.
			return r.takePoint(v, m)
		}
		parts = PartPower
	case *common.MessageHeartbeat:
		parts = PartStatus | PartLink
	case message.Message:
		return r.takePoint(v, m)
	default:
		return false
	}
	r.batch = append(r.batch, FromVehicle(*v))
	r.batch[len(r.batch)-1].Parts = parts
	return true
}

// takePoint stores m as a point of its own measurement, tagged with the
// vehicle's state it arrived with.
func (r *Recorder) takePoint(v *fleet.Vehicle, m message.Message) bool {
	s := FromVehicle(*v)
	r.points = append(r.points, Point{Time: s.Time, Measurement: MessageMeasurement(m), Tags: s.Tags(),
		Fields: r.messageFields(m)})
	return true
}

// fieldSlabSize is how many Fields the recorder allocates at once for
// message points: a point's fields are a slice of a shared slab, one
// allocation per few hundred points instead of one (or several, as the
// slice grew) per point.
const fieldSlabSize = 4096

// messageFields returns m's fields in the recorder's current slab (a new
// slab when it is full; points still holding the old one keep it alive).
func (r *Recorder) messageFields(m message.Message) []Field {
	if cap(r.fields)-len(r.fields) < 64 {
		r.fields = make([]Field, 0, fieldSlabSize)
	}
	start := len(r.fields)
	r.fields = AppendMessageFields(r.fields, m)
	return r.fields[start:len(r.fields):len(r.fields)]
}

// keep applies the sample policy to a vehicle's state.
func (r *Recorder) keep(v *fleet.Vehicle) bool {
	prev := r.last[v.ID]
	if prev == nil {
		return true
	}
	t := sampleTime(v)
	if !t.After(prev.Time) {
		// Nothing received since the last stored sample: a refresh of a
		// silent vehicle (link lost, decaying rate) keeps the time of its
		// last frame, and a position must never be stored for a time at
		// which nothing was heard.
		return false
	}
	return t.Sub(prev.Time) >= r.cfg.Interval ||
		v.Armed != prev.Armed || v.Mode != prev.Mode ||
		v.Mission != prev.Mission || v.EventArea != prev.EventArea || v.Link != prev.Link
}

func (r *Recorder) flush(ctx context.Context) {
	if len(r.points) > 0 {
		n := min(len(r.points), r.cfg.BatchSize)
		var err error
		if pw, ok := r.w.(PointWriter); ok {
			err = pw.WritePoints(ctx, r.points[:n])
		} else {
			err = errors.New("the store keeps no message points")
		}
		r.account(n, err, true)
		clear(r.points[:n]) // release the fields
		r.points = append(r.points[:0], r.points[n:]...)
	}
	if len(r.batch) == 0 {
		return
	}
	n := min(len(r.batch), r.cfg.BatchSize)
	err := r.w.WriteSamples(ctx, r.batch[:n])
	r.account(n, err, false)
	r.batch = append(r.batch[:0], r.batch[n:]...)
}

func (r *Recorder) account(n int, err error, points bool) {
	r.mu.Lock()
	switch {
	case err != nil:
		r.stats.WriteErrors++
		r.stats.DroppedWrites += uint64(n)
	case points:
		r.stats.Points += uint64(n)
	default:
		r.stats.Samples += uint64(n)
	}
	r.stats.Queued = len(r.batch) + len(r.points) - n
	r.mu.Unlock()
	if err != nil {
		what := "samples"
		if points {
			what = "message points"
		}
		r.log.Error("telemetry lost: store write failed", what, n, "err", fmt.Errorf("write %d %s: %w", n, what, err))
	}
}
