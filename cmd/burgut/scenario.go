package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/scenario"
	htmlreport "github.com/burgut-uav/burgut/scenario/report"
)

func init() {
	register(&command{
		name:    "scenario",
		summary: "validate or run a flight scenario (scenarios/README.md)",
		run:     scenarioCmd,
	})
}

const scenarioUsage = `usage:
  burgut scenario validate [--station URL] FILE [FILE …]
  burgut scenario run FILE [--junit OUT.xml] [--speedup X] [--seed S] [--report OUT.html] [--station URL [--token TOKEN | --token-file FILE]]`

// scenarioCmd dispatches `burgut scenario validate|run`.
func scenarioCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, scenarioUsage)
		return fmt.Errorf("a subcommand is missing: %w", errUsage)
	}
	switch args[0] {
	case "validate":
		return scenarioValidate(args[1:], stdout, stderr)
	case "run":
		return scenarioRun(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, scenarioUsage)
		return flag.ErrHelp
	}
	fmt.Fprintln(stderr, scenarioUsage)
	return fmt.Errorf("unknown subcommand %q: %w", args[0], errUsage)
}

// errInvalid marks a scenario file with problems: they are printed, one
// per line with file:line:column, and the command exits 1.
var errInvalid = errors.New("invalid scenario")

// scenarioValidate checks every file given and prints each problem as
// file:line:column: message; it exits 1 if any file has one. With
// --station it also refuses what a run against a station given by URL
// cannot do (a station_restart fault), as scenario run --station does.
func scenarioValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scenario validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	station := fs.String("station", "", "check the files for a run against this station (scenario run --station URL; it is not contacted): a station_restart fault is an error there")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("validate: give one or more scenario files: %w", errUsage)
	}
	bad := 0
	for _, f := range fs.Args() {
		sc, err := scenario.ParseFile(f)
		if err == nil && *station != "" {
			err = sc.OwnStationFaults()
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			bad++
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%q: %d vehicles, %d steps, %d faults, %d assertions)\n", f, sc.Name, sc.FleetSize(), len(sc.Steps), len(sc.Faults), len(sc.Assertions))
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d files: %w", bad, fs.NArg(), errInvalid)
	}
	return nil
}

// errAssertions marks a run in which an assertion (or a step) did not
// hold: the command exits 1.
var errAssertions = errors.New("assertions failed")

