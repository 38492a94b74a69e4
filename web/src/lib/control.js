// Control between operators, as the station reports it (GET
// /api/v1/control: {idle_timeout_s, holds: [{vehicle_id, holder, since,
// last_used}]}): who holds which vehicle, what the page shows for it, and
// the requests to take and release control.

export function holdsByVehicle(state) {
  const m = new Map();
  for (const h of state?.holds || []) if (h && h.vehicle_id) m.set(h.vehicle_id, h);
  return m;
}

// controlText is the short label for a vehicle's control: "" when free,
// "you" when the caller holds it, otherwise the holder and since when.
export function controlText(hold, me, now = Date.now()) {
  if (!hold) return "";
  if (hold.holder === me) return "you";
  const since = Date.parse(hold.since);
  const mins = Number.isFinite(since) ? Math.max(0, Math.round((now - since) / 60000)) : NaN;
  return Number.isFinite(mins) ? `${hold.holder} (${mins} min)` : hold.holder;
}

// takeBody is the body of POST /api/v1/control; takeover (admins only)
// takes vehicles another operator holds.
export function takeBody(ids, takeover = false) {
  if (!ids || !ids.length) throw new Error("no vehicle selected");
  const b = { vehicle_ids: [...ids] };
  if (takeover) b.takeover = true;
  return b;
}

// controlResults turns the group answer into per-vehicle lines, naming the
// holder of a refused vehicle.
export function controlResults(answer) {
  return (answer?.results || []).map((r) => ({
    id: r.vehicle_id,
    ok: !!r.ok,
    text: r.ok ? "control taken" : r.holder ? `held by ${r.holder}${r.error ? ": " + r.error : ""}` : r.error || "refused",
  }));
}

// heldByOthers lists the selected vehicles another operator holds.
export function heldByOthers(ids, holds, me) {
  return ids.filter((id) => holds.has(id) && holds.get(id).holder !== me);
}
