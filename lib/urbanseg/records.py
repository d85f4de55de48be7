"""The record of one model run, and the only reader and writer of its files.

``results/<model>/metrics.json`` (a finished run) and ``results/<model>/failed.json`` (a run that
failed) are both a ``RunRecord`` (docs/results.md): ``RunRecord.read(folder)`` reads whichever is
there, ``record.write(folder)`` writes the one its status calls for, atomically. Every other
module reads attributes of a record, never the JSON. ``load_records`` reads a whole results
folder (one run per ``<model>/seed-<k>/``); with ``tolerant=True`` (the report, the summary) a
file it cannot read is a failed run naming the file, a run folder without a record an
"incomplete" one and a second folder of the same model and seed a "duplicate", so that one bad
folder is listed instead of stopping everything. ``PerImage`` reads and writes a run's per-image
confusion matrices. The study's tables (summary.csv, runs.csv) are ``urbanseg.summary``'s.

(Past 400 lines on purpose: the record's parts, its JSON mapping, the per-image file and the
folder layout are one file format; apart, each piece would import the others.)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_atomically
from .catalog import sort_key
from .errors import InputError

log = logging.getLogger(__name__)

# Bumped when a field changes meaning; files without "schema" are version 1. Version 2: timing
# measures the forward pass on the device and training without its monitoring; runs live in
# results/<model>/seed-<k>/ with their per-image confusion matrices.
SCHEMA_VERSION = 2
METRICS_FILE, FAILED_FILE, HISTORY_FILE = "metrics.json", "failed.json", "history.csv"
# A record's status: "ok" and "failed" are read from the files; "incomplete" (a run folder
# without either file) and "duplicate" (a second folder of a model and seed) only ever come from
# ``load_records(..., tolerant=True)``, are never written and are not part of any comparison.
OK, FAILED, INCOMPLETE, DUPLICATE = "ok", "failed", "incomplete", "duplicate"
MAX_MODEL_NAME = 100  # characters; a model name is a notebook's file name
# A forward time recorded without its number of timed passes is from before that number could
# vary: it is the median of 50 (urbanseg.costs.REPEATS).
LEGACY_FORWARD_REPEATS = 50
PER_IMAGE_FILE = "confusion_per_image.npz"  # one 19 x 20 matrix per validation image
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "val_loss",
    "val_miou",
    "learning_rate",
    "seconds",
    "monitor_seconds",
)


@dataclass
class DataInfo:
    """What the run trained and was scored on."""

    root: str | None = None
    synthetic: bool = False
    train_images: int | None = None
    val_images: int | None = None
    image_size: tuple[int, int] | None = None  # original resolution (H, W)
    class_pixel_fraction: dict[str, float] = field(default_factory=dict)  # of training pixels
    sample_stems: list[str] = field(default_factory=list)  # the val images of the figures


@dataclass
class TrainingInfo:
    """How the weights that were scored were chosen, and how long the run trained."""

    selection: str = "last"  # "last": the final epoch's; "holdout": the best on held-out cities
    monitor: str = "val"  # the images scored after every epoch (the curves): "val" or "holdout"
    holdout_cities: list[str] = field(default_factory=list)
    monitor_images: int | None = None
    best_epoch: int | None = None  # the epoch whose weights were scored
    steps_per_epoch: int | None = None
    iterations: int | None = None  # optimizer steps in all
    devices: int = 1  # the devices each step's batch was split over (urbanseg.parallel)
    resumed: bool = False  # went on from the checkpoint of an interrupted attempt


@dataclass
class EvaluationInfo:
    split: str = "val"
    protocol: str = "full"  # "full": at the labels' resolution; "train": at the training size
    resolution: tuple[int, int] | None = None  # (H, W) the predictions were scored at
    input_scale: float | None = None  # the model's input size / the images' original size
    mode: str = "resize"  # what the model saw: the image resized, the whole image, or windows
    overlap: float | None = None  # of the windows, in "slide" mode


@dataclass
class Timing:
    train_seconds: float | None = None  # training steps only: no monitoring, no saving
    monitor_seconds: float | None = None  # the per-epoch monitoring pass and best-weights saving
    train_images_per_second: float | None = None
    inference_images_per_second: float | None = None  # forward pass on the device, argmax out
    forward_ms_median: float | None = None  # one batch of forward_batch images
    forward_ms_iqr: float | None = None
    forward_batch: int | None = None
    forward_repeats: int | None = None  # timed passes (costs.measure_forward)
    pipeline_images_per_second: float | None = None  # decode, resize, forward, upsample, argmax
    peak_rss_mb: float | None = None  # the process's RAM
    gpu_peak_mb: float | None = None  # the backend's peak GPU allocation, None on a CPU
    concurrent_runs: int | None = None  # notebooks the runner ran at once with this one


@dataclass
class Baseline:
    """What always predicting the most frequent training class scores on the same images."""

    class_name: str
    miou: float | None
    pixel_accuracy: float | None


@dataclass
class RunRecord:
    """One model run: ``status`` "ok" (metrics.json) or "failed" (failed.json); "incomplete" or
    "duplicate" for a folder ``load_records(..., tolerant=True)`` lists without comparing it."""

    model: str
    status: str = "ok"
    digest: str | None = None  # RunConfig.digest(model): what the runner compares to skip a run
    parameters: dict[str, Any] = field(default_factory=dict)  # every notebook parameter
    params: int | None = None  # parameter count
    flops: int | None = None  # per image at image_height x image_width (evaluated size)
    model_options: dict[str, Any] = field(default_factory=dict)  # what the builder got beyond
    model_info: dict[str, Any] = field(default_factory=dict)  # a non-catalog model's own record
    precision: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # urbanseg.models.context_of(model)
    data: DataInfo = field(default_factory=DataInfo)
    training: TrainingInfo = field(default_factory=TrainingInfo)
    evaluation: EvaluationInfo = field(default_factory=EvaluationInfo)
    metrics: dict[str, Any] = field(default_factory=dict)  # the schema of docs/results.md
    baseline: Baseline | None = None
    timing: Timing = field(default_factory=Timing)
    environment: dict[str, Any] = field(default_factory=dict)
    # failed.json only
    error: str | None = None  # one line
    traceback: str | None = None
    notebook: str | None = None  # the executed notebook, kept with its error cell
    date: str | None = None
    # not in the JSON
    folder: Path | None = None
    history: pd.DataFrame | None = None
    schema: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def compared(self) -> bool:
        """A run of the study, successful or failed; False for an incomplete or duplicate one."""
        return self.status in (OK, FAILED)

    @property
    def seed(self) -> int | None:
        seed = self.parameters.get("seed")
        if seed is None and self.folder is not None and self.folder.name.startswith("seed-"):
            seed = self.folder.name.removeprefix("seed-")
        try:
            return None if seed is None else int(seed)
        except ValueError:
            return None

    @classmethod
    def failure(
        cls,
        model: str,
        error: str,
        *,
        traceback: str = "",
        notebook: str | None = None,
        model_info: dict | None = None,
    ) -> RunRecord:
        """The record of a run that failed with ``error`` (one line is kept); ``model_info``:
        the notebook's own record of a model outside the catalog, for the report."""
        return cls(
            model=model,
            status="failed",
            model_info=dict(model_info or {}),
            error=_first_line(error),
            traceback=traceback,
            notebook=notebook,
            date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    @classmethod
    def unread(cls, folder: Path, status: str, error: str) -> RunRecord:
        """The record of a run folder whose files say nothing usable (``status`` "failed" for a
        malformed file, "incomplete", "duplicate"): named after its folder, ``error`` says why."""
        return cls(
            model=model_of_folder(folder), status=status, error=_first_line(error), folder=folder
        )

    # -- files --------------------------------------------------------------------------------

    @classmethod
    def read(cls, folder: str | Path) -> RunRecord:
        """The record in ``folder``: metrics.json, else failed.json, with history.csv.

        Raises InputError naming the file when it is malformed or from a newer urbanseg, or the
        folder when it holds neither file.
        """
        folder = Path(folder)
        for name in (METRICS_FILE, FAILED_FILE):
            path = folder / name
            if path.is_file():
                record = cls.from_json(_read_json(path), source=path, failed=name == FAILED_FILE)
                break
        else:
            raise InputError(f"{folder}: não há {METRICS_FILE} nem {FAILED_FILE}")
        if not record.model:  # results/<model>/seed-<k>/ or, before seeds, results/<model>/
            record.model = model_of_folder(folder)
        record.folder = folder
        record.history = read_history(folder / HISTORY_FILE)
        return record

    def write(self, folder: str | Path) -> Path:
        """Write metrics.json (status ok) or failed.json atomically, then remove the other one:
        a folder holds one record, the latest. Returns the path written."""
        if not self.compared:
            raise ValueError(f"a record of status {self.status!r} is never written")
        folder = Path(folder)
        path, stale = (METRICS_FILE, FAILED_FILE) if self.ok else (FAILED_FILE, METRICS_FILE)
        text = json.dumps(self.to_json(), indent=1, ensure_ascii=False, allow_nan=False)
        write_atomically(folder / path, text + "\n")
        (folder / stale).unlink(missing_ok=True)
        return folder / path

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {"schema": self.schema, "model": self.model, "status": self.status}
        if not self.ok:
            values.update(
                error=self.error, traceback=self.traceback, notebook=self.notebook, date=self.date
            )
            if self.model_info:
                values["model_info"] = self.model_info
            return _plain(values)
        for name in _OK_FIELDS:
            values[name] = getattr(self, name)
        values["data"] = dataclasses.asdict(self.data)
        values["training"] = dataclasses.asdict(self.training)
        values["evaluation"] = dataclasses.asdict(self.evaluation)
        values["timing"] = dataclasses.asdict(self.timing)
        if self.baseline is not None:
            baseline = dataclasses.asdict(self.baseline)
            values["baseline"] = {"class": baseline.pop("class_name"), **baseline}
        return _plain(values)

    @classmethod
    def from_json(
        cls, values: dict[str, Any], *, source: str | Path = "record", failed: bool = False
    ) -> RunRecord:
        """The record of a metrics.json (``failed=False``) or failed.json (``failed=True``)."""
        schema = values.get("schema", 1)
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise InputError(
                f"{source}: schema {schema!r} é mais novo do que este urbanseg lê "
                f"({SCHEMA_VERSION}); atualize o urbanseg"
            )
        model = _model_name(values.get("model"), source)
        if failed or values.get("status") == "failed":
            info = values.get("model_info")
            return cls(
                model=model,
                status="failed",
                model_info=dict(info) if isinstance(info, dict) else {},
                error=_first_line(values.get("error") or "erro desconhecido"),
                traceback=_text_or_none(values.get("traceback")),
                notebook=_text_or_none(values.get("notebook")),
                date=_text_or_none(values.get("date")),
            )
        metrics = values.get("metrics")
        if not isinstance(metrics, dict) or "miou" not in metrics:
            raise InputError(
                f'{source}: falta o objeto "metrics" com "miou" (veja docs/results.md)'
            )
        try:
            _check_metrics(metrics)
            baseline = values.get("baseline")
            return cls(
                model=model,
                status="ok",
                digest=values.get("digest"),
                parameters=_mapping(values, "parameters"),
                params=_optional(int, values.get("params")),
                flops=_optional(int, values.get("flops")),
                model_options=_mapping(values, "model_options"),
                model_info=_mapping(values, "model_info"),
                precision=values.get("precision"),
                context=_context(values.get("context")),
                data=_dataclass(DataInfo, values.get("data")),
                training=_dataclass(TrainingInfo, values.get("training")),
                evaluation=_dataclass(EvaluationInfo, values.get("evaluation")),
                metrics=metrics,
                baseline=None
                if not baseline
                else Baseline(
                    class_name=str(baseline["class"]),
                    miou=_optional(float, baseline.get("miou")),
                    pixel_accuracy=_optional(float, baseline.get("pixel_accuracy")),
                ),
                timing=_timing(values.get("timing")),
                environment=_mapping(values, "environment"),
                schema=schema,
            )
        except (TypeError, ValueError, KeyError) as error:
            raise InputError(f"{source}: registro malformado ({_first_line(str(error))})") from None


_OK_FIELDS = (
    "digest",
    "parameters",
    "params",
    "flops",
    "model_options",
    "model_info",
    "precision",
    "context",
    "metrics",
    "environment",
)


def _dataclass(kind, values: dict | None):
    """``kind(**values)`` for the fields it knows (a field of another version is ignored),
    converted to the field's type: numbers, tuples for the (H, W) pairs, lists of text and
    mappings of numbers. TypeError or ValueError for a value that is none of these."""
    converters = {"float": _number, "int": int, "str": str, "bool": bool}
    if values is not None and not isinstance(values, dict):
        raise TypeError(f"{kind.__name__}: esperado um objeto, recebido {type(values).__name__}")
    known = {}
    for spec in dataclasses.fields(kind):
        value = (values or {}).get(spec.name)
        if value is None:
            continue
        base = str(spec.type).split("|")[0].strip()
        if base.startswith("tuple"):
            value = tuple(int(v) for v in _sequence(value, spec.name))
            if len(value) != 2:
                raise ValueError(f"{spec.name}: esperado (altura, largura), recebido {value}")
        elif base.startswith("list"):
            value = [str(v) for v in _sequence(value, spec.name)]
        elif base.startswith("dict"):
            if not isinstance(value, dict):
                raise TypeError(f"{spec.name}: esperado um objeto, recebido {value!r}")
            value = {str(k): None if v is None else _number(v) for k, v in value.items()}
        elif base in converters:
            value = converters[base](value)
        known[spec.name] = value
    return kind(**known)


def _mapping(values: dict, name: str) -> dict[str, Any]:
    """``values[name]``, a JSON object (empty when absent); TypeError for anything else."""
    value = values.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"{name}: esperado um objeto, recebido {value!r}"[:200])
    return dict(value)


