"""Training: loss, optimiser and schedule, per-epoch validation mIoU, best weights, history.

Validation uses the same ConfusionMatrix as ``urbanseg evaluate``, at the training resolution
(the official full-resolution protocol runs once, after training: ``urbanseg.inference``).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from .atomic import atomic_path, write_atomically
from .config import OPTIMIZERS
from .labels import NUM_CLASSES
from .losses import SegmentationCrossEntropy
from .metrics import ConfusionMatrix
from .progress import progress_bar, report_progress
from .records import HISTORY_COLUMNS

log = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="urbanseg")
class PolyDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``floor + (rate - floor) * (1 - step / total) ** power`` (the "poly" policy of DeepLab,
    arXiv:1606.00915, and MMSegmentation's ``PolyLR`` with ``eta_min``), reaching ``floor`` at
    step ``total``; during the first ``warmup`` steps the rate rises linearly to that curve."""

    def __init__(self, rate, total, power=0.9, floor=0.0, warmup=0):
        self.rate, self.total, self.power = float(rate), max(int(total), 1), float(power)
        self.floor, self.warmup = float(floor), int(warmup)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        progress = keras.ops.minimum(step / self.total, 1.0)
        rate = self.floor + (self.rate - self.floor) * (1.0 - progress) ** self.power
        if self.warmup:
            rate = rate * keras.ops.minimum((step + 1.0) / self.warmup, 1.0)
        return rate

    def get_config(self):
        return {
            "rate": self.rate,
            "total": self.total,
            "power": self.power,
            "floor": self.floor,
            "warmup": self.warmup,
        }


