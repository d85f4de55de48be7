"""The report's text and number formatting, in Brazilian Portuguese and English.

The words live in ``templates/locales/<lang>.yaml``: ``strings`` (key -> text, with ``str.format``
fields), ``classes`` and ``categories`` (Cityscapes names -> display names). ``text(key, lang)``
looks a string up; ``number``, ``percent`` and ``duration`` format values the way a reader of
``lang`` expects (``45,3`` in Portuguese, ``45.3`` in English). Adding a language is adding a
file and its code to ``LANGUAGES``.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import yaml

from .errors import InputError
from .resources import locales_dir

LANGUAGES = ("pt", "en")
_SECTIONS = ("strings", "classes", "categories")


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"lang={lang!r}: deve ser um de {', '.join(LANGUAGES)}")
    return lang


def _path(lang: str) -> Path:
    return locales_dir() / f"{_check_lang(lang)}.yaml"


@cache
def locale(lang: str) -> dict:
    """The parsed locale file of ``lang``: ``{"strings": ..., "classes": ..., "categories": ...}``."""
    path = _path(lang)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(
            f"{path}: não foi possível ler o arquivo de idioma ({error.strerror})"
        ) from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = " ".join(str(error).split())
        raise InputError(f"{path}: não é um arquivo de idioma válido ({reason})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(s), dict) for s in _SECTIONS):
        raise InputError(
            f"{path}: um arquivo de idioma precisa dos mapeamentos {', '.join(_SECTIONS)}"
        )
    return data


def text(key: str, lang: str = "pt", **fields) -> str:
    """The string ``key`` in ``lang``, with ``fields`` filled in by ``str.format``."""
    strings = locale(lang)["strings"]
    if key not in strings:
        raise KeyError(f"{key!r}: texto inexistente em {_path(lang)}")
    value = strings[key]
    return value.format(**fields) if fields else value


def class_name(name: str, lang: str = "pt") -> str:
    """A Cityscapes class name ("traffic light") as a reader of ``lang`` knows it."""
    return locale(lang)["classes"].get(name, name)


def category_name(name: str, lang: str = "pt") -> str:
    """A Cityscapes category name ("vehicle") as a reader of ``lang`` knows it."""
    return locale(lang)["categories"].get(name, name)


def join_names(names, lang: str = "pt") -> str:
    """Names as a list in prose: "a, b e c" (pt), "a, b and c" (en)."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + text("list_and", lang) + names[-1]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value, decimals: int = 1, lang: str = "pt") -> str:
    """A number with ``decimals`` digits, thin-space thousands, the decimal mark of ``lang``."""
    if _missing(value):
        return text("not_available", lang)
    formatted = f"{float(value):,.{decimals}f}"  # 12,345.6
    if _check_lang(lang) == "pt":
        return formatted.replace(",", "\u2009").replace(".", ",")
    return formatted.replace(",", "\u2009")


def percent(fraction, decimals: int = 1, lang: str = "pt") -> str:
    """A score in [0, 1] as a percentage without the sign: 0.4532 -> "45,3" (pt) / "45.3" (en)."""
    if _missing(fraction):
        return text("not_available", lang)
    return number(100.0 * float(fraction), decimals, lang)


def duration(seconds, lang: str = "pt") -> str:
    """12.3 -> "12 s"; 725 -> "12 min 05 s"; 4000 -> "1 h 06 min"."""
    if _missing(seconds):
        return text("not_available", lang)
    seconds = round(float(seconds))
    if seconds >= 3600:
        return text("unit_duration_h", lang, h=seconds // 3600, m=seconds % 3600 // 60)
    if seconds >= 60:
        return text("unit_duration_m", lang, m=seconds // 60, s=seconds % 60)
    return text("unit_duration_s", lang, s=seconds)
