import { test } from "node:test";
import assert from "node:assert/strict";
import { ackOf, hudRows, esc } from "../src/lib/format.js";

test("acknowledgements from an acked alert or an alert_ack event", () => {
  assert.deepEqual(ackOf({ seq: 7, kind: "battery_low", ack: { by: "ops1", at: "T" } }), { seq: 7, by: "ops1", at: "T" });
  assert.deepEqual(ackOf({ seq: 9, kind: "alert_ack", time: "T2", fields: { seq: 7, by: "ops1" } }), { seq: 7, by: "ops1", at: "T2" });
  assert.equal(ackOf({ seq: 7, kind: "battery_low" }), null);
  assert.equal(ackOf({ kind: "alert_ack", fields: {} }), null);
});

test("the HUD shows unknown fields as – and signing only when reported", () => {
  const rows = Object.fromEntries(hudRows({ connected: true, battery_pct: -1, gps_fix: 3, satellites: 9 }));
  assert.match(rows.battery, /^–, –, –$/);
  assert.equal(rows.GPS, "3D, 9 sats");
  assert.equal(rows.signing, undefined);
  assert.equal(Object.fromEntries(hudRows({ connected: true, signing: "signed" })).signing, "signed");
  assert.equal(esc(`<a href="x">`), "&lt;a href=&quot;x&quot;&gt;");
});
