"""ConfusionMatrix on hand-computed examples (the official equivalence is in test_evaluation.py)."""

import json
import math

import numpy as np
import pytest

from urbanseg.labels import CATEGORY_NAMES, CLASS_NAMES, TRAINID_TO_ID
from urbanseg.metrics import AVERAGE_INSTANCE_SIZE, INSTANCE_CLASS_NAMES, ConfusionMatrix

ROAD, SIDEWALK, BUILDING, PERSON, RIDER, CAR = 0, 1, 2, 11, 12, 13
VOID = 255

# Nine pixels: (gt, pred) = (0,0) (0,1) (1,1) / (1,2) (2,2) (255,2) / (2,255) (2,2) (0,0)
GT_3X3 = np.array([[0, 0, 1], [1, 2, VOID], [2, 2, 0]], dtype=np.uint8)
PRED_3X3 = np.array([[0, 1, 1], [2, 2, 2], [VOID, 2, 0]], dtype=np.uint8)


def scores(gt, pred, instances=None, *, label_ids=False):
    matrix = ConfusionMatrix()
    (matrix.update_label_ids if label_ids else matrix.update)(gt, pred, instances)
    return matrix.compute()


def test_3x3_class_scores():
    metrics = scores(GT_3X3, PRED_3X3)
    # road: tp 2, fn 1 (-> sidewalk); sidewalk: tp 1, fn 1, fp 1; building: tp 2, fn 1 (void), fp 1
    assert metrics["iou"]["road"] == pytest.approx(2 / 3)
    assert metrics["iou"]["sidewalk"] == pytest.approx(1 / 3)
    assert metrics["iou"]["building"] == pytest.approx(2 / 4)
    assert all(metrics["iou"][name] is None for name in CLASS_NAMES[3:])
    assert metrics["miou"] == pytest.approx(0.5)
    assert metrics["precision"]["road"] == 1.0
    assert metrics["precision"]["building"] == pytest.approx(2 / 3)
    assert metrics["recall"]["sidewalk"] == pytest.approx(1 / 2)
    assert metrics["f1"]["road"] == pytest.approx(0.8)
    assert metrics["f1"]["building"] == pytest.approx(2 / 3)
    assert metrics["num_images"] == 1