class _LayerRates:
    """An optimizer whose learning rate is multiplied by ``layer_rates[name]`` for the variables
    of the layer ``name`` (MMSegmentation's ``paramwise_cfg`` ``lr_mult``), e.g. a slower
    pretrained backbone. It scales the rate given to ``update_step``, which every backend calls
    per variable for these subclasses; Keras's decoupled weight decay keeps the base rate."""

    def __init__(self, *args, layer_rates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.layer_rates = {str(k): float(v) for k, v in (layer_rates or {}).items()}

    def build(self, variables):
        super().build(variables)
        # "block1_conv1/kernel": the top-level layer's name comes first in a variable's path
        self._rate_factors = [
            self.layer_rates.get(variable.path.split("/")[0], 1.0) for variable in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        factor = self._rate_factors[self._get_variable_index(variable)]
        if factor != 1.0:
            learning_rate = learning_rate * factor
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "layer_rates": dict(self.layer_rates)}


@keras.saving.register_keras_serializable(package="urbanseg")
class LayerRateSGD(_LayerRates, keras.optimizers.SGD):
    """keras.optimizers.SGD with per-layer rate multipliers (``_LayerRates``)."""


@keras.saving.register_keras_serializable(package="urbanseg")
class LayerRateAdam(_LayerRates, keras.optimizers.Adam):
    """keras.optimizers.Adam with per-layer rate multipliers (``_LayerRates``)."""


@keras.saving.register_keras_serializable(package="urbanseg")
class LayerRateAdamW(_LayerRates, keras.optimizers.AdamW):
    """keras.optimizers.AdamW with per-layer rate multipliers (``_LayerRates``)."""


def make_optimizer(
    learning_rate: float,
    total_steps: int,
    *,
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    schedule: str = "poly",
    power: float = 0.9,
    min_learning_rate: float = 0.0,
    warmup_steps: int = 0,
    layer_rates: dict[str, float] | None = None,
) -> keras.optimizers.Optimizer:
    """Adam, AdamW or SGD with momentum (the papers' recipe: SGD, lr 0.01, momentum 0.9,
    weight decay 5e-4), ``weight_decay`` applied by Keras to every variable. ``schedule="poly"``
    decays the rate with power 0.9 to ``min_learning_rate`` at the last step (``PolyDecay``, with
    an optional linear warm-up); ``"constant"`` keeps it. ``layer_rates``: layer name ->
    multiplier of the rate for that layer's variables (``backbone_lr_mult``)."""
    if schedule == "poly":
        rate = PolyDecay(learning_rate, total_steps, power, min_learning_rate, warmup_steps)
    elif schedule == "constant":
        rate = learning_rate
    else:
        raise ValueError(f"schedule={schedule!r}: esperado 'poly' ou 'constant'")
    decay = weight_decay or None
    scaled = {name: factor for name, factor in (layer_rates or {}).items() if factor != 1.0}
    extra = {"layer_rates": scaled} if scaled else {}
    if optimizer == "adam":
        return (LayerRateAdam if scaled else keras.optimizers.Adam)(
            rate, weight_decay=decay, **extra
        )
    if optimizer == "adamw":
        return (LayerRateAdamW if scaled else keras.optimizers.AdamW)(
            rate, weight_decay=weight_decay, **extra
        )
    if optimizer == "sgd":
        return (LayerRateSGD if scaled else keras.optimizers.SGD)(
            rate, momentum=momentum, weight_decay=decay, **extra
        )
    raise ValueError(f"optimizer={optimizer!r}: esperado um de {', '.join(OPTIMIZERS)}")


class _ValidationCallback(keras.callbacks.Callback):
    """Per epoch: loss and mIoU on the monitored images in one pass, the best weights saved
    when selecting, one history row (with the seconds the monitoring and saving took)."""

    def __init__(
        self,
        val_data,
        loss,
        best_path: Path | None,
        progress: bool,
        checkpoint: _Checkpoint | None = None,
        monitor_model: keras.Model | None = None,
    ):
        super().__init__()
        self.monitor_model = monitor_model
        self.val_data, self.loss, self.best_path, self.progress = (
            val_data,
            loss,
            best_path,
            progress,
        )
        self.checkpoint = checkpoint
        self.done, self.total, self.epochs = 0, 0, 0  # optimizer steps; set by fit()
        self.rows: list[dict] = []
        self.best_miou = -math.inf
        self.best_epoch = 0  # the epoch whose weights best_path holds
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        loss = float(logs["loss"]) if logs and "loss" in logs else None
        if self._bar is not None:
            self._bar.update(1)
            if loss is not None:
                self._bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        self._report(loss=loss)

    def _report(self, force: bool = False, **fields) -> None:
        """How far training is, for ``urbanseg run``'s progress bar (urbanseg.progress)."""
        last = self.rows[-1] if self.rows else {}
        report_progress(
            force=force,
            done=self.done,
            total=self.total,
            epoch=len(self.rows) + (0 if force else 1),
            epochs=self.epochs,
            val_miou=last.get("val_miou"),
            **{"loss": last.get("loss"), **fields},
        )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        monitor_started = time.perf_counter()
        scorer, predict = self.model, self.model.predict_on_batch
        if self.monitor_model is not None and self.monitor_model is not self.model:
            # the replicated model's predict would split (or repeat) each batch over its
            # devices: its single-device twin, called directly, scores them whole
            scorer = self.monitor_model
            scorer.set_weights(self.model.get_weights())
            predict = functools.partial(scorer, training=False)
        matrix, losses, weights = ConfusionMatrix(NUM_CLASSES), [], []
        for images, masks in self.val_data:
            logits = predict(images)
            if isinstance(logits, (list, tuple)):  # an auxiliary head: the main output is scored
                logits = logits[0]
            masks = np.asarray(masks)
            losses.append(float(self.loss(masks, logits)))
            weights.append(int((masks != 255).sum()))
            matrix.update(masks, np.asarray(logits).argmax(-1))
        scores = matrix.compute()
        val_loss = float(np.average(losses, weights=weights)) if sum(weights) else float("nan")
        val_miou = scores["miou"] if scores["miou"] is not None else 0.0
        logs.update(val_loss=val_loss, val_miou=val_miou)
        rate = self.model.optimizer.learning_rate
        row = {
            "epoch": epoch + 1,
            "loss": float(logs.get("loss", float("nan"))),
            "val_loss": val_loss,
            "val_miou": val_miou,
            "learning_rate": float(keras.ops.convert_to_numpy(rate)),
        }
        self.rows.append(row)
        improved = val_miou > self.best_miou
        if improved:
            self.best_miou, self.best_epoch = val_miou, epoch + 1
            if self.best_path is not None:
                save_model(scorer, self.best_path)
        finished = time.perf_counter()
        row["seconds"] = finished - self._started
        row["monitor_seconds"] = finished - monitor_started  # the checkpoint below is not timed
        self._report(force=True)
        if self.checkpoint is not None:
            self.checkpoint.save(self.model, self.rows, self.best_miou, self.best_epoch)
        if self._bar is not None:
            self._bar.set_postfix(
                loss=f"{row['loss']:.3f}",
                val_loss=f"{val_loss:.3f}",
                val_miou=f"{val_miou:.3f}",
                refresh=True,
            )
        message = (
            f"época {epoch + 1}: perda {row['loss']:.4f}, perda val {val_loss:.4f}, "
            f"mIoU val {val_miou:.4f}{' (melhor)' if improved and self.best_path else ''}, "
            f"{row['seconds']:.1f} s"
        )
        if self._bar is not None and not self._bar.disable:
            self._bar.write(message, file=self._bar.fp)  # above its bar, where it is drawn
        else:
            log.info(message)


def save_model(model: keras.Model, path: Path) -> None:
    """``model.save(path)``, atomically."""
    with atomic_path(path, suffix=".keras") as temp:
        model.save(temp)


class _Checkpoint:
    """The state after the last finished epoch (model with optimizer, the layers' random state,
    history, best score), so that an interrupted run resumes there: an exact resumption, with
    the batches from ``pipeline.make_dataset(first_step=...)``. ``run_id`` (the parameters'
    digest) keeps a run from resuming another's state. The state after the last epoch stays
    until the caller has written its results (``discard_checkpoint``): a run interrupted after
    training does not train again."""

    def __init__(self, folder: Path, run_id: str):
        self.model_path, self.state_path = checkpoint_paths(folder)
        self.run_id = run_id

    def save(self, model: keras.Model, rows: list[dict], best_miou: float, best_epoch: int) -> None:
        save_model(model, self.model_path)
        state = {
            "run_id": self.run_id,
            "epoch": len(rows),
            "rows": rows,
            "best_miou": best_miou,
            "best_epoch": best_epoch,
            # the dropout layers' generators: model.save keeps weights, not these
            "random_state": [np.asarray(v).tolist() for v in _random_state(model)],
        }
        write_atomically(self.state_path, json.dumps(state))  # last: it vouches for the model

    def restore(self, model: keras.Model, callback: _ValidationCallback, epochs: int) -> int:
        """Load the saved state into ``model`` (compiled); return the epoch to start from
        (``epochs`` when training had finished). A state that cannot be read is discarded with
        a warning, and training starts over."""
        if not self.state_path.exists():
            return 0
        reading = self.state_path
        try:
            state = json.loads(self.state_path.read_text())
            if state.get("run_id") != self.run_id or not 0 < state.get("epoch", 0) <= epochs:
                return 0  # another run's state, or another schedule's: not this run's to resume
            reading = self.model_path
            weights, optimizer_values, random_values = self._load(model, state)
        except Exception as error:  # any corruption: the run must not fail on it, rerun or not
            log.warning(
                "%s: checkpoint ilegível (%s); ignorado, o treino recomeça da época 1",
                reading,
                _reason(error, reading),
            )
            self.discard()
            return 0
        model.set_weights(weights)
        for variable, value in zip(model.optimizer.variables, optimizer_values):
            variable.assign(value)
        for variable, value in zip(_random_state(model), random_values):
            variable.assign(value.astype(variable.dtype))
        callback.rows, callback.best_miou = state["rows"], state["best_miou"]
        callback.best_epoch = state.get("best_epoch", 0)
        if state["epoch"] == epochs:
            log.info(
                "%s: treino já concluído numa execução interrompida; pesos da época %d "
                "retomados do checkpoint em %s",
                model.name,
                epochs,
                self.model_path.parent,
            )
        else:
            log.info(
                "retomando %s após a época %d de %d (checkpoint em %s)",
                model.name,
                state["epoch"],
                epochs,
                self.model_path.parent,
            )
        return state["epoch"]

    def _load(self, model: keras.Model, state: dict) -> tuple[list, list, list]:
        """The saved weights, optimizer variables and random state, checked against ``model``
        before any of them is assigned (ValueError if they do not fit)."""
        saved = keras.saving.load_model(self.model_path)
        weights = saved.get_weights()
        model.optimizer.build(model.trainable_variables)
        optimizer_values = [np.asarray(v) for v in saved.optimizer.variables]
        random_values = [np.asarray(v) for v in state.get("random_state", [])]
        for kind, values, variables in (
            ("pesos", weights, model.weights),
            ("otimizador", optimizer_values, model.optimizer.variables),
            ("estado aleatório", random_values, _random_state(model) if random_values else []),
        ):
            shapes = [tuple(np.shape(v)) for v in values]
            if shapes != [tuple(v.shape) for v in variables]:
                raise ValueError(f"{kind} de outra arquitetura")
        if not isinstance(state["rows"], list) or len(state["rows"]) != state["epoch"]:
            raise ValueError("histórico incompleto")
        return weights, optimizer_values, random_values

    def discard(self) -> None:
        self.model_path.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)


