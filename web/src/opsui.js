// The Operations tab: the station's patrol operations (GET
// /api/v1/operations), each one's state, uncovered seconds and a timeline
// per slot of who was on station when, handovers, replacements and gaps;
// for operators also create, start, pause, resume and stop, and a crew's
// "ready" for a landed or failed drone. Observers see it read-only (the
// operator-only elements are removed at login, and the station refuses
// their requests anyway).
//
// Live: while the tab is shown the operations are read every 2 s, and an
// operation event on the stream (launch, on_station, handover, failed,
// coverage_gap, …) reads them at once. The timeline is rebuilt from the
// operation's events (read once, then each new one) reconciled with its
// current state (lib/ops.js).
import { $, ctx, api, store, confirmDialog } from "./ctx.js";
import { esc } from "./lib/format.js";
import { vehicleColour } from "./lib/fly.js";
import { EVENT_KINDS, timeline, span, pct, actions, actionText, createBody, fmtSecs, summary } from "./lib/ops.js";

const POLL_MS = 2000;
let ops = []; // the last list read
let shown = null; // id of the operation in the details
const events = new Map(); // seq → event of any operation (operation kinds only), oldest first
const MAX_EVENTS = 5000; // a day of a busy operation; older ones are dropped (the state still says who is on station)
let lastSeq = 0; // the newest event seq read from the station
let eventsLoaded = false;
let timer = null;
let soon = null;

const visible = () => !$("tab-ops").hidden;

// setupOps wires the tab once after login.
export function setupOps() {
  $("ops-list").addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-op-id]");
    if (li) show(li.dataset.opId);
  });
  // A vehicle of the pool or a segment of the timeline selects the
  // vehicle (HUD, map) as the vehicle list does.
  for (const id of ["op-vehicles", "op-timeline"]) {
    $(id).addEventListener("click", (ev) => {
      const el = ev.target.closest("[data-vehicle-id]");
      if (el && !ev.target.closest("button") && store.vehicles.has(el.dataset.vehicleId)) store.select(el.dataset.vehicleId, ev.shiftKey);
    });
  }
  $("ops-list").addEventListener("keydown", (ev) => {
    const li = ev.target.closest("li[data-op-id]");
    if (li && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      show(li.dataset.opId);
    }
  });
  // Shown: read now, then every POLL_MS until hidden again.
  new MutationObserver(() => {
    if (visible()) {
      refresh();
      if (!timer) timer = setInterval(() => visible() && refresh(), POLL_MS);
    } else if (timer) {
      clearInterval(timer);
      timer = null;
    }
  }).observe($("tab-ops"), { attributes: true, attributeFilter: ["hidden"] });
  if (ctx.session?.role === "observer") return;
  $("op-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    create();
  });
  $("op-create").addEventListener("toggle", () => $("op-create").open && fillForm());
  $("op-actions").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b) act(b.dataset.action);
  });
  $("op-vehicles").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-ready]");
    if (b) ready(b.dataset.ready);
  });
}

// onOpsFrame takes a stream frame's operation events: kept for the
// timeline, and the list read again soon when the tab is shown.
export function onOpsFrame(f) {
  if (f.type !== "events") return;
  let any = false;
  for (const e of f.events || []) {
    if (!EVENT_KINDS.has(e.kind)) continue;
    keep(e);
    any = true;
  }
  if (any && visible() && !soon) soon = setTimeout(() => ((soon = null), refresh()), 100);
}

function keep(e) {
  events.set(e.seq, e);
  for (const k of events.keys()) {
    if (events.size <= MAX_EVENTS) break;
    events.delete(k);
  }
}

// Between stream frames (or after a reconnect) the events API fills in:
// what came since the last seq read, at most the last 2000 of the fleet's.
async function loadEvents() {
  // The first read takes what the station's event ring still holds; then
  // only what came since (the stream fills in between).
  const q = eventsLoaded ? `since=${lastSeq}&limit=2000` : "limit=2000";
  const list = (await api.get(`/api/v1/events?${q}`)) || [];
  for (const e of list) {
    if (e.seq > lastSeq) lastSeq = e.seq;
    if (EVENT_KINDS.has(e.kind)) keep(e);
  }
  eventsLoaded = true;
}

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const [list] = await Promise.all([api.get("/api/v1/operations"), loadEvents()]);
    ops = list?.operations || [];
    renderList();
    if (shown) renderDetails(ops.find((o) => o.id === shown));
    $("ops-status").textContent = ops.length ? "" : "No operation yet.";
  } catch (e) {
    $("ops-status").textContent = `operations: ${e.message}`;
  } finally {
    busy = false;
  }
}

