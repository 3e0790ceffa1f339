"""Compare regions: phrase adoption, distinctive phrases, diffusion over time.

Every function here is pure: it takes the plain records of :mod:`pipeline.records` and returns sorted
rows (``NamedTuple`` s whose field names are the CSV header). Files are written only by the
``write_*`` functions at the bottom, each taking an output directory.

Unattributed text (``Segment.region == ""``, e.g. a reporter's lead paragraph) is *left out* of
:func:`adoption`, :func:`keyness` and :func:`diffusion`: it is not a region, and an empty region key
turns into NaN in pandas and R. (Passages shared verbatim between texts are found by
:mod:`pipeline.reuse`.)

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import pairwise, repeat
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np

from pipeline.io_utils import write_csv
from pipeline.records import Hit, HitTable, Phrase, Segment, pick
from pipeline.tables import CHUNK_ROWS, write_rows

__all__ = [
    "AdoptionMatrix",
    "AdoptionRow",
    "DiffusionRow",
    "HitCounts",
    "KeynessRow",
    "adoption",
    "adoption_matrix",
    "count_hits",
    "diffusion",
    "iter_adoption",
    "iter_diffusion",
    "iter_keyness",
    "keyness",
    "write_adoption",
    "write_diffusion",
    "write_keyness",
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
    index = segment_index(segments)
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
    table = HitTable.of(hits)  # then map its numbering of segments and phrases onto this one
    seg_of = np.fromiter(map(seg_at.get, table.segment_ids, repeat(-1)), np.int64, len(table.segment_ids))
    seg = seg_of[table.segment]
    if seg.size and seg.min() < 0:
        first = int(np.argmax(seg < 0))  # the first, as a loop over the hits would report
        raise ValueError(
            f"hit of {table.names[table.phrase[first]]!r} names unknown segment_id"
            f" {table.segment_ids[table.segment[first]]!r}"
        )
    phrase_of = np.fromiter(map(phrase_at.get, table.names, repeat(-1)), np.int64, len(table.names))
    phrase = phrase_of[table.phrase]
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


def segment_index(segments: Iterable[Segment]) -> dict[str, Segment]:
    """Segments by id; a repeated id raises ``ValueError``."""
    index: dict[str, Segment] = {}
    for segment in segments:
        if segment.segment_id in index:
            raise ValueError(f"duplicate segment_id {segment.segment_id!r}")
        index[segment.segment_id] = segment
    return index


def _vocabulary(phrases: Iterable[Phrase]) -> list[str]:
    return sorted({p.phrase for p in phrases})


_Row = TypeVar("_Row", bound=tuple)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building rows (or writing rows built as they are written).

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
    with gc_paused():
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
    counted again. :func:`iter_adoption` gives the same rows a chunk at a time.

    >>> seg = Segment("s1", "a.txt", "上海", "", "", 2017, "增强四个意识。")
    >>> rows = adoption([seg], [Hit("四个意识", "s1", 0, 2, 6)], [_phrase("四个意识")])
    >>> [(r.region, r.year, r.count, round(r.per_10k, 1)) for r in rows]
    [('上海', None, 1, 1428.6), ('上海', 2017, 1, 1428.6)]
    """
    return list(iter_adoption(segments, hits, phrases, include_zero=include_zero, counts=counts))


