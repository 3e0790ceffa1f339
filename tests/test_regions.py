"""Tests for the province-level gazetteer in pipeline.regions."""

from __future__ import annotations

import pytest

from pipeline.regions import REGION_TYPES, Region, find_regions, first_region, gazetteer, lookup

# The reference table, written out independently of regions.csv so that a slip in either shows up.
EXPECTED: dict[str, tuple[str, str, str, str, str]] = {
    # code: (short, full, english, type, abbreviation)
    "110000": ("北京", "北京市", "Beijing", "municipality", "京"),
    "120000": ("天津", "天津市", "Tianjin", "municipality", "津"),
    "130000": ("河北", "河北省", "Hebei", "province", "冀"),
    "140000": ("山西", "山西省", "Shanxi", "province", "晋"),
    "150000": ("内蒙古", "内蒙古自治区", "Inner Mongolia", "autonomous_region", "蒙"),
    "210000": ("辽宁", "辽宁省", "Liaoning", "province", "辽"),
    "220000": ("吉林", "吉林省", "Jilin", "province", "吉"),
    "230000": ("黑龙江", "黑龙江省", "Heilongjiang", "province", "黑"),
    "310000": ("上海", "上海市", "Shanghai", "municipality", "沪"),
    "320000": ("江苏", "江苏省", "Jiangsu", "province", "苏"),
    "330000": ("浙江", "浙江省", "Zhejiang", "province", "浙"),
    "340000": ("安徽", "安徽省", "Anhui", "province", "皖"),
    "350000": ("福建", "福建省", "Fujian", "province", "闽"),
    "360000": ("江西", "江西省", "Jiangxi", "province", "赣"),
    "370000": ("山东", "山东省", "Shandong", "province", "鲁"),
    "410000": ("河南", "河南省", "Henan", "province", "豫"),
    "420000": ("湖北", "湖北省", "Hubei", "province", "鄂"),
    "430000": ("湖南", "湖南省", "Hunan", "province", "湘"),
    "440000": ("广东", "广东省", "Guangdong", "province", "粤"),
    "450000": ("广西", "广西壮族自治区", "Guangxi", "autonomous_region", "桂"),
    "460000": ("海南", "海南省", "Hainan", "province", "琼"),
    "500000": ("重庆", "重庆市", "Chongqing", "municipality", "渝"),
    "510000": ("四川", "四川省", "Sichuan", "province", "川"),
    "520000": ("贵州", "贵州省", "Guizhou", "province", "黔"),
    "530000": ("云南", "云南省", "Yunnan", "province", "滇"),
    "540000": ("西藏", "西藏自治区", "Tibet", "autonomous_region", "藏"),
    "610000": ("陕西", "陕西省", "Shaanxi", "province", "陕"),
    "620000": ("甘肃", "甘肃省", "Gansu", "province", "陇"),
    "630000": ("青海", "青海省", "Qinghai", "province", "青"),
    "640000": ("宁夏", "宁夏回族自治区", "Ningxia", "autonomous_region", "宁"),
    "650000": ("新疆", "新疆维吾尔自治区", "Xinjiang", "autonomous_region", "新"),
    "710000": ("台湾", "台湾省", "Taiwan", "province", "台"),
    "810000": ("香港", "香港特别行政区", "Hong Kong", "sar", "港"),
    "820000": ("澳门", "澳门特别行政区", "Macao", "sar", "澳"),
}

# The two-digit province codes of GB/T 2260, first digit = major region (1 north … 8 SARs).
PROVINCE_PREFIXES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
}  # fmt: skip


def short(region: Region | None) -> str | None:
    """The short name of a lookup result, for readable assertions."""
    return None if region is None else region.short


def spans(text: str) -> list[tuple[int, int, str]]:
    """find_regions with regions replaced by their short names."""
    return [(start, end, region.short) for start, end, region in find_regions(text)]


# --- the table itself -------------------------------------------------------------------------------


def test_all_34_units_sorted_by_code() -> None:
    regions = gazetteer()
    assert len(regions) == 34
    assert [r.code for r in regions] == sorted(EXPECTED)
    assert gazetteer() is regions  # cached


def test_table_matches_reference() -> None:
    actual = {r.code: (r.short, r.full, r.english, r.type, r.abbreviation) for r in gazetteer()}
    assert actual == EXPECTED


