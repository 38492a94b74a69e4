// Text for the page: escaping, numbers with units, and the HUD's rows.

export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function fmt(n, digits = 0, unit = "") {
  return Number.isFinite(n) ? n.toFixed(digits) + unit : "–";
}

export function statusOf(v) {
  if (!v.connected) return "lost";
  if (v.stale) return "stale";
  if (v.fence_breached) return "breach";
  if (v.armed) return "armed";
  return "disarmed";
}

export const COLOURS = { armed: "#4cc27a", disarmed: "#7d8ea0", lost: "#ef5b5b", stale: "#f0b85a", breach: "#ff7b2e" };

const FIX = ["no GPS", "no fix", "2D", "3D", "DGPS", "RTK float", "RTK fixed", "static", "PPP"];

// hudRows is what the HUD shows for one vehicle, as [label, text] pairs;
// a field the vehicle has not reported shows "–", and signing only when
// the station reports it.
export function hudRows(v) {
  const rows = [
    ["status", statusOf(v)],
    ["mode", v.mode || "–"],
    ["armed", v.armed ? "yes" : "no"],
    ["altitude", fmt(v.relative_alt_m, 1, " m") + " rel, " + fmt(v.alt_msl_m, 1, " m") + " MSL"],
    ["speed", fmt(v.ground_speed_mps, 1, " m/s") + " ground, " + fmt(v.air_speed_mps, 1, " m/s") + " air, " + fmt(v.climb_mps, 1, " m/s") + " climb"],
    ["heading", fmt(v.heading_deg, 0, "°")],
    ["battery", (v.battery_pct >= 0 ? fmt(v.battery_pct, 0, " %") : "–") + ", " + fmt(v.battery_v, 1, " V") + ", " + fmt(v.battery_a, 1, " A")],
    ["GPS", `${Number.isInteger(v.gps_fix) ? FIX[v.gps_fix] || "fix " + v.gps_fix : "–"}, ${Number.isFinite(v.satellites) ? v.satellites : "–"} sats`],
    ["link", `${v.link || "–"}, loss ${fmt(v.link_quality?.loss_pct, 1, " %")}, ${fmt(v.link_quality?.rate_hz, 0, " Hz")}`],
    ["mission", v.mission_count ? `item ${v.mission_seq} of ${v.mission_count}` : "none on board"],
    ["fence", v.fence_breached ? "BREACHED" : "ok"],
    ["position", `${fmt(v.lat, 6)}, ${fmt(v.lon, 6)}`],
  ];
  if (v.signing) rows.push(["signing", v.signing]); // unsigned | pending | signed (MAVLink 2 signing)
  if (v.control?.holder) rows.push(["control", v.control.holder]);
  return rows;
}

// ackOf returns what an event says about an alert's acknowledgement:
// {seq, by, at} for an alert that carries its ack or for an alert_ack
// event (which names the alert's seq), null otherwise.
export function ackOf(ev) {
  if (!ev) return null;
  if (ev.kind === "alert_ack") {
    const f = ev.fields || {};
    const seq = Number(f.seq);
    return Number.isFinite(seq) && f.by ? { seq, by: String(f.by), at: f.at || ev.time } : null;
  }
  if (ev.ack && ev.ack.by) return { seq: ev.seq, by: ev.ack.by, at: ev.ack.at };
  return null;
}
