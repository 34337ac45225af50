#!/usr/bin/env python3
"""PyTorch's eager training of the lab's four models: the reference for `mnist-ae bench`.

Same models, data and timing protocol as `mnist-ae bench` (src/cli/bench.rs): 2,048 MNIST
training images, 1,536 trained on and 512 validated after each epoch (timed with the rest);
Adam 1e-3 on the MSE; each batch uploaded from host u8 pixels; the first step timed apart;
then a window of --seconds with one loss read-back at its end. Inference: batches of the same
size from the same images, each output copied back to the host before the next. Prints one
JSON object per line, with the fields of `mnist-ae bench`.

    python3 scripts/torch-bench.py [--device cuda] [--seconds 3] [--data static/mnist]
"""

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

TRAIN_IMAGES = 2048
VALIDATION_IMAGES = 512


def read_images(path: Path) -> np.ndarray:
    """An IDX image file (gzip or raw) as an `[n, 28, 28]` u8 array."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, count * rows * cols, 16).reshape(count, rows, cols)


def conv_encoder() -> list[nn.Module]:
    return [
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    ]  # fmt: skip


def dense_bn(a: int, b: int) -> list[nn.Module]:
    return [nn.Linear(a, b), nn.BatchNorm1d(b)]


def make_model(kind: str) -> nn.Module:
    """The lab's models (src/model/), layer for layer; each maps `[n, 1, 28, 28]` to itself."""
    image = nn.Unflatten(1, (1, 28, 28))
    if kind == "ffnn":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 784), nn.Sigmoid(), image
        )
    if kind == "conv-transpose":
        return nn.Sequential(
            *conv_encoder(),
            nn.ConvTranspose2d(4, 16, 2, stride=2), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Sigmoid(),
        )  # fmt: skip
    if kind == "upsample":
        return nn.Sequential(
            *conv_encoder(),
            nn.Upsample(scale_factor=2), nn.Conv2d(4, 16, 3, padding=1), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(16, 1, 3, padding=1), nn.Sigmoid(),
        )  # fmt: skip
    if kind == "deep":
        widths = [784, 1000, 500, 250, 4]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(widths, widths[1:]):
            layers += dense_bn(a, b) + ([nn.ReLU()] if b != 4 else [])
        back = widths[::-1]
        for a, b in zip(back[:-2], back[1:-1]):
            layers += dense_bn(a, b) + [nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(1000, 784), nn.Sigmoid(), image)
    raise ValueError(f"unknown model {kind}")


def measure(kind: str, batch: int, images: np.ndarray, device: torch.device, seconds: float):
    train, validation = images[: TRAIN_IMAGES - VALIDATION_IMAGES], images[-VALIDATION_IMAGES:]
    rng = np.random.default_rng(42)
    model = make_model(kind).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    mse = nn.MSELoss()

    def upload(pixels: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
        return x.unsqueeze(1).float() / 255.0

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def epochs():
        """Training steps, forever; each epoch ends with the validation pass, read back."""
        while True:
            model.train()
            order = rng.permutation(len(train))
            for first in range(0, len(order), batch):
                x = upload(train[order[first : first + batch]])
                loss = mse(model(x), x)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                yield x.shape[0], loss
            model.eval()
            with torch.no_grad():
                losses = [
                    mse(model(x), x) for x in map(upload, np.array_split(validation, 8))
                ]
                torch.stack(losses).mean().item()

    steps = epochs()
    started = time.perf_counter()
    _, loss = next(steps)
    loss.item()
    first_step = time.perf_counter() - started

    count, seen = 0, 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        n, loss = next(steps)
        count, seen = count + 1, seen + n
    loss.item()
    sync()
    train_seconds = time.perf_counter() - started

    model.eval()

    def reconstruct(i: int):
        indices = [(i * batch + k) % len(train) for k in range(batch)]
        with torch.no_grad():
            model(upload(train[indices])).cpu()

    started = time.perf_counter()
    reconstruct(0)
    inference_first = time.perf_counter() - started
    batches = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        batches += 1
        reconstruct(batches)
    inference_seconds = time.perf_counter() - started
    return {
        "device": f"torch-{device.type}",
        "adapter": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "model": kind,
        "batch": batch,
        "train_images": len(train),
        "train_images_per_sec": seen / train_seconds,
        "inference_images_per_sec": batches * batch / inference_seconds,
        "first_step_ms": first_step * 1000,
        "steps": count,
        "seconds": train_seconds,
        "inference_first_batch_ms": inference_first * 1000,
        "inference_batches": batches,
        "inference_seconds": inference_seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--data", type=Path, default=Path("static/mnist"))
    parser.add_argument("--models", default="ffnn,conv-transpose,upsample,deep")
    parser.add_argument("--batch-sizes", default="", help="default: reference size, 256, 1024")
    args = parser.parse_args()
    images = read_images(args.data / "train-images-idx3-ubyte.gz")[:TRAIN_IMAGES]
    device = torch.device(args.device)
    torch.manual_seed(42)
    for kind in args.models.split(","):
        reference = 100 if kind == "deep" else 20
        sizes = [int(b) for b in args.batch_sizes.split(",") if b] or [reference, 256, 1024]
        for batch in sizes:
            print(json.dumps(measure(kind, batch, images, device, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
