package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Session is one browser login. Sessions live in the station's memory
// only: a restart logs every browser out, and a session cookie is useless
// anywhere else.
type Session struct {
	User       string
	Generation int64 // the account's generation at login: a password, role or disable change ends the session
	CSRF       string
	Created    time.Time
	LastSeen   time.Time
	Expires    time.Time // absolute expiry
}

// Sessions holds the live sessions, keyed by the SHA-256 of the cookie
// value (a memory dump does not hand out cookies).
type Sessions struct {
	// Idle ends a session unused this long (default 1 h); Absolute ends
	// any session this long after login (default 12 h, one shift).
	Idle, Absolute time.Duration
	// Max bounds live sessions (default 10000); past it the least recently
	// used one is ended.
	Max int
	Now func() time.Time

	mu sync.Mutex
	m  map[[32]byte]*Session
}

// Session defaults.
const (
	DefaultIdle     = time.Hour
	DefaultAbsolute = 12 * time.Hour
	defaultMax      = 10000
)

func (s *Sessions) init() {
	if s.m == nil {
		s.m = map[[32]byte]*Session{}
	}
	if s.Idle <= 0 {
		s.Idle = DefaultIdle
	}
	if s.Absolute <= 0 {
		s.Absolute = DefaultAbsolute
	}
	if s.Max <= 0 {
		s.Max = defaultMax
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create starts a session for u and returns the cookie value.
func (s *Sessions) Create(u User) (string, Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	now := s.Now()
	s.sweepLocked(now)
	if len(s.m) >= s.Max {
		var oldest [32]byte
		var at time.Time
		for k, v := range s.m {
			if at.IsZero() || v.LastSeen.Before(at) {
				oldest, at = k, v.LastSeen
			}
		}
		delete(s.m, oldest)
	}
	value := randomString(32)
	sess := &Session{User: u.Name, Generation: u.Generation, CSRF: randomString(24),
		Created: now, LastSeen: now, Expires: now.Add(s.Absolute)}
	s.m[sha256.Sum256([]byte(value))] = sess
	return value, *sess
}

// Lookup returns the live session of a cookie value and marks it used.
func (s *Sessions) Lookup(value string) (Session, bool) {
	if len(value) != 43 { // 32 random bytes, base64url
		return Session{}, false
	}
	key := sha256.Sum256([]byte(value))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	sess, ok := s.m[key]
	if !ok {
		return Session{}, false
	}
	now := s.Now()
	if !now.Before(sess.Expires) || now.Sub(sess.LastSeen) >= s.Idle {
		delete(s.m, key)
		return Session{}, false
	}
	sess.LastSeen = now
	return *sess, true
}

// Delete ends the session of a cookie value (logout).
func (s *Sessions) Delete(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	delete(s.m, sha256.Sum256([]byte(value)))
}

// Len is the number of sessions held (some may have expired unseen).
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Sessions) sweepLocked(now time.Time) {
	for k, v := range s.m {
		if !now.Before(v.Expires) || now.Sub(v.LastSeen) >= s.Idle {
			delete(s.m, k)
		}
	}
}
