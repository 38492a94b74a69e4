import { test } from "node:test";
import assert from "node:assert/strict";
import { planToArea } from "../src/lib/qgcplan.js";

const plan = {
  fileType: "Plan",
  mission: { plannedHomePosition: [41.3123, 69.2716, 0], items: [{ params: [0, 0, 0, 0, 41.3, 69.2, 55] }, { params: [0, 0, 0, 0, 41.3, 69.2, 65] }] },
  geoFence: {
    polygons: [
      { inclusion: true, polygon: [[41.31, 69.27], [41.31, 69.28], [41.32, 69.28]] },
      { inclusion: false, polygon: [[41.312, 69.272], [41.312, 69.273], [41.313, 69.273], [41.312, 69.272]] },
    ],
    circles: [{ circle: { center: [41.315, 69.275], radius: 20 }, inclusion: false }],
  },
  rallyPoints: { points: [[41.3123, 69.2716, 55]] },
};

test("a QGC plan's fence, home and rally points become an event area", () => {
  const fc = JSON.parse(planToArea(JSON.stringify(plan), "old.plan"));
  const kinds = fc.features.map((f) => f.properties.kind);
  assert.deepEqual(kinds, ["event-area", "no-fly", "no-fly", "launch", "rally"]);
  const area = fc.features[0];
  assert.deepEqual(area.geometry.coordinates[0], [[69.27, 41.31], [69.28, 41.31], [69.28, 41.32], [69.27, 41.31]]); // closed, lon/lat
  assert.equal(area.properties.min_alt_m, 45);
  assert.equal(area.properties.max_alt_m, 75);
  assert.deepEqual(fc.features[2].geometry.coordinates, [69.275, 41.315]);
  assert.equal(fc.features[2].properties.radius_m, 20);
  assert.deepEqual(fc.features[3].geometry.coordinates, [69.2716, 41.3123]);
});

test("what is not a usable plan is refused naming the file", () => {
  assert.throws(() => planToArea("{", "x.plan"), /x.plan: not JSON/);
  assert.throws(() => planToArea('{"fileType":"Mission"}', "x.plan"), /not a QGroundControl .plan/);
  assert.throws(() => planToArea(JSON.stringify({ fileType: "Plan", geoFence: { polygons: [] } }), "x.plan"), /no inclusion polygon/);
});
