"""Group regions by how alike their language is: TF-IDF vectors, cosine similarity, hierarchical clusters.

Each region becomes one document made of pre-tokenised features (:func:`region_documents`): its
pkuseg word tokens (``Sentence.tokens`` without punctuation, symbol or whitespace tokens) plus one
``phrase:<提法>`` feature per phrase hit; re-tokenising with a ``token_pattern`` would treat a whole
unspaced Chinese clause as one word and drop one-character words such as 党. ``words``/``phrases``
choose the features, and ``max_doc_share`` leaves out boilerplate (features found in more than that
share of the segments). The weights are those of scikit-learn's ``TfidfVectorizer`` on those lists,
but the features are counted once per sentence (:class:`_FeatureCounts`) and summed into the regions
of every year, instead of rebuilding and re-counting the documents for all years and again for each year.
The counting runs over a few segments at a time and every later pass over the count tables a chunk at a
time, so beyond those tables (int32 columns) memory does not grow with the corpus.

Clustering is Ward agglomeration (scipy) of the L2-normalised TF-IDF vectors, whose Euclidean
distance is ``sqrt(2 · (1 - similarity))``, so it follows cosine similarity.

**Support** (the bootstrap of pvclust, Suzuki & Shimodaira 2006): each of ``resamples`` samples draws
every region's sentences with replacement, as many as it has, rebuilds the TF-IDF vectors and the
tree, and a branch's support is the share of samples whose tree has a branch with exactly the same
regions (its bootstrap probability; no multiscale AU p-values). Samples are seeded one by one, so the
support does not depend on the number of worker processes.

**Number of clusters**: by default (``choose_by="stability"``) the cut of the tree into k = 2 … 10
clusters that the resampled trees reproduce best, measured by the mean adjusted Rand index between
the cut and the same cut of each resampled tree, with the one-standard-error rule: the smallest k
whose mean is within one standard error of the best mean. When no cut reaches a mean ARI of 0.5
every region goes into one cluster. ``choose_by="silhouette"`` (and the stability
criterion without resamples) takes the cut with the best silhouette score on the cosine distances
instead, one cluster when none is positive. Fewer than three regions make one cluster; ``n_clusters=``
overrides the choice. Cluster numbers start at 1 and follow the sorted region order (the first region
is in cluster 1), so the same input always gives the same labels.

**What separates the clusters**: each cluster's phrases and words scored against the other clusters
with :func:`pipeline.compare.keyness` (log-odds ratio with an informative Dirichlet prior).
:func:`stability` compares the clusters of consecutive years and of each year with all years (ARI).

Unattributed segments (region "") are left out: they are not a region. Degenerate inputs do not raise:
no region gives an empty result, one region gets cluster 1, a region with no features has similarity 0
to every other region (and 1 to itself).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, pairwise
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from pipeline.figures import cjk_pyplot
from pipeline.io_utils import atomic_write, write_csv
from pipeline.records import Hit, HitTable, Segment, Sentence, Sentences

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from scipy.sparse import csr_array

    from pipeline.config import Settings

__all__ = [
    "PHRASE_PREFIX",
    "ClusterKeynessRow",
    "ClusterResult",
    "ClusterSummary",
    "StabilityRow",
    "adjusted_rand",
    "cluster_by_year",
    "cluster_regions",
    "cluster_regions_and_years",
    "options_of",
    "read_clusters",
    "region_documents",
    "stability",
    "write_cluster_keyness",
    "write_cluster_outputs",
    "write_cluster_stability",
    "write_clusters",
    "write_clusters_by_year",
    "write_dendrogram",
    "write_similarity",
    "write_similarity_heatmap",
]

PHRASE_PREFIX = "phrase:"  # pkuseg never yields ":" inside a token, so phrase features cannot collide


@dataclass(frozen=True, slots=True)
class ClusterResult:
    """Similarity and clusters of the regions, over all years (``year`` None) or one year.

    ``similarity[i][j]`` is the cosine similarity of ``regions[i]`` and ``regions[j]``;
    ``clusters[i]`` is the cluster of ``regions[i]``; ``linkage`` is scipy's linkage matrix as rows
    ``(left, right, distance, size)`` (empty for fewer than two regions); ``silhouettes`` lists
    ``(k, score)`` for every cut tried; ``silhouette`` is the score of the chosen cut (None when no
    silhouette is defined); ``chosen_by`` says how ``n_clusters`` was decided.

    With ``resamples`` bootstrap trees, ``support[i]`` is the share of them that have the branch made by
    merge ``linkage[i]``, ``cluster_support[c - 1]`` that of cluster ``c``'s branch (None for a
    cluster of one region, or a single cluster), and ``stability`` lists ``(k, mean ARI)`` of each cut
    against the same cut of the resampled trees. ``keyness`` (all-years results only) lists what sets
    each cluster apart.
    """

    year: int | None
    regions: tuple[str, ...]
    similarity: tuple[tuple[float, ...], ...]
    clusters: tuple[int, ...]
    n_clusters: int
    silhouette: float | None
    silhouettes: tuple[tuple[int, float], ...]
    chosen_by: str
    linkage: tuple[tuple[float, float, float, float], ...]
    n_features: int
    resamples: int = 0
    support: tuple[float, ...] = ()
    cluster_support: tuple[float | None, ...] = ()
    stability: tuple[tuple[int, float], ...] = ()
    keyness: tuple[ClusterKeynessRow, ...] = ()

    def cluster_of(self, region: str) -> int:
        return self.clusters[self.regions.index(region)]

    def support_of(self, region: str) -> float | None:
        """The support of ``region``'s cluster (None: no resamples, one region, or one cluster)."""
        supports = self.cluster_support
        return supports[self.cluster_of(region) - 1] if supports else None


# ---------------------------------------------------------------------------------------------
# features


