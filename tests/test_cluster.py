"""Region similarity and clusters on tiny hand-tokenised texts."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from pipeline.cluster import (
    PHRASE_PREFIX,
    ClusterResult,
    _FeatureCounts,
    adjusted_rand,
    cluster_by_year,
    cluster_regions,
    cluster_regions_and_years,
    region_documents,
    stability,
    write_cluster_outputs,
    write_dendrogram,
)
from pipeline.records import Hit, HitTable, Segment, Sentence

INDUSTRY = ("推进", "新型", "工业化", "，", "建设", "制造", "强国", "。")
DIGITAL = ("发展", "数字", "经济", "，", "建设", "网络", "强国", "。")
ECOLOGY = ("保护", "生态", "环境", "，", "建设", "美丽", "草原", "。")
WATER = ("保护", "生态", "屏障", "，", "守护", "江河", "源头", "。")


def corpus(spec: dict[str, list[tuple[int | None, tuple[str, ...]]]]) -> tuple[list[Segment], list[Sentence]]:
    """One segment per (region, year, tokens); its sentence is the tokens joined."""
    segments, sentences = [], []
    for region, items in spec.items():
        for number, (year, tokens) in enumerate(items):
            segment_id = f"{region}-{number}"
            text = "".join(tokens)
            segments.append(Segment(segment_id, "", region, "", "", year, text))
            sentences.append(Sentence(segment_id, 0, 0, len(text), text, tokens))
    return segments, sentences


@pytest.fixture
def four_regions() -> tuple[list[Segment], list[Sentence]]:
    return corpus(
        {
            "上海": [(2016, INDUSTRY), (2017, DIGITAL)],
            "江苏": [(2016, INDUSTRY), (2017, DIGITAL + INDUSTRY)],
            "甘肃": [(2016, ECOLOGY), (2017, WATER)],
            "青海": [(2016, WATER), (2017, ECOLOGY + WATER)],
        }
    )


def assert_valid(result: ClusterResult) -> None:
    n = len(result.regions)
    assert list(result.regions) == sorted(result.regions)
    assert len(result.similarity) == n and all(len(row) == n for row in result.similarity)
    for i in range(n):
        assert result.similarity[i][i] == 1.0
        for j in range(n):
            assert result.similarity[i][j] == result.similarity[j][i]
            assert 0.0 <= result.similarity[i][j] <= 1.0
    assert len(result.clusters) == n and all(c >= 1 for c in result.clusters)
    assert result.n_clusters == len(set(result.clusters))


def test_similar_regions_cluster_together(four_regions) -> None:
    result = cluster_regions(*four_regions, [])
    assert_valid(result)
    assert result.regions == ("上海", "江苏", "甘肃", "青海")
    assert result.clusters == (1, 1, 2, 2)
    assert result.chosen_by == "silhouette"
    assert result.silhouette is not None and result.silhouette > 0
    assert [k for k, _ in result.silhouettes] == [2, 3]
    sim = dict(zip(result.regions, result.similarity, strict=True))
    assert sim["上海"][1] > sim["上海"][2]  # 上海 is closer to 江苏 than to 甘肃


def test_n_clusters_override(four_regions) -> None:
    assert cluster_regions(*four_regions, [], n_clusters=1).clusters == (1, 1, 1, 1)
    assert cluster_regions(*four_regions, [], n_clusters=4).clusters == (1, 2, 3, 4)
    assert cluster_regions(*four_regions, [], n_clusters=9).n_clusters == 4
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_regions(*four_regions, [], n_clusters=0)


def test_features_are_pretokenised_words_and_phrases() -> None:
    segments, sentences = corpus(
        {"上海": [(None, ("坚持", "党", "的", "领导", "。", " ", "……"))], "": [(None, ("党",))]}
    )
    hits = [Hit("两个确立", "上海-0", 0, 0, 4), Hit("两个确立", "-0", 0, 0, 1)]
    docs = region_documents(segments, sentences, hits)
    # one-character words survive (the default token_pattern would drop 党 and 的); punctuation does not;
    # unattributed text is left out
    assert docs == {"上海": ["坚持", "党", "的", "领导", PHRASE_PREFIX + "两个确立"]}
    assert region_documents(segments, sentences, hits, phrases=False) == {
        "上海": ["坚持", "党", "的", "领导"]
    }
    with pytest.raises(ValueError, match="unknown segment_id"):
        region_documents(segments, [Sentence("nowhere", 0, 0, 1, "党", ("党",))], [])


def test_phrase_hits_make_regions_alike() -> None:
    segments, sentences = corpus(
        {"上海": [(None, ("甲",))], "江西": [(None, ("乙",))], "甘肃": [(None, ("丙",))]}
    )
    hits = [Hit("两个确立", "上海-0", 0, 0, 1), Hit("两个确立", "江西-0", 0, 0, 1)]
    with_phrases = cluster_regions(segments, sentences, hits)
    without = cluster_regions(segments, sentences, hits, phrases=False)
    assert without.similarity[0][1] == 0.0
    assert with_phrases.similarity[0][1] > 0.0
    assert with_phrases.similarity[0][2] == 0.0


def test_degenerate_inputs_do_not_raise() -> None:
    empty = cluster_regions([], [], [])
    assert (empty.regions, empty.clusters, empty.similarity) == ((), (), ())

    one = cluster_regions(*corpus({"上海": [(None, INDUSTRY)]}), [])
    assert (one.regions, one.similarity, one.clusters, one.silhouette) == (("上海",), ((1.0,),), (1,), None)

    two = cluster_regions(*corpus({"上海": [(None, INDUSTRY)], "甘肃": [(None, ECOLOGY)]}), [])
    assert_valid(two)
    assert two.clusters == (1, 1) and "fewer than three" in two.chosen_by
    assert cluster_regions(
        *corpus({"上海": [(None, INDUSTRY)], "甘肃": [(None, ECOLOGY)]}), [], n_clusters=2
    ).clusters == (
        1,
        2,
    )

    same = cluster_regions(*corpus({r: [(None, INDUSTRY)] for r in ("上海", "江苏", "浙江")}), [])
    assert_valid(same)
    assert same.similarity == ((1.0, 1.0, 1.0),) * 3
    assert same.clusters == (1, 1, 1)

    no_features = cluster_regions(*corpus({r: [(None, ("。",))] for r in ("上海", "江苏", "浙江")}), [])
    assert_valid(no_features)
    assert no_features.n_features == 0 and no_features.clusters == (1, 1, 1)


def test_per_year_results(four_regions) -> None:
    segments, sentences = four_regions
    segments = [*segments, Segment("西藏-0", "", "西藏", "", "", 2017, "保护生态")]
    sentences = [*sentences, Sentence("西藏-0", 0, 0, 4, "保护生态", ("保护", "生态"))]
    years = cluster_by_year(segments, sentences, [])
    assert [r.year for r in years] == [2016, 2017]
    assert years[0].regions == ("上海", "江苏", "甘肃", "青海")  # 西藏 has no 2016 text: absent
    assert "西藏" in years[1].regions
    for result in years:
        assert_valid(result)
    assert cluster_by_year(*corpus({"上海": [(None, INDUSTRY)]}), []) == []


def test_deterministic_outputs(four_regions, tmp_path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        overall = cluster_regions(*four_regions, [])
        write_cluster_outputs(out, overall, cluster_by_year(*four_regions, []), figures_by_year=True)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert {"similarity.csv", "clusters.csv", "dendrogram.svg", "similarity_heatmap.svg"} <= set(names)
    assert {"similarity_2016.csv", "similarity_2017.csv", "clusters_by_year.csv"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_written_tables_and_chinese_labels(four_regions, tmp_path) -> None:
    overall = cluster_regions(*four_regions, [])
    write_cluster_outputs(tmp_path, overall, cluster_by_year(*four_regions, []))
    with open(tmp_path / "similarity.csv", encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["region", "上海", "江苏", "甘肃", "青海"]
    assert [row[0] for row in table[1:]] == ["上海", "江苏", "甘肃", "青海"]
    assert [float(table[i][i]) for i in range(1, 5)] == [1.0] * 4
    with open(tmp_path / "clusters.csv", encoding="utf-8-sig") as handle:
        assert list(csv.reader(handle)) == [
            ["region", "cluster", "support"],
            ["上海", "1", ""],  # no resamples: no support
            ["江苏", "1", ""],
            ["甘肃", "2", ""],
            ["青海", "2", ""],
        ]
    with open(tmp_path / "clusters_by_year.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["year"], r["region"]) for r in rows} >= {("2016", "上海"), ("2017", "青海")}
    for name in ("dendrogram.svg", "similarity_heatmap.svg"):
        svg = (tmp_path / name).read_text(encoding="utf-8")
        assert "上海" in svg and "青海" in svg  # labels kept as text, drawn with the CJK font
        assert "Noto Sans CJK" in svg
        assert "<dc:date>" not in svg


def test_png_dendrogram_renders(four_regions, tmp_path) -> None:
    path = write_dendrogram(tmp_path, cluster_regions(*four_regions, []), name="dendrogram.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def mixed_corpus() -> tuple[list[Segment], list[Sentence], list[Hit]]:
    """Several segments per region and year, sentences and hits out of order, unattributed text."""
    segments, sentences = corpus(
        {
            "上海": [(2016, INDUSTRY), (2016, ECOLOGY), (2017, DIGITAL + INDUSTRY)],
            "江苏": [(2016, DIGITAL), (2017, INDUSTRY + INDUSTRY)],
            "甘肃": [(2016, WATER + ECOLOGY), (2017, ECOLOGY)],
            "": [(2016, DIGITAL)],
        }
    )
    sentences.append(Sentence("上海-0", 1, 0, 4, "数字经济", ("数字", "经济", "。")))
    hits = [  # not in text order: the first occurrence decides the feature order
        Hit("美丽中国", "甘肃-0", 0, 9, 13),
        Hit("两个确立", "上海-1", 0, 5, 9),
        Hit("一带一路建设", "上海-0", 0, 5, 11),
        Hit("新发展理念", "上海-0", 0, 5, 10),
        Hit("两个确立", "上海-0", 0, 5, 9),
        Hit("美丽中国", "上海-0", 0, 0, 4),
        Hit("两个确立", "江苏-1", 0, 3, 7),
        Hit("两个确立", "-0", 0, 0, 4),
    ]
    return segments, sentences[::-1], hits


def vectorise(docs: dict[str, list[str]], vectorizer: type = CountVectorizer, **options: object):
    """The straightforward construction: a scikit-learn vectoriser on the region documents."""
    return vectorizer(
        tokenizer=_same, preprocessor=_same, lowercase=False, token_pattern=None, **options
    ).fit_transform(list(docs.values()))


def _same(doc: list[str]) -> list[str]:
    return doc


@pytest.mark.parametrize("year", [None, 2016, 2017])
def test_counts_equal_vectoriser_on_region_documents(year) -> None:
    segments, sentences, hits = mixed_corpus()
    docs = region_documents(segments, sentences, hits, year=year)
    expected = vectorise(docs)
    got = _FeatureCounts.build(segments, sentences, hits).region_matrix(list(docs), year)
    assert got.shape == expected.shape
    # entries in the same storage order (first occurrence), so sums run in the same order
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    assert np.array_equal(got.data, expected.data)


@pytest.mark.parametrize("chunk", [1, 2, 5, 12])
@pytest.mark.parametrize(("words", "phrases"), [(True, True), (True, False), (False, True)])
def test_counts_built_in_runs_of_segments_equal_one_run(chunk, words, phrases) -> None:
    segments, sentences, hits = mixed_corpus()
    whole = _FeatureCounts.build(segments, sentences, hits, words=words, phrases=phrases, chunk=10**9)
    runs = _FeatureCounts.build(segments, sentences, hits, words=words, phrases=phrases, chunk=chunk)
    assert runs.names == whole.names and runs.segments == whole.segments
    for field in ("row", "feature", "count", "first", "documents", "unit_segment", "unit_bounds", "unit_feature",
                  "unit_count"):  # fmt: skip
        assert getattr(runs, field).tolist() == getattr(whole, field).tolist(), field
    assert runs.unit_bounds[-1] == len(runs.unit_feature)  # entries of every sentence, across the runs
    for year in (None, 2016, 2017):
        docs = region_documents(segments, sentences, hits, year=year, words=words, phrases=phrases)
        expected, got = vectorise(docs), runs.region_matrix(list(docs), year)
        assert np.array_equal(got.indices, expected.indices) and np.array_equal(got.data, expected.data)


def test_counts_are_kept_as_int32() -> None:
    counts = _FeatureCounts.build(*mixed_corpus(), chunk=2)
    assert {getattr(counts, f).dtype for f in ("row", "feature", "count", "unit_bounds", "unit_count")} == {
        np.dtype(np.int32)
    }


def test_similarity_equals_tfidf_vectoriser_exactly() -> None:
    segments, sentences, hits = mixed_corpus()
    overall, by_year = cluster_regions_and_years(segments, sentences, hits)
    for result in [overall, *by_year]:
        docs = region_documents(segments, sentences, hits, year=result.year)
        tfidf = vectorise(docs, TfidfVectorizer, sublinear_tf=True)
        expected = cosine_similarity(tfidf)
        expected = np.clip((expected + expected.T) / 2.0, 0.0, 1.0)
        np.fill_diagonal(expected, 1.0)
        assert result.regions == tuple(docs)
        assert result.n_features == tfidf.shape[1]
        assert np.array_equal(np.array(result.similarity), expected)


def test_regions_and_years_in_one_pass_equal_separate_calls() -> None:
    segments, sentences, hits = mixed_corpus()
    overall, by_year = cluster_regions_and_years(segments, sentences, hits, n_clusters=2)
    assert overall == cluster_regions(segments, sentences, hits, n_clusters=2)
    assert by_year == cluster_by_year(segments, sentences, hits, n_clusters=2)
    assert [r.year for r in by_year] == [2016, 2017]
    assert by_year[0].regions == ("上海", "江苏", "甘肃")
    only_words = cluster_regions_and_years(segments, sentences, hits, phrases=False)[0]
    assert only_words.n_features == overall.n_features - 4  # the four phrase features
    with pytest.raises(ValueError, match="unknown segment_id 'nowhere'"):
        cluster_regions_and_years(segments, sentences, [*hits, Hit("两个确立", "nowhere", 0, 0, 4)])
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_regions_and_years(segments, sentences, hits, n_clusters=0)


def test_hit_columns_give_the_results_of_hit_records() -> None:
    segments, sentences, hits = mixed_corpus()
    names = sorted({hit.phrase for hit in hits}, reverse=True)  # any numbering of the phrases
    table = HitTable.from_hits(hits, names, [segment.segment_id for segment in segments])
    assert cluster_regions_and_years(segments, sentences, table, n_clusters=2) == cluster_regions_and_years(
        segments, sentences, hits, n_clusters=2
    )


# ---------------------------------------------------------------------------------------------
# bootstrap support, stability, keyness

COMMON = ("推进", "建设", "发展", "加强", "改革", "坚持", "提高", "完善")
GROUPS = {  # three groups of regions, each sharing its own words and phrase
    "城市": (("金融", "中心", "科技", "创新"), "国际化大都市"),
    "西部": (("生态", "屏障", "民族", "团结"), "长治久安"),
    "东北": (("老工业", "基地", "振兴", "国企"), "东北振兴"),
}
PLANTED = {
    "城市": ("北京", "上海", "天津"),
    "西部": ("西藏", "新疆", "青海"),
    "东北": ("辽宁", "吉林", "黑龙江"),
}


def planted_corpus(*, shuffled: bool = False) -> tuple[list[Segment], list[Sentence], list[Hit]]:
    """Nine regions in three planted groups: 24 sentences each, every third one with the group's
    words and phrase, the others common words. ``shuffled`` deals all sentences out to the regions at
    random, which leaves no group."""
    rng = np.random.default_rng(7)
    pool: list[tuple[tuple[str, ...], str | None]] = []
    owners: list[str] = []
    for group, regions in PLANTED.items():
        words, phrase = GROUPS[group]
        for region in regions:
            for i in range(24):
                common = tuple(rng.choice(COMMON, size=4).tolist())
                if i % 3 == 0:
                    pool.append((common + tuple(rng.choice(words, size=3).tolist()), phrase))
                else:
                    pool.append((common, None))
                owners.append(region)
    if shuffled:
        owners = [owners[i] for i in rng.permutation(len(owners))]
    segments = [
        Segment(region, "", region, "", "", 2016, "") for group in PLANTED.values() for region in group
    ]
    sentences, hits, index = [], [], dict.fromkeys(owners, 0)
    for (tokens, phrase), region in zip(pool, owners, strict=True):
        number = index[region]
        index[region] += 1
        sentences.append(Sentence(region, number, 0, len(tokens), "".join(tokens), tokens))
        if phrase:
            hits.append(Hit(phrase, region, number, 0, len(phrase)))
    return segments, sentences, hits


def test_planted_groups_are_recovered_with_high_support() -> None:
    result = cluster_regions(*planted_corpus(), resamples=60, seed=3)
    found = {
        frozenset(r for r, c in zip(result.regions, result.clusters, strict=True) if c == k)
        for k in set(result.clusters)
    }
    assert found == {frozenset(group) for group in PLANTED.values()}
    assert result.chosen_by == "stability" and result.resamples == 60
    assert len(result.support) == len(result.regions) - 1 and all(0 <= s <= 1 for s in result.support)
    assert all(support is not None and support >= 0.95 for support in result.cluster_support)
    assert dict(result.stability)[3] > 0.9


def test_shuffled_texts_give_low_support() -> None:
    result = cluster_regions(*planted_corpus(shuffled=True), resamples=60, seed=3)
    inner = [s for s, (_, _, _, size) in zip(result.support, result.linkage, strict=True) if 1 < size < 9]
    assert np.mean(inner) < 0.5
    assert max(score for _, score in result.stability) < 0.5
    assert result.n_clusters == 1 and "one cluster" in result.chosen_by


def test_resampling_is_seeded_and_independent_of_workers() -> None:
    segments, sentences, hits = planted_corpus(shuffled=True)
    one = cluster_regions(segments, sentences, hits, resamples=100, seed=5)
    again = cluster_regions(segments, sentences, hits, resamples=100, seed=5, workers=2)
    other_seed = cluster_regions(segments, sentences, hits, resamples=100, seed=6)
    assert one == again
    assert one.support != other_seed.support
    assert cluster_regions(segments, sentences, hits).support == ()  # no resamples, no support


def test_cluster_keyness_names_each_groups_phrase_and_words() -> None:
    result = cluster_regions(*planted_corpus(), resamples=20)
    for group, regions in PLANTED.items():
        cluster = result.cluster_of(regions[0])
        rows = [row for row in result.keyness if row.cluster == cluster]
        words, phrase = GROUPS[group]
        assert [row.feature for row in rows if row.kind == "phrase"] == [phrase]
        top_words = {row.feature for row in rows if row.kind == "word"}
        assert set(words) <= top_words and not top_words & set(COMMON) - top_words
        assert all(row.count > 0 and row.other_count == 0 for row in rows if row.feature in words)


def _planted_in_two_years():
    """The planted corpus said again in 2017, clustered overall and by year (2016, 2017)."""
    segments, sentences, hits = planted_corpus()
    later = [Segment(f"{s.segment_id}-2017", "", s.region, "", "", 2017, "") for s in segments]
    sentences += [
        Sentence(f"{s.segment_id}-2017", s.index, s.start, s.end, s.text, s.tokens) for s in sentences
    ]
    hits += [Hit(h.phrase, f"{h.segment_id}-2017", h.sentence_index, h.start, h.end) for h in hits]
    return cluster_regions_and_years([*segments, *later], sentences, hits, resamples=20)


def test_stability_table_compares_years_with_each_other_and_all_years() -> None:
    overall, by_year = _planted_in_two_years()
    rows = stability(overall, by_year)
    assert [(r.year, r.compared_with) for r in rows] == [(2017, "2016"), (2016, "all"), (2017, "all")]
    assert all(r.regions == 9 and r.clusters == 3 and r.ari == 1.0 for r in rows)


def test_boilerplate_and_feature_choice() -> None:
    segments, sentences, hits = planted_corpus()
    both = cluster_regions(segments, sentences, hits)
    words = cluster_regions(segments, sentences, hits, phrases=False)
    no_boilerplate = cluster_regions(segments, sentences, hits, max_doc_share=0.9)
    assert both.n_features == words.n_features + 3  # the three group phrases
    assert no_boilerplate.n_features == both.n_features - len(COMMON)  # every region says the common words
    with pytest.raises(ValueError, match="max_doc_share"):
        cluster_regions(segments, sentences, hits, max_doc_share=0)


def test_support_in_tables_and_dendrogram(tmp_path) -> None:
    segments, sentences, hits = planted_corpus()
    overall, by_year = cluster_regions_and_years(segments, sentences, hits, resamples=20)
    write_cluster_outputs(tmp_path, overall, by_year)
    with open(tmp_path / "clusters.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["region"] for row in rows] == sorted(overall.regions)
    assert {float(row["support"]) for row in rows} == {1.0}
    with open(tmp_path / "cluster_keyness.csv", encoding="utf-8-sig") as handle:
        assert next(csv.reader(handle)) == ["cluster", "kind", "feature", "count", "other_count", "score"]
    with open(tmp_path / "cluster_stability.csv", encoding="utf-8-sig") as handle:
        assert next(csv.reader(handle)) == [
            "year",
            "compared_with",
            "regions",
            "clusters",
            "other_clusters",
            "ari",
        ]
    svg = (tmp_path / "dendrogram.svg").read_text(encoding="utf-8")
    assert "自助重抽样" in svg and ">100</text>" in svg  # each branch has its support in percent


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ([1, 1, 2, 2, 3], [1, 1, 2, 3, 3]),
        ([1, 2, 3, 4], [1, 1, 1, 1]),
        ([1, 1, 1], [1, 1, 1]),
        ([2, 2, 5, 5, 7, 7], [1, 1, 2, 2, 3, 3]),
        ([1, 2], [1, 2]),
        ([1, 2, 1, 2, 1, 3, 3, 1], [3, 3, 1, 1, 2, 2, 1, 1]),
    ],
)
def test_adjusted_rand_equals_scikit_learn(first, second) -> None:
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand(first, second) == pytest.approx(adjusted_rand_score(first, second), abs=1e-12)


@pytest.mark.parametrize("sublinear_tf", [True, False])
def test_tfidf_cosine_and_silhouette_equal_scikit_learn(sublinear_tf: bool) -> None:
    from scipy.sparse import csr_array
    from sklearn.feature_extraction.text import TfidfTransformer
    from sklearn.metrics import silhouette_score

    from pipeline.cluster import _silhouette, _similarity

    rng = np.random.default_rng(7)
    for trial in range(30):
        n, m = int(rng.integers(3, 12)), int(rng.integers(1, 30))
        counts = rng.poisson(0.8, (n, m)) * (rng.random((n, m)) < 0.6)
        counts[0] = 0 if trial % 5 == 0 else counts[0]  # a region with none of the features
        expected = cosine_similarity(TfidfTransformer(sublinear_tf=sublinear_tf).fit_transform(csr_array(counts)))
        expected = np.clip((expected + expected.T) / 2.0, 0.0, 1.0)
        np.fill_diagonal(expected, 1.0)
        np.testing.assert_allclose(_similarity(csr_array(counts), sublinear_tf=sublinear_tf), expected, atol=1e-12)
        distance = np.clip(1.0 - expected, 0.0, None)
        np.fill_diagonal(distance, 0.0)
        labels = rng.integers(0, int(rng.integers(2, n)), n)
        if 2 <= len(set(labels.tolist())) <= n - 1:  # clusters of one included
            assert _silhouette(distance, labels) == pytest.approx(
                silhouette_score(distance, labels, metric="precomputed"), abs=1e-12
            )


def test_report_and_regions_command_show_support_keyness_and_stability(tmp_path, capsys) -> None:
    from pipeline.cli import _print_clusters
    from pipeline.report import build_section

    overall, by_year = _planted_in_two_years()
    write_cluster_outputs(tmp_path, overall, by_year)
    html = build_section(tmp_path, "similarity")
    assert "100%" in html and "国际化大都市" in html and "Stability over the years" in html
    _print_clusters(tmp_path)
    printed = capsys.readouterr().out
    assert printed.count("support 100%") == 3 and "distinctive phrases: 长治久安" in printed


def test_fast_cuts_equal_scipy_maxclust() -> None:
    from scipy.cluster.hierarchy import fcluster

    from pipeline.cluster import _cuts, _ward

    rng = np.random.default_rng(0)
    points = rng.random((12, 5))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    tree = _ward(np.clip(points @ points.T, 0, 1))
    for k, labels in _cuts(tree, range(2, 12)).items():
        assert adjusted_rand(labels, fcluster(tree, t=k, criterion="maxclust")) == 1.0
        assert len(set(labels.tolist())) == k


class _EverySentenceOnce:
    """A stand-in generator whose draw takes every sentence exactly once."""

    def __init__(self, resampler) -> None:
        position = np.arange(len(resampler.unit_group)) - resampler.starts[resampler.unit_group]
        self.values = (position + 0.5) / resampler.sizes[resampler.unit_group]

    def random(self, size: int) -> np.ndarray:
        assert size == len(self.values)
        return self.values


@pytest.mark.parametrize("year", [None, 2016, 2017])
def test_resampled_similarity_of_the_whole_text_is_the_similarity(year) -> None:
    from pipeline.cluster import _Resampler

    segments, sentences, hits = mixed_corpus()
    counts = _FeatureCounts.build(segments, sentences, hits)
    result = cluster_regions(segments, sentences, hits, year=year)
    resampler = _Resampler.of(counts, result.regions, year, counts.columns())
    sim = resampler.similarity(_EverySentenceOnce(resampler), sublinear_tf=True)
    assert np.allclose(sim, np.array(result.similarity), atol=1e-6)


def test_results_do_not_depend_on_the_chunk_size(monkeypatch) -> None:
    import pipeline.cluster

    segments, sentences, hits = mixed_corpus()
    expected = cluster_regions_and_years(segments, sentences, hits, resamples=6, seed=3)
    monkeypatch.setattr(pipeline.cluster, "CHUNK_ENTRIES", 2)  # region matrix, keyness and bootstrap
    got = cluster_regions_and_years(segments, sentences, hits, resamples=6, seed=3)
    assert got == expected
    assert expected[0].support  # the bootstrap ran
