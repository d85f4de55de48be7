"""Run by tests/test_parallel.py in a fresh interpreter, since the backend and its devices are
fixed at import: ``python parallel_worker.py BACKEND TREE OUT`` with two logical CPU devices
(KERAS_BACKEND and, for JAX, XLA_FLAGS set by the caller). Prints one JSON line of findings."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
backend, tree, out = sys.argv[1:4]

if backend == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import functools  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from urbanseg import experiment, parallel  # noqa: E402
from urbanseg.config import RunConfig  # noqa: E402
from urbanseg.errors import InputError  # noqa: E402
from urbanseg.losses import SegmentationCrossEntropy  # noqa: E402
from urbanseg.records import RunRecord  # noqa: E402

assert keras.backend.backend() == backend
found = {}
two = parallel.replicas("cpu")
found["devices"] = list(two.devices)
try:
    two.check_batch(3)
    found["odd_batch"] = "accepted"
except InputError as error:
    found["odd_batch"] = str(error)


def tiny(num_classes=19, input_shape=(16, 32, 3), **_):
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(inputs)
    return keras.Model(inputs, layers.Conv2D(num_classes, 1, name="b")(x))


# One SGD step on the same batch, on one device and replicated on two: the gradients of the
# two halves, averaged, are the gradient of the whole batch (no batch norm, no void pixels).
rng = np.random.default_rng(0)
images = rng.uniform(0, 255, (4, 16, 32, 3)).astype("float32")
masks = rng.integers(0, 19, (4, 16, 32)).astype("int32")
keras.utils.set_random_seed(0)
single = tiny()
start = single.get_weights()
steps = {}
for name, scope in (("single", parallel.Replicas().scope), ("replicated", two.scope)):
    with scope():
        model = tiny()
        model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SegmentationCrossEntropy())
        logged = model.fit(images, masks, batch_size=4, epochs=1, shuffle=False, verbose=0)
    steps[name] = model.get_weights()
    found[f"{name}_loss"] = logged.history["loss"][0]
found["step_difference"] = max(
    float(np.abs(a - b).max()) for a, b in zip(steps["single"], steps["replicated"])
)
found["step_size"] = max(float(np.abs(a - b).max()) for a, b in zip(steps["single"], start))

# A whole run: the replicated twin trains, the run's own model is scored and saved.
experiment.replicas = functools.partial(parallel.replicas, "cpu")
config = RunConfig.from_dict(
    {
        "data_root": tree,
        "image_height": 32,
        "image_width": 64,
        "epochs": 1,
        "batch_size": 2,
        "results_dir": out,
    }
)
run = experiment.Experiment("mine", config, progress=False, model_info={"display_name": "Mine"})
model = run.build_model(tiny)
before = model.get_weights()
run.train()
found["weights_changed"] = any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
metrics = run.evaluate()
run.finish()
record = RunRecord.read(run.out)
found["recorded_devices"] = record.training.devices
found["miou"] = metrics["miou"]
saved = keras.saving.load_model(run.out / "model.keras", compile=False)
found["saved_equals_model"] = all(
    np.array_equal(a, b) for a, b in zip(saved.get_weights(), model.get_weights())
)
print(json.dumps(found))
