// Review: a vehicle's recorded track (GET /api/v1/vehicles/{id}/track, a
// GeoJSON LineString with a time per point) and the position at any
// moment of it, for the time slider.

// trackPoints turns the history API's track into [{t (ms), lat, lon, alt}]
// in time order; points without a valid time are dropped.
export function trackPoints(track) {
  const c = track?.coordinates || [];
  const ts = track?.times || [];
  const out = [];
  for (let i = 0; i < c.length && i < ts.length; i++) {
    const t = Date.parse(ts[i]);
    if (!Number.isFinite(t)) continue;
    out.push({ t, lat: c[i][1], lon: c[i][0], alt: c[i][2] });
  }
  out.sort((a, b) => a.t - b.t);
  return out;
}

// positionAt interpolates linearly between the two recorded points around
// t (clamped to the track's ends); null for an empty track.
export function positionAt(pts, t) {
  if (!pts.length) return null;
  if (t <= pts[0].t) return { ...pts[0], t: pts[0].t };
  const last = pts[pts.length - 1];
  if (t >= last.t) return { ...last, t: last.t };
  let lo = 0;
  let hi = pts.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (pts[mid].t <= t) lo = mid;
    else hi = mid;
  }
  const a = pts[lo];
  const b = pts[hi];
  const f = b.t === a.t ? 0 : (t - a.t) / (b.t - a.t);
  return { t, lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f, alt: a.alt + (b.alt - a.alt) * f };
}

// trackURL is the history API call for the last `minutes` before now.
export function trackURL(id, now, minutes, format = "") {
  const m = Number(minutes);
  if (!id) throw new Error("pick a vehicle to review");
  if (!Number.isFinite(m) || m <= 0 || m > 31 * 24 * 60) throw new Error(`minutes "${minutes}": want 1–44640`);
  const to = new Date(now);
  const from = new Date(now - m * 60000);
  const q = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
  if (format) return `/api/v1/vehicles/${encodeURIComponent(id)}/history?${q}&format=${format}`;
  return `/api/v1/vehicles/${encodeURIComponent(id)}/track?${q}`;
}

// --- flights and plots ---

// flightsURL lists a vehicle's flights of the last `hours` (the history
// API derives them from the stored arm/disarm and take-off/landing).
export function flightsURL(id, now, hours = 24) {
  if (!id) throw new Error("pick a vehicle to review");
  const from = new Date(now - hours * 3600e3).toISOString();
  const to = new Date(now).toISOString();
  return `/api/v1/vehicles/${encodeURIComponent(id)}/flights?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
}

// flightRange is the time range reviewed for a flight: its start to its
// end (now while it is in progress), with a few seconds either side so
// the take-off and landing are in it. Times are ms.
export function flightRange(f, now) {
  const start = Date.parse(f?.start);
  if (!Number.isFinite(start)) throw new Error("flight without a start time");
  const end = f.end ? Date.parse(f.end) : NaN;
  const to = Number.isFinite(end) && !f.in_progress ? end : now;
  return { from: start - 5000, to: Math.max(to, start) + 5000 };
}

// rangeURL is the history API call for a vehicle between from and to
// (ms): kind "track" (the GeoJSON line) or "history" (samples: format
// json, csv or geojson — the exports).
export function rangeURL(kind, id, from, to, format = "") {
  const q = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;
  return `/api/v1/vehicles/${encodeURIComponent(id)}/${kind}?${q}${format ? "&format=" + format : ""}`;
}

const hhmm = (ms) => new Date(ms).toISOString().slice(11, 16);

// flightLabel is one line of the flight list.
export function flightLabel(f) {
  const start = Date.parse(f.start);
  const end = f.end ? Date.parse(f.end) : NaN;
  const mins = Number.isFinite(f.duration_s) ? Math.round(f.duration_s / 60) : NaN;
  const parts = [`${hhmm(start)}–${f.in_progress || !Number.isFinite(end) ? "now" : hhmm(end)} UTC`];
  if (Number.isFinite(mins)) parts.push(`${mins} min`);
  if (Number.isFinite(f.distance_m)) parts.push(`${(f.distance_m / 1000).toFixed(1)} km`);
  if (Number.isFinite(f.max_relative_alt_m)) parts.push(`max ${Math.round(f.max_relative_alt_m)} m`);
  if (f.min_battery_pct >= 0) parts.push(`battery ≥ ${Math.round(f.min_battery_pct)} %`);
  if (f.mission) parts.push(`plan ${f.mission}`);
  return parts.join(", ") + (f.in_progress ? " (in progress)" : "");
}

// series picks one field of the history samples as [{t (ms), y}], in time
// order, leaving out samples where it is unknown (a battery below 0 %).
export function series(samples, key) {
  const out = [];
  for (const s of samples || []) {
    const t = Date.parse(s.time);
    const y = s[key];
    if (!Number.isFinite(t) || !Number.isFinite(y) || (key === "battery_pct" && y < 0)) continue;
    out.push({ t, y });
  }
  return out.sort((a, b) => a.t - b.t);
}

// downsample keeps at most max points, evenly spaced, always the last.
export function downsample(pts, max) {
  if (pts.length <= max) return pts;
  const out = [];
  const step = (pts.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(pts[Math.round(i * step)]);
  return out;
}

// plotPath is an SVG path through pts on a width×height plot whose x axis
// spans t0..t1 (ms); the y axis spans the data and the value include
// when given (0 for altitude and battery, so a plot does not exaggerate a
// small change), at least 1 unit. Returns {d, yMin, yMax}; d is "" without
// points.
export function plotPath(pts, { width, height, t0, t1, include } = {}) {
  if (!pts.length) return { d: "", yMin: NaN, yMax: NaN };
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const p of pts) {
    yMin = Math.min(yMin, p.y);
    yMax = Math.max(yMax, p.y);
  }
  if (include !== undefined) {
    yMin = Math.min(yMin, include);
    yMax = Math.max(yMax, include);
  }
  if (yMax - yMin < 1) yMax = yMin + 1;
  const span = t1 > t0 ? t1 - t0 : 1;
  const x = (t) => (((t - t0) / span) * width).toFixed(1);
  const y = (v) => (height - ((v - yMin) / (yMax - yMin)) * height).toFixed(1);
  const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p.t)},${y(p.y)}`).join("");
  return { d, yMin, yMax };
}

// valueAt is a series' value at t (ms): linear between the samples around
// it, clamped to the ends; NaN for an empty series.
export function valueAt(pts, t) {
  if (!pts.length) return NaN;
  const p = positionAt(
    pts.map((s) => ({ t: s.t, lat: s.y, lon: 0, alt: 0 })),
    t,
  );
  return p.lat;
}
