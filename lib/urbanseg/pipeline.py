"""The input pipeline: batches streamed from the on-disk cache with ``tf.data``, and the training
augmentation of the papers' recipe (MMSegmentation's Cityscapes pipeline):

- a random rescale of the cached image by a factor in ``scale_range`` (0.5-2.0 in the recipe;
  cache the images at full resolution for it: image_height=1024, image_width=2048);
- a random crop of ``crop`` (512 x 1024), padding the image with 0 and the mask with 255 where
  the rescaled image is smaller, and, with ``cat_max_ratio`` < 1, up to ten tries for a crop in
  which no class covers more than that share of the labelled pixels (0.75; the last try is
  kept when none qualifies);
- a random horizontal flip;
- photometric distortion: brightness (±32), contrast (×0.5-1.5), saturation (×0.5-1.5) and
  hue (±18 of 180), each with probability 0.5, in that order.

Images stay uint8 on disk and in the pipeline (memory does not grow with the number of
images); each batch is cast to float32 only when it is produced. The order of each pass over
the training images and the augmentation of each of its images are stateless random functions of
the run's seed and the pass (``_training_stream``), so that a run is repeatable and a run resumed
at any step sees the batches an uninterrupted one would. TensorFlow is imported here only: the
models, losses and training step do not need it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .data import Sample, build_cache

log = logging.getLogger(__name__)

CROP_TRIES = 10  # MMSegmentation's RandomCrop tries this many crops for cat_max_ratio


@dataclass(frozen=True)
class Augmentation:
    """What the training batches go through (see the module docstring)."""

    scale_range: tuple[float, float] = (0.75, 1.5)
    crop: tuple[int, int] | None = None  # (H, W); None: the cached size
    cat_max_ratio: float = 1.0  # 1: any crop
    flip: bool = True
    photometric: bool = False


def data_tensorflow():
    """TensorFlow for the input pipeline. Under another Keras backend (JAX, PyTorch) it is only
    the data loader, so it is kept off the GPUs: a CUDA build of TensorFlow would otherwise take
    most of their memory when it starts, and the backend's training would run out of it."""
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow already started (its devices are fixed): leave them
            log.debug("o TensorFlow já tinha iniciado; suas GPUs continuam visíveis para ele")
    return tf


