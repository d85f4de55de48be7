"""The report's tables and lists, as rows of formatted text: the results (mean ± spread over
seeds, intervals), the models, design, parameters and protocol of the method section, and the
reproducibility section's commands and environment."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..catalog import CATALOG
from ..config import RunConfig
from ..i18n import duration, number, percent
from ..records import is_missing
from ..summary import SCORE_COLUMNS
from .study import Study, int_text, size_text

_ENVIRONMENT_KEYS = tuple(
    [
        "urbanseg",
        "python",
        "keras",
        "backend",
        "tensorflow",
        "numpy",
        "platform",
        "cpu",
        "gpu",
        "git_commit",
        "date",
    ]
)


def _best_indices(values: list[float], higher: bool) -> set[int]:
    finite = [v for v in values if not is_missing(v)]
    if len(finite) < 2:
        return set()
    best = max(finite) if higher else min(finite)
    return {
        i
        for i, v in enumerate(values)
        if not is_missing(v) and math.isclose(v, best, rel_tol=1e-12, abs_tol=1e-15)
    }


def significant_leader(study: Study) -> str | None:
    """The model whose mIoU is above every other's with a paired interval that excludes 0;
    None when there is none, or the study is a pipeline check."""
    if study.pipeline_check:
        return None
    models = list(study.stats.models)
    for model in models:
        pairs = [study.stats.pair(model, other) for other in models if other != model]
        if pairs and all(p is not None and p.ci_low > 0 for p in pairs):
            return model
    return None


def results_table(study: Study, summary: pd.DataFrame) -> dict[str, Any]:
    """The results as two tables, ``quality`` (scores) and ``cost``, formatted. Marked best: the
    fewest parameters and FLOPs (exact), the fastest times when the runs' speeds compare, and the
    mIoU of a model that beats every other with a paired interval that excludes 0 (never on a
    pipeline check)."""
    lang = study.lang
    pct = lambda v: percent(v, 1, lang)  # noqa: E731
    leader = significant_leader(study)
    comparable = study.speeds_comparable

    def miou_text(row) -> str:
        spread = row["miou_std"]
        mean = pct(row["miou_mean"])
        return mean if is_missing(spread) else f"{mean} ± {pct(spread)}"

    def ci_text(row) -> str:
        if is_missing(row["miou_ci_low"]):
            return study.t("not_available")
        return f"{pct(row['miou_ci_low'])}–{pct(row['miou_ci_high'])}"

    # (key, header label key, unit key, format(row), which rows are best)
    columns: list[tuple] = [
        ("seeds", "col_seeds", "unit_runs", lambda r: int_text(r["seeds"]), set()),
        (
            "miou",
            "col_miou",
            "unit_mean_sd",
            miou_text,
            {i for i, m in enumerate(summary["model"]) if m == leader},
        ),
        ("miou_ci", "col_miou_ci", "unit_ci", ci_text, set()),
    ]
    columns += [
        (c, f"col_{c}", "unit_percent", lambda r, c=c: pct(r[c]), set()) for c in SCORE_COLUMNS[1:]
    ]
    costs = [
        ("params", "col_params", "unit_millions", lambda v: number(v / 1e6, 2, lang), False, True),
        ("flops", "col_flops", "unit_giga", lambda v: number(v / 1e9, 1, lang), False, True),
        (
            "train_seconds",
            "col_train_time",
            "unit_time",
            lambda v: duration(v, lang),
            False,
            comparable,
        ),
        (
            "inference_images_per_second",
            "col_inference",
            "unit_img_s",
            lambda v: number(v, 1, lang),
            True,
            comparable,
        ),
        (
            "pipeline_images_per_second",
            "col_pipeline",
            "unit_img_s",
            lambda v: number(v, 1, lang),
            True,
            comparable,
        ),
        ("peak_rss_mb", "col_memory", "unit_mib", lambda v: number(v, 0, lang), False, False),
        (
            "gpu_peak_mb",
            "col_gpu_memory",
            "unit_mib",
            lambda v: number(v, 0, lang),
            False,
            comparable,
        ),
    ]
    for key, label, unit, fmt, higher, ranked in costs:
        values = [float(v) if not is_missing(v) else math.nan for v in summary[key]]
        best = _best_indices(values, higher) if ranked else set()
        columns.append((key, label, unit, lambda r, key=key, fmt=fmt: fmt(float(r[key])), best))
    quality = len(SCORE_COLUMNS) + 2  # seeds, mIoU, its interval, the other five scores
    return {
        "quality": _table(study, summary, columns[:quality]),
        "cost": _table(study, summary, columns[quality:]),
    }


def _table(study: Study, summary: pd.DataFrame, columns: list[tuple]) -> dict[str, Any]:
    """Header and formatted rows of ``columns``; a column nobody recorded is left out."""
    present = {"miou": "miou_mean", "miou_ci": "miou_ci_low"}
    columns = [c for c in columns if summary[present.get(c[0], c[0])].notna().any()]
    rows = []
    for i, (_, row) in enumerate(summary.iterrows()):
        cells = []
        for key, _label, _unit, fmt, best in columns:
            source = present.get(key, key)
            text = study.t("not_available") if is_missing(row[source]) else fmt(row)
            cells.append({"text": text, "best": i in best, "column": key})
        rows.append({"model": study.name(row["model"]), "key": row["model"], "cells": cells})
    return {
        "header": [(study.t(label), study.t(unit)) for _, label, unit, _, _ in columns],
        "keys": [c[0] for c in columns],
        "rows": rows,
    }


# --- Method ------------------------------------------------------------------------------------


def models_section(study: Study) -> list[dict[str, Any]]:
    """Every model of the study, successful or failed: its name, description and paper."""
    models = []
    for model in dict.fromkeys(r.model for r in study.records):
        info = study.infos[model]
        models.append(
            {
                "key": model,
                "name": info.display_name,
                "description": info.describe(study.lang) or study.t("model_other"),
                "reference": study.t("model_reference", citation=info.reference)
                if info.reference
                else None,
                "url": info.url,
                "failed": not study.runs_of(model),  # no seed ran
            }
        )
    return models


# A context module's sizes, and when one is too large for a feature map of shorter side ``side``:
# an atrous rate as large as the map sees only zero padding; a pyramid with more bins than cells.
_CONTEXT_MODULES = {
    "aspp": ("rates", lambda rate, side: rate >= side),
    "pyramid": ("bins", lambda bins, side: bins > side),
}


def design(study: Study) -> dict[str, Any]:
    """What the comparison held equal and what it did not: the parameters shared by every model,
    a per-model table of what differs (width, pretraining, rate, steps, normalisation, the
    feature map where context is gathered) and warnings where a context module is larger than
    its feature map."""
    runs = study.ok
    if not runs:
        return {"same": [], "rows": [], "warnings": []}
    ignored = {"data_root", "results_dir", "seed", "width", "backbone_weights"}
    names = [n for n in runs[0].parameters if n not in ignored]
    same = [
        f"{name} = {study.value_text(runs[0].parameters.get(name))}"
        for name in names
        if len({repr(r.parameters.get(name)) for r in runs}) == 1
    ]
    rows, warnings = [], []
    for record in runs:
        info = study.infos[record.model]
        context = record.context or {}
        height, width = context.get("feature_map") or (None, None)
        weights = record.parameters.get("backbone_weights")
        if info.backbone is None and record.model in CATALOG:
            pretrained = study.t("design_no_backbone")
        elif weights:
            pretrained = f"{weights} ({info.backbone})" if info.backbone else str(weights)
        else:
            pretrained = study.t("design_from_scratch")
        module = context.get("module")
        detail = study.t("design_bottleneck") if module == "bottleneck" else ""
        if module in _CONTEXT_MODULES:
            field, exceeds = _CONTEXT_MODULES[module]
            values = context.get(field) or []
            detail = study.t(f"design_{module}", values=", ".join(map(str, values)))
            too_large = [v for v in values if height and exceeds(v, min(height, width))]
            if too_large:
                warnings.append(
                    study.t(
                        f"design_warning_{module}",
                        model=info.display_name,
                        values=", ".join(map(str, too_large)),
                        size=size_text((height, width)),
                    )
                )
        norm = context.get("batch_norm")
        rows.append(
            {
                "model": info.display_name,
                "width": study.number_text(
                    record.model_options.get("width", record.parameters.get("width"))
                ),
                "pretrained": pretrained,
                "learning_rate": study.number_text(record.parameters.get("learning_rate")),
                "iterations": int_text(record.training.iterations),
                "batch_norm": "—" if norm is None else study.t("word_yes" if norm else "word_no"),
                "context": f"{detail} {size_text((height, width))}".strip() if height else detail,
            }
        )
    return {"same": same, "rows": rows, "warnings": warnings}


def parameters_table(study: Study) -> list[dict[str, str]]:
    names = list(dict.fromkeys(name for record in study.ok for name in record.parameters))
    rows = []
    for name in names:
        try:
            description = study.t(f"param_{name}")
        except KeyError:
            description = ""
        value = study.same_or_by_model(
            lambda r, name=name: r.parameters.get(name), study.value_text
        )
        rows.append({"name": name, "value": value, "description": description})
    return rows


def protocol(study: Study) -> list[str]:
    """How the runs were scored, one paragraph per distinct protocol."""
    evaluations: dict[tuple, list[str]] = {}
    for record in study.ok:
        evaluation = record.evaluation
        key = (
            evaluation.split,
            record.metrics.get("num_images"),
            evaluation.protocol if evaluation.protocol == "train" else evaluation.mode,
            size_text(evaluation.resolution or record.data.image_size),
            size_text(
                (record.parameters.get("image_height"), record.parameters.get("image_width"))
            ),
            evaluation.overlap,
        )
        evaluations.setdefault(key, []).append(record.model)
    lines = []
    for (split, count, how, size, window, overlap), models in evaluations.items():
        prefix = f"{study.join_models(models)}: " if len(evaluations) > 1 else ""
        split_text = study.t(f"split_{split}") if split in ("train", "val", "test") else split
        overlap_text = "—" if overlap is None else percent(overlap, 0, study.lang)
        lines.append(
            prefix
            + study.t("protocol_split", split=split_text, n=int_text(count))
            + " "
            + study.t(f"protocol_{how}", size=size, window=window, overlap=overlap_text)
        )
    lines.append(study.t("protocol_void"))
    return lines


# --- Reproducibility ---------------------------------------------------------------------------


def commands(study: Study) -> dict[str, Any]:
    """The commands that reproduce the runs: one ``urbanseg run`` per group of models that
    share their parameters and seeds, naming only what differs from the defaults."""
    defaults = RunConfig().to_dict()
    groups: dict[tuple, list[str]] = {}
    for model in dict.fromkeys(r.model for r in study.ok):
        runs = study.runs_of(model)
        parameters = runs[0].parameters
        changed = tuple(
            (k, v)
            for k, v in parameters.items()
            if k not in ("data_root", "results_dir", "seed")
            and (k not in defaults or defaults[k] != v)
        )
        seeds = tuple(r.seed for r in runs)
        groups.setdefault((parameters.get("data_root"), changed, seeds), []).append(model)
    results_dir = study.results_dir
    run_lines = []
    for (root, changed, seeds), models in groups.items():
        words = ["urbanseg", "run", *models]
        if root:
            words += ["--root", str(root)]
        words += ["--results", str(results_dir)] if str(results_dir) != "results" else []
        words += ["--seeds", *map(str, seeds)] if seeds != (0,) else []
        for name, value in changed:
            words += ["-p", name, study.value_text(value)]
        run_lines.append(" ".join(words))
    return {
        "make": "make report",
        "run": run_lines,
        "report": f"urbanseg report --results {results_dir} --lang {study.lang}",
        "seed": ", ".join(map(str, study.seeds)) or "—",
    }


def environment(study: Study) -> list[dict[str, Any]]:
    """The machine and versions of every run: one value when shared, else one per model."""

    def value(record, key):
        return record.digest if key == "digest" else record.environment.get(key)

    def fmt(v):
        if v is None or v == "" or v == []:
            return study.t("env_none") if v == [] else "—"
        return study.value_text(v)

    keys = [*_ENVIRONMENT_KEYS, "digest"]
    extra = [k for record in study.ok for k in record.environment if k not in keys]
    rows = []
    for key in keys + list(dict.fromkeys(extra)):
        values = [(record.model, value(record, key)) for record in study.ok]
        if all(v is None for _, v in values):
            continue
        try:
            label = study.t(f"env_{key}")
        except KeyError:
            label = key
        distinct = list(dict.fromkeys(fmt(v) for _, v in values))
        rows.append(
            {
                "label": label,
                "shared": distinct[0] if len(distinct) == 1 else None,
                "per_model": [(study.name(m), fmt(v)) for m, v in values],
            }
        )
    return rows
