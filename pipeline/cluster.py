"""Group regions by how alike their language is: TF-IDF vectors, cosine similarity, hierarchical clusters.

Each region becomes one document made of pre-tokenised features (:func:`region_documents`): its
pkuseg word tokens (``Sentence.tokens`` without punctuation, symbol or whitespace tokens) plus one
``phrase:<提法>`` feature per phrase hit; re-tokenising with a ``token_pattern`` would treat a whole
unspaced Chinese clause as one word and drop one-character words such as 党. The weights are those of
scikit-learn's ``TfidfVectorizer`` on those lists, but the features are counted once per segment
(:class:`_FeatureCounts`) and summed into the regions of every year, instead of rebuilding and
re-counting the documents for all years and again for each year.

Clustering is Ward agglomeration (scipy) of the L2-normalised TF-IDF vectors, whose Euclidean
distance is ``sqrt(2 · (1 - similarity))``, so it follows cosine similarity. The number
of clusters is chosen by the silhouette score (on the same cosine distances) over k = 2 … n-1 cuts of
the tree; the best score wins, ties going to the smaller k. When no cut has a positive silhouette, or
there are fewer than three regions (no silhouette is defined), every region goes into one cluster.
``n_clusters=`` overrides the choice. Cluster numbers start at 1 and follow the sorted region order
(the first region is in cluster 1), so the same input always gives the same labels.

Unattributed segments (region "") are left out: they are not a region. Degenerate inputs do not raise:
no region gives an empty result, one region gets cluster 1, a region with no features has similarity 0
to every other region (and 1 to itself).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.figures import cjk_pyplot
from pipeline.io_utils import atomic_write, write_csv
from pipeline.records import Hit, HitTable, Segment, Sentence

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from scipy.sparse import csr_array

__all__ = [
    "PHRASE_PREFIX",
    "ClusterResult",
    "cluster_by_year",
    "cluster_regions",
    "cluster_regions_and_years",
    "region_documents",
    "write_cluster_outputs",
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

    def cluster_of(self, region: str) -> int:
        return self.clusters[self.regions.index(region)]


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


@dataclass(frozen=True, slots=True)
class _FeatureCounts:
    """Feature counts of every attributed segment, built once and summed into regions per year.

    Each entry is one (segment, feature) pair, in ascending order: ``row`` indexes ``segments``
    (sorted by id), ``feature`` indexes ``names`` (sorted as scikit-learn sorts its vocabulary). ``first``
    places the pair's first occurrence in the text order of :func:`region_documents` (region, words
    before phrases, position): scikit-learn stores each document's features in order of first
    occurrence, and summing in that order keeps the similarities identical to the last bit.
    """

    segments: list[Segment]
    names: list[str]
    row: np.ndarray
    feature: np.ndarray
    count: np.ndarray
    first: np.ndarray

    @classmethod
    def build(
        cls,
        segments: Sequence[Segment],
        sentences: Iterable[Sentence],
        hits: HitTable | Iterable[Hit],
        *,
        words: bool = True,
        phrases: bool = True,
    ) -> _FeatureCounts:
        index = {s.segment_id: s for s in segments}
        attributed = sorted((s for s in index.values() if s.region), key=attrgetter("segment_id"))
        row_of = dict.fromkeys(index, -1) | {s.segment_id: row for row, s in enumerate(attributed)}
        sorted_regions = sorted({s.region for s in attributed})
        # the extra last value serves row -1 (unattributed), whose entries are dropped below
        region_rank = np.array([sorted_regions.index(s.region) for s in attributed] + [0])

        ordered = sorted(sentences, key=_SENTENCE_ORDER) if words else []
        tokens = list(chain.from_iterable(s.tokens for s in ordered))
        token_rows = np.repeat(_rows(row_of, ordered), [len(s.tokens) for s in ordered])
        table = HitTable.of(hits if phrases else ())

        # content-ness once per distinct token (far fewer than tokens); non-content maps to -1.
        # Phrase features always count; they share the name space with words, as in region_documents.
        feature_of = dict.fromkeys(tokens, -1)
        phrase_names = {PHRASE_PREFIX + table.names[p]: p for p in np.unique(table.phrase).tolist()}
        names = sorted({t for t in feature_of if _is_content(t)} | phrase_names.keys())
        feature_of.update(zip(names, range(len(names)), strict=True))
        token_features = np.fromiter(map(feature_of.__getitem__, tokens), np.int64, len(tokens))
        feature_by_phrase = np.full(len(table.names), -1, dtype=np.int64)
        for name, phrase in phrase_names.items():
            feature_by_phrase[phrase] = feature_of[name]
        hit_features = feature_by_phrase[table.phrase]

        # hits in region_documents order: segment, start, end, phrase (feature numbers sort as phrases do)
        row_by_segment = np.array([row_of.get(i, -2) for i in table.segment_ids], dtype=np.int64)
        hit_rows = row_by_segment[table.segment]
        if (hit_rows == -2).any():
            raise ValueError(f"unknown segment_id {table.segment_ids[table.segment[hit_rows == -2][0]]!r}")
        order = np.lexsort((hit_features, table.end, table.start, hit_rows))
        hit_rows, hit_features = hit_rows[order], hit_features[order]
        n_hits = len(table)

        # order key of each occurrence: region, then words before phrases, then position
        span = max(len(tokens), n_hits) + 1
        token_keys = region_rank[token_rows] * 2 * span + np.arange(len(tokens))
        hit_keys = (region_rank[hit_rows] * 2 + 1) * span + np.arange(n_hits)

        rows = np.concatenate([token_rows, hit_rows])
        features = np.concatenate([token_features, hit_features])
        keys = np.concatenate([token_keys, hit_keys])
        keep = (rows >= 0) & (features >= 0)
        # one entry per (segment, feature); within a pair the occurrences above come in text order,
        # so the first index np.unique reports is the first occurrence
        width = max(len(names), 1)
        pairs, first, count = np.unique(
            rows[keep] * width + features[keep], return_index=True, return_counts=True
        )
        row, feature = np.divmod(pairs, width)
        return cls(attributed, names, row, feature, count, keys[keep][first])

    def region_matrix(self, regions: Sequence[str], year: int | None) -> csr_array:
        """Counts of ``regions`` (sorted; of ``year`` when given) × the features they have.

        The matrix is the one scikit-learn's vectoriser builds from :func:`region_documents`: columns
        are the features present, sorted; each row holds its entries in order of first occurrence.
        """
        from scipy.sparse import csr_array

        number = {region: i for i, region in enumerate(regions)}
        row_region = np.array(
            [number[s.region] if year is None or s.year == year else -1 for s in self.segments], np.int64
        )
        region = row_region[self.row]
        keep = region >= 0
        region, feature, count, first = region[keep], self.feature[keep], self.count[keep], self.first[keep]
        present, column = np.unique(feature, return_inverse=True)
        # scikit-learn numbers features by first occurrence over all documents and stores each row's
        # entries in that order
        seen = np.full(len(present), np.iinfo(np.int64).max)
        np.minimum.at(seen, column, first)
        width = max(len(present), 1)
        cells, cell = np.unique(region * width + column, return_inverse=True)
        totals = np.bincount(cell, weights=count)  # integer counts: exact in float64
        cell_region, cell_column = np.divmod(cells, width)
        order = np.lexsort((seen[cell_column], cell_region))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(cell_region, minlength=len(regions)))])
        return csr_array(
            (totals[order], cell_column[order].astype(np.int32), indptr.astype(np.int32)),
            shape=(len(regions), len(present)),
        )


def _rows(row_of: dict[str, int], items: Sequence[Sentence]) -> np.ndarray:
    """Row of each item's segment (-1 when unattributed); an unknown segment raises ``ValueError``."""
    rows = np.fromiter((row_of.get(item.segment_id, -2) for item in items), np.int64, len(items))
    unknown = np.flatnonzero(rows == -2)
    if unknown.size:
        raise ValueError(f"unknown segment_id {items[unknown[0]].segment_id!r}")
    return rows


