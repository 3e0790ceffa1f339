"""`tifa kwic`, `tifa phrases`, `tifa regions` on a hand-made output folder (no segmentation needed)."""

from __future__ import annotations

import csv
import doctest
import io
from pathlib import Path

import pytest

from pipeline import kwic as kwic_module
from pipeline.cli import main
from pipeline.io_utils import write_csv
from pipeline.kwic import display_width, format_table, kwic, phrase_forms, plain_csv, top_keyness
from pipeline.outputs import write_phrases, write_texts
from pipeline.records import Phrase, Segment

SEGMENTS = (
    Segment(
        "a.txt", "a.txt", "上海", "", "上海报告", 2015, "我们要确保精神落地生根、开花结果，坚持新发展理念。"
    ),
    Segment(
        "b.txt",
        "b.txt",
        "山东",
        "张海波",
        "山东发言",
        2016,
        "推动二十大精神在山东落地生根开花结果。\n新发展理念深入人心。",
    ),
    Segment("c.txt#0", "c.txt", "", "", "导语", None, "记者报道：落地生根、开花结果。"),
)

PHRASES = (
    Phrase(
        "落地生根、开花结果",
        "enumeration",
        ("落地生根、开花结果", "落地生根开花结果"),
        3,
        3,
        ("上海", "山东"),
        5.0,
    ),
    Phrase("新发展理念", "statistical", ("新发展理念",), 2, 2, ("上海", "山东"), 4.0),
    Phrase("二十大精神", "quoted", ("二十大精神",), 1, 1, ("山东",), 1.0),
)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """The files a `tifa run` leaves behind, written by the same writers, for a three-segment corpus."""
    out = tmp_path_factory.mktemp("kwic") / "out"
    out.mkdir()
    write_texts(out / "texts.jsonl", SEGMENTS)
    write_phrases(out / "phrases.csv", PHRASES)
    write_csv(
        out / "segments.csv",
        ["segment_id", "source", "region", "speaker", "title", "year", "date", "chars", "sentences"],
        [
            [s.segment_id, s.source, s.region, s.speaker, s.title, s.year, "", len(s.text), 1]
            for s in SEGMENTS
        ],
    )
    write_csv(
        out / "adoption.csv",
        ["region", "year", "phrase", "count", "per_10k", "chars"],
        [
            ["上海", "", "落地生根、开花结果", 1, 400.0, 25],
            ["上海", "", "新发展理念", 1, 400.0, 25],
            ["上海", 2015, "新发展理念", 1, 400.0, 25],
            ["山东", "", "落地生根、开花结果", 1, 333.3, 30],
            ["山东", "", "新发展理念", 1, 333.3, 30],
            ["山东", "", "二十大精神", 1, 333.3, 30],
        ],
    )
    write_csv(
        out / "keyness.csv",
        ["region", "phrase", "count", "score", "delta", "variance", "reference_count"],
        [
            ["上海", "新发展理念", 1, 0.5, 0, 0, 1],
            ["山东", "二十大精神", 1, 1.2, 0, 0, 0],
            ["山东", "落地生根、开花结果", 1, 0.3, 0, 0, 1],
            ["上海", "二十大精神", 0, -1.2, 0, 0, 1],
        ],
    )
    write_csv(out / "clusters.csv", ["region", "cluster"], [["上海", 1], ["山东", 2]])
    write_csv(out / "similarity.csv", ["region", "上海", "山东"], [["上海", 1, 0.25], ["山东", 0.25, 1]])
    return out


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_kwic_finds_every_variant_with_context() -> None:
    canonical, forms = phrase_forms(
        "落地生根开花结果", [{"phrase": p.phrase, "variants": ";".join(p.variants)} for p in PHRASES]
    )
    assert canonical == "落地生根、开花结果"
    lines = kwic(SEGMENTS, forms, width=4)
    assert [(line.left, line.phrase, line.right, line.region, line.year) for line in lines] == [
        ("确保精神", "落地生根、开花结果", "，坚持新", "上海", 2015),
        ("神在山东", "落地生根开花结果", "。 新发", "山东", 2016),  # the line break shown as a space
        ("者报道：", "落地生根、开花结果", "。", "", None),
    ]
    assert [line.source for line in lines] == ["a.txt", "b.txt", "c.txt"]
    assert SEGMENTS[1].text[lines[1].start : lines[1].end] == "落地生根开花结果"


