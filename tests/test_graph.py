"""Tests for the phrase co-occurrence graph and its Gephi-safe export (pipeline/graph.py)."""

from __future__ import annotations

import csv
import doctest
import itertools
import math
import random
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from pipeline import graph as graph_module
from pipeline.graph import (
    GEPHI_RESERVED,
    GraphSettings,
    build_bipartite_graph,
    build_graph,
    draw_preview,
    gephi_safe,
    strip_xml_illegal,
    theme_tables,
    write_dynamic_gexf,
    write_gexf,
    write_graphml,
    write_themes,
)
from pipeline.records import Hit, HitTable, Phrase, Segment

NS = {"g": "http://graphml.graphdrawing.org/xmlns"}
LOOSE = GraphSettings(
    min_node_count=1, min_edge_weight=1, min_association=-1.0, top_edges=None, min_llr=0.0, edges_per_node=0
)
CHAIN = "高端化、智能化、绿色化"


def make_case(
    texts: dict[str, tuple[str, str]], phrases: list[str], kinds: dict[str, str] | None = None
) -> tuple[list[Phrase], list[Hit], list[Segment]]:
    """Segments from ``{segment_id: (region, text)}``, every occurrence of ``phrases`` as hits.

    Sentences end at 。; a hit's sentence is the number of 。 before it. Phrases keep the given order
    (their rank) and get their count, segments and regions from the hits, as the phrase stage would.
    """
    segments = [
        Segment(sid, f"{sid}.txt", region, "", "", None, text) for sid, (region, text) in texts.items()
    ]
    hits: list[Hit] = []
    for segment in segments:
        for phrase in phrases:
            start = segment.text.find(phrase)
            while start >= 0:
                sentence = segment.text.count("。", 0, start)
                hits.append(Hit(phrase, segment.segment_id, sentence, start, start + len(phrase)))
                start = segment.text.find(phrase, start + 1)
    region_of = {segment.segment_id: segment.region for segment in segments}
    records = []
    for phrase in phrases:
        own = [hit for hit in hits if hit.phrase == phrase]
        regions = tuple(sorted({region_of[hit.segment_id] for hit in own} - {""}))
        kind = (kinds or {}).get(phrase, "statistical")
        records.append(
            Phrase(phrase, kind, (phrase,), len(own), len({h.segment_id for h in own}), regions, 1.0)
        )
    return records, hits, segments


def edge_labels(graph: nx.Graph) -> dict[frozenset[str], dict]:
    return {
        frozenset((graph.nodes[u]["label"], graph.nodes[v]["label"])): d for u, v, d in graph.edges(data=True)
    }


def node_by_label(graph: nx.Graph, label: str) -> str:
    (node,) = [n for n, d in graph.nodes(data=True) if d["label"] == label]
    return node


# ----------------------------------------------------------------------------------------------------
# Nesting is decided by offsets


@pytest.fixture
def nested():
    return make_case(
        {
            "s1": ("上海", "推进高端化、智能化、绿色化和数字化。"),
            "s2": ("浙江", "坚持高端化、智能化、绿色化，以高端化为先。"),
        },
        [CHAIN, "高端化", "数字化"],
        {CHAIN: "enumeration"},
    )


def test_fixture_offsets_are_the_ones_written_by_hand(nested):
    _, hits, _ = nested
    s1 = {(h.phrase, h.sentence_index, h.start, h.end) for h in hits if h.segment_id == "s1"}
    assert s1 == {(CHAIN, 0, 2, 13), ("高端化", 0, 2, 5), ("数字化", 0, 14, 17)}


def test_parts_of_one_stretch_never_link(nested):
    # s1: 高端化、智能化、绿色化和数字化 is one stretch (和 is a 1-character gap); s2: the chain contains 高端化.
    assert build_graph(*nested, settings=LOOSE).number_of_edges() == 0
    # Counting only overlaps as joined, 数字化 stands apart in s1; a phrase and one it contains never link.
    edges = edge_labels(build_graph(*nested, settings=_with(join_gap=-1)))
    assert set(edges) == {frozenset((CHAIN, "数字化")), frozenset(("高端化", "数字化"))}
    assert edges[frozenset((CHAIN, "数字化"))]["weight"] == 1


def test_containment_alone_never_links():
    phrases, hits, segments = make_case(
        {"s1": ("上海", "推进高端化、智能化、绿色化。")}, [CHAIN, "高端化", "智能化"]
    )
    for join_gap in (2, -1):  # 高端化 and 智能化 are disjoint, but the chain's hit covers both
        graph = build_graph(phrases, hits, segments, settings=_with(keep_isolates=True, join_gap=join_gap))
        assert graph.number_of_nodes() == 3
        assert graph.number_of_edges() == 0


def test_partly_overlapping_occurrences_do_not_link():
    # 高质量发展 and 发展蓝图 share 发展 in 高质量发展蓝图: the same stretch of text, not two phrases.
    phrases, hits, segments = make_case({"s1": ("", "绘就高质量发展蓝图。")}, ["高质量发展", "发展蓝图"])
    assert build_graph(phrases, hits, segments, settings=LOOSE).number_of_edges() == 0


def test_offsets_decide_not_strings():
    # Same strings, but the hits are placed apart: now they co-occur.
    segment = Segment(
        "s1", "a.txt", "上海", "", "", None, "绘就高质量发展蓝图，推动高质量发展，描绘发展蓝图。"
    )
    phrases = [
        Phrase("高质量发展", "statistical", (), 1, 1, ("上海",), 1.0),
        Phrase("发展蓝图", "statistical", (), 1, 1, ("上海",), 1.0),
    ]
    inside = [Hit("高质量发展", "s1", 0, 2, 7), Hit("发展蓝图", "s1", 0, 5, 9)]
    outside = [Hit("高质量发展", "s1", 0, 12, 17), Hit("发展蓝图", "s1", 0, 20, 24)]
    assert build_graph(phrases, inside, [segment], settings=LOOSE).number_of_edges() == 0
    assert build_graph(phrases, outside, [segment], settings=LOOSE).number_of_edges() == 1


