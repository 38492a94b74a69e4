// Burgut's live map: vehicles, trails, areas and alerts from the
// /api/v1/stream WebSocket and /api/v1/areas. No tile server: areas are
// drawn on a plain background, so the map works offline. Without a session
// the page is the login form; the map starts after a login.
import L from "leaflet";
import "./main.css";

const TRAIL = 120; // positions kept per vehicle
const MAX_ALERTS = 100;
const ALERT_KINDS = new Set(["fence_breach", "battery_low", "battery_critical", "link_lost", "failsafe"]);

const map = L.map("map", { zoomControl: true, attributionControl: false, preferCanvas: false }).setView([41.3111, 69.2797], 15);
L.control.scale({ imperial: false }).addTo(map);
const areaLayer = L.layerGroup().addTo(map);
const trailLayer = L.layerGroup().addTo(map);
const vehicleLayer = L.layerGroup().addTo(map);

const vehicles = new Map(); // id → {v, marker, trail, points, li}
let selected = null;
let fitted = false;
let areasFitted = false;

function statusOf(v) {
  if (!v.connected) return "lost";
  if (v.stale) return "stale";
  if (v.fence_breached) return "breach";
  if (v.armed) return "armed";
  return "disarmed";
}
const COLOURS = { armed: "#4cc27a", disarmed: "#7d8ea0", lost: "#ef5b5b", stale: "#f0b85a", breach: "#ff7b2e" };

