// The walk between two images, live: runs inside gr.HTML's js_on_load (`element`, `props`, `server`,
// `watch`). The server sends the two endpoints' means (after "Interpolate"); here a t-scrubber (and
// Play) decodes the linear and the spherical point at t side by side, draws |z| along both paths with
// the current t marked, and draws both paths on the map with the current points (`vae:path` for map.js).
// lerp and slerp are latent.js's, with the guards' numbers from Python (the value's rules).
const VAE = window.VAE;
const root = element.querySelector(".vae-walk");      // carries data-t and data-paints (for tests, benchmarks)
const lin = element.querySelector(".vae-walk-linear");
const sph = element.querySelector(".vae-walk-spherical");
const chart = element.querySelector(".vae-walk-chart");
const slider = element.querySelector(".vae-walk-t");
const tText = element.querySelector(".vae-walk-tval");
const play = element.querySelector(".vae-walk-play");
const statusLine = element.querySelector(".vae-walk-status");
const PATH_POINTS = 24;
let walk = null;             // {model, a, b, shape, radius, guard, backend, at, norms}
let busy = false, again = false, playing = null;
const { lerp, norm } = VAE.latent;
const slerp = (a, b, t) => VAE.latent.slerp(a, b, t, walk.guard);

function t() { return parseInt(slider.value, 10) / 1000; }
function say(text) { statusLine.textContent = text; }

function drawChart() {
  const ctx = chart.getContext("2d"), W = chart.width, H = chart.height, pad = 28;
  ctx.clearRect(0, 0, W, H);
  if (!walk) return;
  const all = [...walk.norms.linear, ...walk.norms.spherical, walk.radius];
  const lo = 0, hi = Math.max(...all) * 1.1;
  const X = s => pad + s * (W - pad - 8), Y = v => H - pad - (v - lo) / (hi - lo) * (H - pad - 8);
  ctx.strokeStyle = "#ddd"; ctx.strokeRect(pad, 8, W - pad - 8, H - pad - 8);
  ctx.setLineDash([5, 4]); ctx.strokeStyle = "#6b7280";
  ctx.beginPath(); ctx.moveTo(X(0), Y(walk.radius)); ctx.lineTo(X(1), Y(walk.radius)); ctx.stroke();
  ctx.setLineDash([]);
  for (const [name, colour] of [["linear", "#dc2626"], ["spherical", "#16a34a"]]) {
    const v = walk.norms[name];
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
    v.forEach((y, i) => { const x = X(i / (v.length - 1)); if (i) ctx.lineTo(x, Y(y)); else ctx.moveTo(x, Y(y)); });
    ctx.stroke();
  }
  ctx.lineWidth = 1; ctx.strokeStyle = "#111";
  ctx.beginPath(); ctx.moveTo(X(t()), 8); ctx.lineTo(X(t()), H - pad); ctx.stroke();   // the current t
  ctx.fillStyle = "#374151"; ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("|z|", 4, 16); ctx.fillText("t = 0", pad, H - 10); ctx.fillText("t = 1", W - 36, H - 10);
  ctx.fillStyle = "#dc2626"; ctx.fillText("linear", pad + 40, H - 10);
  ctx.fillStyle = "#16a34a"; ctx.fillText("spherical", pad + 90, H - 10);
  ctx.fillStyle = "#6b7280"; ctx.fillText(`√D = ${walk.radius.toFixed(2)}`, pad + 160, H - 10);
}

function sendPath() {
  if (!walk || !walk.at) return;
  const paths = {}, current = {};
  for (const [name, f] of [["linear", lerp], ["spherical", slerp]]) {
    paths[name] = Array.from({ length: PATH_POINTS + 1 }, (_, i) => VAE.place.place(walk.at, f(walk.a, walk.b, i / PATH_POINTS)));
    current[name] = VAE.place.place(walk.at, f(walk.a, walk.b, t()));
  }
  VAE.emit("vae:path", { model: walk.model, paths, current });
}

async function frame() {
  if (!walk || !walk.backend) return;
  if (busy) { again = true; return; }
  busy = true;
  const w = walk, tt = t(), D = w.a.length, zs = new Float32Array(2 * D);
  zs.set(lerp(w.a, w.b, tt), 0);
  zs.set(slerp(w.a, w.b, tt), D);
  tText.textContent = `t = ${tt.toFixed(2)}`;
  try {
    const out = await w.backend.decode(zs, 2);
    if (walk === w) {
      VAE.paint.image(lin, out.data, 0, w.shape, out.bytes);
      VAE.paint.image(sph, out.data, 1, w.shape, out.bytes);
      drawChart();
      sendPath();
      root.dataset.t = String(tt);
      const shown = VAE.state.walk;
      if (shown && shown.model === w.model) shown.t = tt;                  // for lesson links (links.js)
      root.dataset.paints = String((parseInt(root.dataset.paints || "0", 10)) + 1);
    }
  } catch (e) {
    say("decoding failed: " + VAE.reason(e));
  } finally {
    busy = false;
    if (again) { again = false; frame(); }
  }
}

function stop() { if (playing) { cancelAnimationFrame(playing.raf); playing = null; play.textContent = "Play"; } }

function toggle() {
  if (playing) { stop(); return; }
  if (!walk) return;
  play.textContent = "Pause";
  const start = performance.now(), t0 = t();
  const step = now => {                                  // there and back in 4 s, from the current t
    const phase = ((now - start) / 4000 + t0 / 2) % 1;
    slider.value = String(Math.round(1000 * (phase < 0.5 ? 2 * phase : 2 - 2 * phase)));
    frame();
    playing.raf = requestAnimationFrame(step);
  };
  playing = { raf: requestAnimationFrame(step) };
}

async function onValue() {
  const v = props.value;
  stop();
  if (v) VAE.useRules(v.rules);
  if (!v || !v.model || !v.a) { walk = null; return; }
  const w = { model: v.model, a: v.a, b: v.b, shape: v.shape, radius: v.radius, guard: v.rules.slerp,
              backend: null, at: null };
  w.norms = { linear: [], spherical: [] };
  walk = w;
  for (let i = 0; i <= 100; i++) {
    w.norms.linear.push(norm(lerp(v.a, v.b, i / 100)));
    w.norms.spherical.push(norm(slerp(v.a, v.b, i / 100)));
  }
  if (Number.isFinite(v.t)) slider.value = String(Math.round(Math.max(0, Math.min(1, v.t)) * 1000));   // a lesson link's t
  VAE.state.walk = { model: v.model, a: v.a, b: v.b, t: t() };
  slider.disabled = play.disabled = false;
  say("loading the decoder…");
  w.backend = await VAE.runtime.backend(server, v.model, v.rules.ort, v.a.length);
  if (walk !== w) return;
  say(w.backend.kind === "wasm" ? "decoded in your browser (WebAssembly): drag t, or press Play"
    : "decoded on the server (" + w.backend.reason + "): drag t, or press Play");
  VAE.place.atlasFor(server, v.model).then(a => { if (walk === w) { w.at = a; sendPath(); } })
    .catch(e => { if (walk === w) say("the paths cannot be drawn on the map: " + VAE.reason(e)); });
  frame();
}

slider.addEventListener("input", () => { stop(); frame(); });
play.addEventListener("click", toggle);
slider.disabled = play.disabled = true;
onValue();
watch("value", onValue);
