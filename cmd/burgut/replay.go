package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/burgut-uav/burgut/internal/linkspec"
	"github.com/burgut-uav/burgut/telemetry/tlog"
)

func init() {
	register(&command{
		name:    "replay",
		summary: "send a recorded .tlog to a ground station with its original timing",
		run:     replay,
	})
}

// parseInterleaved parses flags given before or after the positional
// arguments ("FILE --to X" and "--to X FILE" both work).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func replay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", linkspec.DefaultStation, "where to send the frames: [NAME=]udp:HOST:PORT (a ground station's MAVLink UDP link, as given to serve --mavlink)")
	speed := fs.Float64("speed", 1, "time scale: 10 plays ten times faster than recorded; 0 sends as fast as possible")
	maxGap := fs.Duration("max-gap", 0, "cap on a pause between two frames after scaling (0 = keep the recorded pauses)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: burgut replay FILE.tlog [--to udp:HOST:PORT] [--speed X] [--max-gap D]\n\nFeeds a tlog to a ground station as if the vehicle were live: a\nrecorded flight shows on the map and lands in the store. Damaged\nstretches of the log are reported with their byte offset and skipped.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want exactly one tlog file, got %d arguments", errUsage, len(pos))
	}
	if *speed < 0 {
		return fmt.Errorf("%w: --speed %v: must not be negative", errUsage, *speed)
	}
	if *maxGap < 0 {
		return fmt.Errorf("%w: --max-gap %v: must not be negative", errUsage, *maxGap)
	}
	target, err := linkspec.ParseTarget(*to)
	if err != nil {
		return fmt.Errorf("%w: --to %q: %v", errUsage, *to, err)
	}
	addr := net.JoinHostPort(target.Host, strconv.Itoa(target.Port))
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("open tlog: %w", err)
	}
	defer f.Close()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *to, err)
	}
	defer conn.Close()
	began := time.Now()
	st, err := tlog.Replay(ctx, f, func(b []byte) error {
		_, err := conn.Write(b)
		if err != nil && isRefused(err) {
			return nil // nobody listening yet: UDP is fire and forget, as a radio would be
		}
		return err
	}, tlog.ReplayOptions{Speed: *speed, MaxGap: *maxGap, Log: log})
	fmt.Fprintf(stdout, "replayed %d frames (%d bytes) of %s spanning %v to %s in %v; %d damaged stretches skipped\n",
		st.Frames, st.Bytes, pos[0], st.Logged.Round(time.Millisecond), *to, time.Since(began).Round(time.Millisecond), st.Corrupt)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("replay %s: %w", pos[0], err)
	}
	return nil
}

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
