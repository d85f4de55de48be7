"""Faults around training (issue 13): an interruption after training, an exact resume, a
corrupt checkpoint, a batch or an image size that cannot fit."""

from __future__ import annotations

import json
import logging

import keras
import numpy as np
import pytest
from fakes import tiny_experiment
from keras import layers

from urbanseg import data, experiment, pipeline, train
from urbanseg.errors import InputError
from urbanseg.experiment import Experiment
from urbanseg.records import RunRecord


def dropout_builder(num_classes=19, input_shape=(32, 64, 3), **_):
    """A tiny model with a dropout layer, whose random state advances at every step."""
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1)(x), name="tiny")


def a_run(tiny_tree, tmp_path, results="results", **parameters) -> Experiment:
    return tiny_experiment(
        tiny_tree, tmp_path, dropout_builder, results, **{"learning_rate": 0.01, **parameters}
    )


class _Interrupt(keras.callbacks.Callback):
    """Ctrl-C after an epoch."""

    def __init__(self, after_epoch: int):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after_epoch:
            raise KeyboardInterrupt


def _interrupting(monkeypatch, after_epoch: int) -> None:
    """Make the next Experiment.train() stop with KeyboardInterrupt after ``after_epoch``."""
    original = experiment.fit

    def fit(*args, **options):
        monkeypatch.setattr(experiment, "fit", original)  # once
        return original(*args, callbacks=[_Interrupt(after_epoch)], **options)

    monkeypatch.setattr(experiment, "fit", fit)


def _same(first, second) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


# -- item 5: a resumed run is the uninterrupted one ---------------------------------------------


@pytest.mark.parametrize("first_step", [1, 3, 4])
def test_the_training_batches_from_a_step_are_those_of_the_whole_stream(tiny_tree, first_step):
    """Passes of 3 batches (6 images, batch 2): a stream started mid-pass or at a pass equals
    the stream from step 0 with those batches left out, augmentation included."""
    samples = data.find_samples(tiny_tree, "train")
    augmentation = pipeline.Augmentation(scale_range=(0.5, 2.0), crop=(16, 32), photometric=True)

    def stream(first, count):
        batches = pipeline.make_dataset(
            samples,
            (32, 64),
            2,
            training=True,
            seed=5,
            augmentation=augmentation,
            first_step=first,
            progress=False,
        )
        return [(i.numpy(), m.numpy()) for i, m in batches.take(count)]

    whole, later = stream(0, 7), stream(first_step, 7 - first_step)
    for (image, mask), (again, same_mask) in zip(whole[first_step:], later, strict=True):
        np.testing.assert_array_equal(image, again)
        np.testing.assert_array_equal(mask, same_mask)
    assert not np.array_equal(whole[0][1], whole[3][1])  # the second pass is another one


