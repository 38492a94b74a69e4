// The separation episodes the map draws: a line between the two drones of
// every pair the station's separation monitor has in an episode
// (docs/api.md, "Live separation"). An episode starts with a `separation`
// event (warning or critical, once more when it escalates) and ends with
// `separation_cleared`; on (re)connect GET /api/v1/separation's `active`
// list says which are open, since the events of a cleared episode may be
// older than the stream's history.

// pairKey names a pair whatever the order of its two drones.
export function pairKey(a, b) {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

// applySeparationEvent updates pairs (key → {a, b, level, yield}) with one
// stream event and says whether anything changed. A pad event of the
// operations scheduler (`separation` with an `operation_id`: a drone that
// landed with the pad not clear) is no monitor episode and has no end, so
// it stays in the alert list only.
export function applySeparationEvent(pairs, ev) {
  if (!ev || (ev.kind !== "separation" && ev.kind !== "separation_cleared")) return false;
  const f = ev.fields || {};
  const other = f.other_vehicle_id;
  if (!ev.vehicle_id || !other || f.operation_id) return false;
  const key = pairKey(ev.vehicle_id, other);
  if (ev.kind === "separation_cleared") return pairs.delete(key);
  const level = f.level === "critical" || ev.severity === "critical" ? "critical" : "warning";
  const cur = pairs.get(key);
  if (cur && cur.level === level) return false;
  pairs.set(key, { a: ev.vehicle_id, b: other, level, yield: f.yield_vehicle_id || ev.vehicle_id });
  return true;
}

// pairsFromStatus replaces pairs with GET /api/v1/separation's `active`
// list ([{vehicle_a, vehicle_b, level, yield_vehicle_id}]).
export function pairsFromStatus(pairs, active) {
  pairs.clear();
  for (const p of active || []) {
    if (!p.vehicle_a || !p.vehicle_b) continue;
    pairs.set(pairKey(p.vehicle_a, p.vehicle_b), {
      a: p.vehicle_a,
      b: p.vehicle_b,
      level: p.level === "critical" ? "critical" : "warning",
      yield: p.yield_vehicle_id || "",
    });
  }
  return pairs;
}

// createSeparation keeps the open episodes across a (re)connect: the
// station's active list is asked for when the stream's snapshot arrives
// (syncStart) and answers later (sync); events that came in between are
// newer than that answer, so they are applied again on top of it — else
// an episode that began while the answer was on its way would vanish.
export function createSeparation() {
  const pairs = new Map();
  let since = null; // events since syncStart, until sync
  return {
    pairs,
    event(ev) {
      if (since && (ev?.kind === "separation" || ev?.kind === "separation_cleared")) since.push(ev);
      return applySeparationEvent(pairs, ev);
    },
    syncStart() {
      since = [];
    },
    sync(active) {
      pairsFromStatus(pairs, active);
      for (const ev of since || []) applySeparationEvent(pairs, ev);
      since = null;
    },
  };
}
