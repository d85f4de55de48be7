"""urbanseg run --cluster: a real Dask scheduler and two workers, each a process of its own on
loopback addresses, running the runner's fixture notebooks without a shared results folder;
and the Slurm job script dask-jobqueue writes from a --cluster-config file."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from urbanseg.errors import InputError
from urbanseg.runner import run_models

pytest.importorskip("distributed")
from test_runner import VALIDATE, write_notebook

# A stand-in for training: seed-dependent numbers, a model file and a figure, written the way a
# model notebook writes its record (metrics.json last).
TRAIN = """\
import numpy as np, time
model = {model!r}
time.sleep(float(os.environ.get("URBANSEG_TEST_SLEEP", "0")))
rng = np.random.default_rng([config.seed, len(model)])
folder = pathlib.Path(config.results_dir) / model / f"seed-{{config.seed}}"
(folder / "figures").mkdir(parents=True, exist_ok=True)
(folder / "figures" / "curve.txt").write_text(" ".join(f"{{x:.6f}}" for x in rng.random(5)))
(folder / "model.keras").write_bytes(rng.bytes(2048))
metrics = {{"model": model, "status": "ok", "digest": config.digest(model),
           "metrics": {{"miou": float(rng.random()), "pixel_accuracy": float(rng.random())}},
           "parameters": config.to_dict(), "cwd": os.getcwd()}}
(folder / "metrics.json").write_text(json.dumps(metrics))"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    for model in ("alpha", "beta"):
        write_notebook(
            tmp_path / "notebooks" / f"{model}.ipynb", VALIDATE, TRAIN.format(model=model)
        )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _start(args, folder, log, sleep=0):
    with open(folder / log, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=folder,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "URBANSEG_TEST_SLEEP": str(sleep)},  # the kernels inherit it
        )


@pytest.fixture
def dask_cluster(request, tmp_path_factory):
    """A scheduler and two single-thread workers, separate processes, in folders of their own
    (no nanny: a killed worker stays dead); ``request.param``: seconds each notebook sleeps.
    Yields (address, worker processes)."""
    sleep = getattr(request, "param", 0)
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    processes = [
        _start(
            [
                "distributed.cli.dask_scheduler",
                "--host=127.0.0.1",
                "--port=0",
                "--no-dashboard",
                f"--scheduler-file={scheduler_file}",
            ],
            folder,
            "scheduler.log",
        )
    ]
    try:
        _wait(lambda: scheduler_file.is_file(), "the scheduler")
        workers = []
        for number in range(2):
            home = folder / f"worker-{number}"
            home.mkdir()
            workers.append(
                _start(
                    [
                        "distributed.cli.dask_worker",
                        f"--scheduler-file={scheduler_file}",
                        "--host=127.0.0.1",
                        "--nthreads=1",
                        "--no-nanny",
                        "--no-dashboard",
                        f"--local-directory={home}",
                    ],
                    home,
                    "worker.log",
                    sleep,
                )
            )
        processes += workers
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in processes:
            process.kill()
            process.wait()


