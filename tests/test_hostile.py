"""Hostile inputs: every kind of file a scraped corpus holds, generated here (no checked-in binaries).

For each: the run completes, the good inputs are processed, the bad ones are listed in manifest.json
with a reason, and stderr says so in one line. ``HOSTILE`` below is the table of what each file is and
what must happen to it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.ingest import ingest
from pipeline.text import normalize

SIMPLIFIED = (
    "坚持稳中求进工作总基调，完整、准确、全面贯彻新发展理念，推动高质量发展。"
    "深刻领悟“两个确立”的决定性意义，增强“四个意识”，推动制造业高端化、智能化、绿色化发展。"
)
TRADITIONAL = (
    "堅持穩中求進工作總基調，完整、準確、全面貫徹新發展理念，推動高質量發展。"
    "深刻領悟「兩個確立」的決定性意義，增強「四個意識」，推動製造業高端化、智能化、綠色化發展。"
)
SIDECAR_TEXT = "落实“两个确立”，推进共同富裕，推动高质量发展。"

# file → (status, what the reason or a problem must say); None: processed with no problem required
HOSTILE: dict[str, tuple[str, str | None]] = {
    "2015_广东.txt": ("processed", None),  # plain UTF-8
    "2016_广西.txt": ("processed", None),  # GBK
    "2016_云南.txt": ("processed", None),  # GB18030 with a four-byte character (𬇕)
    "2016_香港.txt": ("processed", None),  # Big5, traditional characters
    "2016_澳门.txt": ("processed", None),  # UTF-8, traditional characters
    "2017_上海.txt": ("processed", None),  # UTF-16 with BOM
    "2017_重庆.txt": ("processed", None),  # UTF-16-LE without BOM
    "2017_北京.html": ("processed", None),  # tags, entities, script, style, comment
    "2017_天津.txt": ("processed", None),  # C0/C1 controls, zero-width, NBSP, full-width, bidi
    "2017_河北.md": ("processed", None),  # markup-looking text that is not HTML (must be escaped)
    "2017_山东.txt": ("processed", "invalid byte sequence replaced"),  # UTF-8 cut mid-character
    "2015_广东_广西.txt": ("processed", "names several regions"),  # ambiguous file name
    "empty.txt": ("skipped", "empty file"),
    "blank.txt": ("skipped", "empty file"),
    "only_markup.html": ("skipped", "no text left"),
    "binary.txt": ("skipped", "binary"),
    "photo.jpg": ("skipped", "unsupported file type"),
    "loop_a.txt": ("skipped", "symbolic link loop"),
    "loop_b.txt": ("skipped", "symbolic link loop"),
    "gone.txt": ("skipped", "broken symbolic link"),
    "again": ("skipped", "symbolic link to a folder"),
    "pipe.txt": ("skipped", "not a regular file"),
    "table.csv": ("processed", "fewer cells than columns"),
    "nocolumn.csv": ("skipped", "no text column"),
    "records.jsonl": ("processed", "broken JSON"),
    "allbad.jsonl": ("skipped", "no usable records"),
    "copy_a.txt": ("processed", None),
    "copy_b.txt": ("skipped", "same text as"),
    "copy_c.txt": ("skipped", "same text as"),  # the same text in traditional characters
    ".DS_Store": ("skipped", "hidden file"),
    ".git": ("skipped", "hidden folder"),
    "old_out": ("skipped", "tifa output folder"),
    "sub/metadata.csv": ("processed", "which is not in its folder"),
    "sub/a.txt": ("processed", "unknown region"),
    "sub/b.txt": ("processed", None),
    "sub/unlisted.txt": ("skipped", "not listed in metadata.csv"),
    "evil\n\x1b[31mname.txt": ("processed", None),  # shown as evil\n\x1b[31mname.txt, on one line
    b"\xff\xfe_latin1_name.txt": ("processed", None),  # a file name that is not UTF-8
}


def _display(name: str | bytes) -> str:
    """How the manifest shows a file name: escapes for control characters and undecodable bytes."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", "backslashreplace")
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: repr(m.group())[1:-1], name)


