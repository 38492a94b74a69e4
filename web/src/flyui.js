// The Fly side of the console: the vehicle list, the selected vehicle's
// HUD, on-board mission, event timeline, video and parameters, the alerts
// panel, the commands and control between operators. main.js calls
// renderFrame once per animation frame and onStreamFrame for every frame
// of /api/v1/stream.
import { $, ctx, api, store, map, L, confirmDialog, showResults } from "./ctx.js";
import { esc, fmt, statusOf, hudRows, COLOURS, ackOf } from "./lib/format.js";
import { MODES, runCommand } from "./lib/commands.js";
import { filterParams, paramValue } from "./lib/params.js";
import { alertShown } from "./lib/alerts.js";
import { controlText, takeBody, controlResults, heldByOthers } from "./lib/control.js";
import { addBatterySample, batteryTimeLeft, fmtTimeLeft } from "./lib/battery.js";
import { transferText, transferShort, transferActive, controlLabel } from "./lib/fly.js";
import { updateOnBoard } from "./onboardui.js";
import { Player, Wall } from "./video.js";

const MAX_ALERTS = 200;
const ALERT_KINDS = new Set(["fence_breach", "battery_low", "battery_critical", "link_lost", "failsafe", "separation"]);

const listItems = new Map(); // id → li

// Each vehicle's recent battery percentages, for its time left.
const batteries = new Map(); // id → [{t, pct}]
function timeLeft(id) {
  return fmtTimeLeft(batteryTimeLeft(batteries.get(id)));
}

// renderFrame redraws what changed since the last animation frame.
export function renderFrame(changed, selectionChanged) {
  for (const id of changed) {
    const v = store.vehicles.get(id)?.v;
    if (!v) continue;
    let h = batteries.get(id);
    if (!h) batteries.set(id, (h = []));
    const t = Date.parse(v.updated);
    addBatterySample(h, Number.isFinite(t) ? t : Date.now(), v.battery_pct);
  }
  for (const id of selectionChanged ? store.vehicles.keys() : changed) renderListItem(id);
  updateOnBoard(changed, selectionChanged);
  if ($("assign-results")?.children.length) for (const id of changed) showTransfer(id);
  if (wall) for (const id of changed) if (store.vehicles.has(id)) wall.update(store.vehicles.get(id).v);
  if (selectionChanged || [...store.selection].some((id) => changed.has(id))) renderDetails();
}

// onStreamFrame takes the Fly side's part of a stream frame: alerts, the
// timeline and control changes.
export function onStreamFrame(f) {
  switch (f.type) {
    case "snapshot":
      (f.alerts || []).forEach(addAlert);
      loadAcks();
      break;
    case "events":
      (f.events || []).forEach(addAlert);
      if ((f.events || []).some((e) => e.severity === "critical")) beep();
      (f.events || []).forEach(addToTimeline);
      break;
  }
}

function renderListItem(id) {
  const v = store.vehicles.get(id)?.v;
  if (!v) return;
  let li = listItems.get(id);
  if (!li) {
    li = document.createElement("li");
    li.dataset.vehicleId = id;
    li.tabIndex = 0;
    li.addEventListener("click", (ev) => store.select(id, ev.shiftKey));
    li.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        store.select(id, ev.shiftKey);
      }
    });
    const ul = $("vehicles");
    const after = [...ul.children].find((c) => c.dataset.vehicleId > id);
    ul.insertBefore(li, after || null);
    listItems.set(id, li);
  }
  const s = statusOf(v);
  li.dataset.status = s;
  li.dataset.lat = v.lat;
  li.dataset.lon = v.lon;
  li.dataset.mode = v.mode || "";
  li.dataset.armed = v.armed ? "true" : "false";
  li.dataset.stale = v.stale ? "true" : "false";
  li.className = store.selection.has(id) ? "selected" : "";
  li.setAttribute("aria-selected", store.selection.has(id) ? "true" : "false");
  // Rebuild the row only when what it shows changed (a moving vehicle's
  // position is in data attributes, not text).
  // Control comes with the vehicle's state on the stream (who holds it,
  // since when), so every console shows a change at once.
  const ctl = controlText(holdOf(id), ctx.session?.name);
  li.dataset.control = ctl;
  const left = timeLeft(id);
  li.dataset.timeLeft = left;
  const tr = transferText(v.transfer);
  li.dataset.transfer = tr;
  const showTr = transferActive(v.transfer) || v.transfer?.phase === "failed" ? transferShort(v.transfer) : "";
  const key = `${s}|${v.mode}|${v.stale}|${Math.round(v.battery_pct)}|${Math.round(v.relative_alt_m)}|${ctl}|${left}|${showTr}`;
  if (li._key === key) return;
  li._key = key;
  li.innerHTML =
    `<span class="dot" style="background:${COLOURS[s]}"></span>` +
    `<span>${esc(v.id)} <small>${esc(v.mode)}</small>${v.stale ? ' <span class="stale-flag">STALE</span>' : ""}${ctl ? ` <span class="control-flag" title="control">⚑ ${esc(ctl)}</span>` : ""}` +
    `${showTr ? `<br><small class="transfer" data-phase="${esc(v.transfer.phase)}" title="${esc(tr)}">${esc(showTr)}</small>` : ""}</span>` +
    `<span class="battery" title="battery, estimated time left">${v.battery_pct >= 0 ? fmt(v.battery_pct, 0, " %") : "–"} <small>${esc(left)}</small></span>` +
    `<span>${fmt(v.relative_alt_m, 0, " m")}</span>`;
}

