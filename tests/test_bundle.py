"""urbanseg bundle and verify: a study in one zip, and every change to it found by name."""

import json
import zipfile

import pytest
from fakes import make_results

from urbanseg.bundle import MANIFEST, fingerprint, make_bundle, verify_bundle
from urbanseg.cli import main
from urbanseg.errors import InputError


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from urbanseg.report import render_report

    base = tmp_path_factory.mktemp("study")
    results, data_root = make_results(base, seeds=(0, 1))
    report = base / "report"
    render_report(results, report, pdf=False)
    (report / "relatorio.pdf").write_bytes(b"%PDF-1.7 the report as printed")
    (results / "study.yaml").write_text("author: Ana Souza\ngroup: G3\n")
    return results, report, data_root


def rewrite(bundle, out, name, change):
    """A copy of ``bundle`` with the member ``name`` changed by ``change(bytes) -> bytes``."""
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, change(data) if item.filename == name else data)
    return out


def test_a_bundle_carries_the_study_and_verifies(study, tmp_path, capsys):
    results, report, data_root = study
    path, manifest = make_bundle(results, report, tmp_path / "sub.zip")
    names = set(zipfile.ZipFile(path).namelist())
    assert {"report/relatorio.html", "report/relatorio.pdf", "results/summary.csv"} <= names
    assert "results/unet/seed-1/confusion_per_image.npz" in names
    assert "results/unet/seed-1/unet.ipynb" in names and MANIFEST in names
    assert not any("pspnet" in name for name in names)  # the failed run is not a result
    assert manifest["author"] == "Ana Souza" and manifest["group"] == "G3"
    assert len(manifest["runs"]) == 6 and set(manifest["files"]) == names - {MANIFEST}
    assert {run["data_fingerprint"] for run in manifest["runs"]} == {fingerprint(data_root)}

    assert main(["verify", str(path), "--expect-fingerprint", fingerprint(data_root)]) == 0
    out = capsys.readouterr().out
    assert "6 registros de resultados conferem" in out and "a tabela do relatório mostra" in out
    assert out.rstrip().endswith("sub.zip: verificado")


def test_tampering_is_named_file_by_file(study, tmp_path):
    results, report, _ = study
    bundle, _ = make_bundle(results, report, tmp_path / "sub.zip")
    record = "results/fcn/seed-0/metrics.json"

    def better(data):
        document = json.loads(data)
        document["metrics"]["miou"] += 0.05
        return json.dumps(document).encode()

    changed = verify_bundle(rewrite(bundle, tmp_path / "a.zip", record, better))
    assert changed.problems == [
        f"{record}: alterado desde que o pacote foi gerado (SHA-256 difere)"
    ]
    pdf = verify_bundle(
        rewrite(bundle, tmp_path / "b.zip", "report/relatorio.pdf", lambda d: d + b" edited")
    )
    assert pdf.problems == [
        "report/relatorio.pdf: alterado desde que o pacote foi gerado (SHA-256 difere)"
    ]


def test_a_record_rewritten_with_its_hash_still_disagrees_with_its_matrices(study, tmp_path):
    """A student who edits a record and its manifest hash is caught by the matrices."""
    import hashlib

    results, report, _ = study
    bundle, _ = make_bundle(results, report, tmp_path / "sub.zip")
    record = "results/deeplab/seed-1/metrics.json"
    with zipfile.ZipFile(bundle) as archive:
        document = json.loads(archive.read(record))
        manifest = json.loads(archive.read(MANIFEST))
    document["metrics"]["miou"] += 0.05
    edited = json.dumps(document).encode()
    manifest["files"][record] = hashlib.sha256(edited).hexdigest()
    forged = rewrite(bundle, tmp_path / "f.zip", record, lambda _: edited)
    forged = rewrite(forged, tmp_path / "g.zip", MANIFEST, lambda _: json.dumps(manifest).encode())
    problems = verify_bundle(forged).problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{record}: mIoU ") and "mas suas matrizes dão" in problems[0]
    assert problems[1].startswith("report/relatorio.html: a tabela de resultados diverge: deeplab")


def test_the_wrong_data_set_and_a_bad_file(study, tmp_path, capsys):
    results, report, _ = study
    bundle, _ = make_bundle(results, report, tmp_path / "sub.zip")
    wrong = verify_bundle(bundle, expect_fingerprint="0" * 64)
    assert wrong.problems[0].startswith(f"{MANIFEST}: impressão digital dos dados ")
    (tmp_path / "junk.zip").write_text("not a zip")
    assert main(["verify", str(tmp_path / "junk.zip")]) == 2
    assert "junk.zip: não é um zip legível" in capsys.readouterr().err
    with pytest.raises(InputError, match="nenhuma execução concluída para empacotar"):
        make_bundle(tmp_path / "nothing", report, tmp_path / "x.zip")


