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

// PAD_SEPARATION_M is the pad clearance (separation.Config.PadClearance
// on the station: its separation monitor's default warning distance,
// which the station does not expose): homes closer than this share a
// launch pad, and a drone launched from a pad must be this far (3D) from
// the next one's home before that one goes — sequenced at the planner's
// 10 m the monitor still warned after each launch. The operations
// scheduler and the scenario runner's launch step sequence their pads at
// the same distance. The console's one copy of the value; a Go test
// (web/pad_test.go) checks it against the station's default.
export const PAD_SEPARATION_M = 30;

// LAUNCH_CLEAR_MS bounds the wait for a pad to clear (as the scenario
// runner's launchClearBound): a climb through the separation at
// ArduCopter's 2.5 m/s takes seconds; a minute and a half means the drone
// never left, and the launch stops rather than wait for ever.
export const LAUNCH_CLEAR_MS = 90_000;

// LAUNCH_POLL_MS is how often a launch waiting for its pad re-reads the
// positions.
export const LAUNCH_POLL_MS = 500;

// localM is the flat-earth offset (m east, north, up) of a point from a
// reference; plenty for metres on one launch pad.
function localM(p, ref) {
  const m = 111320;
  return [
    (p.lon - ref.lon) * m * Math.cos((((p.lat + ref.lat) / 2) * Math.PI) / 180),
    (p.lat - ref.lat) * m,
    (Number(p.alt_msl_m) || 0) - (Number(ref.alt_msl_m) || 0),
  ];
}

// offsetFromHome is where vehicle v (home vh) is from another home h,
// in metres east, north and up. Up comes from v's height above its own
// home (relative_alt_m) and the two homes' altitudes, so a vehicle whose
// alt_msl_m and home altitude are in different datums is still judged
// right. (The simulator's agree, as ArduCopter's do: a 39 m "gap" once
// seen in the console's launch test was a drone flying the demo patrol
// 39 m above its pad.)
function offsetFromHome(v, vh, h) {
  const [e, n] = localM(v, h);
  const rel = Number.isFinite(v.relative_alt_m) ? v.relative_alt_m : (Number(v.alt_msl_m) || 0) - (Number(vh?.alt_msl_m) || 0);
  return [e, n, rel + (Number(vh?.alt_msl_m) || 0) - (Number(h.alt_msl_m) || 0)];
}

function knownPoint(p) {
  return !!p && Number.isFinite(p.lat) && Number.isFinite(p.lon) && !(p.lat === 0 && p.lon === 0);
}

// sharePad: two homes closer than sep horizontally are one launch pad.
export function sharePad(a, b, sep = PAD_SEPARATION_M) {
  if (!knownPoint(a) || !knownPoint(b)) return false;
  const [e, n] = localM(a, b);
  return Math.hypot(e, n) < sep;
}

// launchRounds splits ids into rounds launched at once, in order: a
// vehicle joins the first round with no other vehicle of its pad, so
// vehicles on pads of their own all go in the first round and two on one
// pad go one after the other (scenario/launch.go's launchRounds). home(id)
// is the vehicle's home or undefined; a vehicle without a known home
// cannot be sequenced: it is left out (launch refuses it).
export function launchRounds(ids, home, sep = PAD_SEPARATION_M) {
  const out = [];
  for (const id of ids) {
    if (!knownPoint(home(id))) continue;
    let r = 0;
    while (r < out.length && out[r].some((j) => sharePad(home(j), home(id), sep))) r++;
    if (r === out.length) out.push([]);
    out[r].push(id);
  }
  return out;
}

