"""The layout of a results folder: where each run lives (``<model>/seed-<k>/``), the records of
them all (``load_records``), the run a user means by a path (``find_run``), and who made the
study (``study.yaml``). docs/results.md describes the folder; ``urbanseg.records`` the files of
one run in it."""

from __future__ import annotations

import logging
from pathlib import Path

from .catalog import sort_key
from .errors import InputError
from .records import (
    DUPLICATE,
    FAILED,
    FAILED_FILE,
    INCOMPLETE,
    METRICS_FILE,
    RunRecord,
    model_of_folder,
)

log = logging.getLogger(__name__)


def has_record(folder: Path) -> bool:
    return (folder / METRICS_FILE).is_file() or (folder / FAILED_FILE).is_file()


def run_folder(results_dir: str | Path, model: str, seed: int) -> Path:
    """Where one run of ``model`` with ``seed`` lives: ``results/<model>/seed-<k>/``."""
    return Path(results_dir) / model / f"seed-{seed}"


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
