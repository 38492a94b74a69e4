import { test } from "node:test";
import assert from "node:assert/strict";
import { opClock, ofOperation, timeline, span, pct, ZOOM_MIN_MS, actions, actionText, createBody, fmtSecs, summary } from "../src/lib/ops.js";

// An operation made at wall 12:00:00 with its clock 60 times faster:
// a wall second is an operation minute.
const created = Date.parse("2026-12-01T12:00:00Z");
const wall = (s) => new Date(created + s * 1000).toISOString(); // s wall seconds after creation
const clock = (s) => created + s * 60000; // the operation clock at s wall seconds

function op(extra = {}) {
  return {
    id: "op-1",
    pattern: "perimeter",
    state: "running",
    created: new Date(created).toISOString(),
    time_scale: 60,
    start: new Date(clock(2)).toISOString(),
    end: new Date(clock(62)).toISOString(),
    slots: [
      { index: 0, vehicle_id: "b", covered: true },
      { index: 1, vehicle_id: "", covered: false, gap_since: new Date(clock(20)).toISOString() },
    ],
    vehicles: [
      { id: "a", role: "returning", slot: 0, since: new Date(clock(30)).toISOString() },
      { id: "b", role: "station", slot: 0, since: new Date(clock(30)).toISOString() },
      { id: "c", role: "failed", slot: -1, since: new Date(clock(20)).toISOString(), reason: "link lost" },
      { id: "d", role: "transit", slot: 1, since: new Date(clock(21)).toISOString() },
    ],
    ...extra,
  };
}

let seq = 0;
const ev = (s, vehicle, fields, kind = "operation") => ({ seq: ++seq, time: wall(s), vehicle_id: vehicle, kind, fields: { operation_id: "op-1", ...fields } });

const events = () => [
  ev(1, "a", { action: "launch", slot: 0 }),
  ev(1, "c", { action: "launch", slot: 1 }),
  ev(3, "a", { action: "on_station", slot: 0 }),
  ev(4, "c", { action: "on_station", slot: 1 }),
  ev(5, "x", { action: "on_station", slot: 0, operation_id: "op-2" }), // another operation's
  { seq: ++seq, time: wall(6), vehicle_id: "a", kind: "armed", fields: {} },
  ev(20, "c", { action: "failed", slot: 1, reason: "link lost" }),
  ev(20, "c", { slot: 1, since: new Date(clock(20)).toISOString() }, "coverage_gap"),
  ev(21, "d", { action: "launch", slot: 1 }),
  ev(25, "b", { action: "launch", slot: 0 }),
  ev(30, "b", { action: "on_station", slot: 0 }),
  ev(30, "b", { action: "handover", slot: 0, from: "a" }),
];

test("the operation clock runs time_scale times faster from created", () => {
  const o = op();
  assert.equal(opClock(o, created), created);
  assert.equal(opClock(o, created + 1000), created + 60000);
  assert.equal(opClock({ ...o, time_scale: 0 }, created + 1000), created + 1000);
});

test("only the operation's own events", () => {
  const got = ofOperation(events(), "op-1");
  assert.ok(got.every((e) => e.fields.operation_id === "op-1"));
  assert.equal(got.length, 10);
});

test("each slot's timeline: who was on station when, the handover, the failure and the open gap", () => {
  const now = clock(40);
  const [s0, s1] = timeline(op(), events(), now);
  assert.deepEqual(
    s0.segments.map((x) => [x.vehicle, x.from, x.to, x.open]),
    [
      ["a", clock(3), clock(30), false],
      ["b", clock(30), now, true],
    ],
  );
  assert.deepEqual(s0.gaps, []);
  assert.deepEqual(
    s0.marks.map((m) => [m.kind, m.vehicle, m.from]),
    [
      ["launch", "a", undefined],
      ["launch", "b", undefined],
      ["handover", "b", "a"],
    ],
  );
  assert.deepEqual(
    s1.segments.map((x) => [x.vehicle, x.from, x.to]),
    [["c", clock(4), clock(20)]],
  );
  assert.deepEqual(
    s1.gaps.map((g) => [g.from, g.to, g.open]),
    [[clock(20), now, true]],
  );
  assert.deepEqual(
    s1.marks.map((m) => [m.kind, m.vehicle, m.reason]),
    [
      ["launch", "c", ""],
      ["failed", "c", "link lost"],
      ["launch", "d", ""],
    ],
  );
});

