"""Benchmark the whole pipeline against bare segmentation (a script, not a test).

    python -m pipeline.bench ../shared/corpora/gov_work_reports [--workers 2] [--copies 4]
    make bench                       # the same on ../shared/corpora/gov_work_reports
    python -m pipeline.bench --grams CORPUS... [--cache DIR]   # the phrase stage's counting and search

On the corpus and on the corpus repeated ``--copies`` times (every file copied under a new name with
one unique line appended, so duplicate detection keeps the copies), it measures, each from one run
in its own subprocess (so peak memory is that run's):

- ``bare``: spaCy + pkuseg alone — ``spacy.load`` of the model and ``nlp.pipe(n_process=WORKERS)``
  over the same pieces the pipeline segments (the texts are read before the clock starts);
- ``cold``: ``tifa run`` end to end (start-up, reading, segmentation, every later stage, writing)
  with an empty NLP cache;
- ``warm``: the same ``tifa run`` again, nothing changed (segmentation read from the cache).

For each: characters, wall seconds, characters per second, and peak RSS — of the largest single
process, and of all its processes together (PSS, sampled every 200 ms). Then the ratios the targets are
about, and the per-stage seconds of the cold runs (from ``manifest.json``; the stages after the phrase
stage run side by side, so their seconds overlap).

The machine's speed drifts from one minute to the next, so the corpus's ``bare`` and ``cold`` runs are
made ``--repeat`` times in turn and the ratio reported is the median of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_RATIO = 1.3  # cold whole pipeline / bare segmentation
TARGET_WARM = 0.10  # warm rerun / cold run
TARGET_LINEAR = 4.4  # 4× corpus time / 1× time
TARGET_RSS_MB = 3 * 1024
SAMPLE_SECONDS = 0.2  # how often the memory of a measured run's processes is read


@dataclass
class Measure:
    label: str
    chars: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # user + system time of the run and the workers it waited for
    rss_process_mb: float = 0.0
    rss_total_mb: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    note: str = ""
    roles_mb: dict[str, float] = field(default_factory=dict)  # peak PSS of each kind of process
    during_mb: dict[str, float] = field(default_factory=dict)  # peak of all processes while a stage ran

    @property
    def rate(self) -> float:
        return self.chars / self.seconds if self.seconds else 0.0


# --------------------------------------------------------------------------- one measured subprocess


def _pss(pid: int) -> int:
    """Proportional set size of one process in bytes (pages shared with its siblings split)."""
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def _tree_rss(pid: int) -> dict[str, int]:
    """Bytes resident in ``pid`` and all its descendants, shared pages split, by kind of process:
    ``main`` (``pid``), each later stage (``tifa-graph``: forked stages name themselves) and
    ``workers`` (segmentation); empty when it is gone.

    Reads ``/proc/PID/smaps_rollup`` (cheap, unlike a full ``smaps``), so sampling takes little
    of the CPU the measured run needs; RSS where that file does not exist.
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with dask.distributed
        return {}
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return {}
    found: dict[str, int] = {}
    for process in processes:
        with contextlib.suppress(psutil.Error, OSError, ValueError):
            name = process.name()
            role = "main" if process.pid == pid else name if name.startswith("tifa-") else "workers"
            try:
                size = _pss(process.pid)
            except FileNotFoundError:
                size = process.memory_info().rss
            found[role] = found.get(role, 0) + size
    return found


_STAGE_LINE = re.compile(r"^tifa: \[[0-9:]+\] (.+?) (started|done)\b")


