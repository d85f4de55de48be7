"""Section 5 of the report: observations derived from the numbers, one sentence each.

Every sentence is a template of the locale files filled with values of the summary table, the
per-class IoU and the study's statistics. A sentence is left out when the evidence cannot carry
it: "A supera B" only when the paired interval of their difference excludes 0; no ordering of
architectures at all on a synthetic or smoke-size study (``Study.pipeline_check``); no speed
comparison between runs timed concurrently or in different environments.
"""

from __future__ import annotations

import pandas as pd

from ..i18n import class_name, number, percent
from ..metrics import INSTANCE_CLASS_NAMES
from ..records import is_missing
from .study import MIN_TRAIN_IMAGES, MIN_VAL_IMAGES, Study, size_text

SMALL_CLASSES = ("pole", "traffic light", "traffic sign", "person", "rider", "bicycle")
FULL_RESOLUTION = (1024, 2048)  # where the official iIoU instance sizes hold
IIOU_GAP = 0.03  # a smaller gap between iIoU and the instance classes' IoU says nothing


def discussion(study: Study, summary: pd.DataFrame, df_iou: pd.DataFrame) -> list[str]:
    """The discussion's paragraphs, for the successful models' ``summary`` rows and ``df_iou``."""
    notes = [_scope(study)] if study.pipeline_check else _differences(study)
    if not df_iou.empty:
        notes += _classes(study, df_iou)
    notes += _speed(study, summary)
    if not study.pipeline_check:
        notes += _efficiency(study, summary)
        if not df_iou.empty:
            notes += _instances(study, summary, df_iou)
    if study.failed:
        key = "disc_failed_one" if len(study.failed) == 1 else "disc_failed_many"
        notes.append(
            study.t(key, models=study.join_models(dict.fromkeys(r.model for r in study.failed)))
        )
    return notes + _baseline(study, summary)


def _scope(study: Study) -> str:
    """Why this study checks the pipeline and ranks nothing."""
    if study.synthetic:
        reason = study.t("disc_scope_synthetic")
    else:
        reason = study.t("disc_scope_small", train=MIN_TRAIN_IMAGES, val=MIN_VAL_IMAGES)
    return study.t("disc_scope", reason=reason)


def _differences(study: Study) -> list[str]:
    """Which models differ in mIoU by the paired intervals, and which cannot be told apart."""
    stats = study.stats
    if not stats.pairs:
        return [study.t("disc_no_intervals")] if len(stats.models) > 1 else []
    notes, ties = [], []
    for pair in stats.pairs:
        if pair.differs:
            better, worse = (
                (pair.first, pair.second) if pair.difference > 0 else (pair.second, pair.first)
            )
            oriented = stats.pair(better, worse)
            notes.append(
                study.t(
                    "disc_differs",
                    better=study.name(better),
                    worse=study.name(worse),
                    points=number(100 * oriented.difference, 1, study.lang),
                    low=number(100 * oriented.ci_low, 1, study.lang),
                    high=number(100 * oriented.ci_high, 1, study.lang),
                )
            )
        else:
            ties.append(
                study.t("disc_pair", first=study.name(pair.first), second=study.name(pair.second))
            )
    if ties:
        notes.append(study.t("disc_ties", pairs="; ".join(ties)))
    notes.append(
        study.t(
            "disc_intervals",
            images=stats.images,
            seeds=", ".join(str(len(m.seeds)) for m in stats.models.values())
            if len({len(m.seeds) for m in stats.models.values()}) > 1
            else str(len(next(iter(stats.models.values())).seeds)),
            pairs=len(stats.pairs),
        )
    )
    return notes


def _class_list(study: Study, items) -> str:
    return study.join(
        f"{class_name(name, study.lang)} ({percent(value, 1, study.lang)} %)"
        for name, value in items
    )


def _classes(study: Study, df_iou: pd.DataFrame) -> list[str]:
    """The hardest and easiest classes over every model, the undefined ones, and small objects
    that no model segments."""
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
    small = df_iou[list(SMALL_CLASSES)].mean(axis=1, skipna=True).dropna()
    if not small.empty and small.max() < 0.0005:  # every model rounds to 0.0 %
        names = study.join(class_name(c, study.lang) for c in SMALL_CLASSES)
        notes.append(study.t("disc_small_none", classes=names))
    return notes


def _speed(study: Study, summary: pd.DataFrame) -> list[str]:
    """The forward pass's speed, compared only when every run was timed alone on one setup."""
    timed = summary[summary["inference_images_per_second"].notna()]
    if len(timed) < 2:
        return []
    if not study.speeds_comparable:
        return [study.t("disc_speed_not_comparable")]
    speeds = timed["inference_images_per_second"].astype(float)
    fastest, slowest = timed.loc[speeds.idxmax()], timed.loc[speeds.idxmin()]
    record = study.ok[0]
    setup = study.t(
        "disc_speed_setup",
        batch=record.timing.forward_batch or "—",
        size=size_text(
            (record.parameters.get("image_height"), record.parameters.get("image_width"))
        ),
        precision=record.precision or "—",
    )
    counts = sorted({r.timing.forward_repeats for r in study.ok_runs if r.timing.forward_repeats})
    if len(counts) > 1:
        repeats = study.t("disc_speed_repeats", low=counts[0], high=counts[-1])
    else:
        repeats = str(counts[0]) if counts else "—"
    notes = [
        study.t(
            "disc_speed",
            setup=setup,
            repeats=repeats,
            fastest=study.name(fastest["model"]),
            fast=number(fastest["inference_images_per_second"], 1, study.lang),
            slowest=study.name(slowest["model"]),
            slow=number(slowest["inference_images_per_second"], 1, study.lang),
        )
    ]
    if not study.pipeline_check and summary["miou"].notna().sum() >= 2:
        front = pareto(timed[timed["miou"].notna()])
        notes.append(study.t("disc_pareto", models=study.join_models(front)))
    return notes


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
    """Models whose iIoU is well below the mean IoU of the classes with instances; only at the
    resolution the official instance sizes are for (2048 x 1024)."""
    if any(tuple(r.data.image_size or ()) != FULL_RESOLUTION for r in study.ok):
        return []
    instance_mean = df_iou[list(INSTANCE_CLASS_NAMES)].mean(axis=1, skipna=True)
    iiou = summary.set_index("model")["iiou"]
    below = [
        model
        for model in df_iou.index
        if not is_missing(iiou.get(model))
        and not is_missing(instance_mean[model])
        and iiou[model] < instance_mean[model] - IIOU_GAP
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