def iter_adoption(
    segments: Sequence[Segment],
    hits: HitTable | Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    include_zero: bool = True,
    counts: HitCounts | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[AdoptionRow]:
    """The rows of :func:`adoption`, in its order, built about ``chunk_rows`` at a time (a region-year
    is never split): a writer consuming them never holds all of them."""
    c = counts if counts is not None else count_hits(segments, hits, phrases)
    n_phrases, n_years = len(c.vocabulary), len(c.years)
    # Cells are (region, slot) with text, slot 0 for all years and 1 + y for year y; np.nonzero
    # walks them row by row, so they come sorted as the rows are.
    chars = np.concatenate((c.region_chars[:, None], c.year_chars), axis=1)
    cell_region, cell_slot = np.nonzero(chars > 0)
    if cell_region.size == 0 or n_phrases == 0:
        return
    cell_chars = chars[cell_region, cell_slot]
    every = np.arange(n_phrases)
    pieces: list[tuple[int, np.ndarray, np.ndarray]] = []  # (cell, phrase indices, counts)
    held = 0
    for cell, (region, slot) in enumerate(zip(cell_region.tolist(), cell_slot.tolist(), strict=True)):
        if slot == 0:
            phrase = every if include_zero else np.flatnonzero(c.total[region])
            found = c.total[region, phrase]
        else:  # the sorted keys of this region-year are one run of ``cells``
            first = (region * n_years + slot - 1) * n_phrases
            low, high = np.searchsorted(c.cells, (first, first + n_phrases)).tolist()
            phrase, found = c.cells[low:high] - first, c.cell_counts[low:high]
            if include_zero:
                dense = np.zeros(n_phrases, dtype=np.int64)
                dense[phrase] = found
                phrase, found = every, dense
        pieces.append((cell, phrase, found))
        held += len(phrase)
        if held >= chunk_rows:
            yield from _adoption_rows(c, cell_chars, cell_region, cell_slot, pieces)
            pieces, held = [], 0
    if pieces:
        yield from _adoption_rows(c, cell_chars, cell_region, cell_slot, pieces)


def _adoption_rows(
    c: HitCounts,
    cell_chars: np.ndarray,
    cell_region: np.ndarray,
    cell_slot: np.ndarray,
    pieces: Sequence[tuple[int, np.ndarray, np.ndarray]],
) -> list[AdoptionRow]:
    entry_cell = np.concatenate([np.full(len(phrase), cell) for cell, phrase, _ in pieces])
    entry_phrase = np.concatenate([phrase for _, phrase, _ in pieces])
    entry_count = np.concatenate([found for _, _, found in pieces])
    entry_chars = cell_chars[entry_cell]
    # Exact integers divided in float64: the same correctly rounded value as count * PER / chars.
    rate = (entry_count * PER) / entry_chars
    return _rows(
        AdoptionRow,
        pick(c.regions, cell_region[entry_cell]),
        pick((None, *c.years), cell_slot[entry_cell]),
        pick(c.vocabulary, entry_phrase),
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
    with gc_paused():
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
    top: int | None = None,
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
    every score). Rows are sorted by region, then score descending, then phrase; ``top`` keeps the first
    ``top`` of each region. ``counts`` as for :func:`adoption`; :func:`iter_keyness` gives the same rows
    a few regions at a time.

    Regions are scored a few at a time on their rows of the region × phrase matrix, with the same
    operations in the same order per element as a loop over the regions would do, so the floats are
    the same however many are scored at once.

    Raises:
        ValueError: ``prior_scale`` not positive, or ``reference`` names a region with no text.
    """
    return list(
        iter_keyness(
            segments,
            hits,
            phrases,
            reference=reference,
            prior_scale=prior_scale,
            min_count=min_count,
            counts=counts,
            top=top,
        )
    )


def iter_keyness(
    segments: Sequence[Segment],
    hits: HitTable | Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    reference: Iterable[str] | None = None,
    prior_scale: float | None = None,
    min_count: int = 0,
    counts: HitCounts | None = None,
    chunk_rows: int = CHUNK_ROWS,
    top: int | None = None,
) -> Iterator[KeynessRow]:
    """The rows of :func:`keyness`, in its order, scored ``chunk_rows`` matrix cells (whole regions,
    at least one) at a time. The arguments are checked at the first row asked for."""
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
        return
    y_int = c.total[np.ix_(with_text, used)]
    y_w = y_int.sum(axis=0).astype(float)  # exact integers: the float sum of the float counts
    n = y_w.sum()
    a0 = n / len(regions) if prior_scale is None else float(prior_scale)
    alpha = a0 * y_w / n

    # Reference counts: the reference regions' sum minus the region itself when it is one of them
    # (integers, so exact whatever the order of summation).
    in_reference = np.array([reference_set is None or r in reference_set for r in regions])
    scored = np.flatnonzero(in_reference.sum() - in_reference > 0)  # regions with a reference left
    reference_total = y_int[in_reference].sum(axis=0)
    step = max(1, chunk_rows // len(used))
    for first in range(0, scored.size, step):
        chunk = scored[first : first + step]
        y_i_int = y_int[chunk]
        y_j_int = reference_total - y_i_int * in_reference[chunk, None]
        y_i, y_j = y_i_int.astype(float), y_j_int.astype(float)
        delta = _log_odds(y_i, alpha, a0) - _log_odds(y_j, alpha, a0)
        variance = 1.0 / (y_i + alpha) + 1.0 / (y_j + alpha)
        score = delta / np.sqrt(variance)

        # Score descending within each region, ties in phrase (column) order: a stable sort of -score.
        order = np.argsort(-score, axis=1, kind="stable")
        flat = (order + (np.arange(chunk.size) * len(used))[:, None]).ravel()
        flat = flat[y_i_int.ravel()[flat] >= min_count]
        if top is not None:  # the first rows of each region (flat runs region by region)
            first_of_region = np.searchsorted(flat // len(used), flat // len(used))
            flat = flat[np.arange(len(flat)) - first_of_region < top]
        row, column = np.divmod(flat, len(used))
        yield from _rows(
            KeynessRow,
            pick(regions, chunk[row]),
            pick(c.vocabulary, used[column]),
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
    dated text. Rows are sorted by phrase, then year. ``counts`` as for :func:`adoption`;
    :func:`iter_diffusion` gives the same rows a few phrases at a time.
    """
    return list(iter_diffusion(segments, hits, phrases, counts=counts))


def iter_diffusion(
    segments: Sequence[Segment],
    hits: HitTable | Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    counts: HitCounts | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[DiffusionRow]:
    """The rows of :func:`diffusion`, in its order, built about ``chunk_rows`` at a time (whole phrases)."""
    c = counts if counts is not None else count_hits(segments, hits, phrases)
    n_regions, n_phrases = len(c.regions), len(c.vocabulary)
    has_text = c.year_chars > 0
    year_has_text = has_text.any(axis=0)
    years = [year for year, ok in zip(c.years, year_has_text.tolist(), strict=True) if ok]
    if not years or not n_phrases:
        return
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
    bounds = np.concatenate(([0], np.cumsum(using_n)))

    # A region has adopted a phrase from the first year it used it on.
    by_region = np.sort((phrase * n_regions + region) * n_years + year)
    del region, year, phrase, kept
    first = np.ones(by_region.size, dtype=bool)
    first[1:] = by_region[1:] // n_years != by_region[:-1] // n_years
    adopted = np.bincount(
        (by_region[first] // (n_regions * n_years)) * n_years + by_region[first] % n_years,
        minlength=n_phrases * n_years,
    )
    del by_region, first
    adopted = adopted.reshape(n_phrases, n_years).cumsum(axis=1).ravel()

    used_cell = using_n.reshape(n_phrases, n_years) > 0
    first_t = used_cell.argmax(axis=1)
    seen = used_cell.any(axis=1)
    step = max(1, chunk_rows // n_years)
    for low in range(0, n_phrases, step):
        high = min(low + step, n_phrases)
        rows = slice(low * n_years, high * n_years)
        cut = bounds[low * n_years : high * n_years + 1]
        names = pick(c.regions, by_cell[cut[0] : cut[-1]] % n_regions)
        with gc_paused():
            using = [tuple(names[a:b]) for a, b in pairwise((cut - cut[0]).tolist())]
        first_years = [
            years[t] if ok else None
            for t, ok in zip(first_t[low:high].tolist(), seen[low:high].tolist(), strict=True)
        ]
        first_regions = [
            using[p * n_years + t] if ok else ()
            for p, (t, ok) in enumerate(zip(first_t[low:high].tolist(), seen[low:high].tolist(), strict=True))
        ]
        with_text_all = np.tile(with_text, high - low)
        observed_all = np.tile(observed, high - low)
        # Exact integers divided in float64: the same correctly rounded values as int / int.
        yield from _rows(
            DiffusionRow,
            pick(c.vocabulary, np.repeat(np.arange(low, high), n_years)),
            years * (high - low),
            using_n[rows].tolist(),
            with_text_all.tolist(),
            (using_n[rows] / with_text_all).tolist(),
            adopted[rows].tolist(),
            observed_all.tolist(),
            (adopted[rows] / observed_all).tolist(),
            [value for value in first_years for _ in range(n_years)],
            [value for value in first_regions for _ in range(n_years)],
            using,
        )


# ---------------------------------------------------------------------------------------------
# writers


def _joined(values: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(values)


def write_adoption(
    out_dir: Path,
    rows: Iterable[AdoptionRow],
    matrix: AdoptionMatrix | None = None,
    *,
    table_format: str = "csv",
) -> None:
    """Write ``adoption.csv`` (long; ``adoption.parquet`` with ``table_format`` parquet) and, when
    given, ``adoption_matrix.csv`` (phrase × region)."""
    with gc_paused():  # rows built while writing: see _rows
        write_rows(Path(out_dir) / "adoption.csv", AdoptionRow._fields, rows, table_format=table_format)
    if matrix is not None:
        write_csv(Path(out_dir) / "adoption_matrix.csv", matrix.header, matrix.rows())


def write_keyness(out_dir: Path, rows: Iterable[KeynessRow]) -> None:
    """Write ``keyness.csv`` (in chunks of rows: ``rows`` may be an iterator of any length)."""
    with gc_paused():  # rows built while writing: see _rows
        write_rows(Path(out_dir) / "keyness.csv", KeynessRow._fields, rows)


def write_diffusion(
    out_dir: Path, rows: Iterable[DiffusionRow], *, centre_first_year: Mapping[str, int | None] | None = None
) -> None:
    """Write ``diffusion.csv``, in chunks of rows; region lists are joined with ``;``.

    ``centre_first_year`` (runs with a reference, ``pipeline.echo``): each phrase's first year in the
    centre's texts, written as a last column ``centre_first_year`` (empty where the centre never says it).
    """
    # Plain tuples, not NamedTuple._replace: a Python-level call per row costs more than the writing.
    plain = ((*r[:9], _joined(r.first_regions), _joined(r.using)) for r in rows)
    header: tuple[str, ...] = DiffusionRow._fields
    if centre_first_year is not None:
        header = (*header, "centre_first_year")
        plain = ((*row, centre_first_year.get(row[0])) for row in plain)
    with gc_paused():  # rows built while writing: see _rows
        write_rows(Path(out_dir) / "diffusion.csv", header, plain)


def _phrase(text: str) -> Phrase:
    """A minimal Phrase for doctests."""
    return Phrase(phrase=text, kind="user", variants=(text,), count=0, segments=0, regions=(), score=0.0)
