package tlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// ReplayOptions control a replay.
type ReplayOptions struct {
	// Speed scales time: 10 plays ten times faster than recorded; 0 sends
	// as fast as possible.
	Speed float64
	// MaxGap caps a pause between two frames (after scaling), so a log
	// with a long silence does not stall a replay (0 = no cap).
	MaxGap time.Duration
	// Sleep waits d or until ctx ends; tests inject one that records the
	// waits. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock the schedule is kept against (default time.Now);
	// tests pair it with Sleep to run on a fake clock.
	Now func() time.Time
	Log *slog.Logger
}

// ReplayStats is what a replay did.
type ReplayStats struct {
	Frames  int           `json:"frames"`
	Bytes   int64         `json:"bytes"`
	Corrupt int           `json:"corrupt"` // damaged stretches skipped
	Logged  time.Duration `json:"logged"`  // time span of the log
}

// Replay reads a tlog and sends each frame's raw bytes with send (one call
// per frame, e.g. one UDP datagram) at its recorded time, scaled by Speed.
// Damaged stretches are logged and skipped; the readable rest is sent.
func Replay(ctx context.Context, r io.Reader, send func([]byte) error, opts ReplayOptions) (ReplayStats, error) {
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Speed < 0 {
		return ReplayStats{}, fmt.Errorf("replay speed %v: must not be negative", opts.Speed)
	}
	var st ReplayStats
	rd := NewReader(r, nil)
	var first, prev time.Time
	wall := opts.Now()
	var due time.Duration // scaled offset of the current frame from the first
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		var ce *CorruptError
		if errors.As(err, &ce) {
			st.Corrupt++
			opts.Log.Warn("skipping damaged bytes in the tlog", "offset", ce.Offset, "skipped", ce.Skipped, "reason", ce.Reason)
			continue
		}
		if err != nil {
			return st, fmt.Errorf("replay: %w", err)
		}
		if first.IsZero() {
			first, prev = e.Time, e.Time
		}
		if opts.Speed > 0 {
			gap := time.Duration(float64(e.Time.Sub(prev)) / opts.Speed)
			if gap < 0 {
				gap = 0 // out-of-order timestamps: send at once
			}
			if opts.MaxGap > 0 && gap > opts.MaxGap {
				gap = opts.MaxGap
			}
			due += gap
			if wait := due - opts.Now().Sub(wall); wait > 0 {
				if err := opts.Sleep(ctx, wait); err != nil {
					return st, err
				}
			}
		} else if err := ctx.Err(); err != nil {
			return st, err
		}
		if e.Time.After(prev) {
			prev = e.Time
		}
		if err := send(e.Raw); err != nil {
			return st, fmt.Errorf("replay frame at byte %d: %w", e.Offset, err)
		}
		st.Frames++
		st.Bytes += int64(len(e.Raw))
		st.Logged = prev.Sub(first)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
