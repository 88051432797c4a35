// The one place that reads Gradio's DOM and Plotly's private layout. Both are internals that a new
// version may change: when the page stops following a slider or the markers drift off the map, look here.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.gradio) return;

  // ---------------------------------------------------------------- Gradio
  // the number a gr.Slider or gr.Number (by elem_id) shows, or null
  function numberValue(id) {
    const el = document.querySelector(`#${id} input[type=number]`);
    return el && el.value !== "" && Number.isFinite(Number(el.value)) ? Number(el.value) : null;
  }

  // the id of the component (elem_id) or slider row (ranges.js) an input event came from, if it starts with
  // one of the prefixes
  function componentId(target, prefixes) {
    for (let el = target; el && el !== document; el = el.parentElement) {
      if (el.id && prefixes.some(p => el.id === p || el.id.startsWith(p))) return el.id;
    }
    return null;
  }

  // the label of the selected gr.Tab
  function selectedTab() {
    const b = document.querySelector("button[role=tab][aria-selected=true]");
    return b ? b.textContent.trim() : null;
  }

  VAE.gradio = { numberValue, componentId, selectedTab };

  // ---------------------------------------------------------------- Plotly
  // The plotly.js our components load in `head` (the `plotly` package's bundle), pinned when first asked
  // for at load: the first gr.Plot to render loads Gradio's own plotly.js (another version) over
  // window.Plotly, and restyling our graphs with that one throws.
  let pinned = null;
  function lib() {
    if (!pinned && typeof Plotly !== "undefined") pinned = Plotly;
    return pinned;
  }

  // A drawn graph's plot area: its offset in the box's parent, its size, and data <-> pixel maps
  // (Plotly keeps them in the private _fullLayout); null before the first draw.
  function frame(box) {
    const L = box && box._fullLayout;
    if (!L || !L._size || !L.xaxis || !L.xaxis.l2p || !L.yaxis || !L.yaxis.l2p) return null;
    const s = L._size;
    return { left: box.offsetLeft + s.l, top: box.offsetTop + s.t, l: s.l, t: s.t, width: s.w, height: s.h,
             toPx: (x, y) => [L.xaxis.l2p(x), L.yaxis.l2p(y)], toData: (px, py) => [L.xaxis.p2l(px), L.yaxis.p2l(py)] };
  }

  // set a graph's event handlers, replacing those a previous draw set
  function listen(box, handlers) {
    for (const [name, fn] of Object.entries(handlers)) {
      if (box.removeAllListeners) box.removeAllListeners(name);
      box.on(name, fn);
    }
  }

  const drawn = box => !!(box && box.querySelector(".main-svg"));

  // plotly.js loaded on demand (url: the `plotly` package's bundle): a page whose first view can do without
  // it (the map paints its own preview, map.js) does not parse its 4.6 MB at load. One <script> per page;
  // a component that loaded it in its `head` meanwhile is used as it is.
  let loading = null;
  function load(url) {
    if (pinned) return Promise.resolve(pinned);
    if (!loading) {
      loading = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = url;
        s.onload = () => {           // ours has just run: pinned even if a gr.Plot set window.Plotly before
          if (typeof Plotly !== "undefined") pinned = Plotly;
          if (pinned) resolve(pinned); else reject(new Error("plotly.js did not define Plotly"));
        };
        s.onerror = () => reject(new Error("plotly.js did not load"));
        document.head.appendChild(s);
      });
      loading.catch(() => { loading = null; });
    }
    return loading;
  }

  VAE.plotly = { lib, frame, listen, drawn, load };
})();
