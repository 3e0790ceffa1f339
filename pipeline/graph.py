"""Phrase co-occurrence graph: which formulas travel together, grouped into themes, exported for Gephi.

Nodes are the best-ranked phrases (the order of ``phrases.csv``); an edge joins two phrases that occur in
the same window (a sentence by default, or a whole segment) *as distinct formulas*. Counting is by window:
``weight`` is the number of windows in which both phrases occur apart, a node's ``windows`` the number of
windows in which it occurs.

Parts of one longer phrase are not two formulas. Two occurrences are *joined* when they overlap or are at
most ``join_gap`` characters apart (全面建成 + 小康社会, 三个代表 + ”重要思想, 高端化 + 、智能化). In a window,
two phrases occur *apart* when each has an occurrence joined to no occurrence of the other. A pair is
never an edge when one phrase contains the other (any written form), nor when they are joined in most of
the windows in which both occur: such pairs are halves of one fixed phrase, not phrases that travel
together.

Association, with ``N`` the number of windows holding at least one hit of any listed phrase, ``n_a`` and
``n_b`` the windows of each phrase and ``n_ab`` the edge weight (all written on every edge;
``GraphSettings.association`` picks the one edges are ranked by):

* ``npmi`` — normalised pointwise mutual information (Bouma 2009),
  ``log(N * n_ab / (n_a * n_b)) / -log(n_ab / N)``, at most 1: 0 is chance (and the value for
  two phrases found in every window), 1 means the two always occur together.
* ``jaccard`` — ``n_ab / (n_a + n_b - n_ab)``, in [0, 1], KH Coder's default coefficient.
* ``llr`` — Dunning's log-likelihood ratio G² of the 2 × 2 table: how sure it is that the pair is not
  chance (10.83 is p < 0.001 with one degree of freedom), signed: negative below chance.

Filtering keeps significant pairs only, so rare pairs do not dominate (NPMI alone rates two phrases seen
once, together, as perfectly associated) and frequent ones are not lost (a ranking by co-occurrence count
alone is all frequent phrases): a pair is an edge candidate when it occurs apart in at least
``min_edge_weight`` windows, with ``|llr|`` at least ``min_llr`` and the ranking score at least
``min_association`` (0 by default: no pair below chance). Each phrase then keeps its ``edges_per_node`` strongest edges (an edge stays when it
is among the strongest of either end), which ties every considered phrase to its closest companions and
gives one connected core instead of a few dense cliques; ``top_edges`` caps the total. Phrases left
without an edge are dropped.

Themes are communities (networkx's Louvain, fixed seed, ``resolution`` in the settings), numbered by size
and named by their most central phrases (most co-occurrences inside the theme). :func:`theme_tables`
gives ``themes.csv`` and ``theme_adoption.csv``; :func:`write_dynamic_gexf` writes the graph with a
spell per run of years in which a phrase (or a pair) is used, for Gephi's timeline.

:func:`write_graphml` and :func:`write_gexf` apply the "Gephi-safe" rules of DESIGN.md to any undirected
graph: ``label`` and a numeric ``weight``, no data named like a Gephi visual property, one scalar type per
key, no None/NaN/inf, characters XML 1.0 forbids removed from ids, names and values, nodes and edges sorted
so the same graph gives byte-identical files.
"""

from __future__ import annotations

import io
import itertools
import math
import numbers
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple
from xml.etree import ElementTree as ET

import networkx as nx
import numpy as np

from pipeline.figures import cjk_pyplot
from pipeline.io_utils import atomic_write, write_csv
from pipeline.records import Hit, HitTable, Phrase, Segment
from pipeline.regions import lookup

__all__ = [
    "DEFAULT_SETTINGS",
    "GEPHI_RESERVED",
    "GraphSettings",
    "ThemeAdoptionRow",
    "ThemeRow",
    "Timeline",
    "build_bipartite_graph",
    "build_graph",
    "draw_preview",
    "gephi_safe",
    "strip_xml_illegal",
    "theme_tables",
    "write_dynamic_gexf",
    "write_gexf",
    "write_graphml",
    "write_themes",
]

Window = Literal["sentence", "segment"]
Association = Literal["npmi", "jaccard", "llr"]

GEPHI_RESERVED: frozenset[str] = frozenset(
    {"size", "x", "y", "z", "r", "g", "b", "color"}  # DESIGN.md: Gephi turns these into visuals
    | {"id", "start", "end", "startopen", "endopen", "fixed", "alpha", "pid", "type", "viz"}
)
"""Data names Gephi's importers (or GEXF's own XML attributes) take over; compared case-insensitively."""

# Everything outside XML 1.0's Char production: C0 controls but tab/LF/CR, surrogates, U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_ROUND = 6  # decimals kept for association scores: stable text across platforms


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """Options of the co-occurrence graph; the defaults give a few hundred nodes on a large corpus.

    * ``window``: "sentence" (default) or "segment" — what counts as occurring together.
    * ``min_node_count`` (2): phrases seen fewer times (``Phrase.count``) are not nodes.
    * ``max_phrases`` (300): only the best-ranked formulas (``role`` formula) that pass ``min_node_count``
      are considered
      (KH Coder likewise picks its words before linking them); this is what bounds the graph.
    * ``join_gap`` (2): occurrences that overlap or are at most this many characters apart are parts of
      one longer phrase (-1: only overlapping ones).
    * ``min_edge_weight`` (3): pairs seen apart in fewer windows are not edges.
    * ``min_llr`` (10.83: p < 0.001): pairs whose log-likelihood ratio is smaller (in absolute value)
      are not edges.
    * ``association`` ("npmi") and ``min_association`` (0.0) pick and bound the score edges are ranked by.
    * ``edges_per_node`` (5): each phrase keeps its strongest edges (0: all significant edges);
      ``top_edges`` (1000, ``None``: no cap) keeps that many of the strongest in all.
    * ``keep_isolates`` (False): keep considered phrases left without an edge.
    * ``seed`` (42) and ``resolution`` (1.0) for Louvain; ``theme_name_phrases`` (3) name a theme.
    * ``bipartite_phrases`` (100): phrases in the region–phrase graph.
    """

    window: Window = "sentence"
    min_node_count: int = 2
    min_edge_weight: int = 3
    min_association: float = 0.0
    min_llr: float = 10.83
    edges_per_node: int = 5
    top_edges: int | None = 1000
    association: Association = "npmi"
    max_phrases: int | None = 300
    join_gap: int = 2
    keep_isolates: bool = False
    seed: int = 42
    resolution: float = 1.0
    theme_name_phrases: int = 3
    bipartite_phrases: int = 100

    def __post_init__(self) -> None:
        if self.window not in ("sentence", "segment"):
            raise ValueError(f"window must be 'sentence' or 'segment', not {self.window!r}")
        if self.association not in ("npmi", "jaccard", "llr"):
            raise ValueError(f"association must be 'npmi', 'jaccard' or 'llr', not {self.association!r}")
        if self.min_node_count < 1 or self.min_edge_weight < 1:
            raise ValueError("min_node_count and min_edge_weight must be at least 1")
        if self.top_edges is not None and self.top_edges < 0:
            raise ValueError("top_edges must be None or non-negative")
        if self.edges_per_node < 0 or self.join_gap < -1 or self.theme_name_phrases < 1:
            raise ValueError("edges_per_node must be >= 0, join_gap >= -1, theme_name_phrases >= 1")
        if self.bipartite_phrases < 0:
            raise ValueError("bipartite_phrases must be non-negative")
        if self.resolution <= 0:
            raise ValueError("resolution must be positive")


DEFAULT_SETTINGS = GraphSettings()


# ----------------------------------------------------------------------------------------------------
# Building


