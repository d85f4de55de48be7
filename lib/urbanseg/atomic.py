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
