import { test } from "node:test";
import assert from "node:assert/strict";
import { areaProps, shapesToArea, areaToShapes, localInput, areaInfo, problemShape, windowNote } from "../src/lib/draw.js";
import { problemLocation } from "../src/lib/plan.js";

const square = (lat, lng, d) => [[lat, lng], [lat, lng + d], [lat + d, lng + d], [lat + d, lng]];

test("drawn shapes become the area GeoJSON, one feature per shape in order", () => {
  const props = areaProps({ name: " Park ", min_alt_m: "30", max_alt_m: "90", starts: "2027-05-01T10:00:00Z", ends: "" });
  assert.deepEqual(props, { name: "Park", min_alt_m: 30, max_alt_m: 90, starts: "2027-05-01T10:00:00.000Z" });
  const fc = shapesToArea(
    [
      { kind: "boundary", name: "Old name", rings: [square(41, 69, 0.01), square(41.002, 69.002, 0.001)] },
      { kind: "no-fly", name: "Tent", rings: [square(41.005, 69.005, 0.001)] },
      { kind: "no-fly-circle", center: [41.007, 69.007], radius: 25.04 },
      { kind: "launch", name: "Van", center: [40.999, 69.0], radius: 8 },
      { kind: "feature", feature: { type: "Feature", properties: { kind: "poi", name: "Gate" }, geometry: { type: "Point", coordinates: [69.001, 41.001] } } },
    ],
    props,
  );
  assert.equal(fc.name, "Park");
  assert.deepEqual(
    fc.features.map((f) => f.properties),
    [
      { name: "Park", min_alt_m: 30, max_alt_m: 90, starts: "2027-05-01T10:00:00.000Z", kind: "event-area" },
      { kind: "no-fly", name: "Tent" },
      { kind: "no-fly", name: "no-fly-circle 2", radius_m: 25 },
      { kind: "launch", name: "Van", radius_m: 8 },
      { kind: "poi", name: "Gate" },
    ],
  );
  const outer = fc.features[0].geometry.coordinates[0];
  assert.equal(fc.features[0].geometry.coordinates.length, 2); // the hole kept
  assert.deepEqual(outer[0], [69, 41]); // lon, lat
  assert.deepEqual(outer[outer.length - 1], outer[0]); // closed
  assert.equal(outer.length, 5);
  assert.deepEqual(fc.features[3].geometry.coordinates, [69.0, 40.999]);
  // A planner problem naming feature 0, hole 1, vertex 2 points at the drawn hole's vertex.
  assert.deepEqual(problemLocation(fc, { feature: 0, polygon: 0, ring: 1, vertex: 2 }), [41.003, 69.003]);
});

test("what the form can get wrong is refused before anything is sent", () => {
  assert.throws(() => areaProps({ min_alt_m: "low" }), /min_alt_m "low"/);
  assert.throws(() => areaProps({ starts: "tomorrow-ish" }), /starts "tomorrow-ish": not a date/);
  assert.throws(() => shapesToArea([{ kind: "launch", center: [41, 69], radius: 5 }], { name: "x" }), /outer boundary first/);
  assert.equal(areaProps({}).name, "drawn area");
  // datetime-local values are the browser's local time.
  assert.equal(areaProps({ ends: "2027-05-01T18:30" }).ends, new Date("2027-05-01T18:30").toISOString());
});

test("a stored area comes back as shapes that make the same area", () => {
  const fc = shapesToArea(
    [
      { kind: "boundary", rings: [square(41, 69, 0.01)] },
      { kind: "no-fly-circle", name: "Crane", center: [41.007, 69.007], radius: 25 },
      { kind: "launch", name: "Pad", center: [40.999, 69.0], radius: 0 },
    ],
    { name: "Park", max_alt_m: 80, ends: "2027-05-01T18:00:00.000Z" },
  );
  fc.features.push({ type: "Feature", properties: { kind: "route", name: "Parade" }, geometry: { type: "LineString", coordinates: [[69, 41], [69.01, 41.01]] } });
  fc.features.push({ type: "Feature", properties: { kind: "event-area", name: "Two" }, geometry: { type: "MultiPolygon", coordinates: [[closedLL(square(42, 69, 0.01))], [closedLL(square(42, 70, 0.01))]] } });
  const { shapes, form } = areaToShapes(fc);
  assert.deepEqual(form, { name: "Park", max_alt_m: 80, ends: "2027-05-01T18:00:00.000Z" });
  assert.deepEqual(shapes.map((s) => s.kind), ["boundary", "no-fly-circle", "launch", "feature", "boundary", "boundary"]);
  assert.deepEqual(shapes[0].rings[0], square(41, 69, 0.01)); // unclosed again, [lat, lng]
  const again = shapesToArea(shapes.slice(0, 4), { ...form });
  assert.deepEqual(again.features.slice(0, 4), fc.features.slice(0, 4));
});

