import { test } from "node:test";
import assert from "node:assert/strict";
import { holdsByVehicle, controlText, takeBody, controlResults, heldByOthers } from "../src/lib/control.js";

const state = { idle_timeout_s: 600, holds: [{ vehicle_id: "a", holder: "ops1", since: "2026-12-01T10:00:00Z" }, { vehicle_id: "b", holder: "me", since: "2026-12-01T10:00:00Z" }, null] };

test("holds by vehicle, and what the page says about each", () => {
  const h = holdsByVehicle(state);
  assert.equal(h.size, 2);
  const now = Date.parse("2026-12-01T10:05:00Z");
  assert.equal(controlText(h.get("a"), "me", now), "ops1 (5 min)");
  assert.equal(controlText(h.get("b"), "me", now), "you");
  assert.equal(controlText(undefined, "me", now), "");
  assert.deepEqual(heldByOthers(["a", "b", "c"], h, "me"), ["a"]);
});

test("take and takeover bodies; refusals name the holder", () => {
  assert.deepEqual(takeBody(["a"]), { vehicle_ids: ["a"] });
  assert.deepEqual(takeBody(["a"], true), { vehicle_ids: ["a"], takeover: true });
  assert.throws(() => takeBody([]), /no vehicle selected/);
  assert.deepEqual(controlResults({ results: [{ vehicle_id: "a", ok: false, holder: "ops1", error: "vehicle a is controlled by ops1" }, { vehicle_id: "b", ok: true }] }), [
    { id: "a", ok: false, text: "held by ops1: vehicle a is controlled by ops1" },
    { id: "b", ok: true, text: "control taken" },
  ]);
});
