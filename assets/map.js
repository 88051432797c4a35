// The latent map: a Plotly WebGL scatter of the test set's encoded means (from atlas.npz).
// Runs inside gr.HTML's js_on_load: `element`, `trigger`, `props`, `server`, `watch` are given.
// Points are fetched once per model (server.map_points_url names the file); props.value only carries the model
// name, the markers and the rules (the class palette), so moving a slider sends a few bytes, not 10,000
// points. Plotly's internals are read through VAE.plotly (bridge.js); the events through VAE.on (page.js).
// The first view does not wait for plotly.js (4.6 MB to parse, seconds of main thread on a slow laptop): the
// points are painted at once on a canvas of our own (the preview), which places the markers, takes a click
// and the keyboard; Plotly, for the hover cards, zoom, pan and the legend, loads when the map is first
// pointed at, touched or focused, or once the page has been idle (no long task, no input) for IDLE_MS after its
// first decoded image with the map on the screen.
const VAE = window.VAE;
const box = element.querySelector(".vae-map-plot");
const card = element.querySelector(".vae-map-card");
let drawnModel = null, nClassTraces = 0, hoverToken = 0;
let P = null;               // plotly.js, once loaded (VAE.plotly.load: pinned, see bridge.js)
let pts = null;             // the drawn model's points {x, y, label, classes, method}
let ptsLoading = null;      // their fetch, while it runs
let plottedModel = null;    // the model Plotly last drew
let preview = null;         // the canvas preview's frame (the same shape as VAE.plotly.frame), until Plotly draws
const IDLE_MS = 5000;       // quiet time (no long task, no input) after the first image before Plotly loads anyway:
                            // the quiet window that defines "interactive" (Lighthouse's TTI), so that it never
                            // lands in a student's drag
const MARGIN = { l: 40, r: 10, t: 10, b: 40 };   // the plot area's margins: the preview and Plotly's layout
let markers = {};           // the markers shown; a value carries only those that changed (null removes one)

// The slider position (star) and the last upload (diamond) are DOM elements laid over the plot, not
// Plotly traces: moving a trace redraws the whole 10,000-point WebGL scatter (~150 ms of main-thread
// work per slider step in software WebGL, see BENCHMARKS.md), moving a div costs nothing.
const STAR = "<svg viewBox='-12 -12 24 24'><polygon points='0,-11 3,-3.6 10.5,-3.4 4.6,1.4 6.8,8.9 0,4.5 " +
             "-6.8,8.9 -4.6,1.4 -10.5,-3.4 -3,-3.6' fill='#facc15' stroke='#111' stroke-width='1.6'/></svg>";
const DIAMOND = "<svg viewBox='-12 -12 24 24'><polygon points='0,-10 9,0 0,10 -9,0' fill='#f97316' " +
                "stroke='#111' stroke-width='1.6'/></svg>";
const overlay = {};
if (box) {                  // their key, in the corner of the plot
  const key = document.createElement("div");
  key.className = "vae-map-key";
  key.innerHTML = `<span>${STAR} slider position</span><span>${DIAMOND} your upload or drawing</span>`;
  box.parentElement.appendChild(key);
}
for (const [key, svg, title] of [["slider", STAR, "slider position"], ["upload", DIAMOND, "your upload"]]) {
  const el = document.createElement("div");
  el.className = "vae-marker vae-marker-" + key;
  el.title = title;
  el.innerHTML = svg;
  el.style.display = "none";
  (box ? box.parentElement : element).appendChild(el);
  overlay[key] = el;
}

// The star follows z every frame: live.js places it (place.js, the server's rule) and says where.
VAE.on("vae:star", d => {
  if (d.model !== drawnModel) return;
  markers.slider = d.xy;
  placeMarkers();
});

// The interpolation's two paths (walk.js): SVG polylines over the plot, re-projected like the markers.
const SVG_NS = "http://www.w3.org/2000/svg";
const COLOURS = { linear: "#dc2626", spherical: "#16a34a" };
let path = null;
const pathSvg = document.createElementNS(SVG_NS, "svg");
pathSvg.setAttribute("class", "vae-map-path");
if (box) box.parentElement.appendChild(pathSvg);
VAE.on("vae:path", d => {
  if (d.model !== drawnModel) return;
  path = d;
  placeMarkers();
});

