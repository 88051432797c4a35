// The latent map: a scatter of the test set's encoded means (from atlas.npz), drawn on a canvas of our own.
// Runs inside gr.HTML's js_on_load: `element`, `trigger`, `props`, `server`, `watch` are given.
// Points are fetched once per model (server.map_points_url names the file); props.value only carries the model
// name, the markers and the rules (the class palette), so moving a slider sends a few bytes, not 10,000
// points. The events come through VAE.on (page.js).
// The canvas does what a Plotly WebGL scatter did here before (hover cards, a click decodes, wheel zoom, drag pan,
// a legend that hides classes) without plotly.js: 4.6 MB and seconds of a slow laptop's main thread to parse,
// and a software-WebGL redraw of every point per change. 10,000 squares paint in a few milliseconds.
const VAE = window.VAE;
const box = element.querySelector(".vae-map-plot");
const card = element.querySelector(".vae-map-card");
let drawnModel = null, hoverToken = 0;
let pts = null;             // the drawn model's points {x, y, label, classes, method}
let palette = [];           // the class colours (the server's rule: Paul Tol's muted palette, for colour-blind readers)
let hidden = new Set();     // classes hidden from the legend
let home = null, view = null;   // the data ranges [x0, x1, y0, y1]: all points, and what is shown now
let frame = null;           // the plot area now: its offset in the map's box, size, data <-> pixel maps
const MARGIN = { l: 56, r: 12, t: 10, b: 44 };   // room for the tick labels and the axis titles
const HIT2 = 10 * 10;       // a point answers the pointer within 10 px
let markers = {};           // the markers shown; a value carries only those that changed (null removes one)

// The slider position (star) and the last upload (diamond) are DOM elements laid over the canvas, not painted on
// it: the star moves with every slider step, and moving a div costs nothing, where repainting 10,000 points would
// cost milliseconds each time.
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

// an SVG laid exactly over the plot area (f: the frame)
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
      const f = frame;
      if (!input.checked || !f) return;
      const r = box.getBoundingClientRect();
      const px = ev.clientX - r.left - f.l, py = ev.clientY - r.top - f.t;
      if (px < 0 || py < 0 || px > f.width || py > f.height) return;
      VAE.emit("vae:set-z", { model: drawnModel, z: f.toData(px, py) });
    });
  }
  if (scrub) scrub.style.display = show ? "" : "none";
}

