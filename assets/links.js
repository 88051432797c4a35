// Lesson links: runs inside gr.HTML's js_on_load (`element`, `props`, `watch`). The URL follows the
// view (the model, the tab, z to 2 decimals, the walk's ends and t, the temperature and the seed) through
// history.replaceState, so the address bar is always a link to what is on screen; "Copy link" copies it.
// Opening a link, the server checks the query and restores what it can (ui/links.py); its value here
// carries z, applied in the page once the link's model is painted, and a one-line message for any value
// it refused, shown as text. The view is read from the page's state (VAE.state, page.js) and Gradio's
// controls (VAE.gradio, bridge.js).
const VAE = window.VAE;
const copy = element.querySelector(".vae-links-copy");
const field = element.querySelector(".vae-links-url");
const msg = element.querySelector(".vae-links-msg");
let tabs = null;             // tab label -> id (from the server)
let ready = false;           // no URL is written before the link has been restored
let timer = null;
let known = {};              // the link's walk, T and seed: kept while their tab has not been opened (not rendered)
const stats = (VAE.links = VAE.links || { restored: false, writes: 0 });

const r2 = v => { const s = (Math.round(v * 100) / 100).toFixed(2).replace(/\.?0+$/, ""); return s === "-0" ? "0" : s; };

function selectedTab() {
  const label = VAE.gradio.selectedTab();
  return label && tabs ? tabs[label] || null : null;
}

// the view as a query string, from what the page shows
function query() {
  const live = VAE.state;
  if (!live.model || !live.z) return null;
  const p = new URLSearchParams(), before = new URLSearchParams(location.search);
  for (const key of ["__theme", "view"]) if (before.has(key)) p.set(key, before.get(key));   // Gradio's own
  p.set("model", live.model);
  const tab = selectedTab();
  if (tab) p.set("tab", tab);
  p.set("z", live.z.map(r2).join(","));
  const w = VAE.state.walk || known.walk;
  if (w && w.model === live.model && w.a) {
    p.set("a", w.a.map(r2).join(","));
    p.set("b", w.b.map(r2).join(","));
    p.set("t", r2(w.t || 0));
  }
  const T = VAE.gradio.numberValue("sample-temperature") ?? known.T ?? null;
  const seed = VAE.gradio.numberValue("sample-seed") ?? known.seed ?? null;
  if (T !== null) p.set("T", r2(T));
  if (seed !== null) p.set("seed", String(Math.round(seed)));
  return p.toString().replace(/%2C/g, ",");
}

function write() {
  timer = null;
  if (!ready) return;
  const q = query();
  if (q === null) return;
  const url = location.pathname + "?" + q;
  if (location.pathname + location.search !== url) { history.replaceState(history.state, "", url); stats.writes += 1; }
  if (field.value !== location.href) field.value = location.href;
}
function soon() { if (!timer) timer = setTimeout(write, 150); }

function say(text) { msg.textContent = text; msg.title = text; msg.style.display = text ? "" : "none"; }

// the link's tab shown (or 10 s gone): only then is the URL written from the view
function whenTab(id, then, tries = 200) {
  if (!id || selectedTab() === id || tries <= 0) { then(); return; }
  setTimeout(() => whenTab(id, then, tries - 1), 50);
}

// the server's answer to the link: z waits for the link's model to be painted, then moves the sliders
function onValue() {
  const v = props.value;
  if (!v || !v.model) return;
  tabs = v.tabs || {};
  known = { walk: v.walk || null, T: v.T ?? null, seed: v.seed ?? null };
  say(v.message || "");
  if (v.view) trigger("select", { value: v.view, index: 0 });     // the link's model and tab (links.py show)
  const done = () => whenTab(v.view && v.view.tab, () => { ready = true; stats.restored = true; soon(); });
  if (!v.z) { done(); return; }
  const apply = () => {
    VAE.emit("vae:set-z", { model: v.model, z: v.z });
    done();
  };
  if (VAE.state.model === v.model && VAE.state.backend !== "loading") { apply(); return; }
  const off = VAE.on("vae:painted", d => {       // the link's model painted by its final decoder: z can follow
    if (d.model !== v.model || VAE.state.backend === "loading") return;
    off();
    apply();
  });
}

copy.addEventListener("click", async () => {
  write();
  try {
    await navigator.clipboard.writeText(location.href);
    say("link copied: it opens this view");
  } catch (e) {
    field.select();                                  // no clipboard (an insecure origin): select it for Ctrl-C
    say("press Ctrl-C (⌘-C) to copy the selected link");
  }
});
for (const ev of ["input", "change", "click", "keyup"]) document.addEventListener(ev, soon, true);
VAE.on("vae:painted", soon);
say("");
onValue();
watch("value", onValue);
