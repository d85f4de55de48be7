"""The notebook runner on tiny fixture notebooks: "ok" writes metrics.json like a model notebook,
"bad" raises. Tests that execute a notebook start a kernel (about a second each) and carry the
"slow" marker; the others only read notebooks."""

import json
import logging
import os
import sys
from pathlib import Path

import nbformat
import pytest

from urbanseg.cli import main
from urbanseg.config import RunConfig, parameter_names
from urbanseg.errors import InputError
from urbanseg.notebooks import KERNEL_NAME, discover_notebooks, ensure_kernel, notebook_defaults
from urbanseg.runner import run_models

# Notebook defaults differ from RunConfig's, so a runner that ignored them would compute another
# digest than the notebook and the run would be reported as failed.
NOTEBOOK_DEFAULTS = {**RunConfig().to_dict(), "epochs": 1, "image_height": 64, "image_width": 64}

VALIDATE = """\
import json, os, pathlib
from urbanseg.config import RunConfig, parameter_names
config = RunConfig.from_dict({name: globals()[name] for name in parameter_names()})"""

WRITE_METRICS = """\
model = {model!r}
folder = pathlib.Path(config.results_dir) / model / f"seed-{{config.seed}}"
folder.mkdir(parents=True, exist_ok=True)
metrics = {{"model": model, "status": "ok", "digest": config.digest(model), "metrics": {{"miou": 0.5}},
           "parameters": config.to_dict(), "cwd": os.getcwd(),
           "concurrent": os.environ.get("URBANSEG_CONCURRENT_RUNS")}}
(folder / "metrics.json.tmp").write_text(json.dumps(metrics))
os.replace(folder / "metrics.json.tmp", folder / "metrics.json")"""


def write_notebook(path, *cells, defaults=NOTEBOOK_DEFAULTS):
    parameters = nbformat.v4.new_code_cell(
        "\n".join(f"{name} = {value!r}" for name, value in defaults.items())
    )
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Fixture"),
            parameters,
            *(nbformat.v4.new_code_cell(source) for source in cells),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "language": "python",
        "display_name": "Python (urbanseg)",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def write_names_tree(root, splits=("train", "val")):
    """A Cityscapes tree of empty files: what the runner checks of data_root before anything
    runs (the names; the fixture notebooks read nothing)."""
    for split in splits:
        for folder, suffix in (
            ("leftImg8bit", "_leftImg8bit.png"),
            ("gtFine", "_gtFine_labelIds.png"),
        ):
            path = Path(root) / folder / split / "aachen" / f"aachen_000000_000000{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    return Path(root)


@pytest.fixture(scope="session")
def kernel():
    return ensure_kernel()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """tmp_path as the repository root: notebooks/ok.ipynb and notebooks/bad.ipynb."""
    write_notebook(tmp_path / "notebooks" / "ok.ipynb", VALIDATE, WRITE_METRICS.format(model="ok"))
    write_notebook(tmp_path / "notebooks" / "bad.ipynb", VALIDATE, "raise ValueError('boom')")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def read_json(path):
    return json.loads(path.read_text())


def expected_digest(model, **overrides):
    return RunConfig.from_dict({**NOTEBOOK_DEFAULTS, **overrides}).digest(model)


@pytest.mark.slow
def test_failure_is_recorded_and_the_other_model_runs(project, kernel):
    results = project / "results"
    (results / "bad" / "seed-0").mkdir(parents=True)
    (results / "bad" / "seed-0" / "metrics.json").write_text('{"status": "ok"}')  # an old success
    (results / "ok" / "seed-0").mkdir(parents=True)
    (results / "ok" / "seed-0" / "failed.json").write_text("{}")  # an old failure

    summary = run_models(["bad", "ok"], parameters={"epochs": 2}, progress=False)

    assert [run.model for run in summary.ran] == ["ok"]
    assert [run.model for run in summary.failed] == ["bad"]
    assert summary.exit_code == 1
    assert summary.failed[0].error == "ValueError: boom"
    metrics = read_json(results / "ok" / "seed-0" / "metrics.json")
    assert metrics["digest"] == expected_digest("ok", epochs=2)
    assert metrics["parameters"]["epochs"] == 2 and metrics["parameters"]["image_height"] == 64
    assert metrics["cwd"] == str(project)
    assert metrics["concurrent"] == "1"  # what the run records beside its speed
    assert not (results / "ok" / "seed-0" / "failed.json").exists()
    assert (results / "ok" / "seed-0" / "ok.ipynb").exists()

    failed = read_json(results / "bad" / "seed-0" / "failed.json")
    assert failed["model"] == "bad" and failed["error"] == "ValueError: boom"
    assert "boom" in failed["traceback"] and "\x1b[" not in failed["traceback"]
    assert failed["notebook"] == os.path.join("results", "bad", "seed-0", "bad.ipynb")
    assert failed["date"]
    assert not (results / "bad" / "seed-0" / "metrics.json").exists()
    kept = nbformat.read(results / "bad" / "seed-0" / "bad.ipynb", as_version=4)
    assert any("papermill-error-cell-tag" in cell.metadata.get("tags", []) for cell in kept.cells)
    assert kept.metadata.papermill.output_path == failed["notebook"]
    assert sorted(path.name for path in (results / "bad" / "seed-0").iterdir()) == [
        "bad.ipynb",
        "failed.json",
        "run.log",
    ]
    log = (results / "bad" / "seed-0" / "run.log").read_text()
    assert "Input Notebook" in log and "Executing Cell 1" in log  # all the output, kept

    table = summary.format()
    assert "FALHOU" in table and "ValueError: boom" in table
    assert table.endswith("1 executado, 0 pulados, 1 falhou")


