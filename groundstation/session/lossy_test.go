package session

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// frameLog records what a session sends, for tests that drive a transfer
// by hand.
type frameLog struct {
	mu   sync.Mutex
	msgs []message.Message
}

func (f *frameLog) send(m message.Message) error {
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	return nil
}

// take returns what was sent since the last take.
func (f *frameLog) take() []message.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.msgs
	f.msgs = nil
	return out
}

// copiesBySeq counts the MISSION_ITEM_INTs of each seq in msgs.
func copiesBySeq(msgs []message.Message) map[int]int {
	n := map[int]int{}
	for _, m := range msgs {
		if it, ok := m.(*common.MessageMissionItemInt); ok {
			n[int(it.Seq)]++
		}
	}
	return n
}

func ardupilotVehicle(t *testing.T, f *frameLog) *Vehicle {
	t.Helper()
	v := New(SenderFunc(f.send), Target{1, 1}, Options{Log: discardLog()})
	t.Cleanup(v.Close)
	v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
	return v
}

// An upload's copies follow the loss the station measures while it runs,
// not only the figure at its start: a link that read 2 % from a few
// telemetry frames and then 25 % from the upload's own replies gets more
// copies for the items sent after. Before, the station's figure was read
// once at the start, and vehicles whose 5 s figure read low (10 % on a
// 20 % link) sent too few copies for the whole upload and stalled.
func TestUploadCopiesFollowTheLinksLossMidTransfer(t *testing.T) {
	f := &frameLog{}
	v := ardupilotVehicle(t, f)
	v.SetLinkLoss(0.02)
	u := v.newUpload(mavitem.TypeMission, testItems(400, mavitem.TypeMission), nil)
	now := time.Unix(1000, 0)
	if err := u.start(now); err != nil {
		t.Fatal(err)
	}
	f.take()
	rtt := 200 * time.Millisecond
	now = now.Add(rtt)
	if _, err := u.handle(&common.MessageMissionRequestInt{Seq: 0}, now); err != nil {
		t.Fatal(err)
	}
	first := copiesBySeq(f.take())
	if want := copiesFor(0.02, u.window); first[0] != want {
		t.Fatalf("at 2 %% loss item 0 went out in %d copies, want %d", first[0], want)
	}
	v.SetLinkLoss(0.25)
	var later map[int]int
	for seq := 1; seq <= 20; seq++ {
		now = now.Add(10 * time.Millisecond)
		if _, err := u.handle(&common.MessageMissionRequestInt{Seq: uint16(seq)}, now); err != nil {
			t.Fatal(err)
		}
		later = copiesBySeq(f.take())
		if len(later) > 0 {
			break
		}
	}
	want := copiesFor(0.25, u.window)
	if want <= first[0] {
		t.Fatalf("test premise: %d copies at 25 %% not above %d at 2 %%", want, first[0])
	}
	for seq, n := range later {
		if n != want {
			t.Fatalf("after the station measured 25 %% loss, item %d went out in %d copies, want %d", seq, n, want)
		}
	}
	if len(later) == 0 {
		t.Fatal("no items sent after the requests")
	}
}

