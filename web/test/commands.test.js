import { test } from "node:test";
import assert from "node:assert/strict";
import { commandBody, confirmText, runCommand, summarise, COMMANDS } from "../src/lib/commands.js";

test("bodies carry the vehicles and checked arguments", () => {
  assert.deepEqual(commandBody("rtl", ["a", "b"]), { vehicle_ids: ["a", "b"] });
  assert.deepEqual(commandBody("takeoff", ["a"], { alt_m: "30" }), { vehicle_ids: ["a"], alt_m: 30 });
  assert.deepEqual(commandBody("mode", ["a"], { mode: "LOITER" }), { vehicle_ids: ["a"], mode: "LOITER" });
  assert.deepEqual(commandBody("goto", ["a"], { lat: 41.3, lon: 69.2, alt_m: 40 }), { vehicle_ids: ["a"], lat: 41.3, lon: 69.2, alt_m: 40 });
});

test("bad arguments are refused naming the field", () => {
  assert.throws(() => commandBody("rtl", []), /no vehicle selected/);
  assert.throws(() => commandBody("takeoff", ["a"], { alt_m: "x" }), /takeoff altitude "x"/);
  assert.throws(() => commandBody("mode", ["a"], { mode: "FLY" }), /mode "FLY"/);
  assert.throws(() => commandBody("speed", ["a"], { ground_speed_mps: -1 }), /speed "-1"/);
  assert.throws(() => commandBody("goto", ["a"], { alt_m: 40 }), /pick a point/);
  assert.throws(() => commandBody("selfdestruct", ["a"]), /unknown command/);
});

test("everything that moves aircraft asks first; pause does not", () => {
  for (const [name, spec] of Object.entries(COMMANDS)) {
    const q = confirmText(name, ["a", "b"], { alt_m: 30, mode: "RTL", ground_speed_mps: 5, lat: 1, lon: 2 });
    assert.equal(q !== "", spec.moves, name);
  }
  assert.equal(confirmText("rtl", ["a", "b", "c"]), "RTL: 3 vehicles?");
  assert.equal(confirmText("takeoff", ["uav-1"], { alt_m: 30 }), "Take off vehicle uav-1 to 30 m?");
});

test("runCommand asks, sends once to the group endpoint and reports per vehicle", async () => {
  const sent = [];
  const api = { post: async (url, body) => (sent.push({ url, body }), { results: [{ vehicle_id: "a", ok: true, result: { result: "ACCEPTED" } }, { vehicle_id: "b", ok: false, error: "b: vehicle did not answer in time" }] }) };
  const declined = await runCommand(api, "rtl", ["a", "b"], {}, async () => false);
  assert.equal(declined.sent, false);
  assert.equal(sent.length, 0);
  const asked = [];
  const r = await runCommand(api, "rtl", ["a", "b"], {}, async (q) => (asked.push(q), true));
  assert.deepEqual(asked, ["RTL: 2 vehicles?"]);
  assert.deepEqual(sent, [{ url: "/api/v1/commands/rtl", body: { vehicle_ids: ["a", "b"] } }]);
  assert.deepEqual(r.results, [
    { id: "a", ok: true, text: "ACCEPTED" },
    { id: "b", ok: false, text: "b: vehicle did not answer in time" },
  ]);
});

test("pause is sent without a question", async () => {
  let asked = 0;
  const api = { post: async () => ({ results: [] }) };
  const r = await runCommand(api, "pause", ["a"], {}, async () => (asked++, true));
  assert.equal(r.sent, true);
  assert.equal(asked, 0);
  assert.deepEqual(summarise(null), []);
});

test("launch: GUIDED, arm, mission start; a vehicle that fails a step goes no further", async () => {
  const { launch } = await import("../src/lib/commands.js");
  const sent = [];
  const api = {
    post: async (url, body) => {
      sent.push([url, body.vehicle_ids]);
      const fail = url.endsWith("/arm") ? "b" : "";
      return { results: body.vehicle_ids.map((id) => (id === fail ? { vehicle_id: id, ok: false, error: "PreArm: GPS" } : { vehicle_id: id, ok: true, result: { result: "ACCEPTED" } })) };
    },
  };
  assert.equal((await launch(api, ["a", "b"], "go?", async () => false)).sent, false);
  assert.equal(sent.length, 0);
  const r = await launch(api, ["a", "b"], "go?", async () => true);
  assert.deepEqual(sent, [
    ["/api/v1/commands/mode", ["a", "b"]],
    ["/api/v1/commands/arm", ["a", "b"]],
    ["/api/v1/commands/mission_start", ["a"]],
  ]);
  assert.deepEqual(r.results, [
    { id: "a", ok: true, text: "mission_start: ACCEPTED" },
    { id: "b", ok: false, text: "arm failed: PreArm: GPS" },
  ]);
});

