"""Figures that compare the models, drawn by the report: per-class IoU heatmap and bars,
headline metrics, speed against accuracy, and every model's training curves.

Each takes ``names`` (model key -> display name) for models outside the catalog; colours come
from the catalog (``urbanseg.catalog.model_colors``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..catalog import model_colors
from ..i18n import class_name, number, text
from ._style import (
    WIDTH,
    DecimalCommaFormatter,
    label_curve_axes,
    model_label,
    new_figure,
    set_title,
    styled,
)

RAN = ("ok", "partial")  # summary.csv's status of a model with at least one finished run


@styled
def iou_heatmap(
    df_iou: pd.DataFrame,
    *,
    lang: str = "pt",
    title: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
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
        yticklabels=[model_label(model, names) for model in df_iou.index],
        cbar_kws={"label": text("plot_iou", lang), "pad": 0.01},
    )
    ax.tick_params(axis="x", rotation=60, length=0)
    plt_labels = ax.get_xticklabels()
    for label in plt_labels:
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
    ax.tick_params(axis="y", rotation=0, length=0)
    ax.grid(False)
    set_title(figure, title, text("plot_heatmap_title", lang))
    return figure


@styled
def iou_bars(
    df_iou: pd.DataFrame,
    *,
    lang: str = "pt",
    title: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
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
            label=model_label(model, names),
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
    set_title(figure, title, text("plot_bars_title", lang))
    return figure


@styled
def metric_bars(
    summary: pd.DataFrame,
    metrics: Sequence[str] = ("miou", "category_miou", "pixel_accuracy"),
    *,
    lang: str = "pt",
    title: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
    """Grouped bars: one group per model, one bar per metric (%), each value written on top;
    a metric with ``<metric>_ci_low``/``_ci_high`` columns gets its interval as an error bar."""
    ok = summary[summary["status"].isin(RAN)] if "status" in summary else summary
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
        tops = np.nan_to_num(values)
        if f"{metric}_ci_low" in ok and ok[f"{metric}_ci_low"].notna().any():
            low = 100 * ok[f"{metric}_ci_low"].astype(float).to_numpy()
            high = 100 * ok[f"{metric}_ci_high"].astype(float).to_numpy()
            errors = np.nan_to_num(np.vstack([values - low, high - values]))
            ax.errorbar(
                positions,
                values,
                yerr=errors,
                fmt="none",
                ecolor="#222222",
                elinewidth=0.8,
                capsize=2,
            )
            tops = np.fmax(tops, np.nan_to_num(high))
        for p, top, v in zip(positions, tops, values):
            ax.text(p, top + 1.5, number(v, 1, lang), ha="center", va="bottom", fontsize=6.5)
    ax.set_xticks(x, [model_label(m, names) for m in models])
    ax.set_xlim(-0.6, len(models) - 0.4)
    ax.set_ylim(0, 109)
    ax.set_ylabel(text("plot_metric_percent", lang))
    ax.grid(axis="x", visible=False)
    ax.legend(ncols=len(metrics), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    set_title(figure, title, text("plot_metrics_title", lang))
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
            label,
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=8,
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


@styled
def speed_vs_accuracy(
    summary: pd.DataFrame,
    *,
    lang: str = "pt",
    title: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
    """mIoU (%) against inference images/s (log scale); point area proportional to parameters."""
    ok = summary[summary["status"].isin(RAN)] if "status" in summary else summary
    speed = ok["inference_images_per_second"].astype(float)
    ok = ok[np.isfinite(speed) & (speed > 0) & np.isfinite(ok["miou"].astype(float))]
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
        f"{model_label(m, names)} · {number(p / 1e6, 1, lang)} M"
        if np.isfinite(p)
        else model_label(m, names)
        for m, p in zip(models, params)
    ]
    _place_labels(figure, ax, speeds, mious, labels, [colors[m] for m in models])
    set_title(figure, title, text("plot_speed_title", lang))
    return figure


@styled
def all_training_curves(
    histories: Mapping[str, pd.DataFrame],
    *,
    lang: str = "pt",
    title: str | None = None,
    names: Mapping[str, str] | None = None,
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
                label=model_label(model, names),
            )
    label_curve_axes(loss_ax, miou_ax, lang)
    handles, labels = miou_ax.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 6))
    set_title(figure, title, text("plot_curves_title", lang))
    return figure


@styled
def pairwise_differences(
    pairs: Sequence[tuple[str, str, float, float, float]],
    *,
    lang: str = "pt",
    title: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
    """One row per pair of models (first, second, difference, low, high): the difference of
    their mIoU in points with its interval; dark where the interval excludes 0."""
    figure = new_figure(WIDTH * 0.8, 0.8 + 0.3 * len(pairs))
    ax = figure.subplots()
    y = np.arange(len(pairs))
    for row, (_first, _second, difference, low, high) in zip(y, pairs):
        differs = low > 0 or high < 0
        color = "#1b4f72" if differs else "#9a9a9a"
        ax.plot([100 * low, 100 * high], [row, row], color=color, linewidth=2)
        ax.plot(100 * difference, row, "o", color=color, markersize=5)
    ax.axvline(0, color="#444444", linewidth=0.8, linestyle="--")
    labels = [f"{model_label(a, names)} − {model_label(b, names)}" for a, b, *_ in pairs]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(text("plot_difference_x", lang))
    ax.grid(axis="y", visible=False)
    if lang == "pt":  # the y axis holds the pairs' names
        ax.xaxis.set_major_formatter(DecimalCommaFormatter())
    set_title(figure, title, text("plot_difference_title", lang))
    return figure
