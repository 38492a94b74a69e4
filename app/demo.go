package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/latlon"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
)

// maxDemoDrones is the planner's per-plan limit; a larger simulated fleet
// flies its first maxDemoDrones vehicles and keeps the rest on the ground.
const maxDemoDrones = 100

// flyDemo is what makes `burgut run` open on a flying fleet: it waits for
// the simulated vehicles, builds an event area around home, plans split
// perimeter patrols over it, checks them, and uploads fence, rally points
// and mission to each vehicle (verified) before arming and starting them —
// the same path an operator's plan takes through the API.
func (a *App) flyDemo(ctx context.Context) error {
	log := a.Log.With("part", "demo")
	home, err := latlon.Parse(a.Config.Sim.Home, "")
	if err != nil {
		return err
	}
	lat, lon := home.Lat, home.Lon
	want := min(a.Config.Sim.Vehicles, maxDemoDrones)
	ready, err := a.waitForVehicles(ctx, want)
	if err != nil {
		return nil // shutting down
	}
	src := demoAreaGeoJSON(lat, lon, want)
	area, err := missions.ImportGeoJSON(bytes.NewReader(src))
	if err != nil {
		return fmt.Errorf("demo area: %w", err)
	}
	tag := groundstation.UploadOptions{Verify: true, Mission: "demo-patrol"}
	if a.Missions != nil {
		if tag.EventArea, err = a.Missions.AddArea(area, src); err != nil {
			log.Warn("demo area not stored", "err", err)
		}
	}
	plans, err := missions.PlanArea(area, missions.PlanOptions{Pattern: missions.PatternPerimeter, Drones: want, Repeat: -1, Speed: 8})
	if err != nil {
		log.Error("demo plan failed; the fleet stays on the ground", "err", err)
		return nil
	}
	if vs := missions.Check(area, plans, missions.CheckOptions{Endurance: 3600}); len(vs) > 0 {
		log.Error("demo plan failed its checks; the fleet stays on the ground", "violations", len(vs), "first", vs[0].String())
		return nil
	}
	ids := make([]string, len(plans))
	for i := range plans {
		ids[i] = ready[i].ID
	}
	results := a.Station.Group(ctx, ids, 16, func(ctx context.Context, id string) (any, error) {
		p := plans[indexOf(ids, id)]
		return nil, a.launchPatrol(ctx, id, p, tag)
	})
	launched := 0
	for _, r := range results {
		if r.OK {
			launched++
		} else {
			log.Warn("demo vehicle not launched", "vehicle", r.VehicleID, "err", r.Error)
		}
	}
	log.Info("demo patrols launched", "vehicles", launched, "area", area.Name)
	return nil
}

