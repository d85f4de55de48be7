"""The report's tables and lists, as rows of formatted text: results, best model per criterion,
the models, parameters and protocol of the method section, and the reproducibility section's
commands and environment."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..config import RunConfig
from ..i18n import duration, number, percent
from ..records import SCORE_COLUMNS, is_missing
from .study import Study, int_text, size_text

# Results-table columns after the six scores: (key, label key, unit key, higher is better)
_COST_COLUMNS = (
    ("params", "col_params", "unit_millions", False),
    ("flops", "col_flops", "unit_giga", False),
    ("train_seconds", "col_train_time", "unit_time", False),
    ("inference_images_per_second", "col_inference", "unit_img_s", True),
    ("peak_rss_mb", "col_memory", "unit_mib", False),
)
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


def results_table(study: Study, summary: pd.DataFrame) -> dict[str, Any]:
    """Header and rows of the results table, formatted, with the best cell of each column marked."""
    lang = study.lang
    formatters = {
        "params": lambda v: number(v / 1e6, 2, lang),
        "flops": lambda v: number(v / 1e9, 1, lang),
        "train_seconds": lambda v: duration(v, lang),
        "inference_images_per_second": lambda v: number(v, 1, lang),
        "peak_rss_mb": lambda v: number(v, 0, lang),
    }
    columns = [
        (c, (study.t(f"col_{c}"), study.t("unit_percent")), lambda v: percent(v, 1, lang), True)
        for c in SCORE_COLUMNS
    ]
    columns += [
        (c, (study.t(label), study.t(unit)), formatters[c], higher)
        for c, label, unit, higher in _COST_COLUMNS
    ]
    columns = [c for c in columns if summary[c[0]].notna().any()]  # drop columns nobody recorded
    rows = [{"model": study.name(m), "key": m, "cells": []} for m in summary["model"]]
    for key, _label, fmt, higher in columns:
        values = [float(v) if not is_missing(v) else math.nan for v in summary[key]]
        best = _best_indices(values, higher)
        for i, value in enumerate(values):
            rows[i]["cells"].append(
                {
                    "text": study.t("not_available") if is_missing(value) else fmt(value),
                    "best": i in best,
                    "column": key,
                }
            )
    return {
        "header": [label for _, label, _, _ in columns],
        "keys": [c[0] for c in columns],
        "rows": rows,
    }


def best_per_criterion(study: Study, summary: pd.DataFrame) -> list[dict[str, str]]:
    lang = study.lang
    criteria = [
        (c, study.t(f"metric_name_{c}"), True, lambda v: percent(v, 1, lang) + " %")
        for c in SCORE_COLUMNS
    ]
    criteria += [
        (
            "inference_images_per_second",
            study.t("metric_name_inference"),
            True,
            lambda v: study.t("unit_images_per_second", value=number(v, 1, lang)),
        ),
        (
            "params",
            study.t("metric_name_params"),
            False,
            lambda v: study.t("unit_params", value=number(v / 1e6, 2, lang)),
        ),
        ("train_seconds", study.t("metric_name_train_time"), False, lambda v: duration(v, lang)),
    ]
    rows = []
    for key, label, higher, fmt in criteria:
        column = summary[key].astype(float)
        if column.notna().sum() == 0:
            continue
        index = column.idxmax() if higher else column.idxmin()
        rows.append(
            {
                "criterion": label,
                "model": study.name(summary.loc[index, "model"]),
                "value": fmt(column[index]),
            }
        )
    return rows


# --- Method ------------------------------------------------------------------------------------


def models_section(study: Study) -> list[dict[str, Any]]:
    """Every model of the study, successful or failed: its name, description and paper."""
    models = []
    for record in study.records:
        info = study.infos[record.model]
        models.append(
            {
                "key": record.model,
                "name": info.display_name,
                "description": info.describe(study.lang) or study.t("model_other"),
                "reference": study.t("model_reference", citation=info.reference)
                if info.reference
                else None,
                "url": info.url,
                "failed": not record.ok,
            }
        )
    return models


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
        size = size_text(evaluation.resolution or record.data.image_size)
        key = (evaluation.split, record.metrics.get("num_images"), evaluation.protocol, size)
        evaluations.setdefault(key, []).append(record.model)
    lines = []
    for (split, count, kind, size), models in evaluations.items():
        prefix = f"{study.join_models(models)}: " if len(evaluations) > 1 else ""
        split_text = study.t(f"split_{split}") if split in ("train", "val", "test") else split
        lines.append(
            prefix
            + study.t("protocol_split", split=split_text, n=int_text(count))
            + " "
            + study.t("protocol_full" if kind == "full" else "protocol_train", size=size)
        )
    lines.append(study.t("protocol_void"))
    return lines


# --- Reproducibility ---------------------------------------------------------------------------


def commands(study: Study) -> dict[str, Any]:
    """The commands that reproduce the runs: one ``urbanseg run`` per group of models that
    share their parameters, naming only what differs from the defaults."""
    defaults = RunConfig().to_dict()
    groups: dict[tuple, list[str]] = {}
    for record in study.ok:
        parameters = record.parameters
        changed = tuple(
            (k, v)
            for k, v in parameters.items()
            if k not in ("data_root", "results_dir") and (k not in defaults or defaults[k] != v)
        )
        groups.setdefault((parameters.get("data_root"), changed), []).append(record.model)
    results_dir = study.results_dir
    run_lines = []
    for (root, changed), models in groups.items():
        words = ["urbanseg", "run", *models]
        if root:
            words += ["--root", str(root)]
        words += ["--results", str(results_dir)] if str(results_dir) != "results" else []
        for name, value in changed:
            words += ["-p", name, study.value_text(value)]
        run_lines.append(" ".join(words))
    seeds = dict.fromkeys(str(record.parameters.get("seed", "—")) for record in study.ok)
    return {
        "make": "make report",
        "run": run_lines,
        "report": f"urbanseg report --results {results_dir} --lang {study.lang}",
        "seed": ", ".join(seeds),
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
