package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// cheap keeps tests fast; production parameters are exercised by
// TestDefaultParamsRoundTrip and the benchmarks.
var cheap = Options{Hash: HashParams{MemoryKiB: 64, Time: 1, Threads: 1}}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }
func openStore(t testing.TB, c *clock) *Store {
	t.Helper()
	o := cheap
	if c != nil {
		o.Now = c.now
	}
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDefaultParamsRoundTrip(t *testing.T) {
	h, err := hashPassword("correct horse", DefaultHashParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not record the documented parameters", h)
	}
	if ok, err := verifyPassword("correct horse", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := verifyPassword("correct horsf", h); ok {
		t.Fatal("wrong password accepted")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		if ok, err := verifyPassword("x", bad); ok || err == nil {
			t.Errorf("hash %q: ok=%v err=%v, want an error", bad, ok, err)
		}
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, nil)
	if has, _ := s.HasAdmin(ctx); has {
		t.Fatal("empty store has an admin")
	}
	if err := s.AddUser(ctx, "chief", Admin, "s3cret-pass"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "chief", Observer, "other-pass"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.AddUser(ctx, "op", Operator, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("short password: %v", err)
	}
	if err := s.AddUser(ctx, "bad name", Operator, "long-enough"); err == nil {
		t.Fatal("name with a space accepted")
	}
	if err := s.AddUser(ctx, "op", Operator, "op-password"); err != nil {
		t.Fatal(err)
	}
	u, err := s.CheckPassword(ctx, "op", "op-password")
	if err != nil || u.Role != Operator {
		t.Fatalf("login: %+v %v", u, err)
	}
	for _, c := range []struct{ user, pw, reason string }{
		{"op", "wrong-password", "wrong password"},
		{"nobody", "op-password", "unknown user"},
		{"op", strings.Repeat("x", 2000), "longer"},
	} {
		_, err := s.CheckPassword(ctx, c.user, c.pw)
		var ce *CredentialError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, c.reason) || err.Error() != "invalid credentials" {
			t.Errorf("%s/%s: %v (reason %v)", c.user, c.pw[:min(len(c.pw), 10)], err, ce)
		}
	}
	gen := u.Generation
	if err := s.SetDisabled(ctx, "op", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckPassword(ctx, "op", "op-password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("disabled login: %v", err)
	}
	u, _ = s.GetUser(ctx, "op")
	if u.Generation == gen {
		t.Fatal("disabling did not change the generation (sessions would survive)")
	}
	if err := s.SetRole(ctx, "chief", Observer); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := s.RemoveUser(ctx, "chief"); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("removing the last admin: %v", err)
	}
	if err := s.SetPassword(ctx, "op", "new-password"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUser(ctx, "op"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUser(ctx, "op"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing twice: %v", err)
	}
	us, _ := s.ListUsers(ctx)
	if len(us) != 1 || us[0].Name != "chief" {
		t.Fatalf("list: %+v", us)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openStore(t, c)
	tok, info, err := s.CreateToken(ctx, "center", Observer, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "bgt_"+info.ID+"_") || len(tok) != tokenLen {
		t.Fatalf("token %q id %q", tok, info.ID)
	}
	if _, _, err := s.CreateToken(ctx, "center", Observer, 0); !errors.Is(err, ErrExists) {
		t.Fatalf("second active token with one name: %v", err)
	}
	got, err := s.CheckToken(ctx, tok)
	if err != nil || got.Name != "center" || got.Role != Observer {
		t.Fatalf("check: %+v %v", got, err)
	}
	flip := byte('A')
	if tok[17] == 'A' {
		flip = 'B'
	}
	forged := tok[:17] + string(flip) + tok[18:]
	reasons := map[string]string{
		"":                             "malformed",
		"bgt_":                         "malformed",
		tok + "x":                      "malformed",
		forged:                         "wrong secret",
		"bgt_000000000000_" + tok[17:]: "unknown token",
	}
	for in, want := range reasons {
		_, err := s.CheckToken(ctx, in)
		var ce *CredentialError
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, want) {
			t.Errorf("token %q: %v, want reason %q", in, err, want)
		}
	}
	c.add(24 * time.Hour)
	if _, err := s.CheckToken(ctx, tok); err == nil || !strings.Contains(err.(*CredentialError).Reason, "expired") {
		t.Fatalf("expired token: %v", err)
	}
	tok2, _, err := s.CreateToken(ctx, "center", Operator, 0)
	if err != nil {
		t.Fatalf("name free again after expiry: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "center"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckToken(ctx, tok2); err == nil || !strings.Contains(err.(*CredentialError).Reason, "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
	ts, _ := s.ListTokens(ctx)
	if len(ts) != 2 || ts[0].Active(c.now()) || ts[1].Active(c.now()) {
		t.Fatalf("list: %+v", ts)
	}
	if _, err := s.RevokeToken(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

// A second Store on the same file (the CLI while the station runs) sees
// and makes changes the first one sees at once.
func TestTwoProcessesShareTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(dir, cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(dir, cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tok, _, err := b.CreateToken(ctx, "script", Operator, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckToken(ctx, tok); err != nil {
		t.Fatalf("station does not see the CLI's token: %v", err)
	}
	if _, err := b.RevokeToken(ctx, "script"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckToken(ctx, tok); err == nil {
		t.Fatal("station still accepts a token the CLI revoked")
	}
}

func TestLimiterDelaysGrow(t *testing.T) {
	c := newClock()
	l := &Limiter{FreeUser: 3, FreeAddr: 10, Base: time.Second, MaxUser: 8 * time.Second, MaxAddr: time.Hour, Now: c.now}
	var delays []time.Duration
	for range 7 {
		if w := l.Blocked("op", "10.0.0.1"); w > 0 {
			c.add(w)
		}
		delays = append(delays, l.Fail("op", "10.0.0.1"))
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if l.Blocked("op", "10.0.0.2") == 0 {
		t.Fatal("per-user block does not apply from another address")
	}
	// The user's delay stops at its cap; the guessing address's goes on.
	c.add(8 * time.Second)
	if d := l.Fail("op", "10.0.0.1"); d != 8*time.Second {
		t.Fatalf("user delay past its cap: %v", d)
	}
	for range 12 {
		c.add(time.Hour)
		l.Fail("op", "10.0.0.1")
	}
	if w := l.Blocked("op", "10.0.0.4"); w > 8*time.Second {
		t.Fatalf("the user is locked out for %v from another address", w)
	}
	if w := l.Blocked("someone-else", "10.0.0.1"); w <= 8*time.Second {
		t.Fatalf("the guessing address is blocked only %v", w)
	}
	if l.Blocked("other", "10.0.0.9") != 0 {
		t.Fatal("an unrelated user and address are blocked")
	}
	// The address limit: many users from one address.
	for i := range 12 {
		l.Fail("user"+string(rune('a'+i)), "10.0.0.3")
	}
	if l.Blocked("fresh", "10.0.0.3") == 0 {
		t.Fatal("per-address block does not apply to a fresh user name")
	}
	l.Succeed("op")
	if l.Blocked("op", "10.0.0.2") != 0 {
		t.Fatal("success did not clear the user's failures")
	}
}

func TestSessionsExpire(t *testing.T) {
	c := newClock()
	s := &Sessions{Idle: 10 * time.Minute, Absolute: time.Hour, Now: c.now}
	v, _ := s.Create(User{Name: "op"})
	for range 5 {
		c.add(9 * time.Minute)
		if _, ok := s.Lookup(v); !ok {
			t.Fatal("active session ended before its idle timeout")
		}
	}
	c.add(9 * time.Minute) // 54 min: still alive
	if _, ok := s.Lookup(v); !ok {
		t.Fatal("session ended early")
	}
	c.add(7 * time.Minute) // 61 min: past absolute
	if _, ok := s.Lookup(v); ok {
		t.Fatal("session outlived its absolute expiry")
	}
	v2, _ := s.Create(User{Name: "op"})
	c.add(10 * time.Minute)
	if _, ok := s.Lookup(v2); ok {
		t.Fatal("idle session not ended")
	}
	if _, ok := s.Lookup("forged"); ok {
		t.Fatal("forged cookie accepted")
	}
}
