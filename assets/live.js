// The decoded image, live: runs inside gr.HTML's js_on_load (`element`, `props`, `server`, `watch`).
// z lives here while the sliders move: each slider `input` event changes z, which is decoded at once
// (one z, ~1 ms in WebAssembly, runtime.js) and painted; the traversal strip follows on the next
// animation frame, and the map's star moves (a `vae:star` event for map.js). No server request.
// What is painted is VAE.state.model and VAE.state.z (page.js); VAE.stats counts the paints.
// While the WebAssembly decoder loads, or when it cannot, the server's decode_pixels decodes instead,
// and the status line says which one is in use.
// The sliders are native rows (ranges.js; the latent and attribute ones built by sliders.js, the traversal's
// dimension in this component's template), told apart by their ids: zslider-i, attr-i, trav-dim.
// Attribute sliders (#attr-i, White 2016) add amount * v to z here too: z = base + sum_i amount_i v_i,
// with the directions v sent in the component's value; the latent sliders follow z.
const VAE = window.VAE;
const canvas = element.querySelector(".vae-decoded");
const stripCanvas = element.querySelector(".vae-traversal");
const statusLine = element.querySelector(".vae-status");
const download = element.querySelector(".vae-download");
const stats = VAE.stats;
let state = null;            // {model, z: Float32Array, dims, shape, limit, attrs, amounts, base, sweep}
let backend = null;          // {kind: "wasm" | "server", reason?, decode(zs, n) -> Promise<{data, bytes}>}
let at = null;               // the atlas of state.model (place.js), for the star
let atError = "";            // why the atlas did not load: said on the status line after every paint
let busy = false, again = false, stripWanted = false, inputAt = null, shownAt = 0;

function say(text) { if (statusLine.textContent !== text) statusLine.textContent = text; }

function travDim() {
  const d = VAE.ranges.value("trav-dim");
  return Number.isInteger(d) && d >= 0 && d < state.z.length ? d : 0;
}

// a new model: the server paints the first image at once while the WebAssembly decoder loads
async function useModel(v) {
  const model = v.model;
  at = null;
  atError = "";
  backend = VAE.runtime.serverBackend(server, model, "while the WebAssembly decoder loads");
  VAE.state.backend = element.dataset.backend = "loading";
  say("decoding on the server while the WebAssembly decoder loads…");
  request();
  VAE.place.atlasFor(server, model).then(a => { if (state && state.model === model) { at = a; request(); } })
    .catch(e => { if (state && state.model === model) { atError = VAE.reason(e); shownAt = 0; request(); } });
  const b = await VAE.runtime.backend(server, model, v.rules.ort, v.z.length);
  if (!state || state.model !== model) return;
  backend = b;
  VAE.state.backend = element.dataset.backend = b.kind;
  if (b.kind === "wasm") VAE.describe.prepare(server, model, v.rules.ort);    // the decoded image in words
  shownAt = 0;                 // the status line names the new path at its first paint
  if (b.kind === "server") say("decoding on the server: " + b.reason);
  request();
}

// z, then the traversal rows: z with dimension d swept over the traversal's values (sent by Python)
function batch(s, rows) {
  const D = s.z.length, d = travDim(), zs = new Float32Array(rows * D);
  for (let i = 0; i < rows; i++) zs.set(s.z, i * D);
  for (let j = 0; j + 1 < rows; j++) zs[(1 + j) * D + d] = s.sweep[j];
  return zs;
}

// one decode at a time; a change meanwhile runs right after it
function request() {
  if (busy) { again = true; return; }
  run();
}

function failed(e) { say("decoding failed: " + VAE.reason(e)); }

async function run() {
  const s = state, b = backend;
  if (!s || !b) return;
  busy = true;
  const started = inputAt, t0 = performance.now(), D = s.z.length;
  inputAt = null;
  // the server path sends the traversal in the same request; WebAssembly decodes it on its own frame
  const rows = b.kind === "wasm" ? 1 : 1 + s.sweep.length, zs = batch(s, rows);
  try {
    const out = await b.decode(zs, rows);
    if (state === s && backend === b) {
      VAE.paint.image(canvas, out.data, 0, s.shape, out.bytes);
      if (rows > 1) VAE.paint.strip(stripCanvas, out.data, 1, s.sweep.length, s.shape, out.bytes);
      else stripWanted = true;
      painted(s, zs.subarray(0, D), started, performance.now() - t0, b);
    }
  } catch (e) {
    failed(e);
  } finally {
    busy = false;
    if (again) { again = false; run(); } else if (stripWanted) requestAnimationFrame(runStrip);
  }
}

async function runStrip() {
  const s = state, b = backend;
  if (!stripWanted || !s || !b || b.kind !== "wasm") return;
  if (busy) { requestAnimationFrame(runStrip); return; }
  busy = true;
  stripWanted = false;
  try {
    const n = s.sweep.length, out = await b.decode(batch(s, 1 + n).subarray(s.z.length), n);
    if (state === s && backend === b) VAE.paint.strip(stripCanvas, out.data, 0, n, s.shape, out.bytes);
  } catch (e) {
    failed(e);
  } finally {
    busy = false;
    if (again) { again = false; run(); }
  }
}

