"""The library (``import tifa``): texts in memory, DataFrames, the graph, the same results as ``tifa run``."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from conftest import ROOT, SEEDS

import tifa
from pipeline import api, outputs

TEXTS = [
    "我们要深刻领悟“两个确立”的决定性意义，增强“四个意识”，推动制造业高端化、智能化、绿色化发展。",
    "堅持高端化、智能化、綠色化，深刻領悟“兩個確立”的決定性意義。",
    "增强“四个意识”、坚定“四个自信”，推动高端化、智能化、绿色化。",
]
ONE_WORKER = tifa.Settings(workers=1)


def test_the_public_names() -> None:
    assert {"Corpus", "Result", "Settings", "compare", "extract_phrases", "segments_from_texts"} <= set(
        tifa.__all__
    )
    assert tifa.extract_phrases is api.extract_phrases and tifa.Settings().min_chars == 3


def test_segments_from_texts_normalise_simplify_and_resolve_regions() -> None:
    segments = tifa.segments_from_texts(
        ["堅持“兩個確立”，ＧＤＰ增长６%", "推动高端化、智能化、绿色化"],
        regions=["Shanghai", "赣"],
        years=[2021, "2022年"],
    )
    assert [(s.segment_id, s.region, s.year) for s in segments] == [
        ("texts#0", "上海", 2021),
        ("texts#1", "江西", 2022),
    ]
    assert segments[0].text == "坚持“两个确立”，GDP增长6%"


def test_segments_from_texts_split_an_article_at_its_speakers() -> None:
    article = (
        "本报讯 工业和信息化部召开座谈会。\n山东省工业和信息化厅党组书记、厅长张海波：\n推进新型工业化。"
    )
    segments = tifa.segments_from_texts([article])
    assert [(s.region, s.speaker, s.text) for s in segments] == [
        ("", "", "本报讯 工业和信息化部召开座谈会。"),
        ("山东", "张海波", "推进新型工业化。"),
    ]


def test_a_bad_region_is_a_problem_of_the_corpus_not_an_error() -> None:
    corpus = tifa.Corpus.from_texts(["推动高质量发展。"], regions=["火星"])
    assert corpus.segments[0].region == ""
    assert any("火星" in problem for problem in corpus.problems)


def test_lists_must_match_the_texts() -> None:
    with pytest.raises(ValueError, match="one value per text"):
        tifa.Corpus.from_texts(TEXTS, regions=["上海"])
    with pytest.raises(TypeError):
        api.as_corpus([1, 2])


def test_extract_phrases_gives_the_tables_of_a_run_as_dataframes() -> None:
    result = tifa.extract_phrases(TEXTS, ONE_WORKER)
    phrases = result.phrases
    assert isinstance(phrases, pd.DataFrame)
    assert list(phrases.columns) == outputs.phrase_table([])[0]  # the columns of phrases.csv
    row = phrases.set_index("phrase").loc["高端化、智能化、绿色化"]
    assert (row["kind"], row["count"], row["segments"]) == ("enumeration", 3, 3)
    assert phrases["rank"].tolist() == list(range(1, len(phrases) + 1))
    assert phrases["cohesion"].dtype == float
    hits = result.hits
    assert len(hits) == phrases["count"].sum()
    text = {segment.segment_id: segment.text for segment in result.segments}
    assert all(text[h.segment_id][h.start : h.end] == h.surface for h in hits.itertuples())


def test_compare_adds_adoption_keyness_and_the_graph() -> None:
    corpus = tifa.Corpus.from_texts(TEXTS, regions=["上海", "江西", "山东"], years=[2021, 2021, 2022])
    result = tifa.compare(corpus, ONE_WORKER)
    assert {"adoption", "keyness", "diffusion"} <= set(vars(result))  # computed by compare
    adoption = result.adoption
    overall = adoption[adoption["year"].isna()].set_index(["region", "phrase"])["count"]
    assert overall[("江西", "两个确立")] == 1 and ("山东", "两个确立") not in overall.index
    assert set(result.keyness.columns) >= {"region", "phrase", "count", "score"}
    assert isinstance(result.graph, nx.Graph)
    assert tifa.compare(result) is result  # a result is compared as it is


def test_settings_from_the_api_are_checked() -> None:
    with pytest.raises(tifa.TifaError, match="E030"):
        tifa.extract_phrases(TEXTS, tifa.Settings(graph_window="page"))


@pytest.mark.slow
def test_the_library_and_tifa_run_agree_on_the_seeds(seed_run: Path) -> None:
    settings = tifa.Settings(workers=1, cache_dir=str(seed_run.parent / "cache"))  # segmented by the run
    result = tifa.extract_phrases(tifa.Corpus.from_folder(SEEDS), settings)
    assert result.analysed.cached == len(result.segments)
    written = pd.read_csv(seed_run / "phrases.csv", keep_default_na=False)
    assert result.phrases["phrase"].tolist() == written["phrase"].tolist()
    assert result.phrases["count"].tolist() == written["count"].tolist()
    hits = pd.read_csv(seed_run / "hits.csv", keep_default_na=False)
    assert result.hits["start"].tolist() == hits["start"].tolist()


@pytest.mark.slow
def test_the_example_notebook_runs() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(ROOT / "examples" / "tifa_quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "examples")}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    shown = "".join(str(output.get("data", {}).get("text/plain", "")) for output in outputs)
    assert "高端化、智能化、绿色化" in shown and "Corpus(4 segments, 3 regions)" in shown
