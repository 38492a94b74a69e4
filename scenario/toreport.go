package scenario

import (
	"bytes"

	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/scenario/report"
	"github.com/paulmach/orb"
)

// Report converts a run's result into the HTML report's data model
// (scenario/report), with sc's event areas (and no-fly polygons as
// fences) under the tracks.
func (r *Result) Report(sc *Scenario) *report.Report {
	rep := &report.Report{
		Scenario: r.Scenario, File: r.File, Seed: r.Seed, Speedup: r.Speedup,
		Start: r.Started, End: r.Started.Add(r.Wall), Duration: r.SimTime, Ended: r.EndReason,
	}
	for _, e := range r.Timeline {
		re := report.Entry{At: e.T, Kind: report.Kind(e.Kind), Text: e.Name + ": " + e.Text, Failed: !e.OK && e.Kind != EntryFault && e.Kind != EntryEvent,
			Severity: e.Severity, Line: e.Line}
		if e.Kind == EntryFault && !e.OK {
			re.Text = e.Name + " (could not be injected): " + e.Text
		}
		if e.Vehicle != "" {
			re.Vehicles = []string{e.Vehicle}
		}
		if e.Kind == EntryFault && e.OK && len(re.Vehicles) == 0 {
			// Where the fault hit: its markers on the map and lines on
			// those vehicles' plots only.
			re.Vehicles = r.faultVehicles(e.T, e.Line)
		}
		rep.Timeline = append(rep.Timeline, re)
	}
	for _, t := range r.Tracks {
		tr := report.Track{Vehicle: t.Vehicle}
		for _, p := range t.Points {
			if p.Lat == 0 && p.Lon == 0 {
				continue // no position yet
			}
			tr.Samples = append(tr.Samples, report.Sample{At: p.T, Lat: p.Lat, Lon: p.Lon, AltM: p.Alt, BatteryPct: p.BatteryPct, Mode: p.Mode})
		}
		rep.Tracks = append(rep.Tracks, tr)
	}
	for _, c := range r.Cases {
		rep.Assertions = append(rep.Assertions, report.Assertion{Name: c.Name(), Vehicle: c.Vehicle, Passed: c.OK, Message: c.Message, At: c.At, Line: c.Line})
	}
	if sc != nil {
		for i := range sc.World.Areas {
			a := &sc.World.Areas[i]
			data, err := sc.AreaGeoJSON(a)
			if err != nil {
				continue
			}
			area, err := missions.ImportGeoJSON(bytes.NewReader(data))
			if err != nil {
				continue
			}
			for _, p := range area.Include {
				rep.Areas = append(rep.Areas, report.Area{Name: a.Name, Kind: "area", Rings: rings(p)})
			}
			for _, z := range area.NoFly {
				if !z.IsCircle() {
					rep.Areas = append(rep.Areas, report.Area{Name: a.Name + ": " + z.Name, Kind: "fence", Rings: rings(z.Polygon)})
				}
			}
		}
	}
	return rep
}

func rings(p orb.Polygon) [][]report.LatLon {
	out := make([][]report.LatLon, len(p))
	for i, ring := range p {
		for _, pt := range ring {
			out[i] = append(out[i], report.LatLon{Lat: pt.Lat(), Lon: pt.Lon()})
		}
	}
	return out
}
