"""Run the model notebooks with papermill: parameters checked first, finished models skipped,
failures recorded while the other models carry on.

    summary = run_models(["unet", "fcn"], parameters={"epochs": 2}, jobs=2)
    print(summary.format())
    sys.exit(summary.exit_code)

Every ``notebooks/*.ipynb`` whose name does not start with ``_`` is a model (urbanseg.notebooks).
Before anything runs, the run's parameters and every selected notebook's ``parameters`` cell are
checked with ``RunConfig.from_dict``.

What the runner writes (docs/results.md); the notebook writes metrics.json, history.csv, figures:

- ``results/<model>/<model>.ipynb``: the executed notebook, success or failure. Papermill saves it
  while it runs as ``.<model>.running.ipynb`` in the same folder; it is renamed at the end.
- ``results/<model>/run.log``: everything the notebook's execution printed (papermill, the
  cells' output, the kernel's messages); the terminal shows a line per model and a live bar,
  or this log as it grows with ``verbose``.
- ``results/<model>/failed.json`` when the run failed. Then the model's ``metrics.json`` is
  deleted, but only once the new run has failed: an interrupted run leaves an earlier success in
  place. A run that succeeds deletes any ``failed.json``.

A model is complete, and skipped unless ``force``, when its ``metrics.json`` has
``"status": "ok"`` and ``"digest"`` equal to ``RunConfig.digest(model)`` of the effective
parameters: the notebook's defaults overridden by the run's parameters. The notebook computes the
same digest from the values it receives. A notebook that finishes without writing such a
``metrics.json`` counts as failed.

(Past 400 lines on purpose: planning, skipping, execution and the failure record of a run all
turn around the same ``_Job`` and its folder. What the terminal shows is urbanseg.console.)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import os
import pickle
import queue
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .config import RunConfig
from .console import RunConsole
from .errors import InputError
from .notebooks import (
    KERNEL_NAME,
    MODEL_VARIABLE,
    declared_model_info,
    default_notebooks_dir,
    discover_notebooks,
    ensure_kernel,
    notebook_defaults,
)
from .records import FAILED_FILE, METRICS_FILE, RunRecord, run_folder

logger = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
CONCURRENT_RUNS = "URBANSEG_CONCURRENT_RUNS"  # read by urbanseg.costs.concurrent_runs
LOG_FILE = "run.log"


# --- Results of a run ---------------------------------------------------------------------------


@dataclass
class ModelRun:
    model: str
    status: str  # "ok", "skipped" or "failed"
    seconds: float | None = None  # None: skipped, or the worker process died
    error: str | None = None  # one line, for "failed"
    notebook: str | None = None  # the executed notebook, when one was kept
    seed: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return self.model, self.seed


@dataclass
class RunSummary:
    runs: list[ModelRun]

    @property
    def ran(self) -> list[ModelRun]:
        """Models executed successfully."""
        return [run for run in self.runs if run.status == "ok"]

    @property
    def skipped(self) -> list[ModelRun]:
        return [run for run in self.runs if run.status == "skipped"]

    @property
    def failed(self) -> list[ModelRun]:
        return [run for run in self.runs if run.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def format(self) -> str:
        rows = [("modelo", "semente", "status", "segundos", "erro")]
        for run in self.runs:
            seconds = "-" if run.seconds is None else f"{run.seconds:.1f}"
            error = run.error or ""
            if len(error) > 100:
                error = error[:97] + "..."
            status = _SHOWN_STATUS.get(run.status, run.status)
            rows.append((run.model, str(run.seed), status, seconds, error))
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        lines = [
            f"{model:<{widths[0]}}  {seed:>{widths[1]}}  {status:<{widths[2]}}  "
            f"{seconds:>{widths[3]}}  {error}".rstrip()
            for model, seed, status, seconds, error in rows
        ]
        ran, skipped, failed = len(self.ran), len(self.skipped), len(self.failed)
        lines.append(
            f"{ran} executado{'' if ran == 1 else 's'}, {skipped} pulado{'' if skipped == 1 else 's'}"
            f", {failed} {'falhou' if failed == 1 else 'falharam'}"
        )
        return "\n".join(lines)


_SHOWN_STATUS = {"ok": "ok", "skipped": "pulado", "failed": "FALHOU"}  # the table's words


@dataclass(frozen=True)
class _Job:
    """One notebook to execute; crosses to worker processes, so plain values only."""

    model: str
    seed: int
    notebook: Path  # absolute
    out_dir: Path  # absolute results/<model>/seed-<k>
    shown_dir: str  # the same as the user wrote results_dir, for messages and failed.json
    parameters: dict[str, Any]  # what papermill injects: the overrides, always results_dir
    digest: str
    cwd: Path
    kernel_name: str = KERNEL_NAME
    timeout: float | None = None
    concurrent_runs: int = 1  # notebooks running at once (recorded with the run's speed)

    @property
    def name(self) -> str:
        return f"{self.model} (semente {self.seed})"

    @property
    def log_path(self) -> Path:
        """The notebook's whole output (papermill's log, cells' output, kernel messages)."""
        return self.out_dir / LOG_FILE

    @property
    def progress_path(self) -> Path:
        return self.out_dir / ".progress.json"