def _sequence(value, name: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: esperada uma lista, recebido {value!r}")
    return list(value)


def _number(value) -> float:
    """A JSON number as a float; TypeError for text, booleans and the rest."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"esperado um número, recebido {value!r}")
    return float(value)


def _model_name(value, source) -> str:
    """The record's model name: text of at most MAX_MODEL_NAME characters, without path
    separators or control characters (a notebook's file name); "" when absent."""
    if value is None or value == "":
        return ""
    if (
        not isinstance(value, str)
        or len(value) > MAX_MODEL_NAME
        or any(c in value for c in "/\\")
        or value in (".", "..")
        or not value.isprintable()
    ):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise InputError(
            f'{source}: "model" deve ser o nome de um notebook (texto de até {MAX_MODEL_NAME} '
            f"caracteres, sem / nem \\), recebido {shown}"
        )
    return value


_SCORES = ("miou", "category_miou", "iiou", "category_iiou", "pixel_accuracy", "mean_accuracy")
_SCORE_MAPS = ("iou", "instance_iou", "category_iou", "category_instance_iou")


def _check_metrics(metrics: dict) -> None:
    """ValueError or TypeError unless the scores are fractions in [0, 1] or null (mIoU a
    number), the per-class scores mappings of them and the confusion matrix 19 x 20 counts."""

    def fraction(name, value, required=False):
        if value is None and not required:
            return
        number = _number(value)
        if not -1e-9 <= number <= 1.0 + 1e-9:  # NaN fails too; rounding may pass 1 by an ulp
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


def _timing(values: dict | None) -> Timing:
    """The timing, every value a finite number, zero or more; the speeds more than zero."""
    timing = _dataclass(Timing, values)
    for name, value in dataclasses.asdict(timing).items():
        if value is None:
            continue
        rate = name.endswith("_per_second")
        if not math.isfinite(value) or value < 0 or (rate and value == 0):
            expected = "maior que zero" if rate else "zero ou mais"
            raise ValueError(f"timing.{name} = {value!r}: esperado um número finito {expected}")
    if timing.forward_ms_median is not None and timing.forward_repeats is None:
        timing.forward_repeats = LEGACY_FORWARD_REPEATS
    return timing


def _context(values: dict | None) -> dict[str, Any]:
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


def _text_or_none(value) -> str | None:
    return None if value is None else str(value)


def _optional(convert, value):
    return None if value is None else convert(value)


def _plain(value):
    """JSON-ready: numpy scalars and arrays as Python values, NaN as null, paths as text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    return value


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else "erro desconhecido"


def _read_json(path: Path) -> dict[str, Any]:
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


def read_history(path: str | Path) -> pd.DataFrame | None:
    """history.csv as a DataFrame sorted by epoch, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        history = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: CSV malformado ({str(error).splitlines()[0]})") from None
    if history.empty:
        return None
    if "epoch" not in history.columns:
        history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return history.sort_values("epoch").reset_index(drop=True)


def has_record(folder: Path) -> bool:
    return (folder / METRICS_FILE).is_file() or (folder / FAILED_FILE).is_file()


def run_folder(results_dir: str | Path, model: str, seed: int) -> Path:
    """Where one run of ``model`` with ``seed`` lives: ``results/<model>/seed-<k>/``."""
    return Path(results_dir) / model / f"seed-{seed}"


def model_of_folder(folder: Path) -> str:
    """The model a run folder belongs to by its place: ``<model>/seed-<k>/`` or ``<model>/``."""
    return (folder.parent if folder.name.startswith("seed-") else folder).name


def run_folders(results_dir: str | Path, *, incomplete: bool = False) -> list[Path]:
    """Every folder of ``results_dir`` that holds a run record: ``<model>/seed-<k>/``, and
    ``<model>/`` itself for results written before seeds existed. With ``incomplete``, also the
    run folders that hold none (a run interrupted or in progress): each ``seed-<k>/``, or the
    model folder when it has no seed folder. Hidden folders (staging) are never runs."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"{results_dir}: pasta de resultados não encontrada")
    found = []
    for model in sorted(results_dir.iterdir()):
        if not model.is_dir() or model.name.startswith("."):
            continue
        seeds = sorted(
            (f for f in model.glob("seed-*") if f.is_dir()), key=lambda f: (len(f.name), f.name)
        )
        if has_record(model) or (incomplete and not seeds):
            found.append(model)
        found += [f for f in seeds if incomplete or has_record(f)]
        if not has_record(model) and not any(has_record(f) for f in seeds) and not incomplete:
            log.info(
                "%s: sem registro de execução (%s ou %s), pulado", model, METRICS_FILE, FAILED_FILE
            )
    return found


def load_records(results_dir: str | Path, *, tolerant: bool = False) -> list[RunRecord]:
    """The record of every run in ``results_dir``, catalog order first, then by seed.

    By default a malformed file raises InputError and folders holding neither metrics.json nor
    failed.json are skipped. ``tolerant=True`` (the report and summary.csv) reads everything it
    can and lists the rest: a file it cannot read is a failed run whose error names the file, a
    run folder without a record is "incomplete", and a second folder holding the same model and
    seed (a copy such as ``results/unet_backup/``) is a "duplicate" left out of every comparison.
    """
    if not tolerant:
        records = [RunRecord.read(folder) for folder in run_folders(results_dir)]
    else:
        records = []
        for folder in run_folders(results_dir, incomplete=True):
            if not has_record(folder):
                why = f"sem {METRICS_FILE} nem {FAILED_FILE}: execução interrompida ou em andamento"
                log.warning("%s: %s", folder, why)
                records.append(RunRecord.unread(folder, INCOMPLETE, f"{folder}: {why}"))
                continue
            try:
                records.append(RunRecord.read(folder))
            except InputError as error:  # one bad file must not hide every other run
                log.warning("%s", error)
                records.append(RunRecord.unread(folder, FAILED, str(error)))
        _mark_duplicates(records, Path(results_dir))
    return sorted(
        records,
        key=lambda r: (sort_key(r.model), r.seed if r.seed is not None else -1, str(r.folder)),
    )


def _mark_duplicates(records: list[RunRecord], results_dir: Path) -> None:
    """Of several records of one model and seed, keep the one in the folder named after the model
    (the runner's), else the first; mark the others "duplicate", naming the one kept."""
    groups: dict[tuple, list[RunRecord]] = {}
    for record in records:
        if record.compared:
            groups.setdefault((record.model, record.seed), []).append(record)
    for (model, seed), group in groups.items():
        if len(group) < 2:
            continue
        kept = min(group, key=lambda r: (model_of_folder(r.folder) != model, str(r.folder)))
        for record in group:
            if record is not kept:
                run = model if seed is None else f"{model}, semente {seed}"
                error = (
                    f"{record.folder}: a mesma execução ({run}) que {kept.folder}; fica fora da "
                    f"comparação (mova a cópia para fora de {results_dir})"
                )
                log.warning("%s", error)
                record.status, record.error = DUPLICATE, error


def find_run(path: str | Path) -> Path:
    """The run folder a user means by ``path``: a run folder itself, or a model folder holding
    exactly one run. InputError listing the runs when there are several."""
    path = Path(path)
    if has_record(path):
        return path
    seeds = sorted(f for f in path.glob("seed-*") if f.is_dir() and has_record(f))
    if len(seeds) == 1:
        return seeds[0]
    if seeds:
        names = ", ".join(f.name for f in seeds)
        raise InputError(
            f"{path}: {len(seeds)} execuções ({names}); indique uma, por exemplo {seeds[0]}"
        )
    raise InputError(
        f"{path}: nenhuma execução aqui (sem {METRICS_FILE}; é a pasta de uma execução concluída?)"
    )


# --- Per-image confusion matrices ------------------------------------------------------------


@dataclass
class PerImage:
    """One confusion matrix per validation image (19 ground-truth rows x 19 predicted classes
    and void), with the image's stem and city: every statistic of the report is recomputable
    from these."""

    stems: list[str]
    cities: list[str]
    matrices: np.ndarray  # (images, 19, 20) int64

    def write(self, folder: str | Path) -> Path:
        """``folder/confusion_per_image.npz`` (compressed, no pickled objects), atomically."""
        import io

        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            stems=np.asarray(self.stems, dtype=str),
            cities=np.asarray(self.cities, dtype=str),
            matrices=np.asarray(self.matrices, dtype=np.int64),
        )
        return write_atomically(Path(folder) / PER_IMAGE_FILE, buffer.getvalue())

    @classmethod
    def read(cls, folder: str | Path) -> PerImage | None:
        """The matrices saved in ``folder``; None when the run has none (older results)."""
        path = Path(folder) / PER_IMAGE_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as arrays:
                matrices = arrays["matrices"]
                stems, cities = arrays["stems"].tolist(), arrays["cities"].tolist()
        except (OSError, ValueError, KeyError) as error:
            raise InputError(f"{path}: não é um arquivo de matrizes por imagem ({error})") from None
        if matrices.ndim != 3 or matrices.shape[1:] != (19, 20) or len(stems) != len(matrices):
            raise InputError(
                f"{path}: esperadas matrizes (imagens, 19, 20), recebido {matrices.shape}"
            )
        return cls(stems, cities, matrices)


def is_missing(value: Any) -> bool:
    """True for None and NaN (what a table cell holds for an undefined score)."""
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


# --- Who made the study -----------------------------------------------------------------------

IDENTITY_FIELDS = ("author", "group", "course")


def study_identity(results_dir: Path, given: dict[str, str] | None = None) -> dict[str, str]:
    """Who made the study: ``given`` (the command line's --author, --group, --course), then
    ``results_dir/study.yaml`` (``author: ...``, ``group: ...``, ``course: ...``) for the rest.
    InputError for a study.yaml that is not such a mapping."""
    import yaml

    found: dict[str, str] = {}
    path = results_dir / "study.yaml"
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise InputError(
                f"{path}: não é um YAML válido ({str(error).splitlines()[0]})"
            ) from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: não é texto UTF-8") from None
        except OSError as error:
            raise InputError(f"{path}: não pode ser lido ({error.strerror or error})") from None
        # keys as text: `1: x` or `null: x` are keys YAML reads as a number or None
        unknown = (
            sorted({str(key) for key in loaded if key not in IDENTITY_FIELDS})
            if isinstance(loaded, dict)
            else []
        )
        if not isinstance(loaded, dict) or unknown:
            raise InputError(
                f"{path}: esperado um mapeamento de {', '.join(IDENTITY_FIELDS)}"
                + (f"; desconhecidos: {', '.join(map(str, unknown))}" if unknown else "")
            )
        found = {key: str(value) for key, value in loaded.items() if value is not None}
    found.update({key: value for key, value in (given or {}).items() if value})
    return found
