"""Write files so that a reader never sees one half-written: a temporary sibling, then a rename."""

from __future__ import annotations

import contextlib
import errno
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


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold the exclusive lock named by the file ``path`` for the block: another process, or
    thread, that asks for it waits until it is released (``exclusive_lock`` refuses instead).
    Where the file system refuses locks (some network file systems) the block runs unlocked, so
    the work inside must still be safe to race (write aside, then rename). The file is removed
    on release; a waiter that then holds a removed file opens the new one and waits again, so
    two holders never overlap.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+b")  # noqa: SIM115 (closed on release)
        try:
            locked = _wait_for_lock(handle)
            if not locked:
                break
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and os.path.samestat(os.fstat(handle.fileno()), current):
                break
        except BaseException:
            handle.close()
            raise
        handle.close()  # its holder removed it while this process waited: lock the new one
    try:
        yield
    finally:
        if locked:
            with contextlib.suppress(OSError):  # while still held (Windows refuses: it stays)
                path.unlink()
        handle.close()  # closing the file releases the lock


def _wait_for_lock(handle) -> bool:
    """Wait for the exclusive lock on the open file ``handle``; False where locks fail."""
    import logging

    log = logging.getLogger("urbanseg.data")
    try:
        try:
            _lock_file(handle.fileno())
        except OSError as error:
            if error.errno not in _HELD:
                raise
            log.info("aguardando outro processo que prepara os mesmos dados (%s)", handle.name)
            _lock_file(handle.fileno(), wait=True)
        return True
    except OSError as error:
        log.debug("sem trava de arquivo em %s (%s): seguindo sem ela", handle.name, error)
        return False


class LockHeld(Exception):
    """Another process holds the lock; ``holder`` says which, as it wrote it ("" if unknown)."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path}: {holder or '?'}")
        self.path, self.holder = path, holder


@contextlib.contextmanager
def exclusive_lock(path: str | Path) -> Iterator[bool]:
    """Hold the lock file ``path`` while the block runs, or raise LockHeld at once.

    The operating system's lock on an open file (flock; msvcrt on Windows) is released when its
    process ends however it ends, so a killed holder leaves no stale lock. The file holds the
    holder's pid, host and start time, for the message of the one refused; it is left in place
    (removing it would let two processes hold locks on two files of one name). Yields False
    where the file system cannot lock (some network and FUSE mounts): the block runs unlocked.
    """
    import datetime
    import socket

    path = Path(path)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            _lock_file(handle)
            locked = True
        except OSError as error:
            if error.errno in _HELD:
                raise LockHeld(path, _read_holder(handle)) from None
            locked = False
        if not locked:  # no locking on this file system: run as before locks existed
            yield False
            return
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(handle, 0)
        os.lseek(handle, 0, os.SEEK_SET)
        os.write(handle, f"pid {os.getpid()} em {socket.gethostname()}, desde {started}\n".encode())
        try:
            yield True
        finally:
            os.ftruncate(handle, 0)  # released: no holder to name
    finally:
        os.close(handle)  # and the lock with it


_HELD = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK}  # held by another
_LOCK_OFFSET = 1 << 20  # msvcrt locks a byte range: one past the text, so the text stays readable


def _lock_file(handle: int, *, wait: bool = False) -> None:
    """Lock the open file ``handle`` (flock; msvcrt on Windows). Without ``wait``, an OSError
    with an errno in _HELD says another process holds it; any other OSError, that this file
    system cannot lock."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(handle, _LOCK_OFFSET, os.SEEK_SET)
        while True:
            try:
                msvcrt.locking(handle, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
                return
            except OSError as error:  # LK_LOCK gives up after 10 s: still held, wait again
                if not (wait and error.errno == errno.EDEADLOCK):
                    raise
    fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))


def _read_holder(handle: int) -> str:
    try:
        os.lseek(handle, 0, os.SEEK_SET)
        return os.read(handle, 400).decode("utf-8", "replace").strip()
    except OSError:
        return ""
