"""Writers for the files in ``out/``: the output contract, in one place."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import tables
from pipeline.io_utils import atomic_file, atomic_write, csv_text, replace_folder
from pipeline.records import HitTable, Phrase, Segment, Sentence, Sentences, pick


def write_segments(
    path: Path,
    segments: Sequence[Segment],
    sentences: Sequence[Sentence],
    *,
    level: str = "province",
    table_format: str = "csv",
) -> None:
    """``segments.csv``: one row per segment with its attribution and size.

    ``city`` and ``city_code`` (GB/T 2260) are added when a segment has a city or ``level`` is city;
    at ``level`` city ``region`` is the unit compared (the city, or a province for its own report)
    and ``province`` follows.
    """
    per_segment = Sentences.of(sentences).per_segment()
    cities = level == "city" or any(s.city_code for s in segments)
    header = ["segment_id", "source", "region", "speaker", "title", "year", "date", "chars", "sentences"]
    header += ["city", "city_code"] * cities + ["province"] * (level == "city")
    tables.write_rows(
        path,
        header,
        (
            [
                s.segment_id,
                s.source,
                s.region,
                s.speaker,
                s.title,
                s.year,
                s.date,
                len(s.text),
                per_segment.get(s.segment_id, 0),
            ]
            + [s.city, s.city_code] * cities
            + [s.province] * (level == "city")
            for s in segments
        ),
        table_format=table_format,
    )


# Region columns of the tables and the province column that follows each at level city.
_REGION_COLUMNS = {
    "region": "province",
    "region_a": "province_a",
    "region_b": "province_b",
    "regions": "provinces",
    "first_regions": "first_provinces",
    "using": "using_provinces",  # diffusion.csv: the regions using a phrase that year
}


def add_province(out_dir: Path, province_of: dict[str, str]) -> None:
    """Give every long CSV in ``out_dir`` a province column after each region column (``province``,
    ``province_a``; ``provinces`` beside a ``;``-joined list of regions, in the same order), so a table
    of 250 cities is grouped by province with pandas, R or a spreadsheet filter. The square similarity
    matrices gain the column after ``region`` too; the wide ``adoption_matrix.csv`` (a column per
    region) gains a second header row, ``province`` and each column's province.
    """

    def province(value: str) -> str:
        return ";".join(province_of.get(name, "") for name in value.split(";")) if value else ""

    for path in sorted(out_dir.glob("*.parquet")):  # table_format parquet: the large tables
        if path.stem not in ("segments", "texts"):
            tables.add_after(path, _REGION_COLUMNS, province)
    for path in sorted(out_dir.glob("*.csv")):
        if path.name == "segments.csv":
            continue
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
        if path.name == "adoption_matrix.csv" and rows:
            below = ["province"] + [province_of.get(name, "") for name in rows[0][1:]]  # total: ""
            atomic_write(path, "\ufeff" + csv_text(rows[0], [below, *rows[1:]]))
            continue
        if not rows or not any(name in _REGION_COLUMNS for name in rows[0]):
            continue
        at = [index for index, name in enumerate(rows[0]) if name in _REGION_COLUMNS]

        widened = []
        for number, row in enumerate(rows):
            out: list[str] = []
            for index, cell in enumerate(row):
                out.append(cell)
                if index in at:
                    out.append(_REGION_COLUMNS[cell] if number == 0 else province(cell))
            widened.append(out)
        atomic_write(path, "\ufeff" + csv_text(widened[0], widened[1:]))


def write_manifest(path: Path, manifest: dict[str, Any], timings: dict[str, float]) -> None:
    """``manifest.json``: everything but ``timings`` is the same for the same input."""
    document = {**manifest, "timings": timings}
    atomic_write(path, json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def swap_into_place(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished ``staging`` folder in one atomic step (see ``io_utils``).

    ``out_dir`` holds the previous complete run until that step and the new one after it; a run
    killed at any moment leaves one or the other, never a mix.
    """
    replace_folder(staging, out_dir)