def _is_content(token: str) -> bool:
    """A token counts when it has a letter or digit (CJK characters are letters)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def region_documents(
    segments: Sequence[Segment],
    sentences: Iterable[Sentence],
    hits: Iterable[Hit],
    *,
    year: int | None = None,
    words: bool = True,
    phrases: bool = True,
) -> dict[str, list[str]]:
    """Each region's features, in text order: content word tokens, then ``phrase:<提法>`` per hit.

    Regions are those with at least one attributed segment (of ``year`` when given), even when they
    yield no feature. Sentences or hits naming an unknown segment raise ``ValueError``.

    This is the plain definition of a region document; the clustering itself counts the same features
    once for all years with :class:`_FeatureCounts`.
    """
    index = {s.segment_id: s for s in segments}

    def region_of(segment_id: str) -> str | None:
        segment = index.get(segment_id)
        if segment is None:
            raise ValueError(f"unknown segment_id {segment_id!r}")
        if not segment.region or (year is not None and segment.year != year):
            return None
        return segment.region

    docs: dict[str, list[str]] = {s.region: [] for s in _regional(segments, year)}
    if words:
        for sentence in sorted(sentences, key=_SENTENCE_ORDER):
            region = region_of(sentence.segment_id)
            if region is not None:
                docs[region].extend(t for t in sentence.tokens if _is_content(t))
    if phrases:
        for hit in sorted(hits, key=_HIT_ORDER):
            region = region_of(hit.segment_id)
            if region is not None:
                docs[region].append(PHRASE_PREFIX + hit.phrase)
    return dict(sorted(docs.items()))


_SENTENCE_ORDER = attrgetter("segment_id", "index")
_HIT_ORDER = attrgetter("segment_id", "start", "end", "phrase")


def _regional(segments: Iterable[Segment], year: int | None) -> list[Segment]:
    """Attributed segments, of ``year`` when given."""
    return [s for s in segments if s.region and (year is None or s.year == year)]


# Occurrences (tokens and hits) counted at a time, and count table entries summed at a time later: it
# bounds the temporary arrays, about 150 bytes per entry.
CHUNK_ENTRIES = 1 << 19


def _runs(sizes: np.ndarray, limit: int) -> list[int]:
    """Bounds of runs of consecutive rows whose ``sizes`` add up to at most ``limit`` (a larger row
    alone), from 0 to ``len(sizes)``."""
    bounds, total = [0], 0
    for row, size in enumerate(sizes.tolist()):
        if total and total + size > limit:
            bounds.append(row)
            total = 0
        total += size
    return [*bounds, len(sizes)]


# row, feature, count, first (an order key up to regions × occurrences: int32 when it fits), unit_segment,
# entries per sentence, unit_feature, unit_count
_COLUMN_TYPES = (np.int32, np.int32, np.int32, None, np.int32, np.int32, np.int32, np.int32)


def _joined(parts: list[np.ndarray], dtype: type | None = np.int32) -> np.ndarray:
    """The parts end to end (each dropped once copied); ``dtype`` None: int32 when the values fit."""
    values = np.concatenate(parts) if parts else np.empty(0, dtype or np.int32)
    parts.clear()
    if dtype is None and values.max(initial=0) <= np.iinfo(np.int32).max:
        return values.astype(np.int32)
    return values


@dataclass(frozen=True, slots=True)
class _FeatureCounts:
    """Feature counts of every attributed segment and sentence, built once and summed into regions.

    Each entry of ``row, feature, count, first`` is one (segment, feature) pair, in ascending order:
    ``row`` indexes ``segments`` (sorted by id), ``feature`` indexes ``names`` (sorted as scikit-learn
    sorts its vocabulary). ``first`` places the pair's first occurrence in the text order of
    :func:`region_documents` (region, words before phrases, position): scikit-learn stores each
    document's features in order of first occurrence, and summing in that order keeps the similarities
    identical to the last bit. ``documents`` counts the segments each feature occurs in (to find
    boilerplate).

    The bootstrap resamples sentences, so the same counts are kept per (sentence, feature) too:
    ``unit_feature, unit_count``, in (segment, sentence index, feature) order, sentence ``i``'s entries
    from ``unit_bounds[i]`` to ``unit_bounds[i + 1]`` (a sparse sentences × features matrix in CSR form,
    :meth:`sentence_matrix`); ``unit_segment`` gives each sentence's row in ``segments``.
    """

    segments: list[Segment]
    names: list[str]
    row: np.ndarray
    feature: np.ndarray
    count: np.ndarray
    first: np.ndarray
    documents: np.ndarray
    unit_segment: np.ndarray
    unit_bounds: np.ndarray
    unit_feature: np.ndarray
    unit_count: np.ndarray

    @classmethod
    def build(
        cls,
        segments: Sequence[Segment],
        sentences: Iterable[Sentence],
        hits: HitTable | Iterable[Hit],
        *,
        words: bool = True,
        phrases: bool = True,
        chunk: int = CHUNK_ENTRIES,
    ) -> _FeatureCounts:
        """Count run by run of whole segments of about ``chunk`` tokens and hits (a pair never crosses
        a segment), so no array over every token of the corpus is made, and keep int32 columns.
        ``sentences``: the NLP stage's columns (:class:`Sentences`) or ``Sentence`` records; features
        are numbered once, from the distinct tokens."""
        index = {s.segment_id: s for s in segments}
        attributed = sorted((s for s in index.values() if s.region), key=attrgetter("segment_id"))
        row_of = dict.fromkeys(index, -1) | {s.segment_id: row for row, s in enumerate(attributed)}
        rank = {region: i for i, region in enumerate(sorted({s.region for s in attributed}))}
        region_rank = np.array([rank[s.region] for s in attributed], dtype=np.int64)

        table = HitTable.of(hits if phrases else ())
        columns = Sentences.of(sentences if words else ())
        # feature numbers once per distinct token (far fewer than tokens); non-content maps to -1.
        # Phrase features always count; they share the name space with words, as in region_documents.
        used = np.bincount(columns.token_word, minlength=len(columns.words)) > 0
        word_names = [w for w, u in zip(columns.words, used.tolist(), strict=True) if u and _is_content(w)]
        phrase_names = {PHRASE_PREFIX + table.names[p]: p for p in np.unique(table.phrase).tolist()}
        names = sorted(set(word_names) | phrase_names.keys())
        number = {name: i for i, name in enumerate(names)}
        feature_by_word = np.array([number.get(w, -1) for w in columns.words], dtype=np.int64)
        feature_by_phrase = np.full(len(table.names), -1, dtype=np.int64)
        for name, phrase in phrase_names.items():
            feature_by_phrase[phrase] = number[name]

        segment_rows = np.array([row_of.get(i, -2) for i in columns.segment_ids], dtype=np.int64)
        sentence_rows = segment_rows[columns.segment]
        if (sentence_rows == -2).any():
            raise ValueError(
                f"unknown segment_id {columns.segment_ids[columns.segment[sentence_rows == -2][0]]!r}"
            )
        row_by_segment = np.array([row_of.get(i, -2) for i in table.segment_ids], dtype=np.int32)
        hit_rows = row_by_segment[table.segment]
        if (hit_rows == -2).any():
            raise ValueError(f"unknown segment_id {table.segment_ids[table.segment[hit_rows == -2][0]]!r}")

        # the attributed sentences in (segment, index) order: their rows ascend
        ordered = np.flatnonzero(sentence_rows >= 0)
        ordered = ordered[np.lexsort((columns.sentence_index[ordered], sentence_rows[ordered]))]
        sentence_rows = sentence_rows[ordered]
        lengths = np.diff(columns.token_first)[ordered]
        token_starts = np.concatenate([[0], np.cumsum(lengths)])
        n_tokens = int(token_starts[-1])
        sizes = np.bincount(sentence_rows, weights=lengths, minlength=len(attributed))
        sizes += np.bincount(hit_rows[hit_rows >= 0], minlength=len(attributed))
        # Order key of each occurrence: region, then words before phrases, then position. A position
        # is the token's number among all tokens in text order, or n_tokens + the hit's number among
        # the hits in region_documents order (segment, start, end, phrase).
        span = n_tokens + int((hit_rows >= 0).sum())
        width = max(len(names), 1)
        parts: list[list[np.ndarray]] = [[] for _ in range(8)]
        hits_before = n_tokens
        row_bounds = _runs(sizes, chunk)
        sentence_bounds = np.searchsorted(sentence_rows, row_bounds).tolist()
        for (low, high), (a, b) in zip(pairwise(row_bounds), pairwise(sentence_bounds), strict=True):
            found = np.flatnonzero((hit_rows >= low) & (hit_rows < high))
            hit_features = feature_by_phrase[table.phrase[found]]
            order = np.lexsort((hit_features, table.end[found], table.start[found], hit_rows[found]))
            found, hit_features = found[order], hit_features[order]
            n = lengths[a:b]
            # the tokens of sentences a … b, each sentence's in text order
            tokens = np.repeat(columns.token_first[ordered[a:b]] - token_starts[a:b], n) + np.arange(
                token_starts[a], token_starts[b]
            )
            run = _count_run(
                np.concatenate([np.repeat(sentence_rows[a:b], n), hit_rows[found]]) - low,
                np.concatenate([feature_by_word[columns.token_word[tokens]], hit_features]),
                np.concatenate([np.repeat(columns.sentence_index[ordered[a:b]], n), table.sentence[found]]),
                np.concatenate(
                    [np.arange(token_starts[a], token_starts[b]), hits_before + np.arange(len(found))]
                ),
                width,
            )
            hits_before += len(found)
            run[0] += low  # rows
            run[3] = region_rank[run[0]] * span + run[3]  # order keys of the first occurrences
            run[4] += low  # sentences' rows
            for column, values, dtype in zip(parts, run, _COLUMN_TYPES, strict=True):
                column.append(values.astype(dtype or np.int64))
        row, feature, count, first, unit_segment, unit_sizes, unit_feature, unit_count = (
            _joined(column, dtype) for column, dtype in zip(parts, _COLUMN_TYPES, strict=True)
        )
        return cls(
            attributed,
            names,
            row,
            feature,
            count,
            first,
            np.bincount(feature, minlength=len(names)),
            unit_segment,
            _joined([np.zeros(1, np.int64), np.cumsum(unit_sizes)], None),
            unit_feature,
            unit_count,
        )

    def columns(self, *, words: bool = True, phrases: bool = True, max_doc_share: float = 1.0) -> np.ndarray:
        """Which features to use: a boolean mask over ``names``.

        ``max_doc_share`` below 1 leaves out boilerplate: features found in more than that share of
        the attributed segments.
        """
        is_phrase = np.array([name.startswith(PHRASE_PREFIX) for name in self.names], dtype=bool)
        keep = np.where(is_phrase, phrases, words)
        if max_doc_share < 1.0:
            keep &= self.documents <= max_doc_share * len(self.segments)
        return keep

    def row_regions(self, regions: Sequence[str], year: int | None) -> np.ndarray:
        """The index in ``regions`` of each segment's region (-1: not of ``year``, or not among them)."""
        number = {region: i for i, region in enumerate(regions)}
        return np.array(
            [number.get(s.region, -1) if year is None or s.year == year else -1 for s in self.segments],
            np.int64,
        )

    def region_matrix(
        self, regions: Sequence[str], year: int | None, columns: np.ndarray | None = None
    ) -> csr_array:
        """Counts of ``regions`` (sorted; of ``year`` when given) × the features they have.

        ``columns`` (a mask from :meth:`columns`) limits the features. The matrix is the one
        scikit-learn's vectoriser builds from :func:`region_documents`: columns are the features
        present, sorted; each row holds its entries in order of first occurrence.
        """
        from scipy.sparse import csr_array

        # the cells present, in (region, feature) order: a flag per region and feature (a few MB)
        # instead of sorting the pairs; scikit-learn numbers features by first occurrence over all
        # documents and stores each row's entries in that order
        n_names = max(len(self.names), 1)
        seen = np.full(n_names, np.iinfo(np.int64).max)
        flags = np.zeros(len(regions) * n_names, dtype=bool)
        for region, feature, _, first in self.pairs(regions, year, columns):
            np.minimum.at(seen, feature, first)
            flags[region * n_names + feature] = True
        cells = np.flatnonzero(flags)
        del flags
        totals = np.zeros(len(cells))  # integer counts: exact in float64, in any order
        for region, feature, count, _ in self.pairs(regions, year, columns):
            cell = np.searchsorted(cells, region * n_names + feature)
            totals += np.bincount(cell, weights=count, minlength=len(cells))
        cell_region, cell_feature = np.divmod(cells, n_names)
        present = np.flatnonzero(seen < np.iinfo(np.int64).max)
        order = np.lexsort((seen[cell_feature], cell_region))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(cell_region, minlength=len(regions)))])
        return csr_array(
            (
                totals[order],
                np.searchsorted(present, cell_feature[order]).astype(np.int32),
                indptr.astype(np.int32),
            ),
            shape=(len(regions), len(present)),
        )

    def pairs(
        self, regions: Sequence[str], year: int | None, columns: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """``region`` (index in ``regions``), ``feature``, ``count``, ``first`` of the (segment, feature)
        pairs of ``regions`` (of ``year``; features in ``columns``), ``CHUNK_ENTRIES`` pairs at a time."""
        row_region = self.row_regions(regions, year)
        for low in range(0, len(self.row), CHUNK_ENTRIES):
            part = slice(low, low + CHUNK_ENTRIES)
            region, feature = row_region[self.row[part]], self.feature[part]
            keep = region >= 0
            if columns is not None:
                keep &= columns[feature]
            yield region[keep], feature[keep], self.count[part][keep], self.first[part][keep]

    def sentence_matrix(self) -> csr_array:
        """Sentences × features counts (the unit table itself, not a copy)."""
        from scipy.sparse import csr_array

        shape = (len(self.unit_segment), max(len(self.names), 1))
        return csr_array((self.unit_count, self.unit_feature, self.unit_bounds), shape=shape)


def _count_run(
    rows: np.ndarray, features: np.ndarray, sentences: np.ndarray, positions: np.ndarray, width: int
) -> list[np.ndarray]:
    """Counts of one run of segments' occurrences (feature -1: not counted), each segment's in text order.

    Returns the columns ``row, feature, count, first`` (here the position of the first occurrence) of
    the (segment, feature) pairs and ``unit_segment``, the number of entries of each sentence,
    ``unit_feature, unit_count`` of the (sentence, feature) pairs, as :class:`_FeatureCounts` has them,
    for this run alone.
    """
    keep = features >= 0
    rows, features, sentences, positions = rows[keep], features[keep], sentences[keep], positions[keep]
    # one entry per (segment, feature); within a pair the occurrences come in text order, so the
    # first index np.unique reports is the first occurrence
    pairs, first, count = np.unique(rows * width + features, return_index=True, return_counts=True)
    row, feature = np.divmod(pairs, width)
    # and one per (sentence, feature), a sentence being (segment row, sentence index)
    per_row = int(sentences.max(initial=0)) + 1
    units, unit = np.unique(rows * per_row + sentences, return_inverse=True)
    unit_pairs, unit_count = np.unique(unit * width + features, return_counts=True)
    unit, unit_feature = np.divmod(unit_pairs, width)
    sizes = np.bincount(unit, minlength=len(units))
    return [row, feature, count, positions[first], units // per_row, sizes, unit_feature, unit_count]


def _similarity(counts: csr_array, *, sublinear_tf: bool) -> np.ndarray:
    """Cosine similarity of TF-IDF vectors: square, symmetric, exactly 1.0 on the diagonal.

    ``counts`` is regions × features; the weights are those of scikit-learn's ``TfidfVectorizer``
    with default settings (smooth idf, L2 norm), computed here: importing scikit-learn in the
    clustering's process took longer (1.7 s) than all its similarities of the 183 reports.
    """
    n_rows, n_features = counts.shape
    if n_features == 0:
        return np.eye(n_rows)
    matrix = counts.astype(np.float64)  # a copy: the counts are not changed
    if sublinear_tf:
        matrix.data = np.log(matrix.data) + 1.0
    document_frequency = np.bincount(matrix.indices, minlength=n_features)
    matrix.data *= (np.log((1.0 + n_rows) / (1.0 + document_frequency)) + 1.0)[matrix.indices]
    row_of_entry = np.repeat(np.arange(n_rows), np.diff(matrix.indptr))
    for _ in range(2):  # scikit-learn normalises the TF-IDF rows, and again for the cosine: same floats
        norm = np.sqrt(np.bincount(row_of_entry, weights=matrix.data**2, minlength=n_rows))
        matrix.data /= np.where(norm > 0, norm, 1.0)[row_of_entry]  # a region without features stays zero
    sim = (matrix @ matrix.T).toarray()
    sim = np.clip((sim + sim.T) / 2.0, 0.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim


def _silhouette(distance: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of ``labels`` on a precomputed ``distance`` matrix, as scikit-learn's
    ``silhouette_score(..., metric="precomputed")``: a member of a cluster of one scores 0."""
    cluster = np.unique(labels, return_inverse=True)[1]
    n, size = len(cluster), np.bincount(cluster)
    to_cluster = distance @ np.eye(len(size))[cluster]  # sum of each sample's distances to each cluster
    own = size[cluster]
    inner = to_cluster[np.arange(n), cluster] / np.maximum(own - 1, 1)
    mean_to = to_cluster / size
    mean_to[np.arange(n), cluster] = np.inf
    nearest = mean_to.min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (nearest - inner) / np.maximum(inner, nearest)
    return float(np.mean(np.where(own > 1, np.nan_to_num(score), 0.0)))


# ---------------------------------------------------------------------------------------------
# clustering


@dataclass(frozen=True, slots=True)
class _Options:
    n_clusters: int | None = None
    words: bool = True
    phrases: bool = True
    max_doc_share: float = 1.0
    sublinear_tf: bool = True
    choose_by: str = "stability"
    resamples: int = 0
    seed: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        if self.n_clusters is not None and self.n_clusters < 1:
            raise ValueError(f"n_clusters must be at least 1, got {self.n_clusters}")
        if self.resamples < 0:
            raise ValueError(f"resamples must not be negative, got {self.resamples}")
        if not 0.0 < self.max_doc_share <= 1.0:
            raise ValueError(f"max_doc_share must be above 0 and at most 1, got {self.max_doc_share}")
        if self.choose_by not in CHOOSE_BY:
            raise ValueError(f"choose_by must be one of {', '.join(CHOOSE_BY)}, got {self.choose_by!r}")

    def build(self, segments: Sequence[Segment], sentences: Iterable[Sentence], hits) -> _FeatureCounts:
        return _FeatureCounts.build(segments, sentences, hits, words=self.words, phrases=self.phrases)


CHOOSE_BY = ("stability", "silhouette")


def options_of(settings: Settings) -> dict[str, Any]:
    """The clustering options of the run's settings (``n_clusters`` and the ``cluster_*`` keys)."""
    return {
        "n_clusters": settings.n_clusters or None,
        "words": settings.cluster_features != "phrases",
        "phrases": settings.cluster_features != "words",
        "max_doc_share": settings.cluster_max_doc_share,
        "choose_by": settings.cluster_criterion,
        "resamples": settings.cluster_resamples,
        "seed": settings.cluster_seed,
        "workers": settings.resolved_workers(),
    }


def cluster_regions(
    segments: Sequence[Segment],
    sentences: Iterable[Sentence],
    hits: HitTable | Iterable[Hit],
    *,
    year: int | None = None,
    n_clusters: int | None = None,
    words: bool = True,
    phrases: bool = True,
    max_doc_share: float = 1.0,
    sublinear_tf: bool = True,
    choose_by: str = "stability",
    resamples: int = 0,
    seed: int = 0,
    workers: int = 1,
) -> ClusterResult:
    """TF-IDF similarity of the regions and their hierarchical clusters (all years, or ``year``).

    ``words`` and ``phrases`` choose the features; ``max_doc_share`` below 1 leaves out boilerplate,
    features found in more than that share of the segments. ``sublinear_tf`` uses ``1 + log(tf)`` so
    long reports do not drown short ones in repeated words. ``resamples`` bootstrap trees (each
    region's sentences drawn with replacement, seeded by ``seed``, in ``workers`` processes) give every
    branch its support. See the module docstring for how the number of clusters is chosen
    (``choose_by``: ``stability``, which needs resamples, or ``silhouette``).

    >>> segs = [Segment(f"s{i}", "", r, "", "", None, "") for i, r in enumerate(["上海", "江西"])]
    >>> sents = [Sentence("s0", 0, 0, 4, "两个确立", ("两", "个", "确立")),
    ...          Sentence("s1", 0, 0, 4, "两个确立", ("两", "个", "确立"))]
    >>> result = cluster_regions(segs, sents, [])
    >>> result.regions, result.similarity, result.clusters
    (('上海', '江西'), ((1.0, 1.0), (1.0, 1.0)), (1, 1))

    Raises:
        ValueError: an option out of range (``n_clusters`` below 1 …), or a sentence or hit naming an
            unknown segment.
    """
    options = _Options(
        n_clusters, words, phrases, max_doc_share, sublinear_tf, choose_by, resamples, seed, workers
    )
    return _cluster_counts(options.build(segments, sentences, hits), segments, year, options)


def cluster_by_year(
    segments: Sequence[Segment],
    sentences: Iterable[Sentence],
    hits: HitTable | Iterable[Hit],
    **options: Any,
) -> list[ClusterResult]:
    """:func:`cluster_regions` for every year in which some region has a dated segment, in year order.

    Empty when no attributed segment has a year. IDF weights are computed within each year; boilerplate
    (``max_doc_share``) is judged over all years. Options as for :func:`cluster_regions`.
    """
    years = _years(segments)
    if not years:
        return []
    checked = _Options(**options)
    counts = checked.build(segments, sentences, hits)
    return [_cluster_counts(counts, segments, year, checked) for year in years]


def cluster_regions_and_years(
    segments: Sequence[Segment],
    sentences: Iterable[Sentence],
    hits: HitTable | Iterable[Hit],
    **options: Any,
) -> tuple[ClusterResult, list[ClusterResult]]:
    """:func:`cluster_regions` over all years and :func:`cluster_by_year`, counting features once.

    Options as for :func:`cluster_regions`.

    Raises:
        ValueError: an option out of range, or a sentence or hit naming an unknown segment.
    """
    checked = _Options(**options)
    counts = checked.build(segments, sentences, hits)
    results = [_cluster_counts(counts, segments, year, checked) for year in [None, *_years(segments)]]
    return results[0], results[1:]


def _years(segments: Iterable[Segment]) -> list[int]:
    return sorted({s.year for s in segments if s.region and s.year is not None})


def _cluster_counts(
    counts: _FeatureCounts, segments: Sequence[Segment], year: int | None, options: _Options
) -> ClusterResult:
    regions = tuple(sorted({s.region for s in _regional(segments, year)}))
    if not regions:
        return ClusterResult(year, (), (), (), 0, None, (), "no regions", (), 0)
    columns = counts.columns(
        words=options.words, phrases=options.phrases, max_doc_share=options.max_doc_share
    )
    matrix = counts.region_matrix(regions, year, columns)
    sim = _similarity(matrix, sublinear_tf=options.sublinear_tf)
    tree = _ward(sim)
    trees = _resampled_trees(counts, regions, year, columns, options) if len(regions) > 2 else []
    labels, silhouette, silhouettes, stability, chosen_by = _cut(sim, tree, trees, options)
    support = _support(tree, trees)
    return ClusterResult(
        year=year,
        regions=regions,
        similarity=tuple(tuple(float(v) for v in row) for row in sim),
        clusters=labels,
        n_clusters=len(set(labels)),
        silhouette=silhouette,
        silhouettes=silhouettes,
        chosen_by=chosen_by,
        linkage=tuple((float(a), float(b), float(d), float(c)) for a, b, d, c in tree),
        n_features=matrix.shape[1],
        resamples=len(trees),
        support=support,
        cluster_support=_cluster_support(tree, support, labels),
        stability=stability,
        keyness=_cluster_keyness(counts, regions, year, labels) if year is None else (),
    )


def _ward(sim: np.ndarray) -> np.ndarray:
    """Ward's tree of the unit-length TF-IDF vectors, whose Euclidean distance is sqrt(2 · (1 - sim)).

    Average linkage split off one outlier region against all the others on real corpora; Ward gives
    groups of comparable size (municipalities, the west, the north-east, the coast …).
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    if len(sim) < 2:
        return np.empty((0, 4))
    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    return linkage(squareform(np.sqrt(2.0 * distance), checks=False), method="ward")


def _cut_at(tree: np.ndarray, k: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster

    n = len(tree) + 1
    return fcluster(tree, t=k, criterion="maxclust") if k > 1 else np.ones(n, dtype=int)


def _cut(
    sim: np.ndarray, tree: np.ndarray, trees: Sequence[np.ndarray], options: _Options
) -> tuple[tuple[int, ...], float | None, tuple[tuple[int, float], ...], tuple[tuple[int, float], ...], str]:
    """Labels, silhouette of the cut, silhouettes and stabilities per k, and how k was chosen."""
    n = len(sim)
    if n == 1:
        return (1,), None, (), (), "one region"
    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    scores: list[tuple[int, float]] = []
    for k in range(2, n):
        labels = _cut_at(tree, k)
        if 2 <= len(set(labels.tolist())) <= n - 1:
            scores.append((k, _silhouette(distance, labels)))
    ks = [k for k, _ in scores if k <= MAX_K]
    ari = _stability(tree, trees, ks) if trees else {}
    stability = tuple((k, float(np.mean(values))) for k, values in ari.items())
    if options.n_clusters is not None:
        k, chosen_by = min(options.n_clusters, n), "n_clusters"
    elif not scores:
        k, chosen_by = 1, "fewer than three regions: one cluster"
    elif options.choose_by == "stability" and stability:
        best_k, best = max(stability, key=lambda item: (item[1], -item[0]))
        # one-standard-error rule: the fewest clusters reproduced about as well as the best cut
        error = float(np.std(ari[best_k]) / np.sqrt(len(trees)))
        k = min(k for k, mean in stability if mean >= best - error)
        chosen_by = "stability"
        if best < MIN_STABILITY:
            k, chosen_by = 1, f"no cut reproduced with ARI ≥ {MIN_STABILITY}: one cluster"
    else:
        best_k, best = max(scores, key=lambda item: (item[1], -item[0]))
        if best > 0:
            k, chosen_by = best_k, "silhouette"
        else:
            k, chosen_by = 1, "no cut with positive silhouette: one cluster"
    labels = _renumber(_cut_at(tree, k).tolist())
    score = dict(scores).get(k) if 1 < len(set(labels)) < n else None
    return labels, score, tuple(scores), stability, chosen_by


MAX_K = 10  # the stability criterion looks at 2 … 10 clusters
MIN_STABILITY = 0.5


def _stability(tree: np.ndarray, trees: Sequence[np.ndarray], ks: Sequence[int]) -> dict[int, np.ndarray]:
    """For each k, the adjusted Rand index between the cut of ``tree`` into ``k`` clusters and the same
    cut of each resampled tree: how well the partition is reproduced when the texts are resampled."""
    cuts = _cuts(tree, ks)
    found: dict[int, list[float]] = {k: [] for k in ks}
    for other in trees:
        for k, labels in _cuts(other, ks).items():
            found[k].append(adjusted_rand(cuts[k], labels))
    return {k: np.array(values) for k, values in found.items()}


def _cuts(tree: np.ndarray, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Cluster numbers (from 0) of the leaves when the tree is cut into each of ``ks`` clusters, i.e.
    before its last k - 1 merges (as ``fcluster(..., criterion="maxclust")`` cuts a tree without ties)."""
    n = len(tree) + 1
    owner = list(range(n))  # the node each leaf is in so far
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    wanted = {n - k: k for k in ks}
    cuts: dict[int, np.ndarray] = {}
    for step, (left, right) in enumerate(tree[:, :2].astype(int).tolist()):
        if step in wanted:
            cuts[wanted[step]] = np.unique(owner, return_inverse=True)[1]
        joined = members.pop(left) + members.pop(right)
        for leaf in joined:
            owner[leaf] = n + step
        members[n + step] = joined
    return cuts


def adjusted_rand(first: Sequence[int] | np.ndarray, second: Sequence[int] | np.ndarray) -> float:
    """Adjusted Rand index of two labelings of the same items (Hubert & Arabie 1985), as scikit-learn's
    ``adjusted_rand_score`` computes it, without its checks (it runs for every resampled tree)."""
    a, b = np.asarray(first), np.asarray(second)
    if (
        a.min(initial=0) < 0
        or b.min(initial=0) < 0
        or a.max(initial=0) > 2 * len(a)
        or b.max(initial=0) > 2 * len(b)
    ):
        a, b = np.unique(a, return_inverse=True)[1], np.unique(b, return_inverse=True)[1]
    n = len(a)
    table = np.bincount(a * (b.max(initial=0) + 1) + b).astype(float)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1)).sum() / 2)

    together = pairs(table)
    rows, columns = pairs(np.bincount(a).astype(float)), pairs(np.bincount(b).astype(float))
    expected = rows * columns / (n * (n - 1) / 2) if n > 1 else 0.0
    best = (rows + columns) / 2
    return 1.0 if best == expected else (together - expected) / (best - expected)


def _renumber(raw: list[int]) -> tuple[int, ...]:
    """Cluster ids 1, 2, … in order of first appearance along the sorted regions."""
    mapping: dict[int, int] = {}
    for label in raw:
        mapping.setdefault(label, len(mapping) + 1)
    return tuple(mapping[label] for label in raw)


# ---------------------------------------------------------------------------------------------
# bootstrap support


def _clades(tree: np.ndarray) -> list[int]:
    """The regions below each merge of ``tree``, as bit masks (bit i: region i)."""
    n = len(tree) + 1
    members = [1 << i for i in range(n)]
    for left, right, *_ in tree.tolist():
        members.append(members[int(left)] | members[int(right)])
    return members[n:]


def _support(tree: np.ndarray, trees: Sequence[np.ndarray]) -> tuple[float, ...]:
    """Bootstrap probability of each merge: the share of resampled trees that have the same branch."""
    if not trees:
        return ()
    seen = Counter(chain.from_iterable(set(_clades(other)) for other in trees))
    return tuple(seen[clade] / len(trees) for clade in _clades(tree))


def _cluster_support(
    tree: np.ndarray, support: Sequence[float], labels: Sequence[int]
) -> tuple[float | None, ...]:
    """Support of each cluster (1, 2, …): that of its branch; None for one region or one cluster."""
    k = max(labels, default=0)
    if not support or k < 2:
        return (None,) * k
    branch = dict(zip(_clades(tree), support, strict=True))
    masks = [0] * k
    for i, label in enumerate(labels):
        masks[label - 1] |= 1 << i
    return tuple(branch.get(mask) if mask & (mask - 1) else None for mask in masks)


def _resampled_trees(
    counts: _FeatureCounts, regions: Sequence[str], year: int | None, columns: np.ndarray, options: _Options
) -> list[np.ndarray]:
    """Ward trees of ``options.resamples`` bootstrap samples: each region's sentences drawn with
    replacement, as many as it has, then TF-IDF and similarity rebuilt (:class:`_Resampler`).

    Sample ``b`` is drawn from its own generator seeded with (seed, year, b), so the trees do not
    depend on how the samples are shared among worker processes.
    """
    if options.resamples == 0:
        return []
    resampler = _Resampler.of(counts, regions, year, columns)

    def trees(samples: range) -> list[np.ndarray]:
        found = []
        for sample in samples:
            rng = np.random.default_rng([options.seed, year or 0, sample])
            found.append(_ward(resampler.similarity(rng, sublinear_tf=options.sublinear_tf)))
        return found

    # a forked process (which shares the counts) pays for itself from a few dozen samples
    workers = min(options.workers, max(1, options.resamples // 25))
    if workers < 2:
        return trees(range(options.resamples))
    from pipeline.parallel import Stages

    bounds = np.linspace(0, options.resamples, workers + 1).astype(int).tolist()
    with _may_fork(), Stages(workers) as stages:
        for i, (low, high) in enumerate(pairwise(bounds)):
            stages.start(f"bootstrap-{i}", partial(trees, range(low, high)))
        done = stages.wait()
    return [tree for found, _ in done.values() for tree in found]


@contextmanager
def _may_fork() -> Iterator[None]:
    """Let a stage of ``tifa run`` fork the bootstrap's processes.

    The run's stages are daemonic processes (:mod:`pipeline.parallel`), and multiprocessing refuses
    children to a daemon only because it would not clean them up at exit; here :class:`Stages` waits
    for them or kills them, and they die with their parent (``PR_SET_PDEATHSIG``).
    """
    import multiprocessing

    config = multiprocessing.current_process()._config  # private, but the only switch there is
    daemon = config.get("daemon", False)
    config["daemon"] = False
    try:
        yield
    finally:
        config["daemon"] = daemon


_DENSE_CELLS = 8_000_000  # regions × features up to this: the Gram matrix is a dense product


@dataclass(frozen=True, slots=True)
class _Resampler:
    """The sentences of one clustering, arranged for drawing bootstrap samples fast.

    Sentences are numbered in region order (region ``r`` owns ``sizes[r]`` of them from ``starts[r]``;
    ``unit_group`` is each one's region, ``units`` its row in ``sentences``, the sentences × features
    counts of :meth:`_FeatureCounts.sentence_matrix`). The cells of a sample are one sparse product:
    regions × sentences (how often each is drawn) times ``sentences``; ``column`` is each feature's
    (compacted) column, -1 when left out.
    """

    n_regions: int
    n_columns: int
    sizes: np.ndarray
    starts: np.ndarray
    unit_group: np.ndarray
    units: np.ndarray
    sentences: csr_array
    column: np.ndarray

    @classmethod
    def of(
        cls, counts: _FeatureCounts, regions: Sequence[str], year: int | None, columns: np.ndarray
    ) -> _Resampler:
        unit_region = np.append(counts.row_regions(regions, year), -1)[counts.unit_segment]
        units = np.flatnonzero(unit_region >= 0)
        units = units[np.argsort(unit_region[units], kind="stable")]  # grouped by region
        group = unit_region[units]
        present = np.zeros(len(counts.names), dtype=bool)  # the features of these regions' segments
        for _, feature, _, _ in counts.pairs(regions, year, columns):
            present[feature] = True
        column = np.cumsum(present) - 1
        column[~present] = -1
        starts = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=len(regions)))[:-1]])
        sizes = np.bincount(group, minlength=len(regions))
        return cls(
            len(regions), int(present.sum()), sizes, starts, group, units, counts.sentence_matrix(), column
        )

    def similarity(self, rng: np.random.Generator, *, sublinear_tf: bool) -> np.ndarray:
        """Cosine similarity of the TF-IDF vectors of one bootstrap sample (weights as
        :func:`_similarity`: smooth idf, L2 norm)."""
        from scipy.sparse import csr_array

        n, group = self.n_regions, self.unit_group
        draw = self.starts[group] + (rng.random(len(group)) * self.sizes[group]).astype(np.int64)
        times = np.bincount(draw, minlength=len(group))  # how often each sentence is drawn
        drawn_units = np.flatnonzero(times)  # in region order
        draws = csr_array(
            (
                times[drawn_units].astype(self.sentences.dtype),
                self.units[drawn_units].astype(self.sentences.indices.dtype),
                np.searchsorted(group[drawn_units], np.arange(n + 1)).astype(self.sentences.indptr.dtype),
            ),
            shape=(n, self.sentences.shape[0]),
        )
        cells = draws @ self.sentences  # integer sums: exact, in any order
        dense = n * self.n_columns <= _DENSE_CELLS
        if not dense:  # sparse products sum in storage order: that of the whole text's cells
            cells.sort_indices()
        cell_row = np.repeat(np.arange(n), np.diff(cells.indptr))
        cell_column = self.column[cells.indices]
        kept = cell_column >= 0
        cell_row, cell_column, value = cell_row[kept], cell_column[kept], cells.data[kept].astype(float)
        if sublinear_tf:  # 1 + log(tf): every cell here was drawn
            value = np.log(value) + 1.0
        idf = np.log((1.0 + n) / (1.0 + np.bincount(cell_column, minlength=self.n_columns))) + 1.0
        if dense:  # single precision: ample for the order of merges
            vectors = np.zeros(n * self.n_columns, dtype=np.float32)
            vectors[cell_row * self.n_columns + cell_column] = value
            vectors = vectors.reshape(n, self.n_columns)
            vectors *= idf.astype(np.float32)
            gram = (vectors @ vectors.T).astype(float)
        else:
            value *= idf[cell_column]
            vectors = csr_array((value, (cell_row, cell_column)), shape=(n, self.n_columns))
            gram = (vectors @ vectors.T).toarray()
        norm = np.sqrt(np.diag(gram))
        norm[norm == 0] = 1.0
        sim = gram / np.outer(norm, norm)
        sim = np.clip((sim + sim.T) / 2.0, 0.0, 1.0)
        np.fill_diagonal(sim, 1.0)
        return sim


