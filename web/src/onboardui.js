// Every vehicle's on-board mission on the map at once (each in its own
// colour, the current item's leg highlighted as it advances), its rally
// points, the selected vehicles' fences, and every vehicle's home. The
// lists are read from the vehicles (GET /api/v1/vehicles/{id}/{type},
// a MAVLink download), two vehicles at a time, again only when a
// vehicle's mission count changes or an upload to it ends; in a fleet
// larger than ALL_MISSIONS_MAX only the selected vehicles' missions are
// read and drawn.
import { api, store, map, L, m } from "./ctx.js";
import { esc } from "./lib/format.js";
import { fenceShapes } from "./lib/plan.js";
import { missionsShown, onboardKey, vehicleColour, missionLegs } from "./lib/fly.js";

const missionLayer = L.layerGroup().addTo(map);
const homeLayer = L.layerGroup().addTo(map);
const drawnMissions = new Map(); // id → {key, lists, group, legs: Map seq → polyline, seq, sel, retryAt}
const homes = new Map(); // id → circleMarker
const PARALLEL = 2;
const queue = [];
let loading = 0;

const tag = (layer, attrs) =>
  layer.on("add", () => {
    const el = layer.getElement?.();
    if (el) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  });

// updateOnBoard follows the store's changes (from the frame loop).
export function updateOnBoard(changed, selectionChanged) {
  const vs = [];
  for (const e of store.vehicles.values()) vs.push(e.v);
  const shown = missionsShown(vs, store.selection);
  for (const [id, d] of drawnMissions) {
    if (!shown.has(id)) {
      missionLayer.removeLayer(d.group);
      drawnMissions.delete(id);
    }
  }
  for (const id of shown) {
    const v = store.vehicles.get(id).v;
    const key = onboardKey(v);
    let d = drawnMissions.get(id);
    if (!d || d.key !== key || (d.retryAt && Date.now() >= d.retryAt)) {
      if (d) missionLayer.removeLayer(d.group);
      d = { key, lists: null, group: L.layerGroup().addTo(missionLayer), legs: new Map(), seq: -1, sel: null };
      drawnMissions.set(id, d);
      enqueue(id, d);
      continue;
    }
    if (d.lists && (selectionChanged || changed.has(id))) show(id, d, v);
  }
  for (const id of selectionChanged ? store.vehicles.keys() : changed) drawHome(id);
}

function enqueue(id, d) {
  queue.push([id, d]);
  pump();
}

function pump() {
  while (loading < PARALLEL && queue.length) {
    const [id, d] = queue.shift();
    if (drawnMissions.get(id) !== d) continue; // superseded while waiting
    loading++;
    load(id, d).finally(() => {
      loading--;
      pump();
    });
  }
}

// A mission the vehicle could not give (busy with another transfer, a
// lossy link) is asked for again after RETRY_MS; what was read is drawn
// meanwhile.
const RETRY_MS = 15000;

async function load(id, d) {
  const lists = {};
  let failed = false;
  for (const type of ["mission", "fence", "rally"]) {
    try {
      lists[type] = (await api.get(`/api/v1/vehicles/${encodeURIComponent(id)}/${type}`))?.items || [];
    } catch (e) {
      console.warn(type, "of", id, e);
      lists[type] = [];
      failed = failed || type === "mission"; // a vehicle without fence or rally support refuses those every time
    }
  }
  if (drawnMissions.get(id) !== d) return;
  d.lists = lists;
  d.retryAt = failed ? Date.now() + RETRY_MS : 0;
  const v = store.vehicles.get(id)?.v;
  if (v) show(id, d, v);
}

// show draws the vehicle's lists, or only moves the highlight when just
// the current item changed.
function show(id, d, v) {
  const sel = store.selection.has(id);
  if (sel === d.sel && v.mission_seq === d.seq) return;
  if (sel === d.sel) {
    restyle(d, id, d.seq, false, sel);
    restyle(d, id, v.mission_seq, true, sel);
    d.seq = v.mission_seq;
    return;
  }
  d.sel = sel;
  d.seq = v.mission_seq;
  d.group.clearLayers();
  d.legs.clear();
  const colour = vehicleColour(id);
  if (sel) {
    for (const shape of fenceShapes(d.lists.fence)) {
      const st = { color: "#ffd24a", weight: 1.5, dashArray: "2 4", fillOpacity: shape.kind === "inclusion" ? 0.02 : 0.15, interactive: false, className: "onboard-fence" };
      const f = shape.ring ? L.polygon(shape.ring, st) : L.circle(shape.center, { radius: shape.radius, ...st });
      tag(f, { "data-vehicle-id": id, "data-fence": shape.kind });
      f.addTo(d.group);
    }
  }
  for (const leg of missionLegs(d.lists.mission || [])) {
    const l = L.polyline([leg.from, leg.to], { className: "onboard-leg", ...legStyle(colour, leg.seq === d.seq, sel) });
    l.on("add", () => {
      const el = l.getElement?.();
      if (!el) return;
      el.dataset.vehicleId = id;
      el.dataset.seq = leg.seq;
      el.dataset.colour = colour;
      if (leg.seq === d.seq) el.dataset.current = "true";
    });
    l.bindTooltip(`${esc(id)}: to item ${leg.seq}`, { sticky: true }).addTo(d.group);
    d.legs.set(leg.seq, l);
  }
  for (const it of d.lists.rally || []) {
    const r = L.circleMarker([it.x / 1e7, it.y / 1e7], { radius: 4, color: "#6fd08c", weight: 2, fillOpacity: 0.3, className: "onboard-rally" }).bindTooltip(`rally point of ${esc(id)}`);
    tag(r, { "data-vehicle-id": id });
    r.addTo(d.group);
  }
}

function legStyle(colour, current, sel) {
  if (current) return { color: "#ffffff", weight: sel ? 5 : 4, opacity: 1 };
  return { color: colour, weight: sel ? 3 : 2, opacity: sel ? 0.8 : 0.45 };
}

function restyle(d, id, seq, current, sel) {
  const l = d.legs.get(seq);
  if (!l) return;
  l.setStyle(legStyle(vehicleColour(id), current, sel));
  const el = l.getElement?.();
  if (el) {
    if (current) el.dataset.current = "true";
    else delete el.dataset.current;
  }
  if (current) l.bringToFront();
}

// drawHome puts the vehicle's home (where RTL returns) on the map: SVG in
// a small fleet (inspectable), the shared canvas in a large one.
function drawHome(id) {
  const h = store.vehicles.get(id)?.v?.home;
  let mk = homes.get(id);
  if (!h || !Number.isFinite(h.lat) || (h.lat === 0 && h.lon === 0)) {
    if (mk) {
      homeLayer.removeLayer(mk);
      homes.delete(id);
    }
    return;
  }
  if (mk) {
    const ll = mk.getLatLng();
    if (ll.lat !== h.lat || ll.lng !== h.lon) mk.setLatLng([h.lat, h.lon]);
    return;
  }
  const big = store.vehicles.size > 200;
  mk = L.circleMarker([h.lat, h.lon], { radius: 5, color: vehicleColour(id), weight: 2, fillColor: "#101418", fillOpacity: 0.9, className: "home-point", ...(big ? { renderer: m.canvas } : {}) }).bindTooltip(`home of ${esc(id)}`);
  tag(mk, { "data-vehicle-id": id });
  mk.addTo(homeLayer);
  homes.set(id, mk);
}
