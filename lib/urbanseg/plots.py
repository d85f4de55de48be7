"""Figures of one model (for the notebooks) and of several (for the report).

Every function returns a ``matplotlib.figure.Figure`` drawn on an Agg canvas, without pyplot
(so nothing global changes and a notebook shows each figure once), and takes ``lang`` ("pt" or
"en") for its titles and axes. ``title=""`` leaves a figure untitled (the report's captions
say what it shows). Images are RGB uint8; masks are train ids (0..18, 255 ignored), coloured
by ``labels.colorize``. Scores, fractions in [0, 1] in the results, are plotted in percent.
"""

from __future__ import annotations

import base64
import functools
import io
import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, ScalarFormatter
from PIL import Image

from .atomic import atomic_path
from .labels import CLASS_NAMES, EVAL_LABELS, IGNORE_ID, PALETTE, colorize
from .strings import class_name, model_name, number, text

DPI = 150
WIDTH = 7.5  # inches; the report shows a figure this wide at the full text width

STYLE = {
    "font.family": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#d0d0d0",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.edgecolor": "#555555",
    "image.interpolation": "nearest",
}

ERROR_COLOR = (220, 30, 30)
_MODEL_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")  # unet .. pspnet
_EXTRA_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def _styled(function):
    """Build the figure under STYLE, without touching the global rcParams."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def new_figure(width: float = WIDTH, height: float = 4.0) -> Figure:
    """A Figure on its own Agg canvas, with constrained layout."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _title(figure: Figure, title: str | None, default: str) -> None:
    title = default if title is None else title
    if title:
        figure.suptitle(title, fontweight="bold", fontsize=11)


class _DecimalCommaFormatter(ScalarFormatter):
    """Matplotlib's default tick labels with the decimal comma of Portuguese."""

    def __call__(self, x, pos=None):
        return super().__call__(x, pos).replace(".", ",")


def _localize(ax, lang: str) -> None:
    """Decimal commas on both linear axes of ``ax`` for lang="pt"."""
    if lang == "pt":
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "linear":
                axis.set_major_formatter(_DecimalCommaFormatter())


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """A stable colour per model: the five canonical ones always get the same colour."""
    from .results import CANONICAL_ORDER

    colors, extra = {}, 0
    for name in models:
        if name in CANONICAL_ORDER:
            colors[name] = _MODEL_COLORS[CANONICAL_ORDER.index(name)]
        else:
            colors[name] = _EXTRA_COLORS[extra % len(_EXTRA_COLORS)]
            extra += 1
    return colors


def _class_labels(lang: str) -> list[str]:
    return [class_name(name, lang) for name in CLASS_NAMES]


def _percent_or_nan(value) -> float:
    return float("nan") if value is None else 100.0 * float(value)


# --------------------------------------------------------------------------- single model


