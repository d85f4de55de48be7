"""How sure a comparison is: mIoU over seeds and bootstrap intervals over validation images.

Every number here is recomputed from the results alone: each run saves one confusion matrix per
validation image (``confusion_per_image.npz``), and the mIoU of any set of images is that of the
sum of their matrices (``miou_of``, the same definition as ``ConfusionMatrix.compute``).

For each model: the mean and standard deviation of mIoU over its seeds, and a 95 % interval
from a bootstrap that resamples both sources of chance in the result: the validation images
(drawn with replacement, the same draw for every model, so differences are paired) and the
seeds (drawn with replacement per model). With one seed only the images vary. For each pair of
models, the same replicates give the interval of the difference of their mean mIoU; a pair
"differs" when that interval excludes 0. The intervals are percentile intervals, not corrected
for the number of pairs compared (10 for five models): at 95 %, about one pair in twenty looks
different by chance. Images of one city are correlated, so the image bootstrap is, if anything,
too narrow on Cityscapes (500 images from 3 cities).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .labels import NUM_CLASSES

REPLICATES = 2000
CONFIDENCE = 0.95


def miou_of(matrices: np.ndarray) -> np.ndarray:
    """mIoU of 19 x 20 confusion matrices (ground truth x prediction, the last column void),
    over their leading axes: IoU = TP / (TP + FP + FN) per class, a prediction of void counts as
    a false negative, classes whose denominator is 0 are left out of the mean (NaN if all are)."""
    matrices = np.asarray(matrices, dtype=np.float64)
    tp = np.diagonal(matrices[..., :NUM_CLASSES], axis1=-2, axis2=-1)
    fn = matrices.sum(axis=-1) - tp
    fp = matrices[..., :NUM_CLASSES].sum(axis=-2) - tp
    union = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
        defined = (union > 0).sum(axis=-1)
        return np.where(defined > 0, np.nansum(iou, axis=-1) / np.maximum(defined, 1), np.nan)


@dataclass
class ModelRuns:
    """One model's runs: its seeds and, per seed, the per-image matrices of the same images."""

    model: str
    seeds: list[int]
    per_image: list[np.ndarray] | None  # one (images, 19, 20) array per seed; None if missing
    miou: list[float]  # each seed's recorded mIoU


@dataclass
class ModelStatistics:
    model: str
    seeds: list[int]
    miou_mean: float
    miou_std: float  # over seeds (n - 1); NaN with one seed
    ci_low: float = math.nan
    ci_high: float = math.nan


@dataclass
class PairStatistics:
    first: str
    second: str
    difference: float  # first's mean mIoU minus second's
    ci_low: float
    ci_high: float

    @property
    def differs(self) -> bool:
        """The interval of the difference excludes 0."""
        return self.ci_low > 0 or self.ci_high < 0


@dataclass
class StudyStatistics:
    models: dict[str, ModelStatistics] = field(default_factory=dict)
    pairs: list[PairStatistics] = field(default_factory=list)
    images: int = 0  # validation images the intervals resample
    replicates: int = REPLICATES
    confidence: float = CONFIDENCE

    def pair(self, first: str, second: str) -> PairStatistics | None:
        for pair in self.pairs:
            if (pair.first, pair.second) == (first, second):
                return pair
            if (pair.first, pair.second) == (second, first):
                return PairStatistics(second, first, -pair.difference, -pair.ci_high, -pair.ci_low)
        return None


def compare(
    runs: Sequence[ModelRuns],
    *,
    replicates: int = REPLICATES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> StudyStatistics:
    """Means, spreads and bootstrap intervals of every model, and paired intervals of every
    difference. Models without per-image matrices get their mean and spread only. Fixed
    ``seed``: the same results give the same intervals, whoever computes them."""
    stats = StudyStatistics(replicates=replicates, confidence=confidence)
    for model in runs:
        values = np.asarray(model.miou, dtype=np.float64)
        spread = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        stats.models[model.model] = ModelStatistics(
            model.model, list(model.seeds), float(values.mean()), spread
        )
    resampled = [m for m in runs if m.per_image]
    if not resampled:
        return stats
    sizes = {matrices.shape[0] for model in resampled for matrices in model.per_image}
    if len(sizes) != 1:
        raise ValueError("toda execução deve ter as matrizes das mesmas imagens, na mesma ordem")
    stats.images = n = sizes.pop()
    rng = np.random.default_rng(seed)
    # One draw of images for every model (paired); counts[r, i]: how often image i is drawn.
    counts = rng.multinomial(n, np.full(n, 1 / n), size=replicates).astype(np.float64)
    draws = {}
    for model in resampled:
        per_seed = np.stack(
            [
                miou_of((counts @ matrices.reshape(n, -1)).reshape(replicates, *matrices.shape[1:]))
                for matrices in model.per_image
            ]
        )  # (seeds, replicates)
        chosen = rng.integers(0, len(model.per_image), size=(replicates, len(model.per_image)))
        draws[model.model] = np.nanmean(per_seed[chosen, np.arange(replicates)[:, None]], axis=1)
    tail = 100 * (1 - confidence) / 2
    for name, values in draws.items():
        low, high = np.nanpercentile(values, [tail, 100 - tail])
        stats.models[name].ci_low, stats.models[name].ci_high = float(low), float(high)
    for first, second in itertools.combinations(draws, 2):
        low, high = np.nanpercentile(draws[first] - draws[second], [tail, 100 - tail])
        difference = stats.models[first].miou_mean - stats.models[second].miou_mean
        stats.pairs.append(PairStatistics(first, second, difference, float(low), float(high)))
    return stats
