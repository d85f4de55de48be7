"""``render_report``: a results folder in, one self-contained HTML file and its PDF out.

The sections are built by the modules beside this one (dataset, tables, figures, discussion,
annex) from a ``Study``; here they are put in one context and rendered through
``templates/body.html.j2`` (the seven sections) and ``templates/report.html.j2`` (cover, table
of contents, inline CSS). The PDF is WeasyPrint's rendering of the same page with the print
stylesheet. Every file is written atomically.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import re
from pathlib import Path
from typing import Any

import jinja2

from .. import __version__
from ..atomic import write_atomically
from ..catalog import CITYSCAPES
from ..errors import InputError
from ..i18n import LANGUAGES, duration, number, percent
from ..resources import templates_dir
from ..results_folder import load_records, study_identity
from ..summary import iou_table, write_summary
from . import tables
from .annex import export_notebooks
from .dataset import data_section
from .discussion import discussion
from .figures import results_figures
from .study import Study

log = logging.getLogger(__name__)

OUTPUT_NAMES = {"pt": "relatorio", "en": "report"}
_CORRECTIONS = 6  # rows of the "what the original notebook got wrong" table


class _Numbering:
    """Numbers of sections, figures and tables, in the order the template asks for them."""

    def __init__(self) -> None:
        self.counts = {"section": 0, "subsection": 0, "figure": 0, "table": 0}
        self.keys: dict[tuple[str, str], int] = {}

    def section(self) -> str:
        self.counts["section"] += 1
        self.counts["subsection"] = 0
        return str(self.counts["section"])

    def subsection(self) -> str:
        self.counts["subsection"] += 1
        return f"{self.counts['section']}.{self.counts['subsection']}"

    def _next(self, kind: str, key: str) -> int:
        if (kind, key) not in self.keys:
            self.counts[kind] += 1
            self.keys[(kind, key)] = self.counts[kind]
        return self.keys[(kind, key)]

    def figure(self, key: str) -> int:
        return self._next("figure", key)

    def table(self, key: str) -> int:
        return self._next("table", key)


def jinja_environment(lang: str = "pt") -> jinja2.Environment:
    """The templates folder, with ``number``, ``percent`` and ``duration`` as filters that
    format for ``lang`` (``{{ 0.453 | percent }}`` -> "45,3")."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        number=lambda value, decimals=1: number(value, decimals, lang),
        percent=lambda value, decimals=1: percent(value, decimals, lang),
        duration=lambda value: duration(value, lang),
    )
    return environment


def _toc(body: str) -> list[dict[str, str]]:
    """Table-of-contents entries from the rendered body's numbered h2/h3 headings."""
    pattern = re.compile(
        r'<h([23]) id="([^"]+)"[^>]*>\s*<span class="number">([^<]*)</span>(.*?)</h\1>', re.S
    )
    return [
        {
            "level": int(level),
            "id": anchor,
            "number": numbering.strip(),
            "title": html.unescape(re.sub(r"<[^>]+>", "", title)).strip(),
        }
        for level, anchor, numbering, title in pattern.findall(body)
    ]


def _references(study: Study) -> list[dict[str, str]]:
    """The papers of the study's models (those that cite one), then the data set's."""
    papers = [info for info in study.infos.values() if info.reference]
    entries = [{"key": info.key, "text": info.reference, "url": info.url} for info in papers]
    cityscapes = {"key": "cityscapes", "text": CITYSCAPES["reference"], "url": CITYSCAPES["url"]}
    return [*entries, cityscapes]


