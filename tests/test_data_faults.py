"""Faults in the data and its caches (issue 13): two processes building one cache, synthetic
trees anywhere, what ``check`` must find, evaluation memory flat in the number of images, and
one-line messages for sizes nothing can hold."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from urbanseg import atomic, data, evaluation, synth
from urbanseg.check import check_tree
from urbanseg.cli import main
from urbanseg.errors import InputError
from urbanseg.metrics import ConfusionMatrix


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("urbanseg: erro: "), err
    return lines[0]


@pytest.fixture
def tree(tmp_path):
    """A synthetic tree of 4 train, 2 val and 1 test frames, 32x64."""
    root = tmp_path / "tree"
    synth.generate(root, train=4, val=2, test=1, size=(32, 64), seed=1, progress=False)
    return root


def huge_png(path: Path, width: int = 20000, height: int = 20000) -> None:
    """A PNG whose header declares ``width`` x ``height`` grey pixels (only the header is
    needed: Pillow refuses such a size as a decompression bomb when it opens the file)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def spawn(code: str, *argv) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def results(processes) -> list[dict]:
    found = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-3000:]
        found.append(json.loads(out.strip().splitlines()[-1]))
    return found


# Both processes wait for each other, then ask at once; each slows its work a little so that
# the two would overlap without the lock (that is what the lock must make harmless).
BARRIER = """
import json, os, sys, time
from pathlib import Path

def barrier(folder, me):
    Path(folder, me).touch()
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
"""


# -- item 2: two processes building the same cache -------------------------------------------


def test_two_processes_build_one_cache_once_and_both_use_it(tree, tmp_path):
    code = (
        BARRIER
        + """
from urbanseg import data

root, cache, me, gate = sys.argv[1:5]
built, real = [], data.load_pair

def slow_load_pair(sample, size=None):
    built.append(sample.stem)
    time.sleep(0.05)
    return real(sample, size)

data.load_pair = slow_load_pair
samples = data.find_samples(root, "train")
barrier(gate, me)
images, masks = data.build_cache(samples, (16, 32), cache_dir=cache, progress=False)
print(json.dumps({"built": len(built), "images": images, "masks": masks}))
"""
    )
    cache, gate = tmp_path / "cache-dir", tmp_path / "gate"
    gate.mkdir()
    found = results([spawn(code, tree, cache, name, gate) for name in ("a", "b")])
    samples = data.find_samples(tree, "train")
    assert sorted(f["built"] for f in found) == [0, len(samples)]  # built once, used once
    assert found[0]["images"] == found[1]["images"] and found[0]["masks"] == found[1]["masks"]
    assert [p.name for p in cache.iterdir()] == [Path(found[0]["images"][0]).parent.name]
    for path in found[0]["images"] + found[0]["masks"]:
        assert np.asarray(Image.open(path)).shape[:2] == (16, 32)


def test_two_processes_generate_the_default_data_set_once(tmp_path):
    code = (
        BARRIER
        + """
from urbanseg import synth

me, gate = sys.argv[1:3]
calls, real = [], synth.generate

def small_generate(out):
    calls.append(str(out))
    time.sleep(0.2)
    return real(out, train=1, val=1, test=0, size=(32, 64), progress=False)

synth.generate = small_generate
barrier(gate, me)
root = synth.ensure_default_dataset()
print(json.dumps({"generated": len(calls), "root": str(root)}))
"""
    )
    gate = tmp_path / "gate"
    gate.mkdir()
    environment = {**os.environ, "URBANSEG_CACHE": str(tmp_path / "shared-cache")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), name, str(gate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for name in ("a", "b")
    ]
    found = results(processes)
    assert sorted(f["generated"] for f in found) == [0, 1]
    root = Path(found[0]["root"])
    assert found[1]["root"] == str(root) and synth.is_synthetic(root)
    assert [p.name for p in root.parent.iterdir()] == [root.name]  # no staging, no lock left