// showTransfer writes a vehicle's upload progress and read-back verdict
// into its line of the assign results while the plan is being assigned.
function showTransfer(id) {
  const li = $("assign-results").querySelector(`li[data-vehicle-id="${CSS.escape(id)}"]`);
  const t = store.vehicles.get(id)?.v?.transfer;
  if (!li || !t) return;
  let span = li.querySelector(".transfer");
  if (!span) {
    span = document.createElement("small");
    span.className = "transfer";
    li.append(" ", span);
  }
  span.textContent = transferText(t);
  span.dataset.phase = t.phase;
  span.dataset.done = t.done;
  span.dataset.total = t.total;
}

// The selected vehicle's event timeline: its recent events from the
// station when selected, then each new one from the stream, newest first.
const MAX_TIMELINE = 50;
let timelineOf = null;
function timelineItem(ev) {
  const li = document.createElement("li");
  li.dataset.kind = ev.kind;
  li.dataset.seq = ev.seq;
  li.dataset.severity = ev.severity || "";
  li.innerHTML = `<time>${esc(new Date(ev.time).toLocaleTimeString())}</time>${esc(ev.message || ev.kind)}`;
  return li;
}
function addToTimeline(ev) {
  if (ev.vehicle_id !== timelineOf) return;
  const ul = $("details-events");
  if (ul.querySelector(`li[data-seq="${CSS.escape(String(ev.seq))}"]`)) return;
  ul.prepend(timelineItem(ev));
  while (ul.children.length > MAX_TIMELINE) ul.lastChild.remove();
}
async function loadTimeline(id) {
  timelineOf = id;
  const ul = $("details-events");
  ul.innerHTML = "";
  try {
    const evs = (await api.get(`/api/v1/vehicles/${encodeURIComponent(id)}/events?limit=200`)) || [];
    if (timelineOf !== id) return;
    for (const ev of evs.slice(-MAX_TIMELINE)) addToTimeline(ev);
  } catch (e) {
    console.warn("events of", id, e);
  }
}

function renderDetails() {
  const v = store.primary();
  if (v && v.id !== timelineOf) loadTimeline(v.id);
  if (v && params.id && v.id !== params.id) {
    params = { id: null, list: [] };
    $("params-list").innerHTML = "";
    $("params-status").textContent = "";
  }
  const box = $("details");
  const n = store.selection.size;
  $("selection-count").textContent = n ? `${n} selected` : "";
  if ($("command-target")) $("command-target").textContent = n ? `→ ${n === 1 ? [...store.selection][0] : n + " vehicles"}` : "→ select vehicles";
  if (!v) {
    box.hidden = true;
    playSelected(null);
    return;
  }
  box.hidden = false;
  box.dataset.vehicleId = v.id;
  $("details-title").textContent = v.id + (n > 1 ? ` (+${n - 1})` : "");
  const rows = hudRows(v).filter(([k]) => k !== "control");
  const bat = rows.find(([k]) => k === "battery");
  if (bat) bat[1] += `, ${timeLeft(v.id)} left`;
  if (v.transfer) rows.push(["upload", transferText(v.transfer)]);
  const ctl = controlLabel(v.control, ctx.session?.name);
  if (ctl) rows.push(["control", ctl]);
  $("details-fields").innerHTML = rows.map(([k, val]) => `<dt>${esc(k)}</dt><dd data-field="${esc(k)}">${esc(val)}</dd>`).join("");
  const video = v.video || [];
  $("details-video").innerHTML = video.length
    ? video
        .map(
          (s) =>
            `<li data-stream-id="${esc(s.stream_id)}"><b>${esc(s.name || "stream " + s.stream_id)}</b> ${esc(s.type)} ${esc(s.encoding || "")} ` +
            `${s.width ? esc(s.width) + "×" + esc(s.height) : ""} ${s.running ? "" : "(stopped)"}<br><a href="${esc(s.uri)}">${esc(s.uri)}</a></li>`,
        )
        .join("")
    : "<li>no video stream advertised</li>";
  playSelected(v);
}

