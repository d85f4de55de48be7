"""Read the per-model results folders (docs/results.md) into dicts and pandas tables.

``load_run`` reads one ``results/<model>/`` folder, ``load_runs`` every folder of a results
directory in the canonical model order, ``collect`` flattens them to one row per model and
``write_summary`` saves that table as ``results/summary.csv``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_atomically
from .errors import InputError
from .labels import CLASS_NAMES

log = logging.getLogger(__name__)

CANONICAL_ORDER = ("unet", "segnet", "fcn", "deeplab", "pspnet")

SUMMARY_COLUMNS = (
    "model",
    "status",
    "miou",
    "category_miou",
    "iiou",
    "pixel_accuracy",
    "mean_accuracy",
    "fw_iou",
    "params",
    "flops",
    "train_seconds",
    "train_images_per_second",
    "inference_images_per_second",
    "latency_ms",
    "peak_rss_mb",
    "epochs",
    "image_height",
    "image_width",
    "error",
)
_METRIC_COLUMNS = ("miou", "category_miou", "iiou", "pixel_accuracy", "mean_accuracy", "fw_iou")
_TIMING_COLUMNS = (
    "train_seconds",
    "train_images_per_second",
    "inference_images_per_second",
    "latency_ms",
    "peak_rss_mb",
)
_PARAMETER_COLUMNS = ("epochs", "image_height", "image_width")

HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "val_miou", "learning_rate", "seconds")


def model_sort_key(name: str) -> tuple[int, str]:
    """unet, segnet, fcn, deeplab, pspnet first, then any other model alphabetically."""
    if name in CANONICAL_ORDER:
        return (CANONICAL_ORDER.index(name), "")
    return (len(CANONICAL_ORDER), name.lower())


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


def load_run(folder: str | Path) -> dict[str, Any]:
    """One model's results: metrics.json (status "ok") or failed.json (status "failed").

    The dict is the JSON file's content plus ``"folder"`` (Path), ``"model"`` (the JSON's,
    else the folder name), ``"status"`` and, when present, ``"history"`` (a DataFrame of
    history.csv). Raises InputError naming the file when it is malformed, or the folder when it
    holds neither file.
    """
    folder = Path(folder)
    metrics_path, failed_path = folder / "metrics.json", folder / "failed.json"
    if metrics_path.is_file():
        run = _read_json(metrics_path)
        run["status"] = run.get("status") or "ok"
        if not isinstance(run.get("metrics"), dict) or "miou" not in run["metrics"]:
            raise InputError(f'{metrics_path}: no "metrics" object with "miou" (see docs/results.md)')
    elif failed_path.is_file():
        run = _read_json(failed_path)
        run["status"] = "failed"
        run["error"] = str(run.get("error") or "unknown error").strip().splitlines()[0]
    else:
        raise InputError(f"{folder}: neither metrics.json nor failed.json")
    run["model"] = str(run.get("model") or folder.name)
    run["folder"] = folder
    run["history"] = load_history(folder / "history.csv")
    return run


def load_history(path: str | Path) -> pd.DataFrame | None:
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


def load_runs(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every model folder of ``results_dir`` (those holding metrics.json or failed.json), in the
    canonical model order. Folders holding neither (a run in progress) are skipped."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: results folder not found")
    runs = []
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (folder / "metrics.json").is_file() or (folder / "failed.json").is_file():
            runs.append(load_run(folder))
        else:
            log.info("%s: no metrics.json or failed.json, skipped", folder)
    return sorted(runs, key=lambda run: model_sort_key(run["model"]))


def _number(value: Any) -> float:
    try:
        return float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return float("nan")


def summary_row(run: dict[str, Any]) -> dict[str, Any]:
    """One row of ``collect``'s table for a run dict of ``load_run``."""
    row: dict[str, Any] = {"model": run["model"], "status": run["status"]}
    metrics = run.get("metrics") or {}
    timing = run.get("timing") or {}
    parameters = run.get("parameters") or {}
    for column in _METRIC_COLUMNS:
        row[column] = _number(metrics.get(column))
    row["params"] = _number(run.get("params"))
    row["flops"] = _number(run.get("flops"))
    for column in _TIMING_COLUMNS:
        row[column] = _number(timing.get(column))
    for column in _PARAMETER_COLUMNS:
        row[column] = _number(parameters.get(column))
    row["error"] = run.get("error") if run["status"] == "failed" else None
    return row


def collect(results_dir: str | Path = "results") -> pd.DataFrame:
    """One row per model folder (columns SUMMARY_COLUMNS), in the canonical model order.

    Failed runs have status "failed", their error message and NaN scores. An empty results
    folder gives an empty table with the same columns.
    """
    rows = [summary_row(run) for run in load_runs(results_dir)]
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    for column in _PARAMETER_COLUMNS:  # whole numbers; <NA> for failed runs
        values = frame[column].dropna()
        if (values == values.round()).all():
            frame[column] = frame[column].astype("Int64")
    return frame


def iou_table(runs: list[dict[str, Any]], key: str = "iou", names=CLASS_NAMES) -> pd.DataFrame:
    """Models x classes table of per-class IoU (NaN where undefined), for the successful runs.

    ``key="category_iou"`` with ``names=CATEGORY_NAMES`` gives the per-category table.
    """
    rows = {}
    for run in runs:
        if run.get("status", "ok") != "ok":
            continue
        scores = (run.get("metrics") or {}).get(key) or {}
        rows[run["model"]] = [_number(scores.get(name)) for name in names]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(names)).rename_axis("model")


def write_summary(df: pd.DataFrame, results_dir: str | Path = "results") -> Path:
    """Write ``df`` to ``results_dir/summary.csv`` atomically (temp file + rename)."""
    return write_atomically(Path(results_dir) / "summary.csv", df.to_csv(index=False))


def is_missing(value: Any) -> bool:
    """True for None and NaN (what a table cell holds for an undefined score)."""
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False
