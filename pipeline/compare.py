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
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pipeline.io_utils import write_csv
from pipeline.records import Hit, Phrase, Segment

__all__ = [
    "AdoptionMatrix",
    "AdoptionRow",
    "DiffusionRow",
    "KeynessRow",
    "ReuseRow",
    "adoption",
    "adoption_matrix",
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


def _segment_index(segments: Iterable[Segment]) -> dict[str, Segment]:
    index: dict[str, Segment] = {}
    for segment in segments:
        if segment.segment_id in index:
            raise ValueError(f"duplicate segment_id {segment.segment_id!r}")
        index[segment.segment_id] = segment
    return index


def _vocabulary(phrases: Iterable[Phrase]) -> list[str]:
    return sorted({p.phrase for p in phrases})


def _chars(segments: Iterable[Segment]) -> tuple[Counter[str], Counter[tuple[str, int]]]:
    """Characters per region (all years) and per (region, year), attributed text only."""
    total: Counter[str] = Counter()
    by_year: Counter[tuple[str, int]] = Counter()
    for segment in segments:
        if not segment.region or not segment.text:
            continue
        total[segment.region] += len(segment.text)
        if segment.year is not None:
            by_year[(segment.region, segment.year)] += len(segment.text)
    return total, by_year


def _hit_counts(
    index: dict[str, Segment], hits: Iterable[Hit], vocabulary: set[str]
) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, int, str]]]:
    """Hits per (region, phrase) and per (region, year, phrase), attributed text only."""
    total: Counter[tuple[str, str]] = Counter()
    by_year: Counter[tuple[str, int, str]] = Counter()
    for hit in hits:
        segment = index.get(hit.segment_id)
        if segment is None:
            raise ValueError(f"hit of {hit.phrase!r} names unknown segment_id {hit.segment_id!r}")
        if hit.phrase not in vocabulary or not segment.region:
            continue
        total[(segment.region, hit.phrase)] += 1
        if segment.year is not None:
            by_year[(segment.region, segment.year, hit.phrase)] += 1
    return total, by_year


def _rate(count: int, chars: int) -> float:
    return count * PER / chars


# ---------------------------------------------------------------------------------------------
# adoption


def adoption(
    segments: Sequence[Segment],
    hits: Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    include_zero: bool = True,
) -> list[AdoptionRow]:
    """Hits and rate per 10,000 characters of every phrase in every region, overall and per year.

    For each region with text there is one row per phrase with ``year`` None (all of its text, dated
    or not), then one row per phrase for each year in which the region has text. A region with no text
    in a year has no rows for that year: missing, not zero. With ``include_zero=False`` only rows with
    ``count > 0`` are kept (then absence no longer distinguishes "no text" from "not used").
    Unattributed segments are left out. Rows are sorted by region, year (overall first), phrase.

    >>> seg = Segment("s1", "a.txt", "上海", "", "", 2017, "增强四个意识。")
    >>> rows = adoption([seg], [Hit("四个意识", "s1", 0, 2, 6)], [_phrase("四个意识")])
    >>> [(r.region, r.year, r.count, round(r.per_10k, 1)) for r in rows]
    [('上海', None, 1, 1428.6), ('上海', 2017, 1, 1428.6)]
    """
    vocabulary = _vocabulary(phrases)
    index = _segment_index(segments)
    chars_total, chars_year = _chars(index.values())
    counts_total, counts_year = _hit_counts(index, hits, set(vocabulary))
    years_of: dict[str, list[int]] = defaultdict(list)
    for region, year in sorted(chars_year):
        years_of[region].append(year)

    rows: list[AdoptionRow] = []
    for region in sorted(chars_total):
        chars = chars_total[region]
        for phrase in vocabulary:
            count = counts_total[(region, phrase)]
            if count or include_zero:
                rows.append(AdoptionRow(region, None, phrase, count, _rate(count, chars), chars))
        for year in years_of[region]:
            chars = chars_year[(region, year)]
            for phrase in vocabulary:
                count = counts_year[(region, year, phrase)]
                if count or include_zero:
                    rows.append(AdoptionRow(region, year, phrase, count, _rate(count, chars), chars))
    return rows


def adoption_matrix(
    segments: Sequence[Segment], hits: Iterable[Hit], phrases: Iterable[Phrase]
) -> AdoptionMatrix:
    """Phrase × region hit counts over all years (regions with text, sorted; phrases sorted)."""
    vocabulary = _vocabulary(phrases)
    index = _segment_index(segments)
    chars_total, _ = _chars(index.values())
    counts_total, _ = _hit_counts(index, hits, set(vocabulary))
    regions = tuple(sorted(chars_total))
    counts = tuple(tuple(counts_total[(r, p)] for r in regions) for p in vocabulary)
    return AdoptionMatrix(regions=regions, phrases=tuple(vocabulary), counts=counts)


