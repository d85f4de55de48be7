"""Data parallelism over several accelerators: a replica of the model on each device, every step's
batch split between them, the gradients averaged. ``keras.distribution.DataParallel`` on JAX,
``tf.distribute.MirroredStrategy`` on TensorFlow; Keras on PyTorch trains on one device.

It is chosen automatically when the backend sees more than one GPU. ``batch_size`` stays the
*global* batch, the images one optimizer step sees, whatever the number of devices: a recipe
trains the same on one GPU or on four (each then takes batch_size / 4 images), so the learning
rate needs no change. To use more devices for a larger batch instead, raise batch_size and
scale the learning rate with it (the linear rule of Goyal et al. 2017, arXiv:1706.02677): that
changes the recipe, and the study's parameters table shows it.

Batch normalisation: on JAX the replicated step is one program over the global batch, so the
batch statistics are the global batch's, as on one device. On TensorFlow each replica normalises
with its own share of the batch (MMSegmentation's recipes use synchronised batch norm instead);
with 8 images over 4 GPUs that is 2 images per statistic.

The model trained on several devices is a twin of the run's model (``Experiment.train``): built
in the replication scope with the run's initial weights, and its final weights copied back, so
that evaluation, export and saving work on the one-device model as always.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import keras

from .errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Replicas:
    """The devices a training step is replicated over, and the scope to build and compile the
    replicated model in. One device or none: ``count`` 1 and a scope that does nothing."""

    devices: tuple[str, ...] = ()
    scope: Callable[[], contextlib.AbstractContextManager] = field(
        default=contextlib.nullcontext, repr=False
    )

    @property
    def count(self) -> int:
        return max(len(self.devices), 1)

    def check_batch(self, batch_size: int) -> None:
        """InputError unless the global batch splits evenly over the devices."""
        if batch_size % self.count:
            raise InputError(
                f"batch_size={batch_size} não se divide entre {self.count} dispositivos "
                f"({', '.join(self.devices)}): use um múltiplo de {self.count}"
            )


def replicas(kind: str = "gpu") -> Replicas:
    """Data parallelism over every device of ``kind`` ("gpu"; "cpu" for the tests' logical
    devices) that the backend sees, when there are at least two; else no replication."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        devices = [f"{kind}:{d.id}" for d in jax.devices() if d.platform == kind]
        if len(devices) < 2:
            return Replicas()
        distribution = keras.distribution.DataParallel(devices=devices)
        return Replicas(tuple(devices), distribution.scope)
    if backend == "tensorflow":
        import tensorflow as tf

        devices = [d.name for d in tf.config.list_logical_devices(kind.upper())]
        if len(devices) < 2:
            return Replicas()
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        return Replicas(tuple(devices), strategy.scope)
    if backend == "torch" and kind == "gpu":
        import torch

        if torch.cuda.device_count() > 1:
            log.warning(
                "o Keras no PyTorch treina em uma só GPU das %d visíveis; use KERAS_BACKEND=jax "
                "(ou tensorflow) para treinar em todas",
                torch.cuda.device_count(),
            )
    return Replicas()
