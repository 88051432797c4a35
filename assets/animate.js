// The Compare tab's training snapshots as a Plotly animation (a slider and Play), drawn in the page. gr.Plot
// drops a figure's frames (Gradio re-renders data and layout only), so they arrive here as compact arrays
// (ui/charts.py organise_figure): the layout, one trace template, the palette and, per model, its points'
// colour indices and its means at every snapshot as int16 with their scale. The frames are built here, one
// per snapshot; {message} when there is nothing to animate.
// Runs inside gr.HTML's js_on_load: `element`, `props` and `watch` are given.
const P = window.VAE.plotly.lib();                        // pinned: gr.Plot loads another plotly.js (bridge.js)
const box = element.querySelector(".vae-anim");
const note = element.querySelector(".vae-anim-note");

const bytes = typed => window.VAE.bytes(typed.bdata);    // {dtype, bdata}: base64 of little-endian bytes

const plain = v => JSON.parse(JSON.stringify(v));        // props.value is reactive: Plotly gets its own copy

function figure(fig) {
  const palette = plain(fig.palette);
  const panels = fig.panels.map(p => {
    const colour = bytes(p.colour);
    return { q: new Int16Array(bytes(p.mu).buffer), n: colour.length, scale: p.scale, axes: p.axes,
             colours: Array.from(colour, k => palette[k]) };
  });
  const at = (p, t) => {                                   // snapshot t of one map: its points' x and y
    const x = new Float32Array(p.n), y = new Float32Array(p.n);
    for (let i = 0, o = t * p.n * 2; i < p.n; i++, o += 2) { x[i] = p.q[o] * p.scale; y[i] = p.q[o + 1] * p.scale; }
    return { x, y };
  };
  const frames = [];
  for (let t = 0; t < fig.frames; t++) {
    frames.push({ name: String(t), data: panels.map(p => at(p, t)), traces: panels.map((_, c) => c) });
  }
  const last = frames[frames.length - 1].data;
  const data = panels.map((p, c) => { const trace = Object.assign(plain(fig.trace), plain(p.axes), last[c]);
    trace.marker.color = p.colours;
    return trace; });
  return { data, layout: plain(fig.layout), frames };
}

function draw() {
  const fig = props.value;
  if (!box) return;
  const message = !fig ? "" : (fig.message !== undefined ? String(fig.message) : (P ? "" : "plotly.js did not load"));
  note.textContent = message;                              // text, never HTML
  if (message || !fig || !fig.panels) {
    if (P) P.purge(box);
    box.style.display = "none";
    return;
  }
  box.style.display = "";
  P.newPlot(box, Object.assign(figure(fig), { config: { responsive: true, displaylogo: false } }));
}
draw();
watch("value", draw);
