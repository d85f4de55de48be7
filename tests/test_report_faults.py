"""The report and the summary under odd but likely results folders (issue 13, items 9, 10, 11,
15, 19, 24): a copy of a run, malformed records, names that are not names, folders without a
record, notebooks with live HTML, outputs that cannot be written. Reports render without the PDF.
"""

from __future__ import annotations

import json
import shutil

import nbformat
import pandas as pd
import pytest
from fakes import make_results, write_json
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from urbanseg.cli import main
from urbanseg.config import load_parameters_file
from urbanseg.errors import InputError
from urbanseg.records import RunRecord
from urbanseg.report import render_report
from urbanseg.results_folder import load_records, study_identity
from urbanseg.summary import collect

bs4 = pytest.importorskip("bs4")


def _record(results, model="unet", seed=0) -> dict:
    return json.loads((results / model / f"seed-{seed}" / "metrics.json").read_text())


def _soup(written):
    return bs4.BeautifulSoup(written["html"].read_text(encoding="utf-8"), "html.parser")


# --------------------------------------------------------------------------- item 9: a copy


def test_a_copy_of_a_run_is_listed_once_and_left_out_of_the_comparison(tmp_path):
    results, _ = make_results(tmp_path, models=("unet", "fcn"), failed=(), with_data=False)
    shutil.copytree(results / "unet", results / "unet_backup")  # same model, same seed
    written = render_report(results, tmp_path / "report", pdf=False)
    summary = pd.read_csv(written["summary"]).set_index("model")
    assert summary.loc["unet", "seeds"] == 1 and summary.loc["unet", "status"] == "ok"
    runs = pd.read_csv(results / "runs.csv")
    copy = runs[runs["status"] == "duplicate"]
    assert len(copy) == 1 and "unet_backup" in copy["error"].iloc[0]
    skipped = _soup(written).select("ul.skipped li")
    assert [li["data-status"] for li in skipped] == ["duplicate"]
    assert "unet_backup" in skipped[0].get_text()
    # one annex per run compared, named after its folder: the copy overwrites nothing
    assert sorted(p.name for p in (tmp_path / "report" / "notebooks").iterdir()) == [
        "fcn-seed-0.html",
        "unet-seed-0.html",
    ]


# --------------------------------------------------------------------------- item 10: bad files


def _bad_records(results) -> dict[str, str]:
    """folder name -> metrics.json text, each malformed in one way."""
    good = _record(results)
    return {
        "truncated": '{"model": "truncated", "metrics": {',
        "wrong_types": json.dumps(
            {**good, "model": "wrong_types", "metrics": {**good["metrics"], "miou": "high"}}
        ),
        "per_class_list": json.dumps(
            {**good, "model": "per_class_list", "metrics": {**good["metrics"], "iou": [1, 2]}}
        ),
        "zero_speed": json.dumps(
            {
                **good,
                "model": "zero_speed",
                "timing": {**good["timing"], "inference_images_per_second": 0},
            }
        ),
        "long_name": json.dumps({**good, "model": "n" * 300}),
        "ragged_matrix": json.dumps(
            {
                **good,
                "model": "ragged_matrix",
                "metrics": {**good["metrics"], "confusion_matrix": [[1, 2], [3]]},
            }
        ),
        "parameters_list": json.dumps({**good, "model": "parameters_list", "parameters": [1]}),
        "bad_context": json.dumps(
            {**good, "model": "bad_context", "context": {"module": "aspp", "feature_map": 5}}
        ),
    }


def test_every_kind_of_malformed_record_is_a_failed_run_naming_its_file(tmp_path):
    results, _ = make_results(tmp_path, models=("unet",), failed=(), with_data=False)
    bad = _bad_records(results)
    for name, text in bad.items():
        (results / name / "seed-0").mkdir(parents=True)
        (results / name / "seed-0" / "metrics.json").write_text(text, encoding="utf-8")
    with pytest.raises(InputError):  # the strict reader still refuses them
        load_records(results)
    records = {r.model: r for r in load_records(results, tolerant=True)}
    assert records["unet"].ok
    for name in bad:
        record = records[name]  # named after its folder, whatever the file says
        assert record.status == "failed", name
        assert record.error.startswith(f"{results / name / 'seed-0' / 'metrics.json'}: "), name
    table = collect(results).set_index("model")
    assert table.loc["unet", "status"] == "ok"
    assert (table.drop(index="unet")["status"] == "failed").all()


