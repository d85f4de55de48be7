"""Faults around predictions (issue 13): a damaged model.keras, an output folder that already
holds something, an empty data root, and predictions saved as trainIds."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import write_pair
from keras import layers
from PIL import Image

from urbanseg import cli, inference
from urbanseg.config import RunConfig
from urbanseg.errors import InputError
from urbanseg.evaluation import evaluate_predictions
from urbanseg.inference import PREDICTIONS_MARKER, predict_split
from urbanseg.labels import ID_TO_TRAINID
from urbanseg.records import RunRecord


def save_run(folder: Path, name: str) -> Path:
    """A finished run without the training: a 1x1-convolution model and its record."""
    folder.mkdir(parents=True)
    inputs = keras.Input((32, 64, 3))
    outputs = layers.Conv2D(19, 1)(layers.Rescaling(1 / 255)(inputs))
    keras.Model(inputs, outputs, name=name).save(folder / "model.keras")
    RunRecord(
        model=name, parameters={"image_height": 32, "image_width": 64}, metrics={"miou": 0.0}
    ).write(folder)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    return {name: save_run(base / name, name) for name in ("first", "second")}


@pytest.fixture
def tree(tiny_tree) -> Path:
    """tiny_tree with a test split of one image."""
    write_pair(tiny_tree, "test", "berlin", 0, np.zeros((32, 64), np.uint8))
    return tiny_tree


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("urbanseg: erro: "), err
    return err


# --- a damaged model.keras (item 15) ------------------------------------------------------------


def test_predict_on_a_truncated_model_is_one_line_and_writes_nothing(runs, tree, tmp_path, capsys):
    run = shutil.copytree(runs["first"], tmp_path / "run")
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[:300])  # cut by a full disk or a killed copy
    out = tmp_path / "pred"
    argv = ["predict", str(run), "--root", str(tree), "--split", "val", "--out", str(out), "-q"]
    assert cli.main(argv) == 2
    err = one_line_error(capsys)
    assert f"{model}: não é um arquivo .keras válido" in err and "--force" in err
    assert not out.exists()


def test_predict_on_a_model_keras_cannot_read_names_the_file(runs, tree, tmp_path):
    run = shutil.copytree(runs["first"], tmp_path / "run")
    model = run / "model.keras"
    with zipfile.ZipFile(runs["first"] / "model.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(model, "w") as archive:  # a valid zip whose weights are garbage
        for name, data in members.items():
            archive.writestr(name, b"garbage" if name.endswith(".h5") else data)
    with pytest.raises(InputError, match=r"model\.keras: o modelo não pôde ser carregado \("):
        predict_split(run, tree, "val", tmp_path / "pred", progress=False)
    assert not (tmp_path / "pred").exists()


# --- a non-empty output folder (item 20) --------------------------------------------------------


def test_predict_refuses_a_folder_holding_another_runs_predictions(runs, tree, tmp_path, capsys):
    out = tmp_path / "pred"
    assert predict_split(runs["first"], tree, "val", out, progress=False) == 2
    before = contents(out)
    argv = ["predict", str(runs["second"]), "--root", str(tree), "--split", "test"]
    assert cli.main([*argv, "--out", str(out), "-q"]) == 2
    err = one_line_error(capsys)
    assert f"{out}: já tem as predições de outra execução, {runs['first'].resolve()}" in err
    assert contents(out) == before  # nothing of the second model mixed in


def test_predicting_the_same_run_again_replaces_its_own_folder(runs, tree, tmp_path):
    out = tmp_path / "pred"
    predict_split(runs["first"], tree, "val", out, progress=False)
    assert predict_split(runs["first"], tree, "test", out, progress=False) == 1
    assert sorted(contents(out)) == [PREDICTIONS_MARKER, "berlin_000000_000019_labelIds.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cityscapes", "pred"]  # no staging left


@pytest.mark.parametrize("where", ["notes", "run folder"])
def test_predict_refuses_a_folder_with_files_it_did_not_write(runs, tree, tmp_path, where):
    if where == "notes":
        out = tmp_path / "pred"
        predict_split(runs["first"], tree, "val", out, progress=False)
        (out / "notes.txt").write_text("mine")
        message = f"{out / 'notes.txt'}: não foi gravado pelo urbanseg predict"
    else:  # --out results/unet/seed-0 by mistake: replacing it would delete the run
        out = shutil.copytree(runs["first"], tmp_path / "run")
        message = f"{out}: pasta não vazia e não é uma saída do urbanseg predict"
    before = contents(out)
    with pytest.raises(InputError, match=message):
        predict_split(runs["first"], tree, "test", out, progress=False)
    assert contents(out) == before


def test_an_interrupted_predict_leaves_the_folder_as_it_was(runs, tree, tmp_path, monkeypatch):
    out = tmp_path / "pred"
    predict_split(runs["first"], tree, "test", out, progress=False)
    before = contents(out)
    written = []

    def interrupted_after_one(path, array):
        if written:
            raise KeyboardInterrupt
        written.append(path)
        Image.fromarray(array).save(path)

    monkeypatch.setattr(inference, "write_png", interrupted_after_one)
    with pytest.raises(KeyboardInterrupt):
        predict_split(runs["first"], tree, "val", out, progress=False)
    assert written and contents(out) == before  # not one of the two val images
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cityscapes", "pred"]


# --- an empty data root (item 18) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--root", ""],
        ["run", "-p", "data_root", ""],
        ["predict", "results/unet", "--split", "val", "--out", "pred", "--root", ""],
        ["evaluate", "--pred", "pred", "--root", ""],
        ["check", ""],
        ["report", "--root", " "],
        ["bundle", "--predict", "val", "--root", ""],
        ["rerun", "bundle.zip", "--root", ""],
        ["leaderboard", "bundle.zip", "--split", "val", "--gt", ""],
    ],
)
def test_an_empty_data_root_is_refused_not_read_as_synthetic(argv, capsys, monkeypatch, tmp_path):
    import urbanseg.runner

    def never(*args, **kwargs):
        raise AssertionError("nothing may run with an empty data root")

    monkeypatch.setattr(urbanseg.runner, "_execute_all", never)
    monkeypatch.chdir(tmp_path)  # a results folder, if one were made, lands here
    assert cli.main(argv) == 2
    err = one_line_error(capsys)
    assert "caminho vazio (uma variável como $DATA não definida?)" in err


def test_the_data_root_parameter_must_not_be_empty():
    for empty in ("", "  "):
        with pytest.raises(InputError, match=r"^data_root='\s*': caminho vazio"):
            RunConfig.from_dict({"data_root": empty})
    assert RunConfig.from_dict({"data_root": "None"}).data_root is None  # synthetic, said so
    assert RunConfig.from_dict({"data_root": None}).data_root is None


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_report_passes_no_root_when_data_is_unset_or_empty():
    root = Path(__file__).resolve().parents[1]
    for extra in ([], ["DATA="]):
        dry = subprocess.run(
            ["make", "-n", "-s", "report", *extra],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        line = next(line for line in dry.splitlines() if "urbanseg run" in line)
        assert "--root" not in line


# --- predictions saved as trainIds (item 21) ----------------------------------------------------


def write_predictions(tree: Path, out: Path, *, as_train_ids: bool) -> Path:
    """The ground truth itself as predictions: a perfect score in labelIds."""
    out.mkdir()
    for label in sorted((tree / "gtFine" / "val").rglob("*_labelIds.png")):
        ids = np.asarray(Image.open(label))
        if as_train_ids:
            ids = ID_TO_TRAINID[ids]
            ids[ids == 255] = 0  # a model predicts a class everywhere
        Image.fromarray(ids).save(out / label.name)
    return out


def test_predictions_saved_as_train_ids_give_a_warning_naming_the_folder(
    tiny_tree, tmp_path, caplog
):
    pred = write_predictions(tiny_tree, tmp_path / "train_ids", as_train_ids=True)
    metrics = evaluate_predictions(tiny_tree, pred, instances=False, progress=False)
    assert metrics["miou"] < 0.2
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith(f"{pred}: as predições parecem trainIds")
    assert "grave-as como labelIds" in warnings[0] and "\n" not in warnings[0]


def test_label_id_predictions_give_no_train_id_warning(tiny_tree, tmp_path, caplog):
    pred = write_predictions(tiny_tree, tmp_path / "label_ids", as_train_ids=False)
    assert evaluate_predictions(tiny_tree, pred, instances=False, progress=False)["miou"] == 1.0
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
