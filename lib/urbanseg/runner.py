"""Run the model notebooks with papermill: parameters checked first, finished models skipped,
failures recorded while the other models carry on.

    summary = run_models(["unet", "fcn"], parameters={"epochs": 2}, jobs=2)
    print(summary.format())
    sys.exit(summary.exit_code)

Every ``notebooks/*.ipynb`` whose name does not start with ``_`` is a model, named by its file
stem. Before anything runs, the run's parameters and every selected notebook's ``parameters``
cell (``name = literal`` lines declaring exactly the RunConfig names) are checked with
``RunConfig.from_dict``.

What the runner writes (docs/results.md); the notebook writes metrics.json, history.csv, figures:

- ``results/<model>/<model>.ipynb``: the executed notebook, success or failure. Papermill saves it
  while it runs as ``.<model>.running.ipynb`` in the same folder; it is renamed at the end.
- ``results/<model>/failed.json`` when the run failed. Then the model's ``metrics.json`` is
  deleted, but only once the new run has failed: an interrupted run leaves an earlier success in
  place. A run that succeeds deletes any ``failed.json``.

A model is complete, and skipped unless ``force``, when its ``metrics.json`` has
``"status": "ok"`` and ``"digest"`` equal to ``RunConfig.digest(model)`` of the effective
parameters: the notebook's defaults overridden by the run's parameters. The notebook computes the
same digest from the values it receives. A notebook that finishes without writing such a
``metrics.json`` counts as failed.
"""

from __future__ import annotations

import ast
import concurrent.futures
import dataclasses
import json
import logging
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import nbformat
import yaml

from .atomic import write_atomically
from .config import RunConfig, parameter_names
from .errors import InputError

logger = logging.getLogger(__name__)

KERNEL_NAME = "urbanseg"
CANONICAL_ORDER = ("unet", "segnet", "fcn", "deeplab", "pspnet")

_NONE_WORDS = ("None", "none", "null", "Null", "NULL", "~")
_STR_PARAMETERS = {
    f.name for f in dataclasses.fields(RunConfig) if f.type.split("|")[0].strip() == "str"
}
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


# --- Kernel and notebooks -----------------------------------------------------------------------


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Register this interpreter as Jupyter kernel ``name`` unless a kernel of that name exists."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        display_name = f"Python ({name})"
        command = [sys.executable, "-m", "ipykernel", "install", "--sys-prefix",
                   "--name", name, "--display-name", display_name]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise InputError(f"could not register the Jupyter kernel {name!r} "
                             f"({' '.join(command)}): {reason}") from None
        logger.info("registered Jupyter kernel %r for %s", name, sys.executable)
        return name
    interpreter = spec.argv[0] if spec.argv else ""
    if not _is_this_environment(interpreter):
        logger.warning("Jupyter kernel %r runs %s, not this environment's %s (see `jupyter "
                       "kernelspec list`)", name, interpreter, sys.executable)
    return name


def _is_this_environment(interpreter: str) -> bool:
    # jupyter_client replaces a bare "python" with sys.executable; otherwise compare bin folders
    # (a venv's python is a symlink to the base interpreter, so resolving links would lie).
    version = sys.version_info
    if interpreter in ("python", "python3", f"python{version.major}.{version.minor}"):
        return True
    return os.path.dirname(os.path.abspath(interpreter)) == os.path.dirname(
        os.path.abspath(sys.executable))


