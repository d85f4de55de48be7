"""Run parameters: one frozen dataclass, mirrored one to one by every notebook's parameters cell.

Papermill only warns about a parameter a notebook does not declare; here an unknown name is an
error, and every value is checked before any training starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

# Which weights are scored: never chosen on the split that is reported.
SELECTIONS = ("last", "holdout")
OPTIMIZERS = ("adam", "adamw", "sgd")
EVAL_MODES = ("resize", "whole", "slide")  # how the model sees a validation image
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RunConfig:
    data_root: str | None = None  # Cityscapes root; None: the embedded synthetic tree
    image_height: int = 128  # training/inference size; multiples of 32
    image_width: int = 256
    epochs: int = 10
    batch_size: int = 4
    max_train_images: int | None = None  # None: the whole train split (2975 on Cityscapes)
    max_val_images: int | None = None  # None: the whole val split (500 on Cityscapes)
    learning_rate: float = 2e-3  # the initial rate, poly decay (power 0.9) to min_learning_rate
    backbone_weights: str | None = None  # None, "imagenet" or a weights file (DeepLab, PSPNet)
    variant: str = "default"  # "seed": the original notebook's U-Net, SegNet, FCN
    width: float | None = None  # channel multiplier; None: the model's CPU-friendly default
    seed: int = 0  # initialisation, data order, augmentation; the images are the same
    selection: str = "last"  # "last": the final weights; "holdout": best epoch on held-out cities
    aux_loss: float = 0.0  # weight of PSPNet's auxiliary loss on conv4 (0.4 in the paper); 0: none
    output_stride: int | None = None  # DeepLab, PSPNet: 8 (the papers') or 16; None: the model's
    optimizer: str = "adam"  # "adam", "adamw" or "sgd" (the papers': lr 0.01, momentum 0.9)
    momentum: float = 0.9  # SGD's
    weight_decay: float = 0.0  # 5e-4 in the papers' recipe
    iterations: int | None = None  # optimizer steps in all (replaces epochs); None: epochs decide
    warmup_iterations: int = 0  # linear warm-up of the rate over the first steps
    min_learning_rate: float = 0.0  # the floor the poly decay reaches at the last step
    backbone_lr_mult: float = 1.0  # the ImageNet backbone's rate times this (e.g. 0.1); 1: same
    crop_height: int | None = None  # the model's training input, cut from the rescaled image;
    crop_width: int | None = None  # None: the whole image at image_height x image_width
    scale_range: str = "0.75,1.5"  # random rescale of the cached image ("0.5,2" in the papers')
    cat_max_ratio: float = 1.0  # a crop has at most this share of one class (0.75); 1: any crop
    photometric: bool = False  # brightness, contrast, saturation and hue distortion
    eval_mode: str = "resize"  # "resize": to the training size; "whole": the full image; "slide"
    eval_overlap: float = 0.33  # "slide": how much of a window its neighbour overlaps
    results_dir: str = "results"

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build and validate; InputError naming the first unknown or bad parameter."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise InputError(
                f"parâmetro(s) desconhecido(s) {', '.join(unknown)}; válidos: {', '.join(names)}"
            )
        config = cls(**{name: _coerce(name, value) for name, value in values.items()})
        config.validate()
        return config

    def validate(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:  # what NumPy's generators accept
            raise InputError(f"seed={self.seed}: deve estar entre 0 e {MAX_SEED}")
        for name in ("image_height", "image_width"):
            value = getattr(self, name)
            if value < 32 or value % 32:
                raise InputError(f"{name}={value}: deve ser um múltiplo positivo de 32")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name}={getattr(self, name)}: deve ser pelo menos 1")
        for name in ("max_train_images", "max_val_images"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(
                    f"{name}={value}: deve ser pelo menos 1, ou None para o split inteiro"
                )
        if self.optimizer not in OPTIMIZERS:
            raise InputError(
                f"optimizer={self.optimizer!r}: deve ser um de {', '.join(map(repr, OPTIMIZERS))}"
            )
        if self.iterations is not None and self.iterations < 1:
            raise InputError(f"iterations={self.iterations}: deve ser pelo menos 1, ou None")
        if self.warmup_iterations < 0:
            raise InputError(f"warmup_iterations={self.warmup_iterations}: deve ser 0 ou mais")
        for name in ("momentum", "weight_decay", "min_learning_rate"):
            if not 0 <= getattr(self, name) < (1 if name == "momentum" else math.inf):
                raise InputError(f"{name}={getattr(self, name)}: fora do intervalo válido")
        if not 0 < self.backbone_lr_mult <= 10:
            raise InputError(f"backbone_lr_mult={self.backbone_lr_mult}: deve estar em (0, 10]")
        if (self.crop_height is None) != (self.crop_width is None):
            raise InputError("crop_height e crop_width: passe os dois, ou nenhum")
        for name in ("crop_height", "crop_width"):
            value = getattr(self, name)
            if value is not None and (value < 32 or value % 32):
                raise InputError(f"{name}={value}: deve ser um múltiplo positivo de 32")
        low, high = scale_bounds(self.scale_range)
        if not 0 < low <= high < math.inf:
            raise InputError(f"scale_range={self.scale_range!r}: esperado 0 < mínimo <= máximo")
        if not 0 < self.cat_max_ratio <= 1:
            raise InputError(f"cat_max_ratio={self.cat_max_ratio}: deve estar em (0, 1]")
        if self.eval_mode not in EVAL_MODES:
            raise InputError(
                f"eval_mode={self.eval_mode!r}: deve ser um de {', '.join(map(repr, EVAL_MODES))}"
            )
        if not 0 <= self.eval_overlap < 1:
            raise InputError(f"eval_overlap={self.eval_overlap}: deve estar em [0, 1)")
        if self.output_stride not in (None, 8, 16):
            raise InputError(f"output_stride={self.output_stride}: deve ser 8, 16 ou None")
        if not 0 <= self.aux_loss <= 1:
            raise InputError(
                f"aux_loss={self.aux_loss}: deve estar entre 0 (sem cabeça auxiliar) e 1"
            )
        if not self.learning_rate > 0:
            raise InputError(f"learning_rate={self.learning_rate}: deve ser positivo")
        if not self.min_learning_rate < self.learning_rate:
            raise InputError(
                f"min_learning_rate={self.min_learning_rate}: deve ser menor que learning_rate "
                f"({self.learning_rate})"
            )
        if self.selection not in SELECTIONS:
            raise InputError(
                f"selection={self.selection!r}: deve ser um de {', '.join(map(repr, SELECTIONS))}"
            )
        if self.variant not in ("default", "seed"):
            raise InputError(f"variant={self.variant!r}: deve ser 'default' ou 'seed'")
        if self.width is not None and not self.width > 0:
            raise InputError(
                f"width={self.width}: deve ser positivo, ou None para o padrão do modelo"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def _repr_html_(self) -> str:
        """How a notebook shows the run's parameters: a table, the values that differ from the
        defaults in bold with the default beside them (rather than one long repr line)."""
        import html

        defaults = RunConfig().to_dict()
        rows = []
        for name, value in self.to_dict().items():
            changed = value != defaults[name] and name != "results_dir"
            shown = html.escape(repr(value))
            cells = (
                f"<td><code>{name}</code></td>"
                + (f"<td><b>{shown}</b></td>" if changed else f"<td>{shown}</td>")
                + (f"<td>{html.escape(repr(defaults[name]))}</td>" if changed else "<td></td>")
            )
            rows.append(f"<tr>{cells}</tr>")
        head = "<tr><th>parâmetro</th><th>valor</th><th>padrão, se mudou</th></tr>"
        return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"

    def digest(self, model: str) -> str:
        """A short hash of the model name and every parameter that changes the result."""
        values = self.to_dict()
        values.pop("results_dir")
        if values["data_root"]:  # data/cityscapes, ./data/cityscapes/ and its absolute path
            values["data_root"] = os.path.abspath(os.path.expanduser(values["data_root"]))
        text = json.dumps({"model": model, **values}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_TYPES = {f.name: f.type for f in dataclasses.fields(RunConfig)}


_NONE_WORDS = ("none", "null", "~", "")  # what papermill and YAML read as None


def _coerce(name: str, value: Any) -> Any:
    """Accept what papermill, YAML and the command line give: text ("3", "1e-3", "None"), ints
    for floats, and whole floats for ints ("10.0", "1e1")."""
    kind = _TYPES[name]
    optional = "None" in kind
    if name == "data_root" and isinstance(value, str) and not value.strip():
        # what `-p data_root $DATA` gives when DATA is unset: not a request for synthetic data
        raise InputError(
            f"data_root={value!r}: caminho vazio (uma variável como $DATA não definida?); "
            "passe a raiz do Cityscapes, ou None para a árvore sintética"
        )
    if value is None or (optional and isinstance(value, str) and value.lower() in _NONE_WORDS):
        if optional:
            return None
        raise InputError(f"{name}=None: um valor é obrigatório")
    base = kind.split("|")[0].strip()
    try:
        if base == "bool":
            return _boolean(value)
        if name == "scale_range":
            return _scale_range(value)
        if isinstance(value, bool) and base != "str":
            raise ValueError
        if base == "int":
            if isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    value = float(value)  # "10.0", "1e1"
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if base == "float":
            number = float(value)
        else:
            return str(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name}={value!r}: esperado {base}") from None
    if not math.isfinite(number):  # inf trains, then fails writing the record's JSON
        raise InputError(f"{name}={value!r}: esperado um número finito")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError


def _scale_range(value: Any) -> str:
    """ "0.5,2" from "0.5,2.0", "0.5-2", "0.5 2" or [0.5, 2.0] (YAML), as "low,high"."""
    parts = (
        value
        if isinstance(value, (list, tuple))
        else re.split(r"[,;\s]+|(?<=\d)-", str(value).strip("[]() "))
    )
    low, high = (float(part) for part in parts if str(part) != "")
    return f"{low:g},{high:g}"


def scale_bounds(scale_range: str) -> tuple[float, float]:
    low, high = scale_range.split(",")
    return float(low), float(high)


def load_parameters_file(path: str | Path) -> dict[str, Any]:
    """Parameters from a YAML mapping (papermill's ``-f``), checked; InputError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: arquivo de parâmetros não encontrado") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            f"{path}: não foi possível ler o arquivo de parâmetros ({error})"
        ) from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" linha {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(f"{path}:{where}: YAML malformado ({problem})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InputError(
            f"{path}: esperado um mapeamento de nomes de parâmetros para valores, "
            f"recebido: {type(values).__name__}"
        )
    not_text = [key for key in values if not isinstance(key, str)]
    if not_text:  # `1: 2` or `null: x`: YAML keys are not always text
        raise InputError(
            f"{path}: o nome de parâmetro {not_text[0]!r} não é texto "
            "(os nomes são palavras como epochs ou batch_size)"
        )
    try:
        RunConfig.from_dict(values)
    except InputError as error:
        raise InputError(f"{path}: {error}") from None
    return values


def parameter_names() -> list[str]:
    return [f.name for f in dataclasses.fields(RunConfig)]


# Names IPython itself puts in a notebook's namespace (plus papermill's none).
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
_PARAMETER_TYPES = (type(None), bool, int, float, str)  # what papermill can inject


def from_namespace(namespace: dict[str, Any]) -> RunConfig:
    """The RunConfig of a notebook's parameters cell (and papermill's injected cell).

    Call it first thing after the parameters: every public name then defined is a parameter,
    so a name papermill injected that the notebook does not know is rejected here instead of
    being silently ignored (papermill only warns about it).
    """
    values = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_")
        and name not in _IPYTHON_NAMES
        and isinstance(value, _PARAMETER_TYPES)
    }  # not the imported modules and functions
    return RunConfig.from_dict(values)
