"""The study a report describes: the run records of a results folder, in one language.

Every section builder takes a ``Study``: the records (successful and failed), the catalog record
of each model (a model outside the catalog brings its own, kept in its run record), and the
language, with the helpers that turn values into the text a reader of that language expects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog import ModelInfo, model_info
from ..errors import InputError
from ..i18n import join_names, text
from ..records import RunRecord

log = logging.getLogger(__name__)


@dataclass
class Study:
    records: list[RunRecord]
    results_dir: Path
    lang: str = "pt"
    infos: dict[str, ModelInfo] = field(init=False)

    def __post_init__(self) -> None:
        self.infos = {}
        for record in self.records:
            try:
                self.infos[record.model] = model_info(record.model, record.model_info)
            except InputError as error:  # a student's typo must not take the report down
                log.warning("%s: %s; the report names the model by its key", record.folder, error)
                self.infos[record.model] = model_info(record.model)

    @property
    def ok(self) -> list[RunRecord]:
        """The successful runs: every table and figure is about them."""
        return [record for record in self.records if record.ok]

    @property
    def failed(self) -> list[RunRecord]:
        return [record for record in self.records if not record.ok]

    @property
    def synthetic(self) -> bool:
        return any(record.data.synthetic for record in self.ok)

    @property
    def names(self) -> dict[str, str]:
        """Model key -> display name, for tables and figures."""
        return {key: info.display_name for key, info in self.infos.items()}

    def name(self, key: str) -> str:
        return self.infos[key].display_name if key in self.infos else key

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
