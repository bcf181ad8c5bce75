#!/usr/bin/env bash
# Installs what building and running the edge targets needs, only when missing or at the
# wrong version: the wasm targets, worker-build, wasm-bindgen-cli at exactly the version in
# Cargo.lock, and the npm tools (wrangler, esbuild, binaryen's wasm-opt) from package-lock.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[install-edge-tools] %s\n' "$*"; }

for target in wasm32-unknown-unknown wasm32-wasip2; do
  rustup target list --installed | grep -qx "$target" || { log "rust target $target"; rustup target add "$target"; }
done

WORKER_BUILD_VERSION=0.8.7
if ! worker-build --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  log "worker-build $WORKER_BUILD_VERSION (several minutes on 2 cores)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --quiet
fi

# wasm-bindgen's CLI must match the wasm-bindgen crate the Worker links, exactly.
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
  log "wasm-bindgen-cli $BINDGEN_VERSION (several minutes on 2 cores)"
  cargo install wasm-bindgen-cli --version "=$BINDGEN_VERSION" --quiet
fi

if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm tools (wrangler, esbuild, binaryen)"
  npm ci --no-audit --no-fund --loglevel=error
fi