// A retransmission timeout that fired while the vehicle's request was only
// late — the request for the next item comes sooner after the go-back
// than any answer to it could — is learnt: the timeout grows past the
// round trip that fired it, and the window the go-back shrank is given
// back. Before, Karn's rule kept every such round trip out of the
// estimate, so on a loaded machine the same lateness fired again and again
// (26–30 go-backs per 700 items where the loss explains 6).
func TestSpuriousRetransmissionTimeoutIsLearnt(t *testing.T) {
	f := &frameLog{}
	v := ardupilotVehicle(t, f)
	v.SetLinkLoss(0)
	u := v.newUpload(mavitem.TypeMission, testItems(400, mavitem.TypeMission), nil)
	now := time.Unix(1000, 0)
	if err := u.start(now); err != nil {
		t.Fatal(err)
	}
	rtt := 200 * time.Millisecond
	// 40 requests on time: each answers an item sent once, rtt after it
	sentAt := map[int]time.Time{}
	for seq := 0; seq < 40; seq++ {
		if seq > 0 {
			now = sentAt[seq-1].Add(rtt)
		} else {
			now = now.Add(rtt)
		}
		if _, err := u.handle(&common.MessageMissionRequestInt{Seq: uint16(seq)}, now); err != nil {
			t.Fatal(err)
		}
		for s := range copiesBySeq(f.take()) {
			if _, ok := sentAt[s]; !ok {
				sentAt[s] = now
			}
		}
	}
	rto := u.rto()
	window := u.window
	// the request for item 40 is late: the timeout fires first
	late := rto + 60*time.Millisecond
	if _, err := u.timeout(u.rtoAt()); err != nil {
		t.Fatal(err)
	}
	if u.stalls != 1 || u.window >= window {
		t.Fatalf("timeout did not go back: stalls %d, window %d (was %d)", u.stalls, u.window, window)
	}
	now = sentAt[39].Add(late) // 60 ms after the go-back: it answers the first send
	if _, err := u.handle(&common.MessageMissionRequestInt{Seq: 40}, now); err != nil {
		t.Fatal(err)
	}
	if u.spurious != 1 {
		t.Fatalf("spurious go-backs = %d, want 1", u.spurious)
	}
	if got := u.est.rto(); got <= late {
		t.Fatalf("timeout after a request %v late is %v: it would fire again", late, got)
	}
	if u.window < window {
		t.Fatalf("window %d after a spurious go-back, want it restored to %d", u.window, window)
	}
}

// A fast read-back (ArduPilot) asks for each item in copies sized from the
// link's loss, with many items in flight, and asks again for a lost item
// after a retransmission timeout of the measured round trip — the last
// item too, for which no later item arrives to show the loss. Before, a
// read-back sent one request per item, 16 at a time, and a lost last item
// waited the silence timeout (1.5 s).
func TestFastDownloadCopiesAndReRequestsALostTailItem(t *testing.T) {
	mv := newModelVehicle()
	items := testItems(100, mavitem.TypeMission)
	mv.lists[mavitem.TypeMission] = items
	dropped := 0
	model := func(msg message.Message) []message.Message {
		if r, ok := msg.(*common.MessageMissionRequestInt); ok && r.Seq == 99 && dropped < downloadCopies(0.2, false) {
			dropped++ // every copy of the first request for the last item is lost
			return nil
		}
		return mv.handle(msg)
	}
	opts := Options{MissionItemTimeout: 1500 * time.Millisecond}
	l := newWorld(t, opts, faults{}, 100*time.Millisecond, 1, model).withModel(mv)
	l.v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
	l.v.SetLinkLoss(0.2)
	got, err := l.v.Download(context.Background(), mavitem.TypeMission, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, items) {
		t.Fatal("read-back differs")
	}
	perSeq := map[int]int{}
	for _, m := range l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageMissionRequestInt); return ok }) {
		perSeq[int(m.(*common.MessageMissionRequestInt).Seq)]++
	}
	if c := downloadCopies(0.2, false); perSeq[0] != c || c < 2 {
		t.Fatalf("item 0 requested %d times, want %d copies (> 1 at 20 %% loss)", perSeq[0], c)
	}
	if perSeq[99] != downloadCopies(0.2, false)+downloadCopies(0.2, true) {
		t.Fatalf("lost last item requested %d times, want one round of copies and one re-request", perSeq[99])
	}
	if l.elapsed() >= opts.MissionItemTimeout {
		t.Fatalf("read-back took %v of virtual time: the lost last item waited for the silence timeout", l.elapsed())
	}
}

