"""The notebooks are the source (students edit them in Jupyter); these tests keep them in step.

- every notebook's ``parameters`` cell declares exactly RunConfig's names, in order, with its
  defaults;
- the code cells are the same in every notebook, but for the model's name in
  ``Experiment('<model>', ...)`` and, in ``_template``, the cells a student writes (tagged
  ``student``);
- notebooks are committed without outputs, with the standard ``python3`` kernel;
- the template's ``model_info`` is a record the catalog accepts.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from urbanseg.catalog import CATALOG, model_info
from urbanseg.config import RunConfig, parameter_names
from urbanseg.notebooks import NOTEBOOK_KERNEL

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
MODEL_PATHS = [path for path in PATHS if not path.stem.startswith("_")]
TEMPLATE = NOTEBOOKS / "_template.ipynb"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(path: Path, *, student: bool = True) -> list[nbformat.NotebookNode]:
    cells = [cell for cell in read(path).cells if cell.cell_type == "code"]
    return [c for c in cells if student or "student" not in c.metadata.get("tags", [])]


def model_name(path: Path) -> str:
    """The name in the notebook's ``Experiment('<name>', ...)`` call."""
    sources = "\n".join(cell.source for cell in code_cells(path))
    found = re.findall(r"Experiment\('(\w+)'", sources)
    assert len(found) == 1, f"{path.name}: one Experiment(...) call expected, found {found}"
    return found[0]


def test_the_study_has_a_notebook_per_catalog_model_and_a_template():
    assert [path.stem for path in MODEL_PATHS] == sorted(CATALOG)
    assert TEMPLATE.is_file()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_parameters_cell_mirrors_run_config(path):
    cells = [c for c in code_cells(path) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    tree = ast.parse(cells[0].source)
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body}
    assert list(values) == parameter_names()
    assert values == RunConfig().to_dict()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_committed_without_outputs_with_the_standard_kernel(path):
    notebook = read(path)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == NOTEBOOK_KERNEL == "python3"  # Colab knows it
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: {cell.id}"


@pytest.mark.parametrize("path", MODEL_PATHS, ids=lambda p: p.stem)
def test_each_model_notebook_runs_its_own_model(path):
    assert model_name(path) == path.stem
    title = read(path).cells[0].source.splitlines()[0]
    assert CATALOG[path.stem].display_name in title


@pytest.mark.parametrize("path", [*MODEL_PATHS[1:], TEMPLATE], ids=lambda p: p.stem)
def test_shared_code_cells_are_identical(path):
    """Against the first model notebook, with the model's name masked; the template's own
    cells (tagged ``student``) are where it may differ."""
    reference = MODEL_PATHS[0]

    def shared(notebook_path):
        name = model_name(notebook_path)
        cells = code_cells(notebook_path, student=notebook_path != TEMPLATE)
        return [cell.source.replace(f"'{name}'", "'MODEL'") for cell in cells]

    expected = shared(reference)
    if path == TEMPLATE:
        student = [c for c in code_cells(TEMPLATE) if "student" in c.metadata.get("tags", [])]
        assert len(student) == 2  # the model's record and Experiment(...); the builder
        expected = [
            source
            for source in expected
            if "Experiment(" not in source and "run.build_model()" not in source
        ]
    assert shared(path) == expected


def test_template_model_info_is_a_valid_catalog_record():
    source = next(c.source for c in code_cells(TEMPLATE) if "model_info = {" in c.source)
    assignment = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and node.targets[0].id == "model_info"
    )
    info = model_info("my_model", ast.literal_eval(assignment.value))
    assert info.display_name == "Meu modelo" and info.describe("pt") and info.reference