test("the predicted gap on its slot", () => {
  const pg = { slot: 1, start: new Date(clock(50)).toISOString(), end: new Date(clock(55)).toISOString() };
  const [s0, s1] = timeline(op({ predicted_gap: pg }), events(), clock(40));
  assert.equal(s0.predicted, null);
  assert.deepEqual(s1.predicted, { from: clock(50), to: clock(55) });
  assert.equal(timeline(op({ predicted_gap: { ...pg, slot: 7 } }), [], clock(40))[1].predicted, null);
});

test("every slot's first predicted gap, from predicted_gaps", () => {
  const g = (slot, from, to) => ({ slot, start: new Date(clock(from)).toISOString(), end: new Date(clock(to)).toISOString() });
  const gaps = [g(0, 50, 55), g(1, 60, 70), g(0, 80, 90)];
  const [s0, s1] = timeline(op({ predicted_gap: gaps[0], predicted_gaps: gaps }), events(), clock(40));
  assert.deepEqual(s0.predicted, { from: clock(50), to: clock(55) });
  assert.deepEqual(s1.predicted, { from: clock(60), to: clock(70) });
  // No gap now: none drawn, though an older station's field is absent.
  assert.equal(timeline(op({ predicted_gap: null, predicted_gaps: [] }), [], clock(40))[0].predicted, null);
});

test("a gap that ended, and the end of the operation", () => {
  const more = [...events(), ev(35, "d", { action: "on_station", slot: 1 }), ev(35, "d", { action: "gap_ended", slot: 1, gap_s: 15 * 60 }), ev(62, "", { action: "finished" })];
  const o = op({
    state: "finished",
    slots: [
      { index: 0, vehicle_id: "b", covered: false },
      { index: 1, vehicle_id: "d", covered: false },
    ],
    vehicles: [
      { id: "b", role: "returning", slot: 0, since: new Date(clock(62)).toISOString() },
      { id: "d", role: "returning", slot: 1, since: new Date(clock(62)).toISOString() },
    ],
  });
  const [s0, s1] = timeline(o, more, clock(70));
  assert.deepEqual(
    s1.gaps.map((g) => [g.from, g.to, g.open]),
    [[clock(20), clock(35), false]],
  );
  assert.deepEqual(
    s1.segments.map((x) => [x.vehicle, x.from, x.to]),
    [
      ["c", clock(4), clock(20)],
      ["d", clock(35), clock(62)],
    ],
  );
  assert.equal(s0.segments.at(-1).to, clock(62));
});

test("a page opened mid-operation without the events still shows who is on station and the gap", () => {
  const now = clock(40);
  const [s0, s1] = timeline(op(), [], now);
  assert.deepEqual(
    s0.segments.map((x) => [x.vehicle, x.from, x.to, x.open]),
    [["b", clock(30), now, true]],
  );
  assert.deepEqual(
    s1.gaps.map((g) => [g.from, g.to]),
    [[clock(20), now]],
  );
  // A segment the events left open is closed when the vehicle left the slot.
  const [t0] = timeline(op(), [ev(3, "a", { action: "on_station", slot: 0 })], now);
  assert.deepEqual(
    t0.segments.map((x) => [x.vehicle, x.from, x.to]),
    [
      ["a", clock(3), clock(30)],
      ["b", clock(30), now],
    ],
  );
});

test("the bar spans the window, and earlier segments widen it", () => {
  const o = op({ state: "finished" });
  const slots = timeline(o, events(), clock(40));
  const sp = span(o, slots, clock(40));
  assert.equal(sp.to, clock(62));
  assert.equal(sp.from, clock(2)); // nothing before the start
  assert.equal(pct(clock(32), sp), 50);
  assert.equal(pct(clock(0), sp), 0);
  assert.equal(pct(clock(99), sp), 100);
  const early = timeline(o, [ev(1, "a", { action: "on_station", slot: 0 })], clock(40));
  assert.equal(span(o, early, clock(40)).from, clock(1));
});

