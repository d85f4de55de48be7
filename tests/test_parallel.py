"""Data parallelism on two logical CPU devices, for TensorFlow and JAX (each in a fresh
interpreter: tests/parallel_worker.py), as it will run on several GPUs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from urbanseg.parallel import Replicas, replicas

WORKER = Path(__file__).with_name("parallel_worker.py")


def test_one_device_or_none_replicates_nothing():
    assert replicas("gpu") == Replicas()  # no GPU here
    assert replicas("gpu").count == 1
    Replicas().check_batch(3)  # any batch splits over one device


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_training_on_two_devices_takes_the_whole_batchs_step(backend, tiny_tree, tmp_path):
    if backend == "jax":
        pytest.importorskip("jax")
    environment = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    done = subprocess.run(
        [sys.executable, str(WORKER), backend, str(tiny_tree), str(tmp_path / "results")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(found["devices"]) == 2
    assert found["odd_batch"].startswith("batch_size=3 não se divide entre 2 dispositivos")
    # the replicated step is the one-device step on the whole batch, not twice it or half it
    assert found["step_size"] > 1e-3 and found["step_difference"] < 1e-5 * found["step_size"]
    assert found["replicated_loss"] == pytest.approx(found["single_loss"], rel=1e-5)
    assert found["weights_changed"] and found["recorded_devices"] == 2
    assert found["saved_equals_model"] and 0 <= found["miou"] <= 1
