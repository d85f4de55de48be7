"""Finding pairs by stem, the official split, deterministic subsets, decoding and tf.data."""

import io

import numpy as np
import pytest
from conftest import write_pair
from PIL import Image

from urbanseg import data, pipeline
from urbanseg.errors import InputError


def test_find_samples_pairs_by_stem_and_split(tiny_tree):
    train = data.find_samples(tiny_tree, "train")
    val = data.find_samples(tiny_tree, "val")
    assert [s.stem for s in train][:2] == ["aachen_000000_000019", "aachen_000001_000019"]
    assert len(train) == 6 and len(val) == 2
    assert {s.city for s in val} == {"frankfurt"} and not {s.city for s in train} & {"frankfurt"}
    for sample in train + val:
        assert sample.image.name == f"{sample.stem}_leftImg8bit.png"
        assert sample.label.name == f"{sample.stem}_gtFine_labelIds.png"


def test_pairs_follow_names_not_sorted_position(tmp_path):
    # Cities whose folder order differs from their frames' order: each image keeps its label.
    root = tmp_path / "c"
    for city, index, label_id in (("lindau", 2, 7), ("frankfurt", 5, 26), ("munster", 0, 24)):
        write_pair(root, "val", city, index, np.full((8, 16), label_id, np.uint8))
    for sample in data.find_samples(root, "val"):
        image, _ = data.load_pair(sample)
        assert np.all(data.read_label_ids(sample.label) == image[..., 0] // 7)


def test_missing_label_and_orphan_label_name_the_stems(tiny_tree):
    (tiny_tree / "gtFine/train/aachen/aachen_000001_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(InputError, match="aachen_000001_000019"):
        data.find_samples(tiny_tree, "train")
    (tiny_tree / "leftImg8bit/val/frankfurt/frankfurt_000000_000019_leftImg8bit.png").unlink()
    with pytest.raises(
        InputError, match=r"sem _leftImg8bit.png para o\(s\) rótulo.*frankfurt_000000_000019"
    ):
        data.find_samples(tiny_tree, "val")


def test_missing_root_and_split(tmp_path, tiny_tree):
    with pytest.raises(InputError, match="raiz do Cityscapes não encontrada"):
        data.find_samples(tmp_path / "nowhere", "train")
    with pytest.raises(InputError, match="leftImg8bit/test"):
        data.find_samples(tiny_tree, "test")
    with pytest.raises(InputError, match="leftImg8bit/dev: pasta do split não encontrada"):
        data.find_samples(tiny_tree, "dev")  # another split is a folder (a teacher's held-out)
    with pytest.raises(InputError, match="split '../val' não é um de train, val, test nem"):
        data.find_samples(tiny_tree, "../val")  # never a path


def test_corrupt_png_and_out_of_range_ids(tiny_tree):
    sample = data.find_samples(tiny_tree, "train")[0]
    sample.label.write_bytes(sample.label.read_bytes()[:40])  # truncated
    with pytest.raises(InputError, match=f"{sample.label.name}.*não é um PNG válido"):
        data.read_label_ids(sample.label)
    Image.fromarray(np.full((32, 64), 40, np.uint8)).save(sample.label)
    with pytest.raises(InputError, match="ids de rótulo 40 fora de 0..33"):
        data.read_label_ids(sample.label)
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(sample.label)
    with pytest.raises(InputError, match="um só canal"):
        data.read_label_ids(sample.label)


def test_select_samples_is_deterministic_and_spread_over_cities(tiny_tree):
    samples = data.find_samples(tiny_tree, "train")
    first = data.select_samples(samples, 4, seed=3)
    assert first == data.select_samples(samples, 4, seed=3)
    assert len(first) == 4
    assert sorted(s.city for s in first) == ["aachen", "aachen", "bochum", "bochum"]
    assert data.select_samples(samples, None) == samples
    selections = {tuple(s.stem for s in data.select_samples(samples, 2, seed=k)) for k in range(10)}
    assert len(selections) > 1  # the seed matters
    with pytest.raises(InputError, match="max_images=0"):
        data.select_samples(samples, 0)


def test_load_pair_resizes_image_bilinear_and_mask_nearest(tiny_tree):
    sample = data.find_samples(tiny_tree, "train")[0]
    image, mask = data.load_pair(sample, (16, 32))
    assert image.shape == (16, 32, 3) and image.dtype == np.uint8
    assert mask.shape == (16, 32) and mask.dtype == np.uint8
    full = data.read_train_ids(sample.label)
    assert np.array_equal(mask, full[1::2, 1::2])  # nearest (pixel centres): no invented values
    assert not np.array_equal(image, np.asarray(Image.open(sample.image))[1::2, 1::2])  # bilinear


def test_rgb_order_is_kept(tmp_path):
    root = tmp_path / "c"
    image = np.zeros((8, 16, 3), np.uint8)
    image[..., 0] = 200  # pure red in RGB
    write_pair(root, "train", "ulm", 0, np.full((8, 16), 7, np.uint8), image)
    loaded, _ = data.load_pair(data.find_samples(root, "train")[0])
    assert loaded[0, 0].tolist() == [200, 0, 0]


def test_dataset_batches_types_and_augmentation(tiny_tree):
    samples = data.find_samples(tiny_tree, "train")
    evaluation = pipeline.make_dataset(samples, (32, 64), 4, progress=False)
    batches = list(evaluation)
    assert [b[0].shape[0] for b in batches] == [4, 2]
    images, masks = batches[0]
    assert images.dtype.name == "float32" and masks.dtype.name == "int32"
    expected = data.read_train_ids(samples[0].label)
    assert np.array_equal(masks[0].numpy(), expected)  # no augmentation outside training
    assert set(np.unique(masks.numpy())) <= set(range(19)) | {255}

    training = pipeline.make_dataset(samples, (32, 64), 4, training=True, seed=1, progress=False)
    stream = [m.numpy() for _, m in training.take(2)]  # endless: one full batch per pass
    epoch1, epoch2 = stream[:1], stream[1:]
    assert [m.shape for m in stream] == [(4, 32, 64)] * 2  # full batches only
    assert not all(np.array_equal(a, b) for a, b in zip(epoch1, epoch2))  # reshuffled/re-augmented
    again = pipeline.make_dataset(samples, (32, 64), 4, training=True, seed=1, progress=False)
    again = [m.numpy() for _, m in again.take(1)]
    assert all(np.array_equal(a, b) for a, b in zip(epoch1, again))  # same seed, same batches
    assert set(np.unique(np.concatenate(epoch1 + epoch2))) <= set(range(19)) | {255}


def test_cache_is_reused_and_invalidated_when_an_input_changes(tiny_tree, tmp_path):
    samples = data.find_samples(tiny_tree, "val")
    cache = tmp_path / "c"
    first, _ = data.build_cache(samples, (16, 32), cache_dir=cache, progress=False)
    again, _ = data.build_cache(samples, (16, 32), cache_dir=cache, progress=False)
    assert first == again and len(list(cache.iterdir())) == 1
    Image.fromarray(np.full((32, 64), 26, np.uint8)).save(samples[0].label)
    changed, masks = data.build_cache(samples, (16, 32), cache_dir=cache, progress=False)
    assert changed != first and len(list(cache.iterdir())) == 2
    assert np.all(np.asarray(Image.open(masks[0])) == 13)  # car's train id, from the new label


def test_tensorflow_and_pillow_decode_and_encode_the_same_pixels(tmp_path, monkeypatch):
    import sys

    import tensorflow  # noqa: F401 -- loaded, as training loads it: its codec is used

    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    ids = rng.integers(0, 34, (24, 40), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(ids).save(tmp_path / "ids.png")
    Image.fromarray(ids.astype(np.uint16) * 1000).save(tmp_path / "wide.png")  # 16-bit grey
    assert np.array_equal(data._decode_with_tensorflow(tmp_path / "photo.png", 3), photo)
    assert np.array_equal(data._decode_with_tensorflow(tmp_path / "ids.png", 1), ids)
    # what TensorFlow's uint8 decode would get wrong is left to Pillow
    assert data._decode_with_tensorflow(tmp_path / "wide.png", 1) is None
    assert data._decode_with_tensorflow(tmp_path / "ids.png", 3) is None  # grey as a photo
    assert np.array_equal(data.read_rgb(tmp_path / "ids.png"), np.repeat(ids[..., None], 3, -1))
    with pytest.raises(InputError, match="ids de rótulo"):  # 1000 and up, read by Pillow
        data.read_label_ids(tmp_path / "wide.png")
    for array in (photo, ids):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data._encode_png(array)))), array)
    (tmp_path / "broken.png").write_bytes((tmp_path / "photo.png").read_bytes()[:200])
    with pytest.raises(InputError, match="broken.png"):
        data.read_rgb(tmp_path / "broken.png")
    monkeypatch.delitem(sys.modules, "tensorflow")  # without it: Pillow, the same pixels
    assert data._decode_with_tensorflow(tmp_path / "photo.png", 3) is None
    assert np.array_equal(data.read_rgb(tmp_path / "photo.png"), photo)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data._encode_png(ids)))), ids)


def test_the_course_drive_layout_of_two_unpacked_zips_is_found(tmp_path):
    root = tmp_path / "cityscapes"
    write_pair(root / "leftImg8bit_trainvaltest", "train", "aachen", 0, np.full((8, 8), 7))
    nested = root / "leftImg8bit_trainvaltest"
    (root / "gtFine_trainvaltest").mkdir()
    (nested / "gtFine").rename(root / "gtFine_trainvaltest" / "gtFine")
    (sample,) = data.find_samples(root, "train")
    assert sample.image == nested / "leftImg8bit" / "train" / "aachen" / sample.image.name
    assert sample.label.parent == root / "gtFine_trainvaltest" / "gtFine" / "train" / "aachen"
    assert data.subtree(tmp_path, "gtFine") == tmp_path / "gtFine"  # neither: the official name
