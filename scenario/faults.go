package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/burgut-uav/burgut/simulator"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

func waitTick() <-chan time.Time { return time.After(20 * time.Millisecond) }

// applyFault injects a fault now: model faults through the simulated
// vehicle's Go API, link faults on its radio link (undone after For, in
// simulated time), a station restart in the background. It returns
// whether a restart started.
func (r *runner) applyFault(ctx context.Context, it *item) bool {
	f := it.fault
	label := f.Name
	if label == "" {
		label = f.Kind
	}
	if f.Name != "" {
		r.doneNamed[f.Name] = r.now
	}
	if f.Kind == FaultStationRestart {
		start := r.now
		r.faultLog = append(r.faultLog, firedFault{Fault: f, Index: -1, T: r.now})
		r.addEntry(Entry{T: r.now, Kind: EntryFault, Name: label, Text: fmt.Sprintf("station restart (down at least %v)", f.For.Duration), OK: true, Line: f.node.Line})
		go func() {
			before := r.positionsSent()
			err := r.st.restart(ctx, func() bool { return r.clockNow() >= start+f.For.Duration })
			r.addOutage(before, r.positionsSent())
			r.restartCh <- err
		}()
		return true
	}
	vs, err := r.targets(f.Vehicles, it.trigVeh)
	if err == nil && r.sim == nil {
		err = fmt.Errorf("%s needs the simulated fleet", f.Kind)
	}
	if err != nil {
		r.addEntry(Entry{T: r.now, Kind: EntryFault, Name: label, Text: err.Error(), OK: false, Line: f.node.Line})
		r.stepCases = append(r.stepCases, Case{Assertion: fmt.Sprintf("fault %s (line %d)", label, f.node.Line), Kind: "fault", Index: -1, Message: err.Error(), At: r.now, Line: f.node.Line})
		return false
	}
	names := make([]string, 0, len(vs))
	for _, i := range vs {
		sv := r.sim.Vehicle(i)
		r.faultLog = append(r.faultLog, firedFault{Fault: f, Index: i, T: r.now})
		names = append(names, fmt.Sprint(i))
		switch f.Kind {
		case FaultLinkLoss, FaultLatency:
			lf := simulator.LinkFaults{LossPct: f.Pct}
			if f.Kind == FaultLatency {
				lf = simulator.LinkFaults{Latency: f.Latency.Duration, Jitter: f.Jitter.Duration}
			}
			if r.linkF[i] == nil {
				r.linkF[i] = map[*Fault]simulator.LinkFaults{}
			}
			r.linkF[i][f] = lf
			r.setLink(i)
			r.reverts = append(r.reverts, revert{at: r.now + f.For.Duration, fn: func() {
				delete(r.linkF[i], f)
				r.setLink(i)
			}})
		case FaultLinkDown:
			sv.LinkDown(0)
			r.reverts = append(r.reverts, revert{at: r.now + f.For.Duration, fn: sv.LinkUp})
		case FaultGPSLoss:
			sv.Do(func(v *vehicle.Vehicle) { v.InjectGPSLoss(f.For.Duration) })
		case FaultBatteryDrop:
			sv.Do(func(v *vehicle.Vehicle) { v.InjectBatteryDrop(f.Pct) })
		case FaultFailure:
			sv.Do(func(v *vehicle.Vehicle) { v.InjectFailure() })
		case FaultGust:
			sv.Do(func(v *vehicle.Vehicle) { v.InjectGust(f.Speed, f.For.Duration) })
		}
	}
	r.addEntry(Entry{T: r.now, Kind: EntryFault, Name: label, Text: fmt.Sprintf("%s on vehicles %s%s", f.Kind, strings.Join(names, ","), faultDetail(f)), OK: true, Line: f.node.Line})
	return false
}

func faultDetail(f *Fault) string {
	var p []string
	if f.Pct > 0 {
		p = append(p, fmt.Sprintf("%g %%", f.Pct))
	}
	if f.Latency.Duration > 0 {
		p = append(p, fmt.Sprintf("latency %v ± %v", f.Latency.Duration, f.Jitter.Duration))
	}
	if f.Speed > 0 {
		p = append(p, fmt.Sprintf("%g m/s", f.Speed))
	}
	if f.For.Duration > 0 {
		p = append(p, fmt.Sprintf("for %v", f.For.Duration))
	}
	if len(p) == 0 {
		return ""
	}
	return " (" + strings.Join(p, ", ") + ")"
}

// setLink applies the combination of the link faults active on vehicle i:
// the worst loss, the longest latency and jitter.
func (r *runner) setLink(i int) {
	var lf simulator.LinkFaults
	for _, x := range r.linkF[i] {
		lf.LossPct = max(lf.LossPct, x.LossPct)
		lf.Latency = max(lf.Latency, x.Latency)
		lf.Jitter = max(lf.Jitter, x.Jitter)
	}
	r.sim.Vehicle(i).SetLinkFaults(lf)
}
