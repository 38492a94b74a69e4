// Burgut's operator console: the live map (vehicles, trails, areas, alerts
// from /api/v1/stream), and for operators the Fly commands and the Plan →
// assign → launch flow. Plain ES modules, no framework: the page is a
// handful of panels over one canvas map, so a framework's diffing would
// add weight without saving work; the logic lives in src/lib (unit-tested
// with node:test). This file wires the stream, the frame loop and login;
// the Fly side is in flyui.js, Plan in planui.js, Review in reviewui.js,
// and what they share in ctx.js.
import "./main.css";
import { $, ctx, api, store, m, map, L, confirmDialog, showResults } from "./ctx.js";
import { streamRate } from "./lib/store.js";
import { createVehicleLayer } from "./map.js";
import { createPlanUI } from "./planui.js";
import { renderFrame, onStreamFrame, startFly } from "./flyui.js";
import { setupReview } from "./reviewui.js";
import { setupOps, onOpsFrame } from "./opsui.js";
import { listKeys } from "./keys.js";

const areaLayer = L.layerGroup().addTo(map);
const planLayer = L.layerGroup().addTo(map);
const planUI = createPlanUI({
  api,
  store,
  map,
  L,
  areaLayer,
  planLayer,
  confirmDialog,
  showResults,
  onAreasDrawn: () => {
    fitted = false;
    fitOnce();
  },
});
const vehicleLayer = createVehicleLayer(m, store, (id, shift) => store.select(id, shift));
let fitted = false;

// --- one render per animation frame ---
let frameQueued = false;
function queueFrame() {
  if (frameQueued) return;
  frameQueued = true;
  requestAnimationFrame(() => {
    frameQueued = false;
    const { changed, selectionChanged } = store.take();
    vehicleLayer.update(changed, selectionChanged);
    renderFrame(changed, selectionChanged);
    if (selectionChanged) planUI.renderPicks();
    updateCounts();
    fitOnce();
  });
}
ctx.queueFrame = queueFrame;
ctx.showLogin = showLogin;
const origSelect = store.select;
store.select = (id, add) => (origSelect(id, add), queueFrame());
const origSelectIn = store.selectIn;
store.selectIn = (b, add) => (origSelectIn(b, add), queueFrame());

function updateCounts() {
  let stale = 0;
  for (const e of store.vehicles.values()) if (e.v.stale || !e.v.connected) stale++;
  $("counts").textContent = `${store.vehicles.size} vehicles${stale ? `, ${stale} stale/lost` : ""}`;
}

function fitOnce() {
  if (fitted) return;
  const pts = vehicleLayer.points();
  areaLayer.eachLayer((l) => l.getBounds && pts.push(l.getBounds().getNorthEast(), l.getBounds().getSouthWest()));
  if (!pts.length) return;
  map.fitBounds(L.latLngBounds(pts).pad(0.3), { maxZoom: 17 });
  fitted = true;
}

for (const id of ["vehicles", "ops-list", "params-list", "alerts"]) listKeys($(id));

// --- tabs ---
// A WAI-ARIA tab list: one tab in the Tab order (the selected one), the
// arrow keys, Home and End move between tabs and select them.
function selectTab(b) {
  for (const o of document.querySelectorAll("#tabs [data-tab]")) {
    o.setAttribute("aria-selected", o === b ? "true" : "false");
    o.tabIndex = o === b ? 0 : -1;
    const panel = $("tab-" + o.dataset.tab);
    if (panel) panel.hidden = o !== b;
  }
}
for (const b of document.querySelectorAll("#tabs [data-tab]")) {
  b.id = b.id || "tab-button-" + b.dataset.tab;
  b.setAttribute("aria-controls", "tab-" + b.dataset.tab);
  $("tab-" + b.dataset.tab)?.setAttribute("aria-labelledby", b.id);
  b.tabIndex = b.getAttribute("aria-selected") === "true" ? 0 : -1;
  b.addEventListener("click", () => selectTab(b));
}
$("tabs").addEventListener("keydown", (ev) => {
  // (tabs removed for observers are not in the list)
  const tabs = [...document.querySelectorAll("#tabs [data-tab]")];
  const i = tabs.indexOf(ev.target);
  if (i < 0) return;
  const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
  if (to === undefined) return;
  ev.preventDefault();
  const b = tabs[(to + tabs.length) % tabs.length];
  selectTab(b);
  b.focus();
});

