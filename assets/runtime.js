// Runtime loading: ONNX Runtime Web (vendored under assets/vendor/onnxruntime-web/VERSION, WebAssembly, one
// thread), loaded on first use, and one session per model file. Nothing is fetched from elsewhere.
// Every wait has a timeout (VAE.rules.load_timeout_s): a runtime or file that has not loaded by then
// rejects with a one-line reason, and the caller says so and decodes on the server instead. Every server
// function goes through `within` too: Gradio answers a failed call with a console warning and no value,
// which `within` turns into a rejection the caller shows.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.runtime) return;
  let ortPromise = null;
  const sessions = new Map();            // model url -> Promise<{ort, session}>

  const timeoutS = () => (VAE.rules && VAE.rules.load_timeout_s) || 30;

  // promise's value, or a rejection naming `what` when it has none or once `seconds` have passed
  function within(promise, what, seconds = timeoutS()) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not load within ${seconds} s`)), seconds * 1000);
    });
    const answered = Promise.resolve(promise).then(v => {
      if (v === undefined || v === null) throw new Error(`${what}: the server did not answer (its log says why)`);
      return v;
    });
    return Promise.race([answered, late]).finally(() => clearTimeout(timer));
  }

  function loadOrt(dir) {
    if (!ortPromise) {
      ortPromise = new Promise((resolve, reject) => {
        if (typeof WebAssembly !== "object") { reject(new Error("this browser has no WebAssembly")); return; }
        const s = document.createElement("script");
        s.src = dir + "ort.wasm.min.js";
        s.onload = () => {
          const ort = window.ort;
          if (!ort) { reject(new Error("the WebAssembly runtime did not load")); return; }
          ort.env.wasm.numThreads = 1;       // no SharedArrayBuffer needed; a 16-d decode is ~1 ms anyway
          ort.env.wasm.wasmPaths = dir;
          ort.env.wasm.proxy = true;         // sessions live in a worker: compiling and creating them leaves the page's thread free
          resolve(ort);
        };
        s.onerror = () => reject(new Error("the WebAssembly runtime did not load"));
        document.head.appendChild(s);
      });
      ortPromise.catch(() => { ortPromise = null; });
    }
    return ortPromise;
  }

  // A decoder: {ort, session}; rejects with a one-line reason when the runtime or the model fails.
  function decoder(dir, url) {
    if (!sessions.has(url)) {
      const p = (async () => {
        const ort = await loadOrt(dir);
        let session;
        try {
          session = await ort.InferenceSession.create(url, { executionProviders: ["wasm"] });
        } catch (e) {
          throw new Error("the model file did not load in WebAssembly (" + String(e.message || e).slice(0, 80) + ")");
        }
        return { ort, session };
      })();
      p.catch(() => sessions.delete(url));
      sessions.set(url, p);
    }
    return sessions.get(url);
  }

  // n latent vectors (Float32Array n*D) -> images (Float32Array n*C*H*W, values in [0, 1]). One run at
  // a time per session (the caller keeps one in flight); both tensors are released after use.
  async function decode(dec, zs, n, D) {
    // a copy: the worker (ort.env.wasm.proxy) takes the tensor's buffer, and the caller keeps its own
    const input = new dec.ort.Tensor("float32", zs.slice(), [n, D]);
    let out = null;
    try {
      out = (await dec.session.run({ z: input })).image;
      return new Float32Array(out.data);
    } finally {
      input.dispose();
      if (out) out.dispose();
    }
  }

  // n images (Float32Array n*C*H*W in [0, 1]) -> the encoder's {mu, logvar} (Float32Array n*D each);
  // logvar is null when the model has no variance (an autoencoder, a VQ-VAE: the graph outputs mu alone).
  async function encode(enc, x, n, shape) {
    const input = new enc.ort.Tensor("float32", x.slice(), [n, ...shape]);   // a copy, as in decode
    let out = null;
    try {
      out = await enc.session.run({ image: input });
      return { mu: new Float32Array(out.mu.data), logvar: out.logvar ? new Float32Array(out.logvar.data) : null };
    } finally {
      input.dispose();
      if (out) for (const t of Object.values(out)) t.dispose();
    }
  }

  // The server's decoder, for the page's fallback: the component's decode_pixels server function.
  function serverBackend(server, model, reason) {
    return {
      kind: "server", reason,
      decode: async (zs, n) => {
        const D = zs.length / n, rows = [];
        for (let i = 0; i < n; i++) rows.push(Array.from(zs.subarray(i * D, (i + 1) * D)));
        const r = await within(server.decode_pixels(model, rows), "the server's decoder");
        return { data: VAE.bytes(r.data), bytes: true };
      },
    };
  }

  // The best decoder for a model: WebAssembly when it loads in time, else the server (with the reason why).
  // backend.decode(zs, n) -> {data, bytes}: floats in [0, 1] (bytes false) or uint8 (bytes true).
  async function backend(server, model, dir, D) {
    try {
      const url = await within(server.decoder_url(model), "the decoder's address");
      const dec = await within(decoder(dir, url), "the WebAssembly decoder");
      return { kind: "wasm", decode: async (zs, n) => ({ data: await decode(dec, zs, n, D), bytes: false }) };
    } catch (e) {
      return serverBackend(server, model, VAE.reason(e));
    }
  }

  // The encoder of a model in WebAssembly ({kind: "wasm", session}), or {kind: "server", reason}.
  async function encoderBackend(server, model, dir) {
    try {
      const url = await within(server.encoder_url(model), "the encoder's address");
      return { kind: "wasm", session: await within(decoder(dir, url), "the WebAssembly encoder") };
    } catch (e) {
      return { kind: "server", reason: VAE.reason(e) };
    }
  }

  // a model's data the server wrote as a file named by its content (atlas, map points): the server function
  // answers its URL, and the file comes from the browser's cache after the first time
  async function fetchJSON(urlPromise, what) {
    const url = await within(urlPromise, what);
    const r = await within(fetch(url), what);
    if (!r.ok) throw new Error(`${what}: HTTP ${r.status}`);
    return r.json();
  }

  // a session for any of our ONNX files (decoder or encoder): one per url, same rules as decoder()
  VAE.runtime = { decoder, session: decoder, decode, encode, backend, encoderBackend, serverBackend, within,
                  fetchJSON };
})();
