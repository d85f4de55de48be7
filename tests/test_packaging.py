"""The wheel is complete: built with `pip wheel --no-deps .` and installed (not editable) into a
fresh virtual environment, urbanseg renders a report and copies its notebooks out, reading
templates, locale files and notebooks from the package, not from this checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from fakes import make_results

REPO = Path(__file__).resolve().parent.parent


def run(*command, cwd=None, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode:
        raise AssertionError(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, REPO)
    (built,) = dist.glob("urbanseg-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_the_templates_locales_and_notebooks(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "urbanseg/py.typed",
        "urbanseg/report/render.py",
        *(
            f"urbanseg/templates/{path.relative_to(REPO / 'templates')}"
            for path in (REPO / "templates").rglob("*")
            if path.is_file()
        ),
        *(f"urbanseg/notebooks/{path.name}" for path in (REPO / "notebooks").glob("*.ipynb")),
        "urbanseg/studies/paper.yaml",
    }
    assert "urbanseg/templates/locales/pt.yaml" in expected  # the glob found the locale files
    assert expected <= names, sorted(expected - names)
    assert not any(name.startswith(("tests/", "lib/")) for name in names)


@pytest.mark.slow
def test_an_installed_wheel_renders_a_report_and_copies_the_notebooks(wheel, tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    # The dependencies come from this environment (nothing is downloaded); a path added by a
    # .pth file has its own .pth files ignored, so this checkout's editable install stays out.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--quiet", wheel)

    where = run(
        python, "-c", "import urbanseg.resources as r; print(r.templates_dir())", cwd=tmp_path
    ).stdout.strip()
    assert Path(where) == site / "urbanseg" / "templates"

    results, _ = make_results(tmp_path / "study")
    urbanseg = environment / "bin" / "urbanseg"
    run(urbanseg, "-q", "report", "--results", results, "--out", tmp_path / "out", cwd=tmp_path)
    html = (tmp_path / "out" / "relatorio.html").read_text(encoding="utf-8")
    assert "DeepLabV3+" in html and "Metodologia" in html
    assert (tmp_path / "out" / "relatorio.pdf").read_bytes().startswith(b"%PDF")

    run(urbanseg, "notebooks", tmp_path / "mine", cwd=tmp_path)
    copied = sorted(path.name for path in (tmp_path / "mine").glob("*.ipynb"))
    assert copied == sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
    again = run(urbanseg, "notebooks", tmp_path / "mine", cwd=tmp_path, check=False)
    assert again.returncode == 2 and "já existe" in again.stderr

    # a tiny study with the copied notebooks, outside the checkout, as on Colab
    run(urbanseg, "synth", tmp_path / "tiny", "--train", 4, "--val", 2, "--test", 0,
        "--size", "64x128", "-q", cwd=tmp_path)  # fmt: skip
    done = run(
        urbanseg, "run", "fcn", "--notebooks", "mine", "--root", "tiny", "--results", "study2",
        "-p", "epochs", 1, "-p", "image_height", 64, "-p", "image_width", 128,
        "-p", "batch_size", 2, "-p", "width", 0.125, cwd=tmp_path,
    )  # fmt: skip
    assert "fcn (semente 0): ok" in done.stderr + done.stdout
    record = (tmp_path / "study2" / "fcn" / "seed-0" / "metrics.json").read_text()
    assert '"status": "ok"' in record
    run(urbanseg, "-q", "report", "--results", "study2", "--out", "out2", "--no-pdf", cwd=tmp_path)
    assert "FCN-8s" in (tmp_path / "out2" / "relatorio.html").read_text(encoding="utf-8")
