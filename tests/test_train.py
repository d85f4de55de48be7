"""Loss, class weights, schedule and the training loop, on tiny hand-checked cases."""

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from urbanseg import data, pipeline
from urbanseg.losses import SegmentationCrossEntropy, median_frequency_weights
from urbanseg.records import HISTORY_COLUMNS
from urbanseg.train import class_pixel_counts, fit, make_optimizer


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_loss_ignores_void_and_averages_over_valid_pixels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 2, 3, 19)).astype("float32")
    labels = np.array([[[0, 1, 255], [2, 255, 255]], [[18, 18, 255], [255, 255, 255]]])
    valid = labels != 255
    expected = -_log_softmax(logits)[valid, labels[valid]].mean()
    assert float(SegmentationCrossEntropy()(labels, logits)) == pytest.approx(expected, rel=1e-5)
    # void pixels do not matter whatever their logits
    logits2 = logits.copy()
    logits2[~valid] = 100.0
    assert float(SegmentationCrossEntropy()(labels, logits2)) == pytest.approx(expected, rel=1e-5)


def test_class_weights_weight_each_pixel_and_normalise_by_their_sum():
    logits = np.zeros((1, 1, 3, 19), "float32")
    logits[0, 0, 0, 0] = 2.0  # pixel 0 (class 0) is easy, pixels 1 and 2 (class 5) uniform
    labels = np.array([[[0, 5, 5]]])
    weights = np.ones(19, "float32")
    weights[5] = 3.0
    nll = -_log_softmax(logits)[0, 0, [0, 1, 2], [0, 5, 5]]
    expected = (nll[0] * 1 + nll[1] * 3 + nll[2] * 3) / 7
    assert float(SegmentationCrossEntropy(weights)(labels, logits)) == pytest.approx(
        expected, rel=1e-5
    )
    assert float(SegmentationCrossEntropy()(labels, logits)) == pytest.approx(nll.mean(), rel=1e-5)


def test_loss_round_trips_through_keras_serialisation():
    loss = SegmentationCrossEntropy([1.0] * 19, ignore_index=255)
    clone = SegmentationCrossEntropy.from_config(loss.get_config())
    assert clone.class_weights == loss.class_weights and clone.ignore_index == 255


def test_median_frequency_weights_by_hand():
    # class 0: 60 px in images totalling 100 px -> 0.6; class 1: 10/50 -> 0.2; class 2: 30/100 -> 0.3
    weights = median_frequency_weights([60, 10, 30, 0], [100, 50, 100, 0])
    assert weights == pytest.approx([0.5, 1.5, 1.0, 0.0])


def test_class_pixel_counts_and_image_totals():
    masks = [np.array([[0, 0], [1, 255]]), np.array([[1, 1], [1, 1]])]
    counts, totals = class_pixel_counts(masks)
    assert counts[:3].tolist() == [2, 5, 0] and counts.sum() == 7
    assert totals[:3].tolist() == [3, 7, 0]  # class 0 appears in the first image (3 valid px) only


@pytest.mark.parametrize("name, kind", [("sgd", "SGD"), ("adamw", "AdamW"), ("adam", "Adam")])
def test_the_papers_sgd_and_the_poly_schedule_to_its_floor(name, kind):
    """SGD, momentum 0.9, weight decay 5e-4, poly 0.9 from 0.01 to a floor of 1e-4 at the last
    of 1000 steps, after a 10-step linear warm-up."""
    optimizer = make_optimizer(
        0.01, 1000, optimizer=name, weight_decay=5e-4, min_learning_rate=1e-4, warmup_steps=10
    )
    assert type(optimizer).__name__ == kind and optimizer.weight_decay == pytest.approx(5e-4)
    if name == "sgd":
        assert optimizer.momentum == pytest.approx(0.9)
    schedule = optimizer._learning_rate
    assert float(schedule(1000)) == pytest.approx(1e-4, rel=1e-6)  # the floor, at the last step
    assert float(schedule(2000)) == pytest.approx(1e-4, rel=1e-6)  # and no lower after it
    assert float(schedule(500)) == pytest.approx(1e-4 + (0.01 - 1e-4) * 0.5**0.9, rel=1e-5)
    assert float(schedule(0)) == pytest.approx(0.01 * (1 - 0) / 10, rel=1e-5)  # warming up
    assert float(schedule(9)) == pytest.approx(1e-4 + (0.01 - 1e-4) * (1 - 0.009) ** 0.9, rel=1e-5)
    clone = type(schedule).from_config(schedule.get_config())
    assert float(clone(500)) == pytest.approx(float(schedule(500)))
    with pytest.raises(ValueError, match="optimizer='rmsprop'"):
        make_optimizer(0.01, 10, optimizer="rmsprop")


def test_poly_schedule_decays_to_zero():
    optimizer = make_optimizer(0.01, 100)
    schedule = (
        optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    )
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(50)) == pytest.approx(0.01 * 0.5**0.9, rel=1e-5)
    assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="schedule='cosine'"):
        make_optimizer(0.01, 10, schedule="cosine")