def test_halves_of_one_fixed_phrase_do_not_link():
    """全面建成 + 小康社会 adjacent in most sentences where both occur: parts of one formula, no edge."""
    fixed = "全面建成小康社会。"
    case = make_case({"s1": ("上海", fixed * 3 + "全面建成惠及人民的小康社会。")}, ["全面建成", "小康社会"])
    assert build_graph(*case, settings=LOOSE).number_of_edges() == 0
    # Apart in most of their sentences: two formulas that travel together, weighted by those sentences.
    apart = "全面建成惠及人民的小康社会。"
    case = make_case({"s1": ("上海", fixed + apart * 3)}, ["全面建成", "小康社会"])
    (edge,) = edge_labels(build_graph(*case, settings=LOOSE)).values()
    assert edge["weight"] == 3


def test_a_chain_of_joined_hits_is_one_phrase():
    # 邓小平理论、“三个代表”重要思想、科学发展观: each hit within 2 characters of the next, one stretch.
    text = "以邓小平理论、“三个代表”重要思想、科学发展观为指导。"
    case = make_case({"s1": ("上海", text * 3)}, ["邓小平理论", "三个代表", "重要思想", "科学发展观"])
    assert build_graph(*case, settings=LOOSE).number_of_edges() == 0
    # Without 三个代表 and 重要思想 listed, nothing bridges the gap: the two ends co-occur apart.
    case = make_case({"s1": ("上海", text * 3)}, ["邓小平理论", "科学发展观"])
    assert build_graph(*case, settings=LOOSE).number_of_edges() == 1


def test_a_longer_listed_phrase_covering_both_joins_them():
    text = "坚持稳中求进工作总基调。" * 3
    longer = ["稳中求进", "总基调", "稳中求进工作总基调"]
    # Only the first two are considered as nodes; the third, listed, covers both of their hits.
    covered = build_graph(
        *make_case({"s1": ("上海", text)}, longer), settings=_with(max_phrases=2, join_gap=0)
    )
    assert covered.number_of_edges() == 0
    alone = build_graph(*make_case({"s1": ("上海", text)}, longer[:2]), settings=_with(join_gap=0))
    assert alone.number_of_edges() == 1


# ----------------------------------------------------------------------------------------------------
# Weights and association, checked by hand


@pytest.fixture
def tiny():
    """Five sentences: A+B, B+C, C, A+C in s1; A+B in s2. N=5, n_A=n_B=n_C=3, n_AB=2, n_AC=n_BC=1."""
    return make_case(
        {
            "s1": (
                "上海",
                "深刻领悟两个确立，增强四个意识。增强四个意识，坚定四个自信。坚定四个自信。领悟两个确立，坚定四个自信。",
            ),
            "s2": ("山东", "两个确立，增强四个意识。"),
        },
        ["两个确立", "四个意识", "四个自信"],
        dict.fromkeys(["两个确立", "四个意识", "四个自信"], "numbered"),
    )


def test_weights_and_npmi_by_hand(tiny):
    graph = build_graph(*tiny, settings=LOOSE)
    assert graph.graph["windows"] == 5
    assert [graph.nodes[n]["windows"] for n in sorted(graph)] == [3, 3, 3]
    edges = edge_labels(graph)
    ab = edges[frozenset(("两个确立", "四个意识"))]
    ac = edges[frozenset(("两个确立", "四个自信"))]
    bc = edges[frozenset(("四个意识", "四个自信"))]
    assert (ab["weight"], ac["weight"], bc["weight"]) == (2, 1, 1)
    # NPMI = ln(N n_ab / (n_a n_b)) / -ln(n_ab / N)
    assert ab["npmi"] == pytest.approx(math.log(10 / 9) / math.log(5 / 2), abs=1e-6)
    assert ab["npmi"] == pytest.approx(0.114986, abs=1e-6)
    assert ac["npmi"] == pytest.approx(math.log(5 / 9) / math.log(5), abs=1e-6)
    assert ac["npmi"] == pytest.approx(-0.365212, abs=1e-6)
    # Jaccard = n_ab / (n_a + n_b - n_ab)
    assert ab["jaccard"] == 0.5
    assert ac["jaccard"] == bc["jaccard"] == 0.2
    # G² = 2 Σ O ln(O / E) over the 2 × 2 table; AB: O = (2, 1, 1, 1), E = (9/5, 6/5, 6/5, 4/5); AC below chance
    table = [(2, 9 / 5), (1, 6 / 5), (1, 6 / 5), (1, 4 / 5)]
    assert ab["llr"] == pytest.approx(2 * sum(o * math.log(o / e) for o, e in table), abs=1e-3)
    assert ac["llr"] < 0 < ab["llr"]


def test_segment_window(tiny):
    graph = build_graph(*tiny, settings=GraphSettings(**{**_fields(LOOSE), "window": "segment"}))
    assert graph.graph["windows"] == 2
    edges = edge_labels(graph)
    ab = edges[frozenset(("两个确立", "四个意识"))]
    assert ab["weight"] == 2
    assert ab["npmi"] == 0.0  # both in every window: independent, not "perfectly associated"
    assert ab["jaccard"] == 1.0
    assert edges[frozenset(("两个确立", "四个自信"))]["weight"] == 1