def _similarity(counts: csr_array, *, sublinear_tf: bool) -> np.ndarray:
    """Cosine similarity of TF-IDF vectors: square, symmetric, exactly 1.0 on the diagonal.

    ``counts`` is regions × features; the weights are those of scikit-learn's ``TfidfVectorizer``
    with default settings (smooth idf, L2 norm).
    """
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.metrics.pairwise import cosine_similarity

    if counts.shape[1] == 0:
        return np.eye(counts.shape[0])
    matrix = TfidfTransformer(sublinear_tf=sublinear_tf).fit_transform(counts)
    sim = cosine_similarity(matrix)
    sim = np.clip((sim + sim.T) / 2.0, 0.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return sim


# ---------------------------------------------------------------------------------------------
# clustering


def cluster_regions(
    segments: Sequence[Segment],
    sentences: Iterable[Sentence],
    hits: HitTable | Iterable[Hit],
    *,
    year: int | None = None,
    n_clusters: int | None = None,
    words: bool = True,
    phrases: bool = True,
    sublinear_tf: bool = True,
) -> ClusterResult:
    """TF-IDF similarity of the regions and their hierarchical clusters (all years, or ``year``).

    ``sublinear_tf`` uses ``1 + log(tf)`` so long reports do not drown short ones in repeated words.
    See the module docstring for how the number of clusters is chosen.

    >>> segs = [Segment(f"s{i}", "", r, "", "", None, "") for i, r in enumerate(["上海", "江西"])]
    >>> sents = [Sentence("s0", 0, 0, 4, "两个确立", ("两", "个", "确立")),
    ...          Sentence("s1", 0, 0, 4, "两个确立", ("两", "个", "确立"))]
    >>> result = cluster_regions(segs, sents, [])
    >>> result.regions, result.similarity, result.clusters
    (('上海', '江西'), ((1.0, 1.0), (1.0, 1.0)), (1, 1))

    Raises:
        ValueError: ``n_clusters`` below 1, or a sentence or hit naming an unknown segment.
    """
    _check_n_clusters(n_clusters)
    counts = _FeatureCounts.build(segments, sentences, hits, words=words, phrases=phrases)
    return _cluster_counts(counts, segments, year, n_clusters=n_clusters, sublinear_tf=sublinear_tf)


def cluster_by_year(
    segments: Sequence[Segment],
    sentences: Iterable[Sentence],
    hits: HitTable | Iterable[Hit],
    *,
    n_clusters: int | None = None,
    words: bool = True,
    phrases: bool = True,
    sublinear_tf: bool = True,
) -> list[ClusterResult]:
    """:func:`cluster_regions` for every year in which some region has a dated segment, in year order.

    Empty when no attributed segment has a year. IDF weights are computed within each year.
    """
    years = _years(segments)
    if not years:
        return []
    _check_n_clusters(n_clusters)
    counts = _FeatureCounts.build(segments, sentences, hits, words=words, phrases=phrases)
    return [
        _cluster_counts(counts, segments, year, n_clusters=n_clusters, sublinear_tf=sublinear_tf)
        for year in years
    ]


def cluster_regions_and_years(
    segments: Sequence[Segment],
    sentences: Iterable[Sentence],
    hits: HitTable | Iterable[Hit],
    *,
    n_clusters: int | None = None,
    words: bool = True,
    phrases: bool = True,
    sublinear_tf: bool = True,
) -> tuple[ClusterResult, list[ClusterResult]]:
    """:func:`cluster_regions` over all years and :func:`cluster_by_year`, counting features once.

    Raises:
        ValueError: ``n_clusters`` below 1, or a sentence or hit naming an unknown segment.
    """
    _check_n_clusters(n_clusters)
    counts = _FeatureCounts.build(segments, sentences, hits, words=words, phrases=phrases)
    results = [
        _cluster_counts(counts, segments, year, n_clusters=n_clusters, sublinear_tf=sublinear_tf)
        for year in [None, *_years(segments)]
    ]
    return results[0], results[1:]


def _check_n_clusters(n_clusters: int | None) -> None:
    if n_clusters is not None and n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")


def _years(segments: Iterable[Segment]) -> list[int]:
    return sorted({s.year for s in segments if s.region and s.year is not None})


def _cluster_counts(
    counts: _FeatureCounts,
    segments: Sequence[Segment],
    year: int | None,
    *,
    n_clusters: int | None,
    sublinear_tf: bool,
) -> ClusterResult:
    regions = tuple(sorted({s.region for s in _regional(segments, year)}))
    if not regions:
        return ClusterResult(year, (), (), (), 0, None, (), "no regions", (), 0)
    matrix = counts.region_matrix(regions, year)
    sim = _similarity(matrix, sublinear_tf=sublinear_tf)
    labels, silhouette, silhouettes, chosen_by, linkage = _cluster(sim, n_clusters=n_clusters)
    return ClusterResult(
        year=year,
        regions=regions,
        similarity=tuple(tuple(float(v) for v in row) for row in sim),
        clusters=labels,
        n_clusters=len(set(labels)),
        silhouette=silhouette,
        silhouettes=silhouettes,
        chosen_by=chosen_by,
        linkage=tuple((float(a), float(b), float(d), float(c)) for a, b, d, c in linkage),
        n_features=matrix.shape[1],
    )


def _cluster(
    sim: np.ndarray, *, n_clusters: int | None
) -> tuple[tuple[int, ...], float | None, tuple[tuple[int, float], ...], str, np.ndarray]:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.metrics import silhouette_score

    n = len(sim)
    if n == 1:
        return (1,), None, (), "one region", np.empty((0, 4))
    distance = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    # Ward on the unit-length TF-IDF vectors: their Euclidean distance is sqrt(2 · cosine distance).
    # Average linkage split off one outlier region against all the others on real corpora; Ward
    # gives groups of comparable size (municipalities, the west, the north-east, the coast …).
    euclidean = np.sqrt(2.0 * distance)
    tree = linkage(squareform(euclidean, checks=False), method="ward")

    def cut(k: int) -> np.ndarray:
        return fcluster(tree, t=k, criterion="maxclust")

    scores: list[tuple[int, float]] = []
    for k in range(2, n):
        labels = cut(k)
        if 2 <= len(set(labels.tolist())) <= n - 1:
            scores.append((k, float(silhouette_score(distance, labels, metric="precomputed"))))
    if n_clusters is not None:
        k = min(n_clusters, n)
        chosen_by = "n_clusters"
    elif not scores:
        k, chosen_by = 1, "fewer than three regions: one cluster"
    else:
        best_k, best = max(scores, key=lambda item: (item[1], -item[0]))
        if best > 0:
            k, chosen_by = best_k, "silhouette"
        else:
            k, chosen_by = 1, "no cut with positive silhouette: one cluster"
    raw = cut(k) if k > 1 else np.ones(n, dtype=int)
    labels = _renumber(raw.tolist())
    score = dict(scores).get(k) if 1 < len(set(labels)) < n else None
    return labels, score, tuple(scores), chosen_by, tree


def _renumber(raw: list[int]) -> tuple[int, ...]:
    """Cluster ids 1, 2, … in order of first appearance along the sorted regions."""
    mapping: dict[int, int] = {}
    for label in raw:
        mapping.setdefault(label, len(mapping) + 1)
    return tuple(mapping[label] for label in raw)


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
    """Write ``region, cluster``: ``clusters.csv`` or ``clusters_<year>.csv``."""
    path = Path(out_dir) / (name or f"clusters{_suffix(result)}.csv")
    write_csv(path, ("region", "cluster"), zip(result.regions, result.clusters, strict=True))
    return path


def write_clusters_by_year(out_dir: Path, results: Iterable[ClusterResult]) -> Path:
    """Write the long ``clusters_by_year.csv``: ``year, region, cluster, n_clusters, silhouette``."""
    path = Path(out_dir) / "clusters_by_year.csv"
    rows = [
        (r.year, region, cluster, r.n_clusters, r.silhouette)
        for r in results
        for region, cluster in zip(r.regions, r.clusters, strict=True)
    ]
    write_csv(path, ("year", "region", "cluster", "n_clusters", "silhouette"), rows)
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
    """Draw the average-linkage tree with region names, coloured by the chosen clusters.

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
            dendrogram(
                tree,
                labels=list(result.regions),
                orientation="left",
                color_threshold=threshold,
                above_threshold_color="#888888",
                ax=ax,
            )
            ax.set_xlabel("余弦距离（1 − 相似度）")
        else:
            ax.text(0.5, 0.5, "、".join(result.regions) or "（无地区）", ha="center", va="center")
            ax.set_axis_off()
        ax.set_title(_title("地区聚类树", result))
        _save(fig, path)
    finally:
        plt.close(fig)
    return path


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


def write_cluster_outputs(
    out_dir: Path,
    overall: ClusterResult,
    by_year: Sequence[ClusterResult] = (),
    *,
    figures_by_year: bool = False,
) -> list[Path]:
    """Write every cluster file: similarity, clusters, dendrogram and heatmap, plus per-year
    ``similarity_<year>.csv`` and ``clusters_by_year.csv`` (and per-year figures on request)."""
    paths = [
        write_similarity(out_dir, overall),
        write_clusters(out_dir, overall),
        write_dendrogram(out_dir, overall),
        write_similarity_heatmap(out_dir, overall),
    ]
    for result in by_year:
        paths.append(write_similarity(out_dir, result))
        if figures_by_year:
            paths += [write_dendrogram(out_dir, result), write_similarity_heatmap(out_dir, result)]
    if by_year:
        paths.append(write_clusters_by_year(out_dir, by_year))
    return paths
