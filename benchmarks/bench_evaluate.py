"""Time ``urbanseg evaluate`` against cityscapesScripts' evalPixelLevelSemanticLabeling.

Writes N full-resolution (2048x1024) ground-truth/prediction pairs with instances into a temporary
Cityscapes tree, then scores the same files with the official ``evaluateImgLists`` (instance
scores on, as its main) and with ``urbanseg.evaluation.evaluate_predictions``, and prints
milliseconds per pair and the ratio. Both runs must agree on every score.

    .venv/bin/python benchmarks/bench_evaluate.py [--pairs 20] [--repeat 3] [--jobs N] [--processes]

Each side runs --repeat times, interleaved, and keeps its best time. The PNG decoding (zlib
inflate) that both sides share is most of the work, so the gain comes from the per-image
bincounts and from decoding on every CPU; on a machine shared with other jobs it shrinks.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from urbanseg.data import find_samples
from urbanseg.evaluation import _score_pair, evaluate_predictions, match_predictions
from urbanseg.metrics import ConfusionMatrix

HEIGHT, WIDTH = 1024, 2048
CITY = "frankfurt"

# label ids (helpers/labels.py): stuff drawn as bands and blocks, things as instances
SKY, BUILDING, VEGETATION, ROAD, SIDEWALK, EGO, STATIC = 23, 11, 21, 7, 8, 1, 4
STUFF_BLOCKS = (
    12,
    13,
    17,
    19,
    20,
    22,
    9,
    14,
    4,
    5,
)  # wall, fence, pole, lights, signs, terrain, ...
THINGS = {  # label id: (count per image, typical height)
    24: (6, 120),
    25: (2, 130),
    26: (6, 160),
    27: (1, 260),
    28: (1, 300),
    31: (1, 320),
    32: (1, 120),
    33: (2, 110),
    29: (1, 220),  # caravan: instance of an ignored class
}


def make_ground_truth(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """labelIds (uint8) and instanceIds (uint16) of one synthetic street scene."""
    labels = np.full((HEIGHT, WIDTH), BUILDING, dtype=np.uint8)
    horizon = int(rng.integers(380, 480))
    labels[: int(rng.integers(150, 300))] = SKY
    for _ in range(8):  # trees and sky gaps along the skyline
        x, w = int(rng.integers(0, WIDTH)), int(rng.integers(100, 400))
        labels[int(rng.integers(100, 250)) : horizon, x : x + w] = VEGETATION
    labels[horizon:] = ROAD
    labels[horizon : horizon + 120, : int(rng.integers(300, 600))] = SIDEWALK
    labels[horizon : horizon + 120, -int(rng.integers(300, 600)) :] = SIDEWALK
    for _ in range(25):
        y, x = int(rng.integers(100, HEIGHT - 150)), int(rng.integers(0, WIDTH))
        labels[y : y + int(rng.integers(20, 200)), x : x + int(rng.integers(8, 250))] = rng.choice(
            STUFF_BLOCKS
        )
    labels[-80:] = EGO
    instances = labels.astype(np.uint16)
    for label_id, (count, height) in THINGS.items():
        for k in range(int(rng.integers(0, 2 * count + 1))):
            h = int(height * rng.uniform(0.3, 1.5))
            w = int(h * (0.45 if label_id in (24, 25) else 1.6))
            y, x = (
                int(rng.integers(horizon - h // 2, HEIGHT - 80 - h // 2)),
                int(rng.integers(0, WIDTH - w)),
            )
            labels[y : y + h, x : x + w] = label_id
            instances[y : y + h, x : x + w] = label_id * 1000 + k
    crowd = int(rng.integers(0, WIDTH - 300))  # a group of people without instance ids
    labels[horizon : horizon + 150, crowd : crowd + 300] = 24
    instances[horizon : horizon + 150, crowd : crowd + 300] = 24
    return labels, instances


def make_prediction(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ground truth shifted a little, with wrong blocks, void blocks and caravans for cars."""
    prediction = np.roll(
        labels, (int(rng.integers(-6, 7)), int(rng.integers(-12, 13))), axis=(0, 1)
    )
    for _ in range(30):
        y, x = int(rng.integers(0, HEIGHT - 64)), int(rng.integers(0, WIDTH - 64))
        prediction[y : y + int(rng.integers(16, 200)), x : x + int(rng.integers(16, 300))] = (
            rng.integers(0, 34)
        )
    cars = prediction == 26
    prediction[cars & (rng.random(cars.shape) < 0.002)] = 29
    return prediction