def test_a_cache_finished_while_waiting_for_the_lock_is_used_not_rebuilt(
    tree, tmp_path, monkeypatch
):
    samples = data.find_samples(tree, "val")
    cache = tmp_path / "cache-dir"

    @contextlib.contextmanager
    def lock_released_by_a_process_that_built_it(path):
        folder = Path(path).parent / Path(path).name[1 : -len(".lock")]
        folder.mkdir(parents=True)
        (folder / "theirs.txt").write_text("built by the other process")
        yield

    def never(*_, **__):
        raise AssertionError("the cache was built again")

    monkeypatch.setattr(data, "file_lock", lock_released_by_a_process_that_built_it)
    monkeypatch.setattr(data, "load_pair", never)
    images, _ = data.build_cache(samples, (16, 32), cache_dir=cache, progress=False)
    folder = Path(images[0]).parent
    assert [p.name for p in folder.iterdir()] == ["theirs.txt"]
    assert [p.name for p in cache.iterdir()] == [folder.name]


def test_a_cache_renamed_in_by_a_writer_without_locks_is_kept(tree, tmp_path, monkeypatch):
    """Where the file system refuses locks, the later of two writers keeps the first cache."""
    samples = data.find_samples(tree, "val")
    cache = tmp_path / "cache-dir"
    real = data.load_pair
    folder = cache / data._cache_key(samples, (16, 32))

    def load_pair_while_another_finishes(sample, size=None):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
            (folder / "theirs.txt").write_text("finished first")
        return real(sample, size)

    monkeypatch.setattr(data, "file_lock", lambda path: contextlib.nullcontext())
    monkeypatch.setattr(data, "load_pair", load_pair_while_another_finishes)
    images, _ = data.build_cache(samples, (16, 32), cache_dir=cache, jobs=1, progress=False)
    assert Path(images[0]).parent == folder
    assert [p.name for p in folder.iterdir()] == ["theirs.txt"]  # not overwritten
    assert [p.name for p in cache.iterdir()] == [folder.name]  # our staging folder removed


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl")
def test_the_file_lock_excludes_another_holder_and_is_removed(tmp_path):
    import fcntl

    path = tmp_path / ".thing.lock"
    with atomic.file_lock(path), open(path, "a+b") as other, pytest.raises(BlockingIOError):
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert not path.exists()
    with atomic.file_lock(path):  # free again
        pass


# -- item 6: a tree made by `urbanseg synth` is synthetic wherever it is --------------------


def test_a_tree_from_urbanseg_synth_anywhere_is_run_and_reported_as_synthetic(
    tmp_path, capsys, monkeypatch
):
    from urbanseg.config import RunConfig
    from urbanseg.experiment import Experiment

    out = tmp_path / "elsewhere" / "my-tree"
    code, _, err = run(
        capsys, "-q", "synth", out, "--train", 2, "--val", 1, "--test", 0, "--size", "32x64"
    )
    assert code == 0, err
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path / "elsewhere")
    for spelling in (out, "my-tree/", "./my-tree", "~/elsewhere/my-tree"):
        assert synth.is_synthetic(spelling), spelling
    copy = tmp_path / "real-looking"
    shutil.copytree(out, copy)
    (copy / synth.MARKER).unlink()

    def synthetic(root) -> bool:
        config = RunConfig.from_dict(
            {
                "data_root": str(root),
                "image_height": 32,
                "image_width": 64,
                "epochs": 1,
                "batch_size": 1,
                "results_dir": str(tmp_path / "results"),
            }
        )
        return Experiment("unet", config, progress=False).synthetic  # DataInfo.synthetic

    assert synthetic("my-tree/") and synthetic(out)
    assert not synthetic(copy)


# -- item 7: check decodes what a run reads and names every fault -----------------------------


def test_check_decodes_instance_ids_and_finds_a_truncated_one(tree, capsys):
    instances = sorted((tree / "gtFine/val").glob("*/*_gtFine_instanceIds.png"))[0]
    instances.write_bytes(instances.read_bytes()[:60])
    code, out, err = run(capsys, "-q", "check", tree)
    assert code == 2 and "1 problema(s)" in out
    assert f"{instances}: não é um PNG válido" in out
    one_line_error(err)
    code, out, _ = run(capsys, "-q", "check", tree, "--quick")  # names only: not decoded
    assert code == 0 and "nenhum problema encontrado" in out