// --- live video: the selected vehicle's camera, and the wall (/#wall) ---
let player = null;
let wall = null;

function playSelected(v) {
  if (!player) return;
  const s = v && (v.video || [])[0];
  $("details-player").hidden = !s;
  player.play(s ? v.id : null, s ? s.stream_id : null);
}
// --- alerts ---
function addAlert(ev) {
  if (ev.kind === "alert_ack") {
    markAcked(ackOf(ev));
    return;
  }
  if (!ALERT_KINDS.has(ev.kind) && ev.severity !== "warning" && ev.severity !== "critical") return;
  const ul = $("alerts");
  if (ul.querySelector(`li[data-seq="${CSS.escape(String(ev.seq))}"]`)) return;
  const li = document.createElement("li");
  li.dataset.kind = ev.kind;
  li.dataset.seq = ev.seq;
  li.dataset.vehicleId = ev.vehicle_id;
  li.dataset.severity = ev.severity;
  li.innerHTML = `<time>${esc(new Date(ev.time).toLocaleTimeString())}</time><b>${esc(ev.vehicle_id)}</b> ${esc(ev.message || ev.kind)} <span class="ack"></span>`;
  li.addEventListener("click", () => store.select(ev.vehicle_id));
  li.tabIndex = 0;
  li.addEventListener("keydown", (e) => {
    if (e.target === li && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      store.select(ev.vehicle_id);
    }
  });
  // Operators acknowledge an alert for every console (audited with their
  // name); observers see who did.
  if (ctx.session && ctx.session.role !== "observer") {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "alert-ack";
    b.textContent = "Ack";
    b.setAttribute("aria-label", `acknowledge ${ev.kind} of ${ev.vehicle_id}`);
    b.addEventListener("click", async (e) => {
      e.stopPropagation();
      b.disabled = true;
      try {
        markAcked(ackOf(await api.post(`/api/v1/events/${encodeURIComponent(ev.seq)}/ack`, {})));
      } catch (err) {
        b.disabled = false;
        li.querySelector(".ack").textContent = err.message;
      }
    });
    li.append(b);
  }
  ul.prepend(li);
  while (ul.children.length > MAX_ALERTS) ul.lastChild.remove();
  markAcked(ackOf(ev));
  filterAlerts();
}
// The stream's snapshot carries alerts without their acknowledgements:
// read them from the event history once the snapshot is in.
async function loadAcks() {
  try {
    for (const ev of (await api.get("/api/v1/events?alerts=true&limit=200")) || []) markAcked(ackOf(ev));
  } catch (e) {
    console.warn("alert acknowledgements:", e);
  }
}
function markAcked(a) {
  if (!a) return;
  const li = $("alerts").querySelector(`li[data-seq="${CSS.escape(String(a.seq))}"]`);
  if (!li || li.dataset.acked === "true") return;
  li.dataset.acked = "true";
  li.querySelector(".ack").textContent = `✓ ${a.by}`;
  li.querySelector(".alert-ack")?.remove();
  filterAlerts();
}
// A short tone for a new critical alert when the operator turned sound on
// (browsers allow audio only after a user gesture, which the checkbox is).
let audio = null;
function beep() {
  if (!$("alert-sound").checked) return;
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = 880;
    g.gain.value = 0.15;
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.25);
  } catch (e) {
    console.warn("alert sound:", e);
  }
}
function filterAlerts() {
  const sev = $("alert-filter").value;
  const text = $("alert-text").value.trim().toLowerCase();
  let shown = 0;
  for (const li of $("alerts").children) {
    const show = alertShown({ severity: li.dataset.severity, acked: li.dataset.acked === "true", text: li.textContent }, sev, text);
    li.hidden = !show;
    if (show) shown++;
  }
  $("alert-count").textContent = shown ? `(${shown})` : "";
}
$("alert-filter").addEventListener("change", filterAlerts);
$("alert-text").addEventListener("input", filterAlerts);

