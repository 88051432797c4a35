// The one place that reads Gradio's DOM and Plotly's internals. Both are internals that a new
// version may change: when the page stops following a slider or a chart stops updating, look here.
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

  VAE.plotly = { lib };
})();
