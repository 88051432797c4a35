#!/usr/bin/env bash
# Reproduce tests/vendor/axe-core/ from the npm registry (development time only): the one file the
# accessibility test injects into the page (axe.min.js) and its licence (MPL-2.0). The test never downloads
# anything; it reads these files. Checks them against SHA256SUMS, so a changed upstream file is noticed.
set -euo pipefail
VERSION=4.14.1
cd "$(dirname "$0")/.."
DEST=tests/vendor/axe-core/$VERSION
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$VERSION" >/dev/null 2>&1 && tar xzf "axe-core-$VERSION.tgz")
mkdir -p "$DEST"
cp "$work/package/axe.min.js" "$work/package/LICENSE" "$DEST/"
if [ -f "$DEST/SHA256SUMS" ]; then
  (cd "$DEST" && sha256sum -c SHA256SUMS)
else
  (cd "$DEST" && sha256sum axe.min.js LICENSE > SHA256SUMS)
fi
echo "vendored axe-core $VERSION into $DEST"
