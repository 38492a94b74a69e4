package apparam

import (
	"math"
	"testing"
)

func TestInt(t *testing.T) {
	cases := []struct {
		in     float64
		want   int64
		wantOK bool
	}{
		{0, 0, true},
		{0.5, 0, true},
		{0.98, 0, true},
		{0.995, 1, true},
		{1, 1, true},
		{2.7, 2, true},
		{2.9999, 3, true},
		{-0.5, 0, true},
		{-1, -1, true},
		{-2.7, -2, true},
		{40000, 32767, true},
		{-40000, -32768, true},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{math.Inf(-1), 0, false},
	}
	for _, c := range cases {
		got, ok := Int(c.in, Int16Min, Int16Max)
		if got != c.want || ok != c.wantOK {
			t.Errorf("Int(%v) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.wantOK)
		}
	}
}

func TestSDStorageBytes(t *testing.T) {
	cases := []struct {
		kb   float64
		want int
	}{
		{0, 0},        // the board's own storage
		{0.5, 0},      // stored as 0: the board's own storage
		{0.995, 1024}, // stored as 1
		{1, 1024},
		{1.5, 1024},
		{16, 16384},
		{63, 64512},
		{64, 65535}, // 65536 bytes capped to 16-bit offsets
		{1000, 65535},
		{-1, 65535}, // int16 −1 read as uint16 65535 kB
		{math.NaN(), 0},
		{math.Inf(1), 0},
	}
	for _, c := range cases {
		if got := SDStorageBytes(c.kb); got != c.want {
			t.Errorf("SDStorageBytes(%v) = %d, want %d", c.kb, got, c.want)
		}
	}
}
