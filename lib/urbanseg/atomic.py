"""Write files so that a reader never sees one half-written: a temporary sibling, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that wants a file name (savefig,
    model.save); on success it replaces ``path`` (readable by all, like any new file), on error
    it is removed and ``path`` is left as it was. ``suffix`` keeps writers that look at the
    extension happy (Keras wants ``.keras``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=f"{suffix}.tmp" if not suffix else f".tmp{suffix}",
        dir=path.parent,
    )
    os.close(handle)
    temp = Path(temp)
    try:
        yield temp
        temp.chmod(0o644)  # mkstemp makes it private
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_atomically(path: str | Path, payload: bytes | str) -> Path:
    """Write ``payload`` (text as UTF-8) to ``path`` atomically; returns the path."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    with atomic_path(path) as temp:
        temp.write_bytes(data)
    return Path(path)


def staging_folder(folder: str | Path) -> Path:
    """A new empty folder beside ``folder`` to build its replacement in (``replace_folder``)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.incoming-", dir=folder.parent))


def replace_folder(staging: str | Path, folder: str | Path) -> Path:
    """Put the complete folder ``staging`` in the place of ``folder``: two renames, so a reader
    sees the old folder or the new one, never a mixture (for the instant between the renames,
    none). The old folder is removed after the swap."""
    import shutil

    staging, folder = Path(staging), Path(folder)
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        os.replace(folder, old / folder.name)
    try:
        os.replace(staging, folder)
    except BaseException:
        if old is not None:  # put the old folder back
            os.replace(old / folder.name, folder)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return folder
