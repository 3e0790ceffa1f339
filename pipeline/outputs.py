"""Writers for the files in ``out/``: the output contract, in one place."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline import tables
from pipeline.io_utils import atomic_write, csv_text, replace_folder
from pipeline.records import HitTable, Phrase, Segment, Sentence, pick


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
    per_segment = Counter(sentence.segment_id for sentence in sentences)
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
                per_segment[s.segment_id],
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
    matrices and the wide adoption matrix keep their shape (clusters.csv has each city's province).
    """

    def province(value: str) -> str:
        return ";".join(province_of.get(name, "") for name in value.split(";")) if value else ""

    for path in sorted(out_dir.glob("*.parquet")):  # table_format parquet: the large tables
        if path.stem not in ("segments", "texts"):
            tables.add_after(path, _REGION_COLUMNS, province)
    for path in sorted(out_dir.glob("*.csv")):
        if path.name == "segments.csv" or path.name.startswith(("similarity", "adoption_matrix")):
            continue
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
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
    with tables.atomic_file(path) as handle:  # line by line: the texts are not joined into one string
        for s in segments:
            handle.write((json.dumps(record(s), ensure_ascii=False) + "\n").encode("utf-8"))
