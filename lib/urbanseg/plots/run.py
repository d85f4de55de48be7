"""The figures of one model's run, drawn by its notebook: training curves, per-class IoU,
confusion matrix, class frequencies and the class legend."""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from ..i18n import class_name, number, text
from ..labels import CLASS_NAMES, EVAL_LABELS, PALETTE
from ._style import (
    WIDTH,
    class_labels,
    label_curve_axes,
    new_figure,
    percent_or_nan,
    set_title,
    styled,
)


def training_curves(
    history_df: pd.DataFrame, *, lang: str = "pt", title: str | None = None
) -> Figure:
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
    label_curve_axes(loss_ax, miou_ax, lang)
    set_title(figure, title, text("plot_curves_title", lang))
    return figure


@styled
def per_class_iou(metrics: Mapping, *, lang: str = "pt", title: str | None = None) -> Figure:
    """Horizontal bars of the 19 classes' IoU in the official class colours; dashed line: mIoU."""
    iou = metrics["iou"]
    values = np.array([percent_or_nan(iou.get(name)) for name in CLASS_NAMES])
    figure = new_figure(WIDTH * 0.8, 4.6)
    ax = figure.subplots()
    positions = np.arange(len(CLASS_NAMES))
    ax.barh(
        positions, np.nan_to_num(values), color=PALETTE / 255.0, edgecolor="#333333", linewidth=0.5
    )
    for y, value in zip(positions, values):
        label = text("not_available", lang) if math.isnan(value) else number(value, 1, lang)
        ax.text(np.nan_to_num(value) + 1, y, label, va="center", fontsize=7)
    miou = percent_or_nan(metrics.get("miou"))
    if not math.isnan(miou):
        ax.axvline(miou, color="#333333", linestyle="--", linewidth=1)
    ax.set_yticks(positions, class_labels(lang))
    ax.invert_yaxis()
    ax.set_xlim(0, 108)
    ax.set_xlabel(text("plot_iou", lang))
    ax.grid(axis="y", visible=False)
    set_title(figure, title, text("plot_per_class_title", lang, miou=number(miou, 1, lang)))
    return figure


def normalized_confusion(matrix) -> np.ndarray:
    """Rows divided by their totals (void predictions included); NaN for an empty row."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, matrix / np.where(totals > 0, totals, 1), np.nan)


@styled
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
    labels = class_labels(lang)
    options = dict(cmap="Blues", linewidths=0.3, linecolor="#eeeeee", square=False)
    if normalize:
        options.update(vmin=0, vmax=100)
        annot = np.where(
            values >= 0.5, np.vectorize(lambda v: f"{v:.0f}")(np.nan_to_num(values)), ""
        )
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
    set_title(figure, title, default)
    return figure


@styled
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
    set_title(figure, title, text("plot_frequency_title", lang))
    return figure


@styled
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
    set_title(figure, title, text("plot_legend_title", lang))
    return figure