# ---------------------------------------------------------------------------------------------
# what separates the clusters, and how stable they are over the years


class ClusterKeynessRow(NamedTuple):
    """A phrase or word one cluster uses more than the other clusters (``kind`` phrase or word).

    ``score`` is the z-score of the log-odds ratio with an informative Dirichlet prior, as in
    ``keyness.csv`` (:func:`pipeline.compare.keyness`), the cluster against all other clusters;
    ``other_count`` the uses in the other clusters.
    """

    cluster: int
    kind: str
    feature: str
    count: int
    other_count: int
    score: float


KEYNESS_TOP = 30  # rows per cluster and kind


def _cluster_keyness(
    counts: _FeatureCounts, regions: Sequence[str], year: int | None, labels: Sequence[int]
) -> tuple[ClusterKeynessRow, ...]:
    """The ``KEYNESS_TOP`` most distinctive phrases and words of each cluster (only those it uses)."""
    from pipeline.compare import HitCounts, keyness

    k = max(labels, default=0)
    if k < 2 or not counts.names:
        return ()
    cluster = np.asarray(labels, dtype=np.int64) - 1
    width = len(counts.names)
    table = np.zeros(k * width)
    for region, feature, count, _ in counts.pairs(regions, year):
        table += np.bincount(cluster[region] * width + feature, weights=count, minlength=k * width)
    table = table.reshape(k, width).astype(np.int64)
    names = [str(c) for c in range(1, k + 1)]
    is_phrase = np.array([name.startswith(PHRASE_PREFIX) for name in counts.names], dtype=bool)
    rows: list[ClusterKeynessRow] = []
    for kind, columns in (("phrase", np.flatnonzero(is_phrase)), ("word", np.flatnonzero(~is_phrase))):
        by_cluster = HitCounts(
            vocabulary=tuple(counts.names[i].removeprefix(PHRASE_PREFIX) for i in columns.tolist()),
            regions=tuple(names),
            years=(),
            region_chars=np.ones(k, dtype=np.int64),  # every cluster has text
            year_chars=np.zeros((k, 0), dtype=np.int64),
            total=table[:, columns],
            cells=np.empty(0, dtype=np.int64),
            cell_counts=np.empty(0, dtype=np.int64),
        )
        rows += [
            ClusterKeynessRow(int(row.region), kind, row.phrase, row.count, row.reference_count, row.score)
            for row in keyness((), (), (), min_count=1, counts=by_cluster, top=KEYNESS_TOP)
        ]
    return tuple(sorted(rows, key=lambda r: (r.cluster, r.kind != "phrase", -r.score, r.feature)))


