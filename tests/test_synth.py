"""The synthetic Cityscapes tree: official names, modes and polygons, all classes, determinism."""

import hashlib
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from urbanseg import data, synth
from urbanseg.errors import InputError
from urbanseg.labels import CLASS_NAMES, ID_TO_LABEL, NAME_TO_LABEL, labels_to_train_ids

SIZE = (128, 256)
COUNTS = {"train": 10, "val": 4, "test": 3}
SUFFIXES = (
    data.IMAGE_SUFFIX,
    data.LABEL_SUFFIX,
    data.INSTANCE_SUFFIX,
    data.COLOR_SUFFIX,
    data.POLYGON_SUFFIX,
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "cityscapes"
    assert synth.generate(root, **COUNTS, size=SIZE, seed=3, progress=False) == COUNTS
    return root


def _files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def _digest(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in _files(root)
    }


def _gt(sample, suffix):
    return sample.label.with_name(sample.stem + suffix)


def test_files_names_and_png_modes(tree):
    for split, count in COUNTS.items():
        samples = data.find_samples(tree, split)
        assert len(samples) == count
        for sample in samples:
            assert sample.stem.endswith("_000019") and sample.stem.startswith(sample.city + "_")
            assert sample.image.parent == tree / "leftImg8bit" / split / sample.city
            assert sample.instances == _gt(sample, data.INSTANCE_SUFFIX)
            assert all(_gt(sample, s).is_file() for s in SUFFIXES[1:])
            with Image.open(sample.image) as image:
                assert (image.mode, image.size) == ("RGB", SIZE[::-1])
            with Image.open(sample.label) as labels:
                assert labels.mode == "L" and labels.size == SIZE[::-1]
            with Image.open(sample.instances) as instances:  # 16-bit grey, as the real files
                assert instances.mode in ("I;16", "I") and instances.info.get("bits", 16) == 16
            assert sample.instances.read_bytes()[24:26] == bytes(
                [16, 0]
            )  # IHDR: depth 16, greyscale
            with Image.open(_gt(sample, data.COLOR_SUFFIX)) as colour:
                assert colour.mode == "RGBA"  # as json2labelImg(..., "color") writes it
            polygons = json.loads(_gt(sample, data.POLYGON_SUFFIX).read_text())
            assert (polygons["imgHeight"], polygons["imgWidth"]) == SIZE
            for obj in polygons["objects"]:
                assert set(obj) == {"label", "polygon"} and len(obj["polygon"]) >= 3
                for x, y in obj["polygon"]:
                    assert (
                        type(x) is int and type(y) is int and 0 <= x < SIZE[1] and 0 <= y < SIZE[0]
                    )


def test_splits_use_distinct_cities(tree):
    cities = {split: {s.city for s in data.find_samples(tree, split)} for split in COUNTS}
    assert cities["val"] <= {"frankfurt", "lindau", "munster"} and len(cities["val"]) == 3
    assert len(cities["train"]) == COUNTS["train"] and len(cities["test"]) == COUNTS["test"]
    assert not cities["train"] & cities["val"] and not cities["train"] & cities["test"]
    assert not cities["val"] & cities["test"]


def test_every_class_occurs_in_a_few_train_frames(tree):
    present = set()
    for sample in data.find_samples(tree, "train"):
        present |= set(np.unique(data.read_train_ids(sample.label)).tolist())
    assert [CLASS_NAMES[k] for k in range(len(CLASS_NAMES)) if k not in present] == []
    assert 255 in present  # void labels too (ego vehicle, borders, static, ...)


def test_official_scripts_rasterise_the_polygons_to_the_same_pngs(tree, tmp_path):
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    for split in COUNTS:
        for sample in data.find_samples(tree, split)[:3]:
            polygons = str(_gt(sample, data.POLYGON_SUFFIX))
            for encoding, suffix in (("ids", data.LABEL_SUFFIX), ("color", data.COLOR_SUFFIX)):
                json2labelImg(polygons, str(tmp_path / "out.png"), encoding)
                expected = np.asarray(Image.open(tmp_path / "out.png"))
                written = np.asarray(Image.open(_gt(sample, suffix)))
                assert np.array_equal(written, expected), (sample.stem, encoding)
            # json2instanceImg draws the same image, but Pillow >= 11 cannot save its mode "I" as PNG.
            annotation = Annotation()
            annotation.fromJsonFile(polygons)
            expected = np.asarray(createInstanceImage(annotation, "ids"))
            assert np.array_equal(np.asarray(Image.open(sample.instances)), expected), sample.stem


def test_instance_ids_only_for_classes_with_instances(tree):
    for sample in data.find_samples(tree, "train") + data.find_samples(tree, "val"):
        instances = np.asarray(Image.open(sample.instances)).astype(np.int64)
        label_ids = data.read_label_ids(sample.label)
        objects = json.loads(_gt(sample, data.POLYGON_SUFFIX).read_text())["objects"]
        groups = {o["label"][: -len("group")] for o in objects if o["label"] not in NAME_TO_LABEL}
        assert np.array_equal(np.where(instances >= 1000, instances // 1000, instances), label_ids)
        for value in np.unique(instances).tolist():
            label = ID_TO_LABEL[value // 1000 if value >= 1000 else value]
            assert value < 1000 or label.has_instances
            assert (
                value >= 1000 or not label.has_instances or label.name in groups
            )  # "cargroup": plain id
        for value in np.unique(
            instances[instances >= 1000]
        ).tolist():  # k counts that label's polygons
            assert value % 1000 < sum(
                o["label"] == ID_TO_LABEL[value // 1000].name for o in objects
            )


def test_test_split_has_no_evaluated_class(tree):
    for sample in data.find_samples(tree, "test"):
        label_ids = data.read_label_ids(sample.label)
        assert set(np.unique(label_ids).tolist()) <= {0, 1, 2, 3}
        assert np.all(labels_to_train_ids(label_ids) == 255)
        objects = json.loads(_gt(sample, data.POLYGON_SUFFIX).read_text())["objects"]
        assert {o["label"] for o in objects} <= set(synth.TEST_LABELS)
        assert np.array_equal(np.asarray(Image.open(sample.instances)), label_ids)


def test_same_seed_same_bytes_other_seed_other_scenes(tree, tmp_path):
    again = tmp_path / "again"
    synth.generate(again, **COUNTS, size=SIZE, seed=3, progress=False)
    assert _digest(again) == _digest(tree)
    other = tmp_path / "other"
    synth.generate(other, train=2, val=1, test=0, size=SIZE, seed=4, progress=False)
    for path, digest in _digest(other).items():
        assert digest != _digest(tree)[path], path


def test_frames_do_not_depend_on_the_other_counts(tree, tmp_path):
    fewer = tmp_path / "fewer"
    synth.generate(fewer, train=2, val=0, test=1, size=SIZE, seed=3, progress=False)
    reference = _digest(tree)
    assert all(reference[path] == digest for path, digest in _digest(fewer).items())


@pytest.mark.parametrize("size", [(32, 64), (64, 128), (96, 96), (1024, 2048)])
def test_any_size(tmp_path, size):
    counts = (
        {"train": 1, "val": 0, "test": 0} if size[0] > 512 else {"train": 3, "val": 1, "test": 1}
    )
    synth.generate(tmp_path / "t", **counts, size=size, progress=False)
    for sample in data.find_samples(tmp_path / "t", "train"):
        assert data.read_label_ids(sample.label).shape == size
        assert np.asarray(Image.open(sample.image)).shape == (*size, 3)


def test_refuses_a_non_empty_folder_and_writes_nothing(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="já existe e não está vazio"):
        synth.generate(out, train=1, val=0, test=0, size=(32, 64), progress=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (
        out / "notes.txt"
    ).read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no staging folder left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    synth.generate(empty, train=1, val=1, test=1, size=(32, 64), progress=False)
    assert len(_files(empty)) == 15 + 1 and not list(tmp_path.glob(".*.tmp"))  # + the marker


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"size": (16, 64)}, "size=16x64"),
        ({"size": (32, 32)}, "size=32x32"),
        ({"size": (0, 0)}, "size=0x0"),
        ({"size": "big"}, "size='big'"),
        ({"train": -1}, "train=-1"),
        ({"val": 2.5}, "val=2.5"),
        ({"seed": -3}, "seed=-3"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, arguments, message):
    with pytest.raises(InputError, match=message) as error:
        synth.generate(tmp_path / "t", progress=False, **arguments)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "t").exists()


def test_default_dataset_is_generated_once(tmp_path, monkeypatch):
    monkeypatch.setenv("URBANSEG_CACHE", str(tmp_path / "cache"))
    calls = []
    real_generate = synth.generate

    def small_generate(out):
        calls.append(out)
        return real_generate(out, train=1, val=1, test=1, size=(32, 64), progress=False)

    monkeypatch.setattr(synth, "generate", small_generate)
    root = synth.ensure_default_dataset()
    assert (
        root
        == tmp_path / "cache" / f"synthetic-v{synth.SYNTH_VERSION}"
        == synth.default_dataset_root()
    )
    assert len(data.find_samples(root, "val")) == 1
    assert synth.ensure_default_dataset() == root and len(calls) == 1


def test_a_generated_tree_says_it_is_synthetic(tree, tmp_path):
    """So that a run on it is reported as a check of the procedure, never as a ranking."""
    marker = json.loads((tree / synth.MARKER).read_text())
    assert marker == {
        "generator": "urbanseg.synth",
        "version": synth.SYNTH_VERSION,
        "seed": 3,
        "size": list(SIZE),
    }
    assert synth.is_synthetic(tree)
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    (copy / synth.MARKER).unlink()
    assert not synth.is_synthetic(copy)
