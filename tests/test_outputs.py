"""Writers of out/ (pipeline.outputs): the columns of the output contract, round trips, the BOM."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from pipeline import outputs
from pipeline.records import HitTable, Phrase, Segment, Sentence

SEGMENTS = (
    Segment("a", "a.txt", "上海", "吴金城", "", 2022, "坚持“两个确立”，推动高端化、智能化。"),
    Segment("b", "b.jsonl", "三明", "", "报告", 2016, "推动高端化、智能化。", city="三明", city_code="350400",
            province="福建"),
)  # fmt: skip
PHRASES = (
    Phrase("两个确立", "numbered", ("两个确立", "“两个确立”"), 1, 1, ("上海",), 9.5),
    Phrase("高端化、智能化", "enumeration", ("高端化、智能化",), 2, 2, ("上海", "三明"), 4.25,
           items=("高端化", "智能化"), cohesion=None, in_word=1),
)  # fmt: skip


HITS = HitTable(
    names=("两个确立", "高端化、智能化"),
    segment_ids=("a", "b"),
    phrase=np.array([0, 1, 1]),
    segment=np.array([0, 0, 1]),
    sentence=np.array([0, 0, 0]),
    start=np.array([3, 11, 2]),
    end=np.array([7, 18, 9]),
)


def _rows(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes().startswith("\ufeff".encode())  # Excel shows Chinese intact
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_phrases_csv_has_the_contract_columns_and_joins_lists(tmp_path: Path) -> None:
    outputs.write_phrases(tmp_path / "phrases.csv", PHRASES)
    rows = _rows(tmp_path / "phrases.csv")
    assert list(rows[0])[:7] == ["phrase", "kind", "count", "segments", "regions_n", "regions", "variants"]
    assert [row["rank"] for row in rows] == ["1", "2"]
    assert rows[0]["variants"] == "两个确立;“两个确立”" and rows[1]["regions"] == "上海;三明"
    assert rows[1]["items"] == "高端化;智能化" and rows[1]["cohesion"] == "" and rows[1]["in_word"] == "1"
    assert rows[1]["score"] == "4.25" and rows[1]["regions_n"] == "2"


def test_hits_csv_offsets_index_the_segment_text(tmp_path: Path) -> None:
    table = HITS
    outputs.write_hits(tmp_path / "hits.csv", table, SEGMENTS)
    rows = _rows(tmp_path / "hits.csv")
    assert list(rows[0]) == [
        "phrase",
        "surface",
        "segment_id",
        "region",
        "year",
        "sentence_index",
        "start",
        "end",
    ]
    assert [(row["surface"], row["segment_id"], row["region"], row["year"]) for row in rows] == [
        ("两个确立", "a", "上海", "2022"),
        ("高端化、智能化", "a", "上海", "2022"),
        ("高端化、智能化", "b", "三明", "2016"),
    ]
    by_id = {segment.segment_id: segment.text for segment in SEGMENTS}
    assert all(by_id[r["segment_id"]][int(r["start"]) : int(r["end"])] == r["surface"] for r in rows)


def test_hits_of_wanted_phrases_are_read_down_to_the_last_one_wanted(tmp_path: Path) -> None:
    table = HITS
    ranks = {"两个确立": 0, "高端化、智能化": 1}
    for table_format in ("csv", "parquet"):
        out = tmp_path / table_format
        out.mkdir()
        outputs.write_hits(out / "hits.csv", table, SEGMENTS, table_format=table_format)
        assert list(outputs.read_hits_of(out, {"高端化、智能化"}, ranks)) == [
            ("高端化、智能化", "上海", "a", 11, 18),
            ("高端化、智能化", "三明", "b", 2, 9),
        ]
        assert list(outputs.read_hits_of(out, {"两个确立"}, ranks)) == [("两个确立", "上海", "a", 3, 7)]
    # Rows come by rank: a row of 两个确立 after those of a later phrase is past where reading stops.
    plain = tmp_path / "csv" / "hits.csv"
    plain.write_text(plain.read_text(encoding="utf-8") + "两个确立,两个确立,b,三明,2016,0,0,4\n", encoding="utf-8")
    assert list(outputs.read_hits_of(tmp_path / "csv", {"两个确立"}, ranks)) == [("两个确立", "上海", "a", 3, 7)]
    assert len(list(outputs.read_hits_of(tmp_path / "csv", {"两个确立", "高端化、智能化"}, ranks))) == 4


def test_hits_of_the_table_in_memory_are_those_read_back_from_hits_csv(tmp_path: Path) -> None:
    ranks = {"两个确立": 0, "高端化、智能化": 1}
    outputs.write_hits(tmp_path / "hits.csv", HITS, SEGMENTS)
    for wanted in ({"两个确立"}, {"高端化、智能化"}, {"两个确立", "高端化、智能化"}, set()):
        read = list(outputs.read_hits_of(tmp_path, wanted, ranks))
        assert list(outputs.table_hits_of(HITS, SEGMENTS, wanted)) == read
        assert len(read) == sum(HITS.names[i] in wanted for i in HITS.phrase.tolist())


def test_segments_csv_adds_city_columns_only_when_there_are_cities(tmp_path: Path) -> None:
    sentences = [
        Sentence("a", 0, 0, 18, SEGMENTS[0].text, ("坚持",)),
        Sentence("a", 1, 18, 19, "。", ("。",)),
    ]
    outputs.write_segments(tmp_path / "one.csv", SEGMENTS[:1], sentences)
    rows = _rows(tmp_path / "one.csv")
    assert list(rows[0]) == [
        "segment_id",
        "source",
        "region",
        "speaker",
        "title",
        "year",
        "date",
        "chars",
        "sentences",
    ]
    assert (rows[0]["chars"], rows[0]["sentences"]) == (str(len(SEGMENTS[0].text)), "2")
    outputs.write_segments(tmp_path / "city.csv", SEGMENTS, sentences, level="city")
    rows = _rows(tmp_path / "city.csv")
    assert list(rows[1])[-3:] == ["city", "city_code", "province"]
    assert (rows[1]["city_code"], rows[1]["province"], rows[1]["sentences"]) == ("350400", "福建", "0")


def test_texts_jsonl_keeps_the_original_script_only_where_it_differs(tmp_path: Path) -> None:
    originals = {"b": "推動高端化、智能化。"}
    outputs.write_texts(tmp_path / "texts.jsonl", SEGMENTS, lambda s: originals.get(s.segment_id, s.text))
    lines = [json.loads(line) for line in (tmp_path / "texts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [line["segment_id"] for line in lines] == ["a", "b"]
    assert "original" not in lines[0] and lines[1]["original"] == "推動高端化、智能化。"
    assert lines[0]["text"] == SEGMENTS[0].text and lines[1]["year"] == 2016


def test_add_province_follows_every_region_column(tmp_path: Path) -> None:
    (tmp_path / "keyness.csv").write_text("\ufeffregion,phrase\n三明,两个确立\n", encoding="utf-8")
    (tmp_path / "phrases.csv").write_text("\ufeffphrase,regions\n两个确立,三明;上海\n", encoding="utf-8")
    (tmp_path / "similarity.csv").write_text("\ufeffregion,三明\n三明,1\n", encoding="utf-8")
    outputs.add_province(tmp_path, {"三明": "福建", "上海": "上海"})
    assert _rows(tmp_path / "keyness.csv") == [{"region": "三明", "province": "福建", "phrase": "两个确立"}]
    assert _rows(tmp_path / "phrases.csv")[0]["provinces"] == "福建;上海"
    assert _rows(tmp_path / "similarity.csv") == [
        {"region": "三明", "province": "福建", "三明": "1"}
    ]  # the square matrix: the province after region, then one column per unit


def test_manifest_puts_timings_last(tmp_path: Path) -> None:
    outputs.write_manifest(
        tmp_path / "manifest.json", {"counts": {"segments": 2}, "run_key": "k"}, {"nlp": 1.5}
    )
    text = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    assert list(json.loads(text)) == ["counts", "run_key", "timings"] and text.endswith("}\n")


def test_swap_into_place_replaces_the_whole_folder(tmp_path: Path) -> None:
    out, staging = tmp_path / "out", tmp_path / ".out.partial"
    out.mkdir()
    (out / "old.csv").write_text("old")
    staging.mkdir()
    (staging / "phrases.csv").write_text("new")
    outputs.swap_into_place(staging, out)
    assert sorted(path.name for path in out.iterdir()) == ["phrases.csv"] and not staging.exists()
