"""One run as a notebook makes it: which weights are scored, which images are seen when, and
what the run records (selection, per-image matrices, timings, input scale)."""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest
from fakes import tiny_experiment
from keras import layers

from urbanseg import data, inference
from urbanseg.config import RunConfig
from urbanseg.costs import count_flops
from urbanseg.errors import InputError
from urbanseg.experiment import Experiment
from urbanseg.records import PerImage, RunRecord


def tiny_builder(num_classes=19, input_shape=(32, 64, 3), **_):
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1)(x), name="tiny")


def a_run(tiny_tree, tmp_path, **parameters) -> Experiment:
    return tiny_experiment(tiny_tree, tmp_path, tiny_builder, **parameters)


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
    # where TensorFlow is loaded, images and labels are decoded by it first
    monkeypatch.setattr(data, "_decode_with_tensorflow", spy(data._decode_with_tensorflow))
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


def pixelwise(input_shape):
    """Logits that depend on each pixel alone (1x1 convolutions): any window sees the same."""
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 1, activation="relu", name="mix")(x)
    return keras.Model(inputs, layers.Conv2D(19, 1, name="classify")(x))


@pytest.mark.parametrize("overlap", [0.0, 0.33, 0.5])
def test_sliding_windows_equal_the_whole_image_for_position_independent_logits(overlap):
    from urbanseg.inference import slide_logits

    window, whole = pixelwise((32, 64, 3)), pixelwise((96, 160, 3))
    whole.set_weights(window.get_weights())
    image = np.random.default_rng(0).integers(0, 256, (96, 160, 3)).astype(np.uint8)
    expected = np.asarray(whole(image[None].astype("float32")))[0]
    np.testing.assert_allclose(slide_logits(window, image, overlap), expected, atol=1e-5)


def test_window_starts_cover_the_image_and_end_flush():
    from urbanseg.inference import _starts

    assert _starts(1024, 512, 1 / 3) == [0, 341, 512]
    assert _starts(2048, 1024, 1 / 3) == [0, 683, 1024]
    assert _starts(64, 64, 0.5) == [0]
    for length, window, overlap in ((160, 64, 0.33), (97, 32, 0.0), (1000, 333, 0.9)):
        starts = _starts(length, window, overlap)
        covered = np.zeros(length, bool)
        for start in starts:
            covered[start : start + window] = True
        assert covered.all() and starts[-1] + window == length


@pytest.mark.parametrize("mode", ["whole", "slide"])
def test_a_run_scores_the_whole_image_or_sliding_windows(tiny_tree, tmp_path, mode):
    run = a_run(tiny_tree, tmp_path, image_height=32, image_width=32, epochs=1, eval_mode=mode)
    run.train()
    metrics = run.evaluate()
    run.finish()
    record = RunRecord.read(run.out)
    assert record.evaluation.mode == mode and record.evaluation.input_scale == 1.0
    assert record.evaluation.overlap == (0.33 if mode == "slide" else None)
    assert metrics["num_images"] == 2 and 0 <= metrics["miou"] <= 1
    if mode == "whole":
        whole = run.model_at((32, 64))
        assert tuple(whole.inputs[0].shape[1:3]) == (32, 64)
        assert all(
            np.array_equal(a, b) for a, b in zip(whole.get_weights(), run.model.get_weights())
        )


def test_predict_writes_what_the_run_scored_with_sliding_windows(tiny_tree, tmp_path):
    from urbanseg.errors import InputError
    from urbanseg.evaluation import evaluate_predictions
    from urbanseg.inference import predict_split

    run = a_run(tiny_tree, tmp_path, image_height=32, image_width=32, epochs=1, eval_mode="slide")
    run.train()
    metrics = run.evaluate()
    run.finish()
    assert predict_split(run.out, tiny_tree, "val", tmp_path / "pred", progress=False) == 2
    scored = evaluate_predictions(
        tiny_tree, tmp_path / "pred", "val", instances=False, progress=False
    )
    assert scored["confusion_matrix"] == metrics["confusion_matrix"]
    record = RunRecord.read(run.out)
    record.evaluation.mode = "whole"
    record.write(run.out)
    with pytest.raises(InputError, match="só um modelo do catálogo pode ser construído de novo"):
        predict_split(run.out, tiny_tree, "val", tmp_path / "pred2", progress=False)


@pytest.mark.parametrize("mode", ["resize", "slide"])
def test_a_run_trains_on_crops_of_the_cached_images(tiny_tree, tmp_path, mode):
    run = a_run(
        tiny_tree,
        tmp_path,
        crop_height=32,
        crop_width=32,
        scale_range="0.5,2",
        cat_max_ratio=0.75,
        photometric=True,
        epochs=1,
        eval_mode=mode,
    )
    assert run.input_size == (32, 32) and run.size == (32, 64)
    assert tuple(run.model.inputs[0].shape[1:3]) == (32, 32)
    images, masks = next(iter(run.datasets()[0]))
    assert tuple(images.shape) == (2, 32, 32, 3) and tuple(masks.shape) == (2, 32, 32)
    run.train()
    metrics = run.evaluate()  # "resize": the model built again at 32 x 64
    run.finish()
    record = RunRecord.read(run.out)
    assert metrics["num_images"] == 2 and record.parameters["crop_width"] == 32
    assert record.evaluation.mode == mode
    # cost is reported at the study's resolution, as for a run that trains on whole images
    whole_images = a_run(tiny_tree, tmp_path / "whole")
    assert record.flops == whole_images.model_summary()["flops"] != count_flops(run.model)


