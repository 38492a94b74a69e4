// The Review side of the console: pick a vehicle and a flight from its
// flight list (or the last minutes), see its recorded track on the map
// with a time slider that moves a marker along it, altitude and battery
// plotted over the same time with a cursor at the slider, and export the
// range as CSV or GeoJSON. Everything comes from the history API.
import { $, api, store, map, L } from "./ctx.js";
import { esc, fmt } from "./lib/format.js";
import { trackPoints, positionAt, trackURL, flightsURL, flightRange, rangeURL, flightLabel, series, downsample, plotPath, valueAt } from "./lib/review.js";

const PLOT_W = 300;
const PLOT_H = 70;
const PLOT_POINTS = 600;

const reviewLayer = L.layerGroup().addTo(map);
let reviewPts = [];
let reviewMarker = null;
let plots = { alt: [], bat: [], t0: 0, t1: 0 };
let flights = [];

export function setupReview() {
  document.querySelector('#tabs [data-tab="review"]').addEventListener("click", () => {
    const sel = $("review-vehicle");
    const keep = sel.value || store.primary()?.id || "";
    sel.innerHTML = [...store.vehicles.keys()].sort().map((id) => `<option>${esc(id)}</option>`).join("");
    if (keep) sel.value = keep;
    loadFlights();
  });
  $("review-vehicle").addEventListener("change", loadFlights);
  $("review-flight").addEventListener("change", () => {
    const f = flights[Number($("review-flight").value)];
    if (f) loadFlight(f);
  });
  $("review-load").addEventListener("click", loadTrack);
  $("review-slider").addEventListener("input", moveReviewMarker);
}

// loadFlights fills the flight list of the picked vehicle (last 24 h,
// newest first).
// Only the latest request fills the list (opening the tab and picking a
// vehicle may both ask), and a flight already picked stays picked.
let flightsAsked = 0;
async function loadFlights() {
  const sel = $("review-flight");
  const id = $("review-vehicle").value;
  const ask = ++flightsAsked;
  if (!id) return;
  try {
    const r = await api.get(flightsURL(id, Date.now()));
    if (ask !== flightsAsked || $("review-vehicle").value !== id) return;
    const picked = flights[Number(sel.value)]?.start;
    flights = (Array.isArray(r) ? r : r?.flights || []).slice().sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
    sel.innerHTML =
      `<option value="">— pick a flight, or show the last minutes —</option>` +
      flights.map((f, i) => `<option value="${i}" data-start="${esc(f.start)}"${sel.value !== "" && f.start === picked ? " selected" : ""}>${esc(flightLabel(f))}</option>`).join("");
    sel.dataset.flights = flights.length;
  } catch (e) {
    $("review-status").textContent = `flights of ${id}: ${e.message}`;
  }
}

async function loadFlight(f) {
  const id = $("review-vehicle").value;
  try {
    const { from, to } = flightRange(f, Date.now());
    await loadRange(id, from, to, `flight ${flightLabel(f)}`);
  } catch (e) {
    $("review-status").textContent = e.message;
  }
}

async function loadTrack() {
  const id = $("review-vehicle").value;
  const minutes = $("review-minutes").value;
  $("review-flight").value = "";
  try {
    trackURL(id, Date.now(), minutes); // checks the vehicle and the minutes
    const now = Date.now();
    await loadRange(id, now - Number(minutes) * 60000, now, `the last ${minutes} min`);
  } catch (e) {
    $("review-status").textContent = e.message;
  }
}

