import { legs } from "./plan.js";

// The Fly side's small decisions, kept out of the DOM code: what the list
// and HUD say about an upload in progress and about control, which
// vehicles' on-board missions are drawn, and when a vehicle's on-board
// lists must be read again.

// transferText says where a vehicle's upload is (fleet.Vehicle.transfer):
// items confirmed of the total while uploading, the read-back, then the
// verdict; a failure carries the station's reason (the vehicle's
// MISSION_ACK result when it refused). "" when there was none.
export function transferText(t) {
  if (!t || !t.type) return "";
  const n = `${t.done ?? 0}/${t.total ?? 0}`;
  const attempt = t.attempt > 1 ? ` (attempt ${t.attempt})` : "";
  switch (t.phase) {
    case "uploading":
      return `uploading ${t.type} ${n}${attempt}`;
    case "verifying":
      return `${t.type} ${n} sent, reading back${attempt}`;
    case "verified":
      return `${t.type} verified, ${t.total} item(s)`;
    case "uploaded":
      return `${t.type} uploaded, ${t.total} item(s), not read back`;
    case "failed":
      return `${t.type} upload failed${t.error ? ": " + t.error : ""}`;
  }
  return `${t.type} ${t.phase || ""} ${n}`.trim();
}

// transferShort is the vehicle list's line for an upload: its progress,
// or for a failure only the vehicle's MISSION_ACK result when it refused
// (the HUD and the line's tooltip say it in full).
export function transferShort(t) {
  if (t?.phase !== "failed") return transferText(t);
  const refusal = /MAV_MISSION_[A-Z0-9_]+/.exec(t.error || "");
  return refusal ? `${t.type} refused: ${refusal[0]}` : `${t.type} upload failed`;
}

// transferActive: an upload is under way (the list shows its progress).
export function transferActive(t) {
  return !!t && (t.phase === "uploading" || t.phase === "verifying");
}

// controlLabel is the HUD's control row: who and since when, "" when free.
export function controlLabel(c, me, now = Date.now()) {
  if (!c || !c.holder) return "";
  const since = Date.parse(c.since);
  const who = c.holder === me ? "you" : c.holder;
  if (!Number.isFinite(since)) return who;
  const mins = Math.max(0, Math.round((now - since) / 60000));
  return `${who} since ${new Date(since).toISOString().slice(11, 16)} UTC (${mins} min)`;
}

// ALL_MISSIONS_MAX bounds the fleet whose every on-board mission is drawn:
// each is read from its vehicle over MAVLink, and beyond a few dozen the
// map is a tangle and the links busy; a larger fleet shows the selected
// vehicles' missions only.
export const ALL_MISSIONS_MAX = 50;

// missionsShown returns the vehicle IDs whose on-board missions are drawn:
// every vehicle with a mission on board in a fleet of at most max,
// otherwise the selected ones.
export function missionsShown(vehicles, selection, max = ALL_MISSIONS_MAX) {
  const out = new Set();
  const all = vehicles.length <= max;
  for (const v of vehicles) if (v && v.mission_count > 0 && (all || selection.has(v.id))) out.add(v.id);
  return out;
}

// onboardKey changes when a vehicle's on-board lists must be read again:
// its mission count changed, or a mission upload to it ended. Not at the
// end of a fence or rally upload: a plan assignment sends the mission
// right after them, and reading the lists then would only compete with it.
export function onboardKey(v) {
  const t = v?.transfer;
  const ended = t && t.type === "mission" && !transferActive(t) ? `${t.phase}:${t.started}` : "";
  return `${v?.mission_count ?? 0}|${ended}`;
}

// vehicleColour gives each vehicle its own colour for its mission on the
// map, stable across reloads (a hash of its ID).
const PALETTE = ["#4aa3ff", "#ff9f43", "#2ed573", "#e056fd", "#ffd32a", "#18dcff", "#ff6b81", "#7bed9f", "#a29bfe", "#fab1a0"];
export function vehicleColour(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

// missionLegs are the legs a vehicle flies its on-board mission along:
// from home (item 0 of an ArduPilot mission) through every item with a
// position, and back home for a return-to-launch item; each leg carries
// the seq of the item it flies to, the one MISSION_CURRENT names.
export function missionLegs(mission) {
  const home = mission.find((it) => it.seq === 0 && !(it.x === 0 && it.y === 0));
  const items = mission.filter((it) => it.seq > 0);
  const out = legs({ mission: items, launch: home ? { Point: [home.y / 1e7, home.x / 1e7] } : undefined });
  const rtl = items.find((it) => it.command === 20);
  if (home && rtl && out.length && rtl.seq > out[out.length - 1].seq) out.push({ seq: rtl.seq, from: out[out.length - 1].to, to: [home.x / 1e7, home.y / 1e7] });
  return out;
}
