// The drawing tools' own bundle (dist/draw.js and draw.css), loaded by
// areadraw.js the first time an operator draws or edits an area, so the
// page everyone opens — observers included — does not carry them
// (Leaflet-Geoman is ~290 KB minified, more than the rest of the console).
//
// Geoman is a classic script that extends the global L: the console's own
// Leaflet, made global by leaflet-global.js in the main bundle. Its icons
// are data: URLs in its CSS, so nothing is fetched from the internet. It
// runs opt-in: only layers created with pmIgnore: false (the area being
// drawn) are editable, snappable or removable, so vehicles, plans and
// stored areas stay out of its way and out of its per-layer bookkeeping.
import "@geoman-io/leaflet-geoman-free";
import "@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css";

window.L.PM.setOptIn(true);
