// The decoded image, live: runs inside gr.HTML's js_on_load (`element`, `props`, `server`, `watch`).
// z lives here while the sliders move: each slider `input` event changes z, and the next animation
// frame decodes z and the traversal (one batch), paints both canvases and moves the map's star
// (a `vae:star` event for map.js), with no server request. Decoding runs in WebAssembly
// (runtime.js); when that cannot load, the server's decode_pixels does it, and the status line says so.
const VAE = window.VAE;
const canvas = element.querySelector(".vae-decoded");
const stripCanvas = element.querySelector(".vae-traversal");
const statusLine = element.querySelector(".vae-status");
const download = element.querySelector(".vae-download");
const TRAVERSAL = 9;                                   // z_d from -3 to +3
const stats = (VAE.stats = VAE.stats || { latencies: [], paints: 0, backend: null });
let state = null;            // {model, z: Float32Array, dims, shape, limit, ort}
let backend = null;          // {kind, reason?, decode(zs, n) -> Promise<{data, bytes}>}
let at = null;               // the atlas (place.js) of state.model
let scheduled = false, busy = false, again = false, inputAt = null, shownAt = 0;
let echoing = false;         // true while the sliders are set to follow z (their events are not new input)

function travDim() {
  const el = document.querySelector("#trav-dim input[type=number]");
  const d = el ? parseInt(el.value, 10) : 0;
  return Number.isFinite(d) && d >= 0 && d < state.z.length ? d : 0;
}

function say(text) { if (statusLine.textContent !== text) statusLine.textContent = text; }

function serverBackend(model, reason) {
  return {
    kind: "server", reason,
    decode: async (zs, n) => {
      const D = zs.length / n, rows = [];
      for (let i = 0; i < n; i++) rows.push(Array.from(zs.subarray(i * D, (i + 1) * D)));
      const r = await server.decode_pixels(model, rows);
      const bin = atob(r.data), data = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
      return { data, bytes: true };
    },
  };
}

async function useModel(v) {
  backend = null;
  at = null;
  say("loading the decoder…");
  const model = v.model;
  server.atlas_means(model).then(a => { if (state && state.model === model) { at = VAE.place.atlas(a); schedule(); } })
    .catch(() => {});
  let b;
  try {
    const dec = await VAE.runtime.decoder(v.ort, await server.decoder_url(model));
    const D = v.z.length;
    b = { kind: "wasm", decode: async (zs, n) => ({ data: await VAE.runtime.decode(dec, zs, n, D), bytes: false }) };
  } catch (e) {
    b = serverBackend(model, String((e && e.message) || e));
  }
  if (!state || state.model !== model) return;
  backend = b;
  stats.backend = b.kind;
  element.dataset.backend = b.kind;
  if (b.kind === "server") say("decoding on the server: " + b.reason);
  schedule();
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(frame);
}

async function frame() {
  scheduled = false;
  if (!state || !backend) return;
  if (busy) { again = true; return; }
  busy = true;
  const s = state, b = backend, D = s.z.length, d = travDim(), n = 1 + TRAVERSAL;
  const zs = new Float32Array(n * D);
  for (let i = 0; i < n; i++) zs.set(s.z, i * D);
  for (let j = 0; j < TRAVERSAL; j++) zs[(1 + j) * D + d] = -3 + 6 * j / (TRAVERSAL - 1);
  const started = inputAt, t0 = performance.now();
  try {
    const out = await b.decode(zs, n);
    if (state === s && backend === b) {
      VAE.paint.image(canvas, out.data, 0, s.shape, out.bytes);
      VAE.paint.strip(stripCanvas, out.data, 1, TRAVERSAL, s.shape, out.bytes);
      if (at) document.dispatchEvent(new CustomEvent("vae:star", { detail: { model: s.model, xy: VAE.place.place(at, s.z) } }));
      const now = performance.now();
      stats.paints += 1;
      stats.model = s.model;
      stats.z = Array.from(zs.subarray(0, D));               // what was painted (tests compare it with /decode)
      element.dataset.paints = String(stats.paints);
      if (started !== null) { stats.latencies.push(now - started); if (inputAt === started) inputAt = null; }
      if (now - shownAt > 250) {
        shownAt = now;
        say(b.kind === "wasm" ? `decoding in your browser (WebAssembly), ${(now - t0).toFixed(1)} ms`
                              : `decoding on the server (${b.reason}), ${(now - t0).toFixed(0)} ms`);
      }
    }
  } catch (e) {
    say("decoding failed: " + String((e && e.message) || e).slice(0, 120));
  } finally {
    busy = false;
    if (again) { again = false; schedule(); }
  }
}

// a latent slider (or the traversal's dimension) moved: z changes here, the next frame paints it
function onInput(e) {
  if (!state || echoing) return;
  const t = e.target;
  if (t.closest && t.closest("#trav-dim")) { schedule(); return; }
  const box = t.closest && t.closest("[id^='zslider-']");
  if (!box) return;
  const i = parseInt(box.id.slice(8), 10), v = parseFloat(t.value);
  if (!Number.isFinite(v) || !(i < state.dims.length)) return;
  state.z[state.dims[i]] = Math.max(-state.limit, Math.min(state.limit, v));
  if (inputAt === null) inputAt = e.timeStamp;
  schedule();
}

// z set in the page (the 2-D map scrub): the sliders follow, as if dragged
function onSetZ(e) {
  if (!state || e.detail.model !== state.model) return;
  e.detail.z.forEach((v, d) => { state.z[d] = Math.max(-state.limit, Math.min(state.limit, v)); });
  echoing = true;              // the sliders show z to their step (0.05); z itself stays exact
  try {
    state.dims.forEach((d, i) => {
      const r = document.querySelector(`#zslider-${i} input[type=range]`);
      if (r) { r.value = String(state.z[d]); r.dispatchEvent(new Event("input", { bubbles: true })); }
    });
  } finally {
    echoing = false;
  }
  if (inputAt === null) inputAt = e.timeStamp;
  schedule();
}

// a value from the server: a new z (Reset, Random, map click, sample, Send μ) or a new model
function onValue() {
  const v = props.value;
  if (!v || !v.model) return;
  const changed = !state || state.model !== v.model;
  state = { model: v.model, z: Float32Array.from(v.z), dims: v.dims, shape: v.shape, limit: v.limit, ort: v.ort };
  canvas.setAttribute("aria-label", `decoded image of z, model ${v.model}`);
  if (changed) useModel(v); else schedule();
}

document.addEventListener("input", onInput, true);
document.addEventListener("vae:set-z", onSetZ);
download.addEventListener("click", () => { download.href = VAE.paint.pngUrl(canvas, Math.max(1, Math.round(280 / canvas.width))); });
onValue();
watch("value", onValue);
