"""``make bench``: urbanseg's speed claims on this machine, each a ratio measured side by side.

    .venv/bin/python benchmarks/bench.py                  # every check, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench.py --only cache epoch
    .venv/bin/python benchmarks/bench.py --quick          # small sizes: proves the code, not speed

Writes ``bench/results.csv`` (``check,value,unit,target,met``) and ``bench/RESULTS.md`` (the
table, the machine, how each number was measured, and why a missed target was missed).
Each check runs in a fresh interpreter, as a user's command would: ``evaluate`` without
TensorFlow (``urbanseg evaluate`` does not load it), the others with it (training does).

checks:
  evaluate   urbanseg's evaluation vs cityscapesScripts' evalPixelLevelSemanticLabeling on the
             same full-resolution predictions: speed, and the largest difference of any score
  cache      building the preprocessing cache vs the original notebook's sequential cv2 loop
             (imread, resize to 256x256, /255) on the same 2048x1024 files
  epoch      a training epoch fed from the cache (tf.data, PNG decode) vs from tensors in memory
  memory     peak RSS of a training epoch over 3000 images vs over 300 (streaming: flat)
  training   training images/s of every model on each installed Keras backend
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKS = ("evaluate", "cache", "epoch", "memory", "training")
COLUMNS = ("check", "value", "unit", "target", "met")
BACKENDS = ("tensorflow", "jax", "torch")


@dataclass
class Row:
    """One line of results.csv. ``target`` is ">= 2" or "<= 1.2" (empty: information only)."""

    check: str
    value: float
    unit: str
    target: str = ""
    note: str = ""  # RESULTS.md only

    @property
    def met(self) -> str:
        if not self.target:
            return ""
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return "no"
        operator, bound = self.target.split()
        ok = self.value >= float(bound) if operator == ">=" else self.value <= float(bound)
        return "yes" if ok else "no"

    def csv(self) -> dict:
        return {
            "check": self.check,
            "value": _format(self.value),
            "unit": self.unit,
            "target": self.target,
            "met": self.met,
        }


def _format(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if isinstance(value, float) and value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def best_of(runs: dict, repeat: int) -> dict[str, float]:
    """Each callable's best wall time over ``repeat`` interleaved rounds, so that a busy moment
    of the machine hurts every side alike."""
    best = dict.fromkeys(runs, math.inf)
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


# ------------------------------------------------------------------------------------------
# The checks. Each runs in its own interpreter (``--worker CHECK``) and returns its rows.


def check_evaluate(quick: bool) -> list[Row]:
    import bench_evaluate

    from urbanseg.evaluation import evaluate_predictions

    pairs = 3 if quick else 20
    with tempfile.TemporaryDirectory(prefix="bench_") as folder:
        root, pred_dir = Path(folder) / "cityscapes", Path(folder) / "pred"
        bench_evaluate.write_tree(root, pred_dir, pairs)
        results = {}

        def ours():
            results["ours"] = evaluate_predictions(root, pred_dir, progress=False)

        def theirs():
            results["theirs"] = bench_evaluate.official(root, pred_dir)

        times = best_of({"official": theirs, "urbanseg": ours}, repeat=1 if quick else 3)
        ours_, theirs_ = results["ours"], results["theirs"]
        pairs_of_scores = [(ours_["miou"], theirs_["averageScoreClasses"])]
        pairs_of_scores += [(v, theirs_["classScores"][k]) for k, v in ours_["iou"].items()]
        pairs_of_scores += [
            (v, theirs_["classInstScores"][k]) for k, v in ours_["instance_iou"].items()
        ]
        pairs_of_scores += [(ours_["iiou"], theirs_["averageScoreInstClasses"])]
        difference = max(_difference(a, b) for a, b in pairs_of_scores)
    per_pair = {name: 1000 * t / pairs for name, t in times.items()}
    return [
        Row(
            "evaluate_speedup",
            times["official"] / times["urbanseg"],
            "x",
            ">= 2",
            f"{pairs} pairs of 2048x1024 with instances: official {per_pair['official']:.0f} "
            f"ms/pair, urbanseg {per_pair['urbanseg']:.0f} ms/pair (best of interleaved runs)",
        ),
        Row(
            "evaluate_max_score_difference",
            float(difference),
            "IoU",
            "<= 1e-9",
            f"largest difference over the {len(pairs_of_scores)} class, instance and mean scores",
        ),
    ]


def _difference(ours: float | None, theirs: float) -> float:
    """|ours - theirs|, where a score neither side could compute (None, NaN) is equal."""
    missing = ours is None, math.isnan(theirs)
    if any(missing):
        return 0.0 if all(missing) else math.inf
    return abs(ours - theirs)


def notebook_loop(pairs) -> tuple:
    """The original notebook's loading, as it was: sequential cv2 reads, 256x256, /255."""
    import cv2
    import numpy as np

    images, labels = [], []
    for image_path, label_path in pairs:
        image = cv2.imread(str(image_path))
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        image = cv2.resize(image, (256, 256))
        image = image / 255.0
        label = cv2.imread(str(label_path), cv2.IMREAD_GRAYSCALE)
        label = cv2.resize(label, (256, 256), interpolation=cv2.INTER_NEAREST)
        images.append(np.array(image))
        labels.append(np.array(label))
    return np.array(images), np.array(labels)


