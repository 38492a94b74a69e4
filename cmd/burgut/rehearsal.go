package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/linkspec"
	"github.com/burgut-uav/burgut/scenario"
	"github.com/burgut-uav/burgut/scenario/rehearsal"
	"github.com/burgut-uav/burgut/scenario/report"
)

// rehearse is `burgut run --scenario FILE`: the station with its console,
// configured as `burgut run` configures it, and the scenario flying
// against it through the same API at speedup 1 — its steps (as the
// scenario's own operator token), its faults on schedule (a
// station_restart restarts this station: rehearsalStation), its
// assertions — while trainees operate the console. When the scenario ends
// (its duration or end condition) or on Ctrl-C, the report is written:
// the scenario run's report plus, for the instructor, each fault with the
// alert it raised and the first response to it (from the audit log).
func rehearse(ctx context.Context, cfg app.Config, log *slog.Logger, stdout, stderr io.Writer) error {
	if cfg.Sim.Speedup != 1 {
		return fmt.Errorf("%w: --speedup %g: a rehearsal runs in real time (speedup 1) because people operate it; burgut scenario run flies a scenario faster", errUsage, cfg.Sim.Speedup)
	}
	sc, err := scenario.ParseFile(cfg.Sim.Scenario)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errInvalid
	}
	// The scenario brings its own fleet; the demo fleet would fly over it.
	cfg.Sim.Vehicles, cfg.Sim.Demo = 0, false
	if len(sc.Fleet.Links) > 0 {
		cfg.GroundStation.MAVLink = sc.Fleet.Links
	}
	gcs := ""
	if sc.Simulated() {
		if gcs, err = simTarget(cfg.GroundStation.MAVLink); err != nil {
			return fmt.Errorf("rehearsal %s: %w", cfg.Sim.Scenario, err)
		}
	}

	st := &rehearsalStation{cfg: cfg, log: log}
	// The station outlives the caller's context by as long as it takes to
	// read the audit log and write the report after a Ctrl-C.
	if err := st.start(ctx); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil // Ctrl-C before the station was ready
		}
		return err
	}
	a := st.current()
	var b [4]byte
	_, _ = rand.Read(b[:])
	tokenName := "rehearsal-" + hex.EncodeToString(b[:])
	token, _, err := a.Auth.CreateToken(ctx, tokenName, auth.Operator, 0)
	if err != nil {
		st.stop()
		return fmt.Errorf("rehearsal: the scenario's operator token: %w", err)
	}
	// The scenario's own actions are not a trainee's responses.
	scenarioActor := "token:" + tokenName
	station := "http://" + a.HTTPAddr()
	log.Info("rehearsal: the scenario flies against this station; Ctrl-C ends it and writes the report",
		"scenario", sc.Name, "file", cfg.Sim.Scenario, "console", station+"/", "scenario_actor", scenarioActor)

	res, runErr := scenario.Run(ctx, sc, scenario.Options{Speedup: 1, StationURL: station, Token: token, SimGCS: gcs, Log: logWriter{log},
		Progress: progressLog(log), RestartStation: st.restart})
	ended := time.Now()
	// The run has ended, so no restart is under way: a is the station
	// now up (a restart left it up even when Ctrl-C cut the outage short).
	a = st.current()
	events, lost := st.recorded()
	var reportErr error
	if res != nil {
		reportErr = writeRehearsalReport(a, cfg, sc, res, runErr, rehearsalInput{events: events, lost: lost, actor: scenarioActor, restarts: st.restarts}, ended, stdout)
	} else if errors.Is(runErr, context.Canceled) {
		// Interrupted while the fleet was still getting ready: nothing
		// flew, so there is nothing to report.
		fmt.Fprintln(stdout, "rehearsal interrupted before the scenario's fleet was ready: no report written")
	}
	if a != nil {
		if _, err := a.Auth.RevokeToken(context.WithoutCancel(ctx), tokenName); err != nil {
			log.Warn("rehearsal: revoke the scenario's token", "token", tokenName, "err", err)
		}
	}
	appErr := st.stop()
	switch {
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		return errors.Join(fmt.Errorf("rehearsal %s: %w", cfg.Sim.Scenario, runErr), reportErr, appErr)
	case reportErr != nil:
		return errors.Join(reportErr, appErr)
	}
	return appErr
}

