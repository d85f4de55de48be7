"""Faults around ``urbanseg run`` (issue 13): bad inputs caught before any notebook starts, a
run's outputs replaced all at once or not at all, one run per results folder, SIGTERM and
Ctrl-C stopping workers and kernels, a full disk, the notebook's code in the skip digest.

Fixture notebooks from tests/test_runner.py; a "finished" run is written by hand where no kernel
is needed. The tests that execute a notebook carry the "slow" marker."""

import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import test_runner
from test_runner import (
    NOTEBOOK_DEFAULTS,
    VALIDATE,
    WRITE_METRICS,
    expected_digest,
    write_names_tree,
    write_notebook,
)

from urbanseg import runner, worker
from urbanseg.atomic import exclusive_lock
from urbanseg.cli import main
from urbanseg.config import RunConfig
from urbanseg.errors import InputError
from urbanseg.notebooks import code_digest
from urbanseg.runner import LOCK_FILE, run_models

# test_runner's fixtures: a Jupyter kernel, and tmp_path as a project with notebooks ok and bad
kernel, project = test_runner.kernel, test_runner.project


def finish_by_hand(project, model="ok", seed=0, **overrides):
    """A complete run of ``model`` in results/, as urbanseg run leaves it, with its files."""
    folder = project / "results" / model / f"seed-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "model": model,
        "status": "ok",
        "digest": expected_digest(model, seed=seed, **overrides),
        "notebook_digest": code_digest(project / "notebooks" / f"{model}.ipynb"),
        "metrics": {"miou": 0.137},
        "parameters": {**NOTEBOOK_DEFAULTS, "seed": seed, **overrides},
    }
    (folder / "metrics.json").write_text(json.dumps(record))
    (folder / "model.keras").write_bytes(b"the weights that scored 0.137")
    return folder


def snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def staged(project, model="ok", seed=0):
    return sorted((project / "results" / model).glob(f".seed-{seed}.staging-*"))


# --- Item 1: every input checked before any notebook starts -----------------------------------


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"data_root": "nowhere/cityscape"}, "nowhere/cityscape: pasta raiz do Cityscapes não"),
        ({"data_root": "empty"}, "empty/leftImg8bit/train: pasta do split não encontrada"),
        ({"data_root": "trainonly"}, "trainonly/leftImg8bit/val: pasta do split não encontrada"),
        ({"seed": -1}, "seed=-1: deve estar entre 0 e 4294967295"),
        ({"learning_rate": "inf"}, "learning_rate='inf': esperado um número finito"),
        ({"width": "inf"}, "width='inf': esperado um número finito"),
        ({"backbone_weights": "w/vgg16.h5"}, "backbone_weights='w/vgg16.h5': arquivo de pesos"),
    ],
)
def test_a_bad_input_fails_before_any_notebook_and_keeps_finished_runs(
    project, parameters, message
):
    (project / "empty").mkdir()
    write_names_tree(project / "trainonly", splits=("train",))
    folder = finish_by_hand(project)
    before = snapshot(project / "results")
    with pytest.raises(InputError, match="^" + message.replace("(", r"\(")):
        run_models(["ok", "bad"], parameters=parameters, force=True, progress=False)
    assert snapshot(project / "results") == before  # nothing started, nothing staged
    assert (folder / "metrics.json").exists()


def test_seeds_out_of_range_and_a_good_root_and_weights_file(project):
    with pytest.raises(InputError, match="^semente -1: deve estar entre 0 e 4294967295$"):
        run_models(["ok"], seeds=[0, -1], progress=False)
    # a tree with train and val, and a weights file that is there: nothing to say, all skipped
    write_names_tree(project / "data")
    (project / "vgg16.h5").write_bytes(b"weights")
    given = {"data_root": "data/", "backbone_weights": "vgg16.h5"}
    finish_by_hand(project, **given)
    summary = run_models(["ok"], parameters=given, progress=False)
    assert [run.status for run in summary.runs] == ["skipped"]


