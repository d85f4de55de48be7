"""The model notebooks: where they are, which models they define, their parameters' defaults,
and the Jupyter kernel they run in.

Every ``*.ipynb`` of the notebooks folder whose name does not start with ``_`` (the template) is
a model, named by its file stem. Its cell tagged ``parameters`` assigns one literal per
RunConfig name (``name = value``); the runner reads those defaults without executing anything.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat

from . import resources
from .atomic import write_atomically
from .catalog import CATALOG, sort_key
from .config import RunConfig, parameter_names
from .errors import InputError

logger = logging.getLogger(__name__)

KERNEL_NAME = "urbanseg"  # the kernel urbanseg run registers for this interpreter and runs
NOTEBOOK_KERNEL = "python3"  # the notebooks' own kernelspec: what Colab and every front end know
MODEL_VARIABLE = "URBANSEG_MODEL"  # urbanseg run tells the kernel which model it runs


def current_model_name() -> str:
    """The model a notebook defines: its file name without ``.ipynb``. ``urbanseg run`` says it
    to the kernel (URBANSEG_MODEL); Jupyter (JupyterLab, Notebook 7, VS Code) says the
    notebook's path (JPY_SESSION_NAME, ``__session__``). Elsewhere, e.g. Colab, InputError
    asking for the name."""
    given = os.environ.get(MODEL_VARIABLE)
    if given:
        return given
    main = sys.modules.get("__main__")
    for path in (os.environ.get("JPY_SESSION_NAME"), getattr(main, "__session__", None)):
        if path and str(path).endswith(".ipynb"):
            return Path(path).stem
    raise InputError(
        "não é possível saber aqui o nome do arquivo deste notebook: escreva o nome do modelo, "
        "Experiment('my_model', config, ...), ou execute-o com urbanseg run"
    )


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Register this interpreter as Jupyter kernel ``name`` unless a kernel of that name exists."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        display_name = f"Python ({name})"
        command = [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--sys-prefix",
            "--name",
            name,
            "--display-name",
            display_name,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            reason = (done.stderr.strip().splitlines() or ["sem mensagem"])[-1]
            raise InputError(
                f"não foi possível registrar o kernel Jupyter {name!r} "
                f"({' '.join(command)}): {reason}"
            ) from None
        logger.info("kernel Jupyter %r registrado para %s", name, sys.executable)
        return name
    interpreter = spec.argv[0] if spec.argv else ""
    if not _is_this_environment(interpreter):
        logger.warning(
            "o kernel Jupyter %r executa %s, não o %s deste ambiente "
            "(veja `jupyter kernelspec list`)",
            name,
            interpreter,
            sys.executable,
        )
    return name


def _is_this_environment(interpreter: str) -> bool:
    # jupyter_client replaces a bare "python" with sys.executable; otherwise compare bin folders
    # (a venv's python is a symlink to the base interpreter, so resolving links would lie).
    version = sys.version_info
    if interpreter in ("python", "python3", f"python{version.major}.{version.minor}"):
        return True
    return os.path.dirname(os.path.abspath(interpreter)) == os.path.dirname(
        os.path.abspath(sys.executable)
    )


def default_notebooks_dir() -> Path:
    """``notebooks/`` of the current folder (a checkout, or notebooks copied out with
    ``urbanseg notebooks``) when there is one, else the notebooks installed with urbanseg."""
    local = Path("notebooks")
    return local if local.is_dir() else resources.notebooks_dir()


def discover_notebooks(notebooks_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """Model name -> notebook, for every ``*.ipynb`` not starting with ``_`` (templates) or ``.``.

    Order: the catalog's models (unet, segnet, fcn, deeplab, pspnet), then any other model
    alphabetically. ``notebooks_dir`` None: ``default_notebooks_dir()``.
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    if not folder.is_dir():
        raise InputError(f"{folder}: pasta de notebooks não encontrada")
    found = {
        path.stem: path
        for path in folder.glob("*.ipynb")
        if path.is_file() and not path.name.startswith(("_", "."))
    }
    return {name: found[name] for name in sorted(found, key=sort_key)}