// rehearsalStation is the station of a rehearsal: `burgut run`'s App,
// which a station_restart fault stops and starts again — a new App on the
// same configuration (its listen addresses pinned to the ones the first
// start bound, so consoles, MQTT clients and vehicles find it again) and
// the same data directory (accounts, tokens, audit log, stored telemetry,
// areas, plans and operations carry over; browser sessions live in
// memory, so trainees log in again, as after any station restart). Every
// life's events are recorded for the report.
type rehearsalStation struct {
	cfg app.Config
	log *slog.Logger

	mu   sync.Mutex
	app  *app.App
	halt func() error // stops app (app.App.Start)
	rec  *rehearsal.Recorder
	// events and lost are the recordings of the lives before this one.
	events   []fleet.Event
	lost     uint64
	restarts int
}

// start runs a new App and waits until it is ready; it fails if the App
// does not start or ctx ends first. The App itself runs on a context of
// its own (stop ends it), so it outlives a Ctrl-C until the report is
// written.
func (s *rehearsalStation) start(ctx context.Context) error {
	a := app.New(s.cfg, s.log)
	rec := rehearsal.Record(a.Fleet)
	halt, err := a.Start(ctx)
	if err != nil {
		rec.Stop()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.app, s.halt, s.rec = a, halt, rec
	// A restart comes back where clients know to look: the addresses the
	// first start bound (port 0 means "any" only once).
	s.cfg.HTTP = a.HTTPAddr()
	if m := a.MetricsAddr(); m != "" && s.cfg.MetricsListen != "" {
		s.cfg.MetricsListen = m
	}
	if m := a.MQTTAddr(); m != "" {
		s.cfg.Relay.MQTTListen = m
	}
	return nil
}

// current is the App now running (nil while a restart has it stopped).
func (s *rehearsalStation) current() *app.App {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.app
}

// stop ends the App now running, keeps what its recorder saw, and
// returns how its Run ended (nil when none was running).
func (s *rehearsalStation) stop() error {
	s.mu.Lock()
	halt, rec := s.halt, s.rec
	s.app, s.halt, s.rec = nil, nil, nil
	s.mu.Unlock()
	if halt == nil {
		return nil
	}
	err := halt()
	if rec != nil { // nil once recorded() ended the recording
		events, lost := rec.Stop()
		s.mu.Lock()
		s.events = append(s.events, events...)
		s.lost += lost
		s.mu.Unlock()
	}
	return err
}

// recorded returns every event of every life so far and how many the
// recorders lost, ending the recording (the rehearsal is over).
func (s *rehearsalStation) recorded() ([]fleet.Event, uint64) {
	s.mu.Lock()
	rec := s.rec
	s.rec = nil
	s.mu.Unlock()
	if rec != nil {
		events, lost := rec.Stop()
		s.mu.Lock()
		s.events = append(s.events, events...)
		s.lost += lost
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events, s.lost
}

// restart is the scenario's station_restart (scenario.Options.
// RestartStation): stop the station, wait until down() says the outage
// has lasted the fault's downtime, and start it again. A Ctrl-C during
// the outage cuts it short, but the station still comes back up: the
// rehearsal reads its audit log for the report and never ends with its
// station half-restarted.
func (s *rehearsalStation) restart(ctx context.Context, down func() bool) error {
	s.log.Warn("rehearsal: the scenario restarts the station")
	if err := s.stop(); err != nil {
		s.log.Warn("rehearsal: the station stopped with an error", "err", err)
	}
	for !down() && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	var err error
	for try := 0; try < 50; try++ { // a port may linger a moment
		if err = s.start(context.WithoutCancel(ctx)); err == nil {
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
			s.log.Warn("rehearsal: the station is back up", "http", s.cfg.HTTP)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("station restart: %w", err)
}

// rehearsalInput is what the rehearsal recorded besides the run's result:
// the station's events, how many of them the recorder lost, and the
// scenario's own actor (not a trainee).
type rehearsalInput struct {
	events   []fleet.Event
	lost     uint64
	actor    string
	restarts int
}

// writeRehearsalReport completes the run's report with the fault → alert
// → first response table and writes it, printing its path.
func writeRehearsalReport(a *app.App, cfg app.Config, sc *scenario.Scenario, res *scenario.Result, runErr error, in rehearsalInput, ended time.Time, stdout io.Writer) error {
	rep := res.Report(sc)
	rep.End = ended
	var notes []string
	if rep.Ended != "" {
		notes = append(notes, rep.Ended)
	}
	if errors.Is(runErr, context.Canceled) {
		notes = append(notes, "interrupted (Ctrl-C)")
	} else if runErr != nil {
		notes = append(notes, "error: "+runErr.Error())
	}
	if in.restarts > 0 {
		notes = append(notes, fmt.Sprintf("the station restarted %d time(s) (station_restart): browser sessions ended with it, so trainees had to log in again", in.restarts))
	}
	if in.lost > 0 {
		notes = append(notes, fmt.Sprintf("%d station events were lost by the rehearsal's recorder: alerts may be missing", in.lost))
	}
	var entries []audit.Entry
	if a == nil {
		notes = append(notes, "the station was down at the end (its restart failed): the trainees' responses could not be read from its audit log")
	} else {
		var err error
		if entries, err = rehearsal.ReadAudit(a.Audit, res.Started); err != nil {
			// The report still shows the faults and alerts; say why the
			// responses may be missing.
			notes = append(notes, err.Error())
		}
	}
	rep.Ended = strings.Join(notes, "; ")
	rehearsal.Complete(rep, res.Started, rehearsalFaults(res), in.events, entries, rehearsal.Options{IgnoreActors: []string{in.actor}})
	path := cfg.Sim.Report
	if path == "" {
		path = rehearsal.ReportPath(cfg.DataDir, sc.Name, ended)
	}
	if err := report.WriteFile(path, rep); err != nil {
		return fmt.Errorf("rehearsal report: %w", err)
	}
	fmt.Fprintf(stdout, "rehearsal report: %s\n", path)
	return nil
}

// rehearsalFaults are the faults the run fired, in wall-clock time (a
// rehearsal runs at speedup 1: simulated time since start is wall time
// since start).
func rehearsalFaults(res *scenario.Result) []rehearsal.Fault {
	var out []rehearsal.Fault
	for _, f := range res.Faults {
		text := f.Name
		if text == f.Kind {
			text = ""
		}
		out = append(out, rehearsal.Fault{Kind: f.Kind, Text: text, Vehicles: f.Vehicles, At: res.Started.Add(f.T)})
	}
	return out
}

// progressLog tells the instructor, in the station's log, each time a
// step or fault has fired or an assertion has failed (the engine reports
// progress a few times a second; only changes are logged).
func progressLog(log *slog.Logger) func(scenario.Progress) {
	var last scenario.Progress
	return func(p scenario.Progress) {
		if p.StepsFired == last.StepsFired && p.FaultsFired == last.FaultsFired && p.Failed == last.Failed {
			return
		}
		last = p
		log.Info("rehearsal: "+p.String(), "steps_fired", p.StepsFired, "faults_fired", p.FaultsFired, "assertions_failed", p.Failed)
	}
}

// simTarget is where the scenario's simulated fleet sends: the station's
// first UDP server link, as an address a local client can reach (an
// "every interface" listener is reached on loopback).
func simTarget(links []string) (string, error) {
	for _, l := range links {
		spec, err := linkspec.Parse(l)
		if err != nil {
			return "", err
		}
		if spec.Kind != "udp" {
			continue
		}
		host, port, err := net.SplitHostPort(spec.Address)
		if err != nil {
			return "", fmt.Errorf("link %q: %w", l, err)
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		return "udp:" + net.JoinHostPort(host, port), nil
	}
	return "", fmt.Errorf("the scenario's simulated fleet needs a UDP server link (--mavlink udp:HOST:PORT) to send to; the station has %s", strings.Join(links, ", "))
}

// logWriter hands the scenario engine's text log to the station's logger
// line by line, so a rehearsal has one log.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.log.Warn("scenario: " + line)
		}
	}
	return len(p), nil
}
