#!/usr/bin/env bash
# Installs what the lab needs on a fresh Debian machine; idempotent and fast once done:
# the wasm32 target, pinned trunk and wasm-bindgen-cli (trunk never downloads tools),
# wasm-opt from npm (binaryen 132), Debian's Chromium for the browser tests, playwright-core,
# and MNIST in static/mnist.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  # Without --locked: a locked dependency of this release is gone from the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver
fi
[ -x scripts/node_modules/.bin/wasm-opt ] || (cd scripts && npm ci --no-audit --no-fund)
[ -d tests/e2e/node_modules/playwright-core ] || (cd tests/e2e && npm ci --no-audit --no-fund)
scripts/fetch-mnist.sh
