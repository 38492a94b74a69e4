package simulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// FaultKind names a fault that can be scheduled from flags (the Go API
// offers the same through SimVehicle.Do and the link methods).
type FaultKind string

// Fault kinds for ScheduledFault.
const (
	FaultGPSLoss     FaultKind = "gps-loss"     // GPS loses its fix for For
	FaultBatteryDrop FaultKind = "battery-drop" // Value percent of capacity vanish
	FaultFailure     FaultKind = "failure"      // motors stop: the vehicle falls
	FaultGust        FaultKind = "gust"         // a gust of Value m/s for For
	FaultLinkDown    FaultKind = "link-down"    // the link drops everything for For (wall time)
)

// ScheduledFault is a fault injected at a simulated time after start, on
// one vehicle or all of them: how a scripted rehearsal or CI run asks for
// "GPS loss on drone 3 after a minute" from the command line.
type ScheduledFault struct {
	At      time.Duration // simulated time after start
	Vehicle int           // 0-based index; -1 = every vehicle
	Kind    FaultKind
	Value   float64       // battery-drop percent, gust m/s
	For     time.Duration // gps-loss, gust, link-down
}

// ParseFault parses "kind=gps-loss,at=60s,for=10s,vehicle=3" (vehicle
// omitted = all; value= for battery-drop and gust).
func ParseFault(s string) (ScheduledFault, error) {
	f := ScheduledFault{Vehicle: -1}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return f, fmt.Errorf("fault %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "kind":
			f.Kind = FaultKind(v)
		case "at":
			f.At, err = time.ParseDuration(v)
		case "for":
			f.For, err = time.ParseDuration(v)
		case "vehicle":
			f.Vehicle, err = strconv.Atoi(v)
		case "value":
			f.Value, err = strconv.ParseFloat(v, 64)
		default:
			return f, fmt.Errorf("fault %q: unknown key %q (want kind, at, for, vehicle, value)", s, k)
		}
		if err != nil {
			return f, fmt.Errorf("fault %q: %s: %w", s, k, err)
		}
	}
	switch f.Kind {
	case FaultGPSLoss, FaultGust, FaultLinkDown:
		if f.For <= 0 {
			return f, fmt.Errorf("fault %q: %s needs for=DURATION", s, f.Kind)
		}
	case FaultBatteryDrop:
		if f.Value <= 0 || f.Value > 100 {
			return f, fmt.Errorf("fault %q: battery-drop needs value=PERCENT in 0..100", s)
		}
	case FaultFailure:
	case "":
		return f, fmt.Errorf("fault %q: kind= is missing", s)
	default:
		return f, fmt.Errorf("fault %q: unknown kind %q (want gps-loss, battery-drop, failure, gust, link-down)", s, f.Kind)
	}
	if f.Kind == FaultGust && f.Value <= 0 {
		return f, fmt.Errorf("fault %q: gust needs value=M/S", s)
	}
	if f.At < 0 || f.Vehicle < -1 {
		return f, fmt.Errorf("fault %q: at and vehicle must not be negative", s)
	}
	return f, nil
}

// applyDueFaults fires the scheduled faults whose time has come. Called
// every tick with sv.mu held.
func (sv *SimVehicle) applyDueFaults() {
	if len(sv.faults) == 0 {
		return
	}
	now := sv.model.Now()
	keep := sv.faults[:0]
	for _, f := range sv.faults {
		if now < f.At {
			keep = append(keep, f)
			continue
		}
		sv.log.Info("injecting fault", "kind", f.Kind, "value", f.Value, "for", f.For)
		switch f.Kind {
		case FaultGPSLoss:
			sv.model.InjectGPSLoss(f.For)
		case FaultBatteryDrop:
			sv.model.InjectBatteryDrop(f.Value)
		case FaultFailure:
			sv.model.InjectFailure()
		case FaultGust:
			sv.model.InjectGust(f.Value, f.For)
		case FaultLinkDown:
			sv.link.down = true
			sv.link.downUntil = sv.wallNow.Add(f.For)
		}
	}
	sv.faults = keep
}

// modelConfig is the per-vehicle model configuration from the fleet's.
func (cfg *Config) modelConfig(a assignment, index int) vehicle.Config {
	st := cfg.settings(index)
	return vehicle.Config{
		SystemID:           a.sysid,
		Home:               a.home,
		Seed:               cfg.Seed + int64(index),
		BatteryCapacityMAh: st.capacityMAh,
		Endurance:          minutes(st.enduranceMin),
		SwapTime:           minutes(st.swapMin),
		WindSpeed:          cfg.WindSpeed,
		WindDirDeg:         cfg.WindDirDeg,
		GustSpeed:          cfg.GustSpeed,
	}
}
