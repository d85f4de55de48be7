"""Section 5 of the report: observations derived from the numbers, one sentence each.

Every sentence is a template of the locale files filled with values of the summary table and
the per-class IoU; a sentence is left out when the numbers cannot support it (fewer than two
models, undefined scores, a "best" at 0.0 %).
"""

from __future__ import annotations

import pandas as pd

from ..i18n import class_name, number, percent
from ..metrics import INSTANCE_CLASS_NAMES
from ..records import is_missing
from .study import Study

SMALL_CLASSES = ("pole", "traffic light", "traffic sign", "person", "rider", "bicycle")
LARGE_CLASSES = ("road", "building", "vegetation", "sky")


def discussion(study: Study, summary: pd.DataFrame, df_iou: pd.DataFrame) -> list[str]:
    """The discussion's paragraphs, for the successful runs' ``summary`` rows and ``df_iou``."""
    notes = _ranking(study, summary)
    if not df_iou.empty:
        notes += _classes(study, df_iou)
    notes += _speed(study, summary) + _efficiency(study, summary)
    if not df_iou.empty:
        notes += _instances(study, summary, df_iou)
    if study.synthetic:
        notes.append(study.t("disc_synthetic"))
    if study.failed:
        key = "disc_failed_one" if len(study.failed) == 1 else "disc_failed_many"
        notes.append(study.t(key, models=study.join_models(r.model for r in study.failed)))
    return notes + _baseline(study, summary)


def _ranking(study: Study, summary: pd.DataFrame) -> list[str]:
    ranked = summary[summary["miou"].notna()].sort_values("miou", ascending=False)
    lang = study.lang
    if len(ranked) == 1:
        only = ranked.iloc[0]
        return [
            study.t(
                "disc_single", model=study.name(only["model"]), value=percent(only["miou"], 1, lang)
            )
        ]
    if len(ranked) >= 2:
        first, second = ranked.iloc[0], ranked.iloc[1]
        return [
            study.t(
                "disc_best",
                model=study.name(first["model"]),
                value=percent(first["miou"], 1, lang),
                margin=number(100 * (first["miou"] - second["miou"]), 1, lang),
                second=study.name(second["model"]),
                second_value=percent(second["miou"], 1, lang),
            )
        ]
    return []


def _class_list(study: Study, items) -> str:
    return study.join(
        f"{class_name(name, study.lang)} ({percent(value, 1, study.lang)} %)"
        for name, value in items
    )


def _classes(study: Study, df_iou: pd.DataFrame) -> list[str]:
    """The hardest and easiest classes, the undefined ones, and small vs large objects."""
    notes = []
    means = df_iou.mean(axis=0, skipna=True)
    defined = means.dropna().sort_values()
    if len(defined) >= 6:
        notes.append(
            study.t("disc_hardest", classes=_class_list(study, defined.head(3).items()))
            + " "
            + study.t("disc_easiest", classes=_class_list(study, defined.tail(3)[::-1].items()))
        )
    undefined = [class_name(c, study.lang) for c in means.index if is_missing(means[c])]
    if undefined:
        notes.append(study.t("disc_undefined", classes=study.join(undefined)))
    if len(df_iou) < 2:
        return notes
    best_of = {}
    for key, classes in (("disc_small", SMALL_CLASSES), ("disc_large", LARGE_CLASSES)):
        group = df_iou[list(classes)].mean(axis=1, skipna=True).dropna()
        if group.empty:
            continue
        names = study.join(class_name(c, study.lang) for c in classes)
        best = group.idxmax()
        if group[best] < 0.0005:  # "best" at 0.0 % says nothing: no model gets them
            notes.append(study.t(f"{key}_none", classes=names))
            continue
        best_of[key] = best
        notes.append(
            study.t(
                key,
                classes=names,
                model=study.name(best),
                value=percent(group[best], 1, study.lang),
            )
        )
    if len(best_of) == 2 and len(set(best_of.values())) == 1:
        notes[-1] += " " + study.t("disc_same_best")
    return notes


