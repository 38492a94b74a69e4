package fleet

import (
	"testing"
	"time"
)

func TestSubscribersReportQueuesAndDrops(t *testing.T) {
	f := New(DefaultConfig())
	rec := f.Subscribe(SubscribeOptions{KeepAll: true, MaxQueue: 3, Name: "recorder"})
	defer rec.Close()
	hub := f.Subscribe(SubscribeOptions{})
	defer hub.Close()
	now := time.Now()
	for i := 0; i < 5; i++ {
		f.Update("a", now, func(v *Vehicle) { v.Connected = true; v.Lat = float64(i) })
	}
	f.Update("b", now, func(v *Vehicle) { v.Connected = false })
	got := f.Subscribers()
	if len(got) != 2 || got[0].Name != "latest" || got[1].Name != "recorder" {
		t.Fatalf("subscribers %+v", got)
	}
	if got[1].Queued != 3 || got[1].Dropped.States != 3 || !got[1].KeepAll {
		t.Errorf("recorder %+v: want 3 queued (its cap), 3 dropped of 6 updates", got[1])
	}
	if got[0].Queued != 2 || got[0].Dropped.States != 0 {
		t.Errorf("coalescing subscriber %+v: want 2 vehicles pending, nothing dropped", got[0])
	}
	rec.Next()
	if s := f.Subscribers()[1]; s.Queued != 0 || s.Dropped.States != 3 {
		t.Errorf("after Next: %+v", s)
	}
	if total, conn := f.Connected(); total != 2 || conn != 1 {
		t.Errorf("Connected() = %d, %d; want 2, 1", total, conn)
	}
}
