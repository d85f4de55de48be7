"""Fake results folders per docs/results.md, for the report, records and packaging tests:
three successful models, one failed, a tiny Cityscapes-format val split for the sample images.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from urbanseg.labels import (
    CATEGORY_NAMES,
    CLASS_NAMES,
    INSTANCE_CLASS_NAMES,
    NAME_TO_LABEL,
    TRAINID_TO_CATEGORY,
)

# Cityscapes-like share of the pixels per class (train ids 0..18); "train" absent (IoU null).
CLASS_FRACTIONS = np.array(
    [
        0.33,
        0.055,
        0.2,
        0.006,
        0.008,
        0.011,
        0.002,
        0.005,
        0.14,
        0.01,
        0.035,
        0.011,
        0.0012,
        0.06,
        0.0023,
        0.002,
        0.0,
        0.0009,
        0.0037,
    ]
)
ABSENT = CLASS_NAMES.index("train")
STEMS = ("frankfurt_000000_000001", "frankfurt_000000_000002", "lindau_000000_000019")


# --------------------------------------------------------------------------- fake results


def fake_metrics(quality: float, seed: int, images: int = 24) -> dict:
    """A metrics dict (docs/results.md) whose scores all derive from one confusion matrix."""
    rng = np.random.default_rng(seed)
    n = len(CLASS_NAMES)
    pixels = (CLASS_FRACTIONS / CLASS_FRACTIONS.sum() * images * 256 * 512).round()
    matrix = np.zeros((n, n + 1), dtype=np.int64)
    for c in range(n):
        if pixels[c] == 0:
            continue
        size_factor = 0.45 + 0.55 * min(1.0, CLASS_FRACTIONS[c] / 0.05) ** 0.3
        recall = float(np.clip(quality * size_factor + rng.normal(0, 0.03), 0.02, 0.99))
        tp = int(pixels[c] * recall)
        spread = rng.dirichlet(np.full(n + 1, 0.3))
        spread[c] = 0
        spread[ABSENT] = 0
        spread /= spread.sum()
        matrix[c] = np.floor(spread * (pixels[c] - tp)).astype(np.int64)
        matrix[c, c] = tp
    tp = np.diag(matrix[:, :n]).astype(float)
    gt_total = matrix.sum(axis=1).astype(float)
    fp = matrix[:, :n].sum(axis=0) - tp
    union = gt_total + fp
    iou = np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)
    cat_matrix = np.zeros((7, 8))
    for c in range(n):
        for p in range(n + 1):
            cat_matrix[TRAINID_TO_CATEGORY[c], TRAINID_TO_CATEGORY[p] if p < n else 7] += matrix[
                c, p
            ]
    cat_tp = np.diag(cat_matrix[:, :7])
    cat_iou = cat_tp / (cat_matrix.sum(axis=1) + cat_matrix[:, :7].sum(axis=0) - cat_tp)
    instance = {
        name: (
            None
            if np.isnan(iou[CLASS_NAMES.index(name)])
            else float(iou[CLASS_NAMES.index(name)] * 0.8)
        )
        for name in INSTANCE_CLASS_NAMES
    }
    defined = [v for v in instance.values() if v is not None]

    def as_dict(names, values):
        return {k: (None if np.isnan(v) else float(v)) for k, v in zip(names, values, strict=True)}

    recall = np.where(gt_total > 0, tp / np.where(gt_total > 0, gt_total, 1), np.nan)
    precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), np.nan)
    f1 = np.where(
        precision + recall > 0,
        2 * precision * recall / np.where(precision + recall > 0, precision + recall, 1),
        np.nan,
    )
    return {
        "num_images": images,
        "miou": float(np.nanmean(iou)),
        "iou": as_dict(CLASS_NAMES, iou),
        "iiou": float(np.mean(defined)),
        "instance_iou": instance,
        "category_miou": float(np.mean(cat_iou)),
        "category_iou": as_dict(CATEGORY_NAMES, cat_iou),
        "category_iiou": float(np.mean(defined) * 1.1),
        "category_instance_iou": {"human": 0.5, "vehicle": 0.6},
        "pixel_accuracy": float(tp.sum() / gt_total.sum()),
        "mean_accuracy": float(np.nanmean(recall)),
        "fw_iou": float(np.nansum(gt_total / gt_total.sum() * np.nan_to_num(iou))),
        "confusion_matrix": matrix.tolist(),
        "precision": as_dict(CLASS_NAMES, precision),
        "recall": as_dict(CLASS_NAMES, recall),
        "f1": as_dict(CLASS_NAMES, f1),
    }


# model -> (quality, params, GFLOPs, inference img/s, train seconds)
FAKE_MODELS = {
    "unet": (0.80, 31_042_000, 54.6, 21.0, 1530.0),
    "segnet": (0.70, 29_443_000, 40.2, 28.0, 1302.0),
    "fcn": (0.62, 15_309_000, 20.1, 64.0, 655.0),
    "deeplab": (0.86, 5_812_000, 8.9, 47.0, 811.0),
    "pspnet": (0.78, 4_430_000, 6.2, 55.0, 702.0),
    "studentnet": (0.55, 1_213_000, 1.4, 140.0, 201.0),
}


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")


def make_notebook(path: Path, model: str) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    notebook = new_notebook(
        cells=[
            new_markdown_cell(f"# {model}\n\nNotebook de **{model}**."),
            new_code_cell("epochs = 2", metadata={"tags": ["parameters"]}, execution_count=1),
            new_code_cell(
                "print('mIoU', 0.5)",
                execution_count=2,
                outputs=[new_output("stream", name="stdout", text="mIoU 0.5\n")],
            ),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def make_data_tree(root: Path, size=(128, 256)) -> Path:
    """A tiny val split in the Cityscapes layout: an RGB image and a labelIds PNG per stem."""
    height, width = size
    for k, stem in enumerate(STEMS):
        city = stem.split("_")[0]
        ids = np.zeros((height, width), np.uint8)
        ids[: height // 3] = NAME_TO_LABEL["sky"].id
        ids[height // 3 : height // 2] = NAME_TO_LABEL["building"].id
        ids[height // 3 : height // 2, : width // 4] = NAME_TO_LABEL["vegetation"].id
        ids[height // 2 :] = NAME_TO_LABEL["road"].id
        ids[height // 2 :, : width // 6] = NAME_TO_LABEL["sidewalk"].id
        ids[height // 2 : height * 3 // 4, width // 2 + 8 * k : width // 2 + 8 * k + 50] = (
            NAME_TO_LABEL["car"].id
        )
        ids[height // 4 : height * 3 // 4, width // 5 + 4 : width // 5 + 9] = NAME_TO_LABEL[
            "pole"
        ].id
        ids[height * 2 // 5 : height * 3 // 4, width * 4 // 5 : width * 4 // 5 + 10] = (
            NAME_TO_LABEL["person"].id
        )
        ids[-6:] = NAME_TO_LABEL["ego vehicle"].id
        palette = np.zeros((256, 3), np.uint8)
        for label in NAME_TO_LABEL.values():
            if label.id >= 0:
                palette[label.id] = label.color
        noise = np.random.default_rng(k).integers(-20, 20, (height, width, 3))
        image = np.clip(palette[ids].astype(int) + noise, 0, 255).astype(np.uint8)
        image_dir = root / "leftImg8bit" / "val" / city
        label_dir = root / "gtFine" / "val" / city
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(image_dir / f"{stem}_leftImg8bit.png")
        Image.fromarray(ids, mode="L").save(label_dir / f"{stem}_gtFine_labelIds.png")
    return root


def split_per_image(matrix, images: int, rng) -> np.ndarray:
    """Per-image matrices that add up to ``matrix`` exactly, unevenly spread over the images."""
    matrix = np.asarray(matrix, dtype=np.int64)
    weights = rng.dirichlet(np.full(images, 2.0))
    per_image = np.zeros((images, *matrix.shape), np.int64)
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            per_image[:, row, column] = rng.multinomial(count, weights)
    return per_image


def val_stems(images: int) -> list[str]:
    cities = ("frankfurt", "lindau", "munster")
    return [f"{cities[i % 3]}_{i:06d}_000019" for i in range(images)]


def make_run(
    results: Path,
    model: str,
    data_root: Path | None,
    *,
    epochs: int = 4,
    seed: int = 0,
    synthetic: bool = True,
    train_images: int = 64,
    val_images: int = 24,
    quality: float | None = None,
    metrics_seed: int | None = None,
) -> dict:
    """results/<model>/seed-<k>/ with metrics.json, its per-image matrices, history.csv,
    samples/ and the executed notebook. Two models given the same ``quality`` and
    ``metrics_seed`` have the same pooled matrix, spread differently over the images: a tie."""
    from urbanseg.labels import labels_to_train_ids
    from urbanseg.records import PerImage

    default_quality, params, gflops, speed, train_seconds = FAKE_MODELS[model]
    quality = default_quality if quality is None else quality
    folder = results / model / f"seed-{seed}"
    noise = len(model) if metrics_seed is None else metrics_seed
    metrics = fake_metrics(quality, seed=noise + 100 * seed, images=val_images)
    rng = np.random.default_rng(len(model) + 100 * seed)
    stems = val_stems(val_images)
    PerImage(
        stems,
        [s.split("_")[0] for s in stems],
        split_per_image(metrics["confusion_matrix"], val_images, rng),
    ).write(folder)
    parameters = {
        "data_root": str(data_root) if data_root else None,
        "image_height": 64,
        "image_width": 128,
        "epochs": epochs,
        "batch_size": 8,
        "max_train_images": train_images,
        "max_val_images": val_images,
        "learning_rate": 0.001,
        "backbone_weights": None,
        "variant": "default",
        "width": None,
        "seed": seed,
        "selection": "last",
        "results_dir": str(results),
    }
    run = {
        "schema": 2,
        "model": model,
        "status": "ok",
        "digest": f"{abs(hash(model)) % 16**16:016x}",
        "parameters": parameters,
        "params": params,
        "flops": gflops * 1e9,
        "model_options": {"width": 0.25},
        "context": {"module": "bottleneck", "feature_map": [4, 8], "batch_norm": True},
        "data": {
            "root": str(data_root) if data_root else "/nonexistent/synthetic",
            "synthetic": synthetic,
            "train_images": train_images,
            "val_images": val_images,
            "image_size": [128, 256],
            "class_pixel_fraction": dict(
                zip(CLASS_NAMES, (CLASS_FRACTIONS / CLASS_FRACTIONS.sum()).tolist())
            ),
            "sample_stems": list(STEMS),
        },
        "training": {
            "selection": "last",
            "monitor": "val",
            "best_epoch": epochs,
            "steps_per_epoch": train_images // 8,
            "iterations": epochs * train_images // 8,
        },
        "evaluation": {
            "split": "val",
            "protocol": "full",
            "resolution": [128, 256],
            "input_scale": 0.5,
        },
        "metrics": metrics,
        "timing": {
            "train_seconds": train_seconds,
            "train_images_per_second": train_images * epochs / train_seconds,
            "inference_images_per_second": speed,
            "forward_ms_median": 8000 / speed,
            "forward_ms_iqr": 0.4,
            "forward_batch": 8,
            "pipeline_images_per_second": speed / 3,
            "peak_rss_mb": 1830.5,
            "concurrent_runs": 1,
        },
        "environment": {
            "urbanseg": "0.1.0",
            "python": "3.11.9",
            "keras": "3.5.0",
            "backend": "tensorflow",
            "tensorflow": "2.17.0",
            "numpy": "1.26.4",
            "platform": "Linux-6.1-x86_64",
            "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz (2 cores)",
            "gpu": None,
            "git_commit": "24d0694",
            "date": "2025-11-24T10:00:00",
        },
    }
    write_json(folder / "metrics.json", run)
    history = pd.DataFrame(
        {
            "epoch": np.arange(1, epochs + 1),
            "loss": 2.2 * np.exp(-np.arange(epochs) * quality / 1.5) + 0.2,
            "val_loss": 2.3 * np.exp(-np.arange(epochs) * quality / 1.7)
            + 0.3
            + rng.normal(0, 0.02, epochs),
            "val_miou": metrics["miou"] * (1 - np.exp(-(np.arange(epochs) + 1) * 0.9)),
            "learning_rate": 0.001 * (1 - np.arange(epochs) / epochs) ** 0.9,
            "seconds": np.full(epochs, train_seconds / epochs),
        }
    )
    history.to_csv(folder / "history.csv", index=False)
    if data_root is not None:
        (folder / "samples").mkdir(parents=True, exist_ok=True)
        for stem in STEMS:
            city = stem.split("_")[0]
            ids = np.asarray(
                Image.open(data_root / "gtFine" / "val" / city / f"{stem}_gtFine_labelIds.png")
            )
            train_ids = labels_to_train_ids(ids[::2, ::2])
            pred = np.where(train_ids == 255, 0, train_ids)
            wrong = rng.random(pred.shape) > quality
            pred[wrong] = rng.integers(0, 19, int(wrong.sum()))
            Image.fromarray(pred.astype(np.uint8), mode="L").save(
                folder / "samples" / f"{stem}.png"
            )
    make_notebook(folder / f"{model}.ipynb", model)
    return run


def make_failed(results: Path, model: str, error: str, seed: int = 0) -> None:
    folder = results / model / f"seed-{seed}"
    make_notebook(folder / f"{model}.ipynb", model)
    write_json(
        folder / "failed.json",
        {
            "model": model,
            "error": error,
            "traceback": "Traceback (most recent call last):\n  ...\n" + error,
            "notebook": str(folder / f"{model}.ipynb"),
            "date": "2025-11-24T11:02:00",
        },
    )


def make_results(
    base: Path,
    models=("unet", "fcn", "deeplab"),
    failed=("pspnet",),
    with_data=True,
    seeds=(0,),
    **run_options,
) -> tuple[Path, Path | None]:
    """A results folder: every model of ``models`` once per seed, ``failed`` failing."""
    data_root = make_data_tree(base / "cityscapes") if with_data else None
    results = base / "results"
    for model in models:
        for seed in seeds:
            make_run(results, model, data_root, seed=seed, **run_options)
    for model in failed:
        make_failed(
            results,
            model,
            "ResourceExhaustedError: OOM when allocating tensor with shape [8,512,64,128]",
        )
    return results, data_root


def tiny_experiment(tiny_tree: Path, tmp_path: Path, builder, results="results", **parameters):
    """An Experiment named "mine" on the ``tiny_tree`` fixture (32x64, 2 epochs of batch 2), its
    model built by ``builder``; ``parameters`` override the run's."""
    from urbanseg.config import RunConfig
    from urbanseg.experiment import Experiment

    config = RunConfig.from_dict(
        {
            "data_root": str(tiny_tree),
            "image_height": 32,
            "image_width": 64,
            "epochs": 2,
            "batch_size": 2,
            "results_dir": str(tmp_path / results),
            **parameters,
        }
    )
    info = {"display_name": "Mine", "description": "A test model."}
    run = Experiment("mine", config, progress=False, model_info=info)
    run.build_model(builder)
    return run
