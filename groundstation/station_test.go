package groundstation

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// idByUID maps each simulated vehicle to the fleet ID the station gave it,
// failing when a vehicle is missing.
func idByUID(t *testing.T, fl *fleet.Fleet, sim *simulator.Sim) []string {
	t.Helper()
	byUID := map[uint64]string{}
	for _, v := range fl.List() {
		byUID[v.UID] = v.ID
	}
	ids := make([]string, sim.Len())
	for i := range ids {
		id, ok := byUID[sim.Vehicle(i).UID()]
		if !ok {
			t.Fatalf("simulated vehicle %d (uid %x) not in the fleet", i, sim.Vehicle(i).UID())
		}
		ids[i] = id
	}
	return ids
}

func TestDiscoverTwentyVehicles(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	st, fl := startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	sim := startSim(t, 20, 1, port)

	bySys := map[uint8]int{}
	for i := 0; i < sim.Len(); i++ {
		bySys[sim.Vehicle(i).SystemID()] = i
	}
	// Complete: every field the simulator reports has arrived (GPS fix and
	// home compared with the simulator's own state, as they depend on it).
	complete := func(v fleet.Vehicle) bool {
		s := sim.Vehicle(bySys[v.SystemID]).State()
		return v.UID != 0 && v.Lat != 0 && v.Mode != "" && v.BatteryPct >= 0 && v.GPSFix == int(s.GPSFixType) &&
			(v.Home != nil) == s.HomeSet && len(v.Video) > 0 && v.LinkQuality.Received > 0 && v.SystemStatus != ""
	}
	testenv.Eventually(t, 60*time.Second, "20 vehicles with full state", func() bool {
		vs := fl.List()
		if len(vs) != 20 {
			return false
		}
		for _, v := range vs {
			if !complete(v) {
				return false
			}
		}
		return true
	})
	ids := idByUID(t, fl, sim)
	seen := map[string]bool{}
	link := fmt.Sprintf("udp%d", port)
	for i, id := range ids {
		if seen[id] {
			t.Fatalf("two simulated vehicles share ID %s", id)
		}
		seen[id] = true
		sv := sim.Vehicle(i)
		want := fmt.Sprintf("uav-%016x", sv.UID())
		if id != want {
			t.Errorf("vehicle %d: ID %q, want %q (uav-UID for a new UID)", i, id, want)
		}
		v, _ := fl.Get(id)
		s := sv.State()
		if v.SystemID != sv.SystemID() || v.Link != link || v.ComponentID != 1 {
			t.Errorf("%s: identity sys %d comp %d link %q", id, v.SystemID, v.ComponentID, v.Link)
		}
		if math.Abs(v.Lat-s.Lat) > 1e-3 || math.Abs(v.Lon-s.Lon) > 1e-3 {
			t.Errorf("%s: position %.6f,%.6f, simulator says %.6f,%.6f", id, v.Lat, v.Lon, s.Lat, s.Lon)
		}
		if v.Mode != modeName(common.MAV_AUTOPILOT_ARDUPILOTMEGA, common.MAV_TYPE_QUADROTOR, common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, s.CustomMode) {
			t.Errorf("%s: mode %q, simulator custom mode %d", id, v.Mode, s.CustomMode)
		}
		if v.Armed != s.Armed || !v.Connected || v.Type != "quadrotor" || v.Autopilot != "ardupilotmega" {
			t.Errorf("%s: armed %v connected %v type %q autopilot %q", id, v.Armed, v.Connected, v.Type, v.Autopilot)
		}
		if math.Abs(v.BatteryPct-s.BatteryRemainingPct) > 2 {
			t.Errorf("%s: battery %.0f %%, simulator %.0f %%", id, v.BatteryPct, s.BatteryRemainingPct)
		}
		if v.Video[0].URI == "" || v.Video[0].CameraID != 100 || !strings.Contains(v.Video[0].URI, fmt.Sprint(sv.SystemID())) {
			t.Errorf("%s: video %+v", id, v.Video)
		}
		// Full state arrives on the simulator's default streams; the
		// acknowledgement of the station's rate requests may still be on
		// its way (at load 18 under -race a setup took 5-6 rounds).
		var info VehicleInfo
		for until := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var err error
			if info, err = st.Vehicle(id); err != nil {
				t.Fatal(err)
			}
			if info.StreamsAccepted || time.Now().After(until) {
				break
			}
		}
		if info.RateRequests < 1 || !info.StreamsAccepted || info.UID != sv.UID() {
			t.Errorf("%s: station info %+v", id, info)
		}
	}
	links := st.Links()
	if len(links) != 1 || links[0].Vehicles != 20 || links[0].Channels != 20 || links[0].Name != link {
		t.Errorf("links %+v", links)
	}
	// The requested 10 Hz streams arrive: the per-vehicle rate climbs well
	// above the simulator's defaults alone would give one message type.
	testenv.Eventually(t, 20*time.Second, "link rate above 20 Hz on every vehicle", func() bool {
		for _, v := range fl.List() {
			if v.LinkQuality.RateHz < 20 {
				return false
			}
		}
		return true
	})
	if _, err := st.Session("nope-1"); err == nil {
		t.Fatal("unknown vehicle: no error")
	}
}

