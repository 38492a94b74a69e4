package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Filter selects entries for Query. Zero fields match everything.
type Filter struct {
	AfterSeq uint64    // entries with Seq > AfterSeq
	Since    time.Time // entries at or after
	Until    time.Time // entries before
	Actor    string    // exact actor
	Route    string    // substring of the route pattern
	Vehicle  string    // a target vehicle
	Result   string    // "ok" or an error code
	Limit    int       // at most this many (the oldest matching first); default 200
}

// Query reads the log file and returns the entries matching f. It scans
// the file from the start (the log is a record, not a database); entries
// appended meanwhile may or may not be included.
func (l *Log) Query(f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 200
	}
	file, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer file.Close()
	br := bufio.NewReaderSize(file, 1<<20)
	out := []Entry{}
	for len(out) < f.Limit {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a partial line is an append in progress
		}
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("audit log %s: unreadable entry after seq %d (run 'burgut audit verify')", l.path, lastSeq(out))
		}
		if f.match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func lastSeq(es []Entry) uint64 {
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

func (f Filter) match(e Entry) bool {
	switch {
	case e.Seq <= f.AfterSeq,
		!f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && !e.Time.Before(f.Until),
		f.Actor != "" && e.Actor != f.Actor,
		f.Route != "" && !strings.Contains(e.Route, f.Route),
		f.Result != "" && e.Result != f.Result,
		f.Vehicle != "" && !slices.Contains(e.Vehicles, f.Vehicle) && !slices.Contains(e.Vehicles, "*"):
		return false
	}
	return true
}
