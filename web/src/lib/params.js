// Vehicle parameters: filtering the list the station downloads (GET
// /api/v1/vehicles/{id}/params) and checking an edit before it is sent
// (PUT …/params/{name} {"value"}; the station verifies the echo).

// filterParams keeps the parameters whose name contains every word of the
// query (case-insensitive), sorted by name.
export function filterParams(params, query) {
  const words = String(query || "").toUpperCase().split(/\s+/).filter(Boolean);
  return (params || []).filter((p) => words.every((w) => p.name.toUpperCase().includes(w))).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// MAV_PARAM_TYPE integer types and their ranges.
const INT_RANGE = { 1: [0, 255], 2: [-128, 127], 3: [0, 65535], 4: [-32768, 32767], 5: [0, 4294967295], 6: [-2147483648, 2147483647] };

// paramValue parses the operator's input for a parameter of MAV_PARAM_TYPE
// type; an error names the parameter and what it takes.
export function paramValue(name, type, input) {
  const s = String(input ?? "").trim();
  const n = Number(s);
  if (s === "" || !Number.isFinite(n)) throw new Error(`${name}: "${s}" is not a number`);
  const r = INT_RANGE[type];
  if (r && (!Number.isInteger(n) || n < r[0] || n > r[1])) throw new Error(`${name}: "${s}": want a whole number ${r[0]}–${r[1]}`);
  return n;
}