// scenarioRun runs one scenario; it exits 0 only if every assertion held.
func scenarioRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scenario run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o             scenario.Options
		junit, report string
		timeline      string
		logFile       string
		progress      string
	)
	fs.StringVar(&junit, "junit", "", "write JUnit XML here (one test case per assertion, per vehicle where it applies)")
	fs.StringVar(&report, "report", "", "write the HTML report here")
	fs.StringVar(&timeline, "timeline", "", "write the timeline (steps, faults, station events, assertion results) here as text")
	fs.Float64Var(&o.Speedup, "speedup", 0, "simulated seconds per wall second (0 = the scenario's world.speedup)")
	fs.Int64Var(&o.Seed, "seed", 0, "random seed (0 = the scenario's seed)")
	fs.StringVar(&o.StationURL, "station", "", "run against this running station (http://HOST:PORT) instead of one in this process")
	fs.StringVar(&o.Token, "token", "", "with --station: an operator API token (burgut tokens create --role operator; default: --token-file, else $BURGUT_TOKEN)")
	tokenFile := fs.String("token-file", "", "with --station: a file holding the operator API token, kept out of the process list and shell history (as burgut operations --token-file)")
	fs.StringVar(&o.SimGCS, "sim-gcs", "udp:127.0.0.1:14550", "with --station and a simulated fleet: the station's UDP MAVLink link the vehicles send to")
	fs.StringVar(&o.DataDir, "data-dir", "", "the in-process station's data directory, kept after the run (default: a temporary one, removed)")
	fs.StringVar(&logFile, "log", "", "write the station's and simulator's warnings here (default: discarded)")
	fs.StringVar(&progress, "progress", "auto", "progress line on stderr: auto (on a terminal), on, off")
	// Flags may follow the file, as the contract writes them.
	var file string
	rest := args
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		file, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return fmt.Errorf("%w: %w", err, errUsage)
		}
	}
	if file == "" || fs.NArg() > 0 {
		return fmt.Errorf("run: give exactly one scenario file: %w", errUsage)
	}
	if o.Token == "" && *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		o.Token = strings.TrimSpace(string(b))
	}
	if o.Token == "" {
		o.Token = os.Getenv("BURGUT_TOKEN")
	}
	if o.Speedup < 0 || o.Speedup > scenario.MaxSpeedup {
		return fmt.Errorf("--speedup %g: want 0 (the scenario's) up to %d: %w", o.Speedup, scenario.MaxSpeedup, errUsage)
	}
	sc, err := scenario.ParseFile(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		// CI reads the JUnit file: a bad file must leave one that fails
		// and names the lines, not none (or a stale green one from the
		// last run).
		if junit != "" {
			failed := &scenario.Result{Scenario: file, File: file, EndReason: "not run",
				Cases: []scenario.Case{{Assertion: "validate", Kind: "run", Index: -1, Message: fmt.Sprintf("the scenario file is invalid: %v", err)}}}
			if werr := writeFileAtomic(junit, func(w io.Writer) error { return scenario.WriteJUnit(w, failed) }); werr != nil {
				return fmt.Errorf("junit: %w", werr)
			}
		}
		return errInvalid
	}
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.Log = f
	}
	switch progress {
	case "on":
		o.Progress = progressLine(stderr)
	case "auto":
		if isTerminal(stderr) {
			o.Progress = progressLine(stderr)
		}
	case "off":
	default:
		return fmt.Errorf("--progress %q: want auto, on or off: %w", progress, errUsage)
	}
	res, runErr := scenario.Run(ctx, sc, o)
	if o.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if res != nil {
		if junit != "" {
			if err := writeFileAtomic(junit, func(w io.Writer) error { return scenario.WriteJUnit(w, res) }); err != nil {
				return fmt.Errorf("junit: %w", err)
			}
		}
		if report != "" {
			if err := htmlreport.WriteFile(report, res.Report(sc)); err != nil {
				return fmt.Errorf("report: %w", err)
			}
		}
		if timeline != "" {
			if err := writeFileAtomic(timeline, func(w io.Writer) error { return scenario.WriteTimeline(w, res) }); err != nil {
				return fmt.Errorf("timeline: %w", err)
			}
		}
		printSummary(stdout, res)
	}
	if res == nil && junit != "" {
		// The run could not be made: CI still gets a JUnit file saying why.
		failed := &scenario.Result{Scenario: sc.Name, File: file, Seed: sc.Seed, Speedup: sc.Speedup(), EndReason: "not run",
			Cases: []scenario.Case{{Assertion: "run", Kind: "run", Index: -1, Message: fmt.Sprintf("the scenario could not be run: %v", runErr)}}}
		if err := writeFileAtomic(junit, func(w io.Writer) error { return scenario.WriteJUnit(w, failed) }); err != nil {
			return fmt.Errorf("junit: %w", err)
		}
	}
	if runErr != nil {
		return fmt.Errorf("run %s: %w", file, runErr)
	}
	if !res.Passed() {
		return fmt.Errorf("%s: %d of %d checks did not hold: %w", file, res.Failed(), len(res.Cases), errAssertions)
	}
	return nil
}

func printSummary(w io.Writer, res *scenario.Result) {
	fmt.Fprintf(w, "scenario %q: %d vehicles, %s simulated in %s wall (speedup %g, seed %d); %s\n",
		res.Scenario, len(res.Vehicles), res.SimTime.Round(100*time.Millisecond), res.Wall.Round(100*time.Millisecond), res.Speedup, res.Seed, res.EndReason)
	for _, c := range res.Cases {
		mark := "ok  "
		switch {
		case !c.OK:
			mark = "FAIL"
		case c.Skipped:
			mark = "SKIP"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, c.Name(), c.Message)
	}
	if res.DataDir != "" {
		fmt.Fprintf(w, "station data: %s\n", res.DataDir)
	}
}

// progressLine rewrites one terminal line with the run's progress.
func progressLine(w io.Writer) func(scenario.Progress) {
	return func(p scenario.Progress) { fmt.Fprintf(w, "\r\033[K%s", p) }
}

// isTerminal says whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeFileAtomic writes path through a temporary file in its directory,
// so a reader never sees half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
