package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/frame"

	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/telemetry"
	"github.com/burgut-uav/burgut/telemetry/historyapi"
	"github.com/burgut-uav/burgut/telemetry/influx"
	"github.com/burgut-uav/burgut/telemetry/spool"
	"github.com/burgut-uav/burgut/telemetry/sqlitestore"
	"github.com/burgut-uav/burgut/telemetry/tlog"
)

// startTelemetry wires telemetry storage (issue 5): every fleet update goes
// through the sample policy to InfluxDB (via its disk spool) when
// influx-url is set, else to the embedded SQLite store under data-dir;
// every vehicle's raw MAVLink goes to tlogs; the history API is served.
//
// Stop order (OnStop runs in reverse): the recorder's goroutine ends with
// the App's context and stores what it holds, then the sink/store closes.
func (a *App) startTelemetry(ctx context.Context) error {
	tc := a.Config.Telemetry
	var (
		writer telemetry.SampleWriter
		source telemetry.Source
		status = map[string]func(ctx context.Context) any{}
	)
	if tc.InfluxURL != "" {
		sink, err := influx.Open(influx.Config{
			URL: tc.InfluxURL, Bucket: tc.InfluxBucket, Token: tc.InfluxToken, Org: tc.InfluxOrg,
			SpoolDir: filepath.Join(a.Config.DataDir, "influx-spool"),
			Spool:    spool.Options{MaxBytes: int64(tc.SpoolMB) << 20},
		}, a.Log)
		if err != nil {
			return fmt.Errorf("telemetry: %w", err)
		}
		a.OnStop("influx sink", func() {
			if err := sink.Close(); err != nil {
				a.Log.Error("close influx sink", "err", err)
			}
		})
		a.Go(ctx, "influx sender", sink.Run)
		writer, source = sink, sink
		a.points = sink
		status["influx"] = func(context.Context) any { return sink.Stats() }
		a.observeInflux(sink)
		a.Log.Info("telemetry stored in InfluxDB", "url", tc.InfluxURL, "bucket", tc.InfluxBucket)
	} else {
		path := filepath.Join(a.Config.DataDir, "telemetry.db")
		st, err := sqlitestore.Open(path, sqlitestore.Options{
			MaxAge: tc.StoreRetention, MaxBytes: int64(tc.StoreMaxMB) << 20, Log: a.Log,
		})
		if err != nil {
			return fmt.Errorf("telemetry: %w", err)
		}
		a.OnStop("telemetry store", func() {
			if err := st.Close(); err != nil {
				a.Log.Error("close telemetry store", "err", err)
			}
		})
		a.Go(ctx, "telemetry store writer", st.Run) // commits the recorder's rows, applies retention
		writer, source = st, st
		a.observeStore(st)
		status["embedded"] = func(ctx context.Context) any {
			s, err := st.Stats(ctx)
			if err != nil {
				return map[string]string{"error": err.Error()}
			}
			return s
		}
		a.Log.Info("telemetry stored in the embedded store", "path", path, "retention", tc.StoreRetention)
	}

	rcfg := telemetry.DefaultRecorderConfig()
	rcfg.Interval = tc.SampleInterval // 0 = every update
	rec := telemetry.NewRecorder(a.Fleet, writer, rcfg, a.Log)
	a.Go(ctx, "telemetry recorder", rec.Run)
	status["recorder"] = func(context.Context) any { return rec.Stats() }
	a.observeRecorder(rec)

	if tc.Tlogs {
		tr, err := tlog.NewRecorder(tlog.RecorderOptions{
			Dir:          filepath.Join(a.Config.DataDir, "tlogs"),
			MaxFileBytes: int64(tc.TlogFileMB) << 20, MaxTotalBytes: int64(tc.TlogTotalMB) << 20,
			MaxBufferBytes: int64(tc.TlogBufferMB) << 20,
			Log:            a.Log,
		})
		if err != nil {
			return fmt.Errorf("telemetry: %w", err)
		}
		if a.Station != nil {
			a.Station.AddFrameBatchTap(func(frames []groundstation.TappedFrame) {
				tr.TapEach(func(add func(vehicleID string, at time.Time, f frame.Frame, raw []byte)) {
					for i := range frames {
						if t := &frames[i]; t.VehicleID != "" { // frames attributed to no vehicle are not a vehicle's log
							add(t.VehicleID, t.At, t.Frame, t.Raw)
						}
					}
				})
			})
		} else {
			a.Log.Warn("no ground station: tlogs are not recorded")
		}
		a.Go(ctx, "tlog recorder", tr.Run)
		status["tlogs"] = func(context.Context) any { return tr.Stats() }
		a.observeTlogs(tr)
	}

	historyapi.Register(a.Mux, source, historyapi.Options{
		Log: a.Log,
		Status: func(ctx context.Context) any {
			out := map[string]any{}
			for k, fn := range status {
				out[k] = fn(ctx)
			}
			return out
		},
	})
	return nil
}