def notebook_defaults(path: str | os.PathLike) -> dict[str, Any]:
    """The values assigned in the notebook's cell tagged ``parameters`` (one ``name = literal``
    per line), checked to declare exactly the RunConfig names."""
    path = Path(path)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises json, validation and OS errors alike
        raise InputError(f"{path}: não é um notebook legível ({_first_line(error)})") from None
    cell = next(
        (
            cell
            for cell in notebook.cells
            if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if cell is None:
        raise InputError(f"{path}: nenhuma célula de código com a tag 'parameters'")
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as error:
        raise InputError(
            f"{path}: célula de parâmetros, linha {error.lineno}: {error.msg}"
        ) from None
    defaults = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            target = value = None
        if not isinstance(target, ast.Name):
            raise InputError(
                f"{path}: célula de parâmetros, linha {node.lineno}: esperado `name = value`"
            )
        try:
            defaults[target.id] = ast.literal_eval(value)
        except ValueError:
            raise InputError(
                f"{path}: célula de parâmetros, linha {node.lineno}: o padrão de "
                f"{target.id} deve ser um literal (um número, texto, None)"
            ) from None
    names = parameter_names()
    missing = [name for name in names if name not in defaults]
    if missing:
        raise InputError(
            f"{path}: a célula de parâmetros não tem {', '.join(missing)} "
            f"(ela declara todos estes: {', '.join(names)})"
        )
    try:
        RunConfig.from_dict(defaults)
    except InputError as error:
        raise InputError(f"{path}: célula de parâmetros: {error}") from None
    return defaults


_PARAMETER_TAGS = {"parameters", "injected-parameters"}  # the defaults, papermill's overrides


def code_digest(path: str | os.PathLike) -> str:
    """A short hash of the notebook's code: the source of every code cell but the parameters
    cell (its values count through ``RunConfig.digest``) and papermill's injected one. Editing
    the model or the training changes it; the narrative, outputs and execution counts do not."""
    import hashlib

    path = Path(path)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises json, validation and OS errors alike
        raise InputError(f"{path}: não é um notebook legível ({_first_line(error)})") from None
    sources = [
        cell.source
        for cell in notebook.cells
        if cell.cell_type == "code"
        and not _PARAMETER_TAGS & set(cell.get("metadata", {}).get("tags", []))
    ]
    return hashlib.sha256("\0".join(sources).encode()).hexdigest()[:16]


def declared_model_info(path: str | os.PathLike) -> dict[str, Any]:
    """The ``model_info = {...}`` a notebook of a model outside the catalog assigns (the
    template's record of a student's model), so that even a run that failed before its
    ``Experiment`` existed is described in the report; {} when there is none or it is not a
    literal."""
    try:
        notebook = nbformat.read(Path(path), as_version=4)
    except Exception:  # an unreadable notebook is reported by its run, not here
        return {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or "model_info" not in cell.source:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
                "model_info"
            ]:
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    return {}
                return value if isinstance(value, dict) else {}
    return {}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


MODEL_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
TEMPLATE = "_template.ipynb"


def new_model(name: str, folder: str | os.PathLike = "notebooks") -> Path:
    """``folder/NAME.ipynb`` from the template, for a model of one's own (``urbanseg
    new-model``): the runner and the report find it by its file name, and its ``model_info``
    starts with NAME as display name. Where ``folder`` does not exist yet (urbanseg installed with
    pip), the study's notebooks are copied into it first. InputError for a name that is not a model name, one of
    the study's models, or a notebook that exists; nothing is overwritten."""
    if not MODEL_NAME.match(name):
        raise InputError(
            f"{name!r}: um nome de modelo tem letras minúsculas, dígitos e _, começando por uma "
            "letra (ele nomeia o notebook, results/NAME/ e as linhas do relatório)"
        )
    if name in CATALOG:
        raise InputError(f"{name!r} é um dos cinco modelos do estudo: escolha outro nome")
    target = Path(folder) / f"{name}.ipynb"
    if target.exists():
        raise InputError(f"{target}: já existe (escolha outro nome, ou edite esse notebook)")
    if not Path(folder).is_dir():  # a pip install: the study's notebooks beside the new one,
        resources.copy_notebooks(folder)  # or urbanseg run would find this model alone
        logger.info("notebooks do estudo copiados para %s", folder)
    local = Path(folder) / TEMPLATE
    template = local if local.is_file() else resources.notebooks_dir() / TEMPLATE
    notebook = nbformat.read(template, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and '"display_name": "Meu modelo"' in cell.source:
            cell.source = cell.source.replace('"Meu modelo"', repr(name).replace("'", '"'), 1)
    return write_atomically(target, nbformat.writes(notebook))