@pytest.mark.parametrize(
    "schedule",
    [{"epochs": 3}, {"iterations": 4}],  # 3 passes; 2 epochs of 2 steps (a pass is 3)
    ids=["epochs", "mid-pass"],
)
def test_an_interrupted_and_resumed_run_equals_an_uninterrupted_one(
    tiny_tree, tmp_path, monkeypatch, schedule
):
    options = dict(scale_range="0.5,2", photometric=True, **schedule)
    whole = a_run(tiny_tree, tmp_path, "whole", **options)
    expected = whole.train()
    whole_weights = whole.model.get_weights()

    _interrupting(monkeypatch, after_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        a_run(tiny_tree, tmp_path, "cut", **options).train()
    resumed = a_run(tiny_tree, tmp_path, "cut", **options)  # a new kernel, the same folder
    first_attempt = json.loads(train.checkpoint_paths(resumed.out)[1].read_text())["rows"]
    history = resumed.train()

    assert _same(resumed.model.get_weights(), whole_weights)
    columns = ["epoch", "loss", "val_loss", "val_miou", "learning_rate"]
    assert history[columns].equals(expected[columns])
    assert resumed.training.resumed and not whole.training.resumed
    # every epoch's seconds, the interrupted attempt's included
    assert history["seconds"].iloc[0] == first_attempt[0]["seconds"]
    seconds = history["seconds"].sum() - history["monitor_seconds"].sum()
    assert resumed.timing["train_seconds"] == pytest.approx(seconds)
    assert len(history) == len(expected) and (history["seconds"] > 0).all()
    resumed.evaluate()
    resumed.finish()
    assert RunRecord.read(resumed.out).training.resumed is True
    assert json.loads((resumed.out / "metrics.json").read_text())["training"]["resumed"] is True


# -- item 4: an interruption after training keeps the training --------------------------------


def test_an_interruption_after_training_keeps_it_until_the_record_is_written(
    tiny_tree, tmp_path, monkeypatch
):
    first = a_run(tiny_tree, tmp_path)
    first.train()
    trained = first.model.get_weights()
    checkpoint, state = train.checkpoint_paths(first.out)

    def interrupted(*args, **options):
        raise KeyboardInterrupt  # Ctrl-C during the full-resolution evaluation

    with monkeypatch.context() as patch:
        patch.setattr(experiment, "evaluate_model", interrupted)
        with pytest.raises(KeyboardInterrupt):
            first.evaluate()
    assert checkpoint.exists() and state.exists()  # the trained state is still there

    again = a_run(tiny_tree, tmp_path)  # the rerun
    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained again"))
        history = again.train()
    assert _same(again.model.get_weights(), trained)
    assert history["epoch"].tolist() == [1, 2] and again.training.resumed
    assert again.timing["train_seconds"] == pytest.approx(first.timing["train_seconds"])
    again.evaluate()
    assert checkpoint.exists()  # until the record is written
    again.finish()
    assert not checkpoint.exists() and not state.exists()
    saved = keras.saving.load_model(again.out / "model.keras", compile=False)
    assert _same(saved.get_weights(), trained)


# -- item 16: a corrupt checkpoint ---------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated", "state"])
def test_a_corrupt_checkpoint_is_ignored_with_a_warning_and_training_starts_over(
    tiny_tree, tmp_path, monkeypatch, caplog, damage
):
    _interrupting(monkeypatch, after_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        a_run(tiny_tree, tmp_path).train()
    run = a_run(tiny_tree, tmp_path)
    checkpoint, state = train.checkpoint_paths(run.out)
    if damage == "garbage":
        checkpoint.write_bytes(b"not a zip")
    elif damage == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    else:
        state.write_text('{"run_id": ')
    with caplog.at_level(logging.WARNING, logger="urbanseg.train"):
        history = run.train()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    at_fault = state if damage == "state" else checkpoint
    assert warnings[0].startswith(f"{at_fault}: checkpoint ilegível (")
    assert warnings[0].endswith("ignorado, o treino recomeça da época 1")
    assert "File not found" not in warnings[0]
    assert history["epoch"].tolist() == [1, 2] and not run.training.resumed


def test_a_checkpoint_of_another_architecture_is_ignored(tiny_tree, tmp_path, monkeypatch, caplog):
    """The same parameters, another model (an edited notebook): start over, do not crash."""
    _interrupting(monkeypatch, after_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        a_run(tiny_tree, tmp_path).train()
    run = a_run(tiny_tree, tmp_path)

    def wider(num_classes=19, input_shape=(32, 64, 3), **_):
        inputs = keras.Input(input_shape)
        x = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
        return keras.Model(inputs, layers.Conv2D(num_classes, 1)(x), name="tiny")

    run.build_model(wider)
    with caplog.at_level(logging.WARNING, logger="urbanseg.train"):
        history = run.train()
    assert "pesos de outra arquitetura" in caplog.text
    assert history["epoch"].tolist() == [1, 2]


# -- item 12: batches and images that cannot fit -------------------------------------------------


def test_a_batch_larger_than_the_training_set_is_refused(tiny_tree, tmp_path):
    with pytest.raises(
        InputError,
        match=r"^batch_size=100000: maior que as 6 imagens de treino desta execução; "
        r"use batch_size <= 6$",
    ):
        a_run(tiny_tree, tmp_path, batch_size=100000)
    with pytest.raises(InputError, match=r"^batch_size=5: maior que as 4 imagens"):
        a_run(tiny_tree, tmp_path, batch_size=5, max_train_images=4)


def test_a_batch_whose_logits_cannot_fit_in_memory_is_refused_before_training(
    tiny_tree, tmp_path, monkeypatch
):
    run = a_run(tiny_tree, tmp_path, crop_height=32, crop_width=32)
    monkeypatch.setattr(experiment, "_physical_memory", lambda: 2**16)  # 64 KiB
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(  # 2 x 32 x 32 x (3 + 19) float32: 176 KiB
        InputError,
        match=r"^batch_size=2 a 32x32: só a entrada e os logits de um lote ocupam 176 KiB, mais "
        r"que os 64 KiB de memória; reduza batch_size, image_height/image_width ou "
        r"crop_height/crop_width$",
    ):
        run.train()


def test_running_out_of_memory_is_one_line_naming_what_to_lower(tiny_tree, tmp_path, monkeypatch):
    import tensorflow as tf

    run = a_run(tiny_tree, tmp_path, epochs=1)

    def exhausted(*args, **options):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor\n...")

    with monkeypatch.context() as patch:
        patch.setattr(experiment, "fit", exhausted)
        with pytest.raises(InputError) as raised:
            run.train()
    assert str(raised.value) == (
        "memória esgotada ao treinar com batch_size=2 a 32x64; "
        "reduza batch_size ou image_height/image_width"
    )
    run.train()

    def no_memory(*args, **options):
        raise MemoryError("Unable to allocate 157. GiB")

    with monkeypatch.context() as patch:
        patch.setattr(experiment, "measure_forward", no_memory)
        with pytest.raises(InputError, match=r"^memória esgotada ao medir a velocidade com "):
            run.evaluate()
    with monkeypatch.context() as patch:
        patch.setattr(experiment, "evaluate_model", exhausted)
        with pytest.raises(InputError, match=r"^memória esgotada ao avaliar com batch_size=2"):
            run.evaluate()

    def other(*args, **options):
        raise ValueError("not about memory")

    with monkeypatch.context() as patch, pytest.raises(ValueError, match="not about memory"):
        patch.setattr(experiment, "evaluate_model", other)
        run.evaluate()


def test_the_speed_is_measured_on_a_batch_no_larger_than_the_val_split(
    tiny_tree, tmp_path, monkeypatch
):
    run = a_run(tiny_tree, tmp_path, epochs=1, batch_size=6)  # 2 val images
    run.train()
    batches = []
    original = experiment.measure_forward

    def spy(model, size, *, batch_size):
        batches.append(batch_size)
        return original(model, size, batch_size=batch_size, warmup=1, repeats=2)

    monkeypatch.setattr(experiment, "measure_forward", spy)
    run.evaluate()
    assert batches == [2] and run.timing["forward_batch"] == 2
