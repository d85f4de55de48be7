"""The study a report describes: the run records of a results folder, in one language.

Every section builder takes a ``Study``: the records (successful and failed, one per model and
seed; the folders that are not part of the comparison, incomplete or duplicate, apart in
``skipped``), the catalog record of each model (a model outside the catalog brings its own,
kept in its run record), the statistics over seeds and images, what the report may claim (``pipeline_check``,
``speeds_comparable``), and the language, with the helpers that turn values into the text a
reader of that language expects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalog import ModelInfo, model_info
from ..errors import InputError
from ..i18n import join_names, text
from ..records import RunRecord
from ..statistics import StudyStatistics
from ..summary import by_model, study_statistics, summary_table

log = logging.getLogger(__name__)

# Below these, a study checks the pipeline and ranks no architecture: too few images for the
# differences between trained networks to say anything about the architectures.
MIN_TRAIN_IMAGES, MIN_VAL_IMAGES = 500, 100


@dataclass
class Study:
    records: list[RunRecord]
    results_dir: Path
    lang: str = "pt"
    infos: dict[str, ModelInfo] = field(init=False)
    skipped: list[RunRecord] = field(init=False)

    def __post_init__(self) -> None:
        self.skipped = [record for record in self.records if not record.compared]
        self.records = [record for record in self.records if record.compared]
        self.infos = {}
        for record in [*self.records, *self.skipped]:
            try:
                self.infos[record.model] = model_info(record.model, record.model_info)
            except InputError as error:  # a student's typo must not take the report down
                log.warning(
                    "%s: %s; o relatório nomeia o modelo pela sua chave", record.folder, error
                )
                self.infos[record.model] = model_info(record.model)

    @property
    def ok(self) -> list[RunRecord]:
        """One successful run per model (its first seed): what the per-model tables, curves and
        sample figures show; ``ok_runs`` has every seed."""
        first = {}
        for record in self.ok_runs:
            first.setdefault(record.model, record)
        return list(first.values())

    @property
    def ok_runs(self) -> list[RunRecord]:
        return [record for record in self.records if record.ok]

    @property
    def failed(self) -> list[RunRecord]:
        return [record for record in self.records if not record.ok]

    def runs_of(self, model: str) -> list[RunRecord]:
        """The successful runs of ``model``, by seed."""
        return by_model(self.ok_runs).get(model, [])

    @property
    def synthetic(self) -> bool:
        return any(record.data.synthetic for record in self.ok)

    @cached_property
    def stats(self) -> StudyStatistics:
        """mIoU over seeds and bootstrap intervals (urbanseg.statistics)."""
        return study_statistics(self.records)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """The successful models' rows of summary.csv, with ``miou`` (the mean over seeds)."""
        table = summary_table(self.records, self.stats)
        table = table[table["status"].isin(("ok", "partial"))].reset_index(drop=True)
        return table.assign(miou=table["miou_mean"])

    @property
    def seeds(self) -> list[int]:
        """Seeds that ran, over every model."""
        return sorted({r.seed for r in self.ok_runs if r.seed is not None})

    @property
    def pipeline_check(self) -> bool:
        """A synthetic or smoke-size study: it checks that the pipeline works, and the report
        ranks no architecture."""
        return self.synthetic or any(
            (r.data.train_images or 0) < MIN_TRAIN_IMAGES
            or (r.metrics.get("num_images") or 0) < MIN_VAL_IMAGES
            for r in self.ok_runs
        )

    @property
    def speeds_comparable(self) -> bool:
        """Every run timed alone (``--jobs 1``), on one machine, backend, precision and batch:
        only then does the report compare speeds."""
        runs = self.ok_runs
        alone = all((r.timing.concurrent_runs or 1) == 1 for r in runs)
        setups = {
            (
                r.environment.get("cpu"),
                str(r.environment.get("gpu")),
                r.environment.get("backend"),
                r.precision,
                r.timing.forward_batch,
            )
            for r in runs
        }
        return bool(runs) and alone and len(setups) == 1

    @property
    def names(self) -> dict[str, str]:
        """Model key -> display name, for tables and figures."""
        return {key: info.display_name for key, info in self.infos.items()}

    def name(self, key: str) -> str:
        return self.infos[key].display_name if key in self.infos else key

    def run_name(self, record: RunRecord) -> str:
        """ "U-Net", or "U-Net (semente 1)" when the study ran several seeds."""
        if len({r.seed for r in self.records}) > 1 and record.seed is not None:
            return self.t("run_name", model=self.name(record.model), seed=record.seed)
        return self.name(record.model)

    def t(self, key: str, **fields) -> str:
        return text(key, self.lang, **fields)

    def join(self, names) -> str:
        return join_names(list(names), self.lang)

    def join_models(self, keys) -> str:
        return self.join(self.name(key) for key in keys)

    def same_or_by_model(self, get: Callable[[RunRecord], Any], fmt: Callable[[Any], str]) -> str:
        """One value when every successful run agrees, else "varies by model: U-Net 64, ..."."""
        values = [(record.model, get(record)) for record in self.ok]
        distinct = list(dict.fromkeys(fmt(value) for _, value in values))
        if len(distinct) == 1:
            return distinct[0]
        listed = ", ".join(f"{self.name(model)} {fmt(value)}" for model, value in values)
        return self.t("data_varies", values=listed)

    def number_text(self, value: Any) -> str:
        """A parameter's number as prose shows it: 0.25 -> "0,25" in Portuguese."""
        if isinstance(value, float):
            text = f"{value:g}"
            return text.replace(".", ",") if self.lang == "pt" else text
        return self.value_text(value)

    def value_text(self, value: Any) -> str:
        """A parameter's value as the tables show it."""
        if value is None:
            return "None"
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, (list, tuple)):
            return ", ".join(self.value_text(item) for item in value) or self.t("env_none")
        return str(value)


def size_text(size) -> str:
    """(H, W) as "W × H", the way image sizes are usually written; "—" when unknown."""
    if not size or len(size) != 2 or None in size:
        return "—"
    height, width = size
    return f"{width} × {height}"


def int_text(value) -> str:
    return "—" if value is None else f"{int(value)}"