@_styled
def _label_curve_axes(loss_ax, miou_ax, lang: str) -> None:
    """Axis labels, titles and whole-number epoch ticks of the loss and val-mIoU panels."""
    loss_ax.set(xlabel=text("plot_epoch", lang), ylabel=text("plot_loss", lang),
                title=text("plot_loss_title", lang))
    miou_ax.set(xlabel=text("plot_epoch", lang), ylabel=text("plot_val_miou", lang),
                title=text("plot_miou_title", lang))
    for ax in (loss_ax, miou_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
        _localize(ax, lang)


def training_curves(history_df: pd.DataFrame, *, lang: str = "pt", title: str | None = None) -> Figure:
    """Loss and validation loss per epoch (left), validation mIoU per epoch (right)."""
    figure = new_figure(WIDTH, 3.0)
    loss_ax, miou_ax = figure.subplots(1, 2)
    epochs = history_df["epoch"] if "epoch" in history_df else np.arange(1, len(history_df) + 1)
    if "loss" in history_df:
        loss_ax.plot(
            epochs, history_df["loss"], "--", color="#1f77b4", label=text("plot_train_loss", lang)
        )
    if "val_loss" in history_df:
        loss_ax.plot(
            epochs, history_df["val_loss"], "-", color="#d62728", label=text("plot_val_loss", lang)
        )
    loss_ax.legend()
    if "val_miou" in history_df:
        miou_ax.plot(epochs, 100 * history_df["val_miou"], "-o", color="#2ca02c", markersize=3)
    _label_curve_axes(loss_ax, miou_ax, lang)
    _title(figure, title, text("plot_curves_title", lang))
    return figure


@_styled
def per_class_iou(metrics: Mapping, *, lang: str = "pt", title: str | None = None) -> Figure:
    """Horizontal bars of the 19 classes' IoU in the official class colours; dashed line: mIoU."""
    iou = metrics["iou"]
    values = np.array([_percent_or_nan(iou.get(name)) for name in CLASS_NAMES])
    figure = new_figure(WIDTH * 0.8, 4.6)
    ax = figure.subplots()
    positions = np.arange(len(CLASS_NAMES))
    ax.barh(positions, np.nan_to_num(values), color=PALETTE / 255.0, edgecolor="#333333", linewidth=0.5)
    for y, value in zip(positions, values):
        label = text("not_available", lang) if math.isnan(value) else number(value, 1, lang)
        ax.text(np.nan_to_num(value) + 1, y, label, va="center", fontsize=7)
    miou = _percent_or_nan(metrics.get("miou"))
    if not math.isnan(miou):
        ax.axvline(miou, color="#333333", linestyle="--", linewidth=1)
    ax.set_yticks(positions, _class_labels(lang))
    ax.invert_yaxis()
    ax.set_xlim(0, 108)
    ax.set_xlabel(text("plot_iou", lang))
    ax.grid(axis="y", visible=False)
    _title(figure, title, text("plot_per_class_title", lang, miou=number(miou, 1, lang)))
    return figure


def normalized_confusion(matrix) -> np.ndarray:
    """Rows divided by their totals (void predictions included); NaN for an empty row."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, matrix / np.where(totals > 0, totals, 1), np.nan)


@_styled
def confusion_matrix(
    metrics: Mapping, normalize: bool = True, *, lang: str = "pt", title: str | None = None
) -> Figure:
    """The 19x19 confusion matrix (rows: true class, normalised to 100 %), with the column of
    pixels predicted as void (counted as errors) drawn separately on the right."""
    matrix = np.asarray(metrics["confusion_matrix"], dtype=np.float64)
    n = len(CLASS_NAMES)
    if matrix.shape[1] == n:
        matrix = np.hstack([matrix, np.zeros((n, 1))])
    values = 100 * normalized_confusion(matrix) if normalize else matrix
    figure = new_figure(5.9, 5.0)
    grid = figure.add_gridspec(1, 3, width_ratios=[n, 1.2, 0.6], wspace=0.02)
    main_ax, void_ax, bar_ax = (figure.add_subplot(grid[0, i]) for i in range(3))
    labels = _class_labels(lang)
    options = dict(cmap="Blues", linewidths=0.3, linecolor="#eeeeee", square=False)
    if normalize:
        options.update(vmin=0, vmax=100)
        annot = np.where(values >= 0.5, np.vectorize(lambda v: f"{v:.0f}")(np.nan_to_num(values)), "")
    else:
        options.update(norm=mpl.colors.LogNorm(vmin=1, vmax=max(matrix.max(), 2)))
        annot = np.full(values.shape, "")
    shown = np.where(values > 0, values, np.nan) if not normalize else values
    sns.heatmap(
        shown[:, :n],
        ax=main_ax,
        annot=annot[:, :n],
        fmt="",
        annot_kws={"fontsize": 5.5},
        xticklabels=labels,
        yticklabels=labels,
        cbar_ax=bar_ax,
        **options,
    )
    sns.heatmap(
        shown[:, n:],
        ax=void_ax,
        annot=annot[:, n:],
        fmt="",
        annot_kws={"fontsize": 5.5},
        xticklabels=[text("plot_void", lang)],
        yticklabels=False,
        cbar=False,
        **options,
    )
    main_ax.set_xlabel(text("plot_predicted_class", lang))
    main_ax.set_ylabel(text("plot_true_class", lang))
    main_ax.tick_params(axis="both", labelsize=7, length=0)
    void_ax.tick_params(axis="x", labelsize=7, length=0, rotation=90)
    for ax in (main_ax, void_ax):
        ax.grid(False)
    bar_ax.tick_params(labelsize=7)
    default = text("plot_confusion_title" if normalize else "plot_confusion_counts_title", lang)
    _title(figure, title, default)
    return figure


def error_map(image: np.ndarray | None, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """RGB uint8: red where the prediction is wrong, black where the ground truth is ignored,
    and a faded grey copy of the image (white without one) where it is right."""
    gt, pred = np.asarray(gt), np.asarray(pred)
    if image is None:
        faded = np.full(gt.shape + (3,), 235, np.uint8)
    else:
        gray = np.asarray(image, np.float32).mean(axis=-1, keepdims=True)
        faded = np.repeat((150 + 0.4 * gray).clip(0, 255).astype(np.uint8), 3, axis=-1)
    out = faded.copy()
    valid = gt != IGNORE_ID
    out[valid & (pred != gt)] = ERROR_COLOR
    out[~valid] = 0
    return out


def _resize(array: np.ndarray, size: tuple[int, int], nearest: bool) -> np.ndarray:
    """Resize an image or mask to ``size`` (H, W); nearest neighbour for masks."""
    array = np.asarray(array)
    if array.shape[:2] == tuple(size):
        return array
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(array).resize((size[1], size[0]), resample))


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
                ax.imshow(np.full(shape + (3,), 245, np.uint8))
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
                ax.set_title(column_titles[c], fontsize=7, fontweight="normal")
    return figure


@_styled
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
        image, gt = _resize(image, size, nearest=False), _resize(gt, size, nearest=True)
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
    _title(figure, title, "")
    return figure


@_styled
def model_predictions(
    images: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    predictions: Mapping[str, Sequence[np.ndarray | None]],
    *,
    errors: bool = False,
    lang: str = "pt",
    title: str | None = None,
    column_titles: Sequence[str] | None = None,
) -> Figure:
    """Several models on the same samples: one column per sample; rows: image and ground truth,
    then one row per model with its prediction (or, ``errors=True``, its error map).

    ``predictions`` maps model name -> one train-id mask per sample (None where missing); every
    panel is resized to the largest prediction size (nearest neighbour for labels)."""
    shapes = [np.asarray(p).shape[:2] for masks in predictions.values() for p in masks if p is not None]
    size = max(shapes, key=lambda s: s[0] * s[1]) if shapes else np.asarray(gts[0]).shape[:2]
    images = [_resize(image, size, nearest=False) for image in images]
    gts = [_resize(gt, size, nearest=True) for gt in gts]
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
            pred = _resize(pred, size, nearest=True)
            panels.append(error_map(image, gt, pred) if errors else colorize(pred))
        rows.append((model_name(model), panels))
    figure = _panel_grid(rows, lang=lang, column_titles=column_titles)
    _title(figure, title, "")
    return figure


@_styled
def class_legend(*, lang: str = "pt", title: str | None = None, ncols: int = 4) -> Figure:
    """The 19 classes' colours and names."""
    figure = new_figure(WIDTH, 0.3 + 0.24 * math.ceil(len(CLASS_NAMES) / ncols))
    handles = [
        Patch(
            facecolor=np.asarray(label.color) / 255.0,
            edgecolor="#444444",
            linewidth=0.5,
            label=class_name(label.name, lang),
        )
        for label in EVAL_LABELS
    ]
    figure.legend(
        handles=handles,
        ncols=ncols,
        loc="center",
        frameon=False,
        fontsize=8,
        handlelength=1.6,
        columnspacing=1.5,
    )
    _title(figure, title, text("plot_legend_title", lang))
    return figure


# --------------------------------------------------------------------------- comparisons


def _display_index(frame: pd.DataFrame) -> list[str]:
    return [model_name(str(name)) for name in frame.index]


@_styled
def iou_heatmap(df_iou: pd.DataFrame, *, lang: str = "pt", title: str | None = None) -> Figure:
    """Models x classes heatmap of IoU (%); undefined IoUs are left blank."""
    values = 100 * df_iou.astype(float).to_numpy()
    figure = new_figure(WIDTH, 1.7 + 0.36 * len(df_iou))
    ax = figure.subplots()
    sns.heatmap(
        values,
        ax=ax,
        cmap="viridis",
        vmin=0,
        vmax=100,
        annot=True,
        fmt=".0f",
        annot_kws={"fontsize": 7},
        linewidths=0.5,
        linecolor="white",
        xticklabels=[class_name(str(c), lang) for c in df_iou.columns],
        yticklabels=_display_index(df_iou),
        cbar_kws={"label": text("plot_iou", lang), "pad": 0.01},
    )
    ax.tick_params(axis="x", rotation=60, length=0)
    plt_labels = ax.get_xticklabels()
    for label in plt_labels:
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
    ax.tick_params(axis="y", rotation=0, length=0)
    ax.grid(False)
    _title(figure, title, text("plot_heatmap_title", lang))
    return figure


@_styled
def iou_bars(df_iou: pd.DataFrame, *, lang: str = "pt", title: str | None = None) -> Figure:
    """Grouped bars: for each class, one bar per model (IoU, %)."""
    models = [str(m) for m in df_iou.index]
    colors = model_colors(models)
    figure = new_figure(WIDTH, 3.4)
    ax = figure.subplots()
    n = max(len(models), 1)
    width = 0.82 / n
    x = np.arange(df_iou.shape[1])
    for i, model in enumerate(models):
        values = 100 * df_iou.loc[model].astype(float).to_numpy()
        ax.bar(
            x - 0.41 + width * (i + 0.5),
            np.nan_to_num(values),
            width,
            color=colors[model],
            label=model_name(model),
            linewidth=0,
        )
    ax.set_xticks(
        x,
        [class_name(str(c), lang) for c in df_iou.columns],
        rotation=50,
        ha="right",
        rotation_mode="anchor",
    )
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel(text("plot_iou", lang))
    ax.grid(axis="x", visible=False)
    ax.legend(ncols=min(n, 6), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    _title(figure, title, text("plot_bars_title", lang))
    return figure


@_styled
def metric_bars(
    summary: pd.DataFrame,
    metrics: Sequence[str] = ("miou", "category_miou", "pixel_accuracy"),
    *,
    lang: str = "pt",
    title: str | None = None,
) -> Figure:
    """Grouped bars: one group per model, one bar per metric (%), each value written on top."""
    ok = summary[summary["status"] == "ok"] if "status" in summary else summary
    models = list(ok["model"])
    figure = new_figure(WIDTH if len(models) > 2 else WIDTH * 0.7, 2.9)
    ax = figure.subplots()
    width = 0.8 / len(metrics)
    shades = ("#1b4f72", "#5499c7", "#a9cce3", "#d4e6f1")
    x = np.arange(len(models))
    for i, metric in enumerate(metrics):
        values = 100 * ok[metric].astype(float).to_numpy()
        positions = x - 0.4 + width * (i + 0.5)
        ax.bar(
            positions,
            np.nan_to_num(values),
            width,
            color=shades[i % len(shades)],
            label=text(f"metric_name_{metric}", lang),
            edgecolor="white",
            linewidth=0.5,
        )
        for p, v in zip(positions, values):
            ax.text(
                p, np.nan_to_num(v) + 1.5, number(v, 1, lang), ha="center", va="bottom", fontsize=6.5
            )
    ax.set_xticks(x, [model_name(m) for m in models])
    ax.set_xlim(-0.6, len(models) - 0.4)
    ax.set_ylim(0, 109)
    ax.set_ylabel(text("plot_metric_percent", lang))
    ax.grid(axis="x", visible=False)
    ax.legend(ncols=len(metrics), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    _title(figure, title, text("plot_metrics_title", lang))
    return figure


def _place_labels(figure: Figure, ax, xs, ys, labels, colors) -> None:
    """Write each label next to its point, trying positions until it overlaps no other label."""
    renderer = figure.canvas.get_renderer()
    placed = []
    offsets = [
        (9, 7, "left", "bottom"),
        (9, -7, "left", "top"),
        (-9, 7, "right", "bottom"),
        (-9, -7, "right", "top"),
        (0, 12, "center", "bottom"),
        (0, -12, "center", "top"),
    ]
    def annotate(x, y, label, color, dx, dy, ha, va):
        return ax.annotate(
            label, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=8,
            color="#222222",
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color, lw=0.8, alpha=0.9),
        )

    for x, y, label, color in sorted(zip(xs, ys, labels, colors), key=lambda item: -item[1]):
        annotation = None
        for offset in offsets:
            annotation = annotate(x, y, label, color, *offset)
            box = annotation.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                break
            annotation.remove()
            annotation = None
        if annotation is None:  # every position overlaps: keep the first
            annotation = annotate(x, y, label, color, *offsets[0])
        placed.append(annotation.get_window_extent(renderer))


@_styled
def speed_vs_accuracy(summary: pd.DataFrame, *, lang: str = "pt", title: str | None = None) -> Figure:
    """mIoU (%) against inference images/s (log scale); point area proportional to parameters."""
    ok = summary[summary["status"] == "ok"] if "status" in summary else summary
    ok = ok[
        np.isfinite(ok["inference_images_per_second"].astype(float))
        & np.isfinite(ok["miou"].astype(float))
    ]
    models = [str(m) for m in ok["model"]]
    colors = model_colors(models)
    figure = new_figure(WIDTH * 0.85, 4.0)
    ax = figure.subplots()
    speeds = ok["inference_images_per_second"].astype(float).to_numpy()
    mious = 100 * ok["miou"].astype(float).to_numpy()
    params = ok["params"].astype(float).to_numpy() if "params" in ok else np.full(len(ok), np.nan)
    finite = params[np.isfinite(params)]
    largest = finite.max() if finite.size else 1.0
    sizes = [60 + 900 * (p / largest) if np.isfinite(p) else 80 for p in params]
    ax.scatter(
        speeds,
        mious,
        s=sizes,
        c=[colors[m] for m in models],
        alpha=0.75,
        edgecolors="#222222",
        linewidths=0.8,
        zorder=3,
    )
    ax.set_xscale("log")
    if len(speeds):
        low, high = speeds.min(), speeds.max()
        span = max(high / low, 4.0)
        pad = span**0.25
        ax.set_xlim(low / pad, high * pad)
        ax.set_ylim(max(0, mious.min() - 12), min(100, mious.max() + 12))
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v, 0 if v >= 1 else 2, lang)))
    ax.set_xlabel(text("plot_speed_x", lang))
    ax.set_ylabel(text("plot_speed_y", lang))
    labels = [
        f"{model_name(m)} · {number(p / 1e6, 1, lang)} M" if np.isfinite(p) else model_name(m)
        for m, p in zip(models, params)
    ]
    _place_labels(figure, ax, speeds, mious, labels, [colors[m] for m in models])
    _title(figure, title, text("plot_speed_title", lang))
    return figure


