#!/usr/bin/env bash
# Fuzzes the lab's untrusted-input entry points with cargo-fuzz (libFuzzer, nightly Rust):
#   idx             the IDX reader: both parsers, and the inflater fed in pieces
#   weights         the weights loader, for every model kind (half the inputs behind a real
#                   header with a correct checksum, so burn's record reader sees them)
#   worker_message  the worker's message decoder and what the worker does with a message
#
# Usage: scripts/fuzz.sh [SECONDS per target, default 600] [TARGET...]
# Needs: rustup toolchain install nightly; cargo install --locked cargo-fuzz.
# Seeds come from real files (MNIST's IDX files, the shipped weights, one message of each
# kind); the corpora grow in fuzz/corpus/, crashes land in fuzz/artifacts/ (each one found
# so far is a regression test in tests/untrusted_input.rs). Not part of the test suite.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
seconds=${1:-600}
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(idx weights worker_message); fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/mnist-ae/fuzz-target}"

python3 - <<'PY'
import gzip, os, struct
root = "fuzz/corpus"
for t in ("idx", "weights", "worker_message"):
    os.makedirs(f"{root}/{t}", exist_ok=True)
def put(target, name, data):
    with open(f"{root}/{target}/seed-{name}", "wb") as f:
        f.write(data)
# idx: the first byte is the inflater's piece size; then a file.
images = gzip.open("static/mnist/t10k-images-idx3-ubyte.gz").read()
labels = gzip.open("static/mnist/t10k-labels-idx1-ubyte.gz").read()
three = struct.pack(">IIII", 0x803, 3, 28, 28) + images[16:16 + 3 * 784]
ten = struct.pack(">II", 0x801, 10) + labels[8:18]
put("idx", "images3.gz", b"\x40" + gzip.compress(three))
put("idx", "images3", b"\x07" + three)
put("idx", "labels10.gz", b"\x03" + gzip.compress(ten))
put("idx", "labels10", b"\x01" + ten)
put("idx", "t10k-labels.gz", b"\xff" + open("static/mnist/t10k-labels-idx1-ubyte.gz", "rb").read())
# weights: mode 0 = the file as it is; odd modes = a payload behind a real header.
for model in ("ffnn", "deep", "vae"):
    data = open(f"weights/{model}.bin", "rb").read()
    put("weights", model, b"\x00" + data)
    header_len = struct.unpack("<I", data[12:16])[0]
    payload = data[16 + header_len + 12:]
    mode = {"ffnn": 1, "deep": 7, "vae": 9}[model]  # ModelKind::ALL[mode / 2]
    put("weights", f"{model}-payload", bytes([mode]) + payload)
# worker_message: a message as JSON, a newline, then arrays (kind byte, length byte, data).
config = b'{"model":{"kind":"ffnn","code_size":32},"epochs":1,"batch_size":2,"learning_rate":0.001,"seed":42,"train_limit":null}'
put("worker_message", "start", b'{"Start":{"id":1,"backend":"cpu","config":' + config + b',"validation_batch":2,"dataset":"mnist"}}\n\x00\x01\x80')
put("worker_message", "data", b'{"Data":{"role":"Training"}}\n\x00\x02\x10\x20\x00\x02\x01\x02')
put("worker_message", "evaluate", b'{"Evaluate":{"backend":"cpu","config":{"kind":"ffnn","code_size":32},"count":10,"noise":null}}\n\x01\x08' + bytes(range(8)))
put("worker_message", "pause", b'{"Pause":{"id":3}}\n')
put("worker_message", "warm-up", b'{"WarmUp":{"kind":"deep","batch_size":100}}\n')
PY

status=0
for target in "${targets[@]}"; do
  echo "== $target: $seconds s"
  log="fuzz/$target.log"
  if cargo +nightly fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)" "$log"
  else
    status=1
    echo "crashed (the input is in fuzz/artifacts/$target/; the log in $log):"
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -5
  fi
done
exit $status
