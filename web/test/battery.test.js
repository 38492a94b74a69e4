import { test } from "node:test";
import assert from "node:assert/strict";
import { addBatterySample, batteryTimeLeft, fmtTimeLeft, BATTERY_WINDOW_MS, BATTERY_SAMPLE_MS } from "../src/lib/battery.js";

// A battery draining 1 % every 6 s (10 %/min) seen at 2 Hz.
function drain(fromPct, seconds, { t0 = 0, perSec = 1 / 6, hz = 2 } = {}) {
  const h = [];
  for (let i = 0; i <= seconds * hz; i++) {
    const t = t0 + (i * 1000) / hz;
    addBatterySample(h, t, Math.round(fromPct - (perSec * (t - t0)) / 1000)); // integer percent, as MAVLink sends it
  }
  return h;
}

test("time left follows the measured drain", () => {
  const h = drain(80, 60); // 80 % → 70 % in a minute
  const left = batteryTimeLeft(h);
  assert.ok(left !== null);
  // 70 % left at 10 %/min: about 7 minutes (integer steps blur it a little).
  assert.ok(Math.abs(left - 420) < 30, `left ${left}`);
  assert.equal(fmtTimeLeft(left), "7 min");
});

test("unknown until there is enough history, and for a battery that does not drain", () => {
  assert.equal(batteryTimeLeft([]), null);
  assert.equal(batteryTimeLeft(drain(80, 10)), null, "10 s is too short to tell");
  assert.equal(batteryTimeLeft(drain(80, 120, { perSec: 0 })), null, "a steady battery");
  const rising = [];
  for (let i = 0; i < 60; i++) addBatterySample(rising, i * 1000, 50 + i / 30);
  assert.equal(batteryTimeLeft(rising), null, "a charging battery");
  assert.equal(fmtTimeLeft(null), "—");
  assert.equal(fmtTimeLeft(NaN), "—");
});

test("samples: unknown values ignored, spaced, window kept, a new battery starts over", () => {
  const h = [];
  addBatterySample(h, 1000, -1);
  addBatterySample(h, 1000, NaN);
  assert.equal(h.length, 0);
  addBatterySample(h, 1000, 90);
  addBatterySample(h, 1000 + BATTERY_SAMPLE_MS - 1, 90); // too soon
  addBatterySample(h, 900, 89); // older
  assert.equal(h.length, 1);
  for (let t = 2000; t <= 2000 + 2 * BATTERY_WINDOW_MS; t += 1000) addBatterySample(h, t, 89);
  assert.ok(h[0].t >= h[h.length - 1].t - BATTERY_WINDOW_MS, "older than the window dropped");
  assert.ok(h.length <= BATTERY_WINDOW_MS / BATTERY_SAMPLE_MS + 1, `${h.length} samples kept`);
  addBatterySample(h, h[h.length - 1].t + 1000, 100); // swapped, even within the spacing
  assert.equal(h.length, 1);
  assert.equal(h[0].pct, 100);
});

test("time left is never negative and long times read in hours", () => {
  const h = [];
  addBatterySample(h, 0, 2);
  addBatterySample(h, 30000, 1);
  addBatterySample(h, 60000, 0);
  assert.equal(batteryTimeLeft(h), 0);
  assert.equal(fmtTimeLeft(0), "< 1 min");
  assert.equal(fmtTimeLeft(3 * 3600 + 5 * 60), "3 h 05 min");
});