# ---------------------------------------------------------------------------------------------
# keyness


def keyness(
    segments: Sequence[Segment],
    hits: Iterable[Hit],
    phrases: Iterable[Phrase],
    *,
    reference: Iterable[str] | None = None,
    prior_scale: float | None = None,
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
    are scored too. Rows are sorted by region, then score descending, then phrase.

    Raises:
        ValueError: ``prior_scale`` not positive, or ``reference`` names a region with no text.
    """
    vocabulary = _vocabulary(phrases)
    index = _segment_index(segments)
    chars_total, _ = _chars(index.values())
    counts_total, _ = _hit_counts(index, hits, set(vocabulary))
    regions = sorted(chars_total)
    reference_set = None if reference is None else set(reference)
    if reference_set is not None:
        unknown = sorted(reference_set - set(regions))
        if unknown:
            raise ValueError(f"reference regions with no text: {', '.join(unknown)}")
    if prior_scale is not None and not prior_scale > 0:
        raise ValueError(f"prior_scale must be positive, got {prior_scale}")

    corpus = Counter[str]()
    for (_, phrase), count in counts_total.items():
        corpus[phrase] += count
    used = [p for p in vocabulary if corpus[p] > 0]
    if len(used) < 2 or not regions:
        return []
    y = np.array([[counts_total[(r, p)] for p in used] for r in regions], dtype=float)
    y_w = y.sum(axis=0)
    n = y_w.sum()
    a0 = n / len(regions) if prior_scale is None else float(prior_scale)
    alpha = a0 * y_w / n

    rows: list[KeynessRow] = []
    for i, region in enumerate(regions):
        others = [
            j for j, r in enumerate(regions) if r != region and (reference_set is None or r in reference_set)
        ]
        if not others:
            continue
        y_i = y[i]
        y_j = y[others].sum(axis=0)
        delta = _log_odds(y_i, alpha, a0) - _log_odds(y_j, alpha, a0)
        variance = 1.0 / (y_i + alpha) + 1.0 / (y_j + alpha)
        score = delta / np.sqrt(variance)
        rows.extend(
            KeynessRow(
                region, p, int(y_i[k]), float(score[k]), float(delta[k]), float(variance[k]), int(y_j[k])
            )
            for k, p in enumerate(used)
        )
    rows.sort(key=lambda r: (r.region, -r.score, r.phrase))
    return rows


def _log_odds(y: np.ndarray, alpha: np.ndarray, a0: float) -> np.ndarray:
    return np.log(y + alpha) - np.log(y.sum() + a0 - y - alpha)


# ---------------------------------------------------------------------------------------------
# diffusion


def diffusion(
    segments: Sequence[Segment], hits: Iterable[Hit], phrases: Iterable[Phrase]
) -> list[DiffusionRow]:
    """Adoption curve of every phrase over the years: who used it each year, who had by then.

    Only dated, attributed text counts. There is one row per phrase and per year in which any region
    has text (empty when no segment has a year). ``first_year`` is the earliest year with a hit and
    ``first_regions`` the regions using the phrase that year; both are empty for a phrase never seen in
    dated text. Rows are sorted by phrase, then year.
    """
    vocabulary = _vocabulary(phrases)
    index = _segment_index(segments)
    _, chars_year = _chars(index.values())
    _, counts_year = _hit_counts(index, hits, set(vocabulary))
    years = sorted({year for _, year in chars_year})
    with_text: dict[int, set[str]] = defaultdict(set)
    for region, year in chars_year:
        with_text[year].add(region)
    users: dict[tuple[str, int], set[str]] = defaultdict(set)
    for (region, year, phrase), count in counts_year.items():
        if count:
            users[(phrase, year)].add(region)

    rows: list[DiffusionRow] = []
    for phrase in vocabulary:
        first_year = next((year for year in years if users.get((phrase, year))), None)
        first_regions = tuple(sorted(users[(phrase, first_year)])) if first_year is not None else ()
        adopted: set[str] = set()
        observed: set[str] = set()
        for year in years:
            using = users.get((phrase, year), set())
            adopted |= using
            observed |= with_text[year]
            rows.append(
                DiffusionRow(
                    phrase=phrase,
                    year=year,
                    regions_using=len(using),
                    regions_with_text=len(with_text[year]),
                    share_using=len(using) / len(with_text[year]),
                    adopted_cumulative=len(adopted),
                    regions_observed_cumulative=len(observed),
                    share_adopted_cumulative=len(adopted) / len(observed),
                    first_year=first_year,
                    first_regions=first_regions,
                    using=tuple(sorted(using)),
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------
# shared passages

_HASH_BASE = np.uint64(0x100000001B3)  # FNV-1 64-bit prime; arithmetic wraps modulo 2**64
_SEPARATOR_BASE = 0x110000  # above every Unicode code point: separators never match text


def shared_passages(segments: Sequence[Segment], *, min_chars: int = 15) -> list[ReuseRow]:
    """Maximal passages of at least ``min_chars`` characters found verbatim in two or more regions.

    A passage is reported when its occurrences lie in segments of at least two *labels*, where each
    region is a label and all unattributed text is one more label (so a region and a lead paragraph
    count, two lead paragraphs do not). It must be maximal for that: no passage one character longer
    (on either side) occurs in the same set of labels, so one shared paragraph is one row, not every
    window of it; a shorter passage inside it is reported separately only when more regions share it.

    Algorithm (never compares sentence pairs; about linear in the corpus size):

    1. every ``min_chars``-character window gets a 64-bit polynomial hash (numpy, vectorised);
       windows with no letter, digit or CJK character are ineligible, so whitespace and punctuation
       runs are never reported;
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
    label_of = np.array([labels.index(s.region) for s in ordered], dtype=np.int64)
    if len(labels) < 2:
        return []

    codes, seg_of = _concatenate(ordered)
    runs = _shared_runs(codes, seg_of, label_of, min_chars)
    if not runs:
        return []
    text, rseg, roff = _reduced_text(codes, seg_of, runs, min_chars)
    sa, lcp = _suffix_array(text)
    rows = _maximal_intervals(sa, lcp, text, rseg, roff, label_of, ordered, labels, min_chars)
    rows.sort(key=lambda r: (-r.length, r.passage, r.segments))
    return rows


def _concatenate(ordered: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray]:
    """All texts as code points, each followed by a -1 separator, and each position's segment."""
    pieces: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    separator = np.array([-1], dtype=np.int64)
    for i, segment in enumerate(ordered):
        chars = np.frombuffer(segment.text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        pieces += [chars, separator]
        owners.append(np.full(len(chars) + 1, i, dtype=np.int64))
    return np.concatenate(pieces), np.concatenate(owners)


def _shared_runs(
    codes: np.ndarray, seg_of: np.ndarray, label_of: np.ndarray, k: int
) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of window starts whose k-gram occurs under two or more labels."""
    n_windows = len(codes) - k + 1
    if n_windows <= 0:
        return []
    is_sep = codes < 0
    uniq, inverse = np.unique(codes, return_inverse=True)
    is_word = np.array([c >= 0 and chr(c).isalnum() for c in uniq.tolist()], dtype=bool)[inverse]
    sep_sum = np.concatenate(([0], np.cumsum(is_sep)))
    word_sum = np.concatenate(([0], np.cumsum(is_word)))
    valid = (sep_sum[k:] - sep_sum[:-k] == 0) & (word_sum[k:] - word_sum[:-k] > 0)

    values = codes.astype(np.uint64)  # separators wrap to large values; their windows are invalid
    hashes = np.zeros(n_windows, dtype=np.uint64)
    for j in range(k):
        hashes = hashes * _HASH_BASE + values[j : j + n_windows]

    starts = np.flatnonzero(valid)
    if starts.size == 0:
        return []
    h = hashes[starts]
    lab = label_of[seg_of[starts]]
    order = np.lexsort((lab, h))
    hs, ls = h[order], lab[order]
    first_of_pair = np.ones(len(hs), dtype=bool)
    first_of_pair[1:] = (hs[1:] != hs[:-1]) | (ls[1:] != ls[:-1])
    pair_hashes = hs[first_of_pair]  # one entry per (hash, label), sorted by hash
    multi = pair_hashes[1:][pair_hashes[1:] == pair_hashes[:-1]]
    kept = starts[np.isin(h, multi)]
    if kept.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(kept) != 1)
    firsts = np.concatenate(([kept[0]], kept[breaks + 1]))
    lasts = np.concatenate((kept[breaks], [kept[-1]]))
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


def _reduced_text(
    codes: np.ndarray, seg_of: np.ndarray, runs: list[tuple[int, int]], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs' characters joined by unique separators, with each position's segment and offset."""
    seg_start = np.zeros(int(seg_of[-1]) + 1, dtype=np.int64)
    change = np.flatnonzero(np.diff(seg_of)) + 1
    seg_start[seg_of[change]] = change
    pieces: list[np.ndarray] = []
    segs: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    for number, (first, last) in enumerate(runs):
        end = last + k
        seg = int(seg_of[first])
        pieces += [codes[first:end], np.array([_SEPARATOR_BASE + number], dtype=np.int64)]
        segs += [np.full(end - first, seg, dtype=np.int64), np.array([-1], dtype=np.int64)]
        offsets += [np.arange(first, end, dtype=np.int64) - seg_start[seg], np.array([-1], dtype=np.int64)]
    return np.concatenate(pieces), np.concatenate(segs), np.concatenate(offsets)


def _suffix_array(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Suffix array by prefix doubling and ``lcp[i] = LCP(sa[i-1], sa[i])`` (``lcp[0] = 0``).

    ``ranks[t][p]`` ranks the 2**t-character prefix of suffix p; equal ranks mean equal prefixes,
    which lets the LCP of all adjacent pairs be computed at once by binary lifting.
    """
    n = len(text)
    rank = np.unique(text, return_inverse=True)[1].astype(np.int64).reshape(-1)
    ranks = [rank]
    step = 1
    while int(rank.max()) < n - 1:
        second = np.full(n, -1, dtype=np.int64)
        second[: n - step] = rank[step:]
        order = np.lexsort((second, rank))
        r1, r2 = rank[order], second[order]
        boundary = np.zeros(n, dtype=np.int64)
        boundary[1:] = (r1[1:] != r1[:-1]) | (r2[1:] != r2[:-1])
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.cumsum(boundary)
        ranks.append(rank)
        step *= 2
    sa = np.argsort(rank, kind="stable")

    lcp = np.zeros(n, dtype=np.int64)
    a, b = sa[:-1].copy(), sa[1:].copy()
    length = np.zeros(n - 1, dtype=np.int64)
    for t in range(len(ranks) - 2, -1, -1):  # the last ranks are all distinct: never equal
        padded = np.concatenate((ranks[t], [-1]))
        equal = padded[np.minimum(a, n)] == padded[np.minimum(b, n)]
        jump = equal.astype(np.int64) << t
        length += jump
        a += jump
        b += jump
    lcp[1:] = length
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
    label-maximal ones."""
    deep = np.flatnonzero(lcp >= k)
    if deep.size == 0:
        return []
    sa_l = sa.tolist()
    lcp_l = lcp.tolist()
    text_l = text.tolist()
    rseg_l = rseg.tolist()
    rlab_l = np.where(rseg >= 0, label_of[np.maximum(rseg, 0)], -1).tolist()
    unattributed = labels.index("") if "" in labels else -1
    rows: list[ReuseRow] = []

    def emit(depth: int, lb: int, rb: int) -> None:
        occurrences = sa_l[lb : rb + 1]
        found = {rlab_l[p] for p in occurrences}
        if len(found) < 2:
            return
        for shift in (depth, -1):  # right, then left one-character extensions
            by_char: dict[int, set[int]] = defaultdict(set)
            for p in occurrences:
                q = p + shift
                by_char[text_l[q] if q >= 0 else -1 - p].add(rlab_l[p])
            if any(len(group) == len(found) for group in by_char.values()):
                return
        first = occurrences[0]
        start = int(roff[first])
        passage = ordered[rseg_l[first]].text[start : start + depth]
        if not any(ch.isalnum() for ch in passage):
            return
        seg_ids = sorted({ordered[rseg_l[p]].segment_id for p in occurrences})
        unattributed_segments = {rseg_l[p] for p in occurrences if rlab_l[p] == unattributed}
        regions = tuple(sorted(labels[label] for label in found if label != unattributed))
        rows.append(
            ReuseRow(
                passage=passage,
                length=depth,
                regions=regions,
                segments=tuple(seg_ids),
                regions_n=len(regions),
                occurrences=len(occurrences),
                unattributed=len(unattributed_segments),
            )
        )

    breaks = np.flatnonzero(np.diff(deep) != 1)
    block_firsts = np.concatenate(([deep[0]], deep[breaks + 1])).tolist()
    block_lasts = np.concatenate((deep[breaks], [deep[-1]])).tolist()
    for first, last in zip(block_firsts, block_lasts, strict=True):
        stack: list[tuple[int, int]] = []
        for i in range(first, last + 2):
            current = lcp_l[i] if i <= last else 0
            lb = i - 1
            while stack and current < stack[-1][0]:
                depth, lb = stack.pop()
                emit(depth, lb, i - 1)
            if current >= k and (not stack or current > stack[-1][0]):
                stack.append((current, lb))
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
    write_csv(
        Path(out_dir) / "diffusion.csv",
        DiffusionRow._fields,
        (r._replace(first_regions=_joined(r.first_regions), using=_joined(r.using)) for r in rows),
    )


def write_reuse(out_dir: Path, rows: Iterable[ReuseRow]) -> None:
    """Write ``reuse.csv``; region and segment lists are joined with ``;``."""
    write_csv(
        Path(out_dir) / "reuse.csv",
        ReuseRow._fields,
        (r._replace(regions=_joined(r.regions), segments=_joined(r.segments)) for r in rows),
    )


def _phrase(text: str) -> Phrase:
    """A minimal Phrase for doctests."""
    return Phrase(phrase=text, kind="user", variants=(text,), count=0, segments=0, regions=(), score=0.0)
