"""The batch job: every stage in order, outputs written whole into ``out/``."""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipeline import __version__, cluster, compare, graph, ingest, io_utils, nlp, outputs, phrases
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
    phrases: int
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


def graph_settings(settings: Settings) -> graph.GraphSettings:
    return graph.GraphSettings(
        window=settings.graph_window,  # type: ignore[arg-type]
        association=settings.graph_association,  # type: ignore[arg-type]
        min_association=settings.graph_min_association,
        top_edges=settings.graph_top_edges,
        min_node_count=settings.graph_min_count,
        min_edge_weight=settings.graph_min_edge_weight,
    )


def run(
    inputs: Sequence[str],
    out_dir: Path,
    settings: Settings,
    *,
    model_dir: Path | None = None,
    user_phrases: Sequence[str] = (),
    progress: bool = True,
) -> RunSummary:
    """Run every stage on ``inputs`` and write the results into ``out_dir``.

    Files are built in a staging folder beside ``out_dir`` and swapped in at the end, so
    ``out_dir`` always holds one complete run.
    """
    timings = Timings()
    io_utils.check_out_dir(out_dir)  # before any work: never replace a folder tifa did not write
    with timings.stage("ingest"):
        ingested = ingest.ingest(inputs)
    if not ingested.segments:
        raise no_inputs(list(inputs))
    segments = ingested.segments
    with timings.stage("nlp"):  # workers, engine and cache as settings say; the model loads only if needed
        analysed = nlp.analyse_corpus(
            segments,
            settings,
            model_dir=model_dir,
            progress=_progress_bar(sum(len(s.text) for s in segments), progress),
        )
    with timings.stage("phrases"):
        found = phrases.extract(
            segments, analysed.sentences, analysed.spans, settings, user_phrases=user_phrases
        )
    staging = io_utils.prepare_staging(out_dir)  # locked; a swap a killed run left half done is undone
    with timings.stage("compare"):
        compare.write_adoption(
            staging,
            compare.adoption(segments, found.hits, found.phrases, include_zero=False),
            compare.adoption_matrix(segments, found.hits, found.phrases),
        )
        # Only phrases a region uses: over-use is what distinguishes it (and 30,000 phrases × 31
        # regions of mostly negative scores would bury it).
        distinctive = [row for row in compare.keyness(segments, found.hits, found.phrases) if row.count > 0]
        compare.write_keyness(staging, distinctive)
        compare.write_diffusion(staging, compare.diffusion(segments, found.hits, found.phrases))
        compare.write_reuse(staging, compare.shared_passages(segments, min_chars=settings.reuse_min_chars))
    with timings.stage("cluster"):
        n_clusters = settings.n_clusters or None
        overall = cluster.cluster_regions(segments, analysed.sentences, found.hits, n_clusters=n_clusters)
        by_year = cluster.cluster_by_year(segments, analysed.sentences, found.hits, n_clusters=n_clusters)
        cluster.write_cluster_outputs(staging, overall, by_year)
    with timings.stage("graph"):
        options = graph_settings(settings)
        cooccurrence = graph.build_graph(found.phrases, found.hits, segments, settings=options)
        graph.write_graphml(cooccurrence, staging / "cooccurrence.graphml")
        graph.write_gexf(cooccurrence, staging / "cooccurrence.gexf")
        graph.draw_preview(cooccurrence, staging / "cooccurrence.png")
        bipartite = graph.build_bipartite_graph(found.phrases, found.hits, segments, settings=options)
        graph.write_graphml(bipartite, staging / "region_phrase.graphml")
    with timings.stage("write"):
        outputs.write_segments(staging / "segments.csv", segments, analysed.sentences)
        outputs.write_phrases(staging / "phrases.csv", found.phrases)
        outputs.write_hits(staging / "hits.csv", found.hits, segments)
        if settings.write_texts:
            outputs.write_texts(staging / "texts.jsonl", segments)
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
            "segments": len(segments),
            "sentences": len(analysed.sentences),
            "characters": sum(len(segment.text) for segment in segments),
            "regions": len({segment.region for segment in segments if segment.region}),
            "phrases": len(found.phrases),
            "hits": len(found.hits),
            "graph_nodes": cooccurrence.number_of_nodes(),
            "graph_edges": cooccurrence.number_of_edges(),
            "clusters": overall.n_clusters,
            "phrase_thresholds": found.thresholds,
        },
        "settings": asdict(settings),
        "user_phrases": list(user_phrases),
        "versions": _versions(model_dir),
    }
    outputs.write_manifest(staging / "manifest.json", manifest, timings.seconds)
    if settings.write_report:  # last: the report is built from the files above, manifest included
        from pipeline.report import ReportLimits, write_report

        write_report(staging, ReportLimits(phrases=settings.report_phrases))
    outputs.swap_into_place(staging, out_dir)
    return RunSummary(
        out_dir=out_dir,
        documents=manifest["counts"]["documents"],
        segments=len(segments),
        sentences=len(analysed.sentences),
        phrases=len(found.phrases),
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
