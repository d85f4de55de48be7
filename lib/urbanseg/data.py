"""Cityscapes on disk: find image/label pairs, decode them, and cache them resized (the
batches are streamed from that cache by ``urbanseg.pipeline``).

The tree is the official one (Cordts et al. 2016, arXiv 1604.01685)::

    ROOT/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    ROOT/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_{labelIds,instanceIds,color}.png

Images and labels are paired by their stem ``city_seq_frame``, never by sorted position, and the
split is the official one, by folder. Nothing here imports TensorFlow (``read_rgb`` uses it
where the caller has).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import random
import re
import shutil
import sys
import tempfile
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .atomic import file_lock, write_atomically
from .errors import InputError
from .labels import NUM_LABEL_IDS, labels_to_train_ids
from .progress import progress_bar

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"
COLOR_SUFFIX = "_gtFine_color.png"
POLYGON_SUFFIX = "_gtFine_polygons.json"
STEM_PATTERN = re.compile(r"([A-Za-z-]+_\d{6}_\d{6})")


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
    return index_stems(folder, suffix)[0]


def index_stems(folder: Path, suffix: str) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """The files ``folder/<city>/<stem><suffix>`` by stem, and the stems found in several city
    folders (a frame copied into a second city: which one a run reads would be arbitrary),
    each with all its paths, sorted."""
    found: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(folder.glob(f"*/*{suffix}")):
        found[path.name[: -len(suffix)]].append(path)
    stems = {stem: paths[0] for stem, paths in found.items()}
    return stems, {stem: paths for stem, paths in found.items() if len(paths) > 1}


def duplicate_message(stem: str, paths: list[Path]) -> str:
    """One line naming a stem found in several city folders."""
    others = ", ".join(str(path.parent) for path in paths[1:])
    return f"{paths[0]}: {stem} está em mais de uma pasta de cidade (também em {others})"


def _short_list(items, limit: int = 5) -> str:
    items = sorted(items)
    more = f" (+{len(items) - limit} outros)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def subtree(root: str | Path, name: str) -> Path:
    """``ROOT/leftImg8bit`` or ``ROOT/gtFine`` (``name``): the official layout, or, where the
    two zips were unpacked each into its own folder (the course's Google Drive),
    ``ROOT/leftImg8bit_trainvaltest/leftImg8bit`` and ``ROOT/gtFine_trainvaltest/gtFine``."""
    root = Path(root)
    nested = root / f"{name}_trainvaltest" / name
    return nested if not (root / name).is_dir() and nested.is_dir() else root / name


def find_samples(root: str | Path, split: str, *, require_labels: bool = True) -> list[Sample]:
    """Every image of ``split`` with its label files, sorted by stem.

    Raises InputError when the root or the split folder is missing, or when an image has no
    label or a label no image (naming the stems).
    """
    root = Path(root)
    if split not in SPLITS and not re.fullmatch(r"[A-Za-z0-9_-]+", split):
        # another folder name is a split too (a teacher's held-out one): never a path
        raise InputError(f"split {split!r} não é um de {', '.join(SPLITS)} nem um nome de pasta")
    if not root.is_dir():
        raise InputError(f"{root}: pasta raiz do Cityscapes não encontrada")
    image_dir, label_dir = subtree(root, "leftImg8bit") / split, subtree(root, "gtFine") / split
    if not image_dir.is_dir():
        raise InputError(
            f"{image_dir}: pasta do split não encontrada "
            f"(esperado RAIZ/leftImg8bit/{split}/<cidade>/)"
        )
    images, duplicates = index_stems(image_dir, IMAGE_SUFFIX)
    if not images:
        raise InputError(f"{image_dir}: nenhuma imagem *{IMAGE_SUFFIX}")
    labels, label_duplicates = (
        index_stems(label_dir, LABEL_SUFFIX) if label_dir.is_dir() else ({}, {})
    )
    if duplicates := {**label_duplicates, **duplicates}:
        stem = min(duplicates)
        raise InputError(duplicate_message(stem, duplicates[stem]))
    if require_labels:
        if not label_dir.is_dir():
            raise InputError(
                f"{label_dir}: pasta do split não encontrada "
                f"(esperado RAIZ/gtFine/{split}/<cidade>/)"
            )
        if missing := images.keys() - labels.keys():
            raise InputError(
                f"{label_dir}: sem {LABEL_SUFFIX} para a(s) imagem(ns) {_short_list(missing)}"
            )
        if orphans := labels.keys() - images.keys():
            raise InputError(
                f"{image_dir}: sem {IMAGE_SUFFIX} para o(s) rótulo(s) {_short_list(orphans)}"
            )
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
        raise InputError(f"max_images={max_images}: deve ser pelo menos 1 (ou None para todas)")
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


def holdout_split(
    samples: list[Sample], fraction: float = 0.1
) -> tuple[list[Sample], list[Sample]]:
    """Split training samples into (train, holdout) by whole cities, about ``fraction`` of the
    images held out: the smallest cities first (ties by name), so the choice depends only on the
    data set, the same for every model and seed. Frames of one drive never land on both sides.
    The holdout is where ``selection="holdout"`` picks its epoch; the val split stays unseen.
    """
    by_city: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_city[sample.city].append(sample)
    if len(by_city) < 2:
        raise InputError(
            f"selection='holdout' precisa de pelo menos duas cidades no split train para separar "
            f"uma; encontrada(s) {len(by_city)} ({_short_list(sorted(by_city))})"
        )
    held: list[str] = []
    for city in sorted(by_city, key=lambda c: (len(by_city[c]), c)):
        if held and sum(len(by_city[c]) for c in held) >= fraction * len(samples):
            break
        if len(held) == len(by_city) - 1:  # keep a city to train on
            break
        held.append(city)
    train = [s for s in samples if s.city not in held]
    holdout = [s for s in samples if s.city in held]
    return train, holdout


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
                raise InputError(
                    f"{path}: esperado um PNG de um só canal, encontrado o modo {image.mode}"
                )
            return np.asarray(image)
    except FileNotFoundError:
        raise InputError(f"{path}: arquivo não encontrado") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: não é um PNG válido ({error})") from None
    except Image.DecompressionBombError:
        raise InputError(too_large_message(path)) from None


def too_large_message(path: str | Path) -> str:
    """One line for a PNG larger than Pillow decodes (its decompression-bomb limit)."""
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    size = ""
    with contextlib.suppress(OSError), open(path, "rb") as file:
        header = file.read(24)
        if header[:8] == _PNG_SIGNATURE:  # IHDR: width, height (big-endian)
            width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:], "big")
            size = f"de {width}x{height} "
    return (
        f"{path}: imagem {size}grande demais para decodificar (mais de {limit} pixels; "
        "uma imagem do Cityscapes tem 2048x1024)"
    )


def read_rgb(path: str | Path) -> np.ndarray:
    """An RGB image as uint8 (H, W, 3): a camera frame (``read_png`` with mode "RGB")."""
    decoded = _decode_with_tensorflow(path, channels=3)
    return decoded if decoded is not None else read_png(path, mode="RGB")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decode_with_tensorflow(path: str | Path, channels: int) -> np.ndarray | None:
    """The PNG at ``path`` decoded by TensorFlow's libpng, where the caller has loaded TensorFlow
    (training and inference do): about 1.6x faster than Pillow on 2048x1024 photographs
    (``make bench``), the same pixels. None where TensorFlow is not loaded, or the file is not an
    8-bit PNG (one channel, or colour when ``channels`` is 3) it decodes: ``read_png`` then reads
    it, and its errors name the file."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    try:
        with open(path, "rb") as file:
            header = file.read(26)
    except OSError:
        return None
    grey = header[25:] == b"\x00"  # IHDR colour type 0; byte 24 is the bit depth
    if header[:8] != _PNG_SIGNATURE or header[24:25] != b"\x08" or grey != (channels == 1):
        return None
    try:
        array = tf.io.decode_png(tf.io.read_file(str(path)), channels=channels).numpy()
    except Exception:  # tf.errors.*: a damaged file, which read_png reports
        return None
    return array[..., 0] if channels == 1 else array


def _encode_png(array: np.ndarray) -> bytes:
    """``array`` as PNG bytes with fast compression (zlib level 1), by TensorFlow's libpng where
    it is loaded (a third faster than Pillow), else by Pillow."""
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        return tf.io.encode_png(
            array if array.ndim == 3 else array[..., None], compression=1
        ).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_png(path: str | Path, array: np.ndarray) -> Path:
    """Encode ``array`` as a PNG at ``path``, atomically (a reader never sees half a file)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return write_atomically(path, buffer.getvalue())


def read_label_ids(path: str | Path) -> np.ndarray:
    """A ``_gtFine_labelIds.png`` as uint8; InputError if it has ids outside 0..33."""
    ids = _decode_with_tensorflow(path, channels=1)
    if ids is None:
        ids = read_png(path, mode="L")
    if ids.ndim != 2:
        raise InputError(
            f"{path}: esperado um PNG de rótulos de um só canal, encontrada a forma {ids.shape}"
        )
    if ids.size and int(ids.max()) >= NUM_LABEL_IDS:
        bad = sorted(set(np.unique(ids[ids >= NUM_LABEL_IDS]).tolist()))
        raise InputError(
            f"{path}: ids de rótulo {_short_list(map(str, bad))} fora de 0..{NUM_LABEL_IDS - 1}"
        )
    return ids.astype(np.uint8)


def read_train_ids(path: str | Path) -> np.ndarray:
    """A labelIds PNG mapped to train ids (0..18, 255 ignored)."""
    return labels_to_train_ids(read_label_ids(path))


# --------------------------------------------------------------------------------------------
# Preprocessing cache: decode once, resize to the training size, keep uint8 PNGs on disk.


def resize(array: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """``array`` resized to ``size`` (H, W): bilinear for an RGB or grey uint8 image, nearest
    neighbour (``nearest=True``) for label maps of any integer type, which must never be
    interpolated (train ids, label ids, instance ids)."""
    array = np.asarray(array)
    height, width = size
    if array.shape[:2] == (height, width):
        return array
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    if array.dtype == np.uint8:
        return np.asarray(Image.fromarray(array).resize((width, height), resample))
    if not nearest:
        raise ValueError(
            f"o redimensionamento bilinear precisa de uma imagem uint8, recebido {array.dtype}"
        )
    resized = Image.fromarray(array.astype(np.int32)).resize((width, height), resample)
    return np.asarray(resized).astype(array.dtype)


def upscaling_warning(size: tuple[int, int], original: tuple[int, int], root) -> str | None:
    """The warning for a run whose ``size`` (H, W) exceeds the images' own ``original``: they
    would be enlarged, costing more with nothing new to learn from. None when it does not."""
    if size[0] <= original[0] and size[1] <= original[1]:
        return None
    return (
        f"image_height x image_width = {size[0]}x{size[1]} é maior que as imagens de {root} "
        f"({original[0]}x{original[1]}): elas serão ampliadas, sem detalhe novo, a um custo maior"
    )


def load_pair(sample: Sample, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 image and uint8 train-id mask of a sample, resized to ``size`` (H, W) if given:
    bilinear for the image, nearest for the mask (a mask is never interpolated)."""
    image = read_rgb(sample.image)
    if sample.label is None:
        raise InputError(
            f"{sample.image}: o split {sample.split} não tem rótulos para {sample.stem}"
        )
    label_ids = read_label_ids(sample.label)
    if label_ids.shape != image.shape[:2]:
        raise InputError(
            f"{sample.label}: tamanho {label_ids.shape[1]}x{label_ids.shape[0]} diferente do da "
            f"sua imagem, {image.shape[1]}x{image.shape[0]}"
        )
    if size is not None:  # nearest picks pixels, so mapping after it maps fewer, to the same ids
        image = resize(image, size)
        label_ids = resize(label_ids, size, nearest=True)
    return image, labels_to_train_ids(label_ids)


def default_cache_dir() -> Path:
    return Path(os.environ.get("URBANSEG_CACHE", "~/.cache/urbanseg")).expanduser() / "preprocessed"


def _cache_key(samples: list[Sample], size: tuple[int, int]) -> str:
    digest = hashlib.sha256(f"v1 {size}".encode())
    for sample in samples:
        for path in (sample.image, sample.label):
            stat = path.stat()
            digest.update(f"{path.resolve()} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def build_cache(
    samples: list[Sample],
    size: tuple[int, int],
    *,
    cache_dir: str | Path | None = None,
    jobs: int | None = None,
    progress: bool = True,
) -> tuple[list[str], list[str]]:
    """Resize every sample once to ``size`` and store it as uint8 PNGs (image RGB, train ids L).

    The cache folder is named by a hash of the source files (path, size, mtime) and the target
    size, so a changed input makes a new cache; a cache is written to a temporary folder and
    renamed when complete. Processes that want the same cache at once (``--jobs 2``, Dask
    workers on one machine) build it one at a time, under a lock beside it: the later ones
    find it finished and use it. Returns the image and mask paths, in the order of ``samples``.
    """
    folder = Path(cache_dir or default_cache_dir()) / _cache_key(samples, size)
    paths = (
        [str(folder / f"{s.stem}_image.png") for s in samples],
        [str(folder / f"{s.stem}_mask.png") for s in samples],
    )
    if folder.is_dir():
        log.debug("cache de pré-processamento já pronto: %s", folder)
        return paths
    folder.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(folder.parent / f".{folder.name}.lock"):
        if folder.is_dir():  # finished by another process while this one waited
            log.debug("cache de pré-processamento feito por outro processo: %s", folder)
            return paths
        _write_cache(samples, size, folder, jobs, progress)
    return paths


def _write_cache(
    samples: list[Sample], size: tuple[int, int], folder: Path, jobs: int | None, progress: bool
) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))

    def convert(sample: Sample) -> None:
        image, train_ids = load_pair(sample, size)
        (staging / f"{sample.stem}_image.png").write_bytes(_encode_png(image))
        (staging / f"{sample.stem}_mask.png").write_bytes(_encode_png(train_ids))

    try:
        work = threaded_map(convert, samples, jobs or os.cpu_count() or 2)
        for _ in progress_bar(
            work,
            total=len(samples),
            desc=f"cache {size[0]}x{size[1]}",
            disable=not progress,
            leave=False,
        ):
            pass
        try:
            os.replace(staging, folder)
        except OSError:
            if not folder.is_dir():
                raise
            # another process finished it first (a file system without working locks): its
            # cache holds the same files, so this one is dropped and that one used
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------
# Concurrency: a lock between processes, and a thread map whose memory does not grow.


def threaded_map(function: Callable, items: Iterable, workers: int, *, ahead: int | None = None):
    """``function(item)`` for each item, in order, on ``workers`` threads, with at most
    ``ahead`` items (default ``2 * workers``) taken and not yet handed to the caller.

    Memory stays flat in the number of items: ``Executor.map`` takes every item at once and
    keeps each result until the caller reads it, which for decoded images is every image of
    the split held at once. On an error the items not started are cancelled. Threads suit
    decoding: Pillow and libpng release the GIL while they inflate.
    """
    if workers <= 1:
        yield from map(function, items)
        return
    ahead = max(ahead or 2 * workers, 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="urbanseg") as executor:
        pending: deque = deque()
        try:
            for item in items:
                if len(pending) >= ahead:
                    yield pending.popleft().result()
                pending.append(executor.submit(function, item))
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