@pytest.mark.slow
def test_complete_results_are_skipped_unless_forced_or_changed(project, kernel):
    metrics = project / "out" / "ok" / "seed-0" / "metrics.json"
    assert run_models(["ok"], results_dir="out", progress=False).exit_code == 0
    os.utime(metrics, (1_000_000, 1_000_000))

    summary = run_models(["ok"], results_dir="out", progress=False)
    assert [run.model for run in summary.skipped] == ["ok"] and summary.exit_code == 0
    assert metrics.stat().st_mtime == 1_000_000

    summary = run_models(["ok"], results_dir="out", force=True, progress=False)
    assert [run.model for run in summary.ran] == ["ok"]
    assert metrics.stat().st_mtime != 1_000_000

    os.utime(metrics, (1_000_000, 1_000_000))
    summary = run_models(["ok"], parameters={"results_dir": "out", "epochs": 3}, progress=False)
    assert [run.model for run in summary.ran] == ["ok"]
    assert read_json(metrics)["digest"] == expected_digest("ok", epochs=3)


@pytest.mark.slow
def test_jobs_run_at_once(project, kernel):
    summary = run_models(jobs=2, progress=False)
    assert [run.model for run in summary.runs] == ["bad", "ok"]
    assert [run.model for run in summary.ran] == ["ok"]
    assert summary.failed[0].error == "ValueError: boom"
    assert (project / "results" / "bad" / "seed-0" / "failed.json").exists()
    assert read_json(project / "results" / "ok" / "seed-0" / "metrics.json")["concurrent"] == "2"


@pytest.mark.slow
def test_every_seed_is_a_run_of_its_own(project, kernel):
    summary = run_models(["ok", "bad"], seeds=[0, 2], progress=False)
    assert [(run.model, run.seed, run.status) for run in summary.runs] == [
        ("ok", 0, "ok"),
        ("ok", 2, "ok"),
        ("bad", 0, "failed"),
        ("bad", 2, "failed"),
    ]
    for seed in (0, 2):
        record = read_json(project / "results" / "ok" / f"seed-{seed}" / "metrics.json")
        assert record["parameters"]["seed"] == seed
        assert record["digest"] == expected_digest("ok", seed=seed)
        assert (project / "results" / "bad" / f"seed-{seed}" / "failed.json").exists()
    again = run_models(["ok"], seeds=[0, 2, 3], progress=False)  # seed 3 is new
    assert [(run.seed, run.status) for run in again.runs] == [
        (0, "skipped"),
        (2, "skipped"),
        (3, "ok"),
    ]
    assert "semente" in summary.format().splitlines()[0]
    with pytest.raises(InputError, match="semente 'x': esperado um número inteiro"):
        run_models(["ok"], seeds=["x"], progress=False)


@pytest.mark.slow
def test_a_dead_worker_fails_the_model_but_leaves_its_results(project, kernel, monkeypatch):
    assert run_models(["ok"], progress=False).exit_code == 0
    monkeypatch.setattr(sys, "executable", "/bin/false")  # every worker process exits at once
    summary = run_models(["ok", "bad"], jobs=2, force=True, progress=False)
    assert [run.model for run in summary.failed] == ["ok", "bad"]
    staging = next((project / "results" / "ok").glob(".seed-0.staging-*"))  # the attempt's
    assert summary.failed[0].error == (
        "o processo worker terminou com status 1: sem saída "
        f"(veja {os.path.join('results', 'ok', staging.name, 'ok', 'seed-0', 'run.log')})"
    )
    assert (project / "results" / "ok" / "seed-0" / "metrics.json").exists()
    assert not (project / "results" / "ok" / "seed-0" / "failed.json").exists()
    # the notebook never started: no failure recorded, only what the worker printed, staged
    assert not (project / "results" / "bad" / "seed-0").exists()
    staged = next((project / "results" / "bad").glob(".seed-0.staging-*"))
    assert [p.name for p in staged.rglob("*") if p.is_file()] == ["run.log"]