def test_kwic_terminal_table_lines_up_chinese(out: Path, capsys) -> None:
    code, stdout, err = _run(capsys, "kwic", "落地生根、开花结果", "--out", str(out), "--width", "4")
    assert code == 0
    rows = stdout.splitlines()
    assert rows[0].split() == ["left", "phrase", "right", "region", "year", "source"]
    body = rows[2:]
    assert len(body) == 3
    # the phrase column starts at the same terminal column on every line (CJK counts double)
    starts = {display_width(row[: row.index("落地生根")]) for row in body}
    assert len(starts) == 1
    assert "确保精神  落地生根、开花结果" in body[0] and "上海" in body[0] and "2015" in body[0]
    assert "3 line(s) for 落地生根、开花结果" in err and "落地生根开花结果" in err


def test_kwic_csv_to_stdout_and_file(out: Path, tmp_path: Path, capsys) -> None:
    code, stdout, _ = _run(capsys, "kwic", "新发展理念", "--out", str(out), "--width", "3", "--csv")
    assert code == 0
    assert _csv_rows(stdout) == [
        {
            "left": "，坚持",
            "phrase": "新发展理念",
            "right": "。",
            "region": "上海",
            "year": "2015",
            "source": "a.txt",
            "segment_id": "a.txt",
            "start": "19",
            "end": "24",
        },
        {
            "left": "果。 ",
            "phrase": "新发展理念",
            "right": "深入人",
            "region": "山东",
            "year": "2016",
            "source": "b.txt",
            "segment_id": "b.txt",
            "start": "20",
            "end": "25",
        },
    ]
    target = tmp_path / "lines.csv"
    code, stdout, _ = _run(capsys, "kwic", "新发展理念", "--out", str(out), "--csv", str(target))
    assert code == 0 and stdout == ""
    data = target.read_text(encoding="utf-8")
    assert data.startswith("\ufeff") and len(_csv_rows(data)) == 2


def test_kwic_filters_and_exact(out: Path, capsys) -> None:
    _, stdout, _ = _run(capsys, "kwic", "落地生根开花结果", "--out", str(out), "--csv", "--region", "沪")
    assert [row["region"] for row in _csv_rows(stdout)] == ["上海"]
    _, stdout, _ = _run(capsys, "kwic", "落地生根开花结果", "--out", str(out), "--csv", "--exact")
    assert [row["phrase"] for row in _csv_rows(stdout)] == ["落地生根开花结果"]
    _, stdout, _ = _run(capsys, "kwic", "落地生根开花结果", "--out", str(out), "--csv", "--limit", "1")
    assert len(_csv_rows(stdout)) == 1
    _, stdout, _ = _run(capsys, "kwic", "新发展理念", "--out", str(out), "--csv", "--year", "2016")
    assert [row["year"] for row in _csv_rows(stdout)] == ["2016"]
    code, stdout, err = _run(capsys, "kwic", "不存在的提法", "--out", str(out))
    assert code == 0 and stdout == "" and "0 line(s)" in err


def test_kwic_reads_inputs_without_a_run(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "2017_广东.txt").write_text("广东要全面贯彻新发展理念，推动高质量发展。", encoding="utf-8")
    code, stdout, err = _run(
        capsys, "kwic", "新发展理念", str(corpus), "--out", str(tmp_path / "none"), "--csv"
    )
    assert code == 0, err
    assert [(r["left"][-4:], r["phrase"], r["region"], r["year"]) for r in _csv_rows(stdout)] == [
        ("全面贯彻", "新发展理念", "广东", "2017")
    ]


