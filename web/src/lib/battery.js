// Estimated battery time left from the drain over the recent past: the
// page keeps a short history of each vehicle's battery percentage and fits
// a straight line through it. Pure functions, unit-tested; the HUD and
// the vehicle list show "—" whenever the estimate is unknown.

// BATTERY_WINDOW_MS is how far back the drain is measured: long enough to
// see whole-percent steps (MAVLink reports integer percent), short enough
// to follow a change of flight (hover vs. cruise vs. climb).
export const BATTERY_WINDOW_MS = 3 * 60 * 1000;

// BATTERY_SAMPLE_MS spaces the kept samples: 36 per vehicle over the
// window fit a line well and keep a thousand vehicles' histories small
// (a sample a second was ~180,000 objects at 1,000 vehicles).
export const BATTERY_SAMPLE_MS = 5000;

// addBatterySample appends {t (ms), pct} to a vehicle's history (at most
// one sample per BATTERY_SAMPLE_MS; older than the window dropped). A rise of more than
// two percent means a new or charged battery: the old drain no longer
// applies, so the history starts again. Unknown percentages (< 0) and
// samples not newer than the last are ignored. Returns hist.
export function addBatterySample(hist, t, pct) {
  if (!Number.isFinite(t) || !Number.isFinite(pct) || pct < 0) return hist;
  const last = hist[hist.length - 1];
  if (last && t <= last.t) return hist;
  if (last && pct > last.pct + 2) hist.length = 0;
  else if (last && t - last.t < BATTERY_SAMPLE_MS) return hist;
  hist.push({ t, pct });
  let drop = 0;
  while (drop < hist.length && hist[drop].t < t - BATTERY_WINDOW_MS) drop++;
  if (drop) hist.splice(0, drop);
  return hist;
}

// batteryTimeLeft is the seconds until empty at the drain measured over
// hist (least-squares slope), or null when unknown: fewer than 3 samples,
// less than minSpanMs of history, or a fitted drop below minDropPct over
// it (a battery that is not draining, or not measurably yet).
export function batteryTimeLeft(hist, { minSpanMs = 20000, minDropPct = 1 } = {}) {
  const n = hist?.length || 0;
  if (n < 3) return null;
  const t0 = hist[0].t;
  const span = hist[n - 1].t - t0;
  if (span < minSpanMs) return null;
  let st = 0;
  let sp = 0;
  for (const s of hist) {
    st += s.t - t0;
    sp += s.pct;
  }
  const mt = st / n;
  const mp = sp / n;
  let num = 0;
  let den = 0;
  for (const s of hist) {
    const dt = s.t - t0 - mt;
    num += dt * (s.pct - mp);
    den += dt * dt;
  }
  if (den === 0) return null;
  const slope = num / den; // percent per ms
  if (!(slope < 0) || -slope * span < minDropPct) return null;
  const now = mp + slope * (span - mt); // the fitted level at the last sample
  return Math.max(0, now / -slope / 1000);
}

// fmtTimeLeft writes seconds left for people: "—" when unknown.
export function fmtTimeLeft(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "—";
  const m = Math.round(s / 60);
  if (m < 1) return "< 1 min";
  if (m < 120) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}