def test_check_finds_instance_ids_of_another_size(tree):
    instances = sorted((tree / "gtFine/train").glob("*/*_gtFine_instanceIds.png"))[0]
    Image.fromarray(np.zeros((16, 32), np.uint16)).save(instances)
    report = check_tree(tree, progress=False)
    assert len(report.problems) == 1 and str(instances) in report.problems[0]


@pytest.mark.parametrize("jobs", [1, 3])
def test_check_reports_an_empty_and_a_missing_val_split(tree, jobs):
    for path in (tree / "leftImg8bit/val").glob("*/*"):
        path.unlink()
    report = check_tree(tree, progress=False, jobs=jobs)
    assert report.problems == [
        f"{tree / 'leftImg8bit/val'}: split vazio, nenhuma imagem *_leftImg8bit.png"
    ]
    shutil.rmtree(tree / "leftImg8bit/val")
    shutil.rmtree(tree / "gtFine/val")
    report = check_tree(tree, decode=False)  # --quick finds it too
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"{tree / 'leftImg8bit/val'}: pasta do split não")
    assert report.sizes == {}  # nothing decoded


def test_check_accepts_a_test_split_without_labels(tree, capsys):
    shutil.rmtree(tree / "gtFine/test")
    code, out, _ = run(capsys, "-q", "check", tree)
    assert code == 0 and "nenhum problema encontrado" in out
    assert "test      1 imagens em 1 cidades" in out and "sem rótulos (gtFine/test" in out
    assert "64x32: 7" in out  # the test image is decoded too


def test_a_stem_in_two_city_folders_is_named_by_check_and_refused_by_a_run(tree):
    image = sorted((tree / "leftImg8bit/train").glob("*/*_leftImg8bit.png"))[0]
    other_city = sorted(p for p in (tree / "leftImg8bit/train").iterdir() if p != image.parent)[0]
    shutil.copy(image, other_city / image.name)
    report = check_tree(tree, progress=False)
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"{image}: {image.name[:-16]} está em mais de uma")
    assert str(other_city) in report.problems[0]
    with pytest.raises(InputError, match="está em mais de uma pasta de cidade") as error:
        data.find_samples(tree, "train")
    assert str(other_city) in str(error.value)


def test_a_png_too_large_to_decode_is_one_line_in_check_and_evaluate(tree, tmp_path, capsys):
    label = sorted((tree / "gtFine/val").glob("*/*_gtFine_labelIds.png"))[0]
    predictions = tmp_path / "pred"
    predictions.mkdir()
    for path in (tree / "gtFine/val").glob("*/*_gtFine_labelIds.png"):
        shutil.copy(path, predictions / path.name)
    huge_png(label)
    with pytest.raises(InputError, match="20000x20000 grande demais para decodificar"):
        data.read_label_ids(label)
    code, out, err = run(capsys, "-q", "check", tree)
    assert code == 2 and f"{label}: imagem de 20000x20000 grande demais" in out
    one_line_error(err)
    code, _, err = run(capsys, "-q", "evaluate", "--root", tree, "--pred", predictions)
    assert code == 2
    assert one_line_error(err).startswith(f"urbanseg: erro: {label}: imagem de 20000x20000")


# -- item 8: evaluation memory flat in the number of images ---------------------------------


class CountingList(list):
    """A list that counts the items taken from it by iteration."""

    taken = 0

    def __iter__(self):
        for item in super().__iter__():
            self.taken += 1
            yield item


def test_threaded_map_takes_only_a_few_items_ahead_of_its_reader():
    items = CountingList(range(40))
    mapped = data.threaded_map(lambda x: x * x, items, 3, ahead=4)
    seen = []
    for value in mapped:
        seen.append(value)
        assert items.taken <= len(seen) + 4
    assert seen == [x * x for x in range(40)]

    def fail_at_5(x):
        if x == 5:
            raise ValueError("five")
        return x

    items = CountingList(range(40))
    with pytest.raises(ValueError, match="five"):
        list(data.threaded_map(fail_at_5, items, 2, ahead=3))
    assert items.taken <= 5 + 1 + 3  # the rest never taken