// The drawing's posterior (sketch.js): the diamond at μ and its μ ± 2σ cloud, a polygon in map coordinates.
let cloud = null;
const cloudSvg = document.createElementNS(SVG_NS, "svg");
cloudSvg.setAttribute("class", "vae-map-cloud");
if (box) box.parentElement.insertBefore(cloudSvg, pathSvg);
VAE.on("vae:diamond", d => {
  if (d.model !== drawnModel) return;
  markers.upload = d.xy;
  cloud = d.cloud;
  placeMarkers();
});

// an SVG laid exactly over the plot area (f: VAE.plotly.frame)
function cover(svg, f) {
  svg.style.left = f.left + "px";
  svg.style.top = f.top + "px";
  svg.setAttribute("width", f.width);
  svg.setAttribute("height", f.height);
}
const points = (f, pts) => pts.map(p => f.toPx(p[0], p[1]).join(",")).join(" ");

function drawCloud(f) {
  cloudSvg.replaceChildren();
  if (!cloud || !markers.upload || !f) { delete cloudSvg.dataset.points; return; }
  cover(cloudSvg, f);
  const poly = document.createElementNS(SVG_NS, "polygon");
  poly.setAttribute("points", points(f, cloud));
  cloudSvg.appendChild(poly);
  cloudSvg.dataset.points = String(cloud.length);
}

function drawPath(f) {
  pathSvg.replaceChildren();
  if (!path || !f) return;
  cover(pathSvg, f);
  for (const [name, pts] of Object.entries(path.paths)) {
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", points(f, pts));
    line.setAttribute("stroke", COLOURS[name] || "#111");
    line.setAttribute("class", "vae-path-" + name);
    pathSvg.appendChild(line);
    const [cx, cy] = f.toPx(...path.current[name]), dot = document.createElementNS(SVG_NS, "circle");
    dot.setAttribute("cx", cx);
    dot.setAttribute("cy", cy);
    dot.setAttribute("r", 6);
    dot.setAttribute("fill", COLOURS[name] || "#111");
    dot.setAttribute("class", "vae-path-now-" + name);
    pathSvg.appendChild(dot);
  }
}

// Scrub the plane (2-D models): with the toggle on, the z under the pointer is decoded as it moves
// (Kingma & Welling's Figure 4, made continuous); live.js takes it as if the sliders were dragged.
let scrub = null;
function scrubToggle(show) {
  if (!scrub && box) {
    scrub = document.createElement("label");
    scrub.className = "vae-map-scrub";
    const input = document.createElement("input");
    input.type = "checkbox";
    scrub.append(input, document.createTextNode(" decode under the pointer"));
    box.parentElement.appendChild(scrub);
    box.addEventListener("mousemove", ev => {
      const f = frameNow();
      if (!input.checked || !f) return;
      const r = box.getBoundingClientRect();
      const px = ev.clientX - r.left - f.l, py = ev.clientY - r.top - f.t;
      if (px < 0 || py < 0 || px > f.width || py > f.height) return;
      VAE.emit("vae:set-z", { model: drawnModel, z: f.toData(px, py) });
    });
  }
  if (scrub) scrub.style.display = show ? "" : "none";
}

// the plot area now: Plotly's once it has drawn, else the preview's
const frameNow = () => VAE.plotly.frame(box) || preview;

function placeMarkers() {
  const f = frameNow();
  drawPath(f);
  drawCloud(f);
  for (const [key, el] of Object.entries(overlay)) {
    const p = markers[key];
    if (!p || !f) { el.style.display = "none"; delete el.dataset.x; continue; }
    el.dataset.x = p[0];
    el.dataset.y = p[1];
    const [px, py] = f.toPx(p[0], p[1]);
    const inside = px >= 0 && px <= f.width && py >= 0 && py <= f.height;   // hidden when panned out of view
    el.style.display = inside ? "block" : "none";
    el.style.left = (f.left + px) + "px";
    el.style.top = (f.top + py) + "px";
  }
}

// a server call that failed: one line on the map instead of a blank box
function failed(what, e) {
  card.replaceChildren(document.createTextNode(`${what}: ${VAE.reason(e)}`));
  card.style.display = "block";
  element.dataset.error = "1";
}