// loadRange shows vehicle id between from and to (ms): the track, the
// plots, the export links and the slider at the start.
async function loadRange(id, from, to, what) {
  const status = $("review-status");
  reviewLayer.clearLayers();
  reviewPts = [];
  reviewMarker = null;
  drawPlots([], [], from, to);
  $("review-slider").disabled = true;
  $("review-export").innerHTML = "";
  status.textContent = `loading ${id}, ${what}…`;
  const [track, hist] = await Promise.all([api.get(rangeURL("track", id, from, to)), api.get(rangeURL("history", id, from, to, "json")).catch((e) => ({ error: e }))]);
  reviewPts = trackPoints(track);
  if (reviewPts.length < 2) {
    status.textContent = `${id}: ${reviewPts.length} recorded point(s) in ${what} — nothing to replay`;
    return;
  }
  const line = L.polyline(
    reviewPts.map((p) => [p.lat, p.lon]),
    { color: "#f5f5f5", weight: 2, opacity: 0.8, dashArray: "4 3", className: "review-track" },
  );
  line.addTo(reviewLayer);
  reviewMarker = L.circleMarker([reviewPts[0].lat, reviewPts[0].lon], { radius: 7, color: "#000", weight: 2, fillColor: "#ffd32a", fillOpacity: 1, className: "review-marker" }).addTo(reviewLayer);
  map.fitBounds(line.getBounds().pad(0.2), { maxZoom: 18 });
  const t0 = reviewPts[0].t;
  const t1 = reviewPts[reviewPts.length - 1].t;
  const samples = hist?.samples || [];
  drawPlots(downsample(series(samples, "relative_alt_m"), PLOT_POINTS), downsample(series(samples, "battery_pct"), PLOT_POINTS), t0, t1);
  status.textContent =
    `${id}, ${what}: ${reviewPts.length} points (${track.total_points} recorded), ${new Date(t0).toLocaleTimeString()}–${new Date(t1).toLocaleTimeString()}` +
    (hist?.error ? ` — plots unavailable: ${hist.error.message}` : "");
  const ex = $("review-export");
  ex.innerHTML = `Export: <a href="${rangeURL("history", id, from, to, "csv")}" download data-format="csv">CSV</a> · <a href="${rangeURL("history", id, from, to, "geojson")}" download data-format="geojson">GeoJSON</a>`;
  $("review-slider").value = 0;
  $("review-slider").disabled = false;
  moveReviewMarker();
}

function drawPlots(alt, bat, t0, t1) {
  plots = { alt, bat, t0, t1 };
  for (const [svg, pts, range, unit] of [
    ["review-alt-plot", alt, "review-alt-range", " m"],
    ["review-battery-plot", bat, "review-battery-range", " %"],
  ]) {
    const p = plotPath(pts, { width: PLOT_W, height: PLOT_H, t0, t1, include: 0 });
    const path = $(svg).querySelector(".plot-line");
    path.setAttribute("d", p.d);
    path.dataset.points = pts.length;
    $(range).textContent = pts.length ? `${fmt(p.yMin, 0)}–${fmt(p.yMax, 0)}${unit}` : "no data";
  }
}

function moveReviewMarker() {
  if (reviewPts.length < 2 || !reviewMarker) return;
  const a = reviewPts[0].t;
  const b = reviewPts[reviewPts.length - 1].t;
  const p = positionAt(reviewPts, a + ((b - a) * Number($("review-slider").value)) / 1000);
  reviewMarker.setLatLng([p.lat, p.lon]);
  const el = reviewMarker.getElement?.();
  if (el) {
    el.dataset.lat = p.lat;
    el.dataset.lon = p.lon;
  }
  const x = plots.t1 > plots.t0 ? (((p.t - plots.t0) / (plots.t1 - plots.t0)) * PLOT_W).toFixed(1) : 0;
  for (const svg of ["review-alt-plot", "review-battery-plot"]) {
    const c = $(svg).querySelector(".plot-cursor");
    c.setAttribute("x1", x);
    c.setAttribute("x2", x);
  }
  const alt = valueAt(plots.alt, p.t);
  const bat = valueAt(plots.bat, p.t);
  $("review-time").textContent =
    `${new Date(p.t).toLocaleTimeString()} — ${fmt(p.lat, 6)}, ${fmt(p.lon, 6)}, ${fmt(p.alt, 0, " m")} MSL` +
    (Number.isFinite(alt) ? `, ${fmt(alt, 0, " m")} rel` : "") +
    (Number.isFinite(bat) ? `, battery ${fmt(bat, 0, " %")}` : "");
}
