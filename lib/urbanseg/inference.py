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

import json
import logging
import math
import os
import shutil
import sys
import time
import zipfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from .atomic import replace_folder, staging_folder, write_atomically
from .config import EVAL_MODES
from .data import (
    Sample,
    find_samples,
    read_png,
    read_rgb,
    read_train_ids,
    resize,
    threaded_map,
    write_png,
)
from .errors import InputError
from .labels import NUM_CLASSES, TRAINID_TO_ID
from .metrics import ConfusionMatrix
from .records import METRICS_FILE, RunRecord
from .results_folder import find_run

log = logging.getLogger(__name__)

PROTOCOLS = ("full", "train")

# What predict_split wrote in its output folder (the run and the files), so that a second
# prediction of the same run may replace the folder and nothing else's folder is touched.
PREDICTIONS_MARKER = ".urbanseg-predict.json"


def _load_eval_sample(sample: Sample, size, protocol: str, mode: str):
    """(model input, ground truth, instances) of one image; the model input is the image
    resized to ``size`` (mode "resize") or the image itself ("whole", "slide")."""
    image = read_rgb(sample.image)
    gt = read_train_ids(sample.label)
    instances = read_png(sample.instances, mode="L").astype(np.int64) if sample.instances else None
    model_input = resize(image, size) if mode == "resize" else image
    if protocol == "train":
        gt = resize(gt, size, nearest=True)
        if instances is not None:
            instances = resize(instances, size, nearest=True)
    return model_input, gt, instances


def slide_logits(model: keras.Model, image: np.ndarray, overlap: float = 1 / 3) -> np.ndarray:
    """Logits of ``image`` (H, W, 3) from windows of the model's input size that overlap by
    ``overlap`` of a window (MMSegmentation's "slide" inference: 512x1024 windows at a stride of
    2/3 on 2048x1024 Cityscapes images), the overlapping logits averaged."""
    window = tuple(model.inputs[0].shape[1:3])
    height, width = image.shape[:2]
    if window[0] > height or window[1] > width:
        raise InputError(
            f"a entrada do modelo, {window[1]}x{window[0]}, é maior que a imagem, "
            f"{width}x{height}: use eval_mode='resize'"
        )
    starts = [_starts(length, side, overlap) for length, side in zip((height, width), window)]
    corners = [(top, left) for top in starts[0] for left in starts[1]]
    total = count = None
    for first in range(0, len(corners), 4):
        batch = corners[first : first + 4]
        crops = np.stack([image[t : t + window[0], x : x + window[1]] for t, x in batch])
        logits = predict_logits(model, crops)
        if total is None:
            total = np.zeros((height, width, logits.shape[-1]), np.float32)
            count = np.zeros((height, width, 1), np.float32)
        for (top, left), window_logits in zip(batch, logits):
            total[top : top + window[0], left : left + window[1]] += window_logits
            count[top : top + window[0], left : left + window[1]] += 1
    return total / count


