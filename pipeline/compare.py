"""Compare regions: phrase adoption, distinctive phrases, diffusion over time, shared passages.

Every function here is pure: it takes the plain records of :mod:`pipeline.records` and returns sorted
rows (``NamedTuple`` s whose field names are the CSV header). Files are written only by the
``write_*`` functions at the bottom, each taking an output directory.

Unattributed text (``Segment.region == ""``, e.g. a reporter's lead paragraph) is *left out* of
:func:`adoption`, :func:`keyness` and :func:`diffusion`: it is not a region, and an empty region key
turns into NaN in pandas and R. It *does* take part in :func:`shared_passages`, where a passage shared
by a region and an unattributed text is exactly what the reader wants to see; there it is counted in
the ``unattributed`` column instead of appearing as an empty name in ``regions``.

Counting rules shared by all functions:

- a region's size is ``len(Segment.text)`` summed over its segments (the ``chars`` of
  ``segments.csv``); a region "has text" in a year when that sum is positive;
- a hit counts for its phrase only when the phrase is in the ``phrases`` vocabulary given (pass a
  subset to compare fewer phrases); nested phrases are counted independently, as the hits are;
- a hit naming a segment that is not among ``segments`` is an upstream bug and raises ``ValueError``.

The hits are counted with NumPy (:func:`count_hits`); a caller of several functions on the same inputs
counts once and passes the :class:`HitCounts` as ``counts=``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np

from pipeline.io_utils import write_csv
from pipeline.records import Hit, HitTable, Phrase, Segment

__all__ = [
    "AdoptionMatrix",
    "AdoptionRow",
    "DiffusionRow",
    "HitCounts",
    "KeynessRow",
    "ReuseRow",
    "adoption",
    "adoption_matrix",
    "count_hits",
    "diffusion",
    "keyness",
    "shared_passages",
    "write_adoption",
    "write_diffusion",
    "write_keyness",
    "write_reuse",
]

PER = 10_000  # rates are per 10,000 characters
LIST_SEPARATOR = ";"

# ---------------------------------------------------------------------------------------------
# rows


class AdoptionRow(NamedTuple):
    """Use of one phrase by one region in one year (``year`` None: all of the region's text)."""

    region: str
    year: int | None
    phrase: str
    count: int
    per_10k: float
    chars: int


@dataclass(frozen=True, slots=True)
class AdoptionMatrix:
    """Wide phrase × region hit counts over all years: ``counts[i][j]`` is phrases[i] in regions[j]."""

    regions: tuple[str, ...]
    phrases: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def rows(self) -> list[tuple[object, ...]]:
        """Rows for ``adoption_matrix.csv``: phrase, one count per region, total."""
        return [(p, *c, sum(c)) for p, c in zip(self.phrases, self.counts, strict=True)]

    @property
    def header(self) -> tuple[str, ...]:
        return ("phrase", *self.regions, "total")


class KeynessRow(NamedTuple):
    """Monroe et al. (2008) log-odds ratio of one phrase in one region against its reference.

    ``score`` is the z-score ``delta / sqrt(variance)``; ``reference_count`` the phrase's hits in the
    reference group.
    """

    region: str
    phrase: str
    count: int
    score: float
    delta: float
    variance: float
    reference_count: int


class DiffusionRow(NamedTuple):
    """Spread of one phrase up to one year.

    ``regions_using``: regions with at least one hit that year, out of ``regions_with_text`` that have
    text that year. ``adopted_cumulative``: regions with a hit in this or an earlier year, out of
    ``regions_observed_cumulative`` that had text in this or an earlier year; their ratio is
    ``share_adopted_cumulative``. ``first_year``/``first_regions`` describe the phrase as a whole.
    """

    phrase: str
    year: int
    regions_using: int
    regions_with_text: int
    share_using: float
    adopted_cumulative: int
    regions_observed_cumulative: int
    share_adopted_cumulative: float
    first_year: int | None
    first_regions: tuple[str, ...]
    using: tuple[str, ...]


class ReuseRow(NamedTuple):
    """A maximal passage found verbatim in segments of two or more regions (or a region and
    unattributed text). ``regions`` lists the named regions only; ``unattributed`` counts the
    unattributed segments that contain the passage."""

    passage: str
    length: int
    regions: tuple[str, ...]
    segments: tuple[str, ...]
    regions_n: int
    occurrences: int
    unattributed: int


# ---------------------------------------------------------------------------------------------
# shared counting


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compare fields with numpy, not ==
class HitCounts:
    """Hits of a phrase vocabulary per region and year, counted once for :func:`adoption`,
    :func:`adoption_matrix`, :func:`keyness` and :func:`diffusion` (build with :func:`count_hits`).

    ``regions`` are the attributed regions and ``years`` the years of attributed segments, both sorted
    and both including those without text (the functions keep the ones with text). ``total[r, p]``
    counts ``vocabulary[p]`` in ``regions[r]`` over all of its text, dated or not. The per-year counts
    are sparse (most phrases are absent from most region-years): ``cells`` holds the sorted keys
    ``(r * len(years) + y) * len(vocabulary) + p`` of the nonzero ones and ``cell_counts`` their counts.
    """

    vocabulary: tuple[str, ...]
    regions: tuple[str, ...]
    years: tuple[int, ...]
    region_chars: np.ndarray  # (regions,) int64
    year_chars: np.ndarray  # (regions, years) int64
    total: np.ndarray  # (regions, vocabulary) int64
    cells: np.ndarray  # int64, sorted
    cell_counts: np.ndarray  # int64, positive

    def decode(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Region, year and phrase index of each of ``cells``."""
        rest, phrase = np.divmod(self.cells, max(len(self.vocabulary), 1))
        region, year = np.divmod(rest, max(len(self.years), 1))
        return region, year, phrase


def count_hits(
    segments: Iterable[Segment], hits: HitTable | Iterable[Hit], phrases: Iterable[Phrase]
) -> HitCounts:
    """Count ``hits`` of the ``phrases`` vocabulary per region and per (region, year), attributed text only.

    Raises:
        ValueError: duplicate segment ids, or a hit naming a segment not among ``segments``.
    """
    vocabulary = _vocabulary(phrases)
    index = _segment_index(segments)
    attributed = [s for s in index.values() if s.region]
    regions = sorted({s.region for s in attributed})
    years = sorted({s.year for s in attributed if s.year is not None})
    region_at = {region: i for i, region in enumerate(regions)}
    year_at = {year: i for i, year in enumerate(years)}

    seg_region = np.full(len(index), -1, dtype=np.int64)
    seg_year = np.full(len(index), -1, dtype=np.int64)
    region_chars = np.zeros(len(regions), dtype=np.int64)
    year_chars = np.zeros((len(regions), len(years)), dtype=np.int64)
    for i, segment in enumerate(index.values()):
        if not segment.region:
            continue
        r = seg_region[i] = region_at[segment.region]
        region_chars[r] += len(segment.text)
        if segment.year is not None:
            y = seg_year[i] = year_at[segment.year]
            year_chars[r, y] += len(segment.text)

    seg_at = {segment_id: i for i, segment_id in enumerate(index)}
    phrase_at = {phrase: i for i, phrase in enumerate(vocabulary)}
    if isinstance(hits, HitTable):  # columns: map their numbering onto this one
        seg_of = np.fromiter(map(seg_at.get, hits.segment_ids, repeat(-1)), np.int64, len(hits.segment_ids))
        seg = seg_of[hits.segment]
        if seg.size and seg.min() < 0:
            first = int(np.argmax(seg < 0))
            raise ValueError(
                f"hit of {hits.names[hits.phrase[first]]!r} names unknown segment_id"
                f" {hits.segment_ids[hits.segment[first]]!r}"
            )
        phrase_of = np.fromiter(map(phrase_at.get, hits.names, repeat(-1)), np.int64, len(hits.names))
        phrase = phrase_of[hits.phrase]
    else:  # one pass of dictionary look-ups turns the Hit objects into index arrays; the rest is NumPy
        listed = hits if isinstance(hits, Sequence) else list(hits)
        seg = np.fromiter(map(seg_at.get, [h.segment_id for h in listed], repeat(-1)), np.int64, len(listed))
        if seg.size and seg.min() < 0:
            hit = listed[int(np.argmax(seg < 0))]  # the first, as a loop over the hits would report
            raise ValueError(f"hit of {hit.phrase!r} names unknown segment_id {hit.segment_id!r}")
        phrase = np.fromiter(
            map(phrase_at.get, [h.phrase for h in listed], repeat(-1)), np.int64, len(listed)
        )
    region = seg_region[seg]
    keep = (phrase >= 0) & (region >= 0)
    seg, phrase, region = seg[keep], phrase[keep], region[keep]
    year = seg_year[seg]

    n_phrases = len(vocabulary)
    total = np.bincount(region * n_phrases + phrase, minlength=len(regions) * n_phrases)
    dated = year >= 0
    cells, cell_counts = np.unique(
        ((region[dated] * len(years) + year[dated]) * n_phrases + phrase[dated]), return_counts=True
    )
    return HitCounts(
        vocabulary=tuple(vocabulary),
        regions=tuple(regions),
        years=tuple(years),
        region_chars=region_chars,
        year_chars=year_chars,
        total=total.reshape(len(regions), n_phrases),
        cells=cells.astype(np.int64, copy=False),
        cell_counts=cell_counts.astype(np.int64, copy=False),
    )


def _segment_index(segments: Iterable[Segment]) -> dict[str, Segment]:
    index: dict[str, Segment] = {}
    for segment in segments:
        if segment.segment_id in index:
            raise ValueError(f"duplicate segment_id {segment.segment_id!r}")
        index[segment.segment_id] = segment
    return index


def _vocabulary(phrases: Iterable[Phrase]) -> list[str]:
    return sorted({p.phrase for p in phrases})


def _objects(values: Sequence[Any]) -> np.ndarray:
    """A 1-d object array (strings, None) to pick row values from with index arrays."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


_Row = TypeVar("_Row", bound=tuple)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building rows.

    Every new tuple counts toward the collector's thresholds: building hundreds of thousands of them
    with it running costs many passes over the young objects and, now and then, a full pass over every
    object of the run (sentences, tokens, hits), more than building the rows. Paused, it looks at the
    new rows once, afterwards; rows hold no reference cycles, so nothing is kept longer.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rows(cls: type[_Row], *columns: list[Any]) -> list[_Row]:
    """Rows of the NamedTuple ``cls`` from equally long column lists (``tuple.__new__``, as ``_make``)."""
    with _gc_paused():
        return list(map(partial(tuple.__new__, cls), zip(*columns, strict=True)))


# ---------------------------------------------------------------------------------------------
# adoption


def adoption(
    segments: Sequence[Segment],
    hits: HitTable | Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    include_zero: bool = True,
    counts: HitCounts | None = None,
) -> list[AdoptionRow]:
    """Hits and rate per 10,000 characters of every phrase in every region, overall and per year.

    For each region with text there is one row per phrase with ``year`` None (all of its text, dated
    or not), then one row per phrase for each year in which the region has text. A region with no text
    in a year has no rows for that year: missing, not zero. With ``include_zero=False`` only rows with
    ``count > 0`` are kept (then absence no longer distinguishes "no text" from "not used").
    Unattributed segments are left out. Rows are sorted by region, year (overall first), phrase.
    ``counts``, when given, must be ``count_hits(segments, hits, phrases)``; the hits are then not
    counted again.

    >>> seg = Segment("s1", "a.txt", "上海", "", "", 2017, "增强四个意识。")
    >>> rows = adoption([seg], [Hit("四个意识", "s1", 0, 2, 6)], [_phrase("四个意识")])
    >>> [(r.region, r.year, r.count, round(r.per_10k, 1)) for r in rows]
    [('上海', None, 1, 1428.6), ('上海', 2017, 1, 1428.6)]
    """
    c = counts if counts is not None else count_hits(segments, hits, phrases)
    n_phrases = len(c.vocabulary)
    # Cells are (region, slot) with text, slot 0 for all years and 1 + y for year y; np.nonzero
    # walks them row by row, so they come sorted as the rows are.
    chars = np.concatenate((c.region_chars[:, None], c.year_chars), axis=1)
    cell_region, cell_slot = np.nonzero(chars > 0)
    if cell_region.size == 0 or n_phrases == 0:
        return []
    cell_chars = chars[cell_region, cell_slot]
    cell_of = np.full(chars.shape, -1, dtype=np.int64)
    cell_of[cell_region, cell_slot] = np.arange(cell_region.size)
    region, year, phrase = c.decode()
    year_cell = cell_of[region, year + 1]
    dated = year_cell >= 0

    if include_zero:
        dense = np.zeros((cell_region.size, n_phrases), dtype=np.int64)
        overall = cell_slot == 0
        dense[overall] = c.total[cell_region[overall]]
        dense[year_cell[dated], phrase[dated]] = c.cell_counts[dated]
        entry_cell = np.repeat(np.arange(cell_region.size), n_phrases)
        entry_phrase = np.tile(np.arange(n_phrases), cell_region.size)
        entry_count = dense.ravel()
    else:
        used_region, used_phrase = np.nonzero(c.total)
        overall_cell = cell_of[used_region, 0]
        has_text = overall_cell >= 0
        keys = np.concatenate(
            (
                overall_cell[has_text] * n_phrases + used_phrase[has_text],
                year_cell[dated] * n_phrases + phrase[dated],
            )
        )
        found = np.concatenate((c.total[used_region, used_phrase][has_text], c.cell_counts[dated]))
        order = np.argsort(keys)
        entry_count = found[order]
        entry_cell, entry_phrase = np.divmod(keys[order], n_phrases)

    entry_chars = cell_chars[entry_cell]
    # Exact integers divided in float64: the same correctly rounded value as count * PER / chars.
    rate = (entry_count * PER) / entry_chars
    return _rows(
        AdoptionRow,
        _objects(c.regions)[cell_region[entry_cell]].tolist(),
        _objects((None, *c.years))[cell_slot[entry_cell]].tolist(),
        _objects(c.vocabulary)[entry_phrase].tolist(),
        entry_count.tolist(),
        rate.tolist(),
        entry_chars.tolist(),
    )


def adoption_matrix(
    segments: Sequence[Segment],
    hits: HitTable | Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    counts: HitCounts | None = None,
) -> AdoptionMatrix:
    """Phrase × region hit counts over all years (regions with text, sorted; phrases sorted)."""
    c = counts if counts is not None else count_hits(segments, hits, phrases)
    with_text = c.region_chars > 0
    regions = tuple(r for r, ok in zip(c.regions, with_text.tolist(), strict=True) if ok)
    with _gc_paused():
        matrix = tuple(map(tuple, c.total[with_text].T.tolist()))
    return AdoptionMatrix(regions=regions, phrases=c.vocabulary, counts=matrix)


# ---------------------------------------------------------------------------------------------
# keyness


def keyness(
    segments: Sequence[Segment],
    hits: HitTable | Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    reference: Iterable[str] | None = None,
    prior_scale: float | None = None,
    min_count: int = 0,
    counts: HitCounts | None = None,
) -> list[KeynessRow]:
    """Distinctive phrases per region: log-odds ratio with an informative Dirichlet prior.

    Monroe, Colaresi & Quinn (2008), "Fightin' Words", eq. 16, 18-20. For phrase *w*, region *i*
    and reference group *j* (all other regions by default, or ``reference`` minus *i*), with ``y``
    hit counts, ``n`` total hits over the phrase vocabulary and the prior
    ``alpha_w = a0 * y_w / n`` taken from the whole (attributed) corpus::

        delta = log((y_iw + alpha_w) / (n_i + a0 - y_iw - alpha_w))
              - log((y_jw + alpha_w) / (n_j + a0 - y_jw - alpha_w))
        variance = 1 / (y_iw + alpha_w) + 1 / (y_jw + alpha_w)
        score = delta / sqrt(variance)

    ``prior_scale`` is ``a0``; None means the mean number of hits per region, so the prior weighs as
    much as one average region's evidence. Phrases with no hit anywhere are left out; with fewer than
    two phrases in use the odds are undefined and the result is empty. Regions with text but no hits
    are scored too. Rows with ``count < min_count`` are left out of the result (they are still part of
    every score). Rows are sorted by region, then score descending, then phrase. ``counts`` as for
    :func:`adoption`.

    All regions are scored at once on the region × phrase matrix, with the same operations in the same
    order per element as a loop over the regions would do, so the floats are the same.

    Raises:
        ValueError: ``prior_scale`` not positive, or ``reference`` names a region with no text.
    """
    c = counts if counts is not None else count_hits(segments, hits, phrases)
    with_text = np.flatnonzero(c.region_chars > 0)
    regions = [c.regions[i] for i in with_text.tolist()]
    reference_set = None if reference is None else set(reference)
    if reference_set is not None:
        unknown = sorted(reference_set - set(regions))
        if unknown:
            raise ValueError(f"reference regions with no text: {', '.join(unknown)}")
    if prior_scale is not None and not prior_scale > 0:
        raise ValueError(f"prior_scale must be positive, got {prior_scale}")

    used = np.flatnonzero(c.total.sum(axis=0) > 0)  # hits in any attributed region
    if len(used) < 2 or not regions:
        return []
    y_int = c.total[np.ix_(with_text, used)]
    y = y_int.astype(float)
    y_w = y.sum(axis=0)
    n = y_w.sum()
    a0 = n / len(regions) if prior_scale is None else float(prior_scale)
    alpha = a0 * y_w / n

    # Reference counts: the reference regions' sum minus the region itself when it is one of them
    # (integers, so exact whatever the order of summation).
    in_reference = np.array([reference_set is None or r in reference_set for r in regions])
    scored = np.flatnonzero(in_reference.sum() - in_reference > 0)  # regions with a reference left
    if scored.size == 0:
        return []
    y_i_int = y_int[scored]
    y_j_int = y_int[in_reference].sum(axis=0) - y_i_int * in_reference[scored, None]
    y_i, y_j = y[scored], y_j_int.astype(float)
    delta = _log_odds(y_i, alpha, a0) - _log_odds(y_j, alpha, a0)
    variance = 1.0 / (y_i + alpha) + 1.0 / (y_j + alpha)
    score = delta / np.sqrt(variance)

    # Score descending within each region, ties in phrase (column) order: a stable sort of -score.
    order = np.argsort(-score, axis=1, kind="stable")
    flat = (order + (np.arange(scored.size) * len(used))[:, None]).ravel()
    flat = flat[y_i_int.ravel()[flat] >= min_count]
    row, column = np.divmod(flat, len(used))
    return _rows(
        KeynessRow,
        _objects(regions)[scored[row]].tolist(),
        _objects(c.vocabulary)[used[column]].tolist(),
        y_i_int.ravel()[flat].tolist(),
        score.ravel()[flat].tolist(),
        delta.ravel()[flat].tolist(),
        variance.ravel()[flat].tolist(),
        y_j_int.ravel()[flat].tolist(),
    )


def _log_odds(y: np.ndarray, alpha: np.ndarray, a0: float) -> np.ndarray:
    """Row-wise log-odds: each row is one count vector with its own total."""
    return np.log(y + alpha) - np.log(y.sum(axis=-1, keepdims=True) + a0 - y - alpha)


# ---------------------------------------------------------------------------------------------
# diffusion


def diffusion(
    segments: Sequence[Segment],
    hits: HitTable | Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    counts: HitCounts | None = None,
) -> list[DiffusionRow]:
    """Adoption curve of every phrase over the years: who used it each year, who had by then.

    Only dated, attributed text counts. There is one row per phrase and per year in which any region
    has text (empty when no segment has a year). ``first_year`` is the earliest year with a hit and
    ``first_regions`` the regions using the phrase that year; both are empty for a phrase never seen in
    dated text. Rows are sorted by phrase, then year. ``counts`` as for :func:`adoption`.
    """
    c = counts if counts is not None else count_hits(segments, hits, phrases)
    n_regions, n_phrases = len(c.regions), len(c.vocabulary)
    has_text = c.year_chars > 0
    year_has_text = has_text.any(axis=0)
    years = [year for year, ok in zip(c.years, year_has_text.tolist(), strict=True) if ok]
    if not years or not n_phrases:
        return []
    n_years = len(years)
    has_text = has_text[:, year_has_text]
    with_text = has_text.sum(axis=0)
    observed = np.logical_or.accumulate(has_text, axis=1).sum(axis=0)
    year_pos = np.full(len(c.years), -1, dtype=np.int64)
    year_pos[year_has_text] = np.arange(n_years)

    region, year, phrase = c.decode()
    year = year_pos[year]
    kept = year >= 0  # a hit in a year without text (an empty segment) is not a year of the curve
    region, year, phrase = region[kept], year[kept], phrase[kept]

    # Users of each (phrase, year) cell, regions in name order (region indices are sorted by name).
    by_cell = np.sort((phrase * n_years + year) * n_regions + region)
    using_n = np.bincount(by_cell // n_regions, minlength=n_phrases * n_years)
    bounds = np.concatenate(([0], np.cumsum(using_n))).tolist()
    names = _objects(c.regions)[by_cell % n_regions].tolist()
    with _gc_paused():
        using = [tuple(names[a:b]) for a, b in pairwise(bounds)]

    # A region has adopted a phrase from the first year it used it on.
    by_region = np.sort((phrase * n_regions + region) * n_years + year)
    first = np.ones(by_region.size, dtype=bool)
    first[1:] = by_region[1:] // n_years != by_region[:-1] // n_years
    adopted = np.bincount(
        (by_region[first] // (n_regions * n_years)) * n_years + by_region[first] % n_years,
        minlength=n_phrases * n_years,
    )
    adopted = adopted.reshape(n_phrases, n_years).cumsum(axis=1).ravel()

    used_cell = using_n.reshape(n_phrases, n_years) > 0
    first_t = used_cell.argmax(axis=1).tolist()
    seen = used_cell.any(axis=1).tolist()
    first_years = [years[t] if ok else None for t, ok in zip(first_t, seen, strict=True)]
    first_regions = [
        using[p * n_years + t] if ok else () for p, (t, ok) in enumerate(zip(first_t, seen, strict=True))
    ]
    with_text_all = np.tile(with_text, n_phrases)
    observed_all = np.tile(observed, n_phrases)
    # Exact integers divided in float64: the same correctly rounded values as int / int.
    return _rows(
        DiffusionRow,
        _objects(c.vocabulary).repeat(n_years).tolist(),
        years * n_phrases,
        using_n.tolist(),
        with_text_all.tolist(),
        (using_n / with_text_all).tolist(),
        adopted.tolist(),
        observed_all.tolist(),
        (adopted / observed_all).tolist(),
        [value for value in first_years for _ in range(n_years)],
        [value for value in first_regions for _ in range(n_years)],
        using,
    )


# ---------------------------------------------------------------------------------------------
# shared passages

_HASH_BASE = np.uint64(0x100000001B3)  # FNV-1 64-bit prime; arithmetic wraps modulo 2**64
_SEPARATOR_BASE = 0x110000  # above every Unicode code point: separators never match text
_CHUNK = 1 << 20  # windows per step where a whole-corpus uint64 temporary would be needed


def shared_passages(segments: Sequence[Segment], *, min_chars: int = 15) -> list[ReuseRow]:
    """Maximal passages of at least ``min_chars`` characters found verbatim in two or more regions.

    A passage is reported when its occurrences lie in segments of at least two *labels*, where each
    region is a label and all unattributed text is one more label (so a region and a lead paragraph
    count, two lead paragraphs do not). It must be maximal for that: no passage one character longer
    (on either side) occurs in the same set of labels, so one shared paragraph is one row, not every
    window of it; a shorter passage inside it is reported separately only when more regions share it.

    Algorithm (never compares sentence pairs; about linear in the corpus size):

    1. every ``min_chars``-character window gets a polynomial hash (numpy, vectorised); windows with
       no letter, digit or CJK character are ineligible, so whitespace and punctuation runs are never
       reported;
    2. windows whose hash occurs under two or more labels are kept; consecutive kept windows form
       runs, and every occurrence of every shared passage lies inside a run;
    3. the runs (a small part of the corpus) are joined with unique separators and indexed by a
       suffix array (prefix doubling) with LCP values (binary lifting over the doubling ranks);
       hash collisions only add text here, the suffix array is exact;
    4. LCP intervals of depth ≥ ``min_chars`` are the repeated strings; an interval is reported when
       its occurrences span two or more labels and no left or right one-character extension keeps
       that label set.

    Rows are sorted by length (longest first), then passage.

    Raises:
        ValueError: ``min_chars`` below 1 or duplicate segment ids.
    """
    if min_chars < 1:
        raise ValueError(f"min_chars must be at least 1, got {min_chars}")
    ordered = sorted(_segment_index(segments).values(), key=lambda s: s.segment_id)
    labels = sorted({s.region for s in ordered})
    if len(labels) < 2:
        return []
    label_at = {label: i for i, label in enumerate(labels)}
    label_of = np.array([label_at[s.region] for s in ordered], dtype=np.int64)

    firsts, lasts = _shared_runs(ordered, label_of, min_chars)
    if firsts.size == 0:
        return []
    # The code points again (a few ms): keeping them through _shared_runs' sort would add 4 bytes a
    # character to the peak memory.
    codes, seg_start = _concatenate(ordered)
    text, rseg, roff = _reduced_text(codes, seg_start, firsts, lasts, min_chars)
    del codes  # the whole corpus is no longer needed: only the runs are indexed
    sa, lcp = _suffix_array(text)
    with _gc_paused():  # tens of thousands of short-lived tuples and lists
        rows = _maximal_intervals(sa, lcp, text, rseg, roff, label_of, ordered, labels, min_chars)
    rows.sort(key=lambda r: (-r.length, r.passage, r.segments))
    return rows


def _concatenate(ordered: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray]:
    """All texts back to back as UTF-32 code points (uint32, 4 bytes a character), and where each
    segment starts (``seg_start[-1]`` is the total length)."""
    lengths = np.fromiter((len(s.text) for s in ordered), dtype=np.int64, count=len(ordered))
    seg_start = np.zeros(len(ordered) + 1, dtype=np.int64)
    np.cumsum(lengths, out=seg_start[1:])
    codes = np.frombuffer("".join(s.text for s in ordered).encode("utf-32-le"), dtype=np.uint32)
    return codes, seg_start


def _shared_runs(ordered: Sequence[Segment], label_of: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs ``firsts[i]..lasts[i]`` of window starts (positions in the texts of ``ordered`` put
    back to back) whose k-gram occurs under two or more labels.

    Memory is the peak of the whole comparison on a large corpus, so the per-window arrays are one
    uint64 key (sorted in place), an int32 count and a few booleans, and the uint32 code points are
    dropped once hashed.
    """
    empty = np.zeros(0, dtype=np.int64)
    codes, seg_start = _concatenate(ordered)
    n = len(codes)
    n_windows = n - k + 1
    if n_windows <= 0:
        return empty, empty

    # Eligible window starts: the window lies inside one segment and holds a letter, digit or CJK.
    lengths = np.diff(seg_start)
    inside = np.maximum(lengths - k + 1, 0)
    spans = np.stack((inside, lengths - inside), axis=1).ravel()
    valid = np.repeat(np.tile(np.array([True, False]), len(lengths)), spans)[:n_windows]
    present = np.zeros(int(codes.max()) + 1, dtype=bool)
    present[codes] = True
    is_word = np.zeros_like(present)
    is_word[[c for c in np.flatnonzero(present).tolist() if chr(c).isalnum()]] = True
    count_type = np.int32 if n < 2**31 - 1 else np.int64
    word_sum = _running_count(is_word[codes], count_type)
    valid &= word_sum[k:] > word_sum[:-k]
    del word_sum, present, is_word
    n_valid = int(np.count_nonzero(valid))
    if n_valid < 2:
        return empty, empty

    key = np.zeros(n_windows, dtype=np.uint64)
    for j in range(k):  # in place: no temporaries the size of the corpus
        np.multiply(key, _HASH_BASE, out=key)
        np.add(key, codes[j : j + n_windows], out=key)
    del codes

    # One sortable uint64 per window: the high bits of the hash (after a mixing step: the high bits of
    # a polynomial hash alone collide often), then the label, then the window start. Sorting it groups
    # equal hashes with their labels and keeps the positions, as an argsort would at three times the
    # cost. Fewer hash bits only mean more collisions, which add text to the runs but never change the
    # passages found.
    pos_bits = max(int(n_windows - 1).bit_length(), 1)
    label_bits = max(int(label_of.max()).bit_length(), 1)
    low = pos_bits + label_bits
    hash_unit = np.uint64(1 << low)
    high = np.uint64(((1 << 64) - 1) ^ ((1 << low) - 1))
    window_label = np.repeat(label_of.astype(np.min_scalar_type(int(label_of.max()))), lengths)
    shift = np.uint64(pos_bits)
    for start in range(0, n_windows, _CHUNK):  # chunks: the temporaries stay small
        part = key[start : start + _CHUNK]
        _mix(part)
        part &= high
        np.minimum(part, high - hash_unit, out=part)  # the all-ones hash is kept for ineligible windows
        part |= np.arange(start, start + len(part), dtype=np.uint64)
        part |= window_label[start : start + len(part)].astype(np.uint64) << shift
    key[~valid] = high  # ineligible windows sort last and are cut off below
    del valid, window_label
    key.sort()
    key = key[:n_valid]

    # A hash is shared when its group (equal high bits) holds two labels. Neighbours are compared a
    # chunk at a time so that no second corpus-sized uint64 array exists.
    new_hash = np.empty(n_valid - 1, dtype=bool)
    other_label = np.empty(n_valid - 1, dtype=bool)
    label_unit = np.uint64(1 << pos_bits)
    for start in range(0, n_valid - 1, _CHUNK):
        stop = min(start + _CHUNK, n_valid - 1)
        step = key[start + 1 : stop + 1] ^ key[start:stop]
        np.greater_equal(step, hash_unit, out=new_hash[start:stop])
        np.greater_equal(step, label_unit, out=other_label[start:stop])
    other_label &= ~new_hash
    group = _running_count(new_hash, count_type)  # group number of each window
    del new_hash
    shared = np.zeros(int(group[-1]) + 1, dtype=bool)
    shared[group[1:][other_label]] = True
    del other_label
    kept = key[shared[group]]
    del group, key
    kept &= np.uint64((1 << pos_bits) - 1)
    kept = np.sort(kept).astype(np.int64)
    if kept.size == 0:
        return empty, empty
    # A run ends at a gap or at the end of a segment (no gap there when k = 1).
    segment = np.searchsorted(seg_start, kept, side="right")
    breaks = np.flatnonzero((np.diff(kept) != 1) | (np.diff(segment) != 0))
    firsts = np.concatenate((kept[:1], kept[breaks + 1]))
    lasts = np.concatenate((kept[breaks], kept[-1:]))
    return firsts, lasts


def _running_count(flags: np.ndarray, dtype: type[np.integer]) -> np.ndarray:
    """``out[i]``: how many of ``flags[:i]`` are true (``len(flags) + 1`` values).

    By chunks: ``np.cumsum(flags, dtype=..., out=...)`` would first cast all of ``flags`` to ``dtype``
    in a temporary as large as the result.
    """
    out = np.zeros(len(flags) + 1, dtype=dtype)
    carry = 0
    for start in range(0, len(flags), _CHUNK):
        part = out[start + 1 : start + 1 + _CHUNK]
        np.cumsum(flags[start : start + _CHUNK], dtype=dtype, out=part)
        part += carry
        carry = int(part[-1])
    return out


def _mix(x: np.ndarray) -> None:
    """SplitMix64's finaliser, in place: every output bit depends on every input bit (a bijection)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)


def _reduced_text(
    codes: np.ndarray, seg_start: np.ndarray, firsts: np.ndarray, lasts: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs' characters joined by unique separators, with each position's segment and offset
    (-1 at separators)."""
    lengths = lasts + k - firsts
    width = lengths + 1  # a run and its separator
    out_start = np.zeros(len(firsts), dtype=np.int64)
    np.cumsum(width[:-1], out=out_start[1:])
    separators = out_start + lengths
    source = np.arange(int(out_start[-1] + width[-1]), dtype=np.int64)  # corpus position of each
    source += np.repeat(firsts - out_start, width)
    source[separators] = 0
    text = codes[source].astype(np.int32)  # code points and separators stay below 2**31
    text[separators] = _SEPARATOR_BASE + np.arange(len(firsts))
    run_seg = np.searchsorted(seg_start, firsts, side="right") - 1
    rseg = np.repeat(run_seg, width)
    rseg[separators] = -1
    roff = source - seg_start[rseg]
    roff[separators] = -1
    return text, rseg, roff


def _suffix_array(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Suffix array by prefix doubling and ``lcp[i] = LCP(sa[i-1], sa[i])`` (``lcp[0] = 0``).

    ``ranks[t][p]`` ranks the 2**t-character prefix of suffix p; equal ranks mean equal prefixes,
    which lets the LCP of all adjacent pairs be computed at once by binary lifting. Ranks are int32
    (they are below the text length).
    """
    n = len(text)
    dtype = np.int32 if n < 2**31 - 1 else np.int64
    rank = np.unique(text, return_inverse=True)[1].reshape(-1).astype(dtype)
    ranks = [rank]
    step = 1
    while int(rank.max()) < n - 1:
        # Sort by (rank of the first half, rank of the second half) as one int64 key; a suffix
        # shorter than the step has an empty second half, which sorts first.
        key = rank.astype(np.int64) * (n + 1)
        key[: n - step] += rank[step:] + 1
        order = np.argsort(key)
        key = key[order]
        boundary = np.zeros(n, dtype=dtype)
        boundary[1:] = key[1:] != key[:-1]
        del key
        rank = np.empty(n, dtype=dtype)
        rank[order] = np.cumsum(boundary, dtype=dtype)
        del order, boundary
        ranks.append(rank)
        step *= 2
    sa = np.empty(n, dtype=np.int64)
    sa[rank] = np.arange(n)  # all ranks distinct: the inverse permutation
    ranks.pop()  # all distinct: never equal, not needed for the LCP

    lcp = np.zeros(n, dtype=dtype)
    a, b = sa[:-1].copy(), sa[1:].copy()
    length = lcp[1:]
    for t in range(len(ranks) - 1, -1, -1):
        padded = np.concatenate((ranks.pop(), np.array([-1], dtype=dtype)))
        equal = padded[np.minimum(a, n)] == padded[np.minimum(b, n)]
        jump = equal.astype(np.int64) << t
        length += jump.astype(dtype)
        a += jump
        b += jump
    return sa, lcp


def _maximal_intervals(
    sa: np.ndarray,
    lcp: np.ndarray,
    text: np.ndarray,
    rseg: np.ndarray,
    roff: np.ndarray,
    label_of: np.ndarray,
    ordered: Sequence[Segment],
    labels: list[str],
    k: int,
) -> list[ReuseRow]:
    """Walk the LCP intervals of depth ≥ k (bottom-up, Abouelhoda et al. 2004) and keep the
    label-maximal ones.

    Each interval's label set is a bit mask built from its children's, so it is known without
    rescanning its occurrences. The right extensions of an interval are its child intervals (and
    single occurrences), so it is right-maximal when no child has as many labels; only those
    intervals are scanned for left extensions.
    """
    deep = np.flatnonzero(lcp >= k)
    if deep.size == 0:
        return []
    rlab = np.where(rseg >= 0, label_of[np.maximum(rseg, 0)], -1)
    lcp_l = lcp.tolist()
    bit_l = rlab[sa].tolist()

    found: list[tuple[int, int, int, int]] = []  # depth, lb, rb, label mask
    breaks = np.flatnonzero(np.diff(deep) != 1)
    block_firsts = np.concatenate(([deep[0]], deep[breaks + 1])).tolist()
    block_lasts = np.concatenate((deep[breaks], [deep[-1]])).tolist()
    for first, last in zip(block_firsts, block_lasts, strict=True):
        stack: list[list[int]] = []  # open intervals: depth, lb, label mask so far, most labels of a child
        for i in range(first, last + 2):
            current = lcp_l[i] if i <= last else 0
            lb = i - 1
            mask = 1 << bit_l[i - 1]  # suffix i - 1 lies in the deepest open interval
            child = 0
            while stack and current < stack[-1][0]:
                depth, lb, own, widest = stack.pop()
                mask |= own
                labels_n = mask.bit_count()
                if labels_n >= 2 and max(widest, child) < labels_n:
                    found.append((depth, lb, i - 1, mask))
                child = labels_n
            if stack and current == stack[-1][0]:
                top = stack[-1]
                top[2] |= mask
                top[3] = max(top[3], child)
            elif current >= k:
                stack.append([current, lb, mask, child])
    if not found:
        return []

    # Occurrences of all candidate intervals at once. An interval is left-maximal unless the
    # occurrences after one same character hold all of its labels: count the labels after each
    # (interval, character) pair with one sort instead of a dictionary per interval.
    depths, lbs, rbs, masks = zip(*found, strict=True)
    lb_a = np.array(lbs, dtype=np.int64)
    sizes = np.array(rbs, dtype=np.int64) - lb_a + 1
    starts = np.zeros(len(found) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    positions = sa[np.arange(int(starts[-1]), dtype=np.int64) + np.repeat(lb_a - starts[:-1], sizes)]
    interval = np.repeat(np.arange(len(found)), sizes)
    left = np.where(positions > 0, text[np.maximum(positions - 1, 0)], -1)  # -1: nothing before
    label = rlab[positions]
    order = np.lexsort((label, left, interval))
    interval_s, left_s, label_s = interval[order], left[order], label[order]
    new_pair = np.ones(order.size, dtype=bool)
    new_pair[1:] = (interval_s[1:] != interval_s[:-1]) | (left_s[1:] != left_s[:-1])
    new_label = new_pair.copy()
    new_label[1:] |= label_s[1:] != label_s[:-1]
    pair_start = np.flatnonzero(new_pair)
    labels_after = np.add.reduceat(new_label.astype(np.int64), pair_start)
    pair_interval = interval_s[pair_start]
    first_pair = np.flatnonzero(np.concatenate(([True], pair_interval[1:] != pair_interval[:-1])))
    widest_left = np.maximum.reduceat(labels_after, first_pair)  # every interval has a pair
    n_labels = np.array([mask.bit_count() for mask in masks], dtype=np.int64)
    keep = np.flatnonzero(widest_left < n_labels).tolist()
    del interval, left, order, interval_s, left_s, label_s, new_pair, new_label

    starts_l = starts.tolist()
    lab_l = label.tolist()
    seg_l = rseg[positions].tolist()
    first_l = positions[starts[:-1]].tolist()
    unattributed = labels.index("") if "" in labels else -1
    regions_of: dict[int, tuple[str, ...]] = {}  # label mask -> named regions, sorted

    rows: list[ReuseRow] = []
    for c in keep:
        depth, mask = depths[c], masks[c]
        a, b = starts_l[c], starts_l[c + 1]
        start = int(roff[first_l[c]])
        passage = ordered[int(rseg[first_l[c]])].text[start : start + depth]
        if not any(ch.isalnum() for ch in passage):
            continue
        segs = seg_l[a:b]
        regions = regions_of.get(mask)
        if regions is None:
            in_mask = (i for i in range(len(labels)) if mask >> i & 1 and i != unattributed)
            regions = regions_of[mask] = tuple(labels[i] for i in in_mask)
        rows.append(
            ReuseRow(
                passage=passage,
                length=depth,
                regions=regions,
                segments=tuple(ordered[s].segment_id for s in sorted(set(segs))),
                regions_n=len(regions),
                occurrences=b - a,
                unattributed=len({s for s, lab in zip(segs, lab_l[a:b], strict=True) if lab == unattributed}),
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# writers


def _joined(values: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(values)


def write_adoption(out_dir: Path, rows: Iterable[AdoptionRow], matrix: AdoptionMatrix | None = None) -> None:
    """Write ``adoption.csv`` (long) and, when given, ``adoption_matrix.csv`` (phrase × region)."""
    write_csv(Path(out_dir) / "adoption.csv", AdoptionRow._fields, rows)
    if matrix is not None:
        write_csv(Path(out_dir) / "adoption_matrix.csv", matrix.header, matrix.rows())


def write_keyness(out_dir: Path, rows: Iterable[KeynessRow]) -> None:
    """Write ``keyness.csv``."""
    write_csv(Path(out_dir) / "keyness.csv", KeynessRow._fields, rows)


def write_diffusion(out_dir: Path, rows: Iterable[DiffusionRow]) -> None:
    """Write ``diffusion.csv``; region lists are joined with ``;``."""
    # Plain tuples, not NamedTuple._replace: a Python-level call per row costs more than the writing.
    write_csv(
        Path(out_dir) / "diffusion.csv",
        DiffusionRow._fields,
        ((*r[:9], _joined(r.first_regions), _joined(r.using)) for r in rows),
    )


def write_reuse(out_dir: Path, rows: Iterable[ReuseRow]) -> None:
    """Write ``reuse.csv``; region and segment lists are joined with ``;``."""
    write_csv(
        Path(out_dir) / "reuse.csv",
        ReuseRow._fields,
        ((r.passage, r.length, _joined(r.regions), _joined(r.segments), *r[4:]) for r in rows),
    )


def _phrase(text: str) -> Phrase:
    """A minimal Phrase for doctests."""
    return Phrase(phrase=text, kind="user", variants=(text,), count=0, segments=0, regions=(), score=0.0)
