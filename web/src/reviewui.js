// The Review side of the console: a vehicle's recorded track from the
// history API with a time slider that moves a marker along it.
import { $, api, store, map, L } from "./ctx.js";
import { esc, fmt } from "./lib/format.js";
import { trackPoints, positionAt, trackURL } from "./lib/review.js";

// --- Review: a recorded track and a time slider ---
const reviewLayer = L.layerGroup().addTo(map);
let reviewPts = [];
let reviewMarker = null;
export function setupReview() {
  document.querySelector('#tabs [data-tab="review"]').addEventListener("click", () => {
    const sel = $("review-vehicle");
    const keep = sel.value || store.primary()?.id || "";
    sel.innerHTML = [...store.vehicles.keys()].sort().map((id) => `<option>${esc(id)}</option>`).join("");
    if (keep) sel.value = keep;
  });
  $("review-load").addEventListener("click", loadTrack);
  $("review-slider").addEventListener("input", moveReviewMarker);
}
async function loadTrack() {
  const status = $("review-status");
  reviewLayer.clearLayers();
  reviewPts = [];
  $("review-slider").disabled = true;
  try {
    const id = $("review-vehicle").value;
    const now = Date.now();
    const minutes = $("review-minutes").value;
    const track = await api.get(trackURL(id, now, minutes));
    reviewPts = trackPoints(track);
    if (reviewPts.length < 2) {
      status.textContent = `${id}: ${reviewPts.length} recorded point(s) in the last ${minutes} min — nothing to replay`;
      return;
    }
    const line = L.polyline(reviewPts.map((p) => [p.lat, p.lon]), { color: "#f5f5f5", weight: 2, opacity: 0.8, dashArray: "4 3", className: "review-track" });
    line.addTo(reviewLayer);
    reviewMarker = L.circleMarker([reviewPts[0].lat, reviewPts[0].lon], { radius: 7, color: "#000", weight: 2, fillColor: "#ffd32a", fillOpacity: 1, className: "review-marker" }).addTo(reviewLayer);
    map.fitBounds(line.getBounds().pad(0.2), { maxZoom: 18 });
    status.textContent = `${id}: ${reviewPts.length} points (${track.total_points} recorded), ${new Date(reviewPts[0].t).toLocaleTimeString()}–${new Date(reviewPts[reviewPts.length - 1].t).toLocaleTimeString()}`;
    $("review-export").innerHTML = `Export: <a href="${trackURL(id, now, minutes, "csv")}" download>CSV</a> · <a href="${trackURL(id, now, minutes, "geojson")}" download>GeoJSON</a>`;
    $("review-slider").value = 0;
    $("review-slider").disabled = false;
    moveReviewMarker();
  } catch (e) {
    status.textContent = e.message;
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
  $("review-time").textContent = `${new Date(p.t).toLocaleTimeString()} — ${fmt(p.lat, 6)}, ${fmt(p.lon, 6)}, ${fmt(p.alt, 0, " m")} MSL`;
}