def test_a_malformed_record_does_not_stop_the_report(tmp_path):
    results, _ = make_results(tmp_path, models=("unet", "fcn"), failed=(), with_data=False)
    bad = _bad_records(results)
    for name in ("truncated", "zero_speed", "ragged_matrix", "long_name"):
        (results / name / "seed-0").mkdir(parents=True)
        (results / name / "seed-0" / "metrics.json").write_text(bad[name], encoding="utf-8")
    written = render_report(results, tmp_path / "report", pdf=False)
    soup = _soup(written)
    rows = [row["data-model"] for row in soup.select("#results-table tbody tr")]
    assert rows == ["unet", "fcn"]
    boxes = {box["data-model"]: box.get_text(" ") for box in soup.select("aside.failed")}
    assert set(boxes) == {"truncated", "zero_speed", "ragged_matrix", "long_name"}
    assert str(results / "zero_speed" / "seed-0" / "metrics.json") in boxes["zero_speed"]


def test_a_model_name_with_dollar_signs_is_drawn_as_text(tmp_path):
    from urbanseg.plots._style import model_label

    results, _ = make_results(tmp_path, models=("unet", "fcn"), failed=(), with_data=False)
    odd = {**_record(results, "fcn"), "model": "a$^$b"}  # bad mathtext: Matplotlib would raise
    write_json(results / "fcn" / "seed-0" / "metrics.json", odd)
    written = render_report(results, tmp_path / "report", pdf=False)
    assert [row["data-model"] for row in _soup(written).select("#results-table tbody tr")] == [
        "unet",
        "a$^$b",
    ]
    assert model_label("a$^$b") == r"a\$^\$b"
    assert model_label("x" * 300).endswith("…") and len(model_label("x" * 300)) == 40


# --------------------------------------------------------------------------- item 11: names


def test_annex_files_are_named_after_their_folder_and_stay_in_the_report(tmp_path):
    results, _ = make_results(tmp_path, models=("unet",), failed=(), with_data=False)
    for folder, model in (("evil", "../../escaped"), ("abs", str(tmp_path / "abs_escaped"))):
        shutil.copytree(results / "unet", results / folder)
        record = {**_record(results, folder), "model": model}
        write_json(results / folder / "seed-0" / "metrics.json", record)
    odd = results / "we ird$name"  # an odd folder name: sanitised in the file name
    shutil.copytree(results / "unet", odd)
    write_json(odd / "seed-0" / "metrics.json", {**_record(results, "we ird$name"), "model": "x"})
    # a failed run whose record points at a notebook outside its folder: not followed
    outside = tmp_path / "outside.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("SECRET-OUTSIDE")]), str(outside))
    write_json(
        results / "broken" / "seed-0" / "failed.json",
        {"model": "broken", "error": "boom", "notebook": str(outside)},
    )
    out = tmp_path / "report"
    written = render_report(results, out, pdf=False)
    names = sorted(p.name for p in (out / "notebooks").iterdir())
    assert names == [
        "abs-seed-0.html",
        "evil-seed-0.html",
        "unet-seed-0.html",
        "we_ird_name-seed-0.html",
    ]
    everything = sorted(p for p in tmp_path.rglob("*.html"))
    assert all(out in p.parents for p in everything), everything
    texts = [p.read_text(encoding="utf-8") for p in everything]
    assert not any("SECRET-OUTSIDE" in text for text in texts)
    assert "notebook:we_ird_name-seed-0" in written


# --------------------------------------------------------------------------- item 19: no record


def test_a_run_folder_without_a_record_is_listed_as_incomplete(tmp_path):
    results, _ = make_results(tmp_path, models=("unet",), failed=(), with_data=False)
    (results / "unet" / "seed-1").mkdir()  # interrupted: a log, no record
    (results / "unet" / "seed-1" / "run.log").write_text("época 1\n")
    (results / "segnet").mkdir()  # started, nothing yet
    (results / ".unet.incoming-x").mkdir()  # a staging folder: not a run
    records = load_records(results, tolerant=True)
    assert [(r.model, r.seed, r.status) for r in records] == [
        ("unet", 0, "ok"),
        ("unet", 1, "incomplete"),
        ("segnet", None, "incomplete"),
    ]
    written = render_report(results, tmp_path / "report", pdf=False)
    summary = pd.read_csv(written["summary"]).set_index("model")
    assert summary.loc["unet", "status"] == "partial" and summary.loc["unet", "seeds"] == 1
    assert summary.loc["segnet", "status"] == "incomplete"
    assert "sem metrics.json nem failed.json" in summary.loc["segnet", "error"]
    soup = _soup(written)
    listed = [li.select_one(".path").get_text() for li in soup.select("ul.skipped li")]
    assert sorted(listed) == ["segnet", "unet/seed-1"]
    assert "2 pastas de resultados ficaram fora da comparação" in soup.get_text(" ")


def test_a_results_folder_with_only_unfinished_runs_is_one_line(tmp_path):
    (tmp_path / "results" / "unet" / "seed-0").mkdir(parents=True)
    with pytest.raises(InputError, match=r"nenhum resultado de modelo \(1 pasta\(s\) sem registro"):
        render_report(tmp_path / "results", tmp_path / "report", pdf=False)


# --------------------------------------------------------------------------- item 24: annexes


