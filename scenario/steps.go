package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// execStep performs one step through the HTTP API, as an operator's
// console or script would. It runs on the step worker, one step at a
// time in firing order, so a plan is made before the assign that uses it.
func (r *runner) execStep(ctx context.Context, it *item) stepOutcome {
	out := stepOutcome{it: it, start: r.clockNow()}
	// Wait out a station restart: the operator would too.
	for {
		if up, _ := r.st.isUp(); up {
			break
		}
		select {
		case <-ctx.Done():
			out.err = ctx.Err()
			return out
		case <-waitTick():
		}
	}
	out.text, out.err = r.realTime(func() (string, error) { return r.doStep(ctx, it) })
	out.T = r.clockNow()
	return out
}

// doStep makes a step's API calls.
func (r *runner) doStep(ctx context.Context, it *item) (text string, err error) {
	s := it.step
	switch {
	case s.Plan != nil:
		text, err = r.stepPlan(ctx, s.Plan)
	case s.Assign != nil:
		text, err = r.stepAssign(ctx, s.Assign, it.trigVeh)
	case s.Launch != nil:
		text, err = r.stepLaunch(ctx, s.Launch.Vehicles, it.trigVeh)
	case s.Command != nil:
		text, err = r.stepCommand(ctx, s.Command.Name, s.Command.Args, s.Command.Vehicles, it.trigVeh)
	case s.Param != nil:
		text, err = r.stepParam(ctx, s.Param, it.trigVeh)
	case s.Upload != nil:
		text, err = r.stepUpload(ctx, s.Upload, it.trigVeh)
	case s.Operation != nil:
		text, err = r.stepOperation(ctx, s.Operation, it.trigVeh)
	}
	return text, err
}

func (r *runner) areaID(ctx context.Context, name string) (string, error) {
	if id, ok := r.areaIDs[name]; ok {
		return id, nil
	}
	for i := range r.sc.World.Areas {
		a := &r.sc.World.Areas[i]
		if a.Name != name {
			continue
		}
		data, err := r.sc.AreaGeoJSON(a)
		if err != nil {
			return "", fmt.Errorf("area %q: %w", name, err)
		}
		var resp struct {
			ID string `json:"id"`
		}
		if err := r.st.do(ctx, "POST", "/api/v1/areas", json.RawMessage(data), &resp); err != nil {
			return "", fmt.Errorf("create area %q: %w", name, err)
		}
		r.areaIDs[name] = resp.ID
		return resp.ID, nil
	}
	return "", fmt.Errorf("no area %q", name)
}

func (r *runner) stepPlan(ctx context.Context, p *PlanStep) (string, error) {
	aid, err := r.areaID(ctx, p.Area)
	if err != nil {
		return "", err
	}
	body := map[string]any{"pattern": p.Pattern}
	drones := p.Drones
	if drones == 0 {
		drones = len(r.ids)
	}
	body["drones"] = drones
	for k, v := range map[string]float64{"alt": p.Alt, "layer_step": p.LayerStep, "spacing": p.Spacing, "margin": p.Margin, "offset": p.Offset, "speed": p.Speed} {
		if v != 0 {
			body[k] = v
		}
	}
	if p.Repeat != 0 {
		body["repeat"] = p.Repeat
	}
	if p.End != "" {
		body["end"] = p.End
	}
	if p.Launch != nil {
		body["launch"] = jsonable(p.Launch)
	}
	var resp struct {
		ID         string `json:"id"`
		OK         bool   `json:"ok"`
		Drones     []any  `json:"drones"`
		Violations []any  `json:"violations"`
	}
	if err := r.st.do(ctx, "POST", "/api/v1/areas/"+url.PathEscape(aid)+"/plans", body, &resp); err != nil {
		return "", fmt.Errorf("plan %q over area %q: %w", p.As, p.Area, err)
	}
	r.planIDs[p.As] = resp.ID
	r.planDrones[p.As] = len(resp.Drones)
	if !resp.OK {
		v, _ := json.Marshal(resp.Violations[:min(3, len(resp.Violations))])
		return "", fmt.Errorf("plan %q (%s) failed %d check(s), e.g. %s", p.As, resp.ID, len(resp.Violations), v)
	}
	return fmt.Sprintf("plan %s: %d drones, checks passed", resp.ID, len(resp.Drones)), nil
}

