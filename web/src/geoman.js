// Leaflet-Geoman (the drawing and vertex-editing plugin) loaded before the
// map is made. Geoman is a classic script that extends the global L, so
// the bundled Leaflet is made global first. It is opt-in: only layers
// created with pmIgnore: false (the area being drawn) are editable,
// snappable or removable, so the vehicles, plans and stored areas stay out
// of its way (and out of its per-layer bookkeeping with 1,000 vehicles).
import L from "leaflet";
import "./leaflet-global.js";
// The plugin and its stylesheet are bundled (its icons are data: URLs in
// the CSS), so nothing is loaded from the internet at run time.
import "@geoman-io/leaflet-geoman-free";
import "@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css";

L.PM.setOptIn(true);

// enableGeoman gives a map made before (without pmIgnore: false) its
// drawing tools.
export function enableGeoman(map) {
  map.options.pmIgnore = false;
  L.PM.reInitLayer(map);
  return map.pm;
}