func TestLinkLostAndRegained(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	st, fl := startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	sim := startSim(t, 2, 7, port)
	testenv.Eventually(t, 30*time.Second, "2 vehicles", func() bool { return len(fl.List()) == 2 })
	ids := idByUID(t, fl, sim)
	id := ids[0]
	testenv.Eventually(t, 20*time.Second, "first stream round", func() bool {
		info, _ := st.Vehicle(id)
		return info.RateRequests >= 1 && info.StreamsAccepted
	})
	before, _ := st.Vehicle(id)

	since := lastSeq(fl)
	cut := time.Now()
	sim.Vehicle(0).LinkDown(0)
	lost := waitEvent(t, fl, since, id, fleet.EventLinkLost, 20*time.Second)
	if lost.Time.Sub(cut) < st.cfg.HeartbeatTimeout-time.Second {
		t.Errorf("link_lost %v after the cut, before the %v heartbeat timeout could pass", lost.Time.Sub(cut), st.cfg.HeartbeatTimeout)
	}
	if v, _ := fl.Get(id); v.Connected {
		t.Error("vehicle still Connected after link_lost")
	}
	// The other vehicle is unaffected.
	if v, _ := fl.Get(ids[1]); !v.Connected {
		t.Error("the other vehicle lost its link too")
	}
	testenv.Eventually(t, 20*time.Second, "rate of the cut vehicle decays to 0", func() bool {
		v, _ := fl.Get(id)
		return v.LinkQuality.RateHz == 0
	})

	since = lastSeq(fl)
	sim.Vehicle(0).LinkUp()
	waitEvent(t, fl, since, id, fleet.EventLinkRegained, 20*time.Second)
	testenv.Eventually(t, 20*time.Second, "rates re-requested after regain", func() bool {
		info, _ := st.Vehicle(id)
		return info.RateRequests > before.RateRequests && info.StreamsAccepted
	})
	testenv.Eventually(t, 20*time.Second, "rate recovers", func() bool {
		v, _ := fl.Get(id)
		return v.Connected && v.LinkQuality.RateHz > 20
	})
}

func TestTwoLinksOverlappingSystemIDs(t *testing.T) {
	pa, pb := testenv.FreeUDPPort(t), testenv.FreeUDPPort(t)
	_, fl := startStation(t, testConfig(fmt.Sprintf("a=udp:127.0.0.1:%d", pa), fmt.Sprintf("b=udp:127.0.0.1:%d", pb)))
	simA := startSim(t, 3, 100, pa)
	simB := startSim(t, 3, 200, pb)
	testenv.Eventually(t, 30*time.Second, "6 vehicles", func() bool { return len(fl.List()) == 6 })
	// Same system IDs, different aircraft: six IDs, each named after its
	// aircraft's UID and holding the position of its own simulator.
	for _, sim := range []*simulator.Sim{simA, simB} {
		for i, id := range idByUID(t, fl, sim) {
			v, _ := fl.Get(id)
			if id != uidID(sim.Vehicle(i).UID()) || v.SystemID != sim.Vehicle(i).SystemID() {
				t.Errorf("vehicle %s: sysid %d uid %x on link %s", id, v.SystemID, v.UID, v.Link)
			}
		}
	}
	links := map[string]int{}
	for _, v := range fl.List() {
		links[v.Link]++
	}
	if links["a"] != 3 || links["b"] != 3 {
		t.Errorf("vehicles per link %v, want 3 on a and 3 on b", links)
	}
}

