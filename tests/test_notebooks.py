"""End to end: a model notebook executed by papermill, then the report rendered from it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import pdf_page_count

from urbanseg.cli import main
from urbanseg.report import render_report
from urbanseg.runner import run_models
from urbanseg.synth import generate

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_notebook_runs_and_report_renders(tmp_path):
    data_root = tmp_path / "cityscapes"
    generate(data_root, train=8, val=4, test=0, size=(64, 128), seed=1, progress=False)
    results = tmp_path / "results"
    parameters = {
        "data_root": str(data_root),
        "image_height": 64,
        "image_width": 128,
        "epochs": 1,
        "batch_size": 4,
        "width": 0.125,
    }
    summary = run_models(
        ["fcn"],
        notebooks_dir=REPO / "notebooks",
        results_dir=results,
        parameters=parameters,
        progress=False,
    )
    assert summary.exit_code == 0, summary.format()

    run = results / "fcn" / "seed-0"
    record = json.loads((run / "metrics.json").read_text())
    assert record["status"] == "ok" and record["model"] == "fcn"
    assert record["parameters"]["epochs"] == 1 and record["parameters"]["width"] == 0.125
    assert record["metrics"]["num_images"] == 4
    assert record["evaluation"] == {
        "split": "val",
        "protocol": "full",
        "resolution": [64, 128],
        "input_scale": 1.0,
        "mode": "resize",
        "overlap": None,
    }
    assert record["training"]["selection"] == "last" and record["training"]["best_epoch"] == 1
    assert (run / "confusion_per_image.npz").is_file()
    assert 0 <= record["metrics"]["miou"] <= 1 and record["params"] > 0 and record["flops"] > 0
    assert len(record["metrics"]["confusion_matrix"]) == 19
    assert record["baseline"]["class"] == max(
        record["data"]["class_pixel_fraction"], key=record["data"]["class_pixel_fraction"].get
    )
    assert 0 < record["baseline"]["miou"] < record["baseline"]["pixel_accuracy"] < 1
    for name in ("curves", "per_class_iou", "confusion_matrix", "samples"):
        assert (run / "figures" / f"{name}.png").stat().st_size > 1000
    assert (run / "history.csv").read_text().count("\n") == 2
    executed = json.loads((run / "fcn.ipynb").read_text())
    images = [
        o
        for c in executed["cells"]
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert (
        len(images) == 6
    )  # class frequency, data samples, curves, per-class IoU, confusion, samples
    assert len(list((run / "samples").glob("*.png"))) == 4
    # progress bars: one display per loop, updated in place, not a chunk per redraw
    assert max(len(c.get("outputs", [])) for c in executed["cells"]) <= 20
    texts = [
        "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
        for c in executed["cells"]
        for o in c.get("outputs", [])
    ]
    assert not any("\r" in text for text in texts)
    training = [text for text in texts if "treino fcn" in text and "100%" in text]
    assert len(training) == 1 and training[0].startswith("época 1: perda ")
    assert "Executing Cell" in (run / "run.log").read_text()  # the whole output, kept

    # the same parameters again: skipped, nothing rewritten
    before = (run / "metrics.json").stat().st_mtime_ns
    again = run_models(
        ["fcn"],
        notebooks_dir=REPO / "notebooks",
        results_dir=results,
        parameters=parameters,
        progress=False,
    )
    assert [r.model for r in again.skipped] == ["fcn"]
    assert (run / "metrics.json").stat().st_mtime_ns == before

    # official-format predictions of the saved model, scored by `urbanseg evaluate`: the same
    # numbers as the notebook's own evaluation (same resize, same upsampling, same matrix)
    predictions = tmp_path / "predictions"
    # in a fresh interpreter, as a user runs it: nothing imported beforehand registers the
    # models' custom layers for keras.saving.load_model
    command = [
        sys.executable,
        "-m",
        "urbanseg.cli",
        "-q",
        "predict",
        str(run),
        "--root",
        str(data_root),
        "--split",
        "val",
        "--out",
        str(predictions),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(list(predictions.glob("*_labelIds.png"))) == 4
    scored = tmp_path / "scored.json"
    assert (
        main(
            [
                "-q",
                "evaluate",
                "--root",
                str(data_root),
                "--pred",
                str(predictions),
                "--json",
                str(scored),
            ]
        )
        == 0
    )
    official = json.loads(scored.read_text())
    assert official["miou"] == pytest.approx(record["metrics"]["miou"], abs=1e-9)
    assert official["confusion_matrix"] == record["metrics"]["confusion_matrix"]

    paths = render_report(results, tmp_path / "report", lang="pt", pdf=True)
    html = paths["html"].read_text()
    headings = [
        h.get_text(" ", strip=True)
        for h in BeautifulSoup(html, "html.parser").find_all("h2")
        if h.get("id")
    ]
    assert headings == [
        "1 Resumo",
        "2 Dados",
        "3 Metodologia",
        "4 Resultados",
        "5 Discussão",
        "6 Reprodutibilidade",
        "7 Anexos",
    ]
    assert "FCN-8s" in html and "prever sempre a classe mais frequente" in html
    assert f"{record['metrics']['miou'] * 100:.1f}".replace(".", ",") in html
    pdf = paths["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF")
    assert 10 <= pdf_page_count(pdf) <= 20  # cover, contents, seven chapters on their own pages
    assert (tmp_path / "report" / "notebooks" / "fcn-seed-0.html").exists()


@pytest.mark.slow
def test_a_sixth_model_from_the_template_joins_runner_and_report(tmp_path):
    data_root = tmp_path / "cityscapes"
    generate(data_root, train=4, val=2, test=0, size=(64, 128), seed=2, progress=False)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    template = (REPO / "notebooks" / "_template.ipynb").read_text()
    (notebooks / "tiny.ipynb").write_text(template)  # copied, not edited: named by its file
    (notebooks / "_template.ipynb").write_text(template)  # templates are not models
    results = tmp_path / "results"
    summary = run_models(
        notebooks_dir=notebooks,
        results_dir=results,
        progress=False,
        parameters={
            "data_root": str(data_root),
            "image_height": 64,
            "image_width": 128,
            "epochs": 1,
            "batch_size": 2,
        },
    )
    assert [r.model for r in summary.ran] == ["tiny"], summary.format()
    record = json.loads((results / "tiny" / "seed-0" / "metrics.json").read_text())
    assert record["model_info"]["display_name"] == "Meu modelo"  # the template's model_info
    paths = render_report(results, tmp_path / "report", lang="en", pdf=False)
    html = paths["html"].read_text()
    assert "Meu modelo" in html and record["model_info"]["description"] in html
    assert "no description registered" not in html
