"""Reading and checking the values of a run record's JSON (urbanseg.records): each helper
converts one kind of value, or raises TypeError/ValueError (InputError for a whole file) that
names the field, so that a hand-edited or truncated metrics.json is refused with a line saying
what is wrong in it rather than a traceback from deep inside the report."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError


def fields_of(kind, values: dict | None):
    """``kind(**values)`` for the fields it knows (a field of another version is ignored),
    converted to the field's type: numbers, tuples for the (H, W) pairs, lists of text and
    mappings of numbers. TypeError or ValueError for a value that is none of these."""
    converters = {"float": number, "int": int, "str": str, "bool": bool}
    if values is not None and not isinstance(values, dict):
        raise TypeError(f"{kind.__name__}: esperado um objeto, recebido {type(values).__name__}")
    known = {}
    for spec in dataclasses.fields(kind):
        value = (values or {}).get(spec.name)
        if value is None:
            continue
        base = str(spec.type).split("|")[0].strip()
        if base.startswith("tuple"):
            value = tuple(int(v) for v in sequence(value, spec.name))
            if len(value) != 2:
                raise ValueError(f"{spec.name}: esperado (altura, largura), recebido {value}")
        elif base.startswith("list"):
            value = [str(v) for v in sequence(value, spec.name)]
        elif base.startswith("dict"):
            if not isinstance(value, dict):
                raise TypeError(f"{spec.name}: esperado um objeto, recebido {value!r}")
            value = {str(k): None if v is None else number(v) for k, v in value.items()}
        elif base in converters:
            value = converters[base](value)
        known[spec.name] = value
    return kind(**known)


def mapping(values: dict, name: str) -> dict[str, Any]:
    """``values[name]``, a JSON object (empty when absent); TypeError for anything else."""
    value = values.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name}: esperado um objeto, recebido {value!r}"[:200])
    return dict(value)


def sequence(value, name: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: esperada uma lista, recebido {value!r}")
    return list(value)


def number(value) -> float:
    """A JSON number as a float; TypeError for text, booleans and the rest."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"esperado um número, recebido {value!r}")
    return float(value)


_SCORES = ("miou", "category_miou", "iiou", "category_iiou", "pixel_accuracy", "mean_accuracy")
_SCORE_MAPS = ("iou", "instance_iou", "category_iou", "category_instance_iou")


def check_metrics(metrics: dict) -> None:
    """ValueError or TypeError unless the scores are fractions in [0, 1] or null (mIoU a
    number), the per-class scores mappings of them and the confusion matrix 19 x 20 counts."""

    def fraction(name, value, required=False):
        if value is None and not required:
            return
        given = number(value)
        if not -1e-9 <= given <= 1.0 + 1e-9:  # NaN fails too; rounding may pass 1 by an ulp
            raise ValueError(f"metrics.{name} = {value!r}: esperada uma fração entre 0 e 1")

    fraction("miou", metrics.get("miou"), required=True)
    for name in (*_SCORES[1:], "fw_iou"):
        fraction(name, metrics.get(name))
    for name in _SCORE_MAPS:
        values = metrics.get(name)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise TypeError(f"metrics.{name}: esperado um objeto, recebido {values!r}"[:200])
        for key, value in values.items():
            fraction(f"{name}.{key}", value)
    count = metrics.get("num_images")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise TypeError(f"metrics.num_images: esperado um inteiro, recebido {count!r}")
    matrix = metrics.get("confusion_matrix")
    if matrix is not None:
        array = np.asarray(matrix, dtype=object)
        if array.shape != (19, 20) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in array.flat
        ):
            raise ValueError("metrics.confusion_matrix: esperadas 19 x 20 contagens")


def check_context(values: dict | None) -> dict[str, Any]:
    """The model's context record (urbanseg.models.context_of), its sizes checked."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise TypeError(f"context: esperado um objeto, recebido {values!r}"[:200])
    feature_map = values.get("feature_map")
    if feature_map is not None and (
        not isinstance(feature_map, list)
        or len(feature_map) != 2
        or not all(isinstance(v, int) and v > 0 for v in feature_map)
    ):
        raise ValueError(
            f"context.feature_map: esperado [altura, largura], recebido {feature_map!r}"
        )
    for name in ("rates", "bins"):
        sizes = values.get(name)
        if sizes is not None and (
            not isinstance(sizes, list) or not all(isinstance(v, int) for v in sizes)
        ):
            raise ValueError(f"context.{name}: esperada uma lista de inteiros, recebido {sizes!r}")
    return dict(values)


def text_or_none(value) -> str | None:
    return None if value is None else str(value)


def optional(convert, value):
    return None if value is None else convert(value)


def plain(value):
    """JSON-ready: numpy scalars and arrays as Python values, NaN as null, paths as text."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    return value


def first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "erro desconhecido"


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: JSON malformado ({error.msg} na linha {error.lineno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: não é texto UTF-8") from None
    except OSError as error:
        raise InputError(f"{path}: não pode ser lido ({error.strerror})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: esperado um objeto JSON, recebido {type(value).__name__}")
    return value
