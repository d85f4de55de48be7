"""The study's runs on a Dask cluster: a scheduler started by hand on other machines, or
Slurm/PBS jobs started for the study through dask-jobqueue.

    urbanseg run --cluster tcp://head:8786 --seeds 0 1 2
    urbanseg run --cluster slurm --cluster-config cluster.yaml

Each (model, seed) run is one Dask task. The worker executes the notebook with papermill as the
local runner does (urbanseg.runner, in a process of its own), in a scratch folder, and returns
the run's folder (executed notebook, record, confusion matrices, figures, ``run.log``, the
model file unless ``keep_models`` is off) to this machine, which swaps it into
``results/<model>/seed-<k>/`` in one rename. With ``shared`` (``--shared-results``), the workers
see the same results folder at the same path and write in place.

Nothing else changes: the runner checks the parameters and skips complete runs before anything
is submitted. A task whose worker dies or which raises is submitted once more, then recorded as
failed (the others go on). Ctrl-C cancels the runs not yet finished and leaves the finished ones
in place. Workers announce each run as it starts (topic ``urbanseg-run``); its progress reaches
this machine the same way, so the terminal shows the same lines and bars as a local run.

Workers read the data set at ``data_root``, which must be a path valid on the workers; without
one, each worker generates the embedded synthetic set in its own cache. A worker that declares a
``GPU`` resource (``dask worker ... --resources GPU=1``) gets one run at a time per GPU slot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from .atomic import replace_folder, staging_folder
from .errors import InputError
from .records import RunRecord

if TYPE_CHECKING:
    from .console import RunConsole
    from .runner import ModelRun, _Job

logger = logging.getLogger("urbanseg.runner")
TOPIC = "urbanseg-run"
ATTEMPTS = 2  # a task lost or raising is submitted once more
JOBQUEUE_KINDS = ("slurm", "pbs")
GPU_RESOURCE = "GPU"

# What a --cluster-config file may say (docs in README, "Num cluster"), with its type and default.
CONFIG_KEYS: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "queue": (str, None),  # partition (Slurm) or queue (PBS)
    "account": (str, None),
    "walltime": (str, "04:00:00"),
    "cores": (int, 8),  # CPU cores per job (the input pipeline's threads)
    "memory": (str, "64GB"),
    "gpus": (int, 1),  # GPUs per job; a run uses all GPUs of its job (data parallel)
    "jobs": (int, None),  # jobs at most; default: one per run to execute
    "prologue": (list, []),  # shell lines run before the worker (module load, venv activate)
    "directives": (list, []),  # extra #SBATCH / #PBS lines
    "python": (str, None),  # the interpreter on the nodes; default: this one's path
    "local_directory": (str, None),  # the worker's scratch folder on the node
    "interface": (str, None),  # network interface for the workers (e.g. ib0)
}


# --- Connecting ---------------------------------------------------------------------------------


def require_dask():
    """``distributed``, or an InputError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise InputError(
            "--cluster precisa do Dask: pip install 'urbanseg[cluster]' "
            "(dask[distributed] e dask-jobqueue)"
        ) from None
    return distributed


