"""Typed records handed from one stage to the next.

Every stage takes and returns these frozen dataclasses; spaCy objects never leave the NLP stage,
so compare, cluster and graph code depend only on this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of text attributed to one speaker or document, the unit regions are compared on.

    ``region`` is a short province-level name (上海, 内蒙古) or "" when the text has no region
    (a reporter's lead paragraph). ``year`` is None when unknown.
    """

    segment_id: str
    source: str
    region: str
    speaker: str
    title: str
    year: int | None
    text: str
    date: str = ""


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
