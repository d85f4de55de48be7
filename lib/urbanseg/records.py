"""The record of one model run, and the only reader and writer of its files.

``results/<model>/metrics.json`` (a finished run) and ``results/<model>/failed.json`` (a run that
failed) are both a ``RunRecord`` (docs/results.md): ``RunRecord.read(folder)`` reads whichever is
there, ``record.write(folder)`` writes the one its status calls for, atomically. Every other
module reads attributes of a record, never the JSON. ``load_records`` reads a whole results
folder, ``summary_table`` flattens the records to one row per model, and ``write_summary`` is
the one writer of ``results/summary.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_atomically
from .catalog import sort_key
from .errors import InputError
from .labels import CLASS_NAMES

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1  # bumped when a field changes meaning; files without "schema" are version 1
METRICS_FILE, FAILED_FILE, HISTORY_FILE = "metrics.json", "failed.json", "history.csv"
HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "val_miou", "learning_rate", "seconds")


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
class EvaluationInfo:
    split: str = "val"
    protocol: str = "full"  # "full": at the labels' resolution; "train": at the training size
    resolution: tuple[int, int] | None = None  # (H, W) the predictions were scored at


@dataclass
class Timing:
    train_seconds: float | None = None
    train_images_per_second: float | None = None
    inference_images_per_second: float | None = None
    latency_ms: float | None = None
    peak_rss_mb: float | None = None


@dataclass
class Baseline:
    """What always predicting the most frequent training class scores on the same images."""

    class_name: str
    miou: float | None
    pixel_accuracy: float | None


@dataclass
class RunRecord:
    """One model run: ``status`` "ok" (metrics.json) or "failed" (failed.json)."""

    model: str
    status: str = "ok"
    digest: str | None = None  # RunConfig.digest(model): what the runner compares to skip a run
    parameters: dict[str, Any] = field(default_factory=dict)  # every notebook parameter
    params: int | None = None  # parameter count
    flops: int | None = None  # per image at the training resolution
    model_options: dict[str, Any] = field(default_factory=dict)  # what the builder got beyond
    model_info: dict[str, Any] = field(default_factory=dict)  # a non-catalog model's own record
    precision: str | None = None
    data: DataInfo = field(default_factory=DataInfo)
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
        return self.status == "ok"

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
            error=_first_line(error),
            traceback=traceback,
            notebook=notebook,
            date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
                record = cls.from_json(_read_json(path), source=path, failed=name == FAILED_FILE)
                break
        else:
            raise InputError(f"{folder}: neither {METRICS_FILE} nor {FAILED_FILE}")
        if not record.model:
            record.model = folder.name
        record.folder = folder
        record.history = read_history(folder / HISTORY_FILE)
        return record

    def write(self, folder: str | Path) -> Path:
        """Write metrics.json (status ok) or failed.json atomically, then remove the other one:
        a folder holds one record, the latest. Returns the path written."""
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
            return _plain(values)
        for name in _OK_FIELDS:
            values[name] = getattr(self, name)
        values["data"] = dataclasses.asdict(self.data)
        values["evaluation"] = dataclasses.asdict(self.evaluation)
        values["timing"] = dataclasses.asdict(self.timing)
        if self.baseline is not None:
            baseline = dataclasses.asdict(self.baseline)
            values["baseline"] = {"class": baseline.pop("class_name"), **baseline}
        return _plain(values)

    @classmethod
    def from_json(
        cls, values: dict[str, Any], *, source: str | Path = "record", failed: bool = False
    ) -> RunRecord:
        """The record of a metrics.json (``failed=False``) or failed.json (``failed=True``)."""
        schema = values.get("schema", 1)
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise InputError(
                f"{source}: schema {schema!r} is newer than this urbanseg reads "
                f"({SCHEMA_VERSION}); upgrade urbanseg"
            )
        model = str(values.get("model") or "")
        if failed or values.get("status") == "failed":
            return cls(
                model=model,
                status="failed",
                model_info=dict(values.get("model_info") or {}),
                error=_first_line(values.get("error") or "unknown error"),
                traceback=values.get("traceback"),
                notebook=values.get("notebook"),
                date=values.get("date"),
            )
        metrics = values.get("metrics")
        if not isinstance(metrics, dict) or "miou" not in metrics:
            raise InputError(f'{source}: no "metrics" object with "miou" (see docs/results.md)')
        try:
            baseline = values.get("baseline")
            return cls(
                model=model,
                status="ok",
                digest=values.get("digest"),
                parameters=dict(values.get("parameters") or {}),
                params=_optional(int, values.get("params")),
                flops=_optional(int, values.get("flops")),
                model_options=dict(values.get("model_options") or {}),
                model_info=dict(values.get("model_info") or {}),
                precision=values.get("precision"),
                data=_dataclass(DataInfo, values.get("data")),
                evaluation=_dataclass(EvaluationInfo, values.get("evaluation")),
                metrics=metrics,
                baseline=None
                if not baseline
                else Baseline(
                    class_name=str(baseline["class"]),
                    miou=_optional(float, baseline.get("miou")),
                    pixel_accuracy=_optional(float, baseline.get("pixel_accuracy")),
                ),
                timing=_dataclass(Timing, values.get("timing"), convert=float),
                environment=dict(values.get("environment") or {}),
                schema=schema,
            )
        except (TypeError, ValueError, KeyError) as error:
            raise InputError(f"{source}: malformed record ({_first_line(str(error))})") from None


_OK_FIELDS = (
    "digest",
    "parameters",
    "params",
    "flops",
    "model_options",
    "model_info",
    "precision",
    "metrics",
    "environment",
)


def _dataclass(kind, values: dict | None, convert=None):
    """``kind(**values)`` for the fields it knows (a newer minor field is ignored); tuples for
    the (H, W) pairs, ``convert`` applied to every non-null value when given."""
    values = {f.name: (values or {}).get(f.name) for f in dataclasses.fields(kind)}
    values = {name: value for name, value in values.items() if value is not None}
    for name, value in values.items():
        if convert is not None:
            values[name] = convert(value)
        elif isinstance(value, list) and name in ("image_size", "resolution"):
            values[name] = tuple(int(v) for v in value)
    return kind(**values)


def _optional(convert, value):
    return None if value is None else convert(value)


def _plain(value):
    """JSON-ready: numpy scalars and arrays as Python values, NaN as null, paths as text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "unknown error"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: malformed JSON ({error.msg} at line {error.lineno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def read_history(path: str | Path) -> pd.DataFrame | None:
    """history.csv as a DataFrame sorted by epoch, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: malformed CSV ({str(error).splitlines()[0]})") from None
    if history.empty:
        return None
    if "epoch" not in history.columns:
        history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return history.sort_values("epoch").reset_index(drop=True)


def has_record(folder: Path) -> bool:
    return (folder / METRICS_FILE).is_file() or (folder / FAILED_FILE).is_file()


def load_records(results_dir: str | Path) -> list[RunRecord]:
    """The record of every model folder of ``results_dir``, catalog order first. Folders
    holding neither metrics.json nor failed.json (a run in progress) are skipped."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: results folder not found")
    records = []
    for folder in sorted(results_dir.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        if has_record(folder):
            records.append(RunRecord.read(folder))
        else:
            log.info("%s: no %s or %s, skipped", folder, METRICS_FILE, FAILED_FILE)
    return sorted(records, key=lambda record: sort_key(record.model))


# --- The summary table -----------------------------------------------------------------------

SCORE_COLUMNS = ("miou", "category_miou", "iiou", "pixel_accuracy", "mean_accuracy", "fw_iou")
TIMING_COLUMNS = tuple(f.name for f in dataclasses.fields(Timing))
PARAMETER_COLUMNS = ("epochs", "image_height", "image_width")
SUMMARY_COLUMNS = (
    "model",
    "status",
    *SCORE_COLUMNS,
    "params",
    "flops",
    *TIMING_COLUMNS,
    *PARAMETER_COLUMNS,
    "error",
)
_INTEGER_COLUMNS = ("params", "flops", *PARAMETER_COLUMNS)


def summary_table(records: list[RunRecord]) -> pd.DataFrame:
    """One row per record (columns SUMMARY_COLUMNS, in the records' order): scores and timings
    as floats (NaN where undefined or failed), counts as nullable integers, the one-line error
    of a failed run."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"model": record.model, "status": record.status}
        row.update((name, record.metrics.get(name)) for name in SCORE_COLUMNS)
        row.update(params=record.params, flops=record.flops)
        row.update((name, getattr(record.timing, name)) for name in TIMING_COLUMNS)
        row.update((name, record.parameters.get(name)) for name in PARAMETER_COLUMNS)
        row["error"] = record.error
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    for column in SUMMARY_COLUMNS:
        if column in ("model", "status", "error"):
            continue
        values = pd.to_numeric(frame[column], errors="coerce").astype(float)
        whole = values.dropna()
        if column in _INTEGER_COLUMNS and (whole == whole.round()).all():
            values = values.astype("Int64")  # 10, not 10.0; <NA> for a failed run
        frame[column] = values
    return frame


def collect(results_dir: str | Path = "results") -> pd.DataFrame:
    """The summary table of every record in ``results_dir``."""
    return summary_table(load_records(results_dir))


def write_summary(records: list[RunRecord], results_dir: str | Path = "results") -> Path:
    """Write ``results_dir/summary.csv`` (the one writer of that file) atomically."""
    table = summary_table(records)
    return write_atomically(Path(results_dir) / "summary.csv", table.to_csv(index=False))


def iou_table(records: list[RunRecord], key: str = "iou", names=CLASS_NAMES) -> pd.DataFrame:
    """Models x classes table of per-class IoU (NaN where undefined), for the successful runs.

    ``key="category_iou"`` with ``names=CATEGORY_NAMES`` gives the per-category table.
    """
    rows = {}
    for record in records:
        if record.ok:
            scores = record.metrics.get(key) or {}
            rows[record.model] = [_number(scores.get(name)) for name in names]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(names)).rename_axis("model")


def _number(value: Any) -> float:
    try:
        return float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return float("nan")


def is_missing(value: Any) -> bool:
    """True for None and NaN (what a table cell holds for an undefined score)."""
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False
