// Drawing an event area on the map: outer boundary, no-fly polygons and
// circles, a launch pad with its radius, vertex editing, and the area's
// altitude band and time window; saved through the same area API a file
// import uses (POST /api/v1/areas), so the planner validates both alike.
// The shapes ↔ GeoJSON logic is in lib/draw.js (unit-tested); this module
// wires Leaflet-Geoman's draw and edit modes to it.
import "./leaflet-global.js";
import { esc } from "./lib/format.js";
import { areaProps, shapesToArea, areaToShapes, localInput, problemShape } from "./lib/draw.js";

const $ = (id) => document.getElementById(id);

// loadGeoman loads the drawing tools' bundle (draw.js, draw.css; see
// src/draw.js) once, on first use.
let geoman = null;
function loadGeoman() {
  if (!geoman) {
    geoman = new Promise((resolve, reject) => {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = "draw.css";
      document.head.append(css);
      const js = document.createElement("script");
      js.src = "draw.js";
      js.onload = () => resolve(window.L.PM);
      js.onerror = () => {
        geoman = null;
        reject(new Error("cannot load the drawing tools (draw.js)"));
      };
      document.head.append(js);
    });
  }
  return geoman;
}

const STYLE = {
  boundary: { color: "#2ecc71", weight: 2, fillOpacity: 0.08, dashArray: "6 4" },
  hole: { color: "#2ecc71", weight: 2, fillColor: "#000000", fillOpacity: 0.35, dashArray: "2 4" },
  "no-fly": { color: "#ff3040", weight: 2, fillOpacity: 0.2, dashArray: "6 4" },
  "no-fly-circle": { color: "#ff3040", weight: 2, fillOpacity: 0.2, dashArray: "6 4" },
  launch: { color: "#40a0ff", weight: 2, fillOpacity: 0.25, dashArray: "6 4" },
};
const SHAPE = { boundary: "Polygon", hole: "Polygon", "no-fly": "Polygon", "no-fly-circle": "Circle", launch: "Circle" };
const HOW = {
  boundary: "click the boundary's corners; click the first corner again to close it",
  hole: "inside the boundary, click the hole's corners; click the first corner again to close it",
  "no-fly": "click the no-fly zone's corners; click the first corner again to close it",
  "no-fly-circle": "click the no-fly circle's centre, then a point on its edge",
  launch: "click the launch pad's centre, then a point on its edge (its radius)",
};

