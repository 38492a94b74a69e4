package groundstation

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// transfers drains sub and returns every Transfer state of vehicle id it
// published, in order.
func transfers(sub *fleet.Subscription, id string) []fleet.Transfer {
	var out []fleet.Transfer
	for {
		b := sub.Next()
		if len(b.Vehicles) == 0 && len(b.Events) == 0 {
			return out
		}
		for _, v := range b.Vehicles {
			if v.ID == id && v.Transfer != nil && (len(out) == 0 || *v.Transfer != out[len(out)-1]) {
				out = append(out, *v.Transfer)
			}
		}
	}
}

// Issue 12, "per-vehicle upload progress (items confirmed) and the
// read-back verdict live; failures with the vehicle's MISSION_ACK reason":
// a verified upload to a simulated vehicle publishes its advance on the
// vehicle's state (items confirmed rising to the total, then the
// read-back, then verified), and a list the vehicle refuses ends failed
// with the vehicle's reason, MAV_MISSION_NO_SPACE.
func TestUploadProgressOnTheVehicleState(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	st, fl := startStation(t, cfg)
	startSim(t, 1, 5, port)
	id, home := waitOneVehicle(t, fl, 60*time.Second)
	sub := fl.Subscribe(fleet.SubscribeOptions{KeepAll: true, MaxQueue: 1 << 16})
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	items := patrol(home, 120) // 123 items: several progress steps
	rep, err := st.Upload(ctx, id, mavitem.TypeMission, items, UploadOptions{Verify: true})
	if err != nil || !rep.Verified {
		t.Fatalf("upload: %+v %v", rep, err)
	}
	got := transfers(sub, id)
	if len(got) < 4 {
		t.Fatalf("published %d transfer states, want the start, progress, the read-back and the verdict: %+v", len(got), got)
	}
	first, last := got[0], got[len(got)-1]
	if first.Phase != fleet.TransferUploading || first.Done != 0 || first.Total != len(items) || first.Type != "mission" || first.Attempt != 1 {
		t.Fatalf("first state %+v", first)
	}
	if last.Phase != fleet.TransferVerified || last.Done != len(items) || last.Total != len(items) || last.Error != "" {
		t.Fatalf("last state %+v", last)
	}
	if got[len(got)-2].Phase != fleet.TransferVerifying {
		t.Fatalf("the state before the verdict is %+v, want the read-back", got[len(got)-2])
	}
	between := 0
	for i := 1; i < len(got)-2; i++ {
		if got[i].Attempt == got[i-1].Attempt && got[i].Done < got[i-1].Done {
			t.Fatalf("items confirmed went back within attempt %d: %+v then %+v", got[i].Attempt, got[i-1], got[i])
		}
		if got[i].Done > 0 && got[i].Done < len(items) {
			between++
		}
	}
	if between == 0 {
		t.Fatalf("no state between none and all items confirmed: %+v", got)
	}
	if len(got) > 2*transferSteps+10 {
		t.Fatalf("%d states published for one upload, want about %d at most", len(got), transferSteps)
	}
	if v, _ := fl.Get(id); v.Transfer == nil || v.Transfer.Phase != fleet.TransferVerified {
		t.Fatalf("the vehicle's state keeps %+v, want the verdict", v.Transfer)
	}

	// More than the vehicle can store: refused, with its reason.
	big := patrol(home, vehicle.MaxMissionItems)
	if _, err := st.Upload(ctx, id, mavitem.TypeMission, big, UploadOptions{Verify: true}); err == nil {
		t.Fatal("an upload over the vehicle's capacity succeeded")
	}
	got = transfers(sub, id)
	if len(got) == 0 {
		t.Fatal("the refused upload published no state")
	}
	last = got[len(got)-1]
	if last.Phase != fleet.TransferFailed || !strings.Contains(last.Error, "MAV_MISSION_NO_SPACE") || last.Total != len(big) {
		t.Fatalf("refused upload's last state %+v, want failed naming MAV_MISSION_NO_SPACE", last)
	}
}

