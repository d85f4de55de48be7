"""Losses on logits, backend-agnostic (``keras.ops``)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .labels import IGNORE_ID


@keras.saving.register_keras_serializable(package="urbanseg")
class SegmentationCrossEntropy(keras.losses.Loss):
    """Pixel-wise softmax cross-entropy on logits that ignores ``ignore_index`` pixels.

    With ``class_weights`` (one per class), each pixel's loss is weighted by its class's weight
    and the sum is divided by the summed weights, as PyTorch's ``CrossEntropyLoss(weight=...)``.
    Without, it is the mean over the valid pixels of the batch.
    """

    def __init__(
        self,
        class_weights=None,
        ignore_index: int = IGNORE_ID,
        name: str = "segmentation_cross_entropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.ignore_index = int(ignore_index)

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):  # (B, H, W, 1) masks
            labels = ops.squeeze(labels, axis=-1)
        valid = ops.not_equal(labels, self.ignore_index)
        safe_labels = ops.where(valid, labels, ops.zeros_like(labels))
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.squeeze(
            ops.take_along_axis(log_probs, ops.expand_dims(safe_labels, -1), axis=-1), -1
        )
        weights = ops.cast(valid, "float32")
        if self.class_weights is not None:
            table = ops.convert_to_tensor(np.asarray(self.class_weights, "float32"))
            weights = weights * ops.take(table, safe_labels)
        return _replica_share(ops.sum(nll * weights) / ops.maximum(ops.sum(weights), 1e-6))

    def get_config(self):
        return {
            **super().get_config(),
            "class_weights": self.class_weights,
            "ignore_index": self.ignore_index,
        }


def _replica_share(loss):
    """``loss`` divided by the number of replicas when computed in one of several
    ``tf.distribute`` replicas, whose gradients are then summed: the step is the whole batch's
    mean, as on one device. Keras does this for its own losses' reductions, not for a loss that
    reduces itself; it logs the loss multiplied back. Other backends: ``loss`` unchanged."""
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replica = tf.distribute.get_replica_context()  # None in the cross-replica context
    if replica is None or replica.num_replicas_in_sync == 1:
        return loss
    return loss / replica.num_replicas_in_sync


def median_frequency_weights(pixel_counts, image_counts=None) -> np.ndarray:
    """Median-frequency class balancing (Eigen & Fergus 2015, arXiv 1411.4734), as SegNet uses.

    ``freq[c] = pixels of c / total pixels of the images where c appears``;
    ``weight[c] = median(freq) / freq[c]``. Classes never seen get weight 0 (they cannot be
    learnt from this data, and a huge weight would only add noise). ``image_counts[c]`` is the
    number of pixels of the images containing ``c``; without it the plain frequency is used.
    """
    counts = np.asarray(pixel_counts, dtype=np.float64)
    totals = counts.sum() if image_counts is None else np.asarray(image_counts, dtype=np.float64)
    present = counts > 0
    freq = np.zeros_like(counts)
    freq[present] = counts[present] / np.broadcast_to(totals, counts.shape)[present]
    weights = np.zeros_like(counts)
    if present.any():
        weights[present] = np.median(freq[present]) / freq[present]
    return weights.astype(np.float32)
