package rehearsal

import (
	"testing"
	"time"

	"github.com/burgut-uav/burgut/audit"
)

// The real audit log, longer than one page: every entry since the start
// comes back once, in order; earlier ones do not.
func TestReadAuditReadsEveryPage(t *testing.T) {
	dir := t.TempDir()
	clock := t0
	l, err := audit.Open(dir, audit.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const before, during = 5, 2*auditPage + 17
	for i := 0; i < before+during; i++ {
		if i == before {
			clock = t0.Add(time.Minute)
		}
		e := audit.Entry{Time: clock, Actor: "alice", Source: "test", Route: "POST /api/v1/vehicles/{id}/commands/{name}", Vehicles: []string{"v1"}, Status: 200, Result: "ok"}
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadAudit(l, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != during {
		t.Fatalf("read %d entries, want %d", len(got), during)
	}
	for i, e := range got {
		if e.Seq != uint64(before+i+1) {
			t.Fatalf("entry %d has seq %d, want %d", i, e.Seq, before+i+1)
		}
	}
}
