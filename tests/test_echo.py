"""Echoes of the centre: a reference corpus, adoption lags and echo rates (pipeline/echo.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import SEEDS

from pipeline import echo, echo_check
from pipeline.cli import main
from pipeline.compare import count_hits
from pipeline.config import Settings
from pipeline.engine import analyse, analyse_corpus
from pipeline.errors import TifaError
from pipeline.ingest import IngestResult, ingest
from pipeline.phrases import extract
from pipeline.records import Hit, Phrase, Segment
from pipeline.text import normalize

# The centre says 河长制 only in 2017 (after 浙江 and 江苏), 一带一路 from 2015, 新常态 from 2014.
CENTRE = {
    2013: "全面深化改革。简政放权。",
    2014: "适应经济发展新常态。简政放权。",
    2015: "推进一带一路建设，适应新常态。",
    2016: "推进一带一路建设。推进一带一路。",
    2017: "全面推行河长制。一带一路。",
}
REGIONS = {
    ("浙江", 2014): "推行河长制。简政放权。新常态。",
    ("浙江", 2015): "河长制，河长制。一带一路。新常态。",
    ("浙江", 2016): "一带一路。",
    ("江苏", 2015): "简政放权。",
    ("江苏", 2016): "推行河长制。新常态。一带一路。",
    ("江苏", 2017): "一带一路建设。",
    ("广东", 2016): "全面深化改革。",
    ("广东", 2017): "一带一路，新常态。",
}
PHRASES = ["河长制", "一带一路", "新常态", "简政放权", "全面深化改革"]


def _phrase(name: str, kind: str = "statistical") -> Phrase:
    return Phrase(name, kind, (name,), 0, 0, (), 0.0)


def _hits(segments: list[Segment], names: list[str]) -> list[Hit]:
    """Every non-overlapping occurrence, found with str.find (what str.count counts)."""
    found = []
    for segment in segments:
        for name in names:
            start = segment.text.find(name)
            while start >= 0:
                found.append(Hit(name, segment.segment_id, 0, start, start + len(name)))
                start = segment.text.find(name, start + len(name))
    return found


def _tables() -> tuple[echo.EchoTables, list[Segment], list[Segment]]:
    corpus = [
        Segment(f"{region}{year}", f"{year}_{region}.txt", region, "", "", year, text)
        for (region, year), text in REGIONS.items()
    ]
    reference = [
        Segment(f"c{year}", f"{year}_报告.txt", "", "", "", year, text) for year, text in CENTRE.items()
    ]
    found = [_phrase(name) for name in PHRASES if name != "简政放权"]
    # 简政放权 is the centre's own phrase only (the corpus's extraction did not keep it here)
    centre = echo.Centre(IngestResult(tuple(reference), ()), 0, tuple(_phrase(n) for n in PHRASES))
    counts = count_hits(corpus, _hits(corpus, [p.phrase for p in found]), found)
    tables = echo.echo_tables(centre, found, counts)
    assert tables is not None
    return tables, corpus, reference


def test_echo_rows_agree_with_plain_substring_counts_by_year() -> None:
    tables, corpus, reference = _tables()
    assert {row.phrase for row in tables.rows} == {"河长制", "一带一路", "新常态", "全面深化改革"}
    for row in tables.rows:
        centre_by_year = {s.year: s.text.count(row.phrase) for s in reference}
        assert row.centre_count == sum(centre_by_year.values())
        assert row.centre_uses == ";".join(f"{y}:{n}" for y, n in sorted(centre_by_year.items()) if n)
        assert row.centre_first_year == min(y for y, n in centre_by_year.items() if n)
        region_by_year = {s.year: s.text.count(row.phrase) for s in corpus if s.region == row.region}
        assert row.region_count == sum(region_by_year.values())
        assert row.region_uses == ";".join(f"{y}:{n}" for y, n in sorted(region_by_year.items()) if n)
        assert row.region_first_year == min(y for y, n in region_by_year.items() if n)
        assert row.lag == row.region_first_year - row.centre_first_year
    lags = {(row.phrase, row.region): row.lag for row in tables.rows}
    assert lags[("河长制", "浙江")] == -3 and lags[("河长制", "江苏")] == -1
    assert lags[("一带一路", "广东")] == 2 and lags[("新常态", "浙江")] == 0
    assert tables.centre_first_years()["一带一路"] == 2015


def test_local_first_lists_phrases_regions_said_before_the_centre() -> None:
    tables, _, _ = _tables()
    assert [tuple(row) for row in tables.local_first] == [
        ("河长制", "statistical", 2017, 2014, ("浙江",), 3, 2, 2, 1),
    ]
    # 全面深化改革: the centre says it in its first year, so whether a region was first is unknown
    assert all(row.phrase != "全面深化改革" for row in tables.local_first)


def test_echo_rates_count_the_centres_new_phrases() -> None:
    tables, _, _ = _tables()
    rows = {row.region: row for row in tables.regions}
    # Introduced within 2014–2017 (the corpus's years): 新常态 2014, 一带一路 2015, 河长制 2017.
    # 浙江 (text 2014–2016): 新常态 2014 → 2014 (lag 0), 一带一路 2015 → 2015 (lag 0); 河长制 2017
    # (after its last text) only counts for its lag, -3.
    zj = rows["浙江"]
    assert (zj.introduced_0, zj.echoed_0, zj.introduced_1, zj.echoed_1) == (2, 2, 2, 2)
    assert (zj.introduced_2, zj.echoed_2) == (1, 1)  # 一带一路 + 2 = 2017 > 浙江's last year
    assert (zj.echo_rate, zj.median_lag, zj.local_first) == (1.0, 0, 1)
    # 江苏 (2015–2017): 一带一路 2015 → 2016 (lag 1); 河长制 2017 → 2016 (lag -1); 新常态 is older.
    js = rows["江苏"]
    assert (js.share_0, js.share_1, js.share_2, js.median_lag) == (0.5, 1.0, 1.0, 0)
    assert js.echo_rate == round((0.5 + 1 + 1) / 3, 6)
    # 广东 (2016–2017) only sees what the centre introduced from 2016 on: 河长制, never used
    gd = rows["广东"]
    assert (gd.introduced_0, gd.echoed_0, gd.introduced_1, gd.share_1) == (1, 0, 0, None)
    assert gd.median_lag is None and gd.echo_rate == 0.0
    # the centre's own 简政放权 (2013, before the corpus's years) is not counted anywhere
    assert [(row.region, row.rank) for row in tables.regions] == [("浙江", 1), ("江苏", 2), ("广东", 3)]


def test_no_dated_reference_gives_no_tables() -> None:
    reference = (Segment("c", "c.txt", "", "", "", None, "一带一路。"),)
    centre = echo.Centre(IngestResult(reference, ()), 0, ())
    assert echo.echo_tables(centre, [], count_hits([], [], [])) is None
    assert "no text has a year" in echo.warnings(IngestResult(reference, ()))[0]


def _folder(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text, encoding="utf-8")
    return path


def test_reference_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    corpus = _folder(tmp_path / "corpus", {"2016_广东.txt": "推进一带一路建设。"})
    ingested = ingest([corpus])
    empty = _folder(tmp_path / "empty", {})
    with pytest.raises(TifaError) as error:
        echo.read_reference([str(empty)], [str(corpus)], ingested)
    assert error.value.code == "E070"
    (empty / "a.txt").write_bytes(b"")
    with pytest.raises(TifaError) as error:
        echo.read_reference([str(empty)], [str(corpus)], ingested)
    assert error.value.code == "E070" and "a.txt: empty file" in error.value.message
    with pytest.raises(TifaError) as error:
        echo.read_reference([str(corpus / "2016_广东.txt")], [str(corpus)], ingested)
    assert error.value.code == "E071" and "overlaps" in error.value.message
    copy = _folder(tmp_path / "copy", {"2016_报告.txt": "推进一带一路建设。"})
    with pytest.raises(TifaError) as error:
        echo.read_reference([str(copy)], [str(corpus)], ingested)
    assert error.value.code == "E071" and "same text" in error.value.message
    # a region named in the centre's texts is not a region: the reference has none
    centre = _folder(tmp_path / "centre", {"2016_广东考察.txt": "广东：推进一带一路建设，共建一带一路。"})
    assert {s.region for s in echo.read_reference([str(centre)], [str(corpus)], ingested).segments} == {""}


def test_reference_phrases_are_phrases_of_the_corpus_when_said_once(nlp) -> None:
    segments = [
        Segment("a", "a", "上海", "", "", None, normalize("完整准确全面贯彻新发展理念，振兴实体经济。")),
        Segment("b", "b", "江西", "", "", None, normalize("踏上新征程。")),
    ]
    analysed = analyse(segments, nlp)
    plain = {p.phrase for p in extract(segments, analysed.sentences, analysed.spans, Settings()).phrases}
    assert "新发展理念" not in plain
    found = extract(
        segments,
        analysed.sentences,
        analysed.spans,
        Settings(),
        reference_phrases=dict.fromkeys(("新发展理念", "实体经济", "新征程", "供给侧结构性改革"), 8.0),
    )
    by_name = {p.phrase: p for p in found.phrases}
    assert {
        name: (by_name[name].kind, by_name[name].count) for name in ("新发展理念", "实体经济", "新征程")
    } == {
        "新发展理念": ("reference", 1),
        "实体经济": ("reference", 1),
        "新征程": ("reference", 1),
    }
    assert "供给侧结构性改革" not in by_name  # the corpus never says it


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_run_with_a_reference(tmp_path: Path, capsys) -> None:
    corpus = _folder(
        tmp_path / "corpus",
        {f"{year}_{region}.txt": text + "坚持稳中求进。" for (region, year), text in REGIONS.items()},
    )
    centre = _folder(tmp_path / "centre", {f"{year}_报告.txt": text for year, text in CENTRE.items()})
    (tmp_path / "phrases.txt").write_text("河长制\n", encoding="utf-8")  # 3 characters: never statistical
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    args = ["run", str(corpus), "--out", str(out), "--workers", "1", "--quiet", "--set", f"cache_dir={cache}"]
    args += ["--phrases", str(tmp_path / "phrases.txt")]
    assert main([*args, "--reference", str(centre)]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [entry["source"] for entry in manifest["reference"]["inputs"]] == [
        f"centre/{year}_报告.txt" for year in CENTRE
    ]
    assert all("centre" not in entry["source"] for entry in manifest["inputs"])
    assert {row["region"] for row in _csv(out / "segments.csv")} == {"浙江", "江苏", "广东"}
    assert {row["region"] for row in _csv(out / "clusters.csv")} <= {"浙江", "江苏", "广东"}
    echo_rows = _csv(out / "echo.csv")
    assert {(r["phrase"], r["region"], r["lag"]) for r in echo_rows if r["phrase"] == "河长制"} == {
        ("河长制", "浙江", "-3"),
        ("河长制", "江苏", "-1"),
    }
    assert "河长制" in [r["phrase"] for r in _csv(out / "local_first.csv")]
    assert echo_check.check(out, [str(corpus)], [str(centre)]) == []  # every row, by str.count
    assert _csv(out / "echo_regions.csv")[0]["region"] == "浙江"
    diffusion = _csv(out / "diffusion.csv")
    assert {r["centre_first_year"] for r in diffusion if r["phrase"] == "一带一路"} == {"2015"}
    # the reference went through the same segmentation cache: a run with another corpus reads it from there
    reference = echo.read_reference([str(centre)], [str(SEEDS)], ingest([SEEDS])).segments
    assert analyse_corpus(reference, Settings(workers=1, cache_dir=str(cache))).cached == len(CENTRE)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Echoes of the centre" in html and "河长制" in html
    capsys.readouterr()
    assert main(["regions", "--out", str(out)]) == 0
    assert "echo" in capsys.readouterr().out
    # without the reference: no echo files, no reference column, no reference in the manifest
    assert main(args) == 0
    assert not (out / "echo.csv").exists() and "centre_first_year" not in _csv(out / "diffusion.csv")[0]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "reference" not in manifest and not set(echo.REFERENCE_SETTINGS) & set(manifest["settings"])


@pytest.mark.slow
def test_reference_without_years_warns_and_loses_nothing(tmp_path: Path, capsys) -> None:
    corpus = _folder(
        tmp_path / "corpus", {"2016_广东.txt": "推进一带一路建设。", "2017_广西.txt": "一带一路。"}
    )
    centre = _folder(tmp_path / "centre", {"报告.txt": "推进一带一路建设。一带一路。"})
    out = tmp_path / "out"
    assert main(["run", str(corpus), "--out", str(out), "--workers", "1", "--reference", str(centre)]) == 0
    err = capsys.readouterr().err
    assert err.count("no text has a year") == 1
    assert not (out / "echo.csv").exists() and (out / "phrases.csv").is_file()
    assert (
        json.loads((out / "manifest.json").read_text(encoding="utf-8"))["reference"]["counts"]["segments"]
        == 1
    )


def test_seeds_as_corpus_and_reference_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["run", str(SEEDS), "--out", str(out), "--quiet", "--reference", str(SEEDS)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "E071" in err[0]
    assert not out.exists()
