"""The comparative report: results/<model>/ folders -> report/relatorio.html and .pdf.

``render_report`` reads every model folder (``urbanseg.results``), draws the figures
(``urbanseg.plots``), fills ``templates/body.html.j2`` and ``templates/report.html.j2`` with
the strings of ``urbanseg.strings`` and writes one self-contained HTML file (images as data URIs,
CSS inline) and, from the same HTML with the print stylesheet, a PDF through WeasyPrint. The
executed notebooks are exported to ``report/notebooks/<model>.html`` and linked. Every file is
written atomically.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import logging
import math
import re
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from PIL import Image

from . import __version__, plots
from .atomic import write_atomically
from .config import RunConfig
from .data import find_samples, read_png, read_train_ids
from .errors import InputError
from .labels import CATEGORY_NAMES, CLASS_NAMES, EVAL_LABELS, INSTANCE_CLASS_NAMES
from .results import (
    SUMMARY_COLUMNS,
    iou_table,
    is_missing,
    load_runs,
    summary_row,
    write_summary,
)
from .strings import (
    LANGUAGES,
    REFERENCES,
    category_name,
    class_name,
    duration,
    join_names,
    model_description,
    model_name,
    number,
    percent,
    reference,
    text,
)

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
OUTPUT_NAMES = {"pt": "relatorio", "en": "report"}
MAX_SAMPLES = 3  # validation images shown in the data and results sections
DATASET_SAMPLE_WIDTH = 512  # pixels; originals are downsized for the data section
MAX_FIGURE_HEIGHT = 1.3  # tallest figure, in text widths (A4: 170 mm wide, ~220 mm tall)
SMALL_CLASSES = ("pole", "traffic light", "traffic sign", "person", "rider", "bicycle")
LARGE_CLASSES = ("road", "building", "vegetation", "sky")

# Results-table columns after the six scores: (key, label key, unit key, higher is better)
_SCORE_COLUMNS = ("miou", "category_miou", "iiou", "pixel_accuracy", "mean_accuracy", "fw_iou")
_COST_COLUMNS = (
    ("params", "col_params", "unit_millions", False),
    ("flops", "col_flops", "unit_giga", False),
    ("train_seconds", "col_train_time", "unit_time", False),
    ("inference_images_per_second", "col_inference", "unit_img_s", True),
    ("peak_rss_mb", "col_memory", "unit_mib", False),
)
_ENVIRONMENT_KEYS = tuple(
    "urbanseg python keras backend tensorflow numpy platform cpu gpu git_commit date".split()
)
_CORRECTIONS = 6


class _Numbering:
    """Numbers of sections, figures and tables, in the order the template asks for them."""

    def __init__(self) -> None:
        self.counts = {"section": 0, "subsection": 0, "figure": 0, "table": 0}
        self.keys: dict[tuple[str, str], int] = {}

    def section(self) -> str:
        self.counts["section"] += 1
        self.counts["subsection"] = 0
        return str(self.counts["section"])

    def subsection(self) -> str:
        self.counts["subsection"] += 1
        return f"{self.counts['section']}.{self.counts['subsection']}"

    def _next(self, kind: str, key: str) -> int:
        if (kind, key) not in self.keys:
            self.counts[kind] += 1
            self.keys[(kind, key)] = self.counts[kind]
        return self.keys[(kind, key)]

    def figure(self, key: str) -> int:
        return self._next("figure", key)

    def table(self, key: str) -> int:
        return self._next("table", key)


def _embed(figure) -> dict[str, Any]:
    """A figure as a data URI and its width in % of the text: a WIDTH-inch figure fills the
    text width, so every figure prints at the same scale; a tall one is narrowed to fit a page."""
    png = plots.figure_to_png(figure)
    width_px, height_px = Image.open(io.BytesIO(png)).size
    width = min(
        100.0,
        100.0 * width_px / (plots.WIDTH * plots.DPI),
        100.0 * MAX_FIGURE_HEIGHT * width_px / height_px,
    )
    return {
        "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        "width": round(width, 1),
    }


# --------------------------------------------------------------------------- values


def _same_or_by_model(runs, get, fmt, lang) -> str:
    """One value when every run agrees, else "varies by model: U-Net 64, FCN 32"."""
    values = [(run["model"], get(run)) for run in runs]
    distinct = list(dict.fromkeys(fmt(v) for _, v in values))
    if len(distinct) == 1:
        return distinct[0]
    listed = ", ".join(f"{model_name(m)} {fmt(v)}" for m, v in values)
    return text("data_varies", lang, values=listed)


def _size_text(size) -> str:
    if not size or len(size) != 2 or None in size:
        return "—"
    height, width = size
    return f"{width} × {height}"


def _value_text(value: Any, lang: str) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(v, lang) for v in value) or text("env_none", lang)
    return str(value)


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


def _results_table(summary: pd.DataFrame, lang: str) -> dict[str, Any]:
    """Header and rows of the results table, formatted, with the best cell of each column marked."""
    formatters = {
        "params": lambda v: number(v / 1e6, 2, lang),
        "flops": lambda v: number(v / 1e9, 1, lang),
        "train_seconds": lambda v: duration(v, lang),
        "inference_images_per_second": lambda v: number(v, 1, lang),
        "peak_rss_mb": lambda v: number(v, 0, lang),
    }
    columns = [
        (c, (text(f"col_{c}", lang), text("unit_percent", lang)), lambda v: percent(v, 1, lang), True)
        for c in _SCORE_COLUMNS
    ]
    columns += [
        (c, (text(label, lang), text(unit, lang)), formatters[c], higher)
        for c, label, unit, higher in _COST_COLUMNS
    ]
    columns = [c for c in columns if summary[c[0]].notna().any()]  # drop columns nobody recorded
    rows = [{"model": model_name(m), "key": m, "cells": []} for m in summary["model"]]
    for key, _label, fmt, higher in columns:
        values = [float(v) for v in summary[key]]
        best = _best_indices(values, higher)
        for i, value in enumerate(values):
            rows[i]["cells"].append(
                {
                    "text": text("not_available", lang) if is_missing(value) else fmt(value),
                    "best": i in best,
                    "column": key,
                }
            )
    return {
        "header": [label for _, label, _, _ in columns],
        "keys": [c[0] for c in columns],
        "rows": rows,
    }


def _best_per_metric(summary: pd.DataFrame, lang: str) -> list[dict[str, str]]:
    criteria = [
        (c, text(f"metric_name_{c}", lang), True, lambda v: percent(v, 1, lang) + " %")
        for c in _SCORE_COLUMNS
    ]
    criteria += [
        (
            "inference_images_per_second",
            text("metric_name_inference", lang),
            True,
            lambda v: text("unit_images_per_second", lang, value=number(v, 1, lang)),
        ),
        (
            "params",
            text("metric_name_params", lang),
            False,
            lambda v: text("unit_params", lang, value=number(v / 1e6, 2, lang)),
        ),
        ("train_seconds", text("metric_name_train_time", lang), False, lambda v: duration(v, lang)),
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
                "model": model_name(summary.loc[index, "model"]),
                "value": fmt(column[index]),
            }
        )
    return rows


# --------------------------------------------------------------------------- data section


def _resolve_root(root: str | None, results_dir: Path) -> Path | None:
    if not root:
        return None
    path = Path(root).expanduser()
    if not path.is_absolute() and not path.exists():
        candidate = results_dir.resolve().parent / path
        if candidate.exists():
            return candidate
    return path


def _sample_stems(ok_runs: list[dict]) -> list[str]:
    stems: list[str] = []
    for run in ok_runs:
        stems += (run.get("data") or {}).get("sample_stems") or []
    if not stems:
        for run in ok_runs:
            stems += sorted(p.stem for p in (run["folder"] / "samples").glob("*.png"))
    stems = list(dict.fromkeys(stems))

    # prefer stems every model has a prediction for
    def coverage(stem):
        return -sum((run["folder"] / "samples" / f"{stem}.png").is_file() for run in ok_runs)

    return sorted(stems, key=lambda s: (coverage(s), stems.index(s)))


def _load_samples(ok_runs, root: Path | None, lang: str):
    """(stems, images, gts, note): the sample validation images, or a note saying why not."""
    if root is None:
        return [], [], [], text("data_no_root", lang)
    try:
        available = {s.stem: s for s in find_samples(root, "val")}
    except InputError as error:
        return [], [], [], text("data_unavailable", lang, root=root, reason=str(error))
    stems = [s for s in _sample_stems(ok_runs) if s in available] or sorted(available)
    stems = stems[:MAX_SAMPLES]
    try:
        images = [read_png(available[s].image, mode="RGB") for s in stems]
        gts = [read_train_ids(available[s].label) for s in stems]
    except InputError as error:
        return [], [], [], text("data_unavailable", lang, root=root, reason=str(error))
    return stems, images, gts, None


def _downsize(image: np.ndarray, width: int, nearest: bool) -> np.ndarray:
    if image.shape[1] <= width:
        return image
    height = round(image.shape[0] * width / image.shape[1])
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image).resize((width, height), resample))


def _read_prediction(run: dict, stem: str) -> np.ndarray | None:
    path = run["folder"] / "samples" / f"{stem}.png"
    if not path.is_file():
        return None
    try:
        prediction = read_png(path, mode="L")
    except InputError as error:
        log.warning("%s", error)
        return None
    return prediction if prediction.ndim == 2 else None


def _data_section(ok_runs, results_dir: Path, data_root, lang: str) -> dict[str, Any]:
    data = lambda run: run.get("data") or {}  # noqa: E731
    params = lambda run: run.get("parameters") or {}  # noqa: E731
    synthetic = any(bool(data(run).get("synthetic")) for run in ok_runs)
    rows = []
    if ok_runs:
        root_text = (
            str(data_root)
            if data_root
            else _same_or_by_model(ok_runs, lambda r: data(r).get("root"), str, lang)
        )
        rows = [
            (
                text("data_kind", lang),
                text("data_kind_synthetic" if synthetic else "data_kind_real", lang),
            ),
            (text("data_root", lang), root_text),
            (
                text("data_train_images", lang),
                _same_or_by_model(ok_runs, lambda r: data(r).get("train_images"), _fmt_int, lang),
            ),
            (
                text("data_val_images", lang),
                _same_or_by_model(
                    ok_runs,
                    lambda r: (r.get("metrics") or {}).get("num_images", data(r).get("val_images")),
                    _fmt_int,
                    lang,
                ),
            ),
            (
                text("data_original_size", lang),
                _same_or_by_model(ok_runs, lambda r: data(r).get("image_size"), _size_text, lang),
            ),
            (
                text("data_training_size", lang),
                _same_or_by_model(
                    ok_runs,
                    lambda r: (params(r).get("image_height"), params(r).get("image_width")),
                    _size_text,
                    lang,
                ),
            ),
            (text("data_classes", lang), str(len(CLASS_NAMES))),
        ]
    fractions = next(
        (data(r)["class_pixel_fraction"] for r in ok_runs if data(r).get("class_pixel_fraction")), None
    )
    root = (
        Path(data_root)
        if data_root
        else next(
            (_resolve_root(data(r).get("root"), results_dir) for r in ok_runs if data(r).get("root")),
            None,
        )
    )
    stems, images, gts, note = _load_samples(ok_runs, root, lang) if ok_runs else ([], [], [], None)
    section = {
        "synthetic": synthetic,
        "rows": rows,
        "note": note,
        "frequency": None,
        "samples": None,
        "stems": stems,
        "images": images,
        "gts": gts,
        "legend": [
            {
                "category": category_name(cat, lang),
                "classes": [
                    {"name": class_name(label.name, lang), "color": "#%02x%02x%02x" % label.color}
                    for label in EVAL_LABELS
                    if label.category == cat
                ],
            }
            for cat in CATEGORY_NAMES
        ],
    }
    if fractions:
        section["frequency"] = _embed(plots.class_frequency(fractions, lang=lang, title=""))
    if images:
        shown = [_downsize(i, DATASET_SAMPLE_WIDTH, False) for i in images]
        masks = [_downsize(g, DATASET_SAMPLE_WIDTH, True) for g in gts]
        section["samples"] = _embed(
            plots.dataset_samples(shown, masks, lang=lang, title="", column_titles=stems)
        )
    return section


def _fmt_int(value) -> str:
    return "—" if value is None else f"{int(value)}"


# --------------------------------------------------------------------------- method section


def _parameters_table(ok_runs, lang: str) -> list[dict[str, str]]:
    names = list(dict.fromkeys(name for run in ok_runs for name in (run.get("parameters") or {})))
    rows = []
    for name in names:
        description_key = f"param_{name}"
        try:
            description = text(description_key, lang)
        except KeyError:
            description = ""
        value = _same_or_by_model(
            ok_runs,
            lambda r, name=name: (r.get("parameters") or {}).get(name),
            lambda v: _value_text(v, lang),
            lang,
        )
        rows.append({"name": name, "value": value, "description": description})
    return rows


def _protocol(ok_runs, lang: str) -> list[str]:
    lines = []
    evaluations = {}
    for run in ok_runs:
        evaluation = run.get("evaluation") or {}
        split = evaluation.get("split", "val")
        count = (run.get("metrics") or {}).get("num_images")
        protocol = evaluation.get("protocol", "full")
        size = _size_text(evaluation.get("resolution") or (run.get("data") or {}).get("image_size"))
        evaluations.setdefault((split, count, protocol, size), []).append(run["model"])
    for (split, count, protocol, size), models in evaluations.items():
        prefix = f"{join_names([model_name(m) for m in models], lang)}: " if len(evaluations) > 1 else ""
        split_text = text(f"split_{split}", lang) if split in ("train", "val", "test") else split
        lines.append(
            prefix
            + text("protocol_split", lang, split=split_text, n=_fmt_int(count))
            + " "
            + text("protocol_full" if protocol == "full" else "protocol_train", lang, size=size)
        )
    lines.append(text("protocol_void", lang))
    return lines


def _models_section(runs, lang: str) -> list[dict[str, str]]:
    models = []
    for run in runs:
        name = run["model"]
        arxiv = REFERENCES.get(name, (None, None, None, None))[3]
        models.append(
            {
                "key": name,
                "name": model_name(name),
                "description": run.get("description") or model_description(name, lang),
                "reference": run.get("reference") or reference(name, lang),
                "url": f"https://arxiv.org/abs/{arxiv}" if arxiv else None,
                "failed": run["status"] != "ok",
            }
        )
    return models


# --------------------------------------------------------------------------- results section


def _histories(ok_runs) -> dict[str, pd.DataFrame]:
    return {run["model"]: run["history"] for run in ok_runs if run.get("history") is not None}


def _prediction_figures(ok_runs, data: dict, lang: str) -> dict[str, Any]:
    stems, images, gts = data["stems"], data["images"], data["gts"]
    if not stems:
        return {}
    predictions = {run["model"]: [_read_prediction(run, s) for s in stems] for run in ok_runs}
    predictions = {m: p for m, p in predictions.items() if any(x is not None for x in p)}
    if not predictions:
        return {"missing": text("samples_missing", lang)}
    return {
        "predictions": _embed(
            plots.model_predictions(images, gts, predictions, lang=lang, title="", column_titles=stems)
        ),
        "errors": _embed(
            plots.model_predictions(
                images, gts, predictions, errors=True, lang=lang, title="", column_titles=stems
            )
        ),
    }


# --------------------------------------------------------------------------- discussion


def _class_list(items, lang: str) -> str:
    return join_names(
        [f"{class_name(name, lang)} ({percent(value, 1, lang)} %)" for name, value in items], lang
    )


def _discussion(
    summary: pd.DataFrame, df_iou: pd.DataFrame, synthetic: bool, failed: list, lang: str
) -> list[str]:
    notes = []
    ranked = summary.sort_values("miou", ascending=False)
    ranked = ranked[ranked["miou"].notna()]
    names = {m: model_name(m) for m in summary["model"]}
    if len(ranked) == 1:
        notes.append(
            text(
                "disc_single",
                lang,
                model=names[ranked.iloc[0]["model"]],
                value=percent(ranked.iloc[0]["miou"], 1, lang),
            )
        )
    elif len(ranked) >= 2:
        first, second = ranked.iloc[0], ranked.iloc[1]
        notes.append(
            text(
                "disc_best",
                lang,
                model=names[first["model"]],
                value=percent(first["miou"], 1, lang),
                margin=number(100 * (first["miou"] - second["miou"]), 1, lang),
                second=names[second["model"]],
                second_value=percent(second["miou"], 1, lang),
            )
        )
    if not df_iou.empty:
        means = df_iou.mean(axis=0, skipna=True)
        defined = means.dropna().sort_values()
        if len(defined) >= 6:
            notes.append(
                text("disc_hardest", lang, classes=_class_list(defined.head(3).items(), lang))
                + " "
                + text("disc_easiest", lang, classes=_class_list(defined.tail(3)[::-1].items(), lang))
            )
        undefined = [class_name(c, lang) for c in means.index if is_missing(means[c])]
        if undefined:
            notes.append(text("disc_undefined", lang, classes=join_names(undefined, lang)))
        if len(df_iou) >= 2:
            groups = {}
            for key, classes in (("disc_small", SMALL_CLASSES), ("disc_large", LARGE_CLASSES)):
                group = df_iou[list(classes)].mean(axis=1, skipna=True).dropna()
                if group.empty:
                    continue
                best = group.idxmax()
                if group[best] < 0.0005:  # "best" at 0.0 % says nothing: no model gets them
                    notes.append(text(f"{key}_none", lang, classes=join_names(
                        [class_name(c, lang) for c in classes], lang)))
                    continue
                groups[key] = best
                notes.append(
                    text(
                        key,
                        lang,
                        classes=join_names([class_name(c, lang) for c in classes], lang),
                        model=names[best],
                        value=percent(group[best], 1, lang),
                    )
                )
            if len(groups) == 2 and len(set(groups.values())) == 1:
                notes[-1] += " " + text("disc_same_best", lang)
    fast = summary[summary["inference_images_per_second"].notna() & summary["miou"].notna()]
    if len(fast) >= 2:
        fastest = fast.loc[fast["inference_images_per_second"].astype(float).idxmax()]
        best = fast.loc[fast["miou"].astype(float).idxmax()]
        if fastest["model"] == best["model"]:
            notes.append(text("disc_fastest_is_best", lang, model=names[best["model"]]))
        else:
            notes.append(
                text(
                    "disc_fastest",
                    lang,
                    model=names[fastest["model"]],
                    speed=number(fastest["inference_images_per_second"], 1, lang),
                    value=percent(fastest["miou"], 1, lang),
                    best=names[best["model"]],
                    best_speed=number(best["inference_images_per_second"], 1, lang),
                )
            )
            front = _pareto(fast)
            notes.append(text("disc_pareto", lang, models=join_names([names[m] for m in front], lang)))
    sized = summary[
        summary["params"].notna() & summary["miou"].notna() & (summary["params"].astype(float) > 0)
    ]
    if len(sized) >= 2:
        ratio = 100 * sized["miou"].astype(float) / (sized["params"].astype(float) / 1e6)
        efficient = sized.loc[ratio.idxmax()]
        largest = sized.loc[sized["params"].astype(float).idxmax()]
        notes.append(
            text(
                "disc_efficiency",
                lang,
                model=names[efficient["model"]],
                value=number(ratio.max(), 1, lang),
                largest=names[largest["model"]],
                params=number(largest["params"] / 1e6, 1, lang),
                largest_value=number(ratio[largest.name], 1, lang),
            )
        )
    if not df_iou.empty:
        instance_mean = df_iou[list(INSTANCE_CLASS_NAMES)].mean(axis=1, skipna=True)
        below = [
            names[m]
            for m in df_iou.index
            if not is_missing(summary.set_index("model").loc[m, "iiou"])
            and not is_missing(instance_mean[m])
            and summary.set_index("model").loc[m, "iiou"] < instance_mean[m]
        ]
        if below:
            notes.append(text("disc_iiou", lang, models=join_names(below, lang)))
    if synthetic:
        notes.append(text("disc_synthetic", lang))
    if failed:
        notes.append(
            text(
                "disc_failed_one" if len(failed) == 1 else "disc_failed_many",
                lang,
                models=join_names([model_name(r["model"]) for r in failed], lang),
            )
        )
    return notes


def _baseline_note(ok_runs, summary: pd.DataFrame, lang: str) -> list[str]:
    """The majority-class floor (recorded by each run) and the models that do not clear it."""
    baselines = [run["baseline"] for run in ok_runs if run.get("baseline")]
    if not baselines or is_missing(baselines[0].get("miou")):
        return []
    floor = baselines[0]
    below = [model_name(m) for m, v in zip(summary["model"], summary["miou"])
             if not is_missing(v) and v <= floor["miou"]]
    note = text("disc_baseline", lang, cls=class_name(floor["class"], lang),
                miou=percent(floor["miou"], 1, lang), accuracy=percent(floor["pixel_accuracy"], 1, lang))
    if below:
        return [note + " " + text("disc_baseline_below", lang, models=join_names(below, lang))]
    return [note + " " + text("disc_baseline_above", lang)]


def _pareto(frame: pd.DataFrame) -> list[str]:
    """Models that no other model beats on both speed and mIoU, fastest first."""
    front = []
    for _, row in frame.iterrows():
        dominated = any(
            other["inference_images_per_second"] >= row["inference_images_per_second"]
            and other["miou"] >= row["miou"]
            and (
                other["inference_images_per_second"] > row["inference_images_per_second"]
                or other["miou"] > row["miou"]
            )
            for _, other in frame.iterrows()
        )
        if not dominated:
            front.append((row["inference_images_per_second"], row["model"]))
    return [model for _, model in sorted(front, reverse=True)]


# --------------------------------------------------------------------------- reproducibility


def _commands(ok_runs, results_dir: Path, lang: str) -> dict[str, Any]:
    defaults = RunConfig().to_dict()
    groups: dict[tuple, list[str]] = {}
    for run in ok_runs:
        parameters = run.get("parameters") or {}
        changed = tuple(
            (k, v)
            for k, v in parameters.items()
            if k not in ("data_root", "results_dir") and (k not in defaults or defaults[k] != v)
        )
        groups.setdefault((parameters.get("data_root"), changed), []).append(run["model"])
    run_lines = []
    for (root, changed), models in groups.items():
        words = ["urbanseg", "run", *models]
        if root:
            words += ["--root", str(root)]
        words += ["--results", str(results_dir)] if str(results_dir) != "results" else []
        for name, value in changed:
            words += ["-p", name, _value_text(value, lang)]
        run_lines.append(" ".join(words))
    seeds = list(dict.fromkeys(str((run.get("parameters") or {}).get("seed", "—")) for run in ok_runs))
    return {
        "make": "make report",
        "run": run_lines,
        "report": f"urbanseg report --results {results_dir} --lang {lang}",
        "seed": ", ".join(seeds),
    }


def _environment(ok_runs, lang: str) -> list[dict[str, str]]:
    def value(run, key):
        if key == "digest":
            return run.get("digest")
        return (run.get("environment") or {}).get(key)

    def fmt(v):
        if v is None or v == "" or v == []:
            return text("env_none", lang) if v == [] else "—"
        return _value_text(v, lang)

    keys = list(_ENVIRONMENT_KEYS) + ["digest"]
    extra = [k for run in ok_runs for k in (run.get("environment") or {}) if k not in keys]
    rows = []
    for key in keys + list(dict.fromkeys(extra)):
        values = [(run["model"], value(run, key)) for run in ok_runs]
        if all(v is None for _, v in values):
            continue
        try:
            label = text(f"env_{key}", lang)
        except KeyError:
            label = key
        distinct = list(dict.fromkeys(fmt(v) for _, v in values))
        rows.append(
            {
                "label": label,
                "shared": distinct[0] if len(distinct) == 1 else None,
                "per_model": [(model_name(m), fmt(v)) for m, v in values],
            }
        )
    return rows


# --------------------------------------------------------------------------- notebooks


def export_notebook(notebook: Path, out_path: Path, lang: str = "pt") -> Path:
    """Export an executed notebook to HTML with the code hidden behind a show/hide button."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        node = nbformat.read(str(notebook), as_version=4)
    except Exception as error:  # nbformat raises several unrelated types for a bad file
        raise InputError(
            f"{notebook}: not a readable notebook ({str(error).splitlines()[0][:200]})"
        ) from None
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    # The lab template drops the images' alt text (kept in the notebook) and nbconvert then
    # warns once per notebook; the warning says nothing the reader of `make report` can act on.
    exporter.log.setLevel(logging.ERROR)
    body, _ = exporter.from_notebook_node(node)
    environment = _jinja()
    toggle = environment.get_template("notebook_toggle.html.j2").render(
        show=text("notebook_toggle_show", lang),
        hide=text("notebook_toggle_hide", lang),
        back=text("notebook_back", lang),
        report=f"../{OUTPUT_NAMES[lang]}.html",
    )
    style, button = toggle.split("<!-- body -->", 1)
    body = body.replace("</head>", style + "</head>", 1)
    body = re.sub(
        r"(<body[^>]*>)",
        lambda m: m.group(1).replace("<body", '<body data-urbanseg-code="hidden"', 1) + button,
        body,
        count=1,
    )
    return write_atomically(out_path, body)


