"""Everyday look-ups on the last run: keyword in context, top phrases, regions.

``tifa kwic``, ``tifa phrases`` and ``tifa regions`` read the files a previous ``tifa run`` left in
its output folder (``texts.jsonl``, ``phrases.csv``, ``adoption.csv``, ``keyness.csv``,
``clusters.csv``, ``similarity.csv``, ``segments.csv``); nothing is segmented again. ``tifa kwic``
can also read inputs directly (ingest only, no NLP).

The functions that compute (:func:`kwic`, :func:`phrase_forms`, :func:`top_phrases`,
:func:`region_overview`) take plain records and return rows; reading the output folder and
formatting for the terminal are kept apart (:func:`load_texts`, :func:`format_table`).
"""

from __future__ import annotations

import csv
import heapq
import math
import os
import re
import shutil
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipeline import tables
from pipeline.errors import Errors, TifaError
from pipeline.outputs import plain_csv, read_manifest
from pipeline.records import Segment
from pipeline.regions import lookup

__all__ = [
    "KwicLine",
    "PhraseRow",
    "RegionRow",
    "clip",
    "display_width",
    "format_table",
    "kwic",
    "kwic_csv",
    "load_phrase_table",
    "load_texts",
    "phrase_forms",
    "region_overview",
    "resolve_region",
    "top_phrases",
]

KWIC_FIELDS = ("left", "phrase", "right", "region", "year", "source", "segment_id", "start", "end")


class KwicLine(NamedTuple):
    """One occurrence: ``phrase`` is the surface form found; ``start``/``end`` index the segment text."""

    left: str
    phrase: str
    right: str
    region: str
    year: int | None
    source: str
    segment_id: str
    start: int
    end: int


# ---------------------------------------------------------------------------------------------
# reading the output folder


