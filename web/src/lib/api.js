// The station's HTTP API as the page uses it. One place adds the session's
// CSRF token to every call that changes something and turns an error
// answer ({"error": {code, message, details}}) into an ApiError, so panels
// show the station's own words (e.g. who holds a vehicle's control).

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

// createApi takes fetch and a function returning the current CSRF token
// (it changes at every login); onUnauthorized runs on any 401.
export function createApi({ fetch: f, csrf, onUnauthorized = () => {} }) {
  async function call(method, url, body, { raw = false } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf() || "";
    let payload;
    if (body !== undefined) {
      if (typeof body === "string") {
        headers["Content-Type"] = "application/geo+json";
        payload = body;
      } else {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
    }
    const r = await f(url, { method, headers, body: payload, credentials: "same-origin" });
    if (r.status === 401) onUnauthorized();
    if (raw && r.ok) return r;
    const text = await r.text();
    let j = null;
    try {
      j = text ? JSON.parse(text) : null;
    } catch {
      j = null;
    }
    if (!r.ok) {
      const e = j && j.error;
      throw new ApiError(r.status, e?.code || "http_" + r.status, e?.message || `${method} ${url}: HTTP ${r.status}`, e?.details);
    }
    // 207 (some vehicles failed) is an answer, not an error: callers read the per-vehicle results.
    return j;
  }
  return {
    get: (url, opts) => call("GET", url, undefined, opts),
    post: (url, body) => call("POST", url, body),
    put: (url, body) => call("PUT", url, body),
    del: (url) => call("DELETE", url),
  };
}
