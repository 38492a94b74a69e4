package alertack

import (
	"testing"
	"time"
)

func TestFirstAckCountsAndTheTableIsBounded(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tb := New(2, func() time.Time { return at })
	a, first := tb.Ack(7, "op1")
	if !first || a.By != "op1" || !a.At.Equal(at) {
		t.Fatalf("first ack: %+v %v", a, first)
	}
	at = at.Add(time.Minute)
	if a, first := tb.Ack(7, "op2"); first || a.By != "op1" {
		t.Fatalf("second ack of 7: %+v %v, want op1's kept", a, first)
	}
	if _, ok := tb.Get(8); ok {
		t.Fatal("8 acknowledged without an ack")
	}
	tb.Ack(8, "op2")
	tb.Ack(9, "op2")
	if _, ok := tb.Get(7); ok {
		t.Fatal("the oldest ack was kept past the bound")
	}
	if a, ok := tb.Get(9); !ok || a.By != "op2" {
		t.Fatalf("ack of 9: %+v %v", a, ok)
	}
}