def build_graph(
    phrases: Sequence[Phrase],
    hits: HitTable | Iterable[Hit],
    segments: Sequence[Segment],
    *,
    settings: GraphSettings = DEFAULT_SETTINGS,
) -> nx.Graph:
    """Build the phrase co-occurrence graph: phrases as nodes, co-occurrence apart in a window as edges.

    ``phrases`` are in rank order; node ids follow it (``p0001`` is the first phrase) whatever the filters,
    so an id means the same phrase as the row of ``phrases.csv``. Hits of phrases not listed are ignored;
    a hit in a segment not listed raises ``ValueError``. Node data: ``label`` (the phrase), ``kind``,
    ``rank``, ``count``, ``segments``, ``regions_n``, ``regions`` (``;``-joined), ``windows``,
    ``community``, ``theme`` (its name), ``centrality`` (co-occurrences inside its theme), ``degree``,
    ``weighted_degree`` and, where texts have years, ``years`` (``;``-joined) and ``first_year``. Edge
    data: ``weight`` (windows shared apart), ``npmi``, ``jaccard``, ``llr``. ``graph.graph`` records
    ``window``, ``association``, ``seed``, ``windows`` (N) and ``timeline`` (:class:`Timeline`: uses per
    year of each node and edge, for :func:`write_dynamic_gexf`).

    >>> seg = Segment("s1", "a.txt", "上海", "", "", None, "推进高端化、智能化、绿色化。坚持高端化，推进数字化。")
    >>> ps = [Phrase("高端化、智能化、绿色化", "enumeration", (), 1, 1, ("上海",), 1.0),
    ...       Phrase("高端化", "statistical", (), 2, 1, ("上海",), 1.0),
    ...       Phrase("数字化", "statistical", (), 1, 1, ("上海",), 1.0)]
    >>> hs = [Hit("高端化、智能化、绿色化", "s1", 0, 2, 13), Hit("高端化", "s1", 0, 2, 5),
    ...       Hit("高端化", "s1", 1, 16, 19), Hit("数字化", "s1", 1, 22, 25)]
    >>> loose = GraphSettings(min_node_count=1, min_edge_weight=1, min_llr=0)
    >>> g = build_graph(ps, hs, [seg], settings=loose)
    >>> [(g.nodes[u]["label"], g.nodes[v]["label"], d["weight"]) for u, v, d in g.edges(data=True)]
    [('高端化', '数字化', 1)]
    """
    ranked = _rank(phrases)
    table = _as_table(hits, segments)
    # Formulas only: statistics labels, boilerplate, fragments, verb frames and terms stay in phrases.csv.
    candidates = [
        index
        for index, phrase in ranked.values()
        if phrase.count >= settings.min_node_count and phrase.role == "formula"
    ]
    candidates = candidates[: settings.max_phrases]
    occurrences = _occurrences(table, ranked, settings.window, keep=candidates)
    present = np.unique(occurrences.window * (len(phrases) + 1) + occurrences.phrase)
    n_windows = occurrences.windows
    # Windows of each candidate (the other phrases' occurrences are not kept: 0).
    node_windows = np.bincount(present % (len(phrases) + 1), minlength=len(phrases)).tolist()
    counts = _cooccurrence(occurrences, candidates, settings.join_gap)
    by_index = {index: phrase for index, phrase in ranked.values()}
    edges = _select_edges(
        _scored_edges(counts, candidates, by_index, node_windows, n_windows, settings), settings
    )

    width = _id_width(len(phrases))
    node_ids = candidates if settings.keep_isolates else sorted({i for a, b, _ in edges for i in (a, b)})
    graph = nx.Graph(
        window=settings.window, association=settings.association, windows=n_windows, seed=settings.seed
    )
    for index in node_ids:
        phrase = by_index[index]
        graph.add_node(
            _phrase_id(index, width), **_phrase_attributes(phrase, index), windows=node_windows[index]
        )
    for a, b, data in sorted(edges, key=lambda edge: edge[:2]):
        graph.add_edge(_phrase_id(a, width), _phrase_id(b, width), **data)
    _add_structure(graph, settings)
    _add_themes(graph, settings)
    timeline = _timeline(occurrences, table, segments, node_ids, edges, width, settings.join_gap)
    graph.graph["timeline"] = timeline
    for index in node_ids:
        years = sorted(timeline.nodes.get(_phrase_id(index, width), {}))
        if years:
            node = graph.nodes[_phrase_id(index, width)]
            node["years"] = ";".join(map(str, years))
            node["first_year"] = years[0]
    return graph


def _phrase_attributes(phrase: Phrase, index: int) -> dict[str, object]:
    """A phrase node's data, the same in both graphs (``index``: its rank - 1 in phrases.csv)."""
    return {
        "label": phrase.phrase,
        "kind": phrase.kind,
        "rank": index + 1,
        "count": phrase.count,
        "segments": phrase.segments,
        "regions_n": phrase.regions_n,
        "regions": ";".join(phrase.regions),
    }