def render_report(
    results_dir: str | Path = "results",
    out_dir: str | Path = "report",
    *,
    lang: str = "pt",
    pdf: bool = True,
    data_root: str | Path | None = None,
    identity: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Render the comparative report of every model in ``results_dir``.

    Writes ``out_dir/relatorio.html`` (``report.html`` for lang="en"), self-contained, and the PDF
    of the same page (``relatorio.pdf``/``report.pdf``) unless ``pdf=False``; the executed
    notebooks go to ``out_dir/notebooks/<model>.html`` and the summary table to
    ``results_dir/summary.csv``. ``data_root`` overrides the data root recorded in metrics.json
    (for the sample images). ``identity``: who made the study (``author``, ``group``,
    ``course``), shown on the cover and in the document's metadata; missing keys come from
    ``results_dir/study.yaml`` when there is one (``study_identity``).
    Returns {"html", "pdf", "summary", "notebook:<model>"...} -> Path.
    """
    if lang not in LANGUAGES:
        raise InputError(f"lang={lang!r}: deve ser um de {', '.join(LANGUAGES)}")
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    if results_dir.exists() and not results_dir.is_dir():
        raise InputError(f"{results_dir}: não é uma pasta (passe a pasta de resultados)")
    # A bad metrics.json is a failed run, a folder without one an incomplete run: both listed.
    records = load_records(results_dir, tolerant=True) if results_dir.is_dir() else []
    if not any(record.compared for record in records):
        unfinished = f" ({len(records)} pasta(s) sem registro)" if records else ""
        raise InputError(
            f"{results_dir}/: nenhum resultado de modelo{unfinished}; "
            "rode `make report` ou `urbanseg run` antes"
        )
    _check_writable(results_dir)
    _check_writable(out_dir, create=True)
    study = Study(records, results_dir, lang)
    written: dict[str, Path] = {"summary": write_summary(records, results_dir)}
    summary = study.summary
    df_iou = iou_table(records)
    data = data_section(study, data_root)
    environment = jinja_environment(lang)
    name = OUTPUT_NAMES[lang]
    notebooks, notebook_files = export_notebooks(study, out_dir, environment, f"{name}.html")
    written.update(notebook_files)
    context = _context(study, summary, df_iou, data, notebooks)
    context["identity"] = study_identity(results_dir, identity)

    body = environment.get_template("body.html.j2").render(**context)
    css = (templates_dir() / "report.css").read_text(encoding="utf-8")
    page = environment.get_template("report.html.j2")
    html_text = page.render(**context, body=body, toc=_toc(body), css=css, pdf=False)
    written["html"] = _write(out_dir / f"{name}.html", html_text)
    if pdf:
        from PIL import ImageFile
        from weasyprint import HTML

        # Importing WeasyPrint makes Pillow accept truncated images, in the whole process: a
        # damaged PNG read afterwards must still be an error (urbanseg.data.read_png).
        ImageFile.LOAD_TRUNCATED_IMAGES = False

        # WeasyPrint cannot parse the small-screen @media rule and warns about it: not for print.
        print_css = re.sub(
            r"@media screen and \(max-width[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", css
        )
        pdf_html = page.render(**context, body=body, toc=_toc(body), css=print_css, pdf=True)
        document = HTML(string=pdf_html, base_url=str(out_dir.resolve()) + "/")
        written["pdf"] = _write(out_dir / f"{name}.pdf", document.write_pdf())
    log.debug("relatório gravado: %s", ", ".join(str(p) for p in written.values()))
    return written


def _check_writable(folder: Path, *, create: bool = False) -> None:
    """InputError naming ``folder`` unless files can be written in it (created when ``create``):
    a file in its place, a read-only or missing place, before any work is done."""
    import tempfile

    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: não é uma pasta (é um arquivo); escolha uma pasta")
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(
            f"{folder}: não é possível gravar nesta pasta ({error.strerror or error})"
        ) from None


def _write(path: Path, content: str | bytes) -> Path:
    """``write_atomically``, with InputError naming the file for a full disk or the like."""
    try:
        return write_atomically(path, content)
    except OSError as error:
        raise InputError(f"{path}: não foi possível gravar ({error.strerror or error})") from None


def _scope(study: Study) -> dict[str, Any]:
    """What the study may claim, and the facts the templates state about it."""
    seeds = [len(m.seeds) for m in study.stats.models.values()]
    scales = {r.evaluation.input_scale for r in study.ok if r.evaluation.input_scale}
    full_resolution = all(tuple(r.data.image_size or ()) == (1024, 2048) for r in study.ok)
    return {
        "pipeline_check": study.pipeline_check,
        "speeds_comparable": study.speeds_comparable,
        "seeds": max(seeds, default=0),
        "seed_list": ", ".join(map(str, study.seeds)),
        "images": study.stats.images,
        "pairs": len(study.stats.pairs),
        "input_scale": number(scales.pop(), 2, study.lang) if len(scales) == 1 else None,
        "iiou_caveat": bool(study.ok) and not full_resolution,
        "selection": ", ".join(sorted({r.training.selection for r in study.ok})),
    }


def _shown_folder(record, results_dir: Path) -> str:
    """The run folder as the reader knows it: relative to the results folder when inside it."""
    try:
        return str(record.folder.relative_to(results_dir))
    except ValueError:
        return str(record.folder)


def _context(study: Study, summary, df_iou, data, notebooks) -> dict[str, Any]:
    """Everything the templates read."""
    ok, failed, lang = study.ok, study.failed, study.lang
    return {
        "lang": lang,
        "t": study.t,
        "num": _Numbering(),
        "version": __version__,
        "date": _dt.datetime.now().strftime("%d/%m/%Y" if lang == "pt" else "%Y-%m-%d"),
        "runs": study.records,
        "ok_runs": ok,
        "failed": failed,
        "model_list": study.join_models(dict.fromkeys(r.model for r in study.records)),
        "compared_list": study.join_models(dict.fromkeys(r.model for r in (ok or study.records))),
        "n_models": study.t("summary_n_models_one")
        if len(ok) == 1
        else study.t("summary_n_models_many", n=len(ok)),
        "scope": _scope(study),
        "data": data,
        "figures": results_figures(study, summary, df_iou, data),
        "table": tables.results_table(study, summary) if ok else None,
        "models": tables.models_section(study),
        "design": tables.design(study),
        "parameters": tables.parameters_table(study),
        "protocol": tables.protocol(study),
        "corrections": [
            (study.t(f"correction_{i}_problem"), study.t(f"correction_{i}_fix"))
            for i in range(1, _CORRECTIONS + 1)
        ],
        "discussion": discussion(study, summary, df_iou),
        "commands": tables.commands(study),
        "environment": tables.environment(study),
        "notebooks": notebooks,
        "missing_history": [study.name(r.model) for r in ok if r.history is None],
        "failed_boxes": [
            {
                "model": study.run_name(record),
                "error": record.error or "",
                "date": record.date,
                "notebook": next(
                    (n["href"] for n in notebooks if n["folder"] == record.folder and n["href"]),
                    None,
                ),
            }
            for record in failed
        ],
        # folders left out of the comparison: a run without a record, a copy of another run
        "skipped": [
            {
                "folder": _shown_folder(record, study.results_dir),
                "status": record.status,
                "model": study.run_name(record),
                "why": study.t(f"skipped_{record.status}"),
                "error": record.error or "",
            }
            for record in study.skipped
        ],
        "references": _references(study),
    }
