package app

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// A plan for named vehicles fits what they store: the planner reads the
// simulated ArduCopter's BRD_SD_FENCE through the real ground station (the
// simulator has no BRD_SD_MISSION, as a board without an SD mission: that
// read times out and the default stands).
func TestPlanForVehiclesReadsTheirFenceStorage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated vehicle")
	}
	const home = "41.3111,69.2797"
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = 1
		c.Sim.Demo = false
		c.Sim.Home = home
	})
	base := "http://" + a.HTTPAddr()
	pt, _ := latlon.Parse(home, "")
	var area struct{ ID string }
	if code := postRaw(t, base+"/api/v1/areas", string(demoAreaGeoJSON(pt.Lat, pt.Lon, 1)), &area); code != http.StatusCreated {
		t.Fatalf("create area: %d", code)
	}
	var id string
	testenv.Eventually(t, 60*time.Second, "a vehicle connected", func() bool {
		for _, v := range a.Fleet.List() {
			if v.Connected {
				id = v.ID
				return true
			}
		}
		return false
	})
	a.Sim.Vehicle(0).Do(func(v *vehicle.Vehicle) {
		if _, err := v.SetParam("BRD_SD_FENCE", 2); err != nil {
			t.Error(err)
		}
	})
	var ps struct {
		Options missions.PlanOptions
	}
	if code := postRaw(t, base+"/api/v1/areas/"+area.ID+"/plans", fmt.Sprintf(`{"vehicles":[%q]}`, id), &ps); code != http.StatusCreated {
		t.Fatalf("plan for %s: %d", id, code)
	}
	if c := ps.Options.Capacity; c.FenceBytes != 2048 || c.FenceItems != 255 || c.MissionItems != missions.DefaultMissionItems {
		t.Fatalf("capacity read from %s: %+v, want a 2 kB SD fence (2048 bytes, 255 items) and the default mission", id, c)
	}
	if code := postRaw(t, base+"/api/v1/areas/"+area.ID+"/plans", `{"vehicles":["no-such-vehicle"]}`, nil); code != http.StatusBadRequest {
		t.Fatalf("plan for an unknown vehicle: %d, want 400", code)
	}
}