def checkpoint_paths(folder: str | Path) -> tuple[Path, Path]:
    """The checkpoint of the run in ``folder``: ``checkpoint.keras`` (the model with its
    optimizer) and ``checkpoint.json`` (the epoch, the history, the random state)."""
    folder = Path(folder)
    return folder / "checkpoint.keras", folder / "checkpoint.json"


def discard_checkpoint(folder: str | Path) -> None:
    """Remove the checkpoint of the run in ``folder`` (once its results are written)."""
    for path in checkpoint_paths(folder):
        path.unlink(missing_ok=True)


def _random_state(model: keras.Model) -> list:
    """The model's variables that are neither weights nor the optimizer's: the states of the
    random generators of its layers (dropout), which advance at every training step."""
    weights = {id(variable) for variable in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def _reason(error: Exception, path: Path) -> str:
    """Why a checkpoint could not be read, in a few words (Keras says "File not found" for a
    file that exists but is not a zip)."""
    if path.suffix == ".keras" and isinstance(error, ValueError) and not zipfile.is_zipfile(path):
        return "não é um arquivo .keras (zip) válido"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:120]}" if text else type(error).__name__


def fit(
    model: keras.Model,
    train_data,
    val_data,
    *,
    epochs: int,
    learning_rate: float,
    steps_per_epoch: int,
    class_weights=None,
    schedule: str = "poly",
    optimizer: str = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    min_learning_rate: float = 0.0,
    warmup_steps: int = 0,
    aux_weight: float = 0.4,
    layer_rates: dict[str, float] | None = None,
    select_best: bool = False,
    best_path: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    run_id: str = "",
    keep_checkpoint: bool = False,
    callbacks=(),
    progress: bool = True,
    monitor_model: keras.Model | None = None,
) -> pd.DataFrame:
    """Train ``model`` on batches of ``(float32 images, int32 train ids)``; return the history.

    ``train_data`` repeats (``pipeline.make_dataset(training=True)``); an epoch is
    ``steps_per_epoch`` optimizer steps. It may be a function of the first optimizer step that
    returns the batches from there (``make_dataset(first_step=...)``), what makes a resumed run
    equal an uninterrupted one. Compiles with ``make_optimizer`` (Adam by default) and
    :class:`SegmentationCrossEntropy` (void ignored, optional class weights). After each epoch the loss and mIoU on ``val_data`` (the images monitored) are
    computed in one pass. With ``select_best``, the weights of the best epoch by that mIoU are
    saved to ``best_path`` and restored at the end, so ``val_data`` must not be the split that is
    reported; without it the final weights are kept and the monitoring only draws the curves.
    The history's ``seconds`` is each epoch's wall time, ``monitor_seconds`` the part spent on
    the monitoring pass and on saving the best weights. A model with auxiliary outputs (after
    its logits) trains on ``loss + aux_weight * aux_loss``, its training batches carrying the
    mask once per output (``pipeline.make_dataset(targets=...)``); only the logits are monitored.
    ``layer_rates`` multiplies the learning rate of the named layers (``make_optimizer``).
    With ``checkpoint_dir``, the state after every epoch is kept there and a run interrupted
    with the same ``run_id`` resumes after its last finished epoch (``_Checkpoint``); the
    history's ``attrs["resumed_from_epoch"]`` says after which (0: not resumed). The state is
    removed when training ends, unless ``keep_checkpoint``: then the caller removes it
    (``discard_checkpoint``) once its results are written, and a call interrupted before that
    restores the final state without training again. ``callbacks`` run after ours.
    ``monitor_model``: where ``model`` is replicated over several devices, the same network on
    one device; it receives the weights each epoch and does the monitoring and the saving.
    """
    loss = SegmentationCrossEntropy(class_weights)
    outputs = len(model.outputs)  # the logits, then auxiliary heads (PSPNet's on conv4)
    model.compile(
        optimizer=make_optimizer(
            learning_rate,
            epochs * steps_per_epoch,
            optimizer=optimizer,
            momentum=momentum,
            weight_decay=weight_decay,
            schedule=schedule,
            min_learning_rate=min_learning_rate,
            warmup_steps=warmup_steps,
            layer_rates=layer_rates,
        ),
        loss=loss if outputs == 1 else [loss] * outputs,
        loss_weights=None if outputs == 1 else [1.0] + [aux_weight] * (outputs - 1),
    )
    if select_best and not best_path:
        raise ValueError("select_best precisa de best_path, onde ficam os pesos da melhor época")
    best_path = Path(best_path) if select_best else None
    checkpoint = _Checkpoint(Path(checkpoint_dir), run_id) if checkpoint_dir else None
    callback = _ValidationCallback(val_data, loss, best_path, progress, checkpoint, monitor_model)
    initial_epoch = checkpoint.restore(model, callback, epochs) if checkpoint else 0
    if callable(train_data):
        train_data = train_data(initial_epoch * steps_per_epoch)
    with progress_bar(
        total=epochs * steps_per_epoch,
        initial=initial_epoch * steps_per_epoch,
        desc=f"treino {model.name}",
        unit="lote",
        disable=not progress,
        file=sys.stdout,
        mininterval=2.0,
        dynamic_ncols=False,
        ncols=100,
    ) as bar:
        callback._bar = bar
        callback.done, callback.total = initial_epoch * steps_per_epoch, epochs * steps_per_epoch
        callback.epochs = epochs
        if initial_epoch < epochs:
            model.fit(
                train_data,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                initial_epoch=initial_epoch,
                callbacks=[callback, *callbacks],
                verbose=0,
                shuffle=False,
            )
    if checkpoint is not None and not keep_checkpoint:
        checkpoint.discard()
    if best_path is not None and 0 < callback.best_epoch < len(callback.rows):
        model.set_weights(keras.saving.load_model(best_path, compile=False).get_weights())
        log.info("pesos da melhor época restaurados (mIoU val %.4f)", callback.best_miou)
    history = pd.DataFrame(callback.rows, columns=list(HISTORY_COLUMNS))
    history.attrs["resumed_from_epoch"] = initial_epoch
    return history