// the decoded image's text alternative (describe.js): what the classifier sees in it, or else what it is nearest
// to on the map (the class of the nearest test mean)
VAE.describe.attach(canvas, element.querySelector(".vae-describe"), element.querySelector(".vae-describe-live"));
function describe(s, z) {
  const near = at && VAE.place.nearestClass ? VAE.place.nearestClass(at, z) : null;
  VAE.describe.painted(s.model, near ? `nearest class on the map: ${near}` : "");
}

function painted(s, z, started, ms, b) {
  if (at) VAE.emit("vae:star", { model: s.model, xy: VAE.place.place(at, z) });
  describe(s, z);
  const now = performance.now();
  VAE.state.model = s.model;
  VAE.state.z = Array.from(z);                                    // what was painted (tests compare it with /decode)
  stats.paints += 1;
  if (stats.firstPaint === undefined) stats.firstPaint = now;     // ms since navigation started
  element.dataset.paints = String(stats.paints);
  if (started !== null) {                                        // the last 1,000 (benchmarks read them)
    stats.latencies.push(now - started);
    if (stats.latencies.length > 1000) stats.latencies.splice(0, stats.latencies.length - 1000);
  }
  VAE.emit("vae:painted", { model: s.model });
  if (now - shownAt > 250) {
    shownAt = now;
    say((b.kind === "wasm" ? `decoding in your browser (WebAssembly), ${ms.toFixed(1)} ms`
      : `decoding on the server (${b.reason}), ${ms.toFixed(0)} ms`)
      + (atError ? ` · the star cannot be placed on the map: ${atError}` : ""));
  }
}

// what the attribute sliders add to dimension d
function offset(s, d) {
  let o = 0;
  s.attrs.forEach((a, i) => { o += s.amounts[i] * a.v[d]; });
  return o;
}

// sliders set to show values, with no input event (z to the sliders' step; z itself stays exact)
function echo(prefix, values) {
  values.forEach((v, i) => VAE.ranges.set(prefix + i, v));
}
const showZ = () => echo("zslider-", state.dims.map(d => state.z[d]));

// an attribute slider moved: z = base + sum_i amount_i v_i, the latent sliders follow
function onAttribute(i, v) {
  if (!(i < state.attrs.length)) return false;
  state.amounts[i] = v;
  state.z = state.base.map((b, d) => Math.max(-state.limit, Math.min(state.limit, b + offset(state, d))));
  showZ();
  return true;
}

// a latent slider (or the traversal's dimension, or an attribute) moved: z changes here, painted at once
function onInput(e) {
  if (!state) return;
  const id = VAE.gradio.componentId(e.target, ["trav-dim", "zslider-", "attr-"]);
  if (id === "trav-dim") { stripWanted = true; request(); return; }
  if (!id) return;
  const attr = id.startsWith("attr-");
  const i = parseInt(id.slice(attr ? 5 : 8), 10), v = parseFloat(e.target.value);
  if (!Number.isFinite(v) || !Number.isFinite(i)) return;
  if (attr) {
    if (!onAttribute(i, v)) return;
  } else {
    if (!(i < state.dims.length)) return;
    const d = state.dims[i];
    state.z[d] = Math.max(-state.limit, Math.min(state.limit, v));
    state.base[d] = state.z[d] - offset(state, d);
  }
  if (inputAt === null) inputAt = e.timeStamp;
  request();
}

// z set in the page (the 2-D map scrub, a lesson link, Send μ): the sliders follow, as if dragged
function onSetZ(detail, e) {
  if (!state || detail.model !== state.model) return;
  detail.z.forEach((v, d) => {
    state.z[d] = Math.max(-state.limit, Math.min(state.limit, v));
    state.base[d] = state.z[d] - offset(state, d);
  });
  showZ();
  if (inputAt === null) inputAt = e.timeStamp;
  request();
}

// a value from the server: a new z (Reset, Random, map click, sample, Send μ) or a new model
function onValue() {
  const v = props.value;
  if (!v || !v.model) return;
  VAE.useRules(v.rules);
  const changed = !state || state.model !== v.model;
  const attrs = (v.attributes || []).map(a => ({ name: a.name, v: Float32Array.from(a.v) }));
  state = { model: v.model, z: Float32Array.from(v.z), dims: v.dims, shape: v.shape, limit: v.limit,
            attrs, amounts: new Float32Array(attrs.length), base: Float32Array.from(v.z),
            sweep: v.rules.traversal };                             // the values z_d takes, from Python
  echo("attr-", Array.from(state.amounts));                       // a new z starts with no attributes
  canvas.setAttribute("aria-label", `decoded image of z, model ${v.model}`);
  if (changed) {                                                  // the traversal's dimension: 0 of the new z
    VAE.ranges.limits("trav-dim", 0, state.z.length - 1);
    VAE.ranges.set("trav-dim", 0);
    useModel(v);
  } else request();
}

document.addEventListener("input", onInput, true);
VAE.on("vae:set-z", onSetZ);
download.addEventListener("click", () => { download.href = VAE.paint.pngUrl(canvas, Math.max(1, Math.round(280 / canvas.width))); });
onValue();
watch("value", onValue);