func indexOf(ids []string, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

// launchPatrol uploads one drone's plan (fence first, so no mission is ever
// on board without its fence), sets the fence parameters the plan was
// checked with, and starts the mission. o carries the telemetry tags.
func (a *App) launchPatrol(ctx context.Context, id string, p *missions.DronePlan, o groundstation.UploadOptions) error {
	s := a.Station
	for _, l := range []struct {
		t     mavitem.MissionType
		items []mavitem.Item
	}{{mavitem.TypeFence, p.Fence}, {mavitem.TypeRally, p.Rally}, {mavitem.TypeMission, p.MissionWithHome()}} {
		if _, err := s.Upload(ctx, id, l.t, l.items, o); err != nil {
			return fmt.Errorf("upload %s: %w", l.t, err)
		}
	}
	sess, err := s.Session(id)
	if err != nil {
		return err
	}
	for _, pv := range p.FenceParams {
		if _, err := sess.ParamSet(ctx, pv.Name, pv.Value); err != nil {
			return fmt.Errorf("set %s: %w", pv.Name, err)
		}
	}
	d := vehicleapi.Deps{Fleet: a.Fleet, Station: vehicleapi.FromStation(s), Log: a.Log}
	if _, err := vehicleapi.RunCommand(ctx, d, id, "mode", vehicleapi.CommandArgs{Mode: "GUIDED"}); err != nil {
		return err
	}
	// ArduCopter disarms a vehicle left armed on the ground for
	// DISARM_DELAY (10 s): at a high --speedup that is a fraction of a wall
	// second, so on a busy machine mission_start can reach a vehicle that
	// has just disarmed, which refuses it. Like an operator (and the
	// scenario runner's launch step), arm and start again, up to three
	// times, on a refusal; any other error ends the launch.
	for try := 0; ; try++ {
		_, err := vehicleapi.RunCommand(ctx, d, id, "arm", vehicleapi.CommandArgs{})
		if err == nil {
			if _, err = vehicleapi.RunCommand(ctx, d, id, "mission_start", vehicleapi.CommandArgs{}); err == nil {
				if try > 0 {
					a.Log.Info("demo vehicle re-armed after disarming on the ground", "vehicle", id, "retries", try)
				}
				return nil
			}
		}
		var he *httpapi.Error
		if try == 2 || !errors.As(err, &he) || he.Code != httpapi.CodeRefused {
			return err
		}
	}
}

// waitForVehicles waits until n vehicles are connected with a 3D fix and a
// home position, and returns them ordered by ID.
func (a *App) waitForVehicles(ctx context.Context, n int) ([]fleet.Vehicle, error) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		var ready []fleet.Vehicle
		for _, v := range a.Fleet.List() {
			if v.Connected && v.GPSFix >= 3 && v.Home != nil && !v.Armed {
				ready = append(ready, v)
			}
		}
		if len(ready) >= n {
			return ready[:n], nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("stopped")
		case <-t.C:
		}
	}
}

// demoAreaGeoJSON builds an event area the way a GIS team would export it:
// an irregular polygon around home (large enough for one patrol strip per
// drone), a no-fly circle, a launch pad at home and two rally points.
func demoAreaGeoJSON(lat, lon float64, drones int) []byte {
	r := 250 + 40*math.Sqrt(float64(drones)) // metres
	pt := func(n, e float64) string {
		la, lo := lat+n/111320, lon+e/(111320*math.Cos(lat*math.Pi/180))
		return fmt.Sprintf("[%.7f,%.7f]", lo, la)
	}
	var ring bytes.Buffer
	shape := []float64{1, 0.85, 1.1, 0.9, 1, 0.8, 1.05, 0.95}
	for i := 0; i <= len(shape); i++ {
		k := i % len(shape)
		ang := 2 * math.Pi * float64(k) / float64(len(shape))
		if i > 0 {
			ring.WriteString(",")
		}
		ring.WriteString(pt(r*shape[k]*math.Cos(ang), r*shape[k]*math.Sin(ang)))
	}
	// One 10 m layer per drone from 40 m, and a 10 m headroom below the
	// fence ceiling (FENCE_ALT_MAX = the band's top) for climb overshoot.
	top := 50 + 10*float64(drones)
	// The simulator parks its vehicles on a disc of 5·√n metres around home
	// (simulator.Config.Spread): the pad must hold them all.
	pad := 5*math.Sqrt(float64(drones)) + 3
	return []byte(fmt.Sprintf(`{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"kind":"event-area","name":"Demo event area","min_alt_m":30,"max_alt_m":%g},
  "geometry":{"type":"Polygon","coordinates":[[%s]]}},
 {"type":"Feature","properties":{"kind":"no-fly","name":"Demo stage","radius_m":%g},
  "geometry":{"type":"Point","coordinates":%s}},
 {"type":"Feature","properties":{"kind":"launch","name":"Home pad","radius_m":%g},"geometry":{"type":"Point","coordinates":%s}},
 {"type":"Feature","properties":{"kind":"rally","name":"Rally north"},"geometry":{"type":"Point","coordinates":%s}},
 {"type":"Feature","properties":{"kind":"rally","name":"Rally south"},"geometry":{"type":"Point","coordinates":%s}}
]}`, top, ring.String(), r/6, pt(r*0.45, r*0.35), pad, pt(0, 0), pt(r*0.6, -r*0.1), pt(-r*0.6, r*0.1)))
}