class StabilityRow(NamedTuple):
    """Agreement of one year's clusters with the previous year's or with the all-years clusters.

    ``ari`` is the adjusted Rand index over the ``regions`` both clusterings have (1 = the same
    partition, about 0 = no more alike than chance); ``clusters`` and ``other_clusters`` count the
    clusters among those regions.
    """

    year: int
    compared_with: str  # the previous year, or "all"
    regions: int
    clusters: int
    other_clusters: int
    ari: float | None


def stability(overall: ClusterResult, by_year: Sequence[ClusterResult]) -> list[StabilityRow]:
    """ARI between consecutive years' clusters and between each year's and the all-years clusters.

    ``ari`` is None when fewer than two regions are shared.
    """

    def compare(result: ClusterResult, other: ClusterResult, name: str) -> StabilityRow:
        shared = sorted(set(result.regions) & set(other.regions))
        mine = [result.cluster_of(r) for r in shared]
        theirs = [other.cluster_of(r) for r in shared]
        ari = adjusted_rand(mine, theirs) if len(shared) >= 2 else None
        return StabilityRow(result.year or 0, name, len(shared), len(set(mine)), len(set(theirs)), ari)

    rows = [compare(b, a, str(a.year)) for a, b in pairwise(by_year)]
    rows += [compare(result, overall, "all") for result in by_year]
    return sorted(rows, key=lambda row: (row.compared_with == "all", row.year))