def test_backbone_lr_mult_slows_the_backbone_layers_in_training(tiny_tree, tmp_path):
    def with_backbone(num_classes=19, input_shape=(32, 64, 3), **_):
        inputs = keras.Input(input_shape)
        x = layers.Rescaling(1 / 255)(inputs)
        x = layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(x)
        return keras.Model(inputs, layers.Conv2D(num_classes, 1, name="head")(x), name="tiny")

    config = RunConfig.from_dict(
        {
            "data_root": str(tiny_tree),
            "image_height": 32,
            "image_width": 64,
            "epochs": 1,
            "batch_size": 2,
            "backbone_lr_mult": 1e-4,
            "results_dir": str(tmp_path / "results"),
        }
    )
    run = Experiment("mine", config, progress=False, model_info={"display_name": "Mine"})
    model = run.build_model(with_backbone)
    before = {layer: model.get_layer(layer).get_weights()[0] for layer in ("block1_conv1", "head")}
    run.train()
    moved = {
        layer: np.abs(model.get_layer(layer).get_weights()[0] - before[layer]).max()
        for layer in before
    }
    assert moved["head"] > 1e-4 and moved["block1_conv1"] < 1e-2 * moved["head"]
    assert type(model.optimizer).__name__ == "LayerRateAdam"


def test_a_builder_of_the_wrong_shape_is_named_before_training(tiny_tree, tmp_path):
    def build_strided(num_classes=19, input_shape=(32, 64, 3), **_):
        inputs = keras.Input(input_shape)
        x = layers.Conv2D(num_classes, 3, strides=2, padding="same")(inputs)
        return keras.Model(inputs, x)  # forgot to upsample: 16x32 logits

    def build_too_few(num_classes=19, input_shape=(32, 64, 3), **_):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, layers.Conv2D(10, 1)(inputs))

    run = a_run(tiny_tree, tmp_path)
    with pytest.raises(InputError) as error:
        run.build_model(build_strided)
    assert str(error.value) == (
        "mine: build_strided mapeia 32x64x3 em 16x32x19; esperado: imagens 32x64x3 em logits "
        "32x64x19 (um por train id, na resolução da entrada)"
    )
    with pytest.raises(InputError, match="build_too_few mapeia 32x64x3 em 32x64x10"):
        run.build_model(build_too_few)
    with pytest.raises(InputError, match="retornou str, não um keras.Model"):
        run.build_model(lambda **_: "a model")


def test_the_notebook_tables_speak_portuguese_and_count_in_full(tiny_tree, tmp_path):
    run = a_run(tiny_tree, tmp_path, epochs=1)
    assert run.describe() == (
        "Mine: 395 parâmetros, 1,5 MFLOPs por imagem a 32x64; código: tiny_builder, neste notebook"
    )
    layers_ = run.layer_table()
    assert list(layers_.columns) == ["camada", "tipo", "saída", "parâmetros"]
    assert layers_.iloc[-1].tolist()[1:] == ["Conv2D", "32x64x19", "171"]
    run.train()
    history = run.history_table()
    assert history.index.name == "época" and list(history.index) == [1]
    assert {"perda", "mIoU (acomp.)"} <= set(history.columns)
    from urbanseg.experiment import _thousands

    assert _thousands(1945827) == "1.945.827" and _thousands(171) == "171"


@pytest.mark.parametrize(
    ("seconds_per_pass", "warmup", "timed"),
    [
        (0.01, 10, 50),  # a GPU: the full 10 + 50
        (2.0, 6, 16),  # warm-up stops once past 10 s, timing once past 30 s
        (40.0, 1, 3),  # a CPU at 2048x1024: one pass to compile, then the minimum of 3
    ],
)
def test_the_speed_measurement_is_bounded_in_time(monkeypatch, seconds_per_pass, warmup, timed):
    from urbanseg import costs

    clock, calls = [0.0], []

    def forward(batch):  # each pass advances a fake clock
        calls.append(1)
        clock[0] += seconds_per_pass
        return batch

    monkeypatch.setattr(costs, "compiled_argmax", lambda model: forward)
    monkeypatch.setattr(costs.time, "perf_counter", lambda: clock[0])
    speed = costs.measure_forward(None, (4, 4), batch_size=2)
    assert len(calls) == warmup + timed and speed["forward_repeats"] == timed
    assert speed["forward_ms_median"] == pytest.approx(1000 * seconds_per_pass)
    assert speed["inference_images_per_second"] == pytest.approx(2 / seconds_per_pass)


def test_a_size_beyond_the_images_is_warned_about(tiny_tree, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="urbanseg.experiment")
    a_run(tiny_tree, tmp_path)  # 32x64: the images' own size
    assert not caplog.records
    a_run(tiny_tree, tmp_path, image_height=32, image_width=128)  # the width doubled
    (warning,) = [record.getMessage() for record in caplog.records]
    assert warning.startswith("image_height x image_width = 32x128 é maior que as imagens de ")
    assert warning.endswith("(32x64): elas serão ampliadas, sem detalhe novo, a um custo maior")
