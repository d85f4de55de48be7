"""Where the report templates, locale files, model notebooks and study recipes live.

In a source checkout they are the repository's top-level ``templates/``, ``notebooks/`` and
``studies/`` folders (the project's layout puts them where a reader looks first). A wheel
carries copies inside the package (``urbanseg/templates``, ``urbanseg/notebooks``, ...; see
``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml), found here through
``importlib.resources``. The packaged copy wins when it exists, so an installed urbanseg never
reads a checkout it happens to sit beside.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from .errors import InputError

_CHECKOUT = Path(__file__).resolve().parents[2]  # lib/urbanseg/resources.py -> the repository


def _folder(name: str) -> Path:
    packaged = resources.files("urbanseg") / name
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = _CHECKOUT / name
    if checkout.is_dir():
        return checkout
    raise InputError(
        f"{name}/: pasta não encontrada no pacote urbanseg ({packaged}) nem em um checkout do "
        f"código-fonte ({checkout}); reinstale o urbanseg (pip install --force-reinstall urbanseg)"
    )


def templates_dir() -> Path:
    """The Jinja2 templates and CSS of the report."""
    return _folder("templates")


def locales_dir() -> Path:
    """The report's text, one YAML file per language (``pt.yaml``, ``en.yaml``)."""
    return templates_dir() / "locales"


def studies_dir() -> Path:
    """Parameter files of whole studies (``studies/paper.yaml``: the papers' recipe)."""
    return _folder("studies")


def parameters_file(name: str | Path) -> Path:
    """``name`` as given when it is a file, else the study of that name shipped with urbanseg
    (``-f paper`` is ``studies/paper.yaml``); the path as given when neither exists (its
    reader then says it is missing)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = studies_dir() / (path.name if path.suffix else f"{path.name}.yaml")
    return shipped if shipped.is_file() else path


def notebooks_dir() -> Path:
    """The model notebooks (``<model>.ipynb``) and the template for a new one (``_template``)."""
    return _folder("notebooks")


def copy_notebooks(destination: str | Path) -> list[Path]:
    """Copy the model notebooks and the template into ``destination`` (created if needed) for a
    user who installed urbanseg with pip (Colab). Nothing of the user's is overwritten: if any of
    them is already there, InputError names it and nothing is copied. The copies are made in a
    hidden folder of ``destination`` first and moved in once all are complete. Returns the new
    files."""
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise InputError(f"{destination}: existe e não é uma pasta")
    sources = sorted(notebooks_dir().glob("*.ipynb"))
    clashes = [destination / source.name for source in sources]
    clashes = [path for path in clashes if path.exists()]
    if clashes:
        raise InputError(
            f"{clashes[0]}: já existe (remova-o, ou copie para outra pasta); nada foi copiado"
        )
    try:
        destination.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".urbanseg-notebooks-", dir=destination) as staging:
            for source in sources:
                shutil.copyfile(source, Path(staging) / source.name)
            for source in sources:
                os.replace(Path(staging) / source.name, destination / source.name)
    except OSError as error:
        raise InputError(
            f"{destination}: não foi possível copiar os notebooks para lá "
            f"({error.strerror or error})"
        ) from None
    return [destination / source.name for source in sources]
