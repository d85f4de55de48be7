"""Run parameters: validation, coercion, digest, and the notebooks' parameters cells."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from urbanseg.config import RunConfig, from_namespace, parameter_names
from urbanseg.errors import InputError

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_defaults_are_valid_and_coercion_accepts_command_line_strings():
    config = RunConfig.from_dict({"epochs": "3", "width": "0.5", "data_root": "None",
                                  "learning_rate": 1, "max_val_images": "null"})
    assert (config.epochs, config.width, config.data_root, config.learning_rate) == (3, 0.5, None, 1.0)
    assert config.max_val_images is None


@pytest.mark.parametrize("values, message", [
    ({"epoch": 3}, "unknown parameter.*epoch; valid: data_root"),
    ({"image_height": 100}, "image_height=100: must be a positive multiple of 32"),
    ({"epochs": 0}, "epochs=0"),
    ({"epochs": "many"}, "epochs='many': expected int"),
    ({"epochs": 2.5}, "expected int"),
    ({"learning_rate": -1}, "learning_rate=-1.0"),
    ({"variant": "big"}, "variant='big'"),
    ({"image_width": None}, "image_width=None: a value is required"),
    ({"max_train_images": 0}, "max_train_images=0"),
])
def test_bad_values_name_the_parameter(values, message):
    with pytest.raises(InputError, match=message):
        RunConfig.from_dict(values)


def test_digest_changes_with_results_relevant_parameters_only():
    base = RunConfig()
    assert base.digest("unet") == RunConfig().digest("unet")
    assert base.digest("unet") != base.digest("fcn")
    assert base.digest("unet") != dataclasses.replace(base, epochs=3).digest("unet")
    assert base.digest("unet") == dataclasses.replace(base, results_dir="elsewhere").digest("unet")


def test_from_namespace_rejects_a_name_papermill_injected_but_the_notebook_lacks():
    namespace = {"In": [], "Out": {}, "get_ipython": None, "_i1": "", "from_namespace": from_namespace,
                 "config": RunConfig(), **RunConfig().to_dict()}
    assert from_namespace(namespace) == RunConfig()
    with pytest.raises(InputError, match="unknown parameter.*epoks"):
        from_namespace({**namespace, "epoks": 3})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameters_cell_mirrors_run_config(path):
    notebook = json.loads(path.read_text())
    cells = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1
    tree = ast.parse("".join(cells[0]["source"]))
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}
    assert list(values) == parameter_names()
    assert values == RunConfig().to_dict()
    assert all(not c.get("outputs") for c in notebook["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("model, values, expected", [
    ("unet", {}, (0.25, None)),  # CPU width by default
    ("deeplab", {}, (0.5, None)),
    ("fcn", {"backbone_weights": "imagenet"}, (1.0, "imagenet")),  # weights exist at width 1
    ("unet", {"backbone_weights": "imagenet"}, (0.25, None)),  # no backbone: not applied
    ("pspnet", {"backbone_weights": "/w.h5", "width": 0.5}, (0.5, "/w.h5")),  # explicit wins
    ("segnet", {"variant": "seed"}, (None, None)),  # the seed variant keeps its own width
    ("mine", {"backbone_weights": "imagenet"}, (1.0, "imagenet")),  # a student's model decides
])
def test_study_wide_parameters_are_read_per_model(model, values, expected):
    from urbanseg.experiment import model_arguments

    assert model_arguments(model, RunConfig.from_dict(values)) == expected
