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
