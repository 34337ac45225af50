#!/usr/bin/env python3
"""Fills static/<dir>/ with each dataset's four IDX files (gzip), as static/datasets.json
lists them.

Usage: scripts/fetch-data.py [DATASET_ID ...]

Without ids: every dataset in the catalog that has a source (a local copy or mirrors).
Source, in order: ../shared/<sources.shared>/ beside the repository, <sources.system> (a folder a
system package installed, e.g. Debian's dataset-fashion-mnist), else the mirrors.
Always verifies the SHA-256 of the *decompressed* content (what identifies the data, whatever gzip
made the file); fails with exit status 1 and an `error:` line on a mismatch or when nothing can be
fetched. Idempotent: files already present and verified are left alone. Standard library only.
"""
import gzip
import hashlib
import json
import os
import shutil
import sys
import urllib.request
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG = os.path.join(REPO, "static", "datasets.json")
FILES = ("train_images", "train_labels", "test_images", "test_labels")
ATTEMPTS_PER_MIRROR = 3


class FetchError(Exception):
    pass


def log(message):
    print(message, file=sys.stderr)


def decompressed_sha256(path):
    """SHA-256 of the gzip file's content, or None when it is missing or not valid gzip."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def local_dirs(dataset):
    """The folders on this machine that may hold the dataset's files, first choice first."""
    sources = dataset.get("sources", {})
    dirs = []
    if sources.get("shared"):
        dirs.append(os.path.join(REPO, "..", "shared", sources["shared"]))
    if sources.get("system"):
        dirs.append(sources["system"])
    return [d for d in dirs if os.path.isdir(d)]


def has_source(dataset):
    return bool(local_dirs(dataset) or dataset.get("sources", {}).get("mirrors"))


def download(url, dest):
    last = None
    for _ in range(ATTEMPTS_PER_MIRROR):
        try:
            with urllib.request.urlopen(url, timeout=15) as response, open(dest, "wb") as out:
                shutil.copyfileobj(response, out)
            return True
        except OSError as e:  # URLError and timeouts are OSErrors
            last = e
    log(f"  {url}: {last}")
    return False


def fetch_file(dataset, key, dest_dir):
    name = dataset["files"][key]
    want = dataset["sha256"][key]
    target = os.path.join(dest_dir, name)
    if decompressed_sha256(target) == want:
        return
    part = target + ".part"
    if os.path.exists(part):
        os.remove(part)
    try:
        local = [d for d in local_dirs(dataset) if os.path.isfile(os.path.join(d, name))]
        if local:
            shutil.copyfile(os.path.join(local[0], name), part)
        else:
            for mirror in dataset.get("sources", {}).get("mirrors", []):
                log(f"downloading {name} from {mirror}")
                if download(f"{mirror.rstrip('/')}/{name}", part):
                    break
            else:
                raise FetchError(f"could not download {name} from any mirror of {dataset['id']}")
        os.chmod(part, 0o644)
        if decompressed_sha256(part) != want:
            raise FetchError(
                f"{name} failed its SHA-256 check (expected {want} of the decompressed file)"
            )
        os.replace(part, target)
    except OSError as e:
        raise FetchError(f"{name}: {e}") from e
    finally:
        if os.path.exists(part):
            os.remove(part)
    log(f"fetched {name}")


def fetch(dataset):
    dest_dir = os.path.join(REPO, "static", dataset["dir"])
    os.makedirs(dest_dir, exist_ok=True)
    for key in FILES:
        fetch_file(dataset, key, dest_dir)
    log(f"{dataset['name']} ready in {dest_dir}")


def read_catalog():
    """The catalog's datasets, checked for what this script needs (the library checks the rest)."""
    try:
        with open(CATALOG, encoding="utf-8") as f:
            datasets = json.load(f)["datasets"]
        for d in datasets:
            for key in ("id", "name", "dir"):
                if not isinstance(d[key], str) or not d[key]:
                    raise ValueError(f"'{key}' of a dataset is not a non-empty string")
            missing = [k for k in FILES if not d["files"].get(k) or not d["sha256"].get(k)]
            if missing:
                raise ValueError(f"dataset '{d['id']}' lacks a file name or SHA-256 for {missing}")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FetchError(f"cannot use {CATALOG}: {e!r}") from e
    return datasets


def main(ids):
    try:
        datasets = read_catalog()
        by_id = {d["id"]: d for d in datasets}
        if ids:
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise FetchError(f"unknown dataset '{unknown[0]}' (known: {', '.join(by_id)})")
            chosen = [by_id[i] for i in ids]
        else:
            chosen = [d for d in datasets if has_source(d)]
            for skipped in (d for d in datasets if not has_source(d)):
                log(f"skipping {skipped['id']}: no local copy and no mirrors")
        for dataset in chosen:
            fetch(dataset)
    except FetchError as e:
        log(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
