"""urbanseg new-model: a student's notebook from the template, found by the runner by its name."""

import json

import pytest

from urbanseg.cli import main
from urbanseg.errors import InputError
from urbanseg.notebooks import declared_model_info, discover_notebooks, new_model


def test_a_new_model_joins_the_study_notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    path = new_model("mine", folder)  # no folder yet: the study's notebooks come first
    assert path == folder / "mine.ipynb"
    assert list(discover_notebooks(folder)) == [
        "unet",
        "segnet",
        "fcn",
        "deeplab",
        "pspnet",
        "mine",
    ]
    assert declared_model_info(path)["display_name"] == "mine"
    source = json.loads(path.read_text())
    assert source["metadata"]["kernelspec"]["name"] == "python3"
    assert any("current_model_name()" in "".join(c["source"]) for c in source["cells"])
    assert new_model("other_2", folder) == folder / "other_2.ipynb"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Mine", "lowercase letters, digits and _"),
        ("2nd", "starting with a letter"),
        ("my-model", "lowercase letters"),
        ("unet", "one of the study's five models"),
    ],
)
def test_a_bad_name_is_refused(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        new_model(name, tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_existing_notebook_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "mine.ipynb").write_text("mine, already")
    assert main(["new-model", "mine", "--notebooks", str(tmp_path)]) == 2
    assert "mine.ipynb: already exists" in capsys.readouterr().err
    assert (tmp_path / "mine.ipynb").read_text() == "mine, already"