def missing_run(out_dir: Path, name: str) -> TifaError:
    return Errors.E060(name=name, path=out_dir)


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of one CSV written by ``tifa run`` (UTF-8 with BOM), or of its Parquet form (``tables``)."""
    yield from tables.read_rows(path)


def run_level(out_dir: Path) -> str:
    """The level the run in ``out_dir`` compared (``province`` or ``city``, from its manifest)."""
    return str(read_manifest(out_dir).get("settings", {}).get("level") or "province")



def in_word_matches(out_dir: Path, phrase: str) -> set[tuple[str, int]]:
    """Where the run found ``phrase`` inside a longer word and did not count it (``in_word_hits.csv``)."""
    path = tables.locate(out_dir / "in_word_hits.csv")
    if not path.is_file():
        return set()
    return {(row["segment_id"], int(row["start"])) for row in read_rows(path) if row["phrase"] == phrase}


def _need(out_dir: Path, name: str) -> Path:
    path = tables.locate(Path(out_dir) / name)
    if not path.is_file():
        raise missing_run(Path(out_dir), name)
    return path


def load_texts(path: Path) -> list[Segment]:
    """Segments from ``texts.jsonl`` (one JSON object per segment, in corpus order) or ``texts.parquet``."""
    segments = []
    number = 0
    try:
        for number, record in tables.read_texts(path):  # noqa: B007 - the error below names it
            segments.append(
                Segment(
                    segment_id=str(record["segment_id"]),
                    source=str(record.get("source", "")),
                    region=str(record.get("region", "")),
                    speaker=str(record.get("speaker", "")),
                    title=str(record.get("title", "")),
                    year=record.get("year"),
                    text=str(record["text"]),
                    date=str(record.get("date", "")),
                )
            )
    except tables.BrokenLine as exc:
        raise Errors.E062(path=path, line=exc.line, reason=exc.reason) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise Errors.E062(path=path, line=number, reason=exc) from None
    return segments


def load_phrase_table(out_dir: Path) -> list[dict[str, str]]:
    """The rows of ``phrases.csv``, best first."""
    return list(read_rows(_need(out_dir, "phrases.csv")))


# ---------------------------------------------------------------------------------------------
# keyword in context


def phrase_forms(query: str, phrase_rows: Iterable[dict[str, str]]) -> tuple[str, tuple[str, ...]]:
    """The canonical phrase a query names and every surface form to search, longest first.

    A query that is a phrase of the last run, or one of its variants, gives that phrase's canonical
    form and all its variants; any other query is searched as it is. Punctuation and spaces are
    ignored as when variants merge (大众创业 万众创新 names 大众创业、万众创新).

    >>> rows = [{"phrase": "落地生根、开花结果", "variants": "落地生根、开花结果;落地生根开花结果"}]
    >>> phrase_forms("落地生根开花结果", rows)
    ('落地生根、开花结果', ('落地生根、开花结果', '落地生根开花结果'))
    >>> phrase_forms("落地生根，开花结果", rows)[0]
    '落地生根、开花结果'
    >>> phrase_forms("新发展理念", rows)
    ('新发展理念', ('新发展理念',))
    """
    from pipeline.phrases import phrase_key

    key = phrase_key(query)
    for row in phrase_rows:
        variants = [v for v in row.get("variants", "").split(";") if v]
        if query == row["phrase"] or query in variants or (key and key == phrase_key(row["phrase"])):
            forms = {row["phrase"], *variants}
            return row["phrase"], tuple(sorted(forms, key=lambda f: (-len(f), f)))
    return query, (query,)


def near_phrases(query: str, phrase_rows: Iterable[dict[str, str]], n: int = 5) -> list[str]:
    """Up to ``n`` phrases of the last run close to a query that names none: those containing it or
    contained in it (best ranked first), then those spelled alike.

    >>> rows = [{"phrase": "新发展理念"}, {"phrase": "创新驱动发展战略"}, {"phrase": "一带一路"}]
    >>> near_phrases("贯彻新发展理念", rows), near_phrases("创新驱动发展", rows)
    (['新发展理念'], ['创新驱动发展战略'])
    """
    import difflib

    from pipeline.phrases import phrase_key

    key = phrase_key(query)
    phrases = [row["phrase"] for row in phrase_rows]  # best first
    if not key:
        return []
    keys = {phrase: phrase_key(phrase) for phrase in phrases}
    found = [p for p in phrases if keys[p] and (key in keys[p] or keys[p] in key)][:n]
    by_key = {k: p for p, k in reversed(keys.items())}  # the best-ranked phrase of each key
    for close in difflib.get_close_matches(key, list(by_key), n=n, cutoff=0.6):
        if len(found) < n and by_key[close] not in found:
            found.append(by_key[close])
    return found


# Punctuation a query may leave out or write differently: searched as "any of these, or none".
_LOOSE_GAP = "[\\s、，,。；;：:“”‘’\"'「」『』《》·—…]*"


def loose_pattern(query: str) -> str:
    """A regular expression finding ``query`` however it is punctuated (、，or spaces between its
    characters, or none), for a phrase the last run did not list.

    >>> import re
    >>> bool(re.search(loose_pattern("大众创业,万众创新"), "推进大众创业、万众创新。"))
    True
    """
    from pipeline.phrases import phrase_key

    key = phrase_key(query) or query
    return _LOOSE_GAP.join(re.escape(char) for char in key)


def _flat(text: str) -> str:
    return re.sub(r"[\r\n\t]", " ", text)


def kwic(
    segments: Iterable[Segment],
    forms: Sequence[str],
    *,
    width: int = 20,
    region: str = "",
    year: int | None = None,
    limit: int = 0,
    loose: bool = False,
    skip: Collection[tuple[str, int]] = (),
) -> list[KwicLine]:
    """Every occurrence of any of ``forms`` in ``segments`` (corpus order, then position), but those
    at ``skip`` (segment id, start: matches the run did not count, inside a longer word).

    Forms are matched left to right without overlap, the longest first where two start together;
    with ``loose``, however they are punctuated (:func:`loose_pattern`).
    ``width`` characters of context are kept on each side (line breaks shown as spaces).
    ``region``/``year`` keep only those segments; ``limit`` > 0 stops after that many lines.

    >>> seg = Segment("a#0", "a.txt", "上海", "", "", 2015, "我们要坚持新发展理念。")
    >>> [tuple(line[:3]) for line in kwic([seg], ["新发展理念"], width=3)]
    [('要坚持', '新发展理念', '。')]
    """
    forms = sorted({f for f in forms if f}, key=lambda f: (-len(f), f))
    if not forms:
        return []
    pattern = re.compile("|".join(loose_pattern(f) if loose else re.escape(f) for f in forms))
    lines: list[KwicLine] = []
    for segment in segments:
        if region and segment.region != region:
            continue
        if year is not None and segment.year != year:
            continue
        text = segment.text
        for match in pattern.finditer(text):
            start, end = match.span()
            if (segment.segment_id, start) in skip:
                continue
            lines.append(
                KwicLine(
                    left=_flat(text[max(0, start - width) : start]),
                    phrase=match.group(),
                    right=_flat(text[end : end + width]),
                    region=segment.region,
                    year=segment.year,
                    source=segment.source,
                    segment_id=segment.segment_id,
                    start=start,
                    end=end,
                )
            )
            if limit and len(lines) >= limit:
                return lines
    return lines


def kwic_csv(lines: Iterable[KwicLine]) -> str:
    """KWIC lines as CSV text (header ``left,phrase,right,region,year,source,segment_id,start,end``)."""
    from pipeline.io_utils import csv_text

    return csv_text(KWIC_FIELDS, lines)


# ---------------------------------------------------------------------------------------------
# terminal tables


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: CJK and full-width characters take two."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def _pad(text: str, width: int, align: str) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if align == ">" else text + gap


def terminal_width() -> int | None:
    """Columns the tables must fit: ``$COLUMNS`` when set, else the terminal's width when standard
    output is one; None (no limit) when the output goes to a file or a pipe."""
    value = os.environ.get("COLUMNS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _take(chars: Iterable[str], width: int) -> str:
    out, used = [], 0
    for char in chars:
        used += display_width(char)
        if used > width:
            break
        out.append(char)
    return "".join(out)


def clip(text: str, width: int, keep: str = "start") -> str:
    """``text`` cut to at most ``width`` columns, with … where it was cut.

    ``keep`` says which part survives: the ``start`` (… at the end), the ``end`` (… first: a left
    context keeps the characters next to the phrase) or both ends (``middle`` is cut).

    >>> clip("完整准确全面贯彻新发展理念", 11), clip("完整准确全面贯彻新发展理念", 11, "end")
    ('完整准确全…', '…新发展理念')
    >>> clip("完整准确全面贯彻新发展理念", 11, "middle")
    '完整…展理念'
    """
    if display_width(text) <= width:
        return text
    head = {"start": width - 1, "end": 0}.get(keep, (width - 1) // 2)
    return _cut(text, width, head)


def _cut(text: str, width: int, head: int) -> str:
    """``text`` in ``width`` columns: at most ``head`` columns of its start, …, then its end."""
    if width <= 1:
        return "…"[:width]
    start = _take(text, head)
    return start + "…" + _take(reversed(text), width - 1 - display_width(start))[::-1]


def clip_distinct(texts: Iterable[str], width: int) -> dict[str, str]:
    """Each of ``texts`` cut to ``width`` columns so that no two different texts look the same.

    All are cut at the same place, the middle if that keeps them apart (both ends shown), else the
    nearest place that does; texts that no cut in ``width`` columns tells apart are left whole.

    >>> clip_distinct(["落地生根、开花结果", "落地生根开花结果"], 12)
    {'落地生根、开花结果': '…、开花结果', '落地生根开花结果': '…根开花结果'}
    """
    distinct = sorted(set(texts))
    if all(display_width(text) <= width for text in distinct):
        return {text: text for text in distinct}
    middle = (width - 1) // 2
    for head in sorted(range(width), key=lambda h: (abs(h - middle), -h)):
        shown = {
            text: clip(text, width) if display_width(text) <= width else _cut(text, width, head)
            for text in distinct
        }
        if len(set(shown.values())) == len(distinct):
            return shown
    return {text: text for text in distinct}


def format_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    align: str = "",
    max_width: dict[int, int] | None = None,
    columns: int | None = None,
    fit: int | None = None,
    wrap: int | None = None,
) -> str:
    """An aligned plain-text table; ``align`` has one ``<`` or ``>`` per column (default ``<``).

    Widths count CJK characters as two columns, so Chinese lines up on a terminal.
    ``max_width`` clips chosen columns (by index) to that many columns, with an ellipsis.
    ``fit`` names a column (of phrases) cut to make the table fit ``columns``, its values kept
    distinguishable (:func:`clip_distinct`). ``wrap`` names the last column when its values are lists (of phrases): the items are joined
    with `` · `` and wrapped onto further lines to fit ``columns`` — beside the row when the column
    keeps at least 20 columns, else on indented lines under it. Cut items stay distinguishable.
    """
    limits = max_width or {}
    lists: list[list[str]] = []
    cells = []
    for row in rows:
        values = list(row)
        if wrap is not None:
            lists.append([str(item) for item in values[wrap]])
            values[wrap] = ""
        cells.append([clip("" if v is None else str(v), limits.get(i, 10**6)) for i, v in enumerate(values)])
    table = [list(header), *cells]
    widths = [max(display_width(row[i]) for row in table) for i in range(len(header))]
    if columns and fit is not None:
        room = max(8, columns - sum(widths) + widths[fit] - 2 * (len(header) - 1))
        shown = clip_distinct((row[fit] for row in cells), room)
        for row in cells:
            row[fit] = shown[row[fit]]
        widths[fit] = max(display_width(row[fit]) for row in table)
    aligns = (align or "").ljust(len(header), "<")
    under, indent = False, "    "
    if wrap is not None:
        items = [item for items in lists for item in items]
        natural = max([display_width(header[wrap])] + [display_width(" · ".join(x)) for x in lists])
        room = columns - sum(widths[:wrap]) - 2 * wrap if columns else natural
        under = room < 20
        room = max(8, columns - len(indent)) if under and columns else max(room, 8)
        shown = clip_distinct(items, room)
        lists = [[shown[item] for item in items] for items in lists]
        widths[wrap] = 0 if under else min(natural, room)
    out = []

    def line(row: Sequence[str]) -> str:
        return "  ".join(_pad(cell, widths[i], aligns[i]) for i, cell in enumerate(row)).rstrip()

    for number, row in enumerate(table):
        if number == 0 and under:  # the list's title goes under the header when the line is full
            title = line(row)
            fits = columns is None or display_width(title) <= columns
            out.extend([title] if fits else [line(row[:wrap]), indent + row[wrap]])
        elif number == 0 or wrap is None:
            out.append(line(row))
        else:
            parts = _wrap(lists[number - 1], widths[wrap] if not under else room)
            first, rest = (parts[:1], parts[1:]) if not under else ([], parts)
            out.append(line(row[:wrap] + first + row[wrap + 1 :]))
            lead = indent if under else " " * (sum(widths[:wrap]) + 2 * wrap)
            out.extend(lead + part for part in rest)
        if number == 0:
            out.append("  ".join("-" * w for w in widths).rstrip())
    return "\n".join(out) + "\n"


def _wrap(items: Sequence[str], width: int) -> list[str]:
    """``items`` joined with `` · ``, broken between items into lines of at most ``width`` columns."""
    lines: list[str] = []
    for item in items:
        if lines and display_width(lines[-1] + " · " + item) <= width:
            lines[-1] += " · " + item
        else:
            lines.append(item)
    return lines


def format_kwic(lines: Sequence[KwicLine], width: int, columns: int | None = None) -> str:
    """KWIC lines as an aligned table: the phrase column lines up, left context right-aligned.

    With ``columns``, rows fit that many terminal columns: the contexts and the source shrink first
    (the left context keeps the characters next to the phrase, the source its end), a long phrase
    is cut in the middle only when the contexts would get fewer than 4 characters a side, and cut
    forms stay distinguishable.
    """
    header = ("left", "phrase", "right", "region", "year", "source")
    rows = [
        [ln.left, ln.phrase, ln.right, ln.region, "" if ln.year is None else str(ln.year), ln.source]
        for ln in lines
    ]

    def natural(i: int) -> int:
        return max(display_width(x) for x in [header[i], *(row[i] for row in rows)])

    context, phrase, source = max(natural(0), natural(2)), natural(1), min(natural(5), 48)
    if columns:
        rest = columns - 2 * (len(header) - 1) - natural(3) - natural(4)
        least_source = min(source, 16)
        phrase = min(phrase, max(8, rest - 2 * 8 - least_source))
        context = max(2, min(context, (rest - phrase - least_source) // 2))
        source = max(least_source, min(source, rest - phrase - 2 * context))
    forms = clip_distinct((row[1] for row in rows), phrase)
    for row in rows:
        row[0], row[1], row[2] = clip(row[0], context, "end"), forms[row[1]], clip(row[2], context)
        row[5] = clip(row[5], source, "end")
    return format_table(header, rows, align=">")


# ---------------------------------------------------------------------------------------------
# tifa phrases / tifa regions


def resolve_region(name: str, out_dir: Path | None = None) -> str:
    """A region name in any form (上海市, 沪, Shanghai, 310000) as its short name; error when unknown.

    When the run in ``out_dir`` compared cities (``--level city``), a city in any form (三明, 三明市,
    大理州, 350400, a former name) is the name the run gives that unit (a county's: its prefecture's);
    a province's name still means the province (its own report).
    """
    import difflib

    from pipeline.regions import gazetteer, near_names, resolve_city

    region = lookup(name)
    if region is None and out_dir is not None and run_level(out_dir) == "city":
        city, candidates = resolve_city(name)
        unit = city.unit if city is not None else None
        if unit is None:
            found = "、".join(f"{c.full} ({c.province.short})" for c in candidates) or "、".join(near_names(name))
            raise Errors.E067(name=name, hint=f" (did you mean {found}?)" if found else "")
        return unit.label
    if region is None:
        names = {n: r.short for r in gazetteer() for n in (r.short, r.full, r.english) if n}
        close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.5)
        hint = f" (did you mean {names[close[0]]}?)" if close else ""
        raise Errors.E063(name=name, hint=hint)
    return region.short


@dataclass(frozen=True)
class PhraseRow:
    rank: int
    phrase: str
    kind: str
    count: int
    segments: int
    regions_n: int
    region_count: int | None = None  # hits in the chosen region
    region_per_10k: float | None = None
    region_score: float | None = None  # its keyness z-score in the chosen region (keyness.csv)


SORTS = ("keyness", "rank")  # orders of `tifa phrases --region`


def top_phrases(
    out_dir: Path, *, kind: str = "", region: str = "", limit: int = 30, sort: str = "keyness"
) -> tuple[list[PhraseRow], int]:
    """Best phrases of the last run (by rank), optionally of one kind and used in one region.

    With ``region``, phrases carry that region's count, rate per 10,000 characters and keyness
    z-score, and ``sort`` orders them: ``keyness`` — most distinctive of the region first (z-score
    of ``keyness.csv``, then rank), or ``rank`` — the run's ranking. Raw uses would put the words
    every region says (体制改革, 基础设施) first. Returns the rows and how many matched in all.
    """
    rows = load_phrase_table(out_dir)
    if kind:
        rows = [row for row in rows if row["kind"] == kind]
    per_region: dict[str, tuple[int, float]] = {}
    if region:
        rows = [row for row in rows if region in row["regions"].split(";")]
        per_region = _region_adoption(Path(out_dir), region)
        scores = _region_keyness(Path(out_dir), region)
    phrases = [
        PhraseRow(
            rank=int(row["rank"]),
            phrase=row["phrase"],
            kind=row["kind"],
            count=int(row["count"]),
            segments=int(row["segments"]),
            regions_n=int(row["regions_n"]),
            region_count=per_region.get(row["phrase"], (0, 0.0))[0] if region else None,
            region_per_10k=per_region.get(row["phrase"], (0, 0.0))[1] if region else None,
            region_score=scores.get(row["phrase"]) if region else None,
        )
        for row in rows
    ]
    if region and sort == "keyness":
        phrases.sort(key=lambda p: (-(p.region_score if p.region_score is not None else -math.inf), p.rank))
    return phrases[:limit] if limit else phrases, len(phrases)


def _region_adoption(out_dir: Path, region: str) -> dict[str, tuple[int, float]]:
    """``phrase -> (count, per_10k)`` over all years for one region, from ``adoption.csv``."""
    path = _need(out_dir, "adoption.csv")
    prefix = f"{region},"  # region is the first column: skip other regions' rows unparsed
    found: dict[str, tuple[int, float]] = {}
    if path.suffix == ".parquet":
        for row in read_rows(path):
            if row["region"] == region and row["year"] == "":
                found[row["phrase"]] = (int(row["count"]), float(row["per_10k"]))
        return found
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
        lines = (line for line in handle if line.startswith(prefix))
        for row in csv.DictReader(lines, fieldnames=header):
            if row["region"] == region and row["year"] == "":  # a city-level run has province second
                found[row["phrase"]] = (int(row["count"]), float(row["per_10k"]))
    return found


def _region_keyness(out_dir: Path, region: str) -> dict[str, float]:
    """``phrase -> z-score`` of one region in ``keyness.csv`` (empty when the run has none)."""
    path = out_dir / "keyness.csv"
    if not path.is_file():
        return {}
    prefix = f"{region},"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
        lines = (line for line in handle if line.startswith(prefix) or line.startswith(f'"{region}"'))
        return {
            row["phrase"]: float(row["score"])
            for row in csv.DictReader(lines, fieldnames=header)
            if row["region"] == region
        }


@dataclass(frozen=True)
class RegionRow:
    region: str
    cluster: str
    segments: int
    chars: int
    years: str  # years with text, as runs: "2012, 2016–2017"
    nearest: str
    distinctive: tuple[tuple[str, int, float], ...]  # (phrase, count, score), best first
    gaps: str = ""  # years with text in the run but none from this region, as runs


def year_runs(years: Iterable[int]) -> str:
    """Years as runs of consecutive years.

    >>> year_runs([2017, 2012, 2016]), year_runs([2013, 2014, 2015]), year_runs([])
    ('2012, 2016–2017', '2013–2015', '')
    """
    runs: list[list[int]] = []
    for year in sorted(set(years)):
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def top_keyness(
    out_dir: Path, top: int, regions: set[str] | None = None
) -> dict[str, list[tuple[str, int, float]]]:
    """The ``top`` highest-scoring phrases of each region in ``keyness.csv`` (score > 0 only)."""
    heaps: dict[str, list[tuple[float, str, int]]] = defaultdict(list)
    path = Path(out_dir) / "keyness.csv"
    if not path.is_file() or top <= 0:
        return {}
    for region, phrase, count, score in _keyness_candidates(path, top, regions):
        if score <= 0:
            continue
        item = (score, phrase, int(count))
        heap = heaps[region]
        if len(heap) < top:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    return {
        region: [(phrase, count, score) for score, phrase, count in sorted(heap, key=lambda i: (-i[0], i[1]))]
        for region, heap in sorted(heaps.items())
    }


def _keyness_candidates(
    path: Path, top: int, regions: set[str] | None
) -> Iterator[tuple[str, str, str, float]]:
    """``(region, phrase, count, score)`` of the rows of ``keyness.csv`` that can be among the ``top`` of
    their region: every row of the wanted regions, or in a plain file only the first rows of each.

    compare.keyness sorts the rows by region, then score descending: a region's best rows come first,
    so it is enough to read its rows down to the ``top``-th one and those tied with it (the heap in
    :func:`top_keyness` breaks ties by phrase), then skip to the next region without parsing.
    """
    header, data = plain_csv(path) or ([], b"")
    if header[:1] != ["region"] or not {"phrase", "count", "score"} <= set(header):
        for row in read_rows(path):
            if regions is None or row["region"] in regions:
                yield row["region"], row["phrase"], row["count"], float(row["score"])
        return
    phrase_at, count_at, score_at = (header.index(name) for name in ("phrase", "count", "score"))
    pos = data.find(b"\n") + 1  # start of the current line
    while pos < len(data):
        region = data[pos : data.find(b",", pos)]
        prefix = region + b","
        if regions is None or region.decode() in regions:
            taken, least = 0, 0.0
            while data.startswith(prefix, pos):
                end = data.find(b"\n", pos)
                row = data[pos:end].decode().split(",")
                score = float(row[score_at])
                if score <= 0 or (taken >= top and score < least):
                    break
                yield row[0], row[phrase_at], row[count_at], score
                taken, least = taken + 1, score
                pos = end + 1
        # skip the region's other rows: on to the first line that does not start with it
        following = re.compile(b"\n(?!" + re.escape(prefix) + b")").search(data, pos - 1)
        pos = following.end() if following else len(data)


def region_overview(out_dir: Path, *, top: int = 5, region: str = "") -> list[RegionRow]:
    """Every region of the last run with its cluster, size, nearest region and distinctive phrases."""
    out_dir = Path(out_dir)
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    years: dict[str, set[int]] = defaultdict(set)
    for row in read_rows(_need(out_dir, "segments.csv")):
        if not row["region"]:
            continue
        sizes[row["region"]][0] += 1
        sizes[row["region"]][1] += int(row["chars"] or 0)
        if row["year"]:
            years[row["region"]].add(int(row["year"]))
    clusters = {}
    if (out_dir / "clusters.csv").is_file():
        clusters = {row["region"]: row["cluster"] for row in read_rows(out_dir / "clusters.csv")}
    nearest = _nearest(out_dir / "similarity.csv")
    wanted = {region} if region else None
    distinctive = top_keyness(out_dir, top, wanted)
    names = sorted(sizes, key=lambda r: (_cluster_key(clusters.get(r, "")), r))
    run_years = set().union(*years.values()) if years else set()
    return [
        RegionRow(
            region=name,
            cluster=clusters.get(name, ""),
            segments=sizes[name][0],
            chars=sizes[name][1],
            years=year_runs(years[name]),
            gaps=year_runs(run_years - years[name] if years[name] else ()),
            nearest=nearest.get(name, ""),
            distinctive=tuple(distinctive.get(name, ())),
        )
        for name in names
        if not region or name == region
    ]


def _cluster_key(cluster: str) -> tuple[int, str]:
    return (int(cluster), "") if cluster.isdigit() else (10**9, cluster)


def _nearest(path: Path) -> dict[str, str]:
    """Each region's most similar other region, as ``name (cosine)``."""
    if not path.is_file():
        return {}
    found = {}
    for row in read_rows(path):
        region = row.pop("region")
        row.pop("province", None)  # a city-level run's similarity.csv: the city's province
        others = [(float(value), name) for name, value in row.items() if name != region and value]
        if others:
            score, name = max(others)
            found[region] = f"{name} ({score:.2f})"
    return found