def _notebook_path(run: dict) -> Path | None:
    folder = run["folder"]
    candidates = [folder / f"{run['model']}.ipynb", folder / f"{folder.name}.ipynb"]
    if run["status"] != "ok" and run.get("notebook"):
        candidates.insert(0, Path(run["notebook"]))
        candidates.insert(1, folder / Path(run["notebook"]).name)
    candidates += sorted(folder.glob("*.ipynb"))
    return next((path for path in candidates if path.is_file()), None)


def _export_notebooks(runs, out_dir: Path, lang: str) -> tuple[list[dict[str, str]], dict[str, Path]]:
    entries, written = [], {}
    for run in runs:
        name = model_name(run["model"])
        entry = {
            "model": name,
            "key": run["model"],
            "href": None,
            "label": None,
            "missing": None,
            "failed": run["status"] != "ok",
        }
        entries.append(entry)
        notebook = _notebook_path(run)
        if notebook is None:
            entry["missing"] = text("appendix_missing", lang, model=name)
            continue
        target = out_dir / "notebooks" / f"{run['model']}.html"
        try:
            export_notebook(notebook, target, lang)
        except Exception as error:  # a broken notebook must not take the report down
            log.warning("%s: export failed: %s", notebook, error)
            entry["missing"] = text(
                "appendix_failed_export",
                lang,
                model=name,
                error=(str(error).splitlines() or [type(error).__name__])[0][:200],
            )
            continue
        written[f"notebook:{run['model']}"] = target
        entry.update(href=f"notebooks/{target.name}", label=text("appendix_link", lang, model=name))
    return entries, written