# ---------------------------------------------------------------------------------------------
# writers


def _suffix(result: ClusterResult) -> str:
    return "" if result.year is None else f"_{result.year}"


def write_similarity(out_dir: Path, result: ClusterResult, *, name: str | None = None) -> Path:
    """Write the square matrix (first column ``region``): ``similarity.csv`` or ``similarity_<year>.csv``."""
    path = Path(out_dir) / (name or f"similarity{_suffix(result)}.csv")
    rows = [(region, *row) for region, row in zip(result.regions, result.similarity, strict=True)]
    write_csv(path, ("region", *result.regions), rows)
    return path


def write_clusters(out_dir: Path, result: ClusterResult, *, name: str | None = None) -> Path:
    """Write ``region, cluster, support``: ``clusters.csv`` or ``clusters_<year>.csv``.

    ``support`` is the share of bootstrap trees that have the region's cluster as a branch (empty with
    no resamples, for a cluster of one region, or when all regions are one cluster).
    """
    path = Path(out_dir) / (name or f"clusters{_suffix(result)}.csv")
    rows = [
        (region, cluster, result.support_of(region))
        for region, cluster in zip(result.regions, result.clusters, strict=True)
    ]
    write_csv(path, ("region", "cluster", "support"), rows)
    return path


def write_clusters_by_year(out_dir: Path, results: Iterable[ClusterResult]) -> Path:
    """Write the long ``clusters_by_year.csv``: ``year, region, cluster, n_clusters, silhouette, support``."""
    path = Path(out_dir) / "clusters_by_year.csv"
    rows = [
        (r.year, region, cluster, r.n_clusters, r.silhouette, r.support_of(region))
        for r in results
        for region, cluster in zip(r.regions, r.clusters, strict=True)
    ]
    write_csv(path, ("year", "region", "cluster", "n_clusters", "silhouette", "support"), rows)
    return path


