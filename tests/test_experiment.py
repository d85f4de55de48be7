"""One run as a notebook makes it: which weights are scored, which images are seen when, and
what the run records (selection, per-image matrices, timings, input scale)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from urbanseg import data, inference
from urbanseg.config import RunConfig
from urbanseg.experiment import Experiment
from urbanseg.records import PerImage, RunRecord


def tiny_builder(num_classes=19, input_shape=(32, 64, 3), **_):
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1)(x), name="tiny")


def a_run(tiny_tree, tmp_path, **parameters) -> Experiment:
    config = RunConfig.from_dict(
        {
            "data_root": str(tiny_tree),
            "image_height": 32,
            "image_width": 64,
            "epochs": 2,
            "batch_size": 2,
            "results_dir": str(tmp_path / "results"),
            **parameters,
        }
    )
    run = Experiment(
        "mine",
        config,
        progress=False,
        model_info={"display_name": "Mine", "description": "A test model."},
    )
    run.build_model(tiny_builder)
    return run


@pytest.fixture
def reads(monkeypatch):
    """Every PNG the library decodes, in order."""
    seen = []

    def spy(original):
        def read(path, **options):
            seen.append(str(path))
            return original(path, **options)

        return read

    monkeypatch.setattr(data, "read_png", spy(data.read_png))
    monkeypatch.setattr(inference, "read_png", spy(inference.read_png))
    return seen


def test_holdout_selection_never_sees_the_val_split_before_the_final_evaluation(
    tiny_tree, tmp_path, reads
):
    run = a_run(tiny_tree, tmp_path, selection="holdout")
    assert run.training.holdout_cities == ["aachen"]  # a whole train city, the smaller first
    assert {s.city for s in run.train_samples} == {"bochum"}
    assert {s.city for s in run.monitor_samples} == {"aachen"}
    run.train()
    assert reads and not any("/val/" in path for path in reads)
    run.evaluate()
    assert any("/val/" in path for path in reads)
    run.finish()
    record = RunRecord.read(run.out)
    assert run.out == tmp_path / "results" / "mine" / "seed-0"
    assert record.training.selection == "holdout" and record.training.monitor == "holdout"
    assert record.training.best_epoch in (1, 2) and record.training.iterations == 2
    assert record.model_info["display_name"] == "Mine"


def test_a_run_records_what_the_statistics_and_the_report_need(tiny_tree, tmp_path):
    run = a_run(tiny_tree, tmp_path, seed=3)
    history = run.train()
    metrics = run.evaluate()
    run.finish()
    record = RunRecord.read(tmp_path / "results" / "mine" / "seed-3")
    assert record.seed == 3 and record.training.selection == "last"
    assert record.training.best_epoch == 2 and record.training.monitor == "val"
    assert record.evaluation.input_scale == 1.0  # the tiny tree's images are 32 x 64
    per_image = PerImage.read(record.folder)
    assert per_image.stems == [s.stem for s in run.val_samples]
    assert per_image.matrices.shape == (2, 19, 20)
    assert (per_image.matrices.sum(axis=0) == np.asarray(metrics["confusion_matrix"])).all()
    timing = record.timing
    total, monitored = history["seconds"].sum(), history["monitor_seconds"].sum()
    assert timing.train_seconds == pytest.approx(total - monitored)
    assert timing.forward_batch == 2 and timing.inference_images_per_second > 0
    assert timing.forward_ms_iqr >= 0 and timing.pipeline_images_per_second > 0
    assert timing.concurrent_runs == 1 and timing.gpu_peak_mb is None
    assert record.context["module"] == "bottleneck" and record.context["batch_norm"] is False


def test_the_images_do_not_depend_on_the_seed(tiny_tree, tmp_path):
    first = a_run(tiny_tree, tmp_path, seed=0, max_train_images=4, max_val_images=1)
    other = a_run(tiny_tree, tmp_path, seed=7, max_train_images=4, max_val_images=1)
    assert [s.stem for s in first.train_samples] == [s.stem for s in other.train_samples]
    assert [s.stem for s in first.val_samples] == [s.stem for s in other.val_samples]


def test_output_stride_and_aux_loss_reach_only_the_models_that_have_them(tiny_tree, tmp_path):
    config = RunConfig.from_dict(
        {
            "data_root": str(tiny_tree),
            "image_height": 32,
            "image_width": 64,
            "width": 0.125,
            "output_stride": 8,
            "aux_loss": 0.4,
            "results_dir": str(tmp_path),
        }
    )
    expected = {
        "pspnet": {"output_stride": 8, "aux_head": True},
        "deeplab": {"output_stride": 8},
        "unet": {},
    }
    for name, options in expected.items():
        run = Experiment(name, config, progress=False)
        model = run.build_model()
        assert {k: v for k, v in run.model_options.items() if k != "width"} == options
        assert len(model.outputs) == (2 if name == "pspnet" else 1)


def test_iterations_become_epochs_of_equal_length(tiny_tree, tmp_path):
    run = a_run(tiny_tree, tmp_path)  # 6 train images, batch 2: 3 steps per pass
    assert run.schedule() == (2, 3)  # epochs decide
    for iterations, expected in ((4, (2, 2)), (3, (1, 3)), (2, (1, 2)), (7, (3, 3))):
        run.config = RunConfig.from_dict({**run.config.to_dict(), "iterations": iterations})
        epochs, steps = run.schedule()
        assert (epochs, steps) == expected and steps <= 3
        assert iterations <= epochs * steps < iterations + epochs


def test_training_follows_the_iteration_budget(tiny_tree, tmp_path):
    run = a_run(
        tiny_tree,
        tmp_path,
        iterations=4,
        optimizer="sgd",
        learning_rate=0.01,
        weight_decay=5e-4,
        min_learning_rate=1e-4,
    )
    history = run.train()
    assert len(history) == 2 and int(run.model.optimizer.iterations.numpy()) == 4
    assert run.training.iterations == 4 and run.training.steps_per_epoch == 2
    assert history["learning_rate"].iloc[-1] == pytest.approx(1e-4, rel=1e-4)  # the floor
