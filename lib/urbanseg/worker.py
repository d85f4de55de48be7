"""The worker side of ``urbanseg run``: one notebook executed with papermill in a process of its
own (urbanseg.runner starts it, locally or on a Dask worker through urbanseg.cluster).

The worker runs the notebook in the job's staging folder, keeps the executed notebook there under
the names the user will see, stamps the record with the notebook's code digest, or writes the
failure record; the runner then swaps the staging folder in. An interruption (SIGINT, SIGTERM, the
runner dying) leaves no verdict and the run's folder as it was; so does a full disk.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import pickle
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import nbformat

from .atomic import write_atomically
from .notebooks import MODEL_VARIABLE, declared_model_info
from .records import FAILED_FILE, METRICS_FILE, RunRecord
from .runner import _ANSI, _DISK_FULL, CONCURRENT_RUNS, ModelRun, _Job, _metrics_problem, _one_line

logger = logging.getLogger("urbanseg.runner")
_DISK_FULL_TEXT = re.compile(rf"\[Errno ({'|'.join(map(str, sorted(_DISK_FULL)))})\]")


def main() -> None:
    """Entry point: ``python -c "from urbanseg.worker import main; main()" JOB RESULT PARENT_PID``."""
    job_file, result_file, parent = sys.argv[1:4]
    stop_with(int(parent))
    # papermill's messages and the notebook's output, streamed to run.log as they come
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    job = pickle.loads(Path(job_file).read_bytes())
    try:
        run = execute(job)
        write_atomically(result_file, pickle.dumps(run))
    except KeyboardInterrupt:  # stopped: no verdict, one line in run.log rather than a traceback
        print("urbanseg: interrompido", flush=True)
        raise SystemExit(130) from None
    except OSError as error:
        if error.errno not in _DISK_FULL:
            raise
        detail = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
        print(f"sem espaço em disco ({detail}); {job.shown_dir} ficou como estava", flush=True)
        raise SystemExit(1) from None


def stop_with(parent: int) -> None:
    """Make the first SIGTERM or SIGINT an interruption (papermill then stops the kernel and the
    run's folder stays as it was; later ones are ignored, so that nothing cuts that short: Ctrl-C
    reaches the worker, then the runner's SIGTERM) and have SIGTERM sent when ``parent`` dies:
    on Linux by the kernel, elsewhere by a thread watching it. A runner or Dask worker killed
    outright leaves no worker training on its own."""

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        raise SystemExit("urbanseg: o processo que iniciou esta execução terminou")

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="urbanseg-parent-watch", daemon=True).start()


def execute(job: _Job) -> ModelRun:
    """Execute one notebook in the job's staging folder and record its outcome there; runs in
    a worker process. A full disk is raised (OSError), not recorded: no verdict on the model."""
    import papermill

    work = job.work_dir
    work.mkdir(parents=True, exist_ok=True)
    running = work / f".{job.model}.running.ipynb"
    running.unlink(missing_ok=True)
    failure = None
    started = time.monotonic()
    # The kernel inherits the environment: the run records how many ran beside it.
    saved = {name: os.environ.get(name) for name in (CONCURRENT_RUNS, MODEL_VARIABLE)}
    os.environ[CONCURRENT_RUNS] = str(job.concurrent_runs)
    os.environ[MODEL_VARIABLE] = job.model  # the template's name comes from its file
    try:
        papermill.execute_notebook(
            str(job.notebook),
            str(running),
            parameters={**job.parameters, "results_dir": str(job.staging_root)},
            kernel_name=job.kernel_name,
            language="python",
            progress_bar=False,
            log_output=True,  # the notebook's output, into run.log as it comes
            execution_timeout=job.timeout,
            cwd=str(job.cwd),
            # Killed, not asked to shut down: a kernel asked while its cell is being
            # interrupted prints a ZMQ traceback. Its cells are done, or abandoned, by then.
            shutdown_kernel="immediate",
        )
    except papermill.PapermillExecutionError as error:
        if _DISK_FULL_TEXT.search(error.evalue or ""):
            running.unlink(missing_ok=True)
            raise OSError(errno.ENOSPC, _DISK_FULL_TEXT.sub("", error.evalue).strip()) from None
        failure = (
            _one_line(f"{error.ename}: {error.evalue}" if error.evalue else error.ename),
            "\n".join(error.traceback),
        )
    except OSError as error:
        if error.errno in _DISK_FULL:  # papermill's notebook cut short: keep nothing
            running.unlink(missing_ok=True)
            raise
        failure = (_one_line(error), traceback.format_exc())
    except Exception as error:  # timeout, dead kernel, kernel not starting: all a failed run
        failure = (_one_line(error), traceback.format_exc())
    except BaseException:  # interrupted: no verdict on this model, leave its results as they were
        running.unlink(missing_ok=True)
        raise
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    seconds = time.monotonic() - started
    notebook = keep_notebook(job, running)
    if failure is None:
        problem = _metrics_problem(job, work)
        if problem:
            failure = (problem, "")
    if failure is not None:
        return record_failure(job, *failure, notebook=notebook, seconds=seconds)
    stamp_record(job)
    (work / FAILED_FILE).unlink(missing_ok=True)
    return ModelRun(job.model, "ok", seconds, notebook=notebook, seed=job.seed)


def keep_notebook(job: _Job, running: Path) -> str | None:
    """Rename the executed notebook into place in the staging folder, naming where it will
    live and the results_dir the user gave; None (and no notebook kept) if there is none or it
    cannot be read back."""
    final = job.work_dir / f"{job.model}.ipynb"
    if not running.exists():
        return None
    shown = str(Path(job.shown_dir) / final.name)
    try:
        notebook = nbformat.read(running, as_version=nbformat.NO_CONVERT)
    except Exception as error:  # cut short: keep nothing rather than half a notebook
        logger.warning("%s: notebook executado ilegível, não guardado (%s)", running, error)
        running.unlink(missing_ok=True)
        return None
    metadata = notebook.metadata.get("papermill")
    if metadata is not None:  # papermill recorded the staging names; record the final ones
        metadata["input_path"] = os.path.relpath(job.notebook, job.cwd)
        metadata["output_path"] = shown
        if isinstance(metadata.get("parameters"), dict):
            metadata["parameters"]["results_dir"] = job.parameters.get("results_dir")
    given = job.parameters.get("results_dir")
    for cell in notebook.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = re.sub(
                r"^results_dir = .*$",
                lambda _: f"results_dir = {given!r}",
                cell.source,
                flags=re.MULTILINE,
            )
    write_atomically(final, nbformat.writes(notebook))
    running.unlink()
    return shown


def stamp_record(job: _Job) -> None:
    """Write into the staged metrics.json the notebook's code digest (what ``_is_complete``
    compares besides the parameters' digest) and the results_dir the user gave, in place of
    the staging folder the notebook was told."""
    path = job.work_dir / METRICS_FILE
    values = json.loads(path.read_text(encoding="utf-8"))
    values["notebook_digest"] = job.code_digest
    parameters = values.get("parameters")
    if isinstance(parameters, dict) and "results_dir" in job.parameters:
        parameters["results_dir"] = job.parameters["results_dir"]
    text = json.dumps(values, indent=1, ensure_ascii=False, allow_nan=False)
    write_atomically(path, text + "\n")


def record_failure(
    job: _Job, error: str, trace: str, *, notebook: str | None, seconds: float | None
) -> ModelRun:
    """Write failed.json in the staging folder (and its metrics.json is gone): the failure is
    the result, once installed."""
    record = RunRecord.failure(
        job.model,
        _ANSI.sub("", error),
        traceback=_ANSI.sub("", trace),
        notebook=notebook,
        model_info=declared_model_info(job.notebook),
    )
    record.write(job.work_dir)
    return ModelRun(job.model, "failed", seconds, record.error, notebook, seed=job.seed)
