"""Writers for the files in ``out/``: the output contract, in one place."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.io_utils import atomic_write, replace_folder, write_csv, write_csv_columns
from pipeline.records import HitTable, Phrase, Segment, Sentence, pick


def write_segments(path: Path, segments: Sequence[Segment], sentences: Sequence[Sentence]) -> None:
    """``segments.csv``: one row per segment with its attribution and size."""
    per_segment = Counter(sentence.segment_id for sentence in sentences)
    write_csv(
        path,
        ["segment_id", "source", "region", "speaker", "title", "year", "date", "chars", "sentences"],
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
            for s in segments
        ),
    )


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


def write_phrases(path: Path, phrases: Sequence[Phrase]) -> None:
    """``phrases.csv``: one row per canonical phrase, best first; lists joined with ``;``."""
    write_csv(
        path,
        [
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
        ],
        (
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
        ),
    )


def write_hits(path: Path, hits: HitTable, segments: Sequence[Segment]) -> None:
    """``hits.csv``: every occurrence of every phrase, with the surface form found and where."""
    by_id = {segment.segment_id: segment for segment in segments}
    ordered = [by_id[segment_id] for segment_id in hits.segment_ids]

    def per_segment(values: list[Any]) -> list[Any]:  # each hit's segment's value
        return pick(values, hits.segment)

    texts = per_segment([segment.text for segment in ordered])
    starts, ends = hits.start.tolist(), hits.end.tolist()
    write_csv_columns(
        path,
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
