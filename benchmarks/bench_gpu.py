"""Training and inference speed of the five models on one GPU, per Keras backend, against a
U-Net written in plain PyTorch.

For each Keras backend (one subprocess each, with KERAS_BACKEND set) and each model: optimizer
steps with ``train_on_batch`` on a batch already on the device, in images per second; the
TFLOP/s that makes (3 x the forward FLOPs per image: the forward pass and a backward pass of
about twice its cost); that as a percentage of the same backend's matmul TFLOP/s in the
policy's compute dtype on the same device (what the chip does at best); forward speed
(``urbanseg.costs.measure_forward``); peak GPU memory. The torch worker also trains the same
U-Net written in plain ``torch.nn`` (``build_torch_unet``, as many parameters as the Keras one),
eagerly and, with --compile, through ``torch.compile``: what Keras costs over the framework
underneath. So the plain-PyTorch rows come only when torch is among --backends.

Meant for a GPU machine with PyTorch and JAX but no TensorFlow, with the wheels keras, optree
and namex added: nothing here imports TensorFlow unless "tensorflow" is among the backends.

    PYTHONPATH=lib python benchmarks/bench_gpu.py           # paper widths, 512x1024, batch 8, bf16
    PYTHONPATH=lib python benchmarks/bench_gpu.py --backends jax --models unet deeplab --batch 16

Writes gpu.csv and GPU.md in --out (default bench/).
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import urbanseg
from urbanseg.atomic import write_atomically
from urbanseg.catalog import CATALOG, ORDER
from urbanseg.labels import IGNORE_ID, NUM_CLASSES

BACKENDS = ("jax", "torch", "tensorflow")
PRECISIONS = {"mixed_bfloat16": "bfloat16", "float32": "float32"}  # policy -> compute dtype
COLUMNS = (
    "implementation",  # "keras", or the plain-PyTorch U-Net: "torch-eager", "torch-compile"
    "backend",
    "model",
    "width",
    "size",
    "batch",
    "precision",
    "params",  # as Keras counts them: weights and batch norm's moving statistics
    "params_match",  # plain-PyTorch rows: whether params equals the Keras model's
    "gflops_forward",  # per image
    "train_img_s",
    "train_tflops",  # 3 x forward FLOPs per image x train_img_s
    "peak_percent",  # train_tflops / matmul_tflops, in percent
    "matmul_tflops",  # the worker's square matmul in the compute dtype
    "infer_img_s",  # median of --repeats forward passes (argmax to uint8 on the device)
    "peak_gpu_mb",
    "error",
)
LEARNING_RATE = 0.01  # SGD with momentum 0.9: the speed does not depend on it
AUX_WEIGHT = 0.4  # PSPNet's auxiliary loss weight (arXiv:1612.01105, section 3.3)
ROW_MARK = "bench_gpu> "  # a worker's stdout line the parent reads; other lines are echoed


# --- what the parent computes and writes (plain functions, no Keras) -------------------------


def parse_size(text: str) -> tuple[int, int]:
    """ "512x1024" -> (512, 1024): height and width, multiples of 32."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be HxW, e.g. 512x1024, got {text!r}") from None
    if height <= 0 or width <= 0 or height % 32 or width % 32:
        raise argparse.ArgumentTypeError(
            f"size must be positive multiples of 32 (HxW), got {text!r}"
        )
    return height, width


def available_backends() -> list[str]:
    """The Keras backends whose package is installed, found without importing them."""
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def training_tflops(forward_flops: float, images_per_second: float) -> float:
    """TFLOP/s of training at ``images_per_second``: a forward pass and a backward pass of about
    twice its cost per image."""
    return 3 * forward_flops * images_per_second / 1e12


def speed_ratio(rows, numerator, denominator, model="unet") -> float | None:
    """Training speed of ``model`` by ``numerator`` over ``denominator``, each an
    (implementation, backend) pair; None when either has no measurement."""

    def speed(implementation, backend):
        for row in rows:
            if (row["implementation"], row["backend"], row["model"]) == (
                implementation,
                backend,
                model,
            ):
                return row["train_img_s"]
        return None

    top, bottom = speed(*numerator), speed(*denominator)
    return None if not top or not bottom else top / bottom