def phrase_table(phrases: Sequence[Phrase]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``phrases.csv`` (what ``tifa.Result.phrases`` shows too).

    >>> phrase_table([Phrase("两个确立", "quoted", ("两个确立",), 3, 2, ("上海", "江西"), 7.5)])[1]
    [['两个确立', 'quoted', 3, 2, 2, '上海;江西', '两个确立', 'formula', 1, 7.5, '', '', '', 0]]
    """
    header = [
        "phrase",
        "kind",
        "count",
        "segments",
        "regions_n",
        "regions",
        "variants",
        "role",
        "rank",
        "score",
        "items",
        "contains",
        "cohesion",
        "in_word",
    ]
    rows = [
        [
            p.phrase,
            p.kind,
            p.count,
            p.segments,
            p.regions_n,
            ";".join(p.regions),
            ";".join(p.variants),
            p.role,
            rank,
            p.score,
            ";".join(p.items),
            ";".join(p.contains),
            "" if p.cohesion is None else p.cohesion,
            p.in_word,
        ]
        for rank, p in enumerate(phrases, start=1)
    ]
    return header, rows


def write_phrases(path: Path, phrases: Sequence[Phrase], *, table_format: str = "csv") -> None:
    """``phrases.csv``: one row per canonical phrase, best first; lists joined with ``;``."""
    tables.write_rows(path, *phrase_table(phrases), table_format=table_format)


HIT_HEADER = ["phrase", "surface", "segment_id", "region", "year", "sentence_index", "start", "end"]


def hit_column_chunks(
    hits: HitTable, segments: Sequence[Segment], rows: int = tables.CHUNK_ROWS
) -> Iterator[list[list[Any]]]:
    """The columns of ``hits.csv`` (``HIT_HEADER``), ``rows`` hits at a time: each hit's phrase,
    surface form, segment and offsets. The rows of tens of millions of hits are never all in memory."""
    by_id = {segment.segment_id: segment for segment in segments}
    ordered = [by_id[segment_id] for segment_id in hits.segment_ids]
    texts = [segment.text for segment in ordered]
    regions = [segment.region for segment in ordered]
    years = [segment.year for segment in ordered]
    for first in range(0, max(len(hits), 1), rows):
        at = slice(first, first + rows)
        segment = hits.segment[at]
        starts, ends = hits.start[at].tolist(), hits.end[at].tolist()
        yield [
            pick(hits.names, hits.phrase[at]),
            [text[start:end] for text, start, end in zip(pick(texts, segment), starts, ends, strict=True)],
            pick(hits.segment_ids, segment),
            pick(regions, segment),
            pick(years, segment),
            hits.sentence[at].tolist(),
            starts,
            ends,
        ]


def write_hits(path: Path, hits: HitTable, segments: Sequence[Segment], *, table_format: str = "csv") -> None:
    """``hits.csv``: every occurrence of every phrase, with the surface form found and where."""
    tables.write_columns(path, HIT_HEADER, hit_column_chunks(hits, segments), table_format=table_format)


def write_texts(
    path: Path,
    segments: Sequence[Segment],
    original_text: Callable[[Segment], str] | None = None,
    *,
    table_format: str = "csv",
) -> None:
    """``texts.jsonl``: every segment's text and attribution, one JSON object a line, in corpus order.

    ``tifa kwic`` and the report's contexts read it, so the last run can be searched without
    segmenting again; ``start``/``end`` in ``hits.csv`` index these texts. A segment converted from
    traditional characters also carries ``original`` (same length, so the same offsets apply).
    With ``table_format`` parquet: ``texts.parquet``, the same fields as columns (``original`` null
    where it is the text).
    """
    names = ["segment_id", "source", "region", "speaker", "title", "year", "date", "text"]

    def record(s: Segment) -> dict[str, Any]:
        fields = dict(
            zip(
                names,
                (s.segment_id, s.source, s.region, s.speaker, s.title, s.year, s.date, s.text),
                strict=True,
            )
        )
        if original_text and (original := original_text(s)) != s.text:
            fields["original"] = original
        return fields

    if table_format == "parquet":
        rows = ([*list(fields.values())[:8], fields.get("original")] for fields in map(record, segments))
        tables.write_rows(path, [*names, "original"], rows, table_format=table_format)
        return
    with atomic_file(path) as handle:  # line by line: the texts are not joined into one string
        for s in segments:
            handle.write((json.dumps(record(s), ensure_ascii=False) + "\n").encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# readers: the tables above read back (the report reads an output folder through these only).
# One function per large table, so a table stored another way is read by changing its reader;
# the small tables go through read_table. The fast paths rely on the order the writers (and the
# stages' own writers) keep, and fall back to the csv module for a file of any other shape.


def plain_csv(path: Path) -> tuple[list[str], bytes] | None:
    """A CSV's header and its bytes (the header line included, ending in a newline) when every line
    is one row of bare fields: no field is quoted (no ``"`` anywhere) and lines end in ``\\n``, as in
    the CSVs of an ordinary run. None otherwise, and for an empty file.

    The large files can then be searched as bytes, a row found by its line and its fields split at
    commas (neither byte occurs inside a multi-byte UTF-8 character), instead of parsing hundreds of
    thousands of rows; readers fall back to the csv module when this gives None.
    """
    path = tables.locate(Path(path))
    if path.suffix == ".parquet":  # read row by row (read_table)
        return None
    data = path.read_bytes()
    if not data or b'"' in data or b"\r" in data:
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    header = data[: data.find(b"\n")].decode("utf-8-sig").split(",")
    return header, data


def read_table(out_dir: Path, name: str) -> list[dict[str, str]]:
    """The rows of the CSV ``name`` in ``out_dir`` (none when the run did not write it)."""
    path = tables.locate(Path(out_dir) / name)  # the CSV, or the table as Parquet (table_format)
    return list(tables.read_rows(path)) if path.is_file() else []


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """``manifest.json`` (empty when missing or unreadable)."""
    try:
        manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def read_segments(out_dir: Path) -> list[dict[str, str]]:
    """``segments.csv``, in corpus order."""
    return read_table(out_dir, "segments.csv")


def read_phrase_rows(out_dir: Path) -> list[dict[str, str]]:
    """``phrases.csv``, best first."""
    return read_table(out_dir, "phrases.csv")


def read_overall_adoption(out_dir: Path, wanted: set[str]) -> dict[tuple[str, str], tuple[int, float]]:
    """``(region, phrase) -> (count, per_10k)`` of ``adoption.csv`` over all years (the rows with no
    year), for the ``wanted`` phrases only."""
    path = tables.locate(Path(out_dir) / "adoption.csv")
    if not path.is_file():
        return {}
    values: dict[tuple[str, str], tuple[int, float]] = {}
    header, data = plain_csv(path) or ([], b"")
    if header[:5] != ["region", "year", "phrase", "count", "per_10k"]:
        for row in read_table(out_dir, "adoption.csv"):
            if row["year"] == "" and row["phrase"] in wanted:
                values[(row["region"], row["phrase"])] = (cell_int(row["count"]), cell_float(row["per_10k"]))
        return values
    # Only the year may be empty, so ",,PHRASE," occurs only in the no-year row of PHRASE: one regex
    # search finds those few rows among the ~800,000 and the region is what precedes it on its line.
    bare = sorted(p.encode() for p in wanted if "," not in p and "\n" not in p)  # others would be quoted
    if not bare:
        return values
    pattern = re.compile(b",,(" + b"|".join(map(re.escape, bare)) + b"),([^,\n]*),([^,\n]*),")
    for found in pattern.finditer(data):
        region = data[data.rfind(b"\n", 0, found.start()) + 1 : found.start()].decode()
        values[(region, found[1].decode())] = (cell_int(found[2].decode()), cell_float(found[3].decode()))
    return values


HitRow = tuple[str, str, str, int, int]  # phrase, region, segment id, start, end


def table_hits_of(hits: HitTable, segments: Sequence[Segment], wanted: set[str]) -> Iterator[HitRow]:
    """What :func:`read_hits_of` reads back from the ``hits.csv`` that :func:`write_hits` writes of
    ``hits``, taken from the table in memory: ``tifa run`` builds its report without parsing the file
    again (ten million rows, 20 seconds, at 50 M characters)."""
    wanted_ids = [index for index, name in enumerate(hits.names) if name in wanted]
    keep = np.flatnonzero(np.isin(hits.phrase, wanted_ids))
    by_id = {segment.segment_id: segment for segment in segments}
    regions = [by_id[segment_id].region for segment_id in hits.segment_ids]
    for first in range(0, len(keep), tables.CHUNK_ROWS):
        at = keep[first : first + tables.CHUNK_ROWS]
        segment = hits.segment[at]
        yield from zip(
            pick(hits.names, hits.phrase[at]),
            pick(regions, segment),
            pick(hits.segment_ids, segment),
            hits.start[at].tolist(),
            hits.end[at].tolist(),
            strict=True,
        )


def read_hits_of(out_dir: Path, wanted: set[str], ranks: dict[str, int]) -> Iterator[HitRow]:
    """``(phrase, region, segment_id, start, end)`` of every hit of the ``wanted`` phrases in
    ``hits.csv``, in file order.

    :func:`write_hits` lists the hits by phrase rank (``ranks``), so the file is read as a stream and
    only down to the last wanted phrase's rows: the report's few hundred phrases are at its head, and
    the file (a gigabyte at 50 M characters) is never held whole.
    """
    path = tables.locate(Path(out_dir) / "hits.csv")
    if not path.is_file() or not wanted:
        return
    unknown = len(ranks) + 1  # a phrase phrases.csv does not list: never a reason to stop early
    last = max(ranks.get(phrase, unknown) for phrase in wanted)
    names = ("phrase", "region", "segment_id", "start", "end")
    for phrase, region, segment_id, start, end in _columns(path, names):
        if phrase in wanted:
            yield phrase, region, segment_id, cell_int(start), cell_int(end)
        elif ranks.get(phrase, unknown) > last:
            return


def _columns(path: Path, names: Sequence[str]) -> Iterator[tuple[str, ...]]:
    """The ``names`` cells of every row of a table, streamed (a CSV read by the csv module's reader,
    faster than one dict a row; none when a column is missing)."""
    if path.suffix == ".parquet":
        for row in tables.read_rows(path):
            if not set(names) <= row.keys():
                return
            yield tuple(row[name] for name in names)
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        if not set(names) <= set(header):
            return
        at = [header.index(name) for name in names]
        width = max(at) + 1
        for row in reader:
            if len(row) >= width:
                yield tuple(row[index] for index in at)


DiffusionPoint = tuple[float, float, int]  # a phrase in a year: (cum. share adopted, share using, adopted)
# (phrase, regions adopted in the first year, by the last year, share adopted by the last year)
DiffusionEnd = tuple[str, int, int, float]


@dataclass(frozen=True)
class DiffusionCurves:
    """What :func:`read_diffusion` returns: the years and the curves of the phrases picked."""

    years: list[int]
    curves: dict[str, dict[int, DiffusionPoint]]  # phrase -> year -> point
    first: dict[str, tuple[str, str]]  # phrase -> (first_year, first_regions)
    picked: list[Any]  # what ``pick`` returned


def read_diffusion(
    out_dir: Path, pick: Callable[[list[DiffusionEnd]], Sequence[tuple[str, Any]]]
) -> DiffusionCurves:
    """The years of ``diffusion.csv`` and the curves of the phrases ``pick`` chooses from every
    phrase's two ends (first and last year); ``pick`` returns ``(phrase, anything)`` pairs.

    compare.diffusion writes one row per phrase and year with text, sorted by phrase then year, so
    in a plain file every phrase is a block of as many lines as there are years: only the first and
    last line of each block are parsed (and every line of the phrases picked). Any other file is
    read row by row; both give the same result.
    """
    path = tables.locate(Path(out_dir) / "diffusion.csv")
    plain = plain_csv(path) if path.is_file() else None
    found = _plain_diffusion(*plain, pick) if plain is not None else None
    if found is not None:
        return found
    curves: dict[str, dict[int, DiffusionPoint]] = {}
    first: dict[str, tuple[str, str]] = {}
    years: set[int] = set()
    for row in read_table(out_dir, "diffusion.csv"):
        year = cell_int(row["year"], -1)
        if year < 0:
            continue
        years.add(year)
        curves.setdefault(row["phrase"], {})[year] = (
            cell_float(row["share_adopted_cumulative"]),
            cell_float(row["share_using"]),
            cell_int(row["adopted_cumulative"]),
        )
        first[row["phrase"]] = (row.get("first_year", ""), row.get("first_regions", ""))
    ordered = sorted(years)
    if len(ordered) < 2:
        return DiffusionCurves(ordered, {}, {}, [])
    none: DiffusionPoint = (0.0, 0.0, 0)
    ends = []
    for phrase, curve in curves.items():
        last = curve.get(ordered[-1], none)
        ends.append((phrase, curve.get(ordered[0], none)[2], last[2], last[0]))
    picked = list(pick(ends))
    return DiffusionCurves(
        ordered, {p: curves[p] for p, _ in picked}, {p: first[p] for p, _ in picked}, picked
    )


def _plain_diffusion(
    header: list[str], data: bytes, pick: Callable[[list[DiffusionEnd]], Sequence[tuple[str, Any]]]
) -> DiffusionCurves | None:
    """:func:`read_diffusion` of a plain file of blocks; None when the file has not that shape."""
    rows = data.split(b"\n")[1:-1]  # after the header, up to the last newline
    if header[:2] != ["phrase", "year"] or not rows:
        return None
    key = rows[0][: rows[0].find(b",") + 1]  # the first phrase and its comma
    size = next((i for i, line in enumerate(rows) if not line.startswith(key)), len(rows))
    names = [line.split(b",", 2)[1] for line in rows[:size]]
    years = [cell_int(name.decode(), -1) for name in names]
    if len(rows) % size or years[0] < 0 or years != sorted(set(years)):  # whole blocks, years ascending
        return None
    if len(years) < 2:
        return DiffusionCurves(years, {}, {}, [])
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
                cell_int(head[adopted_at].decode()),
                cell_int(tail[adopted_at].decode()),
                cell_float(tail[share_at].decode()),
            )
        )
    picked = list(pick(ends))
    curves: dict[str, dict[int, DiffusionPoint]] = {}
    first: dict[str, tuple[str, str]] = {}
    for phrase, _ in picked:
        curve = curves[phrase] = {}
        for line in rows[start_of[phrase] : start_of[phrase] + size]:
            row = line.decode().split(",")
            curve[cell_int(row[1], -1)] = (cell_float(row[share_at]), cell_float(row[using_at]), cell_int(row[adopted_at]))
        first[phrase] = (
            row[at["first_year"]] if "first_year" in at else "",
            row[at["first_regions"]] if "first_regions" in at else "",
        )
    return DiffusionCurves(years, curves, first, picked)


def cell_int(value: str | None, default: int = 0) -> int:
    """A table's integer cell (``default`` when empty or not a number)."""
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def cell_float(value: str | None, default: float = 0.0) -> float:
    """A table's number cell (``default`` when empty, not a number or not finite)."""
    try:
        number = float(value) if value not in (None, "") else default
    except ValueError:
        return default
    return number if math.isfinite(number) else default