// Escape clears the selection (unless it cancels a pending "go here").
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape" || gotoPending || ev.target.closest?.("input, select, textarea, dialog")) return;
  store.clearSelection();
  ctx.queueFrame();
});

// --- Fly: commands ---
let gotoPending = null;
async function command(name, ids) {
  const status = $("command-status");
  if (!ids.length) {
    status.textContent = "Select one or more vehicles first (click, shift-click, Ctrl+drag).";
    return;
  }
  const args = { alt_m: $("cmd-alt").value, mode: $("cmd-mode").value, ground_speed_mps: $("cmd-speed").value };
  if (name === "goto") {
    // Keyboard users: the map takes focus, the arrow keys move it and
    // Enter picks its centre (marked by the crosshair).
    status.textContent = `Click the map where ${ids.length === 1 ? ids[0] : ids.length + " vehicles"} should go, or move the map with the arrow keys and press Enter for its centre (Esc cancels).`;
    gotoPending = { ids, args };
    $("map").classList.add("picking", "go-here");
    $("map").focus({ preventScroll: true });
    return;
  }
  await send(name, ids, args);
}
async function send(name, ids, args) {
  const status = $("command-status");
  try {
    status.textContent = `${name}: sending to ${ids.length} vehicle(s)…`;
    const r = await runCommand(api, name, ids, args, confirmDialog);
    if (!r.sent) {
      status.textContent = `${name}: cancelled`;
      return;
    }
    const ok = r.results.filter((x) => x.ok).length;
    status.textContent = `${name}: ${ok} of ${r.results.length} accepted`;
    status.dataset.command = name;
    showResults($("command-results"), r.results);
  } catch (e) {
    status.textContent = `${name}: ${e.message}`;
    $("command-results").innerHTML = "";
  }
}
function goHere(latlng) {
  const { ids, args } = gotoPending;
  gotoPending = null;
  $("map").classList.remove("picking", "go-here");
  send("goto", ids, { ...args, lat: latlng.lat, lon: latlng.lng });
}
map.on("click", (ev) => gotoPending && goHere(ev.latlng));
// On the key's release, and only for a press that began on the map: the
// press that activated "Go here…" ends on the map, and a dialog opened on
// the press would take its keypress as "Cancel".
let enterOnMap = false;
$("map").addEventListener("keydown", (ev) => {
  if (ev.key !== "Enter" || ev.target !== $("map")) return;
  enterOnMap = !!gotoPending;
  if (enterOnMap) ev.preventDefault();
});
$("map").addEventListener("keyup", (ev) => {
  if (ev.key !== "Enter" || !enterOnMap) return;
  enterOnMap = false;
  if (gotoPending && ev.target === $("map")) goHere(map.getCenter());
});

function setupOperator() {
  $("control-take").addEventListener("click", () => control("take"));
  $("control-release").addEventListener("click", () => control("release"));
  $("control-takeover").addEventListener("click", () => control("takeover"));
  $("cmd-mode").innerHTML = MODES.map((x) => `<option>${x}</option>`).join("");
  for (const b of document.querySelectorAll("#fly-commands [data-command]")) b.addEventListener("click", () => command(b.dataset.command, [...store.selection]));
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest?.("input, select, textarea, dialog")) return;
    if (ev.key === "Escape" && gotoPending) {
      gotoPending = null;
      $("map").classList.remove("picking", "go-here");
      $("command-status").textContent = "go here: cancelled";
    }
    if (!ev.shiftKey || ev.ctrlKey || ev.altKey || ev.metaKey) return;
    if (ev.key === "R") {
      ev.preventDefault();
      send("rtl", store.connectedIds(), {});
    } else if (ev.key === "P") {
      ev.preventDefault();
      allPause();
    }
  });
}
// Pause all asks too (a pause alone moves nothing, but it stops every
// aircraft at once).
async function allPause() {
  const ids = store.connectedIds();
  if (!ids.length || !(await confirmDialog(`Pause all ${ids.length} vehicles?`))) return;
  send("pause", ids, {});
}