def build_hostile_corpus(root: Path) -> Path:
    """Write every file of ``HOSTILE`` under ``root/corpus`` and return that folder."""
    corpus = root / "corpus"
    corpus.mkdir()

    def write(name: str, data: bytes) -> None:
        (corpus / name).write_bytes(data)

    write("2015_广东.txt", f"2015年广东省政府工作报告\n{SIMPLIFIED}".encode())
    write("2016_广西.txt", f"广西壮族自治区政府工作报告\n{SIMPLIFIED}推进西部陆海新通道建设。".encode("gbk"))
    write("2016_云南.txt", f"云南省政府工作报告\n建设防城港渔𬇕港区。{SIMPLIFIED}".encode("gb18030"))
    write("2016_香港.txt", f"香港特別行政區施政報告\n{TRADITIONAL}".encode("big5"))
    write("2016_澳门.txt", f"澳門特別行政區施政報告\n{TRADITIONAL}堅持「一國兩制」。".encode())
    write("2017_上海.txt", f"上海市政府工作报告\n{SIMPLIFIED}建设国际金融中心。".encode("utf-16"))
    write(
        "2017_重庆.txt", f"重庆市政府工作报告\n{SIMPLIFIED}推动成渝地区双城经济圈建设。".encode("utf-16-le")
    )
    write(
        "2017_北京.html",
        (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>报告</title>"
            "<style>p { color: red; }</style><script>alert('两个确立');</script></head><body>"
            f"<h1>北京市政府工作报告</h1><!-- 注释 --><p>{SIMPLIFIED}</p>"
            "<p>建设国际科技创新中心&nbsp;&amp;&nbsp;&lt;全国&gt;文化中心&#12290;</p></body></html>"
        ).encode(),
    )
    write(
        "2017_天津.txt",
        (
            "天津市政府工作报告\n\x01深刻领悟“两个\u200b确立”\x07的决定性意义，\x1b[31m增强“四个\u200d意识”\x9b，"
            "ＧＤＰ增长６.５％\u00a0以上，\u202e推动高质量发展\u202c。\x0c推动制造业高端化、智能化、绿色化发展。"
        ).encode(),
    )
    write(
        "2017_河北.md",
        "<img src=x onerror=alert(1)>河北省政府工作报告\n坚持“<x-tifa>两个确立</x-tifa>”不动摇。推动“京津冀协同发展”。\n".encode(),
    )
    write("2017_山东.txt", f"山东省政府工作报告\n{SIMPLIFIED}走在前、开新局。".encode()[:-2])
    write("2015_广东_广西.txt", f"江西省人民政府工作报告\n{SIMPLIFIED}两广合作示范区。".encode())
    write("empty.txt", b"")
    write("blank.txt", b" \n\t\r\n  ")
    write("only_markup.html", b"<html><body><p> </p><script>var x = 1;</script></body></html>")
    write("binary.txt", bytes(range(256)) * 16)
    write("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200))
    os.symlink("loop_b.txt", corpus / "loop_a.txt")
    os.symlink("loop_a.txt", corpus / "loop_b.txt")
    os.symlink("missing.txt", corpus / "gone.txt")
    os.symlink(".", corpus / "again")
    os.mkfifo(corpus / "pipe.txt")
    write(
        "table.csv",
        (
            "\ufefftitle,text,region,year\n"
            f'报告一,"第一段：{SIMPLIFIED}\n第二段：推进乡村全面振兴。",廣東,2018\n'
            f"报告二,{SIMPLIFIED}统筹发展和安全。,广东省人民政府,2019\n"
            f"报告三,{SIMPLIFIED}加快建设农业强省。,广东/广西,2019\n"
            f"报告四,{SIMPLIFIED}建设海洋强省。,火星,2020\n"
            f"报告五,{SIMPLIFIED}缺一列的行。\n"
        ).encode(),
    )
    write("nocolumn.csv", "title,region\n标题,上海\n".encode())
    deep = "[" * 100_000 + "]" * 100_000
    write(
        "records.jsonl",
        "\n".join(
            [
                json.dumps(
                    {"id": "r1", "text": f"{SIMPLIFIED}发展新质生产力。", "region": "浙江"},
                    ensure_ascii=False,
                ),
                "{oops, not json",
                "[1, 2, 3]",
                deep,
                '{"text": "推动高质量发展。", "year": ' + "1" * 5000 + "}",
                json.dumps(
                    {"id": "r1", "text": f"{SIMPLIFIED}建设美丽中国先行区。", "region": "Zhejiang"},
                    ensure_ascii=False,
                ),
                json.dumps(
                    {
                        "text": f"{SIMPLIFIED}打造长三角一体化。",
                        "region": "江苏",
                        "title": "标题\n\x1b[2J第二行",
                    },
                    ensure_ascii=False,
                ),
            ]
        ).encode(),
    )
    write("allbad.jsonl", b"{broken\n[]\n")
    copy = f"2016年安徽省政府工作报告\n{SIMPLIFIED}"
    write("copy_a.txt", copy.encode())
    write("copy_b.txt", copy.encode())
    curly = TRADITIONAL.replace("「", "“").replace("」", "”")  # t2s converts characters, not quote marks
    write("copy_c.txt", f"2016年安徽省政府工作報告\n{curly}".encode())
    write(".DS_Store", b"\x00\x00\x00\x01Bud1")
    (corpus / ".git").mkdir()
    (corpus / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (corpus / "old_out").mkdir()
    (corpus / "old_out" / "manifest.json").write_text('{"versions": {"tifa": "0"}}', encoding="utf-8")
    (corpus / "old_out" / "segments.csv").write_text("segment_id\n", encoding="utf-8")
    sub = corpus / "sub"
    sub.mkdir()
    (sub / "metadata.csv").write_text(
        "file,region,year,title\na.txt,火星,2018,甲\nb.txt,Guangdong,2018,乙\nghost.txt,上海,2018,丙\n",
        encoding="utf-8",
    )
    (sub / "a.txt").write_text(f"{SIDECAR_TEXT}推动数字经济发展。", encoding="utf-8")
    (sub / "b.txt").write_text(f"{SIDECAR_TEXT}建设粤港澳大湾区。", encoding="utf-8")
    (sub / "unlisted.txt").write_text("不在清单中的文件。", encoding="utf-8")
    write("evil\n\x1b[31mname.txt", f"湖南省政府工作报告\n{SIMPLIFIED}建设三个高地。".encode())
    fd = os.open(os.fsencode(corpus) + b"/\xff\xfe_latin1_name.txt", os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, f"湖北省政府工作报告\n{SIMPLIFIED}建设全国构建新发展格局先行区。".encode())
    os.close(fd)
    return corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return build_hostile_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def ingested(corpus: Path):
    started = time.perf_counter()
    result = ingest([corpus])
    assert time.perf_counter() - started < 10
    return result


def _reports(result) -> dict[str, object]:
    return {report.source.removeprefix("corpus/"): report for report in result.inputs}


# --------------------------------------------------------------------------- ingest level


def test_every_hostile_file_is_reported_with_the_expected_status(ingested) -> None:
    reports = _reports(ingested)
    expected = {_display(name): outcome for name, outcome in HOSTILE.items()}
    assert set(reports) == set(expected)
    for name, (status, says) in expected.items():
        report = reports[name]
        assert report.status == status, (name, report)
        if says is not None:
            assert says in report.reason + " ".join(report.problems), (name, report)
        for text in (report.source, report.reason, *report.problems):
            assert "\n" not in text and "\x1b" not in text, (name, text)  # one line, no terminal escapes


def test_encodings_are_detected(ingested) -> None:
    reports = _reports(ingested)
    assert reports["2016_广西.txt"].encoding == "gb18030"
    assert reports["2016_云南.txt"].encoding == "gb18030"
    assert reports["2016_香港.txt"].encoding == "big5"
    assert reports["2017_上海.txt"].encoding == "utf-16"
    assert reports["2017_重庆.txt"].encoding == "utf-16-le"
    by_region = {s.region: s for s in ingested.segments if s.region}
    assert "防城港渔𬇕港区" in by_region["云南"].text
    for region in ("广东", "广西", "云南", "上海", "重庆", "北京", "天津"):
        assert "两个确立" in by_region[region].text, region


def test_traditional_text_is_matched_in_simplified_and_shown_in_the_original(ingested) -> None:
    by_region = {s.region: s for s in ingested.segments if s.region}
    for region in ("香港", "澳门"):
        segment = by_region[region]
        original = ingested.original_text(segment)
        assert len(original) == len(segment.text)
        start = segment.text.index("两个确立")
        assert original[start : start + 4] == "兩個確立"
        assert "推动制造业高端化、智能化、绿色化发展" in segment.text
        assert "推動製造業高端化、智能化、綠色化發展" in original
    reports = _reports(ingested)
    assert reports["2016_香港.txt"].traditional == 1 and reports["2015_广东.txt"].traditional == 0
    simplified = by_region["广东"]
    assert ingested.original_text(simplified) == simplified.text  # nothing stored when nothing changed
    assert simplified.segment_id not in ingested.originals


def test_html_and_control_characters_are_cleaned(ingested) -> None:
    by_region = {s.region: s for s in ingested.segments if s.region}
    page = by_region["北京"].text
    assert "alert" not in page and "color" not in page and "注释" not in page and "<p" not in page
    assert "建设国际科技创新中心 & <全国>文化中心。" in page
    messy = by_region["天津"].text
    assert "深刻领悟“两个确立”的决定性意义，增强“四个意识”，GDP增长6.5% 以上，推动高质量发展。" in messy
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e]", messy)
    assert messy.split("\n")[-1] == "推动制造业高端化、智能化、绿色化发展。"  # form feed → line break


def test_csv_with_bom_quoted_newline_missing_cell_and_region_names(ingested) -> None:
    report = _reports(ingested)["table.csv"]
    rows = {s.segment_id.rsplit("#", 1)[1]: s for s in ingested.segments if s.source == "corpus/table.csv"}
    assert rows["row2"].text.startswith("第一段：") and "\n第二段：推进乡村全面振兴。" in rows["row2"].text
    assert rows["row2"].title == "报告一"  # the BOM did not stick to the first column name
    assert rows["row2"].region == "广东"  # 廣東, traditional
    assert rows["row3"].region == "广东"  # 广东省人民政府: one region named
    assert rows["row4"].region == "" and rows["row5"].region == ""  # 广东/广西: ambiguous; 火星: unknown
    assert rows["row6"].region == "" and rows["row6"].year is None  # the row with a missing cell is kept
    problems = " | ".join(report.problems)
    assert "row 4: ambiguous region '广东/广西' (names 广东, 广西)" in problems
    assert "row 5: unknown region '火星'" in problems
    assert "row 6: fewer cells than columns" in problems


def test_jsonl_broken_lines_are_skipped_and_the_good_ones_kept(ingested) -> None:
    report = _reports(ingested)["records.jsonl"]
    assert report.documents == 3
    problems = " | ".join(report.problems)
    assert "line 2: broken JSON" in problems
    assert "line 3: not a JSON object" in problems
    assert "line 4: unreadable JSON" in problems  # nested 100,000 deep
    assert "line 5: unreadable JSON" in problems  # a 5,000-digit number
    assert "used before" in problems  # two records with id r1: the second is renamed
    ids = [s.segment_id for s in ingested.segments]
    assert len(ids) == len(set(ids))
    titled = next(s for s in ingested.segments if s.region == "江苏")
    assert titled.title == "标题 第二行"  # one line, no terminal escape


def test_duplicates_are_counted_once_whatever_the_script(ingested) -> None:
    sources = [s.source for s in ingested.segments]
    assert sources.count("corpus/copy_a.txt") == 1
    assert "corpus/copy_b.txt" not in sources and "corpus/copy_c.txt" not in sources
    reason = _reports(ingested)["copy_c.txt"].reason
    assert "same text as corpus/copy_a.txt" in reason


def test_sidecar_folder(ingested) -> None:
    by_source = {s.source: s for s in ingested.segments}
    assert by_source["corpus/sub/a.txt"].region == ""  # 火星 is reported, not guessed
    assert by_source["corpus/sub/b.txt"].region == "广东"
    assert "ghost.txt" in " ".join(_reports(ingested)["sub/metadata.csv"].problems)


def test_a_link_loop_given_as_the_input_is_reported_not_raised(corpus: Path) -> None:
    result = ingest([corpus / "loop_a.txt"])
    assert [(r.status, r.reason) for r in result.inputs] == [("skipped", "symbolic link loop — not read")]


def test_a_20_mb_single_line_is_ingested_and_chunked_in_bounded_pieces(tmp_path: Path) -> None:
    from pipeline.nlp import CHUNK_CHARS, chunks

    sentence = "推动制造业高端化、智能化、绿色化发展，深刻领悟“两个确立”的决定性意义；"
    line = (sentence * (7_000_000 // len(sentence) + 1))[:7_000_000]  # 21 MB of UTF-8, no line break
    path = tmp_path / "2018_江苏.txt"
    path.write_bytes(line.encode())
    assert path.stat().st_size > 20_000_000
    started = time.perf_counter()
    result = ingest([path])
    ingest_seconds = time.perf_counter() - started
    (segment,) = result.segments
    assert len(segment.text) == 7_000_000 and segment.region == "江苏"
    assert ingest_seconds < 20
    pieces = chunks(segment.text)
    assert "".join(piece for _, piece in pieces) == segment.text
    assert max(len(piece) for _, piece in pieces) <= CHUNK_CHARS
    assert len(pieces) < 7_000_000 / CHUNK_CHARS * 1.1  # cut at the sentence ends near the limit
    no_ends = chunks("两个确立" * 3000)  # no sentence end at all: hard cuts
    assert max(len(piece) for _, piece in no_ends) <= CHUNK_CHARS


@pytest.mark.parametrize(
    "text",
    [
        "<p>" + "<script>" * 50_000 + "两个确立",
        "<div>" + "<!--" * 50_000 + "两个确立",
        "日" + ":" * 300_000,
        "'" + "两个确立" * 100_000,
    ],
)
def test_pathological_text_is_cleaned_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    normalize(text)
    assert time.perf_counter() - started < 3


# --------------------------------------------------------------------------- whole run


@pytest.fixture(scope="module")
def hostile_run(corpus: Path, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    work = tmp_path_factory.mktemp("hostile_run")
    out = work / "out"
    tifa = Path(sys.executable).with_name("tifa")
    completed = subprocess.run(
        [
            str(tifa),
            "run",
            str(corpus),
            "--out",
            str(out),
            "--quiet",
            "--workers",
            "1",
            "--set",
            f"cache_dir={work / 'cache'}",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return out, completed


@pytest.mark.slow
def test_run_completes_and_the_manifest_lists_every_file(hostile_run) -> None:
    out, _ = hostile_run
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    entries = {entry["source"].removeprefix("corpus/"): entry for entry in manifest["inputs"]}
    assert set(entries) == {_display(name) for name in HOSTILE}
    for name, (status, _) in HOSTILE.items():
        entry = entries[_display(name)]
        assert entry["status"] == status, entry
        assert entry["status"] == "processed" or entry["reason"]
    assert manifest["counts"]["skipped"] == sum(status == "skipped" for status, _ in HOSTILE.values())


@pytest.mark.slow
def test_stderr_says_each_skip_in_one_line(hostile_run) -> None:
    _, completed = hostile_run
    lines = completed.stderr.splitlines()
    assert all(line.startswith("tifa: ") for line in lines), lines
    assert "\x1b" not in completed.stderr
    for name, (status, _) in HOSTILE.items():
        if status == "skipped":
            mentions = [line for line in lines if f"corpus/{_display(name)}: skipped" in line]
            assert len(mentions) == 1, (name, mentions)


@pytest.mark.slow
def test_traditional_and_simplified_texts_share_phrases(hostile_run) -> None:
    out, _ = hostile_run
    with (out / "phrases.csv").open(encoding="utf-8-sig", newline="") as handle:
        phrases = {row["phrase"]: row for row in csv.DictReader(handle)}
    regions = set(phrases["两个确立"]["regions"].split(";"))
    assert {"香港", "澳门", "广东", "上海"} <= regions


@pytest.mark.slow
def test_graph_files_are_valid_xml_and_report_escapes_corpus_text(hostile_run) -> None:
    out, _ = hostile_run
    for name in ("cooccurrence.graphml", "cooccurrence.gexf", "region_phrase.graphml"):
        ET.parse(out / name)  # raises on an illegal character or broken markup
    report = out / "report.html"
    if report.exists():  # the report stage escapes every corpus string
        page = report.read_text(encoding="utf-8")
        assert "<img src=x" not in page and "<x-tifa>" not in page
        assert "&lt;img src=x" in page


@pytest.mark.slow
def test_nothing_is_written_outside_out(hostile_run) -> None:
    out, _ = hostile_run
    work = out.parent
    assert sorted(path.name for path in work.iterdir()) == ["cache", "out"]  # no .out.lock left
    for path in out.rglob("*"):
        assert path.resolve().is_relative_to(out.resolve())
        assert path.parent == out  # flat: no file name is built from a corpus path


def test_traditional_article_splits_at_speakers_and_keeps_each_original(tmp_path: Path) -> None:
    article = (
        "記者報道：各地熱議大會報告\n"
        "廣東省工業和信息化廳黨組書記、廳長王小明：\n"
        "我們要深刻領悟「兩個確立」的決定性意義。\n"
        "四川省經濟和信息化廳廳長李大華：\n"
        "推動製造業高端化、智能化、綠色化發展。\n"
    )
    (tmp_path / "article.txt").write_text(article, encoding="big5", errors="strict")
    result = ingest([tmp_path])
    lead, first, second = result.segments
    assert [(s.region, s.speaker) for s in (first, second)] == [("广东", "王小明"), ("四川", "李大华")]
    assert first.text == "我们要深刻领悟「两个确立」的决定性意义。"
    assert result.original_text(first) == "我們要深刻領悟「兩個確立」的決定性意義。"
    assert result.original_text(second) == "推動製造業高端化、智能化、綠色化發展。"
    assert result.original_text(lead) == "記者報道：各地熱議大會報告"


def test_problems_of_one_file_are_capped_and_counted(tmp_path: Path) -> None:
    lines = ['{"text": "推动高质量发展。", "region": "上海"}'] + ["{broken"] * 30
    (tmp_path / "many.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (report,) = ingest([tmp_path]).inputs
    assert report.status == "processed" and report.problems_total == 30
    assert len(report.problems) == 21 and report.problems[-1] == "… and 10 more problems of this file"
