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
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipeline.errors import TifaError
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
    return TifaError(
        "E040",
        f"no {name} in {out_dir} — run `tifa run INPUT... --out {out_dir}` first (or pass --out DIR)",
    )


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Rows of one CSV written by ``tifa run`` (UTF-8 with BOM)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def plain_csv(path: Path) -> tuple[list[str], bytes] | None:
    """A CSV's header and its bytes (the header line included, ending in a newline) when every line
    is one row of bare fields: no field is quoted (no ``"`` anywhere) and lines end in ``\\n``, as in
    the CSVs of an ordinary run. None otherwise, and for an empty file.

    The large files can then be searched as bytes, a row found by its line and its fields split at
    commas (neither byte occurs inside a multi-byte UTF-8 character), instead of parsing hundreds of
    thousands of rows; readers fall back to the csv module when this gives None.
    """
    data = Path(path).read_bytes()
    if not data or b'"' in data or b"\r" in data:
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    header = data[: data.find(b"\n")].decode("utf-8-sig").split(",")
    return header, data


def _need(out_dir: Path, name: str) -> Path:
    path = Path(out_dir) / name
    if not path.is_file():
        raise missing_run(Path(out_dir), name)
    return path


def load_texts(path: Path) -> list[Segment]:
    """Segments from ``texts.jsonl`` (one JSON object per segment, in corpus order)."""
    segments = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
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
            except (ValueError, KeyError, TypeError) as exc:
                raise TifaError(
                    "E041", f"{path}: line {number} is not a segment record ({exc}) — rerun `tifa run`"
                ) from None
    return segments


def load_phrase_table(out_dir: Path) -> list[dict[str, str]]:
    """The rows of ``phrases.csv``, best first."""
    return list(read_rows(_need(out_dir, "phrases.csv")))


# ---------------------------------------------------------------------------------------------
# keyword in context


def phrase_forms(query: str, phrase_rows: Iterable[dict[str, str]]) -> tuple[str, tuple[str, ...]]:
    """The canonical phrase a query names and every surface form to search, longest first.

    A query that is a phrase of the last run, or one of its variants, gives that phrase's canonical
    form and all its variants; any other query is searched as it is.

    >>> rows = [{"phrase": "落地生根、开花结果", "variants": "落地生根、开花结果;落地生根开花结果"}]
    >>> phrase_forms("落地生根开花结果", rows)
    ('落地生根、开花结果', ('落地生根、开花结果', '落地生根开花结果'))
    >>> phrase_forms("新发展理念", rows)
    ('新发展理念', ('新发展理念',))
    """
    for row in phrase_rows:
        variants = [v for v in row.get("variants", "").split(";") if v]
        if query == row["phrase"] or query in variants:
            forms = {row["phrase"], *variants}
            return row["phrase"], tuple(sorted(forms, key=lambda f: (-len(f), f)))
    return query, (query,)


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
) -> list[KwicLine]:
    """Every occurrence of any of ``forms`` in ``segments`` (corpus order, then position).

    Forms are matched left to right without overlap, the longest first where two start together.
    ``width`` characters of context are kept on each side (line breaks shown as spaces).
    ``region``/``year`` keep only those segments; ``limit`` > 0 stops after that many lines.

    >>> seg = Segment("a#0", "a.txt", "上海", "", "", 2015, "我们要坚持新发展理念。")
    >>> [tuple(line[:3]) for line in kwic([seg], ["新发展理念"], width=3)]
    [('要坚持', '新发展理念', '。')]
    """
    forms = sorted({f for f in forms if f}, key=lambda f: (-len(f), f))
    if not forms:
        return []
    pattern = re.compile("|".join(re.escape(f) for f in forms))
    lines: list[KwicLine] = []
    for segment in segments:
        if region and segment.region != region:
            continue
        if year is not None and segment.year != year:
            continue
        text = segment.text
        for match in pattern.finditer(text):
            start, end = match.span()
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


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, with … when cut."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        w = display_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…"


