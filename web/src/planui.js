// The console's Plan side: event areas (loaded for the map and the area
// picker, imported from files), the plan form and preview, and the
// assign → launch flow. Kept apart from main.js so the plan side and the
// fly/review side can change without touching each other; main.js hands
// over what both share (the API, the vehicle store, the map, the
// confirmation dialog) and calls setup, loadAreas and renderPicks.
import { esc, fmt, statusOf } from "./lib/format.js";
import { launch } from "./lib/commands.js";
import { droneColour, flightEstimate, assignProblem, assignBody, launchText, planOptions, problemsText, problemText, problemLocation, readArea, batteryUse, launchOf } from "./lib/plan.js";
import { drawFeatures, drawPlan } from "./map.js";
import { planToArea } from "./lib/qgcplan.js";
import { kmlToArea } from "./lib/kml.js";
import { createAreaDraw } from "./areadraw.js";
import { areaInfo, windowNote } from "./lib/draw.js";

const $ = (id) => document.getElementById(id);

// createPlanUI wires the plan panel. ctx: api, store, map, L, areaLayer
// and planLayer (layers main.js owns, areaLayer also fits the view),
// confirmDialog(text) → Promise<bool>, showResults(ul, results), and
// onAreasDrawn() called once when the first areas are drawn.
export function createPlanUI({ api, store, map, L, areaLayer, planLayer, confirmDialog, showResults, onAreasDrawn }) {
  // --- areas ---
  // Only the newest read applies: the 15 s refresh may have read the list
  // before an area was saved and finish after the save's own read, which
  // would take the new area out of the picker again. wantArea is the area
  // just stored, picked by whichever read lists it first.
  let loadGen = 0;
  let wantArea = null;
  async function loadAreas() {
    const gen = ++loadGen;
    try {
      const list = (await api.get("/api/v1/areas"))?.areas || [];
      const feats = [];
      for (const a of list) {
        try {
          const g = await api.get(`/api/v1/areas/${encodeURIComponent(a.id)}`);
          for (const f of g?.features || []) feats.push({ ...f, properties: { area: a.name || a.id, ...(f.properties || {}) } });
        } catch (e) {
          console.warn("area", a.id, e);
        }
      }
      if (gen !== loadGen) return list; // a newer read is under way
      areaLayer.clearLayers();
      drawFeatures(feats, areaLayer);
      const sel = $("plan-area");
      if (sel) {
        const keep = wantArea && list.some((a) => a.id === wantArea) ? wantArea : sel.value;
        if (keep === wantArea) wantArea = null;
        sel.innerHTML = list.map((a) => `<option value="${esc(a.id)}">${esc(a.name || a.id)} (${esc(a.id)})</option>`).join("");
        if (keep && list.some((a) => a.id === keep)) sel.value = keep;
      }
      areas = list;
      showAreaInfo();
      if (feats.length && !areasFitted) {
        areasFitted = true;
        onAreasDrawn();
      }
      return list;
    } catch (e) {
      console.warn("areas:", e);
      return [];
    }
  }
  let areasFitted = false;

  // --- Plan, assign, launch ---
  let plan = null;
  const picks = [];
  function setupPlan() {
    const file = $("area-file");
    file.addEventListener("change", () => file.files[0] && importArea(file.files[0]));
    const mapEl = $("map");
    mapEl.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      mapEl.classList.add("dropping");
    });
    mapEl.addEventListener("dragleave", () => mapEl.classList.remove("dropping"));
    mapEl.addEventListener("drop", (ev) => {
      ev.preventDefault();
      mapEl.classList.remove("dropping");
      const f = ev.dataTransfer?.files?.[0];
      if (f) {
        document.querySelector('#tabs [data-tab="plan"]').click();
        if (/\.waypoints$/i.test(f.name)) importMission(f);
        else importArea(f);
      }
    });
    $("plan-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      makePlan();
    });
    $("assign").addEventListener("click", assignPlan);
    $("launch").addEventListener("click", launchPlan);
    $("plan-area").addEventListener("change", showAreaInfo);
    const mf = $("mission-file");
    mf.addEventListener("change", () => mf.files[0] && importMission(mf.files[0]));
    // The launch pad of the plan form, picked by clicking the map.
    $("launch-pick").addEventListener("click", () => {
      picking = true;
      $("map").classList.add("picking");
      $("launch-pick").setAttribute("aria-pressed", "true");
    });
    map.on("click", (ev) => {
      if (!picking) return;
      picking = false;
      $("map").classList.remove("picking");
      $("launch-pick").setAttribute("aria-pressed", "false");
      const f = $("plan-form");
      f.launch_lat.value = ev.latlng.lat.toFixed(7);
      f.launch_lon.value = ev.latlng.lng.toFixed(7);
      if (!f.launch_radius.value) f.launch_radius.value = "5";
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape" || !picking) return;
      picking = false;
      $("map").classList.remove("picking");
      $("launch-pick").setAttribute("aria-pressed", "false");
    });
    createAreaDraw({ api, map, L, showProblems, onSaved: areaStored });
  }
  let picking = false;

  // Problems of a refused area are marked on the map where they are (the
  // feature, ring or vertex they name, found in the file that was sent).
  const problemLayer = L.layerGroup().addTo(map);
  async function importArea(f) {
    const errs = $("area-errors");
    errs.innerHTML = "";
    problemLayer.clearLayers();
    let text = "";
    try {
      text = await f.text();
      // A QGroundControl .plan is turned into an area from its fence, home
      // and rally points, a KML file from its placemarks; anything else
      // must be GeoJSON.
      if (/\.plan$/i.test(f.name)) text = planToArea(text, f.name);
      else if (/\.kml$/i.test(f.name)) text = kmlToArea(text, f.name);
      else text = readArea(text, f.name);
      const a = await api.post("/api/v1/areas", text);
      await areaStored(a);
    } catch (e) {
      showProblems(e, text && JSON.parse(text));
    }
  }

  // areaStored reports a stored area and picks it for planning.
  async function areaStored(a) {
    $("area-errors").innerHTML = `<li class="ok" data-area-id="${esc(a.id)}">imported ${esc(a.name || a.id)}: ${a.no_fly} no-fly zone(s), ${a.launch} launch point(s)</li>`;
    problemLayer.clearLayers();
    wantArea = a.id;
    await loadAreas();
    if ([...$("plan-area").options].some((o) => o.value === a.id)) $("plan-area").value = a.id;
    showAreaInfo();
  }

  // The picked area's band, time window and zones, under the picker.
  let areas = [];
  function showAreaInfo() {
    const el = $("area-info");
    if (el) el.textContent = areaInfo(areas.find((a) => a.id === $("plan-area")?.value));
  }

  // showProblems lists a refused area's problems and marks each on the map
  // at the feature, ring or vertex it names, in fc (the GeoJSON that was
  // sent); onProblem(p) lets the drawing tools mark the shape too.
  function showProblems(e, fc, onProblem) {
    const errs = $("area-errors");
    errs.innerHTML = problemsText(e).map((p) => `<li>${esc(p)}</li>`).join("");
    problemLayer.clearLayers();
    const problems = e.details?.problems;
    if (!fc || !Array.isArray(problems)) return;
    const pts = [];
    for (const p of problems) {
      if (onProblem) onProblem(p);
      const ll = problemLocation(fc, p);
      if (!ll) continue;
      pts.push(ll);
      const m = L.circleMarker(ll, { radius: 9, color: "#ff3040", weight: 3, fillOpacity: 0.2, className: "area-problem" }).bindTooltip(esc(problemText(p)), { permanent: false });
      m.addTo(problemLayer);
    }
    // A file's problems may be anywhere: show them. A drawing is on screen
    // already, where the operator is working: the view stays.
    if (pts.length && !onProblem) map.fitBounds(L.latLngBounds(pts).pad(0.5), { maxZoom: 18 });
  }

  // A mission made in another tool (.plan, .waypoints) checked against
  // the picked area: shown and assignable like a plan made here, with the
  // checker's findings on its legs.
  async function importMission(f) {
    const errs = $("plan-errors");
    errs.innerHTML = "";
    const areaId = $("plan-area").value;
    try {
      if (!areaId) throw new Error("import or pick an event area first: the mission is checked against it");
      const text = await f.text();
      showPlan(await api.post(`/api/v1/areas/${encodeURIComponent(areaId)}/plans/import?name=${encodeURIComponent(f.name)}`, text));
    } catch (e) {
      errs.innerHTML = problemsText(e).map((p) => `<li>${esc(p)}</li>`).join("");
    }
  }

  async function makePlan() {
    const errs = $("plan-errors");
    errs.innerHTML = "";
    const areaId = $("plan-area").value;
    try {
      if (!areaId) throw new Error("import or pick an event area first");
      const o = planOptions(Object.fromEntries(new FormData($("plan-form"))));
      $("plan-make").disabled = true;
      plan = await api.post(`/api/v1/areas/${encodeURIComponent(areaId)}/plans`, o);
    } catch (e) {
      const field = e.details?.field ? `${e.details.field}: ` : "";
      errs.innerHTML = problemsText(e).map((p) => `<li>${esc(field + p)}</li>`).join("");
      return;
    } finally {
      $("plan-make").disabled = false;
    }
    showPlan(plan);
  }

  // showPlan draws a plan (made here or imported) and its summary,
  // findings, battery use and export links.
  function showPlan(p) {
    plan = p;
    drawPlan(plan, planLayer);
    const b = planLayer.getLayers().filter((l) => l.getBounds);
    if (b.length) map.fitBounds(L.featureGroup(b).getBounds().pad(0.2), { maxZoom: 18 });
    const s = $("plan-summary");
    s.dataset.planId = plan.id;
    s.dataset.ok = plan.ok;
    const drone = (dp, i) => {
      const d = dp.drone ?? i;
      const est = flightEstimate(dp);
      const bu = batteryUse(plan, d);
      const battery = bu
        ? `<span class="battery-use${bu.over ? " bad" : ""}" data-battery-pct="${Math.round(bu.pct)}" data-over="${bu.over}"><meter min="0" max="100" low="80" high="100" optimum="0" value="${Math.min(100, bu.pct).toFixed(0)}" aria-label="battery use, drone ${d}"></meter> ${esc(bu.text)}${bu.over ? " <b>over the battery budget</b>" : ""}</span>`
        : plan.violations.some((v) => v.drone === d && v.rule === "battery")
          ? ' <b class="bad">over the battery budget</b>'
          : "";
      return `<li data-drone="${d}"><span class="swatch" style="background:${droneColour(d)}"></span>drone ${d}: ${(dp.mission || []).length} items, ${(dp.fence || []).length} fence, ${(dp.rally || []).length} rally, layer ${fmt(dp.alt, 0, " m")}, ≈ ${fmt(est.metres / 1000, 1, " km")} / ${fmt(est.minutes, 1, " min")} once through<br>${battery}${(dp.notes || []).map((n) => `<br><span class="note">${esc(n)}</span>`).join("")}</li>`;
    };
    s.innerHTML =
      `<p>Plan <b>${esc(plan.id)}</b>${plan.source ? ` (checked from ${esc(plan.source)})` : ""}: ${plan.drones.length} drone(s), ${plan.ok ? "all checks passed" : `<b class="bad">${plan.violations.length} finding(s)</b>`}</p>` +
      `<ul class="drones">${plan.drones.map(drone).join("")}</ul>`;
    $("plan-findings").innerHTML = plan.violations
      .map((v) => `<li data-drone="${v.drone}" data-rule="${esc(v.rule)}"${v.leg >= 0 ? ` data-seq="${v.seq}"` : ""}>drone ${v.drone}${v.leg >= 0 ? ` leg ${v.leg} (to item ${v.seq})` : ""}: ${esc(v.rule)}: ${esc(v.message)}</li>`)
      .join("");
    const q = (f, d) => `/api/v1/plans/${encodeURIComponent(plan.id)}?format=${f}${d === undefined ? "" : "&drone=" + d}`;
    $("plan-export").innerHTML =
      `Export: <a href="${q("geojson")}" download="${esc(plan.id)}.geojson">GeoJSON</a> · <a href="${q("kml")}" download="${esc(plan.id)}.kml">KML</a> · <a href="/api/v1/areas/${encodeURIComponent(areaIdOf(plan))}?format=kml" download>area KML</a> · <a href="/api/v1/areas/${encodeURIComponent(areaIdOf(plan))}" download="${esc(areaIdOf(plan))}.geojson">area GeoJSON</a> · ` +
      plan.drones.map((dp, i) => `drone ${i}: <a href="${q("plan", i)}" download>.plan</a> <a href="${q("waypoints", i)}" download>.waypoints</a>`).join(" · ");
    picks.length = 0;
    renderPicks();
    $("assign-results").innerHTML = "";
  }
  const areaIdOf = (p) => p.area_id;

  // The vehicle pickers: one per drone, connected vehicles with state,
  // battery and distance to the drone's launch point. Selected vehicles
  // fill empty pickers first.
  function renderPicks() {
    const box = $("plan-picks");
    if (!box || !plan) return;
    const ids = store.connectedIds();
    const sel = [...store.selection].filter((id) => ids.includes(id));
    for (let i = 0; i < plan.drones.length; i++) {
      if (!picks[i] || !ids.includes(picks[i])) picks[i] = sel.find((id) => !picks.includes(id)) || ids.find((id) => !picks.includes(id)) || "";
    }
    box.innerHTML = plan.drones
      .map((dp, i) => {
        const lp = launchOf(dp);
        const opts = ids
          .map((id) => {
            const v = store.vehicles.get(id).v;
            const dist = lp ? L.latLng(v.lat, v.lon).distanceTo(lp) : NaN;
            return `<option value="${esc(id)}"${picks[i] === id ? " selected" : ""}>${esc(id)} — ${esc(statusOf(v))}, ${v.battery_pct >= 0 ? fmt(v.battery_pct, 0, " %") : "–"}, loss ${fmt(v.link_quality?.loss_pct, 0, " %")}, ${fmt(dist, 0, " m")} to pad</option>`;
          })
          .join("");
        return `<label><span class="swatch" style="background:${droneColour(dp.drone ?? i)}"></span>drone ${i} <select data-pick="${i}"><option value="">—</option>${opts}</select></label>`;
      })
      .join("");
    for (const s of box.querySelectorAll("select[data-pick]")) {
      s.addEventListener("change", () => {
        picks[+s.dataset.pick] = s.value;
        updateAssign();
      });
    }
    updateAssign();
  }
  let assigned = [];
  function updateAssign() {
    const problem = assignProblem(plan, picks);
    $("assign").disabled = !!problem;
    $("assign").title = problem;
    $("assign-problem").textContent = problem;
    $("launch").disabled = assigned.length === 0;
  }

  async function assignPlan() {
    const problem = assignProblem(plan, picks);
    if (problem) return updateAssign();
    const ul = $("assign-results");
    const body = assignBody(plan, picks);
    showResults(ul, body.assignments.map((a) => ({ id: a.vehicle_id, ok: false, text: `uploading drone ${a.drone}: fence, rally, mission…` })));
    $("assign").disabled = true;
    try {
      const r = await api.post(`/api/v1/plans/${encodeURIComponent(plan.id)}/assign`, body);
      showResults(
        ul,
        r.results.map((x) => ({
          id: x.vehicle_id,
          ok: x.ok,
          text: x.ok ? `drone ${x.drone}: verified ${Object.entries(x.items || {}).map(([k, n]) => `${k} ${n}`).join(", ")}` : x.error,
        })),
      );
      assigned = r.results.filter((x) => x.ok).map((x) => x.vehicle_id);
    } catch (e) {
      ul.innerHTML = `<li data-ok="false">${esc(e.message)}</li>`;
    }
    updateAssign();
  }

  async function launchPlan() {
    if (!assigned.length) return;
    const ul = $("assign-results");
    // A launch waiting for a pad to clear takes a while: one at a time.
    $("launch").disabled = true;
    try {
      const note = windowNote(areas.find((a) => a.id === plan?.area_id));
      // Drones on a shared pad go one after the other, each once the
      // ones before are clear of its home (commands.js, launch): the
      // page shows who waits for whom.
      const r = await launch(api, assigned, launchText(assigned) + (note ? `\n${note}` : ""), confirmDialog, {
        vehicle: (id) => store.vehicles.get(id)?.v,
        progress: (rs) => showResults(ul, rs),
      });
      if (r.sent) showResults(ul, r.results);
    } catch (e) {
      ul.innerHTML = `<li data-ok="false">${esc(e.message)}</li>`;
    } finally {
      $("launch").disabled = assigned.length === 0;
    }
  }

  return { setup: setupPlan, loadAreas, renderPicks };
}