// An autopilot the station does not know keeps the plain read-back: one
// request per item, at most MissionWindow in flight (PX4 answers only the
// seq it expects next, so more is not safe for every autopilot).
func TestDownloadStaysPlainForUnknownAutopilots(t *testing.T) {
	mv := newModelVehicle()
	items := testItems(100, mavitem.TypeMission)
	mv.lists[mavitem.TypeMission] = items
	l := newWorld(t, Options{MissionWindow: 4}, faults{}, 100*time.Millisecond, 1, mv.handle).withModel(mv)
	l.v.SetLinkLoss(0.2)
	if _, err := l.v.Download(context.Background(), mavitem.TypeMission, nil); err != nil {
		t.Fatal(err)
	}
	perSeq := map[int]int{}
	for _, m := range l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageMissionRequestInt); return ok }) {
		perSeq[int(m.(*common.MessageMissionRequestInt).Seq)]++
	}
	for seq, n := range perSeq {
		if n != 1 {
			t.Fatalf("item %d requested %d times on a clean link, want 1", seq, n)
		}
	}
}

// When the vehicle's final ACCEPTED comes after a MAV_MISSION_ERROR that
// answered a stray copy (the read-back that tells the two apart has
// begun), the ACCEPTED settles it: the upload succeeded, and the 700-item
// read-back on a lossy link is not needed. Before, the read-back ran to
// the end (27 s for one vehicle of 100 at 20 % loss).
func TestUploadAcceptedDuringReadBackEndsIt(t *testing.T) {
	mv := newModelVehicle()
	var held bool
	model := func(msg message.Message) []message.Message {
		switch msg.(type) {
		case *common.MessageMissionItemInt:
			out := mv.handle(msg)
			for i, m := range out {
				if a, ok := m.(*common.MessageMissionAck); ok && a.Type == common.MAV_MISSION_ACCEPTED {
					out[i] = ack(mavitem.TypeMission, common.MAV_MISSION_ERROR) // a stray's answer overtakes it
					held = true
				}
			}
			return out
		case *common.MessageMissionRequestInt:
			out := mv.handle(msg)
			if held { // the ACCEPTED, late, once the read-back began
				held = false
				out = append(out, ack(mavitem.TypeMission, common.MAV_MISSION_ACCEPTED))
			}
			return out
		}
		return mv.handle(msg)
	}
	l := newWorld(t, fastOpts(), faults{}, 0, 1, model)
	l.v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
	items := testItems(50, mavitem.TypeMission)
	if err := l.v.Upload(context.Background(), mavitem.TypeMission, items, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mv.list(mavitem.TypeMission), items) {
		t.Fatal("mission differs")
	}
	reqs := l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageMissionRequestInt); return ok })
	if len(reqs) == 0 {
		t.Fatal("test premise: the read-back never began")
	}
	if len(reqs) >= len(items) {
		t.Fatalf("%d read-back requests for %d items: the late ACCEPTED did not end the read-back", len(reqs), len(items))
	}
}

// A fast read-back asks for the list in copies too: at 20 % loss one
// MISSION_REQUEST_LIST and its answer fail together 36 % of the time, and
// in a round of 100 read-backs one vehicle failed six in a row.
func TestFastDownloadRequestsTheListInCopies(t *testing.T) {
	mv := newModelVehicle()
	mv.lists[mavitem.TypeMission] = testItems(5, mavitem.TypeMission)
	l := newWorld(t, Options{}, faults{}, 100*time.Millisecond, 1, mv.handle).withModel(mv)
	l.v.SetAutopilot(uint8(common.MAV_AUTOPILOT_ARDUPILOTMEGA))
	l.v.SetLinkLoss(0.2)
	if _, err := l.v.Download(context.Background(), mavitem.TypeMission, nil); err != nil {
		t.Fatal(err)
	}
	lists := l.sentOf(func(m message.Message) bool { _, ok := m.(*common.MessageMissionRequestList); return ok })
	if want := downloadCopies(0.2, true); len(lists) != want || want < 2 {
		t.Fatalf("%d MISSION_REQUEST_LISTs at 20 %% loss, want %d copies (> 1)", len(lists), want)
	}
}
