"""Bootstrap intervals and paired differences, against direct computations on hand-built
per-image confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from urbanseg.metrics import ConfusionMatrix
from urbanseg.statistics import ModelRuns, compare, miou_of


def image_matrix(correct: int, wrong: int, void: int = 0, classes=(0, 1)) -> np.ndarray:
    """One image: for each class in ``classes``, ``correct`` pixels right, ``wrong`` taken for
    the next class, ``void`` predicted as void."""
    matrix = np.zeros((19, 20), np.int64)
    for i, c in enumerate(classes):
        matrix[c, c] += correct
        matrix[c, classes[(i + 1) % len(classes)]] += wrong
        matrix[c, 19] += void
    return matrix


def test_miou_of_equals_the_confusion_matrix_s_own():
    rng = np.random.default_rng(0)
    for _ in range(5):
        gt = rng.integers(0, 19, (40, 60)).astype(np.uint8)
        gt[rng.random(gt.shape) < 0.1] = 255
        pred = np.where(rng.random(gt.shape) < 0.6, gt, rng.integers(0, 19, gt.shape))
        pred[rng.random(gt.shape) < 0.05] = 255
        matrix = ConfusionMatrix()
        matrix.update(gt, pred.astype(np.uint8))
        assert miou_of(matrix.matrix) == pytest.approx(matrix.compute()["miou"], abs=1e-12)
    assert np.isnan(miou_of(np.zeros((19, 20))))  # no class present: undefined


def test_two_images_give_the_three_bootstrap_outcomes_as_bounds():
    """With images A (poor) and B (good), a bootstrap sample is AA, AB or BB: the 95 % interval
    runs from mIoU(A) to mIoU(B), the mean of one seed is its recorded mIoU."""
    a, b = image_matrix(10, 90), image_matrix(90, 10)
    per_image = np.stack([a, b])
    stats = compare([ModelRuns("m", [0], [per_image], [float(miou_of(a + b))])])
    m = stats.models["m"]
    assert (m.ci_low, m.ci_high) == pytest.approx((float(miou_of(a)), float(miou_of(b))), abs=1e-12)
    assert m.miou_mean == pytest.approx(miou_of(a + b)) and np.isnan(m.miou_std)
    assert stats.images == 2


def test_intervals_match_a_direct_bootstrap():
    """The vectorised bootstrap against a plain loop over resampled image indices."""
    rng = np.random.default_rng(1)
    per_image = np.stack(
        [
            image_matrix(
                int(rng.integers(20, 80)),
                int(rng.integers(5, 60)),
                int(rng.integers(0, 9)),
                classes=tuple(rng.choice(19, 3, replace=False)),
            )
            for _ in range(30)
        ]
    )
    stats = compare(
        [ModelRuns("m", [0], [per_image], [float(miou_of(per_image.sum(0)))])], replicates=4000
    )
    draws = np.random.default_rng(7).integers(0, 30, (4000, 30))
    values = [miou_of(per_image[d].sum(0)) for d in draws]
    low, high = np.percentile(values, [2.5, 97.5])
    assert stats.models["m"].ci_low == pytest.approx(low, abs=0.01)
    assert stats.models["m"].ci_high == pytest.approx(high, abs=0.01)


def test_a_model_better_on_every_image_differs_one_better_on_half_does_not():
    good = np.stack([image_matrix(80 + i, 20) for i in range(20)])
    poor = np.stack([image_matrix(60 + i, 40) for i in range(20)])
    # the same pooled pixels as "good" (1790 right, 400 wrong per class), very unevenly spread
    mixed = np.stack([image_matrix(99, 1) if i % 2 else image_matrix(80, 39) for i in range(20)])
    runs = [
        ModelRuns(name, [0], [matrices], [float(miou_of(matrices.sum(0)))])
        for name, matrices in (("good", good), ("poor", poor), ("mixed", mixed))
    ]
    stats = compare(runs)
    assert stats.pair("good", "poor").differs and stats.pair("good", "poor").ci_low > 0
    assert stats.pair("poor", "good").ci_high < 0  # the same pair, the other way round
    assert not stats.pair("good", "mixed").differs
    assert len(stats.pairs) == 3


def test_seeds_widen_the_interval_and_give_a_spread():
    images = np.stack([image_matrix(70, 30) for _ in range(10)])  # every image alike
    better = np.stack([image_matrix(90, 10) for _ in range(10)])
    one_seed = compare([ModelRuns("m", [0], [images], [float(miou_of(images.sum(0)))])])
    assert one_seed.models["m"].ci_low == one_seed.models["m"].ci_high  # nothing varies
    seeds = [images, better]
    two = compare([ModelRuns("m", [0, 1], seeds, [float(miou_of(s.sum(0))) for s in seeds])])
    m = two.models["m"]
    assert m.ci_low == pytest.approx(miou_of(images.sum(0)))
    assert m.ci_high == pytest.approx(miou_of(better.sum(0)))
    assert m.miou_std == pytest.approx(np.std([miou_of(s.sum(0)) for s in seeds], ddof=1))


def test_models_without_per_image_matrices_get_no_interval():
    stats = compare([ModelRuns("old", [0, 1], None, [0.2, 0.3])])
    assert stats.models["old"].miou_mean == pytest.approx(0.25)
    assert np.isnan(stats.models["old"].ci_low) and stats.pairs == []