def test_kwic_without_a_run_is_one_clear_line(tmp_path: Path, capsys) -> None:
    code, stdout, err = _run(capsys, "kwic", "新发展理念", "--out", str(tmp_path / "nothing"))
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and "E060" in err and "texts.jsonl" in err


def test_unknown_region_is_an_error(out: Path, capsys) -> None:
    code, _, err = _run(capsys, "kwic", "新发展理念", "--out", str(out), "--region", "火星")
    assert code == 2 and "E063" in err and "火星" in err


def test_phrases_table(out: Path, capsys) -> None:
    code, stdout, err = _run(capsys, "phrases", "--out", str(out))
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].split() == ["rank", "phrase", "family", "count", "segments", "regions"]
    assert [line.split()[1] for line in lines[2:]] == ["落地生根、开花结果", "新发展理念", "二十大精神"]
    assert "3 of 3" in err
    _, stdout, _ = _run(capsys, "phrases", "--out", str(out), "--kind", "quoted")
    assert [line.split()[1] for line in stdout.splitlines()[2:]] == ["二十大精神"]


def test_phrases_of_a_region_most_distinctive_first_and_said_so(out: Path, capsys) -> None:
    _, stdout, _ = _run(capsys, "phrases", "--out", str(out), "--region", "山东省", "--limit", "2")
    title, header, _, *rows = stdout.splitlines()
    assert title.startswith("phrases used in 山东, most distinctive first") and "keyness" in title
    assert header.split()[-5:] == ["in", "山东", "per", "10k", "z"]
    # by the keyness z-score (二十大精神 1.2, 落地生根 0.3), not by uses (one each) or rank
    assert [row.split()[1] for row in rows] == ["二十大精神", "落地生根、开花结果"]
    assert rows[0].split()[-1] == "1.2"
    _, stdout, _ = _run(capsys, "phrases", "--out", str(out), "--region", "山东", "--sort", "rank")
    title, _, _, *rows = stdout.splitlines()
    assert "rank order" in title
    assert [row.split()[1] for row in rows] == ["落地生根、开花结果", "新发展理念", "二十大精神"]


def test_regions_table(out: Path, capsys) -> None:
    code, stdout, _ = _run(capsys, "regions", "--out", str(out))
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].split()[:2] == ["region", "cluster"]
    shanghai, shandong = lines[2], lines[3]
    assert shanghai.split()[:5] == ["上海", "1", "1", "25", "2015"]
    assert "山东 (0.25)" in shanghai and "新发展理念" in shanghai and "二十大精神" not in shanghai
    assert shandong.endswith("二十大精神 · 落地生根、开花结果")
    code, stdout, _ = _run(capsys, "regions", "--out", str(out), "--region", "Shandong")
    assert code == 0 and stdout.startswith("山东: cluster 2") and "二十大精神" in stdout


def test_format_table_counts_wide_characters() -> None:
    text = format_table(["a", "b"], [["中文", 1], ["x", 22]], align="<>")
    rows = text.splitlines()
    assert rows == ["a      b", "----  --", "中文   1", "x     22"]
    assert display_width("中文ab") == 6


def test_doctests() -> None:
    assert doctest.testmod(kwic_module).failed == 0


def test_kwic_on_a_run_without_texts_says_why(tmp_path: Path, capsys) -> None:
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    code, _, err = _run(capsys, "kwic", "新发展理念", "--out", str(tmp_path))
    assert code == 2 and "E061" in err and "write_texts" in err and len(err.strip().splitlines()) == 1