// A 700-item upload publishes a bounded number of progress states (not
// one per item), always the first and the last item, and the verdict.
func TestTransferStatePublishesBoundedProgress(t *testing.T) {
	fl := fleet.New(fleet.DefaultConfig())
	fl.Update("v1", time.Unix(1_800_000_000, 0), func(v *fleet.Vehicle) {})
	sub := fl.Subscribe(fleet.SubscribeOptions{KeepAll: true, MaxQueue: 1 << 16})
	defer sub.Close()
	const n = 700
	ts := newTransferState(fl, "v1", "mission", n)
	ts.attempt(1)
	for done := 1; done <= n; done++ {
		ts.progress(done, n)
	}
	ts.verifying()
	ts.end(fleet.TransferVerified, nil)
	var got []fleet.Transfer
	for b := sub.Next(); len(b.Vehicles) > 0; b = sub.Next() {
		for _, v := range b.Vehicles {
			got = append(got, *v.Transfer)
		}
	}
	if len(got) > transferSteps+5 {
		t.Fatalf("%d states published for %d items, want about %d", len(got), n, transferSteps)
	}
	if got[0].Done != 0 || got[0].Phase != fleet.TransferUploading {
		t.Fatalf("first state %+v", got[0])
	}
	sawLast := false
	for _, s := range got {
		sawLast = sawLast || s.Phase == fleet.TransferUploading && s.Done == n
	}
	if !sawLast {
		t.Fatalf("the last item confirmed was not published: %+v", got)
	}
	if last := got[len(got)-1]; last.Phase != fleet.TransferVerified || last.Done != n {
		t.Fatalf("verdict %+v", last)
	}
	// A failure keeps the items confirmed so far and says why.
	ts = newTransferState(fl, "v1", "fence", 10)
	ts.attempt(2)
	ts.progress(3, 10)
	ts.end(fleet.TransferFailed, fmt.Errorf("vehicle refused the transfer: MAV_MISSION_DENIED"))
	if v, _ := fl.Get("v1"); v.Transfer.Phase != fleet.TransferFailed || v.Transfer.Done != 3 || v.Transfer.Attempt != 2 || !strings.Contains(v.Transfer.Error, "MAV_MISSION_DENIED") {
		t.Fatalf("failed transfer %+v", v.Transfer)
	}
}

// An operator's upload that starts while something else reads the same
// list from the vehicle (a console drawing its on-board mission) waits
// for the read instead of failing busy; so does a second read.
func TestUploadWaitsForADownloadInProgress(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	st, fl := startStation(t, cfg)
	sim := startSim(t, 1, 6, port)
	id, home := waitOneVehicle(t, fl, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	items := patrol(home, 60)
	if _, err := st.Upload(ctx, id, mavitem.TypeMission, items, UploadOptions{Verify: true}); err != nil {
		t.Fatal(err)
	}
	// A few milliseconds each way make the read take a while.
	sim.Vehicle(0).SetLinkFaults(simulator.LinkFaults{Latency: 3 * time.Millisecond})
	rec := st.reg.get(id)
	started := make(chan struct{})
	var once sync.Once
	read := make(chan error, 1)
	go func() {
		_, err := rec.sess.Download(ctx, mavitem.TypeMission, func(done, total int) {
			if done > 0 {
				once.Do(func() { close(started) })
			}
		})
		read <- err
	}()
	select {
	case <-started:
	case err := <-read:
		t.Fatalf("the read ended before the upload could start: %v", err)
	}
	second := make(chan error, 1)
	go func() {
		_, err := st.Download(ctx, id, mavitem.TypeMission)
		second <- err
	}()
	rep, err := st.Upload(ctx, id, mavitem.TypeMission, patrol(home, 8), UploadOptions{Verify: true})
	if err != nil || !rep.Verified {
		t.Fatalf("upload during a read: %+v %v", rep, err)
	}
	if err := <-read; err != nil {
		t.Fatalf("the read: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("a second read during the first: %v", err)
	}
}
