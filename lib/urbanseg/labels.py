"""The official Cityscapes label table and the lookups derived from it.

The table is the one of cityscapesScripts' ``helpers/labels.py`` (Cordts et al. 2016,
arXiv 1604.01685); ``tests/test_labels.py`` checks every row against that package.
The benchmark evaluates the 19 *train ids*; every other id maps to 255 (ignored).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

IGNORE_ID = 255
NUM_CLASSES = 19


class Label(NamedTuple):
    name: str
    id: int  # value in *_gtFine_labelIds.png
    train_id: int  # 0..18 evaluated, 255 ignored, -1 for the license plate
    category: str
    category_id: int
    has_instances: bool  # instanceIds hold id*1000+k for this label
    ignore_in_eval: bool
    color: tuple[int, int, int]


# fmt: off
LABELS: tuple[Label, ...] = (
    #      name                    id  trainId  category        catId  instances ignore  color
    Label("unlabeled",              0,  255, "void",            0, False, True,  (0, 0, 0)),
    Label("ego vehicle",            1,  255, "void",            0, False, True,  (0, 0, 0)),
    Label("rectification border",   2,  255, "void",            0, False, True,  (0, 0, 0)),
    Label("out of roi",             3,  255, "void",            0, False, True,  (0, 0, 0)),
    Label("static",                 4,  255, "void",            0, False, True,  (0, 0, 0)),
    Label("dynamic",                5,  255, "void",            0, False, True,  (111, 74, 0)),
    Label("ground",                 6,  255, "void",            0, False, True,  (81, 0, 81)),
    Label("road",                   7,    0, "flat",            1, False, False, (128, 64, 128)),
    Label("sidewalk",               8,    1, "flat",            1, False, False, (244, 35, 232)),
    Label("parking",                9,  255, "flat",            1, False, True,  (250, 170, 160)),
    Label("rail track",            10,  255, "flat",            1, False, True,  (230, 150, 140)),
    Label("building",              11,    2, "construction",    2, False, False, (70, 70, 70)),
    Label("wall",                  12,    3, "construction",    2, False, False, (102, 102, 156)),
    Label("fence",                 13,    4, "construction",    2, False, False, (190, 153, 153)),
    Label("guard rail",            14,  255, "construction",    2, False, True,  (180, 165, 180)),
    Label("bridge",                15,  255, "construction",    2, False, True,  (150, 100, 100)),
    Label("tunnel",                16,  255, "construction",    2, False, True,  (150, 120, 90)),
    Label("pole",                  17,    5, "object",          3, False, False, (153, 153, 153)),
    Label("polegroup",             18,  255, "object",          3, False, True,  (153, 153, 153)),
    Label("traffic light",         19,    6, "object",          3, False, False, (250, 170, 30)),
    Label("traffic sign",          20,    7, "object",          3, False, False, (220, 220, 0)),
    Label("vegetation",            21,    8, "nature",          4, False, False, (107, 142, 35)),
    Label("terrain",               22,    9, "nature",          4, False, False, (152, 251, 152)),
    Label("sky",                   23,   10, "sky",             5, False, False, (70, 130, 180)),
    Label("person",                24,   11, "human",           6, True,  False, (220, 20, 60)),
    Label("rider",                 25,   12, "human",           6, True,  False, (255, 0, 0)),
    Label("car",                   26,   13, "vehicle",         7, True,  False, (0, 0, 142)),
    Label("truck",                 27,   14, "vehicle",         7, True,  False, (0, 0, 70)),
    Label("bus",                   28,   15, "vehicle",         7, True,  False, (0, 60, 100)),
    Label("caravan",               29,  255, "vehicle",         7, True,  True,  (0, 0, 90)),
    Label("trailer",               30,  255, "vehicle",         7, True,  True,  (0, 0, 110)),
    Label("train",                 31,   16, "vehicle",         7, True,  False, (0, 80, 100)),
    Label("motorcycle",            32,   17, "vehicle",         7, True,  False, (0, 0, 230)),
    Label("bicycle",               33,   18, "vehicle",         7, True,  False, (119, 11, 32)),
    Label("license plate",         -1,   -1, "vehicle",         7, False, True,  (0, 0, 142)),
)
# fmt: on

NUM_LABEL_IDS = 34  # valid values of a labelIds PNG: 0..33

NAME_TO_LABEL = {label.name: label for label in LABELS}
ID_TO_LABEL = {label.id: label for label in LABELS if label.id >= 0}

EVAL_LABELS = tuple(
    sorted(
        (label for label in LABELS if not label.ignore_in_eval), key=lambda label: label.train_id
    )
)
CLASS_NAMES: tuple[str, ...] = tuple(label.name for label in EVAL_LABELS)
CATEGORY_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(label.category for label in EVAL_LABELS)
)  # flat, construction, object, nature, sky, human, vehicle
INSTANCE_CLASS_NAMES: tuple[str, ...] = tuple(
    label.name for label in EVAL_LABELS if label.has_instances
)
INSTANCE_CATEGORY_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(label.category for label in EVAL_LABELS if label.has_instances)
)  # human, vehicle

# Lookup tables; index with a uint8 array: ID_TO_TRAINID[label_ids] -> train ids.
ID_TO_TRAINID = np.full(256, IGNORE_ID, dtype=np.uint8)
for _label in LABELS:
    if _label.id >= 0 and not _label.ignore_in_eval:
        ID_TO_TRAINID[_label.id] = _label.train_id

TRAINID_TO_ID = np.zeros(256, dtype=np.uint8)  # 255 (ignored) -> 0 (unlabeled)
for _label in EVAL_LABELS:
    TRAINID_TO_ID[_label.train_id] = _label.id

TRAINID_TO_CATEGORY = np.array(
    [CATEGORY_NAMES.index(label.category) for label in EVAL_LABELS], np.int64
)

PALETTE = np.array([label.color for label in EVAL_LABELS], dtype=np.uint8)  # 19 x 3
IGNORE_COLOR = (0, 0, 0)


def labels_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a labelIds array (0..33) to train ids (0..18, 255 for ignored ids), as uint8."""
    return ID_TO_TRAINID[np.asarray(label_ids, dtype=np.uint8)]


def train_ids_to_labels(train_ids: np.ndarray) -> np.ndarray:
    """Map train ids (0..18; anything else is ignored) to official label ids, as uint8."""
    return TRAINID_TO_ID[np.asarray(train_ids).astype(np.uint8)]


def colorize(
    train_ids: np.ndarray, ignore_color: tuple[int, int, int] = IGNORE_COLOR
) -> np.ndarray:
    """RGB uint8 image (..., 3) of a train-id mask in the official colours; ignored pixels black."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:] = ignore_color
    table[:NUM_CLASSES] = PALETTE
    return table[np.asarray(train_ids).astype(np.uint8)]


def colorize_label_ids(label_ids: np.ndarray) -> np.ndarray:
    """RGB uint8 image of a labelIds mask, as Cityscapes' ``_gtFine_color.png`` draws it."""
    table = np.zeros((256, 3), dtype=np.uint8)
    for label in LABELS:
        if label.id >= 0:
            table[label.id] = label.color
    return table[np.asarray(label_ids, dtype=np.uint8)]
