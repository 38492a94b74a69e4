package simulator

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// TestMalformedInputCorpus throws every file of testdata/ at a vehicle's
// socket as raw datagrams: the vehicle counts the damage, keeps running,
// still answers a well-formed command, and answers the well-formed parts of
// a damaged datagram. Ill-formed mission items get ArduCopter's error ACK.
func TestMalformedInputCorpus(t *testing.T) {
	g := newTestGCS(t, true)
	s := oneVehicle(t, g, nil)
	g.channel(1)
	files, err := filepath.Glob(filepath.Join("testdata", "*.bin"))
	if err != nil || len(files) < 10 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	raw, err := net.DialUDP("udp4", nil, s.Vehicle(0).conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, errs0, _ := s.Vehicle(0).Stats()
	var before int
	s.Vehicle(0).Do(func(v *vehicleT) { before = len(v.Mission()) })
	c := g.mark()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := raw.Write(b); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	// garbage_then_valid.bin and v1_command.bin carry a real REQUEST_MESSAGE:
	// those must be answered despite the junk around them
	if g.waitMsg(&c, 1, 5*time.Second, func(m message.Message) bool {
		a, ok := m.(*common.MessageCommandAck)
		return ok && a.Command == common.MAV_CMD_REQUEST_MESSAGE && a.TargetSystem == 255
	}) == nil {
		t.Error("the valid frame behind garbage was not answered")
	}
	if r := g.command(1, 1, common.MAV_CMD_REQUEST_MESSAGE, msgAutopilotVersion); r != common.MAV_RESULT_ACCEPTED {
		t.Fatalf("vehicle no longer answers after the corpus: %v", r)
	}
	_, errs1, _ := s.Vehicle(0).Stats()
	if errs1 <= errs0 {
		t.Fatalf("no parse errors counted (%d → %d): the corpus did not reach the parser", errs0, errs1)
	}
	// mission_item_out_of_range.bin arrived without an upload: an error
	// ACK, never a stored item
	var n int
	s.Vehicle(0).Do(func(v *vehicleT) { n = len(v.Mission()) })
	if n != before {
		t.Fatalf("a stray malformed item was stored: %d items, %d before", n, before)
	}
}

// FuzzDatagram feeds arbitrary datagrams to the vehicle's receive path
// (link, parser, protocol handlers); nothing may panic.
func FuzzDatagram(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bin"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	s, err := New(Config{Vehicles: 1, GCS: []string{"udp:127.0.0.1:9"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	sv := s.Vehicle(0)
	f.Fuzz(func(t *testing.T, b []byte) {
		sv.receiveDatagram(b, time.Now())
		sv.tick(time.Now(), 20*time.Millisecond)
	})
}