// A shared-pad world for launch: homes in metres north/east/up of a
// reference, a fake clock whose sleep moves the world on, and a station
// answering every command for every vehicle (refuse: ids that fail arm).
function padWorld(homesM, { climb = 1, refuse = [] } = {}) {
  const ref = { lat: 41.3, lon: 69.2, alt_msl_m: 450 };
  const at = ([n, e, u]) => ({ lat: ref.lat + n / 111320, lon: ref.lon + e / (111320 * Math.cos((ref.lat * Math.PI) / 180)), alt_msl_m: ref.alt_msl_m + u });
  // As the simulator reports them: a GPS altitude 38.9 m off the home's
  // (another datum), the height above home in relative_alt_m.
  const vs = new Map(Object.entries(homesM).map(([id, h]) => [id, { id, ...at(h), alt_msl_m: at(h).alt_msl_m + 38.9, relative_alt_m: 0, home: at(h) }]));
  const flying = new Set();
  const sent = [];
  const progress = [];
  let t = 0;
  const world = {
    sent,
    progress,
    sleeps: 0,
    api: {
      post: async (url, body) => {
        const name = url.split("/").pop();
        sent.push([name, body.vehicle_ids, t]);
        return {
          results: body.vehicle_ids.map((id) => {
            if (name === "arm" && refuse.includes(id)) return { vehicle_id: id, ok: false, error: "PreArm: GPS" };
            if (name === "mission_start") flying.add(id);
            return { vehicle_id: id, ok: true, result: { result: "ACCEPTED" } };
          }),
        };
      },
    },
    opts: {
      // The geometry below is laid out for a 10 m clearance; the
      // console's default (PAD_SEPARATION_M, 30 m) has its own test.
      sep: 10,
      vehicle: (id) => vs.get(id),
      now: () => t,
      // Each poll interval every flying vehicle climbs `climb` metres.
      sleep: async (ms) => {
        world.sleeps++;
        t += ms;
        for (const id of flying) {
          vs.get(id).alt_msl_m += climb;
          vs.get(id).relative_alt_m += climb;
        }
      },
      progress: (rs) => progress.push(rs),
    },
    // rounds: the mission_start batches in order.
    rounds: () => sent.filter(([n]) => n === "mission_start").map(([, ids]) => ids),
  };
  return world;
}

test("launch: vehicles on one pad go one after the other, each once the one before is 10 m from its home", async () => {
  const { launch } = await import("../src/lib/commands.js");
  // a and b 6 m apart on one pad; c on its own pad 500 m away; d 4 m from b.
  const w = padWorld({ a: [0, 0, 0], b: [6, 0, 0], c: [500, 0, 0], d: [6, 4, 0] });
  const r = await launch(w.api, ["a", "b", "c", "d"], "go?", async () => true, w.opts);
  assert.equal(r.sent, true);
  assert.equal(r.stopped, undefined);
  assert.deepEqual(w.rounds(), [["a", "c"], ["b"], ["d"]]);
  assert.deepEqual(
    r.results.map((x) => [x.id, x.ok, x.text]),
    [
      ["a", true, "mission_start: ACCEPTED"],
      ["b", true, "mission_start: ACCEPTED (once its launch pad was clear, after 4 s)"],
      ["c", true, "mission_start: ACCEPTED"],
      ["d", true, "mission_start: ACCEPTED (once its launch pad was clear, after 5 s)"],
    ],
  );
  // b went only once a was ≥ 10 m (3D) from b's home: a climbs 1 m a
  // poll, 6 m off horizontally → √(6² + u²) ≥ 10 at u = 8.
  const bStart = w.sent.find(([n, ids]) => n === "mode" && ids.includes("b"));
  assert.equal(bStart[2], 8 * 500);
  // d (4 m from b, 7.2 m from a) then waits for b: √(4² + u²) ≥ 10 at
  // u = 10 polls of b's climb.
  assert.equal(w.sent.find(([n, ids]) => n === "mode" && ids.includes("d"))[2], (8 + 10) * 500);
  assert.equal(w.sleeps, 18);
  // Waiting showed on the page, naming who was in the way.
  assert.ok(w.progress.some((rs) => rs.find((x) => x.id === "b").text.startsWith("waiting for its launch pad to clear: a is 6.0 m from the home of b")), JSON.stringify(w.progress[0]));
});

test("launch: vehicles on pads of their own all go at once, without waiting", async () => {
  const { launch } = await import("../src/lib/commands.js");
  const w = padWorld({ a: [0, 0, 0], b: [0, 10.5, 0], c: [30, 0, 0] });
  const r = await launch(w.api, ["a", "b", "c"], "go?", async () => true, w.opts);
  assert.deepEqual(w.rounds(), [["a", "b", "c"]]);
  assert.equal(w.sleeps, 0);
  assert.equal(r.results.filter((x) => x.ok).length, 3);
});

