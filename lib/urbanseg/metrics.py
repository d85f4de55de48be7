"""A streaming confusion matrix and the official Cityscapes pixel-level scores.

Every score is defined as in cityscapesScripts' ``evaluation/evalPixelLevelSemanticLabeling.py``
(Cordts et al. 2016, arXiv 1604.01685), and ``tests/test_evaluation.py`` checks them against that
script to 1e-9:

- IoU = TP / (TP + FP + FN) per class (``getIouScoreForLabel``). Pixels whose ground truth is
  ignored count nowhere; a prediction of an ignored id on a valid pixel is a false negative of
  that pixel's class and a false positive of nobody.
- iIoU = TP' / (TP' + FP + FN') (``getInstanceIouScoreForLabel``), where TP' and FN' weight the
  pixels of each ground-truth instance by ``avgClassSize[class] / instance size``; FP is unweighted.
- Category IoU and iIoU (``getIouScoreForCategory``, ``getInstanceIouScoreForCategory``): the
  same over groups of classes (flat, construction, ..., vehicle).
- Averages skip undefined scores (``getScoreAverage`` skips NaN); an undefined score is ``None``.

One official quirk is reproduced on purpose: for the *vehicle* category iIoU the script counts
predictions of caravan and trailer (ignored ids) as vehicle (``generateInstanceStats`` keeps every
label id of a category whose labels all have instances), so such predictions are category true
positives on vehicle instances and false positives elsewhere, while the category IoU ignores them.
The matrix therefore keeps, next to the 19 classes and "void", a column for predictions of ignored
labels with instances. Only ``update_label_ids`` can see those ids; ``update`` takes train ids,
where they are already 255.

(A little over 400 lines: the encodings, instance statistics and scores belong to one
``ConfusionMatrix``, the reference every other score in the project is checked against.)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .labels import (
    CATEGORY_NAMES,
    CLASS_NAMES,
    ID_TO_TRAINID,
    IGNORE_ID,
    LABELS,
    NUM_CLASSES,
    NUM_LABEL_IDS,
    TRAINID_TO_CATEGORY,
)

log = logging.getLogger(__name__)

VOID_COLUMN = NUM_CLASSES  # a prediction of an ignored id (255 among train ids)
VOID_INSTANCE_COLUMN = NUM_CLASSES + 1  # internal: a prediction of caravan or trailer
NUM_COLUMNS = NUM_CLASSES + 2
IGNORED_ROW = NUM_CLASSES  # ground truth ignored: folded away

# args.avgClassSize of evalPixelLevelSemanticLabeling.py: the mean instance size of each class
# over the training set, in pixels at 2048x1024. Caravan and trailer are never evaluated.
AVERAGE_INSTANCE_SIZE = {
    "person": 3462.4756337644,
    "rider": 3930.4788056518,
    "car": 12794.0202738185,
    "truck": 27855.1264367816,
    "bus": 35732.1511111111,
    "train": 67583.7075812274,
    "motorcycle": 6298.7200839748,
    "bicycle": 4672.3249222261,
}

_EVAL_LABELS = [label for label in LABELS if label.id >= 0 and not label.ignore_in_eval]
_INSTANCE_LABELS = [label for label in _EVAL_LABELS if label.has_instances]
INSTANCE_CLASS_NAMES = tuple(label.name for label in _INSTANCE_LABELS)
_INSTANCE_TRAIN_IDS = np.array([label.train_id for label in _INSTANCE_LABELS])

# Instance ids are label_id * 1000 + k; those of evaluated classes lie in [_FIRST, _STOP).
_FIRST_INSTANCE_ID = min(label.id for label in _INSTANCE_LABELS) * 1000
_STOP_INSTANCE_ID = (max(label.id for label in _INSTANCE_LABELS) + 1) * 1000

_TRAIN_ID_OF_LABEL_ID = np.full(NUM_LABEL_IDS, -1, dtype=np.int64)  # instance classes only
for _label in _INSTANCE_LABELS:
    _TRAIN_ID_OF_LABEL_ID[_label.id] = _label.train_id

_AVERAGE_SIZE_BY_TRAIN_ID = np.zeros(NUM_CLASSES)
for _label in _INSTANCE_LABELS:
    _AVERAGE_SIZE_BY_TRAIN_ID[_label.train_id] = AVERAGE_INSTANCE_SIZE[_label.name]


def _label_column(label) -> int:
    """Matrix column of a prediction of this label."""
    if not label.ignore_in_eval:
        return label.train_id
    return VOID_INSTANCE_COLUMN if label.has_instances else VOID_COLUMN


def _instance_categories() -> tuple[tuple[str, ...], np.ndarray]:
    """Categories scored by iIoU and the columns each counts as a hit, as generateInstanceStats.

    A category qualifies when every label of it (license plate aside) has instances: human and
    vehicle. Its label ids include the ignored caravan and trailer, hence VOID_INSTANCE_COLUMN.
    """
    names, columns = [], []
    for category in dict.fromkeys(label.category for label in LABELS):
        members = [label for label in LABELS if label.category == category and label.id >= 0]
        if members and all(label.has_instances for label in members):
            mask = np.zeros(NUM_COLUMNS, dtype=bool)
            mask[[_label_column(label) for label in members]] = True
            names.append(category)
            columns.append(mask)
    return tuple(names), np.array(columns)


INSTANCE_CATEGORY_NAMES, _INSTANCE_CATEGORY_COLUMNS = _instance_categories()
_INSTANCE_CATEGORY_OF_TRAIN_ID = np.full(NUM_CLASSES, -1, dtype=np.int64)
for _label in _INSTANCE_LABELS:
    _INSTANCE_CATEGORY_OF_TRAIN_ID[_label.train_id] = INSTANCE_CATEGORY_NAMES.index(_label.category)


@dataclass(frozen=True)
class _Encoding:
    """How the values of an input array (0..255) map to matrix rows and columns (-1: invalid)."""

    description: str
    row_of: np.ndarray  # value -> row 0..18, or IGNORED_ROW
    column_of: np.ndarray  # value -> column 0..20

    def fold(self, histogram: np.ndarray) -> np.ndarray:
        """Sum a 256x256 (ground truth, prediction) histogram into the 20x21 matrix."""
        rows, columns = np.flatnonzero(self.row_of >= 0), np.flatnonzero(self.column_of >= 0)
        row_fold = np.eye(IGNORED_ROW + 1, dtype=np.int64)[self.row_of[rows]]
        column_fold = np.eye(NUM_COLUMNS, dtype=np.int64)[self.column_of[columns]]
        return row_fold.T @ histogram[np.ix_(rows, columns)] @ column_fold

    def invalid(self, histogram: np.ndarray, axis: int) -> list[int]:
        """Values that occur in the input but have no row (axis 1) or column (axis 0)."""
        table = self.row_of if axis == 1 else self.column_of
        return np.flatnonzero((histogram.sum(axis=axis) > 0) & (table < 0)).tolist()


def _train_id_encoding() -> _Encoding:
    table = np.full(256, -1, dtype=np.int64)
    table[:NUM_CLASSES] = np.arange(NUM_CLASSES)
    table[IGNORE_ID] = VOID_COLUMN
    return _Encoding(f"ids de treino 0..{NUM_CLASSES - 1} e {IGNORE_ID}", table, table)


def _label_id_encoding() -> _Encoding:
    """Label ids map through ID_TO_TRAINID; predicted caravan and trailer keep their own column."""
    train_ids = ID_TO_TRAINID[:NUM_LABEL_IDS].astype(np.int64)
    rows = np.full(256, -1, dtype=np.int64)
    rows[:NUM_LABEL_IDS] = np.where(train_ids == IGNORE_ID, IGNORED_ROW, train_ids)
    columns = np.full(256, -1, dtype=np.int64)
    columns[:NUM_LABEL_IDS] = np.where(train_ids == IGNORE_ID, VOID_COLUMN, train_ids)
    for label in LABELS:
        if label.id >= 0 and label.ignore_in_eval and label.has_instances:
            columns[label.id] = VOID_INSTANCE_COLUMN
    return _Encoding(f"ids de rótulo 0..{NUM_LABEL_IDS - 1}", rows, columns)


_TRAIN_IDS = _train_id_encoding()
_LABEL_IDS = _label_id_encoding()


def _as_uint8(array, what: str, encoding: _Encoding) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} deve ser um array de inteiros, recebido {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(f"{what} tem valores fora dos {encoding.description}")
    return array.astype(np.uint8)


def _ratio(numerator, denominator) -> float | None:
    """numerator / denominator as a Python float, None where the denominator is 0."""
    return float(numerator / denominator) if denominator > 0 else None


def _mean(scores) -> float | None:
    """Mean of the defined scores, as getScoreAverage (which skips NaN)."""
    defined = [score for score in scores if score is not None]
    return math.fsum(defined) / len(defined) if defined else None


class ConfusionMatrix:
    """Streaming confusion matrix over the 19 Cityscapes train ids, with instance statistics.

    Rows are ground-truth train ids; columns the predicted train ids 0..18, then "void" (a
    prediction of an ignored id). ``update`` several images, or ``merge`` matrices filled in
    parallel, then ``compute()`` every score of the official script (see the module docstring).
    """

    def __init__(self, num_classes: int = NUM_CLASSES):
        if num_classes != NUM_CLASSES:
            raise ValueError(
                f"num_classes={num_classes}: só os {NUM_CLASSES} ids de treino do Cityscapes "
                "são avaliados"
            )
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        """Forget every image."""
        self.num_images = 0
        self.num_instance_images = 0  # images updated with their instanceIds
        self._matrix = np.zeros((NUM_CLASSES, NUM_COLUMNS), dtype=np.int64)
        # Per train id, summed over instances: avgClassSize / size * (hits, misses).
        self._instance_tp = np.zeros(NUM_CLASSES)
        self._instance_fn = np.zeros(NUM_CLASSES)
        # Per instance category (human, vehicle), the same with category hits.
        self._category_instance_tp = np.zeros(len(INSTANCE_CATEGORY_NAMES))
        self._category_instance_fn = np.zeros(len(INSTANCE_CATEGORY_NAMES))

    @property
    def matrix(self) -> np.ndarray:
        """The 19 x 20 matrix: ground truth x (predicted train id 0..18, void)."""
        return np.column_stack(
            [self._matrix[:, :VOID_COLUMN], self._matrix[:, VOID_COLUMN:].sum(axis=1)]
        )

    def update(self, gt, pred, instances=None) -> None:
        """Add one image (H, W), or a batch (N, H, W), given as train ids (0..18, 255 ignored).

        ``instances`` is the image's official ``_gtFine_instanceIds`` array (label_id * 1000 + k
        inside instances, the plain label id elsewhere), for the instance-weighted scores.
        """
        self._update(gt, pred, instances, _TRAIN_IDS)

    def update_label_ids(self, gt, pred, instances=None) -> None:
        """Add one image or batch given as official label ids (0..33), as ``_gtFine_labelIds.png``.

        The same as ``update`` on the train ids, except that predictions of caravan and trailer
        count for the vehicle category iIoU, as in the official script.
        """
        self._update(gt, pred, instances, _LABEL_IDS)

    def _update(self, gt, pred, instances, encoding: _Encoding) -> None:
        gt = _as_uint8(gt, "gt", encoding)
        pred = _as_uint8(pred, "pred", encoding)
        if gt.shape != pred.shape:
            raise ValueError(f"gt tem forma {gt.shape}, mas pred tem forma {pred.shape}")
        if gt.ndim not in (2, 3):
            raise ValueError(
                f"esperada uma imagem (H, W) ou um lote (N, H, W), recebida a forma {gt.shape}"
            )
        # One bincount over 256 * gt + pred counts every (gt, pred) pair; the validity mask and
        # the id -> train id mapping then apply to this 256x256 histogram instead of each pixel.
        key = (gt.astype(np.uint16) << 8) | pred
        histogram = np.bincount(key.ravel(), minlength=256 * 256).reshape(256, 256)
        for what, axis in (("gt", 1), ("pred", 0)):
            if bad := encoding.invalid(histogram, axis):
                raise ValueError(f"{what} tem valores {bad[:10]} fora dos {encoding.description}")
        counts = encoding.fold(histogram)[:IGNORED_ROW]
        images = 1 if gt.ndim == 2 else gt.shape[0]
        instance_stats = None
        if instances is not None:
            instances = np.asarray(instances)
            if instances.shape != gt.shape:
                raise ValueError(
                    f"instances tem forma {instances.shape}, mas gt tem forma {gt.shape}"
                )
            # image by image: instance ids are unique only within their image
            image_shape = gt.shape[-2:]
            per_image = [
                _instance_statistics(image_instances, image_pred, encoding)
                for image_instances, image_pred in zip(
                    instances.reshape(-1, *image_shape), pred.reshape(-1, *image_shape)
                )
            ]
            instance_stats = [sum(parts) for parts in zip(*per_image)]
        self._matrix += counts
        self.num_images += images
        if instance_stats is not None:
            tp, fn, category_tp, category_fn = instance_stats
            self._instance_tp += tp
            self._instance_fn += fn
            self._category_instance_tp += category_tp
            self._category_instance_fn += category_fn
            self.num_instance_images += images

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add the counts of ``other`` (e.g. filled by another worker) to this one."""
        if not isinstance(other, ConfusionMatrix):
            raise TypeError(f"não é possível juntar um {type(other).__name__} a um ConfusionMatrix")
        self._matrix += other._matrix
        self._instance_tp += other._instance_tp
        self._instance_fn += other._instance_fn
        self._category_instance_tp += other._category_instance_tp
        self._category_instance_fn += other._category_instance_fn
        self.num_images += other.num_images
        self.num_instance_images += other.num_instance_images
        return self

    __iadd__ = merge

    def compute(self) -> dict:
        """Every score, as the metrics of docs/results.md (with per-class precision/recall/f1).

        ``pixel_accuracy`` is correct valid pixels / valid pixels. The official script's own
        per-image pixel statistics (``evalPixelAccuracy``) are not used: they count the ignored
        pixels as the valid ones (``np.in1d(..., invert=True)``) and store the wrong pixels as
        ``nbCorrectPixels``. ``mean_accuracy`` is the mean per-class recall and
        ``fw_iou`` sums each class's IoU weighted by its share of valid ground-truth pixels.
        Instance scores are None unless every image came with its instanceIds.
        """
        if 0 < self.num_instance_images < self.num_images:
            log.warning(
                "só %d de %d imagens vieram com ids de instância: "
                "as métricas de instância ficam indefinidas",
                self.num_instance_images,
                self.num_images,
            )
        with_instances = self.num_images > 0 and self.num_instance_images == self.num_images
        matrix = self._matrix
        tp = np.diag(matrix[:, :NUM_CLASSES])
        gt_pixels = matrix.sum(axis=1)  # includes void predictions: those are false negatives
        fp = matrix[:, :NUM_CLASSES].sum(axis=0) - tp
        fn = gt_pixels - tp
        total = int(gt_pixels.sum())

        iou = {name: _ratio(tp[c], tp[c] + fp[c] + fn[c]) for c, name in enumerate(CLASS_NAMES)}
        instance_iou = {}
        for name, c in zip(INSTANCE_CLASS_NAMES, _INSTANCE_TRAIN_IDS):
            hits, misses = self._instance_tp[c], self._instance_fn[c]
            instance_iou[name] = _ratio(hits, hits + fp[c] + misses) if with_instances else None

        category_iou = {}
        for k, category in enumerate(CATEGORY_NAMES):
            inside = k == TRAINID_TO_CATEGORY
            hits = matrix[np.ix_(inside, inside)].sum()
            misses = matrix[inside].sum() - hits
            false_alarms = matrix[np.ix_(~inside, inside)].sum()
            category_iou[category] = _ratio(hits, hits + false_alarms + misses)
        category_instance_iou = {}
        for k, category in enumerate(INSTANCE_CATEGORY_NAMES):
            outside = CATEGORY_NAMES.index(category) != TRAINID_TO_CATEGORY
            false_alarms = matrix[np.ix_(outside, _INSTANCE_CATEGORY_COLUMNS[k])].sum()
            hits, misses = self._category_instance_tp[k], self._category_instance_fn[k]
            score = _ratio(hits, hits + false_alarms + misses) if with_instances else None
            category_instance_iou[category] = score

        recall = {name: _ratio(tp[c], gt_pixels[c]) for c, name in enumerate(CLASS_NAMES)}
        precision = {name: _ratio(tp[c], tp[c] + fp[c]) for c, name in enumerate(CLASS_NAMES)}
        f1 = {
            name: _ratio(2 * tp[c], 2 * tp[c] + fp[c] + fn[c]) for c, name in enumerate(CLASS_NAMES)
        }
        fw_iou = None
        if total:
            present = [(c, name) for c, name in enumerate(CLASS_NAMES) if gt_pixels[c]]
            fw_iou = math.fsum(gt_pixels[c] / total * iou[name] for c, name in present)
        return {
            "num_images": self.num_images,
            "miou": _mean(iou.values()),
            "iou": iou,
            "iiou": _mean(instance_iou.values()),
            "instance_iou": instance_iou,
            "category_miou": _mean(category_iou.values()),
            "category_iou": category_iou,
            "category_iiou": _mean(category_instance_iou.values()),
            "category_instance_iou": category_instance_iou,
            "pixel_accuracy": _ratio(tp.sum(), total),
            "mean_accuracy": _mean(recall.values()),
            "fw_iou": fw_iou,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "confusion_matrix": self.matrix.tolist(),
        }