def test_3x3_accuracies_and_frequency_weighted_iou():
    metrics = scores(GT_3X3, PRED_3X3)
    assert metrics["pixel_accuracy"] == pytest.approx(5 / 8)  # the ignored pixel counts nowhere
    assert metrics["mean_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert metrics["fw_iou"] == pytest.approx(3 / 8 * 2 / 3 + 2 / 8 * 1 / 3 + 3 / 8 * 1 / 2)


def test_3x3_confusion_matrix_puts_void_predictions_in_the_last_column():
    matrix = np.array(scores(GT_3X3, PRED_3X3)["confusion_matrix"])
    assert matrix.shape == (19, 20)
    assert matrix[ROAD, :3].tolist() == [2, 1, 0]
    assert matrix[SIDEWALK, :3].tolist() == [0, 1, 1]
    assert matrix[BUILDING, :3].tolist() == [0, 0, 2]
    assert matrix[BUILDING, 19] == 1  # building predicted void: a false negative
    assert matrix.sum() == 8


def test_3x3_category_scores():
    metrics = scores(GT_3X3, PRED_3X3)
    # flat (road, sidewalk): tp 4, fn 1 (sidewalk -> building); construction: tp 2, fp 1, fn 1
    assert metrics["category_iou"]["flat"] == pytest.approx(4 / 5)
    assert metrics["category_iou"]["construction"] == pytest.approx(2 / 4)
    assert metrics["category_iou"]["sky"] is None
    assert metrics["category_miou"] == pytest.approx(0.65)
    assert list(metrics["category_iou"]) == list(CATEGORY_NAMES)


def test_ignored_ground_truth_counts_nowhere():
    gt = np.full((4, 4), VOID, dtype=np.uint8)
    gt[0, 0] = ROAD
    pred = np.full((4, 4), CAR, dtype=np.uint8)
    pred[0, 0] = ROAD
    metrics = scores(gt, pred)
    assert metrics["iou"]["road"] == 1.0
    assert metrics["iou"]["car"] is None  # predicted only on ignored pixels: no false positive
    assert metrics["pixel_accuracy"] == 1.0
    assert np.array(metrics["confusion_matrix"]).sum() == 1


def test_void_prediction_is_a_false_negative_of_nobody_else():
    gt = np.array([[ROAD, ROAD]], dtype=np.uint8)
    pred = np.array([[ROAD, VOID]], dtype=np.uint8)
    metrics = scores(gt, pred)
    assert metrics["iou"]["road"] == 0.5
    assert metrics["precision"]["road"] == 1.0
    assert metrics["recall"]["road"] == 0.5
    assert metrics["miou"] == 0.5  # no other class gets a false positive


def test_class_only_predicted_scores_zero_and_counts_in_the_mean():
    gt = np.array([[ROAD, ROAD]], dtype=np.uint8)
    pred = np.array([[ROAD, SIDEWALK]], dtype=np.uint8)
    metrics = scores(gt, pred)
    assert metrics["iou"]["sidewalk"] == 0.0
    assert metrics["recall"]["sidewalk"] is None
    assert metrics["miou"] == pytest.approx((0.5 + 0.0) / 2)
    assert metrics["mean_accuracy"] == 0.5


def test_empty_matrix_has_no_scores():
    metrics = ConfusionMatrix().compute()
    assert metrics["num_images"] == 0
    assert (
        metrics["miou"] is None and metrics["pixel_accuracy"] is None and metrics["fw_iou"] is None
    )
    json.dumps(metrics, allow_nan=False)


def test_merge_equals_one_matrix_over_all_images():
    rng = np.random.default_rng(0)
    images = [
        (
            rng.choice([*range(19), VOID], size=(8, 8)).astype(np.uint8),
            rng.integers(0, 19, (8, 8), dtype=np.uint8),
        )
        for _ in range(4)
    ]
    whole, first, second = ConfusionMatrix(), ConfusionMatrix(), ConfusionMatrix()
    for index, (gt, pred) in enumerate(images):
        whole.update(gt, pred)
        (first if index % 2 else second).update(gt, pred)
    first += second
    assert first.compute() == whole.compute()
    assert first.num_images == 4
    first.reset()
    assert first.compute() == ConfusionMatrix().compute()


def person_scene():
    """2x4 person pixels: one instance of 4 pixels (3 hit, 1 predicted rider), 4 crowd pixels."""
    gt = np.full((2, 4), PERSON, dtype=np.uint8)
    pred = np.full((2, 4), PERSON, dtype=np.uint8)
    pred[0, 3] = RIDER
    instances = np.full((2, 4), 24, dtype=np.uint16)  # crowd: the plain label id
    instances[0] = 24000
    return gt, pred, instances


def test_instance_iou_weights_hits_by_average_class_size():
    metrics = scores(*person_scene())
    weight = AVERAGE_INSTANCE_SIZE["person"] / 4
    assert metrics["instance_iou"]["person"] == pytest.approx(
        3 * weight / (3 * weight + 0 + 1 * weight)
    )
    assert metrics["instance_iou"]["rider"] == 0.0  # one false positive, no instance
    assert metrics["instance_iou"]["car"] is None
    assert metrics["iiou"] == pytest.approx(0.375)
    assert metrics["category_instance_iou"]["human"] == 1.0  # rider is a human hit
    assert metrics["category_instance_iou"]["vehicle"] is None
    assert metrics["category_iiou"] == 1.0
    assert metrics["iou"]["person"] == pytest.approx(7 / 8)  # the pixel scores ignore instances
    assert list(metrics["instance_iou"]) == list(INSTANCE_CLASS_NAMES)


def test_instance_size_counts_every_pixel_of_the_instance_whatever_its_label():
    gt, pred, instances = person_scene()
    instances[1, 0] = 24000  # the instance now has 5 pixels, one of them hit
    weight = AVERAGE_INSTANCE_SIZE["person"] / 5
    metrics = scores(gt, pred, instances)
    assert metrics["instance_iou"]["person"] == pytest.approx(
        4 * weight / (4 * weight + 1 * weight)
    )


def test_instances_of_ignored_classes_are_skipped():
    gt = np.array([[VOID, VOID, CAR]], dtype=np.uint8)
    pred = np.array([[CAR, CAR, CAR]], dtype=np.uint8)
    instances = np.array([[29000, 29000, 26000]], dtype=np.uint16)  # a caravan, then a car
    metrics = scores(gt, pred, instances)
    assert metrics["instance_iou"]["car"] == 1.0
    assert metrics["category_instance_iou"]["vehicle"] == 1.0


def test_caravan_predictions_count_for_vehicle_instances_as_in_the_official_script():
    # label ids: a car instance of two pixels, one predicted car, one caravan (ignored id 29)
    gt = np.array([[26, 26, 7]], dtype=np.uint8)
    pred = np.array([[26, 29, 29]], dtype=np.uint8)
    instances = np.array([[26000, 26000, 7]], dtype=np.uint16)
    official = scores(gt, pred, instances, label_ids=True)
    assert official["instance_iou"]["car"] == 0.5
    assert official["iou"]["car"] == 0.5
    assert official["category_iou"]["vehicle"] == 0.5  # caravan is void for the category IoU
    # ... but a vehicle hit for the category iIoU, and a false positive on the road pixel
    weight = AVERAGE_INSTANCE_SIZE["car"] / 2
    assert official["category_instance_iou"]["vehicle"] == pytest.approx(
        2 * weight / (2 * weight + 1)
    )
    # with train ids the caravan is already 255, so it is a plain miss
    train = scores(np.array([[CAR, CAR, ROAD]]), np.array([[CAR, VOID, VOID]]), instances)
    assert train["category_instance_iou"]["vehicle"] == 0.5


def test_label_ids_and_train_ids_agree_without_caravan_or_trailer_predictions():
    rng = np.random.default_rng(1)
    gt_ids = rng.integers(0, 34, (16, 16), dtype=np.uint8)
    pred_ids = rng.integers(0, 34, (16, 16), dtype=np.uint8)
    pred_ids[np.isin(pred_ids, [29, 30])] = 0
    instances = np.where(rng.random((16, 16)) < 0.5, 24000 + rng.integers(0, 3, (16, 16)), gt_ids)
    instances[:4] = 26001
    from urbanseg.labels import labels_to_train_ids

    by_label = scores(gt_ids, pred_ids, instances, label_ids=True)
    by_train = scores(labels_to_train_ids(gt_ids), labels_to_train_ids(pred_ids), instances)
    assert by_label == by_train


def test_train_ids_round_trip_through_official_label_ids():
    rng = np.random.default_rng(2)
    gt = rng.choice([*range(19), VOID], size=(12, 12)).astype(np.uint8)
    pred = rng.choice([*range(19), VOID], size=(12, 12)).astype(np.uint8)
    assert scores(gt, pred) == scores(TRAINID_TO_ID[gt], TRAINID_TO_ID[pred], label_ids=True)


def test_scores_are_plain_floats_or_none_and_json_ready():
    metrics = scores(*person_scene())
    for key in ("miou", "iiou", "category_miou", "pixel_accuracy", "mean_accuracy", "fw_iou"):
        assert type(metrics[key]) is float and 0.0 <= metrics[key] <= 1.0
    for key in ("iou", "instance_iou", "category_iou", "precision", "recall", "f1"):
        assert all(value is None or type(value) is float for value in metrics[key].values())
    assert all(type(count) is int for row in metrics["confusion_matrix"] for count in row)
    assert "null" in json.dumps(metrics, allow_nan=False)


def test_without_instances_instance_scores_are_none():
    metrics = scores(GT_3X3, PRED_3X3)
    assert metrics["iiou"] is None and metrics["category_iiou"] is None
    assert set(metrics["instance_iou"].values()) == {None}


def test_images_without_instances_leave_the_instance_scores_undefined(caplog):
    matrix = ConfusionMatrix()
    matrix.update(*person_scene())
    matrix.update(GT_3X3, PRED_3X3)
    metrics = matrix.compute()
    assert metrics["iiou"] is None and metrics["instance_iou"]["person"] is None
    assert metrics["iou"]["person"] == pytest.approx(7 / 8)
    assert "só 1 de 2 imagens vieram com ids de instância" in caplog.text


def test_a_batch_counts_as_its_images_and_keeps_instances_apart():
    first = person_scene()
    gt, pred, instances = person_scene()
    gt[1, 3] = RIDER  # a false positive for person, so that the instance weights matter
    pred[0, :2] = RIDER  # the same instance id as in the first image, 1 hit of 4
    one_by_one, batch = ConfusionMatrix(), ConfusionMatrix()
    one_by_one.update(*first)
    one_by_one.update(gt, pred, instances)
    batch.update(*(np.stack(arrays) for arrays in zip(first, (gt, pred, instances))))
    assert batch.num_images == 2
    assert batch.compute() == one_by_one.compute()
    weight = AVERAGE_INSTANCE_SIZE["person"] / 4
    hits, misses = (3 + 1) * weight, (1 + 3) * weight
    assert batch.compute()["instance_iou"]["person"] == pytest.approx(hits / (hits + 1 + misses))


@pytest.mark.parametrize(
    "gt, pred, message",
    [
        (np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), "forma"),
        (np.full((2, 2), 19, np.uint8), np.zeros((2, 2), np.uint8), r"gt tem valores \[19\]"),
        (np.zeros((2, 2), np.uint8), np.full((2, 2), 254, np.uint8), r"pred tem valores \[254\]"),
        (np.zeros((2, 2), np.int64), np.full((2, 2), -1), "fora dos"),
        (np.zeros((2, 2), np.float32), np.zeros((2, 2), np.uint8), "inteiros"),
    ],
)
def test_bad_arrays_raise_and_leave_the_matrix_unchanged(gt, pred, message):
    matrix = ConfusionMatrix()
    with pytest.raises(ValueError, match=message):
        matrix.update(gt, pred)
    assert matrix.num_images == 0 and not any(map(any, matrix.compute()["confusion_matrix"]))