def test_a_size_beyond_the_images_is_warned_about_before_any_notebook(tiny_tree, caplog):
    from urbanseg.run_checks import check_inputs
    from urbanseg.synth import DEFAULT_SIZE, default_dataset_root

    caplog.set_level(logging.WARNING, logger="urbanseg.run_checks")
    configs = [  # tiny_tree's images are 32x64; the embedded set's DEFAULT_SIZE, 256x512
        RunConfig.from_dict({"data_root": str(tiny_tree), "image_height": 32, "image_width": 64}),
        RunConfig.from_dict({"data_root": str(tiny_tree), "image_height": 64, "image_width": 64}),
        RunConfig.from_dict({"image_height": DEFAULT_SIZE[0], "image_width": DEFAULT_SIZE[1]}),
        RunConfig.from_dict({"image_height": 1024, "image_width": 2048}),  # the papers' size
    ]
    check_inputs(configs, remote=False)
    assert [record.getMessage() for record in caplog.records] == [
        f"image_height x image_width = 64x64 é maior que as imagens de {tiny_tree} (32x64): "
        "elas serão ampliadas, sem detalhe novo, a um custo maior",
        f"image_height x image_width = 1024x2048 é maior que as imagens de "
        f"{default_dataset_root()} (256x512): elas serão ampliadas, sem detalhe novo, a um "
        "custo maior",
    ]


# --- Item 3: a run's outputs change together --------------------------------------------------

SECOND_ATTEMPT = """\
folder = pathlib.Path(config.results_dir) / "ok" / f"seed-{config.seed}"
folder.mkdir(parents=True, exist_ok=True)
resumed = (folder / "checkpoint.json").exists()
(folder / "model.keras").write_bytes(b"new weights")
if not resumed:  # the first attempt: a checkpoint, then the worker dies (as SIGKILL would)
    (folder / "checkpoint.json").write_text("{}")
    import signal
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(60)"""


