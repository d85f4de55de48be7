"""Run the model notebooks with papermill: inputs checked first, finished models skipped,
failures recorded while the other models carry on, a run's outputs replaced all at once.

    summary = run_models(["unet", "fcn"], parameters={"epochs": 2}, jobs=2)
    print(summary.format())
    sys.exit(summary.exit_code)

Every ``notebooks/*.ipynb`` whose name does not start with ``_`` is a model (urbanseg.notebooks).
Before anything runs, the run's parameters and every selected notebook's ``parameters`` cell are
checked with ``RunConfig.from_dict``, and so is what the notebooks will read: the data root (a
Cityscapes tree with train and val) and a ``backbone_weights`` file (urbanseg.run_checks). One
``urbanseg run`` at a time uses a results folder (a lock file in it names the holder).

Each run (model, seed) is built in a staging folder beside its own, ``results/<model>/
.seed-<k>.staging-<key>/``, which the notebook gets as its ``results_dir``: the key is the
parameters' and the notebook code's digests, so an interrupted run with the same ones resumes
from its checkpoint there. When the notebook ends, the folder of the run,
``results/<model>/seed-<k>/``, is replaced in one rename by:

- the complete run: ``metrics.json`` (which the runner stamps with the notebook's code digest
  and the user's results_dir), the files the notebook wrote, ``<model>.ipynb`` (the executed
  notebook) and ``run.log`` (everything the execution printed);
- or, when the run failed, ``failed.json``, the executed notebook and ``run.log``; the staging
  folder stays, for the next attempt to resume.

An interrupted run (Ctrl-C, SIGTERM), a worker that dies, or a full disk leave the run's folder
as it was. The terminal shows a line per model and a live bar, or the log as it grows with
``verbose`` (urbanseg.console).

A model is complete, and skipped unless ``force``, when its ``metrics.json`` has ``"status":
"ok"``, ``"digest"`` equal to ``RunConfig.digest(model)`` of the effective parameters (the
notebook's defaults overridden by the run's parameters) and ``"notebook_digest"`` equal to
``notebooks.code_digest`` of its notebook. The notebook computes the same parameter digest from
the values it receives; a notebook that finishes without writing such a ``metrics.json`` counts
as failed.

What runs inside each worker process (papermill, the executed notebook, the records it stamps)
is urbanseg.worker; what the terminal shows is urbanseg.console. (Past 400 lines on purpose:
planning, skipping, the lock, the worker processes and the staging swap all turn around the
same ``_Job`` and its folders.)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import errno
import hashlib
import json
import logging
import os
import pickle
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import LockHeld, exclusive_lock, replace_folder, staging_folder
from .config import RunConfig
from .console import RunConsole
from .errors import InputError
from .notebooks import (
    KERNEL_NAME,
    code_digest,
    default_notebooks_dir,
    discover_notebooks,
    ensure_kernel,
    notebook_defaults,
)
from .records import FAILED_FILE, METRICS_FILE, RunRecord
from .results_folder import run_folder
from .run_checks import check_inputs, check_results_dir, check_seeds

logger = logging.getLogger(__name__)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
CONCURRENT_RUNS = "URBANSEG_CONCURRENT_RUNS"  # read by urbanseg.costs.concurrent_runs
LOG_FILE = "run.log"
LOCK_FILE = ".urbanseg-run.lock"  # in the results folder, while an urbanseg run uses it
STOP_GRACE_SECONDS = 60  # an interrupted worker's time to stop its kernel before it is killed
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# an OSError raised in the kernel reaches papermill as text: "[Errno 28] No space left..."


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
    code_digest: str = ""  # notebooks.code_digest of the notebook; "": not compared

    @property
    def name(self) -> str:
        return f"{self.model} (semente {self.seed})"

    @property
    def staging_root(self) -> Path:
        """The ``results_dir`` the notebook gets: its run is built in ``work_dir``, inside, and
        replaces ``out_dir`` when complete. Named by the digests, so that an interrupted run
        with the same parameters and code finds its checkpoint again."""
        key = hashlib.sha256(f"{self.digest}:{self.code_digest}".encode()).hexdigest()[:12]
        return self.out_dir.parent / f".{self.out_dir.name}.staging-{key}"

    @property
    def work_dir(self) -> Path:
        return run_folder(self.staging_root, self.model, self.seed)

    @property
    def shown_work_dir(self) -> str:
        """``work_dir`` as the user would write it, for messages."""
        shown = Path(self.shown_dir)
        return str(run_folder(shown.parent / self.staging_root.name, self.model, self.seed))

    @property
    def log_path(self) -> Path:
        """The notebook's whole output (papermill's log, cells' output, kernel messages), while
        it runs; it moves to ``out_dir`` with the run's other files."""
        return self.work_dir / LOG_FILE

    @property
    def progress_path(self) -> Path:
        return self.work_dir / ".progress.json"


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
    value, a data root or weights file that is not there, a results folder inside the project's
    code, or a results folder another ``urbanseg run`` is using. A failing notebook is recorded
    in the summary, not raised.
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
    check_results_dir(config.results_dir, notebooks_dir)

    seed_list = check_seeds(seeds) if seeds is not None else None
    cwd = Path.cwd()
    planned, configs = [], []
    for model in selected:
        defaults = notebook_defaults(notebooks[model])
        code = code_digest(notebooks[model])
        for seed in seed_list or [None]:
            given = injected if seed is None else {**injected, "seed": seed}
            try:
                effective = RunConfig.from_dict({**defaults, **given})
            except InputError as error:
                raise InputError(f"{notebooks[model]}: {error}") from None
            configs.append(effective)
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
                    code_digest=code,
                )
            )
    check_inputs(configs, remote=cluster is not None)

    with _results_lock(Path(config.results_dir)), _sigterm_as_interrupt():
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
                continue
            if not force and _code_changed(job):
                logger.info(
                    "%s: o código de %s mudou desde a execução gravada: executando de novo",
                    job.name,
                    job.notebook.name,
                )
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


