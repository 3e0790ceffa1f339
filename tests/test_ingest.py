from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.ingest import decode, ingest, region_and_year_from_name

ARTICLE = """记者报道：各地热议大会报告
中国共产党第二十次全国代表大会在北京开幕，引发热烈反响。
{header1}
{headline1}
我们要深刻领悟“两个确立”的决定性意义。
{header2}
{headline2}
推动制造业高端化、智能化、绿色化发展。
"""


@pytest.mark.parametrize(
    ("header1", "header2", "expected"),
    [
        # title before name, full-width colon
        (
            "广东省工业和信息化厅党组书记、厅长王小明：",
            "四川省经济和信息化厅厅长李大华：",
            [("广东", "王小明"), ("四川", "李大华")],
        ),
        # ASCII colon (normalised), municipality and autonomous region
        (
            "北京市经济和信息化局局长张三:",
            "内蒙古自治区工业和信息化厅副厅长赵四:",
            [("北京", "张三"), ("内蒙古", "赵四")],
        ),
        # name first with the role in brackets; a space before the name
        (
            "陈晓（宁夏回族自治区工信厅主任）：",
            "福建省工信厅厅长 林一：",
            [("宁夏", "陈晓"), ("福建", "林一")],
        ),
        # short region names, several titles, a deputy
        (
            "新疆工业和信息化厅党组成员、副厅长阿不都：",
            "海南省副省长周某某：",
            [("新疆", "阿不都"), ("海南", "周某某")],
        ),
    ],
)
def test_speaker_headers_split_segments(tmp_path: Path, header1: str, header2: str, expected: list) -> None:
    text = ARTICLE.format(header1=header1, header2=header2, headline1="标题一", headline2="标题二")
    (tmp_path / "article.txt").write_text(text, encoding="utf-8")
    segments = ingest([tmp_path]).segments
    lead, *speakers = segments
    assert lead.region == "" and lead.speaker == ""
    assert "北京开幕" in lead.text  # a place in the lead does not make it a region's text
    assert [(s.region, s.speaker) for s in speakers] == expected
    assert [s.title for s in speakers] == ["标题一", "标题二"]
    assert "两个确立" in speakers[0].text and "高端化" in speakers[1].text


def test_lines_that_are_not_headers_do_not_split(tmp_path: Path) -> None:
    text = "会议指出：\n要推动高质量发展。\n上海市的经验表明：\n创新很重要。\n"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    (segment,) = ingest([tmp_path]).segments
    assert segment.text == text.strip()


def test_seed_article_has_eight_speakers(seed_segments) -> None:
    lead, *speakers = seed_segments
    assert lead.region == "" and lead.title.startswith("踔厉奋发")
    assert [(s.region, s.speaker) for s in speakers] == [
        ("上海", "吴金城"),
        ("山东", "张海波"),
        ("安徽", "冯克金"),
        ("河北", "付振波"),
        ("江西", "杨贵平"),
        ("重庆", "蓝庆华"),
        ("山西", "武宏文"),
        ("甘肃", "盛云峰"),
    ]
    assert speakers[0].title == "努力推动制造强国、网络强国、数字中国“上海实践”"
    assert all(s.title and s.text.startswith(s.title) for s in speakers)


@pytest.mark.parametrize(
    ("encoding", "name"),
    [
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-8", "utf-8"),
        ("big5", "big5"),
    ],
)
def test_decode_detects_encodings(encoding: str, name: str) -> None:
    text = (
        "深入學習貫徹黨的二十大精神，推動高質量發展。"
        if encoding == "big5"
        else "深入学习贯彻党的二十大精神，推动高质量发展。"
    )
    assert decode((text * 3).encode(encoding)) == (text * 3, name)


def test_region_and_year_from_file_name() -> None:
    assert region_and_year_from_name("2015_广东.txt") == ("广东", 2015)
    assert region_and_year_from_name("内蒙古自治区-2013-政府工作报告.md") == ("内蒙古", 2013)
    assert region_and_year_from_name("report.txt") == ("", None)


