// The latent sliders and the attribute sliders: native rows (ranges.js) in one gr.HTML, run inside its
// js_on_load (`element`, `props`, `watch`). The server sends what they show (ui/explore.py slider_value):
// the model, each slider's label and value, the range, the attribute directions' names and notes. A new
// model (or new labels) builds the rows again; a new z from the server (Reset, Random, a map click, a
// sample, Send μ) only moves them, so the keyboard's focus stays where it is. Moving one sends no request:
// live.js hears its `input` event, changes z and decodes in the page.
const VAE = window.VAE;
const zBox = element.querySelector(".vae-zsliders");
const attrBox = element.querySelector(".vae-attrsliders");
const attrNote = element.querySelector(".vae-attr-note");
let shape = null;            // what the rows were built for: JSON of the model, labels, ranges and attributes

function build(v) {
  const zRows = v.sliders.map((s, i) => VAE.ranges.row({ id: "zslider-" + i, cls: "zslider", label: s.label,
    min: -v.limit, max: v.limit, step: v.step, value: s.value }));
  const aRows = v.attributes.map((a, i) => VAE.ranges.row({ id: "attr-" + i, cls: "attrslider", label: a.name,
    info: a.info, min: -v.range, max: v.range, step: v.step, value: 0 }));
  zBox.replaceChildren(...zRows);
  attrBox.replaceChildren(...aRows);
  attrNote.textContent = v.note || "";
  attrNote.hidden = !v.note;
}

function onValue() {
  const v = props.value;
  if (!v || !v.sliders) return;
  const now = JSON.stringify([v.model, v.limit, v.step, v.range, v.sliders.map(s => s.label), v.attributes, v.note]);
  if (now !== shape) {
    shape = now;
    build(v);
    return;
  }
  v.sliders.forEach((s, i) => VAE.ranges.set("zslider-" + i, s.value));
  v.attributes.forEach((_, i) => VAE.ranges.set("attr-" + i, 0));     // a new z starts with no attributes
}

onValue();
watch("value", onValue);