function renderList() {
  const ul = $("ops-list");
  const keep = new Set(ops.map((o) => o.id));
  for (const li of [...ul.children]) if (!keep.has(li.dataset.opId)) li.remove();
  for (const o of ops) {
    let li = ul.querySelector(`li[data-op-id="${CSS.escape(o.id)}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.opId = o.id;
      li.tabIndex = 0;
      ul.append(li);
    }
    li.dataset.state = o.state;
    li.dataset.paused = o.paused ? "true" : "false";
    li.className = o.id === shown ? "selected" : "";
    li.setAttribute("aria-selected", o.id === shown ? "true" : "false");
    li.innerHTML = `<b>${esc(o.id)}</b> <small>${esc(o.area_id)}</small><br><small>${esc(summary(o))}</small>`;
  }
}

function show(id) {
  shown = id;
  renderList();
  renderDetails(ops.find((o) => o.id === id));
}

const iso = (ms) => new Date(ms).toISOString().slice(11, 19);

function renderDetails(o) {
  const box = $("op-details");
  if (!o) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.dataset.opId = o.id;
  box.dataset.state = o.state;
  box.dataset.paused = o.paused ? "true" : "false";
  box.dataset.uncovered = o.uncovered_s;
  $("op-title").textContent = `Operation ${o.id}`;
  const clock = Date.parse(o.clock);
  const rows = [
    ["state", o.state + (o.paused ? ", paused" : "") + (o.stopped ? ", stopped" : "") + (o.reason ? ` (${o.reason})` : "")],
    ["area", `${o.area_id}, ${o.pattern}`],
    ["window", `${iso(Date.parse(o.start))}–${iso(Date.parse(o.end))} UTC (operation clock${o.time_scale > 1 ? `, ×${o.time_scale}` : ""})`],
    ["clock", `${iso(clock)} UTC`],
    ["uncovered", fmtSecs(o.uncovered_s)],
    ["on station", fmtSecs(o.on_station_s)],
    ["handovers", String(o.handovers ?? 0)],
    ["replacements", String(o.replacements ?? 0)],
    ["predicted gap", o.predicted_gap ? `slot ${o.predicted_gap.slot} ${iso(Date.parse(o.predicted_gap.start))}–${iso(Date.parse(o.predicted_gap.end))} UTC${(o.predicted_gaps || []).length > 1 ? ` (${o.predicted_gaps.length - 1} more)` : ""}` : "none"],
  ];
  $("op-fields").innerHTML = rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd data-field="${esc(k)}">${esc(v)}</dd>`).join("");
  if (ctx.session?.role !== "observer" && $("op-actions")) {
    const acts = actions(o);
    const key = acts.join(",");
    if ($("op-actions").dataset.key !== key) {
      $("op-actions").dataset.key = key;
      $("op-actions").innerHTML = acts.map((a) => `<button type="button" data-action="${a}"${a === "stop" ? ' class="urgent"' : ""}>${a[0].toUpperCase() + a.slice(1)}</button>`).join("");
    }
  }
  renderTimeline(o, clock);
  setHTML($("op-vehicles"), (o.vehicles || [])
    .map((v) => {
      const canReady = ctx.session?.role !== "observer" && o.state !== "finished" && (v.role === "failed" || (v.role === "pool" && !v.ready));
      return (
        `<li data-vehicle-id="${esc(v.id)}" data-role="${esc(v.role)}"><span class="swatch" style="background:${vehicleColour(v.id)}"></span><b>${esc(v.id)}</b> ${esc(v.role)}` +
        `${v.slot >= 0 ? ` slot ${v.slot}` : ""}${v.reason ? ` — ${esc(v.reason)}` : ""} <small>${v.launches ?? 0} launch(es)</small>` +
        `${canReady ? ` <button type="button" data-ready="${esc(v.id)}" title="the crew swapped its battery (or fixed it): back into the pool">Ready</button>` : ""}</li>`
      );
    })
    .join(""));
}

// renderTimeline draws one bar per slot over the window: a segment per
// vehicle on station (its colour, as on the map), gaps in red, marks for
// launches, handovers and failures, and the operation's clock as a line.
function renderTimeline(o, clock) {
  const evs = [...events.values()];
  const slots = timeline(o, evs, clock);
  const sp = span(o, slots, clock);
  const at = (t) => pct(t, sp).toFixed(2) + "%";
  const width = (a, b) => Math.max(0.3, pct(b, sp) - pct(a, sp)).toFixed(2) + "%";
  const byIndex = new Map((o.slots || []).map((s) => [s.index, s]));
  $("op-timeline").innerHTML = slots
    .map((s) => {
      const cur = byIndex.get(s.index) || {};
      const segs = s.segments
        .map(
          (x) =>
            `<span class="op-seg" data-vehicle-id="${esc(x.vehicle)}" data-from="${x.from}" data-to="${x.to}" style="left:${at(x.from)};width:${width(x.from, x.to)};background:${vehicleColour(x.vehicle)}" title="${esc(`${x.vehicle} on station ${iso(x.from)}–${x.open ? "now" : iso(x.to)}`)}"></span>`,
        )
        .join("");
      const gaps = s.gaps
        .map((g) => `<span class="op-gap" data-from="${g.from}" data-to="${g.to}" style="left:${at(g.from)};width:${width(g.from, g.to)}" title="${esc(`uncovered ${iso(g.from)}–${g.open ? "now" : iso(g.to)} (${fmtSecs((g.to - g.from) / 1000)})`)}"></span>`)
        .join("");
      const marks = s.marks
        .filter((m) => m.kind !== "launch")
        .map((m) => `<span class="op-mark" data-kind="${esc(m.kind)}" data-vehicle-id="${esc(m.vehicle)}" style="left:${at(m.t)}" title="${esc(markText(m))}"></span>`)
        .join("");
      const pg = s.predicted
        ? `<span class="op-predicted" data-from="${s.predicted.from}" data-to="${s.predicted.to}" style="left:${at(s.predicted.from)};width:${width(s.predicted.from, s.predicted.to)}" title="${esc(`predicted gap ${iso(s.predicted.from)}–${iso(s.predicted.to)}: the pool cannot cover it`)}"></span>`
        : "";
      return (
        `<div class="op-row" data-slot="${s.index}" data-covered="${cur.covered ? "true" : "false"}" data-uncovered="${cur.uncovered_s ?? 0}">` +
        `<span class="op-label">${s.index}</span><div class="op-bar">${pg}${gaps}${segs}${marks}<span class="op-now" style="left:${at(clock)}"></span></div></div>`
      );
    })
    .join("");
  $("op-axis").textContent = `${iso(sp.from)} → ${iso(sp.to)} UTC, now ${iso(clock)}`;
  // The same history as text, for screen readers and for reading exact times.
  const open = new Set([...$("op-slots").querySelectorAll("li[data-slot] > details[open]")].map((d) => d.parentElement.dataset.slot));
  setHTML($("op-slots"), slots
    .map((s) => {
      const cur = byIndex.get(s.index) || {};
      const lines = [
        ...s.segments.map((x) => [x.from, `${iso(x.from)} ${x.vehicle} on station${x.open ? "" : ` until ${iso(x.to)}`}`]),
        ...s.gaps.map((g) => [g.from, `${iso(g.from)} uncovered${g.open ? " (now)" : ` until ${iso(g.to)}`}`]),
        ...s.marks.filter((m) => m.kind !== "launch").map((m) => [m.t, `${iso(m.t)} ${markText(m)}`]),
      ].sort((a, b) => a[0] - b[0]);
      return (
        `<li data-slot="${s.index}"><b>Slot ${s.index}</b>: ${esc(cur.vehicle_id || "nobody")}${cur.incoming_vehicle_id ? ` (${esc(cur.incoming_vehicle_id)} coming)` : ""}, ` +
        `${cur.covered ? "covered" : "UNCOVERED"}; uncovered ${esc(fmtSecs(cur.uncovered_s))}, ${cur.handovers ?? 0} handover(s), ${cur.replacements ?? 0} replacement(s)` +
        `${cur.max_revisit_s ? `, revisit ≤ ${esc(fmtSecs(cur.max_revisit_s))}` : ""}` +
        `<details${open.has(String(s.index)) ? " open" : ""}><summary>history (${lines.length})</summary><ol>${lines.map(([, t]) => `<li>${esc(t)}</li>`).join("")}</ol></details></li>`
      );
    })
    .join(""));
}

// setHTML replaces an element's content only when it changed, so a
// refresh every 2 s keeps the focus (a Ready button) and what is open.
function setHTML(el, html) {
  if (el._html === html) return;
  el._html = html;
  el.innerHTML = html;
}

function markText(m) {
  switch (m.kind) {
    case "handover":
      return `${m.vehicle} took over from ${m.from}`;
    case "failed":
      return `${m.vehicle} failed: ${m.reason} (replaced)`;
    case "must_leave":
      return `${m.vehicle} had to leave`;
    case "launch_failed":
      return `${m.vehicle} could not be launched: ${m.reason}`;
  }
  return `${m.vehicle} ${m.kind}`;
}

async function act(action) {
  const o = ops.find((x) => x.id === shown);
  if (!o) return;
  const q = actionText(o, action);
  if (q && !(await confirmDialog(q))) return;
  const status = $("ops-status");
  try {
    const r = await api.post(`/api/v1/operations/${encodeURIComponent(o.id)}/${action}`, {});
    status.textContent = `${o.id}: ${action} done, ${r?.state ?? ""}${r?.paused ? ", paused" : ""}`;
    status.dataset.action = action;
  } catch (e) {
    status.textContent = `${o.id}: ${action}: ${e.message}`;
  }
  refresh();
}

async function ready(vid) {
  const o = ops.find((x) => x.id === shown);
  if (!o || !(await confirmDialog(`${vid} swapped and fit to fly: back into the pool of ${o.id}?`))) return;
  try {
    await api.post(`/api/v1/operations/${encodeURIComponent(o.id)}/vehicles/${encodeURIComponent(vid)}/ready`, {});
    $("ops-status").textContent = `${vid}: ready`;
  } catch (e) {
    $("ops-status").textContent = `${vid}: ready: ${e.message}`;
  }
  refresh();
}

// fillForm lists the areas and the live vehicles (the map's selection
// ticked) when the form is opened.
async function fillForm() {
  const pool = $("op-pool");
  const ticked = new Set([...pool.querySelectorAll("input:checked")].map((i) => i.value));
  if (!ticked.size) for (const id of store.selection) ticked.add(id);
  const ids = [...store.vehicles.keys()].sort();
  pool.innerHTML = ids.length
    ? ids.map((id) => `<label class="check"><input type="checkbox" name="vehicle" value="${esc(id)}"${ticked.has(id) ? " checked" : ""}> ${esc(id)}</label>`).join("")
    : "<small>no vehicle connected</small>";
  try {
    const list = (await api.get("/api/v1/areas"))?.areas || [];
    const sel = $("op-area");
    const keep = sel.value;
    sel.innerHTML = list.map((a) => `<option value="${esc(a.id)}">${esc(a.name || a.id)} (${esc(a.id)})</option>`).join("");
    if (keep && list.some((a) => a.id === keep)) sel.value = keep;
  } catch (e) {
    $("op-create-status").textContent = `areas: ${e.message}`;
  }
}

async function create() {
  const f = $("op-form");
  const status = $("op-create-status");
  try {
    const body = createBody({
      area_id: f.area_id.value,
      pattern: f.pattern.value,
      slots: f.slots.value,
      minutes: f.minutes.value,
      start: f.start.value || "now",
      speed: f.speed.value,
      endurance_min: f.endurance_min.value,
      swap_min: f.swap_min.value,
      vehicle_ids: [...f.querySelectorAll('input[name="vehicle"]:checked')].map((i) => i.value),
    });
    const when = body.start === "now" ? "now" : `at ${body.start.slice(11, 16)} UTC`;
    if (!(await confirmDialog(`Create an operation over ${body.area_id}: ${body.slots} slot(s) from ${body.vehicle_ids.length} vehicles, starting ${when}? The station launches and recalls them on its own.`))) return;
    const o = await api.post("/api/v1/operations", body);
    status.textContent = `created ${o.id} (${o.state})`;
    status.dataset.ok = "true";
    shown = o.id;
    await refresh();
  } catch (e) {
    status.textContent = e.message;
    status.dataset.ok = "false";
  }
}