def format_table(rows) -> str:
    """The rows as a Markdown table, numbers rounded for reading."""
    header = (
        "implementation",
        "backend",
        "model",
        "params",
        "GFLOPs fwd",
        "train img/s",
        "train TFLOP/s",
        "% of matmul",
        "infer img/s",
        "peak GPU MB",
        "error",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        params = _number(row["params"], "{:,.0f}")
        if row.get("params_match") is not None:
            params += " (= Keras)" if row["params_match"] else " (≠ Keras)"
        cells = (
            row["implementation"],
            row["backend"],
            row["model"],
            params,
            _number(row["gflops_forward"]),
            _number(row["train_img_s"]),
            _number(row["train_tflops"]),
            _number(row["peak_percent"]),
            _number(row["infer_img_s"]),
            _number(row["peak_gpu_mb"], "{:,.0f}"),
            (row.get("error") or "").replace("|", "/"),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value, template=None) -> str:
    """``value`` by ``template``; without one, a tenth from 10 up and 3 significant digits
    below (0.0484 GFLOPs at a test's sizes, 1,531.2 at the paper's); "–" for None."""
    if value is None:
        return "–"
    if template is None:
        template = "{:,.1f}" if abs(value) >= 10 else "{:.3g}"
    return template.format(value)


def render_markdown(rows, context) -> str:
    """GPU.md: what ran where and how, the table, and how Keras on JAX compares with plain
    PyTorch on the U-Net. ``context``: device, date, versions, command, settings and
    matmul_tflops ({backend: TFLOP/s})."""
    matmul = ", ".join(
        f"{backend} {_number(tflops)} TFLOP/s"
        for backend, tflops in context["matmul_tflops"].items()
    )
    lines = [
        "# GPU benchmark: the five models on each Keras backend, and a plain-PyTorch U-Net",
        "",
        f"- Device: {context['device']}",
        f"- Date: {context['date']}",
        f"- Versions: {context['versions']}",
        f"- Command: `{context['command']}`",
        f"- Settings: {context['settings']}",
        f"- Matmul peak: {matmul or '–'}",
        "",
        format_table(rows),
        "",
    ]
    for label, implementation in (("eager", "torch-eager"), ("torch.compile", "torch-compile")):
        ratio = speed_ratio(rows, ("keras", "jax"), (implementation, "torch"))
        if ratio is not None:
            lines.append(
                f"U-Net training, Keras on JAX / plain PyTorch ({label}): {ratio:.2f}x "
                "(above 1: Keras on JAX is faster)."
            )
    lines += [
        "",
        "Train TFLOP/s counts 3 x the forward FLOPs of `urbanseg.costs.count_flops` per image; "
        "% of matmul divides it by the same backend's square matmul in the compute dtype. "
        "PSPNet trains, and is counted, with its auxiliary head (loss weight 0.4). "
        "Training speed is the mean over the timed steps, each returning its loss to the host; "
        "inference is the median forward pass with the argmax on the device. Peak GPU memory "
        "is reset before each model on PyTorch; JAX cannot reset it, so its figure is the "
        "worker's running peak over the models in the order listed.",
        "",
    ]
    return "\n".join(lines)


def write_results(rows, context, out: Path) -> tuple[Path, Path]:
    """gpu.csv and GPU.md in ``out``, each written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: row.get(column) for column in COLUMNS} for row in rows)
    return (
        write_atomically(out / "gpu.csv", buffer.getvalue()),
        write_atomically(out / "GPU.md", render_markdown(rows, context)),
    )


def package_versions() -> str:
    """ "keras 3.5.0, jax 0.4.36, torch 2.5.1, python 3.11.7" for those installed."""
    found = []
    for name in ("keras", *BACKENDS):
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join([*found, f"python {platform.python_version()}"])


def empty_row(implementation, backend, model, args) -> dict:
    """A row with its settings filled in and no measurement."""
    row = dict.fromkeys(COLUMNS)
    row.update(
        implementation=implementation,
        backend=backend,
        model=model,
        width=args.width,
        size=f"{args.size[0]}x{args.size[1]}",
        batch=args.batch,
        precision=args.precision,
    )
    return row


# --- the parent: one worker per backend ------------------------------------------------------


def run_worker(backend: str, argv: list[str], args) -> tuple[list[dict], dict]:
    """Run this file as the worker of ``backend`` and collect its rows and its findings about
    the device. Models it did not report (it crashed, or ran out of memory hard) get a row
    with an error."""
    print(f"[{backend}] starting its worker", flush=True)
    library = str(Path(urbanseg.__file__).resolve().parents[1])  # the same urbanseg
    environment = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "PYTHONPATH": os.pathsep.join(filter(None, [library, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--worker", backend]
    rows, worker = [], {}
    with subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            if not line.startswith(ROW_MARK):
                print(line, end="", flush=True)
                continue
            record = json.loads(line[len(ROW_MARK) :])
            if "row" in record:
                rows.append(record["row"])
                print(progress_line(record["row"]), flush=True)
            else:
                worker = record["worker"]
    if process.returncode != 0:
        reported = {row["model"] for row in rows if row["implementation"] == "keras"}
        for model in args.models:
            if model not in reported:
                row = empty_row("keras", backend, model, args)
                row["error"] = f"worker exited with code {process.returncode} (see its output)"
                rows.append(row)
    if worker.get("tensorflow_imported") and backend != "tensorflow":
        print(f"warning: the {backend} worker imported TensorFlow", file=sys.stderr, flush=True)
    return rows, worker


def progress_line(row) -> str:
    what = f"[{row['backend']}] {row['model']} ({row['implementation']})"
    if row["error"]:
        return f"{what}: failed: {row['error']}"
    return (
        f"{what}: train {_number(row['train_img_s'])} img/s, "
        f"{_number(row['train_tflops'])} TFLOP/s ({_number(row['peak_percent'])}% of matmul); "
        f"inference {_number(row['infer_img_s'])} img/s"
    )


def settings_line(args) -> str:
    height, width = args.size
    return (
        f"width {args.width}, {height}x{width}, batch {args.batch}, {args.precision}, "
        f"{args.warmup} warm-up + {args.steps} timed training steps (SGD, momentum 0.9), "
        f"forward median of {args.repeats} (after {args.warmup} warm-up), "
        f"matmul {args.matmul_size}x{args.matmul_size} in {PRECISIONS[args.precision]}"
    )


def run_parent(argv: list[str], args) -> None:
    rows, workers = [], {}
    for backend in args.backends:
        backend_rows, workers[backend] = run_worker(backend, argv, args)
        rows += backend_rows
    devices = sorted({worker["device"] for worker in workers.values() if worker.get("device")})
    context = {
        "device": ", ".join(devices) or "unknown (no worker reported)",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": package_versions(),
        "command": "python " + shlex.join([sys.argv[0], *argv]),
        "settings": settings_line(args),
        "matmul_tflops": {
            backend: worker["matmul_tflops"]
            for backend, worker in workers.items()
            if worker.get("matmul_tflops")
        },
    }
    csv_path, markdown_path = write_results(rows, context, Path(args.out))
    print()
    print(format_table(rows))
    print(f"\nwrote {csv_path} and {markdown_path}", flush=True)


# --- the worker: one backend, every model ----------------------------------------------------


def emit(kind: str, payload: dict) -> None:
    print(ROW_MARK + json.dumps({kind: payload}), flush=True)


def run_backend(backend: str, args) -> None:
    """Measure every model on ``backend`` (this process's Keras backend), then the plain-PyTorch
    U-Net on torch; one line per row on stdout, for the parent."""
    os.environ["KERAS_BACKEND"] = backend  # before Keras is first imported
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"Keras runs on {keras.backend.backend()}, not {backend}")
    keras.mixed_precision.set_global_policy(args.precision)
    compute_dtype = keras.mixed_precision.global_policy().compute_dtype
    matmul = matmul_tflops(backend, args.matmul_size, compute_dtype)
    print(f"[{backend}] matmul {_number(matmul)} TFLOP/s in {compute_dtype}", flush=True)
    for name in args.models:
        print(f"[{backend}] {name}: training", flush=True)
        row = empty_row("keras", backend, name, args)
        emit("row", measured(row, matmul, lambda name=name: measure_keras_model(name, args)))
    if backend == "torch" and "unet" in args.models:
        import torch

        compile_too = torch.cuda.is_available() if args.compile is None else args.compile
        for compiled in (False, True) if compile_too else (False,):
            implementation = "torch-compile" if compiled else "torch-eager"
            print(f"[torch] unet ({implementation}): training", flush=True)
            row = empty_row(implementation, "torch", "unet", args)
            emit(
                "row",
                measured(row, matmul, lambda compiled=compiled: measure_torch_unet(args, compiled)),
            )
    emit(
        "worker",
        {
            "device": device_name(backend),
            "matmul_tflops": matmul,
            "tensorflow_imported": "tensorflow" in sys.modules,
        },
    )


def measured(row: dict, matmul: float, measure) -> dict:
    """``row`` with what ``measure()`` found (params, forward_flops, train_img_s, infer_img_s,
    peak_gpu_mb, params_match) and the TFLOP/s worked out; an exception (out of memory, a
    backend's failure) becomes the row's error instead of ending the run."""
    try:
        found = measure()
    except Exception as error:
        traceback.print_exc()
        message = str(error).strip().splitlines()
        error_text = f"{type(error).__name__}: {message[0] if message else ''}"[:300]
        return {**row, "matmul_tflops": matmul, "error": error_text}
    finally:
        gc.collect()
    forward_flops = found.pop("forward_flops")
    tflops = training_tflops(forward_flops, found["train_img_s"])
    return {
        **row,
        **found,
        "gflops_forward": forward_flops / 1e9,
        "train_tflops": tflops,
        "peak_percent": 100 * tflops / matmul,
        "matmul_tflops": matmul,
    }


def matmul_tflops(backend: str, size: int, dtype: str, warmup: int = 3, repeats: int = 10) -> float:
    """TFLOP/s of a ``size`` x ``size`` matmul in ``dtype`` with the backend's own kernels
    (under jax.jit on JAX): the mean of ``repeats`` back to back, after ``warmup``."""
    import keras
    from keras import ops

    a = keras.random.normal((size, size), dtype=dtype, seed=0)
    b = keras.random.normal((size, size), dtype=dtype, seed=1)
    matmul = ops.matmul
    if backend == "jax":
        import jax

        matmul = jax.jit(ops.matmul)
    for _ in range(warmup):
        product = matmul(a, b)
    wait(product)
    started = time.perf_counter()
    for _ in range(repeats):
        product = matmul(a, b)
    wait(product)
    seconds = (time.perf_counter() - started) / repeats
    return 2 * size**3 / seconds / 1e12


def wait(tensor) -> None:
    """Block until the device has computed ``tensor`` (one element comes back to the host)."""
    from keras import ops

    ops.convert_to_numpy(ops.cast(tensor[0, 0], "float32"))


def device_name(backend: str) -> str:
    """The accelerator the backend runs on, else the CPU."""
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name()
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return device.device_kind
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    return f"CPU ({platform.processor() or platform.machine() or 'unknown'})"


def reset_peak_gpu_memory(backend: str) -> None:
    """Start the peak-memory count afresh where the backend can (not on JAX)."""
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            tf.config.experimental.reset_memory_stats("GPU:0")


def random_batch(batch: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Images uniform in [0, 255] (float32, NHWC) and masks of train ids 0..18 (int32)."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch, *size, 3)).astype("float32")
    masks = rng.integers(0, NUM_CLASSES, (batch, *size)).astype("int32")
    return images, masks


def measure_keras_model(name: str, args) -> dict:
    """Train and run the model ``name`` at the benchmark's settings on this process's backend."""
    import keras
    from keras import ops

    from urbanseg import costs
    from urbanseg.losses import SegmentationCrossEntropy
    from urbanseg.models import build_model

    backend = keras.backend.backend()
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(args.precision)  # clear_session forgets it
    reset_peak_gpu_memory(backend)
    # PSPNet trains with its auxiliary head, as in the paper (a second output, weighted 0.4).
    options = {"aux_head": True} if "aux_head" in CATALOG[name].options else {}
    model = build_model(
        name,
        NUM_CLASSES,
        (*args.size, 3),
        width=args.width,
        backbone_weights=None,
        **options,
    )
    loss = SegmentationCrossEntropy()
    outputs = len(model.outputs)  # the logits, then auxiliary heads
    model.compile(
        optimizer=keras.optimizers.SGD(LEARNING_RATE, momentum=0.9),
        loss=loss if outputs == 1 else [loss] * outputs,
        loss_weights=None if outputs == 1 else [1.0] + [AUX_WEIGHT] * (outputs - 1),
    )
    images, masks = (ops.convert_to_tensor(array) for array in random_batch(args.batch, args.size))
    targets = masks if outputs == 1 else [masks] * outputs
    for _ in range(args.warmup):
        model.train_on_batch(images, targets)
    started = time.perf_counter()
    for _ in range(args.steps):
        model.train_on_batch(images, targets)  # returns the loss on the host: the step is done
    train_seconds = time.perf_counter() - started
    forward = costs.measure_forward(
        model, args.size, batch_size=args.batch, warmup=args.warmup, repeats=args.repeats
    )
    return {
        "params": model.count_params(),
        "forward_flops": costs.count_flops(model),
        "train_img_s": args.batch * args.steps / train_seconds,
        "infer_img_s": forward["inference_images_per_second"],
        "peak_gpu_mb": costs.peak_gpu_mb(),
    }


# --- the plain-PyTorch U-Net -----------------------------------------------------------------


def build_torch_unet(num_classes: int = NUM_CLASSES, width: float = 1.0):
    """``urbanseg.models.unet.build_unet`` (default variant) in plain ``torch.nn``, layer for
    layer: the same filters at ``width``, 3x3 convolutions without bias then batch norm (the
    same epsilon and momentum) and ReLU, 2x2 max-pooling, 2x2 transposed convolutions with
    bias, the skip connection concatenated first, a 1x1 classifier; [0, 255] NCHW images are
    mapped to [-1, 1] first, and the logits come out in float32."""
    import torch
    from torch import nn

    from urbanseg.models._common import BN_MOMENTUM, scaled

    levels = 4  # down-sampling levels below the bottleneck, as in unet.py

    def double_conv(in_channels, filters):
        return nn.Sequential(
            nn.Conv2d(in_channels, filters, 3, padding=1, bias=False),
            nn.BatchNorm2d(filters, eps=1e-3, momentum=1 - BN_MOMENTUM),  # Keras' epsilon
            nn.ReLU(inplace=True),
            nn.Conv2d(filters, filters, 3, padding=1, bias=False),
            nn.BatchNorm2d(filters, eps=1e-3, momentum=1 - BN_MOMENTUM),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            level_filters = [scaled(64 * 2**level, width) for level in range(levels)]
            self.encoder = nn.ModuleList()
            channels = 3
            for filters in level_filters:
                self.encoder.append(double_conv(channels, filters))
                channels = filters
            self.pool = nn.MaxPool2d(2)
            self.bottleneck = double_conv(channels, scaled(64 * 2**levels, width))
            channels = scaled(64 * 2**levels, width)
            self.upconvs, self.decoder = nn.ModuleList(), nn.ModuleList()
            for filters in reversed(level_filters):
                self.upconvs.append(nn.ConvTranspose2d(channels, filters, 2, stride=2))
                self.decoder.append(double_conv(2 * filters, filters))  # skip + upsampled
                channels = filters
            self.classifier = nn.Conv2d(channels, num_classes, 1)

        def forward(self, images):
            x = images / 127.5 - 1.0
            skips = []
            for stage in self.encoder:
                x = stage(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottleneck(x)
            for upconv, stage, skip in zip(self.upconvs, self.decoder, reversed(skips)):
                x = stage(torch.cat([skip, upconv(x)], dim=1))
            return self.classifier(x).float()

    return UNet()


def torch_param_count(module) -> int:
    """Parameters as Keras counts them: the weights and batch norm's moving mean and variance."""
    statistics = sum(
        buffer.numel()
        for name, buffer in module.named_buffers()
        if name.endswith(("running_mean", "running_var"))
    )
    return sum(parameter.numel() for parameter in module.parameters()) + statistics


def measure_torch_unet(args, compiled: bool) -> dict:
    """Train and run the plain-PyTorch U-Net as ``measure_keras_model`` does the Keras one:
    channels-last tensors, bfloat16 autocast under mixed_bfloat16, cross-entropy ignoring 255,
    SGD with momentum; ``compiled``: through torch.compile."""
    import keras
    import torch

    from urbanseg.costs import count_flops
    from urbanseg.models import build_model

    keras.backend.clear_session()  # frees the last Keras model
    reference = build_model("unet", NUM_CLASSES, (*args.size, 3), width=args.width)
    keras_params, forward_flops = reference.count_params(), count_flops(reference)
    del reference
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    reset_peak_gpu_memory("torch")
    net = build_torch_unet(NUM_CLASSES, args.width).to(device, memory_format=torch.channels_last)
    params = torch_param_count(net)
    run = torch.compile(net) if compiled else net
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE, momentum=0.9)
    loss_function = torch.nn.CrossEntropyLoss(ignore_index=IGNORE_ID)
    images, masks = random_batch(args.batch, args.size)
    images = torch.from_numpy(images).permute(0, 3, 1, 2)
    images = images.to(device, memory_format=torch.channels_last)
    masks = torch.from_numpy(masks).long().to(device)
    bfloat16 = args.precision == "mixed_bfloat16"

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bfloat16):
            loss = loss_function(run(images), masks)
        loss.backward()
        optimizer.step()
        return loss.item()  # to the host each step, as train_on_batch does

    def forward():
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bfloat16):
            return run(images).argmax(dim=1).to(torch.uint8).cpu()

    net.train()
    for _ in range(args.warmup):
        train_step()
    started = time.perf_counter()
    for _ in range(args.steps):
        train_step()
    train_seconds = time.perf_counter() - started
    net.eval()
    return {
        "params": params,
        "params_match": params == keras_params,
        "forward_flops": forward_flops,
        "train_img_s": args.batch * args.steps / train_seconds,
        "infer_img_s": median_images_per_second(forward, args.batch, args.warmup, args.repeats),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None,
    }