def write_cluster_stability(out_dir: Path, rows: Iterable[StabilityRow]) -> Path:
    """Write ``cluster_stability.csv`` (:func:`stability`)."""
    path = Path(out_dir) / "cluster_stability.csv"
    write_csv(path, StabilityRow._fields, rows)
    return path


def write_cluster_keyness(out_dir: Path, result: ClusterResult) -> Path:
    """Write ``cluster_keyness.csv``: what each cluster says more than the others (``ClusterKeynessRow``)."""
    path = Path(out_dir) / "cluster_keyness.csv"
    write_csv(path, ClusterKeynessRow._fields, result.keyness)
    return path


def _save(fig: Figure, path: Path) -> None:
    """Save a figure atomically; SVG carries no date so reruns are byte-identical."""
    import io

    buffer = io.BytesIO()
    fmt = path.suffix.lstrip(".").lower() or "svg"
    metadata = {"Date": None} if fmt in {"svg", "pdf"} else {"Software": None}
    fig.savefig(buffer, format=fmt, metadata=metadata, bbox_inches="tight", dpi=150)
    atomic_write(path, buffer.getvalue())


def _title(kind: str, result: ClusterResult) -> str:
    when = "全部年份" if result.year is None else f"{result.year}年"
    return f"{kind}（{when}，{len(result.regions)} 个地区，{result.n_clusters} 类）"


