"""Progress bars drawn for where they are read.

- On a terminal: tqdm as usual, redrawn in place.
- In a notebook (a Jupyter kernel, papermill included): one display, updated in place, holding
  the lines written above the bar (``bar.write(text, file=bar.fp)``: an epoch's scores) and
  the bar, so an executed notebook, and the report's annex made from it, keeps one output per
  loop instead of a chunk per redraw.
- Elsewhere (a file, a pipe, CI, ``| tee``): whole lines, the bar at most every 30 seconds and
  when it ends, never a carriage return.

``progress_bar(...)`` takes tqdm's arguments and returns a tqdm.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .atomic import write_atomically

PLAIN_INTERVAL = 30.0  # seconds between two lines of a bar written to a file or pipe


def progress_bar(iterable=None, **options: Any) -> tqdm:
    """A tqdm for where the output goes (see the module docstring)."""
    if options.get("disable"):
        return tqdm(iterable, **options)
    target = options.get("file") or sys.stderr
    if _in_notebook():
        options["file"] = _Board()
        options.setdefault("ncols", 100)
        options.setdefault("mininterval", 1.0)
    elif not _is_terminal(target):
        options["file"] = _Lines(target)
        # tqdm stacks bars running at once (urbanseg run --jobs 2) with newlines and cursor-up
        # codes; each bar has its own _Lines here, so the first row will do for all of them.
        options["position"] = 0
        options["mininterval"] = max(options.get("mininterval", 0.0), PLAIN_INTERVAL)
        options.setdefault("ncols", 100)
    return tqdm(iterable, **options)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        return type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except AttributeError:
        return False


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Screen:
    """What a terminal would show after the text written so far: finished lines, and the line
    being redrawn (after its last carriage return). Blank lines (a bar cleared) are dropped."""

    def __init__(self):
        self.lines: list[str] = []
        self.current = ""

    def feed(self, text: str) -> None:
        *finished, rest = text.split("\n")
        for part in finished:
            line = (self.current + part).rsplit("\r", 1)[-1].rstrip()
            if line:
                self.lines.append(line)
            self.current = ""
        self.current = (self.current + rest).rsplit("\r", 1)[-1]


class _Board(_Screen):
    """A notebook display updated in place: the lines written, then the bar."""

    def __init__(self):
        super().__init__()
        self._handle = None

    def write(self, text: str) -> int:
        self.feed(text)
        return len(text)

    def flush(self) -> None:
        from IPython.display import display

        shown = "\n".join([*self.lines, self.current.rstrip()]).rstrip()
        if not shown:
            return
        content = {"text/plain": shown}
        if self._handle is None:
            self._handle = display(content, raw=True, display_id=True)
        else:
            self._handle.update(content, raw=True)


class _Lines(_Screen):
    """Whole lines to a file or pipe: each finished line, and the bar when tqdm redraws it (at
    most every PLAIN_INTERVAL seconds, and when it closes)."""

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self._written = 0
        self._last_bar = ""
        self._last_time = 0.0

    def write(self, text: str) -> int:
        self.feed(text)
        for line in self.lines[self._written :]:
            if line != self._last_bar:  # the bar's final state, once
                self.stream.write(line + "\n")
        self._written = len(self.lines)
        return len(text)

    def flush(self) -> None:
        bar = self.current.strip()
        now = time.monotonic()
        if bar and bar != self._last_bar and now - self._last_time >= PLAIN_INTERVAL:
            self.stream.write(bar + "\n")
            self._last_bar, self._last_time = bar, now
        self.stream.flush()


# --- A notebook's progress, for the runner that executes it --------------------------------------

PROGRESS_VARIABLE = "URBANSEG_PROGRESS"  # the file urbanseg run reads; set for each notebook
_REPORT_INTERVAL = 1.0  # seconds between two writes of the file
_last_report = [0.0]


def report_progress(*, force: bool = False, **fields: Any) -> None:
    """Tell ``urbanseg run`` how far the notebook is (``done`` and ``total`` optimizer steps,
    ``epoch``, ``epochs``, ``loss``, ``val_miou``): a small JSON file, rewritten atomically at
    most once a second (``force``: now). Nothing when no runner asked for it."""
    path = os.environ.get(PROGRESS_VARIABLE)
    now = time.monotonic()
    if not path or (not force and now - _last_report[0] < _REPORT_INTERVAL):
        return
    _last_report[0] = now
    with contextlib.suppress(OSError):  # the runner's folder went away: carry on regardless
        write_atomically(path, json.dumps(fields))


def report_stage(stage: str | None) -> None:
    """Tell ``urbanseg run`` what the notebook does after training (``stage``, e.g. "medindo a
    velocidade"), beside the last step counts: its bar would otherwise sit at 100 % for as long
    as scoring takes (minutes on a CPU at full resolution). None clears it."""
    path = os.environ.get(PROGRESS_VARIABLE)
    if path:
        report_progress(force=True, **{**read_progress(path), "stage": stage})


def read_progress(path: str | os.PathLike) -> dict:
    """What ``report_progress`` last wrote to ``path``; {} before the first write."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
