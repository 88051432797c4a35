// The Train tab's live view: runs inside gr.HTML's js_on_load (`element`, `props`, `server`, `watch`).
// props.value names the job to watch ({job}); twice a second the page asks the server (train_view) for
// the rows after the last step it has, and the pictures of the latest update. The charts are drawn once
// per job and then extended (Plotly.extendTraces, restyle): an update is numbers and small images, never a
// whole figure. The map is a canvas: each held-out image's mean, coloured by class, over its cloud (σ).
// The time line says what the budget counts (the run's own training time, not its wait for a turn) and
// both clocks: its own seconds left, and the wall-clock estimate at its current share of the machine.
// "Explore this model" pressed while it trains returns at once (props.value.explore: the model_version it
// had): when a poll shows a newer snapshot, the view triggers 'select' with the model's name and the server
// switches the model picker to it (ui/train.py on_explore_ready).
// VAE.train counts updates, for tests and benchmarks; the page never reads it.
const VAE = window.VAE;
const q = sel => element.querySelector(sel);
const statusLine = q(".vae-train-status"), timeLine = q(".vae-train-time"), lossBox = q(".vae-train-loss"), klBox = q(".vae-train-kl");
const mapCanvas = q(".vae-train-map"), mapCaption = q(".vae-train-map-caption");
const imgs = { originals: q(".vae-train-originals"), recon: q(".vae-train-recon"), prior: q(".vae-train-prior") };
const stats = (VAE.train = { updates: 0, job: null, step: 0, state: null, marks: 0, rows: 0, knn: null, explored: null });
const POLL_MS = 500, IDLE_MS = 3000;
const ENDED = ["done", "stopped", "failed", "unknown"];
let job = null, lastStep = -1, seen = null, marksDrawn = -1, timer = null, inFlight = false, gen = 0, palette = [];
let exploreAfter = null, endedPolls = 0;         // Explore this model: the snapshot version to wait past
const EXPLORE_GIVE_UP = 3;                       // polls of an ended run without a newer snapshot: none is coming

function say(text) { if (statusLine.textContent !== text) statusLine.textContent = text; }

function layout(title, extra) {
  return Object.assign({ title: { text: title, font: { size: 13 } }, height: 260, margin: { l: 50, r: 50, t: 34, b: 36 },
                         legend: { orientation: "h", y: -0.25 }, showlegend: true }, extra);
}

function resetCharts() {
  const P = VAE.plotly.lib();
  if (!P) return;
  P.newPlot(lossBox, [
    { x: [], y: [], name: "reconstruction −log p(x|z)", mode: "lines", line: { color: palette[0] } },
    { x: [], y: [], name: "KL(q(z|x) ‖ N(0, I))", mode: "lines", yaxis: "y2", line: { color: palette[3] } },
  ], layout("the tug-of-war: the ELBO's two terms per step (nats)", {
    xaxis: { title: { text: "step" } }, yaxis: { title: { text: "recon" } },
    yaxis2: { title: { text: "KL" }, overlaying: "y", side: "right" } }), { displayModeBar: false, responsive: true });
  P.newPlot(klBox, [{ x: [], y: [], type: "bar", marker: { color: palette[3] }, name: "KL" }],
            layout("KL per latent dimension (nats): awake or collapsed", {
              showlegend: false, xaxis: { title: { text: "dimension" } }, yaxis: { rangemode: "tozero" } }),
            { displayModeBar: false, responsive: true });
  marksDrawn = -1;
}

function drawMarks(marks) {
  const P = VAE.plotly.lib();
  if (!P || marks.length === marksDrawn) return;
  marksDrawn = marks.length;
  stats.marks = marks.length;
  P.relayout(lossBox, {
    shapes: marks.map(m => ({ type: "line", xref: "x", yref: "paper", x0: m.step, x1: m.step, y0: 0, y1: 1,
                              line: { color: "#555", dash: "dot", width: 1.5 } })),
    annotations: marks.map((m, i) => ({ x: m.step, xref: "x", yref: "paper", y: 1 - 0.08 * (i % 3), text: m.text,
                                        showarrow: false, xanchor: "left", font: { size: 11 }, bgcolor: "rgba(255,255,255,0.8)" })),
  });
}

function addRows(rows) {
  const P = VAE.plotly.lib();
  if (!P || !rows.length) return;
  P.extendTraces(lossBox, { x: [rows.map(r => r.step), rows.map(r => r.step)],
                            y: [rows.map(r => r.recon), rows.map(r => r.kl)] }, [0, 1]);
  lastStep = rows[rows.length - 1].step;
  stats.rows += rows.length;
}

function decode(b64, Type) {
  return new Type(VAE.bytes(b64).buffer);
}

