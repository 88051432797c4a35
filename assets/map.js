// The latent map: a Plotly WebGL scatter of the test set's encoded means (from atlas.npz).
// Runs inside gr.HTML's js_on_load: `element`, `trigger`, `props`, `server`, `watch` are given.
// Points are fetched once per model (server.map_points); props.value only carries the model
// name and the markers, so moving a slider sends a few bytes, not 10,000 points.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"];
(window.VAE = window.VAE || {}).palette = PALETTE;      // the sketch pad's small map uses the same colours
const box = element.querySelector(".vae-map-plot");
const card = element.querySelector(".vae-map-card");
let drawnModel = null, nClassTraces = 0, hoverToken = 0;
// The plotly.js this map was drawn with, pinned: js_on_load runs once `head` has loaded the `plotly` package's
// bundle, but the first gr.Plot to render (the posterior chart) loads Gradio's own plotly.js (another
// version) and overwrites window.Plotly; restyling our graph with that one throws and freezes the markers.
let P = typeof Plotly === "undefined" ? null : Plotly;
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
document.addEventListener("vae:star", e => {
  if (e.detail.model !== drawnModel) return;
  markers.slider = e.detail.xy;
  placeMarkers();
});

// The interpolation's two paths (walk.js): SVG polylines over the plot, re-projected like the markers.
const SVG_NS = "http://www.w3.org/2000/svg";
const COLOURS = { linear: "#dc2626", spherical: "#16a34a" };
let path = null;
const pathSvg = document.createElementNS(SVG_NS, "svg");
pathSvg.setAttribute("class", "vae-map-path");
if (box) box.parentElement.appendChild(pathSvg);
document.addEventListener("vae:path", e => {
  if (e.detail.model !== drawnModel) return;
  path = e.detail;
  placeMarkers();
});

// The drawing's posterior (sketch.js): the diamond at μ and its μ ± 2σ cloud, a polygon in map coordinates.
let cloud = null;
const cloudSvg = document.createElementNS(SVG_NS, "svg");
cloudSvg.setAttribute("class", "vae-map-cloud");
if (box) box.parentElement.insertBefore(cloudSvg, pathSvg);
document.addEventListener("vae:diamond", e => {
  if (e.detail.model !== drawnModel) return;
  markers.upload = e.detail.xy;
  cloud = e.detail.cloud;
  placeMarkers();
});

function drawCloud(L) {
  cloudSvg.replaceChildren();
  if (!cloud || !markers.upload || !L || !L.xaxis || !L.xaxis.l2p) { delete cloudSvg.dataset.points; return; }
  cloudSvg.style.left = (box.offsetLeft + L._size.l) + "px";
  cloudSvg.style.top = (box.offsetTop + L._size.t) + "px";
  cloudSvg.setAttribute("width", L._size.w);
  cloudSvg.setAttribute("height", L._size.h);
  const poly = document.createElementNS(SVG_NS, "polygon");
  poly.setAttribute("points", cloud.map(p => `${L.xaxis.l2p(p[0])},${L.yaxis.l2p(p[1])}`).join(" "));
  cloudSvg.appendChild(poly);
  cloudSvg.dataset.points = String(cloud.length);
}

function drawPath(L) {
  pathSvg.replaceChildren();
  if (!path || !L || !L.xaxis || !L.xaxis.l2p) return;
  pathSvg.style.left = (box.offsetLeft + L._size.l) + "px";
  pathSvg.style.top = (box.offsetTop + L._size.t) + "px";
  pathSvg.setAttribute("width", L._size.w);
  pathSvg.setAttribute("height", L._size.h);
  for (const [name, pts] of Object.entries(path.paths)) {
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", pts.map(p => `${L.xaxis.l2p(p[0])},${L.yaxis.l2p(p[1])}`).join(" "));
    line.setAttribute("stroke", COLOURS[name] || "#111");
    line.setAttribute("class", "vae-path-" + name);
    pathSvg.appendChild(line);
    const c = path.current[name], dot = document.createElementNS(SVG_NS, "circle");
    dot.setAttribute("cx", L.xaxis.l2p(c[0]));
    dot.setAttribute("cy", L.yaxis.l2p(c[1]));
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
      const L = box._fullLayout;
      if (!input.checked || !L || !L.xaxis || !L.xaxis.p2l) return;
      const r = box.getBoundingClientRect();
      const px = ev.clientX - r.left - L._size.l, py = ev.clientY - r.top - L._size.t;
      if (px < 0 || py < 0 || px > L._size.w || py > L._size.h) return;
      document.dispatchEvent(new CustomEvent("vae:set-z", { detail: { model: drawnModel, z: [L.xaxis.p2l(px), L.yaxis.p2l(py)] } }));
    });
  }
  if (scrub) scrub.style.display = show ? "" : "none";
}

