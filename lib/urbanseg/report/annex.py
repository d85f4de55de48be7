"""Section 7 of the report: every executed notebook exported to HTML, its code hidden behind a
show/hide button, linked from the report.

A notebook is the student's, so its outputs are untrusted: the export keeps text, images and
tables and neutralises the rest (scripts, event handlers, javascript: links, other MIME types),
and each file is named after its run folder, never after what the run's record says."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import jinja2

from ..atomic import write_atomically
from ..errors import InputError
from ..i18n import text
from ..records import RunRecord, model_of_folder
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
    # sanitize_html: the template passes markdown, raw cells and HTML outputs through clean_html
    # (ours: bleach with the tags of text and tables) and leaves JavaScript outputs out.
    exporter = HTMLExporter(
        template_name="lab",
        embed_images=True,
        sanitize_html=True,
        filters={"clean_html": clean_html},
    )
    # The lab template drops the images' alt text (kept in the notebook) and nbconvert then
    # warns once per notebook; the warning says nothing the reader of `make report` can act on.
    exporter.log.setLevel(logging.ERROR)
    body, _ = exporter.from_notebook_node(sanitize_notebook(node))
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


# What a notebook's HTML may keep: text, lists, links, images, tables (pandas' included).
# fmt: off
_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "samp", "small",
    "span", "strong", "style", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul",
})
_ATTRIBUTES = frozenset({"class", "id", "title", "style", "align", "border", "colspan", "rowspan"})
# fmt: on
_IMAGE_URI = re.compile(r"data:image/(png|jpeg|gif|webp);", re.IGNORECASE)
# Outputs kept as they are (the template escapes text) or cleaned (HTML, markdown); the others
# (application/javascript, widgets, text/vnd.mermaid, which the template inserts raw) are dropped.
_SAFE_OUTPUTS = frozenset(
    {"text/plain", "text/latex", "image/png", "image/jpeg", "image/svg+xml", "application/json"}
)
_CLEANED_OUTPUTS = frozenset({"text/html", "text/markdown"})


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in _ATTRIBUTES:
        return True
    if tag == "a" and name == "href":  # bleach then allows only http(s), mailto and anchors
        return not value.strip().lower().startswith("data:")
    if tag == "img" and name in ("alt", "width", "height"):
        return True
    if tag == "img" and name == "src":
        return not value.strip().lower().startswith("data:") or bool(_IMAGE_URI.match(value))
    return False


def clean_html(html_text) -> str:
    """``html_text`` with only harmless markup left live: other tags (``<script>``, ``<iframe>``)
    are shown escaped, event-handler attributes and ``javascript:`` links removed."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    text_value = html_text.decode() if isinstance(html_text, bytes) else str(html_text)
    return bleach.clean(
        text_value,
        tags=_TAGS,
        attributes=_allowed_attribute,
        protocols={"http", "https", "mailto", "data"},
        css_sanitizer=CSSSanitizer(),
        strip_comments=True,
    )


def sanitize_notebook(node):
    """The notebook with every code cell's rich output reduced to what ``export_notebook``
    can show safely: text, images, HTML and markdown (cleaned by the template's clean_html);
    an output left with nothing to show is dropped; image sizes kept only when numbers (the
    template writes them unquoted)."""
    for cell in node.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") in ("display_data", "execute_result"):
                data = output.get("data", {})
                for mime in list(data):
                    if mime in _CLEANED_OUTPUTS:
                        value = data[mime]
                        data[mime] = "".join(value) if isinstance(value, list) else str(value)
                    elif mime not in _SAFE_OUTPUTS:
                        del data[mime]
                if not data:
                    continue
                metadata = output.get("metadata", {})
                for mime in list(metadata):
                    metadata[mime] = _display_metadata(metadata[mime])
            elif output.get("output_type") not in ("stream", "error"):
                continue  # update_display_data and the like: nothing to show in a page
            kept.append(output)
        cell["outputs"] = kept
    return node


def _display_metadata(values) -> dict:
    """An image's display metadata: its sizes when numbers, the flags the template compares."""
    kept = {}
    for key, value in (values if isinstance(values, dict) else {}).items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (key in ("width", "height") and number) or key in ("needs_background", "unconfined"):
            kept[key] = value
    return kept


def _notebook_path(record: RunRecord) -> Path | None:
    """The run's executed notebook, looked for in its folder only (never where its record
    says: a record is data, not a path to follow)."""
    folder = record.folder
    names = [record.model, model_of_folder(folder), folder.name]
    if not record.ok and record.notebook:
        names.insert(0, Path(str(record.notebook)).stem)
    candidates = [folder / f"{name}.ipynb" for name in names if _plain_name(name)]
    candidates += sorted(path for path in folder.glob("*.ipynb") if not path.name.startswith("."))
    return next((path for path in candidates if path.is_file()), None)


def _plain_name(name: str) -> bool:
    return bool(name) and len(name) <= 200 and Path(name).name == name and name not in (".", "..")


_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]+")


def annex_stem(record: RunRecord) -> str:
    """The annex file's name (no extension) for a run, from its folder, sanitised:
    ``results/unet/seed-1/`` -> ``unet-seed-1``, ``results/unet/`` (before seeds) -> ``unet``."""
    folder = record.folder
    parts = [folder.parent.name, folder.name] if folder.name.startswith("seed-") else [folder.name]
    stem = "-".join(_UNSAFE_CHARACTERS.sub("_", part).strip("._-")[:80] for part in parts)
    return stem.strip("-") or "notebook"


def export_notebooks(
    study: Study, out_dir: Path, environment: jinja2.Environment, report: str
) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """The annex entries (one per run) and the HTML files written, as ``notebook:<model>``.
    A notebook that cannot be exported is noted in its entry, never fatal to the report."""
    entries, written, stems = [], {}, set()
    for record in study.records:
        name = study.run_name(record)
        entry = {
            "model": name,
            "key": record.model,
            "folder": record.folder,
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
        stem = base = annex_stem(record)
        for n in range(2, len(stems) + 3):  # two folders that sanitise alike: both kept
            if stem.lower() not in stems:
                break
            stem = f"{base}-{n}"
        stems.add(stem.lower())
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