def _instance_statistics(instances: np.ndarray, pred: np.ndarray, encoding: _Encoding):
    """Instance-weighted hits and misses of one image, as evaluatePair with evalInstLevelScore.

    One bincount over (instance, predicted column) replaces the official mask per instance.
    Only ids of evaluated classes with instances (24000..33999) count: the official script skips
    plain label ids and instances of ignored classes (caravan, trailer) too.
    Returns per-train-id weighted (tp, fn) and per-instance-category weighted (tp, fn).
    """
    span = _STOP_INSTANCE_ID - _FIRST_INSTANCE_ID
    inside = (instances >= _FIRST_INSTANCE_ID) & (instances < _STOP_INSTANCE_ID)
    instance_index = instances[inside].astype(np.intp) - _FIRST_INSTANCE_ID
    key = instance_index * NUM_COLUMNS + encoding.column_of[pred[inside]]
    counts = np.bincount(key, minlength=span * NUM_COLUMNS).reshape(span, NUM_COLUMNS)
    present = np.flatnonzero(counts.any(axis=1))
    train_ids = _TRAIN_ID_OF_LABEL_ID[(present + _FIRST_INSTANCE_ID) // 1000]
    present, train_ids = present[train_ids >= 0], train_ids[train_ids >= 0]
    hits_by_column = counts[present]  # instance x predicted column

    sizes = hits_by_column.sum(axis=1)
    weights = _AVERAGE_SIZE_BY_TRAIN_ID[train_ids] / sizes
    hits = hits_by_column[np.arange(len(present)), train_ids]
    tp = np.bincount(train_ids, weights=hits * weights, minlength=NUM_CLASSES)
    fn = np.bincount(train_ids, weights=(sizes - hits) * weights, minlength=NUM_CLASSES)

    categories = _INSTANCE_CATEGORY_OF_TRAIN_ID[train_ids]
    category_hits = (hits_by_column * _INSTANCE_CATEGORY_COLUMNS[categories]).sum(axis=1)
    num_categories = len(INSTANCE_CATEGORY_NAMES)
    category_tp = np.bincount(categories, weights=category_hits * weights, minlength=num_categories)
    category_fn = np.bincount(
        categories, weights=(sizes - category_hits) * weights, minlength=num_categories
    )
    return tp, fn, category_tp, category_fn


def majority_baseline(confusion_matrix, train_id: int) -> dict:
    """Scores of predicting ``train_id`` on every valid pixel: the floor a model must beat.

    Exact from any confusion matrix of the same ground truth, because its row sums (pixels per
    ground-truth class) do not depend on the prediction: the chosen class has
    IoU = its pixels / all valid pixels, every other class present in the ground truth IoU 0,
    and classes absent from it are undefined and left out of the mean, as in ``compute``.
    """
    rows = np.asarray(confusion_matrix, dtype=np.int64).sum(axis=1)
    total = int(rows.sum())
    iou = [
        (_ratio(int(rows[c]), total) if c == train_id else (0.0 if rows[c] else None))
        for c in range(len(rows))
    ]
    return {
        "class": CLASS_NAMES[train_id],
        "miou": _mean(iou),
        "pixel_accuracy": _ratio(int(rows[train_id]), total),
    }
