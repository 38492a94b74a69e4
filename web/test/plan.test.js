import { test } from "node:test";
import assert from "node:assert/strict";
import { legs, fenceShapes, badLegs, assignProblem, assignBody, launchText, planOptions, batteryUse, launchOf, problemsText, readArea, droneColour, DRONE_COLOURS } from "../src/lib/plan.js";

const it = (seq, command, lat, lon, extra = {}) => ({ seq, command, x: Math.round(lat * 1e7), y: Math.round(lon * 1e7), param1: 0, ...extra });

test("legs start at the launch point and join the positioned items", () => {
  const dp = {
    launch: { Point: [69.0, 41.0] },
    mission: [it(1, 22, 41.0, 69.0), it(2, 178, 0, 0), it(3, 16, 41.001, 69.0), it(4, 16, 41.001, 69.001), it(5, 20, 0, 0)],
  };
  const l = legs(dp);
  assert.deepEqual(l.map((x) => x.seq), [1, 3, 4, 5]);
  assert.deepEqual(l[1].from, [41.0, 69.0]);
  assert.deepEqual(l[2].to, [41.001, 69.001]);
  assert.deepEqual(l[3], { seq: 5, from: [41.001, 69.001], to: [41.0, 69.0] }); // RTL flies back
});

test("a DO_JUMP is a leg back to the repeated item, as the checker counts it", () => {
  const dp = {
    launch: { Point: [69.0, 41.0] },
    mission: [it(1, 22, 0, 0), it(2, 16, 41.001, 69.0), it(3, 16, 41.001, 69.001), it(4, 177, 0, 0, { param1: 2, param2: 3 }), it(5, 20, 0, 0)],
  };
  assert.deepEqual(legs(dp), [
    { seq: 2, from: [41.0, 69.0], to: [41.001, 69.0] },
    { seq: 3, from: [41.001, 69.0], to: [41.001, 69.001] },
    { seq: 4, from: [41.001, 69.001], to: [41.001, 69.0] },
    { seq: 5, from: [41.001, 69.001], to: [41.0, 69.0] },
  ]);
});

test("a mission imported from a file starts at its home, not at a missing launch point", () => {
  assert.deepEqual(launchOf({ launch: { Point: [69.0, 41.0] }, home: { lat: 1, lon: 2 } }), [41.0, 69.0]);
  assert.deepEqual(launchOf({ launch: { Point: [0, 0] }, home: { lat: 41.0, lon: 69.0 } }), [41.0, 69.0]);
  assert.equal(launchOf({ launch: {}, home: { lat: 0, lon: 0 } }), null);
  const dp = { launch: { Point: [0, 0] }, home: { lat: 41.0, lon: 69.0, alt: 0 }, mission: [it(1, 22, 0, 0), it(2, 16, 41.001, 69.0), it(3, 20, 0, 0)] };
  assert.deepEqual(legs(dp), [
    { seq: 2, from: [41.0, 69.0], to: [41.001, 69.0] },
    { seq: 3, from: [41.001, 69.0], to: [41.0, 69.0] },
  ]);
});

test("fence items become polygons and circles", () => {
  const f = fenceShapes([
    it(0, 5001, 1, 1, { param1: 3 }), it(1, 5001, 1, 2, { param1: 3 }), it(2, 5001, 2, 2, { param1: 3 }),
    it(3, 5004, 1.5, 1.5, { param1: 50 }),
  ]);
  assert.equal(f.length, 2);
  assert.equal(f[0].kind, "inclusion");
  assert.equal(f[0].ring.length, 3);
  assert.deepEqual(f[1], { kind: "exclusion", center: [1.5, 1.5], radius: 50 });
});

test("findings mark the legs they name, per drone", () => {
  const vs = [{ drone: 1, leg: 2, seq: 4, rule: "no-fly" }, { drone: 1, leg: -1, seq: 0, rule: "items" }, { drone: 0, leg: 1, seq: 3, rule: "fence" }];
  assert.deepEqual([...badLegs(vs, 1)], [4]);
  assert.deepEqual([...badLegs(vs, 0)], [3]);
});

test("assign is refused for a failed plan, a missing or doubled vehicle", () => {
  const ok = { ok: true, violations: [], drones: [{ drone: 0 }, { drone: 1 }] };
  assert.match(assignProblem(null, []), /make a plan/);
  assert.match(assignProblem({ ...ok, ok: false, violations: [{}] }, ["a", "b"]), /failed 1 check/);
  assert.match(assignProblem(ok, ["a"]), /drone 1/);
  assert.match(assignProblem(ok, ["a", "a"]), /picked for two drones/);
  assert.equal(assignProblem(ok, ["a", "b"]), "");
  assert.deepEqual(assignBody(ok, ["a", "b"]), { assignments: [{ drone: 0, vehicle_id: "a" }, { drone: 1, vehicle_id: "b" }] });
  assert.equal(launchText(["a", "b"]), "Arm + mission start for 2 vehicles (a, b)?");
});

test("plan options: empty fields left to the planner, bad ones named", () => {
  assert.deepEqual(planOptions({ pattern: "corridor", drones: "2", alt: "", speed: "8" }), { pattern: "corridor", drones: 2, speed: 8 });
  assert.deepEqual(planOptions({ pattern: "sweep", mission_items: "5" }), { pattern: "sweep", capacity: { mission_items: 5 } });
  assert.throws(() => planOptions({ pattern: "zigzag" }), /pattern "zigzag"/);
  assert.throws(() => planOptions({ pattern: "sweep", drones: "1.5" }), /drones "1.5"/);
});

