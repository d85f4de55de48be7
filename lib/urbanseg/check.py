"""``urbanseg check``: validate a Cityscapes tree and count its images per split and city."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .data import (
    IMAGE_SUFFIX,
    INSTANCE_SUFFIX,
    LABEL_SUFFIX,
    SPLITS,
    _short_list,
    _stems,
    read_label_ids,
    subtree,
)
from .errors import InputError

OFFICIAL_COUNTS = {"train": 2975, "val": 500, "test": 1525}


@dataclass
class CheckReport:
    root: Path
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> city -> images
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> images
    instances: dict[str, int] = field(default_factory=dict)  # split -> images with instanceIds
    problems: list[str] = field(default_factory=list)


def _check_pair(
    image_path: Path, label_path: Path | None
) -> tuple[tuple[int, int] | None, list[str]]:
    problems = []
    try:
        with Image.open(image_path) as image:
            image.load()
            size, mode = image.size, image.mode
        if mode != "RGB":
            problems.append(
                f"{image_path}: esperada uma imagem RGB de 8 bits, encontrado o modo {mode}"
            )
    except (OSError, SyntaxError, ValueError) as error:
        return None, [f"{image_path}: não é um PNG válido ({error})"]
    if label_path is not None:
        try:
            ids = read_label_ids(label_path)
            if (ids.shape[1], ids.shape[0]) != size:
                problems.append(
                    f"{label_path}: tamanho {ids.shape[1]}x{ids.shape[0]} diferente do da "
                    f"sua imagem, {size[0]}x{size[1]}"
                )
        except InputError as error:
            problems.append(str(error))
    return size, problems


def check_tree(root: str | Path, *, decode: bool = True, progress: bool = True) -> CheckReport:
    """Count images per split and city and list every problem found (pairs, PNGs, label ids)."""
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
    pairs: list[tuple[Path, Path | None]] = []
    for split in SPLITS:
        image_dir = subtree(root, "leftImg8bit") / split
        label_dir = subtree(root, "gtFine") / split
        if not image_dir.is_dir():
            continue
        images = _stems(image_dir, IMAGE_SUFFIX)
        labels = _stems(label_dir, LABEL_SUFFIX) if label_dir.is_dir() else {}
        report.counts[split] = Counter(path.parent.name for path in images.values())
        report.instances[split] = (
            len(_stems(label_dir, INSTANCE_SUFFIX)) if label_dir.is_dir() else 0
        )
        if not label_dir.is_dir():
            report.problems.append(f"{label_dir}: pasta não encontrada")
        elif missing := images.keys() - labels.keys():
            report.problems.append(
                f"{label_dir}: sem {LABEL_SUFFIX} para {len(missing)} imagem(ns): "
                f"{_short_list(missing)}"
            )
        if orphans := labels.keys() - images.keys():
            report.problems.append(
                f"{image_dir}: sem {IMAGE_SUFFIX} para {len(orphans)} rótulo(s): "
                f"{_short_list(orphans)}"
            )
        pairs += [(path, labels.get(stem)) for stem, path in sorted(images.items())]
    if not report.counts:
        raise InputError(f"{root}/leftImg8bit: nenhuma das pastas de split {', '.join(SPLITS)}")
    if decode:
        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
            results = pool.map(lambda pair: _check_pair(*pair), pairs)
            for size, problems in progress_bar(
                results, total=len(pairs), desc="check", disable=not progress, leave=False
            ):
                if size:
                    report.sizes[size] += 1
                report.problems += problems
    return report


def format_report(report: CheckReport) -> str:
    lines = [f"{report.root}"]
    for split, cities in report.counts.items():
        total = sum(cities.values())
        official = OFFICIAL_COUNTS[split]
        note = "" if total == official else f" (Cityscapes oficial: {official})"
        lines.append(
            f"  {split:5s} {total:5d} imagens em {len(cities)} cidades{note}, "
            f"{report.instances.get(split, 0)} com instanceIds"
        )
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