def _peaks_during(samples: list[tuple[float, int]], lines: list[tuple[float, str]]) -> dict[str, float]:
    """The peak of all processes (MB) while each stage ran, from the run's progress lines
    (``tifa: [m:ss] phrases started`` … ``done``); forked stages are counted from the phrase stage's
    end, when they start (the longest are reported as done last)."""
    began: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    for at, line in lines:
        match = _STAGE_LINE.match(line)
        if not match:
            continue
        name, what = match.groups()
        if what == "started":
            began[name] = at
        else:  # a forked stage has no start line: reuse and texts start with phrases, the rest after
            side = began.get("phrases", at) if name in ("reuse", "texts") else began.get("later", at)
            spans[name] = (began.get(name, side), at)
            if name == "phrases":
                began["later"] = at
    end = samples[-1][0] if samples else 0.0
    if "report" in began:
        spans["report"] = (began["report"], end)
    return {
        name: max((size for at, size in samples if start <= at <= stop), default=0) / 2**20
        for name, (start, stop) in spans.items()
    }


def measure(label: str, command: list[str], *, env: dict[str, str] | None = None) -> tuple[Measure, str]:
    """Run ``command``; its wall time, peak RSS (largest process, and all together) and stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True
    )
    peak_total = 0
    roles: dict[str, int] = {}
    samples: list[tuple[float, int]] = []  # (seconds since start, all processes)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_total
        while not stop.is_set():
            found = _tree_rss(process.pid)
            total = sum(found.values())
            samples.append((time.perf_counter() - started, total))
            peak_total = max(peak_total, total)
            for role, size in found.items():
                roles[role] = max(roles.get(role, 0), size)
            stop.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout_chunks: list[str] = []
    stderr_chunks: list[str] = []
    lines: list[tuple[float, str]] = []  # stderr lines with the second they came

    def read_lines(stream: Any, into: list[str]) -> None:
        for line in stream:
            lines.append((time.perf_counter() - started, line))
            into.append(line)

    readers = [
        threading.Thread(target=lambda: stdout_chunks.append(process.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=read_lines, args=(process.stderr, stderr_chunks), daemon=True),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    for reader in readers:
        reader.join()
    stdout, stderr = "".join(stdout_chunks), "".join(stderr_chunks)
    if process.returncode != 0:
        raise SystemExit(f"{label}: {' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    result = Measure(
        label,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        rss_process_mb=usage.ru_maxrss / 1024,
        rss_total_mb=peak_total / 2**20,
        roles_mb={role: size / 2**20 for role, size in sorted(roles.items())},
        during_mb=_peaks_during(samples, lines),
    )
    return result, stdout


def bare(label: str, corpus: Path | Sequence[Path], workers: int, batch_size: int) -> Measure:
    result, stdout = measure(
        label,
        [
            sys.executable,
            "-m",
            "pipeline.bench",
            *map(str, _paths(corpus)),
            "--bare",
            "--workers",
            str(workers),
            "--batch-size",
            str(batch_size),
        ],
    )
    report = json.loads(stdout.strip().splitlines()[-1])
    result.chars = report["chars"]
    result.seconds = report["seconds"]
    result.note = f"load {report['load']:.1f} s + pipe {report['pipe']:.1f} s; reading untimed"
    return result


def _paths(corpus: Path | Sequence[Path]) -> list[Path]:
    return [corpus] if isinstance(corpus, Path) else list(corpus)


def tifa_run(label: str, corpus: Path | Sequence[Path], out: Path, cache: Path, workers: int) -> Measure:
    command = [
        sys.executable, "-m", "pipeline.cli", "run", *map(str, _paths(corpus)), "--out", str(out),
        "--workers", str(workers), "--set", f"cache_dir={cache}",
    ]  # fmt: skip
    # Progress lines (not --quiet, forced off a terminal) mark when each stage ran: memory by stage.
    result, _ = measure(label, command, env={"TIFA_PROGRESS": "1"})
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    result.chars = manifest["counts"]["characters"]
    result.stages = manifest.get("timings", {})
    return result


def _bare_child(corpus: Sequence[Path], workers: int, batch_size: int) -> None:
    """The ``--bare`` run: read the corpus, then time spaCy loading and ``nlp.pipe`` alone."""
    from pipeline import ingest
    from pipeline.model import model_path
    from pipeline.nlp import CHUNK_CHARS, chunks

    segments = ingest.ingest(list(map(str, corpus))).segments
    pieces = [piece for segment in segments for _, piece in chunks(segment.text, CHUNK_CHARS)]
    started = time.perf_counter()
    import spacy

    nlp = spacy.load(model_path())
    loaded = time.perf_counter()
    for _ in nlp.pipe(pieces, n_process=workers, batch_size=batch_size):
        pass
    done = time.perf_counter()
    report = {
        "chars": sum(map(len, pieces)),
        "seconds": done - started,
        "load": loaded - started,
        "pipe": done - loaded,
    }
    print(json.dumps(report))


# --------------------------------------------------------------------------- the repeated corpus


def repeat_corpus(corpus: Path, copies: int, target: Path, *, vary: bool = False) -> Path:
    """``copies`` copies of every text of ``corpus`` under new names, each with a unique last line.

    A ``metadata.csv`` sidecar is repeated with the new names; files it does not list are left out
    (as ``tifa run`` would skip them). ``vary`` (the scale mode) makes each copy after the first a
    different text, not only a different file, so neither the cache, nor duplicate detection, nor
    the shared-passage search gets a copy for free: see ``varied``. Its years move on by the span of
    the corpus's years, as a longer series of reports would.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    sidecar = corpus / "metadata.csv"
    rows: list[dict[str, str]] = []
    fieldnames: list[str] = []
    if corpus.is_dir() and sidecar.is_file():
        with sidecar.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            fieldnames = list(reader.fieldnames or [])
            rows = list(reader)
        files = [corpus / row["file"] for row in rows]
    elif corpus.is_dir():
        files = sorted(path for path in corpus.rglob("*") if path.suffix in {".txt", ".md"})
    else:
        files = [corpus]
    years = [int(row["year"]) for row in rows if row.get("year", "").isdigit()]
    span = max(years) - min(years) + 1 if years else 0
    copied_rows = []
    for copy in range(1, copies + 1):
        for number, path in enumerate(files):
            data = path.read_bytes()
            try:
                text, encoding = data.decode("utf-8-sig"), "utf-8"
            except UnicodeDecodeError:
                text, encoding = data.decode("gb18030"), "gb18030"
            if vary:
                text = varied(text, copy - 1)
            name = f"{path.stem}_copy{copy}{path.suffix}"
            line = f"\n（基准测试副本{copy}，第{number + 1}篇。）\n"
            (target / name).write_bytes((text.rstrip("\n") + line).encode(encoding))
            if rows:
                row = {**rows[number], "file": name}
                if vary and row.get("year", "").isdigit():
                    row["year"] = str(int(row["year"]) + span * (copy - 1))
                copied_rows.append(row)
    if copied_rows:
        with (target / "metadata.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(copied_rows)
    return target


_DIGITS = "0123456789"


def varied(text: str, shift: int) -> str:
    """``text`` made another text of the same kind (``shift`` 0: unchanged).

    The opening lines (title, government, date: where ingest finds a region) stay; the other
    paragraphs are rotated by ``shift`` quarters, so segments, chunks, cache keys and the pieces the
    shared-passage search meets differ from the other copies, and every figure's digits move on by
    ``shift`` (增长7.5% → 增长9.7% at shift 2), so the n-grams with numbers — what grows with a real
    corpus's vocabulary — are new. The sentences and their words stay Chinese official prose, so
    segmentation costs what it costs on new reports.
    """
    if shift == 0:
        return text
    lines = text.split("\n")
    head, body = lines[:3], lines[3:]
    turn = (shift * len(body)) // 4
    body = body[turn:] + body[:turn]
    table = str.maketrans(_DIGITS, _DIGITS[shift % 10 :] + _DIGITS[: shift % 10])
    return "\n".join([*head, *(line.translate(table) for line in body)])


# --------------------------------------------------------------------------- the report


def _row(measure: Measure) -> str:
    return (
        f"{measure.label:<24} {measure.chars:>12,} {measure.seconds:>9.1f} {measure.rate:>11,.0f}"
        f" {measure.rss_process_mb:>10,.0f} {measure.rss_total_mb:>10,.0f} {measure.cpu_seconds:>8.1f}"
    )


def _verdict(value: float, target: float, below: bool = True) -> str:
    return "met" if (value <= target if below else value >= target) else "NOT met"


def report(measures: dict[str, Measure], copies: int) -> str:
    lines = [
        f"{'run':<24} {'characters':>12} {'wall s':>9} {'chars/s':>11} {'RSS MB':>10} {'all MB':>10} {'CPU s':>8}",
        "-" * 90,
    ]
    for measure in measures.values():
        lines.append(_row(measure) + (f"   ({measure.note})" if measure.note else ""))
    lines.append("")
    lines.append("RSS MB: peak RSS of the largest process; all MB: peak of all its processes together (PSS)")
    lines.append(
        "CPU s: user + system seconds of the whole run (less sensitive than wall time to a busy machine)"
    )
    lines.append("bare: wall and characters/s are for loading + nlp.pipe; CPU s covers its whole process")
    lines.append("")
    one_warm = measures.get("warm1")
    pairs = [
        (measures[f"bare1.{n}"], measures[f"cold1.{n}"]) for n in range(1, 100) if f"cold1.{n}" in measures
    ]
    if pairs:
        # Each cold run right after its bare run: the pair sees the same machine, so the ratio of a
        # pair is steadier than either time; the median of the pairs is the figure.
        ratios = sorted(cold.seconds / bare.seconds for bare, cold in pairs)
        ratio = statistics.median(ratios)
        cpu_ratios = [cold.cpu_seconds / bare.cpu_seconds for bare, cold in pairs if bare.cpu_seconds]
        cpu = f"{statistics.median(cpu_ratios):.2f}" if cpu_ratios else "n/a"
        nlp_ratio = statistics.median(cold.stages.get("nlp", 0.0) / bare.seconds for bare, cold in pairs)
        lines.append(
            f"cold / bare (1×)       {ratio:6.2f}   target ≤ {TARGET_RATIO}: {_verdict(ratio, TARGET_RATIO)}"
            f"   (median of {len(pairs)} pairs: {', '.join(f'{r:.2f}' for r in ratios)};"
            f" CPU seconds {cpu}; NLP stage alone / bare: {nlp_ratio:.2f})"
        )
    colds = sorted((cold for _, cold in pairs), key=lambda cold: cold.seconds)
    one_cold = colds[len(colds) // 2] if colds else None  # the median cold run
    if one_cold and one_cold.stages.get("nlp"):
        # The phrase stage counts its n-grams while the workers segment ("phrases_grams", inside the
        # NLP stage's time) and does the rest after: both parts are the phrase stage's time.
        stages = one_cold.stages
        phrase_seconds = stages.get("phrases", 0.0) + stages.get("phrases_grams", 0.0)
        share = phrase_seconds / stages["nlp"]
        lines.append(
            f"phrase stage / NLP     {share:6.2f}   target ≤ 0.3: {_verdict(share, 0.3)}"
            f"   ({phrase_seconds:.1f} s, of which {stages.get('phrases_grams', 0.0):.1f} s while segmenting;"
            f" NLP stage {stages['nlp']:.1f} s; median cold run)"
        )
    if one_cold and one_warm:
        share = one_warm.seconds / one_cold.seconds
        lines.append(
            f"warm / cold (1×)       {share:6.2f}   target ≤ {TARGET_WARM}: {_verdict(share, TARGET_WARM)}"
        )
    many_bare, many_cold = measures.get("bare4"), measures.get("cold4")
    if many_bare and many_cold:
        ratio = many_cold.seconds / many_bare.seconds
        lines.append(f"cold / bare ({copies}×)       {ratio:6.2f}")
    if one_cold and many_cold:
        growth = many_cold.seconds / one_cold.seconds
        target = TARGET_LINEAR * copies / 4
        lines.append(
            f"{copies}× / 1× time         {growth:6.2f}   target ≤ {target:.1f}: {_verdict(growth, target)}"
        )
        peak = max(many_cold.rss_process_mb, many_cold.rss_total_mb)
        lines.append(
            f"{copies}× peak RSS (MB)     {peak:6,.0f}   target < {TARGET_RSS_MB:,}: {_verdict(peak, TARGET_RSS_MB)}"
        )
    return "\n".join(lines + _stage_table(measures.values()))


def _stage_table(measures: Iterable[Measure]) -> list[str]:
    """Lines of the per-stage seconds of the runs that have them (none when no run has)."""
    runs = [measure for measure in measures if measure.stages]
    if not runs:
        return []
    names = list(dict.fromkeys(name for measure in runs for name in measure.stages))
    lines = ["", "stage seconds (after phrases: side by side)", " " * 25 + " ".join(f"{name:>8}" for name in names)]
    for measure in runs:
        lines.append(f"{measure.label:<24} " + " ".join(f"{measure.stages.get(name, 0.0):>8.1f}" for name in names))
    return lines


# --------------------------------------------------------------------------- the scale mode

SCALE_CORPORA = ("../shared/corpora/gov_work_reports", "../shared/corpora/city_work_reports")
SCALE_COPIES = 4  # 12.1 M characters × 4 ≈ 48 M: "about 50 M"
TARGET_SCALE_MB = 4 * 1024  # peak of all processes at ~50 M characters


def scale_report(measures: dict[str, Measure], copies: int) -> str:
    """The scale mode's figures: memory by process and by stage, growth of time, cold / bare."""
    lines = []
    for key in ("cold1", "cold"):
        run = measures.get(key)
        if run is None:
            continue
        lines.append(
            f"{run.label}: {run.chars:,} characters, {run.seconds:,.0f} s, peak of all processes"
            f" {run.rss_total_mb:,.0f} MB (largest process {run.rss_process_mb:,.0f} MB)"
        )
        lines.append("  peak by process: " + ", ".join(f"{k} {v:,.0f} MB" for k, v in run.roles_mb.items()))
        lines.append(
            "  peak of all processes while each stage ran: "
            + ", ".join(f"{k} {v:,.0f} MB" for k, v in run.during_mb.items())
        )
    one, many, many_bare = measures.get("cold1"), measures.get("cold"), measures.get("bare")
    if many:
        peak = max(many.rss_process_mb, many.rss_total_mb)
        lines.append(
            f"peak memory at {many.chars / 1e6:.1f} M characters  {peak:8,.0f} MB   target < {TARGET_SCALE_MB:,}:"
            f" {_verdict(peak, TARGET_SCALE_MB)}"
        )
    if one and many:
        growth = many.seconds / one.seconds
        chars = many.chars / one.chars
        lines.append(
            f"time({chars:.2f}× characters) / time(1×)  {growth:6.2f}   target ≤ {TARGET_LINEAR}:"
            f" {_verdict(growth, TARGET_LINEAR)}"
        )
    if many and many_bare:
        ratio = many.seconds / many_bare.seconds
        lines.append(
            f"cold / bare at {many.chars / 1e6:.1f} M characters  {ratio:6.2f}   target ≤ {TARGET_RATIO}:"
            f" {_verdict(ratio, TARGET_RATIO)}"
        )
    return "\n".join(lines + _stage_table(measures.values()))


def scale(corpora: Sequence[Path], copies: int, work: Path, workers: int, batch_size: int) -> None:
    """The scale mode: ``corpora`` (12.1 M characters) cold, then repeated ``copies`` times with
    varied text (``repeat_corpus(vary=True)``): bare segmentation and a cold run. ``copies`` 1: the
    corpora alone (to estimate before the long runs)."""
    measures: dict[str, Measure] = {}

    def step(key: str, measure: Measure) -> None:
        measures[key] = measure
        print(_row(measure), flush=True)

    shutil.rmtree(work / "cache-scale1", ignore_errors=True)
    step(
        "cold1", tifa_run("tifa run, cold, 1×", corpora, work / "out-scale1", work / "cache-scale1", workers)
    )
    if copies > 1:
        repeated = [
            repeat_corpus(corpus, copies, work / f"scale-{copies}x" / corpus.name, vary=True)
            for corpus in corpora
        ]
        step("bare", bare(f"bare nlp.pipe, {copies}×", repeated, workers, batch_size))
        shutil.rmtree(work / "cache-scale", ignore_errors=True)
        label = f"tifa run, cold, {copies}×"
        step("cold", tifa_run(label, repeated, work / "out-scale", work / "cache-scale", workers))
    print()
    print(scale_report(measures, copies))


# --------------------------------------------------------------------------- the tables mode

TABLE_STAGES = ("adoption", "keyness", "graph", "write")


def tables_inputs(corpora: Sequence[Path], cache_dir: Path, pickle_path: Path) -> None:
    """Make the inputs of the stages after the phrase stage once (segments, hits, phrases, counts),
    segmentation read from the warm cache ``cache_dir``, and pickle them to ``pickle_path``."""
    import pickle

    from pipeline import api
    from pipeline.config import Settings

    settings = Settings(cache_dir=str(cache_dir))
    result = api.extract_phrases(api.Corpus.from_folder(*corpora), settings)
    inputs = {
        "segments": result.segments,
        "found": result.found,
        "counts": result.counts,
        "settings": settings,
    }
    with pickle_path.open("wb") as handle:
        pickle.dump(inputs, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _table_stage(name: str, inputs: dict[str, Any], out: Path) -> None:
    """One stage of ``run._run_stages`` after the phrase stage, as the run calls it."""
    from pipeline import api, compare, graph, outputs

    segments, found, counts = inputs["segments"], inputs["found"], inputs["counts"]
    hits, phrases = found.hit_table, found.phrases
    if name == "adoption":
        compare.write_adoption(
            out,
            compare.iter_adoption(segments, hits, phrases, include_zero=False, counts=counts),
            compare.adoption_matrix(segments, hits, phrases, counts=counts),
        )
    elif name == "keyness":
        compare.write_keyness(out, compare.iter_keyness(segments, hits, phrases, min_count=1, counts=counts))
        compare.write_diffusion(out, compare.iter_diffusion(segments, hits, phrases, counts=counts))
    elif name == "graph":
        options = api.graph_settings(inputs["settings"])
        cooccurrence = graph.build_graph(phrases, hits, segments, settings=options)
        graph.write_graphml(cooccurrence, out / "cooccurrence.graphml")
        graph.write_gexf(cooccurrence, out / "cooccurrence.gexf")
        graph.write_dynamic_gexf(cooccurrence, out / "cooccurrence_dynamic.gexf")
        graph.write_themes(out, *graph.theme_tables(cooccurrence, hits, segments))
        bipartite = graph.build_bipartite_graph(phrases, hits, segments, settings=options)
        graph.write_graphml(bipartite, out / "region_phrase.graphml")
    else:
        outputs.write_phrases(out / "phrases.csv", phrases)
        outputs.write_hits(out / "hits.csv", hits, segments)
        outputs.write_hits(out / "in_word_hits.csv", found.in_word, segments)


def _status_kb(field_name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _tables_child(pickle_path: Path, name: str, out: Path) -> None:
    """Load the inputs, then run one stage: prints its seconds and its peak memory above the inputs
    (VmHWM, reset after loading, minus VmRSS then), as one JSON line."""
    import gc
    import pickle

    with pickle_path.open("rb") as handle:
        inputs = pickle.load(handle)
    gc.collect()
    gc.freeze()  # as in a forked stage: the inputs are old objects, not scanned again
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")  # resets VmHWM to the current RSS
    base = _status_kb("VmRSS")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    _table_stage(name, inputs, out)
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    peak_mb, inputs_mb = round((peak - base) / 1024, 1), round(base / 1024, 1)
    print(json.dumps({"stage": name, "seconds": round(seconds, 2), "peak_mb": peak_mb, "inputs_mb": inputs_mb}))


def tables(pickle_path: Path, out: Path, stages: Sequence[str] = TABLE_STAGES) -> None:
    """The tables mode: each stage after the phrase stage in its own subprocess on the pickled inputs
    (``tables_inputs``); prints seconds and peak memory above the inputs, writes the files under ``out``."""
    for name in stages:
        command = [sys.executable, "-m", "pipeline.bench", "--tables-child", name, str(pickle_path), str(out)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        print(done.stdout.strip().splitlines()[-1], flush=True)


_PEAKS: list[int] = []  # the peak each enclosing ``_traced`` saw before an inner one reset it


def _traced(label: str, chars: int, call: Callable[[], Any]) -> Any:
    """Run ``call`` under tracemalloc (which sees NumPy's arrays) and print its seconds and the peak it
    allocated above what was held before, in MB and in bytes per character of corpus."""
    before, peak = tracemalloc.get_traced_memory()
    if _PEAKS:  # resetting the peak below hides it from the measure this one runs inside
        _PEAKS[-1] = max(_PEAKS[-1], peak)
    _PEAKS.append(0)
    tracemalloc.reset_peak()
    began = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - began
    peak = max(_PEAKS.pop(), tracemalloc.get_traced_memory()[1])
    above = peak - before
    print(
        f"{label:<22} {seconds:8.1f} s  peak {above / 2**20:8.1f} MB above the {before / 2**20:,.0f} MB held "
        f"({above / chars:5.1f} bytes/char)",
        flush=True,
    )
    return result


def grams(corpora: Sequence[Path], cache: Path | None) -> None:
    """The phrase stage's n-gram counting (``count_grams``: the texts alone) and, with the NLP cache of
    a run over the same corpora (``cache``), ``extract`` and its steps (``statistical_candidates``; the
    search, ``occurrences`` and ``_hit_table``; the ranking, ``_summarise``): seconds and peak traced
    memory of each, in this process."""
    from pipeline import engine, ingest, lexicon, phrases
    from pipeline.config import Settings

    settings = Settings(cache_dir=str(cache or ""))
    segments = ingest.at_level(ingest.ingest(corpora).segments, settings.level)
    chars = sum(len(segment.text) for segment in segments)
    print(f"{len(segments):,} segments, {chars:,} characters", flush=True)
    lexicon.general_frequencies()  # loaded once per process (about 90 MB), whatever the corpus: not measured
    tracemalloc.start()
    counted = _traced("count_grams", chars, lambda: phrases.count_grams(segments, settings))
    if cache is None:
        return
    tracemalloc.stop()  # reading the cache is not measured
    analysed = engine.analyse_corpus(segments, settings)
    for name in ("statistical_candidates", "occurrences", "_hit_table", "_summarise"):
        function = getattr(phrases, name)
        setattr(phrases, name, functools.partial(_traced_call, name, chars, function))
    tracemalloc.start()
    _traced("extract", chars, lambda: phrases.extract(segments, analysed.sentences, analysed.spans, settings, grams=counted))


def _traced_call(label: str, chars: int, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return _traced(label, chars, lambda: function(*args, **kwargs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="*", help="a corpus (the scale mode: several)")
    parser.add_argument("--workers", type=int, default=0, help="processes (0: all cores)")
    parser.add_argument(
        "--batch-size", type=int, default=0, help="pieces per batch (0: the setting's default)"
    )
    parser.add_argument("--copies", type=int, default=4, help="times the corpus is repeated (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="bare and cold runs of the corpus, in turn")
    parser.add_argument(
        "--work", type=Path, help="folder for outputs, caches and copies (default: a temporary one)"
    )
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=SCALE_COPIES,
        metavar="COPIES",
        help=f"scale mode: the corpora (default {' + '.join(SCALE_CORPORA)}) cold, then repeated COPIES "
        f"times (default {SCALE_COPIES}, about 50 M characters) with varied text: bare and cold; 1 = the "
        "corpora alone",
    )
    parser.add_argument(
        "--grams",
        action="store_true",
        help="the phrase stage's n-gram counting (and, with --cache, its search) on the corpora: seconds and "
        "peak traced memory",
    )
    parser.add_argument(
        "--cache", type=Path, help="--grams, --tables: the NLP cache of a run over the same corpora"
    )
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--tables",
        type=Path,
        metavar="PICKLE",
        help="tables mode: seconds and peak memory of the stages after the phrase stage on the inputs "
        "pickled in PICKLE (made first, from the corpora and --cache, when it does not exist); files "
        "written under --work",
    )
    parser.add_argument("--stage", action="append", choices=TABLE_STAGES, help="tables mode: only these")
    parser.add_argument("--tables-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tables_child:
        name, pickle_path, out = args.tables_child
        _tables_child(Path(pickle_path), name, Path(out))
        return
    if args.tables is not None:
        if not args.tables.exists():
            tables_inputs(args.corpus, args.cache, args.tables)
        out = args.work or Path(tempfile.mkdtemp(prefix="tifa-tables-"))
        tables(args.tables, out, args.stage or TABLE_STAGES)
        return

    from pipeline.config import Settings

    settings = Settings(workers=args.workers)
    workers = settings.resolved_workers()
    batch_size = args.batch_size or settings.batch_size
    if args.bare:
        _bare_child(args.corpus, workers, batch_size)
        return
    if args.grams:
        grams(args.corpus, args.cache)
        return
    if args.scale is not None:
        corpora = args.corpus or [Path(path) for path in SCALE_CORPORA]
        if missing := [str(path) for path in corpora if not path.exists()]:
            raise SystemExit(f"no corpus at {', '.join(missing)}")
        work = args.work or Path(tempfile.mkdtemp(prefix="tifa-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        print(
            f"scale mode: {', '.join(map(str, corpora))}, {workers} workers, work folder {work}", flush=True
        )
        try:
            scale(corpora, args.scale, work, workers, batch_size)
        finally:
            if args.work is None:
                shutil.rmtree(work, ignore_errors=True)
        return
    if len(args.corpus) != 1:
        raise SystemExit("give one corpus (several only with --scale)")
    args.corpus = args.corpus[0]
    if not args.corpus.exists():
        raise SystemExit(f"no corpus at {args.corpus}")
    work = args.work or Path(tempfile.mkdtemp(prefix="tifa-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"corpus {args.corpus}, {workers} workers, work folder {work}", flush=True)
    measures: dict[str, Measure] = {}

    def step(key: str, measure: Measure) -> None:
        measures[key] = measure
        print(_row(measure), flush=True)

    try:
        for n in range(1, args.repeat + 1):  # bare and cold in turn, so each pair sees the same machine
            step(f"bare1.{n}", bare(f"bare nlp.pipe #{n}", args.corpus, workers, batch_size))
            shutil.rmtree(work / "cache-1", ignore_errors=True)
            shutil.rmtree(work / "out-1", ignore_errors=True)
            cold = tifa_run(f"tifa run, cold #{n}", args.corpus, work / "out-1", work / "cache-1", workers)
            step(f"cold1.{n}", cold)
        warm = tifa_run("tifa run, warm", args.corpus, work / "out-1", work / "cache-1", workers)
        warm.stages = {}  # nothing changed: the outputs, and the manifest's timings, are the cold run's
        step("warm1", warm)
        if args.copies > 1:
            repeated = repeat_corpus(args.corpus, args.copies, work / f"corpus-{args.copies}x")
            step("bare4", bare(f"bare nlp.pipe, {args.copies}×", repeated, workers, batch_size))
            shutil.rmtree(work / f"cache-{args.copies}", ignore_errors=True)
            step(
                "cold4",
                tifa_run(
                    f"tifa run, cold, {args.copies}×",
                    repeated,
                    work / f"out-{args.copies}",
                    work / f"cache-{args.copies}",
                    workers,
                ),
            )
        print()
        print(report(measures, args.copies))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