def test_node_attributes(tiny):
    graph = build_graph(*tiny, settings=LOOSE)
    assert sorted(graph) == ["p0001", "p0002", "p0003"]
    data = graph.nodes["p0001"]
    assert data["label"] == "两个确立"
    assert data["kind"] == "numbered"
    assert (data["rank"], data["count"], data["segments"], data["regions_n"]) == (1, 3, 2, 2)
    assert data["regions"] == "上海;山东"
    assert data["degree"] == 2
    assert data["weighted_degree"] == 3
    assert isinstance(data["community"], int)


# ----------------------------------------------------------------------------------------------------
# Filtering


def _fields(settings: GraphSettings) -> dict:
    return {name: getattr(settings, name) for name in settings.__slots__}


def _with(**changes) -> GraphSettings:
    return GraphSettings(**{**_fields(LOOSE), **changes})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"AB", "AC", "BC"}),
        ({"min_association": 0.0}, {"AB"}),  # NPMI below chance dropped
        ({"top_edges": 1}, {"AB"}),  # strongest by NPMI
        ({"top_edges": 2}, {"AB", "AC"}),  # AC ties BC on NPMI and weight; the better rank pair wins
        ({"min_edge_weight": 2}, {"AB"}),
        ({"association": "jaccard", "min_association": 0.25}, {"AB"}),
        ({"association": "jaccard", "min_association": 0.2}, {"AB", "AC", "BC"}),
        ({"max_phrases": 2}, {"AB"}),  # only the two best-ranked phrases are considered
        ({"top_edges": 0}, set()),
        ({"min_llr": 0.2}, {"AC", "BC"}),  # |G²|: AB 0.14 fails, AC and BC (below chance) 2.9 pass
        ({"min_llr": 3.0}, set()),
        ({"association": "llr", "min_association": 0.0}, {"AB"}),  # signed: below chance is negative
        ({"edges_per_node": 1}, {"AB", "AC"}),  # A's and B's strongest: AB; C's: AC (ties BC, better rank)
    ],
)
def test_edge_filters(tiny, changes, expected):
    graph = build_graph(*tiny, settings=_with(**changes))
    short = {"两个确立": "A", "四个意识": "B", "四个自信": "C"}
    assert {"".join(sorted(short[label] for label in pair)) for pair in edge_labels(graph)} == expected


def test_min_node_count_and_isolates(tiny):
    phrases, hits, segments = tiny
    phrases = [phrases[0], phrases[1], Phrase("四个自信", "numbered", (), 1, 1, ("上海",), 1.0)]
    graph = build_graph(phrases, hits, segments, settings=_with(min_node_count=2))
    assert {d["label"] for _, d in graph.nodes(data=True)} == {"两个确立", "四个意识"}
    isolated = build_graph(phrases, hits, segments, settings=_with(min_association=0.5, keep_isolates=True))
    assert sorted(isolated) == ["p0001", "p0002", "p0003"]
    assert isolated.number_of_edges() == 0
    dropped = build_graph(phrases, hits, segments, settings=_with(min_association=0.5))
    assert dropped.number_of_nodes() == 0


def test_settings_are_validated():
    with pytest.raises(ValueError, match="window"):
        GraphSettings(window="paragraph")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="association"):
        GraphSettings(association="pmi")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        GraphSettings(min_node_count=0)
    with pytest.raises(ValueError):
        GraphSettings(join_gap=-2)
    with pytest.raises(ValueError):
        GraphSettings(resolution=0)


def test_hits_in_unknown_segments_are_an_error(tiny):
    phrases, hits, segments = tiny
    with pytest.raises(ValueError, match="unknown segment"):
        build_graph(phrases, hits, segments[:1], settings=LOOSE)


def test_hits_of_unlisted_phrases_are_ignored(tiny):
    phrases, hits, segments = tiny
    extra = [*hits, Hit("未列出", "s1", 0, 0, 3)]
    assert nx.utils.graphs_equal(
        build_graph(phrases, extra, segments, settings=LOOSE), build_graph(*tiny, settings=LOOSE)
    )


# ----------------------------------------------------------------------------------------------------
# Communities


@pytest.fixture
def two_clusters():
    tech = "科技创新带动了数字经济，发展人工智能。"
    rural = "乡村振兴促进了共同富裕，巩固脱贫攻坚成果。"
    return make_case(
        {"s1": ("上海", tech * 3 + "科技创新有力推动乡村振兴。"), "s2": ("贵州", rural * 3)},
        ["科技创新", "乡村振兴", "数字经济", "共同富裕", "人工智能", "脱贫攻坚"],
    )


def test_louvain_communities_numbered_by_size_then_label(two_clusters):
    graph = build_graph(*two_clusters, settings=LOOSE)
    groups: dict[int, set[str]] = {}
    for _, data in graph.nodes(data=True):
        groups.setdefault(data["community"], set()).add(data["label"])
    # Equal sizes: 乡村振兴 (U+4E61) sorts before 人工智能 (U+4EBA), so the rural group is community 0.
    assert groups == {0: {"乡村振兴", "共同富裕", "脱贫攻坚"}, 1: {"科技创新", "数字经济", "人工智能"}}


def test_same_input_same_graph_and_bytes(two_clusters, tmp_path):
    phrases, hits, segments = two_clusters
    shuffled = hits[:]
    random.Random(7).shuffle(shuffled)
    first = build_graph(phrases, hits, segments, settings=LOOSE)
    second = build_graph(phrases, shuffled, segments[::-1], settings=LOOSE)
    assert list(first.nodes(data=True)) == list(second.nodes(data=True))
    assert list(first.edges(data=True)) == list(second.edges(data=True))
    for writer, suffix in ((write_graphml, "graphml"), (write_gexf, "gexf")):
        writer(first, tmp_path / f"a.{suffix}")
        writer(second, tmp_path / f"b.{suffix}")
        assert (tmp_path / f"a.{suffix}").read_bytes() == (tmp_path / f"b.{suffix}").read_bytes()


