package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/burgut-uav/burgut/scenario"
)

func init() {
	register(&command{
		name:    "scenario",
		summary: "validate or run a flight scenario (scenarios/README.md)",
		run:     scenarioCmd,
	})
}

const scenarioUsage = `usage:
  burgut scenario validate FILE [FILE …]
  burgut scenario run FILE [--junit OUT.xml] [--speedup X] [--seed S] [--report OUT.html] [--station URL --token TOKEN]`

// scenarioCmd dispatches `burgut scenario validate|run`.
func scenarioCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, scenarioUsage)
		return fmt.Errorf("a subcommand is missing: %w", errUsage)
	}
	switch args[0] {
	case "validate":
		return scenarioValidate(args[1:], stdout, stderr)
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
// file:line:column: message; it exits 1 if any file has one.
func scenarioValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scenario validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("validate: give one or more scenario files: %w", errUsage)
	}
	bad := 0
	for _, f := range fs.Args() {
		sc, err := scenario.ParseFile(f)
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
