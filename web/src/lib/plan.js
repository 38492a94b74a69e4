// Plan preview and assignment logic: each drone's colour, its legs as map
// lines (from the mission items), the checker's findings per leg, and the
// rules the Assign and Launch buttons follow.

export const DRONE_COLOURS = ["#4aa3ff", "#ff9f43", "#2ed573", "#e056fd", "#ffd32a", "#ff6b81", "#1dd1a1", "#a29bfe"];

export function droneColour(i) {
  return DRONE_COLOURS[((i % DRONE_COLOURS.length) + DRONE_COLOURS.length) % DRONE_COLOURS.length];
}

export const PATTERNS = ["perimeter", "sweep", "corridor", "loop"];

const NAV_WITH_POSITION = new Set([16, 17, 18, 19, 21, 22, 82]); // waypoint, loiters, land, takeoff, spline

function pos(it) {
  return [it.x / 1e7, it.y / 1e7];
}

// launchOf is where a drone plan takes off, [lat, lon]: the planner's
// launch point, or the home of a mission imported from a file (which has
// none); null when neither is known.
export function launchOf(dp) {
  const lp = dp?.launch?.Point; // the planner's Site: Point is [lon, lat]
  if (Array.isArray(lp) && lp.length === 2 && (lp[0] !== 0 || lp[1] !== 0)) return [lp[1], lp[0]];
  if (dp?.home && (dp.home.lat !== 0 || dp.home.lon !== 0)) return [dp.home.lat, dp.home.lon];
  return null;
}

// legs returns a drone plan's flight legs: [{seq, from, to}] between the
// items that have a position, in mission order (seq = the item the leg
// arrives at, as the checker's findings name it). The launch point (or,
// for a mission imported from a file, its home) starts the first leg, as
// the vehicle takes off there, an RTL item flies back to it and a DO_JUMP
// back to the item it repeats from: the checker judges those legs too, so
// the preview draws them (missions.DronePlan.Legs is the reference).
export function legs(dp) {
  const out = [];
  const start = launchOf(dp);
  let prev = start;
  const posOf = new Map();
  for (const it of dp.mission || []) {
    // DO_JUMP: the flight back to the repeated part, judged by the checker
    // as a leg of its own (to the jump item's seq); like the checker, the
    // next leg still starts where the vehicle was.
    if (it.command === 177) {
      const to = posOf.get(it.param1);
      if (prev && to) out.push({ seq: it.seq, from: prev, to });
      continue;
    }
    if (it.command === 20 && start) {
      if (prev) out.push({ seq: it.seq, from: prev, to: start });
      prev = start;
      continue;
    }
    if (!NAV_WITH_POSITION.has(it.command) || (it.x === 0 && it.y === 0)) continue;
    const p = pos(it);
    if (prev) out.push({ seq: it.seq, from: prev, to: p });
    posOf.set(it.seq, p);
    prev = p;
  }
  return out;
}

// fenceRings turns a drone's fence items into polygons and circles:
// {kind: "inclusion"|"exclusion", ring: [[lat, lon]…]} and
// {kind, center: [lat, lon], radius}.
export function fenceShapes(items) {
  const out = [];
  for (let i = 0; i < (items || []).length; ) {
    const it = items[i];
    if (it.command === 5001 || it.command === 5002) {
      const n = Math.max(3, Math.round(it.param1));
      out.push({ kind: it.command === 5001 ? "inclusion" : "exclusion", ring: items.slice(i, i + n).map(pos) });
      i += n;
      continue;
    }
    if (it.command === 5003 || it.command === 5004) {
      out.push({ kind: it.command === 5003 ? "inclusion" : "exclusion", center: pos(it), radius: it.param1 });
    }
    i++;
  }
  return out;
}

// findingsByDrone groups the checker's violations: drone → [violation];
// a violation with leg ≥ 0 names the item its leg arrives at (seq).
export function findingsByDrone(violations) {
  const m = new Map();
  for (const v of violations || []) {
    if (!m.has(v.drone)) m.set(v.drone, []);
    m.get(v.drone).push(v);
  }
  return m;
}

// badLegs returns the seqs of a drone's legs the checker flagged.
export function badLegs(violations, drone) {
  return new Set((violations || []).filter((v) => v.drone === drone && v.leg >= 0).map((v) => v.seq));
}

// assignProblem says why a plan cannot be assigned to the picked vehicles,
// or "" when it can: the plan must have passed its checks, every drone
// needs a vehicle, and no vehicle may fly two drones.
export function assignProblem(plan, picks) {
  if (!plan) return "make a plan first";
  if (!plan.ok) return `the plan failed ${plan.violations.length} check(s): it cannot be assigned`;
  const n = plan.drones.length;
  const seen = new Set();
  for (let d = 0; d < n; d++) {
    const id = picks[d];
    if (!id) return `pick a vehicle for drone ${d}`;
    if (seen.has(id)) return `vehicle ${id} is picked for two drones`;
    seen.add(id);
  }
  return "";
}

export function assignBody(plan, picks) {
  return { assignments: plan.drones.map((dp, i) => ({ drone: dp.drone ?? i, vehicle_id: picks[i] })) };
}

export function launchText(ids) {
  return `Arm + mission start for ${ids.length} vehicle${ids.length === 1 ? "" : "s"} (${ids.join(", ")})?`;
}

