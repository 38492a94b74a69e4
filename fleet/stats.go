package fleet

import "sort"

// SubscriberStats is one subscriber's backlog and losses, for /metrics:
// a queue that grows or drops that count up show which consumer of the
// fleet cannot keep up.
type SubscriberStats struct {
	Name    string  `json:"name"`
	KeepAll bool    `json:"keep_all"`
	Queued  int     `json:"queued"` // state updates waiting (coalesced: vehicles with a pending update)
	Events  int     `json:"events"` // events waiting
	Dropped Dropped `json:"dropped"`
}

// Subscribers reports every open subscription, sorted by name. It takes
// each subscription's lock briefly and copies nothing else.
func (f *Fleet) Subscribers() []SubscriberStats {
	f.subMu.Lock()
	subs := make([]*Subscription, 0, len(f.subs))
	for s := range f.subs {
		subs = append(subs, s)
	}
	f.subMu.Unlock()
	out := make([]SubscriberStats, 0, len(subs))
	for _, s := range subs {
		st := SubscriberStats{Name: s.opts.Name, KeepAll: s.opts.KeepAll}
		if st.Name == "" {
			st.Name = "latest"
			if st.KeepAll {
				st.Name = "keepall"
			}
		}
		s.mu.Lock()
		st.Queued = len(s.queue)
		st.Events = len(s.events)
		st.Dropped = s.dropped
		s.mu.Unlock()
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Connected counts the vehicles known and those connected (heard within
// their heartbeat timeout), without copying any vehicle.
func (f *Fleet) Connected() (total, connected int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, e := range f.vehicles {
		if e.v.Connected {
			connected++
		}
	}
	return len(f.vehicles), connected
}
