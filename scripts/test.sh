#!/usr/bin/env bash
# Runs every test: formatting, spelling (typos), licences and sources (cargo deny), lints
# (native and wasm32), native unit + integration tests on the real MNIST (the page's controller
# included), the library's and web layer's tests in the browser (wasm-bindgen-test), the
# release page (trunk) and the end-to-end browser tests in Chromium (WebGPU on SwiftShader and
# the CPU fallback). Each step prints its start time; the last line the total.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/scripts/node_modules/.bin:$HOME/.cargo/bin:$PATH"

started=$SECONDS
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

step "set-up"
scripts/setup.sh
step "cargo fmt --check"
cargo fmt --all -- --check
step "typos"
typos
step "cargo deny check licenses bans sources"
cargo deny --locked check licenses bans sources
step "cargo clippy (native and wasm32)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
step "cargo test"
cargo test --quiet
step "wasm tests in headless Chromium (wasm-bindgen-test, CPU backend, no WebGPU adapter)"
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_WEBDRIVER_JSON="$repo/tests/webdriver.json" \
  cargo test --target wasm32-unknown-unknown --lib
step "trunk build --release"
trunk build --release
step "browser end-to-end tests"
(cd tests/e2e && node --test --test-concurrency=1 lab.test.mjs)
step "all tests passed in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s (screenshots: tests/e2e/artifacts/lab-after-training.png, lab-pretrained-sketch.png)"