// The hover card, built as DOM nodes: the label comes from the server and goes in as text, never as HTML.
function showCard(c) {
  const title = document.createElement("b"), small = document.createElement("small");
  title.textContent = c.label;
  small.textContent = c.original ? "image · decoded mean" : "decoded mean";
  const parts = [title, document.createTextNode(` #${c.index}`), document.createElement("br")];
  for (const [src, what] of [[c.original, "test image"], [c.decoded, "decoded mean"]]) {
    if (!src || !String(src).startsWith("data:image/png;base64,")) continue;
    const img = document.createElement("img");
    img.src = src;
    img.title = what;
    parts.push(img, document.createTextNode(" "));
  }
  parts.push(document.createElement("br"), small);
  card.replaceChildren(...parts);
  card.style.display = "block";
}

// ---------------------------------------------------------------- the preview: our own canvas
function paintPreview(palette) {
  let cv = element.querySelector(".vae-map-preview");
  if (!cv) {
    cv = document.createElement("canvas");
    cv.className = "vae-map-preview";
    cv.setAttribute("aria-hidden", "true");               // the map's text is its keyboard line (below)
    box.parentElement.insertBefore(cv, box.nextSibling);
    cv.addEventListener("click", ev => {
      const r = cv.getBoundingClientRect(), hit = nearestPx(ev.clientX - r.left - MARGIN.l, ev.clientY - r.top - MARGIN.t);
      if (hit !== null) pick(hit);
    });
  }
  const w = box.clientWidth || 600, h = box.clientHeight || 560, dpr = window.devicePixelRatio || 1;
  cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
  cv.style.width = w + "px"; cv.style.height = h + "px";
  cv.style.left = box.offsetLeft + "px"; cv.style.top = box.offsetTop + "px";
  const pw = w - MARGIN.l - MARGIN.r, ph = h - MARGIN.t - MARGIN.b;
  const range = a => { let lo = Infinity, hi = -Infinity; for (const v of a) { if (v < lo) lo = v; if (v > hi) hi = v; }
                       const pad = 0.05 * (hi - lo || 1); return [lo - pad, hi + pad]; };
  const [x0, x1] = range(pts.x), [y0, y1] = range(pts.y);
  const toPx = (x, y) => [(x - x0) / (x1 - x0) * pw, (1 - (y - y0) / (y1 - y0)) * ph];
  const toData = (px, py) => [x0 + px / pw * (x1 - x0), y0 + (1 - py / ph) * (y1 - y0)];
  const g = cv.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.fillStyle = "#fff"; g.fillRect(0, 0, w, h);
  g.fillStyle = "#fafafa"; g.fillRect(MARGIN.l, MARGIN.t, pw, ph);
  g.globalAlpha = 0.7;
  for (let i = 0; i < pts.x.length; i++) {
    const [px, py] = toPx(pts.x[i], pts.y[i]);
    g.fillStyle = palette[pts.label[i] % palette.length];
    g.fillRect(MARGIN.l + px - 1.5, MARGIN.t + py - 1.5, 3, 3);
  }
  g.globalAlpha = 1;
  preview = { left: box.offsetLeft + MARGIN.l, top: box.offsetTop + MARGIN.t, l: MARGIN.l, t: MARGIN.t,
              width: pw, height: ph, toPx, toData };
  cv.style.display = "";
}

function hidePreview() {
  preview = null;
  const cv = element.querySelector(".vae-map-preview");
  if (cv) cv.style.display = "none";
}

