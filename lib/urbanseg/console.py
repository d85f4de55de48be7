"""What ``urbanseg run`` shows while notebooks run: a line as each starts and ends, one live
bar per running notebook (fed by its progress file, urbanseg.progress), or, verbose, each
notebook's log as it grows. The runner (urbanseg.runner) calls it from its one thread."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .runner import ModelRun, _Job

logger = logging.getLogger("urbanseg.runner")  # the runner's lines, as -q and tests expect


class RunConsole:
    """What ``urbanseg run`` shows: a line as each notebook starts ("[2/5] segnet (seed 0)",
    with the time the whole run has left, judged by the runs done), one live bar per running
    notebook fed by its progress file, a line as each ends. With ``verbose``, each notebook's
    log (run.log) is streamed instead of its bar."""

    def __init__(self, total: int, *, progress: bool, verbose: bool):
        self.total, self.progress, self.verbose = total, progress, verbose
        self.running: dict[str, dict] = {}  # job name: its bar, log offset, start time
        self.numbers: dict[str, int] = {}
        self.durations: list[float] = []

    def start(self, job: _Job) -> None:
        if job.name in self.numbers:
            return
        self.numbers[job.name] = number = len(self.numbers) + 1
        left = ""
        if self.durations:
            remaining = (self.total - len(self.durations)) * sum(self.durations)
            left = f", about {_duration(remaining / len(self.durations))} left in all"
        logger.info("[%d/%d] %s: running%s", number, self.total, job.name, left)
        state = {"job": job, "offset": 0, "bar": None, "since": time.monotonic()}
        if self.progress and not self.verbose:
            from .progress import progress_bar

            state["bar"] = progress_bar(
                total=None, desc=f"  {job.name}", unit="step", leave=False, mininterval=1.0
            )
        self.running[job.name] = state

    def poll(self) -> None:
        from .progress import read_progress

        for state in self.running.values():
            job, bar = state["job"], state["bar"]
            if self.verbose:
                state["offset"] = _stream(job.log_path, state["offset"])
            elif bar is not None:
                found = read_progress(job.progress_path)
                if found.get("total"):
                    bar.total = found["total"]
                    bar.n = min(found.get("done", 0), found["total"])
                    bar.set_postfix_str(_progress_text(found), refresh=False)
                    bar.refresh()

    def finish(self, job: _Job, run: ModelRun) -> None:
        state = self.running.pop(job.name, None)
        if state is not None:
            if self.verbose:
                _stream(job.log_path, state["offset"])
            if state["bar"] is not None:
                state["bar"].close()
        if run.seconds is not None:
            self.durations.append(run.seconds)
        log_finished(run, f"[{self.numbers.get(job.name, 0)}/{self.total}] ")

    def close(self) -> None:
        for state in self.running.values():
            if state["bar"] is not None:
                state["bar"].close()
        self.running.clear()


def _progress_text(found: dict) -> str:
    parts = []
    if found.get("epochs"):
        parts.append(f"epoch {found.get('epoch', 0)}/{found['epochs']}")
    if found.get("loss") is not None:
        parts.append(f"loss {found['loss']:.3f}")
    if found.get("val_miou") is not None:
        parts.append(f"val mIoU {found['val_miou']:.3f}")
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
    name = f"{prefix}{run.model} (seed {run.seed})"
    if run.status == "ok":
        logger.info("%s: ok in %.1f s", name, run.seconds)
    else:
        took = "" if run.seconds is None else f" after {run.seconds:.1f} s"
        logger.warning("%s: FAILED%s: %s", name, took, run.error)
    return run
