"""``report.html``: the one file a researcher opens first, built from the files of an output folder.

The report reads back what the stages wrote (``manifest.json``, the CSVs, ``texts.jsonl``, the SVG
and PNG figures, ``cooccurrence.graphml``) through the readers of :mod:`pipeline.outputs`, so it
depends on the output contract only, never on the stages' records, and it can be rebuilt from any
finished output folder (``tifa report --out DIR``).

It is self-contained: styles (``static/report.css``), the small script (``static/report.js``:
sortable tables, filter boxes, links that open a phrase's contexts) and every figure are inline
(SVG and PNG as ``data:`` URIs), and a Content-Security-Policy forbids any network access. The
page is written by jinja2 templates (``templates/``) with autoescape on: every piece of text from
the corpus (phrases, passages, titles, speakers, file names, contexts) is escaped, and only markup
the templates' macros make is not. The output is deterministic: the same folder gives a
byte-identical report (no dates, no timings). Tables are capped (:class:`ReportLimits`) so the
report of a large corpus stays a few MB; the CSVs hold everything. With many units (a city-level
run) tables are grouped by province and can be filtered.

The parts:

* ``data.py`` — :class:`~pipeline.report.data.Run`: the folder read once (segments, phrases,
  clusters, distinctive phrases, diffusion, contexts), what several sections share;
* ``sections.py`` — one function per section that gathers what its template shows, and
  :data:`~pipeline.report.sections.SECTIONS`, the page's order;
* ``templates/`` — ``base.html.j2`` (the page), ``macros.html.j2`` (table, cell, phrase link, heat
  cell, filter box) and ``<key>.html.j2`` per section;
* ``static/`` — the CSS and the script, inlined.

Adding a section (say, a table of the longest documents):

1. in ``sections.py`` write ``def longest(run: Run) -> dict | None`` returning the template's
   variables (read files with ``pipeline.outputs.read_table(run.out_dir, "x.csv")`` or a reader
   of ``pipeline.outputs``; return None to leave the section out);
2. write ``templates/longest.html.j2``: start with
   ``{% import "macros.html.j2" as m with context %}`` and use ``m.table``, ``m.td``, ``m.num``,
   ``m.ph`` (see an existing section, e.g. ``reuse.html.j2``); ``run`` and ``limits`` are there too;
3. add ``Section("longest", "Longest documents", longest)`` to ``SECTIONS`` where it belongs on the
   page, and a line to ``tests/test_report.py``'s ``SECTIONS``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
import markupsafe

from pipeline.io_utils import atomic_write
from pipeline.report.data import HitsOf, ReportLimits, Run, number, to_float, to_int
from pipeline.report.sections import SECTIONS, Section

__all__ = ["REPORT_NAME", "ReportLimits", "build_report", "build_section", "write_report"]

REPORT_NAME = "report.html"
_HERE = Path(__file__).parent


def _share_of(value: float, maximum: float) -> str:
    """The width of a bar: ``value`` as a percentage of ``maximum`` (0–100 %)."""
    share = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum))
    return f"{share * 100:.0f}%"


@cache
def environment() -> jinja2.Environment:
    """The templates, with autoescape on for every one of them."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(number=number, to_int=to_int, to_float=to_float, share_of=_share_of)
    return env


def build_report(
    out_dir: Path, limits: ReportLimits | None = None, hits_of: HitsOf | None = None, workers: int = 1
) -> str:
    """The HTML of the report for the output folder ``out_dir`` (``hits_of``: see ``data.contexts``;
    ``workers``: processes that may draw its maps side by side)."""
    limits = limits or ReportLimits()
    run = Run.load(Path(out_dir), limits, hits_of, workers)
    sections = []
    for section in SECTIONS:
        html = _render(run, section)
        if html is not None:
            sections.append({"key": section.key, "title": section.title, "html": html})
    counts = run.manifest.get("counts", {})
    summary = (
        f"{number(to_int(counts.get('documents'), len(run.segments)))} documents · "
        f"{number(len(run.segments))} segments · {number(len(run.regions))} regions · "
        f"{number(len(run.phrases))} phrases"
    )
    return (
        environment()
        .get_template("base.html.j2")
        .render(
            summary=summary,
            version=run.manifest.get("versions", {}).get("tifa", ""),
            sections=sections,
            css=(_HERE / "static" / "report.css").read_text(encoding="utf-8"),
            js=(_HERE / "static" / "report.js").read_text(encoding="utf-8"),
        )
    )


def build_section(out_dir: Path, key: str, limits: ReportLimits | None = None) -> str:
    """The HTML of one section of the report (its content, without the page around it): to look at
    or test a section on its own. "" when the section has nothing to show in this folder."""
    limits = limits or ReportLimits()
    section = next(section for section in SECTIONS if section.key == key)
    return _render(Run.load(Path(out_dir), limits), section) or ""


def _render(run: Run, section: Section) -> markupsafe.Markup | None:
    found = section.build(run)
    if found is None:
        return None
    template = environment().get_template(f"{section.key}.html.j2")
    return markupsafe.Markup(template.render(run=run, limits=run.limits, **found))


def write_report(
    out_dir: Path, limits: ReportLimits | None = None, hits_of: HitsOf | None = None, workers: int = 1
) -> Path:
    """Write ``report.html`` into ``out_dir`` (atomically) and return its path."""
    path = Path(out_dir) / REPORT_NAME
    atomic_write(path, build_report(out_dir, limits, hits_of, workers))
    return path