test("launch: stops after the bound when a vehicle stays on its pad, naming who is in the way and who was not launched", async () => {
  const { launch } = await import("../src/lib/commands.js");
  const w = padWorld({ a: [0, 0, 0], b: [3, 0, 0], c: [5, 0, 0], far: [800, 0, 0] }, { climb: 0 });
  const r = await launch(w.api, ["a", "b", "c", "far"], "go?", async () => true, { ...w.opts, bound: 5000, poll: 1000 });
  assert.deepEqual(w.rounds(), [["a", "far"]]);
  assert.equal(r.stopped, "launch stopped: still in the way after 5 s: a is 3.0 m from the home of b (minimum 10 m)");
  assert.deepEqual(
    r.results.map((x) => [x.id, x.ok, x.text]),
    [
      ["a", true, "mission_start: ACCEPTED"],
      ["b", false, `not launched: ${r.stopped}`],
      ["c", false, `not launched: ${r.stopped}`],
      ["far", true, "mission_start: ACCEPTED"],
    ],
  );
  assert.equal(w.sleeps, 5);
  // Nothing was sent to b or c.
  assert.ok(w.sent.every(([, ids]) => !ids.includes("b") && !ids.includes("c")));
});

test("launch: a vehicle whose launch was refused stays on the ground and is in nobody's way", async () => {
  const { launch } = await import("../src/lib/commands.js");
  const w = padWorld({ a: [0, 0, 0], b: [4, 0, 0] }, { climb: 0, refuse: ["a"] });
  const r = await launch(w.api, ["a", "b"], "go?", async () => true, w.opts);
  assert.deepEqual(w.rounds(), [["b"]]);
  assert.equal(w.sleeps, 0);
  assert.deepEqual(r.results, [
    { id: "a", ok: false, text: "arm failed: PreArm: GPS" },
    { id: "b", ok: true, text: "mission_start: ACCEPTED" },
  ]);
});

test("launchRounds: pads by home, a vehicle without a known home is left out", async () => {
  const { launchRounds, sharePad } = await import("../src/lib/commands.js");
  const h = { a: { lat: 41.3, lon: 69.2 }, b: { lat: 41.3 + 9.9 / 111320, lon: 69.2 }, c: { lat: 41.3 + 10.1 / 111320, lon: 69.2 } };
  assert.equal(sharePad(h.a, h.b, 10), true);
  assert.equal(sharePad(h.a, h.c, 10), false);
  assert.deepEqual(launchRounds(["a", "b", "c", "x"], (id) => h[id], 10), [["a", "c"], ["b"]]);
});

test("launch: the default pad clearance is the separation monitor's warning distance, 30 m", async () => {
  const { launch, PAD_SEPARATION_M } = await import("../src/lib/commands.js");
  assert.equal(PAD_SEPARATION_M, 30);
  // a and b 20 m apart share a pad at 30 m: b waits until a is 30 m
  // (3D) from its home: √(20² + u²) ≥ 30 at u = 23 polls of 1 m.
  const w = padWorld({ a: [0, 0, 0], b: [20, 0, 0] });
  const { sep: _, ...opts } = w.opts;
  const r = await launch(w.api, ["a", "b"], "go?", async () => true, opts);
  assert.deepEqual(w.rounds(), [["a"], ["b"]]);
  assert.equal(w.sent.find(([n, ids]) => n === "mode" && ids.includes("b"))[2], 23 * 500);
  assert.equal(r.results[1].text, "mission_start: ACCEPTED (once its launch pad was clear, after 12 s)");
});

test("launch: a vehicle without a known home is not launched, and says why; the others go", async () => {
  const { launch } = await import("../src/lib/commands.js");
  const w = padWorld({ a: [0, 0, 0], b: [4, 0, 0] });
  const vehicle = (id) => (id === "x" ? { id: "x", lat: 41.3, lon: 69.2 } : w.opts.vehicle(id));
  const r = await launch(w.api, ["a", "x", "b"], "go?", async () => true, { ...w.opts, vehicle });
  assert.deepEqual(w.rounds(), [["a"], ["b"]]);
  assert.ok(w.sent.every(([, ids]) => !ids.includes("x")), JSON.stringify(w.sent));
  assert.deepEqual(r.results[1], { id: "x", ok: false, text: "not launched: no known home (the station has not heard where it armed), so it cannot be sequenced on its launch pad" });
  // Alone without a home: nothing is sent at all.
  const w2 = padWorld({});
  const r2 = await launch(w2.api, ["x"], "go?", async () => true, { ...w2.opts, vehicle: () => ({ id: "x" }) });
  assert.equal(w2.sent.length, 0);
  assert.equal(r2.results[0].ok, false);
});