test("while running, the bar runs to a little past now", () => {
  const o = op(); // window clock(2)..clock(62), i.e. 60 operation minutes
  const slots = timeline(o, [], clock(40));
  // 38 minutes in: to now + 3.8 min.
  assert.equal(span(o, slots, clock(40)).to, clock(40) + 3.8 * 60000);
  // 5 minutes in: the first 15 minutes of the window.
  assert.equal(span(o, timeline(o, [], clock(7)), clock(7)).to, clock(2) + ZOOM_MIN_MS);
  // Near the end: the window's end.
  assert.equal(span(o, timeline(o, [], clock(60)), clock(60)).to, clock(62));
});

test("the actions an operation allows, and what their confirmations say", () => {
  assert.deepEqual(actions(op({ state: "scheduled" })), ["start", "pause", "stop"]);
  assert.deepEqual(actions(op()), ["pause", "stop"]);
  assert.deepEqual(actions(op({ paused: true })), ["resume", "stop"]);
  assert.deepEqual(actions(op({ state: "finished" })), []);
  assert.deepEqual(actions(op({ state: "failed" })), []);
  assert.equal(actionText(op(), "stop"), "Stop operation op-1? Its 3 flying drone(s) are sent home and it cannot be restarted.");
  assert.equal(actionText(op(), "start"), "Start operation op-1 now? The station launches drones for its 2 slot(s).");
  assert.equal(actionText(op(), "pause"), "");
});

test("the create request, and bad fields named", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const f = { area_id: "a1", pattern: "perimeter", slots: "2", vehicle_ids: ["v1", "v2", "v3", "v2"], minutes: "90", start: "now", speed: "10", alt: "" };
  assert.deepEqual(createBody(f, now), {
    area_id: "a1",
    pattern: "perimeter",
    slots: 2,
    vehicle_ids: ["v1", "v2", "v3"],
    start: "now",
    end: "2026-12-01T13:30:00.000Z",
    speed: 10,
  });
  assert.equal(createBody({ ...f, start: "2026-12-01T14:00:00Z" }, now).end, "2026-12-01T15:30:00.000Z");
  assert.equal(createBody({ ...f, start: "2026-12-01T14:00:00Z" }, now).start, "2026-12-01T14:00:00.000Z");
  assert.throws(() => createBody({ ...f, area_id: "" }, now), /^Error: area: /);
  assert.throws(() => createBody({ ...f, pattern: "zigzag" }, now), /pattern "zigzag"/);
  assert.throws(() => createBody({ ...f, slots: "0" }, now), /slots "0"/);
  assert.throws(() => createBody({ ...f, slots: "4" }, now), /vehicles: 3 picked for 4 slot\(s\)/);
  assert.throws(() => createBody({ ...f, minutes: "" }, now), /window ""/);
  assert.throws(() => createBody({ ...f, start: "tomorrow" }, now), /start "tomorrow"/);
  assert.throws(() => createBody({ ...f, speed: "80" }, now), /speed "80": want 0–50/);
});

test("durations and the list line", () => {
  assert.equal(fmtSecs(0), "0 s");
  assert.equal(fmtSecs(42.4), "42 s");
  assert.equal(fmtSecs(185), "3 min 5 s");
  assert.equal(fmtSecs(7440), "2 h 04 min");
  assert.equal(fmtSecs(NaN), "–");
  assert.equal(summary({ ...op(), uncovered_s: 185 }), "perimeter · running · 1/2 covered · uncovered 3 min 5 s");
  assert.equal(summary({ ...op(), paused: true, uncovered_s: 0 }), "perimeter · running, paused · 1/2 covered · uncovered 0 s");
  assert.equal(summary({ ...op(), state: "finished", stopped: true, uncovered_s: 0 }), "perimeter · finished (stopped) · 1/2 covered · uncovered 0 s");
});
