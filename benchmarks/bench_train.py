"""Training and inference speed of the five models (``make bench``).

Times compiled training steps and batched inference on random batches at one resolution, after
a warm-up that builds the graph. Backend-agnostic: set KERAS_BACKEND=jax or torch to compare.

    python benchmarks/bench_train.py                       # CPU widths, 128x256, batch 8
    python benchmarks/bench_train.py --width 1 --size 512x1024 --batch 8   # paper widths (GPU)
    python benchmarks/bench_train.py --json     # one JSON line per model (make bench reads them)
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from urbanseg.catalog import CATALOG
from urbanseg.costs import count_flops, measure_forward
from urbanseg.losses import SegmentationCrossEntropy
from urbanseg.models import MODELS, build_model


def bench(name: str, size: tuple[int, int], batch: int, steps: int, width: float | None) -> dict:
    model = build_model(name, input_shape=(*size, 3), width=width or CATALOG[name].cpu_width)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SegmentationCrossEntropy())
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch, *size, 3)).astype("float32")
    masks = rng.integers(0, 19, (batch, *size)).astype("int32")
    started = time.perf_counter()
    model.train_on_batch(images, masks)
    warmup = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, masks)
    step = (time.perf_counter() - started) / steps
    inference = measure_forward(model, size, batch_size=batch, warmup=2, repeats=max(steps, 3))
    return {
        "model": name,
        "width": width or CATALOG[name].cpu_width,
        "params": model.count_params(),
        "gflops": count_flops(model) / 1e9,
        "warmup_s": warmup,
        "step_s": step,
        "train_img_s": batch / step,
        **inference,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--size", default="128x256", help="HxW (default 128x256)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument(
        "--width", type=float, default=None, help="default: the catalog's CPU width of each model"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per model, no table")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.json:
        for name in args.models:
            print(json.dumps(bench(name, size, args.batch, args.steps, args.width)), flush=True)
        return
    print(
        f"backend {keras.backend.backend()}, {os.cpu_count()} cores, {size[0]}x{size[1]}, "
        f"batch {args.batch}"
    )
    print(
        f"{'model':8s} {'width':>5s} {'params':>10s} {'GFLOPs':>7s} {'warm-up s':>9s} "
        f"{'step s':>7s} {'train img/s':>11s} {'infer img/s':>11s} {'forward ms':>10s}"
    )
    for name in args.models:
        r = bench(name, size, args.batch, args.steps, args.width)
        print(
            f"{r['model']:8s} {r['width']:5.2f} {r['params']:10,d} {r['gflops']:7.2f} "
            f"{r['warmup_s']:9.1f} {r['step_s']:7.3f} {r['train_img_s']:11.1f} "
            f"{r['inference_images_per_second']:11.1f} {r['forward_ms_median']:10.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
