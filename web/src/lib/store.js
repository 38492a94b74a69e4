// The fleet as the page knows it: the newest state of every vehicle from
// the stream, a short trail each, and the operator's selection. No DOM
// here: the map and the panels read it once per animation frame, so a
// burst of stream frames costs one redraw, not one per vehicle.

export const TRAIL = 120; // positions kept per vehicle

export function createStore() {
  const vehicles = new Map(); // id → {v, trail: [[lat, lon]…]}
  const selection = new Set();
  let dirty = new Set(); // ids changed since the last take
  let selectionChanged = false;

  function hasPos(v) {
    return Number.isFinite(v.lat) && Number.isFinite(v.lon) && !(v.lat === 0 && v.lon === 0);
  }

  return {
    vehicles,
    selection,
    hasPos,
    // upsert merges a batch of vehicle states (a stream frame).
    upsert(list) {
      for (const v of list || []) {
        if (!v || typeof v.id !== "string") continue;
        let e = vehicles.get(v.id);
        if (!e) {
          e = { v, trail: [] };
          vehicles.set(v.id, e);
        }
        e.v = v;
        if (hasPos(v)) {
          const last = e.trail[e.trail.length - 1];
          if (!last || last[0] !== v.lat || last[1] !== v.lon) {
            e.trail.push([v.lat, v.lon]);
            if (e.trail.length > TRAIL) e.trail.shift();
          }
        }
        dirty.add(v.id);
      }
    },
    // take returns the ids changed since the last call (and whether the
    // selection changed), and starts a new batch.
    take() {
      const d = dirty;
      const s = selectionChanged;
      dirty = new Set();
      selectionChanged = false;
      return { changed: d, selectionChanged: s };
    },
    // select: a plain click selects one vehicle, shift-click adds or removes it.
    select(id, additive = false) {
      if (!vehicles.has(id)) return;
      if (!additive) {
        selection.clear();
        selection.add(id);
      } else if (selection.has(id)) {
        selection.delete(id);
      } else {
        selection.add(id);
      }
      selectionChanged = true;
    },
    // selectIn selects every vehicle inside bounds {south, west, north, east}
    // (a box drawn on the map); additive keeps the current selection.
    selectIn(b, additive = false) {
      if (!additive) selection.clear();
      for (const [id, e] of vehicles) {
        const v = e.v;
        if (hasPos(v) && v.lat >= b.south && v.lat <= b.north && v.lon >= b.west && v.lon <= b.east) selection.add(id);
      }
      selectionChanged = true;
    },
    clearSelection() {
      selection.clear();
      selectionChanged = true;
    },
    // primary is the vehicle the HUD shows: the first selected one.
    primary() {
      for (const id of selection) if (vehicles.has(id)) return vehicles.get(id).v;
      return null;
    },
    connectedIds() {
      return [...vehicles.values()].filter((e) => e.v.connected).map((e) => e.v.id).sort();
    },
  };
}

// streamRate is the state rate (frames per second) the page asks the
// stream for: the station's default for a small fleet, fewer for a large
// one, where parsing every vehicle ten times a second would cost the
// browser more than the operator gains (positions still move smoothly at
// 2–4 Hz on a map at fleet scale). 0 = keep the station's default.
export function streamRate(vehicles) {
  if (vehicles > 500) return 2;
  if (vehicles > 200) return 4;
  return 0;
}

// trailsFor says whether a vehicle's trail is drawn: every vehicle's in a
// small fleet, only the selected ones' in a large one (a thousand
// polylines re-projected every frame is most of a frame).
export function trailsFor(fleetSize, selected) {
  return selected || fleetSize <= 200;
}