// planOptions reads the form's values into the planner's options, leaving
// out empty fields (the planner's defaults apply); numbers are checked here
// so the operator sees which field is wrong before anything is sent.
export function planOptions(form) {
  const o = { pattern: form.pattern };
  if (!PATTERNS.includes(o.pattern)) throw new Error(`pattern "${form.pattern}": want ${PATTERNS.join(", ")}`);
  const num = (k, min, max, int = false) => {
    const s = String(form[k] ?? "").trim();
    if (s === "") return;
    const n = Number(s);
    if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) throw new Error(`${k} "${s}": want ${int ? "a whole number " : ""}${min}–${max}`);
    o[k] = n;
  };
  num("drones", 1, 100, true);
  num("alt", 1, 1000);
  num("spacing", 1, 10000);
  num("margin", 0, 1000);
  num("speed", 0.1, 50);
  num("repeat", 0, 1000, true);
  num("mission_items", 3, 65535, true);
  // The vehicle's storage: the planner simplifies fences to fit and the
  // checker reports a mission that does not (rule "items").
  if (o.mission_items !== undefined) {
    o.capacity = { mission_items: o.mission_items };
    delete o.mission_items;
  }
  if (form.end) o.end = form.end;
  // A launch pad given with the plan (replaces the area's launch points
  // for this plan): latitude and longitude together, radius optional.
  const lat = String(form.launch_lat ?? "").trim();
  const lon = String(form.launch_lon ?? "").trim();
  const rad = String(form.launch_radius ?? "").trim();
  if (lat !== "" || lon !== "" || rad !== "") {
    if (lat === "" || lon === "") throw new Error("launch pad: give both latitude and longitude (or pick it on the map)");
    const la = Number(lat);
    const lo = Number(lon);
    if (!Number.isFinite(la) || la < -90 || la > 90) throw new Error(`launch latitude "${lat}": want -90–90`);
    if (!Number.isFinite(lo) || lo < -180 || lo > 180) throw new Error(`launch longitude "${lon}": want -180–180`);
    o.launch = { lat: la, lon: lo };
    if (rad !== "") {
      const r = Number(rad);
      if (!Number.isFinite(r) || r < 0 || r > 1000) throw new Error(`launch radius "${rad}": want 0–1000 m`);
      o.launch.radius_m = r;
    }
  }
  return o;
}

// batteryUse is a drone's estimated flight time against its battery
// budget, as the checker computed it (plan.battery, the numbers its
// battery rule judges): text for the preview, the share of the budget
// used, and whether it is over. null when the station sent none.
export function batteryUse(plan, drone) {
  const b = (plan?.battery || []).find((x) => x.drone === drone);
  if (!b || !(b.budget_s > 0)) return null;
  const pct = (100 * b.flight_s) / b.budget_s;
  const min = (s) => (s / 60).toFixed(1);
  return {
    pct,
    over: !!b.over,
    text: `battery ${min(b.flight_s)} of ${min(b.budget_s)} min (${Math.round(pct)} % of the budget: ${min(b.endurance_s)} min endurance, ${Math.round(b.reserve * 100)} % reserve) for ${b.what}`,
  };
}

// problemsText formats a planner/area validation error's details.problems.
export function problemsText(err) {
  const p = err?.details?.problems;
  if (Array.isArray(p) && p.length) return p.map(problemText);
  return [err?.message || String(err)];
}

// readArea checks a dropped or picked file is GeoJSON before it is sent.
export function readArea(text, name = "file") {
  let j;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not JSON (${e.message}); import a GeoJSON FeatureCollection`);
  }
  if (!j || j.type !== "FeatureCollection" || !Array.isArray(j.features)) throw new Error(`${name}: not a GeoJSON FeatureCollection`);
  return text;
}

// problemText names where an area problem is, in the words of the
// planner's own Problem.String (missions/area.go): feature (index and
// name) or collection, polygon, hole/shell, vertex.
export function problemText(x) {
  if (typeof x === "string") return x;
  let b = x.feature < 0 ? "collection" : `feature ${x.feature}${x.name ? ` ("${x.name}")` : ""}`;
  if (x.polygon > 0) b += ` polygon ${x.polygon}`;
  if (x.ring > 0) b += ` hole ${x.ring}`;
  else if (x.ring === 0 && x.vertex >= 0) b += " shell";
  if (x.vertex >= 0) b += ` vertex ${x.vertex}`;
  return `${b}: ${x.message}`;
}

// problemLocation finds the place on the map an area problem names, in
// the GeoJSON that was sent: the vertex when given, else the ring's first
// vertex, else the feature's first position; [lat, lon] or null.
export function problemLocation(fc, p) {
  const f = fc?.features?.[p?.feature];
  const g = f?.geometry;
  if (!g) return null;
  let polys = null;
  if (g.type === "Polygon") polys = [g.coordinates];
  else if (g.type === "MultiPolygon") polys = g.coordinates;
  let pos = null;
  if (polys) {
    const ring = polys[Math.max(0, p.polygon || 0)]?.[Math.max(0, p.ring || 0)];
    pos = ring?.[p.vertex >= 0 ? p.vertex : 0];
  } else if (g.type === "Point") {
    pos = g.coordinates;
  } else if (g.type === "LineString") {
    pos = g.coordinates?.[p.vertex >= 0 ? p.vertex : 0];
  }
  if (!Array.isArray(pos) || !Number.isFinite(pos[0]) || !Number.isFinite(pos[1])) return null;
  return [pos[1], pos[0]];
}

// metres between two [lat, lon] points (haversine; plenty for legs of a
// few kilometres).
export function distanceM(a, b) {
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
}

// flightEstimate is a drone plan's horizontal path length and the time it
// takes at the plan's speed, once through (repeats not counted): what the
// preview shows next to each drone. The checker's battery rule, against
// the station's endurance and reserve, is what decides.
export function flightEstimate(dp) {
  const m = legs(dp).reduce((s, l) => s + distanceM(l.from, l.to), 0);
  const speed = dp.speed > 0 ? dp.speed : 10;
  return { metres: m, minutes: m / speed / 60 };
}