def test_counts_by_type() -> None:
    counts = {kind: sum(r.type == kind for r in gazetteer()) for kind in REGION_TYPES}
    assert counts == {"province": 23, "municipality": 4, "autonomous_region": 5, "sar": 2}


@pytest.mark.parametrize("attribute", ["code", "short", "full", "english"])
def test_unique(attribute: str) -> None:
    values = [getattr(r, attribute) for r in gazetteer()]
    assert len(set(values)) == len(values)


def test_codes_are_province_prefix_plus_zeros() -> None:
    for region in gazetteer():
        assert len(region.code) == 6
        assert region.code.isdigit()
        assert region.code[2:] == "0000", region
        assert region.code[:2] in PROVINCE_PREFIXES
    assert {r.code[:2] for r in gazetteer()} == PROVINCE_PREFIXES


def test_full_name_starts_with_short_name_and_has_right_suffix() -> None:
    suffix = {"province": "省", "municipality": "市", "autonomous_region": "自治区", "sar": "特别行政区"}
    for region in gazetteer():
        assert region.full.startswith(region.short)
        assert region.full.endswith(suffix[region.type])


def test_abbreviations_and_aliases_well_formed() -> None:
    seen: dict[str, str] = {}
    for region in gazetteer():
        assert region.abbreviations[0] == region.abbreviation
        assert all(len(a) == 1 for a in region.abbreviations)
        assert all(len(a) > 1 for a in region.aliases)
        for name in region.names():
            assert name
            assert name == name.strip()
            assert seen.setdefault(name.casefold(), region.short) == region.short, name


def test_region_is_frozen() -> None:
    region = gazetteer()[0]
    with pytest.raises(AttributeError):
        region.short = "x"  # type: ignore[misc]


# --- lookup -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # short names
        ("上海", "上海"),
        ("内蒙古", "内蒙古"),
        ("黑龙江", "黑龙江"),
        ("山西", "山西"),
        ("陕西", "陕西"),
        ("吉林", "吉林"),
        # full names
        ("上海市", "上海"),
        ("内蒙古自治区", "内蒙古"),
        ("广西壮族自治区", "广西"),
        ("宁夏回族自治区", "宁夏"),
        ("新疆维吾尔自治区", "新疆"),
        ("西藏自治区", "西藏"),
        ("黑龙江省", "黑龙江"),
        ("香港特别行政区", "香港"),
        ("台湾省", "台湾"),
        # codes
        ("310000", "上海"),
        ("140000", "山西"),
        ("610000", "陕西"),
        ("710000", "台湾"),
        ("810000", "香港"),
        ("820000", "澳门"),
        ("３１００００", "上海"),  # full-width digits
        # English, any case
        ("Shanghai", "上海"),
        ("shanghai", "上海"),
        ("INNER MONGOLIA", "内蒙古"),
        ("Shanxi", "山西"),
        ("Shaanxi", "陕西"),
        ("Hong Kong", "香港"),
        ("Macao", "澳门"),
        ("Macau", "澳门"),
        ("Tibet", "西藏"),
        ("Xizang", "西藏"),
        # aliases
        ("内蒙", "内蒙古"),
        ("广西自治区", "广西"),
        ("新疆维吾尔", "新疆"),
        ("香港特区", "香港"),
        ("澳门特区", "澳门"),
        ("臺灣", "台湾"),
        # primary abbreviations
        ("沪", "上海"),
        ("京", "北京"),
        ("津", "天津"),
        ("渝", "重庆"),
        ("鲁", "山东"),
        ("皖", "安徽"),
        ("冀", "河北"),
        ("赣", "江西"),
        ("晋", "山西"),
        ("陕", "陕西"),
        ("陇", "甘肃"),
        ("粤", "广东"),
        ("桂", "广西"),
        ("蒙", "内蒙古"),
        ("港", "香港"),
        ("澳", "澳门"),
        # alternative abbreviations
        ("甘", "甘肃"),
        ("黔", "贵州"),
        ("贵", "贵州"),
        ("川", "四川"),
        ("蜀", "四川"),
        ("滇", "云南"),
        ("云", "云南"),
        ("秦", "陕西"),
        # whitespace
        ("  上海市\n", "上海"),
        ("\t沪 ", "上海"),
    ],
)
def test_lookup(name: str, expected: str) -> None:
    assert short(lookup(name)) == expected


def test_lookup_every_name_of_every_region() -> None:
    for region in gazetteer():
        for name in region.names():
            assert lookup(name) is region, name