test("area problems are named as the planner names them", () => {
  const e = { message: "x", details: { problems: [{ feature: 0, name: "park", polygon: 0, ring: 0, vertex: 3, message: "self-intersection" }, { feature: -1, polygon: 0, ring: -1, vertex: -1, message: "no event-area" }] } };
  assert.deepEqual(problemsText(e), ['feature 0 ("park") shell vertex 3: self-intersection', "collection: no event-area"]);
  assert.deepEqual(problemsText(new Error("boom")), ["boom"]);
});

test("readArea accepts a FeatureCollection only", () => {
  assert.throws(() => readArea("{", "a.geojson"), /a.geojson: not JSON/);
  assert.throws(() => readArea('{"type":"Feature"}', "a.geojson"), /not a GeoJSON FeatureCollection/);
  assert.ok(readArea('{"type":"FeatureCollection","features":[]}'));
});

test("drone colours are distinct for the first drones and wrap", () => {
  assert.notEqual(droneColour(0), droneColour(1));
  assert.equal(droneColour(DRONE_COLOURS.length), droneColour(0));
});

test("an area problem is located at the vertex, ring or feature it names", async () => {
  const { problemLocation } = await import("../src/lib/plan.js");
  const fc = {
    features: [
      { geometry: { type: "Polygon", coordinates: [[[69, 41], [69.1, 41], [69.1, 41.1], [69, 41]], [[69.01, 41.01], [69.02, 41.01], [69.02, 41.02], [69.01, 41.01]]] } },
      { geometry: { type: "Point", coordinates: [69.5, 41.5] } },
      { geometry: { type: "MultiPolygon", coordinates: [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]] } },
    ],
  };
  assert.deepEqual(problemLocation(fc, { feature: 0, polygon: 0, ring: 0, vertex: 2 }), [41.1, 69.1]);
  assert.deepEqual(problemLocation(fc, { feature: 0, polygon: 0, ring: 1, vertex: -1 }), [41.01, 69.01]);
  assert.deepEqual(problemLocation(fc, { feature: 1, polygon: 0, ring: -1, vertex: -1 }), [41.5, 69.5]);
  assert.deepEqual(problemLocation(fc, { feature: 2, polygon: 1, ring: 0, vertex: 1 }), [8, 7]);
  assert.equal(problemLocation(fc, { feature: -1, vertex: -1 }), null);
  assert.equal(problemLocation(fc, { feature: 0, polygon: 0, ring: 0, vertex: 99 }), null);
});

test("flight estimate: path length over the plan's speed", async () => {
  const { flightEstimate, distanceM } = await import("../src/lib/plan.js");
  assert.ok(Math.abs(distanceM([41, 69], [41.001, 69]) - 111.2) < 0.5);
  const dp = { speed: 5, launch: { Point: [69, 41] }, mission: [it(1, 16, 41.009, 69)] };
  const e = flightEstimate(dp);
  assert.ok(Math.abs(e.metres - 1000.8) < 2, e.metres);
  assert.ok(Math.abs(e.minutes - e.metres / 5 / 60) < 1e-9);
});

test("the plan form's launch pad goes with the plan; half a pad is refused", () => {
  assert.deepEqual(planOptions({ pattern: "sweep", launch_lat: "41.35", launch_lon: "69.3", launch_radius: "8" }), { pattern: "sweep", launch: { lat: 41.35, lon: 69.3, radius_m: 8 } });
  assert.deepEqual(planOptions({ pattern: "sweep", launch_lat: "41.35", launch_lon: "69.3", launch_radius: "" }), { pattern: "sweep", launch: { lat: 41.35, lon: 69.3 } });
  assert.deepEqual(planOptions({ pattern: "sweep", launch_lat: "", launch_lon: "", launch_radius: "" }), { pattern: "sweep" });
  assert.throws(() => planOptions({ pattern: "sweep", launch_lat: "41.35" }), /give both latitude and longitude/);
  assert.throws(() => planOptions({ pattern: "sweep", launch_radius: "5" }), /give both/);
  assert.throws(() => planOptions({ pattern: "sweep", launch_lat: "91", launch_lon: "69" }), /launch latitude "91"/);
  assert.throws(() => planOptions({ pattern: "sweep", launch_lat: "41", launch_lon: "69", launch_radius: "-1" }), /launch radius "-1"/);
});

test("battery use per drone is the checker's estimate against its budget", () => {
  const plan = {
    battery: [
      { drone: 0, flight_s: 600, budget_s: 1200, endurance_s: 1500, reserve: 0.2, what: "the mission", over: false },
      { drone: 1, flight_s: 1500, budget_s: 1200, endurance_s: 1500, reserve: 0.2, what: "the mission with 2 repeats", over: true },
    ],
  };
  const b0 = batteryUse(plan, 0);
  assert.equal(b0.pct, 50);
  assert.equal(b0.over, false);
  assert.equal(b0.text, "battery 10.0 of 20.0 min (50 % of the budget: 25.0 min endurance, 20 % reserve) for the mission");
  const b1 = batteryUse(plan, 1);
  assert.equal(b1.over, true);
  assert.equal(Math.round(b1.pct), 125);
  assert.equal(batteryUse(plan, 2), null);
  assert.equal(batteryUse({}, 0), null);
});
