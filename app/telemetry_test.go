package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/telemetry/tlog"
)

// A real ArduCopter tlog replayed over UDP into `burgut serve` shows up as
// a vehicle, lands in the embedded store (its track is a GeoJSON
// LineString near the SITL's home), and is recorded again as a tlog.
func TestReplayedFlightLandsInStoreAndTlog(t *testing.T) {
	replayIntoServe(t, func(*Config) {})
}

// The same with InfluxDB as the store (a fresh database on the real
// server): the track comes back through Flux, and the status reports the
// sink connected with nothing pending.
func TestReplayedFlightLandsInInfluxDB(t *testing.T) {
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := freshInfluxDB(t, base)
	a := replayIntoServe(t, func(c *Config) {
		c.Telemetry.InfluxURL = base
		c.Telemetry.InfluxBucket = db + "/autogen"
	})
	var st struct {
		Influx struct {
			Connected bool `json:"connected"`
			Spool     struct {
				Pending int64 `json:"pending_points"`
				Dropped int64 `json:"dropped_points"`
			} `json:"spool"`
		} `json:"influx"`
	}
	getJSON(t, "http://"+a.HTTPAddr()+"/api/v1/telemetry/status", &st)
	if !st.Influx.Connected || st.Influx.Spool.Dropped != 0 {
		t.Fatalf("status %+v", st)
	}
}

func replayIntoServe(t *testing.T, tweak func(*Config)) *App {
	path := testenv.Shared(t, "data/tlogs/arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog")
	a, stop := runApp(t, func(c *Config) {
		c.Telemetry.SampleInterval = 0 // store every update
		tweak(c)
	})
	port := mavlinkPort(t, a)
	base := "http://" + a.HTTPAddr()
	begin := time.Now().Add(-time.Second).UTC()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	st, err := tlog.Replay(context.Background(), f, func(b []byte) error { _, err := conn.Write(b); return err }, tlog.ReplayOptions{Speed: 20})
	if err != nil {
		t.Fatal(err)
	}
	if st.Frames != 7742 {
		t.Fatalf("replayed %d frames, want 7742", st.Frames)
	}

	// The vehicle appears, and its track is stored.
	var id string
	var track struct {
		Type        string       `json:"type"`
		Coordinates [][3]float64 `json:"coordinates"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var vs []struct {
			ID       string `json:"id"`
			SystemID int    `json:"system_id"`
		}
		getJSON(t, base+"/api/v1/vehicles", &vs)
		for _, v := range vs {
			if v.SystemID == 1 {
				id = v.ID
			}
		}
		if id != "" {
			q := url.Values{"from": {begin.Format(time.RFC3339Nano)}, "to": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)}}
			getJSON(t, base+"/api/v1/vehicles/"+id+"/track?"+q.Encode(), &track)
			if len(track.Coordinates) > 10 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if id == "" || track.Type != "LineString" || len(track.Coordinates) <= 10 {
		t.Fatalf("vehicle %q: track %s with %d points", id, track.Type, len(track.Coordinates))
	}
	last := track.Coordinates[len(track.Coordinates)-1]
	if last[1] < -36 || last[1] > -35 || last[0] < 149 || last[0] > 150 { // ArduPilot SITL home: Canberra
		t.Fatalf("track ends at %v, not near the SITL home", last)
	}

	cfg := a.Config
	if cfg.Telemetry.InfluxURL != "" {
		return a // tlogs are the same in both modes
	}
	// After shutdown the re-recorded tlog holds the vehicle's frames.
	stop()
	files, _ := filepath.Glob(filepath.Join(cfg.DataDir, "tlogs", "*", "*.tlog"))
	frames := 0
	for _, p := range files {
		rf, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		rd := tlog.NewReader(rf, nil)
		for {
			_, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			frames++
		}
		rf.Close()
	}
	if len(files) == 0 || frames < 1000 {
		t.Fatalf("%d tlogs with %d frames recorded", len(files), frames)
	}
	return a
}

// Bad telemetry settings are refused with an error naming the setting.
func TestTelemetryConfigErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--telemetry-interval", "-1s"}, "telemetry-interval"},
		{[]string{"--influx-spool-mb", "0"}, "influx-spool-mb"},
		{[]string{"--store-retention", "0s"}, "store-retention"},
		{[]string{"--store-max-mb", "-5"}, "store-max-mb"},
		{[]string{"--tlog-file-mb", "100", "--tlog-total-mb", "10"}, "tlog-file-mb"},
		{[]string{"--influx-url", "127.0.0.1:8086", "--influx-bucket", "x"}, "influx-url"},
	} {
		_, err := Load("serve", c.args, false, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want one naming %s", c.args, err, c.want)
		}
	}
}
