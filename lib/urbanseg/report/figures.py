"""The report's figures: drawn by ``urbanseg.plots`` and embedded as data URIs, so the HTML is
one self-contained file and every figure prints at the same scale."""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from .. import plots
from ..data import read_png
from ..errors import InputError
from ..records import RunRecord
from .study import Study

log = logging.getLogger(__name__)

MAX_FIGURE_HEIGHT = 1.3  # tallest figure, in text widths (A4: 170 mm wide, ~220 mm tall)


def embed(figure) -> dict[str, Any]:
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


def results_figures(
    study: Study, summary: pd.DataFrame, df_iou: pd.DataFrame, samples: dict[str, Any]
) -> dict[str, Any]:
    """Every figure of the summary and results sections (None where there is nothing to draw).

    ``summary`` holds the successful runs' rows of the summary table, ``df_iou`` their per-class
    IoU, ``samples`` the sample images of the data section (stems, images, gts).
    """
    lang, names = study.lang, study.names
    figures: dict[str, Any] = dict.fromkeys(
        (
            "headline",
            "heatmap",
            "bars",
            "differences",
            "speed",
            "curves",
            "predictions",
            "errors",
            "missing",
        )
    )
    figures["confusion"] = []
    if not study.ok:
        return figures
    figures["headline"] = embed(plots.metric_bars(summary, lang=lang, title="", names=names))
    figures["heatmap"] = embed(plots.iou_heatmap(df_iou, lang=lang, title="", names=names))
    figures["bars"] = embed(plots.iou_bars(df_iou, lang=lang, title="", names=names))
    pairs = [(p.first, p.second, p.difference, p.ci_low, p.ci_high) for p in study.stats.pairs]
    if pairs:
        figures["differences"] = embed(
            plots.pairwise_differences(pairs, lang=lang, title="", names=names)
        )
    if study.speeds_comparable and summary["inference_images_per_second"].notna().any():
        figures["speed"] = embed(plots.speed_vs_accuracy(summary, lang=lang, title="", names=names))
    histories = {r.model: r.history for r in study.ok if r.history is not None}
    if histories:
        figures["curves"] = embed(
            plots.all_training_curves(histories, lang=lang, title="", names=names)
        )
    figures["confusion"] = []
    for model in dict.fromkeys(r.model for r in study.ok):
        matrices = [
            r.metrics["confusion_matrix"]
            for r in study.runs_of(model)
            if r.metrics.get("confusion_matrix")
        ]
        if matrices:  # every seed's pixels together
            summed = {"confusion_matrix": np.sum(np.asarray(matrices, dtype=np.int64), axis=0)}
            figures["confusion"].append(
                {
                    "model": study.name(model),
                    "key": model,
                    **embed(plots.confusion_matrix(summed, lang=lang, title="")),
                }
            )
    figures.update(_prediction_figures(study, samples))
    return figures


def _prediction_figures(study: Study, samples: dict[str, Any]) -> dict[str, Any]:
    stems, images, gts = samples["stems"], samples["images"], samples["gts"]
    if not stems:
        return {}
    predictions = {r.model: [read_prediction(r, stem) for stem in stems] for r in study.ok}
    predictions = {m: p for m, p in predictions.items() if any(x is not None for x in p)}
    if not predictions:
        return {"missing": study.t("samples_missing")}
    options = dict(lang=study.lang, title="", column_titles=stems, names=study.names)
    return {
        "predictions": embed(plots.model_predictions(images, gts, predictions, **options)),
        "errors": embed(plots.model_predictions(images, gts, predictions, errors=True, **options)),
    }


def read_prediction(record: RunRecord, stem: str) -> np.ndarray | None:
    """A run's predicted train ids for the sample image ``stem``, None when it has none."""
    path = record.folder / "samples" / f"{stem}.png"
    if not path.is_file():
        return None
    try:
        prediction = read_png(path, mode="L")
    except InputError as error:
        log.warning("%s", error)
        return None
    return prediction if prediction.ndim == 2 else None
