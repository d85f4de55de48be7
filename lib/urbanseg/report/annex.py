"""Section 7 of the report: every executed notebook exported to HTML, its code hidden behind a
show/hide button, linked from the report."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import jinja2

from ..atomic import write_atomically
from ..errors import InputError
from ..i18n import text
from ..records import RunRecord
from .study import Study

log = logging.getLogger(__name__)


def export_notebook(
    notebook: Path, out_path: Path, environment: jinja2.Environment, *, lang: str, report: str
) -> Path:
    """Export an executed notebook to HTML with the code hidden behind a show/hide button and a
    link back to ``report`` (the report's file name)."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        node = nbformat.read(str(notebook), as_version=4)
    except Exception as error:  # nbformat raises several unrelated types for a bad file
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise InputError(f"{notebook}: não é um notebook legível ({reason})") from None
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    # The lab template drops the images' alt text (kept in the notebook) and nbconvert then
    # warns once per notebook; the warning says nothing the reader of `make report` can act on.
    exporter.log.setLevel(logging.ERROR)
    body, _ = exporter.from_notebook_node(node)
    toggle = environment.get_template("notebook_toggle.html.j2").render(
        show=text("notebook_toggle_show", lang),
        hide=text("notebook_toggle_hide", lang),
        back=text("notebook_back", lang),
        report=f"../{report}",
    )
    style, button = toggle.split("<!-- body -->", 1)
    body = body.replace("</head>", style + "</head>", 1)
    body = re.sub(
        r"(<body[^>]*>)",
        lambda m: m.group(1).replace("<body", '<body data-urbanseg-code="hidden"', 1) + button,
        body,
        count=1,
    )
    return write_atomically(out_path, body)


def _notebook_path(record: RunRecord) -> Path | None:
    folder = record.folder
    candidates = [folder / f"{record.model}.ipynb", folder / f"{folder.name}.ipynb"]
    if not record.ok and record.notebook:
        candidates[:0] = [Path(record.notebook), folder / Path(record.notebook).name]
    candidates += sorted(folder.glob("*.ipynb"))
    return next((path for path in candidates if path.is_file()), None)


def export_notebooks(
    study: Study, out_dir: Path, environment: jinja2.Environment, report: str
) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """The annex entries (one per run) and the HTML files written, as ``notebook:<model>``.
    A notebook that cannot be exported is noted in its entry, never fatal to the report."""
    entries, written = [], {}
    for record in study.records:
        name = study.run_name(record)
        entry = {
            "model": name,
            "key": record.model,
            "seed": record.seed,
            "href": None,
            "label": None,
            "missing": None,
            "failed": not record.ok,
        }
        entries.append(entry)
        notebook = _notebook_path(record)
        if notebook is None:
            entry["missing"] = study.t("appendix_missing", model=name)
            continue
        stem = record.model if record.seed is None else f"{record.model}-seed-{record.seed}"
        target = out_dir / "notebooks" / f"{stem}.html"
        try:
            export_notebook(notebook, target, environment, lang=study.lang, report=report)
        except Exception as error:  # a broken notebook must not take the report down
            log.warning("%s: a exportação falhou: %s", notebook, error)
            reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
            entry["missing"] = study.t("appendix_failed_export", model=name, error=reason)
            continue
        written[f"notebook:{stem}"] = target
        entry.update(href=f"notebooks/{target.name}", label=study.t("appendix_link", model=name))
    return entries, written