// the index of the point nearest to (px, py) in the plot area, within 10 px; null when none is that near
function nearestPx(px, py) {
  const f = frameNow();
  if (!f || !pts) return null;
  let best = null, bestD = 100;
  for (let i = 0; i < pts.x.length; i++) {
    const [qx, qy] = f.toPx(pts.x[i], pts.y[i]), d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

const pick = index => trigger("select", { index, value: drawnModel });   // read as gr.SelectData

// ---------------------------------------------------------------- the keyboard: a cursor over the map
// Gradio's gr.HTML has no keyboard handling of its own: the map is one tab stop (role application), the arrow
// keys move a cursor (Shift: 5x further), the line under the map names the nearest point, and Enter or Space
// decodes it (as a click does). Home puts the cursor on the star.
let cursor = null;
const keyLine = document.createElement("div");
keyLine.className = "vae-map-keyline";
keyLine.setAttribute("aria-live", "polite");
const cursorEl = document.createElement("div");
cursorEl.className = "vae-marker vae-marker-cursor";
cursorEl.style.display = "none";
if (box) {
  const root = box.parentElement;
  root.tabIndex = 0;
  root.setAttribute("role", "application");
  root.setAttribute("aria-label", "map of the test set, coloured by class. Arrow keys move a cursor, " +
                    "Enter decodes the nearest test image, Home goes to the star");
  root.append(cursorEl, keyLine);
  root.addEventListener("keydown", onKey);
}

function nearestData(x, y) {
  let best = null, bestD = Infinity;
  for (let i = 0; i < pts.x.length; i++) {
    const d = (pts.x[i] - x) ** 2 + (pts.y[i] - y) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

function onKey(ev) {
  const f = frameNow();
  if (!f || !pts) return;
  const step = (ev.shiftKey ? 5 : 1) * 0.025;
  const [dx0, dy0] = f.toData(0, f.height), [dx1, dy1] = f.toData(f.width, 0);
  if (!cursor) cursor = markers.slider ? [...markers.slider] : [(dx0 + dx1) / 2, (dy0 + dy1) / 2];
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  if (moves[ev.key]) {
    cursor = [cursor[0] + moves[ev.key][0] * step * (dx1 - dx0), cursor[1] + moves[ev.key][1] * step * (dy1 - dy0)];
  } else if (ev.key === "Home" && markers.slider) {
    cursor = [...markers.slider];
  } else if (ev.key === "Enter" || ev.key === " ") {
    const i = nearestData(cursor[0], cursor[1]);
    if (i !== null) { pick(i); keyLine.textContent = `decoding ${describePoint(i)}`; }
    ev.preventDefault();
    return;
  } else {
    return;
  }
  ev.preventDefault();
  const i = nearestData(cursor[0], cursor[1]);
  keyLine.textContent = i === null ? "" : `nearest: ${describePoint(i)}; Enter decodes it`;
  placeCursor();
}

const describePoint = i => `${pts.classes[pts.label[i]] ?? "class " + pts.label[i]}, test image #${i}`;

function placeCursor() {
  const f = frameNow();
  if (!cursor || !f) { cursorEl.style.display = "none"; return; }
  const [px, py] = f.toPx(cursor[0], cursor[1]);
  cursorEl.style.display = "block";
  cursorEl.style.left = (f.left + px) + "px";
  cursorEl.style.top = (f.top + py) + "px";
}

// ---------------------------------------------------------------- Plotly: on first use, or when idle
let wantPlotly = false;
function plotlyNow() {
  if (wantPlotly) return;
  wantPlotly = true;
  draw();
}
if (box) {
  for (const ev of ["pointerenter", "pointerdown", "touchstart", "focusin", "wheel"]) {
    box.parentElement.addEventListener(ev, plotlyNow, { once: true, passive: true });
  }
  // idle: IDLE_MS without a long task after the first decoded image (a page that never decodes: from load)
  let lastLong = performance.now();
  try {
    new PerformanceObserver(l => { for (const e of l.getEntries()) lastLong = Math.max(lastLong, e.startTime + e.duration); })
      .observe({ type: "longtask", buffered: true });
  } catch (e) { /* no long-task timing in this browser: the quiet time counts from the first image */ }
  for (const ev of ["input", "pointerdown", "keydown", "wheel"]) {
    document.addEventListener(ev, () => { lastLong = Math.max(lastLong, performance.now()); }, { capture: true, passive: true });
  }
  const start = () => {
    const tick = () => {
      if (wantPlotly) return;
      const quiet = performance.now() - lastLong;
      if (quiet >= IDLE_MS) { (window.requestIdleCallback || setTimeout)(plotlyNow); return; }
      setTimeout(tick, IDLE_MS - quiet + 50);
    };
    lastLong = Math.max(lastLong, performance.now());
    setTimeout(tick, IDLE_MS);
  };
  // ... and only while the map is on the screen (a phone shows it below the sliders: it loads when scrolled to)
  let seen = false, painted = VAE.stats && VAE.stats.paints > 0;
  const ready = () => { if (seen && painted) start(); };
  if (!painted) { const stop = VAE.on("vae:painted", () => { stop(); painted = true; ready(); }); }
  if (window.IntersectionObserver) {
    const io = new IntersectionObserver(entries => {
      if (entries.some(e => e.isIntersecting)) { io.disconnect(); seen = true; ready(); }
    });
    io.observe(box.parentElement);
  } else { seen = true; ready(); }
}

async function draw() {
  const v = props.value || {};
  if (!v.model || !box) return;
  const palette = VAE.useRules(v.rules).palette;
  if (v.model !== drawnModel) { markers = {}; path = null; cloud = null; cursor = null; cursorEl.style.display = "none"; }
  if (v.markers && "upload" in v.markers) cloud = null;            // an upload's diamond has no drawn cloud
  Object.assign(markers, v.markers || {});
  if (drawnModel !== v.model || !pts || (wantPlotly && plottedModel !== v.model)) {
    const model = v.model;
    if (drawnModel !== model) {
      drawnModel = model;
      pts = null;
      ptsLoading = VAE.runtime.fetchJSON(server.map_points_url(model), "the map's points");
      let got;
      try {
        got = await ptsLoading;
      } catch (e) {
        if (drawnModel === model) { drawnModel = null; failed("the map could not be drawn", e); }
        return;
      }
      if (drawnModel !== model) return;                            // another model was asked for meanwhile
      pts = got;
      if (element.dataset.error) { delete element.dataset.error; card.style.display = "none"; }
      scrubToggle(pts.method === "plane");
      if (plottedModel === null) { paintPreview(palette); element.dataset.preview = "1"; }
    }
    if (!pts) {                                                    // a draw that started first is fetching them
      try { await ptsLoading; } catch (e) { return; }
      if (drawnModel !== model || !pts) return;
    }
    if (wantPlotly && plottedModel !== model) {
      try {
        P = P || await VAE.plotly.load(v.rules.plotly);
      } catch (e) {
        failed("the map's zoom and hover cards could not load", e);
        wantPlotly = false;
        placeMarkers();
        return;
      }
      if (drawnModel !== model) return;
      await drawPlotly(palette, model);
      plottedModel = model;
      hidePreview();
      element.dataset.ready = "1";
    }
  }
  placeMarkers();
  placeCursor();
}

async function drawPlotly(palette, model) {
  const traces = pts.classes.map((name, c) => {
    const idx = [];
    pts.label.forEach((l, i) => { if (l === c) idx.push(i); });
    return { type: "scattergl", mode: "markers", name, x: idx.map(i => pts.x[i]), y: idx.map(i => pts.y[i]),
             customdata: idx, marker: { size: 4, color: palette[c % palette.length], opacity: 0.7 },
             hovertemplate: name + " · #%{customdata}<extra></extra>" };
  });
  nClassTraces = traces.length;
  const axis = pts.method === "plane" ? "z" : (pts.method === "umap" ? "UMAP " : "PC ");
  const layout = {
    margin: { ...MARGIN }, dragmode: "pan", hovermode: "closest",
    legend: { orientation: "h", y: -0.12, itemsizing: "constant" }, uirevision: model,
    xaxis: { title: { text: axis + (pts.method === "plane" ? "0" : "1") }, zeroline: false },
    yaxis: { title: { text: axis + (pts.method === "plane" ? "1" : "2") }, zeroline: false },
    plot_bgcolor: "#fafafa",
  };
  await P.react(box, traces, layout, { responsive: true, displaylogo: false, scrollZoom: true });
  VAE.plotly.listen(box, {
    plotly_click: ev => {
      const p = ev.points && ev.points[0];
      if (!p || p.curveNumber >= nClassTraces) return;
      pick(p.customdata);
    },
    plotly_hover: async ev => {
      const p = ev.points && ev.points[0];
      if (!p || p.curveNumber >= nClassTraces) return;
      const token = ++hoverToken;
      let c;
      try {
        c = await VAE.runtime.within(server.hover_card(drawnModel, p.customdata), "the server");
      } catch (e) {
        if (token === hoverToken) failed(`test image #${p.customdata} could not be shown`, e);
        return;
      }
      if (token !== hoverToken) return;
      showCard(c);
    },
    plotly_unhover: () => { hoverToken++; card.style.display = "none"; },
    plotly_afterplot: () => { placeMarkers(); placeCursor(); },
    plotly_relayout: () => { placeMarkers(); placeCursor(); },
    plotly_relayouting: () => { placeMarkers(); placeCursor(); },
  });
}
draw();
watch("value", draw);
