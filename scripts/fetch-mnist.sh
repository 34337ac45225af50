#!/usr/bin/env bash
# Fills static/mnist/ with the four canonical MNIST IDX files (gzip).
# Source: ../shared/mnist/ beside the repository when it exists, else the public mirrors.
# Always verifies the SHA-256 of the *decompressed* content; fails loudly on a mismatch.
# Idempotent: files already present and verified are left alone.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dest="${MNIST_DIR:-$repo/static/mnist}"
shared="${MNIST_SHARED:-$repo/../shared/mnist}"
mirrors=(
  "https://ossci-datasets.s3.amazonaws.com/mnist"
  "https://storage.googleapis.com/cvdf-datasets/mnist"
  "https://yann.lecun.com/exdb/mnist"
)
declare -A sha256=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

verify() { # file.gz expected-sha → 0 when the decompressed content matches
  [ -s "$1" ] && [ "$(gzip -dc "$1" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$2" ]
}

mkdir -p "$dest"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  file="$dest/$name.gz"
  want=${sha256[$name]}
  if verify "$file" "$want"; then
    continue
  fi
  tmp="$file.part"
  rm -f "$tmp"
  if [ -f "$shared/$name.gz" ]; then
    install -m 0644 "$shared/$name.gz" "$tmp"
  else
    got=""
    for mirror in "${mirrors[@]}"; do
      echo "downloading $name.gz from $mirror" >&2
      if curl -fsSL --retry 2 --connect-timeout 15 -o "$tmp" "$mirror/$name.gz"; then
        got=yes
        break
      fi
    done
    [ -n "$got" ] || { echo "error: could not download $name.gz from any mirror" >&2; rm -f "$tmp"; exit 1; }
  fi
  if ! verify "$tmp" "$want"; then
    echo "error: $name.gz failed its SHA-256 check (expected $want of the decompressed file)" >&2
    rm -f "$tmp"
    exit 1
  fi
  mv "$tmp" "$file"
  echo "fetched $name.gz" >&2
done
echo "MNIST ready in $dest" >&2
