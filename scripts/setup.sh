#!/usr/bin/env bash
# Installs what the lab needs on a fresh Debian machine; idempotent and fast once done:
# the wasm32 target, pinned trunk and wasm-bindgen-cli (trunk never downloads tools),
# wasm-opt from npm (binaryen 132), Debian's Chromium for the browser tests, playwright-core,
# typos (PyPI wheel) and cargo-deny (cargo install), and the datasets of static/datasets.json
# (scripts/fetch-data.py: MNIST in static/mnist).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock
TYPOS_VERSION=1.52.0
CARGO_DENY_VERSION=0.20.2

# Pinned tools built from crates.io share one build cache, without LTO and with parallel
# codegen: trunk's own release profile asks for fat LTO in one codegen unit, minutes more of a
# fresh machine's set-up for nothing a test run would notice.
install_tool() { # crate version [cargo install options]
  CARGO_TARGET_DIR="$HOME/.cache/mnist-ae/tools-target" CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo install "$1" --version "$2" "${@:3}"
}

# Downloads and Debian packages go on in the background while the tools build.
(
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  [ -x scripts/node_modules/.bin/wasm-opt ] || (cd scripts && npm ci --no-audit --no-fund)
  [ -d tests/e2e/node_modules/playwright-core ] || (cd tests/e2e && npm ci --no-audit --no-fund)
  scripts/fetch-data.py
) &
background=$!

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  install_tool trunk "$TRUNK_VERSION" --locked
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  # Without --locked: a locked dependency of this release is gone from the registry.
  install_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
fi
if [ "$(typos --version 2>/dev/null)" != "typos-cli $TYPOS_VERSION" ]; then
  # The prebuilt binary in PyPI's typos wheel (seconds; `cargo install typos-cli` takes minutes).
  tmp=$(mktemp -d)
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$tmp" \
    "typos==$TYPOS_VERSION"
  install -D -m 0755 "$tmp/bin/typos" "$HOME/.cargo/bin/typos"
  rm -rf "$tmp"
fi
if [ "$(cargo-deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  # PyPI's cargo-deny wheel (0.14.2) is too old for this cargo.
  install_tool cargo-deny "$CARGO_DENY_VERSION" --locked
fi
wait "$background" || { echo "error: set-up of Chromium, npm packages or the datasets failed" >&2; exit 1; }