def _wait(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start in {timeout} s")
        time.sleep(0.2)


def _records(results):
    found = {}
    for path in sorted(Path(results).glob("*/seed-*/metrics.json")):
        found[path.parent.relative_to(results).as_posix()] = json.loads(path.read_text())
    return found


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


@pytest.mark.slow
def test_cluster_runs_equal_local_runs_without_a_shared_folder(project, dask_cluster, caplog):
    address, _ = dask_cluster
    local = run_models(["alpha", "beta"], seeds=[0, 1], results_dir="local", progress=False)
    assert local.exit_code == 0, local.format()
    with caplog.at_level("INFO", logger="urbanseg.runner"):
        remote = run_models(
            ["alpha", "beta"], seeds=[0, 1], results_dir="remote", progress=False, cluster=address
        )
    assert remote.exit_code == 0, remote.format()
    assert [(run.model, run.seed, run.status) for run in remote.runs] == [
        ("alpha", 0, "ok"),
        ("alpha", 1, "ok"),
        ("beta", 0, "ok"),
        ("beta", 1, "ok"),
    ]
    here, there = _records(project / "local"), _records(project / "remote")
    assert list(here) == ["alpha/seed-0", "alpha/seed-1", "beta/seed-0", "beta/seed-1"]
    assert list(there) == list(here)
    for name in here:
        assert there[name]["metrics"] == here[name]["metrics"]
        assert there[name]["digest"] == here[name]["digest"]
        # Executed in the worker's scratch folder, not in this project: nothing was shared.
        assert not there[name]["cwd"].startswith(str(project))
        assert _files(project / "remote" / name) == _files(project / "local" / name)
        model = "model.keras"
        assert (project / "remote" / name / model).read_bytes() == (
            project / "local" / name / model
        ).read_bytes()
    assert here["alpha/seed-0"]["metrics"] != here["alpha/seed-1"]["metrics"]  # seeds matter
    # The executed notebook names this project's folder, not the worker's scratch.
    notebook = json.loads((project / "remote/beta/seed-1/beta.ipynb").read_text())
    assert notebook["metadata"]["papermill"]["output_path"] == "remote/beta/seed-1/beta.ipynb"
    lines = [record.getMessage() for record in caplog.records]
    assert any("executando em tcp://127.0.0.1:" in line for line in lines), lines
    # Complete runs are skipped by digest before anything is submitted.
    again = run_models(
        ["alpha"], seeds=[0, 1], results_dir="remote", progress=False, cluster=address
    )
    assert [run.status for run in again.runs] == ["skipped", "skipped"]
    # Nothing half-installed is left beside the runs.
    assert not list((project / "remote").rglob(".seed-*"))


@pytest.mark.slow
@pytest.mark.parametrize("dask_cluster", [4], indirect=True)  # time to kill a worker mid-run
def test_a_killed_worker_is_retried_and_the_other_runs_finish(project, dask_cluster, caplog):
    address, workers = dask_cluster
    from distributed import Client

    outcome = {}

    def run():
        outcome["summary"] = run_models(
            ["alpha", "beta"], seeds=[0], results_dir="remote", progress=False, cluster=address
        )

    thread = threading.Thread(target=run)
    caplog.set_level("INFO", logger="urbanseg.runner")
    thread.start()
    with Client(address, timeout="30s") as client:
        _wait(lambda: any(client.processing().values()), "a run", timeout=120)
        pids = client.run(os.getpid)
        busy = next(worker for worker, keys in client.processing().items() if keys)
        time.sleep(1.5)  # the notebook is running now
        os.kill(pids[busy], signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert sum(worker.poll() is not None for worker in workers) == 1  # one was killed
    summary = outcome["summary"]
    assert {run.model for run in summary.runs} == {"alpha", "beta"}
    # The lost run went to the surviving worker (or is recorded as failed); the other finished.
    statuses = sorted(run.status for run in summary.runs)
    assert statuses in (["ok", "ok"], ["failed", "ok"]), summary.format()
    lines = [record.getMessage() for record in caplog.records]
    moved = [line for line in lines if "caiu; executando de novo em tcp://127.0.0.1:" in line]
    resent = [line for line in lines if "enviada de novo" in line]
    assert moved or resent or statuses == ["failed", "ok"], lines
    for run in summary.runs:
        folder = project / "remote" / run.model / "seed-0"
        if run.status == "ok":
            assert json.loads((folder / "metrics.json").read_text())["status"] == "ok"
        else:
            assert "perdida no cluster" in run.error
            assert (folder / "failed.json").is_file()


def test_slurm_job_script_from_the_documented_config(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from urbanseg.cluster import jobqueue_cluster, load_cluster_config

    config = tmp_path / "cluster.yaml"
    config.write_text(
        "queue: gpu\n"
        "account: lab42\n"
        'walltime: "06:00:00"\n'
        "cores: 8\n"
        "memory: 64GB\n"
        "gpus: 2\n"
        "prologue:\n"
        "  - module load cuda/12.4\n"
        "  - source ~/urbanseg/.venv/bin/activate\n"
        "python: python3\n"
    )
    cluster = jobqueue_cluster("slurm", load_cluster_config(config))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    for expected in (
        "#SBATCH -J urbanseg",
        "#SBATCH -p gpu",
        "#SBATCH -A lab42",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=60G",
        "#SBATCH -t 06:00:00",
        "#SBATCH --gres=gpu:2",
        "module load cuda/12.4",
        "source ~/urbanseg/.venv/bin/activate",
    ):
        assert expected in lines, f"{expected!r} not in:\n{script}"
    worker = next(line for line in lines if "distributed.cli.dask_worker" in line)
    assert worker.startswith("python3 -m distributed.cli.dask_worker")
    assert "--resources GPU=1" in worker  # one run at a time per job
    assert "--nthreads 8" in worker


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gpus: two\n", "gpus='two': esperado int"),
        ("queues: gpu\n", "chave desconhecida 'queues'"),
        ("cores: 0\n", "cores=0: deve ser positivo"),
        ("prologue: module load cuda\n", "prologue='module load cuda': esperado list"),
        ("- gpu\n", "esperado um mapeamento"),
    ],
)
def test_a_bad_cluster_config_is_one_line_naming_the_file(tmp_path, text, message):
    from urbanseg.cluster import load_cluster_config

    config = tmp_path / "cluster.yaml"
    config.write_text(text)
    with pytest.raises(InputError) as error:
        load_cluster_config(config)
    assert str(error.value).startswith(f"{config}: ")
    assert message in str(error.value)


def test_without_dask_the_message_says_what_to_install(monkeypatch):
    from urbanseg.cluster import require_dask

    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(InputError, match=r"pip install 'urbanseg\[cluster\]'"):
        require_dask()


def test_a_bad_cluster_target_is_refused_before_anything_runs():
    from urbanseg.cluster import connect

    with pytest.raises(InputError, match="--cluster slurmm: esperado um endereço tcp://"):
        connect("slurmm", None, runs=1)