def write_tree(root: Path, pred_dir: Path, pairs: int, seed: int = 0) -> int:
    """The Cityscapes tree and the predictions; returns the number of evaluated instances."""
    rng = np.random.default_rng(seed)
    (root / "leftImg8bit" / "val" / CITY).mkdir(parents=True)
    (root / "gtFine" / "val" / CITY).mkdir(parents=True)
    pred_dir.mkdir(parents=True)
    placeholder = Image.new("RGB", (1, 1))  # evaluation never reads the camera images
    count = 0
    for index in range(pairs):
        stem = f"{CITY}_000000_{index:06d}"
        labels, instances = make_ground_truth(rng)
        ids = np.unique(instances[instances >= 1000]) // 1000
        count += int(np.isin(ids, [24, 25, 26, 27, 28, 31, 32, 33]).sum())
        placeholder.save(root / "leftImg8bit" / "val" / CITY / f"{stem}_leftImg8bit.png")
        Image.fromarray(labels).save(root / "gtFine" / "val" / CITY / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(instances).save(
            root / "gtFine" / "val" / CITY / f"{stem}_gtFine_instanceIds.png"
        )
        Image.fromarray(make_prediction(labels, rng)).save(pred_dir / f"{stem}_pred.png")
    return count


def official(root: Path, pred_dir: Path) -> dict:
    """evaluateImgLists as the script's main calls it, quiet and without writing JSON."""
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official_script

    if not hasattr(np, "in1d"):  # removed in NumPy 2.4; the official instance path needs it
        np.in1d = np.isin
    args = official_script.CArgs()
    vars(args).update(vars(official_script.args))
    args.quiet, args.JSONOutput, args.evalInstLevelScore = True, False, True
    ground_truth = sorted(str(p) for p in (root / "gtFine" / "val").glob("*/*_gtFine_labelIds.png"))
    predictions = [
        str(pred_dir / (Path(p).name.replace("_gtFine_labelIds", "_pred"))) for p in ground_truth
    ]
    return official_script.evaluateImgLists(predictions, ground_truth, args)


def with_processes(root: Path, pred_dir: Path, jobs: int) -> dict:
    """The same work as evaluate_predictions, in a process pool (for the threads/processes choice)."""
    pairs = match_predictions(find_samples(root, "val"), pred_dir)
    total = ConfusionMatrix()
    with ProcessPoolExecutor(jobs) as executor:
        for part in executor.map(_score_pair, pairs, [True] * len(pairs)):
            total.merge(part)
    return total.compute()


def check_agreement(ours: dict, theirs: dict) -> None:
    def same(a, b):
        return (a is None and math.isnan(b)) or (a is not None and abs(a - b) < 1e-9)

    for name, value in ours["iou"].items():
        assert same(value, theirs["classScores"][name]), name
    for name, value in ours["instance_iou"].items():
        assert same(value, theirs["classInstScores"][name]), name
    for name, value in ours["category_iou"].items():
        assert same(value, theirs["categoryScores"][name]), name
    for name, value in ours["category_instance_iou"].items():
        assert same(value, theirs["categoryInstScores"][name]), name
    assert same(ours["miou"], theirs["averageScoreClasses"])
    assert same(ours["iiou"], theirs["averageScoreInstClasses"])
    assert same(ours["category_miou"], theirs["averageScoreCategories"])
    assert same(ours["category_iiou"], theirs["averageScoreInstCategories"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument(
        "--repeat", type=int, default=3, help="time each side this many times, keep the best"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="urbanseg worker threads (default: CPUs)"
    )
    parser.add_argument(
        "--processes", action="store_true", help="also time a process pool and one thread"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_evaluate_") as folder:
        root, pred_dir = Path(folder) / "cityscapes", Path(folder) / "pred"
        start = time.perf_counter()
        instances = write_tree(root, pred_dir, options.pairs)
        print(
            f"wrote {options.pairs} pairs of {WIDTH}x{HEIGHT} ({instances} instances) in "
            f"{time.perf_counter() - start:.1f} s; {os.cpu_count()} CPUs, load average "
            + " ".join(f"{load:.2f}" for load in os.getloadavg())
        )
        runs = {
            "official evaluateImgLists": lambda: official(root, pred_dir),
            "urbanseg evaluate_predictions": lambda: evaluate_predictions(
                root, pred_dir, jobs=options.jobs, progress=False
            ),
        }
        if options.processes:
            runs["urbanseg, one thread"] = lambda: evaluate_predictions(
                root, pred_dir, jobs=1, progress=False
            )
            runs["urbanseg, process pool"] = lambda: with_processes(
                root, pred_dir, options.jobs or 2
            )
        # Interleave the runs and keep each one's best, so that a busy machine hurts all alike.
        wall, cpu, results = (
            {name: math.inf for name in runs},
            {name: math.inf for name in runs},
            {},
        )
        for _ in range(options.repeat):
            for name, run in runs.items():
                start_wall, start_cpu = time.perf_counter(), time.process_time()
                results[name] = run()
                wall[name] = min(wall[name], time.perf_counter() - start_wall)
                cpu[name] = min(cpu[name], time.process_time() - start_cpu)
        official_name = "official evaluateImgLists"
        for name in runs:
            if name != official_name:
                check_agreement(results[name], results[official_name])
            cpu_time = (
                ""
                if "process" in name
                else f"   (CPU {cpu[name] / options.pairs * 1e3:5.1f} ms/pair)"
            )
            print(f"{name:<32} {wall[name] / options.pairs * 1e3:7.1f} ms/pair{cpu_time}")
        ratio = wall[official_name] / wall["urbanseg evaluate_predictions"]
        print(
            f"urbanseg is {ratio:.2f}x faster than the official script; every score agrees to 1e-9"
        )


if __name__ == "__main__":
    main()
