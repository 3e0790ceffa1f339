from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

from pipeline.cli import _parser, main


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_make_run_command_on_seeds(seed_run: Path) -> None:
    rows = _csv(seed_run / "segments.csv")
    speakers = {row["region"]: row["speaker"] for row in rows if row["region"]}
    assert speakers == {
        "上海": "吴金城",
        "山东": "张海波",
        "安徽": "冯克金",
        "河北": "付振波",
        "江西": "杨贵平",
        "重庆": "蓝庆华",
        "山西": "武宏文",
        "甘肃": "盛云峰",
    }
    assert sum(1 for row in rows if not row["region"]) == 1  # the lead
    assert all(int(row["sentences"]) > 0 and int(row["chars"]) > 0 for row in rows)
    manifest = json.loads((seed_run / "manifest.json").read_text(encoding="utf-8"))
    assert [entry["status"] for entry in manifest["inputs"]] == ["processed"]
    assert manifest["counts"]["segments"] == 9 and manifest["counts"]["regions"] == 8
    assert manifest["versions"]["spacy"] and "timings" in manifest


def test_every_command_has_help() -> None:
    parser = _parser()
    commands = parser._subparsers._group_actions[0].choices
    assert "run" in commands
    for name, sub in commands.items():
        assert sub.description or sub.format_help(), name
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0


