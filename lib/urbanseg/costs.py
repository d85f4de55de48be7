"""What a model costs besides accuracy: FLOPs, forward speed and memory.

Forward speed is the network's own: a compiled forward pass on a batch already on the device,
returning the argmax as uint8 (what a deployed segmenter hands on), so that neither the float32
logits' copy to the host nor the input's copy to the device is timed. 10 warm-up and 50 timed
iterations, fewer where one pass is slow (a CPU at full resolution: a U-Net takes half a minute
on a 2048x1024 batch there): warm-up stops after ``BUDGET_SECONDS / 3``, timing after
``BUDGET_SECONDS``, never under 1 warm-up and ``MIN_REPEATS`` timed passes. The median and the
interquartile range are kept, with the number of timed passes, the batch, the resolution and
the precision they were measured at. The end-to-end time of the evaluation
pipeline (decode, resize, forward, upsample, argmax) is measured apart, by
``urbanseg.inference.evaluate_model``.

Speeds compare only between runs on the same machine, backend and precision, one run at a time
(``concurrent_runs`` in the record says how many notebooks ran at once).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

WARMUP, REPEATS = 10, 50  # iterations before timing, and timed (at most)
MIN_REPEATS = 3  # timed passes, however slow: a median and an interquartile range need several
BUDGET_SECONDS = 30.0  # of timed passes (a third of it for the warm-up), once MIN_REPEATS are done


def measure_forward(
    model: keras.Model,
    size: tuple[int, int],
    *,
    batch_size: int = 4,
    warmup: int = WARMUP,
    repeats: int = REPEATS,
    budget: float = BUDGET_SECONDS,
) -> dict[str, float | int]:
    """Forward-pass speed of ``model`` at ``size`` (H, W) and ``batch_size``: images per second
    at the median, the median and interquartile range of one batch in milliseconds, and how
    many passes were timed (``repeats``, or fewer once ``budget`` seconds are spent)."""
    forward = compiled_argmax(model)
    rng = np.random.default_rng(0)
    batch = ops.convert_to_tensor(rng.uniform(0, 255, (batch_size, *size, 3)).astype("float32"))
    started = time.perf_counter()
    for done in range(max(warmup, 1)):  # the first pass compiles
        if done and time.perf_counter() - started > budget / 3:
            break
        _wait(forward(batch))
    times: list[float] = []
    while len(times) < max(repeats, 1):
        if len(times) >= MIN_REPEATS and sum(times) > budget:
            break
        started = time.perf_counter()
        _wait(forward(batch))
        times.append(time.perf_counter() - started)
    q1, median, q3 = np.percentile(1000 * np.asarray(times), [25, 50, 75])
    return {
        "inference_images_per_second": float(batch_size / (median / 1000)),
        "forward_ms_median": float(median),
        "forward_ms_iqr": float(q3 - q1),
        "forward_batch": batch_size,
        "forward_repeats": len(times),
    }


def compiled_argmax(model: keras.Model) -> Callable:
    """``images -> argmax(logits) as uint8``, compiled by the backend (tf.function, jax.jit; on
    PyTorch, eager under no_grad), taking and returning device tensors."""

    def argmax(images):
        logits = model(images, training=False)
        if isinstance(logits, (list, tuple)):  # an auxiliary head: the main output
            logits = logits[0]
        return ops.cast(ops.argmax(logits, axis=-1), "uint8")

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(argmax, reduce_retracing=True)
    if backend == "jax":
        import jax

        return jax.jit(argmax)
    if backend == "torch":
        import torch

        def no_grad(images):
            with torch.no_grad():
                return argmax(images)

        return no_grad
    return argmax


def _wait(result) -> None:
    """Block until the device has finished ``result`` (its uint8 copy is a few kilobytes)."""
    ops.convert_to_numpy(result)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (RAM, host side), in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def peak_gpu_mb() -> float | None:
    """Peak memory allocated on the first GPU by this process's backend, in MiB; None on a
    machine without one (or a backend that does not say)."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if not tf.config.list_physical_devices("GPU"):
                return None
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        if backend == "torch":
            import torch

            if not torch.cuda.is_available():
                return None
            return torch.cuda.max_memory_allocated() / 2**20
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "gpu":
                return None
            return (device.memory_stats() or {}).get("peak_bytes_in_use", 0) / 2**20 or None
    except (RuntimeError, ValueError, KeyError):
        return None
    return None


def concurrent_runs() -> int:
    """How many notebooks the runner ran at once with this one (its URBANSEG_CONCURRENT_RUNS)."""
    try:
        return max(int(os.environ.get("URBANSEG_CONCURRENT_RUNS", "1")), 1)
    except ValueError:
        return 1


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
