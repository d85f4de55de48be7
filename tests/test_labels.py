"""urbanseg.labels against the official table of cityscapesScripts."""

import numpy as np
import pytest
from cityscapesscripts.helpers import labels as official

from urbanseg import labels


def test_every_row_matches_the_official_table():
    assert len(labels.LABELS) == len(official.labels) == 35
    for ours, theirs in zip(labels.LABELS, official.labels):
        assert (ours.name, ours.id, ours.train_id, ours.category, ours.category_id) == (
            theirs.name,
            theirs.id,
            theirs.trainId,
            theirs.category,
            theirs.categoryId,
        )
        assert (ours.has_instances, ours.ignore_in_eval, ours.color) == (
            theirs.hasInstances,
            theirs.ignoreInEval,
            theirs.color,
        )


def test_id_to_train_id_matches_official_for_every_byte():
    for value in range(256):
        label = official.id2label.get(value)
        expected = label.trainId if label is not None and not label.ignoreInEval else 255
        assert labels.ID_TO_TRAINID[value] == expected, value
    assert labels.ID_TO_TRAINID.dtype == np.uint8 and labels.ID_TO_TRAINID.shape == (256,)


def test_train_id_round_trip_and_names():
    assert labels.CLASS_NAMES[0] == "road" and labels.CLASS_NAMES[-1] == "bicycle"
    assert len(labels.CLASS_NAMES) == 19
    assert labels.CATEGORY_NAMES == (
        "flat",
        "construction",
        "object",
        "nature",
        "sky",
        "human",
        "vehicle",
    )
    for train_id, name in enumerate(labels.CLASS_NAMES):
        assert official.trainId2label[train_id].name == name
        assert labels.TRAINID_TO_ID[train_id] == official.name2label[name].id
    ids = np.arange(34, dtype=np.uint8)
    evaluated = labels.labels_to_train_ids(ids) != 255
    assert np.array_equal(
        labels.train_ids_to_labels(labels.labels_to_train_ids(ids))[evaluated], ids[evaluated]
    )
    assert labels.train_ids_to_labels(np.array([255]))[0] == 0


def test_instance_classes_are_the_official_ones():
    expected = [
        label.name for label in official.labels if label.hasInstances and not label.ignoreInEval
    ]
    assert list(labels.INSTANCE_CLASS_NAMES) == expected
    assert labels.INSTANCE_CATEGORY_NAMES == ("human", "vehicle")


def test_colorize_uses_the_palette_and_blacks_out_ignored():
    mask = np.array([[0, 10], [255, 18]], dtype=np.uint8)
    rgb = labels.colorize(mask)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (128, 64, 128)  # road
    assert tuple(rgb[0, 1]) == (70, 130, 180)  # sky
    assert tuple(rgb[1, 0]) == (0, 0, 0)
    assert tuple(rgb[1, 1]) == (119, 11, 32)  # bicycle
    assert tuple(labels.colorize_label_ids(np.array([5]))[0]) == (111, 74, 0)  # dynamic


@pytest.mark.parametrize("name", labels.CLASS_NAMES)
def test_palette_row_is_the_official_colour(name):
    assert tuple(labels.PALETTE[labels.CLASS_NAMES.index(name)]) == official.name2label[name].color
