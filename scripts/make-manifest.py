#!/usr/bin/env python3
"""Writes a dataset's weights manifest from the CLI's JSON reports of the runs that made its weights.

Usage: scripts/make-manifest.py [DATASET_ID] [--only MODEL]   (default mnist: the four autoencoders,
and the VAE where its reports are in <runs>)

With --only, that model's entry is made from its reports and the others are kept from the
manifest as it is (e.g. after retraining one model).

MNIST: runs/ and weights/; another dataset: runs/<id>/ and its catalog's weights_dir.
Inputs (all written by `mnist-ae --json`): <runs>/<model>-20.json (train), <runs>/<model>-eval.json
(eval of the shipped file, 10k test images) and <runs>/<model>-eval1000.json (first 1,000).
"""
import datetime, hashlib, json, os, sys

MODELS = ["ffnn", "conv-transpose", "upsample", "deep", "vae"]
OPTIONAL = {"vae"}
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
only = None
if "--only" in args:
    at = args.index("--only")
    if at + 1 >= len(args) or args[at + 1] not in MODELS:
        sys.exit(f"error: --only takes one of {', '.join(MODELS)}")
    only = args[at + 1]
    del args[at:at + 2]
dataset_id = args[0] if args else "mnist"
catalog = json.load(open(os.path.join(root, "static", "datasets.json")))["datasets"]
dataset = next((d for d in catalog if d["id"] == dataset_id), None)
if dataset is None:
    sys.exit(f"error: unknown dataset '{dataset_id}' (known: {', '.join(d['id'] for d in catalog)})")
runs = "runs" if dataset_id == "mnist" else os.path.join("runs", dataset_id)
weights_dir = dataset["weights_dir"]

def last_json(path):
    with open(os.path.join(root, path)) as f:
        return json.loads(f.read().strip().splitlines()[-1])

def loss_of(model, train):
    """What the run minimised: MSE unless its report names a loss (the VAE: BCE plus its KL term)."""
    techniques = train.get("techniques") or {}
    loss = (techniques.get("loss") or {}).get("kind", "mse")
    if model == "vae":
        loss += f" + KL (weight {techniques.get('kl_weight', 1.0)})"
    return loss

out = os.path.join(weights_dir, "manifest.json")
kept = {}
if only:
    kept = {e["model"]: e for e in json.load(open(os.path.join(root, out)))["models"]}
entries = []
for model in MODELS:
    if only and model != only:
        if model in kept:
            entries.append(kept[model])
        continue
    if model in OPTIONAL and not os.path.exists(os.path.join(root, f"{runs}/{model}-20.json")):
        continue
    train, full, first = (last_json(f"{runs}/{model}-{s}.json") for s in ("20", "eval", "eval1000"))
    path = os.path.join(root, weights_dir, f"{model}.bin")
    data = open(path, "rb").read()
    entries.append({
        "model": model,
        "dataset": dataset_id,
        "file": f"{model}.bin",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "precision": "f16" if model == "deep" else "f32",
        "protocol": {"split": "48000/12000", "epochs": train["epochs"], "batch_size": train["batch_size"],
                      "optimizer": "adam", "learning_rate": train["learning_rate"], "loss": loss_of(model, train)},
        "seed": train["seed"],
        "epochs": train["epochs"],
        "train_mse": train["train_mse"],
        "val_mse": train["val_mse"],
        "test": {k: full[k] for k in ("test_mse", "psnr_db", "ssim", "l2_per_image", "test_images")},
        "test_first_1000": {k: first[k] for k in ("test_mse", "test_images")},
        "images_per_sec": train["images_per_sec"],
        "train_seconds": train["seconds"],
        "backend": train["backend"] + ", native, 2 cores (other jobs running)",
        "date": datetime.date.fromtimestamp(os.path.getmtime(os.path.join(root, f"{runs}/{model}-20.json"))).isoformat(),
        "history": train["history"],
    })
json.dump({"format": 1, "models": entries}, open(os.path.join(root, out), "w"), indent=1)
print(f"wrote {out}", file=sys.stderr)
