"""Finding templates and notebooks, and copying the notebooks out for a pip/Colab user."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from urbanseg import resources
from urbanseg.errors import InputError
from urbanseg.notebooks import declared_model_info

REPO = Path(__file__).resolve().parent.parent
NAMES = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))


def test_a_checkout_reads_its_own_folders():
    assert resources.templates_dir() == REPO / "templates"
    assert resources.locales_dir() == REPO / "templates" / "locales"
    assert resources.notebooks_dir() == REPO / "notebooks"


def test_copy_notebooks_copies_all_and_overwrites_nothing(tmp_path):
    written = resources.copy_notebooks(tmp_path / "nbs")
    assert sorted(path.name for path in written) == NAMES
    assert sorted(path.name for path in (tmp_path / "nbs").iterdir()) == NAMES  # no leftovers
    for path in (tmp_path / "nbs").iterdir():
        if path.name != "unet.ipynb":
            path.unlink()
    mine = tmp_path / "nbs" / "unet.ipynb"
    mine.write_text("my edits")
    with pytest.raises(InputError, match="unet.ipynb: já existe.*nada foi copiado"):
        resources.copy_notebooks(tmp_path / "nbs")
    assert mine.read_text() == "my edits"


def test_copy_notebooks_leaves_nothing_half_done(tmp_path, monkeypatch):
    copies, real_copy = [], shutil.copyfile

    def copy_then_fail(source, target):
        if len(copies) == 2:
            raise OSError(28, "No space left on device")
        copies.append(target)
        return real_copy(source, target)

    monkeypatch.setattr(resources.shutil, "copyfile", copy_then_fail)
    with pytest.raises(
        InputError, match="nbs: não foi possível copiar os notebooks para lá .No space left"
    ):
        resources.copy_notebooks(tmp_path / "nbs")
    assert list((tmp_path / "nbs").iterdir()) == []


def test_a_file_in_the_way_is_an_input_error(tmp_path):
    (tmp_path / "nbs").write_text("")
    with pytest.raises(InputError, match="nbs: existe e não é uma pasta"):
        resources.copy_notebooks(tmp_path / "nbs")


def test_declared_model_info_reads_the_template_s_record(tmp_path):
    assert (
        declared_model_info(REPO / "notebooks" / "_template.ipynb")["display_name"] == "Meu modelo"
    )
    assert declared_model_info(REPO / "notebooks" / "unet.ipynb") == {}
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("model_info = make()")])
    nbformat.write(notebook, tmp_path / "x.ipynb")
    assert declared_model_info(tmp_path / "x.ipynb") == {}  # not a literal: nothing claimed
    assert declared_model_info(tmp_path / "missing.ipynb") == {}


def test_a_study_is_found_by_name(tmp_path, monkeypatch):
    from urbanseg.config import RunConfig, load_parameters_file

    assert resources.parameters_file("paper") == REPO / "studies" / "paper.yaml"
    assert resources.parameters_file("paper.yaml") == REPO / "studies" / "paper.yaml"
    mine = tmp_path / "paper.yaml"
    mine.write_text("epochs: 3\n")
    monkeypatch.chdir(tmp_path)
    assert resources.parameters_file("paper.yaml") == Path("paper.yaml")  # the user's file wins
    assert resources.parameters_file("nothing") == Path("nothing")  # its reader says it is missing
    recipe = RunConfig.from_dict(load_parameters_file(REPO / "studies" / "paper.yaml"))
    assert (recipe.crop_height, recipe.crop_width, recipe.iterations) == (512, 1024, 80000)
    assert (recipe.optimizer, recipe.scale_range, recipe.eval_mode) == ("sgd", "0.5,2", "whole")