function placeMarkers() {
  const L = box && box._fullLayout;
  drawPath(L);
  drawCloud(L);
  for (const [key, el] of Object.entries(overlay)) {
    const p = markers[key];
    if (!p || !L || !L.xaxis || !L.xaxis.l2p) { el.style.display = "none"; delete el.dataset.x; continue; }
    el.dataset.x = p[0];
    el.dataset.y = p[1];
    const px = L.xaxis.l2p(p[0]), py = L.yaxis.l2p(p[1]);
    const inside = px >= 0 && px <= L._size.w && py >= 0 && py <= L._size.h;   // hidden when panned out of view
    el.style.display = inside ? "block" : "none";
    el.style.left = (box.offsetLeft + L._size.l + px) + "px";
    el.style.top = (box.offsetTop + L._size.t + py) + "px";
  }
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

async function draw() {
  const v = props.value || {};
  if (!v.model || !box) return;
  if (!P) {
    if (typeof Plotly === "undefined") { setTimeout(draw, 100); return; }
    P = Plotly;
  }
  if (v.model !== drawnModel) { markers = {}; path = null; cloud = null; }
  if (v.markers && "upload" in v.markers) cloud = null;            // an upload's diamond has no drawn cloud
  Object.assign(markers, v.markers || {});
  if (drawnModel !== v.model || !box.querySelector(".main-svg")) {
    drawnModel = v.model;
    const pts = await server.map_points(v.model);
    const traces = pts.classes.map((name, c) => {
      const idx = [];
      pts.label.forEach((l, i) => { if (l === c) idx.push(i); });
      return { type: "scattergl", mode: "markers", name, x: idx.map(i => pts.x[i]), y: idx.map(i => pts.y[i]),
               customdata: idx, marker: { size: 4, color: PALETTE[c % PALETTE.length], opacity: 0.7 },
               hovertemplate: name + " · #%{customdata}<extra></extra>" };
    });
    nClassTraces = traces.length;
    scrubToggle(pts.method === "plane");
    const axis = pts.method === "plane" ? "z" : (pts.method === "umap" ? "UMAP " : "PC ");
    const layout = {
      margin: { l: 40, r: 10, t: 10, b: 40 }, dragmode: "pan", hovermode: "closest",
      legend: { orientation: "h", y: -0.12, itemsizing: "constant" }, uirevision: v.model,
      xaxis: { title: { text: axis + (pts.method === "plane" ? "0" : "1") }, zeroline: false },
      yaxis: { title: { text: axis + (pts.method === "plane" ? "1" : "2") }, zeroline: false },
      plot_bgcolor: "#fafafa",
    };
    await P.react(box, traces, layout,
                       { responsive: true, displaylogo: false, scrollZoom: true });
    for (const ev of ["plotly_click", "plotly_hover", "plotly_unhover", "plotly_afterplot", "plotly_relayout",
                      "plotly_relayouting"]) box.removeAllListeners && box.removeAllListeners(ev);
    box.on("plotly_click", ev => {
      const p = ev.points && ev.points[0];
      if (!p || p.curveNumber >= nClassTraces) return;
      trigger("select", { index: p.customdata, value: drawnModel });   // read as gr.SelectData
    });
    box.on("plotly_hover", async ev => {
      const p = ev.points && ev.points[0];
      if (!p || p.curveNumber >= nClassTraces) return;
      const token = ++hoverToken;
      const c = await server.hover_card(drawnModel, p.customdata);
      if (token !== hoverToken) return;
      showCard(c);
    });
    for (const ev of ["plotly_afterplot", "plotly_relayout", "plotly_relayouting"]) box.on(ev, placeMarkers);
    box.on("plotly_unhover", () => { hoverToken++; card.style.display = "none"; });
  }
  placeMarkers();
  element.dataset.ready = "1";
}
draw();
watch("value", draw);