def test_missing_input_is_one_line_and_nonzero(tmp_path: Path, capsys) -> None:
    code = main(["run", str(tmp_path / "missing"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "missing" in err[0] and "E021" in err[0]
    assert not (tmp_path / "out").exists()


def test_only_bad_inputs_fail_cleanly(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    code = main(["run", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "E020" in err and "Traceback" not in err


@pytest.mark.slow
def test_bad_input_reported_on_stderr_and_in_manifest(tmp_path: Path, capsys) -> None:
    (tmp_path / "good.txt").write_text("推动高质量发展。", encoding="utf-8")
    (tmp_path / "broken.jsonl").write_text('{"text": "坚持稳中求进。"}\n{oops\n', encoding="utf-8")
    code = main(["run", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"])
    assert code == 0
    err = capsys.readouterr().err
    assert "broken.jsonl" in err and "line 2" in err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert {Path(entry["source"]).name: entry["status"] for entry in manifest["inputs"]} == {
        "broken.jsonl": "processed",
        "good.txt": "processed",
    }


CONTRACT = [
    "manifest.json",
    "segments.csv",
    "phrases.csv",
    "hits.csv",
    "adoption.csv",
    "keyness.csv",
    "similarity.csv",
    "clusters.csv",
    "cooccurrence.graphml",
]


@pytest.mark.slow
def test_seed_run_writes_the_output_contract(seed_run: Path) -> None:
    for name in CONTRACT:
        assert (seed_run / name).is_file(), name
    phrases = _csv(seed_run / "phrases.csv")
    assert list(phrases[0])[:7] == ["phrase", "kind", "count", "segments", "regions_n", "regions", "variants"]
    kinds = {row["kind"] for row in phrases}
    assert {"quoted", "numbered", "enumeration", "statistical"} <= kinds


@pytest.mark.slow
def test_seed_adoption_and_clusters(seed_run: Path) -> None:
    adoption = _csv(seed_run / "adoption.csv")
    overall = [row for row in adoption if not row["year"]]

    def regions_using(phrase: str) -> set[str]:
        return {row["region"] for row in overall if row["phrase"] == phrase and int(row["count"]) > 0}

    assert regions_using("两个确立") == {"上海", "江西", "甘肃"}
    assert regions_using("落地生根、开花结果") == {"山东", "重庆", "山西"}
    similarity = _csv(seed_run / "similarity.csv")
    regions = [row["region"] for row in similarity]
    assert len(regions) == 8
    for row in similarity:
        assert float(row[row["region"]]) == pytest.approx(1.0)
        for other in regions:
            assert float(row[other]) == pytest.approx(
                float(next(r for r in similarity if r["region"] == other)[row["region"]])
            )
    clusters = {row["region"]: row["cluster"] for row in _csv(seed_run / "clusters.csv")}
    assert set(clusters) == set(regions) and all(clusters.values())


@pytest.mark.slow
def test_seed_graph_loads_in_networkx(seed_run: Path) -> None:
    import networkx as nx

    graph = nx.read_graphml(seed_run / "cooccurrence.graphml")
    assert 5 <= graph.number_of_nodes() <= 300
    labels = {data["label"] for _, data in graph.nodes(data=True)}
    assert labels <= {row["phrase"] for row in _csv(seed_run / "phrases.csv")}
    assert {"两个确立", "两个维护"} <= labels  # said together in 上海, 江西 and 甘肃
    assert all(isinstance(data["weight"], int | float) for *_, data in graph.edges(data=True))
    dynamic = nx.read_gexf(seed_run / "cooccurrence_dynamic.gexf")  # the seed article has no years
    assert sorted(dynamic.nodes(data="label")) == sorted(graph.nodes(data="label"))
    themes = _csv(seed_run / "themes.csv")
    assert sum(int(row["size"]) for row in themes) == graph.number_of_nodes()
    assert {row["region"] for row in _csv(seed_run / "theme_adoption.csv")} <= {
        row["region"] for row in _csv(seed_run / "segments.csv")
    }


@pytest.mark.slow
def test_rerun_with_nothing_changed_keeps_outputs(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "2016_广东.txt").write_text("坚持稳中求进工作总基调，推动高质量发展。", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(corpus), "--out", str(out), "--workers", "1"]) == 0
    first = {path.name: path.read_bytes() for path in out.iterdir()}
    capsys.readouterr()
    assert main(["run", str(corpus), "--out", str(out), "--workers", "1"]) == 0
    assert "nothing changed" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == first
    # A run killed right after its swap leaves its lock and staging folder beside out/; a rerun
    # that keeps the outputs still leaves nothing there.
    (tmp_path / ".out.lock").write_bytes(b"")
    (tmp_path / ".out.partial").mkdir()
    (tmp_path / ".out.partial" / "phrases.csv").write_text("phrase\n", encoding="utf-8")
    assert main(["run", str(corpus), "--out", str(out), "--workers", "1"]) == 0
    assert "nothing changed" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["corpus", "out"]
    assert {path.name: path.read_bytes() for path in out.iterdir()} == first
    (corpus / "2017_广西.txt").write_text("推动高质量发展。", encoding="utf-8")
    assert main(["run", str(corpus), "--out", str(out), "--workers", "1"]) == 0
    assert "nothing changed" not in capsys.readouterr().err
    assert "广西" in (out / "segments.csv").read_text(encoding="utf-8-sig")


def _big_corpus(folder: Path, files: int = 60, chars: int = 30_000) -> Path:
    """Distinct texts (the seed's sentences shuffled), long enough that segmenting takes seconds."""
    import random

    folder.mkdir()
    sentences = [s + "。" for s in next(SEEDS.glob("*.txt")).read_text(encoding="utf-8").split("。") if s]
    for number in range(files):
        rng = random.Random(number)
        text = ""
        while len(text) < chars:
            text += rng.choice(sentences)
        (folder / f"{2012 + number % 6}_{number:03d}.txt").write_text(text, encoding="utf-8")
    return folder


def _interrupt(corpus: Path, out: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Start `tifa run`, press Ctrl-C (SIGINT to its process group, as a terminal does) while it
    segments, and return what it printed and how long it took to exit."""
    import os
    import signal
    import time

    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "run",
            str(corpus),
            "--out",
            str(out),
            "--workers=2",
            "--no-cache",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    partial = out.with_name(f".{out.name}.partial")
    deadline = time.monotonic() + 120
    while not partial.exists():  # ingest is done, the staging folder made: segmentation starts
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.02)
    time.sleep(1.0)
    assert run.poll() is None, "the run ended before it could be interrupted"
    pressed = time.monotonic()
    os.killpg(run.pid, signal.SIGINT)
    stdout, stderr = run.communicate(timeout=60)
    return subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr), time.monotonic() - pressed


@pytest.mark.slow
def test_ctrl_c_says_what_out_holds_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    corpus = _big_corpus(tmp_path / "big")
    small = tmp_path / "small"
    small.mkdir()
    (small / "2016_广东.txt").write_text("坚持稳中求进工作总基调，推动高质量发展。", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(small), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "out", "small"]  # no .out.lock
    previous = (out / "manifest.json").read_bytes()

    for target, says in (
        (out, f"interrupted — {out}/ still holds the previous complete run"),
        (tmp_path / "new", f"interrupted — nothing was written: {tmp_path / 'new'}/ holds no run"),
    ):
        interrupted, seconds = _interrupt(corpus, target)
        print(f"exit {seconds:.2f} s after Ctrl-C")  # the figure; the bound below allows a loaded machine
        assert interrupted.returncode == 130, interrupted.stderr
        assert interrupted.stderr.strip().splitlines()[-1] == f"tifa: {says}", interrupted.stderr
        assert "Traceback" not in interrupted.stderr
        assert seconds < 3
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "out", "small"]  # no .partial, .lock
    assert (out / "manifest.json").read_bytes() == previous


def test_a_failed_run_leaves_no_lock_or_partial_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    import pipeline.run

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "2016_广东.txt").write_text("推动高质量发展。", encoding="utf-8")

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # as Ctrl-C during segmentation

    monkeypatch.setattr(pipeline.run.engine, "analyse_corpus", broken)
    out = tmp_path / "out"
    assert main(["run", str(corpus), "--out", str(out), "--workers", "1"]) == 130
    assert capsys.readouterr().err.strip() == f"tifa: interrupted — nothing was written: {out}/ holds no run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


@pytest.mark.slow
def test_n_clusters_above_the_regions_is_said_to_be_capped(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for region in ("广东", "广西", "上海", "山东"):
        (corpus / f"2016_{region}.txt").write_text(
            f"{region}坚持稳中求进工作总基调，推动高质量发展。", encoding="utf-8"
        )
    out = tmp_path / "out"
    assert main(["run", str(corpus), "--out", str(out), "--workers", "1", "--set", "n_clusters=100"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning: n_clusters" in line]
    assert warnings == [
        "tifa: warning: n_clusters=100 but only 4 region(s) have text: capped at 4 clusters "
        "(in clusters_by_year.csv, at the regions with text that year)"
    ]
    assert len({row["cluster"] for row in _csv(out / "clusters.csv")}) <= 4


@pytest.mark.slow
def test_warnings_are_given_at_the_end_of_ingest_before_the_long_stages(tmp_path: Path, monkeypatch) -> None:
    from pipeline import run as run_module
    from pipeline.config import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "2016_广东.txt").write_text("坚持新发展理念，推动高质量发展。", encoding="utf-8")
    (corpus / "notes.txt").write_bytes(b"\x00\x01binary")
    received: list[str] = []

    def segmenting(*args, **kwargs):
        assert received, "warnings were not given before segmentation started"
        raise RuntimeError("stop here")

    monkeypatch.setattr(run_module.engine, "analyse_corpus", segmenting)
    with pytest.raises(RuntimeError, match="stop here"):
        run_module.run([str(corpus)], tmp_path / "out", Settings(), on_warnings=received.extend, progress=False)
    assert any("notes.txt" in warning for warning in received)
