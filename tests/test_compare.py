"""Region comparison on tiny hand-built inputs whose answers are worked out by hand."""

from __future__ import annotations

import csv
import gc
import math
import random
from collections import Counter

import pytest

from pipeline.compare import (
    AdoptionRow,
    adoption,
    adoption_matrix,
    count_hits,
    diffusion,
    iter_adoption,
    iter_diffusion,
    iter_keyness,
    keyness,
    write_adoption,
    write_diffusion,
    write_keyness,
)
from pipeline.records import Hit, Phrase, Segment


def seg(segment_id: str, region: str, year: int | None, text: str) -> Segment:
    return Segment(segment_id, f"{segment_id}.txt", region, "", "", year, text)


def phrase(text: str) -> Phrase:
    return Phrase(phrase=text, kind="user", variants=(text,), count=0, segments=0, regions=(), score=0.0)


def hits_of(segments: list[Segment], phrases: list[str]) -> list[Hit]:
    """Every occurrence of every phrase, by plain substring search (as the phrase stage does)."""
    found = []
    for s in segments:
        for p in phrases:
            start = s.text.find(p)
            while start >= 0:
                found.append(Hit(p, s.segment_id, 0, start, start + len(p)))
                start = s.text.find(p, start + 1)
    return found


# ---------------------------------------------------------------------------------------------
# adoption

SH_2016 = "推进供给侧结构性改革，推进供给侧结构性改革。"  # 22 characters, 2 hits
SH_2017 = "增强四个意识，推进供给侧结构性改革，坚定四个自信。"  # 25 characters
JX_2017 = "牢固树立四个意识，增强四个意识。"  # 16 characters
LEAD = "各地增强四个意识。"  # unattributed
PHRASES = ["供给侧结构性改革", "四个意识", "两个确立"]


@pytest.fixture
def corpus() -> tuple[list[Segment], list[Hit], list[Phrase]]:
    segments = [
        seg("sh16", "上海", 2016, SH_2016),
        seg("sh17", "上海", 2017, SH_2017),
        seg("jx17", "江西", 2017, JX_2017),
        seg("lead", "", 2017, LEAD),
    ]
    return segments, hits_of(segments, PHRASES), [phrase(p) for p in PHRASES]


def test_text_lengths_used_below() -> None:
    assert (len(SH_2016), len(SH_2017), len(JX_2017)) == (22, 25, 16)


def test_adoption_counts_and_rates(corpus) -> None:
    rows = {(r.region, r.year, r.phrase): r for r in adoption(*corpus)}
    assert rows[("上海", 2016, "供给侧结构性改革")][3:] == (2, 2 * 10_000 / 22, 22)
    assert rows[("上海", 2017, "供给侧结构性改革")].count == 1
    assert rows[("上海", None, "供给侧结构性改革")][3:] == (3, 3 * 10_000 / 47, 47)
    assert rows[("江西", 2017, "四个意识")].count == 2
    assert rows[("江西", 2017, "四个意识")].per_10k == pytest.approx(1250.0)
    assert rows[("江西", None, "两个确立")][3:] == (0, 0.0, 16)  # text but no use: zero


def test_adoption_missing_year_is_absent_not_zero(corpus) -> None:
    rows = adoption(*corpus)
    keys = {(r.region, r.year) for r in rows}
    assert keys == {("上海", None), ("上海", 2016), ("上海", 2017), ("江西", None), ("江西", 2017)}
    assert ("江西", 2016) not in keys


def test_adoption_leaves_unattributed_text_out(corpus) -> None:
    assert all(r.region for r in adoption(*corpus))
    matrix = adoption_matrix(*corpus)
    assert matrix.regions == ("上海", "江西")
    assert dict(zip(matrix.phrases, matrix.counts, strict=True)) == {
        "供给侧结构性改革": (3, 0),
        "两个确立": (0, 0),
        "四个意识": (1, 2),
    }


