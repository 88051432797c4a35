#!/usr/bin/env bash
# Reproduce assets/vendor/onnxruntime-web/ from the npm registry (development time only; users never
# run npm). Keeps only the files the page loads: the WebAssembly build's loader, its Emscripten glue
# and the SIMD binary. Checks them against SHA256SUMS, so a changed upstream file is noticed. The folder is
# named by the version, so its URL changes with it and browsers may cache its files for good; each file gets
# its pre-compressed copies (NAME.br, brotli 11; NAME.gz, gzip -9), which the app sends in its place to a
# browser that accepts them (ui/wire.py). Change ORT_VERSION in ui/server.py with VERSION here.
set -euo pipefail
VERSION=1.30.0
cd "$(dirname "$0")/.."
DEST=assets/vendor/onnxruntime-web/$VERSION
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "onnxruntime-web@$VERSION" >/dev/null 2>&1 && tar xzf "onnxruntime-web-$VERSION.tgz")
mkdir -p "$DEST"
for f in ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm; do
  cp "$work/package/dist/$f" "$DEST/$f"
done
if [ -f "$DEST/SHA256SUMS" ]; then
  (cd "$DEST" && sha256sum -c SHA256SUMS)
else
  (cd "$DEST" && sha256sum ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm > SHA256SUMS)
fi
python -c "import sys; from ui.wire import precompress; [precompress(f) for f in sys.argv[1:]]" \
  "$DEST/ort.wasm.min.js" "$DEST/ort-wasm-simd-threaded.mjs" "$DEST/ort-wasm-simd-threaded.wasm"
echo "vendored onnxruntime-web $VERSION into $DEST"
