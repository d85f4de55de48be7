"""What ``urbanseg run`` shows while notebooks run: a line as each starts and ends, one live
bar per running notebook (fed by its progress file, urbanseg.progress), or, verbose, each
notebook's log as it grows. The runner (urbanseg.runner) calls it from its one thread."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import ModelRun, _Job

logger = logging.getLogger("urbanseg.runner")  # the runner's lines, as -q and tests expect


class RunConsole:
    """What ``urbanseg run`` shows: a line as each notebook starts ("[2/5] segnet (semente 0)",
    with the time the whole run has left, judged by the runs done), one live bar per running
    notebook fed by its progress file, a line as each ends. With ``verbose``, each notebook's
    log (run.log) is streamed instead of its bar.

    ``slots``: runs that go on at once (the time left is shared among them). ``read``: where a
    run's progress comes from, its progress file by default (urbanseg.cluster feeds it the
    workers' reports instead)."""

    def __init__(self, total: int, *, progress: bool, verbose: bool, slots: int = 1):
        self.total, self.progress, self.verbose = total, progress, verbose
        self.slots = max(slots, 1)
        self.running: dict[str, dict] = {}  # job name: its bar, log offset, start time
        self.numbers: dict[str, int] = {}
        self.durations: list[float] = []
        self.read: Callable[[_Job], dict] = _read_progress_file

    def start(self, job: _Job, where: str | None = None) -> None:
        """The line "[k/N] model (semente s): executando", once per run; ``where``: the
        machine it runs on, when not this one."""
        if job.name in self.running or (job.name in self.numbers and where is None):
            return
        number = self.numbers.setdefault(job.name, len(self.numbers) + 1)
        left = ""
        if self.durations:
            mean = sum(self.durations) / len(self.durations)
            remaining = (self.total - len(self.durations)) * mean / self.slots
            left = f", cerca de {_duration(remaining)} restantes no total"
        place = f" em {where}" if where else ""
        logger.info("[%d/%d] %s: executando%s%s", number, self.total, job.name, place, left)
        state = {"job": job, "offset": 0, "bar": None, "since": time.monotonic()}
        if self.progress and not self.verbose:
            from .progress import progress_bar

            state["bar"] = progress_bar(
                total=None, desc=f"  {job.name}", unit="passo", leave=False, mininterval=1.0
            )
        self.running[job.name] = state

    def poll(self) -> None:
        for state in self.running.values():
            job, bar = state["job"], state["bar"]
            if self.verbose:
                state["offset"] = _stream(job.log_path, state["offset"])
            elif bar is not None:
                found = self.read(job)
                if found.get("total"):
                    bar.total = found["total"]
                    bar.n = min(found.get("done", 0), found["total"])
                    bar.set_postfix_str(_progress_text(found), refresh=False)
                    bar.refresh()

    def finish(self, job: _Job, run: ModelRun) -> None:
        state = self.running.pop(job.name, None)
        if state is not None:
            if self.verbose:  # the log has moved into the run's folder with its run, if it ended
                moved = job.out_dir / job.log_path.name
                _stream(job.log_path if job.log_path.exists() else moved, state["offset"])
            if state["bar"] is not None:
                state["bar"].close()
        if run.seconds is not None:
            self.durations.append(run.seconds)
        log_finished(run, f"[{self.numbers.get(job.name, 0)}/{self.total}] ")

    def forget(self, job: _Job) -> None:
        """Drop a run's bar without a verdict: it is being started again elsewhere."""
        state = self.running.pop(job.name, None)
        if state is not None and state["bar"] is not None:
            state["bar"].close()

    def close(self) -> None:
        for state in self.running.values():
            if state["bar"] is not None:
                state["bar"].close()
        self.running.clear()


def _read_progress_file(job: _Job) -> dict:
    from .progress import read_progress

    return read_progress(job.progress_path)


def _progress_text(found: dict) -> str:
    parts = [found["stage"]] if found.get("stage") else []  # first: a narrow bar cuts the end
    if found.get("epochs"):
        parts.append(f"época {found.get('epoch', 0)}/{found['epochs']}")
    if found.get("loss") is not None:
        parts.append(f"perda {found['loss']:.3f}")
    if found.get("val_miou") is not None:
        parts.append(f"mIoU val {found['val_miou']:.3f}")
    return ", ".join(parts)


def _stream(path: Path, offset: int) -> int:
    """Copy what ``path`` gained since ``offset`` to stdout; the new offset."""
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            new = log.read()
    except OSError:
        return offset
    if new:
        sys.stdout.write(new.decode("utf-8", "replace"))
        sys.stdout.flush()
    return offset + len(new)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def log_finished(run: ModelRun, prefix: str = "") -> ModelRun:
    name = f"{prefix}{run.model} (semente {run.seed})"
    if run.status == "ok":
        logger.info("%s: ok em %.1f s", name, run.seconds)
    else:
        took = "" if run.seconds is None else f" após {run.seconds:.1f} s"
        logger.warning("%s: FALHOU%s: %s", name, took, run.error)
    return run
