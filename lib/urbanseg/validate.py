"""``urbanseg validate NOTEBOOK``: a model notebook checked in a minute, before a long run.

What is checked, in order:

1. the notebook reads, and its cell tagged ``parameters`` declares exactly RunConfig's names
   with valid defaults;
2. a model outside the catalog describes itself (``model_info``: display name, description);
3. the notebook runs end to end on a tiny synthetic data set (two training images, one step of
   two images at 64x128, two validation images): the model builds, maps (H, W, 3) images to
   (H, W, 19) logits (``Experiment.build_model`` checks it), trains, is evaluated;
4. the run writes a result record that reads back, for this model, with its metrics.

Each problem is one line naming the cell it is in (``cell 9, "import keras"``). A problem
found by reading the notebook (1, 2) stops there: the run would stop on it too.
Nothing is written beside the notebook: the run happens in a temporary folder.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .catalog import CATALOG, model_info
from .errors import InputError
from .findings import Findings
from .notebooks import declared_model_info, notebook_defaults

TINY = {"image_height": 64, "image_width": 128, "epochs": 1, "batch_size": 2}


@dataclass
class Validation(Findings):
    passed: str = field(default="pronto para uma execução completa", init=False, repr=False)


def validate_notebook(path: str | Path, *, keep: str | Path | None = None) -> Validation:
    """Check the notebook at ``path`` (see the module docstring). ``keep``: a folder where the
    tiny run's results stay (else a temporary one)."""
    path = Path(path)
    result = Validation(path)
    if not path.is_file():
        raise InputError(f"{path}: notebook não encontrado")
    name = path.stem
    try:
        notebook_defaults(path)
        result.checked.append("a célula de parâmetros declara os nomes de RunConfig")
    except InputError as error:
        result.problems.append(str(error))
        return result  # the run would stop on the same thing
    if name not in CATALOG:
        declared = declared_model_info(path)
        if not declared:
            result.problems.append(
                f"{_cell_of(path, 'model_info')}: nenhum literal model_info = {{...}} "
                "(display_name, description, reference): o relatório não poderia descrever o modelo"
            )
        else:
            try:
                model_info(name, declared)
                result.checked.append("model_info descreve o modelo")
            except InputError as error:
                result.problems.append(f"{_cell_of(path, 'model_info')}: {error}")
    if result.problems:  # the run would stop on the same thing
        return result
    with tempfile.TemporaryDirectory(prefix="urbanseg-validate-") as scratch:
        folder = Path(keep) if keep else Path(scratch)
        _tiny_run(path, folder, result)
    return result


def _tiny_run(path: Path, folder: Path, result: Validation) -> None:
    from .records import RunRecord
    from .results_folder import run_folder
    from .runner import run_models
    from .synth import generate

    name = path.stem
    data_root, notebooks = folder / "data", folder / "notebooks"
    if not data_root.exists():
        generate(data_root, train=2, val=2, test=0, size=(64, 128), seed=0, progress=False)
    notebooks.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, notebooks / path.name)
    summary = run_models(
        [name],
        notebooks_dir=notebooks,
        results_dir=folder / "results",
        parameters={**TINY, "data_root": str(data_root)},
        force=True,
        progress=False,
    )
    (run,) = summary.runs
    out = run_folder(folder / "results", name, 0)
    if run.status != "ok":
        executed = out / f"{name}.ipynb"
        where = _failed_cell(executed) if executed.exists() else "o notebook"
        result.problems.append(f"{where}: {run.error}")
        return
    result.checked.append(
        "executa em duas imagens sintéticas: constrói, treina um passo, avalia (com --keep DIR, "
        f"o notebook executado e seu run.log ficam em DIR/results/{name}/seed-0)"
    )
    try:
        record = RunRecord.read(out)
    except InputError as error:
        result.problems.append(f"o registro de resultado: {error}")
        return
    if record.model != name or record.metrics.get("miou") is None:
        result.problems.append(
            f"o registro de resultado nomeia o modelo {record.model!r} com mIoU "
            f"{record.metrics.get('miou')!r}; esperado {name!r} e um número"
        )
        return
    result.checked.append(f"grava um registro de resultado para {name!r} (metrics.json)")


def _failed_cell(executed: Path) -> str:
    """``cell N, "first line"`` of the cell whose output is an error, in an executed notebook."""
    notebook = nbformat.read(executed, as_version=4)
    added = ("injected-parameters", "papermill-error-cell-tag")  # cells papermill put in
    own = [c for c in notebook.cells if not set(c.metadata.get("tags", [])) & set(added)]
    for index, cell in enumerate(own):  # numbered as in the student's notebook
        if cell.cell_type == "code" and any(
            output.get("output_type") == "error" for output in cell.get("outputs", [])
        ):
            return _describe(index, cell)
    return "o notebook"


def _cell_of(path: Path, text: str) -> str:
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and text in cell.source:
            return _describe(index, cell)
    return "o notebook"


def _describe(index: int, cell) -> str:
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f'célula {index + 1}, "{first}"'
