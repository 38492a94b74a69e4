// An event area drawn on the map, as plain shapes, turned into the area
// GeoJSON the station's area API takes (and back, to edit a stored area).
// The planner stays the validator: only what the form itself can get
// wrong (a number field, a date) is checked here.
//
// A shape is one of
//   {kind: "boundary", name, rings: [[[lat, lng], …] outer, [hole]…]}
//   {kind: "hole",     rings: [[[lat, lng], …]]} — a hole in the boundary
//                       that holds it (patrols keep out; transit legs may
//                       cross, unlike a no-fly zone)
//   {kind: "no-fly",   name, rings: [[[lat, lng], …], …]}
//   {kind: "no-fly-circle", name, center: [lat, lng], radius}
//   {kind: "launch",   name, center: [lat, lng], radius}
//   {kind: "feature",  feature}  — anything else of a stored area (rally,
//                                  poi, route), carried along unchanged.

export const SHAPE_KINDS = ["boundary", "hole", "no-fly", "no-fly-circle", "launch"];

// inside tells whether [lat, lng] p is inside ring (even-odd rule).
function inside(p, ring) {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [yi, xi] = ring[i];
    const [yj, xj] = ring[j];
    if (yi > p[0] !== yj > p[0] && p[1] < ((xj - xi) * (p[0] - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

// closed returns a [lon, lat] ring from [lat, lng] vertices, closed (the
// first vertex repeated at the end) as GeoJSON wants.
function closed(ring) {
  const r = ring.map(([lat, lng]) => [lng, lat]);
  if (r.length && (r[0][0] !== r[r.length - 1][0] || r[0][1] !== r[r.length - 1][1])) r.push([...r[0]]);
  return r;
}

// areaProps reads the area form (strings, as FormData gives them) into the
// event area's properties: name, altitude band (metres above launch), time
// window (datetime-local values, taken in the browser's time zone, sent
// as RFC 3339). Empty fields are left out: the planner's defaults apply.
export function areaProps(form) {
  const p = { name: String(form.name || "").trim() || "drawn area" };
  for (const k of ["min_alt_m", "max_alt_m"]) {
    const s = String(form[k] ?? "").trim();
    if (s === "") continue;
    const n = Number(s);
    if (!Number.isFinite(n) || n < -500 || n > 10000) throw new Error(`${k} "${s}": want metres above launch`);
    p[k] = n;
  }
  for (const k of ["starts", "ends"]) {
    const s = String(form[k] ?? "").trim();
    if (s === "") continue;
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) throw new Error(`${k} "${s}": not a date and time`);
    p[k] = d.toISOString();
  }
  return p;
}

// shapesToArea builds the area GeoJSON from drawn shapes, one feature per
// shape in the same order except holes, which are inner rings of the
// boundary that holds them (problemShape maps a planner problem back to
// its shape). The area's properties (areaProps) go on every boundary.
export function shapesToArea(shapes, props) {
  if (!shapes.some((s) => s.kind === "boundary")) throw new Error("draw the event area's outer boundary first");
  const holesOf = holesByBoundary(shapes);
  const features = shapes.map((s, i) => {
    const name = s.name || `${s.kind} ${i}`;
    switch (s.kind) {
      case "boundary":
        // The form names the area (a loaded boundary's old name gives way).
        return { type: "Feature", properties: { ...props, kind: "event-area", name: props.name }, geometry: { type: "Polygon", coordinates: [...s.rings, ...(holesOf.get(i) || []).map((h) => shapes[h].rings[0])].map(closed) } };
      case "hole":
        return null;
      case "no-fly":
        return { type: "Feature", properties: { kind: "no-fly", name }, geometry: { type: "Polygon", coordinates: s.rings.map(closed) } };
      case "no-fly-circle":
      case "launch":
        return {
          type: "Feature",
          properties: { kind: s.kind === "launch" ? "launch" : "no-fly", name, ...(s.radius > 0 ? { radius_m: Math.round(s.radius * 10) / 10 } : {}) },
          geometry: { type: "Point", coordinates: [s.center[1], s.center[0]] },
        };
      case "feature":
        return s.feature;
      default:
        throw new Error(`shape ${i}: unknown kind "${s.kind}"`);
    }
  });
  return { type: "FeatureCollection", name: props.name, features: features.filter(Boolean) };
}

// holesByBoundary assigns each hole to the boundary whose outer ring
// holds the most of its vertices (the first boundary when none holds
// any: the planner then says the hole lies outside its shell, naming the
// ring, which problemShape maps back to the hole): boundary shape index →
// hole shape indexes.
function holesByBoundary(shapes) {
  const m = new Map();
  shapes.forEach((s, i) => {
    if (s.kind !== "hole") return;
    let best = -1;
    let most = -1;
    shapes.forEach((o, b) => {
      if (o.kind !== "boundary") return;
      const n = (s.rings?.[0] || []).filter((v) => inside(v, o.rings[0])).length;
      if (n > most) [best, most] = [b, n];
    });
    if (!m.has(best)) m.set(best, []);
    m.get(best).push(i);
  });
  return m;
}

// problemShape finds the drawn shape a planner problem names (feature
// index into shapesToArea's features, ring within it): holes are rings of
// their boundary's feature, so a ring past the boundary's own is a hole
// shape. -1 when none.
export function problemShape(shapes, p) {
  const holesOf = holesByBoundary(shapes);
  const featureShape = shapes.map((s, i) => i).filter((i) => shapes[i].kind !== "hole");
  const i = featureShape[p?.feature];
  if (i === undefined) return -1;
  const own = shapes[i].rings?.length || 0;
  if (shapes[i].kind === "boundary" && p.ring >= own) return holesOf.get(i)?.[p.ring - own] ?? i;
  return i;
}

// areaToShapes is the reverse, to edit a stored area (GET /api/v1/areas/{id}):
// each event-area polygon a boundary (a MultiPolygon one per part) and its
// holes hole shapes, no-fly
// polygons and circles, launch pads; the rest carried along. Also returns
// the area form's values from the first boundary.
export function areaToShapes(fc) {
  const shapes = [];
  const form = { name: fc?.name || "" };
  const unring = (r) => {
    const out = r.map(([lng, lat]) => [lat, lng]);
    if (out.length > 1 && out[0][0] === out[out.length - 1][0] && out[0][1] === out[out.length - 1][1]) out.pop();
    return out;
  };
  const polys = (g) => (g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : []);
  for (const f of fc?.features || []) {
    const p = f.properties || {};
    const g = f.geometry || {};
    if (p.kind === "event-area" && polys(g).length) {
      if (!shapes.some((s) => s.kind === "boundary")) {
        form.name = p.name || form.name;
        for (const k of ["min_alt_m", "max_alt_m", "starts", "ends"]) if (p[k] !== undefined) form[k] = p[k];
      }
      for (const rings of polys(g)) {
        shapes.push({ kind: "boundary", name: p.name, rings: [unring(rings[0])] });
        for (const h of rings.slice(1)) shapes.push({ kind: "hole", rings: [unring(h)] });
      }
    } else if (p.kind === "no-fly" && g.type === "Point") {
      shapes.push({ kind: "no-fly-circle", name: p.name, center: [g.coordinates[1], g.coordinates[0]], radius: p.radius_m });
    } else if (p.kind === "no-fly" && polys(g).length) {
      for (const rings of polys(g)) shapes.push({ kind: "no-fly", name: p.name, rings: rings.map(unring) });
    } else if (p.kind === "launch" && g.type === "Point") {
      shapes.push({ kind: "launch", name: p.name, center: [g.coordinates[1], g.coordinates[0]], radius: p.radius_m || 0 });
    } else {
      shapes.push({ kind: "feature", feature: f });
    }
  }
  return { shapes, form };
}

// localInput formats an RFC 3339 time for a datetime-local input (the
// browser's time zone), "" for none.
export function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// areaInfo is one line about a stored area for the Plan tab (its summary
// from GET /api/v1/areas): altitude band, time window, no-fly zones and
// launch points, so the operator sees what the plan will be checked against.
export function areaInfo(a) {
  if (!a) return "";
  const parts = [`altitude ${a.min_alt_m}–${a.max_alt_m} m above launch`];
  const t = (iso) => localInput(iso).replace("T", " ");
  if (a.starts || a.ends) parts.push(`${a.starts ? t(a.starts) : "…"} to ${a.ends ? t(a.ends) : "…"}`);
  else parts.push("no time window");
  parts.push(`${a.no_fly} no-fly zone(s)`, `${a.launch} launch point(s)`);
  return parts.join(" · ");
}

// windowNote warns when now is outside an area's time window (its
// summary's starts/ends), for the launch confirmation: the station does
// not refuse such a launch (a rehearsal the day before is normal), but the
// operator should know. "" inside the window or when there is none.
export function windowNote(a, now = new Date()) {
  if (!a) return "";
  const t = (iso) => localInput(iso).replace("T", " ");
  if (a.starts && now < new Date(a.starts)) return `Note: the event "${a.name}" starts ${t(a.starts)}; this is before its time window.`;
  if (a.ends && now > new Date(a.ends)) return `Note: the event "${a.name}" ended ${t(a.ends)}; this is after its time window.`;
  return "";
}
