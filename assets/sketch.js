// The sketch pad, encoded live: runs inside gr.HTML's js_on_load (`element`, `props`, `server`, `watch`).
// Pointer events (mouse, pen, finger) draw on a canvas `f` times the model's resolution; each frame that
// has new ink, the drawing is box-averaged to the model's own pixels, encoded in the page (the ONNX
// encoder on WebAssembly, runtime.js), μ decoded for the reconstruction, the posterior chart redrawn and
// the diamond with its μ ± 2σ cloud moved on the map (`vae:diamond` for map.js). No server request while
// drawing; when WebAssembly cannot run, the server's encode_pixels / decode_pixels do it, and the status
// line says so. "Send μ to sliders" hands μ to live.js (`vae:set-z`), in the page too. The drawing's
// encoding is page state (VAE.state.sketch); VAE.sketch counts encodings and their latencies.
// How typical the drawing is, the server judges (typicality_pixels, ui/sketch.py): the pixels just encoded are
// sent at most every `typical.delay_ms` (from Python) while the drawing changes, and once after the last change;
// the line under the pad shows the answer (its data-for: the encoding it judged). VAE.sketch counts the asks.
const VAE = window.VAE;
const q = sel => element.querySelector(sel);
const pad = q(".vae-sketch-pad"), inputCanvas = q(".vae-sketch-input"), recon = q(".vae-sketch-recon");
const mini = q(".vae-sketch-map"), chart = q(".vae-sketch-chart"), statusLine = q(".vae-sketch-status"), send = q(".vae-sketch-send");
const brush = q(".vae-sketch-brush"), ink = q(".vae-sketch-ink"), eraser = q(".vae-sketch-eraser");
const typicalLine = q(".vae-sketch-typical");
const stats = (VAE.sketch = { encodes: 0, latencies: [], backend: null, asked: 0, judged: 0 });
const shown = (VAE.state.sketch = { model: null, mu: null, logvar: null, pixels: null });
let s = null;              // {model, shape, background, sigma, f, enc, dec, at, ort}
let dirty = false, busy = false, pendingAt = null, last = null;
let typicalTimer = null, typicalBusy = false, typicalSent = -1;

function say(text) { if (statusLine.textContent !== text) statusLine.textContent = text; }
function bg() { return s.background === "white" ? "#ffffff" : "#000000"; }
function inkColour() {
  if (eraser.getAttribute("aria-pressed") === "true") return bg();
  return s.shape[0] === 3 ? ink.value : (s.background === "white" ? "#000000" : "#ffffff");
}

function clear() {
  const ctx = pad.getContext("2d");
  ctx.fillStyle = bg();
  ctx.fillRect(0, 0, pad.width, pad.height);
  last = null;
  changed(performance.now());
}

// ---------------------------------------------------------------- drawing
function at(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}

function stroke(from, to, e) {
  const ctx = pad.getContext("2d");
  ctx.strokeStyle = ctx.fillStyle = inkColour();
  const pressure = e && e.pointerType === "pen" && e.pressure > 0 ? 0.5 + e.pressure : 1;   // a pen presses harder
  ctx.lineWidth = parseFloat(brush.value) * s.f * pressure;
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from[0], from[1]);
  ctx.lineTo(to[0], to[1]);
  ctx.stroke();
}

function onDown(e) {
  if (!s || (e.pointerType === "mouse" && e.button !== 0)) return;
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  last = at(e);
  stroke(last, last, e);
  changed(e.timeStamp);
}

function onMove(e) {
  if (!s || last === null || !pad.hasPointerCapture(e.pointerId)) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  for (const c of (events.length ? events : [e])) { const p = at(c); stroke(last, p, c); last = p; }
  changed(e.timeStamp);
}

function onUp(e) { if (last !== null) { last = null; if (pad.hasPointerCapture(e.pointerId)) pad.releasePointerCapture(e.pointerId); } }

// new ink: encode on the next animation frame (one encoding in flight; the latest drawing wins)
function changed(t) {
  if (pendingAt === null) pendingAt = t;
  if (!dirty) { dirty = true; requestAnimationFrame(encodeNow); }
}

// ---------------------------------------------------------------- the model's pixels
// the pad box-averaged by f x f: uint8 (C, H, W), what the encoder sees (and what /encode of a PNG of
// these pixels sees: the server's preprocessing leaves an image of the model's own size unchanged)
function pixels() {
  const [C, H, W] = s.shape, f = s.f;
  const rgba = pad.getContext("2d").getImageData(0, 0, W * f, H * f).data;
  const out = new Uint8Array(C * H * W), plane = H * W, n = f * f;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let dy = 0; dy < f; dy++) {
        let o = ((y * f + dy) * W * f + x * f) * 4 + c;
        for (let dx = 0; dx < f; dx++, o += 4) sum += rgba[o];
      }
      out[c * plane + y * W + x] = Math.round(sum / n);
    }
  }
  return out;
}

