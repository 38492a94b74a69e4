import { test } from "node:test";
import assert from "node:assert/strict";
import { filterParams, paramValue } from "../src/lib/params.js";

const ps = [{ name: "FENCE_ENABLE", type: 2 }, { name: "WPNAV_SPEED", type: 9 }, { name: "FENCE_ALT_MAX", type: 9 }];

test("search by words in the name, sorted", () => {
  assert.deepEqual(filterParams(ps, "fence").map((p) => p.name), ["FENCE_ALT_MAX", "FENCE_ENABLE"]);
  assert.deepEqual(filterParams(ps, "fence max").map((p) => p.name), ["FENCE_ALT_MAX"]);
  assert.equal(filterParams(ps, "").length, 3);
});

test("values are checked against the parameter's type", () => {
  assert.equal(paramValue("FENCE_ENABLE", 2, " 1 "), 1);
  assert.equal(paramValue("WPNAV_SPEED", 9, "550.5"), 550.5);
  assert.throws(() => paramValue("FENCE_ENABLE", 2, "300"), /FENCE_ENABLE: "300": want a whole number -128–127/);
  assert.throws(() => paramValue("FENCE_ENABLE", 2, "0.5"), /whole number/);
  assert.throws(() => paramValue("WPNAV_SPEED", 9, "fast"), /not a number/);
});
