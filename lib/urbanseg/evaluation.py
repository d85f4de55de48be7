"""``urbanseg evaluate``: score official-format predictions against a Cityscapes split.

A prediction is one single-channel PNG of label ids (0..33) per ground-truth image, at its size,
somewhere under the prediction folder, whose file name contains the image's ``city_seq_frame``
(cityscapesScripts' ``getPrediction`` asks for names that *start* with it). The scores are those
of ``evalPixelLevelSemanticLabeling.py``, computed by ``urbanseg.metrics.ConfusionMatrix``.
Every problem with the input is an InputError naming the file, raised before anything is written.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from .atomic import write_atomically
from .data import Sample, _short_list, find_samples, read_label_ids, read_png, threaded_map
from .errors import InputError
from .labels import ID_TO_TRAINID, NUM_CLASSES, NUM_LABEL_IDS
from .metrics import ConfusionMatrix
from .progress import progress_bar

log = logging.getLogger(__name__)

_FRAME = re.compile(r"(?=(\d{6}_\d{6}))")  # seq_frame, overlapping matches


def evaluate_predictions(
    root: str | Path,
    pred_dir: str | Path,
    split: str = "val",
    *,
    instances: bool = True,
    jobs: int | None = None,
    progress: bool = True,
) -> dict:
    """Score the predictions in ``pred_dir`` against every ground-truth image of ``split``.

    Returns the metrics dict of ``ConfusionMatrix.compute``. ``instances=False`` skips the
    instanceIds (iIoU scores are then None). ``jobs`` threads decode the PNGs (default: one per
    CPU). Raises InputError for a missing folder, a missing, duplicated or malformed prediction
    (several channels, another size, ids outside 0..33), or an unreadable ground-truth file.
    """
    samples = find_samples(root, split)
    pairs = match_predictions(samples, pred_dir)
    if instances and (missing := [s.stem for s in samples if s.instances is None]):
        raise InputError(
            f"{Path(root) / 'gtFine' / split}: sem _gtFine_instanceIds.png para "
            f"{_short_list(missing)} (use --no-instances para pular as métricas iIoU)"
        )
    jobs = _worker_count(jobs, len(pairs))
    log.info("avaliando %d predições de %s com %d thread(s)", len(pairs), pred_dir, jobs)
    total = ConfusionMatrix()
    with progress_bar(total=len(pairs), desc="evaluate", unit="img", disable=not progress) as bar:
        for part in _map(_score_pair, pairs, instances, jobs):
            total.merge(part)
            bar.update()
    metrics = total.compute()
    if _looks_like_train_ids(metrics):
        log.warning(
            "%s: as predições parecem trainIds (nenhum valor acima de 18) e a nota sai perto de "
            "0; evaluate espera labelIds (0..33): grave-as como labelIds "
            "(urbanseg.labels.TRAINID_TO_ID[train_ids])",
            pred_dir,
        )
    return metrics


def _looks_like_train_ids(metrics: dict) -> bool:
    """Whether the predictions scored in ``metrics`` look like train ids (0..18) read as label
    ids: no class predicted but those of label ids 0..18 (road, sidewalk, building, wall, fence,
    pole), and some void, which train ids 0..6 (road .. traffic light) are as label ids."""
    matrix = np.asarray(metrics["confusion_matrix"])
    reachable = set(ID_TO_TRAINID[:NUM_CLASSES].tolist())
    others = [column for column in range(NUM_CLASSES) if column not in reachable]
    return matrix[:, others].sum() == 0 and matrix[:, NUM_CLASSES].sum() > 0


def match_predictions(samples: list[Sample], pred_dir: str | Path) -> list[tuple[Sample, Path]]:
    """Pair each sample with the one PNG under ``pred_dir`` whose name contains its stem."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise InputError(f"{pred_dir}: pasta de predições não encontrada")
    files = sorted(path for path in pred_dir.rglob("*.png") if path.is_file())
    if not files:
        raise InputError(f"{pred_dir}: nenhuma predição PNG encontrada")
    stems_by_frame: dict[str, list[str]] = defaultdict(list)
    for sample in samples:
        stems_by_frame[sample.stem[-13:]].append(sample.stem)  # "city_seq_frame"[-13:] = seq_frame
    found: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        frames = {match.group(1) for match in _FRAME.finditer(path.name)}
        for stem in {stem for frame in frames for stem in stems_by_frame.get(frame, ())}:
            if stem in path.name:
                found[stem].append(path)
    for stem, paths in found.items():
        if len(paths) > 1:
            more = f" (e mais {len(paths) - 2})" if len(paths) > 2 else ""
            raise InputError(f"{paths[0]}: uma segunda predição para {stem} é {paths[1]}{more}")
    if missing := [sample.stem for sample in samples if sample.stem not in found]:
        raise InputError(
            f"{pred_dir}: sem predição para {len(missing)} imagem(ns): {_short_list(missing)}"
        )
    if unused := len(files) - len(found):
        log.info(
            "%d arquivo(s) PNG em %s sem imagem correspondente no split %s",
            unused,
            pred_dir,
            samples[0].split,
        )
    return [(sample, found[sample.stem][0]) for sample in samples]


