import { test } from "node:test";
import assert from "node:assert/strict";
import { alertShown } from "../src/lib/alerts.js";

const breach = { severity: "critical", acked: false, text: "12:00:01 uav-1 uav-1 breached its geofence" };
const low = { severity: "warning", acked: true, text: "12:00:05 uav-2 battery low (19 %) ✓ pilot" };

test("the severity filter", () => {
  assert.equal(alertShown(breach, "", ""), true);
  assert.equal(alertShown(low, "", ""), true);
  assert.equal(alertShown(breach, "critical", ""), true);
  assert.equal(alertShown(low, "critical", ""), false);
  assert.equal(alertShown(low, "warning", ""), true);
  assert.equal(alertShown(breach, "warning", ""), false);
});

test("not acknowledged yet", () => {
  assert.equal(alertShown(breach, "unacked", ""), true);
  assert.equal(alertShown(low, "unacked", ""), false);
});

test("the search: every word, any case, in the vehicle, message or acknowledger", () => {
  assert.equal(alertShown(breach, "", "UAV-1"), true);
  assert.equal(alertShown(breach, "", "uav-1 fence"), true);
  assert.equal(alertShown(breach, "", "uav-1 battery"), false);
  assert.equal(alertShown(low, "", "pilot"), true);
  assert.equal(alertShown(low, "warning", "  battery   "), true);
  assert.equal(alertShown(low, "critical", "battery"), false);
});
