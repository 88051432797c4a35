// The decoded image in words, for those who cannot see it: the shipped Fashion-MNIST classifier (ui/describe.py)
// runs in the page on what the decoder drew and names it, "looks like a sneaker (87%)". Where there is no
// classifier for the model (other images, or no WebAssembly), the line says the class of the nearest test mean.
//   the canvas's aria-label and the visible line: at most every UPDATE_MS (the last one always comes);
//   the aria-live region: only when the named class changes, at most every SPEAK_MS, so a drag does not chatter.
// The classifier's file (0.25 MB, int8 weights) is fetched right after the model's decoder has loaded in WebAssembly (live.js
// calls prepare): the first image is never kept waiting for it, and a drag later sends nothing.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.describe) return;
  const UPDATE_MS = 400, SPEAK_MS = 1500;
  const models = new Map();          // model -> Promise<{session, ort, classes} | null>
  const settled = new WeakSet();     // those promises that have settled
  let target = null;                 // {canvas, line, region}
  let last = null;                   // the last image's {model, near}: described again once its classifier loads
  let pending = null, timer = null, lastRun = 0, lastSpoken = "", spokenAt = 0, speakTimer = null;

  function attach(canvas, line, region) { target = { canvas, line, region }; }

  // the model's classifier, loaded once: null when it has none (or it does not load)
  function prepare(server, model, dir) {
    if (!models.has(model)) {
      const p = VAE.runtime.within(server.classifier_url(model), "the classifier's address")
        .then(async info => {
          if (!info || !info.url) return null;
          const s = await VAE.runtime.within(VAE.runtime.session(dir, info.url), "the classifier");
          return { ...s, classes: info.classes };
        })
        .catch(() => null);
      p.then(() => { settled.add(p); if (last && last.model === model) painted(last.model, last.near); });
      models.set(model, p);
    }
    return models.get(model);
  }

  function show(text, near) {
    if (!target) return;
    const label = "decoded image: " + text + (near ? "; " + near : "");
    if (target.canvas.getAttribute("aria-label") !== label) { target.canvas.setAttribute("aria-label", label); target.canvas.title = label; }
    if (target.line && target.line.textContent !== text) target.line.textContent = text;
  }

  // the live region: the class only, when it changes; the latest one after SPEAK_MS at the most
  function speak(text, what) {
    if (!target || !target.region || what === lastSpoken) return;
    clearTimeout(speakTimer);
    const wait = Math.max(0, spokenAt + SPEAK_MS - performance.now());
    speakTimer = setTimeout(() => {
      lastSpoken = what;
      spokenAt = performance.now();
      target.region.textContent = "decoded image: " + text;
    }, wait);
  }

  async function classify(job) {
    const c = await job.classifier;
    if (!c || !target) { show(job.fallback); speak(job.fallback, job.fallback); return; }
    const cv = target.canvas, n = cv.width * cv.height;
    const px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data, x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = px[4 * i] / 255;
    const input = new c.ort.Tensor("float32", x, [1, 1, cv.height, cv.width]);
    let out;
    try {
      out = await c.session.run({ image: input });
    } finally {
      input.dispose();
    }
    const p = out.p.data;
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
    out.p.dispose();
    const name = (c.classes[best] || "class " + best).toLowerCase(), pct = Math.round(100 * p[best]);
    const text = name === "noise" ? `looks like noise, not clothing (${pct}%)`       // the words of ui/describe.py phrase
                                  : `looks like ${"aeiou".includes(name[0]) ? "an" : "a"} ${name} (${pct}%)`;
    show(text, job.near);
    speak(text, name);
  }

  // a new image on the canvas: described now, or after the throttle's wait (one classification at a time; only
  // the last image waiting is described). near: what the map says of it ("nearest class on the map: Bag"), which
  // the label always ends with; without a classifier (or until it has loaded) it is the whole line.
  let busy = false;
  function painted(model, near) {
    last = { model, near };
    const fallback = `z of model ${model}` + (near ? ", " + near : "");
    const classifier = models.get(model) || Promise.resolve(null);
    if (!settled.has(classifier)) show(fallback);               // not loaded yet: the map's line meanwhile
    pending = { classifier: settled.has(classifier) ? classifier : Promise.resolve(null), fallback, near };
    if (!timer && !busy) timer = setTimeout(run, Math.max(0, lastRun + UPDATE_MS - performance.now()));
  }

  function run() {
    timer = null;
    const job = pending;
    pending = null;
    if (!job) return;
    busy = true;
    lastRun = performance.now();
    classify(job).catch(() => show(job.fallback)).finally(() => {
      busy = false;
      if (pending && !timer) timer = setTimeout(run, Math.max(0, lastRun + UPDATE_MS - performance.now()));
    });
  }

  VAE.describe = { attach, prepare, painted };
})();