def _speed(study: Study, summary: pd.DataFrame) -> list[str]:
    timed = summary[summary["inference_images_per_second"].notna() & summary["miou"].notna()]
    if len(timed) < 2:
        return []
    fastest = timed.loc[timed["inference_images_per_second"].astype(float).idxmax()]
    best = timed.loc[timed["miou"].astype(float).idxmax()]
    if fastest["model"] == best["model"]:
        return [study.t("disc_fastest_is_best", model=study.name(best["model"]))]
    return [
        study.t(
            "disc_fastest",
            model=study.name(fastest["model"]),
            speed=number(fastest["inference_images_per_second"], 1, study.lang),
            value=percent(fastest["miou"], 1, study.lang),
            best=study.name(best["model"]),
            best_speed=number(best["inference_images_per_second"], 1, study.lang),
        ),
        study.t("disc_pareto", models=study.join_models(pareto(timed))),
    ]


def pareto(frame: pd.DataFrame) -> list[str]:
    """Models that no other model beats on both speed and mIoU, fastest first."""
    speed, miou = "inference_images_per_second", "miou"
    front = []
    for _, row in frame.iterrows():
        dominated = any(
            other[speed] >= row[speed]
            and other[miou] >= row[miou]
            and (other[speed] > row[speed] or other[miou] > row[miou])
            for _, other in frame.iterrows()
        )
        if not dominated:
            front.append((row[speed], row["model"]))
    return [model for _, model in sorted(front, reverse=True)]


def _efficiency(study: Study, summary: pd.DataFrame) -> list[str]:
    sized = summary[
        summary["params"].notna() & summary["miou"].notna() & (summary["params"].astype(float) > 0)
    ]
    if len(sized) < 2:
        return []
    params = sized["params"].astype(float)
    ratio = 100 * sized["miou"].astype(float) / (params / 1e6)
    efficient = sized.loc[ratio.idxmax()]
    largest = sized.loc[params.idxmax()]
    return [
        study.t(
            "disc_efficiency",
            model=study.name(efficient["model"]),
            value=number(ratio.max(), 1, study.lang),
            largest=study.name(largest["model"]),
            params=number(float(largest["params"]) / 1e6, 1, study.lang),
            largest_value=number(ratio[largest.name], 1, study.lang),
        )
    ]


def _instances(study: Study, summary: pd.DataFrame, df_iou: pd.DataFrame) -> list[str]:
    """Models whose iIoU is below the mean IoU of the classes with instances."""
    instance_mean = df_iou[list(INSTANCE_CLASS_NAMES)].mean(axis=1, skipna=True)
    iiou = summary.set_index("model")["iiou"]
    below = [
        model
        for model in df_iou.index
        if not is_missing(iiou.get(model))
        and not is_missing(instance_mean[model])
        and iiou[model] < instance_mean[model]
    ]
    return [study.t("disc_iiou", models=study.join_models(below))] if below else []


def _baseline(study: Study, summary: pd.DataFrame) -> list[str]:
    """The majority-class floor (recorded by each run) and the models that do not clear it."""
    floor = next((r.baseline for r in study.ok if r.baseline is not None), None)
    if floor is None or is_missing(floor.miou):
        return []
    below = [
        model
        for model, value in zip(summary["model"], summary["miou"], strict=True)
        if not is_missing(value) and value <= floor.miou
    ]
    note = study.t(
        "disc_baseline",
        cls=class_name(floor.class_name, study.lang),
        miou=percent(floor.miou, 1, study.lang),
        accuracy=percent(floor.pixel_accuracy, 1, study.lang),
    )
    if below:
        return [note + " " + study.t("disc_baseline_below", models=study.join_models(below))]
    return [note + " " + study.t("disc_baseline_above")]