// --- control between operators ---
// Who holds which vehicle, since when, comes on each vehicle's state in
// the stream (a change publishes the vehicle at once), so no console
// polls for it. GET /api/v1/control is read once, to find out whether the
// station has control at all: one without the routes (404) shows no
// control buttons.
let controlAvailable = false;
// holdOf is the vehicle's hold as the stream last said it.
function holdOf(id) {
  const c = store.vehicles.get(id)?.v?.control;
  return c ? { vehicle_id: id, holder: c.holder, since: c.since } : undefined;
}
function holdsOf(ids) {
  const m = new Map();
  for (const id of ids) if (holdOf(id)) m.set(id, holdOf(id));
  return m;
}
async function loadControl() {
  try {
    await api.get("/api/v1/control");
    controlAvailable = true;
  } catch (e) {
    if (e.status === 404) controlAvailable = false;
    else console.warn("control:", e);
  }
  const row = $("control-row");
  if (row) {
    row.hidden = !controlAvailable;
    $("control-takeover").hidden = ctx.session?.role !== "admin";
  }
  for (const id of store.vehicles.keys()) renderListItem(id);
  renderDetails();
}
async function control(kind) {
  const ids = [...store.selection];
  const status = $("command-status");
  try {
    if (kind === "release") {
      for (const id of ids) await api.del(`/api/v1/vehicles/${encodeURIComponent(id)}/control`);
      status.textContent = `control released: ${ids.length} vehicle(s)`;
      $("command-results").innerHTML = "";
    } else {
      const takeover = kind === "takeover";
      const body = takeBody(ids, takeover);
      if (takeover) {
        const holds = holdsOf(ids);
        const others = heldByOthers(ids, holds, ctx.session?.name);
        if (!(await confirmDialog(`Take over ${others.length ? others.map((id) => `${id} from ${holds.get(id).holder}`).join(", ") : ids.length + " vehicle(s)"}? Both names are audited.`))) return;
      }
      const r = controlResults(await api.post("/api/v1/control", body));
      status.textContent = `control: ${r.filter((x) => x.ok).length} of ${r.length} taken`;
      showResults($("command-results"), r);
    }
  } catch (e) {
    status.textContent = `control: ${e.message}`;
  }
}

// --- parameters of the selected vehicle ---
let params = { id: null, list: [] };
function setupParams() {
  $("params-load").addEventListener("click", loadParams);
  $("params-search").addEventListener("input", renderParams);
  $("param-form")?.addEventListener("submit", (ev) => {
    ev.preventDefault();
    setParam();
  });
}
async function loadParams() {
  const v = store.primary();
  const status = $("params-status");
  if (!v) return;
  status.textContent = `reading ${v.id}'s parameters…`;
  try {
    const list = await api.get(`/api/v1/vehicles/${encodeURIComponent(v.id)}/params`);
    params = { id: v.id, list: Array.isArray(list) ? list : list?.params || [] };
    status.textContent = `${v.id}: ${params.list.length} parameters`;
    renderParams();
  } catch (e) {
    status.textContent = e.message;
  }
}
function renderParams() {
  const shown = filterParams(params.list, $("params-search").value).slice(0, 200);
  $("params-list").innerHTML = shown.map((p) => `<li data-param="${esc(p.name)}" tabindex="0"><b>${esc(p.name)}</b> = <span>${esc(p.value)}</span></li>`).join("");
  for (const li of $("params-list").children) {
    const pick = () => {
      if (!$("param-name")) return;
      $("param-name").value = li.dataset.param;
      $("param-value").value = params.list.find((p) => p.name === li.dataset.param)?.value ?? "";
      $("param-value").focus();
    };
    li.addEventListener("click", pick);
    li.addEventListener("keydown", (ev) => ev.key === "Enter" && pick());
  }
}
async function setParam() {
  const status = $("params-status");
  const name = $("param-name").value;
  const p = params.list.find((x) => x.name === name);
  try {
    if (!p || !params.id) throw new Error("pick a parameter from the list");
    const value = paramValue(name, p.type, $("param-value").value);
    if (!(await confirmDialog(`Set ${name} = ${value} on ${params.id}?`))) return;
    const r = await api.put(`/api/v1/vehicles/${encodeURIComponent(params.id)}/params/${encodeURIComponent(name)}`, { value });
    p.value = r?.value ?? value;
    status.textContent = `${params.id}: ${name} = ${p.value} (verified)`;
    status.dataset.ok = "true";
    renderParams();
  } catch (e) {
    status.textContent = e.message;
    status.dataset.ok = "false";
  }
}

// startFly sets the Fly side up once after login: the video player (and
// the wall at /#wall), the commands for operators, parameters and the
// control poll.
export function startFly(s) {
  player = new Player($("details-player"), s.csrf_token);
  if (location.hash === "#wall") {
    wall = new Wall($("wall"), s.csrf_token);
    for (const e of store.vehicles.values()) wall.update(e.v);
  }
  if (s.role !== "observer") setupOperator();
  setupParams();
  loadControl();
}
