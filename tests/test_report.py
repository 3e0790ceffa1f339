"""report.html: self-contained, escaped, deterministic, complete — from one small `tifa run`."""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import pytest
from conftest import SEEDS

from pipeline.cli import main
from pipeline.io_utils import write_csv
from pipeline.outputs import plain_csv
from pipeline.report import ReportLimits, build_report, write_report
from pipeline.report.data import diffusion

SCRIPT = "<script>alert(1)</script>"
NASTY = '"&<>'
TEXT = (
    f"各地要坚持{SCRIPT}不动摇，牢记{NASTY}符号也要转义。全面贯彻新发展理念，推动高质量发展，落实“两个确立”。"
)
RECORDS = [
    {
        "region": "上海",
        "year": 2015,
        "title": f"{SCRIPT}{NASTY}",
        "speaker": "<b onmouseover=alert(3)>张三</b>",
        "text": TEXT + "上海要建设国际经济中心。",
    },
    {"region": "广东", "year": 2016, "title": "广东报告", "text": TEXT + "广东要深化粤港澳合作。"},
    {
        "region": "北京",
        "year": 2016,
        "title": "北京报告",
        "text": "北京要落实“两个确立”，全面贯彻新发展理念。",
    },
]
# fmt: off
SECTIONS = ["overview", "phrases", "adoption", "keyness", "diffusion", "reuse", "similarity", "graph",
            "contexts", "files"]
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "p", "nav", "a", "main", "section", "h2",
    "h3", "h4", "div", "b", "span", "em", "i", "code", "table", "thead", "tbody", "tr", "th", "td", "details",
    "summary", "input", "select", "option", "ol", "li", "figure", "figcaption", "img", "svg", "line", "text",
    "rect", "polyline", "circle", "script",
}
# fmt: on


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """`tifa run` on the seed article plus texts full of markup (in text, title, speaker and file name)."""
    root = tmp_path_factory.mktemp("report")
    corpus = root / "corpus"
    corpus.mkdir()
    for path in SEEDS.iterdir():
        shutil.copy(path, corpus / path.name)
    (corpus / "evil.jsonl").write_text(
        "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in RECORDS), encoding="utf-8"
    )
    (corpus / "2017_重庆<b>x.txt").write_text(TEXT + "重庆要建设内陆开放高地。", encoding="utf-8")
    out = root / "out"
    code = main(["run", str(corpus), "--out", str(out), "--quiet", "--workers", "1"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def report(out: Path) -> str:
    return (out / "report.html").read_text(encoding="utf-8")


def _escaped(value: str) -> str:
    """``value`` as the report's templates escape it (autoescape: & < > " ' as entities)."""
    return str(markupsafe.escape(value))


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.ids += [value for name, value in attrs if name == "id" and value]

    def handle_data(self, data):
        self.text.append(data)


def _parse(report: str) -> _Collect:
    parser = _Collect()
    parser.feed(report)
    parser.close()
    return parser


def _assert_safe(report: str) -> _Collect:
    """No markup from the corpus is live: one script (the report's own), no event handlers, known tags."""
    assert re.search(r"<script[^>]*>\s*alert", report, re.IGNORECASE) is None
    assert report.count("<script") == 1
    parsed = _parse(report)
    for tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    return parsed


def test_corpus_markup_from_a_whole_run_is_only_ever_escaped(out: Path, report: str) -> None:
    parsed = _assert_safe(report)
    assert "<b onmouseover" not in report and "<b>x" not in report
    assert "2017_重庆&lt;b&gt;x.txt" in report  # a file name, escaped
    assert "牢记&#34;&amp;&lt;&gt;符号" in report  # running text (contexts, passages), escaped
    # whatever markup ingest let through into titles, speakers and sources is shown as text
    with (out / "segments.csv").open(encoding="utf-8-sig", newline="") as handle:
        values = {row[key] for row in csv.DictReader(handle) for key in ("title", "speaker", "source")}
    marked = {value for value in values if "<" in value or "&" in value}
    assert marked, "the test corpus should reach segments.csv with some markup"
    text = "".join(parsed.text)
    for value in marked:
        assert _escaped(value) in report and value in text, value


def test_markup_in_every_field_is_escaped(out: Path, tmp_path: Path) -> None:
    """Every CSV, text and graph label the report reads, poisoned with a script: still only text."""
    poisoned = tmp_path / "out"
    shutil.copytree(out, poisoned)
    target = "新发展理念"
    for path in poisoned.iterdir():
        if path.suffix in {".csv", ".jsonl"}:
            path.write_text(
                path.read_text(encoding="utf-8").replace(target, SCRIPT + target), encoding="utf-8"
            )
        elif path.suffix == ".graphml":
            escaped = html.escape(SCRIPT, quote=False)
            path.write_text(
                path.read_text(encoding="utf-8").replace(target, escaped + target), encoding="utf-8"
            )
    report = build_report(poisoned)
    _assert_safe(report)
    shown = _escaped(SCRIPT + target)
    for section in ("phrases", "adoption", "contexts", "reuse"):
        body = re.search(rf'<section id="{section}">.*?</section>', report, re.DOTALL)
        assert body is not None and (shown in body.group() or _escaped(SCRIPT) in body.group()), section


def test_self_contained(report: str) -> None:
    assert "Content-Security-Policy" in report and "default-src 'none'" in report
    parsed = _parse(report)
    for tag, attrs in parsed.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, name, value[:80])
    assert "@import" not in report and "url(" not in report
    assert len(report.encode("utf-8")) < 3_000_000


def test_every_section_and_link(report: str) -> None:
    parsed = _parse(report)
    ids = set(parsed.ids)
    assert set(SECTIONS) <= ids
    targets = {
        attrs["href"][1:]
        for tag, attrs in parsed.tags
        if tag == "a" and (attrs.get("href") or "").startswith("#")
    }
    assert targets and targets <= ids, targets - ids
    contexts = [
        attrs for tag, attrs in parsed.tags if tag == "details" and "kwic" in (attrs.get("class") or "")
    ]
    assert len(contexts) >= 20
    # figures from cluster.py and graph.py are inline
    assert report.count("data:image/svg+xml;base64,") == 2 and "data:image/png;base64," in report
    assert "cooccurrence.graphml" in report and "community" in report  # the Gephi note
    assert "2015–2016" in report or "2015–2017" in report  # years in the overview
    assert 'class="chart"' in report  # diffusion charts: the corpus has three years


def test_contexts_show_the_phrase_in_its_sentence(out: Path, report: str) -> None:
    phrases = (out / "phrases.csv").read_text(encoding="utf-8-sig")
    assert "新发展理念" in phrases
    block = re.search(
        r'<details id="c\d+" class="kwic" lang="zh-Hans"><summary><b>[^<]*新发展理念[^<]*</b>.*?</details>',
        report,
    )
    assert block is not None
    assert '<td class="m">新发展理念</td>' in block.group() or "新发展理念</td>" in block.group()


def test_deterministic_and_rebuildable(out: Path, report: str, capsys) -> None:
    assert build_report(out) == report
    assert main(["report", "--out", str(out)]) == 0
    assert (out / "report.html").read_text(encoding="utf-8") == report
    assert "report.html" in capsys.readouterr().err


def test_limits_cap_the_tables(out: Path) -> None:
    small = build_report(out, ReportLimits(phrases=5, contexts_per_phrase=1, reuse_rows=1))
    table = re.search(r'<table id="t-phrases".*?</table>', small, re.DOTALL)
    assert table is not None and table.group().count("<tr id=") == 5
    assert len(small) < len(build_report(out))


def test_report_of_a_partial_folder(tmp_path: Path, out: Path) -> None:
    """A folder with only some files (an older run, outputs switched off) still gives a report."""
    for name in ("manifest.json", "segments.csv", "phrases.csv"):
        shutil.copy(out / name, tmp_path / name)
    html = (write_report(tmp_path)).read_text(encoding="utf-8")
    assert "No adoption table" in html and "No contexts" in html and '<section id="phrases">' in html


def _quote_all(path: Path) -> None:
    """Rewrite a CSV with every field quoted: the same table, which only the csv module can read."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)


def test_fast_readers_match_the_csv_module(out: Path, report: str, tmp_path: Path) -> None:
    """The large CSVs of a run are searched as bytes, in the order the stages write them; the same
    files fully quoted go through the csv module instead and must give the very same report."""
    big = ("hits.csv", "adoption.csv", "keyness.csv", "diffusion.csv")
    assert all(plain_csv(out / name) is not None for name in big)
    quoted = tmp_path / "out"
    shutil.copytree(out, quoted)
    for path in quoted.glob("*.csv"):
        _quote_all(path)
    assert all(plain_csv(quoted / name) is None for name in big)
    assert build_report(quoted) == report


DIFFUSION = ["phrase", "year", "regions_using", "regions_with_text", "share_using", "adopted_cumulative"]
DIFFUSION += [
    "regions_observed_cumulative",
    "share_adopted_cumulative",
    "first_year",
    "first_regions",
    "using",
]


def test_diffusion_reads_first_and_last_years_alike(tmp_path: Path) -> None:
    """Blocks of one row per year (as compare.diffusion writes them) are read by their first and last
    rows; a file of another shape, or quoted, is read row by row: the same phrases and curves."""
    rows = [  # sorted by phrase, then year
        ["两个确立", 2015, 0, 2, 0, 0, 2, 0, 2016, "上海;广东", ""],
        ["两个确立", 2016, 2, 2, 1, 2, 2, 1, 2016, "上海;广东", "上海;广东"],
        ["四个意识", 2015, 1, 2, 0.5, 1, 2, 0.5, 2015, "上海", "上海"],
        ["四个意识", 2016, 0, 2, 0, 1, 2, 0.5, 2015, "上海", ""],
        ["新发展理念", 2015, 1, 2, 0.5, 1, 2, 0.5, 2015, "广东", "广东"],
        ["新发展理念", 2016, 2, 2, 1, 2, 2, 1, 2015, "广东", "上海;广东"],
    ]
    ranks = {"新发展理念": 1, "两个确立": 2, "四个意识": 3}
    plain, quoted, ragged = (tmp_path / name for name in ("plain", "quoted", "ragged"))
    for folder in (plain, quoted, ragged):
        folder.mkdir()
    write_csv(plain / "diffusion.csv", DIFFUSION, rows)
    found = diffusion(plain, ranks, 5)
    assert found.years == [2015, 2016]
    assert found.spreading == [("两个确立", 2), ("新发展理念", 1)]  # 四个意识 gained none
    assert found.curves["两个确立"] == {2015: (0.0, 0.0, 0), 2016: (1.0, 1.0, 2)}
    assert found.first == {"两个确立": ("2016", "上海;广东"), "新发展理念": ("2015", "广东")}
    assert diffusion(plain, ranks, 1).spreading == [("两个确立", 2)]
    write_csv(quoted / "diffusion.csv", DIFFUSION, rows)
    _quote_all(quoted / "diffusion.csv")
    assert diffusion(quoted, ranks, 5) == found
    # 四个意识 with its 2016 row twice, none for 2015: blocks of the right size but not of the right
    # years, so every row is read; then it gained one region too
    write_csv(ragged / "diffusion.csv", DIFFUSION, [*rows[:2], rows[3], rows[3], *rows[4:]])
    assert diffusion(ragged, ranks, 5).spreading == [("两个确立", 2), ("新发展理念", 1), ("四个意识", 1)]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():
        pytest.skip("no Chinese font installed for Chromium (apt-get install fonts-noto-cjk)")
    return found


def _headless(chromium: str, *args: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )


def test_renders_chinese_in_headless_chromium(out: Path, tmp_path: Path) -> None:
    """A screenshot is drawn, and the Chinese text is set in a CJK font (not empty boxes)."""
    chromium = _chromium()
    page = (out / "report.html").as_uri()
    png = tmp_path / "report.png"
    _headless(chromium, f"--screenshot={png}", "--window-size=1400,3000", "--hide-scrollbars", page)
    assert png.is_file() and png.stat().st_size > 50_000
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (1400, 3000)
        colours = image.convert("RGB").resize((140, 300)).getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50  # not a blank page
    pdf = tmp_path / "report.pdf"
    _headless(chromium, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page)
    fonts = set(re.findall(rb"/FontName\s*/[A-Z]{6}\+([A-Za-z0-9-]+)", pdf.read_bytes()))
    cjk = {
        f for f in fonts if re.search(rb"CJK|Han|Hei|Song|Ming|Kai|WenQuanYi|Fallback|PingFang|Hiragino", f)
    }
    assert cjk, f"Chinese was not set in a CJK font: {sorted(fonts)}"


PROBE = """<script>
(function(){
var out=[], t=document.getElementById('t-phrases'), rows=function(){return Array.prototype.slice.call(t.tBodies[0].rows);};
var th=t.querySelectorAll('thead th')[3]; th.click(); th.click();
var counts=rows().map(function(r){return +r.cells[3].getAttribute('data-v');});
out.push('sorted='+counts.every(function(v,i){return i===0||counts[i-1]>=v;}));
var box=document.querySelector('input.filter[data-target="#t-phrases tbody tr"]');
box.value='二十大'; box.dispatchEvent(new Event('input'));
var shown=rows().filter(function(r){return r.style.display!=='none';});
out.push('filtered='+(shown.length>0&&shown.length<rows().length&&shown.every(function(r){return r.textContent.indexOf('二十大')>=0;})));
box.value=''; var kind=document.querySelector('select.kindfilter'); kind.value='numbered'; kind.dispatchEvent(new Event('change'));
shown=rows().filter(function(r){return r.style.display!=='none';});
out.push('family='+(shown.length>0&&shown.every(function(r){return r.getAttribute('data-kind')==='numbered';})));
document.body.setAttribute('data-probe',out.join(';'));
})();
</script></body>"""


def test_tables_sort_filter_and_open_contexts_in_chromium(out: Path, report: str, tmp_path: Path) -> None:
    """The inline script works: sorting, the filter box, the family list; a link opens its contexts."""
    chromium = _chromium()
    page = tmp_path / "probe.html"
    page.write_text(report.replace("</body>", PROBE), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        ).stdout  # fmt: skip
    assert 'data-probe="sorted=true;filtered=true;family=true"' in dom
    anchor = re.search(r'href="#(c\d+)"', report)
    assert anchor is not None
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--dump-dom", f"{(out / 'report.html').as_uri()}#{anchor.group(1)}"],
            capture_output=True, text=True, timeout=120, check=False,
        ).stdout  # fmt: skip
    assert re.search(rf'<details id="{anchor.group(1)}"[^>]*\bopen', dom)


# --------------------------------------------------------------------------- many units: cities

CITIES = [  # (file, city, year): two provinces, a county-level name given by its full name
    ("2016_三明.txt", "三明市", 2016),
    ("2017_三明.txt", "三明", 2017),
    ("2016_泉州.txt", "泉州", 2016),
    ("2017_泉州.txt", "350500", 2017),
    ("2016_南京.txt", "南京", 2016),
    ("2017_苏州.txt", "苏州市", 2017),
]
SHARED = "全面贯彻新发展理念，推动高质量发展，落实“两个确立”，积极参与“一带一路”建设，深化供给侧结构性改革。"


@pytest.fixture(scope="module")
def city_out(tmp_path_factory) -> Path:
    """`tifa run --level city` on six short city reports of 福建 and 江苏."""
    root = tmp_path_factory.mktemp("cities")
    corpus = root / "corpus"
    corpus.mkdir()
    lines = ["file,city,year"]
    for index, (name, city, year) in enumerate(CITIES):
        own = (
            "建设海峡西岸经济区，推进生态文明建设。"
            if "三明" in name or "泉州" in name
            else "推进长江经济带建设。"
        )
        (corpus / name).write_text(f"{SHARED}{own}第{index}次会议。{SHARED}", encoding="utf-8")
        lines.append(f"{name},{city},{year}")
    (corpus / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = root / "out"
    assert main(["run", str(corpus), "--out", str(out), "--quiet", "--workers", "1", "--level", "city"]) == 0
    return out


def test_city_report_groups_units_by_province(city_out: Path) -> None:
    report = (city_out / "report.html").read_text(encoding="utf-8")
    parsed = _assert_safe(report)
    heat = re.search(r'<section id="adoption">.*?</section>', report, re.DOTALL)
    assert heat is not None
    groups = re.findall(r'<tr class="group" data-group="([^"]+)">', heat.group())
    assert groups == ["江苏", "福建"]  # GB/T 2260 order: 32 before 35
    assert 'data-group="福建"><th class="rh">三明</th>' in heat.group()
    assert 'data-target="#t-heat tbody tr"' in heat.group()  # the filter box of the grouped heatmap
    regions = re.search(r'<table id="t-regions".*?</table>', report, re.DOTALL)
    assert regions is not None and '<th class="">province</th>' in regions.group()
    ids = set(parsed.ids)
    targets = {
        a["href"][1:] for tag, a in parsed.tags if tag == "a" and (a.get("href") or "").startswith("#")
    }
    assert targets <= ids


def test_many_units_show_similarity_by_province(city_out: Path) -> None:
    """Above ``figure_units`` units the similarity figure gives way to a province × province table
    and a searchable table of each unit's nearest units; the dendrogram stays."""
    few = build_report(city_out)
    assert "Similarity by province" not in few and few.count("data:image/svg+xml;base64,") == 2
    many = build_report(city_out, ReportLimits(figure_units=2))
    _assert_safe(many)
    assert "Similarity by province" in many and 'id="t-nearest"' in many
    assert many.count("data:image/svg+xml;base64,") == 1  # the dendrogram only
    nearest = re.search(r'<table id="t-nearest".*?</table>', many, re.DOTALL)
    assert nearest is not None and nearest.group().count("<tr>") == 1 + 4  # header + 三明 泉州 南京 苏州


def test_city_tables_carry_the_province(city_out: Path) -> None:
    with (city_out / "similarity.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:2] == ["region", "province"] and {row[1] for row in rows[1:]} == {"福建", "江苏"}
    with (city_out / "adoption_matrix.csv").open(encoding="utf-8-sig", newline="") as handle:
        header, provinces = list(csv.reader(handle))[:2]
    assert provinces[0] == "province" and provinces[header.index("三明")] == "福建"
    assert provinces[header.index("苏州")] == "江苏" and provinces[header.index("total")] == ""


def test_kwic_region_takes_a_city_at_city_level(city_out: Path, capsys) -> None:
    for name in ("三明", "三明市", "350400"):
        assert main(["kwic", "一带一路", "--out", str(city_out), "--region", name, "--csv", "-"]) == 0
        rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
        assert len(rows) == 4 and {row["region"] for row in rows} == {"三明"}, name
    assert main(["kwic", "一带一路", "--out", str(city_out), "--region", "福建", "--csv", "-"]) == 0
    assert list(csv.DictReader(capsys.readouterr().out.splitlines())) == []  # no province report here
    assert main(["kwic", "一带一路", "--out", str(city_out), "--region", "三名"]) == 2
    assert "E067" in capsys.readouterr().err
    # tifa phrases --region: the city's own uses, read from adoption.csv (province in its second column)
    from pipeline.kwic import top_phrases

    rows, _ = top_phrases(city_out, region="三明", sort="rank")
    used = {row.phrase: row.region_count for row in rows}
    assert used.get("一带一路") == 4


GROUP_PROBE = """<script>
(function(){
var box=document.querySelector('input.filter[data-target="#t-heat tbody tr"]');
box.value='福建'; box.dispatchEvent(new Event('input'));
var shown=Array.prototype.slice.call(document.querySelectorAll('#t-heat tbody tr'))
  .filter(function(r){return r.style.display!=='none';})
  .map(function(r){return r.querySelector('th').firstChild.textContent.trim();});
document.body.setAttribute('data-probe',shown.join(','));
})();
</script></body>"""


def test_city_heatmap_filters_by_province_in_chromium(city_out: Path, tmp_path: Path) -> None:
    """Typing a province in the heatmap's filter box keeps its heading and its cities."""
    chromium = _chromium()
    page = tmp_path / "probe.html"
    page.write_text(
        (city_out / "report.html").read_text(encoding="utf-8").replace("</body>", GROUP_PROBE), encoding="utf-8"
    )
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        ).stdout  # fmt: skip
    probe = re.search(r'data-probe="([^"]*)"', dom)
    assert probe is not None and probe.group(1).split(",")[0] == "福建"
    assert sorted(probe.group(1).split(",")[1:]) == ["三明", "泉州"]