func (r *runner) stepAssign(ctx context.Context, a *AssignStep, trig int) (string, error) {
	pid, ok := r.planIDs[a.Plan]
	if !ok {
		return "", fmt.Errorf("plan %q was not made (its plan step has not run or failed)", a.Plan)
	}
	vs, err := r.targets(a.Vehicles, trig)
	if err != nil {
		return "", err
	}
	n := min(len(vs), r.planDrones[a.Plan])
	type asg struct {
		Drone     int    `json:"drone"`
		VehicleID string `json:"vehicle_id"`
	}
	var body struct {
		Assignments []asg `json:"assignments"`
		Force       bool  `json:"force"`
	}
	body.Force = a.Force
	for i := range n {
		body.Assignments = append(body.Assignments, asg{i, r.ids[vs[i]]})
	}
	var resp struct {
		OK      bool `json:"ok"`
		Results []struct {
			VehicleID string `json:"vehicle_id"`
			OK        bool   `json:"ok"`
			Error     string `json:"error"`
		} `json:"results"`
	}
	if err := r.st.do(ctx, "POST", "/api/v1/plans/"+url.PathEscape(pid)+"/assign", body, &resp); err != nil {
		return "", fmt.Errorf("assign plan %q: %w", a.Plan, err)
	}
	var bad []string
	for _, x := range resp.Results {
		if !x.OK {
			bad = append(bad, r.vname(x.VehicleID)+": "+x.Error)
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("assign plan %q failed on %d of %d vehicles: %s", a.Plan, len(bad), n, strings.Join(bad, "; "))
	}
	return fmt.Sprintf("plan %s uploaded to %d vehicles", pid, n), nil
}

// vname names a vehicle for messages: its index and station ID.
func (r *runner) vname(id string) string {
	if i, ok := r.index[id]; ok {
		return fmt.Sprintf("vehicle %d (%s)", i, id)
	}
	return id
}

func (r *runner) vnameIdx(i int) string {
	if i < 0 || i >= len(r.ids) {
		return "the fleet"
	}
	return fmt.Sprintf("vehicle %d (%s)", i, r.ids[i])
}

func (r *runner) stepCommand(ctx context.Context, name string, args map[string]any, sel VehicleSel, trig int) (string, error) {
	vs, err := r.targets(sel, trig)
	if err != nil {
		return "", err
	}
	body := map[string]any{}
	for k, v := range args {
		body[k] = jsonable(v)
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = r.ids[v]
	}
	body["vehicle_ids"] = ids
	var resp struct {
		Succeeded int `json:"succeeded"`
		Failed    int `json:"failed"`
		Results   []struct {
			VehicleID string `json:"vehicle_id"`
			OK        bool   `json:"ok"`
			Error     string `json:"error"`
		} `json:"results"`
	}
	if err := r.st.do(ctx, "POST", "/api/v1/commands/"+url.PathEscape(name), body, &resp); err != nil {
		return "", fmt.Errorf("command %s: %w", name, err)
	}
	var bad []string
	for _, x := range resp.Results {
		if !x.OK {
			bad = append(bad, r.vname(x.VehicleID)+": "+x.Error)
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("command %s failed on %d of %d vehicles: %s", name, len(bad), len(ids), strings.Join(bad, "; "))
	}
	return fmt.Sprintf("command %s accepted by %d vehicles", name, resp.Succeeded), nil
}

func (r *runner) stepParam(ctx context.Context, p *ParamStep, trig int) (string, error) {
	vs, err := r.targets(p.Vehicles, trig)
	if err != nil {
		return "", err
	}
	var bad []string
	for _, v := range vs {
		path := "/api/v1/vehicles/" + url.PathEscape(r.ids[v]) + "/params/" + url.PathEscape(p.Name)
		if err := r.st.do(ctx, "PUT", path, map[string]any{"value": p.Value}, nil); err != nil {
			bad = append(bad, r.vnameIdx(v)+": "+err.Error())
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("set %s=%g failed on %d of %d vehicles: %s", p.Name, p.Value, len(bad), len(vs), strings.Join(bad, "; "))
	}
	return fmt.Sprintf("%s=%g set on %d vehicles", p.Name, p.Value, len(vs)), nil
}

func (r *runner) stepUpload(ctx context.Context, u *UploadStep, trig int) (string, error) {
	vs, err := r.targets(u.Vehicles, trig)
	if err != nil {
		return "", err
	}
	items := make([]any, len(u.Items))
	for i, it := range u.Items {
		items[i] = jsonable(it)
	}
	var bad []string
	for _, v := range vs {
		path := "/api/v1/vehicles/" + url.PathEscape(r.ids[v]) + "/" + u.Type
		if err := r.st.do(ctx, "PUT", path, map[string]any{"items": items, "verify": true}, nil); err != nil {
			bad = append(bad, r.vnameIdx(v)+": "+err.Error())
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("upload %s failed on %d of %d vehicles: %s", u.Type, len(bad), len(vs), strings.Join(bad, "; "))
	}
	return fmt.Sprintf("%d %s items uploaded to %d vehicles", len(items), u.Type, len(vs)), nil
}

func (r *runner) stepOperation(ctx context.Context, op *OperationStep, trig int) (string, error) {
	aid, err := r.areaID(ctx, op.Area)
	if err != nil {
		return "", err
	}
	vs, err := r.targets(op.Vehicles, trig)
	if err != nil {
		return "", err
	}
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = r.ids[v]
	}
	// The operation clock runs at the station's --operations-time-scale
	// (the speedup) from the wall clock at creation, so the end is now
	// plus the simulated duration.
	body := map[string]any{"area_id": aid, "pattern": op.Pattern, "slots": op.Slots, "vehicle_ids": ids,
		"start": "now", "end": time.Now().Add(op.For.Duration).UTC().Format(time.RFC3339)}
	for k, v := range map[string]float64{"alt": op.Alt, "speed": op.Speed, "margin": op.Margin, "reserve_pct": op.ReservePct, "swap_min": op.SwapMin, "endurance_min": op.EnduranceMin} {
		if v != 0 {
			body[k] = v
		}
	}
	if op.Launch != nil {
		body["launch"] = jsonable(op.Launch)
	}
	if op.TransitLayer != nil {
		body["transit_layer"] = *op.TransitLayer
	}
	var resp struct {
		ID    string `json:"id"`
		Slots []any  `json:"slots"`
	}
	if err := r.st.do(ctx, "POST", "/api/v1/operations", body, &resp); err != nil {
		return "", fmt.Errorf("operation over area %q: %w", op.Area, err)
	}
	r.mu.Lock()
	r.operations = append(r.operations, resp.ID)
	r.mu.Unlock()
	return fmt.Sprintf("operation %s: %d slots from a pool of %d, for %v", resp.ID, op.Slots, len(ids), op.For.Duration), nil
}