// launch flies assigned vehicles: GUIDED (ArduCopter will not arm in AUTO),
// arm, then mission start, each step to the vehicles that passed the one
// before. One confirmation for the whole sequence (text from the caller).
// It returns the last result per vehicle, naming the step that failed.
//
// Vehicles on a shared launch pad (homes closer than PAD_SEPARATION_M) do
// not go at once: launched together, drones a few metres apart climb side
// by side and the station's separation monitor raises a critical
// conflict. They go in rounds (launchRounds); before each later round the
// launch waits until every vehicle already launched from the pad of one
// in the round is PAD_SEPARATION_M (3D) from its home, by the positions
// the station reports. A vehicle whose launch failed stays on the ground
// and is in nobody's way. Still in the way after LAUNCH_CLEAR_MS, the
// launch stops: the vehicles not launched say who is in the way, and
// stopped carries the same message. A vehicle that went after others of
// its pad says so, and how long it waited.
//
// opts (all optional, injected so the sequencing is unit-testable):
// vehicle(id) → the vehicle's state as the stream gives it ({lat, lon,
// alt_msl_m, home: {lat, lon, alt_msl_m}}); without it every vehicle
// goes at once. With it, a vehicle without a known home is not launched
// (it cannot be sequenced) and its line says so. sleep(ms), now() → ms: the clock. progress(results) is
// called with the lines so far whenever they change (the page shows
// them). sep, bound, poll override the constants above.
export async function launch(api, ids, question, confirm, opts = {}) {
  if (!ids.length) throw new Error("no vehicle to launch");
  if (!(await confirm(question))) return { sent: false, results: [] };
  const vehicle = opts.vehicle || (() => undefined);
  const sleep = opts.sleep || ((ms) => new Promise((res) => setTimeout(res, ms)));
  const now = opts.now || (() => Date.now());
  const progress = opts.progress || (() => {});
  const sep = opts.sep ?? PAD_SEPARATION_M;
  const bound = opts.bound ?? LAUNCH_CLEAR_MS;
  const poll = opts.poll ?? LAUNCH_POLL_MS;
  const home = (id) => vehicle(id)?.home;
  // Without a known home a vehicle cannot be sequenced on its pad (it
  // would climb beside a neighbour it does not know of): it is not
  // launched, and says why. Without opts.vehicle nothing is sequenced
  // and every vehicle goes at once.
  const noHome = opts.vehicle ? ids.filter((id) => !knownPoint(home(id))) : [];
  const rounds = opts.vehicle ? launchRounds(ids, home, sep) : [ids];
  const last = new Map(ids.map((id) => [id, { id, ok: false, text: "not sent" }]));
  for (const id of noHome) last.set(id, { id, ok: false, text: "not launched: no known home (the station has not heard where it armed), so it cannot be sequenced on its launch pad" });
  if (rounds.length === 0) return { sent: true, results: ids.map((id) => last.get(id)) };
  const show = () => progress(ids.map((id) => ({ ...last.get(id) })));
  if (rounds.length > 1) {
    for (const ks of rounds.slice(1)) for (const id of ks) last.set(id, { id, ok: false, text: "waiting for its launch pad to clear" });
  }
  const launched = new Set(); // ids whose launch got through mission start
  const steps = [
    ["mode", { mode: "GUIDED" }],
    ["arm", {}],
    ["mission_start", {}],
  ];
  // inTheWay names a launched vehicle of the pad of one of ks still
  // closer than sep to that one's home, or "".
  const inTheWay = (ks) => {
    for (const k of ks) {
      const h = home(k);
      if (!knownPoint(h)) continue;
      for (const j of launched) {
        if (!sharePad(home(j), h, sep)) continue;
        const v = vehicle(j);
        if (!knownPoint(v)) return `${j} reports no position`;
        const d = Math.hypot(...offsetFromHome(v, home(j), h));
        if (d < sep) return `${j} is ${d.toFixed(1)} m from the home of ${k}`;
      }
    }
    return "";
  };
  let stopped = "";
  for (let n = 0; n < rounds.length; n++) {
    const ks = rounds[n];
    let waited = 0;
    if (n > 0) {
      const start = now();
      for (;;) {
        const stuck = inTheWay(ks);
        if (!stuck) break;
        if (now() - start >= bound) {
          stopped = `launch stopped: still in the way after ${Math.round(bound / 1000)} s: ${stuck} (minimum ${sep} m)`;
          break;
        }
        for (const id of ks) last.set(id, { id, ok: false, text: `waiting for its launch pad to clear: ${stuck}` });
        show();
        await sleep(poll);
      }
      if (stopped) {
        const rest = rounds.slice(n).flat();
        for (const id of rest) last.set(id, { id, ok: false, text: `not launched: ${stopped}` });
        break;
      }
      waited = now() - start;
    }
    // Those going after a launched vehicle of their pad say so.
    const second = new Set(ks.filter((k) => [...launched].some((j) => sharePad(home(j), home(k), sep))));
    let going = [...ks];
    for (const [name, args] of steps) {
      if (!going.length) break;
      const answer = await api.post(`/api/v1/commands/${name}`, commandBody(name, going, args));
      const next = [];
      for (const r of summarise(answer)) {
        if (!last.has(r.id)) continue;
        last.set(r.id, { id: r.id, ok: r.ok, text: r.ok ? `${name}: ${r.text}` : `${name} failed: ${r.text}` });
        if (r.ok) next.push(r.id);
      }
      going = next;
    }
    for (const id of going) {
      launched.add(id);
      if (second.has(id)) last.get(id).text += ` (once its launch pad was clear, after ${Math.round(waited / 1000)} s)`;
    }
    if (rounds.length > 1) show();
  }
  const out = { sent: true, results: ids.map((id) => last.get(id)) };
  if (stopped) out.stopped = stopped;
  return out;
}
