"""The large tables as CSV or Parquet (pipeline/tables.py): the CSV is what io_utils writes, byte for
byte, whatever the chunks; the Parquet form reads back as the same rows; readers find either."""

from __future__ import annotations

import builtins
import json

import pytest

from pipeline import tables
from pipeline.config import load_settings
from pipeline.errors import TifaError
from pipeline.io_utils import write_csv
from pipeline.kwic import load_texts, read_rows
from pipeline.outputs import add_province, write_texts
from pipeline.records import Segment

HEADER = ["region", "year", "phrase", "count", "per_10k", "chars"]
ROWS = [
    ["上海", None, "新发展理念", 3, 1.234567891, 24310],
    ["上海", 2016, "新发展理念", 2, 0.5, 12000],
    ["广东", 2017, "大众创业，万众创新", 1, 10.0, 1000],
    ["广东", 2017, "“两个确立”", 7, 123456789.5, 1000],
]


@pytest.fixture()
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "CHUNK_ROWS", 3)  # the four rows cross a chunk boundary


def test_csv_is_byte_identical_to_write_csv_across_chunks(tmp_path, small_chunks) -> None:
    write_csv(tmp_path / "before.csv", HEADER, ROWS)
    written = tables.write_rows(tmp_path / "adoption.csv", HEADER, ROWS)
    assert written == tmp_path / "adoption.csv"
    assert written.read_bytes() == (tmp_path / "before.csv").read_bytes()
    tables.write_rows(tmp_path / "empty.csv", HEADER, [])
    write_csv(tmp_path / "empty_before.csv", HEADER, [])
    assert (tmp_path / "empty.csv").read_bytes() == (tmp_path / "empty_before.csv").read_bytes()


def test_parquet_reads_back_as_the_csv_rows_and_keeps_types(tmp_path, small_chunks) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    tables.write_rows(tmp_path / "adoption.csv", HEADER, ROWS)
    written = tables.write_rows(tmp_path / "adoption.csv", HEADER, ROWS, table_format="parquet")
    assert written == tmp_path / "adoption.parquet"
    assert list(read_rows(written)) == list(read_rows(tmp_path / "adoption.csv"))
    table = pq.read_table(written)
    assert table.num_rows == 4 and pq.ParquetFile(written).num_row_groups == 2
    assert str(table.schema.field("year").type) == "int64" and table.column("year")[0].as_py() is None
    assert table.column("per_10k")[0].as_py() == 1.234567891  # every digit, not the CSV's six
    assert table.column("phrase").to_pylist()[3] == "“两个确立”"


def test_readers_find_the_parquet_form_when_the_csv_is_absent(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    tables.write_rows(tmp_path / "adoption.csv", HEADER, ROWS, table_format="parquet")
    assert tables.locate(tmp_path / "adoption.csv") == tmp_path / "adoption.parquet"
    assert [row["region"] for row in read_rows(tmp_path / "adoption.csv")] == ["上海", "上海", "广东", "广东"]
    assert tables.locate(tmp_path / "hits.csv") == tmp_path / "hits.csv"  # neither: the CSV's name


@pytest.mark.parametrize("table_format", ["csv", "parquet"])
def test_texts_round_trip_with_the_original_where_it_differs(tmp_path, table_format) -> None:
    if table_format == "parquet":
        pytest.importorskip("pyarrow")
    segments = [
        Segment("a", "a.txt", "上海", "", "报告", 2016, "深化改革，扩大开放。"),
        Segment("b", "b.txt", "", "张三", "", None, "发展经济。", date="2017-01-01"),
    ]
    originals = {"a": "深化改革，擴大開放。"}
    write_texts(
        tmp_path / "texts.jsonl",
        segments,
        lambda s: originals.get(s.segment_id, s.text),
        table_format=table_format,
    )
    assert load_texts(tmp_path / "texts.jsonl") == segments
    records = [record for _, record in tables.read_texts(tmp_path / "texts.jsonl")]
    assert records[0]["original"] == "深化改革，擴大開放。" and "original" not in records[1]
    if table_format == "csv":
        first = (tmp_path / "texts.jsonl").read_text(encoding="utf-8").splitlines()[0]
        assert list(json.loads(first)) == [
            "segment_id", "source", "region", "speaker", "title", "year", "date", "text", "original",
        ]  # fmt: skip


def test_a_province_column_follows_each_region_column_in_parquet_too(tmp_path) -> None:
    pytest.importorskip("pyarrow")
    header = ["phrase", "region", "regions"]
    rows = [["新发展理念", "三明", "三明;大理"], ["一带一路", "", ""]]
    tables.write_rows(tmp_path / "hits.csv", header, rows, table_format="parquet")
    tables.write_rows(tmp_path / "phrases.csv", header, rows)
    add_province(tmp_path, {"三明": "福建", "大理": "云南"})
    from_parquet = list(read_rows(tmp_path / "hits.parquet"))
    assert from_parquet == list(read_rows(tmp_path / "phrases.csv"))
    assert from_parquet[0] == {
        "phrase": "新发展理念", "region": "三明", "province": "福建", "regions": "三明;大理", "provinces": "福建;云南",
    }  # fmt: skip


def test_parquet_without_pyarrow_is_one_clear_error(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(TifaError) as raised:
        load_settings(overrides=["table_format=parquet"])
    assert raised.value.code == "E034" and "pip install" in str(raised.value)
    assert load_settings(overrides=["table_format=csv"]).table_format == "csv"
    with pytest.raises(TifaError, match="E030"):
        load_settings(overrides=["table_format=xlsx"])
