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
from urbanseg.records import (
    SUMMARY_COLUMNS,
    RunRecord,
    collect,
    iou_table,
    load_records,
    write_summary,
)

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
            written[f"notebook:{model}"]
            == rendered["base"] / "report" / "notebooks" / f"{model}.html"
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
        m: json.loads((rendered["results"] / m / "metrics.json").read_text())
        for m in ("unet", "fcn", "deeplab")
    }
    for row in rows:
        cell = row.select_one('td[data-column="miou"]').get_text(strip=True)
        expected = f"{100 * runs[row['data-model']]['metrics']['miou']:.1f}".replace(".", ",")
        assert cell == expected


def test_best_values_are_highlighted(rendered):
    table = rendered["soup"].select_one("#results-table")
    best = {
        cell["data-column"]: cell.find_parent("tr")["data-model"]
        for cell in table.select("td.best")
    }
    # deeplab has the best quality; the highest mIoU, fewest parameters, fastest training
    assert best["miou"] == "deeplab"
    assert best["params"] == "deeplab"
    assert best["inference_images_per_second"] == "fcn"
    assert best["train_seconds"] == "fcn"
    assert len(table.select('td.best[data-column="miou"]')) == 1
    assert table.select_one('td.best[data-column="miou"] strong') is not None


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
    assert boxes[0].select_one('a[href="notebooks/pspnet.html"]') is not None


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
    page = (rendered["base"] / "report" / "notebooks" / "unet.html").read_text(encoding="utf-8")
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
        == f"{100 * json.loads((results / 'unet' / 'metrics.json').read_text())['metrics']['miou']:.1f}"
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


def test_no_results_is_an_input_error(tmp_path):
    from urbanseg.report import render_report

    (tmp_path / "results").mkdir()
    with pytest.raises(InputError, match="no model results"):
        render_report(tmp_path / "results", tmp_path / "out", pdf=False)
    with pytest.raises(InputError, match="no model results"):
        render_report(tmp_path / "missing", tmp_path / "out", pdf=False)


# --------------------------------------------------------------------------- results


def test_collect(rendered):
    frame = collect(rendered["results"])
    assert list(frame.columns) == list(SUMMARY_COLUMNS)
    assert list(frame["model"]) == ["unet", "fcn", "deeplab", "pspnet"]
    assert list(frame["status"]) == ["ok", "ok", "ok", "failed"]
    unet = json.loads((rendered["results"] / "unet" / "metrics.json").read_text())
    row = frame.set_index("model").loc["unet"]
    assert row["miou"] == pytest.approx(unet["metrics"]["miou"])
    assert row["params"] == unet["params"] and row["epochs"] == 4 and row["image_width"] == 128
    assert row["inference_images_per_second"] == 21.0
    failed = frame.set_index("model").loc["pspnet"]
    assert np.isnan(failed["miou"]) and "OOM" in failed["error"]
    summary = pd.read_csv(write_summary(load_records(rendered["results"]), rendered["results"]))
    assert list(summary["model"]) == ["unet", "fcn", "deeplab", "pspnet"]
    assert str(frame["params"].dtype) == "Int64" and str(frame["epochs"].dtype) == "Int64"


def test_iou_table(rendered):
    runs = [RunRecord.read(rendered["results"] / m) for m in ("unet", "fcn", "pspnet")]
    table = iou_table(runs)
    assert list(table.index) == ["unet", "fcn"] and list(table.columns) == list(CLASS_NAMES)
    assert table["train"].isna().all()  # absent class: undefined IoU


def test_malformed_metrics_names_the_file(tmp_path):
    folder = tmp_path / "results" / "unet"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text('{"model": "unet", "metrics": {', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(folder / "metrics.json"))):
        RunRecord.read(folder)
    with pytest.raises(InputError, match="metrics.json"):
        collect(tmp_path / "results")


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
    assert any(note.startswith("On large background regions") for note in notes)
    assert text("disc_small_none", "pt", classes="x").startswith("Nenhum modelo")
