package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/telemetry"
)

// Assigning a plan tags the vehicle with the plan and area IDs, and every
// sample stored after the assignment carries them as the `mission` and
// `event_area` tags; a raw mission upload through the vehicle API replaces
// the tags with none (issue 9, defect 7: the tags were never set). Run
// against the embedded store, and against InfluxDB when it is available.
func TestAssignedPlanTagsStoredSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the app with a simulated vehicle")
	}
	t.Run("embedded store", func(t *testing.T) { checkAssignmentTags(t, func(*Config) {}) })
	t.Run("influxdb", func(t *testing.T) {
		base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
		db := freshInfluxDB(t, base)
		checkAssignmentTags(t, func(c *Config) {
			c.Telemetry.InfluxURL = base
			c.Telemetry.InfluxBucket = db + "/autogen"
		})
	})
}

// freshInfluxDB creates a database of its own on the real InfluxDB and
// drops it when the test ends.
func freshInfluxDB(t *testing.T, base string) string {
	t.Helper()
	db := fmt.Sprintf("app_%d", time.Now().UnixNano())
	resp, err := http.PostForm(base+"/query", url.Values{"q": {"CREATE DATABASE " + db}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() {
		if r, err := http.PostForm(base+"/query", url.Values{"q": {"DROP DATABASE " + db}}); err == nil {
			r.Body.Close()
		}
	})
	return db
}

func checkAssignmentTags(t *testing.T, store func(*Config)) {
	const home = "41.3111,69.2797"
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = 1
		c.Sim.Demo = false
		c.Sim.Home = home
		c.Telemetry.SampleInterval = 100 * time.Millisecond
		store(c)
	})
	base := "http://" + a.HTTPAddr() + "/api/v1"
	pt, _ := latlon.Parse(home, "")
	lat, lon := pt.Lat, pt.Lon
	var area struct{ ID string }
	if code := postRaw(t, base+"/areas", string(demoAreaGeoJSON(lat, lon, 1)), &area); code != http.StatusCreated {
		t.Fatalf("create area: %d", code)
	}
	var plan struct {
		ID     string
		OK     bool
		Drones []struct {
			Mission []mavitem.Item `json:"mission"`
		}
	}
	if code := postRaw(t, base+"/areas/"+area.ID+"/plans", `{"pattern":"perimeter","drones":1,"speed":10}`, &plan); code != http.StatusCreated || !plan.OK {
		t.Fatalf("plan: %d ok=%v", code, plan.OK)
	}
	var id string
	testenv.Eventually(t, 60*time.Second, "the simulated vehicle ready", func() bool {
		for _, v := range a.Fleet.List() {
			if v.Connected && v.GPSFix >= 3 && v.Home != nil {
				id = v.ID
			}
		}
		return id != ""
	})
	var assigned struct{ OK bool }
	if code := postRaw(t, base+"/plans/"+plan.ID+"/assign", fmt.Sprintf(`{"assignments":[{"drone":0,"vehicle_id":%q}]}`, id), &assigned); code != http.StatusOK || !assigned.OK {
		t.Fatalf("assign: %d %+v", code, assigned)
	}
	assignedAt := time.Now()
	if v, _ := a.Fleet.Get(id); v.Mission != plan.ID || v.EventArea != area.ID {
		t.Fatalf("vehicle after assignment: mission %q event_area %q, want %q %q", v.Mission, v.EventArea, plan.ID, area.ID)
	}
	after := storedAfter(t, base, id, assignedAt)
	for _, s := range after {
		if s.Mission != plan.ID || s.EventArea != area.ID {
			t.Fatalf("sample at %s stored after the assignment has mission %q event_area %q, want %q %q",
				s.Time.Format(time.RFC3339Nano), s.Mission, s.EventArea, plan.ID, area.ID)
		}
	}

	// A raw upload is not the plan's mission: the tags go.
	items := plan.Drones[0].Mission
	for i := range items {
		items[i].Seq = uint16(i)
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	req, _ := http.NewRequest(http.MethodPut, base+"/vehicles/"+id+"/mission", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("raw upload: %d %s", resp.StatusCode, raw)
	}
	rawAt := time.Now()
	if v, _ := a.Fleet.Get(id); v.Mission != "" || v.EventArea != "" {
		t.Fatalf("vehicle after a raw upload: mission %q event_area %q, want none", v.Mission, v.EventArea)
	}
	for _, s := range storedAfter(t, base, id, rawAt) {
		if s.Mission != "" || s.EventArea != "" {
			t.Fatalf("sample at %s stored after the raw upload has mission %q event_area %q, want none",
				s.Time.Format(time.RFC3339Nano), s.Mission, s.EventArea)
		}
	}
}

// storedAfter waits until the store holds samples of vehicle id received
// after since, and returns them.
func storedAfter(t *testing.T, base, id string, since time.Time) []telemetry.Sample {
	t.Helper()
	var after []telemetry.Sample
	testenv.Eventually(t, 60*time.Second, "samples stored after "+since.Format(time.RFC3339Nano), func() bool {
		var h struct{ Samples []telemetry.Sample }
		getJSON(t, base+"/vehicles/"+id+"/history?format=json&from="+url.QueryEscape(since.Add(-time.Minute).UTC().Format(time.RFC3339Nano)), &h)
		after = after[:0]
		for _, s := range h.Samples {
			if !s.Time.Before(since) {
				after = append(after, s)
			}
		}
		return len(after) >= 3
	})
	return after
}
