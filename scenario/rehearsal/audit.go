package rehearsal

import (
	"fmt"
	"time"

	"github.com/burgut-uav/burgut/audit"
)

// AuditQuerier is the part of *audit.Log a rehearsal reads.
type AuditQuerier interface {
	Query(audit.Filter) ([]audit.Entry, error)
}

// auditPage is how many entries one Query returns; the log is read page
// by page so a long rehearsal's record is read whole.
const auditPage = 1000

// ReadAudit returns every audit entry from since on, in log order.
func ReadAudit(q AuditQuerier, since time.Time) ([]audit.Entry, error) {
	var out []audit.Entry
	var after uint64
	for {
		page, err := q.Query(audit.Filter{AfterSeq: after, Since: since, Limit: auditPage})
		if err != nil {
			return out, fmt.Errorf("rehearsal: read the audit log: %w", err)
		}
		out = append(out, page...)
		if len(page) < auditPage {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
}
