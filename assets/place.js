// Marker placement: where a latent vector lands on the map, by the server's own rule
// (model/nets/walk.py MapIndex.place): the k nearest test-set means, weighted by 1 / (distance + eps);
// for a 2-D model the map is the latent plane itself.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.place) return;

  const floats = b64 => new Float32Array(VAE.bytes(b64).buffer);

  // the atlas_means data (fetched as a file: atlasFor) -> what place() needs (and nearestClass(), when it sent the labels)
  function atlas(a) {
    const at = a.method === "plane" ? { method: "plane" }
      : { method: a.method, k: a.k, eps: a.eps, n: a.n, dim: a.dim, means: floats(a.means), xy: floats(a.xy) };
    if (a.labels && a.means) {
      at.labels = VAE.bytes(a.labels);
      at.classes = a.classes;
      at.near = { n: a.n, dim: a.dim, means: at.means || floats(a.means) };
    }
    return at;
  }

  // the class of the test image whose mean is nearest to z (what the decoded image's text names)
  function nearestClass(at, z) {
    if (!at.near) return null;
    const { n, dim, means } = at.near;
    let best = Infinity, bi = -1;
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0, o = i * dim; j < dim && d < best; j++) { const t = z[j] - means[o + j]; d += t * t; }
      if (d < best) { best = d; bi = i; }
    }
    return bi < 0 ? null : String(at.classes[at.labels[bi]] ?? at.labels[bi]);
  }

  // The posterior's μ ± 2σ "cloud" on the map: the points μ + 2σ·u for fixed directions u (the ellipse
  // itself on a 2-D plane; ±each axis in more dimensions), placed like any z, and their convex hull.
  function cloud(at, mu, sigma) {
    const D = mu.length, pts = [];
    const dirs = [];
    if (D === 2) for (let k = 0; k < 48; k++) dirs.push([Math.cos(k * Math.PI / 24), Math.sin(k * Math.PI / 24)]);
    else for (let d = 0; d < D; d++) for (const s of [-1, 1]) { const u = new Array(D).fill(0); u[d] = s; dirs.push(u); }
    for (const u of dirs) pts.push(place(at, mu.map((m, d) => m + 2 * sigma[d] * u[d])));
    return hull(pts);
  }

  // convex hull (Andrew's monotone chain), counter-clockwise
  function hull(p) {
    p = p.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    const lo = [], hi = [];
    for (const q of p) { while (lo.length >= 2 && cross(lo[lo.length - 2], lo[lo.length - 1], q) <= 0) lo.pop(); lo.push(q); }
    for (const q of p.reverse()) { while (hi.length >= 2 && cross(hi[hi.length - 2], hi[hi.length - 1], q) <= 0) hi.pop(); hi.push(q); }
    return lo.slice(0, -1).concat(hi.slice(0, -1));
  }

  // the k nearest test means to z, nearest first: {index: Int32Array(k), dist: Float64Array(k)}
  function neighbours(at, z) {
    const { n, dim, means } = at, k = Math.min(at.k, n);
    const bestD = new Float64Array(k).fill(Infinity), bestI = new Int32Array(k).fill(-1);
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0, o = i * dim; j < dim; j++) { const t = z[j] - means[o + j]; d += t * t; }
      if (d >= bestD[k - 1]) continue;
      let p = k - 1;                                   // insertion into the sorted k best
      while (p > 0 && bestD[p - 1] > d) { bestD[p] = bestD[p - 1]; bestI[p] = bestI[p - 1]; p--; }
      bestD[p] = d; bestI[p] = i;
    }
    return { index: bestI, dist: bestD.map(Math.sqrt) };
  }

  function place(at, z) {
    if (at.method === "plane") return [z[0], z[1]];
    const { index, dist } = neighbours(at, z), xy = at.xy;
    let sw = 0, x = 0, y = 0;
    for (let p = 0; p < index.length; p++) {
      const w = 1 / (dist[p] + at.eps);
      sw += w; x += w * xy[2 * index[p]]; y += w * xy[2 * index[p] + 1];
    }
    return [x / sw, y / sw];
  }

  // the atlas of a model, fetched once per page: a component's atlas_means_url server function names the file
  const cache = new Map();
  function atlasFor(server, model) {
    if (!cache.has(model)) {
      const p = VAE.runtime.fetchJSON(server.atlas_means_url(model), "the map's test means").then(atlas);
      p.catch(() => cache.delete(model));
      cache.set(model, p);
    }
    return cache.get(model);
  }

  // the atlas the page already fetched for a model (a promise), or null
  const cached = model => cache.get(model) || null;

  VAE.place = { atlas, place, neighbours, atlasFor, cached, nearestClass, cloud };
})();
