"""Images and masks side by side: dataset samples, one model's predictions with error maps,
and several models' predictions on the same images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..data import resize
from ..i18n import text
from ..labels import IGNORE_ID, colorize
from ._style import WIDTH, model_label, new_figure, plain_text, set_title, styled

ERROR_COLOR = (220, 30, 30)


def error_map(image: np.ndarray | None, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RGB uint8: red where the prediction is wrong, black where the ground truth is ignored,
    and a faded grey copy of the image (white without one) where it is right."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if image is None:
        faded = np.full((*gt.shape, 3), 235, np.uint8)
    else:
        gray = np.asarray(image, np.float32).mean(axis=-1, keepdims=True)
        faded = np.repeat((150 + 0.4 * gray).clip(0, 255).astype(np.uint8), 3, axis=-1)
    out = faded.copy()
    valid = gt != IGNORE_ID
    out[valid & (pred != gt)] = ERROR_COLOR
    out[~valid] = 0
    return out


def _panel_grid(
    rows: Sequence[tuple[str, Sequence[np.ndarray | None]]],
    *,
    lang: str,
    column_titles: Sequence[str] | None = None,
    width: float = WIDTH,
) -> Figure:
    """A grid of RGB panels: one row per (label, images), the label written on the left."""
    n_rows, n_cols = len(rows), max(len(images) for _, images in rows)
    shapes = [image.shape for _, images in rows for image in images if image is not None]
    aspect = (shapes[0][0] / shapes[0][1]) if shapes else 0.5
    panel_width = (width - 0.4) / n_cols
    height = n_rows * (panel_width * aspect + 0.08) + (0.25 if column_titles else 0.1)
    figure = new_figure(width, height)
    figure.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.01, hspace=0.01)
    axes = np.atleast_2d(figure.subplots(n_rows, n_cols, squeeze=False))
    for r, (label, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            image = images[c] if c < len(images) else None
            if image is not None:
                ax.imshow(image, interpolation="nearest")
            else:
                shape = shapes[0][:2] if shapes else (1, 2)
                ax.imshow(np.full((*shape, 3), 245, np.uint8))
                ax.text(
                    0.5,
                    0.5,
                    text("plot_no_prediction", lang),
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=7,
                    color="#777777",
                )
            if c == 0:
                ax.set_ylabel(label, fontsize=8, fontweight="bold")
            if r == 0 and column_titles:
                ax.set_title(plain_text(column_titles[c]), fontsize=7, fontweight="normal")
    return figure


@styled
def sample_predictions(
    images: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    preds: Sequence[np.ndarray],
    *,
    lang: str = "pt",
    title: str | None = None,
    column_titles: Sequence[str] | None = None,
) -> Figure:
    """One column per sample; rows: image, ground truth, prediction, error map.

    Ground truths and images are resized to each prediction's size (nearest for labels)."""
    rows = {key: [] for key in ("image", "gt", "pred", "error")}
    for image, gt, pred in zip(images, gts, preds):
        size = np.asarray(pred).shape[:2]
        image, gt = resize(image, size, nearest=False), resize(gt, size, nearest=True)
        rows["image"].append(image)
        rows["gt"].append(colorize(gt))
        rows["pred"].append(colorize(pred))
        rows["error"].append(error_map(image, gt, pred))
    figure = _panel_grid(
        [
            (text("plot_image", lang), rows["image"]),
            (text("plot_ground_truth", lang), rows["gt"]),
            (text("plot_prediction", lang), rows["pred"]),
            (text("plot_error_map", lang), rows["error"]),
        ],
        lang=lang,
        column_titles=column_titles,
    )
    set_title(figure, title, "")
    return figure


@styled
def model_predictions(
    images: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    predictions: Mapping[str, Sequence[np.ndarray | None]],
    *,
    errors: bool = False,
    lang: str = "pt",
    title: str | None = None,
    column_titles: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
    """Several models on the same samples: one column per sample; rows: image and ground truth,
    then one row per model with its prediction (or, ``errors=True``, its error map).

    ``predictions`` maps model name -> one train-id mask per sample (None where missing); every
    panel is resized to the largest prediction size (nearest neighbour for labels)."""
    shapes = [
        np.asarray(p).shape[:2] for masks in predictions.values() for p in masks if p is not None
    ]
    size = max(shapes, key=lambda s: s[0] * s[1]) if shapes else np.asarray(gts[0]).shape[:2]
    images = [resize(image, size, nearest=False) for image in images]
    gts = [resize(gt, size, nearest=True) for gt in gts]
    rows = (
        []
        if errors
        else [
            (text("plot_image", lang), images),
            (text("plot_ground_truth", lang), [colorize(gt) for gt in gts]),
        ]
    )
    for model, masks in predictions.items():
        panels = []
        for image, gt, pred in zip(images, gts, masks):
            if pred is None:
                panels.append(None)
                continue
            pred = resize(pred, size, nearest=True)
            panels.append(error_map(image, gt, pred) if errors else colorize(pred))
        rows.append((model_label(model, names), panels))
    figure = _panel_grid(rows, lang=lang, column_titles=column_titles)
    set_title(figure, title, "")
    return figure


@styled
def dataset_samples(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    *,
    lang: str = "pt",
    title: str | None = None,
    column_titles: Sequence[str] | None = None,
) -> Figure:
    """One column per sample; rows: the image and its colour-coded train-id mask."""
    figure = _panel_grid(
        [
            (text("plot_image", lang), list(images)),
            (text("plot_ground_truth", lang), [colorize(mask) for mask in masks]),
        ],
        lang=lang,
        column_titles=column_titles,
    )
    set_title(figure, title, text("plot_samples_title", lang))
    return figure
