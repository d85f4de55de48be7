"""RunRecord, the one reader and writer of metrics.json and failed.json; runs in
results/<model>/seed-<k>/ (and, from before seeds, results/<model>/)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fakes import make_results

from urbanseg.errors import InputError
from urbanseg.records import SCHEMA_VERSION, Baseline, DataInfo, EvaluationInfo, RunRecord, Timing
from urbanseg.results_folder import find_run, load_records


def a_record(model="unet", miou=0.25) -> RunRecord:
    return RunRecord(
        model=model,
        digest="0123456789abcdef",
        parameters={
            "epochs": 10,
            "image_height": 128,
            "image_width": 256,
            "width": None,
            "seed": 0,
        },
        params=np.int64(1_950_000),
        flops=3_100_000_000,
        precision="float32",
        data=DataInfo(
            root="/data",
            synthetic=True,
            train_images=128,
            val_images=24,
            image_size=(256, 512),
            class_pixel_fraction={"road": 0.4},
            sample_stems=["frankfurt_000000_000001"],
        ),
        evaluation=EvaluationInfo(split="val", protocol="full", resolution=(256, 512)),
        metrics={
            "num_images": 24,
            "miou": np.float64(miou),
            "iou": {"road": 0.9, "wall": math.nan},
        },
        baseline=Baseline("road", 0.019, 0.369),
        timing=Timing(train_seconds=63.2, inference_images_per_second=98.0),
        environment={"python": "3.11.7"},
    )


def test_a_record_survives_its_file(tmp_path):
    record = a_record()
    path = record.write(tmp_path)
    assert path == tmp_path / "metrics.json"
    raw = json.loads(path.read_text())
    assert raw["schema"] == SCHEMA_VERSION and raw["status"] == "ok"
    assert raw["params"] == 1_950_000 and isinstance(raw["params"], int)
    assert raw["metrics"]["iou"]["wall"] is None  # NaN is written as null, never as NaN
    assert raw["baseline"] == {"class": "road", "miou": 0.019, "pixel_accuracy": 0.369}
    again = RunRecord.read(tmp_path)
    assert again.ok and again.folder == tmp_path and again.history is None
    assert again.data == record.data and again.evaluation == record.evaluation
    assert again.timing == record.timing and again.baseline == record.baseline
    assert again.params == 1_950_000 and again.metrics["miou"] == 0.25
    assert again.to_json() == raw  # reading and writing again changes nothing


def test_a_failure_is_one_line_and_replaces_nothing_else(tmp_path):
    failure = RunRecord.failure("fcn", "ValueError: boom\nmore detail", traceback="Traceback...")
    assert failure.write(tmp_path) == tmp_path / "failed.json"
    read = RunRecord.read(tmp_path)
    assert not read.ok and read.status == "failed" and read.error == "ValueError: boom"
    assert read.traceback == "Traceback..." and read.date and read.metrics == {}
    a_record("fcn").write(tmp_path)  # a later success replaces the failure
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    failure.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failed.json"]


def test_files_of_an_earlier_urbanseg_without_schema_are_read(tmp_path):
    (tmp_path / "metrics.json").write_text(
        json.dumps(
            {
                "model": "unet",
                "status": "ok",
                "metrics": {"miou": 0.1},
                "data": {"image_size": [1024, 2048]},
                "timing": {"train_seconds": 5},
            }
        )
    )
    record = RunRecord.read(tmp_path)
    assert record.schema == 1 and record.data.image_size == (1024, 2048)
    assert record.timing.train_seconds == 5.0


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema": 99, "model": "unet", "metrics": {"miou": 1}}', "schema 99 é mais novo"),
        ('{"model": "unet", "params": "many", "metrics": {"miou": 1}}', "registro malformado"),
        ('{"model": "unet", "status": "ok"}', 'falta o objeto "metrics"'),
        ('{"model": "unet", ', "JSON malformado"),
        ("[1, 2]", "esperado um objeto JSON"),
    ],
)
def test_a_bad_record_names_its_file(tmp_path, content, message):
    (tmp_path / "metrics.json").write_text(content)
    with pytest.raises(InputError, match=f"^{tmp_path / 'metrics.json'}: .*{message}"):
        RunRecord.read(tmp_path)


def test_the_file_says_whether_a_run_failed(tmp_path):
    (tmp_path / "failed.json").write_text('{"model": "fcn"}')  # an old, terse failure
    failed = RunRecord.read(tmp_path)
    assert failed.status == "failed" and failed.error == "erro desconhecido"
    (tmp_path / "failed.json").unlink()
    (tmp_path / "metrics.json").write_text(
        '{"model": "fcn", "error": null, "metrics": {"miou": 1}}'
    )
    assert RunRecord.read(tmp_path).ok


def test_a_failure_keeps_the_model_s_own_record(tmp_path):
    info = {"display_name": "MinhaNet", "description": "Uma rede."}
    RunRecord.failure("mine", "boom", model_info=info).write(tmp_path)
    assert RunRecord.read(tmp_path).model_info == info


def test_a_folder_without_a_record(tmp_path):
    with pytest.raises(InputError, match="não há metrics.json nem failed.json"):
        RunRecord.read(tmp_path)


def test_runs_are_found_per_seed_and_before_seeds(tmp_path):
    results, _ = make_results(
        tmp_path, models=("unet", "fcn"), failed=(), seeds=(0, 1), with_data=False
    )
    legacy = results / "segnet"  # a results folder written before seeds existed
    a_record("segnet").write(legacy)
    records = load_records(results)
    assert [(r.model, r.seed) for r in records] == [
        ("unet", 0),
        ("unet", 1),
        ("segnet", 0),
        ("fcn", 0),
        ("fcn", 1),
    ]
    assert records[1].folder == results / "unet" / "seed-1"


def test_find_run_names_the_run_a_user_means(tmp_path):
    results, _ = make_results(tmp_path, models=("unet",), failed=(), seeds=(0, 1), with_data=False)
    assert find_run(results / "unet" / "seed-1") == results / "unet" / "seed-1"
    with pytest.raises(InputError, match="2 execuções .seed-0, seed-1.; indique uma"):
        find_run(results / "unet")
    (results / "unet" / "seed-1" / "metrics.json").unlink()
    assert find_run(results / "unet") == results / "unet" / "seed-0"
    with pytest.raises(InputError, match="nenhuma execução aqui"):
        find_run(tmp_path)