def test_label_ids_outside_0_to_33_are_refused():
    with pytest.raises(ValueError, match=r"pred tem valores \[34\] fora dos ids de rótulo 0..33"):
        ConfusionMatrix().update_label_ids(
            np.zeros((1, 1), np.uint8), np.full((1, 1), 34, np.uint8)
        )


def test_only_19_classes():
    with pytest.raises(ValueError, match="num_classes=34"):
        ConfusionMatrix(num_classes=34)


def test_pixel_accuracy_is_not_nan_free_by_accident():
    metrics = scores(np.array([[VOID]], np.uint8), np.array([[ROAD]], np.uint8))
    assert metrics["pixel_accuracy"] is None and metrics["miou"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in metrics.values())


def test_majority_baseline_equals_scoring_a_constant_prediction():
    from urbanseg.metrics import majority_baseline

    rng = np.random.default_rng(5)
    gt = rng.choice([0, 0, 0, 2, 10, 13, 255], size=(3, 16, 32)).astype(np.uint8)
    model = ConfusionMatrix()
    model.update(gt, rng.integers(0, 19, gt.shape).astype(np.uint8))
    constant = ConfusionMatrix()
    constant.update(gt, np.zeros_like(gt))
    expected = constant.compute()
    baseline = majority_baseline(model.compute()["confusion_matrix"], 0)
    assert baseline["class"] == "road"
    assert baseline["miou"] == pytest.approx(expected["miou"], abs=1e-12)
    assert baseline["pixel_accuracy"] == pytest.approx(expected["pixel_accuracy"], abs=1e-12)
    # road is 3/6 of the valid pixels on average; four classes present -> mIoU about 0.5 / 4
    assert 0.08 < baseline["miou"] < 0.17