def test_louvain_is_repeatable(two_clusters):
    runs = {
        tuple(sorted(build_graph(*two_clusters, settings=_with(seed=seed)).nodes(data="community")))
        for seed in (42, 42, 42)
    }
    assert len(runs) == 1


# ----------------------------------------------------------------------------------------------------
# Gephi-safe export, rule by rule, on the written file

DIRTY_PHRASE = "高端\x00化\x08、智能化\x1b\ufffe"
DIRTY_REGION = "上\x0b海"


@pytest.fixture
def dirty():
    """A phrase and a region carrying control characters, as scraped text does."""
    segments = [
        Segment(
            "s1",
            "a.txt",
            DIRTY_REGION,
            "",
            "",
            None,
            "推进高端化、智能化，加快数字化。推进高端化、智能化，加快数字化。",
        ),
    ]
    phrases = [
        Phrase(DIRTY_PHRASE, "enumeration", (), 2, 1, (DIRTY_REGION,), 1.0),
        Phrase("数字化", "statistical", (), 2, 1, (DIRTY_REGION,), 1.0),
    ]
    hits = [
        Hit(DIRTY_PHRASE, "s1", 0, 2, 9),
        Hit("数字化", "s1", 0, 12, 15),
        Hit(DIRTY_PHRASE, "s1", 1, 18, 25),
        Hit("数字化", "s1", 1, 28, 31),
    ]
    return phrases, hits, segments


@pytest.fixture
def written(dirty, tmp_path) -> tuple[nx.Graph, Path]:
    graph = build_graph(*dirty, settings=LOOSE)
    path = tmp_path / "cooccurrence.graphml"
    write_graphml(graph, path)
    return graph, path


def _keys(path: Path) -> list[ET.Element]:
    return ET.parse(path).getroot().findall("g:key", NS)


def test_the_dirty_pair_is_an_edge(written):
    graph, _ = written
    assert graph.number_of_edges() == 1


def test_file_is_strict_xml_with_undirected_default(written):
    _, path = written
    root = ET.parse(path).getroot()  # raises on any XML 1.0 violation
    (graph_element,) = root.findall("g:graph", NS)
    assert graph_element.get("edgedefault") == "undirected"
    assert path.read_bytes().startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_label_key_and_numeric_weight(written):
    _, path = written
    keys = {(k.get("for"), k.get("attr.name")): k.get("attr.type") for k in _keys(path)}
    assert keys["node", "label"] == "string"
    assert keys["edge", "weight"] in {"int", "long", "float", "double"}


def test_no_reserved_data_names(written):
    _, path = written
    names = {k.get("attr.name").casefold() for k in _keys(path)}
    assert not names & {"size", "x", "y", "z", "r", "g", "b", "color"}
    assert not names & GEPHI_RESERVED


def test_one_scalar_type_per_key(written):
    _, path = written
    seen: dict[tuple[str, str], str] = {}
    for key in _keys(path):
        assert key.get("attr.type") in {"string", "int", "long", "float", "double", "boolean"}
        assert (key.get("for"), key.get("attr.name")) not in seen
        seen[key.get("for"), key.get("attr.name")] = key.get("attr.type")


def test_values_parse_as_their_type_and_are_finite(written):
    _, path = written
    root = ET.parse(path).getroot()
    types = {k.get("id"): k.get("attr.type") for k in _keys(path)}
    data = root.findall(".//g:data", NS)
    assert data
    for element in data:
        text = element.text or ""
        assert text.casefold() not in {"none", "nan", "inf", "-inf", "infinity", "-infinity"}
        kind = types[element.get("key")]
        if kind in {"int", "long"}:
            int(text)
        elif kind in {"float", "double"}:
            assert math.isfinite(float(text))


def test_control_characters_are_stripped_everywhere(written):
    graph, path = written
    raw = path.read_text(encoding="utf-8")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", raw)
    assert "&#" not in raw  # not smuggled in as character references either
    labels = {d["label"] for _, d in nx.read_graphml(path).nodes(data=True)}
    assert labels == {"高端化、智能化", "数字化"}
    regions = {d["regions"] for _, d in nx.read_graphml(path).nodes(data=True)}
    assert regions == {"上海"}
    # The in-memory graph keeps the text as given; only the file is cleaned.
    assert DIRTY_PHRASE in {d["label"] for _, d in graph.nodes(data=True)}


def test_ids_are_cleaned_too(tmp_path):
    graph = nx.Graph()
    graph.add_edge("a\x01", "b", weight=1)
    graph.nodes["a\x01"]["label"] = "甲"
    write_graphml(graph, tmp_path / "g.graphml")
    assert sorted(nx.read_graphml(tmp_path / "g.graphml")) == ["a", "b"]


def test_networkx_round_trip_keeps_values_and_types(written):
    graph, path = written
    loaded = nx.read_graphml(path)
    expected = gephi_safe(graph)
    assert list(loaded.nodes(data=True)) == list(expected.nodes(data=True))
    for u, v, data in expected.edges(data=True):
        assert loaded.edges[u, v] == data
        assert type(loaded.edges[u, v]["weight"]) is int
        assert type(loaded.edges[u, v]["npmi"]) is float
    for node, data in expected.nodes(data=True):
        for key, value in data.items():
            assert type(loaded.nodes[node][key]) is type(value)


def test_igraph_round_trip(written):
    igraph = pytest.importorskip("igraph")
    graph, path = written
    expected = gephi_safe(graph)
    loaded = igraph.Graph.Read_GraphML(str(path))
    assert not loaded.is_directed()
    assert (loaded.vcount(), loaded.ecount()) == (expected.number_of_nodes(), expected.number_of_edges())
    for vertex in loaded.vs:
        for key, value in expected.nodes[vertex["id"]].items():
            assert vertex[key] == value
            assert isinstance(vertex[key], str) == isinstance(value, str)
    for edge in loaded.es:
        u, v = loaded.vs[edge.source]["id"], loaded.vs[edge.target]["id"]
        for key, value in expected.edges[u, v].items():
            assert edge[key] == value