// createAreaDraw wires the "Draw an area" section. ctx: api, map, L,
// showProblems(err, fc, onProblem) to list and mark a refused area's
// problems (onProblem(p) is called for each), onSaved(summary) after the
// station stored the area.
export function createAreaDraw({ api, map, L, showProblems, onSaved }) {
  // map.pm once the tools are loaded: the map was made before them, so it
  // gets its geoman object now (opted in).
  let pm = null;
  async function tools() {
    if (pm) return pm;
    const PM = await loadGeoman();
    map.options.pmIgnore = false;
    PM.reInitLayer(map);
    pm = map.pm;
    pm.setGlobalOptions({ snappable: true, snapDistance: 12 });
    return pm;
  }
  const group = L.featureGroup().addTo(map);
  const drawn = []; // {kind, name, layer} | {kind: "feature", feature}
  let pending = null;
  let editing = false;
  const status = (t) => ($("draw-status").textContent = t);

  function add(kind, layer, name) {
    layer.addTo(group);
    layer.getElement?.()?.setAttribute("data-shape", kind);
    drawn.push({ kind, name, layer });
    if (editing) layer.pm?.enable({ allowSelfIntersection: true });
    count();
  }
  function count() {
    const n = (k) => drawn.filter((d) => d.kind === k).length;
    $("draw-count").textContent = `${n("boundary")} boundary, ${n("hole") ? `${n("hole")} hole(s), ` : ""}${n("no-fly") + n("no-fly-circle")} no-fly, ${n("launch")} launch pad(s)`;
    $("area-save").disabled = n("boundary") === 0;
  }

  map.on("pm:create", (e) => {
    if (!pending) return;
    const kind = pending;
    pending = null;
    e.layer.remove(); // re-added to our group, with our bookkeeping
    add(kind, e.layer);
    pressed(null);
    status(`${kind} added. Draw more, edit vertices, or save the area.`);
  });

  function pressed(kind) {
    for (const b of document.querySelectorAll("#area-draw [data-draw]")) b.setAttribute("aria-pressed", String(b.dataset.draw === kind));
  }
  async function startDraw(kind) {
    try {
      await tools();
    } catch (e) {
      return status(e.message);
    }
    pm.disableDraw();
    setEdit(false);
    setRemove(false);
    pending = kind;
    pressed(kind);
    pm.enableDraw(SHAPE[kind], { pathOptions: { ...STYLE[kind], pmIgnore: false }, templineStyle: STYLE[kind], hintlineStyle: { ...STYLE[kind], dashArray: "4 4" }, allowSelfIntersection: true, continueDrawing: false });
    status(`${kind}: ${HOW[kind]} (Esc cancels).`);
  }
  function setEdit(on) {
    editing = on;
    $("draw-edit").setAttribute("aria-pressed", String(on));
    for (const d of drawn) {
      if (!d.layer?.pm) continue;
      if (on) d.layer.pm.enable({ allowSelfIntersection: true });
      else d.layer.pm.disable();
    }
    if (on) status("Drag a vertex to move it, the middle of an edge to add one; right-click a vertex to remove it.");
  }
  function setRemove(on) {
    $("draw-remove").setAttribute("aria-pressed", String(on));
    if (!pm) return;
    if (on) {
      pm.enableGlobalRemovalMode();
      status("Click a shape to delete it.");
    } else if (pm.globalRemovalModeEnabled()) pm.disableGlobalRemovalMode();
  }
  map.on("pm:remove", (e) => {
    const i = drawn.findIndex((d) => d.layer === e.layer);
    if (i >= 0) drawn.splice(i, 1);
    group.removeLayer(e.layer);
    count();
  });

  function clear() {
    pm?.disableDraw();
    setEdit(false);
    setRemove(false);
    group.clearLayers();
    drawn.length = 0;
    pending = null;
    pressed(null);
    count();
  }

  function shapes() {
    return drawn.map((d) => {
      if (d.kind === "feature") return d;
      if (d.layer instanceof L.Circle) return { kind: d.kind, name: d.name, center: [d.layer.getLatLng().lat, d.layer.getLatLng().lng], radius: d.layer.getRadius() };
      let ll = d.layer.getLatLngs();
      if (Array.isArray(ll[0]?.[0])) ll = ll.flat(); // a multi-polygon layer: its parts' rings
      return { kind: d.kind, name: d.name, rings: ll.map((r) => r.map((p) => [p.lat, p.lng])) };
    });
  }

  // Load the area picked in the Plan tab into the editor: its shapes
  // become editable; saving makes a new area (stored areas are not
  // changed in place: plans refer to them).
  async function load() {
    const id = $("plan-area").value;
    if (!id) return status("Import or draw an area first.");
    try {
      await tools();
      const fc = await api.get(`/api/v1/areas/${encodeURIComponent(id)}`);
      clear();
      const { shapes: ss, form } = areaToShapes(fc);
      for (const s of ss) {
        if (s.kind === "feature") drawn.push(s);
        else if (s.center) add(s.kind, L.circle(s.center, { ...STYLE[s.kind], radius: s.radius > 0 ? s.radius : 5, pmIgnore: false }), s.name);
        else add(s.kind, L.polygon(s.rings, { ...STYLE[s.kind], pmIgnore: false }), s.name);
      }
      const f = $("area-form");
      f.name.value = `${form.name || id} (edited)`;
      f.min_alt_m.value = form.min_alt_m ?? "";
      f.max_alt_m.value = form.max_alt_m ?? "";
      f.starts.value = localInput(form.starts);
      f.ends.value = localInput(form.ends);
      setEdit(true);
      count();
      if (group.getLayers().length) map.fitBounds(group.getBounds().pad(0.2), { maxZoom: 18 });
    } catch (e) {
      status(`cannot load area ${id}: ${e.message}`);
    }
  }

  async function save() {
    let fc;
    for (const d of drawn) d.layer?.getElement?.()?.classList.remove("shape-problem");
    const ss = shapes();
    try {
      fc = shapesToArea(ss, areaProps(Object.fromEntries(new FormData($("area-form")))));
    } catch (e) {
      $("area-errors").innerHTML = `<li>${esc(e.message)}</li>`;
      return;
    }
    $("area-save").disabled = true;
    try {
      const a = await api.post("/api/v1/areas", JSON.stringify(fc));
      clear();
      status("");
      await onSaved(a);
    } catch (e) {
      showProblems(e, fc, (p) => {
        const el = drawn[problemShape(ss, p)]?.layer?.getElement?.();
        if (el) el.classList.add("shape-problem");
      });
      status("The station refused the area: fix the marked shapes (Edit vertices) and save again.");
      if (!editing) setEdit(true);
    } finally {
      count();
    }
  }

  for (const b of document.querySelectorAll("#area-draw [data-draw]")) b.addEventListener("click", () => startDraw(b.dataset.draw));
  $("draw-edit").addEventListener("click", () => setEdit(!editing));
  $("draw-remove").addEventListener("click", async () => {
    try {
      await tools();
    } catch (e) {
      return status(e.message);
    }
    setRemove(!pm.globalRemovalModeEnabled());
  });
  $("draw-clear").addEventListener("click", () => {
    clear();
    status("");
  });
  $("draw-load").addEventListener("click", load);
  $("area-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    save();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || !pending) return;
    pm?.disableDraw();
    pending = null;
    pressed(null);
    status("drawing cancelled");
  });
  count();
  return { shapes, clear };
}