@pytest.mark.slow
def test_a_rerun_reproduces_a_real_study_and_catches_an_edited_score(tmp_path, monkeypatch):
    from pathlib import Path

    from urbanseg.grading import rerun_bundle
    from urbanseg.report import render_report
    from urbanseg.runner import run_models
    from urbanseg.synth import generate

    repo = Path(__file__).resolve().parents[1]
    data_root = tmp_path / "cityscapes"
    generate(data_root, train=4, val=2, test=0, size=(64, 128), seed=3, progress=False)
    monkeypatch.chdir(tmp_path)
    parameters = {"data_root": str(data_root), "image_height": 64, "image_width": 128}
    parameters.update(epochs=1, batch_size=2, width=0.125)
    summary = run_models(
        ["fcn"], notebooks_dir=repo / "notebooks", parameters=parameters, progress=False
    )
    assert summary.exit_code == 0, summary.format()
    render_report("results", "report", pdf=False)
    bundle, _ = make_bundle("results", "report", tmp_path / "sub.zip")

    again = rerun_bundle(bundle, root=data_root, work=tmp_path / "again", progress=False)
    assert again.ok, again.format()
    assert again.compared[0].startswith("fcn (semente 0): mIoU ")

    record = "results/fcn/seed-0/metrics.json"

    def claimed_better(data):
        document = json.loads(data)
        document["metrics"]["miou"] += 0.1
        return json.dumps(document).encode()

    edited = rewrite(bundle, tmp_path / "edited.zip", record, claimed_better)
    moved = rerun_bundle(edited, work=tmp_path / "edited", progress=False)
    (difference,) = moved.differences
    assert difference.startswith("fcn (semente 0): miou ") and "(tolerância 0.005)" in difference


@pytest.mark.slow
def test_a_leaderboard_ranks_bundles_on_labels_only_the_teacher_has(tmp_path, monkeypatch):
    import csv
    import shutil
    from pathlib import Path

    from urbanseg.report import render_report
    from urbanseg.runner import run_models
    from urbanseg.synth import generate

    repo = Path(__file__).resolve().parents[1]
    teacher = tmp_path / "teacher"  # every label, the held-out split's included
    generate(teacher, train=7, val=2, test=0, size=(64, 128), seed=4, progress=False)
    images = sorted((teacher / "leftImg8bit" / "train").rglob("*.png"))
    for stem in [path.name.split("_leftImg8bit")[0] for path in images[:3]]:
        for file in teacher.glob(f"*/train/*/{stem}_*"):  # three frames become split "heldout"
            kind, city = file.parents[2].name, file.parent.name
            (teacher / kind / "heldout" / city).mkdir(parents=True, exist_ok=True)
            file.rename(teacher / kind / "heldout" / city / file.name)
    student = tmp_path / "student"  # the same images, without the held-out labels
    shutil.copytree(teacher, student)
    shutil.rmtree(student / "gtFine" / "heldout")
    monkeypatch.chdir(tmp_path)
    parameters = {"data_root": str(student), "image_height": 64, "image_width": 128}
    parameters.update(epochs=1, batch_size=2, width=0.125)
    summary = run_models(
        ["fcn", "unet"], notebooks_dir=repo / "notebooks", parameters=parameters, progress=False
    )
    assert summary.exit_code == 0, summary.format()
    render_report("results", "report", pdf=False)
    first, _ = make_bundle("results", "report", "a.zip", predict="heldout", progress=False)
    make_bundle(
        "results", "report", "b.zip", identity={"author": "Bia"}, predict="heldout", progress=False
    )
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
    assert sum(n.startswith("predictions/fcn/seed-0/") for n in names) == 3
    dropped = next(n for n in names if n.startswith("predictions/unet/seed-0/"))
    with zipfile.ZipFile(first) as source, zipfile.ZipFile("c.zip", "w") as broken:
        for item in source.infolist():
            if item.filename != dropped:  # one prediction missing
                broken.writestr(item, source.read(item))

    assert main(["leaderboard", "a.zip", "b.zip", "c.zip", "--gt", str(teacher),
                 "--split", "heldout", "-o", "board.html"]) == 0  # fmt: skip
    with open("board.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    ranked = [row for row in rows if row["rank"]]
    assert [row["rank"] for row in ranked] == ["1", "2", "3", "4"]
    assert {(row["bundle"], row["model"]) for row in ranked} == {
        ("a.zip", "fcn"), ("a.zip", "unet"), ("b.zip", "fcn"), ("b.zip", "unet")
    }  # fmt: skip
    means = [float(row["miou_mean"]) for row in ranked]
    assert means == sorted(means, reverse=True) and all(0 <= m <= 1 for m in means)
    assert {row["author"] for row in ranked if row["bundle"] == "b.zip"} == {"Bia"}
    assert all(row["verification"] == "verificado" for row in ranked)
    (marked,) = [row for row in rows if not row["rank"]]
    assert marked["bundle"] == "c.zip" and marked["verification"] == "não pontuado"
    assert "sem predição para 1 imagem(ns)" in marked["error"]
    assert "Classificação no split heldout" in Path("board.html").read_text(encoding="utf-8")
