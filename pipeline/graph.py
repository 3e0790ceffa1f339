"""Phrase co-occurrence graph: which formulas travel together, exported for Gephi.

Nodes are phrases; an edge joins two phrases that occur in the same window (a sentence by default, or a
whole segment). Counting is by window: ``weight`` is the number of windows in which both phrases occur,
and a node's ``windows`` the number of windows in which it occurs.

Nesting is decided by character offsets, not strings. A hit of 高端化 that lies inside a hit of
高端化、智能化、绿色化 is the same stretch of text, so two phrases co-occur in a window only when some
occurrence of the one and some occurrence of the other *do not overlap*; occurrences that overlap
(nested or partly overlapping) never link their phrases. A second, free-standing 高端化 in the same
sentence does link them.

Association (both are written on every edge; ``GraphSettings.association`` picks the one used for
ranking and the threshold), with ``N`` the number of windows holding at least one hit of any listed
phrase, ``n_a`` and ``n_b`` the windows of each phrase and ``n_ab`` the edge weight:

* ``npmi`` — normalised pointwise mutual information (Bouma 2009),
  ``log(N * n_ab / (n_a * n_b)) / -log(n_ab / N)``, at most 1: 0 is chance (and the value for
  two phrases found in every window), 1 means the two always occur together.
* ``jaccard`` — ``n_ab / (n_a + n_b - n_ab)``, in [0, 1], KH Coder's default coefficient.

Filtering follows KH Coder: phrases below ``min_node_count`` are dropped, pairs below ``min_edge_weight``
or ``min_association`` are dropped, then only the ``top_edges`` strongest edges are kept and phrases left
without an edge are dropped. Communities come from networkx's Louvain with a fixed seed.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np

from pipeline.figures import cjk_pyplot
from pipeline.io_utils import atomic_write
from pipeline.records import Hit, HitTable, Phrase, Segment
from pipeline.regions import lookup

__all__ = [
    "DEFAULT_SETTINGS",
    "GEPHI_RESERVED",
    "GraphSettings",
    "build_bipartite_graph",
    "build_graph",
    "draw_preview",
    "gephi_safe",
    "strip_xml_illegal",
    "write_gexf",
    "write_graphml",
]

Window = Literal["sentence", "segment"]
Association = Literal["npmi", "jaccard"]

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
    """Options of the co-occurrence graph; the defaults give tens to a few hundred nodes at any corpus size.

    * ``window``: "sentence" (default) or "segment" — what counts as occurring together.
    * ``min_node_count`` (2): phrases seen fewer times (``Phrase.count``) are not nodes.
    * ``max_phrases`` (1000): only the best-ranked phrases that pass ``min_node_count`` are considered
      (KH Coder likewise picks its words before linking them); pair counting holds a square matrix of this
      side, so ``None`` on a corpus with tens of thousands of phrases costs memory.
    * ``min_edge_weight`` (2): a pair seen together once, which NPMI and Jaccard score as highly as a
      habitual pair, is not an edge.
    * ``association`` ("npmi") and ``min_association`` (0.0: no pair below chance) pick and bound the score
      edges are ranked by; ``top_edges`` (150) keeps that many of the strongest (``None``: all). This is
      what bounds the graph — at most ``2 * top_edges`` nodes — so the same defaults suit one
      5,000-character article and a 3 M-character corpus.
    * ``keep_isolates`` (False): keep considered phrases left without an edge.
    * ``seed`` (42) and ``resolution`` (1.0) for Louvain.
    * ``bipartite_phrases`` (100): phrases in the region–phrase graph.
    """

    window: Window = "sentence"
    min_node_count: int = 2
    min_edge_weight: int = 2
    min_association: float = 0.0
    top_edges: int | None = 150
    association: Association = "npmi"
    max_phrases: int | None = 1000
    keep_isolates: bool = False
    seed: int = 42
    resolution: float = 1.0
    bipartite_phrases: int = 100

    def __post_init__(self) -> None:
        if self.window not in ("sentence", "segment"):
            raise ValueError(f"window must be 'sentence' or 'segment', not {self.window!r}")
        if self.association not in ("npmi", "jaccard"):
            raise ValueError(f"association must be 'npmi' or 'jaccard', not {self.association!r}")
        if self.min_node_count < 1 or self.min_edge_weight < 1:
            raise ValueError("min_node_count and min_edge_weight must be at least 1")
        if self.top_edges is not None and self.top_edges < 0:
            raise ValueError("top_edges must be None or non-negative")
        if self.bipartite_phrases < 0:
            raise ValueError("bipartite_phrases must be non-negative")


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
    """Build the phrase co-occurrence graph: phrases as nodes, co-occurrence in a window as weighted edges.

    ``phrases`` are in rank order; node ids follow it (``p0001`` is the first phrase) whatever the filters,
    so an id means the same phrase as the row of ``phrases.csv``. Hits of phrases not listed are ignored;
    a hit in a segment not listed raises ``ValueError``. Node data: ``label`` (the phrase), ``kind``,
    ``rank``, ``count``, ``segments``, ``regions_n``, ``regions`` (``;``-joined), ``windows``,
    ``community``, ``degree``, ``weighted_degree``. Edge data: ``weight`` (windows shared), ``npmi``,
    ``jaccard``. ``graph.graph`` records ``window``, ``association``, ``seed`` and ``windows`` (N).

    >>> seg = Segment("s1", "a.txt", "上海", "", "", None, "推进高端化、智能化、绿色化。坚持高端化和数字化。")
    >>> ps = [Phrase("高端化、智能化、绿色化", "enumeration", (), 1, 1, ("上海",), 1.0),
    ...       Phrase("高端化", "statistical", (), 2, 1, ("上海",), 1.0),
    ...       Phrase("数字化", "statistical", (), 1, 1, ("上海",), 1.0)]
    >>> hs = [Hit("高端化、智能化、绿色化", "s1", 0, 2, 13), Hit("高端化", "s1", 0, 2, 5),
    ...       Hit("高端化", "s1", 1, 16, 19), Hit("数字化", "s1", 1, 20, 23)]
    >>> g = build_graph(ps, hs, [seg], settings=GraphSettings(min_node_count=1, min_edge_weight=1))
    >>> [(g.nodes[u]["label"], g.nodes[v]["label"], d["weight"]) for u, v, d in g.edges(data=True)]
    [('高端化', '数字化', 1)]
    """
    ranked = _rank(phrases)
    table = _as_table(hits, segments)
    windows = _windows(table, ranked, settings.window)
    n_windows = len(np.unique(windows.window))

    candidates = [index for index, phrase in ranked.values() if phrase.count >= settings.min_node_count]
    candidates = candidates[: settings.max_phrases]
    node_windows = np.bincount(windows.phrase, minlength=len(phrases)).tolist()
    shared = _pair_counts(windows, candidates)

    edges: list[tuple[int, int, dict[str, int | float]]] = []
    for row, column in np.argwhere(np.triu(shared, 1) >= settings.min_edge_weight):
        a, b, n_ab = candidates[row], candidates[column], int(shared[row, column])
        npmi = _npmi(n_ab, node_windows[a], node_windows[b], n_windows)
        jaccard = round(n_ab / (node_windows[a] + node_windows[b] - n_ab), _ROUND)
        data = {"weight": n_ab, "npmi": npmi, "jaccard": jaccard}
        if data[settings.association] >= settings.min_association:
            edges.append((a, b, data))
    # Strongest first; ties by weight, then by rank, so the cut at top_edges is deterministic.
    edges.sort(key=lambda edge: (-edge[2][settings.association], -edge[2]["weight"], edge[0], edge[1]))
    if settings.top_edges is not None:
        edges = edges[: settings.top_edges]

    by_index = {index: phrase for index, phrase in ranked.values()}
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
    hit_region = np.asarray([region_number.get(region_of[i], -1) for i in table.segment_ids], np.int64)
    hit_region = hit_region[table.segment]
    hit_phrase = _rank_index(table, ranked)[table.phrase]
    wanted = np.zeros(len(phrases) + 1, dtype=bool)  # last slot: phrases not listed (index -1)
    wanted[sorted(chosen_index)] = True
    keep = wanted[hit_phrase] & (hit_region >= 0)
    pairs, n_uses = np.unique(hit_region[keep] * len(phrases) + hit_phrase[keep], return_counts=True)
    uses: Counter[tuple[str, int]] = Counter(
        {
            (regions[pair // len(phrases)], pair % len(phrases)): n
            for pair, n in zip(pairs.tolist(), n_uses.tolist(), strict=True)
        }
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
class _Windows:
    """One row per phrase per window it occurs in, ordered by window, then phrase (rank index)."""

    window: np.ndarray
    phrase: np.ndarray
    first_end: np.ndarray  # end of the phrase's earliest-ending occurrence in the window
    last_start: np.ndarray  # start of its latest-starting occurrence


def _windows(table: HitTable, ranked: Mapping[str, tuple[int, Phrase]], window: Window) -> _Windows:
    """Group hits by window (sentence or segment): for each phrase in it, ``(first end, last start)``.

    Those two numbers are all :func:`_pair_counts` needs (see there), so windows stay small however many
    hits a segment holds.
    """
    phrase = _rank_index(table, ranked)[table.phrase]
    known = phrase >= 0
    segment, phrase = table.segment[known], phrase[known]
    start, end = table.start[known], table.end[known]
    sentence = table.sentence[known] if window == "sentence" else np.zeros(len(segment), dtype=np.int64)
    window_id = segment * (int(sentence.max(initial=0)) + 1) + sentence
    order = np.lexsort((phrase, window_id))
    window_id, phrase, start, end = window_id[order], phrase[order], start[order], end[order]
    first = np.flatnonzero(np.diff(window_id, prepend=-1) | np.diff(phrase, prepend=-1))
    return _Windows(
        window=window_id[first],
        phrase=phrase[first],
        first_end=np.minimum.reduceat(end, first) if len(first) else end[:0],
        last_start=np.maximum.reduceat(start, first) if len(first) else start[:0],
    )


# Pairs formed at once when counting: bounds the memory of the pair arrays (8 bytes each, a few arrays).
_PAIRS_PER_BATCH = 4_000_000


def _pair_counts(windows: _Windows, candidates: Sequence[int]) -> np.ndarray:
    """Count, for each pair of candidates, the windows with an occurrence of each that do not overlap.

    Such a pair of occurrences exists exactly when one phrase's earliest-ending occurrence ends no later
    than the other's latest-starting occurrence begins: if some ``x`` of ``a`` ends before some ``y`` of
    ``b`` starts, the earliest end of ``a`` is before the latest start of ``b`` too, and conversely those
    two occurrences are disjoint. Returns a symmetric ``len(candidates)``-square matrix (diagonal
    meaningless), indexed by position in ``candidates``.
    """
    size = len(candidates)
    chosen = np.asarray(candidates, dtype=np.int64)
    position = np.full(max(int(windows.phrase.max(initial=-1)), int(chosen.max(initial=-1))) + 1, -1)
    position[chosen] = np.arange(size)
    where = position[windows.phrase]
    keep = where >= 0
    window, where = windows.window[keep], where[keep]
    first_end, last_start = windows.first_end[keep], windows.last_start[keep]
    # Row i pairs with each row after it in its window; rows are taken in batches of about
    # _PAIRS_PER_BATCH pairs, so a long window (a whole segment) cannot blow up memory.
    window_start = np.flatnonzero(np.diff(window, prepend=-1))
    sizes = np.diff(np.append(window_start, len(window)))
    later = np.repeat(window_start + sizes, sizes) - np.arange(len(window)) - 1
    pairs_before = np.cumsum(later)
    cuts = np.searchsorted(pairs_before, np.arange(0, int(pairs_before[-1:].sum()), _PAIRS_PER_BATCH))
    counts = np.zeros(size * size, dtype=np.int64)
    for low, high in itertools.pairwise([*np.unique(cuts).tolist(), len(window)]):
        n_later = later[low:high]
        i = np.repeat(np.arange(low, high), n_later)
        j = i + 1 + np.arange(len(i)) - np.repeat(np.cumsum(n_later) - n_later, n_later)
        disjoint = (first_end[i] <= last_start[j]) | (first_end[j] <= last_start[i])
        counts += np.bincount(where[i][disjoint] * size + where[j][disjoint], minlength=size * size)
    shared = counts.reshape(size, size)
    return (shared + shared.T).astype(np.int32)


def _npmi(n_ab: int, n_a: int, n_b: int, n: int) -> float:
    """Normalised PMI of two phrases over ``n`` windows.

    Two phrases in every window get 0.0, not the undefined 0/0: a phrase found in every window is
    independent of every other (its PMI with any phrase is 0), and this keeps that true at the limit.
    """
    if n_ab >= n:
        return 0.0
    p_ab = n_ab / n
    return round(math.log(p_ab / ((n_a / n) * (n_b / n))) / -math.log(p_ab), _ROUND)


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
    labels: int = 60,
    seed: int = 42,
    title: str = "",
    size_inches: float = 12.0,
    dpi: int = 150,
) -> None:
    """Draw ``graph`` to a PNG or SVG (by ``path``'s suffix) with Chinese labels, atomically.

    Each connected component gets its own spring layout (fixed ``seed``) and the components are packed
    largest first, so small clusters do not collapse to dots beside a big one. Node area by ``count``,
    colour by ``community`` (the 16 largest get their own colour, the rest grey), edge width by
    ``weight``; the ``labels`` nodes with the highest ``count`` are labelled.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"preview must be .png or .svg, not {path.name}")
    plt = cjk_pyplot()
    from matplotlib.collections import LineCollection

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
        ax.add_collection(LineCollection(lines, linewidths=widths, colors="#8a8a8a", alpha=0.5, zorder=1))
        colours = [
            _PALETTE[c] if 0 <= (c := int(graph.nodes[node].get("community", -1))) < len(_PALETTE) else _OTHER
            for node in nodes
        ]
        areas = [15 + 400 * math.sqrt(c / top_count) for c in counts]
        xy = np.array([pos[node] for node in nodes])
        ax.scatter(xy[:, 0], xy[:, 1], s=areas, c=colours, edgecolors="white", linewidths=0.6, zorder=2)
        # A translucent box, not a stroke path effect: path effects turn SVG text into outlines.
        box = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.7}
        for i in sorted(range(len(nodes)), key=lambda i: (-counts[i], nodes[i]))[:labels]:
            label = str(graph.nodes[nodes[i]].get("label", nodes[i]))
            fontsize = 6.5 + 4.5 * math.sqrt(counts[i] / top_count)
            ax.annotate(
                label, xy[i], xytext=(0, 4 + math.sqrt(areas[i]) / 2), textcoords="offset points",
                fontsize=fontsize, ha="center", va="bottom", zorder=3, bbox=box,
            )  # fmt: skip
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.margins(0.06)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    plt.close(fig)
    atomic_write(path, buffer.getvalue())


def _packed_layout(graph: nx.Graph, *, seed: int) -> dict[Any, np.ndarray]:
    """Spring-lay out each component in a square of side ~ sqrt(its size), then shelve the squares in rows."""
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
        if len(members) == 1:
            local = {members[0]: np.zeros(2)}
        else:
            # A subgraph view iterates in hash order; spring_layout's result depends on node order.
            sub = nx.Graph()
            sub.add_nodes_from(members)
            sub.add_edges_from(sorted(tuple(sorted(edge)) for edge in graph.subgraph(members).edges()))
            k = 1.2 / math.sqrt(len(members))
            local = nx.spring_layout(sub, seed=seed, k=k, iterations=200, weight=None, center=(0, 0), scale=1)
        half = side / 2 * 0.8  # leave a margin between neighbouring components
        for node, (px, py) in local.items():
            pos[node] = np.array([x + side / 2 + px * half, y - side / 2 + py * half])
        x += side
        row_height = max(row_height, side)
    return pos