def read_prediction(path: Path, shape: tuple[int, int], ground_truth: Path) -> np.ndarray:
    """An official-format prediction: label ids 0..33, single channel, at the ground truth's size."""
    prediction = read_label_ids(path)  # InputError for several channels or ids outside 0..33
    if prediction.shape != shape:
        raise InputError(
            f"{path}: a predição tem {_size(prediction.shape)}, "
            f"mas sua referência {ground_truth.name} tem {_size(shape)}"
        )
    return prediction


def read_instance_ids(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A ``_gtFine_instanceIds.png``: label id, or label id * 1000 + k inside an instance."""
    ids = read_png(path, mode="L")
    if ids.shape != shape:
        raise InputError(
            f"{path}: os ids de instância têm {_size(ids.shape)}, "
            f"mas os ids de rótulo têm {_size(shape)}"
        )
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) // 1000 >= NUM_LABEL_IDS):
        low, high = int(ids.min()), int(ids.max())
        raise InputError(
            f"{path}: ids de instância {low}..{high} indicam ids de rótulo "
            f"fora de 0..{NUM_LABEL_IDS - 1}"
        )
    return ids


def _score_pair(pair: tuple[Sample, Path], instances: bool) -> ConfusionMatrix:
    """The confusion matrix of one image (run in a worker thread)."""
    sample, prediction_path = pair
    gt = read_label_ids(sample.label)
    prediction = read_prediction(prediction_path, gt.shape, sample.label)
    instance_ids = read_instance_ids(sample.instances, gt.shape) if instances else None
    part = ConfusionMatrix()
    part.update_label_ids(gt, prediction, instance_ids)
    return part


def _size(shape) -> str:
    return f"{shape[1]}x{shape[0]} (LxA)" if len(shape) == 2 else f"forma {shape}"


def _worker_count(jobs: int | None, num_pairs: int) -> int:
    if jobs is None:
        jobs = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    if jobs < 1:
        raise InputError(f"jobs={jobs}: deve ser pelo menos 1")
    return max(1, min(jobs, num_pairs))


def _map(function, pairs, instances: bool, jobs: int):
    """function(pair, instances) for each pair, in order, on ``jobs`` threads, a few pairs
    ahead of the caller (``data.threaded_map``): the memory is that of a few images, however
    many the split has.

    Threads, not processes: PIL releases the GIL while it inflates a PNG, which is most of the
    work, and the per-image matrices need no pickling (benchmarks/bench_evaluate.py compares).
    On the first error the pairs not yet started are cancelled.
    """
    return threaded_map(lambda pair: function(pair, instances), pairs, jobs)


def format_table(metrics: dict) -> str:
    """A readable table: per class IoU, iIoU, precision and recall, then the averages."""

    def cell(value, width: int = 8) -> str:
        return f"{'-' if value is None else format(value, '.3f'):>{width}}"

    def table(title: str, rows: list[str]) -> list[str]:
        return [title, "-" * len(title), *rows, "-" * len(title)]

    w = 18  # the first column: class and category names, then the words of the summary
    instance_iou, category_instance_iou = metrics["instance_iou"], metrics["category_instance_iou"]
    classes = [
        f"{name:<{w}}{cell(iou)}{cell(instance_iou[name]) if name in instance_iou else ' ' * 8}"
        f"{cell(metrics['precision'][name], 10)}{cell(metrics['recall'][name], 10)}"
        for name, iou in metrics["iou"].items()
    ]
    categories = [
        f"{name:<{w}}{cell(iou)}"
        f"{cell(category_instance_iou[name]) if name in category_instance_iou else ''}"
        for name, iou in metrics["category_iou"].items()
    ]
    lines = table(f"{'classe':<{w}}{'IoU':>8}{'iIoU':>8}{'precisão':>10}{'revocação':>10}", classes)
    lines += [f"{'média':<{w}}{cell(metrics['miou'])}{cell(metrics['iiou'])}", ""]
    lines += table(f"{'categoria':<{w}}{'IoU':>8}{'iIoU':>8}", categories)
    lines += [f"{'média':<{w}}{cell(metrics['category_miou'])}{cell(metrics['category_iiou'])}", ""]
    lines += [
        f"{'acurácia de pixel':<{w}}{cell(metrics['pixel_accuracy'])}",
        f"{'acurácia média':<{w}}{cell(metrics['mean_accuracy'])}",
        f"{'fw IoU':<{w}}{cell(metrics['fw_iou'])}",
        f"{'imagens':<{w}}{metrics['num_images']:>8}",
    ]
    return "\n".join(lines)


def check_json_path(path: str | Path) -> Path:
    """InputError unless a file can be written at ``path``: not a folder, in a writable folder
    that exists. ``urbanseg evaluate --json`` asks before the evaluation, not after it."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: é uma pasta; indique um arquivo, como {path / 'metrics.json'}")
    if not path.parent.is_dir():
        found = "não é uma pasta" if path.parent.exists() else "pasta não encontrada"
        raise InputError(f"{path.parent}: {found} (para {path.name})")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InputError(f"{path.parent}: sem permissão de escrita (para {path.name})")
    return path


def write_json(metrics: dict, path: str | Path) -> None:
    """Write ``metrics`` as JSON atomically: a temporary file in the same folder, then os.replace."""
    path = check_json_path(path)
    try:
        write_atomically(path, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    except OSError as error:  # a full disk, a folder made read-only meanwhile
        raise InputError(f"{path}: não foi possível gravar ({error.strerror or error})") from None