def load_cluster_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """The settings of a ``--cluster-config`` YAML file, checked, with the defaults filled in."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise InputError(f"{path}: não foi possível ler ({error.strerror})") from None
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: YAML inválido ({' '.join(str(error).split())})") from None
        if not isinstance(values, dict):
            raise InputError(f"{path}: esperado um mapeamento chave: valor")
    config = {}
    for key, value in values.items():
        if key not in CONFIG_KEYS:
            raise InputError(
                f"{path}: chave desconhecida {key!r}; chaves válidas: {', '.join(CONFIG_KEYS)}"
            )
        kind = CONFIG_KEYS[key][0]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise InputError(f"{path}: {key}={value!r}: esperado {kind.__name__}")
        if kind is int and value < (0 if key == "gpus" else 1):
            raise InputError(f"{path}: {key}={value!r}: deve ser positivo")
        if kind is list and not all(isinstance(line, str) for line in value):
            raise InputError(f"{path}: {key}: esperada uma lista de linhas de texto")
        config[key] = value
    return {key: config.get(key, default) for key, (_, default) in CONFIG_KEYS.items()}


def jobqueue_cluster(kind: str, config: dict[str, Any]):
    """A dask-jobqueue cluster of ``kind`` ("slurm" or "pbs") from ``load_cluster_config``'s
    settings; no job is submitted until it is scaled. One worker per job, with one ``GPU`` slot
    (one run at a time, on all of the job's GPUs)."""
    require_dask()
    import dask_jobqueue

    gpus = config["gpus"]
    options: dict[str, Any] = {
        "cores": config["cores"],
        "memory": config["memory"],
        "processes": 1,
        "walltime": config["walltime"],
        "queue": config["queue"],
        "account": config["account"],
        "job_name": "urbanseg",
        "job_script_prologue": list(config["prologue"]),
        "job_extra_directives": list(config["directives"]),
        "python": config["python"] or _python(),
        "local_directory": config["local_directory"],
        "interface": config["interface"],
        "worker_extra_args": ["--resources", f"{GPU_RESOURCE}=1"] if gpus else [],
    }
    if kind == "slurm":
        if gpus:
            options["job_extra_directives"].append(f"--gres=gpu:{gpus}")
        return dask_jobqueue.SLURMCluster(**options)
    if kind == "pbs":
        chunk = f"select=1:ncpus={config['cores']}:mem={config['memory']}"
        options["resource_spec"] = chunk + (f":ngpus={gpus}" if gpus else "")
        return dask_jobqueue.PBSCluster(**options)
    raise InputError(f"--cluster {kind}: esperado um endereço tcp://HOST:PORTA ou slurm, pbs")


def _python() -> str:
    import sys

    return sys.executable


def connect(target: str, config_path: str | os.PathLike | None, runs: int):
    """A Dask client for ``target`` (a scheduler address, or "slurm"/"pbs" to start jobs for
    ``runs`` runs) and the cluster object to close with it (None for an address)."""
    distributed = require_dask()
    cluster = None
    if target in JOBQUEUE_KINDS:
        config = load_cluster_config(config_path)
        cluster = jobqueue_cluster(target, config)
        cluster.scale(jobs=min(config["jobs"] or runs, runs))
        address = cluster
    elif "://" in target:
        if config_path is not None:
            logger.warning("--cluster-config vale só para slurm e pbs; ignorado para %s", target)
        address = target
    else:
        raise InputError(f"--cluster {target}: esperado um endereço tcp://HOST:PORTA ou slurm, pbs")
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as error:
        if cluster is not None:
            cluster.close()
        raise InputError(f"--cluster {target}: não foi possível conectar ({error})") from None
    return client, cluster


# --- On a worker --------------------------------------------------------------------------------


def run_on_worker(job: _Job, notebook: bytes, shared: bool, keep_models: bool):
    """The task: execute ``job`` on this worker; returns ``(ModelRun, files)``, ``files`` being
    the run folder's files by relative path (empty with ``shared``: they are in place)."""
    from distributed import get_worker

    from .notebooks import ensure_kernel
    from .runner import _execute_in_subprocess

    worker = get_worker()
    ensure_kernel(job.kernel_name)
    scratch_root = worker.local_directory if os.path.isdir(worker.local_directory) else None
    with tempfile.TemporaryDirectory(prefix="urbanseg-run-", dir=scratch_root) as scratch:
        scratch = Path(scratch)
        copy = scratch / job.notebook.name
        copy.write_bytes(notebook)
        if shared:
            remote = dataclasses.replace(job, notebook=copy)
        else:
            from .results_folder import run_folder

            results = scratch / "results"
            remote = dataclasses.replace(
                job,
                notebook=copy,
                out_dir=run_folder(results, job.model, job.seed),
                cwd=scratch,
                parameters={**job.parameters, "results_dir": str(results)},
            )
        worker.log_event(TOPIC, {"run": job.name, "state": "running", "worker": worker.address})
        done = threading.Event()
        reporter = threading.Thread(
            target=_report_progress, args=(worker, remote, done), daemon=True
        )
        reporter.start()
        try:
            run = _execute_in_subprocess(remote)
        finally:
            done.set()
            reporter.join()
        files = {} if shared else _collect(remote.out_dir, keep_models)
    return run, files


def _report_progress(worker, job: _Job, done: threading.Event) -> None:
    """Send the run's progress file to the client every second or so, when it changes."""
    from .progress import read_progress

    last = None
    while not done.wait(1.0):
        found = read_progress(job.progress_path)
        if found and found != last:
            worker.log_event(TOPIC, {"run": job.name, "state": "progress", "progress": found})
            last = found


def _collect(folder: Path, keep_models: bool) -> dict[str, bytes]:
    files = {}
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if not path.is_file() or name.startswith(".") or "/." in name:
            continue  # the progress file, papermill's running notebook
        if not keep_models and path.suffix == ".keras":
            continue
        files[name] = path.read_bytes()
    return files


# --- On this machine ----------------------------------------------------------------------------


def execute_on_cluster(
    jobs: list[_Job],
    console: RunConsole,
    *,
    target: str,
    config_path: str | os.PathLike | None = None,
    shared: bool = False,
    keep_models: bool = True,
) -> dict[tuple[str, int], ModelRun]:
    """Run ``jobs`` as Dask tasks on ``target`` and install their results; the outcomes by
    (model, seed)."""
    if not jobs:
        return {}
    client, cluster = connect(target, config_path, len(jobs))
    try:
        return _execute(client, jobs, console, shared=shared, keep_models=keep_models)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute(client, jobs, console, *, shared, keep_models):
    from distributed import wait

    from .runner import _one_line

    events: queue.SimpleQueue = queue.SimpleQueue()
    client.subscribe_topic(TOPIC, lambda event: events.put(event[1]))
    gpu = any(
        GPU_RESOURCE in info.get("resources", {})
        for info in client.scheduler_info().get("workers", {}).values()
    )
    by_name = {job.name: job for job in jobs}
    progress: dict[str, dict] = {}
    placed: dict[str, str] = {}  # run name: the worker it runs on
    console.read = lambda job: progress.get(job.name, {})
    sources = {job.name: job.notebook.read_bytes() for job in jobs}
    workers = len(client.scheduler_info().get("workers", {}))
    console.slots = max(workers, 1)
    logger.info(
        "%d execuç%s enviada%s a %s (%d worker%s conectado%s): na fila",
        len(jobs),
        "ões" if len(jobs) > 1 else "ão",
        "s" if len(jobs) > 1 else "",
        client.scheduler.address,
        workers,
        "s" if workers != 1 else "",
        "s" if workers != 1 else "",
    )

    def submit(job: _Job, attempt: int):
        return client.submit(
            run_on_worker,
            job,
            sources[job.name],
            shared,
            keep_models,
            key=f"urbanseg-{job.model}-seed{job.seed}-{attempt}-{time.time_ns()}",
            pure=False,
            resources={GPU_RESOURCE: 1} if gpu else None,
        )

    futures = {submit(job, 1): (job, 1) for job in jobs}
    outcomes: dict[tuple[str, int], ModelRun] = {}
    try:
        while futures:
            with contextlib.suppress(TimeoutError):  # wait() raises when none is done yet
                wait(list(futures), timeout=0.5, return_when="FIRST_COMPLETED")
            while not events.empty():
                event = events.get()
                job = by_name.get(event.get("run"))
                if job is None:
                    continue
                if event["state"] == "running":
                    where, before = event.get("worker"), placed.get(job.name)
                    if before is not None and before != where:  # the scheduler moved it
                        logger.warning(
                            "%s: o worker %s caiu; executando de novo em %s",
                            job.name,
                            before,
                            where,
                        )
                        console.forget(job)
                    placed[job.name] = where
                    console.start(job, where=where)
                elif event["state"] == "progress":
                    progress[job.name] = event["progress"]
            for future in [future for future in futures if future.done()]:
                job, attempt = futures.pop(future)
                try:
                    run, files = future.result()
                except Exception as error:  # the worker died, or the task raised
                    reason = _one_line(error)
                    if attempt < ATTEMPTS:
                        logger.warning("%s: %s; enviada de novo", job.name, reason)
                        placed.pop(job.name, None)
                        console.forget(job)
                        futures[submit(job, attempt + 1)] = (job, attempt + 1)
                        continue
                    run = _lost(job, f"perdida no cluster após {attempt} tentativas: {reason}")
                    files = {}
                if files:
                    _install(job.out_dir, files)
                console.start(job)  # a run too short to be seen starting
                console.finish(job, run)
                outcomes[run.key] = run
            console.poll()
    except KeyboardInterrupt:
        client.cancel(list(futures), force=True)
        raise
    finally:
        client.unsubscribe_topic(TOPIC)
        console.close()
    return outcomes


def _lost(job: _Job, error: str) -> ModelRun:
    """A run the cluster lost: recorded as failed where there is no complete result to keep."""
    from .runner import ModelRun, _is_complete

    if not _is_complete(job):
        from .notebooks import declared_model_info

        info = declared_model_info(job.notebook)
        RunRecord.failure(job.model, error, model_info=info).write(job.out_dir)
    return ModelRun(job.model, "failed", error=error, seed=job.seed)


def _install(folder: Path, files: dict[str, bytes]) -> None:
    """Write a run's files into a staging folder beside ``folder``, then swap it in."""
    staging = staging_folder(folder)
    try:
        for name, data in files.items():
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts:
                raise InputError(f"{folder}: o worker devolveu um caminho inválido: {name!r}")
            target = staging.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        replace_folder(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
