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