func TestIdentityKeptAcrossLinksAndRestarts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ids.json")
	pa := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("first=udp:127.0.0.1:%d", pa))
	cfg.IdentityFile = file
	var firstIDs []string
	t.Run("first station", func(t *testing.T) {
		_, fl := startStation(t, cfg)
		sim := startSim(t, 3, 42, pa)
		testenv.Eventually(t, 30*time.Second, "3 vehicles", func() bool { return len(fl.List()) == 3 })
		firstIDs = idByUID(t, fl, sim)
	})
	if t.Failed() {
		return
	}
	// The same aircraft (same UIDs: same seed) now come in on another link
	// of a restarted station: they keep their IDs.
	pb := testenv.FreeUDPPort(t)
	cfg2 := testConfig(fmt.Sprintf("second=udp:127.0.0.1:%d", pb))
	cfg2.IdentityFile = file
	_, fl := startStation(t, cfg2)
	sim := startSim(t, 3, 42, pb)
	testenv.Eventually(t, 30*time.Second, "3 vehicles", func() bool { return len(fl.List()) == 3 })
	ids := idByUID(t, fl, sim)
	for i := range ids {
		if ids[i] != firstIDs[i] {
			t.Errorf("vehicle %d: ID %q on the second link, %q before", i, ids[i], firstIDs[i])
		}
		if v, _ := fl.Get(ids[i]); v.Link != "second" {
			t.Errorf("vehicle %s: link %q, want second", ids[i], v.Link)
		}
	}
}

func TestBadIdentityFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ids.json")
	if err := writeFile(file, `{"12": "ok", "x": "bad"}`); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("udp:127.0.0.1:0")
	cfg.IdentityFile = file
	_, err := New(cfg, fleet.New(fleet.DefaultConfig()), nil)
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("error %v should name the file and the bad entry", err)
	}
	if err := writeFile(file, `[1,2]`); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, fleet.New(fleet.DefaultConfig()), nil); err == nil || !strings.Contains(err.Error(), "JSON object") {
		t.Fatalf("error %v should say what the file must hold", err)
	}
}

func TestMalformedDatagrams(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	cfg.IdentityWait = time.Second // these frames carry no AUTOPILOT_VERSION
	st, fl := startStation(t, cfg)
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	enc := newFrameEncoder(t, 9, 1)
	good := enc.encode(t, &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR,
		Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA, BaseMode: common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, CustomMode: 5})
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0xff
	corpus := map[string][]byte{
		"garbage":        []byte("this is not mavlink at all"),
		"empty-ish":      {0xfd},
		"truncated":      good[:len(good)/2],
		"bad crc":        badCRC,
		"huge length":    {0xfd, 0xff, 0, 0, 1, 1, 1, 0, 0, 1, 2, 3},
		"v1 junk":        {0xfe, 9, 0, 1, 1, 0, 1, 2, 3},
		"unknown msg id": enc.raw(t, 0xfffe),
	}
	for name, b := range corpus {
		for i := 0; i < 5; i++ {
			if _, err := conn.Write(b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	// A well-formed heartbeat after the garbage still makes a vehicle.
	for i := 0; i < 3; i++ {
		if _, err := conn.Write(enc.encode(t, &common.MessageHeartbeat{Type: common.MAV_TYPE_QUADROTOR,
			Autopilot: common.MAV_AUTOPILOT_ARDUPILOTMEGA, BaseMode: common.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, CustomMode: 5})); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	testenv.Eventually(t, 10*time.Second, "parse errors counted", func() bool { return st.Links()[0].ParseErrors >= 20 })
	id := fmt.Sprintf("udp%d-9", port)
	testenv.Eventually(t, 10*time.Second, "vehicle from the good frames", func() bool {
		v, ok := fl.Get(id)
		return ok && v.Mode == "LOITER"
	})
}

var testDialect = func() *dialect.ReadWriter {
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		panic(err)
	}
	return rw
}()

// frameEncoder writes MAVLink 2 frames as one (system, component) would,
// with increasing sequence numbers, into byte slices for raw UDP tests.
type frameEncoder struct {
	buf bytes.Buffer
	sw  *streamwriter.Writer
	fw  *frame.Writer
}

func newFrameEncoder(t testing.TB, sys, comp uint8) *frameEncoder {
	e := &frameEncoder{}
	e.fw = &frame.Writer{ByteWriter: &e.buf, DialectRW: testDialect}
	if err := e.fw.Initialize(); err != nil {
		t.Fatal(err)
	}
	e.sw = &streamwriter.Writer{FrameWriter: e.fw, Version: streamwriter.V2, SystemID: sys, ComponentID: comp}
	if err := e.sw.Initialize(); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *frameEncoder) encode(t testing.TB, m message.Message) []byte {
	t.Helper()
	e.buf.Reset()
	if err := e.sw.Write(m); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), e.buf.Bytes()...)
}

// raw encodes a frame with a message ID no dialect knows.
func (e *frameEncoder) raw(t testing.TB, id uint32) []byte {
	t.Helper()
	e.buf.Reset()
	fr := &frame.V2Frame{SystemID: e.sw.SystemID, ComponentID: e.sw.ComponentID,
		Message: &message.MessageRaw{ID: id, Payload: []byte{1, 2, 3, 4}}}
	if err := e.fw.Write(fr); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), e.buf.Bytes()...)
}

func writeFile(name, content string) error { return os.WriteFile(name, []byte(content), 0o644) }