def _quote_all(path: Path) -> None:
    """Rewrite a CSV with every field quoted: the same table, which only the csv module can read."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def test_plain_csv_only_for_bare_fields(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", ["region", "phrase"], [["上海", "新发展理念"]])
    assert plain_csv(tmp_path / "a.csv") == (
        ["region", "phrase"],
        "\ufeffregion,phrase\n上海,新发展理念\n".encode(),
    )
    (tmp_path / "b.csv").write_bytes("region,phrase\n上海,新发展理念".encode())  # no final newline
    assert plain_csv(tmp_path / "b.csv") == (
        ["region", "phrase"],
        "region,phrase\n上海,新发展理念\n".encode(),
    )
    write_csv(tmp_path / "c.csv", ["region", "phrase"], [["上海", "3,6"]])  # a comma: quoted
    assert plain_csv(tmp_path / "c.csv") is None
    (tmp_path / "d.csv").write_bytes(b"region,phrase\r\n")
    assert plain_csv(tmp_path / "d.csv") is None


def test_top_keyness_reads_only_the_best_rows_alike(tmp_path: Path) -> None:
    """A plain keyness.csv (read down to each region's top rows and ties) and a quoted one (every row)
    give the same top phrases; at the cut, ties keep the phrases that sort last, as the heap does."""
    header = ["region", "phrase", "count", "score", "delta", "variance", "reference_count"]
    rows = [  # as compare.keyness sorts them: region, then score descending
        ["上海", "自贸试验区", 9, 4.5, 0, 0, 1],
        ["上海", "国际金融中心", 5, 2.0, 0, 0, 1],
        ["上海", "浦东新区", 4, 2.0, 0, 0, 1],
        ["上海", "长三角", 3, 2.0, 0, 0, 1],
        ["上海", "四个意识", 2, 1.5, 0, 0, 1],
        ["上海", "两个确立", 1, -0.5, 0, 0, 1],
        ["山东", "黄河流域", 6, 3.0, 0, 0, 1],
        ["山东", "新旧动能转换", 2, -1.0, 0, 0, 1],
        ["广东", "粤港澳大湾区", 8, -0.1, 0, 0, 1],  # no positive score: no entry
    ]
    plain, quoted = tmp_path / "plain", tmp_path / "quoted"
    for folder in (plain, quoted):
        folder.mkdir()
        write_csv(folder / "keyness.csv", header, rows)
    _quote_all(quoted / "keyness.csv")
    assert plain_csv(plain / "keyness.csv") is not None and plain_csv(quoted / "keyness.csv") is None
    expected = {
        "上海": [("自贸试验区", 9, 4.5), ("浦东新区", 4, 2.0), ("长三角", 3, 2.0)],
        "山东": [("黄河流域", 6, 3.0)],
    }
    for folder in (plain, quoted):
        assert top_keyness(folder, 3) == expected
        assert top_keyness(folder, 1, {"山东", "广东"}) == {"山东": [("黄河流域", 6, 3.0)]}
        assert top_keyness(folder, 10)["上海"][-1] == ("四个意识", 2, 1.5)


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch) -> None:
    """Tables at their natural width unless a test sets COLUMNS (as a terminal of that width would)."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.mark.parametrize(
    "query", ["落地生根，开花结果", "落地生根,开花结果", "落地生根 开花结果", "落地生根开花结果"]
)
def test_kwic_ignores_the_punctuation_of_the_query(out: Path, capsys, query: str) -> None:
    code, stdout, err = _run(capsys, "kwic", query, "--out", str(out), "--csv")
    assert code == 0 and len(_csv_rows(stdout)) == 3
    assert "3 line(s) for 落地生根、开花结果" in err


def test_kwic_of_a_phrase_with_an_unquoted_space_says_to_quote_it(out: Path, capsys) -> None:
    code, _, err = _run(capsys, "kwic", "落地生根", "开花结果", "--out", str(out))
    assert code == 2 and "E066" in err and 'tifa kwic "落地生根 开花结果"' in err


def test_kwic_of_an_unlisted_phrase_ignores_punctuation_too(out: Path, capsys) -> None:
    # 精神落地生根 is no phrase of the run: searched however punctuated, in the text as written
    code, stdout, _ = _run(capsys, "kwic", "精神，落地生根", "--out", str(out), "--csv")
    assert code == 0 and [(r["phrase"], r["region"]) for r in _csv_rows(stdout)] == [("精神落地生根", "上海")]