def check_cache(quick: bool) -> list[Row]:
    import tensorflow  # noqa: F401 -- loaded as training loads it: its PNG codec is used

    from urbanseg import data, synth

    if importlib.util.find_spec("cv2") is None:
        return [
            Row(
                "cache_build_speedup",
                float("nan"),
                "x",
                ">= 2",
                "not measured: OpenCV is missing (pip install -e '.[bench]'; make bench does)",
            )
        ]
    count, size = (4, (256, 512)) if quick else (24, (1024, 2048))
    with tempfile.TemporaryDirectory(prefix="bench_") as folder:
        root = Path(folder) / "cityscapes"
        synth.generate(root, train=count, val=1, test=0, size=size, progress=False)
        samples = data.find_samples(root, "train")
        files = [(s.image, s.label) for s in samples]
        for path in (p for pair in files for p in pair):  # both sides read from the page cache
            path.read_bytes()
        caches = iter(range(100))

        def build():
            target = Path(folder) / f"cache{next(caches)}"
            data.build_cache(samples, (256, 256), cache_dir=target, progress=False)

        times = best_of({"notebook": lambda: notebook_loop(files), "cache": build}, 3)
    ms = {name: 1000 * t / count for name, t in times.items()}
    return [
        Row(
            "cache_build_speedup",
            times["notebook"] / times["cache"],
            "x",
            ">= 2",
            f"{count} synthetic {size[1]}x{size[0]} frames to 256x256: notebook loop "
            f"{ms['notebook']:.0f} ms/image, cache build {ms['cache']:.0f} ms/image on "
            f"{os.cpu_count()} cores",
        )
    ]