@pytest.mark.slow
def test_a_cell_over_the_timeout_fails_and_keeps_the_notebook(project, kernel):
    write_notebook(project / "notebooks" / "slow.ipynb", "import time; time.sleep(30)")
    summary = run_models(["slow"], timeout=1, progress=False)
    assert summary.failed[0].error.startswith("CellTimeoutError")
    assert (project / "results" / "slow" / "seed-0" / "slow.ipynb").exists()
    assert read_json(project / "results" / "slow" / "seed-0" / "failed.json")["notebook"]


@pytest.mark.slow
def test_a_notebook_that_writes_no_metrics_fails(project, kernel):
    write_notebook(project / "notebooks" / "quiet.ipynb", VALIDATE)
    summary = run_models(["quiet"], progress=False)
    assert "sem gravar" in summary.failed[0].error


@pytest.mark.slow
def test_run_command_reads_params_file_then_overrides(project, kernel, capsys):
    (project / "params.yaml").write_text("epochs: 4\nlearning_rate: 1e-2\nseed: 3\n")
    write_names_tree(project / "001")  # checked before anything runs
    argv = [
        "-q",
        "run",
        "ok",
        "-f",
        "params.yaml",
        "-p",
        "epochs",
        "5",
        "-p",
        "data_root",
        "001",
        "-p",
        "width",
        "0.5",
        "--results",
        "out",
    ]
    assert main(argv) == 0
    parameters = read_json(project / "out" / "ok" / "seed-3" / "metrics.json")["parameters"]
    assert parameters["epochs"] == 5 and parameters["learning_rate"] == 0.01
    assert parameters["seed"] == 3 and parameters["width"] == 0.5
    assert parameters["data_root"] == "001"  # text parameters keep their text
    assert parameters["results_dir"] == "out"
    assert "0 falharam" in capsys.readouterr().out
    summary = (project / "out" / "summary.csv").read_text().splitlines()
    assert summary[0].startswith("model,status,seeds,miou_mean")
    assert summary[1].startswith("ok,ok,1,0.5,")
    assert ",5,64,64,," in summary[1]  # epochs and the size as integers, not 5.0
    by_run = (project / "out" / "summary.csv").read_bytes()
    assert main(["-q", "report", "--results", "out", "--out", "report", "--no-pdf"]) == 0
    assert (project / "out" / "summary.csv").read_bytes() == by_run  # one writer, same bytes
    assert capsys.readouterr().out.splitlines() == [  # one line per file the user opens
        # (summary.csv, unchanged, was listed by urbanseg run)
        f"gravado: 1 notebook executado (HTML) em {Path('report') / 'notebooks'}",
        f"gravado: {Path('report') / 'relatorio.html'}",
    ]


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"epoch": 3}, "parâmetro(s) desconhecido(s) epoch; válidos: data_root"),
        ({"image_height": 100}, "image_height=100"),
        ({"epochs": "many"}, "epochs='many'"),
    ],
)
def test_bad_parameters_fail_before_anything_runs(project, parameters, message):
    with pytest.raises(InputError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        run_models(parameters=parameters, progress=False)
    assert not (project / "results").exists()


def test_unknown_model_lists_the_notebooks(project):
    with pytest.raises(InputError, match=r"modelo\(s\) desconhecido\(s\) fcn; .*bad, ok"):
        run_models(["ok", "fcn"], progress=False)
    assert not (project / "results").exists()


def test_bad_notebook_parameters_cell_names_the_notebook(project):
    defaults = dict(NOTEBOOK_DEFAULTS)
    del defaults["width"]
    write_notebook(project / "notebooks" / "missing.ipynb", defaults=defaults)
    with pytest.raises(InputError, match="missing.ipynb: a célula de parâmetros não tem width"):
        run_models(["missing"])
    write_notebook(project / "notebooks" / "extra.ipynb", defaults={**NOTEBOOK_DEFAULTS, "lr": 1})
    with pytest.raises(InputError, match=r"extra.ipynb: .*parâmetro\(s\) desconhecido\(s\) lr"):
        run_models(["extra"])
    notebook = nbformat.read(project / "notebooks" / "ok.ipynb", as_version=4)
    notebook.cells[1].source += "\ndata_root = os.environ['DATA']"
    nbformat.write(notebook, project / "notebooks" / "env.ipynb")
    with pytest.raises(InputError, match="env.ipynb: .*data_root deve ser um literal"):
        notebook_defaults(project / "notebooks" / "env.ipynb")
    assert not (project / "results").exists()


def test_discover_notebooks_in_canonical_order(tmp_path):
    for name in ("zeta", "pspnet", "alpha", "unet", "_template", "deeplab", "fcn", "segnet"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    assert list(discover_notebooks(tmp_path)) == [
        "unet",
        "segnet",
        "fcn",
        "deeplab",
        "pspnet",
        "alpha",
        "zeta",
    ]
    assert discover_notebooks(tmp_path)["unet"] == tmp_path / "unet.ipynb"
    with pytest.raises(InputError, match="nowhere: pasta de notebooks não encontrada"):
        discover_notebooks(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: nenhum notebook de modelo"):
        run_models(notebooks_dir=tmp_path / "empty")


def test_summary_format_and_exit_code():
    from urbanseg.runner import ModelRun, RunSummary

    summary = RunSummary([ModelRun("unet", "ok", 12.34), ModelRun("fcn", "skipped")])
    assert summary.exit_code == 0
    lines = summary.format().splitlines()
    assert lines[0].split() == ["modelo", "semente", "status", "segundos", "erro"]
    assert lines[1].split() == ["unet", "0", "ok", "12.3"]
    assert lines[2].split() == ["fcn", "0", "pulado", "-"]
    assert lines[-1] == "1 executado, 1 pulado, 0 falharam"
    assert set(parameter_names()) == set(NOTEBOOK_DEFAULTS)


@pytest.mark.slow
def test_the_terminal_gets_a_line_per_run_and_its_progress_not_the_notebook(
    project, kernel, capsys, caplog
):
    # the notebook reports progress as a training notebook does (urbanseg.progress)
    write_notebook(
        project / "notebooks" / "steps.ipynb",
        VALIDATE,
        "from urbanseg.progress import report_progress\n"
        "import time\n"
        "for step in range(1, 5):\n"
        "    report_progress(force=True, done=step, total=4, epoch=1, epochs=1, loss=0.5)\n"
        "    time.sleep(0.4)\n"
        "print('a line only run.log should get')",
        WRITE_METRICS.format(model="steps"),
    )
    caplog.set_level(logging.INFO, logger="urbanseg.runner")
    summary = run_models(["steps", "ok"], progress=True)
    assert summary.exit_code == 0
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "[1/2] steps (semente 0): executando"
    assert lines[1].startswith("[1/2] steps (semente 0): ok em ")
    assert lines[2].startswith("[2/2] ok (semente 0): executando, cerca de ")
    assert lines[2].endswith(" restantes no total")
    terminal = capsys.readouterr()
    shown = terminal.out + terminal.err
    assert "a line only run.log should get" not in shown and "Executing Cell" not in shown
    assert "\r" not in shown  # not a terminal here: whole lines, no carriage returns
    assert "steps (semente 0): 0passo" in shown  # its bar, a line now and then
    log = (project / "results" / "steps" / "seed-0" / "run.log").read_text()
    assert "a line only run.log should get" in log
    assert not (project / "results" / "steps" / "seed-0" / ".progress.json").exists()


def test_the_bar_says_how_far_training_is():
    from urbanseg.console import _progress_text

    found = {"done": 10, "total": 40, "epoch": 2, "epochs": 4, "loss": 0.51234, "val_miou": 0.2}
    assert _progress_text(found) == "época 2/4, perda 0.512, mIoU val 0.200"
    assert _progress_text({"done": 1, "total": 4}) == ""


def test_the_bar_says_what_follows_training(tmp_path, monkeypatch):
    from urbanseg.console import _progress_text
    from urbanseg.progress import PROGRESS_VARIABLE, read_progress, report_progress, report_stage

    path = tmp_path / ".progress.json"
    monkeypatch.setenv(PROGRESS_VARIABLE, str(path))
    report_progress(force=True, done=4, total=4, epoch=1, epochs=1, loss=0.5, val_miou=0.25)
    report_stage("medindo a velocidade")
    found = read_progress(path)
    assert found["done"] == found["total"] == 4  # the step counts stay
    assert _progress_text(found) == "medindo a velocidade, época 1/1, perda 0.500, mIoU val 0.250"
    report_stage(None)
    assert _progress_text(read_progress(path)) == "época 1/1, perda 0.500, mIoU val 0.250"
