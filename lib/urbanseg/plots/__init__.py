"""Figures of one model (for the notebooks) and of several (for the report).

Every function returns a ``matplotlib.figure.Figure`` drawn on an Agg canvas, without pyplot
(so nothing global changes and a notebook shows each figure once), and takes ``lang`` ("pt" or
"en") for its titles and axes. ``title=""`` leaves a figure untitled (the report's captions
say what it shows). Images are RGB uint8; masks are train ids (0..18, 255 ignored), coloured
by ``labels.colorize``. Scores, fractions in [0, 1] in the results, are plotted in percent.

- ``run``: one model's training curves, per-class IoU, confusion matrix, class frequencies;
- ``images``: images, masks, predictions and error maps side by side;
- ``compare``: the models against each other (heatmap, bars, speed, curves);
- ``_style``: the shared style and the PNG output.
"""

from ._style import DPI, WIDTH, figure_to_png, save_figure
from .compare import (
    all_training_curves,
    iou_bars,
    iou_heatmap,
    metric_bars,
    pairwise_differences,
    speed_vs_accuracy,
)
from .images import dataset_samples, error_map, model_predictions, sample_predictions
from .run import (
    class_frequency,
    class_legend,
    confusion_matrix,
    normalized_confusion,
    per_class_iou,
    training_curves,
)

__all__ = [
    "DPI",
    "WIDTH",
    "all_training_curves",
    "class_frequency",
    "class_legend",
    "confusion_matrix",
    "dataset_samples",
    "error_map",
    "figure_to_png",
    "iou_bars",
    "iou_heatmap",
    "metric_bars",
    "model_predictions",
    "normalized_confusion",
    "pairwise_differences",
    "per_class_iou",
    "sample_predictions",
    "save_figure",
    "speed_vs_accuracy",
    "training_curves",
]
