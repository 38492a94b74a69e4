// Makes the bundled Leaflet the global L before a classic-script plugin
// (Leaflet-Geoman) that extends it is evaluated: ES imports are hoisted,
// so this must be a module of its own, imported before the plugin.
import L from "leaflet";
window.L = L;
