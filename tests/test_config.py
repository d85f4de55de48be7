"""Run parameters: validation, coercion, digest, parameters files, and per-model reading."""

import dataclasses

import pytest

from urbanseg.config import RunConfig, from_namespace, load_parameters_file, parameter_names
from urbanseg.errors import InputError


def test_defaults_are_valid_and_coercion_accepts_command_line_strings():
    config = RunConfig.from_dict(
        {
            "epochs": "3",
            "width": "0.5",
            "data_root": "None",
            "learning_rate": 1,
            "max_val_images": "null",
        }
    )
    assert (config.epochs, config.width, config.data_root, config.learning_rate) == (
        3,
        0.5,
        None,
        1.0,
    )
    assert config.max_val_images is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epoch": 3}, r"parâmetro\(s\) desconhecido\(s\) epoch; válidos: data_root"),
        ({"image_height": 100}, "image_height=100: deve ser um múltiplo positivo de 32"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": "many"}, "epochs='many': esperado int"),
        ({"epochs": 2.5}, "esperado int"),
        ({"learning_rate": -1}, "learning_rate=-1.0"),
        ({"variant": "big"}, "variant='big'"),
        ({"image_width": None}, "image_width=None: um valor é obrigatório"),
        ({"max_train_images": 0}, "max_train_images=0"),
        ({"selection": "best"}, "selection='best': deve ser um de 'last', 'holdout'"),
        ({"optimizer": "rmsprop"}, "optimizer='rmsprop'"),
        ({"iterations": 0}, "iterations=0"),
        ({"min_learning_rate": 0.1}, "min_learning_rate=0.1: deve ser menor que learning_rate"),
        ({"backbone_lr_mult": 0}, r"backbone_lr_mult=0(\.0)?: deve estar em \(0, 10\]"),
        ({"crop_height": 64}, "crop_height e crop_width: passe os dois"),
        ({"crop_height": 64, "crop_width": 100}, "crop_width=100: deve ser um múltiplo positivo"),
        ({"scale_range": "2,1"}, "scale_range='2,1': esperado 0 < mínimo <= máximo"),
        ({"scale_range": "big"}, "scale_range='big': esperado str"),
        ({"cat_max_ratio": 0}, "cat_max_ratio=0.0"),
        ({"photometric": "maybe"}, "photometric='maybe': esperado bool"),
        ({"eval_mode": "tiles"}, "eval_mode='tiles'"),
        ({"eval_overlap": 1}, "eval_overlap=1.0"),
        ({"output_stride": 32}, "output_stride=32"),
        ({"aux_loss": 2}, "aux_loss=2.0"),
    ],
)
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
    namespace = {
        "In": [],
        "Out": {},
        "get_ipython": None,
        "_i1": "",
        "from_namespace": from_namespace,
        "config": RunConfig(),
        **RunConfig().to_dict(),
    }
    assert from_namespace(namespace) == RunConfig()
    with pytest.raises(InputError, match=r"parâmetro\(s\) desconhecido\(s\) epoks"):
        from_namespace({**namespace, "epoks": 3})


@pytest.mark.parametrize(
    "model, values, expected",
    [
        ("unet", {}, (0.25, None)),  # CPU width by default
        ("deeplab", {}, (0.5, None)),
        ("fcn", {"backbone_weights": "imagenet"}, (1.0, "imagenet")),  # weights exist at width 1
        ("unet", {"backbone_weights": "imagenet"}, (0.25, None)),  # no backbone: not applied
        ("pspnet", {"backbone_weights": "/w.h5", "width": 0.5}, (0.5, "/w.h5")),  # explicit wins
        ("segnet", {"variant": "seed"}, (None, None)),  # the seed variant keeps its own width
        ("mine", {"backbone_weights": "imagenet"}, (1.0, "imagenet")),  # a student's model decides
    ],
)
def test_study_wide_parameters_are_read_per_model(model, values, expected):
    from urbanseg.experiment import model_arguments

    assert model_arguments(model, RunConfig.from_dict(values)) == expected


def test_load_parameters_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("epochs: 2\ndata_root: /data/cityscapes\n")
    assert load_parameters_file(path) == {"epochs": 2, "data_root": "/data/cityscapes"}
    path.write_text("")
    assert load_parameters_file(path) == {}
    with pytest.raises(InputError, match="missing.yaml: arquivo de parâmetros não encontrado"):
        load_parameters_file(tmp_path / "missing.yaml")
    path.write_text("epochs: [2\n")
    with pytest.raises(InputError, match="params.yaml: linha 2: YAML malformado"):
        load_parameters_file(path)
    path.write_text("- epochs\n- 2\n")
    with pytest.raises(InputError, match="params.yaml: esperado um mapeamento.*recebido: list"):
        load_parameters_file(path)
    path.write_text("epoch: 2\n")
    with pytest.raises(InputError, match=r"params.yaml: parâmetro\(s\) desconhecido\(s\) epoch"):
        load_parameters_file(path)


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("epochs", "1e1", 10),
        ("epochs", "10.0", 10),
        ("iterations", "9007199254740993", 9007199254740993),  # 2**53 + 1: not through a float
        ("max_train_images", "~", None),
        ("max_train_images", "NULL", None),
        ("learning_rate", "1e-3", 0.001),
        ("data_root", "001", "001"),  # text parameters keep their text
    ],
)
def test_command_line_text_is_read_as_papermill_would(name, text, expected):
    assert getattr(RunConfig.from_dict({name: text}), name) == expected


@pytest.mark.parametrize(
    "name, value", [("epochs", "2.5"), ("epochs", "inf"), ("epochs", True), ("width", "wide")]
)
def test_values_of_the_wrong_kind_are_refused(name, value):
    with pytest.raises(InputError, match=f"^{name}="):
        RunConfig.from_dict({name: value})


def test_a_notebook_shows_the_parameters_as_a_table_marking_what_changed():
    html = RunConfig.from_dict({"epochs": 3, "data_root": "/data/<b>"})._repr_html_()
    assert html.count("<tr>") == len(parameter_names()) + 1  # a row each, and the header
    assert "<td><code>epochs</code></td><td><b>3</b></td><td>10</td>" in html
    assert "<td><code>batch_size</code></td><td>4</td><td></td>" in html  # unchanged: no default
    assert "&lt;b&gt;" in html  # values are escaped
