// Command burgut is the single binary of the Burgut drone fleet service.
// Each subcommand lives in its own file and registers itself in init:
//
//	burgut sitl    the bundled multi-vehicle simulator (simulator/)
//	burgut serve   the ground station, stores, relays and HTTP API (app/)
//	burgut run     serve plus a simulated fleet: the one-command demo
//	burgut plan    plan patrol missions over an event area (missions/)
//	burgut replay  send a recorded .tlog to a ground station (telemetry/)
//	burgut history tracks, flights and exports from the telemetry store (telemetry/)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand
// name and a context cancelled on SIGINT/SIGTERM; returning nil exits 0.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("burgut: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks errors caused by bad arguments (exit status 2).
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "burgut: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "burgut %s: %v\n", c.name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "burgut %s: %v\n", c.name, err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Burgut: drone fleet control and telemetry.\n\nUsage: burgut <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'burgut <command> -h' for the flags of one command.")
}

// newLogger returns the process logger at the given level ("debug", "info",
// "warn", "error"); logs go to stderr so stdout stays for results.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error: %w", level, errUsage)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
