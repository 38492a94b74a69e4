// QGroundControl .plan → event-area GeoJSON, so an operator can start from
// the fence of an existing QGC plan: the (first) inclusion polygon becomes
// the event area, exclusion polygons and circles no-fly zones, the planned
// home the launch point and the rally points rally points. The planner
// validates the result as it does any area.

export function planToArea(text, name = "plan") {
  let j;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not JSON (${e.message})`);
  }
  if (j?.fileType !== "Plan") throw new Error(`${name}: not a QGroundControl .plan (fileType is ${JSON.stringify(j?.fileType)})`);
  const ll = (p) => [p[1], p[0]];
  const ring = (pts) => {
    const r = pts.map(ll);
    if (r.length && (r[0][0] !== r[r.length - 1][0] || r[0][1] !== r[r.length - 1][1])) r.push(r[0]);
    return r;
  };
  const features = [];
  const polys = j.geoFence?.polygons || [];
  const incl = polys.filter((p) => p.inclusion);
  if (!incl.length) throw new Error(`${name}: the plan's geofence has no inclusion polygon to use as the event area`);
  const mission = j.mission?.items || [];
  const alts = mission.map((it) => it?.params?.[6] ?? it?.Altitude).filter((a) => Number.isFinite(a) && a > 0);
  const props = { kind: "event-area", name: `${name} (from QGC plan)` };
  if (alts.length) {
    props.min_alt_m = Math.max(1, Math.floor(Math.min(...alts) - 10));
    props.max_alt_m = Math.ceil(Math.max(...alts) + 10);
  }
  incl.forEach((p, i) => features.push({ type: "Feature", properties: { ...props, name: props.name + (i ? ` ${i + 1}` : "") }, geometry: { type: "Polygon", coordinates: [ring(p.polygon)] } }));
  polys.filter((p) => !p.inclusion).forEach((p, i) => features.push({ type: "Feature", properties: { kind: "no-fly", name: `exclusion ${i + 1}` }, geometry: { type: "Polygon", coordinates: [ring(p.polygon)] } }));
  (j.geoFence?.circles || []).filter((c) => !c.circle?.inclusion && c.inclusion !== true).forEach((c, i) => {
    const cc = c.circle || c;
    features.push({ type: "Feature", properties: { kind: "no-fly", name: `exclusion circle ${i + 1}`, radius_m: cc.radius }, geometry: { type: "Point", coordinates: ll(cc.center) } });
  });
  const home = j.mission?.plannedHomePosition;
  if (Array.isArray(home) && home.length >= 2) features.push({ type: "Feature", properties: { kind: "launch", name: "planned home" }, geometry: { type: "Point", coordinates: ll(home) } });
  (j.rallyPoints?.points || []).forEach((p, i) => features.push({ type: "Feature", properties: { kind: "rally", name: `rally ${i + 1}`, alt_m: p[2] }, geometry: { type: "Point", coordinates: ll(p) } }));
  return JSON.stringify({ type: "FeatureCollection", features });
}
