import { test } from "node:test";
import assert from "node:assert/strict";
import { createApi, ApiError } from "../src/lib/api.js";

function fakeFetch(answers) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url, ...init });
    const a = answers.shift();
    return { ok: a.status >= 200 && a.status < 300, status: a.status, text: async () => (a.body === undefined ? "" : JSON.stringify(a.body)) };
  };
  return { f, calls };
}

test("mutations carry the current CSRF token, reads do not", async () => {
  const { f, calls } = fakeFetch([{ status: 200, body: { a: 1 } }, { status: 200, body: { ok: true } }]);
  let token = "t1";
  const api = createApi({ fetch: f, csrf: () => token });
  assert.deepEqual(await api.get("/api/v1/vehicles"), { a: 1 });
  token = "t2"; // a new login
  await api.post("/api/v1/commands/rtl", { all: true });
  assert.equal(calls[0].headers["X-CSRF-Token"], undefined);
  assert.equal(calls[1].headers["X-CSRF-Token"], "t2");
  assert.equal(calls[1].headers["Content-Type"], "application/json");
  assert.equal(calls[1].body, '{"all":true}');
});

test("a GeoJSON string body is sent as geo+json", async () => {
  const { f, calls } = fakeFetch([{ status: 201, body: { id: "a1" } }]);
  const api = createApi({ fetch: f, csrf: () => "x" });
  await api.post("/api/v1/areas", '{"type":"FeatureCollection","features":[]}');
  assert.equal(calls[0].headers["Content-Type"], "application/geo+json");
});

test("an error answer becomes an ApiError with the station's code, message and details", async () => {
  const { f } = fakeFetch([{ status: 409, body: { error: { code: "conflict", message: "held by ops1", details: { holder: "ops1" } } } }]);
  const api = createApi({ fetch: f, csrf: () => "x" });
  await assert.rejects(api.post("/x", {}), (e) => e instanceof ApiError && e.status === 409 && e.code === "conflict" && e.message === "held by ops1" && e.details.holder === "ops1");
});

test("a 401 calls onUnauthorized; a non-JSON error still names the call", async () => {
  let n = 0;
  const f = async () => ({ ok: false, status: 401, text: async () => "no" });
  const api = createApi({ fetch: f, csrf: () => "", onUnauthorized: () => n++ });
  await assert.rejects(api.get("/api/v1/areas"), /GET \/api\/v1\/areas: HTTP 401/);
  assert.equal(n, 1);
});

test("a 207 (some vehicles failed) is returned, not thrown", async () => {
  const { f } = fakeFetch([{ status: 207, body: { ok: false, results: [] } }]);
  const api = createApi({ fetch: f, csrf: () => "x" });
  assert.deepEqual(await api.post("/api/v1/plans/p1/assign", {}), { ok: false, results: [] });
});
