"""benchmarks/bench.py, the driver of `make bench`: its verdicts, its files, and one real check."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "benchmarks" / "bench.py"
spec = importlib.util.spec_from_file_location("bench", BENCH)
bench = sys.modules["bench"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
spec.loader.exec_module(bench)


@pytest.mark.parametrize(
    ("value", "target", "met"),
    [
        (2.0, ">= 2", "yes"),
        (1.99, ">= 2", "no"),
        (1.2, "<= 1.2", "yes"),
        (1.21, "<= 1.2", "no"),
        (0.0, "<= 1e-9", "yes"),
        (float("nan"), ">= 2", "no"),
        (5.0, "", ""),
    ],
)
def test_a_target_is_met_only_on_its_side_of_the_bound(value, target, met):
    assert bench.Row("x", value, "x", target).met == met


def test_results_files_carry_every_row_and_explain_what_was_missed(tmp_path):
    rows = [
        bench.Row("cache_build_speedup", 1.5, "x", ">= 2", "24 frames"),
        bench.Row("peak_rss_large_vs_small", 1.04, "x", "<= 1.2", "3000 vs 300"),
        bench.Row("train_unet_tensorflow", 12.25, "img/s"),
    ]
    about = {"processor": "cpu", "cores": "2", "python": "3.11", "system": "Linux", "packages": ""}
    markdown = bench.render_markdown(rows, about, 60.0, "python benchmarks/bench.py")
    bench.write_results(rows, tmp_path, markdown)
    with open(tmp_path / "results.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert list(table[0]) == ["check", "value", "unit", "target", "met"]
    assert [(r["check"], r["value"], r["met"]) for r in table] == [
        ("cache_build_speedup", "1.5", "no"),
        ("peak_rss_large_vs_small", "1.04", "yes"),
        ("train_unet_tensorflow", "12.2", ""),
    ]
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| cache_build_speedup | 1.5 | x | >= 2 | no |" in text
    missed = text.split("## Targets not met in this run")[1]
    assert "cache_build_speedup" in missed and "peak_rss" not in missed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESULTS.md", "results.csv"]


@pytest.mark.slow
def test_the_evaluate_check_agrees_with_the_official_script(tmp_path):
    pytest.importorskip("cityscapesscripts")
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--only", "evaluate", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "results.csv", newline="") as file:
        rows = {r["check"]: r for r in csv.DictReader(file)}
    assert float(rows["evaluate_speedup"]["value"]) > 0
    assert float(rows["evaluate_max_score_difference"]["value"]) <= 1e-9
    assert rows["evaluate_max_score_difference"]["met"] == "yes"
    assert "wrote" in done.stdout
