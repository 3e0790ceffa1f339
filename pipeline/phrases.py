"""Phrase stage: rule spans + corpus statistics → canonical ``Phrase``s and every ``Hit`` of each.

Four families, each a ``kind``:

- ``quoted`` / ``quotation`` / ``numbered`` / ``enumeration``: found by the form rules of
  ``pipeline.rules`` (run in the NLP stage). Short quoted slogans, numbered formulas and enumerations
  are kept even when they occur once; long quotations only when they recur.
- ``statistical``: recurring character n-grams (``min_chars``..``max_chars``) found by form-free
  counting over the whole corpus, kept when they

  * occur at least ``min_count`` times, in at least ``min_spread`` regions (segments when the texts
    have no regions);
  * are free at both ends: no single character precedes (or follows) more than
    ``max_neighbour_share`` of the occurrences — so a fragment that only occurs inside a longer
    phrase (二十大精 inside 二十大精神) is never kept, while a phrase that also occurs on its own is;
  * start and end on word boundaries of the segmenter in at least ``min_token_alignment`` of the
    occurrences, span at least two words, and neither start nor end with a function character.

  Counting uses rolling hashes over one NumPy array of the corpus, extending only n-grams whose both
  (n-1)-gram halves are frequent, so memory follows the frequent n-grams, not all of them. Each n is
  counted in buckets of hashes (their top bits), sorting ~0.5 M at a time; the hashes are computed
  again from the codes rather than kept: about 25 bytes a character at the peak, the corpus included.

Variants are merged under one canonical phrase: the key of a phrase drops punctuation (、，quotes) and
writes numbers one way (10个 = 十个, 二个 = 两个). The n-gram counting runs on text with the enumeration
comma 、 between Chinese characters removed, so 完整准确全面贯彻新发展理念 and
完整、准确、全面贯彻新发展理念 are counted together; the canonical form is the most frequent surface form.

Counting rule: every occurrence of every surface form of a kept phrase is a hit, wherever it is —
including inside a longer kept phrase. A hit of 高端化、智能化、绿色化、服务化、生态化 therefore also
counts for 高端化、智能化、绿色化: the common core is compared across regions however it is extended.
``count`` equals what a plain substring search of the surface forms finds in the normalised text
(non-overlapping, per segment).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields

import ahocorasick
import numpy as np

from pipeline import lexicon
from pipeline.config import Settings
from pipeline.records import Hit, HitTable, Phrase, RuleSpan, Segment, Sentence, Sentences
from pipeline.rules import FUNCTION_CHARS, parallel_items

COHESION_FULL = 12.0  # bits of cohesion at which a statistical phrase counts as fully fixed in ranking
KIND_PRIORITY = ("user", "numbered", "quoted", "enumeration", "quotation", "item", "statistical", "reference")
_KEY_DROP = re.compile(r"[\s、，,。；;：:“”‘’\"'「」『』《》〈〉（）()·—…!！?？]")
_CHINESE_DIGITS = "零一二三四五六七八九"
_ARABIC_BEFORE_CLASSIFIER = re.compile(r"(?<![\d.])(\d{1,2})(?=[个项条种化位类批张大])")
_ER_BEFORE_CLASSIFIER = re.compile(r"(?<![十\d一二三四五六七八九])二(?=[个项条种位类批张])")
_QUOTES = "“”‘’\"'「」『』《》〈〉"
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)
_SEPARATOR = np.uint32(0)


@dataclass(frozen=True, slots=True)
class PhraseResult:
    phrases: tuple[Phrase, ...]  # in rank order
    hit_table: HitTable  # every hit, ordered by phrase rank, segment id and offset
    thresholds: dict[str, int]  # the occurrence thresholds in force (after "auto" was resolved)
    in_word: HitTable  # matches of the forms inside a longer word: not counted, kept for audit

    @property
    def hits(self) -> tuple[Hit, ...]:
        """The hits as records (built on each call: the stages use ``hit_table``)."""
        return self.hit_table.records()


CHARS_PER_REQUIRED_OCCURRENCE = 500_000


def thresholds(settings: Settings, chars: int) -> tuple[int, int]:
    """Occurrences a statistical and a rule-found phrase need, resolving 0 ("auto") by corpus size.

    A larger corpus repeats more by chance, so the bar rises with it: on a 5,000-character article
    a phrase said twice is a pattern; on 3 M characters it needs about seven uses.
    """
    per = math.ceil(chars / CHARS_PER_REQUIRED_OCCURRENCE)
    statistical = settings.min_count or max(2, per)
    rule = settings.rule_min_count or (1 if chars <= CHARS_PER_REQUIRED_OCCURRENCE else 2)
    return statistical, rule


# --------------------------------------------------------------------------- canonical keys


def _chinese_number(value: int) -> str:
    if value < 10:
        return _CHINESE_DIGITS[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else _CHINESE_DIGITS[tens]) + "十" + (_CHINESE_DIGITS[ones] if ones else "")


def phrase_key(surface: str) -> str:
    """The form under which variants merge: no punctuation, numbers written one way.

    >>> phrase_key("完整、准确、全面贯彻新发展理念") == phrase_key("完整准确全面贯彻新发展理念")
    True
    >>> phrase_key("10个专项行动计划"), phrase_key("二个确立")
    ('十个专项行动计划', '两个确立')
    """
    # NFKC can compose what dropping punctuation brought together, and the reverse: until stable.
    text = surface
    while (cleaner := _KEY_DROP.sub("", unicodedata.normalize("NFKC", text))) != text:
        text = cleaner
    text = _ARABIC_BEFORE_CLASSIFIER.sub(lambda m: _chinese_number(int(m.group(1))), text)
    text = _ER_BEFORE_CLASSIFIER.sub("两", text)
    return text.replace("两", "两")


# --------------------------------------------------------------------------- the corpus as arrays


@dataclass(frozen=True)
class _Corpus:
    """All segment texts joined by a separator, as code points, with word boundaries from the segmenter."""

    text: str
    starts: np.ndarray  # segment start offsets in ``text``
    codes: np.ndarray  # uint32 code point per character, 0 at separators and non-word characters
    token_start: np.ndarray  # bool: a token starts at this offset (or the previous char ends one)

    @functools.cached_property
    def bounds(self) -> np.ndarray:
        """The offsets where a word starts or ends, sorted (``token_start`` as positions)."""
        return np.flatnonzero(self.token_start)

    @classmethod
    def of_texts(cls, segments: Sequence[Segment]) -> _Corpus:
        """The texts alone: word boundaries only where punctuation and separators are."""
        starts, offset = [], 0
        for segment in segments:
            starts.append(offset)
            offset += len(segment.text) + 1
        text = "\n".join(segment.text for segment in segments) + "\n"
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy()
        is_word = (
            ((codes >= 0x4E00) & (codes <= 0x9FFF))
            | ((codes >= 0x3400) & (codes <= 0x4DBF))
            | ((codes >= 0x30) & (codes <= 0x39))
            | ((codes >= 0x41) & (codes <= 0x5A))
            | ((codes >= 0x61) & (codes <= 0x7A))
        )
        token_start = np.zeros(len(codes) + 1, dtype=bool)
        token_start[:-1][~is_word] = True  # punctuation and separators bound words on both sides
        token_start[1:][~is_word] = True
        codes[~is_word] = _SEPARATOR
        return cls(text, np.asarray(starts, dtype=np.int64), codes, token_start)

    def with_tokens(self, segments: Sequence[Segment], sentences: Sequence[Sentence]) -> _Corpus:
        """The same corpus with the segmenter's word boundaries."""
        table = Sentences.of(sentences, {s.segment_id: s.text for s in segments})
        segment_start = dict(zip((s.segment_id for s in segments), self.starts.tolist(), strict=True))
        base = np.asarray([segment_start[key] for key in table.segment_ids], dtype=np.int64)[
            table.segment[table.token_sentence]
        ]
        token_start = self.token_start.copy()
        token_start[base + table.token_start] = True
        token_start[base + table.token_end] = True
        return _Corpus(self.text, self.starts, self.codes, token_start)


def _key_space(corpus: _Corpus) -> tuple[np.ndarray, np.ndarray]:
    """Codes with the enumeration comma 、 between two word characters removed, and each one's offset."""
    codes = corpus.codes
    dunhao = np.flatnonzero(np.frombuffer(corpus.text.encode("utf-32-le"), dtype=np.uint32) == ord("、"))
    dunhao = dunhao[(dunhao > 0) & (dunhao < len(codes) - 1)]
    inner = dunhao[(codes[dunhao - 1] != _SEPARATOR) & (codes[dunhao + 1] != _SEPARATOR)]
    index = np.int32 if len(codes) < 2**31 else np.int64
    return np.delete(codes, inner), np.delete(np.arange(len(codes), dtype=index), inner)


# --------------------------------------------------------------------------- statistical n-grams


_CHUNK_ROWS = 1 << 20  # rows per step of the element-wise passes: bounds their temporary arrays
_BUCKET_ROWS = 1 << 19  # rows sorted at a time when counting an n: hashes are split by their top bits