def _hostile_notebook(path):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    table = (
        '<div><style scoped>.dataframe td {color: red;}</style><table border="1" '
        'class="dataframe"><thead><tr style="text-align: right;"><th></th><th>miou</th></tr>'
        "</thead><tbody><tr><th>0</th><td>0.5</td></tr></tbody></table></div>"
    )
    cells = [
        new_markdown_cell("# Título\n\n<script>alert('markdown')</script> texto"),
        new_code_cell(
            "display(...)",
            execution_count=1,
            outputs=[
                new_output(
                    "display_data",
                    data={
                        "text/html": table
                        + "<script>alert('html')</script><img src=x onerror=alert('img')>"
                        + '<a href="javascript:alert(1)">link</a>',
                        "text/plain": "tabela",
                    },
                ),
                new_output("display_data", data={"application/javascript": "alert('js')"}),
                new_output(
                    "display_data", data={"text/vnd.mermaid": "</pre><script>alert('m')</script>"}
                ),
                new_output(
                    "display_data",
                    data={"image/png": png, "text/plain": "<Figure>"},
                    metadata={"image/png": {"width": "1 onerror=alert('w')"}},
                ),
            ],
        ),
    ]
    nbformat.write(new_notebook(cells=cells), str(path))


def test_exported_notebooks_keep_tables_and_images_and_nothing_live(tmp_path):
    from urbanseg.report.annex import export_notebook
    from urbanseg.report.render import jinja_environment

    notebook = tmp_path / "hostile.ipynb"
    _hostile_notebook(notebook)
    out = export_notebook(
        notebook, tmp_path / "hostile.html", jinja_environment("pt"), lang="pt", report="r.html"
    )
    soup = bs4.BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    scripts = " ".join(script.get_text() for script in soup.find_all("script"))
    assert "alert" not in scripts  # the template's own scripts only
    handlers = [tag for tag in soup.find_all(True) if any(a.startswith("on") for a in tag.attrs)]
    assert [tag.get("id") for tag in handlers] == ["urbanseg-toggle"]  # our show/hide button
    assert not soup.select('a[href^="javascript"]')
    assert soup.select_one("table.dataframe td").get_text() == "0.5"  # tables still render
    assert soup.select_one("table.dataframe th") is not None
    assert soup.select('img[src^="data:image/png;base64,"]')  # images still render
    assert any("Título" in h1.get_text() for h1 in soup.find_all("h1"))  # markdown too


# --------------------------------------------------------------------------- item 15: one line


def test_report_outputs_that_cannot_be_written_are_one_line(tmp_path, capsys):
    results, _ = make_results(tmp_path, models=("unet",), failed=(), with_data=False)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = [
        (["--results", str(a_file)], f"{a_file}: não é uma pasta"),
        (["--results", str(results), "--out", str(a_file)], f"{a_file}: não é uma pasta"),
        (
            ["--results", str(results), "--out", str(a_file / "sub")],
            f"{a_file / 'sub'}: não é possível gravar nesta pasta",
        ),
        (
            ["--results", str(results), "--out", "/proc/urbanseg-report"],
            "/proc/urbanseg-report: não é possível gravar nesta pasta",
        ),
    ]
    for arguments, message in cases:
        assert main(["report", "--no-pdf", *arguments]) == 2, arguments
        err = capsys.readouterr().err
        assert err.startswith(f"urbanseg: erro: {message}") and err.count("\n") == 1, err


def test_a_summary_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    import urbanseg.summary

    results, _ = make_results(tmp_path, models=("unet",), failed=(), with_data=False)

    def full_disk(path, payload):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(urbanseg.summary, "write_atomically", full_disk)
    with pytest.raises(InputError, match=r"runs.csv: não foi possível gravar \(No space left"):
        urbanseg.summary.write_summary(load_records(results), results)


# --------------------------------------------------------------------------- item 15: YAML keys


@pytest.mark.parametrize("text", ["1: 2\nepochs: 1\n", "null: 3\n", "epochs: 1\n2.5: x\n"])
def test_a_parameters_file_key_that_is_not_text_is_one_line(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"^{path}: o nome de parâmetro .* não é texto"):
        load_parameters_file(path)


@pytest.mark.parametrize("text", ["1: a\nauthor: b\n", "null: x\nfoo: y\n"])
def test_a_study_yaml_key_that_is_not_text_is_one_line(tmp_path, text):
    (tmp_path / "study.yaml").write_text(text)
    with pytest.raises(InputError, match="study.yaml: esperado um mapeamento .*; desconhecidos"):
        study_identity(tmp_path)


def test_a_record_of_an_unwritable_status_is_never_written(tmp_path):
    record = RunRecord.unread(tmp_path / "unet" / "seed-0", "incomplete", "no record")
    assert (record.model, record.seed) == ("unet", 0)
    with pytest.raises(ValueError):
        record.write(tmp_path)
