package vehicle

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/internal/mavitem"
)

// circleFence is one inclusion polygon of n vertices on a 100 m circle
// around home.
func circleFence(n int) []mavitem.Item {
	out := make([]mavitem.Item, n)
	for i := range out {
		th := 2 * math.Pi * float64(i) / float64(n)
		out[i] = wp(uint16(i), mavitem.CmdFencePolyInclusion, 100*math.Cos(th), 100*math.Sin(th), 0)
		out[i].Param1 = float32(n)
		out[i].Frame = mavitem.FrameGlobal
		out[i].MissionType = mavitem.TypeFence
	}
	return out
}

// ArduCopter keeps the fence in 560 bytes: at most 70 items, and a 69
// vertex polygon is the largest whose records fit (4 + 2 + 8·69 + 1).
func TestFenceStorageLikeArduCopter(t *testing.T) {
	v := newReady(t, Config{})
	if items, bytes := v.FenceCapacity(); items != 70 || bytes != 560 {
		t.Fatalf("capacity %d items / %d bytes, want ArduCopter's 70 / 560", items, bytes)
	}
	if err := v.SetFence(circleFence(69)); err != nil {
		t.Fatalf("69-vertex polygon: %v", err)
	}
	var ie *ItemError
	err := v.SetFence(circleFence(70))
	if !errors.As(err, &ie) || ie.Result != MissionError || !strings.Contains(err.Error(), "exceeds storage") {
		t.Fatalf("70-vertex polygon (567 bytes): %v, want MAV_MISSION_ERROR, exceeds storage", err)
	}
	if len(v.Fence()) != 69 {
		t.Fatalf("a refused fence replaced the stored one: %d items", len(v.Fence()))
	}
	err = v.SetFence(circleFence(71))
	if !errors.As(err, &ie) || ie.Result != MissionNoSpace {
		t.Fatalf("71 items: %v, want MAV_MISSION_NO_SPACE", err)
	}
	// Twenty exclusion circles and a triangle: 23 items, 4+2+24+260+1 bytes.
	fence := circleFence(3)
	for i := 0; i < 20; i++ {
		c := wp(uint16(3+i), mavitem.CmdFenceCircleExclusion, float64(10*i), 0, 0)
		c.Param1, c.Frame, c.MissionType = 2, mavitem.FrameGlobal, mavitem.TypeFence
		fence = append(fence, c)
	}
	if err := v.SetFence(fence); err != nil {
		t.Fatalf("triangle and 20 circles (291 bytes): %v", err)
	}
}

// BRD_SD_FENCE moves the fence to the SD card: k kB, at most 255 items.
func TestFenceStorageOnSDCard(t *testing.T) {
	v := newReady(t, Config{})
	setParam(t, v, "BRD_SD_FENCE", 4)
	if items, bytes := v.FenceCapacity(); items != 255 || bytes != 4096 {
		t.Fatalf("capacity %d items / %d bytes, want 255 / 4096", items, bytes)
	}
	if err := v.SetFence(circleFence(200)); err != nil {
		t.Fatalf("200-vertex polygon on a 4 kB SD fence: %v", err)
	}
	if err := v.SetFence(circleFence(256)); err == nil {
		t.Fatal("256 items accepted, ArduPilot takes at most 255")
	}
	setParam(t, v, "BRD_SD_FENCE", 1)
	if err := v.SetFence(circleFence(200)); err == nil {
		t.Fatal("a 200-vertex polygon (1607 bytes) accepted into 1 kB")
	}
}
