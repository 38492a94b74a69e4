import { test } from "node:test";
import assert from "node:assert/strict";
import { pairKey, applySeparationEvent, pairsFromStatus } from "../src/lib/separation.js";

const warn = { kind: "separation", vehicle_id: "uav-b", severity: "warning", fields: { other_vehicle_id: "uav-a", yield_vehicle_id: "uav-b", level: "warning", action: "alert" } };
const crit = { ...warn, severity: "critical", fields: { ...warn.fields, level: "critical" } };
const cleared = { kind: "separation_cleared", vehicle_id: "uav-b", severity: "info", fields: { other_vehicle_id: "uav-a", yield_vehicle_id: "uav-b", previous_level: "critical" } };

test("a pair is one line whatever the order of its drones", () => {
  assert.equal(pairKey("uav-a", "uav-b"), pairKey("uav-b", "uav-a"));
});

test("an episode: warning, escalation, cleared", () => {
  const pairs = new Map();
  assert.equal(applySeparationEvent(pairs, warn), true);
  assert.deepEqual([...pairs.values()], [{ a: "uav-b", b: "uav-a", level: "warning", yield: "uav-b" }]);
  assert.equal(applySeparationEvent(pairs, warn), false, "the same level again changes nothing");
  assert.equal(applySeparationEvent(pairs, crit), true);
  assert.equal(pairs.get(pairKey("uav-a", "uav-b")).level, "critical");
  assert.equal(applySeparationEvent(pairs, cleared), true);
  assert.equal(pairs.size, 0);
  assert.equal(applySeparationEvent(pairs, cleared), false);
});

test("other events, and the scheduler's pad events, draw nothing", () => {
  const pairs = new Map();
  assert.equal(applySeparationEvent(pairs, { kind: "battery_low", vehicle_id: "uav-a", fields: {} }), false);
  assert.equal(applySeparationEvent(pairs, { kind: "separation", vehicle_id: "uav-a", fields: {} }), false);
  const pad = { kind: "separation", vehicle_id: "uav-c", severity: "warning", fields: { operation_id: "op1", action: "pad_unclear", other_vehicle_id: "uav-d", level: "warning" } };
  assert.equal(applySeparationEvent(pairs, pad), false);
  assert.equal(pairs.size, 0);
});

test("on (re)connect the station's active list replaces what was drawn", () => {
  const pairs = new Map();
  applySeparationEvent(pairs, warn);
  pairsFromStatus(pairs, [{ vehicle_a: "uav-c", vehicle_b: "uav-d", level: "critical", yield_vehicle_id: "uav-d" }, { vehicle_a: "", vehicle_b: "x" }]);
  assert.deepEqual([...pairs.entries()], [[pairKey("uav-c", "uav-d"), { a: "uav-c", b: "uav-d", level: "critical", yield: "uav-d" }]]);
  pairsFromStatus(pairs, null);
  assert.equal(pairs.size, 0);
});

test("an episode that begins while the active list is on its way is kept", async () => {
  const { createSeparation } = await import("../src/lib/separation.js");
  const s = createSeparation();
  s.event({ ...warn, vehicle_id: "uav-x", fields: { ...warn.fields, other_vehicle_id: "uav-y" } }); // before the (re)connect
  s.syncStart();
  assert.equal(s.event(warn), true); // the stream's event arrives first
  s.sync([{ vehicle_a: "uav-c", vehicle_b: "uav-d", level: "warning" }]); // then the answer, asked before it
  assert.deepEqual([...s.pairs.keys()].sort(), [pairKey("uav-a", "uav-b"), pairKey("uav-c", "uav-d")]);
  // An episode cleared in between stays cleared.
  s.syncStart();
  s.event(cleared);
  s.sync([{ vehicle_a: "uav-a", vehicle_b: "uav-b", level: "critical" }]);
  assert.equal(s.pairs.size, 0);
  // Without a sync under way the answer is the whole truth.
  s.event(warn);
  s.sync([]);
  assert.equal(s.pairs.size, 0);
});
