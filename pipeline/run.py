"""The batch job: every stage in order, outputs written whole into ``out/``."""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipeline import __version__, ingest, nlp, outputs
from pipeline.config import Settings
from pipeline.errors import no_inputs


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    documents: int
    segments: int
    sentences: int
    skipped: int
    problems: tuple[str, ...]


def _versions(model_dir: Path | None) -> dict[str, str]:
    found = {"tifa": __version__, "python": platform.python_version()}
    for package in ("spacy", "spacy-pkuseg", "scikit-learn", "networkx", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = ""
    meta = Path(model_dir or nlp.DEFAULT_MODEL) / "meta.json"
    if meta.is_file():
        info = json.loads(meta.read_text(encoding="utf-8"))
        found["model"] = f"{info.get('name', '')} {info.get('version', '')}".strip()
    return found


def run(
    inputs: Sequence[str],
    out_dir: Path,
    settings: Settings,
    *,
    model_dir: Path | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run ingest → nlp → outputs on ``inputs`` and write the results into ``out_dir``.

    Files are built in a staging folder beside ``out_dir`` and swapped in at the end, so
    ``out_dir`` always holds one complete run.
    """
    timings = Timings()
    with timings.stage("ingest"):
        ingested = ingest.ingest(inputs)
    if not ingested.segments:
        raise no_inputs(list(inputs))
    language = nlp.load_nlp(model_dir)
    with timings.stage("nlp"):
        analysed = nlp.analyse(
            ingested.segments,
            language,
            workers=settings.resolved_workers(),
            batch_size=settings.batch_size,
            progress=_progress_bar(sum(len(s.text) for s in ingested.segments), progress),
        )
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with timings.stage("write"):
        outputs.write_segments(staging / "segments.csv", ingested.segments, analysed.sentences)
    problems = tuple(
        f"{report.source}: {problem}" for report in ingested.inputs for problem in report.problems
    ) + tuple(
        f"{report.source}: skipped — {report.reason}"
        for report in ingested.inputs
        if report.status != "processed"
    )
    manifest = {
        "inputs": [asdict(report) for report in ingested.inputs],
        "counts": {
            "files": len(ingested.inputs),
            "processed": sum(report.status == "processed" for report in ingested.inputs),
            "skipped": sum(report.status != "processed" for report in ingested.inputs),
            "documents": sum(report.documents for report in ingested.inputs),
            "segments": len(ingested.segments),
            "sentences": len(analysed.sentences),
            "characters": sum(len(segment.text) for segment in ingested.segments),
            "regions": len({segment.region for segment in ingested.segments if segment.region}),
        },
        "settings": asdict(settings),
        "versions": _versions(model_dir),
    }
    outputs.write_manifest(staging / "manifest.json", manifest, timings.seconds)
    outputs.swap_into_place(staging, out_dir)
    return RunSummary(
        out_dir=out_dir,
        documents=manifest["counts"]["documents"],
        segments=len(ingested.segments),
        sentences=len(analysed.sentences),
        skipped=manifest["counts"]["skipped"],
        problems=problems,
    )


def _progress_bar(total: int, enabled: bool):  # returns a callback or None
    if not enabled:
        return None
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        unit="char",
        unit_scale=True,
        desc="segmenting",
        file=sys.stderr,
        disable=None,
        leave=False,
    )

    def advance(chars: int) -> None:
        bar.update(chars)
        if bar.n >= total:
            bar.close()

    return advance
