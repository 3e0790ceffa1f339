"""Typed records handed from one stage to the next.

Every stage takes and returns these frozen dataclasses; spaCy objects never leave the NLP stage,
so compare, cluster and graph code depend only on this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of text attributed to one speaker or document, the unit regions are compared on.

    ``region`` is a short province-level name (上海, 内蒙古) or "" when the text has no region
    (a reporter's lead paragraph); at ``level = "city"`` the run compares segments under their city
    instead (see :func:`pipeline.ingest.at_level`). ``city`` is the output name of the prefecture-level
    unit (三明, 大理, 吉林市) and ``city_code`` its GB/T 2260 code, "" when none (a province's own
    report). ``year`` is None when unknown.
    """

    segment_id: str
    source: str
    region: str
    speaker: str
    title: str
    year: int | None
    text: str
    date: str = ""
    city: str = ""
    city_code: str = ""
    province: str = ""  # the province when ``region`` is a city (level "city"), else ""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a segment: character offsets into ``Segment.text`` and its pkuseg tokens."""

    segment_id: str
    index: int
    start: int
    end: int
    text: str
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Phrase:
    """A canonical formulaic phrase with every surface form it was seen in.

    ``kind`` is one of: quoted, quotation, numbered, enumeration, statistical, user.
    ``items`` lists an enumeration's items; ``contains`` the other kept phrases found inside it.
    """

    phrase: str
    kind: str
    variants: tuple[str, ...]
    count: int
    segments: int
    regions: tuple[str, ...]
    score: float
    items: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    cohesion: float | None = None  # statistical phrases: PMI in bits of the weakest word split
    in_word: int = 0  # matches inside a longer word (新发展理念 in 创新发展理念): not in ``count``
    role: str = "formula"  # or label, boilerplate, fragment, frame, title: see phrases.ROLE_WEIGHT

    @property
    def regions_n(self) -> int:
        return len(self.regions)


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a phrase: ``start``/``end`` are character offsets into ``Segment.text``."""

    phrase: str
    segment_id: str
    sentence_index: int
    start: int
    end: int


def pick(values: Sequence[Any], index: np.ndarray) -> list[Any]:
    """``[values[i] for i in index]`` without a Python step per index: values are strings, numbers
    or None (an object array, so they are neither converted nor taken apart)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column[index].tolist()


@dataclass(frozen=True, eq=False)  # arrays: compare with ``records()``, not ==
class HitTable:
    """Every hit as parallel columns (row ``i`` is hit ``i``): how the hits travel between stages.

    A million hits are a million small objects as ``Hit`` records; as columns they take a few arrays,
    and counting by phrase, segment, region or year is a NumPy operation. ``phrase`` indexes
    ``names`` (phrases.csv order, so the index is rank - 1); ``segment`` indexes ``segment_ids`` (the
    corpus order of segments); ``sentence``, ``start`` and ``end`` are as in ``Hit``.
    """

    names: tuple[str, ...]
    segment_ids: tuple[str, ...]
    phrase: np.ndarray
    segment: np.ndarray
    sentence: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.phrase)

    def records(self) -> tuple[Hit, ...]:
        """The hits as ``Hit`` records, in row order."""
        return tuple(
            map(
                Hit,
                pick(self.names, self.phrase),
                pick(self.segment_ids, self.segment),
                self.sentence.tolist(),
                self.start.tolist(),
                self.end.tolist(),
            )
        )

    @classmethod
    def of(cls, hits: HitTable | Iterable[Hit]) -> HitTable:
        """``hits`` as columns; records are numbered by the phrases and segments they name, as first seen."""
        if isinstance(hits, HitTable):
            return hits
        hits = list(hits)
        names = list(dict.fromkeys(hit.phrase for hit in hits))
        return cls.from_hits(hits, names, list(dict.fromkeys(hit.segment_id for hit in hits)))

    @classmethod
    def from_hits(cls, hits: Iterable[Hit], names: Sequence[str], segment_ids: Sequence[str]) -> HitTable:
        """Columns of ``hits``; ``names`` and ``segment_ids`` must include every phrase and segment used."""
        hits = list(hits)
        name_index = {name: index for index, name in enumerate(names)}
        segment_index = {segment_id: index for index, segment_id in enumerate(segment_ids)}
        for hit in hits:
            if hit.segment_id not in segment_index:
                raise ValueError(f"hit of {hit.phrase!r} in unknown segment {hit.segment_id!r}")
            if hit.phrase not in name_index:
                raise ValueError(f"hit of unknown phrase {hit.phrase!r}")

        def column(values: Iterable[int]) -> np.ndarray:
            return np.fromiter(values, dtype=np.int64, count=len(hits))

        return cls(
            names=tuple(names),
            segment_ids=tuple(segment_ids),
            phrase=column(name_index[hit.phrase] for hit in hits),
            segment=column(segment_index[hit.segment_id] for hit in hits),
            sentence=column(hit.sentence_index for hit in hits),
            start=column(hit.start for hit in hits),
            end=column(hit.end for hit in hits),
        )


# --------------------------------------------------------------------------- what the NLP stage hands on


@dataclass(frozen=True, slots=True)
class RuleSpan:
    """A formula found by a form rule: offsets into ``Segment.text``; ``label`` is the rule's kind."""

    segment_id: str
    sentence_index: int
    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class NlpResult:
    """What the NLP stage hands on: every sentence and rule span, in corpus order."""

    sentences: tuple[Sentence, ...]
    spans: tuple[RuleSpan, ...]
    processed: int = 0  # segments segmented in this run
    cached: int = 0  # segments read from the cache


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare fields with numpy, not ==
class Analysis:
    """The NLP result of one text (a piece or a whole segment) as offsets into that text.

    What workers send back and what the cache stores; ``to_records`` turns it into records.
    ``sentences``: (S, 2) start, end of each sentence, surrounding spaces left out; ``tokens``:
    (T, 2) start, end of each non-space token; ``sentence_tokens``: (S,) tokens per sentence;
    ``spans``: (R, 3) start, end, sentence index of each rule span, with ``labels``.
    """

    sentences: np.ndarray
    tokens: np.ndarray
    sentence_tokens: np.ndarray
    spans: np.ndarray
    labels: tuple[str, ...]

    @staticmethod
    def empty() -> Analysis:
        pairs, triples = np.zeros((0, 2), np.int32), np.zeros((0, 3), np.int32)
        return Analysis(pairs, pairs, np.zeros(0, np.int32), triples, ())

    @staticmethod
    def join(parts: Sequence[tuple[int, Analysis]]) -> Analysis:
        """One analysis from ``(offset, analysis)`` of consecutive pieces of a text."""
        if len(parts) == 1 and parts[0][0] == 0:
            return parts[0][1]
        if not parts:
            return Analysis.empty()
        sentences, tokens, spans, first = [], [], [], 0
        for offset, part in parts:
            sentences.append(part.sentences + offset)
            tokens.append(part.tokens + offset)
            spans.append(part.spans + np.asarray([offset, offset, first], dtype=np.int32))
            first += len(part.sentences)
        return Analysis(
            np.concatenate(sentences),
            np.concatenate(tokens),
            np.concatenate([part.sentence_tokens for _, part in parts]),
            np.concatenate(spans),
            tuple(label for _, part in parts for label in part.labels),
        )
