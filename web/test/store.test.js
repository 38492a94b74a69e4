import { test } from "node:test";
import assert from "node:assert/strict";
import { createStore, TRAIL } from "../src/lib/store.js";

const v = (id, lat, lon, extra = {}) => ({ id, lat, lon, connected: true, ...extra });

test("upsert batches changes until take", () => {
  const s = createStore();
  s.upsert([v("a", 41, 69), v("b", 41.1, 69.1)]);
  s.upsert([v("a", 41.01, 69)]);
  const t = s.take();
  assert.deepEqual([...t.changed].sort(), ["a", "b"]);
  assert.equal(s.take().changed.size, 0);
  assert.equal(s.vehicles.get("a").v.lat, 41.01);
});

test("trails keep distinct positions, skip 0,0 and stay bounded", () => {
  const s = createStore();
  s.upsert([v("a", 0, 0)]);
  assert.equal(s.vehicles.get("a").trail.length, 0);
  s.upsert([v("a", 41, 69)]);
  s.upsert([v("a", 41, 69)]);
  assert.equal(s.vehicles.get("a").trail.length, 1);
  for (let i = 0; i < TRAIL + 10; i++) s.upsert([v("a", 41 + i * 1e-4, 69)]);
  assert.equal(s.vehicles.get("a").trail.length, TRAIL);
});

test("click selects one, shift-click toggles, unknown ids are ignored", () => {
  const s = createStore();
  s.upsert([v("a", 41, 69), v("b", 41, 69), v("c", 41, 69)]);
  s.select("a");
  s.select("b", true);
  assert.deepEqual([...s.selection], ["a", "b"]);
  s.select("a", true);
  assert.deepEqual([...s.selection], ["b"]);
  s.select("c");
  assert.deepEqual([...s.selection], ["c"]);
  s.select("nope");
  assert.deepEqual([...s.selection], ["c"]);
  assert.equal(s.primary().id, "c");
  assert.equal(s.take().selectionChanged, true);
});

test("box selection takes the vehicles inside the box", () => {
  const s = createStore();
  s.upsert([v("in", 41.5, 69.5), v("out", 42.5, 69.5), v("nopos", 0, 0)]);
  s.select("out");
  s.selectIn({ south: 41, west: 69, north: 42, east: 70 });
  assert.deepEqual([...s.selection], ["in"]);
  s.select("out");
  s.selectIn({ south: 41, west: 69, north: 42, east: 70 }, true);
  assert.deepEqual([...s.selection].sort(), ["in", "out"]);
});

test("connectedIds lists connected vehicles only, sorted", () => {
  const s = createStore();
  s.upsert([v("b", 1, 1), v("a", 1, 1), v("c", 1, 1, { connected: false })]);
  assert.deepEqual(s.connectedIds(), ["a", "b"]);
});

test("the stream rate and trails scale down with the fleet", async () => {
  const { streamRate, trailsFor } = await import("../src/lib/store.js");
  assert.equal(streamRate(10), 0);
  assert.equal(streamRate(300), 4);
  assert.equal(streamRate(1000), 2);
  assert.equal(trailsFor(100, false), true);
  assert.equal(trailsFor(1000, false), false);
  assert.equal(trailsFor(1000, true), true);
});
