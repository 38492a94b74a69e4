package fleet

import (
	"reflect"
	"testing"
	"time"
)

// UpdatePending changes the fleet at once but hands its states to the
// subscribers only at Flush, in order, with their causes; a state that
// derives an event is published at once, after what was pending, and
// the result is what UpdateRef would have delivered.
func TestUpdatePendingHandsStatesOverAtFlush(t *testing.T) {
	batched, direct := New(DefaultConfig()), New(DefaultConfig())
	subB := batched.Subscribe(SubscribeOptions{KeepAll: true})
	defer subB.Close()
	coalB := batched.Subscribe(SubscribeOptions{})
	defer coalB.Close()
	subD := direct.Subscribe(SubscribeOptions{KeepAll: true})
	defer subD.Close()
	var p Pending
	var ra, rb, da, db Ref
	// The first update of a vehicle derives "connected": published at once.
	batched.UpdatePending(&p, &ra, "a", t0, 0, func(v *Vehicle) {})
	direct.UpdateRef(&da, "a", t0, 0, func(v *Vehicle) {})
	batched.UpdatePending(&p, &rb, "b", t0, 1, func(v *Vehicle) {})
	direct.UpdateRef(&db, "b", t0, 1, func(v *Vehicle) {})
	if got := subB.Next(); len(got.Vehicles) != 2 || len(got.Events) != 2 || p.Len() != 0 {
		t.Fatalf("first updates: %d states, %d events, %d pending; want 2, 2, 0 (events go at once)", len(got.Vehicles), len(got.Events), p.Len())
	}
	subD.Next()
	for i := 2; i < 6; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		ref, dref, id := &ra, &da, "a"
		if i%2 == 1 {
			ref, dref, id = &rb, &db, "b"
		}
		batched.UpdatePending(&p, ref, id, at, i, func(v *Vehicle) { v.Lat = float64(i) })
		direct.UpdateRef(dref, id, at, i, func(v *Vehicle) { v.Lat = float64(i) })
	}
	if a, _ := batched.Get("a"); a.Lat != 4 {
		t.Fatalf("the fleet's own state of a: lat %v, want 4 (changed at once)", a.Lat)
	}
	if got := subB.Next(); len(got.Vehicles) != 0 || p.Len() != 4 {
		t.Fatalf("before Flush: %d states delivered, %d pending; want 0, 4", len(got.Vehicles), p.Len())
	}
	select {
	case <-coalB.C:
		coalB.Next()
	default:
	}
	batched.Flush(&p)
	select {
	case <-coalB.C:
	default:
		t.Fatal("Flush did not signal the coalescing subscriber")
	}
	// Then an update that derives an event (arming) while one is pending.
	at := t0.Add(10 * time.Second)
	batched.UpdatePending(&p, &ra, "a", at, 10, func(v *Vehicle) { v.Lat = 10 })
	direct.UpdateRef(&da, "a", at, 10, func(v *Vehicle) { v.Lat = 10 })
	batched.UpdatePending(&p, &rb, "b", at, 11, func(v *Vehicle) { v.Armed = true })
	direct.UpdateRef(&db, "b", at, 11, func(v *Vehicle) { v.Armed = true })
	if p.Len() != 0 {
		t.Fatalf("%d pending after an update with an event, want 0 (flushed before it)", p.Len())
	}
	got, want := subB.Next(), subD.Next()
	if len(got.Vehicles) != 6 || !reflect.DeepEqual(got.Vehicles, want.Vehicles) || !reflect.DeepEqual(got.Causes, want.Causes) {
		t.Fatalf("batched states:\n%+v\ncauses %v\ndirect:\n%+v\ncauses %v", got.Vehicles, got.Causes, want.Vehicles, want.Causes)
	}
	if !reflect.DeepEqual(kinds(got.Events), kinds(want.Events)) || len(got.Events) != 1 {
		t.Fatalf("events batched %v, direct %v (want armed)", kinds(got.Events), kinds(want.Events))
	}
	c := coalB.Next()
	if len(c.Vehicles) != 2 || c.Vehicles[0].Lat != 10 || !c.Vehicles[1].Armed {
		t.Fatalf("coalesced: %+v", c.Vehicles)
	}
}

