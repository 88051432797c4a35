// The Encode tab's pictures to pick from: the shipped examples and a few test-set images per class, as buttons
// (runs inside gr.HTML's js_on_load: `element`, `props`, `trigger`, `watch`). A click (or Enter / Space) triggers
// 'select' with which one: {value: "example" | "test", index}; the server puts that picture in the upload box
// (ui/encode.py on_pick). Each button is named by what it shows; its image is decoration (alt="").
const examplesBox = element.querySelector(".vae-pick-examples");
const testsBox = element.querySelector(".vae-pick-tests");

function button(kind, index, src, name, caption) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "vae-pick-item" + (caption ? " thumbnail-item" : "");
  b.setAttribute("aria-label", name);
  const img = document.createElement("img");
  img.alt = "";
  img.src = src;
  img.loading = "lazy";
  img.decoding = "async";
  b.append(img);
  if (caption) {
    const c = document.createElement("span");
    c.className = "vae-pick-caption";
    c.textContent = caption;
    b.append(c);
  }
  b.addEventListener("click", () => trigger("select", { value: kind, index }));
  return b;
}

let shown = null;
function onValue() {
  const v = props.value;
  if (!v || !v.tests) return;
  const now = JSON.stringify(v);
  if (now === shown) return;
  shown = now;
  examplesBox.replaceChildren(...(v.examples || []).map((e, i) => button("example", i, e.src, "example: " + e.name)));
  examplesBox.hidden = !(v.examples || []).length;
  const seen = {};
  testsBox.replaceChildren(...v.tests.map((t, i) => {
    seen[t.caption] = (seen[t.caption] || 0) + 1;
    return button("test", i, t.src, `test-set image: ${t.caption} (${seen[t.caption]})`, t.caption);
  }));
}

onValue();
watch("value", onValue);
