"""A trained Keras model at work: scoring it on a split, exporting its predictions in the
official format, and measuring what the report compares (FLOPs, speed, memory).

(``urbanseg.evaluation`` is the other side: it scores official-format prediction PNGs, whoever
made them.)

Protocols (recorded in metrics.json under "evaluation"):

- ``"full"`` (the official one): the model sees the image resized to the training size; its
  logits are upsampled bilinearly to the ground truth's original resolution, and the argmax is
  scored against the original labelIds and instanceIds, as the benchmark server does.
- ``"train"``: predictions and labels both at the training resolution (labels resized with
  nearest neighbour); cheaper, and not comparable with published numbers.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
from keras import ops

from .data import Sample, find_samples, read_png, read_train_ids, resize, write_png
from .errors import InputError
from .labels import NUM_CLASSES, TRAINID_TO_ID
from .metrics import ConfusionMatrix
from .records import METRICS_FILE, RunRecord

log = logging.getLogger(__name__)

PROTOCOLS = ("full", "train")


def _load_eval_sample(sample: Sample, size, protocol: str):
    image = read_png(sample.image, mode="RGB")
    gt = read_train_ids(sample.label)
    instances = read_png(sample.instances, mode="L").astype(np.int64) if sample.instances else None
    model_input = resize(image, size)
    if protocol == "train":
        gt = resize(gt, size, nearest=True)
        if instances is not None:
            instances = resize(instances, size, nearest=True)
    return model_input, gt, instances


def predict_logits(model: keras.Model, images: np.ndarray, out_size=None) -> np.ndarray:
    """Logits of a batch of uint8/float images, upsampled bilinearly to ``out_size`` (H, W)."""
    logits = model.predict_on_batch(np.asarray(images, dtype=np.float32))
    if isinstance(logits, (list, tuple)):  # a model with an auxiliary head: the main output
        logits = logits[0]
    if out_size is not None and tuple(logits.shape[1:3]) != tuple(out_size):
        logits = ops.image.resize(logits, tuple(out_size), interpolation="bilinear")
    return ops.convert_to_numpy(logits)


def evaluate_model(
    model: keras.Model,
    samples: list[Sample],
    size: tuple[int, int],
    *,
    protocol: str = "full",
    batch_size: int = 4,
    keep: set[str] | None = None,
    progress: bool = True,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The metrics of docs/results.md for ``model`` on ``samples``, and the predicted train ids (at
    the training resolution) of the stems listed in ``keep`` (for the sample figures)."""
    from tqdm import tqdm

    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol={protocol!r}: expected one of {PROTOCOLS}")
    matrix, kept = ConfusionMatrix(NUM_CLASSES), {}
    keep = keep or set()
    with (
        ThreadPoolExecutor(os.cpu_count() or 2) as pool,
        tqdm(
            total=len(samples),
            desc=f"evaluate {model.name}",
            unit="img",
            disable=not progress,
            file=sys.stdout,
            mininterval=2.0,
            ncols=100,
        ) as bar,
    ):
        loaded = pool.map(lambda s: _load_eval_sample(s, size, protocol), samples)
        for start in range(0, len(samples), batch_size):
            chunk = [next(loaded) for _ in samples[start : start + batch_size]]
            images = np.stack([c[0] for c in chunk])
            logits = predict_logits(model, images)
            for offset, (_, gt, instances) in enumerate(chunk):
                sample = samples[start + offset]
                if sample.stem in keep:
                    kept[sample.stem] = logits[offset].argmax(-1).astype(np.uint8)
                full = logits[offset]
                if full.shape[:2] != gt.shape:
                    full = predict_resize(full, gt.shape)
                matrix.update(gt, full.argmax(-1).astype(np.uint8), instances)
            bar.update(len(chunk))
    return matrix.compute(), kept


def predict_resize(logits: np.ndarray, size) -> np.ndarray:
    """Bilinear resize of one (H, W, C) logit map to ``size`` (H, W)."""
    return ops.convert_to_numpy(
        ops.image.resize(logits[None], tuple(size), interpolation="bilinear")
    )[0]


def measure_inference(
    model: keras.Model, size: tuple[int, int], *, batch_size: int = 8, repeats: int = 3
) -> dict[str, float]:
    """Batched throughput (images/s) and single-image latency (ms), after a warm-up call."""
    batch = np.random.default_rng(0).uniform(0, 255, (batch_size, *size, 3)).astype(np.float32)
    model.predict_on_batch(batch)
    model.predict_on_batch(batch[:1])
    started = time.perf_counter()
    for _ in range(repeats):
        model.predict_on_batch(batch)
    throughput = repeats * batch_size / (time.perf_counter() - started)
    latencies = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_on_batch(batch[:1])
        latencies.append(time.perf_counter() - started)
    return {
        "inference_images_per_second": throughput,
        "latency_ms": 1000 * float(np.median(latencies)),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def count_flops(model: keras.Model) -> int:
    """Floating-point operations of one forward pass per image (2 per multiply-add), counted from
    the convolution and dense layers' shapes: backend-agnostic, and enough to compare models
    (normalisation, activations and resizing are not counted)."""
    total = 0
    for layer in _leaf_layers(model):
        try:
            out_shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if isinstance(out_shape, list):
            out_shape = out_shape[0]
        spatial = int(np.prod([d for d in out_shape[1:-1] if d is not None]) or 1)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel = layer.kernel.shape  # kh, kw, cin, multiplier
            total += 2 * spatial * int(np.prod(kernel))
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            kernel = layer.kernel.shape  # kh, kw, cout, cin
            in_shape = layer.input.shape
            total += 2 * int(np.prod(in_shape[1:-1])) * int(np.prod(kernel))
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.SeparableConv2D)):
            if isinstance(layer, keras.layers.SeparableConv2D):
                total += 2 * spatial * int(np.prod(layer.depthwise_kernel.shape))
                total += 2 * spatial * int(np.prod(layer.pointwise_kernel.shape))
            else:
                total += 2 * spatial * int(np.prod(layer.kernel.shape)) // max(layer.groups, 1)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * spatial * int(np.prod(layer.kernel.shape))
    return total


def _leaf_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer)
        else:
            yield layer


def predict_split(
    run_dir: str | Path, root: str | Path, split: str, out: str | Path, *, progress: bool = True
) -> int:
    """Write official-format predictions (labelIds PNGs at the original resolution, one per
    image, named ``<stem>_labelIds.png``) of the model saved in ``run_dir`` for ``split``."""
    from tqdm import tqdm

    run_dir, out = Path(run_dir), Path(out)
    model_path = run_dir / "model.keras"
    for path in (model_path, run_dir / METRICS_FILE):
        if not path.is_file():
            raise InputError(f"{path}: not found (is {run_dir} a finished model run?)")
    record = RunRecord.read(run_dir)
    try:
        size = (int(record.parameters["image_height"]), int(record.parameters["image_width"]))
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{run_dir / METRICS_FILE}: no training size ({error})") from None
    from . import models  # noqa: F401  (registers the custom layers the saved model names)

    model = keras.saving.load_model(model_path, compile=False)
    samples = find_samples(root, split, require_labels=False)
    out.mkdir(parents=True, exist_ok=True)
    for sample in tqdm(samples, desc=f"predict {split}", disable=not progress, unit="img"):
        image = read_png(sample.image, mode="RGB")
        logits = predict_logits(model, resize(image, size)[None], out_size=image.shape[:2])[0]
        label_ids = TRAINID_TO_ID[logits.argmax(-1)].astype(np.uint8)
        write_png(out / f"{sample.stem}_labelIds.png", label_ids)
    return len(samples)