# --------------------------------------------------------------------------- rendering


def _jinja() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _toc(body: str) -> list[dict[str, str]]:
    """Table-of-contents entries from the rendered body's numbered h2/h3 headings."""
    entries = []
    pattern = re.compile(
        r'<h([23]) id="([^"]+)"[^>]*>\s*<span class="number">([^<]*)</span>(.*?)</h\1>', re.S
    )
    for level, anchor, numbering, title in pattern.findall(body):
        entries.append(
            {
                "level": int(level),
                "id": anchor,
                "number": numbering.strip(),
                "title": html.unescape(re.sub(r"<[^>]+>", "", title)).strip(),
            }
        )
    return entries


def render_report(
    results_dir: str | Path = "results",
    out_dir: str | Path = "report",
    *,
    lang: str = "pt",
    pdf: bool = True,
    data_root: str | Path | None = None,
) -> dict[str, Path]:
    """Render the comparative report of every model in ``results_dir``.

    Writes ``out_dir/relatorio.html`` (``report.html`` for lang="en"), self-contained, and the PDF
    of the same page (``relatorio.pdf``/``report.pdf``) unless ``pdf=False``; the executed
    notebooks go to ``out_dir/notebooks/<model>.html`` and the summary table to
    ``results_dir/summary.csv``. ``data_root`` overrides the data root recorded in metrics.json
    (for the sample images). Returns {"html", "pdf", "summary", "notebook:<model>"...} -> Path.
    """
    if lang not in LANGUAGES:
        raise InputError(f"lang={lang!r}: must be one of {', '.join(LANGUAGES)}")
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    runs = load_runs(results_dir) if results_dir.is_dir() else []
    if not runs:
        raise InputError(f"{results_dir}/: no model results; run `make report` or `urbanseg run` first")
    ok_runs = [run for run in runs if run["status"] == "ok"]
    failed = [run for run in runs if run["status"] != "ok"]

    summary_all = pd.DataFrame([summary_row(run) for run in runs], columns=list(SUMMARY_COLUMNS))
    written: dict[str, Path] = {"summary": write_summary(summary_all, results_dir)}
    summary = summary_all[summary_all["status"] == "ok"].reset_index(drop=True)
    df_iou = iou_table(ok_runs)

    data = _data_section(ok_runs, results_dir, data_root, lang)
    figures: dict[str, Any] = dict.fromkeys(
        ("headline", "heatmap", "bars", "speed", "curves", "predictions", "errors", "missing")
    )
    figures["confusion"] = []
    if ok_runs:
        figures["headline"] = _embed(plots.metric_bars(summary, lang=lang, title=""))
        figures["heatmap"] = _embed(plots.iou_heatmap(df_iou, lang=lang, title=""))
        figures["bars"] = _embed(plots.iou_bars(df_iou, lang=lang, title=""))
        if summary["inference_images_per_second"].notna().any():
            figures["speed"] = _embed(plots.speed_vs_accuracy(summary, lang=lang, title=""))
        histories = _histories(ok_runs)
        if histories:
            figures["curves"] = _embed(plots.all_training_curves(histories, lang=lang, title=""))
        figures["confusion"] = [
            {
                "model": model_name(run["model"]),
                "key": run["model"],
                **_embed(plots.confusion_matrix(run["metrics"], lang=lang, title="")),
            }
            for run in ok_runs
            if run["metrics"].get("confusion_matrix")
        ]
        figures.update(_prediction_figures(ok_runs, data, lang))
    missing_history = [model_name(r["model"]) for r in ok_runs if r.get("history") is None]

    notebooks, notebook_files = _export_notebooks(runs, out_dir, lang)
    written.update(notebook_files)

    now = _dt.datetime.now()
    context = {
        "lang": lang,
        "t": lambda key, **fields: text(key, lang, **fields),
        "num": _Numbering(),
        "version": __version__,
        "date": now.strftime("%d/%m/%Y" if lang == "pt" else "%Y-%m-%d"),
        "runs": runs,
        "ok_runs": ok_runs,
        "failed": failed,
        "model_list": join_names([model_name(r["model"]) for r in runs], lang),
        "n_models": (
            text("summary_n_models_one", lang)
            if len(ok_runs) == 1
            else text("summary_n_models_many", lang, n=len(ok_runs))
        ),
        "best": _best_per_metric(summary, lang) if ok_runs else [],
        "data": data,
        "figures": figures,
        "table": _results_table(summary, lang) if ok_runs else None,
        "models": _models_section(runs, lang),
        "parameters": _parameters_table(ok_runs, lang),
        "protocol": _protocol(ok_runs, lang),
        "corrections": [
            (text(f"correction_{i}_problem", lang), text(f"correction_{i}_fix", lang))
            for i in range(1, _CORRECTIONS + 1)
        ],
        "discussion": _discussion(summary, df_iou, data["synthetic"], failed, lang)
        + _baseline_note(ok_runs, summary, lang),
        "commands": _commands(ok_runs, results_dir, lang),
        "environment": _environment(ok_runs, lang),
        "notebooks": notebooks,
        "missing_history": missing_history,
        "failed_boxes": [
            {
                "model": model_name(r["model"]),
                "error": r.get("error", ""),
                "date": r.get("date"),
                "notebook": next(
                    (n.get("href") for n in notebooks if n["key"] == r["model"] and n.get("href")), None
                ),
            }
            for r in failed
        ],
        "references": [
            {
                "key": key,
                "text": f"{a}. {title}. {venue}. arXiv:{arxiv}.",
                "url": f"https://arxiv.org/abs/{arxiv}",
            }
            for key, (a, title, venue, arxiv) in REFERENCES.items()
        ],
    }
    environment = _jinja()
    body = environment.get_template("body.html.j2").render(**context)
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    page = environment.get_template("report.html.j2")
    name = OUTPUT_NAMES[lang]
    html_text = page.render(**context, body=body, toc=_toc(body), css=css, pdf=False)
    written["html"] = write_atomically(out_dir / f"{name}.html", html_text)
    if pdf:
        from weasyprint import HTML

        # WeasyPrint cannot parse the small-screen @media rule and warns about it: not for print.
        print_css = re.sub(r"@media screen and \(max-width[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", css)
        pdf_html = page.render(**context, body=body, toc=_toc(body), css=print_css, pdf=True)
        document = HTML(string=pdf_html, base_url=str(out_dir.resolve()) + "/")
        written["pdf"] = write_atomically(out_dir / f"{name}.pdf", document.write_pdf())
    log.info("report written to %s", ", ".join(str(p) for p in written.values()))
    return written
