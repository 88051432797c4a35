// Page state, measurement counters and the vae:* events that connect the page's modules. Loaded first
// of the runtime's modules (ui/runtime.py), so every component's script finds them.
//
// VAE.state: what the page shows, for the modules that follow it (lesson links) and for tests:
//   model, z   the model and the z of the decoded image last painted (live.js)
//   backend    which decoder paints it: "loading", "wasm" or "server" (live.js)
//   walk       {model, a, b, t}: the walk's two ends and t (walk.js)
//   sketch     {model, mu, logvar, pixels}: the drawing's encoding (sketch.js)
// VAE.stats: measurement counters only, which benchmarks and tests read and the page never does:
//   paints, firstPaint, latencies (live.js); VAE.sketch: the pad's encodes, latencies and backend
// VAE.rules: the numbers of the rules the page shares with Python (ui/runtime.py page_rules: traversal,
//   slerp guards, palette, the runtime's folder and load timeout), carried by every value that needs them.
//
// The vae:* events are document-level CustomEvents, sent with VAE.emit and heard with VAE.on, and only the
// ones listed here (tests/test_page_js.py checks that each has its senders and its listeners).
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.emit) return;
  // events:begin
  const EVENTS = {
    "vae:star": {"detail": "{model, xy}: where z lands on the map", "from": ["live.js"], "to": ["map.js"]},
    "vae:path": {"detail": "{model, paths: {linear, spherical}, current}: the walk's paths in map coordinates",
                 "from": ["walk.js"], "to": ["map.js"]},
    "vae:diamond": {"detail": "{model, xy, cloud}: the drawing's mu and its mu +- 2 sigma hull on the map",
                    "from": ["sketch.js"], "to": ["map.js"]},
    "vae:set-z": {"detail": "{model, z}: move the sliders to z and decode it",
                  "from": ["map.js", "links.js", "sketch.js"], "to": ["live.js"]},
    "vae:painted": {"detail": "{model}: the decoded image shows VAE.state.z", "from": ["live.js"], "to": ["links.js"]}
  };
  // events:end
  VAE.events = EVENTS;
  VAE.state = VAE.state || { model: null, z: null, backend: null, walk: null, sketch: null };
  VAE.stats = VAE.stats || { latencies: [], paints: 0 };
  VAE.rules = VAE.rules || null;

  function known(name) { if (!(name in EVENTS)) throw new Error("unknown page event " + name); }
  VAE.emit = (name, detail) => { known(name); document.dispatchEvent(new CustomEvent(name, { detail })); };
  // fn(detail, event); returns a function that stops listening
  VAE.on = (name, fn) => {
    known(name);
    const h = e => fn(e.detail || {}, e);
    document.addEventListener(name, h);
    return () => document.removeEventListener(name, h);
  };
  VAE.useRules = rules => { if (rules) VAE.rules = rules; return VAE.rules; };
  // one line for the page from any error (a rejected server call, a runtime that failed)
  VAE.reason = e => String((e && e.message) || e || "unknown error").split("\n")[0].slice(0, 120);
  // the bytes of the base64 the server sends arrays as (little-endian), for a typed array over .buffer
  VAE.bytes = b64 => {
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(b64);
    const bin = atob(b64), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
})();
