import { test } from "node:test";
import assert from "node:assert/strict";
import { transferText, transferShort, transferActive, controlLabel, missionsShown, onboardKey, vehicleColour } from "../src/lib/fly.js";

test("an upload as the list and HUD say it", () => {
  assert.equal(transferText(null), "");
  assert.equal(transferText({ type: "mission", phase: "uploading", done: 12, total: 40, attempt: 1 }), "uploading mission 12/40");
  assert.equal(transferText({ type: "fence", phase: "uploading", done: 3, total: 9, attempt: 2 }), "uploading fence 3/9 (attempt 2)");
  assert.equal(transferText({ type: "mission", phase: "verifying", done: 40, total: 40, attempt: 1 }), "mission 40/40 sent, reading back");
  assert.equal(transferText({ type: "mission", phase: "verified", done: 40, total: 40, attempt: 1 }), "mission verified, 40 item(s)");
  assert.equal(transferText({ type: "rally", phase: "uploaded", done: 2, total: 2 }), "rally uploaded, 2 item(s), not read back");
  assert.equal(
    transferText({ type: "mission", phase: "failed", done: 0, total: 800, attempt: 1, error: "vehicle refused the transfer: MAV_MISSION_NO_SPACE (mission has more items than the vehicle can store)" }),
    "mission upload failed: vehicle refused the transfer: MAV_MISSION_NO_SPACE (mission has more items than the vehicle can store)",
  );
  assert.equal(
    transferShort({ type: "mission", phase: "failed", error: "upload mission to vehicle x (attempt 1): vehicle refused the transfer: MAV_MISSION_NO_SPACE (mission has more items than the vehicle can store)" }),
    "mission refused: MAV_MISSION_NO_SPACE",
  );
  assert.equal(transferShort({ type: "fence", phase: "failed", error: "read back fence: timeout" }), "fence upload failed");
  assert.equal(transferShort({ type: "mission", phase: "uploading", done: 1, total: 2, attempt: 1 }), "uploading mission 1/2");
  assert.ok(transferActive({ phase: "uploading" }) && transferActive({ phase: "verifying" }));
  assert.ok(!transferActive({ phase: "verified" }) && !transferActive(null));
});

test("control row: who and since when", () => {
  const now = Date.parse("2026-12-01T10:07:00Z");
  assert.equal(controlLabel(null, "me", now), "");
  assert.equal(controlLabel({ holder: "op1", since: "2026-12-01T10:02:00Z" }, "me", now), "op1 since 10:02 UTC (5 min)");
  assert.equal(controlLabel({ holder: "me", since: "2026-12-01T10:07:00Z" }, "me", now), "you since 10:07 UTC (0 min)");
  assert.equal(controlLabel({ holder: "token:auto", since: "garbage" }, "me", now), "token:auto");
});

test("every vehicle's mission in a small fleet, the selected ones' in a large one", () => {
  const vs = [
    { id: "a", mission_count: 5 },
    { id: "b", mission_count: 0 },
    { id: "c", mission_count: 7 },
  ];
  assert.deepEqual([...missionsShown(vs, new Set())], ["a", "c"]);
  assert.deepEqual([...missionsShown(vs, new Set(["c", "b"]), 2)], ["c"]);
  assert.deepEqual([...missionsShown(vs, new Set(), 2)], []);
});

test("on-board lists are read again when the count changes or an upload ends", () => {
  const v = { mission_count: 5 };
  const k0 = onboardKey(v);
  assert.equal(onboardKey({ mission_count: 5, transfer: { type: "mission", phase: "uploading", started: "t1" } }), k0, "not while uploading");
  const k1 = onboardKey({ mission_count: 5, transfer: { type: "mission", phase: "verified", started: "t1" } });
  assert.notEqual(k1, k0);
  assert.notEqual(onboardKey({ mission_count: 5, transfer: { type: "mission", phase: "verified", started: "t2" } }), k1, "a second upload of the same size");
  assert.notEqual(onboardKey({ mission_count: 6 }), k0);
  assert.equal(onboardKey({ mission_count: 5, transfer: { type: "fence", phase: "verified", started: "t3" } }), k0, "not after a fence upload, the mission follows");
});

test("a vehicle keeps its colour", () => {
  assert.equal(vehicleColour("uav-1"), vehicleColour("uav-1"));
  assert.match(vehicleColour("x"), /^#[0-9a-f]{6}$/);
  assert.ok(new Set(["a", "b", "c", "d", "e", "f"].map(vehicleColour)).size > 1);
});

import { missionLegs } from "../src/lib/fly.js";

test("an on-board mission's legs: from home, through positioned items, home again at RTL", () => {
  const e7 = (x) => Math.round(x * 1e7);
  const m = [
    { seq: 0, command: 16, x: e7(41.0), y: e7(69.0) }, // home
    { seq: 1, command: 22, x: 0, y: 0, z: 20 }, // takeoff, no position
    { seq: 2, command: 16, x: e7(41.001), y: e7(69.0) },
    { seq: 3, command: 178, x: 0, y: 0 }, // speed change
    { seq: 4, command: 16, x: e7(41.001), y: e7(69.001) },
    { seq: 5, command: 20, x: 0, y: 0 }, // RTL
  ];
  const l = missionLegs(m);
  assert.deepEqual(
    l.map((x) => x.seq),
    [2, 4, 5],
  );
  assert.deepEqual(l[0].from, [41.0, 69.0], "the first leg starts at home");
  assert.deepEqual(l[2].from, [41.001, 69.001]);
  assert.deepEqual(l[2].to, [41.0, 69.0], "RTL flies home");
  assert.deepEqual(missionLegs([]), []);
  // Without a home (item 0 unknown), the legs start at the first position.
  assert.deepEqual(
    missionLegs(m.slice(1)).map((x) => x.seq),
    [4],
  );
});