def median_images_per_second(forward, batch: int, warmup: int, repeats: int) -> float:
    """Images per second of ``forward()`` (which waits for its result) at its median time, as
    ``urbanseg.costs.measure_forward`` reports it."""
    for _ in range(warmup):
        forward()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward()
        times.append(time.perf_counter() - started)
    return batch / float(np.median(times))


# --- command line ----------------------------------------------------------------------------


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Writes gpu.csv and GPU.md in --out; one subprocess per backend.",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        default=available_backends(),
        help="Keras backends to measure (default: those installed, of %(choices)s)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=ORDER,
        default=list(ORDER),
        help="models to measure (default: all five)",
    )
    parser.add_argument(
        "--width", type=float, default=1.0, help="channel multiplier (default 1.0: the papers')"
    )
    parser.add_argument(
        "--size", type=parse_size, default=(512, 1024), help="HxW (default 512x1024)"
    )
    parser.add_argument("--batch", type=int, default=8, help="images per step (default 8)")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="mixed_bfloat16",
        help="Keras dtype policy; bfloat16 autocast for plain PyTorch (default mixed_bfloat16)",
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed steps and forward passes first (default 3)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed training steps (default 10)")
    parser.add_argument(
        "--repeats", type=int, default=30, help="timed forward passes, median kept (default 30)"
    )
    parser.add_argument(
        "--matmul-size",
        type=int,
        default=8192,
        help="n of the n x n matmul that measures the peak (default 8192)",
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time the plain-PyTorch U-Net through torch.compile (default: with CUDA)",
    )
    parser.add_argument("--out", default="bench", help="folder of gpu.csv and GPU.md (bench)")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.backends:
        parser.error("none of the backends is installed: " + ", ".join(BACKENDS))
    for name in ("batch", "warmup", "steps", "repeats", "matmul_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)
    if args.worker:
        run_backend(args.worker, args)
    else:
        run_parent(argv, args)


if __name__ == "__main__":
    main()
