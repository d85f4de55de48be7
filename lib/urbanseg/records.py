"""The record of one model run, and the only reader and writer of its files.

``results/<model>/seed-<k>/metrics.json`` (a finished run) and ``failed.json`` (a run that
failed) are both a ``RunRecord`` (docs/results.md): ``RunRecord.read(folder)`` reads whichever is
there, ``record.write(folder)`` writes the one its status calls for, atomically. Every other
module reads attributes of a record, never the JSON; each JSON value is checked on the way in
(``urbanseg.json_values``), so a malformed file is refused with a line naming it. ``PerImage``
reads and writes a run's per-image confusion matrices. A whole results folder is read by
``urbanseg.results_folder.load_records``; the study's tables (summary.csv, runs.csv) are
``urbanseg.summary``'s.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_atomically
from .errors import InputError
from .json_values import (
    check_context,
    check_metrics,
    fields_of,
    first_line,
    mapping,
    optional,
    plain,
    read_json,
    text_or_none,
)

# Bumped when a field changes meaning; files without "schema" are version 1. Version 2: timing
# measures the forward pass on the device and training without its monitoring; runs live in
# results/<model>/seed-<k>/ with their per-image confusion matrices.
SCHEMA_VERSION = 2
METRICS_FILE, FAILED_FILE, HISTORY_FILE = "metrics.json", "failed.json", "history.csv"
# A record's status: "ok" and "failed" are read from the files; "incomplete" (a run folder
# without either file) and "duplicate" (a second folder of a model and seed) only ever come from
# ``load_records(..., tolerant=True)``, are never written and are not part of any comparison.
OK, FAILED, INCOMPLETE, DUPLICATE = "ok", "failed", "incomplete", "duplicate"
MAX_MODEL_NAME = 100  # characters; a model name is a notebook's file name
# A forward time recorded without its number of timed passes is from before that number could
# vary: it is the median of 50 (urbanseg.costs.REPEATS).
LEGACY_FORWARD_REPEATS = 50
PER_IMAGE_FILE = "confusion_per_image.npz"  # one 19 x 20 matrix per validation image
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "val_loss",
    "val_miou",
    "learning_rate",
    "seconds",
    "monitor_seconds",
)


@dataclass
class DataInfo:
    """What the run trained and was scored on."""

    root: str | None = None
    synthetic: bool = False
    train_images: int | None = None
    val_images: int | None = None
    image_size: tuple[int, int] | None = None  # original resolution (H, W)
    class_pixel_fraction: dict[str, float] = field(default_factory=dict)  # of training pixels
    sample_stems: list[str] = field(default_factory=list)  # the val images of the figures


@dataclass
class TrainingInfo:
    """How the weights that were scored were chosen, and how long the run trained."""

    selection: str = "last"  # "last": the final epoch's; "holdout": the best on held-out cities
    monitor: str = "val"  # the images scored after every epoch (the curves): "val" or "holdout"
    holdout_cities: list[str] = field(default_factory=list)
    monitor_images: int | None = None
    best_epoch: int | None = None  # the epoch whose weights were scored
    steps_per_epoch: int | None = None
    iterations: int | None = None  # optimizer steps in all
    devices: int = 1  # the devices each step's batch was split over (urbanseg.parallel)
    resumed: bool = False  # went on from the checkpoint of an interrupted attempt


@dataclass
class EvaluationInfo:
    split: str = "val"
    protocol: str = "full"  # "full": at the labels' resolution; "train": at the training size
    resolution: tuple[int, int] | None = None  # (H, W) the predictions were scored at
    input_scale: float | None = None  # the model's input size / the images' original size
    mode: str = "resize"  # what the model saw: the image resized, the whole image, or windows
    overlap: float | None = None  # of the windows, in "slide" mode


@dataclass
class Timing:
    train_seconds: float | None = None  # training steps only: no monitoring, no saving
    monitor_seconds: float | None = None  # the per-epoch monitoring pass and best-weights saving
    train_images_per_second: float | None = None
    inference_images_per_second: float | None = None  # forward pass on the device, argmax out
    forward_ms_median: float | None = None  # one batch of forward_batch images
    forward_ms_iqr: float | None = None
    forward_batch: int | None = None
    forward_repeats: int | None = None  # timed passes (costs.measure_forward)
    pipeline_images_per_second: float | None = None  # decode, resize, forward, upsample, argmax
    peak_rss_mb: float | None = None  # the process's RAM
    gpu_peak_mb: float | None = None  # the backend's peak GPU allocation, None on a CPU
    concurrent_runs: int | None = None  # notebooks the runner ran at once with this one


@dataclass
class Baseline:
    """What always predicting the most frequent training class scores on the same images."""

    class_name: str
    miou: float | None
    pixel_accuracy: float | None


@dataclass
class RunRecord:
    """One model run: ``status`` "ok" (metrics.json) or "failed" (failed.json); "incomplete" or
    "duplicate" for a folder ``load_records(..., tolerant=True)`` lists without comparing it."""

    model: str
    status: str = "ok"
    digest: str | None = None  # RunConfig.digest(model): what the runner compares to skip a run
    parameters: dict[str, Any] = field(default_factory=dict)  # every notebook parameter
    params: int | None = None  # parameter count
    flops: int | None = None  # per image at image_height x image_width (evaluated size)
    model_options: dict[str, Any] = field(default_factory=dict)  # what the builder got beyond
    model_info: dict[str, Any] = field(default_factory=dict)  # a non-catalog model's own record
    precision: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # urbanseg.models.context_of(model)
    data: DataInfo = field(default_factory=DataInfo)
    training: TrainingInfo = field(default_factory=TrainingInfo)
    evaluation: EvaluationInfo = field(default_factory=EvaluationInfo)
    metrics: dict[str, Any] = field(default_factory=dict)  # the schema of docs/results.md
    baseline: Baseline | None = None
    timing: Timing = field(default_factory=Timing)
    environment: dict[str, Any] = field(default_factory=dict)
    # failed.json only
    error: str | None = None  # one line
    traceback: str | None = None
    notebook: str | None = None  # the executed notebook, kept with its error cell
    date: str | None = None
    # not in the JSON
    folder: Path | None = None
    history: pd.DataFrame | None = None
    schema: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def compared(self) -> bool:
        """A run of the study, successful or failed; False for an incomplete or duplicate one."""
        return self.status in (OK, FAILED)

    @property
    def seed(self) -> int | None:
        seed = self.parameters.get("seed")
        if seed is None and self.folder is not None and self.folder.name.startswith("seed-"):
            seed = self.folder.name.removeprefix("seed-")
        try:
            return None if seed is None else int(seed)
        except ValueError:
            return None

    @classmethod
    def failure(
        cls,
        model: str,
        error: str,
        *,
        traceback: str = "",
        notebook: str | None = None,
        model_info: dict | None = None,
    ) -> RunRecord:
        """The record of a run that failed with ``error`` (one line is kept); ``model_info``:
        the notebook's own record of a model outside the catalog, for the report."""
        return cls(
            model=model,
            status="failed",
            model_info=dict(model_info or {}),
            error=first_line(error),
            traceback=traceback,
            notebook=notebook,
            date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    @classmethod
    def unread(cls, folder: Path, status: str, error: str) -> RunRecord:
        """The record of a run folder whose files say nothing usable (``status`` "failed" for a
        malformed file, "incomplete", "duplicate"): named after its folder, ``error`` says why."""
        return cls(
            model=model_of_folder(folder), status=status, error=first_line(error), folder=folder
        )

    # -- files --------------------------------------------------------------------------------

    @classmethod
    def read(cls, folder: str | Path) -> RunRecord:
        """The record in ``folder``: metrics.json, else failed.json, with history.csv.

        Raises InputError naming the file when it is malformed or from a newer urbanseg, or the
        folder when it holds neither file.
        """
        folder = Path(folder)
        for name in (METRICS_FILE, FAILED_FILE):
            path = folder / name
            if path.is_file():
                record = cls.from_json(read_json(path), source=path, failed=name == FAILED_FILE)
                break
        else:
            raise InputError(f"{folder}: não há {METRICS_FILE} nem {FAILED_FILE}")
        if not record.model:  # results/<model>/seed-<k>/ or, before seeds, results/<model>/
            record.model = model_of_folder(folder)
        record.folder = folder
        record.history = read_history(folder / HISTORY_FILE)
        return record

    def write(self, folder: str | Path) -> Path:
        """Write metrics.json (status ok) or failed.json atomically, then remove the other one:
        a folder holds one record, the latest. Returns the path written."""
        if not self.compared:
            raise ValueError(f"a record of status {self.status!r} is never written")
        folder = Path(folder)
        path, stale = (METRICS_FILE, FAILED_FILE) if self.ok else (FAILED_FILE, METRICS_FILE)
        text = json.dumps(self.to_json(), indent=1, ensure_ascii=False, allow_nan=False)
        write_atomically(folder / path, text + "\n")
        (folder / stale).unlink(missing_ok=True)
        return folder / path

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {"schema": self.schema, "model": self.model, "status": self.status}
        if not self.ok:
            values.update(
                error=self.error, traceback=self.traceback, notebook=self.notebook, date=self.date
            )
            if self.model_info:
                values["model_info"] = self.model_info
            return plain(values)
        for name in _OK_FIELDS:
            values[name] = getattr(self, name)
        values["data"] = dataclasses.asdict(self.data)
        values["training"] = dataclasses.asdict(self.training)
        values["evaluation"] = dataclasses.asdict(self.evaluation)
        values["timing"] = dataclasses.asdict(self.timing)
        if self.baseline is not None:
            baseline = dataclasses.asdict(self.baseline)
            values["baseline"] = {"class": baseline.pop("class_name"), **baseline}
        return plain(values)

    @classmethod
    def from_json(
        cls, values: dict[str, Any], *, source: str | Path = "record", failed: bool = False
    ) -> RunRecord:
        """The record of a metrics.json (``failed=False``) or failed.json (``failed=True``)."""
        schema = values.get("schema", 1)
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise InputError(
                f"{source}: schema {schema!r} é mais novo do que este urbanseg lê "
                f"({SCHEMA_VERSION}); atualize o urbanseg"
            )
        model = _model_name(values.get("model"), source)
        if failed or values.get("status") == "failed":
            info = values.get("model_info")
            return cls(
                model=model,
                status="failed",
                model_info=dict(info) if isinstance(info, dict) else {},
                error=first_line(values.get("error") or "erro desconhecido"),
                traceback=text_or_none(values.get("traceback")),
                notebook=text_or_none(values.get("notebook")),
                date=text_or_none(values.get("date")),
            )
        metrics = values.get("metrics")
        if not isinstance(metrics, dict) or "miou" not in metrics:
            raise InputError(
                f'{source}: falta o objeto "metrics" com "miou" (veja docs/results.md)'
            )
        try:
            check_metrics(metrics)
            baseline = values.get("baseline")
            return cls(
                model=model,
                status="ok",
                digest=values.get("digest"),
                parameters=mapping(values, "parameters"),
                params=optional(int, values.get("params")),
                flops=optional(int, values.get("flops")),
                model_options=mapping(values, "model_options"),
                model_info=mapping(values, "model_info"),
                precision=values.get("precision"),
                context=check_context(values.get("context")),
                data=fields_of(DataInfo, values.get("data")),
                training=fields_of(TrainingInfo, values.get("training")),
                evaluation=fields_of(EvaluationInfo, values.get("evaluation")),
                metrics=metrics,
                baseline=None
                if not baseline
                else Baseline(
                    class_name=str(baseline["class"]),
                    miou=optional(float, baseline.get("miou")),
                    pixel_accuracy=optional(float, baseline.get("pixel_accuracy")),
                ),
                timing=_timing(values.get("timing")),
                environment=mapping(values, "environment"),
                schema=schema,
            )
        except (TypeError, ValueError, KeyError) as error:
            raise InputError(f"{source}: registro malformado ({first_line(str(error))})") from None


_OK_FIELDS = (
    "digest",
    "parameters",
    "params",
    "flops",
    "model_options",
    "model_info",
    "precision",
    "context",
    "metrics",
    "environment",
)


def _model_name(value, source) -> str:
    """The record's model name: text of at most MAX_MODEL_NAME characters, without path
    separators or control characters (a notebook's file name); "" when absent."""
    if value is None or value == "":
        return ""
    if (
        not isinstance(value, str)
        or len(value) > MAX_MODEL_NAME
        or any(c in value for c in "/\\")
        or value in (".", "..")
        or not value.isprintable()
    ):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise InputError(
            f'{source}: "model" deve ser o nome de um notebook (texto de até {MAX_MODEL_NAME} '
            f"caracteres, sem / nem \\), recebido {shown}"
        )
    return value


def _timing(values: dict | None) -> Timing:
    """The timing, every value a finite number, zero or more; the speeds more than zero."""
    timing = fields_of(Timing, values)
    for name, value in dataclasses.asdict(timing).items():
        if value is None:
            continue
        rate = name.endswith("_per_second")
        if not math.isfinite(value) or value < 0 or (rate and value == 0):
            expected = "maior que zero" if rate else "zero ou mais"
            raise ValueError(f"timing.{name} = {value!r}: esperado um número finito {expected}")
    if timing.forward_ms_median is not None and timing.forward_repeats is None:
        timing.forward_repeats = LEGACY_FORWARD_REPEATS
    return timing


def read_history(path: str | Path) -> pd.DataFrame | None:
    """history.csv as a DataFrame sorted by epoch, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: CSV malformado ({str(error).splitlines()[0]})") from None
    if history.empty:
        return None
    if "epoch" not in history.columns:
        history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return history.sort_values("epoch").reset_index(drop=True)


def model_of_folder(folder: Path) -> str:
    """The model a run folder belongs to by its place: ``<model>/seed-<k>/`` or ``<model>/``."""
    return (folder.parent if folder.name.startswith("seed-") else folder).name


# --- Per-image confusion matrices ------------------------------------------------------------


@dataclass
class PerImage:
    """One confusion matrix per validation image (19 ground-truth rows x 19 predicted classes
    and void), with the image's stem and city: every statistic of the report is recomputable
    from these."""

    stems: list[str]
    cities: list[str]
    matrices: np.ndarray  # (images, 19, 20) int64

    def write(self, folder: str | Path) -> Path:
        """``folder/confusion_per_image.npz`` (compressed, no pickled objects), atomically."""
        import io

        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            stems=np.asarray(self.stems, dtype=str),
            cities=np.asarray(self.cities, dtype=str),
            matrices=np.asarray(self.matrices, dtype=np.int64),
        )
        return write_atomically(Path(folder) / PER_IMAGE_FILE, buffer.getvalue())

    @classmethod
    def read(cls, folder: str | Path) -> PerImage | None:
        """The matrices saved in ``folder``; None when the run has none (older results)."""
        path = Path(folder) / PER_IMAGE_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as arrays:
                matrices = arrays["matrices"]
                stems, cities = arrays["stems"].tolist(), arrays["cities"].tolist()
        except (OSError, ValueError, KeyError) as error:
            raise InputError(f"{path}: não é um arquivo de matrizes por imagem ({error})") from None
        if matrices.ndim != 3 or matrices.shape[1:] != (19, 20) or len(stems) != len(matrices):
            raise InputError(
                f"{path}: esperadas matrizes (imagens, 19, 20), recebido {matrices.shape}"
            )
        return cls(stems, cities, matrices)


def is_missing(value: Any) -> bool:
    """True for None and NaN (what a table cell holds for an undefined score)."""
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False