// uint8 pixels as base64, how the server functions take them
function base64(px) {
  let bin = "";
  for (let i = 0; i < px.length; i++) bin += String.fromCharCode(px[i]);
  return btoa(bin);
}

async function encodePixels(px) {
  if (s.enc.kind === "wasm") {
    const x = Float32Array.from(px, v => v / 255);
    const r = await VAE.runtime.encode(s.enc.session, x, 1, s.shape);
    return { mu: Array.from(r.mu), logvar: r.logvar ? Array.from(r.logvar) : null };
  }
  return VAE.runtime.within(server.encode_pixels(s.model, base64(px)), "the server's encoder");
}

async function encodeNow() {
  dirty = false;
  if (!s || !s.enc || !s.dec) return;
  if (busy) { dirty = true; requestAnimationFrame(encodeNow); return; }
  busy = true;
  const cur = s, started = pendingAt, t0 = performance.now();
  pendingAt = null;
  try {
    const px = pixels();
    VAE.paint.image(inputCanvas, px, 0, cur.shape, true);
    const r = await encodePixels(px);
    if (s !== cur) return;
    const sigma = r.logvar ? r.logvar.map(v => Math.exp(0.5 * v)) : null;
    drawChart(r.mu, sigma);
    const img = await cur.dec.decode(Float32Array.from(r.mu), 1);
    if (s !== cur) return;
    VAE.paint.image(recon, img.data, 0, cur.shape, img.bytes);
    if (cur.at) {
      const xy = VAE.place.place(cur.at, r.mu), cloud = sigma ? VAE.place.cloud(cur.at, r.mu, sigma) : null;
      VAE.emit("vae:diamond", { model: cur.model, xy, cloud });
      drawMini(cur, xy, cloud, r.mu);
    }
    done(cur, px, r, started, performance.now() - t0);
  } catch (e) {
    say("encoding failed: " + VAE.reason(e));
  } finally {
    busy = false;
  }
}

function done(cur, px, r, started, ms) {
  stats.encodes += 1;
  Object.assign(shown, { model: cur.model, mu: r.mu, logvar: r.logvar, pixels: Array.from(px) });
  if (started !== null) {
    stats.latencies.push(performance.now() - started);
    if (stats.latencies.length > 1000) stats.latencies.splice(0, stats.latencies.length - 1000);
  }
  element.dataset.encodes = String(stats.encodes);
  send.disabled = false;
  const where = cur.enc.kind === "wasm" ? "encoded in your browser (WebAssembly)" : `encoded on the server (${cur.enc.reason})`;
  say(`${where}, ${ms.toFixed(1)} ms${cur.sigma ? "" : " · this model has no σ: its encoder gives one point"}`
    + (cur.atError ? ` · the map cannot show the drawing: ${cur.atError}` : ""));
  typicalSoon();
}

// ---------------------------------------------------------------- how typical the drawing is (the server)
function typicalSoon() {
  if (!s || !s.typical || s.typical.note || typicalTimer !== null) return;
  typicalTimer = setTimeout(judgeNow, s.typical.delay_ms);
}

// one request in flight; when the drawing changed meanwhile, its latest pixels are sent after it
async function judgeNow() {
  typicalTimer = null;
  const cur = s, seq = stats.encodes, px = shown.pixels;
  if (!cur || typicalBusy || !px || shown.model !== cur.model || seq === typicalSent) return;
  typicalBusy = true;
  typicalSent = seq;
  stats.asked += 1;
  try {
    const r = await VAE.runtime.within(server.typicality_pixels(cur.model, base64(px)), "the server's judgement");
    if (s !== cur) return;
    typicalLine.textContent = r.note || r.line;
    stats.judged += 1;
    Object.assign(typicalLine.dataset, { for: String(seq), verdict: r.verdict || "",
      negPercentile: String(r.neg_elbo_percentile), scorePercentile: String(r.score_percentile) });
  } catch (e) {
    if (s === cur) typicalLine.textContent = "how typical is it: " + VAE.reason(e);
  } finally {
    typicalBusy = false;
    if (s && stats.encodes !== typicalSent) typicalSoon();
  }
}

