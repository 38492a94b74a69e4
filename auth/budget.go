package auth

import (
	"sync"
	"time"
)

// budget bounds how many audit entries unauthenticated callers can cause
// per source address: a token bucket of Burst entries refilled at Rate per
// second. Without it anyone who reaches the port could fill the disk with
// fsync'd entries for refused requests. Authenticated callers are never
// limited; what is suppressed is counted, logged and on /metrics.
type budget struct {
	Rate, Burst float64
	Now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	calls   int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (b *budget) allow(ip string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buckets == nil {
		b.buckets = map[string]*bucket{}
	}
	if b.Rate <= 0 {
		b.Rate = 5
	}
	if b.Burst <= 0 {
		b.Burst = 50
	}
	if b.Now == nil {
		b.Now = time.Now
	}
	now := b.Now()
	b.calls++
	if b.calls%4096 == 0 { // forget addresses whose bucket is full again
		for k, v := range b.buckets {
			if v.tokens+now.Sub(v.last).Seconds()*b.Rate >= b.Burst {
				delete(b.buckets, k)
			}
		}
	}
	bk := b.buckets[ip]
	if bk == nil {
		bk = &bucket{tokens: b.Burst, last: now}
		b.buckets[ip] = bk
	}
	bk.tokens = min(b.Burst, bk.tokens+now.Sub(bk.last).Seconds()*b.Rate)
	bk.last = now
	if bk.tokens < 1 {
		return false
	}
	bk.tokens--
	return true
}
