"""Issue 12's chain in one go, as a student and then a teacher live it: a sixth model from the
template, validated, the six run (tiny), the report with the author, the bundle, its
verification, tampering found by name, and a rerun with equal metrics."""

import json
import zipfile

import pytest

from urbanseg.bundle import make_bundle, verify_bundle
from urbanseg.grading import rerun_bundle
from urbanseg.notebooks import new_model
from urbanseg.report import render_report
from urbanseg.runner import run_models
from urbanseg.synth import generate
from urbanseg.validate import validate_notebook

TINY = {"image_height": 64, "image_width": 128, "epochs": 1, "batch_size": 2, "width": 0.125}


@pytest.mark.slow
def test_a_student_submits_six_models_and_a_teacher_checks_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_root = tmp_path / "cityscapes"
    generate(data_root, train=4, val=2, test=0, size=(64, 128), seed=5, progress=False)

    notebook = new_model("mine", "notebooks")  # the study's five come with it
    assert validate_notebook(notebook).ok
    parameters = {**TINY, "data_root": str(data_root)}
    summary = run_models(notebooks_dir="notebooks", parameters=parameters, jobs=2, progress=False)
    assert summary.exit_code == 0, summary.format()
    assert [run.model for run in summary.ran] == [
        "unet",
        "segnet",
        "fcn",
        "deeplab",
        "pspnet",
        "mine",
    ]
    written = render_report("results", "report", identity={"author": "Ana Souza"})
    assert "Ana Souza" in written["html"].read_text(encoding="utf-8")

    bundle, manifest = make_bundle(
        "results", "report", "submission.zip", identity={"author": "Ana Souza"}
    )
    assert manifest["author"] == "Ana Souza" and len(manifest["runs"]) == 6
    assert verify_bundle(bundle).ok

    def tampered(name, change):
        out = tmp_path / f"tampered-{name.replace('/', '-')}.zip"
        with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w") as target:
            for item in source.infolist():
                data = source.read(item)
                target.writestr(item, change(data) if item.filename == name else data)
        return verify_bundle(out).problems

    record = "results/mine/seed-0/metrics.json"

    def inflated(data):
        document = json.loads(data)
        document["metrics"]["miou"] = 0.9
        return json.dumps(document).encode()

    assert tampered(record, inflated)[0].startswith(f"{record}: alterado")
    pdf = "report/relatorio.pdf"
    assert tampered(pdf, lambda data: data[:-10])[0].startswith(f"{pdf}: alterado")

    again = rerun_bundle(bundle, work=tmp_path / "teacher", progress=False)
    assert again.ok, again.format()
    assert len(again.compared) == 6
