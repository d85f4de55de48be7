"""The comparative report: ``results/<model>/`` folders in, ``report/relatorio.html`` and
``.pdf`` out (``urbanseg report``).

- ``render``: ``render_report``, the Jinja2 environment and the PDF;
- ``study``: the records of a results folder in one language, what every section reads;
- ``dataset``, ``tables``, ``figures``, ``discussion``, ``annex``: the sections' content.

The words are in ``templates/locales/<lang>.yaml``, the layout in ``templates/*.j2``.
"""

from .render import OUTPUT_NAMES, render_report

__all__ = ["OUTPUT_NAMES", "render_report"]
