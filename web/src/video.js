// Live video from the station's relay (WHEP, docs/api.md "Live video"):
// the vehicle's camera in the details panel when it is selected on the map,
// and the video wall (/#wall), a grid of every stream with the vehicle ID
// and the stream's state under each. The station relays each stream once,
// however many pages watch it.

// whep plays one stream into a <video>: offer to receive H.264, post the
// offer, apply the answer. close() stops and ends the session.
export function whep(videoEl, vehicleId, streamId, csrf) {
  const pc = new RTCPeerConnection();
  videoEl.burgutPeer = pc; // for diagnostics (getStats) from the console and tests
  let location = null;
  let closed = false;
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = (ev) => {
    videoEl.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    videoEl.play().catch(() => {});
  };
  const url = `/api/v1/vehicles/${encodeURIComponent(vehicleId)}/video/${streamId}/whep`;
  const ready = (async () => {
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      // Non-trickle WHEP: the offer carries every candidate.
      if (pc.iceGatheringState === "complete") return resolve();
      const t = setTimeout(resolve, 2000);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const r = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", "X-CSRF-Token": csrf || "" },
      body: pc.localDescription.sdp,
    });
    if (r.status !== 201) {
      const j = await r.json().catch(() => ({}));
      throw new Error(j.error?.message || `HTTP ${r.status}`);
    }
    location = r.headers.get("Location");
    const answer = await r.text();
    if (closed) return;
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  })();
  return {
    pc,
    ready,
    close() {
      closed = true;
      pc.close();
      videoEl.srcObject = null;
      if (location) fetch(location, { method: "DELETE", headers: { "X-CSRF-Token": csrf || "" } }).catch(() => {});
    },
  };
}

// A player keeps one stream playing in a container until told otherwise,
// and reconnects when the connection fails (the station restarts, the
// network drops).
export class Player {
  constructor(container, csrf) {
    this.container = container;
    this.csrf = csrf;
    this.key = null;
    this.session = null;
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.status = document.createElement("div");
    this.status.className = "video-status";
    container.append(this.video, this.status);
  }

  play(vehicleId, streamId) {
    const key = vehicleId == null ? null : `${vehicleId}/${streamId}`;
    if (key === this.key) return;
    this.stop();
    this.key = key;
    if (key == null) return;
    this.container.dataset.vehicleId = vehicleId;
    this.container.dataset.streamId = streamId;
    this.connect(vehicleId, streamId);
  }

  connect(vehicleId, streamId) {
    const key = this.key;
    const s = whep(this.video, vehicleId, streamId, this.csrf);
    this.session = s;
    this.status.textContent = "connecting…";
    const retry = () => {
      if (this.session !== s || this.key !== key) return;
      s.close();
      this.session = null;
      setTimeout(() => this.key === key && !this.session && this.connect(vehicleId, streamId), 2000);
    };
    s.pc.addEventListener("connectionstatechange", () => {
      if (s.pc.connectionState === "connected") this.status.textContent = "";
      if (s.pc.connectionState === "failed") retry();
    });
    s.ready.catch((e) => {
      this.status.textContent = `video: ${e.message}`;
      retry();
    });
  }

  stop() {
    if (this.session) this.session.close();
    this.session = null;
    this.key = null;
    this.status.textContent = "";
  }
}

// Wall is the video-wall view: one tile per advertised stream of every
// vehicle, each playing, captioned with the vehicle ID and the state.
export class Wall {
  constructor(grid, csrf) {
    this.grid = grid;
    this.csrf = csrf;
    this.tiles = new Map(); // "vehicle/stream" → {el, caption, player}
  }

  update(v) {
    for (const s of v.video || []) {
      const key = `${v.id}/${s.stream_id}`;
      let t = this.tiles.get(key);
      if (!t) {
        const el = document.createElement("figure");
        el.className = "wall-tile";
        const box = document.createElement("div");
        box.className = "wall-video";
        const caption = document.createElement("figcaption");
        el.append(box, caption);
        const after = [...this.grid.children].find((c) => c.dataset.key > key);
        el.dataset.key = key;
        this.grid.insertBefore(el, after || null);
        const player = new Player(box, this.csrf);
        player.play(v.id, s.stream_id);
        t = { el, caption, player };
        this.tiles.set(key, t);
      }
      t.el.dataset.state = s.state || "";
      t.caption.innerHTML = `<b>${escapeHTML(v.id)}</b> ${escapeHTML(s.name || "")} <span class="state">${escapeHTML(s.state || "—")}</span>`;
    }
  }
}

function escapeHTML(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
