"""Cityscapes on disk: find image/label pairs, decode them, and stream them through tf.data.

The tree is the official one (Cordts et al. 2016, arXiv 1604.01685)::

    ROOT/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    ROOT/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_{labelIds,instanceIds,color}.png

Images and labels are paired by their stem ``city_seq_frame``, never by sorted position, and the
split is the official one, by folder. TensorFlow is imported only by the input pipeline.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import InputError
from .labels import NUM_LABEL_IDS, labels_to_train_ids

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
COLOR_SUFFIX = "_gtFine_color.png"
POLYGON_SUFFIX = "_gtFine_polygons.json"
STEM_PATTERN = re.compile(r"([A-Za-z]+(?:_[A-Za-z]+)*_\d{6}_\d{6})")


@dataclass(frozen=True)
class Sample:
    """One frame of a split: its stem (``city_seq_frame``), city and files."""

    stem: str
    city: str
    split: str
    image: Path
    label: Path | None  # *_gtFine_labelIds.png; None where the split ships no labels
    instances: Path | None  # *_gtFine_instanceIds.png, when present


def _stems(folder: Path, suffix: str) -> dict[str, Path]:
    return {p.name[: -len(suffix)]: p for p in folder.glob(f"*/*{suffix}")}


def _short_list(items, limit: int = 5) -> str:
    items = sorted(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def find_samples(root: str | Path, split: str, *, require_labels: bool = True) -> list[Sample]:
    """Every image of ``split`` with its label files, sorted by stem.

    Raises InputError when the root or the split folder is missing, or when an image has no
    label or a label no image (naming the stems).
    """
    root = Path(root)
    if split not in SPLITS:
        raise InputError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    if not root.is_dir():
        raise InputError(f"{root}: Cityscapes root not found")
    image_dir, label_dir = root / "leftImg8bit" / split, root / "gtFine" / split
    if not image_dir.is_dir():
        raise InputError(f"{image_dir}: split folder not found (expected ROOT/leftImg8bit/{split}/<city>/)")
    images = _stems(image_dir, IMAGE_SUFFIX)
    if not images:
        raise InputError(f"{image_dir}: no *{IMAGE_SUFFIX} images")
    labels = _stems(label_dir, LABEL_SUFFIX) if label_dir.is_dir() else {}
    if require_labels:
        if not label_dir.is_dir():
            raise InputError(f"{label_dir}: split folder not found (expected ROOT/gtFine/{split}/<city>/)")
        if missing := images.keys() - labels.keys():
            raise InputError(f"{label_dir}: no {LABEL_SUFFIX} for image(s) {_short_list(missing)}")
        if orphans := labels.keys() - images.keys():
            raise InputError(f"{image_dir}: no {IMAGE_SUFFIX} for label(s) {_short_list(orphans)}")
    instances = _stems(label_dir, INSTANCE_SUFFIX) if label_dir.is_dir() else {}
    return [
        Sample(stem, path.parent.name, split, path, labels.get(stem), instances.get(stem))
        for stem, path in sorted(images.items())
    ]


def select_samples(samples: list[Sample], max_images: int | None, seed: int = 0) -> list[Sample]:
    """At most ``max_images`` samples, the same for a seed, spread evenly over the cities."""
    if max_images is None or max_images >= len(samples):
        return list(samples)
    if max_images < 1:
        raise InputError(f"max_images={max_images}: must be at least 1 (or None for all)")
    rng = random.Random(seed)
    by_city: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_city[sample.city].append(sample)
    queues = []
    for city in sorted(by_city):
        queue = list(by_city[city])
        rng.shuffle(queue)
        queues.append(queue)
    chosen: list[Sample] = []
    while len(chosen) < max_images:
        for queue in queues:
            if queue and len(chosen) < max_images:
                chosen.append(queue.pop())
    return sorted(chosen, key=lambda s: s.stem)


def stem_of(path: str | Path) -> str | None:
    """The ``city_seq_frame`` part of a Cityscapes file name, or None."""
    match = STEM_PATTERN.search(Path(path).name)
    return match.group(1) if match else None


def read_png(path: str | Path, *, mode: str | None = None) -> np.ndarray:
    """Decode a PNG to a numpy array; InputError naming the file if it is missing or corrupt.

    ``mode`` ("RGB", "L", "I") checks the PNG's mode family: an "L" label must be single-channel.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if mode == "RGB" and image.mode != "RGB":
                image = image.convert("RGB")
            elif mode == "L" and image.mode not in ("L", "P", "I", "I;16"):
                raise InputError(f"{path}: expected a single-channel PNG, found mode {image.mode}")
            return np.asarray(image)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: not a readable PNG ({error})") from None


def read_label_ids(path: str | Path) -> np.ndarray:
    """A ``_gtFine_labelIds.png`` as uint8; InputError if it has ids outside 0..33."""
    ids = read_png(path, mode="L")
    if ids.ndim != 2:
        raise InputError(f"{path}: expected a single-channel label PNG, found shape {ids.shape}")
    if ids.size and int(ids.max()) >= NUM_LABEL_IDS:
        bad = sorted(set(np.unique(ids[ids >= NUM_LABEL_IDS]).tolist()))
        raise InputError(f"{path}: label ids {_short_list(map(str, bad))} outside 0..{NUM_LABEL_IDS - 1}")
    return ids.astype(np.uint8)


def read_train_ids(path: str | Path) -> np.ndarray:
    """A labelIds PNG mapped to train ids (0..18, 255 ignored)."""
    return labels_to_train_ids(read_label_ids(path))