def test_evaluate_holds_a_few_per_image_results_not_one_per_image(tree, tmp_path, monkeypatch):
    predictions = tmp_path / "pred"
    predictions.mkdir()
    for path in (tree / "gtFine/val").glob("*/*_gtFine_labelIds.png"):
        shutil.copy(path, predictions / path.name)
    real_match = evaluation.match_predictions
    pairs = CountingList()

    def twelve_times_each(samples, pred_dir):  # 24 images from a tree of 2
        pairs.extend(real_match(samples, pred_dir) * 12)
        return pairs

    monkeypatch.setattr(evaluation, "match_predictions", twelve_times_each)
    ahead = []

    class Counting(ConfusionMatrix):
        def merge(self, other):
            ahead.append(pairs.taken - self.num_images)  # taken, and not yet added up
            return super().merge(other)

    monkeypatch.setattr(evaluation, "ConfusionMatrix", Counting)
    metrics = evaluation.evaluate_predictions(tree, predictions, jobs=2, progress=False)
    assert metrics["num_images"] == len(pairs) == 24
    assert max(ahead) <= 2 * 2 + 1  # a window of twice the threads, whatever the split's size


def test_model_evaluation_decodes_a_few_images_ahead_of_the_model(tree, monkeypatch):
    import keras

    from urbanseg import inference

    inputs = keras.Input((32, 64, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(19, 1)(inputs), name="tiny")
    samples = CountingList(data.find_samples(tree, "val") * 10)
    ahead, predicted, real = [], [0], inference.predict_logits

    def counting_predict(model, images, **options):
        ahead.append(samples.taken - predicted[0])  # decoded, and not yet predicted
        predicted[0] += len(images)
        return real(model, images, **options)

    monkeypatch.setattr(inference, "predict_logits", counting_predict)
    evaluated = inference.evaluate_model(model, samples, (32, 64), batch_size=2, progress=False)
    assert evaluated.metrics["num_images"] == predicted[0] == 20
    workers = os.cpu_count() or 2
    assert max(ahead) <= 2 + (2 + workers)  # this batch and a window: a few images, not 20


# -- item 15: sizes nothing can hold, nothing to generate, --json checked first --------------


def test_synth_refuses_a_size_no_machine_can_render(tmp_path, capsys):
    code, _, err = run(capsys, "-q", "synth", tmp_path / "big", "--size", "60000x120000")
    assert code == 2
    assert one_line_error(err).startswith("urbanseg: erro: size=60000x120000: deve ser no máximo")
    assert list(tmp_path.iterdir()) == []


def test_synth_out_of_memory_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    def no_memory(*_):
        raise MemoryError

    monkeypatch.setattr(synth, "_write_frame", no_memory)
    with pytest.raises(InputError, match="size=64x128: memória insuficiente") as error:
        synth.generate(tmp_path / "t", train=1, val=0, test=0, size=(64, 128), progress=False)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_synth_with_no_frames_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, "-q", "synth", tmp_path / "t", "--train", 0, "--val", 0, "--test", 0)
    assert code == 2
    assert "train=0, val=0, test=0: nenhum quadro a gerar" in one_line_error(err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "target, fault",
    [
        ("folder", "{target}: é uma pasta; indique um arquivo"),
        ("missing/m.json", "{tmp}/missing: pasta não encontrada (para m.json)"),
        ("a-file/m.json", "{tmp}/a-file: não é uma pasta (para m.json)"),
    ],
)
def test_evaluate_json_target_is_checked_before_evaluating(
    tree, tmp_path, capsys, monkeypatch, target, fault
):
    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("x")

    def never(*_, **__):
        raise AssertionError("evaluated before the --json target was checked")

    monkeypatch.setattr(evaluation, "evaluate_predictions", never)
    target = tmp_path / target
    code, _, err = run(
        capsys, "-q", "evaluate", "--root", tree, "--pred", tmp_path, "--json", target
    )
    assert code == 2
    assert one_line_error(err).startswith(
        "urbanseg: erro: " + fault.format(target=target, tmp=tmp_path)
    )


def test_a_json_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evaluation, "write_atomically", full_disk)
    with pytest.raises(InputError, match=r"m.json: não foi possível gravar \(No space left"):
        evaluation.write_json({"miou": 0.5}, tmp_path / "m.json")