def _starts(length: int, window: int, overlap: float) -> list[int]:
    """Window starts covering ``length``: every stride, and the last flush with the end."""
    stride = max(round(window * (1 - overlap)), 1)
    starts = list(range(0, max(length - window, 0) + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def predict_logits(model: keras.Model, images: np.ndarray, out_size=None) -> np.ndarray:
    """Logits of a batch of uint8/float images, upsampled bilinearly to ``out_size`` (H, W)."""
    logits = model.predict_on_batch(np.asarray(images, dtype=np.float32))
    if isinstance(logits, (list, tuple)):  # a model with an auxiliary head: the main output
        logits = logits[0]
    if out_size is not None and tuple(logits.shape[1:3]) != tuple(out_size):
        logits = ops.image.resize(logits, tuple(out_size), interpolation="bilinear")
    return ops.convert_to_numpy(logits)


@dataclass
class Evaluation:
    """What ``evaluate_model`` measured on a split."""

    metrics: dict  # docs/results.md, over every image
    stems: list[str]  # the images, in order
    cities: list[str]
    per_image: np.ndarray  # (images, 19, 20) int64: each image's confusion matrix
    kept: dict[str, np.ndarray]  # predicted train ids of the ``keep`` stems, training size
    pipeline_seconds: float  # decode, resize, forward, upsample and argmax; not the scoring

    @property
    def pipeline_images_per_second(self) -> float:
        return len(self.stems) / self.pipeline_seconds if self.pipeline_seconds else math.nan


def evaluate_model(
    model: keras.Model,
    samples: list[Sample],
    size: tuple[int, int],
    *,
    protocol: str = "full",
    mode: str = "resize",
    overlap: float = 1 / 3,
    whole_model: keras.Model | None = None,
    batch_size: int = 4,
    keep: set[str] | None = None,
    progress: bool = True,
) -> Evaluation:
    """The metrics of docs/results.md for ``model`` on ``samples``, each image's confusion
    matrix (so that bootstrap intervals can be computed from the results alone), and the
    predicted train ids of the stems listed in ``keep`` (for the sample figures).

    ``mode`` (EVAL_MODES): "resize" feeds the image resized to ``size`` and upsamples the logits
    bilinearly to the labels' resolution; "whole" feeds the image at its own resolution to
    ``whole_model`` (the same weights, built for that input size); "slide" runs ``model`` on
    overlapping windows of the image (``slide_logits``).
    """
    from .progress import progress_bar

    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol={protocol!r}: esperado um de {PROTOCOLS}")
    if mode not in EVAL_MODES:
        raise ValueError(f"mode={mode!r}: esperado um de {EVAL_MODES}")
    if protocol == "train" and mode != "resize":
        raise ValueError("protocol='train' avalia no tamanho de treino: só com mode='resize'")
    if mode == "whole" and whole_model is None:
        raise ValueError(
            "mode='whole' precisa de whole_model, o modelo construído no tamanho da imagem"
        )
    matrix, kept, per_image = ConfusionMatrix(NUM_CLASSES), {}, []
    keep = keep or set()
    scoring = 0.0
    started = time.perf_counter()
    chunk_size = batch_size if mode == "resize" else 1
    workers = os.cpu_count() or 2
    with (
        # a few images decoded ahead of the model, never the whole split (memory stays flat)
        closing(
            threaded_map(
                lambda s: _load_eval_sample(s, size, protocol, mode),
                samples,
                workers,
                ahead=chunk_size + workers,
            )
        ) as loaded,
        progress_bar(
            total=len(samples),
            desc=f"evaluate {model.name}",
            unit="img",
            disable=not progress,
            file=sys.stdout,
            mininterval=2.0,
            ncols=100,
        ) as bar,
    ):
        for start in range(0, len(samples), chunk_size):
            chunk = [next(loaded) for _ in samples[start : start + chunk_size]]
            images = np.stack([c[0] for c in chunk])
            if mode == "resize":
                logits = predict_logits(model, images)
            elif mode == "whole":
                logits = predict_logits(whole_model, images)
            else:
                logits = slide_logits(model, images[0], overlap)[None]
            for offset, (_, gt, instances) in enumerate(chunk):
                sample = samples[start + offset]
                full = logits[offset]
                if sample.stem in keep:
                    kept[sample.stem] = full.argmax(-1).astype(np.uint8)
                if full.shape[:2] != gt.shape:
                    full = predict_resize(full, gt.shape)
                prediction = full.argmax(-1).astype(np.uint8)
                scored = time.perf_counter()
                one = ConfusionMatrix(NUM_CLASSES)
                one.update(gt, prediction, instances)
                per_image.append(one.matrix)
                matrix.merge(one)
                scoring += time.perf_counter() - scored
            bar.update(len(chunk))
    return Evaluation(
        metrics=matrix.compute(),
        stems=[sample.stem for sample in samples],
        cities=[sample.city for sample in samples],
        per_image=np.stack(per_image) if per_image else np.zeros((0, NUM_CLASSES, NUM_CLASSES + 1)),
        kept=kept,
        pipeline_seconds=time.perf_counter() - started - scoring,
    )


def predict_resize(logits: np.ndarray, size) -> np.ndarray:
    """Bilinear resize of one (H, W, C) logit map to ``size`` (H, W)."""
    return ops.convert_to_numpy(
        ops.image.resize(logits[None], tuple(size), interpolation="bilinear")
    )[0]


def predict_split(
    run_dir: str | Path, root: str | Path, split: str, out: str | Path, *, progress: bool = True
) -> int:
    """Write official-format predictions (labelIds PNGs at the original resolution, one per
    image, named ``<stem>_labelIds.png``) of the model saved in ``run_dir`` for ``split``,
    predicted the way the run was scored (its ``evaluation.mode``).

    ``out`` is written whole or not at all: the PNGs go to a staging folder beside it that takes
    its place once every image is predicted. ``out`` must be new, empty, or an earlier output of
    this same run (PREDICTIONS_MARKER); anything else is refused before any work, so that two
    models' predictions never mix and no file of the user's is replaced."""
    from .progress import progress_bar

    run_dir, out = find_run(run_dir), Path(out)
    model_path = run_dir / "model.keras"
    if not model_path.is_file():
        raise InputError(
            f"{model_path}: não encontrado ({run_dir} é uma execução de modelo concluída?)"
        )
    record = RunRecord.read(run_dir)
    try:
        size = (int(record.parameters["image_height"]), int(record.parameters["image_width"]))
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{run_dir / METRICS_FILE}: sem tamanho de treino ({error})") from None
    _check_prediction_folder(out, run_dir)
    model = _load_model(model_path)
    mode, overlap = record.evaluation.mode, record.evaluation.overlap or 1 / 3
    samples = find_samples(root, split, require_labels=False)
    staging = staging_folder(out)
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; out is a folder like any other
        whole = {}  # a catalog model built again per image size, for mode "whole"
        bar = progress_bar(samples, desc=f"predict {split}", disable=not progress, unit="img")
        for sample in bar:
            image = read_rgb(sample.image)
            if mode == "slide":
                logits = slide_logits(model, image, overlap)
            elif mode == "whole":
                if image.shape[:2] not in whole:
                    whole[image.shape[:2]] = _rebuilt(record, model, image.shape[:2])
                logits = predict_logits(whole[image.shape[:2]], image[None])[0]
            else:
                logits = predict_logits(model, resize(image, size)[None], out_size=image.shape[:2])[
                    0
                ]
            label_ids = TRAINID_TO_ID[logits.argmax(-1)].astype(np.uint8)
            write_png(staging / f"{sample.stem}_labelIds.png", label_ids)
        marker = {
            "run": str(run_dir.resolve()),
            "model": record.model,
            "split": split,
            "files": sorted(path.name for path in staging.iterdir()),
        }
        write_atomically(staging / PREDICTIONS_MARKER, json.dumps(marker, indent=1) + "\n")
        replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(samples)


def _check_prediction_folder(out: Path, run_dir: Path) -> None:
    """InputError unless ``out`` is new, empty, or holds only an earlier predict_split output
    of ``run_dir`` (the folder predict_split may replace)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError(f"{out}: não é uma pasta (--out deve ser uma pasta nova ou vazia)")
    names = {path.name for path in out.iterdir()}
    if not names:
        return
    try:
        previous = json.loads((out / PREDICTIONS_MARKER).read_text(encoding="utf-8"))
        previous_run, previous_files = str(previous["run"]), set(previous["files"])
    except (OSError, ValueError, TypeError, KeyError):
        raise InputError(
            f"{out}: pasta não vazia e não é uma saída do urbanseg predict; "
            "use uma pasta nova ou vazia (nada foi gravado)"
        ) from None
    if previous_run != str(run_dir.resolve()):
        raise InputError(
            f"{out}: já tem as predições de outra execução, {previous_run}; use outra pasta "
            "ou apague esta (nada foi gravado)"
        )
    if foreign := sorted(names - previous_files - {PREDICTIONS_MARKER}):
        raise InputError(
            f"{out / foreign[0]}: não foi gravado pelo urbanseg predict; tire-o da pasta ou use "
            "outra pasta (nada foi gravado)"
        )


def _load_model(path: Path) -> keras.Model:
    """The model saved at ``path``; InputError when the file cannot be read as one."""
    from . import models  # noqa: F401  (registers the custom layers the saved model names)

    retrain = "treine o modelo de novo (urbanseg run com --force e os mesmos parâmetros)"
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{path}: não é um arquivo .keras válido (corrompido ou truncado); {retrain}"
        )
    try:
        return keras.saving.load_model(path, compile=False)
    except ModuleNotFoundError:
        raise
    except Exception as error:  # Keras raises many kinds for a damaged archive
        reason = (str(error).strip().splitlines() or [""])[0][:200]
        raise InputError(
            f"{path}: o modelo não pôde ser carregado ({type(error).__name__}: {reason}); {retrain}"
        ) from None


def _rebuilt(record: RunRecord, model: keras.Model, size) -> keras.Model:
    """``model`` for inputs of ``size``: its catalog builder, the run's options, its weights."""
    from . import models

    if record.model not in models.MODELS:
        raise InputError(
            f"{record.folder}: {record.model} foi avaliado com eval_mode='whole'; "
            "só um modelo do catálogo pode ser construído de novo em outro tamanho"
        )
    other = models.build_model(
        record.model,
        input_shape=(*size, 3),
        variant=record.parameters.get("variant", "default"),
        **record.model_options,
    )
    other.set_weights(model.get_weights())
    return other
