"""Scale: the Dask engine gives the local engine's outputs, and the benchmark's repeated corpus."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from conftest import SEEDS

from pipeline.bench import repeat_corpus
from pipeline.config import Settings
from pipeline.ingest import ingest
from pipeline.run import run

pytestmark = pytest.mark.slow  # whole runs, one on a Dask cluster

# Many small tasks, so both Dask workers get some.
SMALL_TASKS = {"workers": 2, "batch_size": 2, "chunk_chars": 600, "cache": False}


def _without_engine(name: str, data: bytes) -> bytes:
    """The one place an engine may show: its name among the settings (manifest, report)."""
    if name == "manifest.json":
        manifest = json.loads(data)
        manifest.pop("timings", None)
        manifest["settings"].pop("engine")
        return json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode()
    if name == "report.html":
        return re.sub(rb"engine</td>\s*<td[^>]*>[^<]*</td>", b"engine</td><td></td>", data)
    return data


def assert_same_outputs(local: Path, other: Path, normalise=lambda name, data: data) -> None:
    """Every file of two runs' folders equal but for the engine (``normalise``: what else may differ)."""
    names = sorted(path.name for path in local.iterdir())
    assert names == sorted(path.name for path in other.iterdir())
    for name in names:
        a, b = (local / name).read_bytes(), normalise(name, (other / name).read_bytes())
        assert _without_engine(name, a) == _without_engine(name, b), name


