package groundstation

import (
	"math"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

func TestSameItems(t *testing.T) {
	base := []mavitem.Item{
		{Seq: 0, Frame: 0, Command: 16, X: 413123000, Y: 692716000, Z: 450},
		{Seq: 1, Frame: 6, Command: 22, Z: 20},
		{Seq: 2, Frame: 6, Command: 16, Param1: 2, X: 413124000, Y: 692717000, Z: 30.25},
		{Seq: 3, Frame: 2, Command: 177, Param1: 1, Param2: -1},
	}
	clone := func() []mavitem.Item { return append([]mavitem.Item(nil), base...) }

	got := clone()
	got[0].X, got[0].Y, got[0].Z = 1, 2, 3 // ArduPilot rewrites home
	got[1].Frame = 3                       // _INT frame comes back plain
	got[2].Z = 30.249                      // centimetre storage
	got[2].Current, got[2].Autocontinue = 1, 1
	got[3].Frame = 0 // ArduCopter answers frame 0 for commands without a position (seen with RTL in the 4.7 tlog)
	if d := sameItems(mavitem.TypeMission, base, got); d != "" {
		t.Fatalf("tolerated normalisations reported as difference: %s", d)
	}
	if d := sameItems(mavitem.TypeFence, base, got); d == "" {
		t.Fatal("fence item 0 must be compared")
	}

	mut := []struct {
		name string
		f    func(it []mavitem.Item) []mavitem.Item
		want string
	}{
		{"count", func(it []mavitem.Item) []mavitem.Item { return it[:3] }, "3 items, sent 4"},
		{"command", func(it []mavitem.Item) []mavitem.Item { it[2].Command = 17; return it }, "item 2: command"},
		{"lat", func(it []mavitem.Item) []mavitem.Item { it[2].X++; return it }, "item 2: position"},
		{"alt", func(it []mavitem.Item) []mavitem.Item { it[2].Z = 31; return it }, "item 2: z"},
		{"param", func(it []mavitem.Item) []mavitem.Item { it[3].Param2 = 3; return it }, "item 3: param2"},
		{"frame", func(it []mavitem.Item) []mavitem.Item { it[1].Frame = 0; return it }, "item 1: frame"},
		{"nan", func(it []mavitem.Item) []mavitem.Item { it[3].Param1 = float32(math.NaN()); return it }, "item 3: param1"},
	}
	for _, m := range mut {
		d := sameItems(mavitem.TypeMission, base, m.f(clone()))
		if !strings.Contains(d, m.want) {
			t.Errorf("%s: difference %q, want it to mention %q", m.name, d, m.want)
		}
	}
	// An empty mission reads back as ArduPilot's home alone; an empty fence
	// must read back empty.
	if d := sameItems(mavitem.TypeMission, nil, base[:1]); d != "" {
		t.Errorf("empty mission with home kept: %s", d)
	}
	if d := sameItems(mavitem.TypeFence, nil, base[:1]); d == "" {
		t.Error("an empty fence read back with an item must differ")
	}
	nan := clone()
	nan[3].Param3 = float32(math.NaN())
	nan2 := clone()
	nan2[3].Param3 = float32(math.NaN())
	if d := sameItems(mavitem.TypeMission, nan, nan2); d != "" {
		t.Fatalf("NaN params on both sides are equal, got %s", d)
	}
}