def test_gexf_is_strict_xml_and_loads(dirty, tmp_path):
    graph = build_graph(*dirty, settings=LOOSE)
    path = tmp_path / "cooccurrence.gexf"
    write_gexf(graph, path)
    root = ET.parse(path).getroot()
    assert root.find("{http://www.gexf.net/1.2draft}graph").get("defaultedgetype") == "undirected"
    assert b"lastmodifieddate" not in path.read_bytes()
    loaded = nx.read_gexf(path)
    assert {d["label"] for _, d in loaded.nodes(data=True)} == {"高端化、智能化", "数字化"}
    ((_, _, data),) = loaded.edges(data=True)
    assert data["weight"] == 2


@pytest.mark.parametrize("name", sorted({"size", "x", "y", "z", "r", "g", "b", "color", "Color", "SIZE"}))
def test_reserved_names_are_refused(name, tmp_path):
    graph = nx.Graph()
    graph.add_node("p1", label="甲", **{name: 1})
    with pytest.raises(ValueError, match="reserved"):
        write_graphml(graph, tmp_path / "g.graphml")
    assert not (tmp_path / "g.graphml").exists()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_are_refused(bad, tmp_path):
    graph = nx.Graph()
    graph.add_edge("p1", "p2", weight=1, npmi=bad)
    with pytest.raises(ValueError, match="NaN or infinity"):
        write_graphml(graph, tmp_path / "g.graphml")


def test_none_is_left_out_and_numeric_keys_unified(tmp_path):
    import numpy as np

    graph = nx.Graph()
    graph.add_node("p1", label="甲", score=1, note=None)
    graph.add_node("p2", label="乙", score=np.float64(0.5))
    graph.add_edge("p1", "p2", weight=np.int64(3))
    write_graphml(graph, tmp_path / "g.graphml")
    loaded = nx.read_graphml(tmp_path / "g.graphml")
    assert loaded.nodes["p1"] == {"label": "甲", "score": 1.0}
    assert type(loaded.edges["p1", "p2"]["weight"]) is int


def test_mixed_and_non_scalar_values_are_refused():
    mixed = nx.Graph()
    mixed.add_node("p1", kind="quoted")
    mixed.add_node("p2", kind=3)
    with pytest.raises(ValueError, match="one type per key"):
        gephi_safe(mixed)
    listed = nx.Graph()
    listed.add_node("p1", regions=["上海", "山东"])
    with pytest.raises(TypeError, match="scalar"):
        gephi_safe(listed)
    with pytest.raises(ValueError, match="undirected"):
        gephi_safe(nx.DiGraph([("a", "b")]))
    with pytest.raises(ValueError, match="weight must be numeric"):
        gephi_safe(nx.Graph([("a", "b", {"weight": "3"})]))


def test_strip_xml_illegal():
    assert strip_xml_illegal("a\x00b\x08c\x1bd\ufffe\uffffe\ud800f") == "abcdef"
    assert strip_xml_illegal("保留\t\n\r和𠀀") == "保留\t\n\r和𠀀"


# ----------------------------------------------------------------------------------------------------
# Bipartite graph


def test_bipartite_graph(tmp_path):
    phrases, hits, segments = make_case(
        {
            "s1": ("上海", "推进数字化。推进数字化和绿色化。"),
            "s2": ("内蒙古", "推进绿色化。"),
            "lead": ("", "数字化绿色化。"),
        },
        ["数字化", "绿色化"],
    )
    graph = build_bipartite_graph(phrases, hits, segments, settings=GraphSettings(min_node_count=1))
    assert sorted(graph) == ["p0001", "p0002", "r_inner_mongolia", "r_shanghai"]
    assert graph.nodes["r_shanghai"]["label"] == "上海"
    assert graph.nodes["r_shanghai"]["part"] == "region"
    assert graph.nodes["p0001"]["part"] == "phrase"
    assert graph.edges["r_shanghai", "p0001"]["weight"] == 2  # the lead paragraph has no region
    assert graph.edges["r_shanghai", "p0001"]["per_10k"] == round(2 * 10_000 / 16, 4)
    assert not graph.has_edge("r_inner_mongolia", "p0001")
    path = tmp_path / "bipartite.graphml"
    write_graphml(graph, path)
    loaded = nx.read_graphml(path)
    assert loaded.nodes["r_inner_mongolia"]["label"] == "内蒙古"
    assert loaded.edges["r_inner_mongolia", "p0002"]["weight"] == 1


# ----------------------------------------------------------------------------------------------------
# Preview and the docstring example