def test_metadata_sidecar_and_records(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("政府工作报告\n推动高质量发展。", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("不在清单中的文件。", encoding="utf-8")
    (tmp_path / "metadata.csv").write_text("file,region,year,title\na.txt,沪,2016,报告甲\n", encoding="utf-8")
    records = tmp_path / "more"
    records.mkdir()
    (records / "docs.jsonl").write_text(
        json.dumps(
            {"id": "x1", "text": "坚持稳中求进工作总基调。", "region": "Guangdong", "date": "2019-03-01"},
            ensure_ascii=False,
        )
        + "\n{broken json\n"
        + json.dumps({"text": "", "region": "广东"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    (records / "table.csv").write_text(
        '\ufefftitle,content,region,year\n标题,"第一段。\n第二段。",湖南省,2014\n', encoding="utf-8"
    )
    result = ingest([tmp_path])
    by_source = {report.source: report for report in result.inputs}
    assert {s.segment_id.split("/", 1)[1]: (s.region, s.year) for s in result.segments} == {
        "a.txt": ("上海", 2016),
        "more/docs.jsonl#x1": ("广东", 2019),
        "more/table.csv#row2": ("湖南", 2014),
    }
    name = tmp_path.name
    assert by_source[f"{name}/notes.txt"].status == "skipped"
    assert "metadata.csv" in by_source[f"{name}/notes.txt"].reason
    jsonl = by_source[f"{name}/more/docs.jsonl"]
    assert jsonl.status == "processed" and jsonl.documents == 1
    assert any("line 2" in p and "broken JSON" in p for p in jsonl.problems)
    assert any("line 3" in p and "no text" in p for p in jsonl.problems)
    assert next(s for s in result.segments if s.segment_id.endswith("row2")).text == "第一段。\n第二段。"


def test_bad_inputs_are_reported_and_good_ones_kept(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("推动高质量发展。", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "garbled.txt").write_bytes(b"\xff\xfe\xfd" * 5 + b"\x81")
    (tmp_path / "notext.csv").write_text("title,region\n标题,上海\n", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    result = ingest([tmp_path])
    reports = {Path(r.source).name: r for r in result.inputs}
    assert reports["good.txt"].status == "processed"
    assert [s.text for s in result.segments] == ["推动高质量发展。"]
    expected_reasons = {
        "empty.txt": "empty",
        "binary.txt": "binary",
        "garbled.txt": "undecodable",
        "notext.csv": "no text column",
        "image.png": "unsupported file type",
    }
    for name, reason in expected_reasons.items():
        assert reports[name].status == "skipped", name
        assert reason in reports[name].reason, (name, reports[name].reason)


def test_duplicate_texts_are_counted_once(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("推动高质量发展。", encoding="utf-8")
    result = ingest([tmp_path])
    assert len(result.segments) == 1
    skipped = [r for r in result.inputs if r.status == "skipped"]
    assert len(skipped) == 1 and "same text as" in skipped[0].reason


def test_gov_work_reports_attributed(tmp_path: Path) -> None:
    from conftest import shared_path

    corpus = shared_path("corpora", "gov_work_reports")
    result = ingest([corpus])
    assert len(result.segments) == 183
    assert all(s.region and s.year for s in result.segments)
    assert {s.year for s in result.segments} == set(range(2012, 2018))
    assert len({s.region for s in result.segments}) == 31


def test_texts_cleaned_by_a_pool_of_processes_give_the_same_ingest(tmp_path: Path, monkeypatch) -> None:
    from pipeline import ingest as ingest_module

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "2016_三明市.txt").write_text("推动高端化、智能化，ＧＤＰ增长７.５％。\n", encoding="utf-8")
    (folder / "2017_上海.txt").write_text("堅持“兩個確立”，推動發展。", encoding="utf-8")  # traditional
    (folder / "2015_山东.html").write_text("<p>坚持&nbsp;新发展理念</p>", encoding="utf-8")
    (folder / "2014_江西.txt").write_bytes("推进供给侧结构性改革。".encode("gb18030"))
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00")
    serial = ingest_module.ingest([folder, "seeds"])
    monkeypatch.setattr(ingest_module, "PARALLEL_CLEAN_BYTES", 0)  # the pool for any corpus
    cleaned = ingest_module._cleaned_in_parallel(sorted(folder.iterdir()))
    assert {path.name for path in cleaned} >= {"2016_三明市.txt", "2017_上海.txt", "2014_江西.txt"}
    original_clean, in_this_process = ingest_module._clean_text, []
    monkeypatch.setattr(ingest_module, "_clean_text", lambda raw: in_this_process.append(raw) or original_clean(raw))
    assert ingest_module.ingest([folder, "seeds"]) == serial
    assert in_this_process == []  # every text was cleaned in the pool (the calls there are not seen here)
