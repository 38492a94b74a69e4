// The alerts panel's filter: which alerts the operator's choice shows.

// alertShown says whether an alert {severity, acked, text} is shown for
// the filter sev ("" all, "critical", "warning", "unacked": not yet
// acknowledged by anyone) and the search query (every word must appear in
// the alert's text: vehicle ID, message, who acknowledged it;
// case-insensitive).
export function alertShown(a, sev, query) {
  if (sev === "unacked" ? a.acked : sev && a.severity !== sev) return false;
  const text = String(a.text || "").toLowerCase();
  return String(query || "")
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => text.includes(w));
}
