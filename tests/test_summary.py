"""The study's tables: runs.csv (one row per run) and summary.csv (one row per model, mIoU mean,
spread and interval over seeds), written by one function for `urbanseg run` and `report`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fakes import make_results

from urbanseg.cli import main
from urbanseg.records import RunRecord
from urbanseg.results_folder import load_records
from urbanseg.summary import (
    SUMMARY_COLUMNS,
    collect,
    iou_table,
    runs_table,
    summary_table,
    write_summary,
)


def test_summary_has_one_row_per_model_with_the_seeds_statistics(tmp_path):
    results, _ = make_results(
        tmp_path, models=("unet", "deeplab"), failed=(), seeds=(0, 1, 2), with_data=False
    )
    summary = pd.read_csv(write_summary(load_records(results), results))
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    for column in ("seeds", "miou_mean", "miou_std", "miou_ci_low", "miou_ci_high"):
        assert column in summary.columns
    runs = pd.read_csv(results / "runs.csv")
    assert len(runs) == 6 and list(runs["seed"]) == [0, 1, 2, 0, 1, 2]
    for model, row in summary.set_index("model").iterrows():
        mious = runs[runs["model"] == model]["miou"]
        assert row["seeds"] == 3 and row["status"] == "ok"
        assert row["miou_mean"] == pytest.approx(mious.mean())
        assert row["miou_std"] == pytest.approx(mious.std(ddof=1))
        assert row["miou_ci_low"] < row["miou_mean"] < row["miou_ci_high"]
        assert row["pixel_accuracy"] == pytest.approx(
            runs[runs["model"] == model]["pixel_accuracy"].mean()
        )


def test_a_failed_seed_makes_the_model_partial(tmp_path):
    results, _ = make_results(tmp_path, models=("unet",), failed=(), seeds=(0, 1), with_data=False)
    RunRecord.failure("unet", "boom").write(results / "unet" / "seed-1")
    table = collect(results).set_index("model")
    assert table.loc["unet", "status"] == "partial" and table.loc["unet", "seeds"] == 1
    assert table.loc["unet", "error"] == "boom" and np.isnan(table.loc["unet", "miou_std"])


def test_whole_numbers_stay_whole(tmp_path):
    results, _ = make_results(tmp_path, models=("unet",), failed=("fcn",), with_data=False)
    records = load_records(results)
    write_summary(records, results)
    header, unet, fcn = (results / "runs.csv").read_text().splitlines()
    row = dict(zip(header.split(","), unet.split(","), strict=True))
    assert row["params"] == "31042000" and row["flops"] == "54600000000"
    assert (row["epochs"], row["image_height"], row["image_width"]) == ("4", "64", "128")
    assert row["seed"] == "0" and row["forward_batch"] == "8" and row["gpu_peak_mb"] == ""
    assert fcn.startswith("fcn,0,failed,") and "OOM" in fcn
    assert str(summary_table(records)["seeds"].dtype) == "Int64"


def test_hand_edited_values_do_not_crash(tmp_path):
    results, _ = make_results(
        tmp_path, models=("unet", "fcn", "deeplab"), failed=(), with_data=False
    )
    typed, edited, fractional = load_records(results)
    edited.parameters = {**edited.parameters, "epochs": "4"}
    fractional.parameters = {**fractional.parameters, "image_width": 256.5}
    table = runs_table([typed, edited, fractional, RunRecord.failure("segnet", "boom")])
    assert list(table["epochs"])[:3] == [4, 4, 4] and str(table["epochs"].dtype) == "Int64"
    assert str(table["image_width"].dtype) == "float64"  # not whole: left as it is


def test_iou_table_averages_the_seeds(tmp_path):
    results, _ = make_results(
        tmp_path, models=("unet",), failed=("fcn",), seeds=(0, 1), with_data=False
    )
    records = load_records(results)
    table = iou_table(records)
    assert list(table.index) == ["unet"]  # the failed model has no row
    first, second = (r.metrics["iou"]["road"] for r in records if r.ok)
    assert table.loc["unet", "road"] == pytest.approx((first + second) / 2)
    assert np.isnan(table.loc["unet", "train"])  # absent from the fake data: undefined


def test_report_writes_the_summary_of_the_records(tmp_path, capsys):
    """`urbanseg report` writes summary.csv as write_summary does (the runner's path is
    compared byte for byte in test_runner)."""
    results, _ = make_results(tmp_path)
    assert (
        main(
            [
                "-q",
                "report",
                "--results",
                str(results),
                "--out",
                str(tmp_path / "report"),
                "--no-pdf",
            ]
        )
        == 0
    )
    by_report = (results / "summary.csv").read_bytes()
    (results / "summary.csv").unlink()
    write_summary(load_records(results), results)
    assert (results / "summary.csv").read_bytes() == by_report


def test_the_summary_says_whose_study_on_what_data_with_which_recipe(tmp_path):
    from urbanseg.bundle import fingerprint

    results, data_root = make_results(tmp_path, models=("unet", "fcn"), failed=(), seeds=(0, 1))
    (results / "study.yaml").write_text("author: Ana Souza\n")
    summary = pd.read_csv(write_summary(load_records(results), results)).set_index("model")
    assert list(summary["author"]) == ["Ana Souza", "Ana Souza"]
    assert list(summary["synthetic"]) == [True, True]
    assert set(summary["data_fingerprint"]) == {fingerprint(data_root)}
    digests = summary["params_digest"]
    assert digests["unet"] == digests["fcn"]  # the fakes share a recipe; seeds do not count
    assert len(digests["unet"]) == 16
    longer, _ = make_results(tmp_path / "longer", models=("unet",), failed=(), epochs=8)
    other = summary_table(load_records(longer)).set_index("model")
    assert other.loc["unet", "params_digest"] != digests["unet"]  # another recipe
    assert pd.isna(other.loc["unet", "author"])  # no study.yaml: nobody named
