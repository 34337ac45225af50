#!/usr/bin/env python3
"""Makes the malformed-input corpus: files that are wrong in one way each, from real MNIST
digits and the shipped weights, and `cases.json`, which says for each what is wrong and how
the page is given it. Never edit the files by hand: change this script and run it again.

    python3 tests/corpus/make.py           # (re)writes tests/corpus/
    python3 tests/corpus/make.py --check   # fails if the committed corpus differs from what it makes

Read by `tests/malformed_corpus.rs` (the library's messages, natively) and by the e2e test
"Malformed input" (the page, by fetch through a catalog of broken datasets and by upload).
Sources: the first 60 digits of MNIST's test set (`static/mnist/`, put there by
`scripts/setup.sh`) and `weights/conv-transpose.bin` / `weights/upsample.bin`.
"""

import gzip
import hashlib
import json
import struct
import sys
import tempfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
COUNT = 60  # digits in the good files
# Every fetched case is a dataset of this catalog, with the broken file in one place.
SLOTS = ("train_images", "train_labels", "test_images", "test_labels")
GOOD = {"images": "good-images-idx3-ubyte.gz", "labels": "good-labels-idx1-ubyte.gz"}
# The page shows this model while the weights cases are uploaded.
WEIGHTS_MODEL = "conv-transpose"