def test_kwic_csv_before_the_phrase(out: Path, tmp_path: Path, capsys) -> None:
    code, stdout, err = _run(capsys, "kwic", "--csv", "新发展理念", "--out", str(out))
    assert code == 0, err
    assert [row["phrase"] for row in _csv_rows(stdout)] == ["新发展理念", "新发展理念"]
    target = tmp_path / "lines.csv"
    code, stdout, _ = _run(capsys, "kwic", "--csv", str(target), "新发展理念", "--out", str(out))
    assert code == 0 and stdout == "" and len(_csv_rows(target.read_text(encoding="utf-8"))) == 2


def test_kwic_forms_are_listed_with_a_separator_not_found_in_them(out: Path, capsys) -> None:
    _, _, err = _run(capsys, "kwic", "落地生根开花结果", "--out", str(out), "--csv")
    assert "(forms: 落地生根、开花结果 | 落地生根开花结果)" in err


def test_kwic_finding_nothing_says_why(out: Path, capsys) -> None:
    code, stdout, err = _run(capsys, "kwic", "新发展理论", "--out", str(out))
    assert code == 0 and stdout == "" and "0 line(s)" in err
    assert "tifa: hint: 新发展理论 is not a phrase of the run" in err and "near phrases: 新发展理念" in err
    _, _, err = _run(capsys, "kwic", "新发展理念", "--out", str(out), "--year", "2020")
    assert "no text in 2020; years with text: 2015–2016" in err
    _, _, err = _run(capsys, "kwic", "新发展理念", "--out", str(out), "--region", "上海", "--year", "2016")
    assert "no text from 上海 in 2016; years with text: 2015" in err
    _, _, err = _run(capsys, "kwic", "新发展理念", "--out", str(out), "--region", "广东")
    assert "no text from 广东; regions with text: 上海、山东" in err
    _, _, err = _run(capsys, "kwic", "落地生根、开花结果", "--out", str(out), "--region", "广西")
    assert "hint" in err and "is not a phrase" not in err  # a listed phrase: only the region is wrong


LONG = "各地区各部门要坚持以习近平新时代中国特色社会主义思想为指导，完整、准确、全面贯彻新发展理念，加快构建新发展格局，着力推动高质量发展。"


@pytest.fixture(scope="module")
def long_out(tmp_path_factory) -> Path:
    """A run of long texts with long source names: rows that need more than 120 columns."""
    out = tmp_path_factory.mktemp("long") / "out"
    out.mkdir()
    names = ["福建", "内蒙古", "黑龙江", "新疆", "广西", "上海"]
    segments = [
        Segment(
            f"s{i}",
            f"corpora/gov_work_reports/{2012 + i}_{name}_政府工作报告全文.txt",
            name,
            "",
            "",
            2012 + i,
            LONG,
        )
        for i, name in enumerate(names)
    ]
    write_texts(out / "texts.jsonl", segments)
    write_csv(
        out / "segments.csv",
        ["segment_id", "source", "region", "speaker", "title", "year", "date", "chars", "sentences"],
        [[s.segment_id, s.source, s.region, "", "", s.year, "", 123456, 1] for s in segments]
        + [
            ["f2", "x.txt", "福建", "", "", 2016, "", 1000, 1],
            ["f3", "y.txt", "福建", "", "", 2017, "", 1000, 1],
        ],
    )
    phrases = [
        "完整、准确、全面贯彻新发展理念",
        "以习近平新时代中国特色社会主义思想为指导",
        "加快构建新发展格局",
        "着力推动高质量发展",
        "各地区各部门",
        "新时代中国特色社会主义思想",
    ]
    write_csv(
        out / "keyness.csv",
        ["region", "phrase", "count", "score"],
        [[name, phrase, 3, 9.0 - j] for name in sorted(names) for j, phrase in enumerate(phrases)],
    )
    write_csv(
        out / "clusters.csv", ["region", "cluster"], [[name, 1 + i % 2] for i, name in enumerate(names)]
    )
    return out


