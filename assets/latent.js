// The walk's maths as model/nets/walk.py does it (lerp, slerp with its two guards), with the guards'
// numbers sent from Python (VAE.rules); tests/test_parity.py compares the two.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.latent) return;

  const lerp = (a, b, t) => Array.from(a, (v, i) => (1 - t) * v + t * b[i]);
  const norm = v => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

  // Spherical interpolation (Shoemake 1985; White 2016): along the great circle, so |z| stays near the
  // prior's shell; lerp when an end is (nearly) the origin or the ends are (nearly) parallel.
  function slerp(a, b, t, guard) {
    const na = norm(a), nb = norm(b);
    if (na < guard.min_norm || nb < guard.min_norm) return lerp(a, b, t);
    let dot = 0;
    for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
    const om = Math.acos(Math.max(-1, Math.min(1, dot / (na * nb))));
    if (Math.abs(om) < guard.min_angle) return lerp(a, b, t);
    const so = Math.sin(om), wa = Math.sin((1 - t) * om) / so, wb = Math.sin(t * om) / so;
    return Array.from(a, (v, i) => wa * v + wb * b[i]);
  }

  VAE.latent = { lerp, slerp, norm };
})();