def idx(type_byte, dims, body, magic=b"\0\0"):
    return magic + bytes([type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body


def gz(data):
    # mtime 0: the same input always makes the same bytes.
    return gzip.compress(data, compresslevel=9, mtime=0)


def mnist(name, header):
    return gzip.decompress((REPO / "static/mnist" / name).read_bytes())[header:]


def png(pixels, side):
    """A greyscale PNG of `side`×`side` pixels, written out by hand (no imaging library)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + pixels[y * side:(y + 1) * side] for y in range(side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def weights_parts(data):
    """A weights file's parts: version, JSON header, payload (see src/weights.rs)."""
    assert data[:8] == b"MNISTAE\0"
    version, header_len = struct.unpack("<II", data[8:16])
    header = json.loads(data[16:16 + header_len])
    rest = data[16 + header_len:]
    payload_len, crc = struct.unpack("<QI", rest[:12])
    return version, header, rest[12:], payload_len, crc


def weights(version, header, payload, payload_len=None, crc=None):
    text = json.dumps(header, separators=(",", ":")).encode()
    payload_len = len(payload) if payload_len is None else payload_len
    crc = zlib.crc32(payload) if crc is None else crc
    return (b"MNISTAE\0" + struct.pack("<II", version, len(text)) + text
            + struct.pack("<QI", payload_len, crc) + payload)


def make():
    """Returns {file name: bytes} and the cases."""
    images = mnist("t10k-images-idx3-ubyte.gz", 16)[:COUNT * 784]
    labels = mnist("t10k-labels-idx1-ubyte.gz", 8)[:COUNT]
    good_images = idx(8, [COUNT, 28, 28], images)
    good_labels = idx(8, [COUNT], labels)
    files = {GOOD["images"]: gz(good_images), GOOD["labels"]: gz(good_labels)}
    cases = []

    def case(name, data, fault, what, slot=None, upload=True):
        """A broken IDX file; `what` is what it stands in for (images or labels)."""
        files[name] = data
        cases.append({"file": name, "kind": "idx", "what": what, "fault": fault,
                      "slot": slot or f"train_{what}", "upload": upload})

    case("bad-magic-images-idx3-ubyte", b"\x12\x34" + good_images[2:], "bad magic number", "images")
    case("float-images-idx3-ubyte", idx(0x0D, [2, 28, 28], bytes(2 * 784 * 4)),
         "element type 0x0d is not unsigned bytes", "images")
    case("flat-images-idx2-ubyte", idx(8, [COUNT, 784], images), "2 dimensions, expected 3", "images")
    case("32x32-images-idx3-ubyte", idx(8, [2, 32, 32], bytes(2 * 32 * 32)),
         "images are 32×32, expected 28×28", "images")
    case("59-labels-idx1-ubyte", idx(8, [COUNT - 1], labels[:COUNT - 1]), "59 labels for 60 images", "labels")
    case("label-11-labels-idx1-ubyte", idx(8, [COUNT], labels[:7] + b"\x0b" + labels[8:]),
         "label 11 at index 7 is outside 0–9", "labels")
    case("cut-body-images-idx3-ubyte", good_images[:16 + 30 * 784],
         f"truncated: {30 * 784} data bytes, header declares {COUNT * 784}", "images")
    case("cut-header-images-idx3-ubyte", good_images[:10], "10 bytes is too short for an IDX header", "images")
    case("trailing-images-idx3-ubyte", good_images + bytes(100), "100 unexpected bytes after the declared data",
         "images")
    # One byte of the gzip trailer's CRC-32 changed, as damage in transit would.
    corrupt = bytearray(gz(good_images))
    corrupt[-6] ^= 0x01
    case("corrupt-gzip-images-idx3-ubyte.gz", bytes(corrupt), "does not have a matching checksum", "images")
    case("cut-gzip-labels-idx1-ubyte.gz", gz(good_labels)[:30], "incomplete deflate stream", "labels")
    # 50 MB of zeros behind a 60-image header, in 49 KB: inflating stops past 47,040 bytes.
    case("bomb-images-idx3-ubyte.gz", gz(idx(8, [COUNT, 28, 28], bytes(50_000_000))),
         f"inflates past the {COUNT * 784} data bytes its header declares", "images")
    case("too-many-images-idx3-ubyte", idx(8, [4_000_000_000, 28, 28], b""),
         "declares 4000000000 items, more than the 600000", "images")
    case("empty-images-idx3-ubyte", b"", "the file is empty", "images")
    not_found = (b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
                 b"<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n")
    case("error-page-images-idx3-ubyte.gz", not_found, "a web page (HTML), not an IDX file", "images")
    # A catalog that lists the label file where the images belong, and the other way round.
    cases.append({"file": GOOD["labels"], "kind": "idx", "what": "images", "slot": "train_images",
                  "swap": "train_labels", "fault": "this is a label file, where images belong", "upload": False})

    model_file = (REPO / "weights" / f"{WEIGHTS_MODEL}.bin").read_bytes()
    version, header, payload, _, crc = weights_parts(model_file)

    def weights_case(name, data, fault):
        files[name] = data
        cases.append({"file": name, "kind": "weights", "model": WEIGHTS_MODEL, "fault": fault})

    weights_case("upsample-weights.bin", (REPO / "weights/upsample.bin").read_bytes(),
                 f"these weights are for the 'upsample' model, not '{WEIGHTS_MODEL}'")
    weights_case("cut-weights.bin", model_file[:len(model_file) // 2],
                 f"its header declares {len(payload)} bytes of weights")
    flipped = bytearray(model_file)
    flipped[len(model_file) - len(payload) // 2] ^= 0x10
    weights_case("flipped-byte-weights.bin", bytes(flipped), "corrupted (checksum mismatch)")
    weights_case("version-9-weights.bin", weights(9, header, payload),
                 "weights format version 9 is not supported")
    weights_case("trillion-parameters-weights.bin", weights(version, header, payload, 4 * 10**12, crc),
                 "its header declares 4000000000000 bytes of weights")
    # A code of 490 million values (10^7 channels of 7×7): billions of parameters. Under 2^32,
    # so that the page (wasm32) and the CLI read the same number and refuse it alike.
    weights_case("huge-code-weights.bin",
                 weights(version, dict(header, model=dict(header["model"], code_size=49 * 10**7)), payload),
                 "code size")
    weights_case("digit.png.bin", png(images[:784], 28), "it is a PNG image")
    weights_case("empty-weights.bin", b"", "the file is empty")
    return files, cases


def catalog(cases):
    """A dataset of the site's kind for each fetched case (the page fetches `corpus/<file>`)."""
    mnist_entry = json.loads((REPO / "static/datasets.json").read_text())["datasets"][0]
    datasets = []
    for n, c in enumerate(c for c in cases if c["kind"] == "idx"):
        names = {slot: GOOD[slot.split("_")[1]] for slot in SLOTS}
        names[c["slot"]] = c["file"]
        if "swap" in c:
            names[c["swap"]] = GOOD["images"]
        datasets.append({
            "id": f"corpus-{n + 1}", "name": f"Corpus {n + 1}", "description": f"broken: {c['file']}",
            "dir": "corpus", "files": names, "weights_dir": "weights", "labels": mnist_entry["labels"],
            # Of the bytes as served (the broken files have no content worth a sum).
            "sha256": {slot: None for slot in SLOTS}, "sources": {"mirrors": []},
        })
        c["dataset"] = datasets[-1]["id"]
    return datasets


def write(out):
    files, cases = make()
    datasets = catalog(cases)
    for d in datasets:
        d["sha256"] = {slot: hashlib.sha256(files[name]).hexdigest() for slot, name in d["files"].items()}
    files["cases.json"] = (json.dumps({"cases": cases}, indent=1, ensure_ascii=False) + "\n").encode()
    files["datasets.json"] = (json.dumps({"datasets": datasets}, indent=1, ensure_ascii=False) + "\n").encode()
    for name, data in files.items():
        (out / name).write_bytes(data)
    return sorted(files)


def main():
    if sys.argv[1:] == ["--check"]:
        with tempfile.TemporaryDirectory() as tmp:
            names = write(Path(tmp))
            kept = sorted(p.name for p in HERE.iterdir() if p.name != "make.py")
            stale = [n for n in names if not (HERE / n).exists() or (HERE / n).read_bytes() != (Path(tmp) / n).read_bytes()]
            extra = sorted(set(kept) - set(names))
            if stale or extra:
                sys.exit(f"tests/corpus differs from what make.py makes (changed: {stale}, not made: {extra}); "
                         "run python3 tests/corpus/make.py")
            print(f"tests/corpus: {len(names)} files, as make.py makes them")
    else:
        names = write(HERE)
        print(f"wrote {len(names)} files to {HERE}")


if __name__ == "__main__":
    main()
