package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// maxNotes bounds the notes one audit entry keeps (a group command to a
// thousand vehicles adds one per vehicle); the rest are counted.
const maxNotes = 32

// auditNotes collects what a handler adds to its call's audit entry; a
// group command's vehicles add theirs from several goroutines.
type auditNotes struct {
	mu      sync.Mutex
	notes   []string
	dropped int
}

type notesKey struct{}

// NoteAudit adds a sentence to the audit entry of the mutating call being
// served on ctx (e.g. "took control of uav3 over from op1"), for facts
// only the handler learns: the guard writes the entry when the handler
// returns. Outside an audited call it does nothing.
func NoteAudit(ctx context.Context, format string, args ...any) {
	n, ok := ctx.Value(notesKey{}).(*auditNotes)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.notes) >= maxNotes {
		n.dropped++
		return
	}
	n.notes = append(n.notes, fmt.Sprintf(format, args...))
}

func (n *auditNotes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := strings.Join(n.notes, "; ")
	if n.dropped > 0 {
		s += fmt.Sprintf("; and %d more", n.dropped)
	}
	return s
}
