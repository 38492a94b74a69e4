// The map: Leaflet with vehicles drawn on one canvas (circle markers, no
// DOM element per vehicle) and redrawn at most once per animation frame
// from the store's batch of changes, so 1,000 moving vehicles cost one
// canvas pass per frame. Areas and plans stay SVG paths (few, and the
// browser tests can inspect them). Tiles only when the station is
// configured with --map-tiles; otherwise a plain offline background.
import L from "leaflet";
import { COLOURS, statusOf, esc } from "./lib/format.js";
import { droneColour, legs, fenceShapes, badLegs } from "./lib/plan.js";
import { trailsFor } from "./lib/store.js";
import { createSeparation } from "./lib/separation.js";

// SEP_COLOURS are the separation lines' colours by level.
const SEP_COLOURS = { warning: "#f0b85a", critical: "#ef5b5b" };

export function createMap(el, { tiles, attribution } = {}) {
  const map = L.map(el, { zoomControl: true, attributionControl: !!tiles, preferCanvas: false, boxZoom: false }).setView([41.3111, 69.2797], 15);
  if (tiles) L.tileLayer(tiles, { attribution: attribution || "", maxZoom: 20 }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  const canvas = L.canvas({ padding: 0.3 });
  return { map, canvas, L };
}

// createVehicleLayer draws the store's vehicles; onPick(id, shift) on click.
export function createVehicleLayer(m, store, onPick) {
  const { map, canvas } = m;
  const trails = L.layerGroup().addTo(map);
  const markers = L.layerGroup().addTo(map);
  const drawn = new Map(); // id → {marker, trail}

  function style(v, sel) {
    const c = COLOURS[statusOf(v)];
    return { radius: sel ? 8 : 6, color: sel ? "#ffffff" : "#000000", weight: sel ? 2.5 : 1, fillColor: c, fillOpacity: 0.95 };
  }

  function update(ids, all) {
    for (const id of all ? store.vehicles.keys() : ids) {
      const e = store.vehicles.get(id);
      if (!e) continue;
      const v = e.v;
      const sel = store.selection.has(id);
      let d = drawn.get(id);
      if (!store.hasPos(v)) continue;
      if (!d) {
        d = {
          marker: L.circleMarker([v.lat, v.lon], { renderer: canvas, ...style(v, sel) }).bindTooltip(() => esc(d.label), { direction: "right" }),
          trail: L.polyline(e.trail, { renderer: canvas, color: COLOURS[statusOf(v)], weight: 1.5, opacity: 0.5, interactive: false }),
        };
        d.marker.on("click", (ev) => {
          L.DomEvent.stop(ev);
          onPick(id, ev.originalEvent.shiftKey);
        });
        d.marker.addTo(markers);
        d.status = statusOf(v);
        d.sel = sel;
        drawn.set(id, d);
      } else {
        d.marker.setLatLng([v.lat, v.lon]);
        const st = statusOf(v);
        if (st !== d.status || sel !== d.sel) {
          d.marker.setStyle(style(v, sel));
          d.trail.setStyle({ color: COLOURS[st] });
          d.status = st;
          d.sel = sel;
        }
      }
      if (trailsFor(store.vehicles.size, sel)) {
        d.trail.setLatLngs(e.trail);
        if (!trails.hasLayer(d.trail)) d.trail.addTo(trails);
      } else if (trails.hasLayer(d.trail)) {
        d.trail.remove();
      }
      d.label = `${v.id} ${v.mode || ""} ${Number.isFinite(v.relative_alt_m) ? v.relative_alt_m.toFixed(0) + " m" : ""}`;
    }
  }

  // Box select: Ctrl+drag (Shift+drag is Leaflet's box zoom, switched off
  // so shift-click stays "add to selection").
  let box = null;
  map.on("mousedown", (ev) => {
    if (!ev.originalEvent.ctrlKey) return;
    map.dragging.disable();
    box = { start: ev.latlng, rect: L.rectangle([ev.latlng, ev.latlng], { color: "#ffffff", weight: 1, dashArray: "3 3", fillOpacity: 0.05, interactive: false }).addTo(map) };
  });
  map.on("mousemove", (ev) => box && box.rect.setBounds([box.start, ev.latlng]));
  map.on("mouseup", (ev) => {
    if (!box) return;
    const b = L.latLngBounds(box.start, ev.latlng);
    box.rect.remove();
    box = null;
    map.dragging.enable();
    store.selectIn({ south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast() }, ev.originalEvent.shiftKey);
  });

  // Separation episodes: a dashed line between the two drones of each
  // pair in an episode (lib/separation.js), redrawn with their positions
  // every frame; an SVG path with class "sep-line sep-LEVEL" (few lines,
  // and the browser test finds them).
  const sepLayer = L.layerGroup().addTo(map);
  const sep = createSeparation();
  const sepPairs = sep.pairs; // key → {a, b, level, yield}
  const sepDrawn = new Map(); // key → {line, level}
  function drawSeparation() {
    for (const [key, d] of sepDrawn) {
      if (!sepPairs.has(key)) {
        d.line.remove();
        sepDrawn.delete(key);
      }
    }
    for (const [key, p] of sepPairs) {
      const a = store.vehicles.get(p.a)?.v;
      const b = store.vehicles.get(p.b)?.v;
      let d = sepDrawn.get(key);
      if (!a || !b || !store.hasPos(a) || !store.hasPos(b)) {
        if (d) d.line.remove();
        sepDrawn.delete(key);
        continue;
      }
      const pts = [
        [a.lat, a.lon],
        [b.lat, b.lon],
      ];
      if (d && d.level !== p.level) {
        d.line.remove();
        d = undefined;
      }
      if (!d) {
        const line = L.polyline(pts, { className: `sep-line sep-${p.level}`, color: SEP_COLOURS[p.level], weight: 3, dashArray: "6 4", interactive: false });
        line.addTo(sepLayer);
        d = { line, level: p.level };
        sepDrawn.set(key, d);
      } else {
        d.line.setLatLngs(pts);
      }
    }
  }

  return {
    update(ids, all) {
      update(ids, all);
      drawSeparation();
    },
    // separationEvents takes a stream frame's events; true when a line
    // appeared, changed level or went.
    separationEvents(events) {
      let changed = false;
      for (const ev of events || []) changed = sep.event(ev) || changed;
      return changed;
    },
    // On (re)connect: separationSyncStart when GET /api/v1/separation is
    // asked, separationActive with its active list when it answers (the
    // lines are then the station's open episodes, plus what the stream
    // said in between).
    separationSyncStart() {
      sep.syncStart();
    },
    separationActive(active) {
      sep.sync(active);
    },
    points() {
      return [...drawn.values()].map((d) => d.marker.getLatLng());
    },
  };
}

const AREA_STYLE = {
  "event-area": { color: "#4aa3ff", weight: 2, fillOpacity: 0.08 },
  "no-fly": { color: "#ef5b5b", weight: 2, fillOpacity: 0.25, dashArray: "6 4" },
  route: { color: "#b28dff", weight: 2 },
  launch: { color: "#6fd08c" },
  rally: { color: "#6fd08c" },
};

// drawFeatures draws area GeoJSON features (kind → style) into a group;
// each path carries data-area-kind for tests and styling.
export function drawFeatures(feats, group) {
  L.geoJSON(feats, {
    style: (f) => AREA_STYLE[String(f.properties?.kind || "")] || { color: "#9aa7b4", weight: 1 },
    pointToLayer: (f, ll) => {
      const st = AREA_STYLE[f.properties?.kind] || {};
      const r = Number(f.properties?.radius_m);
      return r > 0 ? L.circle(ll, { radius: r, ...st }) : L.circleMarker(ll, { radius: 5, ...st });
    },
    onEachFeature: (f, layer) => {
      const p = f.properties || {};
      layer.bindTooltip(`${esc(p.kind || "area")}: ${esc(p.name || p.area || "")}`);
      layer.on("add", () => layer.getElement?.()?.setAttribute("data-area-kind", p.kind || ""));
    },
  }).addTo(group);
}

// drawPlan draws every drone's legs, fence and rally points in its own
// colour; the legs the checker flagged are drawn red and marked with the
// finding. Paths carry data-drone / data-finding for tests.
export function drawPlan(plan, group) {
  group.clearLayers();
  const tag = (layer, attrs) =>
    layer.on("add", () => {
      const el = layer.getElement?.();
      if (el) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    });
  for (const [i, dp] of plan.drones.entries()) {
    const d = dp.drone ?? i;
    const colour = droneColour(d);
    const bad = badLegs(plan.violations, d);
    for (const shape of fenceShapes(dp.fence)) {
      const st = { color: colour, weight: 1, dashArray: shape.kind === "inclusion" ? "2 5" : "6 3", fillOpacity: shape.kind === "inclusion" ? 0 : 0.1, interactive: false };
      const l = shape.ring ? L.polygon(shape.ring, st) : L.circle(shape.center, { radius: shape.radius, ...st });
      tag(l, { "data-drone": d, "data-fence": shape.kind });
      l.addTo(group);
    }
    for (const leg of legs(dp)) {
      const isBad = bad.has(leg.seq);
      const l = L.polyline([leg.from, leg.to], { color: isBad ? "#ff3040" : colour, weight: isBad ? 5 : 3, opacity: 0.9, dashArray: isBad ? "8 4" : null, className: "plan-leg" });
      const attrs = { "data-drone": d, "data-seq": leg.seq, "data-colour": colour };
      if (isBad) {
        const f = plan.violations.filter((v) => v.drone === d && v.seq === leg.seq && v.leg >= 0);
        attrs["data-finding"] = f.map((v) => v.rule).join(",");
        l.bindTooltip(f.map((v) => esc(`drone ${d} leg ${v.leg}: ${v.rule}: ${v.message}`)).join("<br>"), { sticky: true });
      } else {
        l.bindTooltip(`drone ${d}, to item ${leg.seq}`, { sticky: true });
      }
      tag(l, attrs);
      l.addTo(group);
    }
    for (const it of dp.rally || []) {
      const r = L.circleMarker([it.x / 1e7, it.y / 1e7], { radius: 5, color: colour, fillColor: colour, fillOpacity: 0.4 }).bindTooltip(`rally (drone ${d})`);
      tag(r, { "data-drone": d, "data-rally": "1" });
      r.addTo(group);
    }
  }
  return group;
}

// drawOnBoard draws what a vehicle holds on board (downloaded from it):
// its mission with the current item highlighted, its fence and rally
// points, in the vehicle list's highlight colour.
export function drawOnBoard(group, id, { mission, fence, rally }, currentSeq) {
  group.clearLayers();
  const colour = "#e8e8e8";
  for (const shape of fenceShapes(fence)) {
    const st = { color: "#ffd24a", weight: 1.5, dashArray: "2 4", fillOpacity: shape.kind === "inclusion" ? 0.02 : 0.15, interactive: false };
    (shape.ring ? L.polygon(shape.ring, st) : L.circle(shape.center, { radius: shape.radius, ...st })).addTo(group);
  }
  // Item 0 of an ArduPilot mission is home: the legs start at item 1.
  const items = (mission || []).filter((it) => it.seq > 0);
  for (const leg of legs({ mission: items })) {
    const current = leg.seq === currentSeq;
    const l = L.polyline([leg.from, leg.to], { color: current ? "#ffffff" : colour, weight: current ? 4 : 2, opacity: current ? 1 : 0.5, className: "onboard-leg" });
    l.on("add", () => {
      const el = l.getElement?.();
      if (el) {
        el.dataset.vehicleId = id;
        el.dataset.seq = leg.seq;
        if (current) el.dataset.current = "true";
      }
    });
    l.bindTooltip(`${esc(id)}: to item ${leg.seq}${current ? " (current)" : ""}`, { sticky: true }).addTo(group);
  }
  for (const it of rally || []) L.circleMarker([it.x / 1e7, it.y / 1e7], { radius: 4, color: "#6fd08c", interactive: false }).addTo(group);
}