@contextlib.contextmanager
def _results_lock(results_dir: Path) -> Iterator[None]:
    """Hold the results folder for this run; InputError naming the holder if another has it."""
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = "não é uma pasta" if results_dir.exists() else (error.strerror or str(error))
        raise InputError(f"{results_dir}: pasta de resultados inválida ({reason})") from None
    with contextlib.ExitStack() as stack:
        try:
            locked = stack.enter_context(exclusive_lock(results_dir / LOCK_FILE))
        except LockHeld as held:
            raise InputError(
                f"{results_dir}: outra execução do urbanseg run usa esta pasta "
                f"({held.holder or 'processo desconhecido'}); espere ela terminar, ou use outra "
                "pasta com --results"
            ) from None
        except OSError as error:
            raise InputError(
                f"{results_dir}: não foi possível gravar na pasta de resultados "
                f"({error.strerror or error})"
            ) from None
        if not locked:
            logger.debug("%s: sem trava neste sistema de arquivos", results_dir)
        yield


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a batch system's time limit) stops the run as Ctrl-C does: the
    running workers are stopped and their folders stay as they were. Only in the main thread,
    the one Python delivers signals to."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Worker processes of this process, so that an interruption stops them (urbanseg.cluster's
# Dask workers call _execute_in_subprocess too: there nothing stops them but their own death).
_WORKERS: set[subprocess.Popen] = set()
_WORKERS_LOCK = threading.Lock()
_STOPPING = threading.Event()  # no worker starts once set


def _execute_all(jobs: list[_Job], workers: int, console: RunConsole) -> dict:
    """Each job in a worker process, ``workers`` at a time, the console following them.
    Interrupted (Ctrl-C, or SIGTERM made KeyboardInterrupt by the CLI): the jobs not started
    are dropped, the running ones stopped (their folders stay as they were), then it raises."""
    outcomes, started = {}, queue.SimpleQueue()  # the jobs a worker thread has begun
    _STOPPING.clear()

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
            console.close()  # no bar or log line after this
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_workers()
            pool.shutdown(wait=True)
            raise
        finally:
            console.close()
    return outcomes


