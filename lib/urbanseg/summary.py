"""The study's tables, from its run records: ``results/runs.csv`` (one row per run),
``results/summary.csv`` (one row per model: mIoU mean and spread over seeds, bootstrap interval,
the other scores averaged over seeds, costs) and the per-class IoU table.

``write_summary`` is the one writer of both files: ``urbanseg run`` and ``urbanseg report`` call
it, and the intervals come from a fixed random seed, so both write the same bytes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_atomically
from .catalog import sort_key
from .errors import InputError
from .labels import CLASS_NAMES
from .records import DUPLICATE, FAILED, INCOMPLETE, PerImage, RunRecord, Timing
from .results_folder import load_records
from .statistics import ModelRuns, StudyStatistics, compare

log = logging.getLogger(__name__)

SCORE_COLUMNS = ("miou", "category_miou", "iiou", "pixel_accuracy", "mean_accuracy", "fw_iou")
TIMING_COLUMNS = tuple(f.name for f in dataclasses.fields(Timing))
PARAMETER_COLUMNS = ("epochs", "image_height", "image_width")
RUN_COLUMNS = (
    "model",
    "seed",
    "status",
    *SCORE_COLUMNS,
    "params",
    "flops",
    *TIMING_COLUMNS,
    *PARAMETER_COLUMNS,
    "error",
)
MIOU_COLUMNS = ("miou_mean", "miou_std", "miou_ci_low", "miou_ci_high")
SUMMARY_COLUMNS = (
    "model",
    # "ok": every seed ran; "partial": some failed or are incomplete; "failed": none ran;
    # "incomplete": none finished nor failed (interrupted, or running). Duplicates: runs.csv only.
    "status",
    "seeds",  # the seeds that ran
    *MIOU_COLUMNS,
    *SCORE_COLUMNS[1:],  # means over the seeds that ran
    "params",
    "flops",
    *TIMING_COLUMNS,  # medians over the seeds that ran
    *PARAMETER_COLUMNS,
    "error",
    "synthetic",  # every run that ran was on a synthetic data set
    "params_digest",  # the parameters but seed, results_dir and data_root: equal = same recipe
    "data_fingerprint",  # the validation set scored (urbanseg.bundle.fingerprint); empty if gone
    "author",  # RESULTS/study.yaml's, for tables gathered from several students
)
_TEXT_COLUMNS = ("model", "status", "error", "params_digest", "data_fingerprint", "author")
_INTEGER_COLUMNS = (
    "seed",
    "seeds",
    "params",
    "flops",
    "forward_batch",
    "forward_repeats",
    "concurrent_runs",
    *PARAMETER_COLUMNS,
)


def runs_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per run (columns RUN_COLUMNS, in the records' order)."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"model": record.model, "seed": record.seed, "status": record.status}
        row.update((name, record.metrics.get(name)) for name in SCORE_COLUMNS)
        row.update(params=record.params, flops=record.flops)
        row.update((name, getattr(record.timing, name)) for name in TIMING_COLUMNS)
        row.update((name, record.parameters.get(name)) for name in PARAMETER_COLUMNS)
        row["error"] = record.error
        rows.append(row)
    return _typed(pd.DataFrame(rows, columns=list(RUN_COLUMNS)))


def by_model(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """The records of each model, catalog order first; a duplicate run (results_folder.load_records)
    belongs to no model."""
    groups: dict[str, list[RunRecord]] = {}
    for record in sorted(records, key=lambda r: sort_key(r.model)):
        if record.status != DUPLICATE:
            groups.setdefault(record.model, []).append(record)
    return groups


def study_statistics(records: Sequence[RunRecord]) -> StudyStatistics:
    """``urbanseg.statistics.compare`` over the successful runs: each model's seeds, with the
    per-image matrices of the validation images every run scored (the same images, in the same
    order, for every model, so that differences are paired)."""
    groups = {m: [r for r in rs if r.ok] for m, rs in by_model(records).items()}
    groups = {m: rs for m, rs in groups.items() if rs}
    per_image = {m: [_per_image(r) for r in rs] for m, rs in groups.items()}
    complete = [p for runs in per_image.values() if all(runs) for p in runs]
    common = set.intersection(*(set(p.stems) for p in complete)) if complete else set()
    order = [stem for stem in complete[0].stems if stem in common] if complete else []
    if complete and any(len(p.stems) != len(order) for p in complete):
        log.warning(
            "as execuções avaliaram imagens de validação diferentes; "
            "os intervalos usam as %d em comum",
            len(order),
        )
    runs = []
    for model, rs in groups.items():
        matrices = None
        if all(per_image[model]) and order:
            matrices = [_reordered(p, order) for p in per_image[model]]
        runs.append(
            ModelRuns(model, [r.seed for r in rs], matrices, [float(r.metrics["miou"]) for r in rs])
        )
    return compare(runs)


def _per_image(record: RunRecord) -> PerImage | None:
    """The run's per-image matrices; None (no intervals for its model) when it has none or they
    cannot be read, which must not take the report down."""
    if record.folder is None:
        return None
    try:
        return PerImage.read(record.folder)
    except InputError as error:
        log.warning("%s; sem intervalos para %s", error, record.model)
        return None


def _reordered(per_image: PerImage, stems: list[str]) -> np.ndarray:
    index = {stem: i for i, stem in enumerate(per_image.stems)}
    return per_image.matrices[[index[stem] for stem in stems]]


def summary_table(
    records: Sequence[RunRecord], stats: StudyStatistics | None = None
) -> pd.DataFrame:
    """One row per model (columns SUMMARY_COLUMNS): the mIoU over seeds with its interval, the
    other scores' means and the timings' medians over the seeds that ran, the costs."""
    from .bundle import fingerprint
    from .results_folder import study_identity

    stats = stats if stats is not None else study_statistics(records)
    folders = [r.folder for r in records if r.folder is not None]
    author = study_identity(_results_dir(folders[0])).get("author") if folders else None
    fingerprints: dict[str | None, str | None] = {}
    rows = []
    for model, group in by_model(records).items():
        ran = [r for r in group if r.ok]
        failed = [r for r in group if r.status == FAILED]
        unfinished = [r for r in group if r.status == INCOMPLETE]
        first = (ran or group)[0]
        if ran:
            status = "partial" if failed or unfinished else "ok"
        else:
            status = "failed" if failed else INCOMPLETE
        row: dict[str, Any] = {
            "model": model,
            "status": status,
            "seeds": len(ran),
            "error": (failed or unfinished)[0].error if failed or unfinished else None,
        }
        model_stats = stats.models.get(model)
        if model_stats is not None:
            row.update(
                miou_mean=model_stats.miou_mean,
                miou_std=model_stats.miou_std,
                miou_ci_low=model_stats.ci_low,
                miou_ci_high=model_stats.ci_high,
            )
        for name in SCORE_COLUMNS[1:]:
            row[name] = _mean([r.metrics.get(name) for r in ran])
        row.update(params=first.params, flops=first.flops)
        for name in TIMING_COLUMNS:
            row[name] = _median([getattr(r.timing, name) for r in ran])
        row.update((name, first.parameters.get(name)) for name in PARAMETER_COLUMNS)
        root = first.data.root
        if root not in fingerprints:
            fingerprints[root] = fingerprint(root) if root else None
        row.update(
            synthetic=all(r.data.synthetic for r in ran) if ran else None,
            params_digest=_recipe_digest(first.parameters),
            data_fingerprint=fingerprints[root],
            author=author,
        )
        rows.append(row)
    return _typed(pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)))


def _results_dir(folder: Path) -> Path:
    """The results folder of a run folder: ``RESULTS/<model>/seed-<k>/`` or ``RESULTS/<model>/``."""
    return folder.parents[1] if folder.name.startswith("seed-") else folder.parent


def _recipe_digest(parameters: dict) -> str:
    """16 hex digits of the parameters that make the recipe: all but the seed and the paths."""
    import hashlib
    import json

    kept = {k: v for k, v in parameters.items() if k not in ("seed", "results_dir", "data_root")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def collect(results_dir: str | Path = "results") -> pd.DataFrame:
    """The summary table of every run in ``results_dir``; a run that cannot be read is a failed
    row naming its file, a folder without a record an incomplete one."""
    return summary_table(load_records(results_dir, tolerant=True))


def write_summary(records: Sequence[RunRecord], results_dir: str | Path = "results") -> Path:
    """Write ``results_dir/summary.csv`` and ``results_dir/runs.csv`` (the one writer of both)
    atomically; returns the summary's path."""
    results_dir = Path(results_dir)
    try:
        summary = summary_table(records)
    except ValueError as error:  # per-image matrices that do not line up
        raise InputError(f"{results_dir}: {error}") from None
    runs = runs_table(records)
    written = None
    for name, table in (("runs.csv", runs), ("summary.csv", summary)):
        try:
            written = write_atomically(results_dir / name, table.to_csv(index=False))
        except OSError as error:  # a read-only results folder, a full disk
            raise InputError(
                f"{results_dir / name}: não foi possível gravar ({error.strerror or error})"
            ) from None
    return written