def test_preview_png_and_svg_with_chinese_labels(two_clusters, tmp_path):
    graph = build_graph(*two_clusters, settings=LOOSE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a CJK glyph missing from the font warns: make it fail
        draw_preview(graph, tmp_path / "graph.png", title="共现网络")
        draw_preview(graph, tmp_path / "graph.svg")
    assert (tmp_path / "graph.png").read_bytes().startswith(b"\x89PNG")
    svg = (tmp_path / "graph.svg").read_text(encoding="utf-8")
    assert "科技创新" in svg and "乡村振兴" in svg
    draw_preview(graph, tmp_path / "again.svg")
    assert (tmp_path / "again.svg").read_text(encoding="utf-8") == svg


def test_preview_of_an_empty_graph(tmp_path):
    draw_preview(nx.Graph(), tmp_path / "empty.png")
    assert (tmp_path / "empty.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        draw_preview(nx.Graph(), tmp_path / "graph.pdf")


def test_docstring_example():
    assert doctest.testmod(graph_module).failed == 0


# ----------------------------------------------------------------------------------------------------
# Hits as columns


def test_columns_and_records_give_the_same_graphs(two_clusters, monkeypatch):
    phrases, hits, segments = two_clusters
    names = [phrase.phrase for phrase in phrases]
    table = HitTable.from_hits(hits, names, [segment.segment_id for segment in segments])
    assert table.records() == tuple(hits)
    expected = build_graph(phrases, hits, segments, settings=LOOSE)
    # Pairs counted a few at a time give the counts of one batch.
    monkeypatch.setattr(graph_module, "_PAIRS_PER_BATCH", 3)
    found = build_graph(phrases, table, segments, settings=LOOSE)
    assert list(found.nodes(data=True)) == list(expected.nodes(data=True))
    assert list(found.edges(data=True)) == list(expected.edges(data=True))
    assert expected.number_of_edges() > 3
    bipartite = build_bipartite_graph(phrases, table, segments, settings=LOOSE)
    assert list(bipartite.edges(data=True)) == list(
        build_bipartite_graph(phrases, hits, segments, settings=LOOSE).edges(data=True)
    )


def _direct_counts(rows, candidates, join_gap):
    """both / joined / apart by the definitions, one window at a time (rows: window, phrase, start, end)."""
    size = len(candidates)
    both, joined, apart = (np.zeros((size, size), dtype=np.int64) for _ in range(3))
    for window in sorted({row[0] for row in rows}):
        listed = [row[1:] for row in rows if row[0] == window]
        mine = sorted((start, end, candidates.index(p)) for p, start, end in listed if p in candidates)
        stretches: list[list[tuple[int, int, int]]] = []
        for start, end, p in mine:
            if stretches:
                previous = stretches[-1][-1]
                touches = start <= max(e for _, e, _ in stretches[-1]) + join_gap
                covered = any(s0 <= previous[0] and e0 >= end for _, s0, e0 in listed)
                if touches or covered:
                    stretches[-1].append((start, end, p))
                    continue
            stretches.append([(start, end, p)])
        groups = [{p for _, _, p in stretch} for stretch in stretches]
        for a in range(size):
            for b in range(size):
                if a == b or not any(a in g for g in groups) or not any(b in g for g in groups):
                    continue
                both[a, b] += 1
                joined[a, b] += any(a in g and b in g for g in groups)
                apart[a, b] += any(a in g and b not in g for g in groups) and any(
                    b in g and a not in g for g in groups
                )
    return both, joined, apart


def test_cooccurrence_counts_match_the_definitions(monkeypatch):
    """Windows together, joined and apart, counted in batches, as the definitions count them one by one."""
    rng = random.Random(7)
    names = [f"短语{i}" for i in range(12)]
    phrases = [Phrase(name, "statistical", (), 1, 1, (), 1.0) for name in names]
    hits = []
    for _ in range(90):
        segment, sentence = rng.randrange(6), rng.randrange(2)
        start = 100 * sentence + rng.randrange(40)
        hits.append(Hit(rng.choice(names), f"s{segment}", sentence, start, start + rng.randrange(1, 6)))
    table = HitTable.of(hits)
    occurrences = graph_module._occurrences(table, graph_module._rank(phrases), "sentence")
    rows = [(h.segment_id, h.sentence_index, names.index(h.phrase), h.start, h.end) for h in hits]
    rows = [((segment, sentence), p, start, end) for segment, sentence, p, start, end in rows]
    candidates = [11, 0, 3, 5, 7, 2, 9]
    off_diagonal = ~np.eye(len(candidates), dtype=bool)
    for join_gap in (-1, 0, 2):
        expected = _direct_counts(rows, candidates, join_gap)
        assert expected[0].sum() > expected[2].sum() > 0 and expected[1].sum() > 0
        for batch in (1, 5, 10_000):
            monkeypatch.setattr(graph_module, "_PAIRS_PER_BATCH", batch)
            found = graph_module._cooccurrence(occurrences, candidates, join_gap)
            for name, counts, direct in zip(("both", "joined", "apart"), (found.both, found.joined, found.apart),
                                            expected, strict=True):  # fmt: skip
                assert (counts[0][off_diagonal] == direct[off_diagonal]).all(), (name, join_gap, batch)


# ----------------------------------------------------------------------------------------------------
# Time: the dynamic GEXF

GEXF13 = "{http://gexf.net/1.3}"


@pytest.fixture
def dated():
    """Three regions over four years, one unattributed lead and one undated text (both left out of time)."""
    texts = {
        "s1": ("上海", 2013, "推进科技创新，发展数字经济。"),
        "s2": ("上海", 2014, "坚持科技创新，壮大数字经济。"),
        "s3": ("贵州", 2016, "实施乡村振兴，推动科技创新。"),
        "s4": ("", 2015, "科技创新带动了数字经济。"),
        "s5": ("山东", None, "发展数字经济，实施乡村振兴。"),
    }
    phrases, hits, segments = make_case({sid: (region, text) for sid, (region, _, text) in texts.items()},
                                        ["科技创新", "数字经济", "乡村振兴"])  # fmt: skip
    segments = [
        Segment(s.segment_id, s.source, s.region, "", "", texts[s.segment_id][1], s.text) for s in segments
    ]
    return phrases, hits, segments


def _spell_years(spells) -> set[int]:
    return {year for start, end in spells for year in range(int(start[:4]), int(end[:4]) + 1)}


def test_dynamic_spells_match_the_years_of_adoption(dated, tmp_path):
    from pipeline.compare import adoption

    phrases, hits, segments = dated
    graph = build_graph(phrases, hits, segments, settings=LOOSE)
    write_dynamic_gexf(graph, tmp_path / "dynamic.gexf")
    loaded = nx.read_gexf(tmp_path / "dynamic.gexf")
    rows = [row for row in adoption(segments, hits, phrases, include_zero=False) if row.year is not None]
    assert loaded.number_of_nodes() == 3
    for _, data in loaded.nodes(data=True):
        used = {row.year for row in rows if row.phrase == data["label"]}
        assert _spell_years(data["spells"]) == used, data["label"]
        uses = {int(start[:4]): value for value, start, _ in data["uses"]}
        assert uses == {
            y: sum(r.count for r in rows if r.phrase == data["label"] and r.year == y) for y in used
        }
    # 科技创新 was used in 2013, 2014 and 2016: two spells, whole years.
    spells = loaded.nodes[node_by_label(graph, "科技创新")]["spells"]
    assert spells == [("2013-01-01", "2014-12-31"), ("2016-01-01", "2016-12-31")]
    # An edge lives in the years its phrases occur apart in one sentence (s4 has no region: left out).
    edge = loaded.edges[node_by_label(graph, "科技创新"), node_by_label(graph, "数字经济")]
    assert edge["spells"] == [("2013-01-01", "2014-12-31")]
    assert edge["weight"] == 3.0  # the static weight counts every sentence, dated or not
    for u, v, data in loaded.edges(data=True):  # an edge is never shown without both of its phrases
        assert _spell_years(data.get("spells", [])) <= _spell_years(loaded.nodes[u]["spells"])
        assert _spell_years(data.get("spells", [])) <= _spell_years(loaded.nodes[v]["spells"])
    # 数字经济 and 乡村振兴 meet only in the undated text: an edge without spells (always shown).
    assert "spells" not in loaded.edges[node_by_label(graph, "数字经济"), node_by_label(graph, "乡村振兴")]


def test_dynamic_gexf_follows_gexf_1_3(dated, tmp_path):
    """The rules of the GEXF 1.3 schema (gexf.xsd, dynamics.xsd) that Gephi's importer relies on."""
    graph = build_graph(*dated, settings=LOOSE)
    path = tmp_path / "dynamic.gexf"
    write_dynamic_gexf(graph, path)
    root = ET.parse(path).getroot()  # strict XML
    assert root.tag == f"{GEXF13}gexf" and root.get("version") == "1.3"
    assert [child.tag for child in root] == [f"{GEXF13}meta", f"{GEXF13}graph"]
    element = root.find(f"{GEXF13}graph")
    assert element.get("defaultedgetype") == "undirected"
    assert element.get("mode") == "dynamic"
    assert element.get("timeformat") == "date" and element.get("timerepresentation") == "interval"
    assert (element.get("start"), element.get("end")) == ("2013-01-01", "2016-12-31")
    tags = [child.tag.removeprefix(GEXF13) for child in element]
    assert tags == ["attributes"] * 4 + ["nodes", "edges"]  # attributes*, nodes, edges
    declared: dict[str, set[str]] = {"node": set(), "edge": set()}
    for attributes in element.findall(f"{GEXF13}attributes"):
        assert attributes.get("class") in {"node", "edge"} and attributes.get("mode") in {"static", "dynamic"}
        for attribute in attributes:
            assert attribute.get("id") and attribute.get("title")
            assert attribute.get("type") in {"integer", "long", "double", "float", "boolean", "string"}
            assert attribute.get("title").casefold() not in GEPHI_RESERVED
            declared[attributes.get("class")].add(attribute.get("id"))
    date = re.compile(r"\d{4}-\d{2}-\d{2}")
    for kind in ("node", "edge"):
        items = element.findall(f"{GEXF13}{kind}s/{GEXF13}{kind}")
        assert int(element.find(f"{GEXF13}{kind}s").get("count")) == len(items) > 0
        for item in items:  # attvalues, then spells (none: never used in a dated text, always shown)
            assert [child.tag.removeprefix(GEXF13) for child in item] in (
                ["attvalues", "spells"],
                ["attvalues"],
            )
            for value in item.find(f"{GEXF13}attvalues"):
                assert value.get("for") in declared[kind]
                assert (value.get("start") is None) == (value.get("end") is None)
            for spell in item.iterfind(f"{GEXF13}spells/{GEXF13}spell"):
                assert date.fullmatch(spell.get("start")) and date.fullmatch(spell.get("end"))
                assert spell.get("start") <= spell.get("end")
    for edge in element.iter(f"{GEXF13}edge"):
        assert math.isfinite(float(edge.get("weight")))


def test_dynamic_gexf_without_years_is_static_and_byte_stable(two_clusters, tmp_path):
    graph = build_graph(*two_clusters, settings=LOOSE)
    write_dynamic_gexf(graph, tmp_path / "a.gexf")
    write_dynamic_gexf(build_graph(*two_clusters, settings=LOOSE), tmp_path / "b.gexf")
    assert (tmp_path / "a.gexf").read_bytes() == (tmp_path / "b.gexf").read_bytes()
    element = ET.parse(tmp_path / "a.gexf").getroot().find(f"{GEXF13}graph")
    assert element.get("mode") == "static" and element.get("timeformat") is None
    assert not list(element.iter(f"{GEXF13}spells"))
    loaded = nx.read_gexf(tmp_path / "a.gexf")
    assert sorted(loaded.nodes(data="label")) == sorted(graph.nodes(data="label"))


# ----------------------------------------------------------------------------------------------------
# Themes


def test_themes_are_named_by_central_phrases_and_profiled_by_region(two_clusters, tmp_path):
    phrases, hits, segments = two_clusters
    graph = build_graph(phrases, hits, segments, settings=LOOSE)
    themes, profile = theme_tables(graph, hits, segments)
    assert [(t.theme, t.size) for t in themes] == [(0, 3), (1, 3)]
    rural, tech = themes
    # Inside each theme every phrase has the same centrality (3 + 3): the better-ranked name it first.
    assert rural.name == "乡村振兴 / 共同富裕 / 脱贫攻坚" and tech.name == "科技创新 / 数字经济 / 人工智能"
    assert {graph.nodes[n]["theme"] for n in graph if graph.nodes[n]["community"] == 0} == {rural.name}
    # 上海: 10 uses of tech phrases, 1 of 乡村振兴; 贵州: 9 of rural phrases.
    assert (rural.uses, tech.uses) == (10, 10)
    assert (rural.regions, tech.regions) == ("贵州;上海", "上海")
    shares = {(row.region, row.theme): row.share for row in profile if row.year is None}
    assert shares == {
        ("上海", 0): round(1 / 11, 4),
        ("上海", 1): round(10 / 11, 4),
        ("贵州", 0): 1.0,
        ("贵州", 1): 0.0,
    }
    assert (rural.years, rural.peak_year) == ("", None)  # no years in these texts
    write_themes(tmp_path, themes, profile)
    with (tmp_path / "themes.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["theme", "name", "size", "phrases", "uses", "regions", "years", "peak_year"]
    assert rows[1]["phrases"].split(";") == ["科技创新", "数字经济", "人工智能"]
    assert (
        (tmp_path / "theme_adoption.csv")
        .read_text(encoding="utf-8-sig")
        .startswith("region,year,theme,name,uses,share\n上海,,0,")
    )


def test_theme_years(dated):
    phrases, hits, segments = dated
    graph = build_graph(phrases, hits, segments, settings=LOOSE)
    themes, profile = theme_tables(graph, hits, segments)
    assert sum(t.uses for t in themes) == 8  # attributed uses only: s4 has no region
    years = {
        int(y): int(n) for t in themes for y, n in (part.split(":") for part in t.years.split(";") if part)
    }
    assert years == {2013: 2, 2014: 2, 2016: 2}
    for (region, year), rows in itertools.groupby(profile, key=lambda row: (row.region, row.year)):
        assert sum(row.share for row in rows) == pytest.approx(1.0, abs=1e-3), (region, year)


# ----------------------------------------------------------------------------------------------------
# The preview's labels


def test_preview_labels_do_not_overlap():
    plt = graph_module.cjk_pyplot()
    graph = nx.Graph()
    for i in range(10):  # ten phrases on one spot: at most one label on each side of it
        graph.add_node(f"p{i}", label=f"短语{i}号", community=0, centrality=10 - i)
    nodes = sorted(graph)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    fig.canvas.draw()
    placed = graph_module._place_labels(fig, ax, graph, nodes, np.zeros((10, 2)), [100.0] * 10, 45)
    plt.close(fig)
    assert 1 <= len(placed) <= 4
    assert not any(a.overlaps(b) for a, b in itertools.combinations(placed, 2))


def test_preview_png_is_byte_identical(two_clusters, tmp_path):
    graph = build_graph(*two_clusters, settings=LOOSE)
    draw_preview(graph, tmp_path / "a.png")
    draw_preview(build_graph(*two_clusters, settings=LOOSE), tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize("window", ["sentence", "segment"])
def test_occurrences_taken_in_blocks_of_segments_equal_those_taken_at_once(monkeypatch, window):
    """Kept phrases only, read a few segments at a time: the rows of all phrases read at once, filtered;
    ``covered_to`` and the window count still see every listed phrase."""
    rng = random.Random(5)
    names = [f"短语{i}" for i in range(10)]
    phrases = [Phrase(name, "statistical", (), 1, 1, (), 1.0) for name in names[:8]]  # 短语8, 9: not listed
    hits = []
    for _ in range(120):
        segment, sentence = rng.randrange(7), rng.randrange(3)
        start = 100 * sentence + rng.randrange(30)
        hits.append(Hit(rng.choice(names), f"s{segment}", sentence, start, start + rng.randrange(1, 8)))
    table = HitTable.of(hits)
    ranked = graph_module._rank(phrases)
    whole = graph_module._occurrences(table, ranked, window)
    assert whole.windows == len(set(whole.window.tolist())) > 1
    keep = [6, 1, 3]
    wanted = np.isin(whole.phrase, keep)
    assert (whole.covered_to[wanted] > whole.end[wanted]).any()  # covered by a phrase not kept
    for block in (1, 5, 10_000):
        monkeypatch.setattr(graph_module, "_HITS_PER_BLOCK", block)
        found = graph_module._occurrences(table, ranked, window, keep=keep)
        assert found.windows == whole.windows
        for name in ("window", "phrase", "start", "end", "segment", "covered_to"):
            assert getattr(found, name).tolist() == getattr(whole, name)[wanted].tolist(), (name, block)


def test_themes_and_region_graph_counted_in_blocks_of_hits_equal_one_block(two_clusters, monkeypatch):
    phrases, hits, segments = two_clusters
    graph = build_graph(phrases, hits, segments, settings=LOOSE)
    themes, profile = theme_tables(graph, hits, segments)
    bipartite = build_bipartite_graph(phrases, hits, segments, settings=LOOSE)
    assert sum(row.uses for row in themes) > 2 and bipartite.number_of_edges() > 2
    monkeypatch.setattr(graph_module, "_HITS_PER_BLOCK", 2)
    assert theme_tables(graph, hits, segments) == (themes, profile)
    found = build_bipartite_graph(phrases, hits, segments, settings=LOOSE)
    assert list(found.nodes(data=True)) == list(bipartite.nodes(data=True))
    assert list(found.edges(data=True)) == list(bipartite.edges(data=True))
    again = build_graph(phrases, hits, segments, settings=LOOSE)
    assert list(again.nodes(data=True)) == list(graph.nodes(data=True))
    assert list(again.edges(data=True)) == list(graph.edges(data=True))