# --- Running ------------------------------------------------------------------------------------


def run_models(
    models: Iterable[str] | None = None,
    *,
    notebooks_dir: str | os.PathLike | None = None,
    results_dir: str | os.PathLike | None = None,
    parameters: dict[str, Any] | None = None,
    seeds: Iterable[int] | None = None,
    jobs: int = 1,
    force: bool = False,
    timeout: float | None = None,
    progress: bool = True,
    verbose: bool = False,
    kernel_name: str = KERNEL_NAME,
    cluster: str | None = None,
    cluster_config: str | os.PathLike | None = None,
    shared_results: bool = False,
    keep_models: bool = True,
) -> RunSummary:
    """Execute the model notebooks (all discovered ones when ``models`` is None), once per seed.

    Args:
        parameters: overrides of the notebooks' parameters (RunConfig names); checked, with each
            notebook's defaults, before anything runs.
        seeds: run each model once per seed, into ``results/<model>/seed-<k>/``; None: once,
            with the ``seed`` parameter (the notebook's default unless given).
        results_dir: where results go; None: ``parameters["results_dir"]``, else "results". It is
            always passed to the notebooks. Relative paths, like notebooks_dir and data_root, are
            relative to the current directory, where the notebooks run.
        jobs: notebooks executed at once, each by its own worker process.
        force: run models whose results are complete for these parameters too.
        timeout: limit in seconds for each cell; None: no limit (training is one long cell).
        progress: a live bar per running notebook (its training steps, loss, val mIoU), fed
            by the notebook through urbanseg.progress; a line per model start and end is logged
            at INFO anyway. Each notebook's whole output goes to ``<its folder>/run.log``.
        verbose: stream that output to the terminal as it comes, instead of the bars.
        cluster: run on a Dask cluster instead of local processes (urbanseg.cluster): a
            scheduler's address (``tcp://host:8786``), or "slurm"/"pbs" to start jobs through
            dask-jobqueue as ``cluster_config`` (a YAML file) says. ``shared_results``: the
            workers see ``results_dir`` at the same path and write in place; otherwise each run's
            folder comes back to this machine. ``keep_models``: bring the model files back too.

    Raises InputError, before anything runs, for an unknown model, an unknown parameter or a bad
    value. A failing notebook is recorded in the summary, not raised.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs={jobs!r}: deve ser pelo menos 1")
    if timeout is not None and not timeout > 0:
        raise InputError(f"timeout={timeout!r}: deve ser positivo, ou None (sem limite)")
    overrides = dict(parameters or {})
    if results_dir is not None:
        overrides["results_dir"] = str(results_dir)
    overrides.setdefault("results_dir", "results")
    config = RunConfig.from_dict(overrides)
    # Inject the checked values (learning_rate 1 -> 1.0), only for the names that were given.
    injected = {name: getattr(config, name) for name in overrides}
    if cluster is not None and config.data_root:  # the workers run elsewhere: no relative path
        injected["data_root"] = os.path.abspath(os.path.expanduser(config.data_root))

    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    notebooks = discover_notebooks(notebooks_dir)
    if not notebooks:
        raise InputError(
            f"{notebooks_dir}: nenhum notebook de modelo (*.ipynb que não começa com _)"
        )
    selected = list(dict.fromkeys(models)) if models else list(notebooks)
    unknown = [name for name in selected if name not in notebooks]
    if unknown:
        raise InputError(
            f"modelo(s) desconhecido(s) {', '.join(unknown)}; notebooks em {notebooks_dir}: "
            f"{', '.join(notebooks) or 'nenhum'}"
        )

    seed_list = _check_seeds(seeds) if seeds is not None else None
    cwd = Path.cwd()
    planned = []
    for model in selected:
        defaults = notebook_defaults(notebooks[model])
        for seed in seed_list or [None]:
            given = injected if seed is None else {**injected, "seed": seed}
            try:
                effective = RunConfig.from_dict({**defaults, **given})
            except InputError as error:
                raise InputError(f"{notebooks[model]}: {error}") from None
            folder = run_folder(config.results_dir, model, effective.seed)
            planned.append(
                _Job(
                    model=model,
                    seed=effective.seed,
                    notebook=cwd / notebooks[model],
                    out_dir=cwd / folder,
                    shown_dir=str(folder),
                    parameters=given,
                    digest=effective.digest(model),
                    cwd=cwd,
                    kernel_name=kernel_name,
                    timeout=timeout,
                )
            )

    outcomes: dict[tuple[str, int], ModelRun] = {}
    pending = []
    for job in planned:
        if not force and _is_complete(job):
            logger.info(
                "%s: pulado, resultados completos para estes parâmetros (digest %s)",
                job.name,
                job.digest,
            )
            outcomes[(job.model, job.seed)] = ModelRun(job.model, "skipped", seed=job.seed)
        else:
            pending.append(job)
    if cluster is not None:  # one run per worker (or GPU slot): nothing runs beside it
        from .cluster import execute_on_cluster

        console = RunConsole(len(pending), progress=progress, verbose=verbose)
        outcomes.update(
            execute_on_cluster(
                pending,
                console,
                target=cluster,
                config_path=cluster_config,
                shared=shared_results,
                keep_models=keep_models,
            )
        )
        return RunSummary([outcomes[(job.model, job.seed)] for job in planned])
    if pending:
        ensure_kernel(kernel_name)
    workers = max(min(jobs, len(pending)), 1)
    pending = [dataclasses.replace(job, concurrent_runs=workers) for job in pending]
    console = RunConsole(len(pending), progress=progress, verbose=verbose, slots=workers)
    outcomes.update(_execute_all(pending, workers, console))
    return RunSummary([outcomes[(job.model, job.seed)] for job in planned])


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    checked = []
    for seed in seeds:
        try:
            checked.append(RunConfig.from_dict({"seed": seed}).seed)
        except InputError:
            raise InputError(f"semente {seed!r}: esperado um número inteiro") from None
    if not checked:
        raise InputError("--seeds: passe pelo menos uma semente, ex.: --seeds 0 1 2")
    return list(dict.fromkeys(checked))


def _execute_all(jobs: list[_Job], workers: int, console: RunConsole) -> dict:
    """Each job in a worker process, ``workers`` at a time, the console following them."""
    outcomes, started = {}, queue.SimpleQueue()  # the jobs a worker thread has begun

    def execute(job: _Job) -> ModelRun:
        started.put(job)
        return _execute_in_subprocess(job)

    def settle() -> None:
        """Report the runs that have ended (a job starts only once its thread's last one has:
        settling first closes that one's bar before the next one opens)."""
        for future in [future for future in futures if future.done()]:
            job = futures.pop(future)
            console.start(job)  # a run too short to be seen starting
            run = future.result()
            console.finish(job, run)
            outcomes[run.key] = run

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(execute, job): job for job in jobs}
        try:
            while futures:
                concurrent.futures.wait(
                    futures, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED
                )
                settle()
                while not started.empty():
                    job = started.get()
                    settle()
                    console.start(job)
                console.poll()
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            console.close()
    return outcomes