def check_epoch(quick: bool) -> list[Row]:
    import keras
    import numpy as np
    import tensorflow as tf

    from urbanseg import data, synth
    from urbanseg.catalog import CATALOG
    from urbanseg.losses import SegmentationCrossEntropy
    from urbanseg.models import build_model
    from urbanseg.pipeline import Augmentation, make_dataset

    count, size, batch = (16, (64, 128), 4) if quick else (64, (128, 256), 8)
    steps = 2 * count // batch  # two passes
    with tempfile.TemporaryDirectory(prefix="bench_") as folder:
        root = Path(folder) / "cityscapes"
        synth.generate(root, train=count, val=1, test=0, size=(256, 512), progress=False)
        samples = data.find_samples(root, "train")
        plain = Augmentation(scale_range=(1.0, 1.0), flip=False)  # the same work on both sides
        from_cache = make_dataset(
            samples,
            size,
            batch,
            training=True,
            augmentation=plain,
            cache_dir=Path(folder) / "cache",
            progress=False,
        )
        pairs = [data.load_pair(s, size) for s in samples]
        images = np.stack([p[0] for p in pairs]).astype("float32")
        masks = np.stack([p[1] for p in pairs]).astype("int32")
        in_memory = (
            tf.data.Dataset.from_tensor_slices((images, masks))
            .shuffle(count, seed=0, reshuffle_each_iteration=True)
            .batch(batch, drop_remainder=True)
            .repeat()
            .prefetch(tf.data.AUTOTUNE)
        )
        model = build_model("unet", input_shape=(*size, 3), width=CATALOG["unet"].cpu_width)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SegmentationCrossEntropy())
        step_times = {"cache": [], "memory": []}
        sources = {"cache": from_cache, "memory": in_memory}

        class StepClock(keras.callbacks.Callback):
            """The time between consecutive optimizer steps, the first two left out."""

            def on_train_begin(self, logs=None):
                self.ends = []

            def on_train_batch_end(self, batch, logs=None):
                self.ends.append(time.perf_counter())

        for name in sources:  # warm-up: tracing, the first batches
            model.fit(sources[name], steps_per_epoch=steps, epochs=1, verbose=0)
        for _ in range(2 if quick else 4):  # interleaved
            for name, source in sources.items():
                clock = StepClock()
                model.fit(source, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
                step_times[name] += np.diff(clock.ends)[1:].tolist()
        times = {name: float(np.median(values)) for name, values in step_times.items()}
    return [
        Row(
            "epoch_cache_vs_memory",
            times["memory"] / times["cache"],
            "x",
            ">= 0.9",
            f"U-Net (width {CATALOG['unet'].cpu_width}), batches of {batch} images at "
            f"{size[0]}x{size[1]}, the median time of an optimizer step: from tensors in memory "
            f"{1000 * times['memory']:.0f} ms, from the cache {1000 * times['cache']:.0f} ms "
            "(value = memory / cache; the time between steps, so a fixed cost of starting or "
            "ending fit() is left out)",
        )
    ]


def memory_worker(root: str, count: int, size: tuple[int, int]) -> float:
    """Peak RSS (MiB) of one training epoch over the first ``count`` images of ``root``."""
    import keras
    from keras import layers

    from urbanseg import data
    from urbanseg.costs import peak_rss_mb
    from urbanseg.losses import SegmentationCrossEntropy
    from urbanseg.pipeline import make_dataset

    samples = data.find_samples(root, "train")[:count]
    dataset = make_dataset(samples, size, 16, training=True, progress=False)
    inputs = keras.Input((*size, 3))
    hidden = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    model = keras.Model(inputs, layers.Conv2D(19, 1)(hidden))
    model.compile(optimizer="adam", loss=SegmentationCrossEntropy())
    model.fit(dataset, steps_per_epoch=count // 16, epochs=1, verbose=0)
    return peak_rss_mb()


def check_memory(quick: bool) -> list[Row]:
    from urbanseg import synth

    small, large = (30, 300) if quick else (300, 3000)
    size = (64, 128)
    with tempfile.TemporaryDirectory(prefix="bench_") as folder:
        root = Path(folder) / "cityscapes"
        synth.generate(root, train=large, val=1, test=0, size=size, progress=False)
        peaks = {}
        for count in (small, large):
            peaks[count] = _run_worker(
                ["memory", str(root), str(count), f"{size[0]}x{size[1]}"],
                env={"URBANSEG_CACHE": str(Path(folder) / "cache")},
            )["peak_rss_mb"]
    held = large * 256 * 256 * 3 * 8 / 2**20  # the notebook's float64 256x256 arrays
    return [
        Row(
            "peak_rss_large_vs_small",
            peaks[large] / peaks[small],
            "x",
            "<= 1.2",
            f"a training epoch (cache build, tf.data, a small model) over {large} images: "
            f"{peaks[large]:.0f} MiB peak RSS; over {small}: {peaks[small]:.0f} MiB. The "
            f"notebook's in-memory arrays would hold {held:,.0f} MiB of images alone",
        )
    ]


def check_training(quick: bool) -> list[Row]:
    """Each backend in its own interpreter (the backend is fixed at import)."""
    arguments = ["--size", "64x128", "--batch", "2", "--steps", "1"] if quick else []
    if quick:
        arguments += ["--models", "unet", "fcn"]
    rows, speeds = [], {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        done = subprocess.run(
            [sys.executable, str(HERE / "bench_train.py"), "--json", *arguments],
            capture_output=True,
            text=True,
            env={**os.environ, "KERAS_BACKEND": backend},
        )
        if done.returncode:
            message = (done.stderr.strip().splitlines() or ["failed"])[-1]
            rows.append(Row(f"train_{backend}", float("nan"), "img/s", "", message[:200]))
            continue
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                result = json.loads(line)
                speeds[result["model"], backend] = result["train_img_s"]
                rows.append(
                    Row(
                        f"train_{result['model']}_{backend}",
                        result["train_img_s"],
                        "img/s",
                        "",
                        f"width {result['width']}, {result['gflops']:.2f} GFLOPs/image, "
                        f"inference {result['inference_images_per_second']:.1f} img/s",
                    )
                )
    for (model, backend), speed in sorted(speeds.items()):
        if backend != "tensorflow" and (model, "tensorflow") in speeds:
            rows.append(
                Row(
                    f"train_{model}_{backend}_vs_tensorflow",
                    speed / speeds[model, "tensorflow"],
                    "x",
                )
            )
    return rows


# ------------------------------------------------------------------------------------------
# The report.

UNMET = {  # why a target can be missed on a small machine: printed only when it is
    "cache_build_speedup": (
        "Both sides decode the same PNGs with libpng, most of the work. Per image the cache "
        "build does more than the loop: an antialiased resize (Pillow's bilinear, about 7 ms "
        "against cv2's 1 ms, which aliases) and writing the cache (about 4 ms), so it needs "
        "every core to pass the loop, and on 2 cores it stops short of 2x; each added core "
        "raises it (the build scales with the cores, the loop does not)."
    ),
    "epoch_cache_vs_memory": (
        "Decoding the cached PNGs shares the cores with the training step; on 2 cores a small "
        "model leaves little time to hide it. On a GPU the decoding runs beside the device."
    ),
    "evaluate_speedup": (
        "Both sides spend most of their time decoding the PNGs; the gain comes from decoding on "
        "every core and from the per-image bincounts. A busy machine shrinks it."
    ),
    "peak_rss_large_vs_small": (
        "The peak grows with the number of images only if something holds them all; look for "
        "a cache or a list of decoded arrays in the training path."
    ),
}


def machine() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    distributions = {  # module: the distributions that may provide it
        "tensorflow": ("tensorflow", "tensorflow-cpu"),
        "keras": ("keras",),
        "jax": ("jax",),
        "torch": ("torch",),
        "numpy": ("numpy",),
        "PIL": ("pillow",),
        "cv2": ("opencv-python-headless", "opencv-python"),
    }
    versions = {}
    for module, names in distributions.items():
        for name in names:
            try:
                versions[module] = version(name)
                break
            except PackageNotFoundError:
                continue
    return {
        "processor": platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def render_markdown(rows: list[Row], about: dict, seconds: float, command: str) -> str:
    out = io.StringIO()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.write("# urbanseg benchmarks (CPU)\n\n")
    out.write(f"Measured {when} in {seconds / 60:.1f} min with `{command}`.\n\n")
    out.write(
        f"Machine: {about['processor']}, {about['cores']} cores, {about['system']}, Python "
        f"{about['python']}. Packages: {about['packages']}.\n\n"
    )
    out.write("Each ratio is measured side by side in this run (interleaved, best of each).\n\n")
    out.write("| check | value | unit | target | met |\n|---|---:|---|---|---|\n")
    for row in rows:
        out.write(
            f"| {row.check} | {_format(row.value)} | {row.unit} | {row.target} | {row.met} |\n"
        )
    out.write("\n## How each was measured\n\n")
    for row in rows:
        if row.note:
            out.write(f"- **{row.check}**: {row.note}.\n")
    unmet = [row for row in rows if row.met == "no"]
    if unmet:
        out.write("\n## Targets not met in this run\n\n")
        for row in unmet:
            out.write(f"- **{row.check}** ({_format(row.value)}, target {row.target}): ")
            out.write(UNMET.get(row.check, "see the note above.") + "\n")
    gpu = HERE.parent / "bench" / "GPU.md"
    out.write("\n## GPU\n\n")
    if gpu.exists():
        out.write("The GPU measurements (device and date inside) are in [GPU.md](GPU.md).\n")
    else:
        out.write(
            "No GPU table yet: `benchmarks/bench_gpu.py` writes `bench/GPU.md` on a machine "
            "with a GPU (PyTorch and JAX, no TensorFlow needed).\n"
        )
    return out.getvalue()


def write_results(rows: list[Row], folder: Path, markdown: str) -> None:
    from urbanseg.atomic import write_atomically

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(row.csv() for row in rows)
    write_atomically(folder / "results.csv", buffer.getvalue())
    write_atomically(folder / "RESULTS.md", markdown)


def _run_worker(arguments: list[str], env: dict | None = None, quick: bool = False):
    """``bench.py --worker ...`` in a fresh interpreter; its last line is JSON."""
    done = subprocess.run(
        [sys.executable, __file__, *(["--quick"] if quick else []), "--worker", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        error = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{arguments[0]}: {error}")
    return json.loads(lines[-1])


def worker(arguments: list[str], quick: bool) -> None:
    name, rest = arguments[0], arguments[1:]
    if name == "memory":
        root, count, size = rest
        height, width = (int(v) for v in size.split("x"))
        print(json.dumps({"peak_rss_mb": memory_worker(root, int(count), (height, width))}))
        return
    rows = globals()[f"check_{name}"](quick)
    print(json.dumps([vars(row) for row in rows]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("checks:")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", choices=CHECKS, default=list(CHECKS))
    parser.add_argument("--out", type=Path, default=HERE.parent / "bench", help="default bench/")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (tests)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        worker(options.worker, options.quick)
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    started, rows = time.perf_counter(), []
    for name in options.only:
        print(f"{name} ...", end=" ", flush=True)
        began = time.perf_counter()
        try:
            if name in ("evaluate", "cache", "epoch"):  # each in a fresh interpreter
                found = [Row(**r) for r in _run_worker([name], quick=options.quick)]
            else:
                found = globals()[f"check_{name}"](options.quick)
        except RuntimeError as error:
            found = [Row(name, float("nan"), "", "", f"failed: {error}")]
        rows += found
        summary = ", ".join(f"{r.check} {_format(r.value)}{r.unit}" for r in found[:3])
        print(f"{summary}{' ...' if len(found) > 3 else ''} ({time.perf_counter() - began:.0f} s)")
    command = "python benchmarks/bench.py " + " ".join(sys.argv[1:])
    markdown = render_markdown(rows, machine(), time.perf_counter() - started, command.strip())
    write_results(rows, options.out, markdown)
    missed = [row.check for row in rows if row.met == "no"]
    print(f"wrote {options.out / 'results.csv'} and {options.out / 'RESULTS.md'}")
    if missed:
        print(f"targets not met: {', '.join(missed)} (RESULTS.md says why)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
