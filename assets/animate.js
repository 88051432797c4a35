// A Plotly figure with frames (an animation: a slider and Play), drawn in the page. gr.Plot drops a
// figure's frames (Gradio re-renders data and layout only), so the Compare tab's training snapshots
// arrive here as the figure's JSON, or {message} when there is nothing to animate.
// Runs inside gr.HTML's js_on_load: `element`, `props` and `watch` are given.
const P = window.VAE.plotly.lib();                        // pinned: gr.Plot loads another plotly.js (bridge.js)
const box = element.querySelector(".vae-anim");
const note = element.querySelector(".vae-anim-note");

function draw() {
  const fig = props.value;
  if (!box) return;
  const message = !fig ? "" : (fig.message !== undefined ? String(fig.message) : (P ? "" : "plotly.js did not load"));
  note.textContent = message;                              // text, never HTML
  if (message || !fig) {
    if (P) P.purge(box);
    box.style.display = "none";
    return;
  }
  box.style.display = "";
  P.newPlot(box, { data: fig.data, layout: fig.layout, frames: fig.frames || [],
                   config: { responsive: true, displaylogo: false } });
}
draw();
watch("value", draw);
