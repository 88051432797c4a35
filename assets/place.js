// Marker placement: where a latent vector lands on the map, by the server's own rule
// (model/latent.py MapIndex.place): the k nearest test-set means, weighted by 1 / (distance + eps);
// for a 2-D model the map is the latent plane itself.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.place) return;

  function floats(b64) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  // the server's atlas_means answer -> what place() needs
  function atlas(a) {
    return a.method === "plane" ? { method: "plane" }
      : { method: a.method, k: a.k, eps: a.eps, n: a.n, dim: a.dim, means: floats(a.means), xy: floats(a.xy) };
  }

  function place(at, z) {
    if (at.method === "plane") return [z[0], z[1]];
    const { n, dim, means, xy } = at, k = Math.min(at.k, n);
    const bestD = new Float64Array(k).fill(Infinity), bestI = new Int32Array(k).fill(-1);
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let j = 0, o = i * dim; j < dim; j++) { const t = z[j] - means[o + j]; d += t * t; }
      if (d >= bestD[k - 1]) continue;
      let p = k - 1;                                   // insertion into the sorted k best
      while (p > 0 && bestD[p - 1] > d) { bestD[p] = bestD[p - 1]; bestI[p] = bestI[p - 1]; p--; }
      bestD[p] = d; bestI[p] = i;
    }
    let sw = 0, x = 0, y = 0;
    for (let p = 0; p < k; p++) {
      const w = 1 / (Math.sqrt(bestD[p]) + at.eps);
      sw += w; x += w * xy[2 * bestI[p]]; y += w * xy[2 * bestI[p] + 1];
    }
    return [x / sw, y / sw];
  }

  // the atlas of a model, fetched once per page through a component's atlas_means server function
  const cache = new Map();
  function atlasFor(server, model) {
    if (!cache.has(model)) {
      const p = server.atlas_means(model).then(atlas);
      p.catch(() => cache.delete(model));
      cache.set(model, p);
    }
    return cache.get(model);
  }

  VAE.place = { atlas, place, atlasFor };
})();
