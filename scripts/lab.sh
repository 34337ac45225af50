#!/usr/bin/env bash
# Sets everything up and runs the main job: train ffnn at the reference protocol and evaluate it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/setup.sh
cargo run -- train --model ffnn "$@"