// ---------------------------------------------------------------- the map, small, beside the pad
// The test set's map drawn once per model (the colours of map.js), then the diamond at μ and its cloud
// on top each frame: the big map above moves too, but is off screen while one draws.
function miniBase(cur) {
  const at = cur.at, near = at.near;
  if (!near) return null;
  const n = near.n, xy = at.method === "plane" ? near.means : at.xy, W = mini.width, H = mini.height, pad = 10;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xy[2 * i]); x1 = Math.max(x1, xy[2 * i]); y0 = Math.min(y0, xy[2 * i + 1]); y1 = Math.max(y1, xy[2 * i + 1]);
  }
  const X = x => pad + (x - x0) / (x1 - x0 || 1) * (W - 2 * pad), Y = y => H - pad - (y - y0) / (y1 - y0 || 1) * (H - 2 * pad);
  const img = document.createElement("canvas");
  img.width = W; img.height = H;
  const ctx = img.getContext("2d"), colours = VAE.rules.palette;
  ctx.fillStyle = "#fafafa"; ctx.fillRect(0, 0, W, H);
  ctx.globalAlpha = 0.6;
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = colours[at.labels[i] % colours.length];
    ctx.fillRect(X(xy[2 * i]) - 1, Y(xy[2 * i + 1]) - 1, 2.5, 2.5);
  }
  return { img, X, Y };
}

function drawMini(cur, xy, cloud, mu) {
  if (!cur.mini) cur.mini = miniBase(cur);
  const m = cur.mini;
  if (!m) return;
  const ctx = mini.getContext("2d");
  ctx.drawImage(m.img, 0, 0);
  if (cloud && cloud.length > 2) {
    ctx.beginPath();
    cloud.forEach((p, i) => (i ? ctx.lineTo(m.X(p[0]), m.Y(p[1])) : ctx.moveTo(m.X(p[0]), m.Y(p[1]))));
    ctx.closePath();
    ctx.fillStyle = "rgba(249, 115, 22, 0.18)"; ctx.fill();
    ctx.setLineDash([6, 4]); ctx.strokeStyle = "#f97316"; ctx.lineWidth = 2; ctx.stroke(); ctx.setLineDash([]);
  }
  const x = m.X(xy[0]), y = m.Y(xy[1]), r = 10;
  ctx.beginPath(); ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath();
  ctx.fillStyle = "#f97316"; ctx.fill(); ctx.strokeStyle = "#111"; ctx.lineWidth = 2; ctx.stroke();
  const near = VAE.place.nearestClass(cur.at, mu);
  mini.dataset.x = String(xy[0]); mini.dataset.y = String(xy[1]);
  mini.setAttribute("aria-label", "where μ lands on the map" + (near ? `: nearest class ${near}` : ""));
}

// ---------------------------------------------------------------- the posterior chart
// per dimension: the prior's ±2 band (grey), μ (blue dot) and μ ± 2σ (blue bar); no bar without σ
function drawChart(mu, sigma) {
  const ctx = chart.getContext("2d"), Wd = chart.width, Ht = chart.height, l = 34, r = 8, t = 24, b = 26;
  const D = mu.length, lim = s.limit, step = (Wd - l - r) / D;
  const X = d => l + (d + 0.5) * step, Y = v => t + (lim - Math.max(-lim, Math.min(lim, v))) / (2 * lim) * (Ht - t - b);
  ctx.clearRect(0, 0, Wd, Ht);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, Wd, Ht);
  ctx.strokeStyle = "#e5e7eb"; ctx.fillStyle = "#6b7280"; ctx.font = "11px system-ui, sans-serif";
  for (const v of [-lim, -lim / 2, 0, lim / 2, lim]) {
    ctx.beginPath(); ctx.moveTo(l, Y(v)); ctx.lineTo(Wd - r, Y(v)); ctx.stroke();
    ctx.fillText(String(Math.round(v * 10) / 10), 4, Y(v) + 4);
  }
  ctx.fillStyle = "rgba(160,160,160,0.28)";                   // the prior's ±2 band (a VAE's; the others have none)
  if (sigma) for (let d = 0; d < D; d++) ctx.fillRect(X(d) - step * 0.3, Y(2), step * 0.6, Y(-2) - Y(2));
  ctx.strokeStyle = ctx.fillStyle = "#2563eb"; ctx.lineWidth = 2;
  for (let d = 0; d < D; d++) {
    if (sigma) {
      ctx.beginPath(); ctx.moveTo(X(d), Y(mu[d] - 2 * sigma[d])); ctx.lineTo(X(d), Y(mu[d] + 2 * sigma[d])); ctx.stroke();
      for (const v of [mu[d] - 2 * sigma[d], mu[d] + 2 * sigma[d]]) {
        ctx.beginPath(); ctx.moveTo(X(d) - 4, Y(v)); ctx.lineTo(X(d) + 4, Y(v)); ctx.stroke();
      }
    }
    ctx.beginPath(); ctx.arc(X(d), Y(mu[d]), 4, 0, 2 * Math.PI); ctx.fill();
  }
  ctx.lineWidth = 1; ctx.fillStyle = "#374151";
  ctx.fillText(sigma ? "Encoder output q(z|x): μ ± 2σ per dimension, over the prior's ±2 band"
    : "Encoder output: μ per dimension (no σ: this model's code is a point)", l, 15);
  const every = Math.ceil(D / 32);
  for (let d = 0; d < D; d += every) ctx.fillText(String(d), X(d) - 3, Ht - 8);
  chart.dataset.mu = mu.map(v => v.toFixed(3)).join(",");
  chart.dataset.sigma = sigma ? sigma.map(v => v.toFixed(3)).join(",") : "";
  chart.setAttribute("aria-label", "encoder output per dimension: μ = " + mu.map(v => v.toFixed(2)).join(", ")
    + (sigma ? "; σ = " + sigma.map(v => v.toFixed(2)).join(", ") : "; no σ"));
}