class _WeightsPerEpoch(keras.callbacks.Callback):
    """The model's weights at the end of every epoch (after urbanseg's own callback)."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


def _same_weights(first, second) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_fit_records_history_and_learns_and_keeps_the_last_epoch(tiny_tree, tmp_path):
    """selection="last": the weights after fit are the final epoch's; none chosen, none saved."""
    keras.utils.set_random_seed(0)
    samples = data.find_samples(tiny_tree, "train")
    train = pipeline.make_dataset(samples, (32, 64), 2, training=False, repeat=True, progress=False)
    val = pipeline.make_dataset(samples[:2], (32, 64), 2, progress=False)
    model, epochs = _tiny_model(), _WeightsPerEpoch()
    history = fit(
        model,
        train,
        val,
        epochs=3,
        learning_rate=0.05,
        steps_per_epoch=3,
        best_path=tmp_path / "model.keras",
        callbacks=[epochs],
        progress=False,
    )
    assert isinstance(history, pd.DataFrame) and list(history.columns) == list(HISTORY_COLUMNS)
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    assert ((history["val_miou"] >= 0) & (history["val_miou"] <= 1)).all()
    assert history["learning_rate"].iloc[-1] == pytest.approx(0.0, abs=1e-9)
    assert (history["monitor_seconds"] > 0).all()
    assert (history["monitor_seconds"] < history["seconds"]).all()
    assert _same_weights(model.get_weights(), epochs.weights[-1])
    assert not (tmp_path / "model.keras").exists()  # nothing was selected


def test_fit_selecting_on_a_holdout_restores_the_best_epoch(tiny_tree, tmp_path):
    """select_best: the weights after fit are those of the epoch with the best monitored mIoU,
    saved at best_path. The seeds are tried until the best epoch is an earlier one, so that the
    weights had to be restored."""
    samples = data.find_samples(tiny_tree, "train")
    train = pipeline.make_dataset(samples, (32, 64), 2, training=True, progress=False)
    holdout = pipeline.make_dataset(samples[-2:], (32, 64), 2, progress=False)
    for seed in range(8):
        keras.utils.set_random_seed(seed)
        model, epochs = _tiny_model(), _WeightsPerEpoch()
        history = fit(
            model,
            train,
            holdout,
            epochs=4,
            learning_rate=0.5,  # a rate high enough for the monitored mIoU to go up and down
            steps_per_epoch=3,
            select_best=True,
            best_path=tmp_path / f"model-{seed}.keras",
            callbacks=[epochs],
            progress=False,
        )
        best = int(history["val_miou"].to_numpy().argmax())
        if best < len(history) - 1:
            break
    assert best < len(history) - 1, "no seed made an earlier epoch the best"
    assert _same_weights(model.get_weights(), epochs.weights[best])
    saved = keras.saving.load_model(tmp_path / f"model-{seed}.keras", compile=False)
    assert _same_weights(saved.get_weights(), epochs.weights[best])
    with pytest.raises(ValueError, match="select_best precisa de best_path"):
        fit(
            model,
            train,
            holdout,
            epochs=1,
            learning_rate=0.1,
            steps_per_epoch=1,
            select_best=True,
            progress=False,
        )


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after_epoch:
            raise KeyboardInterrupt


def _tiny_model():
    inputs = keras.Input((32, 64, 3))
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Conv2D(19, 1)(x), name="tiny")


def test_an_interrupted_fit_resumes_after_its_last_finished_epoch(tiny_tree, tmp_path):
    keras.utils.set_random_seed(0)
    samples = data.find_samples(tiny_tree, "train")
    train = pipeline.make_dataset(samples, (32, 64), 2, repeat=True, progress=False)
    val = pipeline.make_dataset(samples[:2], (32, 64), 2, progress=False)
    options = dict(
        epochs=4,
        learning_rate=0.05,
        steps_per_epoch=3,
        checkpoint_dir=tmp_path,
        run_id="abc",
        progress=False,
    )
    first = _tiny_model()
    with pytest.raises(KeyboardInterrupt):
        fit(first, train, val, callbacks=[_Interrupt(after_epoch=2)], **options)
    assert (tmp_path / "checkpoint.keras").exists() and (tmp_path / "checkpoint.json").exists()
    saved_weights = [w.copy() for w in first.get_weights()]
    iterations = int(first.optimizer.iterations.numpy())
    assert iterations == 6

    resumed = _tiny_model()  # a fresh process would build the model anew
    seen = []

    class _Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])
            seen.append(int(self.model.optimizer.iterations.numpy()))

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    history = fit(resumed, train, val, callbacks=[_Record()], **options)
    assert all(np.array_equal(a, b) for a, b in zip(seen[0], saved_weights))
    assert seen[1] == iterations  # the optimizer (and so the poly schedule) goes on where it was
    assert seen[2:] == [2, 3]  # only the two missing epochs ran
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    assert not (tmp_path / "checkpoint.keras").exists()  # finished: the checkpoint is gone

    other = _tiny_model()  # other parameters (another run id) never resume this state
    with pytest.raises(KeyboardInterrupt):
        fit(other, train, val, callbacks=[_Interrupt(after_epoch=1)], **options)
    history = fit(_tiny_model(), train, val, **{**options, "run_id": "xyz"})
    assert history["epoch"].tolist() == [1, 2, 3, 4]


