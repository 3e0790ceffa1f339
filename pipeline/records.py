"""Typed records handed from one stage to the next.

Every stage takes and returns these frozen dataclasses; spaCy objects never leave the NLP stage,
so compare, cluster and graph code depend only on this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    role: str = "formula"  # or label, boilerplate, fragment, frame, title, term: see phrases.ROLE_WEIGHT

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


@dataclass(frozen=True, eq=False)  # arrays: compare records (``list(a) == list(b)``), not ==
class Sentences(Sequence[Sentence]):
    """Every sentence of a corpus as columns: what the NLP stage hands on.

    A ``Sentence`` record per sentence costs ~500 bytes (its text, a tuple of its tokens, boxed
    integers), 14 bytes per character of corpus: 700 MB at 50 M characters, copied again into every
    forked stage that reads them (reading a Python object writes its reference count). As columns the
    same takes ~5 bytes per character that forks share. Row ``i`` is sentence ``i`` in corpus order;
    indexing and iterating give ``Sentence`` records, made when asked for.

    ``segment`` indexes ``segment_ids`` and ``texts`` (the segments' texts, shared with the segments);
    ``sentence_index`` (``Sentence.index``), ``start`` and ``end`` are as in ``Sentence``. Sentence
    ``i``'s tokens are rows ``token_first[i]:token_first[i + 1]`` of ``token_start`` (offset in the
    segment's text) and ``token_word`` (index into ``words``, the distinct tokens).
    """

    segment_ids: tuple[str, ...]
    texts: tuple[str, ...]
    segment: np.ndarray
    sentence_index: np.ndarray
    start: np.ndarray
    end: np.ndarray
    token_first: np.ndarray
    token_start: np.ndarray
    token_word: np.ndarray
    words: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.segment)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, slice):
            return tuple(self._records(range(len(self))[item]))
        row = range(len(self))[item]  # negative indices, IndexError
        return next(self._records((row,)))

    def __iter__(self) -> Any:
        return self._records(range(len(self)))

    def _records(self, rows: Iterable[int]) -> Any:
        words, first = self.words, self.token_first.tolist()
        token_word = self.token_word
        segment, index = self.segment.tolist(), self.sentence_index.tolist()
        start, end = self.start.tolist(), self.end.tolist()
        for row in rows:
            number = segment[row]
            tokens = tuple(words[w] for w in token_word[first[row] : first[row + 1]].tolist())
            text = self.texts[number][start[row] : end[row]]
            yield Sentence(self.segment_ids[number], index[row], start[row], end[row], text, tokens)

    def per_segment(self) -> dict[str, int]:
        """How many sentences each segment has."""
        counts = np.bincount(self.segment, minlength=len(self.segment_ids)).tolist()
        return dict(zip(self.segment_ids, counts, strict=True))

    @property
    def token_end(self) -> np.ndarray:
        """Each token's end offset in its segment's text."""
        lengths = np.fromiter(map(len, self.words), dtype=np.int32, count=len(self.words))
        return self.token_start + lengths[self.token_word]

    @property
    def token_sentence(self) -> np.ndarray:
        """Each token's sentence (row)."""
        return np.repeat(np.arange(len(self), dtype=np.int32), np.diff(self.token_first))

    @classmethod
    def of(cls, sentences: Iterable[Sentence], texts: Mapping[str, str] | None = None) -> Sentences:
        """Columns of ``Sentence`` records (returned as they are when already columns).

        A token is looked for in its sentence's text from the end of the one before; ``texts`` (segment
        id → text) gives the segments' texts, else each segment's text is rebuilt from its sentences
        (what lies between them unknown: spaces).
        """
        if isinstance(sentences, Sentences):
            return sentences
        records = list(sentences)
        ids = list(dict.fromkeys(s.segment_id for s in records))
        if texts is None:
            rebuilt: dict[str, list[str]] = {}
            for s in records:
                parts = rebuilt.setdefault(s.segment_id, [])
                length = sum(map(len, parts))
                parts.extend([" " * max(s.start - length, 0), s.text])
            texts = {key: "".join(parts) for key, parts in rebuilt.items()}
        number = {key: n for n, key in enumerate(ids)}
        word_ids: dict[str, int] = {}
        token_start: list[int] = []
        token_word: list[int] = []
        first = [0]
        for s in records:
            position = 0
            for token in s.tokens:
                found = s.text.find(token, position)
                found = position if found < 0 else found
                token_start.append(s.start + found)
                token_word.append(word_ids.setdefault(token, len(word_ids)))
                position = found + len(token)
            first.append(len(token_start))

        def column(values: Iterable[int], dtype: Any = np.int32) -> np.ndarray:
            return np.asarray(list(values), dtype=dtype)

        return cls(
            tuple(ids),
            tuple(texts[key] for key in ids),
            column(number[s.segment_id] for s in records),
            column(s.index for s in records),
            column(s.start for s in records),
            column(s.end for s in records),
            column(first, np.int64),
            column(token_start),
            column(token_word),
            tuple(word_ids),
        )


class SentenceBuilder:
    """Collects the sentence columns segment by segment (the NLP stage's results as they come)."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._parts: list[tuple[np.ndarray, ...]] = []
        self._word_ids: dict[str, int] = {}

    def add(self, segment: Segment, analysis: Analysis) -> None:
        text, number, word_ids = segment.text, len(self._ids), self._word_ids
        self._ids.append(segment.segment_id)
        self._texts.append(text)
        n_sentences = len(analysis.sentences)
        if not n_sentences:
            return
        words = np.fromiter(
            (word_ids.setdefault(text[a:b], len(word_ids)) for a, b in analysis.tokens.tolist()),
            dtype=np.int32,
            count=len(analysis.tokens),
        )
        self._parts.append(
            (
                np.full(n_sentences, number, dtype=np.int32),
                np.arange(n_sentences, dtype=np.int32),
                analysis.sentences[:, 0].astype(np.int32),
                analysis.sentences[:, 1].astype(np.int32),
                analysis.sentence_tokens.astype(np.int64),
                analysis.tokens[:, 0].astype(np.int32),
                words,
            )
        )

    def done(self) -> Sentences:
        columns = [np.concatenate(part) for part in zip(*self._parts, strict=True)] if self._parts else []
        if not columns:
            columns = [np.zeros(0, np.int32)] * 4 + [np.zeros(0, np.int64)] + [np.zeros(0, np.int32)] * 2
        segment, index, start, end, counts, token_start, token_word = columns
        return Sentences(
            tuple(self._ids),
            tuple(self._texts),
            segment,
            index,
            start,
            end,
            np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            token_start,
            token_word,
            tuple(self._word_ids),
        )


@dataclass(frozen=True, slots=True)
class NlpResult:
    """What the NLP stage hands on: every sentence and rule span, in corpus order."""

    sentences: Sentences
    spans: tuple[RuleSpan, ...]
    processed: int = 0  # segments segmented in this run
    cached: int = 0  # segments read from the cache


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare fields with numpy, not ==
class Analysis:
    """The NLP result of one text (a piece or a whole segment) as offsets into that text.

    What workers send back and what the cache stores; ``SentenceBuilder`` and ``rule_spans`` turn it
    into records.
    ``sentences``: (S, 2) start, end of each sentence, surrounding spaces left out; ``tokens``:
    (T, 2) start, end of each non-space token; ``sentence_tokens``: (S,) tokens per sentence;
    ``spans``: (R, 3) start, end, sentence index of each rule span, with ``labels``.
    """

    sentences: np.ndarray
    tokens: np.ndarray
    sentence_tokens: np.ndarray
    spans: np.ndarray
    labels: tuple[str, ...]

    def rule_spans(self, segment: Segment) -> list[RuleSpan]:
        """The rule spans as records (``segment``: the text analysed)."""
        text, segment_id = segment.text, segment.segment_id
        return [
            RuleSpan(segment_id, index, start, end, label, text[start:end])
            for (start, end, index), label in zip(self.spans.tolist(), self.labels, strict=True)
        ]

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