@pytest.mark.parametrize(
    "name",
    ["", "   ", "上", "中国", "浦东", "上海浦东", "Shang hai", "310100", "31", "000000", "沪市", "山陕", "X"],
)
def test_lookup_unknown(name: str) -> None:
    assert lookup(name) is None


# --- find_regions / first_region ----------------------------------------------------------------------


def test_find_full_name_longest_match() -> None:
    assert spans("上海市经济和信息化工作党委副书记") == [(0, 3, "上海")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("山东、河南、湖北三省联合开展调研。", [(0, 2, "山东"), (3, 5, "河南"), (6, 8, "湖北")]),
        ("山西和陕西是两个省。", [(0, 2, "山西"), (3, 5, "陕西")]),
        ("内蒙古自治区党委书记到广西壮族自治区考察。", [(0, 6, "内蒙古"), (11, 18, "广西")]),
        ("新疆维吾尔自治区和宁夏回族自治区", [(0, 8, "新疆"), (9, 16, "宁夏")]),
        ("黑龙江省、吉林省、辽宁省", [(0, 4, "黑龙江"), (5, 8, "吉林"), (9, 12, "辽宁")]),
        ("支持香港特区、澳门特区融入国家发展大局", [(2, 6, "香港"), (7, 11, "澳门")]),
        ("来自内蒙的代表", [(2, 4, "内蒙古")]),
        ("吉林市位于吉林省中部", [(0, 2, "吉林"), (5, 8, "吉林")]),
        ("浙江西部山区", [(0, 2, "浙江")]),
        ("青海省海南藏族自治州与海南省", [(0, 3, "青海"), (11, 14, "海南")]),
        ("北京上海广州深圳", [(0, 2, "北京"), (2, 4, "上海")]),
        ("中华人民共和国香港特别行政区政府", [(0, 14, "香港")]),
        ("新疆维吾尔族自治区", [(0, 9, "新疆")]),
        ("四川西藏两地", [(0, 2, "四川"), (2, 4, "西藏")]),
        ("海南岸线资源保护", [(0, 2, "海南")]),
        ("湖南、湖北两省沿江岸线", [(0, 2, "湖南"), (3, 5, "湖北")]),
    ],
)
def test_find_regions(text: str, expected: list[tuple[int, int, str]]) -> None:
    assert spans(text) == expected


def test_find_regions_offsets_slice_the_text() -> None:
    text = "重庆市、四川省和贵州省共同推进成渝地区双城经济圈建设"
    found = find_regions(text)
    assert [text[start:end] for start, end, _ in found] == ["重庆市", "四川省", "贵州省"]
    assert [r.code for _, _, r in found] == ["500000", "510000", "520000"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "全面贯彻新发展理念，加快构建新发展格局。",
        "推动京津冀协同发展和长三角一体化发展。",  # 京, 津, 冀 are abbreviations only
        "沪苏浙皖共同推进区域合作。",
        "粤港澳大湾区建设取得新进展。",
        "川渝两地携手共建。",
        "晋陕豫黄河金三角区域合作",
        "Shanghai and Beijing",  # English names are for lookup, not for running text
    ],
)
def test_find_regions_none(text: str) -> None:
    assert find_regions(text) == []
    assert first_region(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "贺兰山东麓葡萄酒产区",  # 宁夏, not 山东
        "珠江西岸先进装备制造产业带",  # not 江西
        "加快长江西路隧道建设",
        "鄱阳湖南岸",  # not 湖南
        "黄河北岸标准化堤防",  # not 河北
        "太行山西麓",  # not 山西
        "庐山西海风景区",
        "加强川西藏区生态保护",  # not 西藏
        "海南藏族自治州共和县",  # 青海's prefecture, not 海南
        "河南蒙古族自治县",
    ],
)
def test_find_regions_skips_embedded_place_names(text: str) -> None:
    assert find_regions(text) == []


def test_first_region() -> None:
    assert short(first_region("在海南藏族自治州调研后，他又前往宁夏回族自治区和甘肃省。")) == "宁夏"
    assert short(first_region("上海市经济和信息化工作党委副书记")) == "上海"
    assert short(first_region("安徽省委书记")) == "安徽"


def test_find_regions_many_lines_consistent() -> None:
    lines = ["湖南省、湖北省和江西省代表", "无地区", "中国香港"] * 2000
    results = [first_region(line) for line in lines]
    assert [short(r) for r in results[:3]] == ["湖南", None, "香港"]
    assert sum(r is not None for r in results) == 4000