def _execute_in_subprocess(job: _Job) -> ModelRun:
    """``_execute`` in a fresh interpreter (a plain subprocess, unlike multiprocessing's spawn,
    works whatever the caller's __main__ is: a script without a main guard, stdin, a notebook).

    If the worker itself dies, the model is reported failed but its results are left as they
    were (the notebook may never have started); its run.log says what the worker printed.
    """
    from .progress import PROGRESS_VARIABLE

    job.out_dir.mkdir(parents=True, exist_ok=True)
    job.progress_path.unlink(missing_ok=True)
    environment = {**os.environ, PROGRESS_VARIABLE: str(job.progress_path)}
    with tempfile.TemporaryDirectory(prefix="urbanseg-run-") as scratch:
        job_file, result_file = Path(scratch) / "job.pickle", Path(scratch) / "result.pickle"
        job_file.write_bytes(pickle.dumps(job))
        command = [
            sys.executable,
            "-c",
            "from urbanseg.runner import _worker; _worker()",
            str(job_file),
            str(result_file),
            str(os.getpid()),
        ]
        # Output to a file, not a pipe: a kernel outliving its worker cannot block the read.
        with open(job.log_path, "w+b") as output:
            status = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=job.cwd,
                env=environment,
            ).returncode
            output.seek(0)
            text = output.read().decode("utf-8", "replace")
        job.progress_path.unlink(missing_ok=True)
        if result_file.exists():
            return pickle.loads(result_file.read_bytes())
    last = next((line for line in reversed(text.splitlines()) if line.strip()), "sem saída")
    log = os.path.join(job.shown_dir, LOG_FILE)
    error = _one_line(f"o processo worker terminou com status {status}: {last} (veja {log})")
    return ModelRun(job.model, "failed", error=error, seed=job.seed)