// ---------------------------------------------------------------- a model
// The pad on screen (its tab selected): the encoder and the atlas are fetched only then, so a page that never
// opens the Draw tab, or picks models while it is hidden, never downloads an encoder.
function whenShown() {
  if (element.offsetParent !== null) return Promise.resolve();
  return new Promise(resolve => {
    const seen = new IntersectionObserver(entries => {
      if (entries.some(e => e.isIntersecting)) { seen.disconnect(); resolve(); }
    });
    seen.observe(element);
  });
}

// The runtime's loads time out (runtime.js): a runtime that has not loaded in time hands over to the server.
async function onValue() {
  const v = props.value;
  if (!v || !v.model) return;
  VAE.useRules(v.rules);
  const [C, H, W] = v.shape, f = Math.max(1, Math.round(280 / W));
  const cur = { model: v.model, shape: v.shape, background: v.background, sigma: v.sigma, f, ort: v.rules.ort, mini: null,
                limit: v.limit,                       // the sliders' range (model.registry latent_limit)
                typical: v.typical,                   // {delay_ms, note}: note says why this model cannot judge
                enc: null, dec: null, at: null };
  s = cur;
  pad.width = W * f; pad.height = H * f;
  inputCanvas.width = recon.width = W; inputCanvas.height = recon.height = H;
  q(".vae-sketch-ink-label").style.display = C === 3 ? "" : "none";
  send.disabled = true;
  typicalLine.textContent = (v.typical && v.typical.note) || "how typical is it: draw something";
  delete typicalLine.dataset.for;
  stats.backend = element.dataset.backend = "loading";
  say("loading the encoder…");
  clear();
  await whenShown();
  if (s !== cur) return;
  VAE.place.atlasFor(server, cur.model).then(a => { if (s === cur) { cur.at = a; changed(performance.now()); } })
    .catch(e => { if (s === cur) { cur.atError = VAE.reason(e); say("the map cannot show the drawing: " + cur.atError); } });
  const enc = await VAE.runtime.encoderBackend(server, cur.model, cur.ort);
  const dec = await VAE.runtime.backend(server, cur.model, cur.ort, v.dim);
  if (s !== cur) return;
  cur.enc = enc; cur.dec = dec;
  stats.backend = element.dataset.backend = enc.kind;
  say(enc.kind === "wasm" ? "draw: the encoder runs in your browser (WebAssembly)"
    : `draw: encoding on the server (${enc.reason})`);
  changed(performance.now());
}

pad.addEventListener("pointerdown", onDown);
pad.addEventListener("pointermove", onMove);
pad.addEventListener("pointerup", onUp);
pad.addEventListener("pointercancel", onUp);
q(".vae-sketch-clear").addEventListener("click", () => { if (s) clear(); });
eraser.addEventListener("click", () => {
  eraser.setAttribute("aria-pressed", eraser.getAttribute("aria-pressed") === "true" ? "false" : "true");
});
send.addEventListener("click", () => {
  if (!s || !shown.mu) return;
  VAE.emit("vae:set-z", { model: s.model, z: shown.mu });
  say("μ is in the sliders (above): the decoded image and the star show it");
});
onValue();
watch("value", onValue);
