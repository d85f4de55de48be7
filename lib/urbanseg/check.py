"""``urbanseg check``: validate a Cityscapes tree and count its images per split and city.

A run trains on ``train`` and scores on ``val``, so both must be there with a label for every
image; ``test`` is optional, and its labels too (``predict --split test`` needs only the
images). Unless ``decode`` is off (``--quick``: names and pairs only), every file a run reads is
decoded, on threads with a progress bar: each image, labelIds and instanceIds PNG, with the
checks the run's readers make (mode, size, label ids).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .data import (
    IMAGE_SUFFIX,
    INSTANCE_SUFFIX,
    LABEL_SUFFIX,
    SPLITS,
    _short_list,
    duplicate_message,
    index_stems,
    read_label_ids,
    subtree,
    threaded_map,
    too_large_message,
)
from .errors import InputError
from .evaluation import read_instance_ids

OFFICIAL_COUNTS = {"train": 2975, "val": 500, "test": 1525}
REQUIRED_SPLITS = ("train", "val")  # a run trains on train and scores on val
UNLABELLED_SPLITS = ("test",)  # labels withheld: its gtFine may be absent


@dataclass
class CheckReport:
    root: Path
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> city -> images
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> images
    instances: dict[str, int] = field(default_factory=dict)  # split -> images with instanceIds
    unlabelled: list[str] = field(default_factory=list)  # splits without gtFine (test)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Frame:
    image: Path
    label: Path | None
    instances: Path | None


def _check_frame(frame: _Frame) -> tuple[tuple[int, int] | None, list[str]]:
    """Decode a frame's files as a run reads them: (image size, problems)."""
    problems = []
    try:
        with Image.open(frame.image) as image:
            image.load()
            size, mode = image.size, image.mode
        if mode != "RGB":
            problems.append(
                f"{frame.image}: esperada uma imagem RGB de 8 bits, encontrado o modo {mode}"
            )
    except Image.DecompressionBombError:
        return None, [too_large_message(frame.image)]
    except (OSError, SyntaxError, ValueError) as error:
        return None, [f"{frame.image}: não é um PNG válido ({error})"]
    if frame.label is None:
        return size, problems
    try:
        ids = read_label_ids(frame.label)
    except InputError as error:
        return size, [*problems, str(error)]
    if (ids.shape[1], ids.shape[0]) != size:
        problems.append(
            f"{frame.label}: tamanho {ids.shape[1]}x{ids.shape[0]} diferente do da "
            f"sua imagem, {size[0]}x{size[1]}"
        )
    elif frame.instances is not None:
        try:
            read_instance_ids(frame.instances, ids.shape)
        except InputError as error:
            problems.append(str(error))
    return size, problems


def check_tree(
    root: str | Path, *, decode: bool = True, progress: bool = True, jobs: int | None = None
) -> CheckReport:
    """Count images per split and city and list every problem found: missing, empty or
    unpaired splits, a stem in two city folders, and (``decode``) every PNG that a run could
    not read, decoded on ``jobs`` threads (default: one per CPU)."""
    from .progress import progress_bar

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: pasta raiz do Cityscapes não encontrada")
    if not subtree(root, "leftImg8bit").is_dir():
        raise InputError(
            f"{root}: sem a pasta leftImg8bit/ (é uma raiz do Cityscapes? indique a pasta que "
            "contém leftImg8bit/ e gtFine/, ou leftImg8bit_trainvaltest/ e gtFine_trainvaltest/)"
        )
    report = CheckReport(root)
    frames: list[_Frame] = []
    for split in SPLITS:
        frames += _check_split(report, split)
    if not report.counts:
        raise InputError(f"{root}/leftImg8bit: nenhuma das pastas de split {', '.join(SPLITS)}")
    if decode:
        results = threaded_map(_check_frame, frames, jobs or os.cpu_count() or 2)
        for size, problems in progress_bar(
            results, total=len(frames), desc="check", unit="img", disable=not progress, leave=False
        ):
            if size:
                report.sizes[size] += 1
            report.problems += problems
    return report


def _check_split(report: CheckReport, split: str) -> list[_Frame]:
    """Count one split's images into ``report``, add its naming problems, return its frames."""
    image_dir = subtree(report.root, "leftImg8bit") / split
    label_dir = subtree(report.root, "gtFine") / split
    if not image_dir.is_dir():
        if split in REQUIRED_SPLITS:
            report.problems.append(
                f"{image_dir}: pasta do split não encontrada (uma execução treina em train e "
                "avalia em val)"
            )
        return []
    images, duplicates = index_stems(image_dir, IMAGE_SUFFIX)
    report.counts[split] = Counter(path.parent.name for path in images.values())
    if not images:
        report.problems.append(f"{image_dir}: split vazio, nenhuma imagem *{IMAGE_SUFFIX}")
        return []
    if not label_dir.is_dir() and split in UNLABELLED_SPLITS:
        report.unlabelled.append(split)
        report.instances[split] = 0
        return [_Frame(path, None, None) for _, path in sorted(images.items())]
    labels, label_duplicates = index_stems(label_dir, LABEL_SUFFIX)
    instances, instance_duplicates = index_stems(label_dir, INSTANCE_SUFFIX)
    report.instances[split] = len(instances.keys() & images.keys())
    for stem, paths in sorted({**instance_duplicates, **label_duplicates, **duplicates}.items()):
        report.problems.append(duplicate_message(stem, paths))
    if not label_dir.is_dir():
        report.problems.append(f"{label_dir}: pasta não encontrada")
    elif missing := images.keys() - labels.keys():
        report.problems.append(
            f"{label_dir}: sem {LABEL_SUFFIX} para {len(missing)} imagem(ns): "
            f"{_short_list(missing)}"
        )
    if orphans := labels.keys() - images.keys():
        report.problems.append(
            f"{image_dir}: sem {IMAGE_SUFFIX} para {len(orphans)} rótulo(s): {_short_list(orphans)}"
        )
    return [
        _Frame(path, labels.get(stem), instances.get(stem)) for stem, path in sorted(images.items())
    ]


def format_report(report: CheckReport) -> str:
    lines = [f"{report.root}"]
    for split, cities in report.counts.items():
        total = sum(cities.values())
        official = OFFICIAL_COUNTS[split]
        note = "" if total == official else f" (Cityscapes oficial: {official})"
        labels = (
            f"sem rótulos (gtFine/{split} ausente: só para predict)"
            if split in report.unlabelled
            else f"{report.instances.get(split, 0)} com instanceIds"
        )
        lines.append(f"  {split:5s} {total:5d} imagens em {len(cities)} cidades{note}, {labels}")
        for city, count in sorted(cities.items()):
            lines.append(f"        {city:16s} {count:5d}")
    if report.sizes:
        sizes = ", ".join(f"{w}x{h}: {n}" for (w, h), n in report.sizes.most_common())
        lines.append(f"  tamanhos das imagens (LxA): {sizes}")
    if report.problems:
        lines.append(f"  {len(report.problems)} problema(s):")
        lines += [f"    - {problem}" for problem in report.problems]
    else:
        lines.append("  nenhum problema encontrado")
    return "\n".join(lines)
