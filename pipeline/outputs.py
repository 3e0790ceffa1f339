"""Writers for the files in ``out/``: the output contract, in one place."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.io_utils import atomic_write, csv_text, replace_folder, write_csv, write_csv_columns
from pipeline.records import HitTable, Phrase, Segment, Sentence, pick


def write_segments(
    path: Path, segments: Sequence[Segment], sentences: Sequence[Sentence], *, level: str = "province"
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
    write_csv(
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
    for path in sorted(out_dir.glob("*.csv")):
        if path.name == "segments.csv" or path.name.startswith(("similarity", "adoption_matrix")):
            continue
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
        if not rows or not any(name in _REGION_COLUMNS for name in rows[0]):
            continue
        at = [index for index, name in enumerate(rows[0]) if name in _REGION_COLUMNS]

        def province(value: str) -> str:
            return ";".join(province_of.get(name, "") for name in value.split(";")) if value else ""

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


def write_phrases(path: Path, phrases: Sequence[Phrase]) -> None:
    """``phrases.csv``: one row per canonical phrase, best first; lists joined with ``;``."""
    write_csv(path, *phrase_table(phrases))


def hit_columns(hits: HitTable, segments: Sequence[Segment]) -> tuple[list[str], list[list[Any]]]:
    """Header and columns of ``hits.csv``: each hit's phrase, surface form, segment and offsets."""
    by_id = {segment.segment_id: segment for segment in segments}
    ordered = [by_id[segment_id] for segment_id in hits.segment_ids]

    def per_segment(values: list[Any]) -> list[Any]:  # each hit's segment's value
        return pick(values, hits.segment)

    texts = per_segment([segment.text for segment in ordered])
    starts, ends = hits.start.tolist(), hits.end.tolist()
    return (
        ["phrase", "surface", "segment_id", "region", "year", "sentence_index", "start", "end"],
        [
            pick(hits.names, hits.phrase),
            [text[start:end] for text, start, end in zip(texts, starts, ends, strict=True)],
            per_segment(list(hits.segment_ids)),
            per_segment([segment.region for segment in ordered]),
            per_segment([segment.year for segment in ordered]),
            hits.sentence.tolist(),
            starts,
            ends,
        ],
    )


def write_hits(path: Path, hits: HitTable, segments: Sequence[Segment]) -> None:
    """``hits.csv``: every occurrence of every phrase, with the surface form found and where."""
    write_csv_columns(path, *hit_columns(hits, segments))


def write_texts(
    path: Path, segments: Sequence[Segment], original_text: Callable[[Segment], str] | None = None
) -> None:
    """``texts.jsonl``: every segment's text and attribution, one JSON object a line, in corpus order.

    ``tifa kwic`` and the report's contexts read it, so the last run can be searched without
    segmenting again; ``start``/``end`` in ``hits.csv`` index these texts. A segment converted from
    traditional characters also carries ``original`` (same length, so the same offsets apply).
    """
    atomic_write(
        path,
        "".join(
            json.dumps(
                {
                    "segment_id": s.segment_id,
                    "source": s.source,
                    "region": s.region,
                    "speaker": s.speaker,
                    "title": s.title,
                    "year": s.year,
                    "date": s.date,
                    "text": s.text,
                    **(
                        {"original": original}
                        if original_text and (original := original_text(s)) != s.text
                        else {}
                    ),
                },
                ensure_ascii=False,
            )
            + "\n"
            for s in segments
        ),
    )