def write_dendrogram(out_dir: Path, result: ClusterResult, *, name: str | None = None) -> Path:
    """Draw the Ward tree with region names, coloured by the chosen clusters, each branch marked with
    its bootstrap support in percent (when there were resamples).

    ``name`` picks the file (its suffix the format, e.g. ``dendrogram.png``); default
    ``dendrogram.svg`` or ``dendrogram_<year>.svg``.
    """
    from scipy.cluster.hierarchy import dendrogram

    plt = cjk_pyplot()
    path = Path(out_dir) / (name or f"dendrogram{_suffix(result)}.svg")
    n = len(result.regions)
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.32 * n + 1.2)))
    try:
        if n >= 2:
            tree = np.array(result.linkage)
            k = result.n_clusters
            # colour below the height where the tree is cut into the chosen clusters
            threshold = (tree[n - k - 1, 2] + tree[n - k, 2]) / 2 if 1 < k < n else 0.0
            drawn = dendrogram(
                tree,
                labels=list(result.regions),
                orientation="left",
                color_threshold=threshold,
                above_threshold_color="#888888",
                ax=ax,
                leaf_font_size=8 if n > 60 else None,  # scipy shrinks labels of many leaves to 5 px
            )
            ax.set_xlabel("Ward 距离（余弦）")
            if result.support:
                _draw_support(ax, tree, drawn["leaves"], result.support)
                ax.set_xlabel(f"Ward 距离（余弦）；数字：{result.resamples} 次自助重抽样中该分支出现的百分比")
        else:
            ax.text(0.5, 0.5, "、".join(result.regions) or "（无地区）", ha="center", va="center")
            ax.set_axis_off()
        ax.set_title(_title("地区聚类树", result))
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


