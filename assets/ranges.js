// Native sliders: a row of a label, a number box and an <input type=range>, for the latent sliders and the
// attribute sliders (sliders.js) and the traversal's dimension (live.js). They are not gr.Slider: each
// Gradio slider mounts a component with its own number box, status tracker and props, and sixteen of them
// were most of the first view's main-thread work on a slow laptop.
//
// A row is <div class="vae-range" id=ID> with <label id=label-ID for=range-ID>, the number box (named by the
// label) and the range (id range-ID): ID is what live.js tells the rows apart by (zslider-i, attr-i,
// trav-dim). The number box and the range follow each other here, with one listener for the page; live.js
// hears the same `input` events and decodes. The keyboard is the browser's own: arrows, Page Up/Down, Home, End.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.ranges) return;

  const parts = row => row ? [row.querySelector(".vae-range-number"), row.querySelector(".vae-range-track")] : [null, null];

  // a row: {id, cls, label, info, min, max, step, value}; `info` is a line under the label (described-by)
  function row(o) {
    const div = document.createElement("div");
    div.className = "vae-range" + (o.cls ? " " + o.cls : "");
    div.id = o.id;
    const label = document.createElement("label");
    label.id = "label-" + o.id;
    label.htmlFor = "range-" + o.id;
    label.textContent = o.label;
    const num = document.createElement("input");
    num.type = "number";
    num.className = "vae-range-number";
    num.setAttribute("aria-labelledby", label.id);
    const rng = document.createElement("input");
    rng.type = "range";
    rng.id = "range-" + o.id;
    rng.className = "vae-range-track";
    for (const el of [num, rng]) { el.min = String(o.min); el.max = String(o.max); el.step = String(o.step); }
    div.append(label);
    if (o.info) {
      const info = document.createElement("span");
      info.className = "vae-range-info";
      info.id = "info-" + o.id;
      info.textContent = o.info;
      div.append(info);
      rng.setAttribute("aria-describedby", info.id);
    }
    div.append(num, rng);
    show(div, o.value);
    return div;
  }

  // show v in a row (the range snaps it to its step; the box shows what the range holds); no event
  function show(r, v) {
    const [num, rng] = parts(r);
    if (!rng) return;
    const s = String(v);
    if (rng.value !== s) rng.value = s;
    if (num.value !== rng.value) num.value = rng.value;
  }

  // the row by its id: set its value (no event), its range, or read its number (null when not a number)
  const byId = id => document.getElementById(id);
  const set = (id, v) => show(byId(id), v);
  function limits(id, min, max) {
    const [num, rng] = parts(byId(id));
    if (!rng) return;
    for (const el of [num, rng]) { el.min = String(min); el.max = String(max); }
  }
  function value(id) {
    const [, rng] = parts(byId(id));
    const v = rng ? Number(rng.value) : NaN;
    return Number.isFinite(v) ? v : null;
  }

  // the box follows the range as it moves; the range follows a number typed in the box, which shows the
  // range's (clamped, snapped) value once it is left
  document.addEventListener("input", e => {
    const r = e.target.closest ? e.target.closest(".vae-range") : null;
    if (!r) return;
    const [num, rng] = parts(r);
    if (e.target === rng) num.value = rng.value;
    else if (e.target === num && num.value !== "" && Number.isFinite(Number(num.value))) rng.value = num.value;
  });
  document.addEventListener("change", e => {
    const r = e.target.closest ? e.target.closest(".vae-range") : null;
    const [num, rng] = parts(r);
    if (num && e.target === num) num.value = rng.value;
  });

  VAE.ranges = { row, show, set, limits, value };
})();
