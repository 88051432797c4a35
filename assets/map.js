// The latent map: a Plotly WebGL scatter of the test set's encoded means (from atlas.npz).
// Runs inside gr.HTML's js_on_load: `element`, `trigger`, `props`, `server`, `watch` are given.
// Points are fetched once per model (server.map_points); props.value only carries the model
// name and the markers, so moving a slider sends a few bytes, not 10,000 points.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"];
const box = element.querySelector(".vae-map-plot");
const card = element.querySelector(".vae-map-card");
let drawnModel = null, nClassTraces = 0, hoverToken = 0;
// The plotly.js this map was drawn with, pinned: js_on_load runs once `head` has loaded the `plotly` package's
// bundle, but the first gr.Plot to render (the posterior chart) loads Gradio's own plotly.js (another
// version) and overwrites window.Plotly; restyling our graph with that one throws and freezes the markers.
let P = typeof Plotly === "undefined" ? null : Plotly;
let markers = {};           // the markers shown; a value carries only those that changed (null removes one)

function markerTraces() {
  const m = markers;
  const one = (p, name, symbol, colour) => ({
    type: "scatter", mode: "markers", name, x: p ? [p[0]] : [], y: p ? [p[1]] : [],
    marker: { symbol, size: 18, color: colour, line: { color: "#111", width: 2 } },
    hovertemplate: name + "<extra></extra>",
  });
  return [one(m.slider, "slider position", "star", "#facc15"),
          one(m.upload, "your upload", "diamond", "#f97316")];
}

async function draw() {
  const v = props.value || {};
  if (!v.model || !box) return;
  if (!P) {
    if (typeof Plotly === "undefined") { setTimeout(draw, 100); return; }
    P = Plotly;
  }
  if (v.model !== drawnModel) markers = {};
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
    const axis = pts.method === "plane" ? "z" : (pts.method === "umap" ? "UMAP " : "PC ");
    const layout = {
      margin: { l: 40, r: 10, t: 10, b: 40 }, dragmode: "pan", hovermode: "closest",
      legend: { orientation: "h", y: -0.12, itemsizing: "constant" }, uirevision: v.model,
      xaxis: { title: { text: axis + (pts.method === "plane" ? "0" : "1") }, zeroline: false },
      yaxis: { title: { text: axis + (pts.method === "plane" ? "1" : "2") }, zeroline: false },
      plot_bgcolor: "#fafafa",
    };
    await P.react(box, traces.concat(markerTraces()), layout,
                       { responsive: true, displaylogo: false, scrollZoom: true });
    box.removeAllListeners && box.removeAllListeners("plotly_click");
    box.on("plotly_click", ev => {
      const p = ev.points && ev.points[0];
      if (!p || p.curveNumber >= nClassTraces) return;
      trigger("select", { index: p.customdata, model: drawnModel });
    });
    box.on("plotly_hover", async ev => {
      const p = ev.points && ev.points[0];
      if (!p || p.curveNumber >= nClassTraces) return;
      const token = ++hoverToken;
      const c = await server.hover_card(drawnModel, p.customdata);
      if (token !== hoverToken) return;
      card.innerHTML = `<b>${c.label}</b> #${c.index}<br>` +
        (c.original ? `<img src="${c.original}" title="test image"> ` : "") +
        `<img src="${c.decoded}" title="decoded mean"><br><small>${c.original ? "image · decoded mean" : "decoded mean"}</small>`;
      card.style.display = "block";
    });
    box.on("plotly_unhover", () => { hoverToken++; card.style.display = "none"; });
  } else {
    const mt = markerTraces();
    await P.restyle(box, { x: mt.map(t => t.x), y: mt.map(t => t.y) }, [nClassTraces, nClassTraces + 1]);
  }
  element.dataset.ready = "1";
}
draw();
watch("value", draw);