function placeMarkers() {
  const f = frame;
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

// ---------------------------------------------------------------- the canvas: points, axes, legend
const cv = document.createElement("canvas");
cv.className = "vae-map-canvas";
cv.setAttribute("aria-hidden", "true");       // the map's text: its legend, hover cards and keyboard line
const legend = document.createElement("div");
legend.className = "vae-map-legend";
legend.setAttribute("role", "group");
legend.setAttribute("aria-label", "classes on the map: press one to hide or show its points");
if (box) { box.appendChild(cv); box.after(legend); }

// ticks at 1, 2 or 5 times a power of ten, about n of them over [lo, hi]
function ticks(lo, hi, n) {
  const raw = (hi - lo) / n, p = 10 ** Math.floor(Math.log10(raw)), m = raw / p;
  const step = (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p, out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { out, digits: Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) };
}

// the padded range of all points: the view a double click (or 0) goes back to
function fullRange() {
  const range = a => { let lo = Infinity, hi = -Infinity; for (const v of a) { if (v < lo) lo = v; if (v > hi) hi = v; }
                       const pad = 0.05 * (hi - lo || 1); return [lo - pad, hi + pad]; };
  return [...range(pts.x), ...range(pts.y)];
}

let painting = 0;
const repaint = () => { if (!painting) painting = requestAnimationFrame(paint); };

function paint() {
  painting = 0;
  if (!pts || !box) return;
  const w = box.clientWidth || 600, h = box.clientHeight || 560, dpr = window.devicePixelRatio || 1;
  if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
    cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
    cv.style.width = w + "px"; cv.style.height = h + "px";
  }
  const pw = w - MARGIN.l - MARGIN.r, ph = h - MARGIN.t - MARGIN.b;
  const [x0, x1, y0, y1] = view;
  const sx = pw / (x1 - x0), sy = ph / (y1 - y0);
  const toPx = (x, y) => [(x - x0) * sx, (y1 - y) * sy];
  const toData = (px, py) => [x0 + px / sx, y1 - py / sy];
  frame = { left: box.offsetLeft + MARGIN.l, top: box.offsetTop + MARGIN.t, l: MARGIN.l, t: MARGIN.t,
            width: pw, height: ph, toPx, toData };
  const g = cv.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.fillStyle = "#fff"; g.fillRect(0, 0, w, h);
  g.fillStyle = "#fafafa"; g.fillRect(MARGIN.l, MARGIN.t, pw, ph);
  // grid, ticks and titles (the tick labels #374151 on white: 10:1)
  g.font = "12px system-ui, sans-serif"; g.fillStyle = "#374151"; g.strokeStyle = "#e5e7eb"; g.lineWidth = 1;
  const tx = ticks(x0, x1, Math.max(2, Math.round(pw / 90))), ty = ticks(y0, y1, Math.max(2, Math.round(ph / 70)));
  g.textAlign = "center"; g.textBaseline = "top";
  for (const v of tx.out) {
    const px = Math.round(MARGIN.l + (v - x0) * sx) + 0.5;
    g.beginPath(); g.moveTo(px, MARGIN.t); g.lineTo(px, MARGIN.t + ph); g.stroke();
    g.fillText(v.toFixed(tx.digits), px, MARGIN.t + ph + 4);
  }
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const v of ty.out) {
    const py = Math.round(MARGIN.t + (y1 - v) * sy) + 0.5;
    g.beginPath(); g.moveTo(MARGIN.l, py); g.lineTo(MARGIN.l + pw, py); g.stroke();
    g.fillText(v.toFixed(ty.digits), MARGIN.l - 5, py);
  }
  const plane = pts.method === "plane", axis = plane ? "z" : (pts.method === "umap" ? "UMAP " : "PC ");
  g.textAlign = "center"; g.textBaseline = "bottom";
  g.fillText(axis + (plane ? "0" : "1"), MARGIN.l + pw / 2, h - 2);
  g.save(); g.translate(13, MARGIN.t + ph / 2); g.rotate(-Math.PI / 2); g.textBaseline = "middle";
  g.fillText(axis + (plane ? "1" : "2"), 0, 0); g.restore();
  // the points, one class at a time (one fill colour each), clipped to the plot area
  g.save(); g.beginPath(); g.rect(MARGIN.l, MARGIN.t, pw, ph); g.clip();
  g.globalAlpha = 0.75;
  const byClass = pts.byClass;
  for (let c = 0; c < byClass.length; c++) {
    if (hidden.has(c)) continue;
    g.fillStyle = palette[c % palette.length];
    for (const i of byClass[c]) {
      const px = MARGIN.l + (pts.x[i] - x0) * sx, py = MARGIN.t + (y1 - pts.y[i]) * sy;
      if (px > -2 && py > -2 && px < w + 2 && py < h + 2) g.fillRect(px - 1.5, py - 1.5, 3, 3);
    }
  }
  g.restore();
  g.strokeStyle = "#9ca3af"; g.strokeRect(MARGIN.l + 0.5, MARGIN.t + 0.5, pw - 1, ph - 1);
  placeMarkers();
  placeCursor();
}

// the legend: one toggle button per class, its colour and its name (the name tells the classes apart too)
function buildLegend() {
  legend.replaceChildren(...pts.classes.map((name, c) => {
    const b = document.createElement("button"), swatch = document.createElement("span");
    b.type = "button";
    b.className = "vae-map-class";
    b.setAttribute("aria-pressed", hidden.has(c) ? "false" : "true");
    swatch.className = "vae-map-swatch";
    swatch.setAttribute("aria-hidden", "true");
    swatch.style.background = palette[c % palette.length];
    b.append(swatch, document.createTextNode(name));
    b.addEventListener("click", () => {
      if (hidden.has(c)) hidden.delete(c); else hidden.add(c);
      b.setAttribute("aria-pressed", hidden.has(c) ? "false" : "true");
      repaint();
    });
    return b;
  }));
}

