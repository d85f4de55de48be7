"""Section 2 of the report, the data: what the runs trained on, the class frequencies, the
sample validation images and the legend. The sample images are read again from the data root
the runs recorded (or ``--data-root``): the results hold only the predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from ..data import find_samples, read_png, read_train_ids, resize
from ..errors import InputError
from ..i18n import category_name, class_name
from ..labels import CATEGORY_NAMES, CLASS_NAMES, EVAL_LABELS
from ..records import RunRecord
from .figures import embed
from .study import Study, int_text, size_text

MAX_SAMPLES = 3  # validation images shown in the data and results sections
SAMPLE_WIDTH = 512  # pixels; originals are downsized for the data section


def data_section(study: Study, data_root: str | Path | None) -> dict[str, Any]:
    """The table, figures and legend of the data section; also the sample images (``stems``,
    ``images``, ``gts``) the results section shows every model's predictions on."""
    ok = study.ok
    rows = []
    if ok:
        root_text = (
            str(data_root) if data_root else study.same_or_by_model(lambda r: r.data.root, str)
        )
        rows = [
            (
                study.t("data_kind"),
                study.t("data_kind_synthetic" if study.synthetic else "data_kind_real"),
            ),
            (study.t("data_root"), root_text),
            (
                study.t("data_train_images"),
                study.same_or_by_model(lambda r: r.data.train_images, int_text),
            ),
            (
                study.t("data_val_images"),
                study.same_or_by_model(
                    lambda r: r.metrics.get("num_images", r.data.val_images), int_text
                ),
            ),
            (
                study.t("data_original_size"),
                study.same_or_by_model(lambda r: r.data.image_size, size_text),
            ),
            (
                study.t("data_training_size"),
                study.same_or_by_model(
                    lambda r: (r.parameters.get("image_height"), r.parameters.get("image_width")),
                    size_text,
                ),
            ),
            (study.t("data_classes"), str(len(CLASS_NAMES))),
        ]
        if any(r.parameters.get("crop_height") for r in ok):  # the model's input in training
            rows.insert(
                -1,
                (
                    study.t("data_crop_size"),
                    study.same_or_by_model(
                        lambda r: (r.parameters.get("crop_height"), r.parameters.get("crop_width")),
                        lambda size: study.t("data_no_crop") if None in size else size_text(size),
                    ),
                ),
            )
    fractions = next((r.data.class_pixel_fraction for r in ok if r.data.class_pixel_fraction), None)
    root = (
        Path(data_root)
        if data_root
        else next((_resolve_root(r.data.root, study.results_dir) for r in ok if r.data.root), None)
    )
    stems, images, gts, note = _load_samples(study, root) if ok else ([], [], [], None)
    section = {
        "synthetic": study.synthetic,
        "rows": rows,
        "note": note,
        "frequency": None,
        "samples": None,
        "stems": stems,
        "images": images,
        "gts": gts,
        "legend": _legend(study.lang),
    }
    if fractions:
        section["frequency"] = embed(plots.class_frequency(fractions, lang=study.lang, title=""))
    if images:
        shown = [_fit_width(image, nearest=False) for image in images]
        masks = [_fit_width(gt, nearest=True) for gt in gts]
        section["samples"] = embed(
            plots.dataset_samples(shown, masks, lang=study.lang, title="", column_titles=stems)
        )
    return section


def _legend(lang: str) -> list[dict[str, Any]]:
    return [
        {
            "category": category_name(category, lang),
            "classes": [
                {
                    "name": class_name(label.name, lang),
                    "color": "#{:02x}{:02x}{:02x}".format(*label.color),
                }
                for label in EVAL_LABELS
                if label.category == category
            ],
        }
        for category in CATEGORY_NAMES
    ]


def _resolve_root(root: str | None, results_dir: Path) -> Path | None:
    """The recorded data root; a relative one is tried beside the results folder too."""
    if not root:
        return None
    path = Path(root).expanduser()
    if not path.is_absolute() and not path.exists():
        candidate = results_dir.resolve().parent / path
        if candidate.exists():
            return candidate
    return path


def _sample_stems(ok: list[RunRecord]) -> list[str]:
    """The recorded sample stems, those every model has a prediction for first."""
    stems = [stem for record in ok for stem in record.data.sample_stems]
    if not stems:
        stems = [p.stem for record in ok for p in sorted((record.folder / "samples").glob("*.png"))]
    stems = list(dict.fromkeys(stems))

    def coverage(stem):
        return -sum((record.folder / "samples" / f"{stem}.png").is_file() for record in ok)

    return sorted(stems, key=lambda stem: (coverage(stem), stems.index(stem)))


def _load_samples(study: Study, root: Path | None):
    """(stems, images, gts, note): the sample validation images, or a note saying why not."""
    if root is None:
        return [], [], [], study.t("data_no_root")
    try:
        available = {sample.stem: sample for sample in find_samples(root, "val")}
        stems = [s for s in _sample_stems(study.ok) if s in available] or sorted(available)
        stems = stems[:MAX_SAMPLES]
        images = [read_png(available[s].image, mode="RGB") for s in stems]
        gts = [read_train_ids(available[s].label) for s in stems]
    except InputError as error:
        return [], [], [], study.t("data_unavailable", root=root, reason=str(error))
    return stems, images, gts, None


def _fit_width(image: np.ndarray, *, nearest: bool) -> np.ndarray:
    """``image`` no wider than SAMPLE_WIDTH, aspect kept."""
    if image.shape[1] <= SAMPLE_WIDTH:
        return image
    height = round(image.shape[0] * SAMPLE_WIDTH / image.shape[1])
    return resize(image, (height, SAMPLE_WIDTH), nearest=nearest)
