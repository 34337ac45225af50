#!/usr/bin/env bash
# Runs every test: formatting, spelling (typos), licences and sources (cargo deny), lints
# (native and wasm32), native unit + integration tests on the real MNIST (the page's controller
# included), the library's and web layer's tests in the browser (wasm-bindgen-test), the
# release page (trunk), the end-to-end browser tests in Chromium (WebGPU on SwiftShader and
# the CPU fallback) and a smoke run of the speed benchmark against TensorFlow.js and jax-js.
# Each step prints its start time; the last line the total.
#
# On 2 cores, one build's single-threaded stretches (linking, LTO, wasm-opt) leave a core
# idle, so the slow independent jobs overlap: the pinned tools build while the native checks
# run, and the release page builds (in a target directory of its own, so that cargo's lock
# does not serialise the two) while the wasm tests run. Their output is shown when waited for.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/scripts/node_modules/.bin:$HOME/.cargo/bin:$PATH"
target="${CARGO_TARGET_DIR:-$repo/target}"
logs=$(mktemp -d)
started=$SECONDS

step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

declare -A pids
background() { # name command...: runs in the background, output to a log
  local name=$1
  shift
  "$@" >"$logs/$name.log" 2>&1 &
  pids[$name]=$!
}
await() { # name: waits for a background job and shows its output
  local status=0
  wait "${pids[$1]}" || status=$?
  cat "$logs/$1.log"
  [ "$status" -eq 0 ] || { echo "error: $1 failed (status $status)" >&2; exit 1; }
}
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

step "set-up (the pinned tools build in the background)"
background tools scripts/setup.sh tools
scripts/setup.sh packages
step "cargo fmt --check"
cargo fmt --all -- --check
step "typos"
typos
step "the malformed-input corpus is what tests/corpus/make.py makes"
python3 tests/corpus/make.py --check
step "cargo clippy (native and wasm32)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
step "cargo test"
cargo test --quiet
step "the pinned tools (built in the background)"
await tools
step "cargo deny check licenses bans sources"
cargo deny --locked check licenses bans sources
step "trunk build --release (in the background) and the wasm tests in headless Chromium"
background page env CARGO_TARGET_DIR="$target/page" trunk build --release
# wasm-bindgen-test, CPU backend, no WebGPU adapter; dependencies built unoptimised
# (profile wasm-test): the tests train only small models.
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_WEBDRIVER_JSON="$repo/tests/webdriver.json" \
  cargo test --target wasm32-unknown-unknown --lib --profile wasm-test
step "the release page (built in the background)"
await page
step "browser end-to-end tests"
(cd tests/e2e && node --test --test-concurrency=1 lab.test.mjs views.test.mjs hardening.test.mjs)
step "the speed benchmark's smoke run (scripts/bench.sh --smoke: every path and peer, ffnn, 2 s windows)"
scripts/bench.sh --smoke --out "$logs/bench-smoke.json"
step "all tests passed in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s (screenshots: tests/e2e/artifacts/lab-after-training.png, lab-pretrained-sketch.png)"
