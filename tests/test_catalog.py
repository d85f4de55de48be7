"""The model catalog: one record per model, the models' registry's twin, Keras-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

from urbanseg.catalog import (
    CATALOG,
    EXTRA_COLORS,
    ORDER,
    display_name,
    model_colors,
    model_info,
    sort_key,
)
from urbanseg.errors import InputError
from urbanseg.i18n import LANGUAGES


def test_every_built_in_model_has_one_complete_record():
    from urbanseg.models import MODELS

    assert list(CATALOG) == list(MODELS) == list(ORDER)
    colors = [info.color for info in CATALOG.values()]
    assert len(set(colors)) == len(colors) and not set(colors) & set(EXTRA_COLORS)
    for key, info in CATALOG.items():
        assert info.key == key and info.display_name
        assert "arXiv:" in info.reference and info.url.startswith("https://arxiv.org/abs/")
        assert info.url.rsplit("/", 1)[1] in info.reference
        assert all(len(info.describe(lang)) > 100 for lang in LANGUAGES)
        assert info.describe("pt") != info.describe("en")
        assert 0 < info.cpu_width <= 1
    assert CATALOG["unet"].backbone is None  # the one model trained from scratch
    assert {CATALOG[k].backbone for k in ("segnet", "fcn")} == {"VGG16"}


def test_the_catalog_does_not_import_keras():
    code = "import sys, urbanseg.catalog; print('keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_model_outside_the_catalog_describes_itself():
    info = model_info(
        "mine",
        {
            "display_name": "MinhaNet",
            "description": "Uma rede.",
            "reference": "A. Autor. Título. 2025.",
            "url": None,
        },
    )
    assert info.display_name == "MinhaNet" and info.reference == "A. Autor. Título. 2025."
    assert info.describe("pt") == info.describe("en") == "Uma rede."
    both = model_info("mine", {"description": {"pt": "Uma rede.", "en": "A network."}})
    assert both.describe("en") == "A network." and both.display_name == "mine"
    assert model_info("mine").describe("pt") is None and display_name("mine") == "mine"
    assert model_info("unet", {"display_name": "ignored"}) is CATALOG["unet"]


@pytest.mark.parametrize(
    "supplied, message",
    [
        ({"name": "x"}, r"campo\(s\) desconhecido\(s\) name"),
        ({"display_name": 3}, "display_name deve ser texto, recebido 3"),
        ({"description": ["a", "b"]}, "description deve ser texto"),
        (
            {"description": {"pt": None, "en": "x"}},
            r"description\[pt\] deve ser texto, recebido None",
        ),
    ],
)
def test_a_bad_model_info_is_an_input_error(supplied, message):
    with pytest.raises(InputError, match=f"model_info de 'mine': {message}"):
        model_info("mine", supplied)


def test_order_and_colours():
    keys = ["zeta", "pspnet", "Alpha", "unet", "deeplab"]
    assert sorted(keys, key=sort_key) == ["unet", "deeplab", "pspnet", "Alpha", "zeta"]
    colors = model_colors(["mine", "unet", "yours"])
    assert colors == {
        "mine": EXTRA_COLORS[0],
        "unet": CATALOG["unet"].color,
        "yours": EXTRA_COLORS[1],
    }
    assert model_colors(["deeplab"])["deeplab"] == model_colors(ORDER)["deeplab"]
