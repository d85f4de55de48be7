"""The training augmentation of the papers' recipe: crops of the full-resolution cache, the
75 % rule, photometric distortion."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_pair

from urbanseg import data
from urbanseg.pipeline import Augmentation, make_dataset


def batches(samples, augmentation, count=8, seed=0, size=(32, 64)):
    dataset = make_dataset(
        samples, size, 2, training=True, seed=seed, augmentation=augmentation, progress=False
    )
    pairs = [(image.numpy().astype(np.uint8), mask.numpy()) for image, mask in dataset.take(count)]
    return [(i, m) for images, masks in pairs for i, m in zip(images, masks)]


def find(crop: np.ndarray, originals: list[np.ndarray]) -> list[tuple[int, int, int]]:
    """Where ``crop`` sits in the ``originals``: (which, top, left) for every exact match."""
    height, width = crop.shape[:2]
    return [
        (k, top, left)
        for k, original in enumerate(originals)
        for top in range(original.shape[0] - height + 1)
        for left in range(original.shape[1] - width + 1)
        if np.array_equal(original[top : top + height, left : left + width], crop)
    ]


def test_a_crop_at_scale_one_is_a_region_of_the_full_resolution_image(tiny_tree):
    samples = data.find_samples(tiny_tree, "train")
    pairs = [data.load_pair(sample) for sample in samples]  # the originals, 32 x 64
    plain = Augmentation(scale_range=(1.0, 1.0), crop=(16, 32), flip=False)
    corners = set()
    for image, mask in batches(samples, plain):
        assert image.shape == (16, 32, 3) and mask.shape == (16, 32)
        where = find(image, [p[0] for p in pairs])
        assert where, "the crop is not a region of any original image"
        k, top, left = where[0]
        np.testing.assert_array_equal(mask, pairs[k][1][top : top + 16, left : left + 32])
        corners.add((top, left))
    assert len(corners) > 3  # the corner is random


@pytest.fixture
def road_heavy(tmp_path):
    """Images whose left 36 columns are road: a 16 x 32 crop starting before column 13 is more
    than 75 % road."""
    rng = np.random.default_rng(0)
    for index in range(4):
        ids = np.full((32, 64), 7, np.uint8)  # road
        ids[:, 36:] = rng.choice([11, 21, 23, 26], size=(32, 28))  # building, vegetation, sky, car
        write_pair(tmp_path / "tree", "train", "aachen", index, ids)
    return data.find_samples(tmp_path / "tree", "train")


def largest_share(mask: np.ndarray) -> float:
    labels = mask[mask != 255]
    return np.bincount(labels).max() / labels.size


def test_no_crop_is_more_than_75_percent_one_class_when_another_can_be_found(road_heavy):
    free = Augmentation(scale_range=(1.0, 1.0), crop=(16, 32), flip=False)
    ruled = Augmentation(scale_range=(1.0, 1.0), crop=(16, 32), flip=False, cat_max_ratio=0.75)
    shares_free = [largest_share(m) for _, m in batches(road_heavy, free, count=16)]
    shares_ruled = [largest_share(m) for _, m in batches(road_heavy, ruled, count=16)]
    assert sum(s >= 0.75 for s in shares_free) >= 5  # without the rule, many road crops
    assert max(shares_ruled) < 0.75


def test_photometric_distortion_changes_colours_only(tiny_tree):
    samples = data.find_samples(tiny_tree, "train")
    plain = Augmentation(scale_range=(1.0, 1.0), flip=False)
    distorted = Augmentation(scale_range=(1.0, 1.0), flip=False, photometric=True)
    before, after = batches(samples, plain, count=6), batches(samples, distorted, count=6)
    for (image, mask), (changed, same_mask) in zip(before, after):
        np.testing.assert_array_equal(mask, same_mask)
        assert changed.dtype == np.uint8 and changed.shape == image.shape
    assert sum(not np.array_equal(a[0], b[0]) for a, b in zip(before, after)) >= 4


def test_rescaled_images_are_padded_with_void_below_the_crop_size(tiny_tree):
    samples = data.find_samples(tiny_tree, "train")
    shrink = Augmentation(scale_range=(0.5, 0.5), crop=(32, 64), flip=False)
    for image, mask in batches(samples, shrink, count=3):
        assert (mask[16:] == 255).all() and (mask[:, 32:] == 255).all()  # half size, then pad
        assert (image[16:] == 0).all() and (mask[:16, :32] != 255).any()


def test_tensorflow_keeps_off_the_gpus_when_it_only_loads_data(monkeypatch):
    import keras
    import tensorflow as tf

    from urbanseg.pipeline import data_tensorflow

    hidden = []
    monkeypatch.setattr(tf.config, "set_visible_devices", lambda *a: hidden.append(a))
    assert data_tensorflow() is tf and hidden == []  # the Keras backend itself: its GPUs
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    data_tensorflow()
    assert hidden == [([], "GPU")]

    def started(*_):
        raise RuntimeError("Visible devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config, "set_visible_devices", started)
    assert data_tensorflow() is tf  # too late to hide them: carries on