@pytest.mark.parametrize("columns", [80, 120])
def test_kwic_fits_the_terminal(long_out: Path, capsys, monkeypatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, stdout, _ = _run(capsys, "kwic", "新发展理念", "--out", str(long_out), "--width", "30")
    rows = stdout.splitlines()
    assert code == 0 and len(rows) == 2 + 6  # one use in each of six texts
    assert max(display_width(row) for row in rows) <= columns
    assert len({display_width(row[: row.index("新发展理念")]) for row in rows[2:]}) == 1  # aligned
    # the left context keeps the characters next to the phrase; the source keeps its end (the file)
    assert all(row.split()[0].endswith(("全面贯彻", "加快构建")) for row in rows[2:])
    assert all(row.endswith("全文.txt") for row in rows[2:])
    monkeypatch.delenv("COLUMNS")
    _, natural, _ = _run(capsys, "kwic", "新发展理念", "--out", str(long_out), "--width", "30")
    assert max(display_width(row) for row in natural.splitlines()) > 120  # piped: not cut


def test_cut_phrases_stay_distinguishable() -> None:
    forms = ["完整、准确、全面贯彻新发展理念", "完整准确全面贯彻新发展理念"]
    lines = [
        kwic_module.KwicLine("左边的上下文", form, "右边的上下文", "上海", 2016, "a.txt", "a", 0, 1)
        for form in forms
    ]
    table = kwic_module.format_kwic(lines, 10, columns=50).splitlines()
    assert max(display_width(row) for row in table) <= 50
    shown = [row.split()[1] for row in table[2:]]
    assert "…" in shown[0] and shown[0] != shown[1]


@pytest.mark.parametrize("columns", [80, 120])
def test_regions_fit_the_terminal_and_wrap_the_phrase_lists(
    long_out: Path, capsys, monkeypatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, stdout, _ = _run(capsys, "regions", "--out", str(long_out), "--top", "6")
    rows = stdout.splitlines()
    assert code == 0 and max(display_width(row) for row in rows) <= columns
    text = "".join(rows)
    assert text.count("着力推动高质量发展") == 6 and text.count("各地区各部门") == 6  # nothing lost
    code, stdout, _ = _run(capsys, "regions", "--out", str(long_out), "--region", "内蒙古")
    assert code == 0 and max(display_width(row) for row in stdout.splitlines()) <= columns


def test_regions_list_the_years_with_text_and_the_gaps(long_out: Path, capsys) -> None:
    _, stdout, _ = _run(capsys, "regions", "--out", str(long_out), "--region", "福建")
    assert "years with text: 2012, 2016–2017 — gaps: 2013–2015" in stdout.splitlines()[1]
    _, stdout, _ = _run(capsys, "regions", "--out", str(long_out))
    assert "2012, 2016–2017" in next(row for row in stdout.splitlines() if row.startswith("福建"))


def test_regions_of_a_region_without_text_names_those_with_text(long_out: Path, capsys) -> None:
    code, _, err = _run(capsys, "regions", "--out", str(long_out), "--region", "西藏")
    assert code == 2 and "E065" in err and "regions with text:" in err and "福建" in err


def test_kwic_leaves_out_the_matches_the_run_did_not_count(tmp_path) -> None:
    from pipeline.kwic import in_word_matches, kwic
    from pipeline.records import Segment

    segment = Segment("a#0", "a.txt", "河北", "", "", 2012, "坚持创新发展理念，贯彻新发展理念。")
    (tmp_path / "in_word_hits.csv").write_text(
        "phrase,surface,segment_id,region,year,sentence_index,start,end\n新发展理念,新发展理念,a#0,河北,2012,0,3,8\n",
        encoding="utf-8",
    )
    skip = in_word_matches(tmp_path, "新发展理念")
    assert skip == {("a#0", 3)}
    lines = kwic([segment], ["新发展理念"], width=2, skip=skip)
    assert [(line.left, line.start) for line in lines] == [("贯彻", 11)]
    assert len(kwic([segment], ["新发展理念"], width=2)) == 2