@_styled
def all_training_curves(
    histories: Mapping[str, pd.DataFrame], *, lang: str = "pt", title: str | None = None
) -> Figure:
    """Every model on one chart: loss (training dashed, validation solid) and validation mIoU."""
    colors = model_colors(list(histories))
    figure = new_figure(WIDTH, 3.2)
    loss_ax, miou_ax = figure.subplots(1, 2)
    for model, history in histories.items():
        epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
        color = colors[model]
        if "loss" in history:
            loss_ax.plot(epochs, history["loss"], "--", color=color, linewidth=1, alpha=0.8)
        if "val_loss" in history:
            loss_ax.plot(epochs, history["val_loss"], "-", color=color, linewidth=1.5)
        if "val_miou" in history:
            miou_ax.plot(
                epochs,
                100 * history["val_miou"],
                "-",
                color=color,
                linewidth=1.5,
                marker="o",
                markersize=2.5,
                label=model_name(model),
            )
    _label_curve_axes(loss_ax, miou_ax, lang)
    handles, labels = miou_ax.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 6))
    _title(figure, title, text("plot_curves_title", lang))
    return figure


@_styled
def class_frequency(
    fractions: Mapping[str, float] | pd.Series, *, lang: str = "pt", title: str | None = None
) -> Figure:
    """Horizontal bars (log scale) of each class's fraction of the pixels, most frequent first."""
    fractions = dict(fractions)
    names = sorted(
        (n for n in CLASS_NAMES if n in fractions and fractions[n] is not None),
        key=lambda n: -float(fractions[n]),
    )
    values = np.array([float(fractions[n]) for n in names])
    colors = [PALETTE[CLASS_NAMES.index(n)] / 255.0 for n in names]
    figure = new_figure(WIDTH * 0.8, 0.6 + 0.2 * len(names))
    ax = figure.subplots()
    y = np.arange(len(names))
    shown = np.where(values > 0, values, np.nan)
    ax.barh(y, shown, color=colors, edgecolor="#333333", linewidth=0.5)
    ax.set_xscale("log")
    positive = values[values > 0]
    if positive.size:
        ax.set_xlim(positive.min() / 3, 1.0)
    for position, value in zip(y, values):
        if value > 0:
            ax.text(
                value * 1.08,
                position,
                number(100 * value, 2 if value < 0.01 else 1, lang) + " %",
                va="center",
                fontsize=7,
            )
    ax.set_yticks(y, [class_name(n, lang) for n in names])
    ax.invert_yaxis()
    ax.set_xlabel(text("plot_frequency_x", lang))
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _: number(100 * v, 0 if v >= 0.01 else 2, lang) + " %")
    )
    ax.grid(axis="y", visible=False)
    _title(figure, title, text("plot_frequency_title", lang))
    return figure


@_styled
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
    _title(figure, title, text("plot_samples_title", lang))
    return figure


# --------------------------------------------------------------------------- output


def figure_to_png(fig: Figure, dpi: int = DPI) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.04, facecolor="white")
    return buffer.getvalue()


def figure_to_data_uri(fig: Figure, dpi: int = DPI) -> str:
    """The figure as a PNG ``data:`` URI, for a self-contained HTML page."""
    return "data:image/png;base64," + base64.b64encode(figure_to_png(fig, dpi)).decode("ascii")


def save_figure(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Save atomically (temp file in the same folder + os.replace); the format from the suffix."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as temp:
        fig.savefig(
            temp, format=suffix, dpi=dpi, bbox_inches="tight", pad_inches=0.04, facecolor="white"
        )
    return path


__all__ = [
    "training_curves",
    "per_class_iou",
    "confusion_matrix",
    "sample_predictions",
    "class_legend",
    "iou_heatmap",
    "iou_bars",
    "speed_vs_accuracy",
    "all_training_curves",
    "class_frequency",
    "dataset_samples",
    "model_predictions",
    "metric_bars",
    "error_map",
    "save_figure",
    "figure_to_data_uri",
    "figure_to_png",
    "model_colors",
]
