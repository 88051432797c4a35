// The class view: every run on this server in one live grid (ui/classview.py). Runs inside gr.HTML's js_on_load
// (`element`, `props`, `server`, `trigger`, `watch`). Once a second, while the grid is on screen, it asks the
// server for what changed since the last answer's "now" (class_view): a changed run comes whole (thinned map,
// sparkline rows, numbers), an unchanged one as {job, updated}, so 30 quiet tiles cost a few hundred bytes.
// Each tile is a button: its map thumbnail (int8 points coloured by the palette Python sends, as the live view
// colours its map), the two terms as a sparkline, β, state, k-NN and the student's name, all set as text. A
// click (or Enter / Space) triggers 'select' with the run's id: the server opens it in the live view above.
// The teacher key is typed here, kept in this page's memory only, and sent with each teacher action.
// VAE.classview counts polls and tiles, for tests and benchmarks; the page never reads it.
const VAE = window.VAE;
const q = sel => element.querySelector(sel);
const grid = q(".vae-class-grid"), statusLine = q(".vae-class-status"), form = q(".vae-class-teacher");
const keyBox = q(".vae-class-key"), stopAll = q(".vae-class-stop-all"), clearDone = q(".vae-class-clear");
const says = q(".vae-class-teacher-says");
const POLL_MS = 1000, HIDDEN_MS = 2500;
const ENDED = ["done", "stopped", "failed"];
const stats = (VAE.classview = { polls: 0, tiles: 0, whole: 0, chars: 0, palette: [], teacher: false });
const tiles = new Map();        // job id -> {li, open, map, spark, name, line, knn, pause, stop, data}
let palette = [], since = null, key = null, timer = null, inFlight = false, serverHasKey = false;

function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
const say = text => setText(statusLine, text);
const tell = text => setText(says, text);

function make(tag, cls, attrs) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function newTile(job) {
  const li = make("li", "vae-tile"), open = make("button", "vae-tile-open", { type: "button" });
  const t = { li, open, data: null,
              map: make("canvas", "vae-tile-map", { width: 132, height: 132, "aria-hidden": "true" }),
              spark: make("canvas", "vae-tile-spark", { width: 132, height: 30, "aria-hidden": "true" }),
              name: make("span", "vae-tile-name"), line: make("span", "vae-tile-line"), knn: make("span", "vae-tile-knn"),
              ctl: make("span", "vae-tile-teacher"), pause: make("button", "vae-tile-pause", { type: "button" }),
              stop: make("button", "vae-tile-stop", { type: "button" }) };
  open.append(t.map, t.spark, t.name, t.line, t.knn);
  t.stop.textContent = "Stop";
  t.ctl.append(t.pause, t.stop);
  t.ctl.hidden = true;
  li.append(open, t.ctl);
  li.dataset.job = job;
  open.addEventListener("click", () => {
    trigger("select", { value: job, index: [...tiles.keys()].indexOf(job) });   // read as gr.SelectData (on_tile)
    const view = document.getElementById("train-view");
    if (view) view.scrollIntoView({ behavior: "smooth", block: "start" });
  });
  t.pause.addEventListener("click", () => act(t.data && t.data.state === "paused" ? "resume" : "pause", job));
  t.stop.addEventListener("click", () => act("stop", job));
  return t;
}

function decode(b64, Type) { return new Type(VAE.bytes(b64).buffer); }

// the thinned map: int8 positions (each run scaled to its own reach), coloured by class, fitted to the tile
// (equal scale on both axes); the faint cross is the prior's centre, z = 0, where it falls inside
function drawMap(canvas, m) {
  const ctx = canvas.getContext("2d"), W = canvas.width;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, W, W);
  if (!m || !m.n) return;
  const xy = decode(m.xy, Int8Array), labels = decode(m.labels, Uint8Array);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < m.n; i++) {
    x0 = Math.min(x0, xy[2 * i]); x1 = Math.max(x1, xy[2 * i]);
    y0 = Math.min(y0, xy[2 * i + 1]); y1 = Math.max(y1, xy[2 * i + 1]);
  }
  const k = (W - 10) / Math.max(x1 - x0, y1 - y0, 1), cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const px = x => W / 2 + (x - cx) * k, py = y => W / 2 - (y - cy) * k;
  ctx.strokeStyle = "#e3e3e3";
  ctx.beginPath(); ctx.moveTo(px(0), 0); ctx.lineTo(px(0), W); ctx.moveTo(0, py(0)); ctx.lineTo(W, py(0)); ctx.stroke();
  ctx.globalAlpha = 0.85;
  for (let i = 0; i < m.n; i++) {
    ctx.fillStyle = palette[labels[i] % palette.length] || "#333";
    ctx.fillRect(px(xy[2 * i]) - 1.5, py(xy[2 * i + 1]) - 1.5, 3, 3);
  }
  ctx.globalAlpha = 1;
}

// the two terms over the last rows, each on its own scale (the live view's colours: palette 0 and 3)
function drawSpark(canvas, recon, kl) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  [[recon, palette[0]], [kl, palette[3]]].forEach(([ys, colour]) => {
    if (!ys || ys.length < 2) return;
    const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
    ctx.strokeStyle = colour || "#333";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ys.forEach((y, i) => {
      const px = (i / (ys.length - 1)) * (W - 2) + 1, py = H - 2 - ((y - lo) / span) * (H - 4);
      if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    });
    ctx.stroke();
  });
}

const num = x => (x == null ? "?" : Number(x).toLocaleString(undefined, { maximumFractionDigits: 2 }));