def iou_table(records: Sequence[RunRecord], key: str = "iou", names=CLASS_NAMES) -> pd.DataFrame:
    """Models x classes table of per-class IoU, the mean over each model's successful seeds (NaN
    where undefined). ``key="category_iou"`` with ``names=CATEGORY_NAMES`` gives categories."""
    rows = {}
    for model, group in by_model(records).items():
        ran = [r for r in group if r.ok]
        if ran:
            rows[model] = [_mean([(r.metrics.get(key) or {}).get(n) for r in ran]) for n in names]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(names)).rename_axis("model")


def _numbers(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)


def _mean(values) -> float:
    numbers = _numbers(values)
    return float(np.nanmean(numbers)) if np.isfinite(numbers).any() else np.nan


def _median(values) -> float:
    numbers = _numbers(values)
    return float(np.nanmedian(numbers)) if np.isfinite(numbers).any() else np.nan


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers as floats (NaN where missing), counts as nullable integers when whole, flags as
    nullable booleans."""
    for column in frame.columns:
        if column in _TEXT_COLUMNS:
            continue
        if column == "synthetic":  # true / false, empty where no run ran
            frame[column] = frame[column].astype("boolean")
            continue
        values = pd.to_numeric(frame[column], errors="coerce").astype(float)
        whole = values.dropna()
        if column in _INTEGER_COLUMNS and (whole == whole.round()).all():
            values = values.astype("Int64")  # 10, not 10.0; <NA> where missing
        frame[column] = values
    return frame
