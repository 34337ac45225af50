#!/usr/bin/env bash
# The speed benchmark: the lab's release page against TensorFlow.js and jax-js, in the same
# Chromium, on the same MNIST images (tests/bench/bench.mjs says what it measures).
#   scripts/bench.sh            every model, path and batch size; 10 s windows (about 25 min)
#   scripts/bench.sh --smoke    ffnn only, 2 s windows (about a minute; part of scripts/test.sh)
#   scripts/bench.sh --models ffnn,deep --libraries lab,jax --seconds 20 --out run.json
#   scripts/bench.sh --paths webgpu --libraries lab --settle 30   first steps after the warm-up
# Builds the release page first when dist/ is older than the sources.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/scripts/node_modules/.bin:$HOME/.cargo/bin:$PATH"
target="${CARGO_TARGET_DIR:-$repo/target}"

newer=$(find src static weights index.html Cargo.toml Cargo.lock Trunk.toml -newer dist/index.html \
  -print -quit 2>/dev/null || echo "no dist/index.html")
if [ ! -f dist/index.html ] || [ -n "$newer" ]; then
  echo "building the release page (dist/ is older than ${newer:-the sources})"
  CARGO_TARGET_DIR="$target/page" trunk build --release
fi
[ -d tests/bench/node_modules/@jax-js/jax ] || (cd tests/bench && npm ci --no-audit --no-fund)
node tests/bench/bench.mjs "$@"