def discover_notebooks(notebooks_dir: str | os.PathLike = "notebooks") -> dict[str, Path]:
    """Model name -> notebook, for every ``*.ipynb`` not starting with ``_`` (templates) or ``.``.

    Order: unet, segnet, fcn, deeplab, pspnet, then any other model alphabetically.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: notebooks folder not found")
    found = {path.stem: path for path in folder.glob("*.ipynb")
             if path.is_file() and not path.name.startswith(("_", "."))}
    rank = {name: index for index, name in enumerate(CANONICAL_ORDER)}
    return {name: found[name]
            for name in sorted(found, key=lambda name: (rank.get(name, len(rank)), name))}


def notebook_defaults(path: str | os.PathLike) -> dict[str, Any]:
    """The values assigned in the notebook's cell tagged ``parameters`` (one ``name = literal``
    per line), checked to declare exactly the RunConfig names."""
    path = Path(path)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises json, validation and OS errors alike
        raise InputError(f"{path}: not a readable notebook ({_one_line(error)})") from None
    cell = next((cell for cell in notebook.cells if cell.cell_type == "code"
                 and "parameters" in cell.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise InputError(f"{path}: no code cell tagged 'parameters'")
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as error:
        raise InputError(f"{path}: parameters cell, line {error.lineno}: {error.msg}") from None
    defaults = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            target = value = None
        if not isinstance(target, ast.Name):
            raise InputError(f"{path}: parameters cell, line {node.lineno}: "
                             "expected `name = value`")
        try:
            defaults[target.id] = ast.literal_eval(value)
        except ValueError:
            raise InputError(f"{path}: parameters cell, line {node.lineno}: the default of "
                             f"{target.id} must be a literal (a number, string, None)") from None
    names = parameter_names()
    missing = [name for name in names if name not in defaults]
    if missing:
        raise InputError(f"{path}: the parameters cell lacks {', '.join(missing)} "
                         f"(it declares every one of: {', '.join(names)})")
    try:
        RunConfig.from_dict(defaults)
    except InputError as error:
        raise InputError(f"{path}: parameters cell: {error}") from None
    return defaults


# --- Parameters from the command line -----------------------------------------------------------


def load_params_file(path: str | os.PathLike) -> dict[str, Any]:
    """Parameters from a YAML mapping (papermill's ``-f``); InputError naming the file at fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: parameters file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the parameters file ({_one_line(error)})") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or _one_line(error)
        raise InputError(f"{path}:{where}: malformed YAML ({problem})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InputError(f"{path}: expected a mapping of parameter names to values, "
                         f"got a {type(values).__name__}")
    try:
        RunConfig.from_dict(values)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    return values


def parse_overrides(pairs: Iterable[Sequence[str]]) -> dict[str, Any]:
    """``-p NAME VALUE`` pairs as papermill parses them: None/null, true/false, ints, floats,
    else the string. A string parameter (data_root, variant, ...) keeps its text as written, so a
    folder called ``001`` stays ``"001"``. A later pair overrides an earlier one."""
    return {name: _parse_value(name, text) for name, text in pairs}


def _parse_value(name: str, text: Any) -> Any:
    if not isinstance(text, str):
        return text
    if text in _NONE_WORDS:
        return None
    if name in _STR_PARAMETERS:
        return text
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


# --- Results of a run ---------------------------------------------------------------------------


@dataclass
class ModelRun:
    model: str
    status: str  # "ok", "skipped" or "failed"
    seconds: float | None = None  # None: skipped, or the worker process died
    error: str | None = None  # one line, for "failed"
    notebook: str | None = None  # the executed notebook, when one was kept


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
        rows = [("model", "status", "seconds", "error")]
        for run in self.runs:
            seconds = "-" if run.seconds is None else f"{run.seconds:.1f}"
            error = run.error or ""
            if len(error) > 100:
                error = error[:97] + "..."
            rows.append((run.model, "FAILED" if run.status == "failed" else run.status, seconds,
                         error))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [f"{model:<{widths[0]}}  {status:<{widths[1]}}  {seconds:>{widths[2]}}  {error}"
                 .rstrip() for model, status, seconds, error in rows]
        lines.append(f"{len(self.ran)} ran, {len(self.skipped)} skipped, {len(self.failed)} failed")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Job:
    """One notebook to execute; crosses to worker processes, so plain values only."""

    model: str
    notebook: Path  # absolute
    out_dir: Path  # absolute results/<model>
    shown_dir: str  # results/<model> as the user wrote results_dir, for messages and failed.json
    parameters: dict[str, Any]  # what papermill injects: the overrides, always results_dir
    digest: str
    cwd: Path
    kernel_name: str = KERNEL_NAME
    timeout: float | None = None
    progress_bar: bool = False


# --- Running ------------------------------------------------------------------------------------


def run_models(
    models: Iterable[str] | None = None,
    *,
    notebooks_dir: str | os.PathLike = "notebooks",
    results_dir: str | os.PathLike | None = None,
    parameters: dict[str, Any] | None = None,
    jobs: int = 1,
    force: bool = False,
    timeout: float | None = None,
    progress: bool = True,
    kernel_name: str = KERNEL_NAME,
) -> RunSummary:
    """Execute the model notebooks (all discovered ones when ``models`` is None).

    Args:
        parameters: overrides of the notebooks' parameters (RunConfig names); checked, with each
            notebook's defaults, before anything runs.
        results_dir: where results go; None: ``parameters["results_dir"]``, else "results". It is
            always passed to the notebooks. Relative paths, like notebooks_dir and data_root, are
            relative to the current directory, where the notebooks run.
        jobs: notebooks executed at once, each by its own worker process.
        force: run models whose results are complete for these parameters too.
        timeout: limit in seconds for each cell; None: no limit (training is one long cell).
        progress: papermill's progress bar (jobs=1); finished models are logged at INFO anyway.

    Raises InputError, before anything runs, for an unknown model, an unknown parameter or a bad
    value. A failing notebook is recorded in the summary, not raised.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"jobs={jobs!r}: must be at least 1")
    if timeout is not None and not timeout > 0:
        raise InputError(f"timeout={timeout!r}: must be positive, or None for no limit")
    overrides = dict(parameters or {})
    if results_dir is not None:
        overrides["results_dir"] = str(results_dir)
    overrides.setdefault("results_dir", "results")
    config = RunConfig.from_dict(overrides)
    # Inject the checked values (learning_rate 1 -> 1.0), only for the names that were given.
    injected = {name: getattr(config, name) for name in overrides}

    notebooks = discover_notebooks(notebooks_dir)
    if not notebooks:
        raise InputError(f"{notebooks_dir}: no model notebooks (*.ipynb not starting with _)")
    selected = list(dict.fromkeys(models)) if models else list(notebooks)
    unknown = [name for name in selected if name not in notebooks]
    if unknown:
        raise InputError(f"unknown model(s) {', '.join(unknown)}; notebooks in {notebooks_dir}: "
                         f"{', '.join(notebooks) or 'none'}")

    cwd = Path.cwd()
    planned = []
    for model in selected:
        defaults = notebook_defaults(notebooks[model])
        try:
            effective = RunConfig.from_dict({**defaults, **injected})
        except InputError as error:
            raise InputError(f"{notebooks[model]}: {error}") from None
        planned.append(_Job(
            model=model,
            notebook=cwd / notebooks[model],
            out_dir=cwd / config.results_dir / model,
            shown_dir=str(Path(config.results_dir) / model),
            parameters=injected,
            digest=effective.digest(model),
            cwd=cwd,
            kernel_name=kernel_name,
            timeout=timeout,
        ))

    outcomes: dict[str, ModelRun] = {}
    pending = []
    for job in planned:
        if not force and _is_complete(job):
            logger.info("%s: skipped, results complete for these parameters (digest %s)",
                        job.model, job.digest)
            outcomes[job.model] = ModelRun(job.model, "skipped")
        else:
            pending.append(job)
    if pending:
        ensure_kernel(kernel_name)
    workers = min(jobs, len(pending))
    if workers <= 1:
        for job in pending:
            logger.info("%s: running %s", job.model, os.path.relpath(job.notebook, cwd))
            outcomes[job.model] = _log_finished(_execute(dataclasses.replace(
                job, progress_bar=progress)))
    else:
        outcomes.update(_execute_in_parallel(pending, workers))
    return RunSummary([outcomes[job.model] for job in planned])


def _execute_in_parallel(jobs: list[_Job], workers: int) -> dict[str, ModelRun]:
    logger.info("running %s, %d at a time", ", ".join(job.model for job in jobs), workers)
    outcomes = {}
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(_execute_in_subprocess, job): job for job in jobs}
        try:
            for future in concurrent.futures.as_completed(futures):
                outcomes[futures[future].model] = _log_finished(future.result())
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return outcomes


def _execute_in_subprocess(job: _Job) -> ModelRun:
    """``_execute`` in a fresh interpreter (a plain subprocess, unlike multiprocessing's spawn,
    works whatever the caller's __main__ is: a script without a main guard, stdin, a notebook).

    If the worker itself dies, the model is reported failed but its results folder is left as it
    was: the notebook may never have started.
    """
    with tempfile.TemporaryDirectory(prefix="urbanseg-run-") as scratch:
        job_file, result_file = Path(scratch) / "job.pickle", Path(scratch) / "result.pickle"
        job_file.write_bytes(pickle.dumps(job))
        command = [sys.executable, "-c", "from urbanseg.runner import _worker; _worker()",
                   str(job_file), str(result_file)]
        # Output to a file, not a pipe: a kernel outliving its worker cannot block the read.
        with open(Path(scratch) / "output.txt", "w+b") as output:
            status = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=output,
                                    stderr=subprocess.STDOUT, cwd=job.cwd).returncode
            output.seek(0)
            text = output.read().decode("utf-8", "replace")
        if result_file.exists():
            logger.debug("%s: worker output:\n%s", job.model, text)
            return pickle.loads(result_file.read_bytes())
    last = next((line for line in reversed(text.splitlines()) if line.strip()), "no output")
    return ModelRun(job.model, "failed",
                    error=_one_line(f"worker process exited with status {status}: {last}"))


def _worker() -> None:
    """Entry point of a worker process: ``python -c ... JOB_FILE RESULT_FILE``."""
    job_file, result_file = sys.argv[1:3]
    run = _execute(pickle.loads(Path(job_file).read_bytes()))
    Path(result_file).write_bytes(pickle.dumps(run))


def _log_finished(run: ModelRun) -> ModelRun:
    if run.status == "ok":
        logger.info("%s: ok in %.1f s", run.model, run.seconds)
    else:
        took = "" if run.seconds is None else f" after {run.seconds:.1f} s"
        logger.warning("%s: FAILED%s: %s", run.model, took, run.error)
    return run


def _execute(job: _Job) -> ModelRun:
    """Execute one notebook and record its outcome; runs in the caller or in a worker process."""
    import papermill

    job.out_dir.mkdir(parents=True, exist_ok=True)
    running = job.out_dir / f".{job.model}.running.ipynb"
    running.unlink(missing_ok=True)
    failure = None
    started = time.monotonic()
    try:
        papermill.execute_notebook(
            str(job.notebook), str(running),
            parameters=job.parameters,
            kernel_name=job.kernel_name,
            language="python",
            progress_bar=False,
            log_output=job.progress_bar,  # stream the notebook's own progress (epochs, mIoU)
            execution_timeout=job.timeout,
            cwd=str(job.cwd),
        )
    except papermill.PapermillExecutionError as error:
        failure = (_one_line(f"{error.ename}: {error.evalue}" if error.evalue else error.ename),
                   "\n".join(error.traceback))
    except Exception as error:  # timeout, dead kernel, kernel not starting: all a failed run
        failure = (_one_line(error), traceback.format_exc())
    except BaseException:  # interrupted: no verdict on this model, leave its results as they were
        running.unlink(missing_ok=True)
        raise
    seconds = time.monotonic() - started
    notebook = _keep_notebook(job, running)
    if failure is None:
        problem = _metrics_problem(job)
        if problem:
            failure = (problem, "")
    if failure is not None:
        return _record_failure(job, *failure, notebook=notebook, seconds=seconds)
    (job.out_dir / "failed.json").unlink(missing_ok=True)
    return ModelRun(job.model, "ok", seconds, notebook=notebook)


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
        logger.debug("%s: papermill metadata left as is (%s)", running, error)
    os.replace(running, final)
    return shown


def _metrics_problem(job: _Job) -> str | None:
    """None when results/<model>/metrics.json says ok for this job's digest; else what is wrong."""
    shown = f"{job.shown_dir}/metrics.json"
    try:
        metrics = json.loads((job.out_dir / "metrics.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"the notebook finished without writing {shown}"
    except (OSError, ValueError) as error:
        return f"{shown}: unreadable ({_one_line(error)})"
    if not isinstance(metrics, dict) or metrics.get("status") != "ok":
        status = metrics.get("status") if isinstance(metrics, dict) else None
        return f"{shown}: status {status!r}, not 'ok'"
    if metrics.get("digest") != job.digest:
        return (f"{shown}: digest {metrics.get('digest')!r}, expected {job.digest!r} (the notebook "
                f"ran with other parameters than the runner passed)")
    return None


def _is_complete(job: _Job) -> bool:
    return _metrics_problem(job) is None and not (job.out_dir / "failed.json").exists()


def _record_failure(job: _Job, error: str, trace: str, *, notebook: str | None,
                    seconds: float | None) -> ModelRun:
    """Write failed.json, then delete the model's metrics.json: the failure is the result now."""
    job.out_dir.mkdir(parents=True, exist_ok=True)
    error = _ANSI.sub("", error)
    _write_json_atomically(job.out_dir / "failed.json", {
        "model": job.model,
        "error": error,
        "traceback": _ANSI.sub("", trace),
        "notebook": notebook,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    (job.out_dir / "metrics.json").unlink(missing_ok=True)
    return ModelRun(job.model, "failed", seconds, error, notebook)


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _one_line(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else (
        f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    text = _ANSI.sub("", text).strip()
    return text.splitlines()[0] if text else "unknown error"


# --- Command line -------------------------------------------------------------------------------


def add_run_arguments(parser) -> None:
    """The options of ``urbanseg run`` on an argparse (sub)parser; ``main_run`` reads them."""
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="notebooks/MODEL.ipynb to run (default: every notebook)")
    parser.add_argument("--root", help="Cityscapes root, the data_root parameter "
                        "(default: the embedded synthetic tree)")
    parser.add_argument("--results", metavar="DIR", help="results folder (default: results)")
    parser.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append",
                        default=[], metavar=("NAME", "VALUE"), help="set a notebook parameter")
    parser.add_argument("-f", "--parameters-file", dest="params_file", metavar="PARAMS.yaml",
                        help="notebook parameters from a YAML mapping (-p wins)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default 1)")
    parser.add_argument("--force", action="store_true",
                        help="rerun models whose results are complete for these parameters")


def main_run(args) -> int:
    """``urbanseg run``: parameters from -f, then -p, then --root/--results; prints the summary
    and returns the exit status (0, or 1 if a model failed). InputError propagates (status 2)."""
    parameters = load_params_file(args.params_file) if args.params_file else {}
    parameters.update(parse_overrides(args.parameters or []))
    if args.root is not None:
        parameters["data_root"] = args.root
    if not logging.getLogger().handlers:  # one line per model on stderr unless logging is set up
        logging.basicConfig(format="urbanseg: %(message)s")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    summary = run_models(args.models or None, results_dir=args.results, parameters=parameters,
                         jobs=args.jobs, force=args.force,
                         notebooks_dir=getattr(args, "notebooks", "notebooks"),
                         timeout=getattr(args, "timeout", None),
                         progress=not getattr(args, "quiet", False))
    print(summary.format())
    results_dir = Path(args.results or parameters.get("results_dir") or "results")
    if results_dir.is_dir():  # every model's results in one table (the report reads it too)
        from .results import collect, write_summary

        try:
            print(f"summary of all runs: {write_summary(collect(results_dir), results_dir)}")
        except InputError as error:  # a malformed old result must not hide this run's outcome
            logger.warning("no summary.csv: %s", error)
    return summary.exit_code