def build_bipartite_graph(
    phrases: Sequence[Phrase],
    hits: HitTable | Iterable[Hit],
    segments: Sequence[Segment],
    *,
    settings: GraphSettings = DEFAULT_SETTINGS,
) -> nx.Graph:
    """Build the region–phrase graph: an edge per region and phrase it uses, weighted by hit count.

    Takes the first ``settings.bipartite_phrases`` phrases (rank order) with at least
    ``settings.min_node_count`` hits. Phrase nodes keep the ids and data of :func:`build_graph`; region
    nodes are ``r_`` plus the English name (``r_inner_mongolia``). Every node has ``part`` ("region" or
    "phrase"), ``label``, ``kind`` ("region" for regions), ``rank`` (0 for regions), ``count`` (hits),
    ``segments``, ``regions_n``, ``regions``, ``community``, ``degree`` and ``weighted_degree``. Edges
    carry ``weight`` (hits) and ``per_10k`` (hits per 10,000 characters of the region's text). Hits in
    text without a region are left out.
    """
    ranked = _rank(phrases)
    chosen = [(i, p) for i, p in ranked.values() if p.count >= settings.min_node_count]
    chosen = chosen[: settings.bipartite_phrases]
    chosen_index = {i for i, _ in chosen}
    region_chars: Counter[str] = Counter()
    region_segments: Counter[str] = Counter()
    for segment in segments:
        if segment.region:
            region_chars[segment.region] += len(segment.text)
            region_segments[segment.region] += 1

    table = _as_table(hits, segments)
    region_of = {s.segment_id: s.region for s in segments}
    regions = sorted({region_of[segment_id] for segment_id in table.segment_ids} - {""})
    region_number = {region: number for number, region in enumerate(regions)}
    segment_region = np.asarray([region_number.get(region_of[i], -1) for i in table.segment_ids], np.int64)
    rank = _rank_index(table, ranked)
    wanted = np.zeros(len(phrases) + 1, dtype=bool)  # last slot: phrases not listed (index -1)
    wanted[sorted(chosen_index)] = True
    found: Counter[int] = Counter()  # region * len(phrases) + phrase: hits, counted a block at a time
    for low in range(0, len(table), _HITS_PER_BLOCK):
        at = slice(low, low + _HITS_PER_BLOCK)
        hit_region, hit_phrase = segment_region[table.segment[at]], rank[table.phrase[at]]
        keep = wanted[hit_phrase] & (hit_region >= 0)
        pairs, n_uses = np.unique(hit_region[keep] * len(phrases) + hit_phrase[keep], return_counts=True)
        found.update(dict(zip(pairs.tolist(), n_uses.tolist(), strict=True)))
    uses: Counter[tuple[str, int]] = Counter(
        {(regions[pair // len(phrases)], pair % len(phrases)): n for pair, n in sorted(found.items())}
    )

    width = _id_width(len(phrases))
    region_ids = _region_ids(sorted({region for region, _ in uses}))
    region_count: Counter[str] = Counter()
    for (region, _), n in uses.items():
        region_count[region] += n

    graph = nx.Graph(bipartite=True, seed=settings.seed)
    for region, node in sorted(region_ids.items(), key=lambda item: item[1]):
        graph.add_node(
            node,
            part="region",
            label=region,
            kind="region",
            rank=0,
            count=region_count[region],
            segments=region_segments[region],
            regions_n=1,
            regions=region,
        )
    used = {index for _, index in uses}
    for index, phrase in chosen:
        if index in used:
            graph.add_node(_phrase_id(index, width), part="phrase", **_phrase_attributes(phrase, index))
    for (region, index), n in sorted(uses.items(), key=lambda item: (region_ids[item[0][0]], item[0][1])):
        per_10k = round(n * 10_000 / region_chars[region], 4)
        graph.add_edge(region_ids[region], _phrase_id(index, width), weight=n, per_10k=per_10k)
    _add_structure(graph, settings)
    return graph


def _rank(phrases: Sequence[Phrase]) -> dict[str, tuple[int, Phrase]]:
    """Map each phrase string to its (rank index, record); a repeated string keeps its first, best rank."""
    ranked: dict[str, tuple[int, Phrase]] = {}
    for index, phrase in enumerate(phrases):
        ranked.setdefault(phrase.phrase, (index, phrase))
    return ranked


def _as_table(hits: HitTable | Iterable[Hit], segments: Sequence[Segment]) -> HitTable:
    """Hits as columns; a hit in a segment not listed raises ``ValueError``."""
    table = HitTable.of(hits)
    known = {segment.segment_id for segment in segments}
    listed = np.asarray([segment_id in known for segment_id in table.segment_ids], dtype=bool)
    if not listed[table.segment].all():
        first = int(np.argmin(listed[table.segment]))
        raise ValueError(
            f"hit of {table.names[table.phrase[first]]!r} in unknown segment"
            f" {table.segment_ids[table.segment[first]]!r}"
        )
    return table


def _rank_index(table: HitTable, ranked: Mapping[str, tuple[int, Phrase]]) -> np.ndarray:
    """For each of the table's phrase names, its rank index in ``ranked`` (-1: not listed)."""
    return np.asarray([ranked[name][0] if name in ranked else -1 for name in table.names], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class _Occurrences:
    """The hits of listed phrases, one row each, ordered by window, start, end, phrase."""

    window: np.ndarray  # window id: segment * stride + sentence (sentence 0 for segment windows)
    phrase: np.ndarray  # rank index
    start: np.ndarray
    end: np.ndarray
    segment: np.ndarray  # index into the table's segment_ids
    covered_to: np.ndarray  # furthest end of any listed phrase's hit starting at or before this one
    windows: int = 0  # windows holding a hit of any listed phrase (kept or not)


# Hits taken at once (whole segments when finding the occurrences): bounds the temporary arrays.
_HITS_PER_BLOCK = 500_000


def _occurrences(
    table: HitTable,
    ranked: Mapping[str, tuple[int, Phrase]],
    window: Window,
    keep: Sequence[int] | None = None,
) -> _Occurrences:
    """The occurrences of the listed phrases, only of those in ``keep`` (rank indices) when given.

    ``covered_to`` and ``windows`` take every listed phrase's hits into account, kept or not. Both
    depend only on the hits of one segment, so the hits are read a block of whole segments at a time
    (about ``_HITS_PER_BLOCK``): no temporary array is as long as the table, only the kept rows are.
    """
    rank = _rank_index(table, ranked)
    kept = None  # which rank indices are kept (None: all)
    if keep is not None:
        kept = np.zeros(max(int(rank.max(initial=-1)), max(keep, default=-1)) + 1, dtype=bool)
        kept[np.asarray(keep, dtype=np.int64)] = True
    sentences = 0  # window ids: segment * (largest sentence index of a listed hit + 1) + sentence
    if window == "sentence":
        for low in range(0, len(table), _HITS_PER_BLOCK):
            at = slice(low, low + _HITS_PER_BLOCK)
            sentences = max(sentences, int(table.sentence[at][rank[table.phrase[at]] >= 0].max(initial=0)))
    segment_end = np.cumsum(np.bincount(table.segment, minlength=len(table.segment_ids)))
    cuts = segment_end[np.searchsorted(segment_end, np.arange(_HITS_PER_BLOCK, len(table), _HITS_PER_BLOCK))]
    by_segment = np.argsort(table.segment, kind="stable")
    n_windows = 0
    parts: list[tuple[np.ndarray, ...]] = []
    for low, high in itertools.pairwise(np.unique([0, *cuts.tolist(), len(table)]).tolist()):
        rows = by_segment[low:high]
        phrase = rank[table.phrase[rows]]
        listed = phrase >= 0
        rows, phrase = rows[listed], phrase[listed]
        segment, start, end = table.segment[rows], table.start[rows], table.end[rows]
        sentence = table.sentence[rows] if window == "sentence" else np.zeros(len(rows), dtype=np.int64)
        window_id = segment * (sentences + 1) + sentence
        n_windows += len(np.unique(window_id))
        stride = int(end.max(initial=0)) + 1
        by_start = np.lexsort((start, segment))
        reach = np.maximum.accumulate((segment * stride + end)[by_start])
        at = np.searchsorted((segment * stride + start)[by_start], segment * stride + start, side="right") - 1
        covered_to = reach[at] - segment * stride
        wanted = slice(None) if kept is None else kept[phrase]
        parts.append(tuple(column[wanted] for column in (window_id, phrase, start, end, segment, covered_to)))
    empty = np.zeros(0, dtype=np.int64)
    window_id, phrase, start, end, segment, covered_to = (
        np.concatenate([empty, *columns]) for columns in zip(*parts, strict=True)
    ) if parts else (empty,) * 6
    order = np.lexsort((phrase, end, start, window_id))
    return _Occurrences(
        window_id[order], phrase[order], start[order], end[order], segment[order], covered_to[order], n_windows
    )


@dataclass(frozen=True, eq=False)
class _Counts:
    """Per group (all windows, or one year) and pair of candidates: symmetric ``(groups, n, n)`` arrays."""

    both: np.ndarray  # windows in which both phrases occur
    joined: np.ndarray  # ... in which an occurrence of one touches or overlaps one of the other
    apart: np.ndarray  # ... in which each has an occurrence joined to none of the other: the edge weight


# Pairs formed at once when counting: bounds the memory of the pair arrays (8 bytes each, a few arrays).
_PAIRS_PER_BATCH = 4_000_000


def _cooccurrence(
    occurrences: _Occurrences,
    candidates: Sequence[int],
    join_gap: int,
    group: np.ndarray | None = None,
    n_groups: int = 1,
) -> _Counts:
    """Count, for each pair of candidates, the windows where they occur: together, joined and apart.

    Occurrences are first chained into *stretches*: an occurrence joins the stretch before it when it
    overlaps or is at most ``join_gap`` characters after one of its occurrences, or when one hit of any
    listed phrase covers it and the occurrence before it (高端化、智能化、绿色化 and 以邓小平理论、“三个代表”
    重要思想、科学发展观为指导 are one stretch each). Two phrases are *joined* in a window when a stretch holds
    both, *apart* when each is in a stretch without the other.

    ``group`` gives each occurrence row a group (its window's year; -1: left out), ``None`` puts every
    row in group 0. Arrays are indexed by position in ``candidates``; the diagonal is meaningless.
    """
    size = max(len(candidates), 1)
    position = np.full(max(int(occurrences.phrase.max(initial=-1)), max(candidates, default=-1)) + 1, -1)
    position[np.asarray(candidates, dtype=np.int64)] = np.arange(len(candidates))
    where = position[occurrences.phrase]
    row_group = np.zeros(len(where), dtype=np.int64) if group is None else group
    keep = (where >= 0) & (row_group >= 0)
    window, where, row_group = occurrences.window[keep], where[keep], row_group[keep]
    start, end, covered_to = occurrences.start[keep], occurrences.end[keep], occurrences.covered_to[keep]

    # Stretches: rows are ordered by start within a window, so a row extends the stretch before it when
    # it starts within join_gap of the furthest end so far, or ends within the reach of a covering hit.
    stride = int(end.max(initial=0)) + join_gap + 2
    furthest = np.maximum.accumulate(window * stride + end) if len(end) else end
    same = np.diff(window) == 0
    extends = same & (
        (window[1:] * stride + start[1:] <= furthest[:-1] + join_gap) | (covered_to[:-1] >= end[1:])
    )
    stretch = np.cumsum(np.concatenate([[True], ~extends])[: len(window)]) - 1

    cells = _Cells.of(window, where, row_group, window, size)  # (window, phrase): is there, how often
    both = np.zeros(n_groups * size * size, dtype=np.int64)
    for i, j in _pairs(cells.outer):
        both += np.bincount(
            (cells.group[i] * size + cells.where[i]) * size + cells.where[j], minlength=both.size
        )

    # Per (window, a, b), a < b: stretches holding both, against stretches holding each.
    parts = _Cells.of(stretch, where, row_group, window, size)
    pair_keys = [
        (parts.window[i] * size + parts.where[i]) * size + parts.where[j] for i, j in _pairs(parts.outer)
    ]
    keys, shared = np.unique(
        np.concatenate(pair_keys) if pair_keys else np.zeros(0, np.int64), return_counts=True
    )
    in_window = np.unique(parts.window * size + parts.where, return_counts=True)
    key_window, a, b = keys // (size * size), (keys // size) % size, keys % size
    stretches_a = in_window[1][np.searchsorted(in_window[0], key_window * size + a)]
    stretches_b = in_window[1][np.searchsorted(in_window[0], key_window * size + b)]
    not_apart = (stretches_a == shared) | (stretches_b == shared)
    key_group = cells.group[np.searchsorted(cells.key, key_window * size + a)]
    flat = (key_group * size + a) * size + b
    joined = np.bincount(flat, minlength=both.size)
    lost = np.bincount(flat[not_apart], minlength=both.size)
    square = (n_groups, size, size)
    both, joined, lost = (counts.reshape(square) for counts in (both, joined, lost))
    both, joined, lost = (counts + counts.transpose(0, 2, 1) for counts in (both, joined, lost))
    return _Counts(both=both, joined=joined, apart=both - lost)


@dataclass(frozen=True, eq=False)
class _Cells:
    """Unique (outer, phrase) rows, ordered by outer then phrase: outer is a window or a stretch."""

    key: np.ndarray  # outer * size + phrase
    outer: np.ndarray
    where: np.ndarray
    window: np.ndarray
    group: np.ndarray

    @classmethod
    def of(
        cls, outer: np.ndarray, where: np.ndarray, group: np.ndarray, window: np.ndarray, size: int
    ) -> _Cells:
        key, first = np.unique(outer * size + where, return_index=True)
        return cls(key, key // size, key % size, window[first], group[first])


def _pairs(outer: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every pair ``i < j`` of rows with the same ``outer`` value (rows ordered by it), in batches.

    Row i pairs with each row after it in its group; rows are taken in batches of about
    ``_PAIRS_PER_BATCH`` pairs, so a long window (a whole segment) cannot blow up memory.
    """
    group_start = np.flatnonzero(np.diff(outer, prepend=-1))
    sizes = np.diff(np.append(group_start, len(outer)))
    later = np.repeat(group_start + sizes, sizes) - np.arange(len(outer)) - 1
    pairs_before = np.cumsum(later)
    cuts = np.searchsorted(pairs_before, np.arange(0, int(pairs_before[-1:].sum()), _PAIRS_PER_BATCH))
    for low, high in itertools.pairwise([*np.unique(cuts).tolist(), len(outer)]):
        n_later = later[low:high]
        i = np.repeat(np.arange(low, high), n_later)
        yield i, i + 1 + np.arange(len(i)) - np.repeat(np.cumsum(n_later) - n_later, n_later)


def _scored_edges(
    counts: _Counts,
    candidates: Sequence[int],
    by_index: Mapping[int, Phrase],
    node_windows: Sequence[int],
    n_windows: int,
    settings: GraphSettings,
) -> list[tuple[int, int, dict[str, int | float]]]:
    """Candidate pairs that pass the filters, with their weight and association scores."""
    both, joined, apart = counts.both[0], counts.joined[0], counts.apart[0]
    edges: list[tuple[int, int, dict[str, int | float]]] = []
    for row, column in np.argwhere(np.triu(apart, 1) >= settings.min_edge_weight).tolist():
        if 2 * joined[row, column] > both[row, column]:
            continue  # mostly parts of one longer phrase
        a, b = candidates[row], candidates[column]
        n_ab, n_a, n_b = int(apart[row, column]), node_windows[a], node_windows[b]
        if _nested(by_index[a], by_index[b]):
            continue
        data: dict[str, int | float] = {
            "weight": n_ab,
            "npmi": _npmi(n_ab, n_a, n_b, n_windows),
            "jaccard": round(n_ab / (n_a + n_b - n_ab), _ROUND),
            "llr": _llr(n_ab, n_a, n_b, n_windows),
        }
        if abs(data["llr"]) >= settings.min_llr and data[settings.association] >= settings.min_association:
            edges.append((a, b, data))
    return edges


def _select_edges(
    edges: list[tuple[int, int, dict[str, int | float]]], settings: GraphSettings
) -> list[tuple[int, int, dict[str, int | float]]]:
    """Each phrase's ``edges_per_node`` strongest edges, the ``top_edges`` strongest of those."""
    # Strongest first; ties by weight, then by rank, so every cut is deterministic.
    edges = sorted(edges, key=lambda edge: (-edge[2][settings.association], -edge[2]["weight"], *edge[:2]))
    if settings.edges_per_node:
        seen: Counter[int] = Counter()
        kept = []
        for a, b, data in edges:
            if seen[a] < settings.edges_per_node or seen[b] < settings.edges_per_node:
                kept.append((a, b, data))
            seen[a] += 1
            seen[b] += 1
        edges = kept
    return edges if settings.top_edges is None else edges[: settings.top_edges]


def _nested(a: Phrase, b: Phrase) -> bool:
    """Whether a written form of one phrase contains a written form of the other."""
    forms_a, forms_b = {a.phrase, *a.variants}, {b.phrase, *b.variants}
    return any(x in y or y in x for x in forms_a for y in forms_b)


def _npmi(n_ab: int, n_a: int, n_b: int, n: int) -> float:
    """Normalised PMI of two phrases over ``n`` windows.

    Two phrases in every window get 0.0, not the undefined 0/0: a phrase found in every window is
    independent of every other (its PMI with any phrase is 0), and this keeps that true at the limit.
    """
    if n_ab >= n:
        return 0.0
    p_ab = n_ab / n
    return round(math.log(p_ab / ((n_a / n) * (n_b / n))) / -math.log(p_ab), _ROUND)


def _llr(n_ab: int, n_a: int, n_b: int, n: int) -> float:
    """Dunning's log-likelihood ratio G² of the 2 × 2 table of windows with and without each phrase,
    negative when the two occur together less often than chance would have them."""
    observed = (n_ab, n_a - n_ab, n_b - n_ab, max(0, n - n_a - n_b + n_ab))
    expected = (n_a * n_b / n, n_a * (n - n_b) / n, (n - n_a) * n_b / n, (n - n_a) * (n - n_b) / n)
    g2 = 2 * sum(o * math.log(o / e) for o, e in zip(observed, expected, strict=True) if o > 0 and e > 0)
    return round(math.copysign(max(g2, 0.0), n_ab * n - n_a * n_b), 3)


def _id_width(n: int) -> int:
    return max(4, len(str(n)))


def _phrase_id(index: int, width: int) -> str:
    return f"p{index + 1:0{width}d}"


def _region_ids(regions: Sequence[str]) -> dict[str, str]:
    """``r_`` + the gazetteer's English name as an id (``r_inner_mongolia``), else ``r_`` + a number."""
    ids: dict[str, str] = {}
    for number, region in enumerate(regions, start=1):
        found = lookup(region)
        slug = re.sub(r"[^a-z0-9]+", "_", found.english.lower()).strip("_") if found else ""
        node = f"r_{slug}" if slug else f"r_{number:02d}"
        ids[region] = node if node not in ids.values() else f"{node}_{number:02d}"
    return ids


def _add_structure(graph: nx.Graph, settings: GraphSettings) -> None:
    """Set ``community`` (Louvain, numbered by size then first label), ``degree`` and ``weighted_degree``."""
    communities = nx.community.louvain_communities(
        graph, weight="weight", resolution=settings.resolution, seed=settings.seed
    )
    labelled = [sorted(graph.nodes[node]["label"] for node in members) for members in communities]
    order = sorted(range(len(communities)), key=lambda i: (-len(communities[i]), labelled[i][0]))
    for number, i in enumerate(order):
        for node in communities[i]:
            graph.nodes[node]["community"] = number
    for node in graph:
        graph.nodes[node]["degree"] = graph.degree(node)
        graph.nodes[node]["weighted_degree"] = graph.degree(node, weight="weight")


def _add_themes(graph: nx.Graph, settings: GraphSettings) -> None:
    """Set ``centrality`` (weight of a node's edges inside its community) and ``theme``, the community's
    name: its ``theme_name_phrases`` most central phrases (ties: better rank first; a phrase inside or
    around one already named is skipped), joined by " / "."""
    members: defaultdict[int, list[str]] = defaultdict(list)
    for node, data in graph.nodes(data=True):
        data["centrality"] = sum(
            edge["weight"]
            for other, edge in graph[node].items()
            if graph.nodes[other]["community"] == data["community"]
        )
        members[data["community"]].append(node)
    for nodes in members.values():
        nodes.sort(key=lambda node: (-graph.nodes[node]["centrality"], graph.nodes[node]["rank"]))
        picked: list[str] = []
        for label in (graph.nodes[node]["label"] for node in nodes):
            if len(picked) < settings.theme_name_phrases and not any(
                label in p or p in label for p in picked
            ):
                picked.append(label)  # skip a phrase inside (or around) one already in the name
        name = " / ".join(picked)
        for node in nodes:
            graph.nodes[node]["theme"] = name


def _themes_of(graph: nx.Graph) -> list[tuple[int, str, list[str]]]:
    """``(community, theme name, member node ids, most central first)`` for each theme, by number."""
    members: defaultdict[int, list[str]] = defaultdict(list)
    for node, data in graph.nodes(data=True):
        members[data["community"]].append(node)
    themes = []
    for number in sorted(members):
        nodes = sorted(
            members[number], key=lambda node: (-graph.nodes[node]["centrality"], graph.nodes[node]["rank"])
        )
        themes.append((number, graph.nodes[nodes[0]]["theme"], nodes))
    return themes


@dataclass(frozen=True)
class Timeline:
    """Uses per year in attributed, dated text (as ``adoption.csv`` counts them).

    ``nodes``: node id → {year: hits}; ``edges``: (node id, node id) in sorted order → {year: windows in
    which the two occur apart}. Years with no use are left out.
    """

    years: tuple[int, ...] = ()
    nodes: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    edges: Mapping[tuple[str, str], Mapping[int, int]] = field(default_factory=dict)


def _timeline(
    occurrences: _Occurrences,
    table: HitTable,
    segments: Sequence[Segment],
    node_ids: Sequence[int],
    edges: Sequence[tuple[int, int, Any]],
    width: int,
    join_gap: int,
) -> Timeline:
    by_id = {segment.segment_id: segment for segment in segments}
    dated = [by_id[i] for i in table.segment_ids]
    years = sorted({s.year for s in dated if s.year is not None and s.region})
    year_at = {year: number for number, year in enumerate(years)}
    segment_year = np.asarray(
        [year_at[s.year] if s.year is not None and s.region else -1 for s in dated], dtype=np.int64
    )
    row_year = segment_year[occurrences.segment] if len(segment_year) else occurrences.segment
    position = {index: number for number, index in enumerate(node_ids)}
    counts = _cooccurrence(occurrences, node_ids, join_gap, row_year, len(years))
    nodes: dict[str, dict[int, int]] = {}
    for index in node_ids:
        rows = occurrences.phrase == index
        uses = np.bincount(row_year[rows][row_year[rows] >= 0], minlength=len(years))
        nodes[_phrase_id(index, width)] = {years[y]: int(n) for y, n in enumerate(uses.tolist()) if n}
    pairs: dict[tuple[str, str], dict[int, int]] = {}
    for a, b, _ in edges:
        shared = counts.apart[:, position[a], position[b]].tolist()
        pairs[_phrase_id(a, width), _phrase_id(b, width)] = {years[y]: n for y, n in enumerate(shared) if n}
    return Timeline(tuple(years), nodes, pairs)


class ThemeRow(NamedTuple):
    """A row of ``themes.csv``: one theme (community) of the co-occurrence graph."""

    theme: int  # the node attribute ``community``
    name: str  # its most central phrases, " / "-joined
    size: int  # phrases in it
    phrases: str  # ;-joined, most central first
    uses: int  # hits of its phrases in attributed text
    regions: str  # the regions giving it the largest share of their formula uses, ;-joined
    years: str  # uses by year, "2012:310;2013:402"
    peak_year: int | None  # the year it took its largest share of all formula uses


class ThemeAdoptionRow(NamedTuple):
    """A row of ``theme_adoption.csv``: a region's (in a year: ``year`` None = all years) uses of a theme."""

    region: str
    year: int | None
    theme: int
    name: str
    uses: int  # hits of the theme's phrases
    share: float  # of the region's uses of all phrases in the graph (its formula uses)


def theme_tables(
    graph: nx.Graph, hits: HitTable | Iterable[Hit], segments: Sequence[Segment], *, top_regions: int = 3
) -> tuple[list[ThemeRow], list[ThemeAdoptionRow]]:
    """The themes of a graph from :func:`build_graph` and each region's profile over them.

    Uses are counted in attributed text only, like ``adoption.csv``. ``theme_adoption`` has a row for every
    theme and every region (and region-year) with at least one use of a phrase in the graph, zeros included,
    so each region's shares sum to 1.
    """
    themes = _themes_of(graph)
    label_theme = {graph.nodes[node]["label"]: t for t, (_, _, nodes) in enumerate(themes) for node in nodes}
    table = HitTable.of(hits)
    by_id = {segment.segment_id: segment for segment in segments}
    theme_of_name = np.asarray([label_theme.get(name, -1) for name in table.names], dtype=np.int64)
    attributed = [by_id[i] for i in table.segment_ids]
    region_names = sorted({s.region for s in attributed if s.region})
    region_at = {region: number for number, region in enumerate(region_names)}
    years = sorted({s.year for s in attributed if s.region and s.year is not None})
    year_at = {year: number + 1 for number, year in enumerate(years)}  # 0: all years
    seg_region = np.asarray([region_at.get(s.region, -1) for s in attributed], dtype=np.int64)
    seg_year = np.asarray([year_at.get(s.year, -1) if s.region else -1 for s in attributed], dtype=np.int64)
    shape = (len(region_names), len(years) + 1, len(themes))
    uses = np.zeros(shape, dtype=np.int64)
    for low in range(0, len(table), _HITS_PER_BLOCK):  # a block of hits at a time: small temporaries
        at = slice(low, low + _HITS_PER_BLOCK)
        theme, segment = theme_of_name[table.phrase[at]], table.segment[at]
        region, year = seg_region[segment], seg_year[segment]
        keep = (theme >= 0) & (region >= 0)
        theme, region, year = theme[keep], region[keep], year[keep]
        np.add.at(uses, (region, 0, theme), 1)
        dated = year > 0
        np.add.at(uses, (region[dated], year[dated], theme[dated]), 1)

    adoption: list[ThemeAdoptionRow] = []
    for r, name in enumerate(region_names):
        for y in range(len(years) + 1):
            total = int(uses[r, y].sum())
            if not total:
                continue
            for t, (number, theme_name, _) in enumerate(themes):
                n = int(uses[r, y, t])
                adoption.append(
                    ThemeAdoptionRow(
                        name, years[y - 1] if y else None, number, theme_name, n, round(n / total, 4)
                    )
                )
    shares = uses[:, 0, :] / np.maximum(uses[:, 0, :].sum(axis=1, keepdims=True), 1)
    by_year = uses[:, 1:, :].sum(axis=0)  # year × theme
    year_shares = by_year / np.maximum(by_year.sum(axis=1, keepdims=True), 1)
    rows: list[ThemeRow] = []
    for t, (number, theme_name, nodes) in enumerate(themes):
        leaders = sorted(
            (r for r in range(len(region_names)) if uses[r, 0, t]),
            key=lambda r: (-shares[r, t], region_names[r]),
        )
        per_year = [(years[y], int(by_year[y, t])) for y in range(len(years)) if by_year[y, t]]
        peak = int(np.argmax(year_shares[:, t])) if per_year else None
        rows.append(
            ThemeRow(
                theme=number,
                name=theme_name,
                size=len(nodes),
                phrases=";".join(graph.nodes[node]["label"] for node in nodes),
                uses=int(uses[:, 0, t].sum()),
                regions=";".join(region_names[r] for r in leaders[:top_regions]),
                years=";".join(f"{y}:{n}" for y, n in per_year),
                peak_year=years[peak] if peak is not None else None,
            )
        )
    return rows, adoption


def write_themes(out_dir: Path, themes: Iterable[ThemeRow], adoption: Iterable[ThemeAdoptionRow]) -> None:
    """Write ``themes.csv`` and ``theme_adoption.csv``."""
    write_csv(Path(out_dir) / "themes.csv", ThemeRow._fields, themes)
    write_csv(Path(out_dir) / "theme_adoption.csv", ThemeAdoptionRow._fields, adoption)


# ----------------------------------------------------------------------------------------------------
# Export


def strip_xml_illegal(text: str) -> str:
    r"""Remove the characters XML 1.0 forbids (C0 controls but \t \n \r, surrogates, U+FFFE, U+FFFF)."""
    return _XML_ILLEGAL.sub("", text)


def gephi_safe(graph: nx.Graph) -> nx.Graph:
    """A copy of ``graph`` that obeys DESIGN.md's Gephi-safe rules, nodes and edges sorted by id.

    Strings (ids, data names, values) lose XML-illegal characters; numpy scalars become Python ones; a key
    holding ints and floats becomes float; ``None`` values are left out. Graph-level data is not copied.
    Raises ``ValueError`` for a directed or multi-graph, a reserved data name (:data:`GEPHI_RESERVED`),
    a NaN or infinite value, a non-numeric edge ``weight``, a non-string node ``label``, a key mixing
    strings, booleans and numbers, or ids that collide once cleaned; ``TypeError`` for a non-scalar value.
    """
    if graph.is_directed() or graph.is_multigraph():
        raise ValueError("Gephi-safe export needs an undirected simple graph (edgedefault='undirected')")
    ids = {node: strip_xml_illegal(str(node)) for node in graph}
    if len(set(ids.values())) != len(ids) or "" in ids.values():
        raise ValueError("node ids are empty or collide once XML-illegal characters are removed")

    nodes = {ids[node]: _clean_data(data, f"node {ids[node]}") for node, data in graph.nodes(data=True)}
    edges: dict[tuple[str, str], dict[str, bool | int | float | str]] = {}
    for u, v, data in graph.edges(data=True):
        a, b = sorted((ids[u], ids[v]))
        edges[a, b] = _clean_data(data, f"edge {a}-{b}")
    _unify_types(nodes.values(), "node")
    _unify_types(edges.values(), "edge")
    for node, data in nodes.items():
        if "label" in data and not isinstance(data["label"], str):
            raise ValueError(f"node {node}: label must be a string")
    for (a, b), data in edges.items():
        if "weight" in data and isinstance(data["weight"], bool | str):
            raise ValueError(f"edge {a}-{b}: weight must be numeric")

    safe = nx.Graph()
    for node in sorted(nodes):
        safe.add_node(node, **nodes[node])
    for a, b in sorted(edges):
        safe.add_edge(a, b, **edges[a, b])
    return safe


def write_graphml(graph: nx.Graph, path: Path) -> None:
    """Write ``graph`` as Gephi-safe GraphML (see :func:`gephi_safe`), UTF-8, atomically."""
    buffer = io.BytesIO()
    # The ElementTree writer, not lxml's: the same bytes whether or not lxml is installed.
    nx.write_graphml_xml(gephi_safe(graph), buffer, encoding="utf-8", prettyprint=True)
    atomic_write(Path(path), buffer.getvalue())


def write_gexf(graph: nx.Graph, path: Path) -> None:
    """Write ``graph`` as Gephi-safe GEXF 1.2 (see :func:`gephi_safe`), UTF-8, atomically.

    The ``lastmodifieddate`` networkx stamps on the file is left out so the same graph gives the same bytes.
    """
    buffer = io.BytesIO()
    nx.write_gexf(gephi_safe(graph), buffer, encoding="utf-8", prettyprint=True)
    atomic_write(Path(path), re.sub(rb' lastmodifieddate="[^"]*"', b"", buffer.getvalue(), count=1))


_GEXF_13 = "http://gexf.net/1.3"
_GEXF_TYPES = {str: "string", bool: "boolean", int: "integer", float: "double"}


def write_dynamic_gexf(graph: nx.Graph, path: Path, timeline: Timeline | None = None) -> None:
    """Write ``graph`` as Gephi-safe GEXF 1.3 with time, for Gephi's timeline, UTF-8, atomically.

    ``timeline`` (default: ``graph.graph["timeline"]`` from :func:`build_graph`) gives each node and edge
    its uses per year. A node or edge gets a spell for every run of consecutive years with uses (a year
    spans 1 January – 31 December, ``timeformat="date"``) and a dynamic attribute ``uses`` with one value
    per year; nodes and edges never used in a dated text have no spell (always shown). The static data
    are those of :func:`write_graphml`. Without years the file is a static graph.
    """
    timeline = timeline or graph.graph.get("timeline") or Timeline()
    safe = gephi_safe(graph)
    node_years = {strip_xml_illegal(str(node)): years for node, years in timeline.nodes.items()}
    edge_years = {
        tuple(sorted(strip_xml_illegal(str(node)) for node in pair)): years
        for pair, years in timeline.edges.items()
    }
    dynamic = bool(timeline.years)
    root = ET.Element(
        "gexf",
        {
            "xmlns": _GEXF_13,
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:schemaLocation": f"{_GEXF_13} {_GEXF_13}/gexf.xsd",
            "version": "1.3",
        },
    )
    meta = ET.SubElement(root, "meta")
    ET.SubElement(meta, "creator").text = "tifa"
    ET.SubElement(meta, "description").text = "phrase co-occurrence graph; spells: years in which used"
    graph_attributes = {"defaultedgetype": "undirected", "mode": "dynamic" if dynamic else "static"}
    if dynamic:
        graph_attributes |= {
            "timeformat": "date",
            "timerepresentation": "interval",
            "start": f"{timeline.years[0]}-01-01",
            "end": f"{timeline.years[-1]}-12-31",
        }
    element = ET.SubElement(root, "graph", graph_attributes)
    node_keys = _gexf_keys(data for _, data in safe.nodes(data=True))
    edge_keys = _gexf_keys(data for *_, data in safe.edges(data=True))
    node_keys.pop("label", None)
    edge_keys.pop("weight", None)
    for kind, keys in (("node", node_keys), ("edge", edge_keys)):
        declared = ET.SubElement(element, "attributes", {"class": kind, "mode": "static"})
        for key, gexf_type in keys.items():
            ET.SubElement(declared, "attribute", {"id": key, "title": key, "type": gexf_type})
        if dynamic:
            declared = ET.SubElement(element, "attributes", {"class": kind, "mode": "dynamic"})
            ET.SubElement(declared, "attribute", {"id": "uses", "title": "uses", "type": "integer"})
    nodes = ET.SubElement(element, "nodes", {"count": str(safe.number_of_nodes())})
    for node, data in safe.nodes(data=True):
        item = ET.SubElement(nodes, "node", {"id": node, "label": str(data.get("label", node))})
        _gexf_values(item, data, node_keys, node_years.get(node, {}))
    edges = ET.SubElement(element, "edges", {"count": str(safe.number_of_edges())})
    for number, (u, v, data) in enumerate(safe.edges(data=True)):
        attributes = {"id": f"e{number}", "source": u, "target": v}
        if "weight" in data:
            attributes["weight"] = _gexf_text(data["weight"])
        item = ET.SubElement(edges, "edge", attributes)
        _gexf_values(item, data, edge_keys, edge_years.get((u, v), {}))
    ET.indent(root, space="  ")
    atomic_write(Path(path), ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def _gexf_keys(records: Iterable[Mapping[str, bool | int | float | str]]) -> dict[str, str]:
    """Each data key's GEXF type, keys in sorted order (gephi_safe left one type per key)."""
    types: dict[str, str] = {}
    for data in records:
        for key, value in data.items():
            types.setdefault(key, _GEXF_TYPES[type(value)])
    return dict(sorted(types.items()))


def _gexf_text(value: bool | int | float | str) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _gexf_values(
    item: ET.Element,
    data: Mapping[str, bool | int | float | str],
    keys: Iterable[str],
    years: Mapping[int, int],
) -> None:
    """Static values, then ``uses`` per year, then spells: runs of consecutive years."""
    values = ET.SubElement(item, "attvalues")
    for key in keys:
        if key in data:
            ET.SubElement(values, "attvalue", {"for": key, "value": _gexf_text(data[key])})
    for year, uses in sorted(years.items()):
        ET.SubElement(
            values,
            "attvalue",
            {"for": "uses", "value": str(uses), "start": f"{year}-01-01", "end": f"{year}-12-31"},
        )
    if not len(values):
        item.remove(values)
    if years:
        spells = ET.SubElement(item, "spells")
        for first, last in _runs(sorted(years)):
            ET.SubElement(spells, "spell", {"start": f"{first}-01-01", "end": f"{last}-12-31"})


def _runs(years: Sequence[int]) -> list[tuple[int, int]]:
    """Runs of consecutive years: [2012, 2013, 2015] → [(2012, 2013), (2015, 2015)]."""
    runs: list[list[int]] = []
    for year in years:
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return [(first, last) for first, last in runs]


def _clean_data(data: Mapping[Any, Any], where: str) -> dict[str, bool | int | float | str]:
    clean: dict[str, bool | int | float | str] = {}
    for key, value in data.items():
        name = strip_xml_illegal(str(key))
        if not name or name.casefold() in GEPHI_RESERVED:
            raise ValueError(f"{where}: data name {name!r} is reserved by Gephi or empty; rename it")
        if value is None:
            continue
        clean[name] = _scalar(value, f"{where} {name}")
    return clean


def _scalar(value: object, where: str) -> bool | int | float | str:
    if isinstance(value, str):
        return strip_xml_illegal(value)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{where}: {number} cannot be written (no NaN or infinity in Gephi files)")
        return number
    raise TypeError(f"{where}: {type(value).__name__} is not a scalar; join lists into a string first")


def _unify_types(records: Iterable[dict[str, bool | int | float | str]], scope: str) -> None:
    """Give every key one type: ints become floats beside floats; other mixtures are an error."""
    records = list(records)
    kinds: defaultdict[str, set[type]] = defaultdict(set)
    for data in records:
        for key, value in data.items():
            kinds[key].add(type(value))
    for key, types in kinds.items():
        if types == {int, float}:
            for data in records:
                if key in data:
                    data[key] = float(data[key])
        elif len(types) > 1:
            names = sorted(t.__name__ for t in types)
            raise ValueError(f"{scope} data {key!r} mixes {names}; one type per key")


# ----------------------------------------------------------------------------------------------------
# Preview

_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#8cd17d", "#86bcb6", "#d37295", "#a0cbe8", "#ffbe7d", "#b6992d", "#499894",
)  # fmt: skip
_OTHER = "#bab0ac"


def draw_preview(
    graph: nx.Graph,
    path: Path,
    *,
    labels: int = 45,
    seed: int = 42,
    title: str = "",
    size_inches: float = 12.0,
    dpi: int = 150,
) -> None:
    """Draw ``graph`` to a PNG or SVG (by ``path``'s suffix) with Chinese labels, atomically.

    Components are packed largest first and each theme gets its own disc, laid out with a fixed ``seed``
    (see :func:`_packed_layout`), so themes read as groups and small ones do not collapse to dots beside
    a big one. Node area by ``count``,
    colour by ``community`` (the 16 largest get their own colour and a line in the legend with the theme's
    name, the rest grey), edge width by ``weight``. Only central phrases are labelled: the most central of
    each theme in turn (``centrality``, else ``weighted_degree``), up to ``labels``; a label that would
    overlap one already placed is tried on the other sides of its node and otherwise left out. The same
    graph gives the same bytes.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"preview must be .png or .svg, not {path.name}")
    plt = cjk_pyplot()
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(size_inches, size_inches))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=14)
    nodes = sorted(graph)
    if not nodes:
        ax.text(0.5, 0.5, "(no edges pass the filters)", ha="center", va="center", transform=ax.transAxes)
    else:
        pos = _packed_layout(graph, seed=seed)
        counts = [float(graph.nodes[node].get("count", 1)) for node in nodes]
        top_count = max(counts) or 1.0
        edges = sorted(tuple(sorted(edge)) for edge in graph.edges())
        weights = [float(graph.edges[u, v].get("weight", 1)) for u, v in edges]
        top_weight = max(weights, default=1.0) or 1.0
        lines = [(pos[u], pos[v]) for u, v in edges]
        widths = [0.3 + 2.7 * math.sqrt(w / top_weight) for w in weights]
        ax.add_collection(LineCollection(lines, linewidths=widths, colors="#8a8a8a", alpha=0.4, zorder=1))
        community = [int(graph.nodes[node].get("community", -1)) for node in nodes]
        colours = [_PALETTE[c] if 0 <= c < len(_PALETTE) else _OTHER for c in community]
        areas = [15 + 400 * math.sqrt(c / top_count) for c in counts]
        xy = np.array([pos[node] for node in nodes])
        ax.scatter(xy[:, 0], xy[:, 1], s=areas, c=colours, edgecolors="white", linewidths=0.6, zorder=2)
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.margins(0.06)
        fig.canvas.draw()  # fixes the data-to-pixel transform, so label extents can be compared
        _place_labels(fig, ax, graph, nodes, xy, areas, labels)
        themes = {}
        for node, c in zip(nodes, community, strict=True):
            if 0 <= c < len(_PALETTE) and "theme" in graph.nodes[node]:
                themes[c] = str(graph.nodes[node]["theme"])
        if themes:
            handles = [
                Line2D([], [], marker="o", linestyle="", color=_PALETTE[c], label=f"{c} {themes[c]}")
                for c in sorted(themes)
            ]
            ax.legend(
                handles=handles, title="themes (colour)", loc="upper center", bbox_to_anchor=(0.5, 0.0),
                ncol=2, fontsize=9, frameon=False, title_fontsize=10,
            )  # fmt: skip
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


def _place_labels(
    fig: Any, ax: Any, graph: nx.Graph, nodes: list[Any], xy: np.ndarray, areas: list[float], limit: int
) -> list[Any]:
    """Label the most central node of each theme, then the second of each, … without overlaps; return
    the placed labels' extents (display coordinates)."""
    renderer = fig.canvas.get_renderer()

    def central(node: Any) -> float:
        data = graph.nodes[node]
        return float(data.get("centrality", data.get("weighted_degree", 0)))

    by_theme: defaultdict[int, list[int]] = defaultdict(list)
    for i, node in enumerate(nodes):
        by_theme[int(graph.nodes[node].get("community", -1))].append(i)
    for members in by_theme.values():
        members.sort(key=lambda i: (-central(nodes[i]), nodes[i]))
    turns = itertools.zip_longest(*(by_theme[c] for c in sorted(by_theme)))
    order = [i for turn in turns for i in turn if i is not None]
    top = max((central(node) for node in nodes), default=1.0) or 1.0
    # A translucent box, not a stroke path effect: path effects turn SVG text into outlines.
    box = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.75}
    placed: list[Any] = []
    for i in order:
        if len(placed) >= limit:
            break
        label = str(graph.nodes[nodes[i]].get("label", nodes[i]))
        fontsize = 7.0 + 4.0 * math.sqrt(central(nodes[i]) / top)
        gap = 3 + math.sqrt(areas[i]) / 2
        for dx, dy, ha, va in ((0, gap, "center", "bottom"), (0, -gap, "center", "top"),
                               (gap, 0, "left", "center"), (-gap, 0, "right", "center")):  # fmt: skip
            text = ax.annotate(
                label, xy[i], xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, ha=ha, va=va,
                zorder=3, bbox=box,
            )  # fmt: skip
            extent = text.get_window_extent(renderer).expanded(1.04, 1.08)
            if not any(extent.overlaps(other) for other in placed):
                placed.append(extent)
                break
            text.remove()
    return placed


def _packed_layout(graph: nx.Graph, *, seed: int) -> dict[Any, np.ndarray]:
    """Lay out each component (see :func:`_theme_layout`) in a square of side ~ sqrt(its size), then
    shelve the squares in rows, largest first, so small components sit beside the core, not far away."""
    components = sorted(
        (sorted(component) for component in nx.connected_components(graph)),
        key=lambda members: (-len(members), members[0]),
    )
    sides = [2.0 * math.sqrt(len(members)) for members in components]
    row_width = max(max(sides), math.sqrt(sum(side * side for side in sides)) * 1.1)
    pos: dict[Any, np.ndarray] = {}
    x = y = row_height = 0.0
    for members, side in zip(components, sides, strict=True):
        if x > 0 and x + side > row_width:
            x, y, row_height = 0.0, y - row_height, 0.0
        local = _theme_layout(graph, members, seed=seed)
        xy = np.array([local[node] for node in members])
        middle = (xy.max(axis=0) + xy.min(axis=0)) / 2
        half_extent = float((xy.max(axis=0) - xy.min(axis=0)).max()) / 2 or 1.0
        half = side / 2 * 0.85  # leave a margin between neighbouring components
        for node in members:
            pos[node] = np.array([x + side / 2, y - side / 2]) + (local[node] - middle) / half_extent * half
        x += side
        row_height = max(row_height, side)
    return pos


def _theme_layout(graph: nx.Graph, members: list[Any], *, seed: int) -> dict[Any, np.ndarray]:
    """Lay out one component: each theme (``community``) in its own disc of radius ~ sqrt(its size), the
    discs placed by a spring layout of the themes (weight: edges between them), then pushed apart until no
    two overlap. Inside a disc: a spring layout. Fixed ``seed``; the same graph gives the same positions."""
    themes: defaultdict[Any, list[Any]] = defaultdict(list)
    for node in members:
        themes[graph.nodes[node].get("community", 0)].append(node)
    names = sorted(themes, key=lambda t: (-len(themes[t]), str(t)))
    index = {theme: i for i, theme in enumerate(names)}
    radius = np.array([math.sqrt(len(themes[theme])) for theme in names])
    between = nx.Graph()
    between.add_nodes_from(range(len(names)))
    for u, v in sorted(tuple(sorted(edge)) for edge in graph.subgraph(members).edges()):
        a, b = sorted((index[graph.nodes[u].get("community", 0)], index[graph.nodes[v].get("community", 0)]))
        if a != b:
            between.add_edge(a, b, weight=between.get_edge_data(a, b, {"weight": 0})["weight"] + 1)
    centres = np.zeros((len(names), 2))
    if len(names) > 1:
        spring = nx.spring_layout(between, seed=seed, weight="weight", iterations=200, center=(0, 0))
        centres = np.array([spring[i] for i in range(len(names))]) * radius.sum() / 2
    for _ in range(200):  # push overlapping discs apart, half the overlap each, until none overlap
        moved = False
        for i, j in itertools.combinations(range(len(names)), 2):
            step = centres[j] - centres[i]
            distance = float(np.hypot(*step))
            overlap = 1.1 * (radius[i] + radius[j]) - distance
            if overlap > 1e-9:
                direction = step / distance if distance > 1e-9 else np.array([1.0, 0.0])
                centres[i] -= direction * overlap / 2
                centres[j] += direction * overlap / 2
                moved = True
        if not moved:
            break
    pos: dict[Any, np.ndarray] = {}
    for i, theme in enumerate(names):
        nodes = themes[theme]
        local = {nodes[0]: np.zeros(2)}
        if len(nodes) > 1:
            # A subgraph view iterates in hash order; spring_layout's result depends on node order.
            sub = nx.Graph()
            sub.add_nodes_from(nodes)
            sub.add_edges_from(sorted(tuple(sorted(edge)) for edge in graph.subgraph(nodes).edges()))
            k = 1.5 / math.sqrt(len(nodes))
            local = nx.spring_layout(sub, seed=seed, k=k, iterations=100, weight=None, center=(0, 0), scale=1)
        for node, offset in local.items():
            pos[node] = centres[i] + np.asarray(offset) * radius[i]
    return pos