def _chunks(size: int) -> Iterable[slice]:
    return (slice(begin, min(begin + _CHUNK_ROWS, size)) for begin in range(0, size, _CHUNK_ROWS))


def _compact(keep_of: Callable[[slice], np.ndarray], *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Keep the rows of ``arrays`` (of one length) where ``keep_of(rows)`` is True, in place, a chunk
    at a time; returns the kept prefix of each (views: the memory is reused, not copied).

    ``keep_of`` is called for each chunk before the chunk's rows are moved, so it may read them.
    """
    written = 0
    for rows in _chunks(len(arrays[0])):
        keep = keep_of(rows)
        kept = int(np.count_nonzero(keep))
        for values in arrays:
            values[written : written + kept] = values[rows][keep]  # a copy first: overlaps are safe
        written += kept
    return tuple(values[:written] for values in arrays)


def _hashes(codes: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """The rolling hash of ``codes[start:start + n]`` for each start in ``at`` (as ``_gram_hashes``)."""
    hashes = codes[at].astype(np.uint64)
    for k in range(1, n):
        hashes *= _HASH_BASE
        hashes += codes[at + k]
    return hashes


def _count_hashes(
    hash_of: Callable[[np.ndarray | slice], np.ndarray], rows: int, min_count: int
) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Count equal hashes of ``rows`` rows without holding or sorting them all at once: in buckets by
    their top bits, in order. ``hash_of(rows)`` gives the hashes of some rows (computed again each time).

    Yields, per bucket, ``(distinct, counts, rows, number)``: the bucket's sorted distinct hashes that
    occur ``min_count``+ times and their counts, and the rows holding them with each one's index into
    ``distinct``. The buckets' ``distinct`` concatenate into the sorted distinct hashes of all rows.
    """
    bits = min(8, ((rows - 1) // _BUCKET_ROWS).bit_length())  # 2**bits buckets of ~_BUCKET_ROWS (≤ 256)
    bucket = np.empty(rows if bits else 0, dtype=np.uint8)
    for part in _chunks(len(bucket)):
        bucket[part] = hash_of(part) >> np.uint64(64 - bits)
    for number in range(2**bits):
        members = np.flatnonzero(bucket == number) if bits else np.arange(rows)
        values = hash_of(members)
        order = np.argsort(values)
        values = values[order]
        first = np.flatnonzero(_first_of_runs(values))
        counts = np.diff(np.append(first, len(values)))
        frequent = counts >= min_count
        in_frequent = np.repeat(frequent, counts)
        number_of_run = np.cumsum(frequent) - 1  # each frequent run's index among the frequent ones
        yield (
            values[first[frequent]],
            counts[frequent],
            members[order[in_frequent]],
            np.repeat(number_of_run[frequent], counts[frequent]),
        )


def _frequent_grams(
    codes: np.ndarray,
    settings: Settings,
    min_count: int,
    tables: dict[int, tuple[np.ndarray, np.ndarray]],
) -> Iterable[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(n, positions, gram)`` of every n-gram of word characters occurring ``min_count``+ times.

    ``positions`` ascend; ``gram`` is the index of each occurrence's n-gram in ``tables[n]``. Both
    arrays are reused for the next n: a caller copies what it keeps.

    Apriori pruning: an n-gram can only be frequent if both of its (n-1)-gram halves are. ``tables``
    receives, for every n, the sorted distinct hashes of the frequent n-grams and their counts.
    Memory: the positions (int32) of the occurrences still growing, one flag per character, and the
    hashes of ``_BUCKET_ROWS`` occurrences at a time (``_count_hashes``): hashes are not kept from
    one n to the next but computed again from the codes, which costs less than holding them.
    """
    size = len(codes)
    index = np.int32 if size < 2**31 else np.int64  # offsets: half the memory below 2 G characters
    # n = 1: the hash of a character is its code, so a histogram of the codes counts them.
    histogram = np.zeros(int(codes.max(initial=0)) + 1, dtype=np.int64)
    for rows in _chunks(size):
        histogram += np.bincount(codes[rows], minlength=len(histogram))
    histogram[_SEPARATOR] = 0
    if not histogram.any():
        return
    is_frequent = (histogram >= min_count) & (histogram > 0)
    tables[1] = (np.flatnonzero(is_frequent).astype(np.uint64), histogram[is_frequent])
    frequent_prev = np.zeros(size + 1, dtype=bool)  # the frequent (n-1)-grams start here
    for rows in _chunks(size):
        frequent_prev[rows] = is_frequent[codes[rows]]
    positions = _nonzero(frequent_prev, index)
    if settings.min_chars <= 1:
        yield 1, positions, (np.cumsum(is_frequent) - 1)[codes[positions]]
    for n in range(2, settings.max_chars + 1):

        def grows(
            rows: slice, n: int = n, previous: np.ndarray = frequent_prev, positions: np.ndarray = positions
        ) -> np.ndarray:
            # a word character follows, and the (n-1)-gram one further on is frequent too
            at = positions[rows]
            return (codes[at + n - 1] != _SEPARATOR) & previous[at + 1]

        (positions,) = _compact(grows, positions)
        del grows, frequent_prev
        if not len(positions):
            return

        def hash_of(rows: np.ndarray | slice, n: int = n, positions: np.ndarray = positions) -> np.ndarray:
            return _hashes(codes, positions[rows], n)

        frequent_prev = np.zeros(size + 1, dtype=bool)
        group = np.empty(len(positions) if n >= settings.min_chars else 0, dtype=index)
        distinct_parts, count_parts = [], []
        for distinct, counts, rows, number in _count_hashes(hash_of, len(positions), min_count):
            frequent_prev[positions[rows]] = True
            if len(group):
                group[rows] = number + sum(map(len, distinct_parts))
            distinct_parts.append(distinct)
            count_parts.append(counts)
        del hash_of, rows, number
        tables[n] = (np.concatenate(distinct_parts), np.concatenate(count_parts))

        def frequent(rows: slice, previous: np.ndarray = frequent_prev, positions: np.ndarray = positions) -> np.ndarray:
            return previous[positions[rows]]

        kept = _compact(frequent, positions, *([group] if len(group) else []))
        del frequent, group
        # a view keeps its whole array alive: once the rows have shrunk well, copy them out
        positions, *rest = (
            part.copy() if part.base is not None and 4 * len(part) < 3 * len(part.base) else part for part in kept
        )
        del kept
        if rest:
            yield n, positions, rest[0]
            del rest


def _nonzero(mask: np.ndarray, index: type) -> np.ndarray:
    """``np.flatnonzero(mask).astype(index)`` without its int64 array."""
    found = np.empty(int(np.count_nonzero(mask)), dtype=index)
    written = 0
    for rows in _chunks(len(mask)):
        part = np.flatnonzero(mask[rows])
        found[written : written + len(part)] = part + rows.start
        written += len(part)
    return found


def _gram_hashes(codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The rolling hash of ``codes[start:start + length]`` for each pair, as ``_frequent_grams`` computes it."""
    hashes = np.zeros(len(starts), dtype=np.uint64)
    for k in range(int(lengths.max(initial=0))):
        more = k < lengths
        hashes[more] = hashes[more] * _HASH_BASE + codes[starts[more] + k].astype(np.uint64)
    return hashes


def _gram_counts(
    codes: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    tables: dict[int, tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """How often each gram ``codes[start:start + length]`` occurs (0 when it is not frequent)."""
    hashes = _gram_hashes(codes, starts, lengths)
    found = np.zeros(len(starts), dtype=np.int64)
    for length in np.unique(lengths).tolist():
        rows = np.flatnonzero(lengths == length)
        distinct, counts = tables.get(length, (np.zeros(0, np.uint64), np.zeros(0, np.int64)))
        index = np.minimum(np.searchsorted(distinct, hashes[rows]), max(len(distinct) - 1, 0))
        hit = distinct[index] == hashes[rows] if len(distinct) else np.zeros(len(rows), dtype=bool)
        found[rows[hit]] = counts[index[hit]]
    return found


def _cohesions(
    codes: np.ndarray,
    grams: Sequence[tuple[int, int, Sequence[int]]],
    tables: dict[int, tuple[np.ndarray, np.ndarray]],
    total: int,
) -> list[float]:
    """Pointwise mutual information (bits) of each gram's weakest split at a word boundary.

    ``grams``: ``(start, n, splits)``, a split ``k`` cutting the gram into ``[:k]`` and ``[k:]``.
    High for a fixed expression (供给侧结构性改革: its parts rarely occur apart), low for two
    common words that merely meet often (加快推进). ``COHESION_FULL`` when no split has both parts
    frequent (one word of the segmenter, or parts that do not recur apart).
    """
    starts = np.asarray([start for start, _, _ in grams], dtype=np.int64)
    lengths = np.asarray([n for _, n, _ in grams], dtype=np.int64)
    whole = _gram_counts(codes, starts, lengths, tables)
    owner = np.asarray([g for g, (_, _, splits) in enumerate(grams) for _ in splits], dtype=np.int64)
    cut = np.asarray([k for _, _, splits in grams for k in splits], dtype=np.int64)
    left = _gram_counts(codes, starts[owner], cut, tables)
    right = _gram_counts(codes, starts[owner] + cut, lengths[owner] - cut, tables)
    usable = (left > 0) & (right > 0)
    owner = owner[usable]
    # The weakest split has the smallest ratio (log2 is increasing): one log per gram.
    ratio = whole[owner] * total / (left[usable] * right[usable])
    weakest = np.full(len(grams), np.inf)
    np.minimum.at(weakest, owner, ratio)
    return [math.log2(value) if value != math.inf else COHESION_FULL for value in weakest.tolist()]


def _neighbour_share_max(group: np.ndarray, neighbour: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """For each group, the largest share of its rows that have one same neighbour (a code point).

    A neighbour 0 (a separator: line break, punctuation, text edge) is a new, distinct neighbour each
    time — a free boundary — so it never adds to a run. Sorting one combined integer (group, code)
    is much cheaper than sorting by two keys.
    """
    real = neighbour != 0
    keys = group[real].astype(np.int64)
    keys <<= 21  # codes < 2**21
    keys |= neighbour[real]
    keys.sort()
    run_starts = np.flatnonzero(_first_of_runs(keys))
    run_lengths = np.diff(np.append(run_starts, len(keys)))
    best = np.ones(len(totals), dtype=np.int64)  # every group has a row: a run of at least one
    np.maximum.at(best, keys[run_starts] >> 21, run_lengths)
    return best / totals


def _first_of_runs(ordered: np.ndarray) -> np.ndarray:
    """True where a sorted array's value differs from the one before (and at the first)."""
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return first


def _sorted_unique(values: np.ndarray, *, in_place: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_counts=True)`` for integers by sorting (NumPy 2's hash-based unique is
    slower here); ``in_place``: sort ``values`` itself, a temporary of the caller's."""
    ordered = values if in_place else values.copy()
    ordered.sort()
    first = np.flatnonzero(_first_of_runs(ordered))
    return ordered[first], np.diff(np.append(first, len(ordered)))


def _distinct(group: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``(group, value)`` pairs (small non-negative ints), sorted, as two columns."""
    width = int(values.max(initial=0)) + 1
    pairs = group.astype(np.int64)
    pairs *= width
    pairs += values
    pairs, _ = _sorted_unique(pairs, in_place=True)
    return pairs // width, pairs % width


def _distinct_per_group(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """For each group, how many distinct values its rows have."""
    return np.bincount(_distinct(group, values)[0], minlength=n_groups)


@dataclass(frozen=True, eq=False)
class GramCounts:
    """The recurring n-grams of the texts and the tests that need no word boundaries, done.

    Made by :func:`count_grams` from the segments alone, so it can be computed while the segmenter
    runs; :func:`extract` takes it and adds the tests that need the segmenter's words. ``grams`` holds,
    for each length n, the occurrences (key-space positions and gram numbers) of the grams that
    recur ``min_count`` times, in ``min_spread`` regions, with free boundaries.
    """

    corpus: _Corpus
    key_offset: np.ndarray  # offset in ``corpus.text`` of each key-space character
    codes: np.ndarray  # key-space codes
    tables: dict[int, tuple[np.ndarray, np.ndarray]]  # n → sorted gram hashes, counts
    grams: tuple[tuple[int, np.ndarray, np.ndarray], ...]  # (n, positions, gram number)
    min_count: int
    spread_by_region: bool


def _segment_regions(segments: Sequence[Segment]) -> tuple[list[str], np.ndarray]:
    """The region names, sorted, and each segment's number among them (-1: no region).

    Spread is counted in regions when there are two or more, else in segments.
    """
    names = sorted({segment.region for segment in segments if segment.region})
    number = {name: index for index, name in enumerate(names)}
    return names, np.asarray([number.get(segment.region, -1) for segment in segments], dtype=np.int64)


def _group_ranges(counts: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Consecutive ranges of groups (grams, phrases) with about ``rows`` occurrences together (one group
    may have more): the neighbour and spread tests, and the ranking's steps, take one range at a time."""
    ends = np.searchsorted(np.cumsum(counts), np.arange(rows, int(counts.sum()), rows), side="right")
    bounds = np.unique(np.concatenate([[0], ends, [len(counts)]])).tolist()
    return [(low, high) for low, high in itertools.pairwise(bounds) if high > low] or [(0, len(counts))]


def count_grams(segments: Sequence[Segment], settings: Settings | None = None) -> GramCounts:
    """Count the recurring n-grams of the texts and keep those free at both ends and spread enough."""
    settings = settings or Settings()
    corpus = _Corpus.of_texts(segments)
    region_names, segment_regions = _segment_regions(segments)
    spread_by_region = len(region_names) >= 2
    min_count, _ = thresholds(settings, sum(len(segment.text) for segment in segments))
    codes, key_offset = _key_space(corpus)
    tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    kept = []
    for n, positions, group in _frequent_grams(codes, settings, min_count, tables):
        _, counts = tables[n]
        keep = np.zeros(len(counts), dtype=bool)
        for low, high in _group_ranges(counts, _BUCKET_ROWS):
            # the rows of grams low..high-1 (all of them when that is every gram)
            rows = np.flatnonzero((group >= low) & (group < high)) if high - low < len(counts) else slice(None)
            at, number, totals = positions[rows], group[rows] - low, counts[low:high]
            # codes[-1] is the separator after the last text: a gram's neighbours are never out of range
            free = (_neighbour_share_max(number, codes[at - 1], totals) <= settings.max_neighbour_share) & (
                _neighbour_share_max(number, codes[at + n], totals) <= settings.max_neighbour_share
            )
            segment = np.searchsorted(corpus.starts, key_offset[at], side="right") - 1
            del at
            if spread_by_region:
                region = segment_regions[segment]
                has_region = region >= 0
                spread = _distinct_per_group(number[has_region], region[has_region], high - low)
            else:
                spread = _distinct_per_group(number, segment, high - low)
            keep[low:high] = free & (spread >= settings.min_spread)
        rows = keep[group]  # every occurrence of the grams kept
        if rows.any():
            kept.append((n, positions[rows], group[rows]))
    return GramCounts(corpus, key_offset, codes, tables, tuple(kept), min_count, spread_by_region)


def statistical_candidates(
    grams: GramCounts, corpus: _Corpus, settings: Settings
) -> dict[str, tuple[Counter[str], float]]:
    """Recurring, free, word-aligned n-grams: key → (surface forms seen, cohesion in bits).

    ``corpus`` is ``grams.corpus`` with the segmenter's word boundaries.
    """
    key_offset, codes, tables = grams.key_offset, grams.codes, grams.tables
    total = int(np.count_nonzero(codes))
    found: dict[str, Counter[str]] = {}
    cohesion_of: list[tuple[int, int, list[int]]] = []  # first occurrence of each key's gram
    for n, positions, group in grams.grams:
        _, counts = tables[n]
        original_start = key_offset[positions]
        original_end = key_offset[positions + n - 1] + 1
        aligned = corpus.token_start[original_start] & corpus.token_start[original_end]
        # the rows are every occurrence of their grams: the share is over all of them
        aligned_share = np.bincount(group[aligned], minlength=len(counts)) / counts
        del aligned
        keep = aligned_share > settings.min_token_alignment
        if not keep.any():
            continue
        # One row per distinct surface (same gram, with or without 、), with how often it occurs: the
        # first row of each (gram, span) pair, in the order of the pairs (one int64 key: a stable sort).
        rows = np.flatnonzero(keep[group])
        span = original_end[rows] - original_start[rows]
        pair = group[rows].astype(np.int64)
        pair *= int(span.max(initial=0)) + 1
        pair += span
        del span
        order = np.argsort(pair, kind="stable")
        first = np.flatnonzero(_first_of_runs(pair[order]))
        del pair
        per_pair = np.diff(np.append(first, len(order)))
        for row, times in zip(rows[order[first]], per_pair, strict=True):
            start, end = int(original_start[row]), int(original_end[row])
            surface = corpus.text[start:end]
            if not _plausible_statistical(surface, corpus, start, end):
                continue
            key = phrase_key(surface)
            if key not in found:
                position = int(positions[row])
                splits = [k for k in range(1, n) if corpus.token_start[key_offset[position + k]]]
                found[key] = Counter()
                cohesion_of.append((position, n, splits))
            found[key][surface] += int(times)
    cohesion = _cohesions(codes, cohesion_of, tables, total)
    return {key: (forms, bits) for (key, forms), bits in zip(found.items(), cohesion, strict=True)}


# One-character words that cannot open or close a phrase: particles, prepositions, pronouns,
# conjunctions, locatives, dangling verbs and adjectives (所作的报告, 发展的新, 新征程上, 推动制造业高).
_BAD_FIRST_WORDS = frozenset(
    "的了和与及并是在为把将对等也就都而被从向于之其或要让由着过们所作且但才又还再很更最已使给上中里我你他她它这那该此各每个项条种位类批张届次"  # …个项: a classifier whose number was cut off (十项民生工程)
)
_BAD_LAST_WORDS = frozenset(
    "的了和与及并在是为把将对等也就都而被以于之其或要让由着从向上中里时后前来去起所作一新高强各每"
)
_CLAUSE_WORDS = frozenset("了着")
_PARTICLE = 1e-3  # a one-character word this common closing 3 characters is a complement (提高到, 情况下, 落实好)


def _tokens_at(corpus: _Corpus, start: int, end: int) -> list[str]:
    cuts = [start, *(start + 1 + np.flatnonzero(corpus.token_start[start + 1 : end])), end]
    return [corpus.text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def _plausible_statistical(surface: str, corpus: _Corpus, start: int, end: int) -> bool:
    """Whole phrases only: two words or more, no dangling function word, no clause particles."""
    if sum("\u4e00" <= char <= "\u9fff" for char in surface) < 3:
        return False
    if surface[0].isdigit() or surface[-1].isdigit():
        return False  # a cut number (城镇登记失业率控制在4): numbers belong to statistics
    words = [word for word in _tokens_at(corpus, start, end) if word != "、"]
    general = lexicon.general_frequencies()
    if len(words) < 2 and surface in general:
        return False  # a single word of general Chinese is vocabulary, not a phrase (a coined one may be: 获得感)
    if len(surface) == 3 and (
        not _coined(surface, general) or general.get(words[-1], 0.0) >= _PARTICLE or surface[0] == "第"
    ):
        return False  # 3 characters: a coinage (新常态, 稳增长), not a word (现代化), 提高到, 情况下 or 第五次
    if words[0] in _BAD_FIRST_WORDS or words[-1] in _BAD_LAST_WORDS:
        return False
    if any(word in _CLAUSE_WORDS for word in words):
        return False
    if "的" in surface:
        before, _, after = surface.rpartition("的")
        if (
            len(after) < 2 or after[0] in "一0123456789" or not before
        ):  # 的一次, 的5个: a quantity, not a name
            return False
    return "、" not in surface or parallel_items(surface.split("、"))


# --------------------------------------------------------------------------- rule phrases


def rule_candidates(spans: Sequence[RuleSpan]) -> dict[str, tuple[Counter[str], Counter[str]]]:
    """Rule spans → key → (times each rule found it, surface forms). Numbered formulas keep their
    recurring head extent."""
    extent_count = Counter(phrase_key(span.text) for span in spans if span.label == "numbered")
    chosen: list[RuleSpan] = []
    by_start: dict[tuple[str, int], list[RuleSpan]] = defaultdict(list)
    for span in spans:
        if span.label == "numbered":
            by_start[(span.segment_id, span.start)].append(span)
        else:
            chosen.append(span)
    for extents in by_start.values():
        extents.sort(key=lambda span: span.end)
        recurring = [span for span in extents if extent_count[phrase_key(span.text)] >= 2]
        chosen.append((recurring or extents)[-1])
    found: dict[str, tuple[Counter[str], Counter[str]]] = {}
    general = lexicon.general_frequencies()
    # 去产能 of 去产能、去库存、去杠杆: an item of lists of three or more, met in two different lists
    # or more, may be a formula of its own.
    lists_of_item: dict[str, set[str]] = defaultdict(set)
    for span in chosen:
        items = span.text.split("、") if span.label == "enumeration" else []
        for item in items if len(items) >= 3 else []:
            if _coined(item, general):
                lists_of_item[item].add(phrase_key(span.text))
    items = [("item", item) for item, lists in lists_of_item.items() if len(lists) >= 2]
    for label, surface in itertools.chain(((span.label, span.text) for span in chosen), items):
        key = phrase_key(surface)
        if len(key) >= 2:
            seen, forms = found.setdefault(key, (Counter(), Counter()))
            seen[label] += 1
            forms[surface] += 1
    return found


GENERAL_WORD = 1e-6  # a share of general Chinese above which a string is ordinary vocabulary (城镇化 1e-6)


def _coined(surface: str, general: Mapping[str, float]) -> bool:
    """Three characters or more and no ordinary word of general Chinese: 去产能, not 图书馆."""
    return len(surface) >= 3 and general.get(surface, 0.0) < GENERAL_WORD


def _enumeration_variants(surface: str) -> list[str]:
    """落地生根、开花结果 is also written 落地生根开花结果."""
    return [surface.replace("、", "").replace("，", "")]


# --------------------------------------------------------------------------- locating every hit


@dataclass(frozen=True)
class _Located:
    """Every occurrence of every searched form, as parallel arrays ordered by form id, then position."""

    forms: tuple[str, ...]
    form: np.ndarray  # index into ``forms`` (int32 columns below 2 G characters)
    segment: np.ndarray  # segment number
    start: np.ndarray  # offsets into the segment's text
    end: np.ndarray
    global_start: np.ndarray  # offsets into the joined corpus text

    def counts(self) -> np.ndarray:
        return np.bincount(self.form, minlength=len(self.forms))

    def split(self, corpus: _Corpus) -> tuple[_Located, _Located]:
        """The uses, and the matches inside a longer word (新发展理念 in 创新发展理念).

        A match is inside a word when its start or its end cuts a word of the segmenter that is a
        word of general Chinese (创新 in 创|新发展理念). A cut through a string no dictionary knows is
        a segmentation slip (深感习近平总书记 segmented 深/感习/近平), and the match is a use.
        """
        start = self.global_start
        end = start + self.end - self.start
        cut = ~corpus.token_start[start] | ~corpus.token_start[end]
        bounds = corpus.bounds
        known = lexicon.general_frequencies()

        def cuts_a_word(position: int) -> bool:
            after = int(np.searchsorted(bounds, position, side="right"))
            return bounds[after - 1] != position and corpus.text[bounds[after - 1] : bounds[after]] in known

        in_word = np.zeros(len(start), dtype=bool)
        for row in np.flatnonzero(cut).tolist():
            in_word[row] = cuts_a_word(int(start[row])) or cuts_a_word(int(end[row]))
        return self._rows(~in_word), self._rows(in_word)

    def _rows(self, keep: np.ndarray) -> _Located:
        return _Located(
            self.forms,
            self.form[keep],
            self.segment[keep],
            self.start[keep],
            self.end[keep],
            self.global_start[keep],
        )


def occurrences(forms: Sequence[str], corpus: _Corpus) -> _Located:
    """Every occurrence of every (distinct, non-empty) form, in one Aho-Corasick pass over the corpus.

    Occurrences of one form never overlap (the semantics of ``str.count``); different forms may.
    The matches come out of the automaton as integer pairs straight into NumPy: at a million
    occurrences a Python step per match would cost more than the search.
    """
    forms = tuple(forms)
    automaton = ahocorasick.Automaton()
    for index, form in enumerate(forms):
        automaton.add_word(form, index)
    if not forms:
        empty = np.zeros(0, dtype=np.int32)
        return _Located(forms, empty, empty, empty, empty, empty)
    automaton.make_automaton()
    # int32 columns below 2 G characters: 20 bytes a match, not 40 (the hit table is int64 again)
    index = np.int32 if len(corpus.text) < 2**31 and len(forms) < 2**31 else np.int64
    matches = np.fromiter(itertools.chain.from_iterable(automaton.iter(corpus.text)), dtype=index)
    end = matches[0::2] + 1
    form = matches[1::2].copy()
    del matches
    start = end - np.fromiter(map(len, forms), dtype=index, count=len(forms))[form]
    segment_end = np.append(corpus.starts[1:], len(corpus.text)) - 1  # the separator after each text
    # a form with a line break may not join two segments
    inside = end <= segment_end[np.searchsorted(corpus.starts, start, side="right") - 1]
    if not inside.all():
        form, start, end = form[inside], start[inside], end[inside]
    del inside
    # By form, then position: the automaton gives the matches by end, and one form's matches that
    # end in order start in order.
    order = np.argsort(form, kind="stable")
    form, start, end = (values[order] for values in (form, start, end))
    del order
    segment = (np.searchsorted(corpus.starts, start, side="right") - 1).astype(index)
    # Where one occurrence starts before the previous one of the same form ends, keep the leftmost
    # ones greedily, as str.count does (rare: 一带一路一带一路 holds three of 一带一路一带).
    clash = np.flatnonzero((form[1:] == form[:-1]) & (start[1:] < end[:-1])) + 1
    if len(clash):
        keep = np.ones(len(form), dtype=bool)
        for number in np.unique(form[clash]).tolist():
            low, high = np.searchsorted(form, [number, number + 1])
            reach = -1
            for row in range(int(low), int(high)):
                if start[row] >= reach:
                    reach = end[row]
                else:
                    keep[row] = False
        form, segment, start, end = form[keep], segment[keep], start[keep], end[keep]
    base = corpus.starts[segment].astype(index)
    return _Located(forms, form, segment, start - base, end - base, start)


# --------------------------------------------------------------------------- the stage


def extract(
    segments: Sequence[Segment],
    sentences: Sequence[Sentence],
    spans: Sequence[RuleSpan],
    settings: Settings | None = None,
    *,
    user_phrases: Sequence[str] = (),
    grams: GramCounts | None = None,
    reference_phrases: Mapping[str, float | None] | None = None,
) -> PhraseResult:
    """Find the formulaic phrases of a corpus and every occurrence of each.

    ``grams``: :func:`count_grams` of the same segments and settings, when it was computed already
    (while the segmenter ran). ``reference_phrases``: surface forms a reference corpus's own extraction
    kept (``pipeline.echo``), with their cohesion there; each is a phrase here when this corpus says it
    at least once (kind ``reference`` unless this corpus's own evidence keeps it as another kind).

    >>> result = extract(segments, analysed.sentences, analysed.spans)  # doctest: +SKIP
    >>> result.phrases[0].phrase, result.phrases[0].kind  # doctest: +SKIP
    ('高质量发展', 'statistical')
    """
    settings = settings or Settings()
    if grams is None or grams.corpus.text != "\n".join(s.text for s in segments) + "\n":
        grams = count_grams(segments, settings)
    corpus = grams.corpus.with_tokens(segments, sentences)
    spread_by_region = grams.spread_by_region

    candidates: dict[str, _Candidate] = {}
    chars = sum(len(segment.text) for segment in segments)
    statistical_min, rule_min = thresholds(settings, chars)
    statistical = statistical_candidates(grams, corpus, settings)
    for key, (forms, cohesion) in statistical.items():
        candidates[key] = _Candidate(forms, cohesion=cohesion)
    for key, (seen, forms) in rule_candidates(spans).items():
        candidate = candidates.setdefault(key, _Candidate(Counter()))
        candidate.seen.update(seen)
        candidate.forms.update(forms)
    for line in user_phrases:
        surface = line.strip().strip(_QUOTES)  # “两个确立” is the phrase 两个确立, wherever it is quoted
        if surface:
            candidate = candidates.setdefault(phrase_key(surface), _Candidate(Counter()))
            candidate.seen["user"] += 1
            candidate.forms[surface] += 0  # listed even when the corpus never says it
    for surface, bits in (reference_phrases or {}).items():  # established by the reference: kept if said here
        candidate = candidates.setdefault(phrase_key(surface), _Candidate(Counter()))
        candidate.seen["reference"] += 1
        candidate.forms[surface] += 0
        candidate.reference_cohesion = bits

    surface_forms = {key: _forms_to_search(c.seen, c.forms) for key, c in candidates.items()}
    located, in_word = occurrences(
        sorted({form for forms in surface_forms.values() for form in forms if form}), corpus
    ).split(corpus)
    form_count = dict(zip(located.forms, located.counts().tolist(), strict=True))
    forms_by_key: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    cohesion: dict[str, float | None] = {}
    for key, candidate in candidates.items():
        counts = {form: form_count.get(form, 0) for form in surface_forms[key]}
        total = sum(counts.values())
        kind = _kept_kind(candidate, total, settings, rule_min)
        present = [form for form in counts if counts[form] > 0] or (list(counts) if kind == "user" else [])
        if kind is None or not present:
            continue
        # Canonical: the most frequent surface form; ties go to the punctuated, then alphabetical order.
        present.sort(key=lambda form: (-counts[form], -len(form), form))
        forms_by_key[key] = present
        kinds[key] = kind
        # Fixedness as measured here, else (a phrase only the reference establishes) as measured there.
        cohesion[key] = candidate.reference_cohesion if kind == "reference" else candidate.cohesion

    table = _hit_table(forms_by_key, located, corpus, segments, sentences)
    rejected = _hit_table(forms_by_key, in_word, corpus, segments, sentences)
    del located, in_word  # every match of every form searched: the largest arrays of the stage
    phrases = _summarise(table, rejected, corpus, forms_by_key, kinds, cohesion, segments, spread_by_region)
    return PhraseResult(
        tuple(phrases),
        _ranked_hits(table, phrases),
        {"min_count": statistical_min, "rule_min_count": rule_min},
        _ranked_hits(rejected, phrases),
    )


@dataclass
class _Candidate:
    forms: Counter[str]  # surface form → times a rule or the n-gram statistics saw it
    seen: Counter[str] = field(default_factory=Counter)  # kind → times its form rule found it
    cohesion: float | None = None  # set when the n-gram statistics found it
    reference_cohesion: float | None = None  # its cohesion in the reference corpus, when that measured it


def _kept_kind(candidate: _Candidate, total: int, settings: Settings, rule_min: int) -> str | None:
    """The first kind, in ``KIND_PRIORITY`` order, whose bar the candidate passes (module docstring),
    or None: a phrase quoted too rarely to be a slogan may still be a list item or a statistical phrase."""
    seen = candidate.seen
    passes = {
        "user": "user" in seen,
        "numbered": "numbered" in seen and total >= rule_min,
        # Quoted once, said unquoted thousands of times (“发展”): a word in quotes, not a slogan.
        "quoted": "quoted" in seen and total >= rule_min and seen["quoted"] >= settings.quoted_min_share * total,
        "enumeration": "enumeration" in seen and total >= rule_min,
        "quotation": "quotation" in seen and total >= settings.quotation_min_count,
        "item": "item" in seen and total >= rule_min,
        "statistical": candidate.cohesion is not None and candidate.cohesion >= settings.min_cohesion,
        "reference": "reference" in seen and total >= 1,  # established by the reference corpus
    }
    return next((kind for kind in KIND_PRIORITY if passes[kind]), None)


def _forms_to_search(kinds: Iterable[str], seen: Iterable[str]) -> set[str]:
    forms = set(seen)
    if "enumeration" in kinds:
        forms.update(variant for form in seen for variant in _enumeration_variants(form))
    return forms


def _hit_table(
    forms_by_key: dict[str, list[str]],
    located: _Located,
    corpus: _Corpus,
    segments: Sequence[Segment],
    sentences: Sequence[Sentence],
) -> HitTable:
    """Hits of the kept phrases: each kept form's occurrences, phrase by phrase, form by form.

    ``names`` are the canonical forms in the order of ``forms_by_key`` (ranks are not known yet).
    """
    form_index = {form: index for index, form in enumerate(located.forms)}
    form_ids, phrase_ids = [], []
    for number, forms in enumerate(forms_by_key.values()):
        for form in forms:
            if form in form_index:
                form_ids.append(form_index[form])
                phrase_ids.append(number)
    per_form = located.counts()
    first = np.cumsum(per_form) - per_form  # where each form's occurrences begin in ``located``
    wanted = np.asarray(form_ids, dtype=np.int64)
    sizes = per_form[wanted]
    before = np.cumsum(sizes) - sizes
    rows = np.repeat(first[wanted] - before, sizes)
    rows += np.arange(len(rows))
    segment, start, end = located.segment[rows], located.start[rows], located.end[rows]
    del rows
    phrase = np.repeat(np.asarray(phrase_ids, dtype=np.int64), sizes)
    # One place, one hit: where two forms of a phrase overlap (the quoted “两个确立” and the bare
    # 两个确立 inside it), the earlier, longer one counts.
    order, previous_reach = _reach_before(phrase * len(segments) + segment, start, end)
    keep = np.zeros(len(order), dtype=bool)
    keep[order[start[order] >= previous_reach]] = True
    del order, previous_reach
    phrase, segment, start, end = (values[keep].astype(np.int64) for values in (phrase, segment, start, end))
    # Sentence of each hit: the last sentence of its segment starting at or before it (else the first).
    number_of = {s.segment_id: number for number, s in enumerate(segments)}
    table = Sentences.of(sentences, {s.segment_id: s.text for s in segments})
    numbers = np.asarray([number_of[key] for key in table.segment_ids], dtype=np.int64)
    sentence_segment = numbers[table.segment]
    sentence_start = table.start.astype(np.int64)
    sentence_global = corpus.starts[sentence_segment] + sentence_start
    sentence = np.searchsorted(sentence_global, corpus.starts[segment] + start, side="right") - 1
    sentence -= np.searchsorted(sentence_segment, segment, side="left")  # the number within the segment
    np.maximum(sentence, 0, out=sentence)
    return HitTable(
        names=tuple(forms[0] for forms in forms_by_key.values()),
        segment_ids=tuple(segment.segment_id for segment in segments),
        phrase=phrase,
        segment=segment,
        sentence=sentence,
        start=start,
        end=end,
    )


def _reach_before(group: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hits ordered by group, start and longest first, and for each (in that order) the furthest end
    of the hits before it in its group (-1 for the first of a group)."""
    order = np.lexsort((-end, start, group))
    offset = np.cumsum(_first_of_runs(group[order])) - 1  # dense ranks: groups never mix in the keys
    offset *= int(end.max(initial=0)) + 1
    reach = end[order] + offset
    np.maximum.accumulate(reach, out=reach)
    previous = offset  # each row's offset is read before its place is written
    np.subtract(reach[:-1], offset[1:], out=previous[1:])
    previous[:1] = -1
    return order, np.maximum(previous, -1, out=previous)


def _free_counts(table: HitTable) -> np.ndarray:
    """Per phrase: occurrences that are not inside an occurrence of a longer phrase.

    Used only for ranking: a phrase mostly said as part of a longer one (迅速掀起学习 in
    迅速掀起学习党的二十大精神的热潮) ranks below one said on its own; its count is unchanged.
    A hit is free when it reaches beyond every hit starting before it in its segment and no longer
    hit starts where it starts.
    """
    order, previous_reach = _reach_before(table.segment, table.start, table.end)
    segment, start, end = table.segment[order], table.start[order], table.end[order]
    same_start_longer = np.zeros(len(order), dtype=bool)
    same_start_longer[1:] = (segment[1:] == segment[:-1]) & (start[1:] == start[:-1])
    free = (end > previous_reach) & ~same_start_longer
    return np.bincount(table.phrase[order][free], minlength=len(table.names))


def _summarise(
    table: HitTable,
    in_word: HitTable,
    corpus: _Corpus,
    forms_by_key: dict[str, list[str]],
    kinds: dict[str, str],
    cohesion: dict[str, float | None],
    segments: Sequence[Segment],
    spread_by_region: bool,
) -> list[Phrase]:
    n_phrases = len(table.names)
    if not n_phrases:
        return []
    count = np.bincount(table.phrase, minlength=n_phrases)
    in_word_count = np.bincount(in_word.phrase, minlength=n_phrases)
    region_names, segment_region = _segment_regions(segments)
    free = _free_counts(table)
    marks = _Marks.of(corpus)
    # Per phrase, a block of phrases at a time: the temporaries of a step are a block's hits, not all.
    parts: dict[str, list[np.ndarray]] = {"segments_n": [], "change": [], "shift": [], "years_used": [], "reached": []}
    evidence_parts: list[_Evidence] = []
    regions_of: list[tuple[str, ...]] = []
    for first, stop, block in _phrase_blocks(table):
        used = count[first:stop]
        segment_phrase, _ = _distinct(block.phrase, block.segment)
        parts["segments_n"].append(np.bincount(segment_phrase, minlength=stop - first))
        hit_region = segment_region[block.segment]
        has_region = hit_region >= 0
        region_phrase, region_of = _distinct(block.phrase[has_region], hit_region[has_region])
        region_bounds = np.searchsorted(region_phrase, np.arange(stop - first + 1))
        names_of = [region_names[index] for index in region_of.tolist()]
        regions_of.extend(
            tuple(names_of[low:high])
            for low, high in zip(region_bounds[:-1].tolist(), region_bounds[1:].tolist(), strict=True)
        )
        moved, shifted, in_years, peak_share = _change(block, segments, segment_region)
        parts["change"].append(moved)
        parts["shift"].append(shifted)
        parts["years_used"].append(in_years)
        # regions reached: all regions that ever use it and, where texts have years, those using it
        # in the same year at its peak (geometric mean) — a formula is taken up by many regions at once
        reach = np.diff(region_bounds).astype(np.float64)
        if peak_share is not None:
            reach = np.sqrt(reach * peak_share * len(region_names))
        parts["reached"].append(reach)
        evidence_parts.append(_Evidence.of(block, corpus, used, marks))
    del marks
    evidence = _Evidence.join(evidence_parts)
    segments_n, change, shift, years_used, reached = (np.concatenate(values) for values in parts.values())
    quoted = np.fromiter((kinds[key] in _QUOTED for key in forms_by_key), dtype=bool, count=n_phrases)
    roles = evidence.roles(segments_n / max(len(segments), 1), change, quoted, dated=_has_years(segments))

    kept_names = ahocorasick.Automaton()
    for name in table.names:
        kept_names.add_word(name, name)
    kept_names.make_automaton()
    phrases = []
    columns = zip(
        forms_by_key.items(),
        count.tolist(),
        segments_n.tolist(),
        free.tolist(),
        evidence.contexts.tolist(),
        roles,
        in_word_count.tolist(),
        shift.tolist(),
        years_used.tolist(),
        reached.tolist(),
        regions_of,
        strict=True,
    )
    tags = lexicon.parts_of_speech()
    units = {name for name, contexts in zip(table.names, evidence.contexts.tolist(), strict=True) if contexts >= FRAME_UNIT}
    frames = _frames(table.names, units, kept_names, tags, dict(zip(table.names, count.tolist(), strict=True)))
    terms = _terms(table.names)
    for (key, forms), used, segments_used, free_used, contexts, role, inside_words, shifted, in_years, reach, regions in columns:
        name = forms[0]
        if role == "formula" and _TITLE.search(name):
            role = "title"
        elif role == "formula" and kinds[key] in _FORM_FREE and name in frames:
            role = "frame"
        elif role == "formula" and name in terms:
            role = "term"
        score = _score(
            count=used,
            years_used=in_years,
            spread=reach if spread_by_region else segments_used,
            free_share=free_used / used if used else 1.0,
            contexts=contexts,
            bits=cohesion[key] if kinds[key] in _FORM_FREE else None,
            length=len(key) if kinds[key] in _FORM_FREE else None,
            shift=shifted,
            role=role,
        )
        items: tuple[str, ...] = ()
        if kinds[key] == "enumeration":
            items = tuple(item for item in re.split("[、，]", name) if item)
        contains = tuple(
            sorted({other for form in forms for _, other in kept_names.iter(form) if other != name})
        )
        phrases.append(
            Phrase(
                phrase=name,
                kind=kinds[key],
                variants=tuple(forms),
                count=used,
                segments=segments_used,
                regions=regions,
                score=score,
                items=items,
                contains=contains,
                cohesion=None if cohesion[key] is None else round(cohesion[key], 3),
                in_word=inside_words,
                role=role,
            )
        )
    phrases.sort(key=lambda p: (-p.score, -p.count, -len(p.phrase), p.phrase))
    return phrases


_QUOTED = frozenset({"quoted", "quotation", "user"})  # kinds whose bounds the writer (or user) marked
_FORM_FREE = frozenset({"statistical", "item", "reference"})  # kinds no form rule vouches for whole


def _frames(
    names: Sequence[str],
    units: set[str],
    kept_names: ahocorasick.Automaton,
    tags: Mapping[str, str],
    uses: Mapping[str, int],
) -> set[str]:
    """The phrases that are another kept phrase governed by a verb or a preposition: one before it
    (坚持|稳中求进工作总基调, 贯彻落实|科学发展观, 以|邓小平理论) or a preposition after it (科学发展观|为指导).
    The formula is the phrase inside; this is its frame. A preposition always frames; a verb when it
    governs ``FRAME_INNERS`` or more different kept phrases, or when the phrase inside is said without
    it at least as often as with it (适应|经济发展新常态, 引领|经济发展新常态: the formula is said in many
    frames). A verb said before most uses of a phrase that few verbs govern belongs to the formula
    (全面建成|小康社会)."""
    governed: dict[str, list[tuple[str, str]]] = defaultdict(list)  # name → (governing word, inner)
    for name in names:
        for last, inner in kept_names.iter(name):
            start, end = last + 1 - len(inner), last + 1
            if inner == name or inner not in units:
                continue
            # the verb right before it, or the last of two joined by 和 (加强和创新|社会管理)
            prefix = name[:start].rpartition("和")[2] if "和" in name[:start][1:-1] else name[:start]
            word = _governing_word(prefix, tags) if 0 < len(prefix) <= 4 else None
            if word:
                governed[name].append((word, inner))
            after = next((name[end:k] for k in range(min(end + 4, len(name)), end, -1) if name[end:k] in tags), "")
            if name[end : end + 1] == "为" and len(name) - end > 2 and name[end + 1 :] in tags:
                after = "为"  # 以…为…: X|为|主线, though the dictionary has 为主
            if tags.get(after) == "p":
                governed[name].append((after, inner))
    inners_of: dict[str, set[str]] = defaultdict(set)
    for pairs in governed.values():
        for word, inner in pairs:
            inners_of[word].add(inner)
    return {
        name
        for name, pairs in governed.items()
        if any(
            tags[word] == "p" or len(inners_of[word]) >= FRAME_INNERS or uses[name] <= FRAME_SHARE * uses[inner]
            for word, inner in pairs
        )
    }


def _terms(names: Sequence[str]) -> set[str]:
    """The phrases that begin ``TERM_COMPOUNDS`` or more other listed phrases whose rest is a listed
    phrase too (机关事业单位|养老保险制度改革, 机关事业单位|工资制度, 机关事业单位|工作人员; 严厉打击|非法集资):
    the name of a field that other phrases are built on, or a verb that heads them, not a formula."""
    listed = set(names)
    compounds: Counter[str] = Counter()
    for name in names:
        for cut in range(2, len(name) - 1):  # both parts of two characters or more
            if name[:cut] in listed and name[cut:] in listed:
                compounds[name[:cut]] += 1
    return {name for name, built in compounds.items() if built >= TERM_COMPOUNDS}


def _governing_word(prefix: str, tags: Mapping[str, str]) -> str | None:
    """The verb or preposition ``prefix`` is, alone or as the word right before the phrase (深入|推进),
    or two verbs together (贯彻|落实). A verb of one character is too often part of a compound word to
    count; a noun is not read as two words (发展: not 发|展)."""

    def governs(word: str) -> bool:
        return tags.get(word) == "p" or (tags.get(word) == "v" and len(word) > 1)

    if governs(prefix):
        return prefix
    if tags.get(prefix, "i")[0] not in "iv":
        return None
    for k in range(1, len(prefix)):
        first, second = prefix[:k], prefix[k:]
        if first in tags and governs(second):
            return second
        if governs(first) and tags.get(second) in ("v", "a"):
            return first
    return None


# A meeting or a plan named by its ordinal (党的十八大, 十八届三中全会, 第十三个五年规划纲要): what formulas
# are cited from, not a formula.
_TITLE = re.compile("[一二三四五六七八九十]+(?:届|中全会|中、)|党的[一二三四五六七八九十]+大|(?:[二三四五六七八九]十[一二三四五六七八九]?|十[一二三四五六七八九])大|全会|第[一二三四五六七八九十]+个五年")


def _ranked_hits(table: HitTable, phrases: Sequence[Phrase]) -> HitTable:
    """The hits ordered by phrase rank, segment id and offset, phrases numbered by rank."""
    rank_of = {phrase.phrase: rank for rank, phrase in enumerate(phrases)}
    rank = np.asarray([rank_of[name] for name in table.names], dtype=np.int64)[table.phrase]
    ids = table.segment_ids
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    order = np.lexsort((table.start, id_rank[table.segment], rank))
    return HitTable(
        names=tuple(phrase.phrase for phrase in phrases),
        segment_ids=ids,
        phrase=rank[order],
        segment=table.segment[order],
        sentence=table.sentence[order],
        start=table.start[order],
        end=table.end[order],
    )


def _change(
    table: HitTable, segments: Sequence[Segment], segment_region: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per phrase, from the share of regions using it each year (all zero or one where texts have
    no years): how far that share ranges (peak minus lowest year: 0 when every year is alike), its
    shift, the share of the years in which it is used, and the share in its peak year (None where
    texts have no years).

    The shift is the largest difference between the mean share of the years after some year and of
    the years up to it: a phrase taken up from one year on (0, 0, 0, 0.8, 0.7, 0.9) shifts by about
    0.8, while a one-year spike (a congress held, 胜利召开: 0.97, 0.13, 0, 0, 0.06, 0.97) or a
    stretch of years (过去五年, said when a government's term ends) shifts little. A phrase
    dropped from one year on shifts by ``FALL_WEIGHT`` of its fall."""
    regions_per_year = Counter(
        year for year, _ in {(s.year, s.region) for s in segments if s.region and s.year}
    )
    if len(regions_per_year) < 2:
        flat = np.zeros(len(table.names))
        return flat, flat, np.ones(len(table.names)), None
    years = sorted(regions_per_year)
    column = {year: index for index, year in enumerate(years)}
    segment_column = np.asarray(
        [column.get(s.year, -1) if s.region else -1 for s in segments], dtype=np.int64
    )
    hit_column = segment_column[table.segment]
    dated = hit_column >= 0
    # (phrase, year, region) used at least once → regions using the phrase each year
    n_regions = int(segment_region.max(initial=0)) + 1
    phrase, cell = _distinct(
        table.phrase[dated], hit_column[dated] * n_regions + segment_region[table.segment][dated]
    )
    using = np.zeros((len(table.names), len(years)))
    np.add.at(using, (phrase, cell // n_regions), 1)
    shares = using / np.asarray([regions_per_year[year] for year in years], dtype=np.float64)
    years_used = np.maximum(np.count_nonzero(using, axis=1), 1) / len(years)
    peak = shares.max(axis=1)
    # mean share after each year minus mean share up to it, for every year but the last
    before = np.cumsum(shares, axis=1)[:, :-1]
    split = np.arange(1, len(years))
    later_minus_earlier = (shares.sum(axis=1, keepdims=True) - before) / (len(years) - split) - before / split
    shift = np.maximum(later_minus_earlier.max(axis=1), -FALL_WEIGHT * later_minus_earlier.min(axis=1))
    return peak - shares.min(axis=1), np.maximum(shift, 0.0), years_used, peak


ROLE_WEIGHT = {
    "formula": 1.0,
    "label": 0.2,
    "boilerplate": 0.3,
    "fragment": 0.2,
    "frame": 0.3,
    "title": 0.3,
    "term": 0.3,
}
FRAME_UNIT = 1.5  # neighbours (perplexity) a phrase needs to be framed rather than a piece of the frame (创新|驱动发展战略)
FRAME_INNERS = 20  # different phrases a verb or preposition governs, at least, to be a frame's word
FRAME_SHARE = 0.5  # or: a verb said before at most this share of a phrase's uses frames it
TERM_COMPOUNDS = 3  # listed phrases a phrase begins (the rest listed too), at least, to be a term
LABEL_SHARE = 0.5  # uses next to a number, at least: a statistics label (居民消费价格涨幅 3%)
LABEL_REACH = 6  # characters after a phrase a number may follow in (城乡居民人均可支配收入|分别增长|8%)
BOILERPLATE_COVERAGE, BOILERPLATE_CHANGE = 0.8, 0.25  # in most documents, every year alike
FRAGMENT_SHARE = 0.5  # a list (、 inside) that continues past its end this often is cut short
UNIT_FLOOR = 0.5  # weight of a phrase said only inside one longer phrase
CUT_SHORT_SHARE = 0.7  # uses followed by the same character, at least: the phrase is cut short
PIECE_SHARE = 0.6  # uses next to one same word, at least: a piece of a longer name
CONTEXTS_FULL = 8.0  # distinct neighbours (perplexity) on its tighter side at which a phrase is a unit
FALL_WEIGHT = 0.5  # a phrase dropped from one year on shifts by half its fall: adoption is what studies trace


@dataclass(frozen=True)
class _Evidence:
    """What the places a phrase is used in say about it, per phrase (arrays by phrase number).

    ``contexts``: the number of distinct neighbouring characters on its tighter side, as the
    perplexity of their distribution (punctuation and text edges count as distinct each time: free).
    A core said inside many different longer phrases (坚持新发展理念, 贯彻新发展理念, 树立新发展理念)
    has many; a fragment of one fixed phrase (同志为总书记的党中央, always after 习近平 or 胡锦涛) few.
    """

    contexts: np.ndarray
    piece: np.ndarray  # mostly said next to one word that does not govern it: a piece of a longer name
    cut_short: np.ndarray  # mostly followed by the same character: the start of a longer phrase
    next_to_number: np.ndarray  # share of uses with a number right before or within LABEL_REACH characters after
    cut_list: np.ndarray  # a list (、 inside) whose uses mostly continue with 、 on one side

    @classmethod
    def of(cls, table: HitTable, corpus: _Corpus, count: np.ndarray, marks: _Marks) -> _Evidence:
        codes, mark = corpus.codes, marks.kind  # codes are the characters themselves, but 0 off words
        start = corpus.starts[table.segment] + table.start
        end = corpus.starts[table.segment] + table.end  # the separator after each text bounds it
        uses = np.maximum(count, 1)
        n_phrases = len(count)

        def neighbour(at: np.ndarray) -> np.ndarray:  # a word character or 、, else -1 (free)
            return np.where(codes[at] != 0, codes[at].astype(np.int64), np.where(mark[at] == _DUNHAO, ord("、"), -1))

        def digit(at: np.ndarray) -> np.ndarray:
            return (codes[at] >= ord("0")) & (codes[at] <= ord("9"))

        (left, left_top), (right, _) = (
            _neighbours(table.phrase, neighbour(side), uses) for side in (start - 1, end)
        )
        # A piece of a longer name: mostly right after the same one or two persons' names
        # (同志为总书记的党中央 after 习近平 or 胡锦涛). Not after a noun that merely specifies it
        # (中央八项规定: 八项规定 is the formula), nor a verb that governs it (坚持稳中求进工作总基调).
        # A word that mostly follows is no such sign either: formulas often modify a head (八项规定精神).
        piece = _after_names(table.phrase, start, corpus, uses, candidates=left_top >= PIECE_SHARE / 2)
        # Or mostly right after a quoted phrase, or right before one: the rest of a formulation the
        # writers quote only in part (“四个全面”|战略布局, “三个代表”|重要思想, 统筹推进“五位一体”
        # |总体布局和协调推进|“四个全面”战略布局).
        beside_quote = (mark[start - 1] == _CLOSING_QUOTE) | (mark[end] == _OPENING_QUOTE)
        piece |= np.bincount(table.phrase, weights=beside_quote, minlength=n_phrases) / uses >= PIECE_SHARE
        numbered = digit(start - 1)
        blocked = np.zeros(len(end), dtype=bool)  # a number after punctuation belongs to the next clause
        for step in range(LABEL_REACH):
            at = np.minimum(end + step, len(codes) - 1)
            numbered |= ~blocked & digit(at)
            blocked |= (codes[at] == 0) & (mark[at] != _DOT)
        # Cut short: most uses go on with the same character (医药卫生体制|改革, 强农惠农富农|政策,
        # 五大发展|理念). A function character after it (的, 和) ends the phrase rather than continuing it.
        after = codes[end].astype(np.int64)
        follows = np.where((after != 0) & ~np.isin(after, _FUNCTION_CODES), after, -1)
        _, follows_top = _neighbours(table.phrase, follows, uses)
        has_list = np.fromiter(("、" in name for name in table.names), dtype=bool, count=n_phrases)
        continues = [
            np.bincount(table.phrase, weights=mark[side] == _DUNHAO, minlength=n_phrases) / uses for side in (start - 1, end)
        ]
        return cls(
            contexts=np.minimum(left, right),
            piece=piece,
            cut_short=follows_top >= CUT_SHORT_SHARE,
            next_to_number=np.bincount(table.phrase, weights=numbered, minlength=n_phrases) / uses,
            cut_list=has_list & (np.maximum(*continues) >= FRAGMENT_SHARE),
        )

    @classmethod
    def join(cls, parts: Sequence[_Evidence]) -> _Evidence:
        """The evidence of consecutive blocks of phrases as one."""
        names = [item.name for item in fields(cls)]
        return cls(**{name: np.concatenate([getattr(part, name) for part in parts]) for name in names})

    def roles(self, coverage: np.ndarray, change: np.ndarray, quoted: np.ndarray, *, dated: bool) -> list[str]:
        """formula, or what else a phrase is: a statistics label, boilerplate or a fragment."""
        boilerplate = dated & (coverage >= BOILERPLATE_COVERAGE) & (change <= BOILERPLATE_CHANGE)
        role = np.full(len(coverage), "formula", dtype=object)
        # quotes mark where a formula ends, whatever follows (“全面两孩”政策)
        role[self.cut_list | self.piece | (self.cut_short & ~quoted)] = "fragment"
        role[boilerplate] = "boilerplate"
        role[self.next_to_number >= LABEL_SHARE] = "label"
        return role.tolist()


_DUNHAO, _DOT, _CLOSING_QUOTE, _OPENING_QUOTE = 1, 2, 3, 4  # the marks _Marks records


@dataclass(frozen=True)
class _Marks:
    """Per character of the corpus, which mark it is, if any (off words, where ``codes`` is 0): 、, a full
    stop, a closing or an opening quote, else 0. One byte a character: the marks live as long as the
    ranking's evidence, at the phrase stage's peak of memory."""

    kind: np.ndarray

    @classmethod
    def of(cls, corpus: _Corpus) -> _Marks:
        kind = np.zeros(len(corpus.codes), dtype=np.uint8)
        for mark, chars in ((_DUNHAO, "、"), (_DOT, "."), (_CLOSING_QUOTE, "”’」』》〉"), (_OPENING_QUOTE, "“‘「『《〈")):
            at = (m.start() for m in re.finditer(f"[{re.escape(chars)}]", corpus.text))
            kind[np.fromiter(at, dtype=np.int64)] = mark
        return cls(kind)


_FUNCTION_CODES = np.fromiter(map(ord, FUNCTION_CHARS), dtype=np.int64)


SUMMARY_ROWS = 1 << 20  # hits summarised at once: bounds the memory of the ranking's steps


def _phrase_blocks(table: HitTable) -> Iterator[tuple[int, int, HitTable]]:
    """The hits cut between phrases into blocks of about ``SUMMARY_ROWS`` hits (a phrase is never split):
    ``(first phrase, phrase after the last, the block's hits with phrases numbered from first)``.
    ``table.phrase`` ascends (as ``_hit_table`` makes it)."""
    bounds = np.searchsorted(table.phrase, np.arange(len(table.names) + 1))  # each phrase's first row
    for first, stop in _group_ranges(np.diff(bounds), SUMMARY_ROWS):
        low, high = int(bounds[first]), int(bounds[stop])
        yield first, stop, HitTable(
            table.names[first:stop],
            table.segment_ids,
            table.phrase[low:high] - first,
            table.segment[low:high],
            table.sentence[low:high],
            table.start[low:high],
            table.end[low:high],
        )


def _neighbours(phrase: np.ndarray, neighbour: np.ndarray, uses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per phrase, 2 ** entropy of its neighbours (each free neighbour, -1, counts as a new one), and
    the share of its uses next to its most frequent neighbour."""
    entropy, top = np.zeros(len(uses)), np.zeros(len(uses))
    real = neighbour >= 0
    keys, times = _sorted_unique(phrase[real].astype(np.int64) << 21 | neighbour[real])
    share = times / uses[keys >> 21]
    np.add.at(entropy, keys >> 21, -share * np.log2(share))
    np.maximum.at(top, keys >> 21, share)
    free = np.bincount(phrase[~real], minlength=len(uses))
    entropy += free / uses * np.log2(uses)
    return 2.0**entropy, top


def _after_names(
    phrase: np.ndarray, start: np.ndarray, corpus: _Corpus, uses: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """Per phrase: whether at least ``PIECE_SHARE`` of its uses follow the same one or two words, each
    of them a person's name (jieba's tags ``nr…``). Only ``candidates`` are looked at."""
    bounds = corpus.bounds
    rows = np.flatnonzero(candidates[phrase])
    at = start[rows]
    index = np.minimum(np.searchsorted(bounds, at), len(bounds) - 1)
    before = bounds[np.maximum(index - 1, 0)]
    length = at - before
    # a word before: on a boundary (not a cut), of word characters, short enough to be a name
    ok = (bounds[index] == at) & (index > 0) & (length <= 8) & (corpus.codes[before] != 0)
    rows, before, length = rows[ok], before[ok], length[ok]
    if not len(rows):
        return np.zeros(len(uses), dtype=bool)
    word = np.zeros(len(rows), dtype=np.uint64)
    for k in range(8):
        more = k < length
        word[more] = word[more] * _HASH_BASE + corpus.codes[before[more] + k].astype(np.uint64)
    order = np.lexsort((word, phrase[rows]))
    owner, word, first_char = phrase[rows][order], word[order], before[order]
    run = np.flatnonzero(np.r_[True, (owner[1:] != owner[:-1]) | (word[1:] != word[:-1])])
    times = np.diff(np.r_[run, len(owner)])
    run_owner = owner[run]
    # the two most used words of each phrase: runs sorted by phrase, then by times (descending)
    ranked = np.lexsort((-times, run_owner))
    place = np.arange(len(ranked)) - np.searchsorted(run_owner[ranked], run_owner[ranked])
    top = ranked[place < 2]
    covered = np.bincount(run_owner[top], weights=times[top], minlength=len(uses)) / uses
    tags = lexicon.parts_of_speech()
    named = np.ones(len(uses), dtype=bool)
    for number, low, size, used in zip(
        run_owner[top].tolist(), first_char[run[top]].tolist(), (length[order][run[top]]).tolist(), times[top].tolist(),
        strict=True,
    ):
        if used >= uses[number] / 5 and not tags.get(corpus.text[low : low + size], "").startswith("nr"):
            named[number] = False
    return (covered >= PIECE_SHARE) & named


def _has_years(segments: Sequence[Segment]) -> bool:
    return len({segment.year for segment in segments if segment.year}) >= 2


def _score(
    *,
    count: int,
    years_used: float,
    spread: float,
    free_share: float,
    contexts: float,
    bits: float | None,
    length: int | None,
    shift: float,
    role: str,
) -> float:
    """Rank of a phrase: how formulaic it is, how widely and often it is used, how its use moves.

    * ``spread × log2(1 + count / years_used)``: adopted by many regions — the geometric mean of the
      regions ever using it and those using it in its peak year (segments when there are no regions)
      — often in the years it is used at all: a formula coined in the last year of a corpus is not
      outweighed by one said as often over all its years;
    * ``0.5 + 0.5 × unit``: a unit of its own rather than a piece of one longer phrase — said on its
      own (its free share), or, when mostly said inside longer phrases, inside many different ones
      (``contexts / 8``, the nested-core evidence of term extraction);
    * for statistical phrases, fixedness ``cohesion / 12 bits`` (capped at 1), and for them and list
      items length ``chars / 8`` (at least 0.5, at most 1): two common words that meet often (高速公路,
      加快推进) rank below a long fixed formula (供给侧结构性改革); quoted, numbered and listed forms
      are fixed by their form;
    * ``(1 + shift)³``: where documents have years, a phrase taken up by regions from one year on
      (absent, then everywhere) ranks above one used evenly throughout, or in a single year — the
      signal diffusion studies look for (``_change``);
    * the role: statistics labels × 0.2, boilerplate, frames, titles and terms × 0.3, fragments × 0.2
      (``ROLE_WEIGHT``).
    """
    unit = max(free_share, min(max(contexts - 1.0, 0.0) / CONTEXTS_FULL, 1.0))
    score = spread * math.log2(1 + count / years_used) * (UNIT_FLOOR + (1 - UNIT_FLOOR) * unit) * (1 + shift) ** 3 * ROLE_WEIGHT[role]
    if bits is not None:
        score *= min(max(bits, 0.0), COHESION_FULL) / COHESION_FULL
    if length is not None:
        score *= min(max(length / 8, 0.5), 1.0)
    return round(score, 6)
