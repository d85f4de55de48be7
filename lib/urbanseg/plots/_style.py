"""What every figure shares: the style, the figure factory, localised axes and PNG output."""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from ..atomic import atomic_path
from ..catalog import display_name
from ..i18n import class_name, text
from ..labels import CLASS_NAMES

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


def styled(function):
    """Build the figure under STYLE, without touching the global rcParams."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


MAX_LABEL = 40  # characters of a name a figure shows


def plain_text(label: str, limit: int = MAX_LABEL) -> str:
    """``label`` as Matplotlib must show it: every ``$`` literal (not mathtext, which fails on
    a name like "$x" and reads "$...$" as a formula), at most ``limit`` characters."""
    label = str(label)
    if len(label) > limit:
        label = label[: limit - 1] + "…"
    return label.replace("$", r"\$")


def model_label(model, names: Mapping[str, str] | None = None) -> str:
    """How a figure names a model: ``names[model]`` when given, else its catalog name, as plain
    text (``plain_text``)."""
    return plain_text((names or {}).get(str(model)) or display_name(str(model)))


def new_figure(width: float = WIDTH, height: float = 4.0) -> Figure:
    """A Figure on its own Agg canvas, with constrained layout."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def set_title(figure: Figure, title: str | None, default: str) -> None:
    title = default if title is None else title
    if title:
        figure.suptitle(title, fontweight="bold", fontsize=11)


class DecimalCommaFormatter(ScalarFormatter):
    """Matplotlib's default tick labels with the decimal comma of Portuguese."""

    def __call__(self, x, pos=None):
        return super().__call__(x, pos).replace(".", ",")


def localize(ax, lang: str) -> None:
    """Decimal commas on both linear axes of ``ax`` for lang="pt"."""
    if lang == "pt":
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "linear":
                axis.set_major_formatter(DecimalCommaFormatter())


def class_labels(lang: str) -> list[str]:
    return [class_name(name, lang) for name in CLASS_NAMES]


def percent_or_nan(value) -> float:
    return float("nan") if value is None else 100.0 * float(value)


@styled
def label_curve_axes(loss_ax, miou_ax, lang: str) -> None:
    """Axis labels, titles and whole-number epoch ticks of the loss and val-mIoU panels."""
    loss_ax.set(
        xlabel=text("plot_epoch", lang),
        ylabel=text("plot_loss", lang),
        title=text("plot_loss_title", lang),
    )
    miou_ax.set(
        xlabel=text("plot_epoch", lang),
        ylabel=text("plot_val_miou", lang),
        title=text("plot_miou_title", lang),
    )
    for ax in (loss_ax, miou_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
        localize(ax, lang)


def figure_to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, trimmed to its content on a white background."""
    buffer = io.BytesIO()
    fig.savefig(
        buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.04, facecolor="white"
    )
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Save atomically (temp file in the same folder + os.replace); the format from the suffix."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as temp:
        fig.savefig(
            temp, format=suffix, dpi=dpi, bbox_inches="tight", pad_inches=0.04, facecolor="white"
        )
    return path
