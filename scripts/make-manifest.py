#!/usr/bin/env python3
"""Writes weights/manifest.json from the CLI's JSON reports of the runs that made weights/.

Inputs (all written by `mnist-ae --json`): runs/<model>-20.json (train), runs/<model>-eval.json
(eval of the shipped file, 10k test images) and runs/<model>-eval1000.json (first 1,000).
"""
import datetime, hashlib, json, os, sys

MODELS = ["ffnn", "conv-transpose", "upsample", "deep"]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def last_json(path):
    with open(os.path.join(root, path)) as f:
        return json.loads(f.read().strip().splitlines()[-1])

entries = []
for model in MODELS:
    train, full, first = (last_json(f"runs/{model}-{s}.json") for s in ("20", "eval", "eval1000"))
    path = os.path.join(root, "weights", f"{model}.bin")
    data = open(path, "rb").read()
    entries.append({
        "model": model,
        "file": f"{model}.bin",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "precision": "f16" if model == "deep" else "f32",
        "protocol": {"split": "48000/12000", "epochs": train["epochs"], "batch_size": train["batch_size"],
                      "optimizer": "adam", "learning_rate": train["learning_rate"], "loss": "mse"},
        "seed": train["seed"],
        "epochs": train["epochs"],
        "train_mse": train["train_mse"],
        "val_mse": train["val_mse"],
        "test": {k: full[k] for k in ("test_mse", "psnr_db", "ssim", "l2_per_image", "test_images")},
        "test_first_1000": {k: first[k] for k in ("test_mse", "test_images")},
        "images_per_sec": train["images_per_sec"],
        "train_seconds": train["seconds"],
        "backend": train["backend"] + ", native, 2 cores (other jobs running)",
        "date": datetime.date.fromtimestamp(os.path.getmtime(os.path.join(root, f"runs/{model}-20.json"))).isoformat(),
        "history": train["history"],
    })
json.dump({"format": 1, "models": entries}, open(os.path.join(root, "weights", "manifest.json"), "w"), indent=1)
print("wrote weights/manifest.json", file=sys.stderr)
