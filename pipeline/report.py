"""``report.html``: the one file a researcher opens first, built from the files of an output folder.

The report reads back what the stages wrote (``manifest.json``, the CSVs, ``texts.jsonl``, the SVG
and PNG figures, ``cooccurrence.graphml``), so it depends on the output contract only, never on the
stages' records, and it can be rebuilt from any finished output folder (``tifa report --out DIR``).

It is self-contained: styles, the small script (sortable tables, filter boxes, links that open a
phrase's contexts) and every figure are inline (SVG and PNG as ``data:`` URIs), and a
Content-Security-Policy forbids any network access. Every piece of text that comes from the corpus
(phrases, passages, titles, speakers, file names, contexts) goes through :func:`html.escape`. The
output is deterministic: the same folder gives a byte-identical report (no dates, no timings).

Tables are capped (:class:`ReportLimits`) so the report of a large corpus stays a few MB; the CSVs
hold everything.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.io_utils import atomic_write
from pipeline.kwic import plain_csv
from pipeline.tables import locate, read_rows, read_texts

__all__ = ["ReportLimits", "build_report", "write_report"]

REPORT_NAME = "report.html"


@dataclass(frozen=True)
class ReportLimits:
    """Caps on what the report shows; the CSVs always hold everything."""

    phrases: int = 200  # rows in the phrase table
    heatmap_phrases: int = 40  # columns of the adoption heatmap
    keyness_per_region: int = 15  # distinctive phrases listed per region
    contexts_per_phrase: int = 6  # KWIC lines per phrase (spread over regions)
    context_chars: int = 24  # characters of context on each side
    diffusion_charts: int = 12  # small line charts
    diffusion_rows: int = 60  # rows in the diffusion table
    maps: int = 6  # first-year maps (of the phrases that spread most)
    reuse_rows: int = 100  # shared passages listed
    documents: int = 500  # rows in the document table
    problems: int = 200  # skipped files / problems listed


KIND_NOTES = {
    "quoted": "slogans written in quotation marks (“四个意识”)",
    "quotation": "longer quoted passages that recur",
    "numbered": "numbered formulas (两个确立, 四个全面, 3+6)",
    "enumeration": "、-lists and chains of four-character words (高端化、智能化、绿色化)",
    "item": "items of 、-lists met in several lists (去产能 of 去产能、去库存、去杠杆)",
    "statistical": "recurring word sequences found by corpus statistics (cohesion, boundaries, spread)",
    "user": "phrases you listed with --phrases",
    "reference": "phrases the reference (--reference) establishes, said here too",
}

OUTPUT_NOTES = [
    ("manifest.json", "every input file with its status and reason if skipped; counts; settings; versions"),
    ("segments.csv", "one row per segment (a document, or one official's statement) with region, year, size"),
    ("texts.jsonl", "the text of every segment, for tifa kwic and these contexts without re-segmenting"),
    ("phrases.csv", "one row per phrase: kind, count, segments, regions, variants, rank"),
    ("hits.csv", "every occurrence of every phrase: surface form, segment, character offsets"),
    ("adoption.csv", "long table region × year × phrase: count and rate per 10,000 characters"),
    ("adoption_matrix.csv", "wide table phrase × region of counts"),
    ("keyness.csv", "distinctive phrases per region (log-odds z-score, Monroe et al. 2008)"),
    ("diffusion.csv", "per phrase and year: regions using it, share of regions adopted so far"),
    ("reuse.csv", "passages shared verbatim between regions"),
    (
        "echo.csv",
        "per phrase shared with the reference: the centre's first year, each region's first year and lag",
    ),
    (
        "echo_regions.csv",
        "per region: share of the centre's new phrases used by Y, Y+1, Y+2; median lag; rank",
    ),
    ("local_first.csv", "phrases regions used before the centre's first use"),
    ("similarity.csv", "region × region cosine similarity of their language"),
    ("clusters.csv", "region → cluster, with the cluster's bootstrap support"),
    ("cluster_keyness.csv", "per cluster, the phrases and words it uses more than the other clusters"),
    ("cluster_stability.csv", "agreement (ARI) of each year's clusters with the previous and all years'"),
    ("clusters_by_year.csv", "region → cluster, year by year"),
    ("similarity_heatmap.svg", "the similarity matrix as a figure"),
    ("dendrogram.svg", "hierarchical clustering of the regions"),
    ("cooccurrence.graphml", "phrase co-occurrence graph for Gephi (also .gexf)"),
    ("cooccurrence_dynamic.gexf", "the same graph with years, for Gephi's timeline (GEXF 1.3)"),
    ("themes.csv", "themes of the graph: name, phrases, size, regions using them most, uses by year"),
    ("theme_adoption.csv", "per region (and year): share of its formula uses in each theme"),
    ("region_phrase.graphml", "two-mode graph regions — phrases for Gephi"),
    ("cooccurrence.png", "a preview drawing of the co-occurrence graph"),
    ("similarity_<year>.csv", "the similarity matrix of each year's texts"),
    ("similarity_heatmap_<year>.svg", "the similarity heatmap of each year"),
    ("dendrogram_<year>.svg", "the clustering of each year"),
]


# ---------------------------------------------------------------------------------------------
# reading the folder


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not locate(path).is_file():  # the CSV, or the table as Parquet (table_format)
        return
    yield from read_rows(path)


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _float(value: str | None, default: float = 0.0) -> float:
    try:
        number = float(value) if value not in (None, "") else default
    except ValueError:
        return default
    return number if math.isfinite(number) else default


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


# ---------------------------------------------------------------------------------------------
# HTML helpers


def _e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _td(content: object, *, sort: object = None, cls: str = "", raw: bool = False) -> str:
    attrs = ""
    if sort is not None:
        attrs += f' data-v="{_e(sort)}"'
    if cls:
        attrs += f' class="{cls}"'
    return f"<td{attrs}>{content if raw else _e(content)}</td>"


def _table(
    table_id: str,
    header: Sequence[tuple[str, str]],
    rows: Iterable[str],
    *,
    filter_label: str = "",
    kinds: Sequence[str] = (),
    note: str = "",
    wide: bool = False,
) -> str:
    """A sortable table; ``header`` is (label, css class) per column; rows are ``<tr>`` HTML."""
    parts = []
    if filter_label or kinds:
        parts.append('<div class="tools">')
        if filter_label:
            parts.append(
                f'<input type="search" class="filter" data-target="#{table_id} tbody tr" '
                f'placeholder="{_e(filter_label)}" aria-label="{_e(filter_label)}">'
            )
        if kinds:
            options = "".join(f'<option value="{_e(k)}">{_e(k)}</option>' for k in kinds)
            parts.append(
                f'<select class="kindfilter" data-target="#{table_id} tbody tr" aria-label="phrase family">'
                f'<option value="">all families</option>{options}</select>'
            )
        parts.append('<span class="shown"></span></div>')
    head = "".join(f'<th class="{cls}">{_e(label)}</th>' for label, cls in header)
    parts.append(
        f'<div class="scroll"><table id="{table_id}" class="sortable{" wide" if wide else ""}" lang="zh-Hans">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    if note:
        parts.append(f'<p class="note">{note}</p>')
    return "".join(parts)


class _Links:
    """Anchors of the phrases whose contexts the report embeds."""

    def __init__(self, ranks: dict[str, int]) -> None:
        self.ranks = ranks
        self.with_contexts: set[str] = set()

    def phrase(self, phrase: str) -> str:
        if phrase in self.with_contexts:
            return f'<a class="ph" href="#c{self.ranks[phrase]}">{_e(phrase)}</a>'
        return f'<span class="ph">{_e(phrase)}</span>'


def _spread(regions: Sequence[str], all_regions: Sequence[str]) -> str:
    """A short description of which regions use a phrase: the list, or 'all but …' when nearly all."""
    total = len(all_regions)
    if total and len(regions) == total:
        return f"all {total}"
    missing = [r for r in all_regions if r not in set(regions)]
    if total > 10 and len(missing) <= 5:
        return "all but " + "、".join(missing)
    shown = "、".join(regions[:10])
    return shown + (f" … (+{len(regions) - 10})" if len(regions) > 10 else "")


def _year_ranges(years: Iterable[str]) -> str:
    """'2012–2015, 2017' for a set of years."""
    numbers = sorted({int(y) for y in years if str(y).isdigit()})
    runs: list[list[int]] = []
    for year in numbers:
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _clip_list(names: Sequence[str], keep: int = 6) -> str:
    shown = "、".join(names[:keep])
    return shown + (f" +{len(names) - keep}" if len(names) > keep else "")


def _bar(value: float, maximum: float) -> str:
    share = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum))
    return f'<span class="bar"><span style="width:{share * 100:.0f}%"></span></span>'


# ---------------------------------------------------------------------------------------------
# the report


def build_report(out_dir: Path, limits: ReportLimits | None = None) -> str:
    """The HTML of the report for the output folder ``out_dir``."""
    out_dir = Path(out_dir)
    limits = limits or ReportLimits()
    manifest: dict[str, Any] = {}
    if (out_dir / "manifest.json").is_file():
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    segments = list(_rows(out_dir / "segments.csv"))
    phrases = list(_rows(out_dir / "phrases.csv"))
    clusters = {row["region"]: row["cluster"] for row in _rows(out_dir / "clusters.csv")}
    regions = sorted({row["region"] for row in segments if row["region"]})
    ranks = {row["phrase"]: _int(row.get("rank"), index + 1) for index, row in enumerate(phrases)}
    phrases.sort(key=lambda row: ranks[row["phrase"]])  # best first, as phrases.csv promises
    links = _Links(ranks)

    top = phrases[: limits.phrases]
    heat_phrases = [row["phrase"] for row in phrases[: limits.heatmap_phrases]]
    keyness = _keyness(out_dir / "keyness.csv", limits.keyness_per_region)
    diffusion = _diffusion(
        out_dir / "diffusion.csv", ranks, max(limits.diffusion_rows, limits.diffusion_charts)
    )
    wanted = {row["phrase"] for row in top} | set(heat_phrases)
    wanted |= {phrase for items in keyness.values() for phrase, _, _ in items}
    wanted |= {phrase for phrase, _ in diffusion.spreading}
    contexts = _contexts(out_dir, wanted & set(ranks), ranks, limits)
    links.with_contexts = set(contexts)

    sections = [
        ("overview", "Corpus", _overview(manifest, segments, clusters, limits)),
        ("phrases", "Phrases", _phrases(phrases, top, regions, links)),
        ("adoption", "Adoption", _heatmap(out_dir, heat_phrases, regions, clusters, links)),
        ("keyness", "Distinctive phrases", _keyness_section(keyness, clusters, segments, links)),
        ("diffusion", "Diffusion", _diffusion_section(diffusion, links, limits)),
        ("maps", "Maps", _maps_section(out_dir, manifest, diffusion, limits)),
        *_echo_sections(out_dir, links, limits),
        ("reuse", "Shared passages", _reuse(out_dir / "reuse.csv", regions, limits)),
        ("similarity", "Similarity & clusters", _similarity(out_dir, clusters)),
        ("graph", "Co-occurrence graph", _graph(out_dir, links)),
        ("contexts", "Contexts", _contexts_section(contexts, phrases, ranks, limits)),
        ("files", "Files", _files(out_dir)),
    ]
    counts = manifest.get("counts", {})
    summary = (
        f"{_n(_int(str(counts.get('documents', '')), len(segments)))} documents · "
        f"{_n(len(segments))} segments · {_n(len(regions))} regions · {_n(len(phrases))} phrases"
    )
    version = manifest.get("versions", {}).get("tifa", "")
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{_e(title)}</h2>{content}</section>' for key, title, content in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tifa report — {_e(summary)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>tifa report</h1><p class="sub">{_e(summary)}'
        f"{' · tifa ' + _e(version) if version else ''}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main><script>{_JS}</script></body></html>\n"
    )


def write_report(out_dir: Path, limits: ReportLimits | None = None) -> Path:
    """Write ``report.html`` into ``out_dir`` (atomically) and return its path."""
    path = Path(out_dir) / REPORT_NAME
    atomic_write(path, build_report(out_dir, limits))
    return path


# ---------------------------------------------------------------------------------------------
# overview


def _overview(
    manifest: dict[str, Any], segments: list[dict[str, str]], clusters: dict[str, str], limits: ReportLimits
) -> str:
    counts = manifest.get("counts", {})
    years = Counter(row["year"] for row in segments if row["year"])
    chars = sum(_int(row["chars"]) for row in segments)
    regions = Counter(row["region"] for row in segments if row["region"])
    unattributed = sum(1 for row in segments if not row["region"])
    year_text = _year_ranges(years) or "—"
    cards = [
        ("documents", _n(_int(str(counts.get("documents", "")), len(segments)))),
        ("segments", _n(len(segments))),
        ("sentences", _n(_int(str(counts.get("sentences", ""))))),
        ("characters", _n(chars)),
        ("regions", _n(len(regions))),
        ("years", year_text),
        ("phrases", _n(_int(str(counts.get("phrases", ""))))),
        ("occurrences", _n(_int(str(counts.get("hits", ""))))),
        ("files skipped", _n(_int(str(counts.get("skipped", ""))))),
    ]
    parts = [
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{_e(value)}</b><span>{_e(label)}</span></div>' for label, value in cards
        )
        + "</div>",
        "<p>A <em>segment</em> is the unit regions are compared on: a whole document, or one official's "
        "statement when an article quotes several officials. "
        + (f"{_n(unattributed)} segment(s) have no region (e.g. a reporter's lead). " if unattributed else "")
        + "Click a column header to sort a table; click a phrase to see it in context.</p>",
    ]
    inputs = manifest.get("inputs", [])
    skipped = [entry for entry in inputs if entry.get("status") != "processed"]
    problems = [(entry.get("source", ""), p) for entry in inputs for p in entry.get("problems", [])]
    if skipped or problems:
        rows = [
            f"<tr>{_td(entry.get('source', ''))}{_td('skipped')}{_td(entry.get('reason', ''))}</tr>"
            for entry in skipped[: limits.problems]
        ] + [
            f"<tr>{_td(source)}{_td('problem')}{_td(problem)}</tr>"
            for source, problem in problems[: limits.problems]
        ]
        more = max(0, len(skipped) - limits.problems) + max(0, len(problems) - limits.problems)
        parts.append("<h3>Skipped files and problems</h3>")
        parts.append(
            _table(
                "t-skipped",
                [("file", ""), ("status", ""), ("reason", "")],
                rows,
                note=f"{more} more in manifest.json"
                if more
                else "Every input file is listed in manifest.json.",
            )
        )
    else:
        parts.append(f"<p>All {_n(len(inputs))} input file(s) were read; none was skipped.</p>")

    by_region: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    region_years: dict[str, set[str]] = defaultdict(set)
    for row in segments:
        if row["region"]:
            by_region[row["region"]][0] += 1
            by_region[row["region"]][1] += _int(row["chars"])
            if row["year"]:
                region_years[row["region"]].add(row["year"])
    if by_region:
        biggest = max(v[1] for v in by_region.values())
        rows = [
            "<tr>"
            + _td(region)
            + _td(clusters.get(region, ""), sort=_int(clusters.get(region), 0), cls="num")
            + _td(_n(n), sort=n, cls="num")
            + _td(_n(c) + " " + _bar(c, biggest), sort=c, cls="num", raw=True)
            + _td(_year_ranges(region_years[region]))
            + "</tr>"
            for region, (n, c) in sorted(by_region.items())
        ]
        parts.append("<h3>Regions</h3>")
        parts.append(
            _table(
                "t-regions",
                [
                    ("region", ""),
                    ("cluster", "num"),
                    ("segments", "num"),
                    ("characters", "num"),
                    ("years", ""),
                ],
                rows,
            )
        )
    if years:
        per_year: dict[str, list[Any]] = defaultdict(lambda: [0, 0, set()])
        for row in segments:
            if row["year"]:
                per_year[row["year"]][0] += 1
                per_year[row["year"]][1] += _int(row["chars"])
                if row["region"]:
                    per_year[row["year"]][2].add(row["region"])
        rows = [
            f"<tr>{_td(year)}{_td(_n(n), sort=n, cls='num')}{_td(_n(c), sort=c, cls='num')}"
            f"{_td(_n(len(r)), sort=len(r), cls='num')}</tr>"
            for year, (n, c, r) in sorted(per_year.items())
        ]
        parts.append("<h3>Years</h3>")
        parts.append(
            _table(
                "t-years",
                [("year", ""), ("segments", "num"), ("characters", "num"), ("regions", "num")],
                rows,
            )
        )
    doc_rows = [
        "<tr>"
        + _td(row["segment_id"])
        + _td(row["region"])
        + _td(row.get("speaker", ""))
        + _td(row["year"])
        + _td(row.get("title", ""))
        + _td(_n(_int(row["chars"])), sort=_int(row["chars"]), cls="num")
        + _td(_n(_int(row["sentences"])), sort=_int(row["sentences"]), cls="num")
        + "</tr>"
        for row in segments[: limits.documents]
    ]
    more = len(segments) - limits.documents
    parts.append(
        f"<details><summary>All segments ({_n(len(segments))})</summary>"
        + _table(
            "t-segments",
            [
                ("segment", ""),
                ("region", ""),
                ("speaker", ""),
                ("year", ""),
                ("title", ""),
                ("characters", "num"),
                ("sentences", "num"),
            ],
            doc_rows,
            filter_label="filter segments…",
            wide=True,
            note=f"first {limits.documents} shown; all in segments.csv" if more > 0 else "",
        )
        + "</details>"
    )
    settings = manifest.get("settings", {})
    versions = manifest.get("versions", {})
    if settings or versions:
        rows = [f"<tr>{_td(k)}{_td(json.dumps(v, ensure_ascii=False))}</tr>" for k, v in settings.items()]
        rows += [f"<tr>{_td(k)}{_td(v)}</tr>" for k, v in versions.items()]
        thresholds = counts.get("phrase_thresholds", {})
        rows += [f"<tr>{_td('used ' + k)}{_td(v)}</tr>" for k, v in thresholds.items()]
        parts.append(
            "<details><summary>Settings and versions</summary>"
            + _table("t-settings", [("setting", ""), ("value", "")], rows)
            + "</details>"
        )
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# phrases


def _phrases(
    phrases: list[dict[str, str]], top: list[dict[str, str]], regions: list[str], links: _Links
) -> str:
    if not phrases:
        return '<p class="empty">No phrases were found (phrases.csv is empty or missing).</p>'
    by_kind: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in phrases:
        by_kind[row["kind"]].append(row)
    kinds = sorted(by_kind, key=lambda k: (-len(by_kind[k]), k))
    family_rows = [
        "<tr>"
        + _td(kind)
        + _td(KIND_NOTES.get(kind, ""))
        + _td(_n(len(by_kind[kind])), sort=len(by_kind[kind]), cls="num")
        + _td(_n(total := sum(_int(r["count"]) for r in by_kind[kind])), sort=total, cls="num")
        + _td("、".join(links.phrase(r["phrase"]) for r in by_kind[kind][:6]), raw=True)
        + "</tr>"
        for kind in kinds
    ]
    parts = [
        "<p>Phrases are ranked by how formulaic they are and how widely they are used (regions, uses per "
        "year of use, a unit of its own, fixed form, change over the years; see README, <em>Ranking</em>). "
        "<em>Families</em> say how a phrase was found; the <em>role</em> marks what is not a formula "
        "(statistics label, boilerplate, fragment, a verb frame around a formula), ranked lower.</p>",
        _table(
            "t-families",
            [
                ("family", ""),
                ("what it is", ""),
                ("phrases", "num"),
                ("occurrences", "num"),
                ("best examples", ""),
            ],
            family_rows,
        ),
        f"<h3>Top {_n(len(top))} phrases</h3>",
    ]
    most = max((_int(row["regions_n"]) for row in top), default=0)
    rows = []
    for row in top:
        used = [r for r in row["regions"].split(";") if r]
        variants = [v for v in row.get("variants", "").split(";") if v and v != row["phrase"]]
        n = _int(row["regions_n"])
        rank = _int(row.get("rank"))
        rows.append(
            f'<tr id="p{rank}" data-kind="{_e(row["kind"])}">'
            + _td(rank, sort=rank, cls="num")
            + _td(links.phrase(row["phrase"]), sort=row["phrase"], raw=True)
            + _td(row["kind"])
            + _td(row.get("role", ""))
            + _td(_n(_int(row["count"])), sort=_int(row["count"]), cls="num")
            + _td(_n(_int(row["segments"])), sort=_int(row["segments"]), cls="num")
            + _td(f"{n} {_bar(n, most)}", sort=n, cls="num", raw=True)
            + _td(_spread(used, regions), cls="small")
            + _td("；".join(variants), cls="small")
            + "</tr>"
        )
    parts.append(
        _table(
            "t-phrases",
            [
                ("rank", "num"),
                ("phrase", ""),
                ("family", ""),
                ("role", ""),
                ("count", "num"),
                ("segments", "num"),
                ("regions", "num"),
                ("where", ""),
                ("other forms", ""),
            ],
            rows,
            filter_label="filter phrases…",
            wide=True,
            kinds=kinds,
            note=f"All {_n(len(phrases))} phrases are in phrases.csv." if len(phrases) > len(top) else "",
        )
    )
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# adoption heatmap

_BLUES = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))


def _blue(t: float) -> str:
    t = max(0.0, min(1.0, t)) * (len(_BLUES) - 1)
    low = min(int(t), len(_BLUES) - 2)
    frac = t - low
    rgb = (round(a + (b - a) * frac) for a, b in zip(_BLUES[low], _BLUES[low + 1], strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _heatmap(
    out_dir: Path, heat_phrases: list[str], regions: list[str], clusters: dict[str, str], links: _Links
) -> str:
    path = locate(out_dir / "adoption.csv")
    if not heat_phrases or not regions or not path.is_file():
        return '<p class="empty">No adoption table (adoption.csv) in this run.</p>'
    values = _overall_adoption(path, set(heat_phrases))
    ordered = sorted(regions, key=lambda r: (_int(clusters.get(r), 10**6), r))
    column_max = {
        p: max((values.get((r, p), (0, 0.0))[1] for r in regions), default=0.0) for p in heat_phrases
    }
    head = '<th class="corner">region</th><th class="num">cl.</th>' + "".join(
        f'<th class="v" title="{_e(p)}">{_vertical(p, links)}</th>' for p in heat_phrases
    )
    body = []
    for region in ordered:
        cells = []
        for phrase in heat_phrases:
            count, rate = values.get((region, phrase), (0, 0.0))
            peak = column_max[phrase]
            t = rate / peak if peak > 0 else 0.0
            colour = _blue(t) if count else "#ffffff"
            ink = "#fff" if t > 0.55 else "#222"
            tip = f"{region} · {phrase}: {count} occurrence(s), {rate:.2f} per 10,000 characters"
            cells.append(
                f'<td class="h" style="background:{colour};color:{ink}" title="{_e(tip)}">{count or ""}</td>'
            )
        body.append(
            f'<tr><th class="rh">{_e(region)}</th><td class="num">{_e(clusters.get(region, ""))}</td>'
            + "".join(cells)
            + "</tr>"
        )
    return (
        f"<p>Occurrences of the top {len(heat_phrases)} phrases in each region (numbers). The colour is the "
        "region's rate per 10,000 characters relative to the region that uses the phrase most "
        "(darkest), so small and large regions compare fairly; white means not used. Regions are "
        "grouped by cluster (cl.). Hover a cell for its rate; adoption.csv has every phrase, and "
        "rates by year.</p>"
        f'<div class="scroll full"><table class="heat" lang="zh-Hans"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _overall_adoption(path: Path, wanted: set[str]) -> dict[tuple[str, str], tuple[int, float]]:
    """``(region, phrase) -> (count, per_10k)`` over all years (the rows with no year) of the wanted phrases."""
    values: dict[tuple[str, str], tuple[int, float]] = {}
    header, data = plain_csv(path) or ([], b"")
    if header[:5] != ["region", "year", "phrase", "count", "per_10k"]:
        for row in _rows(path):
            if row["year"] == "" and row["phrase"] in wanted:
                values[(row["region"], row["phrase"])] = (_int(row["count"]), _float(row["per_10k"]))
        return values
    # Only the year may be empty, so ",,PHRASE," occurs only in the no-year row of PHRASE: one regex
    # search finds those few rows among the ~800,000 and the region is what precedes it on its line.
    bare = sorted(p.encode() for p in wanted if "," not in p and "\n" not in p)  # others would be quoted
    if not bare:
        return values
    pattern = re.compile(b",,(" + b"|".join(map(re.escape, bare)) + b"),([^,\n]*),([^,\n]*),")
    for found in pattern.finditer(data):
        region = data[data.rfind(b"\n", 0, found.start()) + 1 : found.start()].decode()
        count, rate = found[2].decode(), found[3].decode()
        values[(region, found[1].decode())] = (_int(count), _float(rate))
    return values


def _vertical(phrase: str, links: _Links) -> str:
    shown = phrase if len(phrase) <= 12 else phrase[:11] + "…"
    if phrase in links.with_contexts:
        return f'<a href="#c{links.ranks[phrase]}">{_e(shown)}</a>'
    return _e(shown)


# ---------------------------------------------------------------------------------------------
# keyness


def _keyness(path: Path, top: int) -> dict[str, list[tuple[str, int, float]]]:
    from pipeline.kwic import top_keyness

    return top_keyness(path.parent, top) if path.is_file() else {}


def _keyness_section(
    keyness: dict[str, list[tuple[str, int, float]]],
    clusters: dict[str, str],
    segments: list[dict[str, str]],
    links: _Links,
) -> str:
    if not keyness:
        return '<p class="empty">No distinctive phrases (keyness.csv is empty or missing).</p>'
    sizes = Counter(row["region"] for row in segments if row["region"])
    cards = []
    for region in sorted(keyness, key=lambda r: (_int(clusters.get(r), 10**6), r)):
        items = "".join(
            f'<li>{links.phrase(phrase)} <span class="small">{count}× · z {score:.1f}</span></li>'
            for phrase, count, score in keyness[region]
        )
        cluster = clusters.get(region, "")
        cards.append(
            f'<div class="region" lang="zh-Hans"><h4>{_e(region)}'
            f'<span class="small"> · cluster {_e(cluster)} · {sizes.get(region, 0)} segment(s)</span></h4>'
            f"<ol>{items}</ol></div>"
        )
    return (
        "<p>Phrases each region uses more than the other regions do: log-odds ratio with an informative "
        "Dirichlet prior (Monroe, Colaresi &amp; Quinn 2008), as a z-score (above 2: unlikely by chance). "
        "Regions are grouped by cluster. All scores are in keyness.csv.</p>"
        '<div class="tools"><input type="search" class="filter" data-target="#keyness .region" '
        'placeholder="filter regions or phrases…" aria-label="filter regions or phrases"><span class="shown">'
        "</span></div>"
        f'<div class="regions">{"".join(cards)}</div>'
    )


# ---------------------------------------------------------------------------------------------
# diffusion


_Point = tuple[float, float, int]  # one year of a phrase: (cum share adopted, share using, adopted)
_NONE: _Point = (0.0, 0.0, 0)


@dataclass
class _Diffusion:
    years: list[int]
    spreading: list[tuple[str, int]]  # the phrases shown, with the regions they gained
    curves: dict[str, dict[int, _Point]]  # phrase -> year -> point, of the phrases shown
    first: dict[str, tuple[str, str]]  # phrase -> (first_year, first_regions), of the phrases shown


def _spreading(
    ends: Iterable[tuple[str, int, int, float]], ranks: dict[str, int], n: int
) -> list[tuple[str, int]]:
    """The ``n`` phrases that spread most, from ``(phrase, regions adopted in the first year, by the last
    year, share adopted by the last year)``: regions gained, then the share reached, then rank."""
    gains = [(phrase, last - first, share) for phrase, first, last, share in ends if last > first]
    if len(gains) > n > 0:  # only phrases that gained as much as the n-th most can be shown
        least = sorted([gained for _, gained, _ in gains], reverse=True)[n - 1]
        gains = [item for item in gains if item[1] >= least]
    gains.sort(key=lambda item: (-item[1], -round(item[2], 6), ranks.get(item[0], 10**9), item[0]))
    return [(phrase, gained) for phrase, gained, _ in gains[:n]]


def _diffusion(path: Path, ranks: dict[str, int], n: int) -> _Diffusion:
    """The years of diffusion.csv and the ``n`` phrases that spread most, with their curves."""
    plain = plain_csv(path) if path.is_file() else None
    found = _plain_diffusion(*plain, ranks, n) if plain is not None else None
    if found is not None:
        return found
    curves: dict[str, dict[int, _Point]] = defaultdict(dict)
    first: dict[str, tuple[str, str]] = {}
    years: set[int] = set()
    for row in _rows(path):
        year = _int(row["year"], -1)
        if year < 0:
            continue
        years.add(year)
        curves[row["phrase"]][year] = (
            _float(row["share_adopted_cumulative"]),
            _float(row["share_using"]),
            _int(row["adopted_cumulative"]),
        )
        first[row["phrase"]] = (row.get("first_year", ""), row.get("first_regions", ""))
    ordered = sorted(years)
    if len(ordered) < 2:
        return _Diffusion(ordered, [], {}, {})
    ends = []
    for phrase, curve in curves.items():
        last = curve.get(ordered[-1], _NONE)
        ends.append((phrase, curve.get(ordered[0], _NONE)[2], last[2], last[0]))
    spreading = _spreading(ends, ranks, n)
    return _Diffusion(
        ordered, spreading, {p: curves[p] for p, _ in spreading}, {p: first[p] for p, _ in spreading}
    )


def _plain_diffusion(header: list[str], data: bytes, ranks: dict[str, int], n: int) -> _Diffusion | None:
    """:func:`_diffusion` for a plain diffusion.csv as compare.diffusion writes it: one row per phrase
    and year with text, sorted by phrase then year, so every phrase is a block of as many lines as
    there are years. Only the first and last line of each block are parsed (and every line of the
    phrases shown); None when the file has not that shape."""
    rows = data.split(b"\n")[1:-1]  # after the header, up to the last newline
    if header[:2] != ["phrase", "year"] or not rows:
        return None
    key = rows[0][: rows[0].find(b",") + 1]  # the first phrase and its comma
    size = next((i for i, line in enumerate(rows) if not line.startswith(key)), len(rows))
    names = [line.split(b",", 2)[1] for line in rows[:size]]
    years = [_int(name.decode(), -1) for name in names]
    if len(rows) % size or years[0] < 0 or years != sorted(set(years)):  # whole blocks, years ascending
        return None
    if len(years) < 2:
        return _Diffusion(years, [], {}, {})
    at = {name: index for index, name in enumerate(header)}
    share_at, using_at, adopted_at = (
        at[name] for name in ("share_adopted_cumulative", "share_using", "adopted_cumulative")
    )
    start_of: dict[str, int] = {}  # phrase -> index of its first line
    ends = []
    for start in range(0, len(rows), size):
        # split as bytes and keep only numbers: lists kept alive by the thousand would cost more in
        # garbage collection than the parsing itself
        head, tail = rows[start].split(b","), rows[start + size - 1].split(b",")
        if head[0] != tail[0] or head[1] != names[0] or tail[1] != names[-1]:
            return None
        phrase = head[0].decode()
        start_of[phrase] = start
        ends.append(
            (
                phrase,
                _int(head[adopted_at].decode()),
                _int(tail[adopted_at].decode()),
                _float(tail[share_at].decode()),
            )
        )
    spreading = _spreading(ends, ranks, n)
    curves: dict[str, dict[int, _Point]] = {}
    first: dict[str, tuple[str, str]] = {}
    for phrase, _ in spreading:
        curve = curves[phrase] = {}
        for line in rows[start_of[phrase] : start_of[phrase] + size]:
            row = line.decode().split(",")
            curve[_int(row[1], -1)] = (_float(row[share_at]), _float(row[using_at]), _int(row[adopted_at]))
        first[phrase] = (
            row[at["first_year"]] if "first_year" in at else "",
            row[at["first_regions"]] if "first_regions" in at else "",
        )
    return _Diffusion(years, spreading, curves, first)


def _chart(years: list[int], curve: dict[int, tuple[float, float, int]]) -> str:
    """A small inline SVG: cumulative share of regions adopted (line) and share using each year (bars)."""
    width, height, left, right, top, bottom = 240, 96, 30, 8, 8, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(years) - 1)

    def x(i: int) -> float:
        return left + i * step

    def y(v: float) -> float:
        return top + plot_h * (1 - v)

    bar_w = max(2.0, min(14.0, step * 0.5))
    bars = "".join(
        f'<rect x="{x(i) - bar_w / 2:.1f}" y="{y(curve.get(yr, (0, 0, 0))[1]):.1f}" width="{bar_w:.1f}" '
        f'height="{plot_h * curve.get(yr, (0, 0, 0))[1]:.1f}" fill="#c6dbef"/>'
        for i, yr in enumerate(years)
    )
    points = " ".join(f"{x(i):.1f},{y(curve.get(yr, (0, 0, 0))[0]):.1f}" for i, yr in enumerate(years))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(curve.get(yr, (0, 0, 0))[0]):.1f}" r="2.2" fill="#08519c"/>'
        for i, yr in enumerate(years)
    )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="#999"/>'
        f'<line x1="{left}" y1="{y(1):.1f}" x2="{width - right}" y2="{y(1):.1f}" stroke="#ddd"/>'
        f'<text x="{left - 4}" y="{y(1) + 4:.1f}" text-anchor="end">100%</text>'
        f'<text x="{left - 4}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{height - 4}" text-anchor="middle">{years[0]}</text>'
        f'<text x="{width - right}" y="{height - 4}" text-anchor="end">{years[-1]}</text>'
        f'{bars}<polyline points="{points}" fill="none" stroke="#08519c" stroke-width="2"/>{dots}</svg>'
    )


def _diffusion_section(diffusion: _Diffusion, links: _Links, limits: ReportLimits) -> str:
    if len(diffusion.years) < 2:
        return (
            '<p class="empty">Diffusion needs texts from two or more years: give each document a year '
            "(a <code>year</code> column in metadata.csv, or a file name such as 2015_广东.txt).</p>"
        )
    diffusing = diffusion.spreading
    if not diffusing:
        return '<p class="empty">No phrase reached more regions over the years.</p>'
    years = diffusion.years
    charts = []
    for phrase, _gain in diffusing[: limits.diffusion_charts]:
        first_year, first_regions = diffusion.first.get(phrase, ("", ""))
        curve = diffusion.curves[phrase]
        adopted = curve.get(years[-1], (0.0, 0.0, 0))[2]
        charts.append(
            f'<figure lang="zh-Hans">{_chart(years, curve)}<figcaption>{links.phrase(phrase)}'
            f'<span class="small">first {_e(first_year)}: {_e(_clip_list(first_regions.split(";")))} · '
            f"{adopted} region(s) by {years[-1]}</span></figcaption></figure>"
        )
    head = [("phrase", ""), ("first year", "num"), ("first regions", "")] + [(str(y), "num") for y in years]
    rows = []
    for phrase, _gain in diffusing[: limits.diffusion_rows]:
        first_year, first_regions = diffusion.first.get(phrase, ("", ""))
        curve = diffusion.curves[phrase]
        cells = "".join(
            _td(
                f"{(v := curve.get(y, (0.0, 0.0, 0)))[2]} ({v[0] * 100:.0f}%)",
                sort=f"{v[0]:.6f}",
                cls="num",
            )
            for y in years
        )
        rows.append(
            "<tr>"
            + _td(links.phrase(phrase), sort=phrase, raw=True)
            + _td(first_year, sort=_int(first_year))
            + _td(_clip_list(first_regions.split(";"), 12), cls="small")
            + cells
            + "</tr>"
        )
    return (
        "<p>How phrases spread over the years. Line: share of regions that have used the phrase by that "
        "year (cumulative, out of regions with texts so far); bars: share using it that year. Shown: the "
        "phrases that reached the most new regions after the first year. All phrases and years are in "
        "diffusion.csv.</p>"
        f'<div class="charts">{"".join(charts)}</div>'
        "<h3>Spread by year</h3>"
        + _table(
            "t-diffusion",
            head,
            rows,
            filter_label="filter phrases…",
            note="Cells: regions that had used the phrase by that year (share of regions with texts).",
        )
    )


# ---------------------------------------------------------------------------------------------
# maps


def _maps_section(
    out_dir: Path, manifest: dict[str, Any], diffusion: _Diffusion, limits: ReportLimits
) -> str:
    from pipeline import maps

    missing = maps.unavailable()
    if missing:
        return f'<p class="empty">No maps in this report: {_e(missing)}.</p>'
    level = manifest.get("settings", {}).get("level", "province")
    phrases = [phrase for phrase, _ in diffusion.spreading[: limits.maps]]
    drawn = maps.report_maps(out_dir, phrases, level=level if level in maps.LEVELS else "province")
    if not drawn:
        return '<p class="empty">Nothing to map: no region of the texts has a boundary.</p>'
    figures = []
    for data, image, what in drawn:
        note = f" Not on the map (no boundary): {'、'.join(what.uncovered)}." if what.uncovered else ""
        figures.append(
            f'<figure class="fig" lang="zh-Hans"><img alt="{_e(data.title)}" width="560" '
            f'src="data:image/png;base64,{base64.b64encode(image).decode("ascii")}">'
            f"<figcaption>{_e(data.title)}{_e(note)}</figcaption></figure>"
        )
    return (
        "<p>The clusters on the map of China and, for the phrases that spread most (see Diffusion), the "
        "year each region first used them: darker is earlier, grey regions have texts but never used the "
        "phrase, white regions have no texts. <code>tifa map PHRASE --out DIR</code> draws any phrase's "
        "rate or first year as PNG or SVG. South China Sea islands in the inset.</p>"
        f'<div class="figs">{"".join(figures)}</div>'
    )


# ---------------------------------------------------------------------------------------------
# echoes of the centre (runs with --reference: pipeline/echo.py)

_LAG_BUCKETS = (("before", "#238b45"), ("same year", "#08519c"), ("+1", "#4292c6"), ("+2", "#9ecae1"))


def _lag_bar(lags: Sequence[int]) -> str:
    """A stacked bar: the region's echoes of the centre's new phrases by lag (later ones in grey)."""
    counts = [sum(lag < 0 for lag in lags), lags.count(0), lags.count(1), lags.count(2)]
    counts.append(len(lags) - sum(counts))
    width, x, parts = 160, 0.0, []
    for n, (label, colour) in zip(counts, [*_LAG_BUCKETS, ("+3 or later", "#d9d9d9")], strict=True):
        w = width * n / max(1, len(lags))
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="12" fill="{colour}"><title>'
            f"{_e(label)}: {n}</title></rect>"
        )
        x += w
    return f'<svg viewBox="0 0 {width} 12" width="{width}" height="12" role="img">{"".join(parts)}</svg>'


def _echo_sections(out_dir: Path, links: _Links, limits: ReportLimits) -> list[tuple[str, str, str]]:
    """The section "Echoes of the centre", when the run had a reference with years (else none)."""
    regions = list(_rows(out_dir / "echo_regions.csv"))
    if not (out_dir / "echo_regions.csv").is_file():
        return []
    if not regions:
        note = (
            '<p class="empty">Echo rates and lags need corpus texts with a region and a year (echo.csv still '
            "lists the centre's first year of every shared phrase).</p>"
        )
        return [("echo", "Echoes of the centre", note)]
    lags: dict[str, list[int]] = defaultdict(list)
    for row in _rows(out_dir / "echo.csv"):
        if row["region"] and row["lag"] and row["centre_new"] == "True" and row["reference_phrase"] == "True":
            lags[row["region"]].append(int(row["lag"]))

    def share(value: str) -> str:
        return f"{_float(value) * 100:.0f}%" if value else "–"

    ranking = [
        "<tr>"
        + _td(row["rank"], sort=_int(row["rank"]), cls="num")
        + _td(row["region"])
        + _td(share(row["echo_rate"]), sort=_float(row["echo_rate"], -1), cls="num")
        + "".join(
            _td(
                f"{share(row[f'share_{k}'])} of {row[f'introduced_{k}']}",
                sort=_float(row[f"share_{k}"], -1),
                cls="num",
            )
            for k in range(3)
        )
        + _td(row["median_lag"] or "–", sort=_float(row["median_lag"], 99), cls="num")
        + _td(_lag_bar(lags.get(row["region"], [])), raw=True)
        + _td(row["local_first"], sort=_int(row["local_first"]), cls="num")
        + "</tr>"
        for row in regions
    ]
    first = [
        "<tr>"
        + _td(links.phrase(row["phrase"]), sort=row["phrase"], raw=True)
        + _td(row["first_year"], sort=_int(row["first_year"]))
        + _td(_clip_list(row["first_regions"].split(";"), 12), cls="small")
        + _td(row["centre_first_year"], sort=_int(row["centre_first_year"]))
        + _td(row["lead"], sort=_int(row["lead"]), cls="num")
        + _td(row["regions_before"], sort=_int(row["regions_before"]), cls="num")
        + _td(row["regions_using"], sort=_int(row["regions_using"]), cls="num")
        + "</tr>"
        for row in list(_rows(out_dir / "local_first.csv"))[: limits.diffusion_rows]
    ]
    key = "".join(
        f'<span class="small"><svg width="10" height="10"><rect width="10" height="10" fill="{c}"/></svg> '
        f"{_e(label)}</span> "
        for label, c in [*_LAG_BUCKETS, ("+3 or later", "#d9d9d9")]
    )
    content = (
        "<p>How fast each region takes up the phrases the centre (the reference texts) introduced in a year Y "
        "of the corpus's years: the share it had used by the end of Y, Y+1 and Y+2 (out of the phrases it "
        "could be seen to use by then), ranked by their mean, the echo rate. Lag = the region's first year − "
        "the centre's first year; negative: the region said it first. Measured against the reference given, "
        "and only in the years each region has texts (see README).</p>"
        + _table(
            "t-echo",
            [
                ("rank", "num"),
                ("region", ""),
                ("echo rate", "num"),
                ("by Y", "num"),
                ("by Y+1", "num"),
                ("by Y+2", "num"),
                ("median lag", "num"),
                ("lags", ""),
                ("local first", "num"),
            ],
            ranking,
            note="Lags: the centre's new phrases the region used, by lag. " + key,
        )
        + "<h3>Local first</h3><p>Phrases regions used before the centre's first use (bottom-up "
        "diffusion), in the order of the phrase ranking. All are in local_first.csv; every shared phrase in echo.csv.</p>"
        + (
            _table(
                "t-local-first",
                [
                    ("phrase", ""),
                    ("first year", "num"),
                    ("first regions", ""),
                    ("centre's first year", "num"),
                    ("years ahead", "num"),
                    ("regions before the centre", "num"),
                    ("regions using", "num"),
                ],
                first,
                filter_label="filter phrases…",
            )
            if first
            else '<p class="empty">No region used a phrase before the centre.</p>'
        )
    )
    return [("echo", "Echoes of the centre", content)]


# ---------------------------------------------------------------------------------------------
# shared passages


def _reuse(path: Path, all_regions: list[str], limits: ReportLimits) -> str:
    rows = list(_rows(path))
    if not rows:
        return '<p class="empty">No passage is shared verbatim between regions (reuse.csv is empty or missing).</p>'
    rows.sort(key=lambda r: (-_int(r["regions_n"]), -_int(r["length"]), r["passage"]))
    shown = rows[: limits.reuse_rows]
    body = []
    for row in shown:
        passage = row["passage"].replace("\n", " ")
        clipped = passage if len(passage) <= 300 else passage[:300] + "…"
        regions_list = [r for r in row["regions"].split(";") if r]
        unattributed = _int(row.get("unattributed"))
        where = _spread(regions_list, all_regions) + (
            f" + {unattributed} without region" if unattributed else ""
        )
        body.append(
            "<tr>"
            + _td(clipped, cls="passage")
            + _td(_n(_int(row["length"])), sort=_int(row["length"]), cls="num")
            + _td(_int(row["regions_n"]), sort=_int(row["regions_n"]), cls="num")
            + _td(where, cls="small")
            + _td(_int(row["occurrences"]), sort=_int(row["occurrences"]), cls="num")
            + "</tr>"
        )
    return (
        "<p>Long passages found word for word in the texts of two or more regions — copied formulations, "
        "shared templates, common quotations. Most widely shared first.</p>"
        + _table(
            "t-reuse",
            [
                ("passage", ""),
                ("characters", "num"),
                ("regions", "num"),
                ("where", ""),
                ("occurrences", "num"),
            ],
            body,
            filter_label="filter passages…",
            wide=True,
            note=f"{_n(len(shown))} of {_n(len(rows))} passages shown; all in reuse.csv.",
        )
    )


# ---------------------------------------------------------------------------------------------
# similarity and clusters


def _similarity(out_dir: Path, clusters: dict[str, str]) -> str:
    parts = [
        "<p>How alike the regions' language is: cosine similarity of TF-IDF profiles of their words and "
        "phrases, and the hierarchical clustering built on it. The numbers are in similarity.csv and "
        "clusters.csv.</p>"
    ]
    figures = []
    for name, caption in (
        ("similarity_heatmap.svg", "Similarity between regions"),
        ("dendrogram.svg", "Clustering of regions"),
    ):
        path = out_dir / name
        if path.is_file():
            figures.append(
                f'<figure class="fig"><img alt="{_e(caption)}" src="{_data_uri(path, "image/svg+xml")}">'
                f"<figcaption>{_e(caption)} ({_e(name)})</figcaption></figure>"
            )
    parts.append(
        f'<div class="figs">{"".join(figures)}</div>'
        if figures
        else '<p class="empty">No similarity figures in this run.</p>'
    )
    if clusters:
        parts.append(_cluster_table(out_dir))
    by_year: dict[str, dict[str, str]] = defaultdict(dict)
    years: set[str] = set()
    for row in _rows(out_dir / "clusters_by_year.csv"):
        by_year[row["region"]][row["year"]] = row["cluster"]
        years.add(row["year"])
    if by_year:
        ordered = sorted(years)
        rows = [
            "<tr>"
            + _td(region)
            + "".join(_td(by_year[region].get(y, ""), cls="num") for y in ordered)
            + "</tr>"
            for region in sorted(by_year, key=lambda r: (_int(clusters.get(r), 10**6), r))
        ]
        parts.append(
            "<details><summary>Clusters year by year</summary>"
            + _table(
                "t-clusters-year",
                [("region", "")] + [(y, "num") for y in ordered],
                rows,
                note="Cluster numbers are per year: compare who is grouped together, not the numbers.",
            )
            + "</details>"
        )
    parts.append(_cluster_stability(out_dir / "cluster_stability.csv"))
    return "".join(parts)


def _cluster_table(out_dir: Path) -> str:
    """Each cluster: its members, bootstrap support and the phrases and words that set it apart."""
    from pipeline.cluster import read_clusters

    resamples = _int(str(_manifest_setting(out_dir, "cluster_resamples")), 0)
    rows = [
        "<tr>"
        + _td(c.cluster, sort=_int(c.cluster))
        + _td(len(c.regions), sort=len(c.regions), cls="num")
        + _td("–" if c.support is None else f"{100 * c.support:.0f}%", sort=c.support or -1, cls="num")
        + _td("、".join(c.regions))
        + _td(" · ".join(c.phrases))
        + _td(" · ".join(c.words))
        + "</tr>"
        for c in read_clusters(out_dir)
    ]
    note = (
        f"Support: in how many of {resamples} bootstrap resamples (each region's sentences drawn again "
        "with replacement) the cluster came out as one branch of the tree; the dendrogram shows it for "
        "every branch (red: 95% or more). – : a cluster of one region, or no resamples. "
        "Distinctive: what the cluster says more than the other clusters (log-odds z-score as in "
        "keyness.csv); all in cluster_keyness.csv."
    )
    return "<h3>Clusters</h3>" + _table(
        "t-clusters",
        [
            ("cluster", ""),
            ("regions", "num"),
            ("support", "num"),
            ("members", ""),
            ("distinctive phrases", ""),
            ("distinctive words", ""),
        ],
        rows,
        note=note,
        wide=True,
    )


def _manifest_setting(out_dir: Path, key: str) -> object:
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return manifest.get("settings", {}).get(key, "")


def _cluster_stability(path: Path) -> str:
    """The ARI of each year's clusters against the previous year's and the all-years clusters."""
    by_year: dict[str, dict[str, str]] = defaultdict(dict)
    for row in _rows(path):
        column = "all" if row["compared_with"] == "all" else "previous"
        by_year[row["year"]][column] = row["ari"]
        by_year[row["year"]][column + "_k"] = f"{row['clusters']} / {row['other_clusters']}"
    if not by_year:
        return ""

    def cell(value: str) -> str:
        return _td(f"{_float(value):.2f}" if value else "–", sort=_float(value, -2), cls="num")

    rows = [
        "<tr>"
        + _td(year)
        + cell(values.get("previous", ""))
        + _td(values.get("previous_k", ""), cls="num")
        + cell(values.get("all", ""))
        + _td(values.get("all_k", ""), cls="num")
        + "</tr>"
        for year, values in sorted(by_year.items())
    ]
    return "<h3>Stability over the years</h3>" + _table(
        "t-cluster-stability",
        [
            ("year", ""),
            ("ARI with previous year", "num"),
            ("clusters (this / previous)", "num"),
            ("ARI with all years", "num"),
            ("clusters (this / all years)", "num"),
        ],
        rows,
        note="Adjusted Rand index over the regions both clusterings have: 1 = the same grouping, "
        "about 0 = no more alike than chance (cluster_stability.csv).",
    )


# ---------------------------------------------------------------------------------------------
# co-occurrence graph


def _graph(out_dir: Path, links: _Links) -> str:
    parts = [
        "<p>Phrases (nodes) used in the same sentence as distinct formulas (edges): two halves of one fixed "
        "phrase (全面建成 + 小康社会) or a phrase and one inside it never link. Only significant pairs count "
        "(log-likelihood ratio), each phrase keeps its strongest links (NPMI), and the phrases considered are "
        "the best-ranked ones. <b>Themes</b> are communities of phrases that travel together, named by their "
        "most central phrases.</p>"
    ]
    png = out_dir / "cooccurrence.png"
    if png.is_file():
        parts.append(
            f'<figure class="fig wide"><img alt="co-occurrence graph preview" src="{_data_uri(png, "image/png")}">'
            "<figcaption>Preview of cooccurrence.graphml (node size: occurrences; colour: theme; labels: the "
            "most central phrases of each theme)</figcaption></figure>"
        )
    graphml = out_dir / "cooccurrence.graphml"
    if graphml.is_file():
        import networkx as nx

        graph = nx.read_graphml(graphml)
        components = sorted((len(c) for c in nx.connected_components(graph)), reverse=True)
        share = components[0] / graph.number_of_nodes() if components else 0.0
        parts.append(
            f"<p>{graph.number_of_nodes()} phrases, {graph.number_of_edges()} edges, {len(components)} "
            f"connected part(s); the largest holds {share:.0%} of the phrases.</p>"
        )
    themes = list(_rows(out_dir / "themes.csv"))
    if themes:
        rows = [
            "<tr>"
            + _td(row["theme"], sort=_int(row["theme"]), cls="num")
            + _td(row["name"])
            + _td(row["size"], sort=_int(row["size"]), cls="num")
            + _td(row["uses"], sort=_int(row["uses"]), cls="num")
            + _td("、".join(links.phrase(p) for p in row["phrases"].split(";")[:12] if p), raw=True)
            + _td("、".join(row["regions"].split(";")))
            + _td(row["peak_year"], sort=_int(row["peak_year"]), cls="num")
            + "</tr>"
            for row in themes
        ]
        header = [("theme", "num"), ("name", ""), ("phrases", "num"), ("uses", "num"),
                  ("most central phrases", ""), ("regions using it most", ""), ("peak year", "num")]  # fmt: skip
        note = (
            "themes.csv has every phrase of each theme and its uses year by year; peak year: the year it "
            "took its largest share of all uses of the graph's phrases."
        )
        parts.append(_table("t-themes", header, rows, note=note))
        parts.append(_theme_profile(out_dir / "theme_adoption.csv", themes))
    parts.append(
        '<div class="howto"><b>Open it in Gephi.</b> File → Open → <code>cooccurrence.graphml</code> '
        "(undirected). Labels come from the <code>label</code> column. In <i>Appearance → Nodes</i>: "
        "<i>Size → Ranking →</i> <code>count</code> (occurrences) or <code>regions_n</code> (spread); "
        "<i>Colour → Partition →</i> <code>theme</code> (or <code>community</code>, its number, or "
        "<code>kind</code>, the phrase family). "
        "Edges carry <code>weight</code> (sentences shared) and <code>npmi</code> / <code>llr</code> "
        "(association): <i>Filters → Attributes → Range → npmi</i> thins the graph. Run a layout "
        "(ForceAtlas 2), then <i>Show node labels</i>. <b>Over time:</b> open "
        "<code>cooccurrence_dynamic.gexf</code> instead (same graph, each phrase and edge present in the "
        "years it was used), click <i>Enable Timeline</i> at the bottom, narrow the window to one year and "
        "press play to watch the themes form. <code>region_phrase.graphml</code> is the two-mode graph of "
        "regions and the phrases they use.</div>"
    )
    return "".join(parts)


def _theme_profile(path: Path, themes: list[dict[str, str]], shown: int = 12) -> str:
    """Region × theme table of shares of each region's formula uses (all years), coloured by column."""
    numbers = [row["theme"] for row in themes[:shown]]
    share: dict[tuple[str, str], float] = {}
    for row in _rows(path):
        if not row["year"] and row["theme"] in numbers:
            share[row["region"], row["theme"]] = _float(row["share"])
    regions = sorted({region for region, _ in share})
    if not regions:
        return ""
    peak = {n: max((share.get((r, n), 0.0) for r in regions), default=0.0) for n in numbers}
    head = '<th class="corner">region</th>' + "".join(
        f'<th class="v" title="{_e(row["name"])}">{_e(row["theme"])} {_e(row["name"].split(" / ")[0])}</th>'
        for row in themes[:shown]
    )
    body = []
    for region in regions:
        cells = []
        for number in numbers:
            value = share.get((region, number), 0.0)
            t = value / peak[number] if peak[number] > 0 else 0.0
            colour, ink = (_blue(t), "#fff" if t > 0.55 else "#222") if value else ("#ffffff", "#222")
            cells.append(
                f'<td class="h" style="background:{colour};color:{ink}">{round(value * 100) or ""}</td>'
            )
        body.append(f'<tr><th class="rh">{_e(region)}</th>{"".join(cells)}</tr>')
    return (
        "<p>Each region's theme profile: the percentage of its uses of the graph's phrases that fall in each "
        "theme (rows add up to 100 over all themes; theme_adoption.csv has them, also year by year). The "
        "colour compares regions within a theme.</p>"
        f'<div class="scroll full"><table class="heat" lang="zh-Hans"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


# ---------------------------------------------------------------------------------------------
# contexts (KWIC)


@dataclass(frozen=True)
class _Line:
    left: str
    match: str
    right: str
    region: str
    year: str
    source: str


def _hits_of(path: Path, wanted: set[str], ranks: dict[str, int]) -> Iterator[tuple[str, str, str, str, str]]:
    """``(phrase, region, segment_id, start, end)`` of every hit of the wanted phrases, in file order.

    hits.csv lists the hits by phrase rank (phrases.extract orders them so; outputs.write_hits keeps
    that order), so in a plain file the rows of each wanted phrase are one block of lines, found by
    searching on from the previous block in rank order; the rows of other phrases are never parsed.
    """
    header, data = plain_csv(path) or ([], b"")
    names = ("region", "segment_id", "start", "end")
    if header[:1] != ["phrase"] or not set(names) <= set(header):
        for row in _rows(path):
            if row["phrase"] in wanted:
                yield row["phrase"], row["region"], row["segment_id"], row["start"], row["end"]
        return
    region_at, segment_at, start_at, end_at = (header.index(name) for name in names)
    pos = 0  # the newline before the line to search from
    for phrase in sorted(wanted, key=lambda p: (ranks[p], p)):
        key = b"\n" + phrase.encode() + b","
        at = data.find(key, pos) if "," not in phrase and "\n" not in phrase else -1
        if at < 0:
            continue  # no hit (or a phrase that a plain file cannot hold)
        while data.startswith(key, at):
            end = data.find(b"\n", at + 1)
            row = data[at + 1 : end].decode().split(",")
            yield phrase, row[region_at], row[segment_at], row[start_at], row[end_at]
            at = end
        pos = at


def _contexts(
    out_dir: Path, wanted: set[str], ranks: dict[str, int], limits: ReportLimits
) -> dict[str, list[_Line]]:
    """Up to ``contexts_per_phrase`` lines per wanted phrase, taken in turn from the regions using it most."""
    texts_path, hits_path = locate(out_dir / "texts.jsonl"), locate(out_dir / "hits.csv")
    if not wanted or not texts_path.is_file() or not hits_path.is_file():
        return {}
    per = limits.contexts_per_phrase
    picked: dict[str, dict[str, list[tuple[str, int, int]]]] = defaultdict(lambda: defaultdict(list))
    region_hits: dict[str, Counter[str]] = defaultdict(Counter)
    for phrase, region, segment_id, start, end in _hits_of(hits_path, wanted, ranks):
        region_hits[phrase][region] += 1
        if len(picked[phrase][region]) < per:
            picked[phrase][region].append((segment_id, _int(start), _int(end)))
    needed = {seg for regions in picked.values() for hits in regions.values() for seg, _, _ in hits}
    texts: dict[str, dict[str, Any]] = {}
    for _, record in read_texts(texts_path):
        if record["segment_id"] in needed:
            texts[record["segment_id"]] = record
    width = limits.context_chars
    found: dict[str, list[_Line]] = {}
    for phrase, by_region in picked.items():
        order = sorted(by_region, key=lambda r: (-region_hits[phrase][r], r))
        chosen: list[tuple[str, int, int]] = []
        for turn in range(per):
            for region in order:
                if turn < len(by_region[region]) and len(chosen) < per:
                    chosen.append(by_region[region][turn])
        lines = []
        for segment_id, start, end in chosen:
            record = texts.get(segment_id)
            if record is None:
                continue
            text = record["text"]
            lines.append(
                _Line(
                    left=text[max(0, start - width) : start].replace("\n", " "),
                    match=text[start:end],
                    right=text[end : end + width].replace("\n", " "),
                    region=record.get("region", ""),
                    year="" if record.get("year") is None else str(record.get("year")),
                    source=record.get("source", ""),
                )
            )
        if lines:
            found[phrase] = lines
    return found


def _contexts_section(
    contexts: dict[str, list[_Line]],
    phrases: list[dict[str, str]],
    ranks: dict[str, int],
    limits: ReportLimits,
) -> str:
    if not contexts:
        return (
            '<p class="empty">No contexts: this run did not write texts.jsonl and hits.csv. '
            "<code>tifa kwic PHRASE INPUT…</code> shows contexts from the texts themselves.</p>"
        )
    info = {row["phrase"]: row for row in phrases}
    blocks = []
    for phrase in sorted(contexts, key=lambda p: ranks[p]):
        row = info.get(phrase, {})
        rank = ranks[phrase]
        lines = "".join(
            f'<tr><td class="l">{_e(line.left)}</td><td class="m">{_e(line.match)}</td>'
            f'<td class="r">{_e(line.right)}</td><td class="small">{_e(line.region or "(no region)")} {_e(line.year)}</td>'
            f'<td class="small src">{_e(line.source)}</td></tr>'
            for line in contexts[phrase]
        )
        blocks.append(
            f'<details id="c{rank}" class="kwic" lang="zh-Hans"><summary><b>{_e(phrase)}</b> '
            f'<span class="small">{_e(row.get("kind", ""))} · {_e(row.get("count", ""))} occurrence(s) in '
            f"{_e(row.get('regions_n', ''))} region(s) · rank {rank}</span></summary>"
            f"<table>{lines}</table></details>"
        )
    return (
        f"<p>Each phrase shown above, in context: up to {limits.contexts_per_phrase} lines, taken in turn "
        "from the regions that use it most. Every line of a phrase: "
        "<code>tifa kwic PHRASE --out DIR</code> (or <code>--csv</code>).</p>"
        '<div class="tools"><input type="search" class="filter" data-target="#contexts details.kwic" '
        'placeholder="filter phrases…" aria-label="filter contexts"><span class="shown"></span></div>'
        f'<div class="kwics">{"".join(blocks)}</div>'
    )


# ---------------------------------------------------------------------------------------------
# files


def _files(out_dir: Path) -> str:
    rows = [
        f"<tr>{_td(locate(out_dir / name).name)}{_td(note)}</tr>"  # hits.parquet with table_format parquet
        for name, note in OUTPUT_NOTES
        if locate(out_dir / name).is_file()
        or ("<year>" in name and any(out_dir.glob(name.replace("<year>", "*"))))
    ]
    return (
        "<p>Everything in this folder; the CSVs are UTF-8 (with a byte-order mark for Excel) and read "
        'directly into pandas or R, e.g. <code>pd.read_csv("adoption.csv")</code>.</p>'
        + _table("t-files", [("file", ""), ("what it holds", "")], rows)
    )


_CSS = """
:root{--ink:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--accent:#0b5cad}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:#fff;font:14px/1.5 system-ui,-apple-system,"Segoe UI",
"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","PingFang SC","Hiragino Sans GB","Microsoft YaHei",
"WenQuanYi Micro Hei",sans-serif}
header{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);padding:.5rem 1.5rem}
h1{font-size:1.3rem;margin:0;display:inline-block;margin-right:1rem}
.sub{display:inline;color:var(--muted);margin:0}
nav{margin-top:.3rem}nav a{margin-right:1rem;color:var(--accent);text-decoration:none;white-space:nowrap}
main{max-width:1280px;margin:0 auto;padding:0 1.5rem 4rem}
section{padding-top:1rem;border-bottom:1px solid var(--line);padding-bottom:1.2rem;scroll-margin-top:5rem}
h2{font-size:1.2rem;margin:.6rem 0}h3{font-size:1rem;margin:1rem 0 .4rem}h4{margin:0 0 .3rem;font-size:.95rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:.5rem 0}
.card{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.4rem .8rem;min-width:7rem}
.card b{display:block;font-size:1.2rem}.card span{color:var(--muted);font-size:.85rem}
.scroll{overflow:auto;max-height:38rem;border:1px solid var(--line);border-radius:4px}
.scroll.full{max-height:none}.kwics{max-height:46rem;overflow:auto;border-top:1px solid var(--line)}
table{border-collapse:collapse;width:auto;min-width:40%}table.wide{width:100%}
.scroll{display:inline-block;max-width:100%;vertical-align:top}.scroll:has(table.wide){display:block}
th,td{padding:.25rem .5rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:var(--bg);z-index:1;cursor:pointer;user-select:none;white-space:nowrap}
table.sortable th:hover{background:#eaeef2}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.small{font-size:.85em;color:var(--muted)}
.bar{display:inline-block;width:3.5rem;height:.55rem;background:#eaeef2;vertical-align:middle;border-radius:2px}
.bar span{display:block;height:100%;background:#6baed6;border-radius:2px}
a{color:var(--accent)}a.ph{text-decoration:none}a.ph:hover{text-decoration:underline}
.tools{margin:.4rem 0;display:flex;gap:.5rem;align-items:center}
.tools input{padding:.3rem .5rem;width:18rem;border:1px solid var(--line);border-radius:4px;font:inherit}
.tools select{padding:.3rem;font:inherit}.shown{color:var(--muted);font-size:.85em}
.note{color:var(--muted);font-size:.85em;margin:.3rem 0}.empty{color:var(--muted);font-style:italic}
table.heat{width:auto;border-collapse:separate;border-spacing:1px}
table.heat th.v{writing-mode:vertical-rl;text-orientation:mixed;vertical-align:bottom;padding:.3rem .1rem;
font-weight:normal;max-height:13em;white-space:nowrap;cursor:default}
table.heat thead th{cursor:default}
table.heat td.h{width:1.8rem;min-width:1.8rem;text-align:center;font-size:.75rem;padding:.15rem 0;border:0}
table.heat th.rh{white-space:nowrap;text-align:right;font-weight:normal;position:sticky;left:0;background:#fff}
.regions{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:.6rem}
.region{border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem}
.region ol{margin:0;padding-left:1.6rem}.region li{margin:.05rem 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:.6rem}
.charts figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:.4rem}
.charts figcaption{font-size:.9rem}.charts figcaption .small{display:block}
svg.chart text{font-size:9px;fill:#656d76;font-family:inherit}
.figs{display:flex;flex-wrap:wrap;gap:1rem}.fig{margin:0}.fig img{max-width:100%;height:auto}
.fig.wide img{max-width:min(100%,900px)}.fig figcaption{color:var(--muted);font-size:.85rem}
td.passage{max-width:46rem}
.howto{background:#fff8e1;border:1px solid #f0d98c;border-radius:6px;padding:.6rem .9rem;margin-top:.8rem}
details{margin:.4rem 0}summary{cursor:pointer}
details.kwic{border-bottom:1px solid #eaeef2;padding:.15rem 0}
details.kwic table{width:auto;margin:.2rem 0 .4rem 1rem}
details.kwic td{border:0;padding:.05rem .4rem;white-space:nowrap}
details.kwic td.l{text-align:right;color:#444}details.kwic td.r{color:#444}
details.kwic td.m{font-weight:bold;color:#b3261e;padding:0}
details.kwic:target,details.kwic.flash{background:#fff8e1}
code{background:var(--bg);padding:0 .25rem;border-radius:3px}
@media print{header{position:static}.scroll{max-height:none;overflow:visible}}
"""

_JS = """
(function(){
function val(td){if(!td)return '';var v=td.getAttribute('data-v');return v===null?td.textContent.trim():v;}
function cmp(a,b){var x=parseFloat(a),y=parseFloat(b);
if(!isNaN(x)&&!isNaN(y)&&String(x)===String(+a)&&String(y)===String(+b))return x-y;
return a<b?-1:a>b?1:0;}
document.querySelectorAll('table.sortable').forEach(function(table){
table.querySelectorAll('thead th').forEach(function(th,col){
th.addEventListener('click',function(){
var asc=th.getAttribute('aria-sort')!=='ascending';
table.querySelectorAll('thead th').forEach(function(h){h.removeAttribute('aria-sort');});
th.setAttribute('aria-sort',asc?'ascending':'descending');
var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(r1,r2){var c=cmp(val(r1.cells[col]),val(r2.cells[col]));return asc?c:-c;});
rows.forEach(function(r){body.appendChild(r);});});});});
function applyFilters(target){
var q='',kind='';
document.querySelectorAll('[data-target="'+target+'"]').forEach(function(el){
if(el.classList.contains('filter'))q=el.value.trim().toLowerCase();
if(el.classList.contains('kindfilter'))kind=el.value;});
var items=document.querySelectorAll(target),shown=0;
items.forEach(function(it){var ok=(!q||it.textContent.toLowerCase().indexOf(q)>=0)&&
(!kind||it.getAttribute('data-kind')===kind);it.style.display=ok?'':'none';if(ok)shown++;});
document.querySelectorAll('[data-target="'+target+'"]').forEach(function(el){
var s=el.parentNode.querySelector('.shown');if(s)s.textContent=(q||kind)?shown+' of '+items.length+' shown':'';});}
document.querySelectorAll('.filter,.kindfilter').forEach(function(el){
el.addEventListener(el.tagName==='SELECT'?'change':'input',function(){applyFilters(el.getAttribute('data-target'));});});
function openTarget(){var id=decodeURIComponent(location.hash.slice(1));if(!id)return;
var el=document.getElementById(id);if(el&&el.tagName==='DETAILS'){el.open=true;el.style.display='';
el.scrollIntoView({block:'start'});}}
window.addEventListener('hashchange',openTarget);openTarget();
})();
"""
