#!/usr/bin/env bash
# Sets everything up (tools, wasm target, MNIST) and serves the lab on http://127.0.0.1:8080/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$repo/scripts/node_modules/.bin:$HOME/.cargo/bin:$PATH"
scripts/setup.sh
exec trunk serve --release "$@"