def _stop_workers(grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM to every running worker (it stops its kernel and exits), then a kill for those
    still running after ``grace`` seconds."""
    with _WORKERS_LOCK:
        _STOPPING.set()
        running = list(_WORKERS)
    for process in running:
        with contextlib.suppress(OSError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()


def _execute_in_subprocess(job: _Job) -> ModelRun:
    """``worker.execute`` in a fresh interpreter (a plain subprocess, unlike multiprocessing's spawn,
    works whatever the caller's __main__ is: a script without a main guard, stdin, a notebook),
    then the outcome put in place (``_install``).

    If the worker itself dies, the model is reported failed but its results are left as they
    were (the notebook may never have started); the staging folder's run.log says what the
    worker printed.
    """
    from .progress import PROGRESS_VARIABLE

    job_file, result_file = job.staging_root / ".job.pickle", job.staging_root / ".result.pickle"
    try:  # a full disk, a folder without write permission: the run fails, the others go on
        _prepare_staging(job)
        job_file.write_bytes(pickle.dumps(job))
        output = open(job.log_path, "w+b")  # noqa: SIM115 (closed below, after the worker)
    except OSError as error:
        return _failed(job, f"{job.shown_work_dir}: {error.strerror or error}")
    environment = {**os.environ, PROGRESS_VARIABLE: str(job.progress_path)}
    command = [
        sys.executable,
        "-c",
        "from urbanseg.worker import main; main()",
        str(job_file),
        str(result_file),
        str(os.getpid()),
    ]
    # Output to a file, not a pipe: a kernel outliving its worker cannot block the read.
    with output:
        with _WORKERS_LOCK:
            if _STOPPING.is_set():
                job_file.unlink()
                return _failed(job, "interrompido antes de começar")
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=job.cwd,
                env=environment,
            )
            _WORKERS.add(process)
        try:
            status = process.wait()
        finally:
            with _WORKERS_LOCK:
                _WORKERS.discard(process)
            if process.poll() is None:  # this thread was interrupted: stop its worker too
                process.send_signal(signal.SIGTERM)
        last = _last_line(output)
    job.progress_path.unlink(missing_ok=True)
    job_file.unlink(missing_ok=True)
    if result_file.exists():
        run = pickle.loads(result_file.read_bytes())
        result_file.unlink()
        return _install(job, run)
    log = os.path.join(job.shown_work_dir, LOG_FILE)
    return _failed(job, f"o processo worker terminou com status {status}: {last} (veja {log})")


def _last_line(output) -> str:
    """The last non-blank line of the open log ``output`` (its last 64 kB are enough)."""
    output.seek(max(output.seek(0, os.SEEK_END) - 65536, 0))
    text = output.read().decode("utf-8", "replace")
    return next((line for line in reversed(text.splitlines()) if line.strip()), "sem saída")


def _failed(job: _Job, error: str, seconds: float | None = None) -> ModelRun:
    return ModelRun(job.model, "failed", seconds, error=_one_line(error), seed=job.seed)


def _prepare_staging(job: _Job) -> None:
    """The job's staging folder, ready for an attempt: an earlier attempt's with the same
    digests is kept (its checkpoint resumes the training) but for its record and executed
    notebook; another parameters' or code's attempt at this run is removed."""
    for other in job.out_dir.parent.glob(f".{job.out_dir.name}.staging-*"):
        if other != job.staging_root:
            shutil.rmtree(other, ignore_errors=True)
    job.work_dir.mkdir(parents=True, exist_ok=True)
    stale = (METRICS_FILE, FAILED_FILE, f"{job.model}.ipynb", job.progress_path.name)
    for name in stale:
        (job.work_dir / name).unlink(missing_ok=True)


def _install(job: _Job, run: ModelRun) -> ModelRun:
    """Replace the run's folder by the finished attempt in one rename: the whole staged run if
    it succeeded (and its staging folder goes), its failure record, executed notebook and log if
    it failed (the staging folder stays, for the next attempt to resume)."""
    work = job.work_dir
    try:
        if run.status == "ok":
            replace_folder(work, job.out_dir)
            shutil.rmtree(job.staging_root, ignore_errors=True)
        elif (work / FAILED_FILE).is_file():
            incoming = staging_folder(job.out_dir)
            try:
                for name in (FAILED_FILE, f"{job.model}.ipynb", LOG_FILE):
                    if (work / name).exists():
                        os.replace(work / name, incoming / name)
                replace_folder(incoming, job.out_dir)
            except BaseException:
                shutil.rmtree(incoming, ignore_errors=True)
                raise
    except OSError as error:
        return _failed(
            job,
            f"não foi possível pôr {job.shown_work_dir} no lugar de {job.shown_dir} "
            f"({error.strerror or error})",
            run.seconds,
        )
    return run


def _metrics_problem(job: _Job, folder: Path | None = None) -> str | None:
    """None when ``folder``'s metrics.json (the run's folder by default) says ok for this job's
    digest; else what is wrong."""
    folder = job.out_dir if folder is None else folder
    shown = f"{job.shown_dir}/{METRICS_FILE}"
    if not (folder / METRICS_FILE).is_file():
        return f"o notebook terminou sem gravar {shown}"
    try:
        record = RunRecord.read(folder)
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


def _recorded_code_digest(folder: Path) -> str | None:
    try:
        values = json.loads((folder / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return values.get("notebook_digest") if isinstance(values, dict) else None


def _code_changed(job: _Job) -> bool:
    """Complete for these parameters, but run by a notebook whose code has changed since."""
    return (
        bool(job.code_digest)
        and _metrics_problem(job) is None
        and _recorded_code_digest(job.out_dir) != job.code_digest
    )


def _is_complete(job: _Job) -> bool:
    return (
        _metrics_problem(job) is None
        and not (job.out_dir / FAILED_FILE).exists()
        and (not job.code_digest or _recorded_code_digest(job.out_dir) == job.code_digest)
    )


def _one_line(error: BaseException | str) -> str:
    text = (
        error
        if isinstance(error, str)
        else (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    )
    text = _ANSI.sub("", text).strip()
    return text.splitlines()[0] if text else "erro desconhecido"