def _draw_support(ax: Any, tree: np.ndarray, leaves: Sequence[int], support: Sequence[float]) -> None:
    """Write each branch's support (percent) at its joint; scipy places a leaf at 5 + 10 × its rank
    and a joint midway between its two children."""
    n = len(leaves)
    position = np.zeros(2 * n - 1)
    position[list(leaves)] = 5.0 + 10.0 * np.arange(n)
    for i, (left, right, height, _) in enumerate(tree.tolist()):
        position[n + i] = (position[int(left)] + position[int(right)]) / 2
        ax.annotate(
            f"{100 * support[i]:.0f}",
            (height, position[n + i]),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=6.5,
            color="#b03030" if support[i] >= 0.95 else "#444444",
        )


def write_similarity_heatmap(out_dir: Path, result: ClusterResult, *, name: str | None = None) -> Path:
    """Draw the similarity matrix, regions ordered as in the dendrogram so clusters show as blocks.

    Default file ``similarity_heatmap.svg`` or ``similarity_heatmap_<year>.svg``.
    """
    plt = cjk_pyplot()
    path = Path(out_dir) / (name or f"similarity_heatmap{_suffix(result)}.svg")
    order = _leaf_order(result)[::-1]  # top to bottom as in the dendrogram, which draws leaves upwards
    sim = np.array(result.similarity).reshape(len(order), len(order))[np.ix_(order, order)]
    names = [result.regions[i] for i in order]
    size = max(3.5, 0.36 * len(names) + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    try:
        # scale colours to the off-diagonal range: the 1.0 diagonal would otherwise flatten the contrast
        off = sim[~np.eye(len(names), dtype=bool)]
        low, high = (float(off.min()), float(off.max())) if off.size else (0.0, 1.0)
        image = ax.imshow(sim, cmap="viridis", vmin=low, vmax=high if high > low else low + 1e-9)
        ax.set_xticks(range(len(names)), names, rotation=90)
        ax.set_yticks(range(len(names)), names)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="余弦相似度（对角线为 1）")
        ax.set_title(_title("地区相似度", result))
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


def _leaf_order(result: ClusterResult) -> list[int]:
    if len(result.regions) < 2:
        return list(range(len(result.regions)))
    from scipy.cluster.hierarchy import leaves_list

    return [int(i) for i in leaves_list(np.array(result.linkage))]


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """One cluster of a finished run, read back from ``clusters.csv`` and ``cluster_keyness.csv``."""

    cluster: str
    regions: tuple[str, ...]
    support: float | None
    phrases: tuple[str, ...]  # what sets it apart, most distinctive first
    words: tuple[str, ...]


def read_clusters(out_dir: Path, *, top: int = 10) -> list[ClusterSummary]:
    """The clusters of the run in ``out_dir`` (empty when it has no ``clusters.csv``), with the ``top``
    distinctive phrases and words of each."""
    import csv

    def rows(name: str) -> list[dict[str, str]]:
        path = Path(out_dir) / name
        if not path.is_file():
            return []
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))

    members: dict[str, list[str]] = {}
    support: dict[str, float | None] = {}
    for row in rows("clusters.csv"):
        members.setdefault(row["cluster"], []).append(row["region"])
        support[row["cluster"]] = float(row["support"]) if row.get("support") else None
    distinctive: dict[tuple[str, str], list[str]] = {}
    for row in rows("cluster_keyness.csv"):
        items = distinctive.setdefault((row["cluster"], row["kind"]), [])
        if len(items) < top:
            items.append(row["feature"])
    return [
        ClusterSummary(
            cluster,
            tuple(sorted(regions)),
            support[cluster],
            tuple(distinctive.get((cluster, "phrase"), ())),
            tuple(distinctive.get((cluster, "word"), ())),
        )
        for cluster, regions in sorted(members.items(), key=lambda item: (len(item[0]), item[0]))
    ]


def write_cluster_outputs(
    out_dir: Path,
    overall: ClusterResult,
    by_year: Sequence[ClusterResult] = (),
    *,
    figures_by_year: bool = False,
) -> list[Path]:
    """Write every cluster file: similarity, clusters, their keyness, dendrogram and heatmap, plus
    per-year ``similarity_<year>.csv``, ``clusters_by_year.csv`` and ``cluster_stability.csv`` (and
    per-year figures on request)."""
    paths = [
        write_similarity(out_dir, overall),
        write_clusters(out_dir, overall),
        write_cluster_keyness(out_dir, overall),
        write_dendrogram(out_dir, overall),
        write_similarity_heatmap(out_dir, overall),
    ]
    for result in by_year:
        paths.append(write_similarity(out_dir, result))
        if figures_by_year:
            paths += [write_dendrogram(out_dir, result), write_similarity_heatmap(out_dir, result)]
    if by_year:
        paths.append(write_clusters_by_year(out_dir, by_year))
        paths.append(write_cluster_stability(out_dir, stability(overall, by_year)))
    return paths
