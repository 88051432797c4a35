// Painting: decoded pixels (CHW, floats in [0, 1] or bytes) onto canvases at the model's own
// resolution; CSS scales the canvas up with `image-rendering: pixelated`, so every pixel stays a crisp
// square (nearest neighbour), exactly like the server's images.
(() => {
  const VAE = (window.VAE = window.VAE || {});
  if (VAE.paint) return;

  // image i of a batch -> RGBA bytes; grey images fill R, G and B from the one channel
  function rgba(data, i, C, H, W, bytes) {
    const out = new Uint8ClampedArray(H * W * 4), plane = H * W, base = i * C * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = data[base + (C === 1 ? 0 : c) * plane + p];
        out[p * 4 + c] = bytes ? v : Math.round(v * 255);
      }
      out[p * 4 + 3] = 255;
    }
    return out;
  }

  function image(canvas, data, i, shape, bytes) {
    const [C, H, W] = shape;
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    canvas.getContext("2d").putImageData(new ImageData(rgba(data, i, C, H, W, bytes), W, H), 0, 0);
  }

  // images first..first+n-1 side by side, one white pixel apart
  function strip(canvas, data, first, n, shape, bytes) {
    const [C, H, W] = shape, gap = 1, width = n * W + (n - 1) * gap;
    if (canvas.width !== width || canvas.height !== H) { canvas.width = width; canvas.height = H; }
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, H);
    for (let j = 0; j < n; j++) ctx.putImageData(new ImageData(rgba(data, first + j, C, H, W, bytes), W, H), j * (W + gap), 0);
  }

  // a PNG of the canvas, upscaled by an integer factor without smoothing (for "download PNG")
  function pngUrl(canvas, scale) {
    const big = document.createElement("canvas");
    big.width = canvas.width * scale;
    big.height = canvas.height * scale;
    const ctx = big.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(canvas, 0, 0, big.width, big.height);
    return big.toDataURL("image/png");
  }

  VAE.paint = { image, strip, pngUrl };
})();