function arrowIcon(v) {
  const colour = COLOURS[statusOf(v)];
  const heading = Number.isFinite(v.heading_deg) ? v.heading_deg : 0;
  const html =
    `<div data-vehicle-id="${esc(v.id)}" data-status="${statusOf(v)}" data-lat="${v.lat}" data-lon="${v.lon}">` +
    `<svg width="24" height="24" viewBox="-12 -12 24 24" style="transform: rotate(${heading}deg)">` +
    `<path d="M0,-11 L7,8 L0,4 L-7,8 Z" fill="${colour}" stroke="#000" stroke-width="1.2"/></svg>` +
    `<span class="vehicle-label">${esc(v.id)}${v.stale ? " (stale)" : ""}</span></div>`;
  return L.divIcon({ className: "vehicle-marker", html, iconSize: [24, 24], iconAnchor: [12, 12] });
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function fmt(n, digits = 0, unit = "") {
  return Number.isFinite(n) ? n.toFixed(digits) + unit : "–";
}

function upsertVehicle(v) {
  let e = vehicles.get(v.id);
  const ll = [v.lat, v.lon];
  const hasPos = !(v.lat === 0 && v.lon === 0);
  if (!e) {
    e = { v, points: [] };
    e.marker = L.marker(ll, { icon: arrowIcon(v), keyboard: false }).on("click", () => select(v.id));
    e.trail = L.polyline([], { color: COLOURS[statusOf(v)], weight: 2, opacity: 0.6 });
    if (hasPos) {
      e.marker.addTo(vehicleLayer);
      e.trail.addTo(trailLayer);
    }
    e.li = document.createElement("li");
    e.li.addEventListener("click", () => select(v.id));
    vehicles.set(v.id, e);
    insertSorted(e.li, v.id);
  } else if (hasPos && !vehicleLayer.hasLayer(e.marker)) {
    e.marker.addTo(vehicleLayer);
    e.trail.addTo(trailLayer);
  }
  e.v = v;
  if (hasPos) {
    const last = e.points[e.points.length - 1];
    if (!last || last[0] !== v.lat || last[1] !== v.lon) {
      e.points.push(ll);
      if (e.points.length > TRAIL) e.points.shift();
      e.trail.setLatLngs(e.points);
    }
    e.marker.setLatLng(ll);
  }
  e.marker.setIcon(arrowIcon(v));
  e.trail.setStyle({ color: COLOURS[statusOf(v)] });
  renderListItem(e);
  if (selected === v.id) renderDetails();
}

function insertSorted(li, id) {
  li.dataset.vehicleId = id;
  const ul = document.getElementById("vehicles");
  const after = [...ul.children].find((c) => c.dataset.vehicleId > id);
  ul.insertBefore(li, after || null);
}

function renderListItem(e) {
  const v = e.v;
  const s = statusOf(v);
  e.li.dataset.status = s;
  e.li.dataset.lat = v.lat;
  e.li.dataset.lon = v.lon;
  e.li.dataset.stale = v.stale ? "true" : "false";
  e.li.className = selected === v.id ? "selected" : "";
  e.li.innerHTML =
    `<span class="dot" style="background:${COLOURS[s]}"></span>` +
    `<span>${esc(v.id)} <small>${esc(v.mode)}</small>${v.stale ? ' <span class="stale-flag">STALE</span>' : ""}</span>` +
    `<span class="battery" title="battery">${v.battery_pct >= 0 ? fmt(v.battery_pct, 0, " %") : "–"}</span>` +
    `<span>${fmt(v.relative_alt_m, 0, " m")}</span>`;
}

function select(id) {
  if (selected !== id) loadFence(id);
  selected = id;
  for (const e of vehicles.values()) renderListItem(e);
  renderDetails();
}

function renderDetails() {
  const e = vehicles.get(selected);
  const box = document.getElementById("details");
  if (!e) {
    box.hidden = true;
    return;
  }
  const v = e.v;
  box.hidden = false;
  box.dataset.vehicleId = v.id;
  document.getElementById("details-title").textContent = v.id;
  const rows = [
    ["status", statusOf(v)],
    ["mode", v.mode],
    ["armed", v.armed ? "yes" : "no"],
    ["battery", v.battery_pct >= 0 ? fmt(v.battery_pct, 0, " %") + " " + fmt(v.battery_v, 1, " V") : "–"],
    ["position", `${fmt(v.lat, 6)}, ${fmt(v.lon, 6)}`],
    ["altitude", fmt(v.relative_alt_m, 1, " m") + " rel, " + fmt(v.alt_msl_m, 1, " m") + " MSL"],
    ["heading", fmt(v.heading_deg, 0, "°")],
    ["speed", fmt(v.ground_speed_mps, 1, " m/s")],
    ["GPS", `fix ${v.gps_fix}, ${v.satellites} sats`],
    ["link", `${v.link} sys ${v.system_id}, loss ${fmt(v.link_quality?.loss_pct, 1, " %")}`],
    ["mission", v.mission_count ? `${v.mission_seq} / ${v.mission_count}` : "–"],
    ["last seen", v.last_seen ? new Date(v.last_seen).toLocaleTimeString() : "–"],
  ];
  document.getElementById("details-fields").innerHTML = rows.map(([k, val]) => `<dt>${k}</dt><dd>${esc(val)}</dd>`).join("");
  const video = v.video || [];
  document.getElementById("details-video").innerHTML = video.length
    ? video
        .map(
          (s) =>
            `<li data-stream-id="${s.stream_id}"><b>${esc(s.name || "stream " + s.stream_id)}</b> ${esc(s.type)} ${esc(s.encoding || "")} ` +
            `${s.width ? s.width + "×" + s.height : ""} ${s.running ? "" : "(stopped)"}<br><a href="${esc(s.uri)}">${esc(s.uri)}</a></li>`,
        )
        .join("")
    : "<li>no video stream advertised</li>";
}

function addAlert(ev) {
  if (!ALERT_KINDS.has(ev.kind) && ev.severity !== "warning" && ev.severity !== "critical") return;
  const ul = document.getElementById("alerts");
  if (ul.querySelector(`li[data-seq="${ev.seq}"]`)) return;
  const li = document.createElement("li");
  li.dataset.kind = ev.kind;
  li.dataset.seq = ev.seq;
  li.dataset.vehicleId = ev.vehicle_id;
  li.dataset.severity = ev.severity;
  li.innerHTML = `<time>${new Date(ev.time).toLocaleTimeString()}</time>${esc(ev.message || ev.kind)}`;
  li.addEventListener("click", () => select(ev.vehicle_id));
  ul.prepend(li);
  while (ul.children.length > MAX_ALERTS) ul.lastChild.remove();
}

function updateCounts() {
  let stale = 0;
  for (const e of vehicles.values()) if (e.v.stale || !e.v.connected) stale++;
  document.getElementById("counts").textContent = `${vehicles.size} vehicles${stale ? `, ${stale} stale/lost` : ""}`;
}

function fitOnce() {
  if (fitted) return;
  const pts = [];
  for (const e of vehicles.values()) if (!(e.v.lat === 0 && e.v.lon === 0)) pts.push([e.v.lat, e.v.lon]);
  areaLayer.eachLayer((l) => l.getBounds && pts.push(l.getBounds().getNorthEast(), l.getBounds().getSouthWest()));
  if (pts.length === 0) return;
  map.fitBounds(L.latLngBounds(pts).pad(0.3), { maxZoom: 17 });
  fitted = true;
}

// --- the stream ---
let retry = 500;
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/stream`);
  const conn = document.getElementById("conn");
  ws.onopen = () => {
    conn.dataset.state = "open";
    conn.textContent = "live";
    retry = 500;
  };
  ws.onclose = async () => {
    conn.dataset.state = "closed";
    conn.textContent = "disconnected — retrying";
    if (!(await currentSession())) {
      showLogin("Your session has ended: log in again.");
      return;
    }
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  };
  ws.onmessage = (m) => {
    const f = JSON.parse(m.data);
    switch (f.type) {
      case "snapshot":
        document.getElementById("station").textContent = f.station ? `station ${f.station}` : "";
        (f.vehicles || []).forEach(upsertVehicle);
        (f.alerts || []).forEach(addAlert);
        fitOnce();
        break;
      case "state":
        (f.vehicles || []).forEach(upsertVehicle);
        fitOnce();
        break;
      case "events":
        (f.events || []).forEach(addAlert);
        break;
      case "error":
        console.warn("stream error:", f.error);
        break;
    }
    updateCounts();
  };
}

// --- areas, no-fly zones, fences ---
const AREA_STYLE = {
  "event-area": { color: "#4aa3ff", weight: 2, fillOpacity: 0.08 },
  "no-fly": { color: "#ef5b5b", weight: 2, fillOpacity: 0.25, dashArray: "6 4" },
  fence: { color: "#ffd24a", weight: 2, fillOpacity: 0.03, dashArray: "2 4" },
  route: { color: "#b28dff", weight: 2 },
  launch: { color: "#6fd08c" },
  rally: { color: "#6fd08c" },
};

function collectFeatures(x, out, inherited) {
  if (!x || typeof x !== "object") return out;
  if (Array.isArray(x)) {
    x.forEach((i) => collectFeatures(i, out, inherited));
  } else if (x.type === "Feature") {
    out.push({ ...x, properties: { ...inherited, ...(x.properties || {}) } });
  } else if (x.type === "FeatureCollection") {
    (x.features || []).forEach((f) => collectFeatures(f, out, inherited));
  } else {
    const props = x.name || x.id ? { area: x.name || x.id } : inherited;
    for (const k of ["areas", "geojson", "features", "collection", "items", "fences"]) if (x[k]) collectFeatures(x[k], out, props);
  }
  return out;
}

// /api/v1/areas lists area summaries ({"areas":[{id,name,…}]}); each
// area's GeoJSON (features with a "kind") is at /api/v1/areas/{id}. A
// plain FeatureCollection answer is drawn as is.
async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (r.status === 401) showLogin("Your session has ended: log in again.");
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

async function loadAreas() {
  try {
    const list = await getJSON("/api/v1/areas");
    let feats = collectFeatures(list, [], {});
    const ids = Array.isArray(list?.areas) ? list.areas.filter((a) => a && a.id && !a.type).map((a) => a) : [];
    for (const a of ids) {
      try {
        collectFeatures(await getJSON(`/api/v1/areas/${encodeURIComponent(a.id)}`), feats, { area: a.name || a.id });
      } catch (e) {
        console.warn("area", a.id, e);
      }
    }
    areaLayer.clearLayers();
    drawFeatures(feats, areaLayer);
    if (!areasFitted && feats.length) {
      fitted = false; // frame the areas too, once
      areasFitted = true;
    }
    fitOnce();
  } catch (e) {
    console.warn("areas:", e);
  }
}

function drawFeatures(feats, layerGroup) {
  L.geoJSON(feats, {
    style: (f) => {
      const kind = String(f.properties?.kind || "");
      return AREA_STYLE[kind] || (kind.includes("fence") ? AREA_STYLE.fence : { color: "#9aa7b4", weight: 1 });
    },
    pointToLayer: (f, ll) => {
      const style = AREA_STYLE[f.properties?.kind] || {};
      const r = Number(f.properties?.radius_m);
      // A no-fly circle (or a launch pad) has a real size in metres: draw it to scale.
      if (r > 0) return L.circle(ll, { radius: r, ...style });
      return L.circleMarker(ll, { radius: 5, ...style });
    },
    onEachFeature: (f, layer) => {
      const p = f.properties || {};
      layer.bindTooltip(`${esc(p.kind || "area")}: ${esc(p.name || p.area || "")}`);
      layer.on("add", () => layer.getElement && layer.getElement()?.setAttribute("data-area-kind", p.kind || ""));
    },
  }).addTo(layerGroup);
}

// A vehicle's geofence, read from the vehicle (a MAVLink fence download)
// when it is selected: inclusion/exclusion polygons and circles.
const fenceLayer = L.layerGroup().addTo(map);
async function loadFence(id) {
  fenceLayer.clearLayers();
  let items;
  try {
    items = (await getJSON(`/api/v1/vehicles/${encodeURIComponent(id)}/fence`)).items || [];
  } catch (e) {
    console.warn("fence of", id, e);
    return;
  }
  if (selected !== id) return;
  const feats = [];
  for (let i = 0; i < items.length; ) {
    const it = items[i];
    const ll = (x) => [x.y / 1e7, x.x / 1e7];
    if (it.command === 5001 || it.command === 5002) {
      const n = Math.max(3, Math.round(it.param1));
      const ring = items.slice(i, i + n).map(ll);
      ring.push(ring[0]);
      feats.push({ type: "Feature", properties: { kind: it.command === 5001 ? "fence" : "no-fly", name: `${id} fence` }, geometry: { type: "Polygon", coordinates: [ring] } });
      i += n;
      continue;
    }
    if (it.command === 5003 || it.command === 5004) {
      L.circle([it.x / 1e7, it.y / 1e7], { radius: it.param1, ...(it.command === 5003 ? AREA_STYLE.fence : AREA_STYLE["no-fly"]) })
        .bindTooltip(`${esc(id)} fence`)
        .addTo(fenceLayer);
    }
    i++;
  }
  drawFeatures(feats, fenceLayer);
}

// --- login and session ---
// The session cookie is HttpOnly; the page keeps the session's CSRF token
// (from the login or GET /api/v1/session) and sends it as X-CSRF-Token on
// every call that changes something.
let session = null;
let started = false;

async function currentSession() {
  try {
    const r = await fetch("/api/v1/session", { headers: { Accept: "application/json" } });
    return r.ok ? await r.json() : null;
  } catch (e) {
    return null;
  }
}

function showLogin(message) {
  session = null;
  document.querySelector("header").hidden = true;
  document.querySelector("main").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("login-user").focus();
}

function start(s) {
  session = s;
  document.body.dataset.role = s.role;
  document.getElementById("whoami").textContent = `${s.name} (${s.role})`;
  document.getElementById("login").hidden = true;
  document.querySelector("header").hidden = false;
  document.querySelector("main").hidden = false;
  map.invalidateSize();
  if (started) return;
  started = true;
  connect();
  loadAreas();
  setInterval(loadAreas, 15000);
}

document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = document.getElementById("login-error");
  err.textContent = "";
  const body = JSON.stringify({
    username: document.getElementById("login-user").value,
    password: document.getElementById("login-password").value,
  });
  try {
    const r = await fetch("/api/v1/login", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      err.textContent = j.error?.message || `login failed (HTTP ${r.status})`;
      return;
    }
    document.getElementById("login-password").value = "";
    start(j);
  } catch (e) {
    err.textContent = `cannot reach the station: ${e.message}`;
  }
});

document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/api/v1/logout", { method: "POST", headers: { "X-CSRF-Token": session?.csrf_token || "" } }).catch(() => {});
  location.reload();
});

currentSession().then((s) => (s ? start(s) : showLogin()));
