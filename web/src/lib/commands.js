// The commands an operator sends from the Fly panel: what each needs, what
// the confirmation says, and the request it becomes. Everything that can
// move an aircraft asks first; the answer is one result per vehicle.

export const MODES = ["STABILIZE", "ALT_HOLD", "LOITER", "GUIDED", "AUTO", "RTL", "LAND", "BRAKE", "POSHOLD", "SMART_RTL"];

// moves: the command can put an aircraft in motion (confirm first).
export const COMMANDS = {
  arm: { label: "Arm", moves: true },
  disarm: { label: "Disarm", moves: true },
  takeoff: { label: "Take off", moves: true, arg: "alt_m" },
  mode: { label: "Set mode", moves: true, arg: "mode" },
  mission_start: { label: "Start mission", moves: true },
  pause: { label: "Pause", moves: false },
  continue: { label: "Continue", moves: true },
  rtl: { label: "RTL", moves: true },
  land: { label: "Land", moves: true },
  speed: { label: "Set speed", moves: true, arg: "ground_speed_mps" },
  goto: { label: "Go here", moves: true, arg: "position" },
};

// commandBody checks the arguments and returns the body for
// POST /api/v1/commands/{name}; a bad argument throws an Error naming it.
export function commandBody(name, ids, args = {}) {
  const spec = COMMANDS[name];
  if (!spec) throw new Error(`unknown command "${name}"`);
  if (!ids || ids.length === 0) throw new Error("no vehicle selected");
  const body = { vehicle_ids: [...ids] };
  switch (spec.arg) {
    case "alt_m": {
      const a = Number(args.alt_m);
      if (!Number.isFinite(a) || a <= 0 || a > 1000) throw new Error(`takeoff altitude "${args.alt_m}": want 1–1000 m`);
      body.alt_m = a;
      break;
    }
    case "mode":
      if (!MODES.includes(args.mode)) throw new Error(`mode "${args.mode}": want one of ${MODES.join(", ")}`);
      body.mode = args.mode;
      break;
    case "ground_speed_mps": {
      const s = Number(args.ground_speed_mps);
      if (!Number.isFinite(s) || s <= 0 || s > 50) throw new Error(`speed "${args.ground_speed_mps}": want 0.1–50 m/s`);
      body.ground_speed_mps = s;
      break;
    }
    case "position": {
      const { lat, lon } = args;
      const alt = Number(args.alt_m);
      if (!(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) throw new Error("go here: pick a point on the map");
      if (!Number.isFinite(alt) || alt <= 0 || alt > 1000) throw new Error(`go-here altitude "${args.alt_m}": want 1–1000 m`);
      Object.assign(body, { lat, lon, alt_m: alt });
      break;
    }
  }
  return body;
}

// confirmText says what will happen, or "" when no confirmation is needed.
export function confirmText(name, ids, args = {}) {
  const spec = COMMANDS[name];
  if (!spec || !spec.moves) return "";
  const who = ids.length === 1 ? `vehicle ${ids[0]}` : `${ids.length} vehicles`;
  switch (name) {
    case "takeoff":
      return `Take off ${who} to ${args.alt_m} m?`;
    case "mode":
      return `Switch ${who} to ${args.mode}?`;
    case "speed":
      return `Set the speed of ${who} to ${args.ground_speed_mps} m/s?`;
    case "goto":
      return `Send ${who} to ${Number(args.lat).toFixed(5)}, ${Number(args.lon).toFixed(5)} at ${args.alt_m} m?`;
    default:
      return `${spec.label}: ${who}?`;
  }
}

// summarise turns the group answer into per-vehicle lines.
export function summarise(answer) {
  return (answer?.results || []).map((r) => ({
    id: r.vehicle_id,
    ok: !!r.ok,
    text: r.ok ? r.result?.result || "ACCEPTED" : r.error || "failed",
  }));
}

// runCommand sends one command to the given vehicles through the group
// endpoint; confirm(text) → boolean asks the operator. It returns
// {sent: false} when the operator declined.
export async function runCommand(api, name, ids, args, confirm) {
  const body = commandBody(name, ids, args);
  const q = confirmText(name, ids, args);
  if (q && !(await confirm(q))) return { sent: false, results: [] };
  const answer = await api.post(`/api/v1/commands/${encodeURIComponent(name)}`, body);
  return { sent: true, results: summarise(answer) };
}

// launch flies assigned vehicles: GUIDED (ArduCopter will not arm in AUTO),
// arm, then mission start, each step to the vehicles that passed the one
// before. One confirmation for the whole sequence (text from the caller).
// It returns the last result per vehicle, naming the step that failed.
export async function launch(api, ids, question, confirm) {
  if (!ids.length) throw new Error("no vehicle to launch");
  if (!(await confirm(question))) return { sent: false, results: [] };
  const steps = [
    ["mode", { mode: "GUIDED" }],
    ["arm", {}],
    ["mission_start", {}],
  ];
  const last = new Map(ids.map((id) => [id, { id, ok: false, text: "not sent" }]));
  let going = [...ids];
  for (const [name, args] of steps) {
    if (!going.length) break;
    const answer = await api.post(`/api/v1/commands/${name}`, commandBody(name, going, args));
    const next = [];
    for (const r of summarise(answer)) {
      last.set(r.id, { id: r.id, ok: r.ok, text: r.ok ? `${name}: ${r.text}` : `${name} failed: ${r.text}` });
      if (r.ok) next.push(r.id);
    }
    going = next;
  }
  return { sent: true, results: ids.map((id) => last.get(id)) };
}