def class_pixel_counts(masks) -> tuple[np.ndarray, np.ndarray]:
    """Over an iterable of train-id masks: pixels of each class (19), and valid pixels of the
    masks in which each class appears (the denominator of median-frequency balancing)."""
    counts = np.zeros(NUM_CLASSES, dtype=np.int64)
    image_totals = np.zeros(NUM_CLASSES, dtype=np.int64)
    for mask in masks:
        values = np.asarray(mask).ravel()
        per_class = np.bincount(values[values < NUM_CLASSES], minlength=NUM_CLASSES)[:NUM_CLASSES]
        counts += per_class
        image_totals[per_class > 0] += per_class.sum()
    return counts, image_totals


def choose_precision(use_gpu: bool, bf16: bool | None = None) -> str:
    """Mixed precision on a GPU, where it roughly halves memory and time: bfloat16 compute where
    the GPU has bf16 units (NVIDIA compute capability 8.0 and up: A100, H100...), float16 with
    loss scaling before that (Keras wraps the optimizer); float32 weights and logits in both.
    float32 on a CPU, where half precision is slower. ``bf16``: None asks the GPU. Sets Keras'
    global policy and returns its name, which metrics.json records."""
    if not use_gpu:
        policy = "float32"
    elif bf16 if bf16 is not None else gpu_has_bf16():
        policy = "mixed_bfloat16"
    else:
        policy = "mixed_float16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def gpu_has_bf16() -> bool:
    """Whether the backend's first GPU computes in bfloat16 natively (compute capability >= 8)."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
            capability = details.get("compute_capability") or (0, 0)
        elif backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            text = getattr(gpus[0], "compute_capability", "0") if gpus else "0"
            capability = tuple(int(part) for part in str(text).split("."))
        elif backend == "torch":
            import torch

            capability = torch.cuda.get_device_capability(0) if torch.cuda.is_available() else (0,)
        else:
            return False
    except Exception:  # an unknown driver: the safe choice, float16 with loss scaling
        return False
    return tuple(capability)[:1] >= (8,)


def set_determinism(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend; with ``deterministic``, also ask the backend for
    deterministic kernels (slower; TensorFlow and PyTorch only)."""
    keras.utils.set_random_seed(seed)
    if not deterministic:
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True)
    # JAX is deterministic on CPU; on GPU set XLA_FLAGS=--xla_gpu_deterministic_ops=true.