// the index of the shown point nearest to (px, py) in the plot area, within 10 px; null when none is that near
function nearestPx(px, py) {
  const f = frame;
  if (!f || !pts) return null;
  let best = null, bestD = HIT2;
  for (let i = 0; i < pts.x.length; i++) {
    if (hidden.has(pts.label[i])) continue;
    const [qx, qy] = f.toPx(pts.x[i], pts.y[i]), d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

// zoom by k (< 1: in) about the data point (cx, cy), which stays under the pointer
function zoom(k, cx, cy) {
  const [x0, x1, y0, y1] = view;
  view = [cx + (x0 - cx) * k, cx + (x1 - cx) * k, cy + (y0 - cy) * k, cy + (y1 - cy) * k];
  repaint();
}

// The pointer: hover shows a point's card, a click (or tap) decodes it, a drag pans, the wheel zooms about the
// pointer, a double click shows every point again.
let drag = null, hovered = null;
const local = ev => { const r = box.getBoundingClientRect(); return [ev.clientX - r.left - MARGIN.l, ev.clientY - r.top - MARGIN.t]; };
function hover(i) {
  if (i === hovered) return;
  hovered = i;
  cv.style.cursor = i === null ? "" : "pointer";
  const token = ++hoverToken;
  if (i === null) { if (!element.dataset.error) card.style.display = "none"; return; }
  VAE.runtime.within(server.hover_card(drawnModel, i), "the server").then(c => { if (token === hoverToken) showCard(c); },
    e => { if (token === hoverToken) failed(`test image #${i} could not be shown`, e); });
}
if (box) {
  cv.addEventListener("pointerdown", ev => {
    if (!frame || ev.button !== 0) return;
    drag = { id: ev.pointerId, at: [ev.clientX, ev.clientY], view: [...view], moved: false, touch: ev.pointerType === "touch" };
  });
  cv.addEventListener("pointermove", ev => {
    if (!frame) return;
    if (drag && drag.id === ev.pointerId && !drag.touch) {     // a finger scrolls the page; a mouse or pen pans
      const dx = ev.clientX - drag.at[0], dy = ev.clientY - drag.at[1];
      if (!drag.moved && dx * dx + dy * dy < 16) return;
      if (!drag.moved) { drag.moved = true; cv.setPointerCapture(ev.pointerId); hover(null); }
      const [x0, x1, y0, y1] = drag.view, kx = (x1 - x0) / frame.width, ky = (y1 - y0) / frame.height;
      view = [x0 - dx * kx, x1 - dx * kx, y0 + dy * ky, y1 + dy * ky];
      repaint();
      return;
    }
    const [px, py] = local(ev);
    hover(px < 0 || py < 0 || px > frame.width || py > frame.height ? null : nearestPx(px, py));
  });
  cv.addEventListener("pointerleave", () => { if (!drag) hover(null); });
  cv.addEventListener("pointercancel", () => { drag = null; });
  cv.addEventListener("pointerup", ev => {
    const d = drag;
    drag = null;
    if (!d || d.moved || !frame) return;
    const [px, py] = local(ev), i = nearestPx(px, py);
    if (i !== null) pick(i);
  });
  cv.addEventListener("wheel", ev => {
    if (!frame) return;
    ev.preventDefault();
    const [px, py] = local(ev), [cx, cy] = frame.toData(px, py);
    zoom(Math.exp(Math.max(-1, Math.min(1, ev.deltaY * (ev.deltaMode ? 33 : 1) * 0.002))), cx, cy);
  }, { passive: false });
  cv.addEventListener("dblclick", () => { if (home) { view = [...home]; repaint(); } });
  if (window.ResizeObserver) new ResizeObserver(repaint).observe(box);
}

// for tests and tools: where a point is drawn (page pixels), or null when it is hidden or out of view
VAE.map = {
  pointAt(i) {
    if (!frame || !pts || hidden.has(pts.label[i])) return null;
    const r = box.getBoundingClientRect(), [px, py] = frame.toPx(pts.x[i], pts.y[i]);
    if (px < 0 || py < 0 || px > frame.width || py > frame.height) return null;
    return { x: r.left + window.scrollX + frame.l + px, y: r.top + window.scrollY + frame.t + py, index: i, label: pts.label[i] };
  },
  // a shown point at least 20 px inside the plot area with no other shown point within gap px (a click or hover
  // there can only mean it), or null
  isolated(gap) {
    const at = pts.x.map((x, i) => hidden.has(pts.label[i]) ? null : frame.toPx(x, pts.y[i]));
    const inside = p => p && p[0] > 20 && p[1] > 20 && p[0] < frame.width - 20 && p[1] < frame.height - 20;
    for (let i = 0; i < at.length; i++) {
      if (!inside(at[i])) continue;
      let near = Infinity;
      for (let j = 0; j < at.length && near >= gap; j++) {
        if (j !== i && at[j]) near = Math.min(near, Math.hypot(at[i][0] - at[j][0], at[i][1] - at[j][1]));
      }
      if (near >= gap) return i;
    }
    return null;
  },
  frame: () => frame && { ...frame, box: box.getBoundingClientRect() },
};

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
                    "Enter decodes the nearest test image, Home goes to the star, plus and minus zoom, 0 shows all");
  root.append(cursorEl, keyLine);
  root.addEventListener("keydown", onKey);
}