// --- the stream ---
let retry = 500;
// streamEnded: the stream closed because the session had ended (a
// station restart ends every session); the next login reconnects it.
let streamEnded = false;
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/stream`);
  const conn = $("conn");
  ws.onopen = () => {
    conn.dataset.state = "open";
    conn.textContent = "live";
    retry = 500;
  };
  ws.onclose = async () => {
    conn.dataset.state = "closed";
    conn.textContent = "disconnected — retrying";
    // A station that does not answer (down, restarting) may come back:
    // keep trying. One that answers without a session wants a login.
    if ((await currentSession()) === null) {
      streamEnded = true;
      showLogin("Your session has ended: log in again.");
      return;
    }
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  };
  ws.onmessage = (msg) => {
    const f = JSON.parse(msg.data);
    switch (f.type) {
      case "snapshot": {
        $("station").textContent = f.station ? `station ${f.station}` : "";
        store.upsert(f.vehicles);
        const want = streamRate((f.vehicles || []).length);
        if (want && f.filter?.rate_hz !== want) ws.send(JSON.stringify({ type: "subscribe", rate_hz: want }));
        // The separation lines: the episodes open now (their start may be
        // older than the stream's history, their end may have been missed
        // while disconnected).
        vehicleLayer.separationSyncStart();
        api
          .get("/api/v1/separation")
          .then((st) => {
            vehicleLayer.separationActive(st?.active);
            queueFrame();
          })
          .catch((err) => console.warn("separation status:", err));
        break;
      }
      case "state":
        store.upsert(f.vehicles);
        break;
      case "events":
        vehicleLayer.separationEvents(f.events);
        break;
      case "error":
        console.warn("stream error:", f.error);
        break;
    }
    onStreamFrame(f);
    onOpsFrame(f);
    queueFrame();
  };
}


// --- login and session ---
let started = false;
// currentSession is the browser's session: the session, null when the
// station says there is none (401), undefined when it does not answer.
async function currentSession() {
  try {
    const r = await fetch("/api/v1/session", { headers: { Accept: "application/json" } });
    if (r.ok) return await r.json();
    return r.status === 401 || r.status === 403 ? null : undefined;
  } catch {
    return undefined;
  }
}

function showLogin(message) {
  ctx.session = null;
  document.querySelector("header").hidden = true;
  document.querySelector("main").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  // Someone already typing in the form (it shows before the script asked
  // for the session) keeps their field.
  if (!$("login").contains(document.activeElement)) $("login-user").focus();
  $("login").dataset.ready = "true";
}

function start(s) {
  const role = document.body.dataset.role;
  ctx.session = s;
  document.body.dataset.role = s.role;
  $("whoami").textContent = `${s.name} (${s.role})`;
  $("login").hidden = true;
  document.querySelector("header").hidden = false;
  document.querySelector("main").hidden = false;
  if (location.hash === "#wall") {
    document.body.dataset.view = "wall";
    document.querySelector("main").hidden = true;
    $("wall").hidden = false;
  }
  map.invalidateSize();
  if (started) {
    // A login after the session ended: the same role gets its stream
    // back; another role gets a fresh page (its controls differ).
    if (role !== s.role) location.reload();
    else if (streamEnded) {
      streamEnded = false;
      retry = 500;
      connect();
    }
    return;
  }
  started = true;
  // An observer gets the live picture only: the command and planning
  // controls are removed, not just hidden (the station refuses their
  // requests anyway).
  if (s.role === "observer") for (const el of document.querySelectorAll(".operator-only")) el.remove();
  else planUI.setup();
  startFly(s);
  setupReview();
  setupOps();
  connect();
  planUI.loadAreas();
  setInterval(planUI.loadAreas, 15000);
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const err = $("login-error");
  err.textContent = "";
  const body = JSON.stringify({ username: $("login-user").value, password: $("login-password").value });
  try {
    const r = await fetch("/api/v1/login", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      err.textContent = j.error?.message || `login failed (HTTP ${r.status})`;
      return;
    }
    $("login-password").value = "";
    start(j);
  } catch (e) {
    err.textContent = `cannot reach the station: ${e.message}`;
  }
});

$("logout").addEventListener("click", async () => {
  await fetch("/api/v1/logout", { method: "POST", headers: { "X-CSRF-Token": ctx.session?.csrf_token || "" } }).catch(() => {});
  location.reload();
});

currentSession().then((s) => (s ? start(s) : showLogin()));
