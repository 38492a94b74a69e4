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