def test_adoption_sorted_and_sparse_option(corpus) -> None:
    rows = adoption(*corpus)
    keys = [(r.region, -1 if r.year is None else r.year, r.phrase) for r in rows]
    assert keys == sorted(keys)
    sparse = adoption(*corpus, include_zero=False)
    assert sparse and all(r.count > 0 for r in sparse)


def test_adoption_ignores_hits_outside_vocabulary_and_rejects_unknown_segments(corpus) -> None:
    segments, hits, _ = corpus
    rows = adoption(segments, hits, [phrase("四个意识")])
    assert {r.phrase for r in rows} == {"四个意识"}
    with pytest.raises(ValueError, match="unknown segment_id"):
        adoption(segments, [Hit("四个意识", "nowhere", 0, 0, 4)], [phrase("四个意识")])


def test_write_adoption_round_trip(corpus, tmp_path) -> None:
    write_adoption(tmp_path, adoption(*corpus), adoption_matrix(*corpus))
    with open(tmp_path / "adoption.csv", encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == list(AdoptionRow._fields)
    overall = [r for r in table if r["region"] == "上海" and r["year"] == "" and r["phrase"] == "四个意识"]
    assert overall[0]["count"] == "1"
    with open(tmp_path / "adoption_matrix.csv", encoding="utf-8-sig") as handle:
        assert next(csv.reader(handle)) == ["phrase", "上海", "江西", "total"]


# ---------------------------------------------------------------------------------------------
# keyness
#
# Counts (phrase hits):     p=两个确立  q=四个意识  r=两个维护   n
#   A 上海                     3          1          0         4
#   B 江西                     1          2          1         4
#   C 甘肃                     0          1          2         3
#   corpus                     4          4          3        11
# With a0 = 5.5 the prior is alpha = a0 * (4, 4, 3) / 11 = (2, 2, 1.5).

P, Q, R = "两个确立", "四个意识", "两个维护"


@pytest.fixture
def keyness_corpus() -> tuple[list[Segment], list[Hit], list[Phrase]]:
    segments = [
        seg("a", "上海", None, "两个确立，两个确立，两个确立，四个意识。"),
        seg("b", "江西", None, "两个确立，四个意识，四个意识，两个维护。"),
        seg("c", "甘肃", None, "四个意识，两个维护，两个维护。"),
    ]
    return segments, hits_of(segments, [P, Q, R]), [phrase(p) for p in (P, Q, R)]


def test_keyness_matches_hand_computed_z_score(keyness_corpus) -> None:
    rows = {(r.region, r.phrase): r for r in keyness(*keyness_corpus, prior_scale=5.5)}
    # 上海 against 江西+甘肃 (n_j = 7) for 两个确立: y_i = 3, y_j = 1, alpha = 2.
    delta = math.log((3 + 2) / (4 + 5.5 - 3 - 2)) - math.log((1 + 2) / (7 + 5.5 - 1 - 2))
    variance = 1 / (3 + 2) + 1 / (1 + 2)
    row = rows[("上海", P)]
    assert (row.count, row.reference_count) == (3, 1)
    assert row.delta == pytest.approx(delta)
    assert row.variance == pytest.approx(variance)
    assert row.score == pytest.approx(delta / math.sqrt(variance))
    assert row.score == pytest.approx(1.7226, abs=1e-4)  # 1.258041 / 0.730297
    # 甘肃 against 上海+江西 (n_j = 8) for 两个维护: y_i = 2, y_j = 1, alpha = 1.5.
    delta = math.log(3.5 / (3 + 5.5 - 2 - 1.5)) - math.log(2.5 / (8 + 5.5 - 1 - 1.5))
    assert rows[("甘肃", R)].score == pytest.approx(delta / math.sqrt(1 / 3.5 + 1 / 2.5))


def test_keyness_against_reference_group(keyness_corpus) -> None:
    rows = keyness(*keyness_corpus, prior_scale=5.5, reference=["甘肃"])
    assert {r.region for r in rows} == {"上海", "江西"}  # 甘肃 has no reference left but itself
    row = next(r for r in rows if (r.region, r.phrase) == ("上海", P))
    # 上海 against 甘肃 alone: y_j = 0, n_j = 3; the prior still comes from the whole corpus.
    delta = math.log(5 / 4.5) - math.log((0 + 2) / (3 + 5.5 - 0 - 2))
    assert row.score == pytest.approx(delta / math.sqrt(1 / 5 + 1 / 2))
    with pytest.raises(ValueError, match="reference"):
        keyness(*keyness_corpus, reference=["西藏"])


def test_keyness_default_prior_is_mean_hits_per_region(keyness_corpus) -> None:
    assert keyness(*keyness_corpus) == keyness(*keyness_corpus, prior_scale=11 / 3)


def test_keyness_sorted_by_score_within_region(keyness_corpus) -> None:
    rows = keyness(*keyness_corpus, prior_scale=5.5)
    assert next(r.phrase for r in rows if r.region == "上海") == P
    assert next(r.phrase for r in rows if r.region == "甘肃") == R
    for region in ("上海", "江西", "甘肃"):
        scores = [r.score for r in rows if r.region == region]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("top", [0, 1, 2, 10])
def test_keyness_top_keeps_the_first_rows_of_each_region(keyness_corpus, top) -> None:
    rows = keyness(*keyness_corpus, prior_scale=5.5)
    expected = [r for r in rows if [s.region for s in rows[: rows.index(r)]].count(r.region) < top]
    assert keyness(*keyness_corpus, prior_scale=5.5, top=top) == expected


def test_keyness_degenerate_inputs(keyness_corpus) -> None:
    segments, hits, _ = keyness_corpus
    assert keyness(segments, hits, [phrase(P)]) == []  # one phrase: odds undefined
    assert keyness(segments, [], [phrase(P), phrase(Q)]) == []
    with pytest.raises(ValueError, match="prior_scale"):
        keyness(*keyness_corpus, prior_scale=0)


# ---------------------------------------------------------------------------------------------
# diffusion


def test_diffusion_first_year_and_cumulative_share() -> None:
    segments = [
        seg("sh16", "上海", 2016, "推进供给侧结构性改革。"),
        seg("sh17", "上海", 2017, "增强四个意识。"),
        seg("jx16", "江西", 2016, "稳增长。"),
        seg("jx17", "江西", 2017, "推进供给侧结构性改革，增强四个意识。"),
        seg("gs17", "甘肃", 2017, "增强四个意识。"),
        seg("lead", "", 2015, "推进供给侧结构性改革。"),  # unattributed: not a first adopter
    ]
    names = ["供给侧结构性改革", "四个意识", "两个确立"]
    rows = {(r.phrase, r.year): r for r in diffusion(segments, hits_of(segments, names), map(phrase, names))}
    assert {year for _, year in rows} == {2016, 2017}
    reform16, reform17 = rows[("供给侧结构性改革", 2016)], rows[("供给侧结构性改革", 2017)]
    assert (reform16.first_year, reform16.first_regions) == (2016, ("上海",))
    assert (reform16.regions_using, reform16.regions_with_text, reform16.share_using) == (1, 2, 0.5)
    assert (reform16.adopted_cumulative, reform16.regions_observed_cumulative) == (1, 2)
    assert (reform17.regions_using, reform17.regions_with_text) == (1, 3)
    assert (reform17.adopted_cumulative, reform17.share_adopted_cumulative) == (2, 2 / 3)
    awareness17 = rows[("四个意识", 2017)]
    assert (awareness17.first_year, awareness17.first_regions) == (2017, ("上海", "江西", "甘肃"))
    assert rows[("四个意识", 2016)].regions_using == 0
    assert rows[("两个确立", 2017)].first_year is None
    assert rows[("两个确立", 2017)].share_adopted_cumulative == 0.0


def test_diffusion_empty_without_years(tmp_path) -> None:
    segments = [seg("a", "上海", None, "两个确立。")]
    assert diffusion(segments, hits_of(segments, [P]), [phrase(P)]) == []
    write_diffusion(tmp_path, [])
    assert (tmp_path / "diffusion.csv").read_text(encoding="utf-8-sig").startswith("phrase,year,")


def test_write_keyness_header(keyness_corpus, tmp_path) -> None:
    write_keyness(tmp_path, keyness(*keyness_corpus))
    with open(tmp_path / "keyness.csv", encoding="utf-8-sig") as handle:
        assert next(csv.reader(handle))[:4] == ["region", "phrase", "count", "score"]


# ---------------------------------------------------------------------------------------------
# counting once (count_hits), and the vectorised functions against plain loops


def test_count_hits_equals_a_loop_over_the_hits(corpus) -> None:
    segments, hits, phrases = corpus
    hits = [*hits, Hit("稳增长", "sh16", 0, 0, 3)]  # not in the vocabulary: not counted
    counts = count_hits(segments, iter(hits), iter(phrases))  # any iterables
    assert (counts.regions, counts.years) == (("上海", "江西"), (2016, 2017))  # the lead is unattributed
    assert counts.region_chars.tolist() == [22 + 25, 16]
    assert counts.year_chars.tolist() == [[22, 25], [0, 16]]

    place = {s.segment_id: (s.region, s.year) for s in segments}
    expected_total: Counter[tuple[str, str]] = Counter()
    expected_year: Counter[tuple[str, int, str]] = Counter()
    for hit in hits:
        region, year = place[hit.segment_id]
        if region and hit.phrase in PHRASES:
            expected_total[(region, hit.phrase)] += 1
            expected_year[(region, year, hit.phrase)] += 1
    total = {
        (region, phrase): int(counts.total[i, j])
        for i, region in enumerate(counts.regions)
        for j, phrase in enumerate(counts.vocabulary)
        if counts.total[i, j]
    }
    assert total == expected_total
    r, y, p = counts.decode()
    by_year = {
        (counts.regions[i], counts.years[j], counts.vocabulary[k]): n
        for i, j, k, n in zip(r.tolist(), y.tolist(), p.tolist(), counts.cell_counts.tolist(), strict=True)
    }
    assert by_year == expected_year
    assert by_year[("上海", 2016, "供给侧结构性改革")] == 2


def test_count_hits_reports_the_first_unknown_segment(corpus) -> None:
    segments, hits, phrases = corpus
    bad = [*hits, Hit("四个意识", "gone", 0, 0, 4), Hit("两个确立", "lost", 0, 0, 4)]
    with pytest.raises(ValueError, match="'四个意识' names unknown segment_id 'gone'"):
        count_hits(segments, bad, phrases)


def test_counts_given_once_give_the_same_rows(corpus, keyness_corpus) -> None:
    for inputs in (corpus, keyness_corpus):
        counts = count_hits(*inputs)
        assert adoption(*inputs, counts=counts) == adoption(*inputs)
        assert adoption(*inputs, include_zero=False, counts=counts) == adoption(*inputs, include_zero=False)
        assert adoption_matrix(*inputs, counts=counts) == adoption_matrix(*inputs)
        assert keyness(*inputs, counts=counts) == keyness(*inputs)
        assert diffusion(*inputs, counts=counts) == diffusion(*inputs)


def test_keyness_min_count_leaves_rows_out_not_their_evidence(keyness_corpus) -> None:
    full = keyness(*keyness_corpus, prior_scale=5.5)
    used = keyness(*keyness_corpus, prior_scale=5.5, min_count=1)
    assert used == [r for r in full if r.count >= 1]  # same scores: zero counts still weigh
    assert len(used) == 7  # 9 region-phrase pairs, 上海 never says 两个维护 nor 甘肃 两个确立
    assert ("甘肃", P) not in {(r.region, r.phrase) for r in used}


def _loop_adoption(segments: list[Segment], hits: list[Hit], vocabulary: list[str]) -> list[AdoptionRow]:
    """adoption(include_zero=True) the slow way: counters keyed by region and year."""
    where = {s.segment_id: s for s in segments}
    chars: Counter[tuple[str, int | None]] = Counter()
    counts: Counter[tuple[str, int | None, str]] = Counter()
    for s in segments:
        for year in {None, s.year} if s.region else ():
            chars[(s.region, year)] += len(s.text)
    for hit in hits:
        s = where[hit.segment_id]
        for year in {None, s.year} if s.region and hit.phrase in vocabulary else ():
            counts[(s.region, year, hit.phrase)] += 1
    cells = sorted((key for key, n in chars.items() if n), key=lambda k: (k[0], k[1] or 0))
    return [
        AdoptionRow(r, y, p, counts[(r, y, p)], counts[(r, y, p)] * 10_000 / chars[(r, y)], chars[(r, y)])
        for r, y in cells
        for p in sorted(vocabulary)
    ]


def _loop_diffusion(segments: list[Segment], hits: list[Hit], vocabulary: list[str]) -> list[tuple]:
    """diffusion() the slow way: sets of regions per year."""
    where = {s.segment_id: s for s in segments}
    with_text: dict[int, set[str]] = {}
    for s in segments:
        if s.region and s.year is not None and s.text:
            with_text.setdefault(s.year, set()).add(s.region)
    users: dict[tuple[str, int], set[str]] = {}
    for hit in hits:
        s = where[hit.segment_id]
        if s.region and s.year is not None and hit.phrase in vocabulary:
            users.setdefault((hit.phrase, s.year), set()).add(s.region)
    rows = []
    for p in sorted(vocabulary):
        years = sorted(with_text)
        first = next((y for y in years if (p, y) in users), None)
        first_regions = tuple(sorted(users[(p, first)])) if first else ()
        adopted: set[str] = set()
        observed: set[str] = set()
        for y in years:
            using = users.get((p, y), set())
            adopted |= using
            observed |= with_text[y]
            shares = (len(using) / len(with_text[y]), len(adopted) / len(observed))
            counts = (len(using), len(with_text[y]), shares[0], len(adopted), len(observed), shares[1])
            rows.append((p, y, *counts, first, first_regions, tuple(sorted(using))))
    return rows


def _loop_keyness(adopted: list[AdoptionRow]) -> dict[tuple[str, str], float]:
    """Scores by the formula, with math.log, from adoption's overall counts."""
    y = {(r.region, r.phrase): r.count for r in adopted if r.year is None}
    regions = sorted({r for r, _ in y})
    phrases = [p for p in sorted({p for _, p in y}) if sum(y[(r, p)] for r in regions)]
    if len(phrases) < 2 or len(regions) < 2:
        return {}  # odds undefined, or no other region to compare with
    n_w = {p: sum(y[(r, p)] for r in regions) for p in phrases}
    n = sum(n_w.values())
    a0 = n / len(regions)
    scores = {}
    for i in regions:
        n_i = sum(y[(i, p)] for p in phrases)
        n_j = n - n_i
        for p in phrases:
            alpha = a0 * n_w[p] / n
            y_i, y_j = y[(i, p)], n_w[p] - y[(i, p)]
            delta = math.log((y_i + alpha) / (n_i + a0 - y_i - alpha)) - math.log(
                (y_j + alpha) / (n_j + a0 - y_j - alpha)
            )
            scores[(i, p)] = delta / math.sqrt(1 / (y_i + alpha) + 1 / (y_j + alpha))
    return scores


WORDS = ["两个确立", "四个意识", "两个维护", "供给侧结构性改革", "意识", "，", "甲"]


def _random_corpus(rng: random.Random) -> tuple[list[Segment], list[Hit], list[str]]:
    """A few segments of random words in random regions and years, their hits (shuffled), a vocabulary."""
    segments = [
        seg(f"s{i}", rng.choice(["上海", "江西", "甘肃", ""]), rng.choice([None, 2016, 2017, 2019]), text)
        for i in range(rng.randint(1, 8))
        for text in ["".join(rng.choices(WORDS, k=rng.randint(0, 10)))]
    ]
    vocabulary = [*rng.sample(WORDS[:5], rng.randint(1, 5)), "从未出现"]
    hits = hits_of(segments, WORDS)
    rng.shuffle(hits)
    return segments, hits, vocabulary


def test_vectorised_functions_equal_plain_loops_on_random_corpora() -> None:
    rng = random.Random(3)
    for _ in range(40):
        segments, hits, vocabulary = _random_corpus(rng)
        phrases = [phrase(p) for p in vocabulary]
        expected = _loop_adoption(segments, hits, vocabulary)
        assert adoption(segments, hits, phrases) == expected
        assert adoption(segments, hits, phrases, include_zero=False) == [r for r in expected if r.count]
        assert [tuple(r) for r in diffusion(segments, hits, phrases)] == _loop_diffusion(
            segments, hits, vocabulary
        )
        scores = _loop_keyness(expected)
        rows = keyness(segments, hits, phrases)
        assert {(r.region, r.phrase) for r in rows} == set(scores)
        for row in rows:
            assert row.score == pytest.approx(scores[(row.region, row.phrase)], rel=1e-12, abs=1e-12)


def test_rows_leave_the_garbage_collector_as_found(corpus) -> None:
    assert gc.isenabled()
    adoption(*corpus)
    assert gc.isenabled()
    gc.disable()
    try:
        adoption(*corpus)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_write_diffusion_joins_region_lists(tmp_path) -> None:
    segments = [seg("sh", "上海", 2017, "增强四个意识。"), seg("jx", "江西", 2017, "增强四个意识。")]
    write_diffusion(tmp_path, diffusion(segments, hits_of(segments, [Q]), [phrase(Q)]))
    with open(tmp_path / "diffusion.csv", encoding="utf-8-sig") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["first_regions"], row["using"], row["share_using"]) == ("上海;江西", "上海;江西", "1")


