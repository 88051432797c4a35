// The latent map: a Plotly WebGL scatter of the test set's encoded means (from atlas.npz).
// Runs inside gr.HTML's js_on_load: `element`, `trigger`, `props`, `server`, `watch` are given.
// Points are fetched once per model (server.map_points_url names the file); props.value only carries the model
// name, the markers and the rules (the class palette), so moving a slider sends a few bytes, not 10,000
// points. Plotly's internals are read through VAE.plotly (bridge.js); the events through VAE.on (page.js).
const VAE = window.VAE;
const box = element.querySelector(".vae-map-plot");
const card = element.querySelector(".vae-map-card");
let drawnModel = null, nClassTraces = 0, hoverToken = 0;
let P = VAE.plotly.lib();   // pinned at load: see bridge.js
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
      const f = VAE.plotly.frame(box);
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
  const f = VAE.plotly.frame(box);
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

async function draw() {
  const v = props.value || {};
  if (!v.model || !box) return;
  const palette = VAE.useRules(v.rules).palette;
  if (!P) {
    P = VAE.plotly.lib();
    if (!P) { setTimeout(draw, 100); return; }
  }
  if (v.model !== drawnModel) { markers = {}; path = null; cloud = null; }
  if (v.markers && "upload" in v.markers) cloud = null;            // an upload's diamond has no drawn cloud
  Object.assign(markers, v.markers || {});
  if (drawnModel !== v.model || !VAE.plotly.drawn(box)) {
    drawnModel = v.model;
    let pts;
    try {
      pts = await VAE.runtime.fetchJSON(server.map_points_url(v.model), "the map's points");
    } catch (e) {
      drawnModel = null;
      failed("the map could not be drawn", e);
      return;
    }
    if (element.dataset.error) { delete element.dataset.error; card.style.display = "none"; }
    const traces = pts.classes.map((name, c) => {
      const idx = [];
      pts.label.forEach((l, i) => { if (l === c) idx.push(i); });
      return { type: "scattergl", mode: "markers", name, x: idx.map(i => pts.x[i]), y: idx.map(i => pts.y[i]),
               customdata: idx, marker: { size: 4, color: palette[c % palette.length], opacity: 0.7 },
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
    VAE.plotly.listen(box, {
      plotly_click: ev => {
        const p = ev.points && ev.points[0];
        if (!p || p.curveNumber >= nClassTraces) return;
        trigger("select", { index: p.customdata, value: drawnModel });   // read as gr.SelectData
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
      plotly_afterplot: placeMarkers, plotly_relayout: placeMarkers, plotly_relayouting: placeMarkers,
    });
  }
  placeMarkers();
  element.dataset.ready = "1";
}
draw();
watch("value", draw);