def test_mixed_precision_is_chosen_on_gpu_and_trains(tiny_tree):
    from urbanseg.train import choose_precision, gpu_has_bf16

    assert not gpu_has_bf16()  # no GPU here
    try:
        assert choose_precision(use_gpu=True, bf16=True) == "mixed_bfloat16"
        assert _tiny_model().layers[2].compute_dtype == "bfloat16"
        assert choose_precision(use_gpu=True) == "mixed_float16"  # a GPU without bf16
        model = _tiny_model()
        assert model.layers[2].compute_dtype == "float16"
        samples = data.find_samples(tiny_tree, "train")
        batches = pipeline.make_dataset(samples, (32, 64), 2, progress=False)
        endless = pipeline.make_dataset(samples, (32, 64), 2, repeat=True, progress=False)
        history = fit(
            model, endless, batches, epochs=1, learning_rate=0.01, steps_per_epoch=3, progress=False
        )
        assert np.isfinite(history["loss"]).all()
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"  # Keras guards float16
    finally:
        assert choose_precision(use_gpu=False) == "float32"
    assert _tiny_model().layers[2].compute_dtype == "float32"


@pytest.mark.slow
def test_pspnet_trains_with_its_auxiliary_loss_and_is_scored_on_its_main_head(tiny_tree):
    """aux_head: two outputs, one mask per output in the training batches, loss = main + 0.4 aux;
    monitoring and evaluation read the main logits only."""
    from urbanseg.inference import evaluate_model
    from urbanseg.models import build_model

    keras.utils.set_random_seed(0)
    samples = data.find_samples(tiny_tree, "train")
    train = pipeline.make_dataset(samples, (64, 128), 2, training=True, targets=2, progress=False)
    _, masks = next(iter(train))
    assert (
        isinstance(masks, tuple)
        and len(masks) == 2
        and (masks[0].numpy() == masks[1].numpy()).all()
    )
    val = pipeline.make_dataset(samples[:2], (64, 128), 2, progress=False)
    model = build_model("pspnet", input_shape=(64, 128, 3), width=0.125, aux_head=True)
    assert model.output_names == ["logits", "aux_logits"]
    history = fit(
        model,
        train,
        val,
        epochs=1,
        learning_rate=0.01,
        steps_per_epoch=2,
        aux_weight=0.4,
        progress=False,
    )
    assert np.isfinite(history["loss"]).all() and 0 <= history["val_miou"].iloc[0] <= 1
    main_only = keras.Model(model.inputs, model.outputs[0])
    val_samples = data.find_samples(tiny_tree, "val")
    with_aux = evaluate_model(model, val_samples, (64, 128), progress=False)
    without = evaluate_model(main_only, val_samples, (64, 128), progress=False)
    assert with_aux.metrics["confusion_matrix"] == without.metrics["confusion_matrix"]


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_layer_rates_scale_the_step_of_the_named_layer_only(name):
    """The same gradient on two identical layers: the one given a rate multiplier of 0.25 moves
    a quarter as far (SGD's step is rate x gradient; Adam's first one is about the rate)."""
    inputs = keras.Input((4,))
    slow, fast = layers.Dense(3, name="block1_conv1"), layers.Dense(3, name="head")
    model = keras.Model(inputs, [slow(inputs), fast(inputs)])
    optimizer = make_optimizer(
        0.1,
        10,
        optimizer=name,
        momentum=0.0,
        schedule="constant",
        layer_rates={"block1_conv1": 0.25, "head": 1.0},
    )
    before = {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables}
    optimizer.apply(
        [keras.ops.ones(v.shape) for v in model.trainable_variables], model.trainable_variables
    )
    step = {
        v.path: keras.ops.convert_to_numpy(v) - before[v.path] for v in model.trainable_variables
    }
    for weight in ("kernel", "bias"):
        np.testing.assert_allclose(
            step[f"block1_conv1/{weight}"], 0.25 * step[f"head/{weight}"], rtol=1e-4
        )
        np.testing.assert_allclose(step[f"head/{weight}"], -0.1, rtol=1e-3)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(clone) is type(optimizer) and clone.layer_rates == {"block1_conv1": 0.25}
    # without a multiplier other than 1, the optimizer is Keras's own
    plain = make_optimizer(0.1, 10, optimizer=name, layer_rates={"head": 1.0})
    assert type(plain).__module__.startswith("keras")