def format_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    align: str = "",
    max_width: dict[int, int] | None = None,
) -> str:
    """An aligned plain-text table; ``align`` has one ``<`` or ``>`` per column (default ``<``).

    Widths count CJK characters as two columns, so Chinese lines up on a terminal.
    ``max_width`` clips chosen columns (by index) to that many columns, with an ellipsis.
    """
    limits = max_width or {}
    cells = [
        [clip("" if value is None else str(value), limits.get(i, 10**6)) for i, value in enumerate(row)]
        for row in rows
    ]
    table = [list(header), *cells]
    widths = [max(display_width(row[i]) for row in table) for i in range(len(header))]
    aligns = (align or "").ljust(len(header), "<")
    out = []
    for number, row in enumerate(table):
        out.append("  ".join(_pad(cell, widths[i], aligns[i]) for i, cell in enumerate(row)).rstrip())
        if number == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def format_kwic(lines: Sequence[KwicLine], width: int) -> str:
    """KWIC lines as an aligned table: the phrase column lines up, left context right-aligned."""
    return format_table(
        ("left", "phrase", "right", "region", "year", "source"),
        ([line.left, line.phrase, line.right, line.region, line.year, line.source] for line in lines),
        align=">",
        max_width={0: 2 * width, 2: 2 * width, 5: 48},
    )


# ---------------------------------------------------------------------------------------------
# tifa phrases / tifa regions


def resolve_region(name: str) -> str:
    """A region name in any form (上海市, 沪, Shanghai, 310000) as its short name; error when unknown."""
    region = lookup(name)
    if region is None:
        raise TifaError("E042", f"unknown region '{name}' — use a province-level name such as 上海 or 内蒙古")
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


def top_phrases(
    out_dir: Path, *, kind: str = "", region: str = "", limit: int = 30
) -> tuple[list[PhraseRow], int]:
    """Best phrases of the last run (by rank), optionally of one kind and used in one region.

    With ``region``, phrases are ordered by their hits in that region (then rank) and carry that
    region's count and rate per 10,000 characters. Returns the rows and how many matched in all.
    """
    rows = load_phrase_table(out_dir)
    if kind:
        rows = [row for row in rows if row["kind"] == kind]
    per_region: dict[str, tuple[int, float]] = {}
    if region:
        rows = [row for row in rows if region in row["regions"].split(";")]
        per_region = _region_adoption(Path(out_dir), region)
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
        )
        for row in rows
    ]
    if region:
        phrases.sort(key=lambda p: (-(p.region_count or 0), p.rank))
    return phrases[:limit] if limit else phrases, len(phrases)


def _region_adoption(out_dir: Path, region: str) -> dict[str, tuple[int, float]]:
    """``phrase -> (count, per_10k)`` over all years for one region, from ``adoption.csv``."""
    path = _need(out_dir, "adoption.csv")
    prefix = f"{region},,"  # region is the first column and year the second: skip other rows unparsed
    found: dict[str, tuple[int, float]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
        lines = (line for line in handle if line.startswith(prefix))
        for row in csv.DictReader(lines, fieldnames=header):
            found[row["phrase"]] = (int(row["count"]), float(row["per_10k"]))
    return found


@dataclass(frozen=True)
class RegionRow:
    region: str
    cluster: str
    segments: int
    chars: int
    years: str
    nearest: str
    distinctive: tuple[tuple[str, int, float], ...]  # (phrase, count, score), best first


def _years(years: set[int]) -> str:
    if not years:
        return ""
    low, high = min(years), max(years)
    return str(low) if low == high else f"{low}–{high}"


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
    return [
        RegionRow(
            region=name,
            cluster=clusters.get(name, ""),
            segments=sizes[name][0],
            chars=sizes[name][1],
            years=_years(years[name]),
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
        others = [(float(value), name) for name, value in row.items() if name != region and value]
        if others:
            score, name = max(others)
            found[region] = f"{name} ({score:.2f})"
    return found
