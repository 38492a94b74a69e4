import { test } from "node:test";
import assert from "node:assert/strict";
import { trackPoints, positionAt, trackURL } from "../src/lib/review.js";

const track = {
  type: "LineString",
  coordinates: [[69.2, 41.2, 500], [69.3, 41.3, 520], [69.4, 41.3, 540]],
  times: ["2026-12-01T10:00:10Z", "2026-12-01T10:00:00Z", "bad"],
};

test("track points in time order; points without a time dropped", () => {
  const p = trackPoints(track);
  assert.equal(p.length, 2);
  assert.equal(p[0].lat, 41.3);
  assert.equal(p[1].lat, 41.2);
});

test("the position between two points is interpolated and clamped at the ends", () => {
  const p = trackPoints(track);
  const t0 = p[0].t;
  const mid = positionAt(p, t0 + 5000);
  assert.ok(Math.abs(mid.lat - 41.25) < 1e-9 && Math.abs(mid.lon - 69.25) < 1e-9 && Math.abs(mid.alt - 510) < 1e-9);
  assert.equal(positionAt(p, t0 - 1e6).lat, 41.3);
  assert.equal(positionAt(p, t0 + 1e6).lat, 41.2);
  assert.equal(positionAt([], 0), null);
});

test("track and export URLs for the last minutes; bad input named", () => {
  const now = Date.parse("2026-12-01T10:30:00Z");
  assert.equal(trackURL("uav-1", now, 30), "/api/v1/vehicles/uav-1/track?from=2026-12-01T10%3A00%3A00.000Z&to=2026-12-01T10%3A30%3A00.000Z");
  assert.match(trackURL("uav-1", now, 30, "csv"), /\/history\?.*&format=csv$/);
  assert.throws(() => trackURL("", now, 30), /pick a vehicle/);
  assert.throws(() => trackURL("a", now, "x"), /minutes "x"/);
});

import { flightsURL, flightRange, rangeURL, flightLabel, series, downsample, plotPath } from "../src/lib/review.js";

test("a flight from the list: its URLs, range and label", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  assert.equal(flightsURL("uav 1", now, 24), "/api/v1/vehicles/uav%201/flights?from=2026-11-30T12%3A00%3A00.000Z&to=2026-12-01T12%3A00%3A00.000Z");
  assert.throws(() => flightsURL("", now), /pick a vehicle/);
  const f = { start: "2026-12-01T10:02:00Z", end: "2026-12-01T10:14:00Z", duration_s: 720, distance_m: 1234, max_relative_alt_m: 30.4, min_battery_pct: 61.6, mission: "p1" };
  assert.deepEqual(flightRange(f, now), { from: Date.parse("2026-12-01T10:01:55Z"), to: Date.parse("2026-12-01T10:14:05Z") });
  assert.equal(flightLabel(f), "10:02–10:14 UTC, 12 min, 1.2 km, max 30 m, battery ≥ 62 %, plan p1");
  const live = { start: "2026-12-01T11:50:00Z", in_progress: true, duration_s: 600, distance_m: 0, max_relative_alt_m: 10, min_battery_pct: -1 };
  assert.deepEqual(flightRange(live, now), { from: Date.parse("2026-12-01T11:49:55Z"), to: now + 5000 });
  assert.equal(flightLabel(live), "11:50–now UTC, 10 min, 0.0 km, max 10 m (in progress)");
  assert.throws(() => flightRange({}, now), /without a start/);
  assert.equal(
    rangeURL("history", "a/b", Date.parse("2026-12-01T10:00:00Z"), Date.parse("2026-12-01T10:10:00Z"), "csv"),
    "/api/v1/vehicles/a%2Fb/history?from=2026-12-01T10%3A00%3A00.000Z&to=2026-12-01T10%3A10%3A00.000Z&format=csv",
  );
});

test("plots: a field over time, downsampled, as an SVG path", () => {
  const samples = [
    { time: "2026-12-01T10:00:02Z", relative_alt_m: 20, battery_pct: 90 },
    { time: "2026-12-01T10:00:00Z", relative_alt_m: 0, battery_pct: -1 },
    { time: "bad", relative_alt_m: 5, battery_pct: 80 },
    { time: "2026-12-01T10:00:04Z", relative_alt_m: 10, battery_pct: 88 },
  ];
  const alt = series(samples, "relative_alt_m");
  assert.deepEqual(alt.map((p) => p.y), [0, 20, 10]);
  assert.deepEqual(series(samples, "battery_pct").map((p) => p.y), [90, 88], "unknown battery left out");
  const t0 = Date.parse("2026-12-01T10:00:00Z");
  const p = plotPath(alt, { width: 100, height: 50, t0, t1: t0 + 4000, include: 0 });
  assert.equal(p.d, "M0.0,50.0L50.0,0.0L100.0,25.0");
  assert.equal(p.yMin, 0);
  assert.equal(p.yMax, 20);
  assert.equal(plotPath([], { width: 1, height: 1, t0, t1: t0 }).d, "");
  const flat = plotPath([{ t: t0, y: 5 }], { width: 10, height: 10, t0, t1: t0 });
  assert.equal(flat.yMax - flat.yMin, 1, "a flat line still has a y span");
  assert.equal(plotPath([{ t: t0, y: 80 }, { t: t0 + 1, y: 90 }], { width: 10, height: 10, t0, t1: t0 + 1, include: 0 }).yMin, 0, "the axis includes 0");
  const many = Array.from({ length: 1000 }, (_, i) => ({ t: i, y: i }));
  const d = downsample(many, 100);
  assert.equal(d.length, 100);
  assert.equal(d[0].t, 0);
  assert.equal(d[99].t, 999);
  assert.equal(downsample(alt, 100), alt);
});

import { valueAt } from "../src/lib/review.js";

test("a plotted value at the slider's time", () => {
  const s = [
    { t: 0, y: 10 },
    { t: 10, y: 20 },
  ];
  assert.equal(valueAt(s, 5), 15);
  assert.equal(valueAt(s, -5), 10);
  assert.equal(valueAt(s, 50), 20);
  assert.ok(Number.isNaN(valueAt([], 1)));
});
