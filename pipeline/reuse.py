"""Shared passages: text found verbatim in the reports of two or more regions (``reuse.csv``).

Copied paragraphs are the plainest sign of diffusion: a region repeating another's wording, or every
region repeating the centre's. The search is over characters, with no phrases or words needed, so it
runs beside the phrase stage. Hashed windows of ``min_chars`` characters pick the text that can be
shared at all; a suffix array of that text gives the maximal shared passages.

Unattributed text (a reporter's lead paragraph) takes part: a passage shared by a region and an
unattributed text is exactly what the reader wants to see; it is counted in the ``unattributed``
column instead of appearing as an empty name in ``regions``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pipeline.compare import LIST_SEPARATOR, gc_paused, segment_index
from pipeline.io_utils import write_csv
from pipeline.records import Segment
from pipeline.suffix import suffix_array

__all__ = ["ReuseRow", "shared_passages", "write_reuse"]


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


_HASH_BASE = np.uint64(0x100000001B3)  # FNV-1 64-bit prime; arithmetic wraps modulo 2**64
_SEPARATOR_BASE = 0x110000  # above every Unicode code point: separators never match text
_CHUNK = 1 << 20  # windows per step where a whole-corpus uint64 temporary would be needed
_PART_WINDOWS = 1 << 23  # windows whose keys are sorted in one pass (64 MB of keys)
_LIST_ROWS = 1 << 20  # suffix-array rows walked as Python lists at a time


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
       suffix array with LCP values (libdivsufsort and Kasai's algorithm, compiled: pipeline.suffix);
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
    ordered = sorted(segment_index(segments).values(), key=lambda s: s.segment_id)
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
    sa, lcp = suffix_array(text)
    with gc_paused():  # tens of thousands of short-lived tuples and lists
        rows = _maximal_intervals(sa, lcp, text, rseg, roff, label_of, ordered, labels, min_chars)
    rows.sort(key=lambda r: (-r.length, r.passage, r.segments))
    return rows


def _concatenate(ordered: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray]:
    """All texts back to back as UTF-32 code points (uint32, 4 bytes a character), and where each
    segment starts (``seg_start[-1]`` is the total length). Filled segment by segment: the corpus is
    never one string as well."""
    lengths = np.fromiter((len(s.text) for s in ordered), dtype=np.int64, count=len(ordered))
    seg_start = np.zeros(len(ordered) + 1, dtype=np.int64)
    np.cumsum(lengths, out=seg_start[1:])
    codes = np.empty(int(seg_start[-1]), dtype=np.uint32)
    for segment, start, stop in zip(ordered, seg_start[:-1].tolist(), seg_start[1:].tolist(), strict=True):
        codes[start:stop] = np.frombuffer(segment.text.encode("utf-32-le"), dtype=np.uint32)
    return codes, seg_start


def _shared_runs(ordered: Sequence[Segment], label_of: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs ``firsts[i]..lasts[i]`` of window starts (positions in the texts of ``ordered`` put
    back to back) whose k-gram occurs under two or more labels.

    Memory is the peak of the whole comparison on a large corpus, so it is bounded: besides the code
    points (4 bytes a character) and a flag and a label a window, the windows are hashed ``_CHUNK`` at a
    time and grouped in ``parts`` passes, each holding the sortable keys (8 bytes) of the windows whose
    hash falls in its share of the hash space (about ``_PART_WINDOWS`` windows): equal hashes always
    fall in the same pass, so the passes find exactly what one pass over all windows would.
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
    for start in range(0, n_windows, _CHUNK):  # a running count per chunk: no corpus-sized counts
        stop = min(start + _CHUNK, n_windows)
        word_sum = _running_count(is_word[codes[start : stop + k - 1]], np.int32)
        valid[start:stop] &= word_sum[k : k + stop - start] > word_sum[: stop - start]
    del word_sum, present, is_word
    n_valid = int(np.count_nonzero(valid))
    if n_valid < 2:
        return empty, empty

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
    # The pass of a window is a function of the hash's top 16 bits, which are hash bits (low < 48).
    parts = max(1, -(-n_valid // _PART_WINDOWS)) if low <= 48 else 1
    kept = []
    for part in range(parts):
        keys = []
        for start in range(0, n_windows, _CHUNK):  # chunks: the temporaries stay small
            stop = min(start + _CHUNK, n_windows)
            key = np.zeros(stop - start, dtype=np.uint64)
            for j in range(k):  # in place: no further temporaries
                np.multiply(key, _HASH_BASE, out=key)
                np.add(key, codes[start + j : stop + j], out=key)
            _mix(key)
            key &= high
            np.minimum(key, high - hash_unit, out=key)
            chosen = valid[start:stop]
            if parts > 1:
                chosen = chosen & ((key >> np.uint64(48)) % np.uint64(parts) == part)
            at = np.flatnonzero(chosen)
            key = key[at]
            key |= (at + start).astype(np.uint64)
            key |= window_label[at + start].astype(np.uint64) << shift
            keys.append(key)
        key = np.concatenate(keys)
        del keys
        key.sort()
        kept.append(_shared_windows(key, hash_unit, np.uint64(1 << pos_bits), pos_bits))
        del key
    del codes, valid, window_label
    kept = np.sort(np.concatenate(kept)).astype(np.int64)
    if kept.size == 0:
        return empty, empty
    # A run ends at a gap or at the end of a segment (no gap there when k = 1).
    segment = np.searchsorted(seg_start, kept, side="right")
    breaks = np.flatnonzero((np.diff(kept) != 1) | (np.diff(segment) != 0))
    firsts = np.concatenate((kept[:1], kept[breaks + 1]))
    lasts = np.concatenate((kept[breaks], kept[-1:]))
    return firsts, lasts


def _shared_windows(
    key: np.ndarray, hash_unit: np.uint64, label_unit: np.uint64, pos_bits: int
) -> np.ndarray:
    """The window starts of the sorted ``key`` whose hash group holds two labels or more."""
    n_valid = len(key)
    if n_valid < 2:
        return np.zeros(0, dtype=np.uint64)
    # A hash is shared when its group (equal high bits) holds two labels. Neighbours are compared a
    # chunk at a time so that no second uint64 array of the windows exists.
    count_type = np.int32 if n_valid < 2**31 - 1 else np.int64
    new_hash = np.empty(n_valid - 1, dtype=bool)
    other_label = np.empty(n_valid - 1, dtype=bool)
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
    return key[shared[group]] & np.uint64((1 << pos_bits) - 1)


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

    found: list[tuple[int, int, int, int]] = []  # depth, lb, rb, label mask
    breaks = np.flatnonzero(np.diff(deep) != 1)
    block_firsts = np.concatenate(([deep[0]], deep[breaks + 1])).tolist()
    block_lasts = np.concatenate((deep[breaks], [deep[-1]])).tolist()
    window = (0, -1)  # the stretch of lcp and labels (by suffix-array row) held as Python lists
    for first, last in zip(block_firsts, block_lasts, strict=True):
        if last + 1 > window[1]:  # as lists a stretch of rows at a time: lists of all are 36 bytes a row
            window = (first - 1, max(last + 1, first - 1 + _LIST_ROWS))
            lcp_l = lcp[window[0] : window[1] + 1].tolist()
            bit_l = rlab[sa[window[0] : window[1] + 1]].tolist()
        base = window[0]
        stack: list[list[int]] = []  # open intervals: depth, lb, label mask so far, most labels of a child
        for i in range(first, last + 2):
            current = lcp_l[i - base] if i <= last else 0
            lb = i - 1
            mask = 1 << bit_l[i - 1 - base]  # suffix i - 1 lies in the deepest open interval
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


def write_reuse(out_dir: Path, rows: Iterable[ReuseRow]) -> None:
    """Write ``reuse.csv``; region and segment lists are joined with ``;``."""
    write_csv(
        Path(out_dir) / "reuse.csv",
        ReuseRow._fields,
        (
            (r.passage, r.length, LIST_SEPARATOR.join(r.regions), LIST_SEPARATOR.join(r.segments), *r[4:])
            for r in rows
        ),
    )