@pytest.mark.slow
def test_an_interrupted_rerun_leaves_the_finished_run_whole_and_the_next_one_resumes(
    project, kernel
):
    write_notebook(
        project / "notebooks" / "ok.ipynb",
        VALIDATE + "\nimport time",
        SECOND_ATTEMPT,
        WRITE_METRICS.format(model="ok").replace(
            '"metrics": {"miou": 0.5}', '"metrics": {"miou": 0.5}, "resumed": resumed'
        ),
    )
    folder = finish_by_hand(project)
    before = snapshot(folder)

    summary = run_models(["ok"], force=True, progress=False)  # the worker dies mid-run
    assert summary.failed[0].error.startswith("o processo worker terminou com status -9")
    assert snapshot(folder) == before  # the old weights beside the old record, nothing new
    [staging] = staged(project)
    assert (staging / "ok" / "seed-0" / "model.keras").read_bytes() == b"new weights"
    # not forced: the finished run (its record and weights, together) is still complete
    assert [run.status for run in run_models(["ok"], progress=False).runs] == ["skipped"]

    summary = run_models(["ok"], force=True, progress=False)  # resumes in the same staging
    assert [run.status for run in summary.runs] == ["ok"], summary.format()
    record = json.loads((folder / "metrics.json").read_text())
    assert record["resumed"] is True and record["metrics"] == {"miou": 0.5}
    assert record["parameters"]["results_dir"] == "results"  # not the staging folder
    assert record["notebook_digest"] == code_digest(project / "notebooks" / "ok.ipynb")
    assert (folder / "model.keras").read_bytes() == b"new weights"
    assert sorted(snapshot(folder)) == [
        "checkpoint.json",  # the fixture does not discard it
        "metrics.json",
        "model.keras",
        "ok.ipynb",
        "run.log",
    ]
    assert staged(project) == []
    executed = nbformat.read(folder / "ok.ipynb", as_version=4)
    injected = next(
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert "results_dir = 'results'" in injected.source and "staging" not in injected.source
    assert executed.metadata.papermill.parameters["results_dir"] == "results"


# --- Item 13: one run per results folder; SIGTERM and Ctrl-C stop workers and kernels ---------

HOLD = """\
import sys
from urbanseg.atomic import exclusive_lock
with exclusive_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()"""


def test_a_second_run_on_the_same_results_folder_refuses_naming_the_holder(project):
    finish_by_hand(project)
    (project / "results").mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(project / "results" / LOCK_FILE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(InputError) as refused:
            run_models(["ok"], progress=False)
        message = str(refused.value)
        assert message.startswith("results: outra execução do urbanseg run usa esta pasta (pid ")
        assert f"pid {holder.pid} em {socket.gethostname()}, desde 20" in message
        assert message.endswith("espere ela terminar, ou use outra pasta com --results")
    finally:
        holder.kill()  # killed outright: the operating system releases its lock
        holder.wait()
    assert [run.status for run in run_models(["ok"], progress=False).runs] == ["skipped"]
    with exclusive_lock(project / "results" / LOCK_FILE):  # and this run released it
        pass


WAIT = """\
pathlib.Path({marker!r}).write_text(f"{{os.getpid()}} {{os.getppid()}}")
import time
time.sleep(120)"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waits for its parent to read its status: it runs nothing
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sent", "verbose"), [("SIGTERM", False), ("SIGINT", True)], ids=["sigterm", "ctrl-c"]
)
def test_sigterm_or_ctrl_c_stops_workers_and_kernels_and_keeps_the_folders(
    project, kernel, tmp_path, sent, verbose
):
    markers = {model: tmp_path / f"{model}.pids" for model in ("one", "two")}
    for model, marker in markers.items():
        write_notebook(
            project / "notebooks" / f"{model}.ipynb", VALIDATE, WAIT.format(marker=str(marker))
        )
    folder = finish_by_hand(project, "one", epochs=9)  # another run's: this one replaces it
    before = snapshot(folder)
    command = [sys.executable, "-m", "urbanseg", "run", "one", "two", "--jobs", "2"]
    process = subprocess.Popen(
        command + (["-v"] if verbose else []),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    pids = []
    try:
        deadline = time.monotonic() + 180
        while not all(m.exists() and m.read_text() for m in markers.values()):
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "the notebooks did not start"
            time.sleep(0.2)
        pids = [int(pid) for m in markers.values() for pid in m.read_text().split()]
        if sent == "SIGINT":  # Ctrl-C: the terminal signals the whole foreground group
            os.killpg(process.pid, signal.SIGINT)
        else:  # kill, a batch system's time limit: the runner alone
            process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=120)[0].decode()
        assert process.returncode == 130, output
        assert output.rstrip().endswith("urbanseg: interrompido")
        assert "Traceback" not in output and "ZMQError" not in output
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in pids if _alive(pid)]  # kernels and workers: all gone
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert snapshot(folder) == before
    for model in ("one", "two"):
        [staging] = staged(project, model)
        assert not list(staging.glob(".*.pickle"))  # no temporary file left behind
        log = (staging / model / "seed-0" / "run.log").read_text()
        assert log.rstrip().endswith("urbanseg: interrompido")
        assert "Traceback" not in log and "ZMQError" not in log
    with exclusive_lock(project / "results" / LOCK_FILE):  # released
        pass


# --- Item 14: a full disk ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_full_disk_in_the_notebook_is_one_line_and_keeps_the_finished_run(project, kernel):
    write_notebook(
        project / "notebooks" / "ok.ipynb",
        VALIDATE,
        "raise OSError(28, 'No space left on device', 'results/ok/seed-0/model.keras')",
    )
    folder = finish_by_hand(project)
    before = snapshot(folder)
    summary = run_models(["ok"], force=True, progress=False)
    error = summary.failed[0].error
    assert error.startswith("o processo worker terminou com status 1: sem espaço em disco (")
    assert error.endswith(f"(veja {staged(project)[0].relative_to(project) / 'ok/seed-0/run.log'})")
    assert snapshot(folder) == before  # no failed.json in place of the finished run


def test_papermill_cut_short_by_a_full_disk_leaves_no_half_notebook(project, monkeypatch):
    import papermill

    def cut_short(source, output, **options):
        Path(output).write_text('{"cells": [{"cell_type": "co')
        raise OSError(errno.ENOSPC, "No space left on device", output)

    monkeypatch.setattr(papermill, "execute_notebook", cut_short)
    job = _planned(project)
    with pytest.raises(OSError) as raised:
        worker.execute(job)
    assert raised.value.errno == errno.ENOSPC
    assert not [p for p in job.work_dir.iterdir() if p.suffix == ".ipynb"]
    # a notebook that cannot be read back (cut short) is not kept
    running = job.work_dir / ".ok.running.ipynb"
    running.write_text('{"cells": [')
    assert worker.keep_notebook(job, running) is None
    assert not running.exists() and not (job.work_dir / "ok.ipynb").exists()


def test_a_full_disk_writing_the_summary_is_a_warning(project, monkeypatch, capsys, caplog):
    import urbanseg.summary

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "results/summary.csv")

    finish_by_hand(project)
    monkeypatch.setattr(urbanseg.summary, "write_summary", full)
    assert main(["run", "ok"]) == 0  # skipped: complete
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["sem summary.csv: results/summary.csv: No space left on device"]
    assert "Traceback" not in capsys.readouterr().err


# --- Item 17: the notebook's code is part of what makes a run complete ------------------------


def test_the_code_digest_is_the_code_cells_but_the_parameters(tmp_path):
    path = tmp_path / "m.ipynb"
    write_notebook(path, "x = 1", "y = 2")
    digest = code_digest(path)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = "# Outro título"  # narrative
    notebook.cells[1].source = notebook.cells[1].source.replace("epochs = 1", "epochs = 3")
    notebook.cells[2].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    notebook.cells[2].execution_count = 7
    nbformat.write(notebook, path)
    assert code_digest(path) == digest
    notebook.cells[3].source = "y = 3"
    nbformat.write(notebook, path)
    assert code_digest(path) != digest
    # the data root counts by where it is, however it is written
    assert RunConfig(data_root="data/").digest("m") == RunConfig(data_root="./data").digest("m")
    absolute = os.path.abspath("data")
    assert RunConfig(data_root=absolute).digest("m") == RunConfig(data_root="data").digest("m")


def test_editing_the_architecture_reruns_the_model(project):
    finish_by_hand(project)
    assert [run.status for run in run_models(["ok"], progress=False).runs] == ["skipped"]
    notebook = nbformat.read(project / "notebooks" / "ok.ipynb", as_version=4)
    notebook.cells[2].source += "\n# a wider decoder"
    nbformat.write(notebook, project / "notebooks" / "ok.ipynb")
    job = _planned(project)
    assert not runner._is_complete(job) and runner._code_changed(job)
    record = json.loads((project / "results/ok/seed-0/metrics.json").read_text())
    del record["notebook_digest"]  # a run the runner did not stamp: unknown code
    (project / "results/ok/seed-0/metrics.json").write_text(json.dumps(record))
    assert not runner._is_complete(_planned(project))


def _planned(project):
    return runner._Job(
        model="ok",
        seed=0,
        notebook=project / "notebooks" / "ok.ipynb",
        out_dir=project / "results" / "ok" / "seed-0",
        shown_dir="results/ok/seed-0",
        parameters={"results_dir": "results"},
        digest=expected_digest("ok"),
        cwd=project,
        code_digest=code_digest(project / "notebooks" / "ok.ipynb"),
    )


# --- Item 23: results never among the project's code ------------------------------------------


@pytest.mark.parametrize("results", ["notebooks", "notebooks/out", "lib/x", "templates"])
def test_a_results_folder_inside_the_code_is_refused(project, results):
    (project / "lib").mkdir()
    (project / "templates").mkdir()
    with pytest.raises(InputError, match=f"^results_dir='{results}': fica dentro de "):
        run_models(["ok"], results_dir=results, progress=False)
    assert not (project / "notebooks" / "out").exists() and not (project / "lib" / "x").exists()
    assert not (project / "templates" / "ok").exists()


def test_notebooks_in_the_working_folder_itself_may_have_results_beside_them(project):
    finish_by_hand(project)
    (project / "notebooks" / "ok.ipynb").rename(project / "ok.ipynb")  # urbanseg notebooks .
    summary = run_models(["ok"], notebooks_dir=".", results_dir="results", progress=False)
    assert [run.status for run in summary.runs] == ["skipped"]