def test_dask_engine_gives_the_local_engines_outputs(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    local = run([str(SEEDS)], tmp_path / "local", Settings(engine="local", **SMALL_TASKS), progress=False)
    dask = run([str(SEEDS)], tmp_path / "dask", Settings(engine="dask", **SMALL_TASKS), progress=False)
    assert local.segments == dask.segments > 1 and local.sentences == dask.sentences > 10
    assert_same_outputs(tmp_path / "local", tmp_path / "dask")
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["engine"] == "dask"


def test_repeated_corpus_keeps_every_copy(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = (SEEDS / next(p.name for p in SEEDS.iterdir() if p.suffix == ".txt")).read_text(encoding="utf-8")
    (corpus / "2015_上海.txt").write_text(text, encoding="utf-8")
    (corpus / "2016_广东.txt").write_text(text.replace("上海", "广东"), encoding="gb18030")
    (corpus / "notes.txt").write_text("不在清单里。", encoding="utf-8")
    with (corpus / "metadata.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "region", "year"])
        writer.writerows([["2015_上海.txt", "上海", "2015"], ["2016_广东.txt", "广东", "2016"]])
    repeated = repeat_corpus(corpus, 3, tmp_path / "x3")
    files = sorted(path.name for path in repeated.iterdir() if path.suffix == ".txt")
    assert len(files) == 6 and "notes_copy1.txt" not in files
    result = ingest([str(repeated)])
    processed = [r for r in result.inputs if r.status == "processed" and r.source.endswith(".txt")]
    assert len(processed) == 6  # no copy is dropped as a duplicate of another
    tails = {
        (repeated / name).read_bytes().decode("utf-8" if "上海" in name else "gb18030")[-16:]
        for name in files
    }
    assert len(tails) == 6  # each copy ends with its own line
    single = ingest([str(corpus)])
    assert sum(map(len, (s.text for s in result.segments))) > 3 * sum(
        map(len, (s.text for s in single.segments))
    )


def test_benchmark_report_states_each_target() -> None:
    from pipeline.bench import Measure, report

    def cold(seconds: float, grams: float) -> Measure:
        stages = {"phrases_grams": grams, "nlp": 20.0, "phrases": 4.0}
        return Measure("tifa run, cold", chars=1000, seconds=seconds, stages=stages)

    measures = {  # three pairs of runs of the corpus: the median pair ratio is the figure
        "bare1.1": Measure("bare nlp.pipe", chars=1000, seconds=20.0),
        "cold1.1": cold(25.0, 2.0),
        "bare1.2": Measure("bare nlp.pipe", chars=1000, seconds=10.0),
        "cold1.2": cold(30.0, 2.0),
        "bare1.3": Measure("bare nlp.pipe", chars=1000, seconds=20.0),
        "cold1.3": cold(24.0, 1.0),
        "warm1": Measure("tifa run, warm", chars=1000, seconds=2.0),
        "bare4": Measure("bare nlp.pipe, 4×", chars=4000, seconds=80.0),
        "cold4": Measure("tifa run, cold, 4×", chars=4000, seconds=120.0, rss_process_mb=3500.0),
    }
    text = report(measures, 4)
    assert "cold / bare (1×)         1.25   target ≤ 1.3: met   (median of 3 pairs: 1.20, 1.25, 3.00" in text
    assert "warm / cold (1×)         0.08   target ≤ 0.1: met" in text  # against the median cold run
    assert (
        "phrase stage / NLP       0.30   target ≤ 0.3: met   (6.0 s, of which 2.0 s while segmenting" in text
    )
    assert "4× / 1× time           4.80   target ≤ 4.4: NOT met" in text
    assert "4× peak RSS (MB)      3,500   target < 3,072: NOT met" in text
    assert "NLP stage alone / bare: 1.00" in text


def test_scale_copies_are_other_texts_with_later_years(tmp_path: Path) -> None:
    from pipeline.bench import varied

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = ["2015年上海市政府工作报告", "上海市市长 杨雄", "2015年1月25日"]
    lines += [f"第{n}段：全市生产总值增长{n}.5%，坚持稳中求进工作总基调。" for n in range(1, 9)]
    (corpus / "a.txt").write_text("\n".join(lines), encoding="utf-8")
    (corpus / "b.txt").write_text("广东省人民政府\n省长\n2016年\n推进供给侧结构性改革。", encoding="utf-8")
    (corpus / "metadata.csv").write_text("file,region,year\na.txt,上海,2015\nb.txt,广东,2016\n", encoding="utf-8")
    repeated = repeat_corpus(corpus, 3, tmp_path / "x3", vary=True)
    copies = [(repeated / f"a_copy{k}.txt").read_text(encoding="utf-8").splitlines() for k in (1, 2, 3)]
    assert copies[0][:-1] == lines  # the first copy is the text itself
    assert all(copy[:3] == lines[:3] for copy in copies)  # the opening lines (region, year) stay
    assert len({tuple(copy) for copy in copies}) == 3  # but every copy is another text
    assert sorted(copies[1][3:-1]) != sorted(lines[3:])  # digits moved on, not only paragraphs moved
    assert varied("第1段：增长7.5%。", 2) == "第1段：增长7.5%。"  # the first three lines never change
    assert varied("题\n人\n日\n增长7.5%。", 2) == "题\n人\n日\n增长9.7%。"
    with (repeated / "metadata.csv").open(encoding="utf-8") as handle:
        years = {row["file"]: row["year"] for row in csv.DictReader(handle)}
    assert years["a_copy1.txt"] == "2015" and years["a_copy2.txt"] == "2017" and years["b_copy3.txt"] == "2020"
    keys = {segment.text for segment in ingest([str(repeated)]).segments}
    assert len(keys) == 6  # six different texts: no copy is free for the cache or the duplicate check


def test_scale_report_states_each_target() -> None:
    from pipeline.bench import Measure, scale_report

    one = Measure("tifa run, cold, 1×", chars=12_000_000, seconds=600.0, rss_total_mb=2800.0)
    one.roles_mb, one.during_mb = {"main": 1500.0, "workers": 1400.0}, {"phrases": 2500.0}
    many = Measure("tifa run, cold, 4×", chars=48_000_000, seconds=2700.0, rss_total_mb=4500.0)
    bare = Measure("bare nlp.pipe, 4×", chars=48_000_000, seconds=2000.0)
    text = scale_report({"cold1": one, "bare": bare, "cold": many}, 4)
    assert "peak by process: main 1,500 MB, workers 1,400 MB" in text
    assert "while each stage ran: phrases 2,500 MB" in text
    assert "peak memory at 48.0 M characters     4,500 MB   target < 4,096: NOT met" in text
    assert "time(4.00× characters) / time(1×)    4.50   target ≤ 4.4: NOT met" in text
    assert "cold / bare at 48.0 M characters    1.35   target ≤ 1.3: NOT met" in text
