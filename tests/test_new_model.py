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
        ("Mine", "letras minúsculas, dígitos e _"),
        ("2nd", "começando por uma letra"),
        ("my-model", "letras minúsculas"),
        ("unet", "um dos cinco modelos do estudo"),
    ],
)
def test_a_bad_name_is_refused(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        new_model(name, tmp_path)
    assert not list(tmp_path.iterdir())


def test_an_existing_notebook_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "mine.ipynb").write_text("mine, already")
    assert main(["new-model", "mine", "--notebooks", str(tmp_path)]) == 2
    assert "mine.ipynb: já existe" in capsys.readouterr().err
    assert (tmp_path / "mine.ipynb").read_text() == "mine, already"


def edit_cell(path, old, new):
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        text = "".join(cell["source"])
        if old in text:
            cell["source"] = text.replace(old, new)
            path.write_text(json.dumps(notebook))
            return
    raise AssertionError(f"{old!r} is in no cell")


@pytest.mark.slow
def test_validate_passes_a_new_model_and_names_the_cells_of_a_broken_one(tmp_path, capsys):
    from urbanseg.validate import validate_notebook

    folder = tmp_path / "notebooks"
    good = new_model("mine", folder)
    result = validate_notebook(good)
    assert result.ok, result.format()
    assert len(result.checked) == 4

    broken = new_model("broken", folder)  # forgot to upsample: 16x32 logits for 64x128 images
    upsampling = 'outputs = layers.UpSampling2D(4, interpolation="bilinear")(x)'
    edit_cell(broken, upsampling, "outputs = x")
    assert main(["validate", str(broken)]) == 2
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.startswith("PROBLEMA: ")]
    assert len(problems) == 1, out
    expected = "mapeia 64x128x3 em 16x32x19; esperado: imagens 64x128x3 em logits 64x128x19"
    assert expected in problems[0]
    cell = int(problems[0].split()[2].rstrip(","))
    source = json.loads(broken.read_text())["cells"][cell - 1]
    assert "run.build_model(build_my_model)" in "".join(source["source"])  # the right cell
    assert out.rstrip().endswith("broken.ipynb: 1 problema(s)")

    edit_cell(broken, '"description": "Um parágrafo', '"summary": "Um parágrafo')
    (problem,) = validate_notebook(broken).problems  # read, not run: named with its cell
    assert problem.startswith('célula 6, "# A ficha do seu modelo') and "summary" in problem

    edit_cell(broken, "epochs = 10\n", "")  # a parameter missing: named, nothing run
    (problem,) = validate_notebook(broken).problems
    assert "epochs" in problem