def make_dataset(
    samples: list[Sample],
    size: tuple[int, int],
    batch_size: int,
    *,
    training: bool = False,
    seed: int = 0,
    augmentation: Augmentation = Augmentation(),
    cache_dir: str | Path | None = None,
    targets: int = 1,
    repeat: bool | None = None,
    first_step: int = 0,
    progress: bool = True,
):
    """A ``tf.data.Dataset`` of ``(float32 image in [0, 255], int32 train ids)`` batches of the
    ``samples`` cached at ``size`` (H, W); with ``targets`` > 1, the train ids once per model
    output (a model with auxiliary heads).

    With ``training``: reshuffled every pass, ``augmentation`` applied (the batches then have
    its crop's size), full batches only (one short batch per pass when there are fewer images
    than ``batch_size``), starting at batch ``first_step`` of the stream (a resumed run's
    optimizer step). ``repeat`` (default: ``training``): endless, for a number of optimizer steps
    that need not be a whole number of passes.
    """
    tf = data_tensorflow()
    height, width = size
    image_paths, mask_paths = build_cache(samples, size, cache_dir=cache_dir, progress=progress)

    def load(image_path, mask_path):
        image = tf.io.decode_png(tf.io.read_file(image_path), channels=3)
        mask = tf.io.decode_png(tf.io.read_file(mask_path), channels=1)
        image.set_shape((height, width, 3))
        mask.set_shape((height, width, 1))
        return image, mask

    def augment(pair, seeds):
        return _augment(tf, *pair, seeds, size, augmentation)

    def to_model(image, mask):
        mask = tf.cast(mask[..., 0], tf.int32)
        return tf.cast(image, tf.float32), mask if targets == 1 else (mask,) * targets

    repeat = training if repeat is None else repeat
    if training:
        batch_size = min(batch_size, len(samples))  # fewer images: one short batch per pass
        dataset = _training_stream(
            tf, image_paths, mask_paths, batch_size, seed, first_step, repeat
        ).map(
            lambda image, mask, seeds: augment(load(image, mask), seeds),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        dataset = dataset.batch(batch_size, drop_remainder=True)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((image_paths, mask_paths))
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    dataset = dataset.map(to_model, num_parallel_calls=tf.data.AUTOTUNE)
    if repeat and not training:
        dataset = dataset.repeat()
    return dataset.prefetch(tf.data.AUTOTUNE)


def _training_stream(tf, image_paths, mask_paths, batch_size, seed, first_step=0, repeat=True):
    """``(image path, mask path, augmentation seeds)`` of the training images, pass after pass,
    from batch ``first_step`` on. Pass ``p`` is the images in the order of a stateless shuffle
    keyed by ``(seed, p)``, cut to a whole number of batches; its ``j``-th image's augmentation
    seeds are keyed by ``(seed, p, j)``: neither depends on what was drawn before, so the stream
    from any step is the same whether or not the run stopped before it (exact resumption)."""
    count = len(image_paths)
    per_pass = count // batch_size  # batches
    first_pass, skipped = divmod(int(first_step), per_pass)
    images, masks = tf.constant(image_paths), tf.constant(mask_paths)
    order_key = tf.constant([seed, 0], tf.int64)
    image_key = tf.constant([seed, 1], tf.int64)

    def one_pass(index):
        order = tf.argsort(
            tf.random.stateless_uniform(
                (count,), tf.random.experimental.stateless_fold_in(order_key, index)
            )
        )[: per_pass * batch_size]
        pass_key = tf.random.experimental.stateless_fold_in(image_key, index)
        positions = tf.range(per_pass * batch_size, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices(
            (tf.gather(images, order), tf.gather(masks, order), positions)
        ).map(lambda image, mask, j: (image, mask, _augmentation_seeds(tf, pass_key, j)))

    passes = tf.data.Dataset.range(first_pass, first_pass + 1 if not repeat else 2**62)
    return passes.flat_map(one_pass).skip(skipped * batch_size)


def _augmentation_seeds(tf, key, position):
    """One image's seeds of the stateless random ops of ``_augment`` (one pair per _SEEDS)."""
    image_key = tf.random.experimental.stateless_fold_in(key, position)
    return tf.random.stateless_uniform(
        (len(_SEEDS), 2), image_key, minval=None, maxval=None, dtype=tf.int64
    )


_SEEDS = ("flip", "scale", "crop", "photometric_apply", "photometric_values", "spare")


def _augment(tf, image, mask, seeds, size, augmentation: Augmentation):
    """One training pair: rescale, crop (cat_max_ratio), flip, photometric distortion."""
    seed = dict(zip(_SEEDS, tf.unstack(seeds)))
    crop_height, crop_width = augmentation.crop or size
    low, high = augmentation.scale_range
    scale = tf.random.stateless_uniform((), seed["scale"], low, high)
    new_size = tf.cast(tf.math.ceil(scale * tf.constant(size, tf.float32)), tf.int32)
    image = tf.image.resize(image, new_size, method="bilinear")
    mask = tf.image.resize(mask, new_size, method="nearest")
    # pad (image 0, mask 255) to at least the crop size
    pad_h = tf.maximum(crop_height - new_size[0], 0)
    pad_w = tf.maximum(crop_width - new_size[1], 0)
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    mask = tf.pad(tf.cast(mask, tf.int32) - 255, [[0, pad_h], [0, pad_w], [0, 0]]) + 255
    top, left = _crop_corner(tf, mask, crop_height, crop_width, seed["crop"], augmentation)
    image = image[top : top + crop_height, left : left + crop_width]
    mask = mask[top : top + crop_height, left : left + crop_width]
    if augmentation.flip and tf.random.stateless_uniform((), seed["flip"]) < 0.5:
        image, mask = tf.image.flip_left_right(image), tf.image.flip_left_right(mask)
    if augmentation.photometric:
        image = _photometric(tf, image, seed["photometric_apply"], seed["photometric_values"])
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    image.set_shape((crop_height, crop_width, 3))
    mask = tf.cast(mask, tf.uint8)
    mask.set_shape((crop_height, crop_width, 1))
    return image, mask


def _crop_corner(tf, mask, crop_height, crop_width, seed, augmentation: Augmentation):
    """The top-left corner of the crop: the first of CROP_TRIES random corners whose crop has
    more than one class and none above ``cat_max_ratio`` of its labelled pixels, else the last
    (MMSegmentation's RandomCrop); the first corner when there is no such rule."""
    shape = tf.shape(mask)
    tops = tf.random.stateless_uniform(
        (CROP_TRIES,), seed, 0, shape[0] - crop_height + 1, dtype=tf.int32
    )
    lefts = tf.random.stateless_uniform(
        (CROP_TRIES,), seed[::-1], 0, shape[1] - crop_width + 1, dtype=tf.int32
    )
    if augmentation.cat_max_ratio >= 1:
        return tops[0], lefts[0]

    def acceptable(corner):
        crop = mask[corner[0] : corner[0] + crop_height, corner[1] : corner[1] + crop_width]
        labels = tf.boolean_mask(crop, crop != 255)
        counts = tf.math.bincount(labels, minlength=256)
        total = tf.maximum(tf.reduce_sum(counts), 1)
        classes = tf.math.count_nonzero(counts)
        share = tf.cast(tf.reduce_max(counts), tf.float32) / tf.cast(total, tf.float32)
        return (classes > 1) & (share < augmentation.cat_max_ratio)

    corners = tf.stack([tops, lefts], axis=1)
    good = tf.map_fn(acceptable, corners, fn_output_signature=tf.bool)
    index = tf.where(tf.reduce_any(good), tf.argmax(tf.cast(good, tf.int32)), CROP_TRIES - 1)
    return tops[index], lefts[index]


def _photometric(tf, image, apply_seed, value_seed):
    """MMSegmentation's PhotoMetricDistortion on a float image in [0, 255]."""
    apply = tf.random.stateless_uniform((4,), apply_seed) < 0.5
    values = tf.random.stateless_uniform((4,), value_seed)
    brightness = -32.0 + 64.0 * values[0]
    contrast = 0.5 + values[1]
    saturation = 0.5 + values[2]
    hue = (-18.0 + 36.0 * values[3]) / 180.0  # OpenCV's hue spans 180; TensorFlow's spans 1
    image = tf.where(apply[0], image + brightness, image)
    image = tf.clip_by_value(tf.where(apply[1], image * contrast, image), 0.0, 255.0)
    unit = image / 255.0
    unit = tf.where(apply[2], tf.image.adjust_saturation(unit, saturation), unit)
    unit = tf.where(apply[3], tf.image.adjust_hue(unit, hue), unit)
    return unit * 255.0