function closedLL(r) {
  const out = r.map(([lat, lng]) => [lng, lat]);
  out.push(out[0]);
  return out;
}

test("localInput shows a stored time in the form's local format", () => {
  assert.equal(localInput(""), "");
  assert.equal(localInput("nonsense"), "");
  const iso = new Date(2027, 4, 1, 9, 5).toISOString();
  assert.equal(localInput(iso), "2027-05-01T09:05");
});

test("areaInfo says what a plan is checked against", () => {
  const starts = new Date(2027, 4, 1, 10, 0).toISOString();
  assert.equal(areaInfo({ min_alt_m: 30, max_alt_m: 100, no_fly: 2, launch: 1, starts }), "altitude 30–100 m above launch · 2027-05-01 10:00 to … · 2 no-fly zone(s) · 1 launch point(s)");
  assert.equal(areaInfo({ min_alt_m: 0, max_alt_m: 120, no_fly: 0, launch: 0 }), "altitude 0–120 m above launch · no time window · 0 no-fly zone(s) · 0 launch point(s)");
  assert.equal(areaInfo(undefined), "");
});

test("holes drawn inside a boundary become its inner rings, and problems find them again", () => {
  const shapes = [
    { kind: "hole", rings: [square(42.002, 70.002, 0.001)] }, // drawn first, inside the second boundary
    { kind: "boundary", rings: [square(41, 69, 0.01)] },
    { kind: "no-fly", name: "Tent", rings: [square(41.005, 69.005, 0.001)] },
    { kind: "boundary", rings: [square(42, 70, 0.01)] },
    { kind: "hole", rings: [square(41.001, 69.001, 0.001)] },
    { kind: "hole", rings: [square(42.005, 70.005, 0.001)] },
  ];
  const fc = shapesToArea(shapes, { name: "Two fields" });
  assert.deepEqual(fc.features.map((f) => `${f.properties.kind}:${f.geometry.coordinates.length}`), ["event-area:2", "no-fly:1", "event-area:3"]);
  assert.deepEqual(fc.features[2].geometry.coordinates[1][0], [70.002, 42.002]); // hole 0 is ring 1 of the second field
  // The planner names feature 2 (the second field) ring 2: the last hole drawn.
  assert.equal(problemShape(shapes, { feature: 2, polygon: 0, ring: 2, vertex: 1 }), 5);
  assert.equal(problemShape(shapes, { feature: 2, polygon: 0, ring: 0, vertex: 1 }), 3);
  assert.equal(problemShape(shapes, { feature: 1, ring: -1, vertex: -1 }), 2);
  assert.equal(problemShape(shapes, { feature: 0, ring: 1, vertex: 0 }), 4);
  assert.equal(problemShape(shapes, { feature: 7, ring: 0 }), -1);
  // A hole in no boundary goes to the first one, for the planner to refuse
  // (it names the ring: the stray hole).
  const stray = [...shapes, { kind: "hole", rings: [square(10, 10, 0.001)] }];
  assert.equal(shapesToArea(stray, { name: "x" }).features[0].geometry.coordinates.length, 3);
  assert.equal(problemShape(stray, { feature: 0, ring: 2, vertex: 0 }), 6);
  // A stored area's holes come back as hole shapes.
  const back = areaToShapes(fc).shapes;
  assert.deepEqual(back.map((x) => x.kind), ["boundary", "hole", "no-fly", "boundary", "hole", "hole"]);
  assert.deepEqual(shapesToArea(back, { name: "Two fields" }).features, fc.features);
});

test("the launch confirmation notes a launch outside the event's time window", () => {
  const a = { name: "Marathon", starts: new Date(2027, 4, 1, 10, 0).toISOString(), ends: new Date(2027, 4, 1, 18, 0).toISOString() };
  assert.equal(windowNote(a, new Date(2027, 4, 1, 9, 0)), 'Note: the event "Marathon" starts 2027-05-01 10:00; this is before its time window.');
  assert.equal(windowNote(a, new Date(2027, 4, 1, 12, 0)), "");
  assert.equal(windowNote(a, new Date(2027, 4, 1, 19, 0)), 'Note: the event "Marathon" ended 2027-05-01 18:00; this is after its time window.');
  assert.equal(windowNote({ name: "Open" }, new Date()), "");
  assert.equal(windowNote(undefined), "");
});
