import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_pair(
    root: Path,
    split: str,
    city: str,
    index: int,
    label_ids: np.ndarray,
    image: np.ndarray | None = None,
) -> str:
    """One Cityscapes frame: leftImg8bit RGB image and gtFine labelIds; returns its stem."""
    stem = f"{city}_{index:06d}_000019"
    image_dir = root / "leftImg8bit" / split / city
    label_dir = root / "gtFine" / split / city
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    if image is None:
        image = np.full((*label_ids.shape, 3), 100, np.uint8)
        image[..., 0] = label_ids * 7
    Image.fromarray(image).save(image_dir / f"{stem}_leftImg8bit.png")
    Image.fromarray(label_ids.astype(np.uint8)).save(label_dir / f"{stem}_gtFine_labelIds.png")
    return stem


@pytest.fixture
def tiny_tree(tmp_path):
    """Two train cities (3 frames each) and one val city (2 frames), 32x64, known labels."""
    root = tmp_path / "cityscapes"
    rng = np.random.default_rng(0)
    for split, cities, frames in (("train", ("aachen", "bochum"), 3), ("val", ("frankfurt",), 2)):
        for city in cities:
            for index in range(frames):
                write_pair(root, split, city, index, rng.integers(0, 34, (32, 64)))
    return root


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test gets its own preprocessing cache (no writes to the user's ~/.cache)."""
    if "URBANSEG_TEST_SHARED_CACHE" not in os.environ:
        monkeypatch.setenv("URBANSEG_CACHE", str(tmp_path / "cache"))


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF: pypdf when installed, else /Type /Page objects, looking inside the
    compressed object streams WeasyPrint writes."""
    try:
        import io

        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(data)).pages)
    except ImportError:
        import contextlib
        import zlib

        chunks = [data]
        for match in re.finditer(rb"/FlateDecode[^>]*>>\s*stream\r?\n", data):
            with contextlib.suppress(zlib.error):
                chunks.append(zlib.decompressobj().decompress(data[match.end() :]))
        return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", chunk)) for chunk in chunks)
