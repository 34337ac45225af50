#!/usr/bin/env bash
# Runs every test: formatting, lints, native unit + integration tests on the real MNIST,
# and the WebAssembly build of the library.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

step "set-up"
scripts/setup.sh
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib --quiet -- -D warnings
step "cargo test"
cargo test --quiet
step "wasm32 build of the library"
cargo build --target wasm32-unknown-unknown --lib --quiet
step "all tests passed"