def _worker() -> None:
    """Entry point of a worker process: ``python -c ... JOB_FILE RESULT_FILE``."""
    job_file, result_file, parent = sys.argv[1:4]
    _stop_with(int(parent))
    # papermill's messages and the notebook's output, streamed to run.log as they come
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout, force=True)
    run = _execute(pickle.loads(Path(job_file).read_bytes()))
    Path(result_file).write_bytes(pickle.dumps(run))


def _stop_with(parent: int) -> None:
    """Make SIGTERM an interruption (papermill then shuts the kernel down and the run's results
    stay as they were) and, on Linux, have the kernel send it when ``parent`` dies: a runner or
    Dask worker killed outright leaves no worker training on its own."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        raise SystemExit("urbanseg: o processo que iniciou esta execução terminou")


def _execute(job: _Job) -> ModelRun:
    """Execute one notebook and record its outcome; runs in the caller or in a worker process."""
    import papermill

    job.out_dir.mkdir(parents=True, exist_ok=True)
    running = job.out_dir / f".{job.model}.running.ipynb"
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
            parameters=job.parameters,
            kernel_name=job.kernel_name,
            language="python",
            progress_bar=False,
            log_output=True,  # the notebook's output, into run.log as it comes
            execution_timeout=job.timeout,
            cwd=str(job.cwd),
        )
    except papermill.PapermillExecutionError as error:
        failure = (
            _one_line(f"{error.ename}: {error.evalue}" if error.evalue else error.ename),
            "\n".join(error.traceback),
        )
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
    notebook = _keep_notebook(job, running)
    if failure is None:
        problem = _metrics_problem(job)
        if problem:
            failure = (problem, "")
    if failure is not None:
        return _record_failure(job, *failure, notebook=notebook, seconds=seconds)
    (job.out_dir / FAILED_FILE).unlink(missing_ok=True)
    return ModelRun(job.model, "ok", seconds, notebook=notebook, seed=job.seed)


def _keep_notebook(job: _Job, running: Path) -> str | None:
    """Rename the executed notebook into place; None (and no stale one left) if there is none."""
    final = job.out_dir / f"{job.model}.ipynb"
    if not running.exists():
        final.unlink(missing_ok=True)
        return None
    shown = str(Path(job.shown_dir) / final.name)
    try:  # papermill recorded the temporary name; record where the notebook lives
        notebook = nbformat.read(running, as_version=nbformat.NO_CONVERT)
        metadata = notebook.metadata.get("papermill")
        if metadata is not None:
            metadata["input_path"] = os.path.relpath(job.notebook, job.cwd)
            metadata["output_path"] = shown
            nbformat.write(notebook, running)
    except Exception as error:  # a notebook we cannot read back is still worth keeping
        logger.debug("%s: metadados do papermill mantidos como estão (%s)", running, error)
    os.replace(running, final)
    return shown


def _metrics_problem(job: _Job) -> str | None:
    """None when results/<model>/metrics.json says ok for this job's digest; else what is wrong."""
    shown = f"{job.shown_dir}/{METRICS_FILE}"
    if not (job.out_dir / METRICS_FILE).is_file():
        return f"o notebook terminou sem gravar {shown}"
    try:
        record = RunRecord.read(job.out_dir)
    except InputError as error:
        return f"ilegível: {error}"
    if not record.ok:
        return f"{shown}: status {record.status!r}, não 'ok'"
    if record.digest != job.digest:
        return (
            f"{shown}: digest {record.digest!r}, esperado {job.digest!r} (o notebook foi "
            f"executado com parâmetros diferentes dos que o runner passou)"
        )
    return None


def _is_complete(job: _Job) -> bool:
    return _metrics_problem(job) is None and not (job.out_dir / FAILED_FILE).exists()


def _record_failure(
    job: _Job, error: str, trace: str, *, notebook: str | None, seconds: float | None
) -> ModelRun:
    """Write failed.json, then delete the model's metrics.json: the failure is the result now."""
    record = RunRecord.failure(
        job.model,
        _ANSI.sub("", error),
        traceback=_ANSI.sub("", trace),
        notebook=notebook,
        model_info=declared_model_info(job.notebook),
    )
    record.write(job.out_dir)  # and the model's metrics.json is gone
    return ModelRun(job.model, "failed", seconds, record.error, notebook, seed=job.seed)


def _one_line(error: BaseException | str) -> str:
    text = (
        error
        if isinstance(error, str)
        else (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    )
    text = _ANSI.sub("", text).strip()
    return text.splitlines()[0] if text else "erro desconhecido"
