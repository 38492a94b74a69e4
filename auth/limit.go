package auth

import (
	"sync"
	"time"
)

// Limiter slows down password guessing. Each key (a user name, a source
// address) gets some free failures; after that every further failure
// blocks the key for a delay that doubles, up to its cap. A success clears
// the user's key. Blocked attempts are refused before any password is
// checked, with the time to wait, whether or not the user exists.
//
// The per-user cap is short (default 1 min) on purpose: anyone can fail
// logins in an operator's name, and a 15-minute lockout of the duty
// operator during an event would be an attack of its own. One guess a
// minute per account is still far too slow to matter; the guesser's own
// address keeps doubling up to MaxAddr.
type Limiter struct {
	FreeUser, FreeAddr int           // failures without delay (default 5 per user, 20 per address)
	Base               time.Duration // first delay (default 1 s)
	MaxUser, MaxAddr   time.Duration // caps of the per-user and per-address delay (default 1 min, 15 min)
	Now                func() time.Time

	mu    sync.Mutex
	m     map[string]*failures
	calls int
}

type failures struct {
	n     int
	until time.Time // blocked until
	last  time.Time
}

func (l *Limiter) init() {
	if l.m == nil {
		l.m = map[string]*failures{}
	}
	if l.FreeUser <= 0 {
		l.FreeUser = 5
	}
	if l.FreeAddr <= 0 {
		l.FreeAddr = 20
	}
	if l.Base <= 0 {
		l.Base = time.Second
	}
	if l.MaxUser <= 0 {
		l.MaxUser = time.Minute
	}
	if l.MaxAddr <= 0 {
		l.MaxAddr = 15 * time.Minute
	}
	if l.Now == nil {
		l.Now = time.Now
	}
}

func userKey(name string) string { return "u:" + name }
func addrKey(ip string) string   { return "a:" + ip }

// Blocked returns how long the caller must still wait before a login for
// user from ip is considered (0 = go ahead).
func (l *Limiter) Blocked(user, ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	now := l.Now()
	var wait time.Duration
	for _, k := range []string{userKey(user), addrKey(ip)} {
		if f, ok := l.m[k]; ok && now.Before(f.until) {
			wait = max(wait, f.until.Sub(now))
		}
	}
	return wait
}

// Fail records a failed login and returns the delay it imposes.
func (l *Limiter) Fail(user, ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	now := l.Now()
	l.calls++
	if l.calls%1024 == 0 {
		l.sweepLocked(now)
	}
	var wait time.Duration
	for _, k := range []struct {
		key  string
		free int
		cap  time.Duration
	}{{userKey(user), l.FreeUser, l.MaxUser}, {addrKey(ip), l.FreeAddr, l.MaxAddr}} {
		f := l.m[k.key]
		if f == nil {
			f = &failures{}
			l.m[k.key] = f
		}
		f.n++
		f.last = now
		if over := f.n - k.free; over > 0 {
			d := l.Base
			for i := 1; i < over && d < k.cap; i++ {
				d *= 2
			}
			d = min(d, k.cap)
			f.until = now.Add(d)
			wait = max(wait, d)
		}
	}
	return wait
}

// Succeed clears the user's failures (the address keeps its count: one
// good password must not unlock guessing at every other account).
func (l *Limiter) Succeed(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	delete(l.m, userKey(user))
}

// sweepLocked forgets keys an hour past their last failure and block.
func (l *Limiter) sweepLocked(now time.Time) {
	for k, f := range l.m {
		if now.Sub(f.last) > time.Hour && now.After(f.until) {
			delete(l.m, k)
		}
	}
}
