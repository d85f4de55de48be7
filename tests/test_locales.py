"""The locale files (templates/locales/*.yaml) and urbanseg.i18n, which reads them."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from urbanseg import i18n
from urbanseg.errors import InputError
from urbanseg.labels import CATEGORY_NAMES, CLASS_NAMES
from urbanseg.resources import templates_dir

SECTIONS = ("strings", "classes", "categories")


def placeholders(value: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(value) if field is not None}


@pytest.fixture
def fresh_cache():
    i18n.locale.cache_clear()
    yield
    i18n.locale.cache_clear()


@pytest.mark.parametrize("section", SECTIONS)
def test_every_language_has_the_same_keys(section):
    pt, en = (i18n.locale(lang)[section] for lang in ("pt", "en"))
    assert set(pt) - set(en) == set(), f"in pt.yaml only ({section})"
    assert set(en) - set(pt) == set(), f"in en.yaml only ({section})"


def test_every_string_has_the_same_placeholders_in_every_language():
    pt, en = (i18n.locale(lang)["strings"] for lang in ("pt", "en"))
    for key in pt:
        assert placeholders(pt[key]) == placeholders(en[key]), key


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_value_is_a_non_empty_string(lang):
    data = i18n.locale(lang)
    assert set(data) == set(SECTIONS)
    for section in SECTIONS:
        for key, value in data[section].items():
            assert isinstance(value, str), f"{lang}.yaml {section}.{key}: {value!r}"
            assert value.strip(), f"{lang}.yaml {section}.{key} is empty"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_classes_and_categories_cover_the_labels(lang):
    assert set(i18n.locale(lang)["classes"]) == set(CLASS_NAMES)
    assert len(i18n.locale(lang)["classes"]) == 19
    assert set(i18n.locale(lang)["categories"]) == {*CATEGORY_NAMES, "void"}


def test_every_key_asked_for_by_name_exists():
    """Literal keys in the templates (``t('key')``) and the library (``t("key")``,
    ``text("key", ...)``); keys built at run time (``f"col_{name}"``) are left to the report's
    rendering tests."""
    # a whole literal key: followed by "," or ")", not by "~" or "+" (a key built from parts)
    call = re.compile(r"""(?:\bt|\btext)\(\s*['"]([a-z0-9_]+)['"]\s*[,)]""")
    used = set()
    for template in templates_dir().glob("*.j2"):
        used |= set(call.findall(template.read_text("utf-8")))
    for module in (Path(i18n.__file__).parent).rglob("*.py"):
        used |= set(call.findall(module.read_text("utf-8")))
    assert len(used) > 100  # the pattern still finds the calls
    for lang in i18n.LANGUAGES:
        assert used - set(i18n.locale(lang)["strings"]) == set(), f"missing in {lang}.yaml"


def test_unknown_key_or_language_is_an_error():
    with pytest.raises(KeyError, match=r"no_such_key.*pt\.yaml"):
        i18n.text("no_such_key")
    with pytest.raises(ValueError, match="pt, en"):
        i18n.text("title", "xx")
    with pytest.raises(ValueError):
        i18n.number(1.0, 1, "xx")


def test_text_fills_fields():
    assert i18n.text("failed_title", "en", model="PSPNet") == "Failed: PSPNet"
    assert i18n.text("failed_title", "pt", model="PSPNet") == "Falhou: PSPNet"
    assert i18n.text("list_and", "pt") == " e "


def test_number_and_percent():
    assert i18n.number(12345.678, 1, "pt") == "12\u2009345,7"
    assert i18n.number(12345.678, 1, "en") == "12\u2009345.7"
    assert i18n.number(3, 0, "en") == "3"
    assert i18n.percent(0.4532, 1, "pt") == "45,3"
    assert i18n.percent(0.4532, 2, "en") == "45.32"
    assert i18n.percent(None) == "—"
    assert i18n.number(float("nan"), 1, "en") == "—"


def test_duration():
    assert i18n.duration(12.3) == "12 s"
    assert i18n.duration(725, "pt") == "12 min 05 s"
    assert i18n.duration(4000, "en") == "1 h 06 min"
    assert i18n.duration(None, "en") == "—"


def test_join_and_names():
    assert i18n.join_names(["a", "b", "c"], "pt") == "a, b e c"
    assert i18n.join_names(["a", "b"], "en") == "a and b"
    assert i18n.join_names(["a"], "en") == "a"
    assert i18n.join_names([], "pt") == ""
    assert i18n.class_name("traffic light", "pt") == "semáforo"
    assert i18n.class_name("traffic light", "en") == "traffic light"
    assert i18n.class_name("license plate", "pt") == "license plate"
    assert i18n.category_name("vehicle", "pt") == "veículo"
    assert i18n.category_name("void", "en") == "void"


def test_missing_or_malformed_locale_file_is_an_input_error(tmp_path, monkeypatch, fresh_cache):
    monkeypatch.setattr(i18n, "locales_dir", lambda: tmp_path)
    with pytest.raises(InputError, match=r"pt\.yaml"):
        i18n.text("title", "pt")
    (tmp_path / "en.yaml").write_text("strings: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"en\.yaml") as raised:
        i18n.text("title", "en")
    assert "\n" not in str(raised.value)
    (tmp_path / "en.yaml").write_text("strings:\n  title: x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"en\.yaml"):
        i18n.text("title", "en")
