"""evaluate_predictions against cityscapesScripts' evalPixelLevelSemanticLabeling, and bad input."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from urbanseg.errors import InputError
from urbanseg.evaluation import evaluate_predictions, format_table, write_json

HEIGHT, WIDTH = 64, 128
CITIES = ("frankfurt", "lindau")
THINGS = (
    24,
    25,
    26,
    26,
    27,
    29,
    30,
    32,
    33,
)  # person, rider, car, car, truck, caravan, trailer, ...
ABSENT_FROM_GT = (12, 31)  # wall, train: only ever predicted
ABSENT_FROM_PREDICTION = 28  # bus: in the ground truth, never predicted


def scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """labelIds, instanceIds and a prediction (label ids) of one small random street scene."""
    stuff = [i for i in range(34) if i not in ABSENT_FROM_GT]
    labels = np.empty((HEIGHT, WIDTH), dtype=np.uint8)
    for y in range(0, HEIGHT, 16):
        for x in range(0, WIDTH, 16):
            labels[y : y + 16, x : x + 16] = rng.choice(stuff)
    instances = labels.astype(np.uint16)
    for k, label_id in enumerate(rng.choice(THINGS, size=6)):
        h, w = rng.integers(4, 24, size=2)
        y, x = rng.integers(0, HEIGHT - h), rng.integers(0, WIDTH - w)
        labels[y : y + h, x : x + w] = label_id
        instances[y : y + h, x : x + w] = label_id * 1000 + k
    labels[-6:, :20] = 24  # a crowd of people: label id, no instance id
    instances[-6:, :20] = 24
    prediction = labels.copy()
    for _ in range(12):  # wrong blocks, ignored ids (0..6, caravan 29, ...) included
        h, w = rng.integers(2, 20, size=2)
        y, x = rng.integers(0, HEIGHT - h), rng.integers(0, WIDTH - w)
        prediction[y : y + h, x : x + w] = rng.integers(0, 34)
    noise = rng.random(labels.shape) < 0.05
    prediction[noise] = rng.integers(0, 34, size=int(noise.sum()))
    prediction[prediction == ABSENT_FROM_PREDICTION] = 26
    prediction[prediction == ABSENT_FROM_GT[0]] = 11
    prediction[:2, :4] = ABSENT_FROM_GT[1]  # train predicted on a few pixels
    return labels, instances, prediction


def stem_of_index(index: int) -> tuple[str, str]:
    city = CITIES[index % len(CITIES)]
    return city, f"{city}_{index:06d}_{index * 19 % 1000:06d}"


def write_tree(
    tmp_path: Path, images: int = 4, seed: int = 0, split: str = "val"
) -> tuple[Path, Path]:
    """A Cityscapes tree under tmp_path/cityscapes and official-format predictions under tmp_path/pred."""
    rng = np.random.default_rng(seed)
    root, pred_dir = tmp_path / "cityscapes", tmp_path / "pred"
    for index in range(images):
        city, stem = stem_of_index(index)
        labels, instances, prediction = scene(rng)
        image_dir, label_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        (pred_dir / city).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (WIDTH, HEIGHT)).save(image_dir / f"{stem}_leftImg8bit.png")
        Image.fromarray(labels).save(label_dir / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(instances).save(label_dir / f"{stem}_gtFine_instanceIds.png")
        Image.fromarray(prediction).save(pred_dir / city / f"{stem}_leftImg8bit.png")
    return root, pred_dir


def official_scores(root: Path, pred_dir: Path, monkeypatch, *, instances: bool = True) -> dict:
    """evaluateImgLists configured as the official main, quiet and without a JSON file."""
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    if not hasattr(np, "in1d"):  # removed in NumPy 2.4; the official instance path calls it
        monkeypatch.setattr(np, "in1d", np.isin, raising=False)
    args = official.CArgs()
    vars(args).update(vars(official.args))
    args.quiet, args.JSONOutput, args.evalInstLevelScore = True, False, instances
    ground_truth = sorted(str(path) for path in root.glob("gtFine/val/*/*_gtFine_labelIds.png"))
    predictions = [
        str(
            pred_dir
            / Path(path).parent.name
            / Path(path).name.replace("gtFine_labelIds", "leftImg8bit")
        )
        for path in ground_truth
    ]
    return official.evaluateImgLists(predictions, ground_truth, args)


def assert_same(ours, theirs, what):
    if ours is None:
        assert math.isnan(theirs), f"{what}: ours None, official {theirs}"
    else:
        assert theirs == pytest.approx(ours, abs=1e-9), what


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_score_equals_the_official_script(tmp_path, monkeypatch, seed):
    root, pred_dir = write_tree(tmp_path, images=5, seed=seed)
    ours = evaluate_predictions(root, pred_dir, progress=False)
    theirs = official_scores(root, pred_dir, monkeypatch)
    for name in ours["iou"]:
        assert_same(ours["iou"][name], theirs["classScores"][name], f"IoU {name}")
    for name in ours["instance_iou"]:
        assert_same(ours["instance_iou"][name], theirs["classInstScores"][name], f"iIoU {name}")
    for name in ours["category_iou"]:
        assert_same(
            ours["category_iou"][name], theirs["categoryScores"][name], f"category IoU {name}"
        )
    for name in ours["category_instance_iou"]:
        assert_same(
            ours["category_instance_iou"][name],
            theirs["categoryInstScores"][name],
            f"category iIoU {name}",
        )
    assert_same(ours["miou"], theirs["averageScoreClasses"], "mIoU")
    assert_same(ours["iiou"], theirs["averageScoreInstClasses"], "iIoU")
    assert_same(ours["category_miou"], theirs["averageScoreCategories"], "category mIoU")
    assert_same(ours["category_iiou"], theirs["averageScoreInstCategories"], "category iIoU")
    assert ours["num_images"] == 5
    # the cases exercise what they claim to
    assert ours["iou"]["wall"] is None and ours["iou"]["train"] == 0.0
    assert ours["precision"]["bus"] is None and ours["recall"]["bus"] == 0.0
    confusion = np.array(theirs["confMatrix"])
    assert confusion[:, 29].sum() > 0 and confusion[7:, :7].sum() > 0  # caravan and void predicted


def test_confusion_matrix_equals_the_official_one_folded_to_train_ids(tmp_path, monkeypatch):
    from urbanseg.labels import ID_TO_TRAINID

    root, pred_dir = write_tree(tmp_path, images=3)
    ours = np.array(evaluate_predictions(root, pred_dir, progress=False)["confusion_matrix"])
    theirs = np.array(official_scores(root, pred_dir, monkeypatch)["confMatrix"], dtype=np.int64)
    folded = np.zeros((20, 20), dtype=np.int64)
    train_ids = np.minimum(ID_TO_TRAINID[:34], 19)
    np.add.at(folded, (train_ids[:, None], train_ids[None, :]), theirs)
    assert ours.tolist() == folded[:19].tolist()


def test_without_instances_pixel_scores_still_match(tmp_path, monkeypatch):
    root, pred_dir = write_tree(tmp_path, images=3, seed=3)
    for path in root.glob("gtFine/val/*/*_instanceIds.png"):
        path.unlink()
    ours = evaluate_predictions(root, pred_dir, instances=False, progress=False)
    theirs = official_scores(root, pred_dir, monkeypatch, instances=False)
    for name in ours["iou"]:
        assert_same(ours["iou"][name], theirs["classScores"][name], f"IoU {name}")
    assert_same(ours["category_miou"], theirs["averageScoreCategories"], "category mIoU")
    assert ours["iiou"] is None and ours["category_iiou"] is None  # the official prints 0 here


def test_threads_and_serial_give_identical_results(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=6, seed=4)
    serial = evaluate_predictions(root, pred_dir, jobs=1, progress=False)
    assert evaluate_predictions(root, pred_dir, jobs=3, progress=False) == serial


def test_prediction_names_need_only_contain_the_stem(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    expected = evaluate_predictions(root, pred_dir, progress=False)
    for index, path in enumerate(sorted(pred_dir.rglob("*.png"))):
        target = pred_dir / "nested" / str(index) / f"model_{path.stem}_labelIds.png"
        target.parent.mkdir(parents=True)
        path.rename(target)
    (pred_dir / "notes.png").write_bytes(b"")  # matches no image: not read
    assert evaluate_predictions(root, pred_dir, progress=False) == expected


def test_format_table_lists_every_class_and_the_means(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    table = format_table(evaluate_predictions(root, pred_dir, progress=False))
    for word in ("road", "bicycle", "vehicle", "média", "acurácia de pixel", "iIoU", "revocação"):
        assert word in table
    assert "wall" in table and "-" in table.split("wall")[1].splitlines()[0]  # undefined shown as -


def test_write_json_is_atomic_and_uses_null(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    metrics = evaluate_predictions(root, pred_dir, progress=False)
    target = tmp_path / "out" / "metrics.json"
    target.parent.mkdir()
    target.write_text("old")
    write_json(metrics, target)
    assert json.loads(target.read_text()) == metrics
    assert "null" in target.read_text()
    with pytest.raises(ValueError):
        write_json({"miou": float("nan")}, target)
    assert json.loads(target.read_text()) == metrics  # the old file survives a failed write
    assert [path.name for path in target.parent.iterdir()] == ["metrics.json"]


# --- bad input: an InputError naming the file, and nothing written -----------------------------


def snapshot(folder: Path) -> dict:
    return {str(path): path.stat().st_mtime_ns for path in folder.rglob("*")}


def expect_input_error(tmp_path, root, pred_dir, *words, **options):
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as caught:
        evaluate_predictions(root, pred_dir, progress=False, **options)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert str(word) in message, f"{word!r} not in {message!r}"
    assert snapshot(tmp_path) == before
    return message


def prediction_of(pred_dir: Path, index: int = 0) -> Path:
    city, stem = stem_of_index(index)
    return pred_dir / city / f"{stem}_leftImg8bit.png"


def test_missing_root(tmp_path):
    expect_input_error(tmp_path, tmp_path / "nowhere", tmp_path, "nowhere", "não encontrada")


def test_missing_split_folder(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=1)
    expect_input_error(tmp_path, root, pred_dir, "leftImg8bit/test", "não encontrada", split="test")


def test_missing_prediction_folder(tmp_path):
    root, _ = write_tree(tmp_path, images=1)
    expect_input_error(tmp_path, root, tmp_path / "preds", "preds", "não encontrada")


def test_empty_prediction_folder(tmp_path):
    root, _ = write_tree(tmp_path, images=1)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    expect_input_error(tmp_path, root, tmp_path / "empty", "empty", "nenhuma predição PNG")


def test_prediction_with_several_channels(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    path = prediction_of(pred_dir, 1)
    Image.open(path).convert("RGB").save(path)
    expect_input_error(tmp_path, root, pred_dir, path, "um só canal", "RGB")


def test_prediction_of_another_size_names_both_sizes(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    path = prediction_of(pred_dir)
    Image.open(path).resize((WIDTH // 2, HEIGHT // 2), Image.NEAREST).save(path)
    expect_input_error(tmp_path, root, pred_dir, path, "64x32", "128x64", "_gtFine_labelIds.png")


def test_prediction_with_ids_outside_0_to_33(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    path = prediction_of(pred_dir, 1)
    ids = np.array(Image.open(path))
    ids[3, 3] = 40
    Image.fromarray(ids).save(path)
    expect_input_error(tmp_path, root, pred_dir, path, "40", "fora de 0..33")


def test_two_predictions_for_one_image_names_both(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    path = prediction_of(pred_dir)
    copy = pred_dir / "again" / path.name.replace("leftImg8bit", "pred")
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    expect_input_error(tmp_path, root, pred_dir, path, copy, stem_of_index(0)[1])


def test_image_without_prediction_names_the_stems(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=3)
    prediction_of(pred_dir, 0).unlink()
    prediction_of(pred_dir, 2).unlink()
    expect_input_error(
        tmp_path, root, pred_dir, "2 imagem(ns)", stem_of_index(0)[1], stem_of_index(2)[1]
    )


def test_truncated_prediction_png(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    path = prediction_of(pred_dir, 1)
    path.write_bytes(path.read_bytes()[:60])
    expect_input_error(tmp_path, root, pred_dir, path, "não é um PNG válido")


def test_corrupt_ground_truth_png(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    _, stem = stem_of_index(1)
    path = next(root.glob(f"gtFine/val/*/{stem}_gtFine_labelIds.png"))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    expect_input_error(tmp_path, root, pred_dir, path, "não é um PNG válido")


def test_ground_truth_with_ids_outside_0_to_33(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    path = next(root.glob("gtFine/val/*/*_gtFine_labelIds.png"))
    ids = np.array(Image.open(path))
    ids[0, 0] = 50
    Image.fromarray(ids).save(path)
    expect_input_error(tmp_path, root, pred_dir, path, "50", "fora de 0..33")


def test_missing_instance_ids_unless_instances_are_off(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=2)
    _, stem = stem_of_index(1)
    next(root.glob(f"gtFine/val/*/{stem}_gtFine_instanceIds.png")).unlink()
    expect_input_error(tmp_path, root, pred_dir, stem, "instanceIds", "--no-instances")
    assert evaluate_predictions(root, pred_dir, instances=False, progress=False)["iiou"] is None


def test_instance_ids_naming_unknown_labels(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=1)
    path = next(root.glob("gtFine/val/*/*_instanceIds.png"))
    ids = np.array(Image.open(path))
    ids[0, 0] = 40001
    Image.fromarray(ids).save(path)
    expect_input_error(tmp_path, root, pred_dir, path, "40001", "fora de 0..33")


def test_bad_jobs(tmp_path):
    root, pred_dir = write_tree(tmp_path, images=1)
    expect_input_error(tmp_path, root, pred_dir, "jobs=0", jobs=0)