function fill(t, r) {
  t.data = r;
  const name = r.name || "(no name)";
  const knn = r.knn != null ? `classes separate: ${r.knn.toFixed(2)}` : "";
  setText(t.name, name);
  setText(t.line, `${r.state} · β ${num(r.beta)} · step ${r.step || 0} · ${r.dataset}, ${r.latent_dim}-D`);
  setText(t.knn, r.state === "failed" ? (r.message || "failed") : knn);
  t.li.dataset.state = r.state;
  const label = `${name}, run ${r.job}: ${r.state}, β ${num(r.beta)}${knn ? ", " + knn : ""}. Open its live view`;
  if (t.open.getAttribute("aria-label") !== label) t.open.setAttribute("aria-label", label);
  drawMap(t.map, r.map);
  drawSpark(t.spark, r.recon, r.kl);
  controls(t);
}

function controls(t) {
  const on = key !== null, state = t.data ? t.data.state : "";
  t.ctl.hidden = !on || ENDED.includes(state);
  setText(t.pause, state === "paused" ? "Resume" : "Pause");
  const who = t.data ? t.data.name || `run ${t.data.job}` : "";
  t.pause.setAttribute("aria-label", `${t.pause.textContent} ${who}`);
  t.stop.setAttribute("aria-label", `Stop ${who}`);
}

function summary() {
  const all = [...tiles.values()].map(t => (t.data ? t.data.state : ""));
  const n = s => all.filter(x => x === s).length;
  if (!all.length) return "No runs on this server yet: each Start (here or through the API) adds one.";
  const teacher = key !== null ? "teacher controls on" : serverHasKey ? "watch-only (the teacher key turns on controls)"
    : "watch-only";
  return `${all.length} run${all.length === 1 ? "" : "s"}: ${n("running")} training, ${n("queued")} waiting, `
    + `${n("paused")} paused, ${n("done") + n("stopped") + n("failed")} ended · open one to watch it above · ${teacher}`;
}

function apply(v) {
  stats.polls += 1;
  since = v.now;
  serverHasKey = !!v.teacher;
  form.hidden = !serverHasKey;
  const present = new Set();
  let unknown = false;
  v.runs.forEach((r, i) => {
    present.add(r.job);
    let t = tiles.get(r.job);
    if (!t) { t = newTile(r.job); tiles.set(r.job, t); }
    if (r.state !== undefined) { fill(t, r); stats.whole += 1; } else if (!t.data) unknown = true;
    if (grid.children[i] !== t.li) grid.insertBefore(t.li, grid.children[i] || null);
  });
  for (const [job, t] of tiles) if (!present.has(job)) { t.li.remove(); tiles.delete(job); }
  if (unknown) since = null;                           // a run this page never saw whole: ask for every run again
  stats.tiles = tiles.size;
  say(summary());
}

function onScreen() { return !document.hidden && element.offsetParent !== null; }

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(tick, ms);
}

async function tick() {
  if (!onScreen()) { schedule(HIDDEN_MS); return; }
  if (inFlight) return;
  inFlight = true;
  try {
    const v = await VAE.runtime.within(server.class_view(since), "the class view");
    stats.chars += JSON.stringify(v).length;
    apply(v);
  } catch (e) {
    say(`the class view could not update: ${VAE.reason(e)}`);
  } finally {
    inFlight = false;
  }
  schedule(POLL_MS);
}

// ---------------------------------------------------------------- the teacher
function teacherOn(k) {
  key = k;
  stats.teacher = k !== null;
  stopAll.hidden = clearDone.hidden = k === null;
  for (const t of tiles.values()) controls(t);
  say(summary());
}

async function act(action, ref) {
  if (key === null) return;
  try {
    const r = await VAE.runtime.within(server.class_teacher(key, action, ref), "the teacher's action");
    if (!r.ok) {
      tell(r.message);
      if (/not the teacher key|no teacher key/.test(r.message)) teacherOn(null);
      return;
    }
    const done = { stop_all: `stopped ${r.stopped} runs`, clear_finished: `cleared ${r.cleared} finished runs` };
    tell(done[action] || `${action}: run ${ref}`);
  } catch (e) {
    tell(`the teacher's action failed: ${VAE.reason(e)}`);
  }
  schedule(0);
}

form.addEventListener("submit", async e => {
  e.preventDefault();
  const k = keyBox.value;
  keyBox.value = "";
  if (!k) { tell("type the teacher key first"); return; }
  try {
    const r = await VAE.runtime.within(server.class_teacher(k, "check", null), "the teacher key");
    if (r.ok) { teacherOn(k); tell("teacher controls on: pause or stop any run"); } else { teacherOn(null); tell(r.message); }
  } catch (err) {
    tell(`the key could not be checked: ${VAE.reason(err)}`);
  }
});
stopAll.addEventListener("click", () => act("stop_all", null));
clearDone.addEventListener("click", () => act("clear_finished", null));

// what a tile shows, the two terms' colours from the palette (as the live view's chart draws them)
function legend() {
  const box = q(".vae-class-legend");
  if (!box || !palette.length) return;
  // only the glyph takes the colour: a palette colour as text on the page's ground is below 4.5:1 (axe)
  const swatch = (colour) => { const s = make("span", "vae-class-swatch"); s.style.color = colour; s.textContent = "▬"; s.setAttribute("aria-hidden", "true"); return s; };
  box.replaceChildren("Each tile: 300 of its held-out images on its map, coloured by class; under it the two terms over "
    + "its last steps (each on its own scale): ", swatch(palette[0]), " reconstruction, ",
    swatch(palette[3]), " KL; then its β and state, and how well its map separates the classes (k-NN).");
}

function onValue() {
  const v = props.value || {};
  if (v.rules && v.rules.palette) { palette = stats.palette = v.rules.palette; legend(); }
}

onValue();
watch("value", onValue);
tick();