function nearestData(x, y) {
  let best = null, bestD = Infinity;
  for (let i = 0; i < pts.x.length; i++) {
    if (hidden.has(pts.label[i])) continue;
    const d = (pts.x[i] - x) ** 2 + (pts.y[i] - y) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

function onKey(ev) {
  const f = frame;
  if (!f || !pts || ev.target !== ev.currentTarget) return;      // not the legend's buttons, which are inside
  const step = (ev.shiftKey ? 5 : 1) * 0.025;
  const [dx0, dy0] = f.toData(0, f.height), [dx1, dy1] = f.toData(f.width, 0);
  if (!cursor) cursor = markers.slider ? [...markers.slider] : [(dx0 + dx1) / 2, (dy0 + dy1) / 2];
  const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  if (moves[ev.key]) {
    cursor = [cursor[0] + moves[ev.key][0] * step * (dx1 - dx0), cursor[1] + moves[ev.key][1] * step * (dy1 - dy0)];
  } else if (ev.key === "Home" && markers.slider) {
    cursor = [...markers.slider];
  } else if (ev.key === "+" || ev.key === "=" || ev.key === "-") {        // zoom about the cursor
    zoom(ev.key === "-" ? 1.5 : 1 / 1.5, cursor[0], cursor[1]);
  } else if (ev.key === "0" && home) {
    view = [...home];
    repaint();
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
  const f = frame;
  if (!cursor || !f) { cursorEl.style.display = "none"; return; }
  const [px, py] = f.toPx(cursor[0], cursor[1]);
  cursorEl.style.display = "block";
  cursorEl.style.left = (f.left + px) + "px";
  cursorEl.style.top = (f.top + py) + "px";
}

async function draw() {
  const v = props.value || {};
  if (!v.model || !box) return;
  palette = VAE.useRules(v.rules).palette;
  if (v.model !== drawnModel) { markers = {}; path = null; cloud = null; cursor = null; cursorEl.style.display = "none"; }
  if (v.markers && "upload" in v.markers) cloud = null;            // an upload's diamond has no drawn cloud
  Object.assign(markers, v.markers || {});
  if (drawnModel !== v.model) {
    const model = v.model;
    drawnModel = model;
    pts = null;
    let got;
    try {
      got = await VAE.runtime.fetchJSON(server.map_points_url(model), "the map's points");
    } catch (e) {
      if (drawnModel === model) { drawnModel = null; failed("the map could not be drawn", e); }
      return;
    }
    if (drawnModel !== model) return;                              // another model was asked for meanwhile
    got.byClass = got.classes.map(() => []);
    got.label.forEach((l, i) => { if (got.byClass[l]) got.byClass[l].push(i); });
    pts = got;
    hidden = new Set();
    if (element.dataset.error) { delete element.dataset.error; card.style.display = "none"; }
    scrubToggle(pts.method === "plane");
    home = fullRange();
    view = [...home];
    buildLegend();
    paint();
    element.dataset.ready = "1";
    return;
  }
  if (!pts) return;                                                // its points are still coming: drawn then
  placeMarkers();
  placeCursor();
}
draw();
watch("value", draw);