// A writer's pending state that reaches a coalescing subscriber after a
// newer state of the same vehicle (published meanwhile by another writer
// or by SetControl) does not replace it — queued or already taken — while
// a subscriber that keeps every state gets both.
func TestPendingStateNeverReplacesANewerOne(t *testing.T) {
	f := New(DefaultConfig())
	f.Update("a", t0, func(v *Vehicle) {})
	coal := f.Subscribe(SubscribeOptions{})
	defer coal.Close()
	all := f.Subscribe(SubscribeOptions{KeepAll: true})
	defer all.Close()
	for _, taken := range []bool{false, true} {
		var p Pending
		var ref Ref
		f.UpdatePending(&p, &ref, "a", t0.Add(time.Second), nil, func(v *Vehicle) { v.Lat = 1 })
		f.Update("a", t0.Add(2*time.Second), func(v *Vehicle) { v.Lat = 2 }) // another writer
		if taken {
			if b := coal.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Lat != 2 {
				t.Fatalf("taken: %+v, want lat 2", b.Vehicles)
			}
		}
		f.Flush(&p)
		b := coal.Next()
		switch {
		case taken && len(b.Vehicles) != 0:
			t.Fatalf("after the newer state was taken, the older one was delivered: %+v", b.Vehicles)
		case !taken && (len(b.Vehicles) != 1 || b.Vehicles[0].Lat != 2):
			t.Fatalf("queued: %+v, want the newer state (lat 2) only", b.Vehicles)
		}
		if b := all.Next(); len(b.Vehicles) != 2 || b.Vehicles[0].Lat != 2 || b.Vehicles[1].Lat != 1 {
			t.Fatalf("keep-all: %+v, want both states in the order they reached it", b.Vehicles)
		}
		f.SetControl("a", "op", t0) // published at once: newer revisions again
		f.SetControl("a", "", t0)
		coal.Next()
		all.Next()
	}
	// A newer pending state does replace an older queued one.
	var p Pending
	var ref Ref
	coal.Next()
	f.Update("a", t0.Add(5*time.Second), func(v *Vehicle) { v.Lat = 5 })
	f.UpdatePending(&p, &ref, "a", t0.Add(6*time.Second), nil, func(v *Vehicle) { v.Lat = 6 })
	f.Flush(&p)
	if b := coal.Next(); len(b.Vehicles) != 1 || b.Vehicles[0].Lat != 6 {
		t.Fatalf("newer pending state: %+v, want lat 6", b.Vehicles)
	}
}

// A StatesOnTick subscription hands out, at Next, the fleet's current
// state of every vehicle changed since the last call, once each, in the
// order they first changed, with their slots — whatever wrote the change
// (an update, a writer's pending batch, SetControl).
func TestStatesOnTickTakesCurrentStatesOfChangedVehicles(t *testing.T) {
	f := New(DefaultConfig())
	for _, id := range []string{"a", "b", "c"} {
		f.Update(id, t0, func(v *Vehicle) {})
	}
	sub := f.Subscribe(SubscribeOptions{StatesOnTick: true})
	defer sub.Close()
	if b := sub.Next(); len(b.Vehicles) != 0 {
		t.Fatalf("nothing changed since the subscription, got %d states", len(b.Vehicles))
	}
	var p Pending
	var ref Ref
	for i := 1; i <= 3; i++ {
		f.Update("c", t0.Add(time.Duration(i)*time.Second), func(v *Vehicle) { v.Lat = float64(i) })
		f.UpdatePending(&p, &ref, "a", t0.Add(time.Duration(i)*time.Second), nil, func(v *Vehicle) { v.Lat = float64(10 + i) })
	}
	f.Flush(&p)
	f.SetControl("b", "op", t0)
	f.Update("c", t0.Add(5*time.Second), func(v *Vehicle) { v.Lat = 5 })
	first := sub.Next()
	check := func(b Batch, ids []string, lats []float64) {
		t.Helper()
		if len(b.Vehicles) != len(ids) || len(b.Slots) != len(ids) {
			t.Fatalf("%d states, %d slots; want %v", len(b.Vehicles), len(b.Slots), ids)
		}
		for i, v := range b.Vehicles {
			slot, _ := f.Slot(v.ID)
			if v.ID != ids[i] || v.Lat != lats[i] || b.Slots[i] != slot {
				t.Fatalf("state %d: %s lat %v slot %d; want %s lat %v slot %d", i, v.ID, v.Lat, b.Slots[i], ids[i], lats[i], slot)
			}
		}
	}
	check(first, []string{"c", "a", "b"}, []float64{5, 13, 0})
	if first.Vehicles[2].Control == nil || first.Vehicles[2].Control.Holder != "op" {
		t.Fatalf("b's state does not carry its new control: %+v", first.Vehicles[2].Control)
	}
	f.Update("b", t0.Add(6*time.Second), func(v *Vehicle) { v.Lat = 6 })
	second := sub.Next()
	check(second, []string{"b"}, []float64{6})
	if b := sub.Next(); len(b.Vehicles) != 0 {
		t.Fatalf("nothing changed, got %d states", len(b.Vehicles))
	}
}
