// Patrol operations (GET /api/v1/operations, package missions/operations)
// as the console shows them: the per-slot timeline of who was on station
// when, handovers, replacements and gaps, rebuilt from the operation's
// events and the operation's current state; the request that creates one;
// and which actions an operation allows. No DOM here.

// EVENT_KINDS are the event kinds an operation emits (docs/api.md,
// "Patrol operations"); each carries fields.operation_id.
export const EVENT_KINDS = new Set(["operation", "coverage_gap", "coverage_gap_predicted"]);

// opClock turns a wall time (ms) into the operation's clock (ms): the
// clock runs time_scale times faster from the operation's created time.
// Event times are wall times; the operation's start, end, clock and gap
// times are on its clock.
export function opClock(op, wallMs) {
  const created = Date.parse(op.created);
  const s = op.time_scale > 0 ? op.time_scale : 1;
  if (!Number.isFinite(created)) return wallMs;
  return created + (wallMs - created) * s;
}

// ofOperation keeps the events that belong to operation id, by seq.
export function ofOperation(events, id) {
  return (events || []).filter((e) => e && EVENT_KINDS.has(e.kind) && e.fields?.operation_id === id).sort((a, b) => a.seq - b.seq);
}

function slotOf(f) {
  const n = Number(f?.slot);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

// timeline rebuilds each slot's history on the operation clock (ms):
// segments (a vehicle on station from → to), gaps (uncovered from → to)
// marks (launch, handover, failed, must_leave, launch_failed) and the pool
// forecast's predicted gap (predicted: {from, to} or null) from the
// operation's events, then reconciles it with the operation's current
// state (op.slots, op.vehicles), which is authoritative: a page opened
// mid-operation, or one whose events the station's ring no longer holds,
// still shows who is on station since when and the open gap. Open
// segments and gaps run to now (the operation's clock, ms).
export function timeline(op, events, now) {
  const slots = (op.slots || []).map((s) => ({ index: s.index, segments: [], gaps: [], marks: [], predicted: null }));
  const at = (i) => slots[i] || null;
  const open = new Map(); // `${slot}|${vehicle}` → segment
  const openGap = new Map(); // slot → gap
  const close = (slot, vehicle, t) => {
    const k = `${slot}|${vehicle}`;
    const seg = open.get(k);
    if (seg) {
      seg.to = Math.max(seg.from, t);
      seg.open = false;
      open.delete(k);
    }
  };
  const closeVehicle = (vehicle, t) => {
    for (const k of [...open.keys()]) if (k.endsWith(`|${vehicle}`)) close(Number(k.split("|")[0]), vehicle, t);
  };
  for (const ev of ofOperation(events, op.id)) {
    const t = opClock(op, Date.parse(ev.time));
    if (!Number.isFinite(t)) continue;
    const f = ev.fields || {};
    const i = slotOf(f);
    const s = i === null ? null : at(i);
    const v = ev.vehicle_id;
    if (ev.kind === "coverage_gap") {
      const since = Date.parse(f.since);
      if (s && !openGap.has(i)) {
        const g = { from: Number.isFinite(since) ? since : t, to: null, open: true };
        s.gaps.push(g);
        openGap.set(i, g);
      }
      continue;
    }
    if (ev.kind !== "operation") continue;
    switch (f.action) {
      case "on_station":
        if (s && !open.has(`${i}|${v}`)) {
          const seg = { vehicle: v, from: t, to: null, open: true };
          s.segments.push(seg);
          open.set(`${i}|${v}`, seg);
        }
        break;
      case "handover":
        if (s) {
          close(i, f.from, t);
          s.marks.push({ kind: "handover", t, vehicle: v, from: f.from });
        }
        break;
      case "failed":
      case "must_leave":
        if (s) {
          close(i, v, t);
          s.marks.push({ kind: f.action, t, vehicle: v, reason: f.reason || "" });
        }
        break;
      case "launch":
      case "launch_failed":
        if (s) s.marks.push({ kind: f.action, t, vehicle: v, reason: f.reason || "" });
        break;
      case "landed":
        closeVehicle(v, t);
        break;
      case "gap_ended":
        if (s) {
          const g = openGap.get(i);
          const from = t - Number(f.gap_s) * 1000;
          if (g) {
            g.to = t;
            g.open = false;
          } else if (Number.isFinite(from)) s.gaps.push({ from, to: t, open: false });
          openGap.delete(i);
        }
        break;
      case "finished":
        for (const k of [...open.keys()]) close(Number(k.split("|")[0]), k.slice(k.indexOf("|") + 1), t);
        for (const g of openGap.values()) {
          g.to = t;
          g.open = false;
        }
        openGap.clear();
        break;
    }
  }
  // The current state wins over what the events said (or missed).
  const states = new Map((op.vehicles || []).map((v) => [v.id, v]));
  for (const cur of op.slots || []) {
    const s = at(cur.index);
    if (!s) continue;
    for (const [k, seg] of open) {
      const [slot, vid] = [Number(k.split("|")[0]), k.slice(k.indexOf("|") + 1)];
      if (slot !== cur.index) continue;
      const st = states.get(vid);
      if (!st || st.role !== "station" || st.slot !== cur.index) {
        const since = Date.parse(st?.since);
        close(slot, vid, Number.isFinite(since) ? since : now);
      }
    }
    for (const st of op.vehicles || []) {
      if (st.role !== "station" || st.slot !== cur.index || open.has(`${cur.index}|${st.id}`)) continue;
      const since = Date.parse(st.since);
      const seg = { vehicle: st.id, from: Number.isFinite(since) ? since : now, to: null, open: true };
      s.segments.push(seg);
      open.set(`${cur.index}|${st.id}`, seg);
    }
    const gapSince = Date.parse(cur.gap_since);
    if (Number.isFinite(gapSince) && !openGap.has(cur.index)) {
      const g = { from: gapSince, to: null, open: true };
      s.gaps.push(g);
      openGap.set(cur.index, g);
    } else if (!cur.gap_since && openGap.has(cur.index) && op.state === "running") {
      const g = openGap.get(cur.index);
      g.to = now;
      g.open = false;
      openGap.delete(cur.index);
    }
  }
  // The pool forecast's gaps: each slot's first, on its slot (a station
  // from before predicted_gaps sends only predicted_gap, the first of all).
  const pgs = op.predicted_gaps || (op.predicted_gap ? [op.predicted_gap] : []);
  for (const pg of pgs) {
    const s = at(pg.slot);
    const from = Date.parse(pg.start);
    const to = Date.parse(pg.end);
    if (s && to > from && (!s.predicted || from < s.predicted.from)) s.predicted = { from, to };
  }
  const end = op.state === "running" || op.state === "scheduled" ? now : Math.min(now, Date.parse(op.end) || now);
  for (const s of slots) {
    for (const x of [...s.segments, ...s.gaps]) if (x.to === null) x.to = Math.max(x.from, end);
    s.segments.sort((a, b) => a.from - b.from);
    s.gaps.sort((a, b) => a.from - b.from);
    s.marks.sort((a, b) => a.t - b.t);
  }
  return slots;
}

// span is the time range a timeline bar covers: from the operation's
// start (or anything drawn before it: drones on station early) to its end,
// but while the operation runs only to a little past now (a tenth of the
// time so far, at least ZOOM_MIN_MS from the start), so the first minutes
// of a long window are not a sliver of the bar.
export const ZOOM_MIN_MS = 15 * 60000;
export function span(op, slots, now) {
  let from = Date.parse(op.start);
  let to = Date.parse(op.end);
  for (const s of slots) for (const x of [...s.segments, ...s.gaps]) from = Math.min(from, x.from);
  if (Number.isFinite(now) && now < to && (op.state === "running" || op.state === "scheduled")) to = Math.min(to, Math.max(now + (now - from) / 10, from + ZOOM_MIN_MS));
  if (!(to > from)) to = from + 1;
  return { from, to };
}

// pct places t on a bar over span {from, to}, clamped to 0–100.
export function pct(t, sp) {
  return Math.max(0, Math.min(100, ((t - sp.from) / (sp.to - sp.from)) * 100));
}

// ACTIONS an operation allows in its state (operators only).
export function actions(op) {
  if (!op || (op.state !== "scheduled" && op.state !== "running")) return [];
  const out = [];
  if (op.state === "scheduled") out.push("start");
  if (op.paused) out.push("resume");
  else out.push("pause");
  out.push("stop");
  return out;
}

// actionText is the confirmation for an action that moves aircraft
// (start launches drones, resume lets the scheduler launch again, stop
// sends every drone of the operation home); "" for pause.
export function actionText(op, action) {
  const flying = (op.vehicles || []).filter((v) => ["launching", "transit", "station", "returning"].includes(v.role)).length;
  switch (action) {
    case "start":
      return `Start operation ${op.id} now? The station launches drones for its ${op.slots?.length ?? 0} slot(s).`;
    case "resume":
      return `Resume operation ${op.id}? The station launches and hands over again.`;
    case "stop":
      return `Stop operation ${op.id}? Its ${flying} flying drone(s) are sent home and it cannot be restarted.`;
  }
  return "";
}

// createBody checks the create form's fields and returns the body for
// POST /api/v1/operations; a bad field throws an Error naming it. start
// is "now" or a local date-time ("2026-12-01T18:00"); the window's end is
// start + minutes (the operation clock starts as the wall clock).
export function createBody(f, nowMs = Date.now()) {
  if (!f.area_id) throw new Error("area: pick the event area to cover");
  if (!["perimeter", "sweep", "loop", "corridor"].includes(f.pattern)) throw new Error(`pattern "${f.pattern}": want perimeter, sweep, loop or corridor`);
  const slots = Number(f.slots);
  if (!Number.isInteger(slots) || slots < 1 || slots > 100) throw new Error(`slots "${f.slots}": want 1–100 drones on station at once`);
  const ids = [...new Set(f.vehicle_ids || [])];
  if (ids.length < slots) throw new Error(`vehicles: ${ids.length} picked for ${slots} slot(s); the pool needs at least one per slot`);
  const minutes = Number(f.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 7 * 24 * 60) throw new Error(`window "${f.minutes}": want minutes, more than 0`);
  let startMs = nowMs;
  let start = "now";
  if (f.start && f.start !== "now") {
    startMs = Date.parse(f.start);
    if (!Number.isFinite(startMs)) throw new Error(`start "${f.start}": want a date and time`);
    start = new Date(startMs).toISOString();
  }
  const body = { area_id: f.area_id, pattern: f.pattern, slots, vehicle_ids: ids, start, end: new Date(startMs + minutes * 60000).toISOString() };
  for (const [k, max] of [
    ["alt", 10000],
    ["speed", 50],
    ["endurance_min", 1440],
    ["swap_min", 1440],
    ["reserve_pct", 90],
  ]) {
    if (f[k] === undefined || f[k] === "") continue;
    const n = Number(f[k]);
    if (!Number.isFinite(n) || n < 0 || n > max) throw new Error(`${k} "${f[k]}": want 0–${max}`);
    body[k] = n;
  }
  return body;
}

// fmtSecs says a duration of seconds briefly: "0 s", "42 s", "3 min 5 s",
// "2 h 04 min".
export function fmtSecs(s) {
  if (!Number.isFinite(s) || s < 0) return "–";
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

// summary is an operation's line in the list.
export function summary(op) {
  const state = op.paused && op.state === "running" ? "running, paused" : op.stopped ? `${op.state} (stopped)` : op.state;
  const covered = (op.slots || []).filter((s) => s.covered).length;
  return `${op.pattern} · ${state} · ${covered}/${(op.slots || []).length} covered · uncovered ${fmtSecs(op.uncovered_s)}`;
}