@pytest.mark.parametrize("chunk_rows", [1, 2, 5])
def test_rows_built_in_small_chunks_equal_the_rows_built_at_once(chunk_rows) -> None:
    rng = random.Random(11)
    for _ in range(30):
        segments, hits, vocabulary = _random_corpus(rng)
        phrases = [phrase(p) for p in vocabulary]
        counts = count_hits(segments, hits, phrases)
        for include_zero in (True, False):
            whole = adoption(segments, hits, phrases, include_zero=include_zero, counts=counts)
            chunked = iter_adoption(
                segments, hits, phrases, include_zero=include_zero, counts=counts, chunk_rows=chunk_rows
            )
            assert list(chunked) == whole
        for options in (
            {},
            {"min_count": 1},
            {"reference": ["上海", "江西"] if "江西" in counts.regions else []},
        ):
            try:
                whole = keyness(segments, hits, phrases, counts=counts, **options)
            except ValueError:  # a reference region without text
                continue
            assert (
                list(iter_keyness(segments, hits, phrases, counts=counts, chunk_rows=chunk_rows, **options))
                == whole
            )
        whole = diffusion(segments, hits, phrases, counts=counts)
        assert list(iter_diffusion(segments, hits, phrases, counts=counts, chunk_rows=chunk_rows)) == whole


def test_chunked_writers_write_what_one_piece_writes(corpus, tmp_path, monkeypatch) -> None:
    """Keyness and diffusion are written in chunks of rows: the bytes do not depend on the chunk size."""
    segments, hits, phrases = corpus
    write_keyness(tmp_path, keyness(segments, hits, phrases))
    write_diffusion(tmp_path, diffusion(segments, hits, phrases))
    whole = {name: (tmp_path / name).read_bytes() for name in ("keyness.csv", "diffusion.csv")}
    monkeypatch.setattr("pipeline.tables.CHUNK_ROWS", 1)
    write_keyness(tmp_path, iter_keyness(segments, hits, phrases, chunk_rows=1))
    write_diffusion(tmp_path, iter_diffusion(segments, hits, phrases, chunk_rows=1))
    assert {name: (tmp_path / name).read_bytes() for name in whole} == whole
    assert whole["diffusion.csv"].count(b"\n") == 1 + len(diffusion(segments, hits, phrases)) > 2
