#!/usr/bin/env bash
# Installs what the lab needs on a fresh Debian machine (idempotent, fast when done):
# the wasm32 Rust target and MNIST in static/mnist.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  rustup target add wasm32-unknown-unknown
fi
"$repo/scripts/fetch-mnist.sh"
