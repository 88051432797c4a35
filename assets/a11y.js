// What Gradio 6's components lack for assistive technology, filled in on the page as they mount: a
// MutationObserver over the document fixes each element once (and again if Gradio re-renders it). Every rule
// names what Gradio lacks; the checks are axe-core's (tests/test_a11y.py runs it over every tab).
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.a11y) return;

  const stem = src => decodeURIComponent(String(src || "").split("?")[0].split("/").pop() || "").replace(/\.[a-z0-9]+$/i, "");
  const visibleText = el => (el.textContent || "").replace(/\s+/g, " ").trim();

  const RULES = [
    // gr.Image/gr.Gallery/gr.Plot with no value show an "Empty" box: a div with aria-label and no role (ARIA
    // prohibits a label there). It is an icon: role img.
    ["div.empty[aria-label]:not([role])", el => el.setAttribute("role", "img")],
    // any other div or span given a label with no role (a chart's box): a figure, which may be labelled
    ["div[aria-label]:not([role]), span[aria-label]:not([role])", el => el.setAttribute("role", "figure")],
    // gr.Examples shows image examples as buttons holding only an image with no alt: no name at all
    ["button.gallery-item", el => {
      if (visibleText(el) || el.getAttribute("aria-label")) return;
      const img = el.querySelector("img");
      if (!img) return;
      el.setAttribute("aria-label", "example: " + stem(img.getAttribute("src")).replace(/[-_]+/g, " "));
      img.setAttribute("alt", "");
    }],
    // gr.Gallery labels its thumbnails "Thumbnail 3 of 20" while showing a caption: the name must hold the
    // caption a sighted user reads (and a voice-control user says)
    ["button.thumbnail-item[aria-label]", el => {
      const caption = visibleText(el), label = el.getAttribute("aria-label");
      if (caption && !label.toLowerCase().includes(caption.toLowerCase())) el.setAttribute("aria-label", `${caption} (${label.toLowerCase()})`);
      const img = el.querySelector("img");
      if (img && img.getAttribute("alt") !== "") img.setAttribute("alt", "");
    }],
    // gr.Image's upload area is a button named "Drop an image file here to upload" while it shows other words:
    // its visible words become its name
    ["button.upload-container[aria-label]", el => {
      const text = visibleText(el);
      if (text && !el.getAttribute("aria-label").toLowerCase().includes(text.toLowerCase())) el.removeAttribute("aria-label");
    }],
  ];

  // root, what is inside it, and the element around it that a rule is about (an image added into a button)
  function fix(root) {
    for (const [selector, apply] of RULES) {
      const around = root.closest && root.closest(selector);
      if (around) apply(around);
      if (root.querySelectorAll) root.querySelectorAll(selector).forEach(apply);
    }
  }

  // only what changed is looked at: while Gradio mounts the page, scanning the whole document at every
  // frame with a change was a tenth of a second of a slow laptop's start
  let pending = new Set(), queued = false;
  function later(records) {
    for (const r of records) {
      if (r.type === "attributes") pending.add(r.target);
      else r.addedNodes.forEach(n => { const el = n.nodeType === 1 ? n : n.parentElement; if (el) pending.add(el); });
    }
    if (queued || !pending.size) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const roots = [...pending];
      pending = new Set();
      for (const n of roots) if (n.isConnected) fix(n);
    });
  }
  new MutationObserver(later).observe(document.documentElement,
    { subtree: true, childList: true, attributes: true, attributeFilter: ["class", "src"] });
  fix(document.body);
  VAE.a11y = { fix };
})();
