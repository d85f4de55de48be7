"""The comparative report, from a fake results folder built per docs/results.md.

One module-scoped rendering (three successful models, one failed, a tiny Cityscapes-format
data tree) is shared by most tests; the PDF is rendered once.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import pdf_page_count
from fakes import fake_metrics, make_results

from urbanseg.errors import InputError
from urbanseg.labels import CLASS_NAMES
from urbanseg.records import RunRecord
from urbanseg.results_folder import load_records
from urbanseg.summary import SUMMARY_COLUMNS, collect, iou_table

bs4 = pytest.importorskip("bs4")

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from urbanseg.report import render_report

    base = tmp_path_factory.mktemp("report")
    results, _ = make_results(base)
    written = render_report(results, base / "report", lang="pt", pdf=True)
    html = written["html"].read_text(encoding="utf-8")
    return {
        "base": base,
        "results": results,
        "written": written,
        "html": html,
        "soup": bs4.BeautifulSoup(html, "html.parser"),
    }


# --------------------------------------------------------------------------- report


def test_files_are_written(rendered):
    written = rendered["written"]
    assert written["html"].name == "relatorio.html" and written["pdf"].name == "relatorio.pdf"
    assert written["summary"] == rendered["results"] / "summary.csv"
    for model in ("unet", "fcn", "deeplab", "pspnet"):
        assert (
            written[f"notebook:{model}-seed-0"]
            == rendered["base"] / "report" / "notebooks" / f"{model}-seed-0.html"
        )
    assert not list((rendered["base"] / "report").glob("*.tmp"))


def test_seven_sections_in_order(rendered):
    titles = [h2.get_text(" ", strip=True) for h2 in rendered["soup"].select("main h2")]
    expected = [
        "Resumo",
        "Dados",
        "Metodologia",
        "Resultados",
        "Discussão",
        "Reprodutibilidade",
        "Anexos",
    ]
    assert [re.sub(r"^\d+\s*", "", t) for t in titles] == expected
    toc = [a.get_text(" ", strip=True) for a in rendered["soup"].select("nav.toc li.toc-level2 a")]
    assert [re.sub(r"^\d+\s*", "", t) for t in toc] == expected


def test_results_table_rows_and_values(rendered):
    table = rendered["soup"].select_one("#results-table")
    rows = table.select("tbody tr")
    assert [row["data-model"] for row in rows] == [
        "unet",
        "fcn",
        "deeplab",
    ]  # canonical order, failed left out
    runs = {
        m: json.loads((rendered["results"] / m / "seed-0" / "metrics.json").read_text())
        for m in ("unet", "fcn", "deeplab")
    }
    for row in rows:
        cell = row.select_one('td[data-column="miou"]').get_text(strip=True)
        expected = f"{100 * runs[row['data-model']]['metrics']['miou']:.1f}".replace(".", ",")
        assert cell == expected


def test_best_values_are_highlighted_only_where_they_hold(rendered):
    best = {
        cell["data-column"]: cell.find_parent("tr")["data-model"]
        for cell in rendered["soup"].select("#results-table td.best, #cost-table td.best")
    }
    # exact costs, and speeds timed alone on one machine; no mIoU on a synthetic study
    assert best["params"] == "deeplab" and best["flops"] == "deeplab"
    assert best["inference_images_per_second"] == "fcn"
    assert best["train_seconds"] == "fcn"
    assert "miou" not in best
    cost = rendered["soup"].select_one("#cost-table")
    assert cost.select_one('td.best[data-column="params"] strong') is not None


def test_a_synthetic_study_says_it_checks_the_pipeline_and_ranks_nothing(rendered):
    soup = rendered["soup"]
    assert "verifica o procedimento, não as arquiteturas" in soup.select_one("aside.scope").text
    observations = soup.select_one("ul.observations").get_text(" ", strip=True)
    assert "estudo de verificação" in observations
    assert "supera" not in observations and "indistinguíveis" not in observations
    assert "Melhor modelo" not in soup.get_text()  # no "best model per criterion" table
    assert soup.select_one("#fig-differences") is not None  # the intervals are still shown
    interval = soup.select_one('#results-table tr[data-model="unet"] td[data-column="miou_ci"]')
    low, high = (float(x.replace(",", ".")) for x in interval.get_text(strip=True).split("–"))
    assert low < high


def test_the_question_names_the_models_compared(rendered):
    lead = rendered["soup"].select_one("p.lead").get_text(" ", strip=True)
    assert lead.startswith("Como se comparam U-Net, FCN-8s e DeepLabV3+ ao rotular")
    assert "3 modelos" in lead and "PSPNet" not in lead  # it failed: not compared
    subtitle = rendered["soup"].select_one("p.subtitle").get_text(" ", strip=True)
    assert subtitle == "Estudo comparativo de U-Net, FCN-8s, DeepLabV3+ e PSPNet no Cityscapes"


def test_failed_model_is_shown_with_its_error(rendered):
    boxes = rendered["soup"].select("aside.failed")
    assert len(boxes) == 1
    assert "PSPNet" in boxes[0].get_text()
    assert "OOM when allocating tensor" in boxes[0].select_one("pre.error").get_text()
    assert boxes[0].select_one('a[href="notebooks/pspnet-seed-0.html"]') is not None


def test_html_is_self_contained(rendered):
    soup = rendered["soup"]
    images = soup.find_all("img")
    assert len(images) >= 8
    assert all(img["src"].startswith("data:image/png;base64,") for img in images)
    assert not soup.find_all("link", rel="stylesheet")
    assert not soup.find_all("script", src=True)
    assert soup.find("style") is not None


def test_figures_and_tables_are_numbered(rendered):
    figures = [
        c.select_one(".label").get_text(strip=True) for c in rendered["soup"].select("figcaption")
    ]
    assert figures == [f"Figura {i}." for i in range(1, len(figures) + 1)]
    tables = [
        c.select_one(".label").get_text(strip=True)
        for c in rendered["soup"].select(".table-caption")
    ]
    assert tables == [f"Tabela {i}." for i in range(1, len(tables) + 1)]


def test_content_of_sections(rendered):
    text = rendered["soup"].get_text(" ", strip=True)
    assert "sintético" in text  # synthetic data said clearly
    for arxiv in ("1505.04597", "1411.4038", "1802.02611", "1612.01105", "1604.01685"):
        assert arxiv in text  # the papers of the models in results/ (PSPNet failed) and the data
    assert "1511.00561" not in text  # SegNet is not in this study: its paper is not cited
    assert "pista" in text and "placa de trânsito" in text  # Portuguese class names
    assert "urbanseg run unet fcn deeplab" in text
    assert "24d0694" in text  # git commit from the environment
    assert rendered["soup"].select("ul.observations li")


def test_exported_notebook_hides_code(rendered):
    page = (rendered["base"] / "report" / "notebooks" / "unet-seed-0.html").read_text("utf-8")
    assert 'data-urbanseg-code="hidden"' in page and "urbanseg-toggle" in page
    assert "Mostrar código" in page


def test_pdf(rendered):
    data = rendered["written"]["pdf"].read_bytes()
    assert data.startswith(b"%PDF")
    assert pdf_page_count(data) >= 3


def test_english(tmp_path):
    from urbanseg.report import render_report

    results, data_root = make_results(tmp_path, models=("unet", "studentnet"), failed=())
    written = render_report(results, tmp_path / "out", lang="en", pdf=False, data_root=data_root)
    assert written["html"].name == "report.html" and "pdf" not in written
    soup = bs4.BeautifulSoup(written["html"].read_text(encoding="utf-8"), "html.parser")
    titles = [re.sub(r"^\d+\s*", "", h2.get_text(" ", strip=True)) for h2 in soup.select("main h2")]
    assert titles == [
        "Summary",
        "Data",
        "Method",
        "Results",
        "Discussion",
        "Reproducibility",
        "Appendix",
    ]
    assert [row.th.get_text(strip=True) for row in soup.select("#results-table tbody tr")] == [
        "U-Net",
        "studentnet",
    ]
    assert (
        soup.select_one('#results-table tr[data-model="unet"] td[data-column="miou"]').get_text(
            strip=True
        )
        == f"{100 * json.loads((results / 'unet' / 'seed-0' / 'metrics.json').read_text())['metrics']['miou']:.1f}"
    )


def test_missing_data_root_is_reported_not_fatal(tmp_path):
    from urbanseg.report import render_report

    results, _ = make_results(tmp_path, models=("fcn",), failed=(), with_data=False)
    written = render_report(results, tmp_path / "out", pdf=False)
    text = bs4.BeautifulSoup(written["html"].read_text(encoding="utf-8"), "html.parser").get_text(
        " ", strip=True
    )
    assert "não puderam ser mostradas" in text and "/nonexistent/synthetic" in text
    assert "Quão bem FCN-8s rotula cada pixel" in text  # one model: no "how do they compare"


def test_the_cover_names_who_made_the_study(tmp_path):
    from urbanseg.report import render_report

    results, _ = make_results(tmp_path, models=("fcn",), failed=(), with_data=False)
    written = render_report(results, tmp_path / "out", pdf=False)
    soup = bs4.BeautifulSoup(written["html"].read_text(encoding="utf-8"), "html.parser")
    assert soup.select_one(".kicker").get_text(strip=True).startswith("relatório gerado por")
    assert soup.find("meta", attrs={"name": "author"}) is None  # nobody named: nothing invented

    (results / "study.yaml").write_text("author: Ana Souza\ncourse: Visão Computacional 2026\n")
    identity = {"author": None, "group": "G3", "course": None}  # --group given, the rest not
    written = render_report(results, tmp_path / "out", pdf=False, identity=identity)
    soup = bs4.BeautifulSoup(written["html"].read_text(encoding="utf-8"), "html.parser")
    cover = {
        div.dt.get_text(strip=True): div.dd.get_text(strip=True)
        for div in soup.select(".cover dl.meta > div")
    }
    assert cover["Autoria"] == "Ana Souza" and cover["Grupo"] == "G3"
    assert cover["Disciplina"] == "Visão Computacional 2026"
    assert soup.select_one(".kicker").get_text(strip=True).startswith("Visão Computacional 2026 —")
    assert soup.find("meta", attrs={"name": "author"})["content"] == "Ana Souza"

    (results / "study.yaml").write_text("autor: Ana\n")
    with pytest.raises(
        InputError, match="study.yaml: esperado um mapeamento de author, group, course"
    ):
        render_report(results, tmp_path / "out", pdf=False)


def test_no_results_is_an_input_error(tmp_path):
    from urbanseg.report import render_report

    (tmp_path / "results").mkdir()
    with pytest.raises(InputError, match="nenhum resultado de modelo"):
        render_report(tmp_path / "results", tmp_path / "out", pdf=False)
    with pytest.raises(InputError, match="nenhum resultado de modelo"):
        render_report(tmp_path / "missing", tmp_path / "out", pdf=False)


# --------------------------------------------------------------------------- results


def test_collect(rendered):
    frame = collect(rendered["results"])
    assert list(frame.columns) == list(SUMMARY_COLUMNS)
    assert list(frame["model"]) == ["unet", "fcn", "deeplab", "pspnet"]
    assert list(frame["status"]) == ["ok", "ok", "ok", "failed"]
    unet = json.loads((rendered["results"] / "unet" / "seed-0" / "metrics.json").read_text())
    row = frame.set_index("model").loc["unet"]
    assert row["miou_mean"] == pytest.approx(unet["metrics"]["miou"]) and row["seeds"] == 1
    assert row["params"] == unet["params"] and row["epochs"] == 4 and row["image_width"] == 128
    assert row["inference_images_per_second"] == 21.0
    failed = frame.set_index("model").loc["pspnet"]
    assert np.isnan(failed["miou_mean"]) and "OOM" in failed["error"] and failed["seeds"] == 0
    assert str(frame["params"].dtype) == "Int64" and str(frame["epochs"].dtype) == "Int64"


def test_iou_table(rendered):
    runs = load_records(rendered["results"])
    table = iou_table(runs)
    assert list(table.index) == ["unet", "fcn", "deeplab"]
    assert list(table.columns) == list(CLASS_NAMES)
    assert table["train"].isna().all()  # absent class: undefined


def test_malformed_metrics_names_the_file(tmp_path):
    folder = tmp_path / "results" / "unet"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text('{"model": "unet", "metrics": {', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(folder / "metrics.json"))):
        RunRecord.read(folder)
    with pytest.raises(InputError, match="metrics.json"):
        load_records(tmp_path / "results")
    row = collect(tmp_path / "results").iloc[0]  # the summary lists it as a failed run
    assert row["status"] == "failed" and str(folder / "metrics.json") in row["error"]


def test_plots_return_figures():
    from matplotlib.figure import Figure

    from urbanseg import plots
    from urbanseg.plots.images import ERROR_COLOR

    metrics = fake_metrics(0.7, 1)
    history = pd.DataFrame(
        {"epoch": [1, 2], "loss": [2.0, 1.0], "val_loss": [2.1, 1.2], "val_miou": [0.2, 0.3]}
    )
    gt = np.full((16, 32), 255, np.uint8)
    gt[4:] = 0
    image = np.zeros((16, 32, 3), np.uint8)
    for figure in (
        plots.training_curves(history, lang="en"),
        plots.per_class_iou(metrics),
        plots.confusion_matrix(metrics),
        plots.class_legend(),
        plots.sample_predictions([image], [gt], [np.zeros((8, 16), np.uint8)]),
    ):
        assert isinstance(figure, Figure)
    error = plots.error_map(image, gt, np.where(gt == 0, 1, 0).astype(np.uint8))
    assert (error[0, 0] == 0).all() and tuple(error[8, 8]) == ERROR_COLOR


def test_discussion_says_no_model_gets_small_objects_instead_of_naming_a_best_at_zero(tmp_path):
    from urbanseg.i18n import text
    from urbanseg.report.discussion import discussion
    from urbanseg.report.study import Study

    classes = list(CLASS_NAMES)
    df_iou = pd.DataFrame(
        [[0.9 if i in (0, 2, 8, 10) else 0.0 for i in range(19)]] * 2,
        index=["unet", "fcn"],
        columns=classes,
    )
    summary = pd.DataFrame(
        {
            "model": ["unet", "fcn"],
            "miou": [0.2, 0.1],
            "iiou": [None, None],
            "inference_images_per_second": [10.0, 20.0],
            "params": [1e6, 2e6],
        }
    )
    notes = discussion(Study([], tmp_path, "en"), summary, df_iou)
    assert any(note.startswith("No model segments the small objects") for note in notes)
    assert not any(note.startswith("On small objects") for note in notes)
    assert text("disc_small_none", "pt", classes="x").startswith("Nenhum modelo")


def real_study(tmp_path, qualities: dict[str, float], seeds=(0,)):
    """Results of a real-size study (not synthetic, 600 train and 120 val images); models of
    equal quality tie (the same pooled matrices, spread differently over the images)."""
    from fakes import make_run

    results = tmp_path / "results"
    for model, quality in qualities.items():
        for seed in seeds:
            make_run(
                results,
                model,
                None,
                seed=seed,
                synthetic=False,
                train_images=600,
                val_images=120,
                quality=quality,
                metrics_seed=round(quality * 1000),
            )
    return results


def test_claims_follow_the_intervals(tmp_path):
    """A clear gap is written as "beats", a gap within the intervals as indistinguishable."""
    from urbanseg.report.discussion import discussion
    from urbanseg.report.study import Study
    from urbanseg.summary import iou_table

    results = real_study(tmp_path, {"unet": 0.80, "fcn": 0.60, "deeplab": 0.80}, seeds=(0, 1))
    study = Study(load_records(results), results, "en")
    assert not study.pipeline_check
    clear, close = study.stats.pair("unet", "fcn"), study.stats.pair("unet", "deeplab")
    assert clear.differs and not close.differs  # the fixture is what the test says it is
    notes = " ".join(discussion(study, study.summary, iou_table(study.records)))
    assert "U-Net beats FCN-8s in mIoU" in notes and "DeepLabV3+ beats FCN-8s" in notes
    assert "U-Net beats DeepLabV3+" not in notes and "DeepLabV3+ beats U-Net" not in notes
    assert "indistinguishable" in notes and "U-Net and DeepLabV3+" in notes
    assert "not corrected for the 3 comparisons" in notes
    assert "check of the procedure" not in notes


def test_the_table_marks_a_leader_only_when_it_beats_every_other(tmp_path):
    from urbanseg.report import render_report

    results = real_study(tmp_path, {"unet": 0.62, "fcn": 0.60, "deeplab": 0.90})
    soup = bs4.BeautifulSoup(
        render_report(results, tmp_path / "out", lang="en", pdf=False)["html"].read_text(),
        "html.parser",
    )
    marked = soup.select('#results-table td.best[data-column="miou"]')
    assert [cell.find_parent("tr")["data-model"] for cell in marked] == ["deeplab"]
    assert soup.select_one("aside.scope") is None  # a real study: no pipeline-check warning
    results = real_study(tmp_path / "tie", {"unet": 0.80, "deeplab": 0.80})
    soup = bs4.BeautifulSoup(
        render_report(results, tmp_path / "tie-out", lang="en", pdf=False)["html"].read_text(),
        "html.parser",
    )
    assert not soup.select('#results-table td.best[data-column="miou"]')


def test_speeds_of_concurrent_runs_are_not_compared(tmp_path):
    from urbanseg.report.discussion import discussion
    from urbanseg.report.study import Study
    from urbanseg.summary import iou_table

    results = real_study(tmp_path, {"unet": 0.8, "fcn": 0.6})
    record = RunRecord.read(results / "fcn" / "seed-0")
    record.timing.concurrent_runs = 2
    record.write(results / "fcn" / "seed-0")
    study = Study(load_records(results), results, "en")
    assert not study.speeds_comparable
    notes = discussion(study, study.summary, iou_table(study.records))
    assert any("Speeds are not compared" in note for note in notes)
    assert not any("the fastest model was" in note for note in notes)


def test_the_design_table_warns_about_a_context_module_larger_than_its_map(tmp_path):
    from urbanseg.report.study import Study
    from urbanseg.report.tables import design

    results = real_study(tmp_path, {"deeplab": 0.8, "unet": 0.7})
    record = RunRecord.read(results / "deeplab" / "seed-0")
    record.context = {
        "module": "aspp",
        "feature_map": [8, 16],
        "rates": [6, 12, 18],
        "batch_norm": True,
    }
    record.write(results / "deeplab" / "seed-0")
    table = design(Study(load_records(results), results, "en"))
    rows = {row["model"]: row for row in table["rows"]}
    assert rows["DeepLabV3+"]["context"] == "ASPP (rates 6, 12, 18) on 16 × 8"
    assert rows["U-Net"]["pretrained"] == "no backbone" and rows["U-Net"]["width"] == "0.25"
    assert len(table["warnings"]) == 1 and "rate(s) 12, 18" in table["warnings"][0]
    assert "epochs = 4" in table["same"] and not any("seed" in x for x in table["same"])


def test_the_data_table_names_the_training_crop_when_runs_used_one(tmp_path):
    from urbanseg.report.dataset import data_section
    from urbanseg.report.study import Study

    results = real_study(tmp_path, {"deeplab": 0.8, "unet": 0.7})
    study = Study(load_records(results), results, "en")
    assert "Training crop, the model's input (W × H)" not in dict(data_section(study, None)["rows"])
    for model, crop in (("deeplab", (32, 64)), ("unet", (None, None))):
        record = RunRecord.read(results / model / "seed-0")
        record.parameters.update(crop_height=crop[0], crop_width=crop[1])
        record.write(results / model / "seed-0")
    rows = dict(data_section(Study(load_records(results), results, "en"), None)["rows"])
    assert rows["Study resolution (W × H)"] == "128 × 64"
    assert (
        rows["Training crop, the model's input (W × H)"]
        == "varies by model: U-Net the whole image, DeepLabV3+ 64 × 32"
    )


def test_a_six_model_study_with_an_author(tmp_path):
    """The five models and a student's own (a model outside the catalog, its model_info) in
    one report with the student's name on the cover."""
    import shutil

    from urbanseg.report import render_report

    models = ("unet", "segnet", "fcn", "deeplab", "pspnet")
    results, _ = make_results(tmp_path, models=models, failed=(), with_data=False)
    shutil.copytree(results / "fcn", results / "mine")
    record_path = results / "mine" / "seed-0" / "metrics.json"
    record = json.loads(record_path.read_text())
    record.update(
        model="mine",
        model_info={"display_name": "Minha Rede", "description": "Uma rede de estudante."},
    )
    record_path.write_text(json.dumps(record))
    (results / "mine" / "seed-0" / "fcn.ipynb").rename(results / "mine" / "seed-0" / "mine.ipynb")
    written = render_report(
        results, tmp_path / "out", pdf=False, identity={"author": "Ana Souza", "group": "G3"}
    )
    soup = bs4.BeautifulSoup(written["html"].read_text(encoding="utf-8"), "html.parser")
    rows = [tr["data-model"] for tr in soup.select("#results-table tr[data-model]")]
    assert sorted(rows) == sorted([*models, "mine"])
    assert "Minha Rede" in soup.get_text() and "Uma rede de estudante." in soup.get_text()
    cover = soup.select_one(".cover").get_text(" ", strip=True)
    assert "Ana Souza" in cover and "G3" in cover and "Minha Rede" in cover


def test_the_speed_note_says_how_many_passes_were_timed(tmp_path):
    from urbanseg.report.discussion import discussion
    from urbanseg.report.study import Study
    from urbanseg.summary import iou_table

    def speed_note(results):
        study = Study(load_records(results), results, "en")
        notes = discussion(study, study.summary, iou_table(study.records))
        return next(note for note in notes if "the fastest model was" in note)

    results = real_study(tmp_path, {"unet": 0.8, "fcn": 0.6})
    # records from before the count varied say nothing: they timed 50 passes
    assert "median of 50 repetitions" in speed_note(results)
    for model, repeats in (("unet", 50), ("fcn", 3)):  # fcn slow: its budget ran out
        record = RunRecord.read(results / model / "seed-0")
        record.timing.forward_repeats = repeats
        record.write(results / model / "seed-0")
    assert "median of 3 to 50 repetitions" in speed_note(results)
