// What the console's panels share: the API client, the vehicle store, the
// map, the logged-in session and the confirmation dialog. One module so
// the Fly, Plan and Review panels (flyui.js, main.js, reviewui.js) each
// import the same instances instead of passing them around.
import { createApi } from "./lib/api.js";
import { createStore } from "./lib/store.js";
import { esc } from "./lib/format.js";
import { createMap } from "./map.js";

export const $ = (id) => document.getElementById(id);

// ctx.session is the logged-in session (name, role, csrf_token) once
// start() ran; ctx.queueFrame and ctx.showLogin are set by main.js.
export const ctx = {
  session: null,
  queueFrame: () => {},
  showLogin: () => {},
};

export const api = createApi({ fetch: (...a) => fetch(...a), csrf: () => ctx.session?.csrf_token, onUnauthorized: () => ctx.showLogin("Your session has ended: log in again.") });
export const store = createStore();
const meta = (n) => document.querySelector(`meta[name="${n}"]`)?.content || "";
export const m = createMap("map", { tiles: meta("burgut-map-tiles"), attribution: meta("burgut-map-attribution") });
export const { map, L } = m;

export function confirmDialog(text) {
  const d = $("confirm");
  $("confirm-text").textContent = text;
  d.returnValue = "";
  d.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "yes"), { once: true }));
}

export function showResults(ul, results) {
  ul.innerHTML = results
    .map((r) => `<li data-vehicle-id="${esc(r.id)}" data-ok="${r.ok}"><b>${esc(r.id)}</b> ${r.ok ? "✓" : "✗"} ${esc(r.text)}</li>`)
    .join("");
}