function drawMap(m, knn) {
  const ctx = mapCanvas.getContext("2d"), W = mapCanvas.width, H = mapCanvas.height;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, W, H);
  if (!m) return;
  const xy = decode(m.xy, Int16Array), s = decode(m.sigma, Int16Array), labels = decode(m.labels, Uint8Array);
  const half = W / 2, k = half / 32767;               // the map spans ± its reach (the int16 range)
  ctx.strokeStyle = "#ddd";
  ctx.beginPath(); ctx.moveTo(half, 0); ctx.lineTo(half, H); ctx.moveTo(0, half); ctx.lineTo(W, half); ctx.stroke();
  const colour = i => palette[labels[i] % palette.length] || "#333";
  ctx.globalAlpha = 0.05;                              // the clouds: ±1σ ellipses, faint so overlaps show
  for (let i = 0; i < m.n; i++) {
    ctx.fillStyle = colour(i);
    ctx.beginPath();
    ctx.ellipse(half + xy[2 * i] * k, half - xy[2 * i + 1] * k, Math.max(1, s[2 * i] * k), Math.max(1, s[2 * i + 1] * k), 0, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.globalAlpha = 0.9;
  for (let i = 0; i < m.n; i++) {
    ctx.fillStyle = colour(i);
    ctx.fillRect(half + xy[2 * i] * k - 1.5, half - xy[2 * i + 1] * k - 1.5, 3, 3);
  }
  ctx.globalAlpha = 1;
  const names = m.classes.length > 1 ? " · colours: " + m.classes.slice(0, 10).join(", ") : "";
  const sep = knn != null ? ` · classes separate: ${knn.toFixed(2)}` : "";
  mapCaption.textContent = `${m.n} held-out images' means and clouds (±σ) on ${m.method}${names}${sep}`;
}

function clock(s) {
  s = Math.max(0, Math.round(s));
  return s < 90 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

// what the budget counts, and both clocks (the service's status: seconds_left, own_seconds, wall_seconds_left, sharing)
function timeText(v) {
  const budget = v.settings ? v.settings.seconds : null;
  if (budget == null) return "";
  const others = v.sharing > 0 ? `; it shares the machine with ${v.sharing} other run${v.sharing === 1 ? "" : "s"}` : "";
  const what = `budget: ${clock(budget)} of its own training time (waiting for its turn is not counted)`;
  if (v.state === "queued") return what;
  if (ENDED.includes(v.state)) return `${what} · it trained for ${clock(v.own_seconds || 0)}`;
  const wall = v.wall_seconds_left != null ? `, about ${clock(v.wall_seconds_left)} on the clock` : "";
  return `${what}${others} · ${clock(v.seconds_left)} of it left${wall}`;
}

// Explore this model, pressed while it trains: switch the picker once the newer snapshot is registered
function explored(v) {
  if (exploreAfter === null) return "";
  if (v.model && v.model_version > exploreAfter) {
    exploreAfter = null;
    stats.explored = v.model;
    trigger("select", { value: v.model, index: v.model_version });     // read as gr.SelectData (on_explore_ready)
    return ` · opening ${v.model} in every tab`;
  }
  if (ENDED.includes(v.state) && ++endedPolls > EXPLORE_GIVE_UP) {
    exploreAfter = null;
    return " · the run ended before its snapshot was written: no model to explore";
  }
  return " · writing the model: weights, map and metrics…";
}

function show(v) {
  stats.updates += 1;
  stats.state = v.state;
  stats.step = v.step || 0;
  stats.knn = v.knn;
  const rate = v.images_per_s ? `, ${Math.round(v.images_per_s).toLocaleString()} images/s` : "";
  const model = v.model ? ` · model: ${v.model}` : "";
  const who = v.name ? ` (${v.name})` : "";                      // textContent: a name is text, never HTML
  const knn = v.knn != null ? ` · classes separate: ${v.knn.toFixed(2)}` : "";
  say(`${v.job || ""}${who} ${v.state}: ${v.message || ""} · step ${v.step || 0}${rate} · β ${v.beta}, lr ${v.lr}`
      + `${knn}${model}${explored(v)}`);
  const t = timeText(v);
  if (timeLine.textContent !== t) timeLine.textContent = t;
  addRows(v.history || []);
  drawMarks(v.marks || []);
  if (v.kl_per_dim) {
    const P = VAE.plotly.lib();
    if (P) P.restyle(klBox, { x: [v.kl_per_dim.map((_, i) => `z${i + 1}`)], y: [v.kl_per_dim] }, [0]);
  }
  if (v.map) drawMap(v.map, v.knn);
  if (v.updated != null) seen = v.updated;
  for (const key of ["originals", "recon", "prior"]) if (v[key] && imgs[key].src !== v[key]) imgs[key].src = v[key];
}

async function tick(myGen) {
  if (myGen !== gen || !job) return;
  if (inFlight) { clearTimeout(timer); timer = setTimeout(() => tick(myGen), 100); return; }   // a switch mid-poll
  inFlight = true;
  let next = POLL_MS;
  try {
    const v = await VAE.runtime.within(server.train_view(job, lastStep, seen), "the training view");
    if (myGen !== gen) return;
    show(v);
    if (ENDED.includes(v.state)) next = IDLE_MS;       // an ended run may be resumed: look now and then
  } catch (e) {
    say(`the live view could not update: ${VAE.reason(e)}`);
    next = IDLE_MS;
  } finally {
    inFlight = false;
  }
  if (myGen === gen) timer = setTimeout(() => tick(myGen), next);
}

function onValue() {
  const v = props.value || {};
  if (v.rules && v.rules.palette) palette = v.rules.palette;
  if (v.explore != null && v.job === job) { exploreAfter = v.explore; endedPolls = 0; }
  if (v.job === job) return;
  gen += 1;
  clearTimeout(timer);
  job = v.job || null;
  stats.job = job;
  lastStep = -1;
  seen = null;
  exploreAfter = v.explore != null ? v.explore : null;
  endedPolls = 0;
  stats.rows = 0;
  resetCharts();
  drawMap(null);
  for (const img of Object.values(imgs)) img.removeAttribute("src");
  if (job) { say(`watching run ${job}…`); tick(gen); }
}

onValue();
watch("value", onValue);
