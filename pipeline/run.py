"""The batch job: every stage in order, outputs written whole into ``out/``."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipeline import (
    __version__,
    api,
    cache,
    cluster,
    compare,
    echo,
    engine,
    graph,
    ingest,
    io_utils,
    lexicon,
    outputs,
    parallel,
    phrases,
    reuse,
    tables,
)
from pipeline import progress as progress_log
from pipeline.config import Settings
from pipeline.errors import Errors
from pipeline.model import model_path


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)
    log: progress_log.StageLog | None = None  # stage lines on stderr (pipeline/progress.py)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        shown = _SHOWN.get(name, name)
        if self.log is not None and name != "phrases_grams":  # that one runs inside segmentation
            self.log.start(shown)
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
        if self.log is not None and name != "phrases_grams":
            self.log.done(shown, self.seconds[name])


_SHOWN = {"nlp": "segmentation", "reference_nlp": "segmentation of the reference"}


@dataclass(frozen=True)
class RunSummary:
    out_dir: Path
    documents: int
    segments: int
    sentences: int
    phrases: int
    skipped: int
    problems: tuple[str, ...]
    unchanged: bool = False  # nothing changed since the run already in out_dir: its outputs were kept


def _versions(model_dir: Path | None) -> dict[str, str]:
    found = {"tifa": __version__, "python": platform.python_version()}
    for package in ("spacy", "spacy-pkuseg", "scikit-learn", "networkx", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = ""
    meta = model_path(model_dir) / "meta.json"
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
    user_phrases: Sequence[str] = (),
    progress: bool = True,
    reference: Sequence[str] = (),
    on_warnings: Callable[[tuple[str, ...]], None] | None = None,
) -> RunSummary:
    """Run every stage on ``inputs`` and write the results into ``out_dir``.

    ``on_warnings`` receives the run's warnings (``RunSummary.problems``) as soon as ingest has read
    every input, before the long stages.

    Files are built in a staging folder beside ``out_dir`` and swapped in at the end, so
    ``out_dir`` always holds one complete run. ``reference``: the centre's texts (``pipeline.echo``;
    default: the ``reference`` setting), never a region.
    """
    timings = Timings(log=progress_log.StageLog(progress))
    io_utils.check_out_dir(out_dir)  # before any work: never replace a folder tifa did not write
    with timings.stage("ingest"):
        corpus = api.Corpus.from_folder(*inputs)
    ingested = corpus.ingested
    characters = sum(len(segment.text) for segment in ingested.segments)
    timings.log.say(f"{len(ingested.segments):,} segments, {progress_log.size(characters)} characters")  # type: ignore[union-attr]
    if not ingested.segments:
        raise Errors.E020(paths=", ".join(map(str, inputs)))
    reference = list(reference) or ([settings.reference] if settings.reference else [])
    referenced = echo.read_reference(reference, inputs, ingested) if reference else None
    if on_warnings is not None:
        on_warnings(_problems(ingested, settings, referenced))
    key = run_key(ingested, settings, user_phrases, model_dir, referenced)
    if settings.cache and (summary := _unchanged(out_dir, key, ingested, settings, referenced)) is not None:
        io_utils.tidy_beside(out_dir)  # a run killed after its swap left its lock (or staging) behind
        return summary
    # Locked before the long stages (a second run into out/ stops at once), after ingest (whose
    # input may be the folder that holds out/: the lock and staging files are not inputs).
    staging = io_utils.prepare_staging(out_dir)
    try:
        return _run_stages(
            ingested, staging, out_dir, settings, key, timings, model_dir, user_phrases, progress,
            reference, referenced,
        )
    except BaseException:  # an error or Ctrl-C: no .partial folder or lock file is left behind
        io_utils.abandon_staging(staging, out_dir)
        raise


def _run_stages(
    ingested: ingest.IngestResult,
    staging: Path,
    out_dir: Path,
    settings: Settings,
    key: str,
    timings: Timings,
    model_dir: Path | None,
    user_phrases: Sequence[str],
    progress: bool,
    reference: Sequence[str],
    referenced: ingest.IngestResult | None,
) -> RunSummary:
    """Every stage after ingest, writing into ``staging``, swapped into ``out_dir`` at the end.
    ``reference``: the reference's paths; ``referenced``: its texts, ingested."""
    segments = ingest.at_level(ingested.segments, settings.level)  # the unit compared: province or city
    grams: list[phrases.GramCounts] = []

    def while_segmenting() -> None:
        with timings.stage("phrases_grams"):  # the phrase stage's n-gram counting needs only the texts
            grams.append(phrases.count_grams(segments, settings))
            lexicon.general_frequencies()  # loaded (0.4 s) while the workers segment, not after
        parallel.release_free_memory()  # its temporaries, while the workers still segment

    with timings.stage("nlp"):  # workers, engine and cache as settings say; the model loads only if needed
        analysed = engine.analyse_corpus(
            segments,
            settings,
            model_dir=model_dir,
            progress=_progress_bar(sum(len(s.text) for s in segments), progress, timings.log),
            while_waiting=while_segmenting,  # in this process while the workers segment (timed on its own)
        )

    if timings.log is not None:  # a resumed run segments only what the killed one had not finished
        timings.log.say(f"{analysed.processed:,} segments segmented, {analysed.cached:,} read from the cache")
    centre = None
    if referenced is not None:
        with timings.stage("reference_nlp"):  # through the same cache: segmented once
            analysed_reference = engine.analyse_corpus(
                referenced.segments,
                settings,
                model_dir=model_dir,
                progress=_progress_bar(sum(len(s.text) for s in referenced.segments), progress),
            )
        with timings.stage("reference_phrases"):  # the phrase stage on the reference alone
            centre = echo.centre_of(referenced, analysed_reference, settings)

    # The stages after segmentation write files of their own from what is in memory; they run side by
    # side in forked processes (parallel.Stages). Shared passages and the text tables need no phrases:
    # they run while this process finds the phrases; the rest start when the phrases are known.
    def reuse_stage() -> None:
        reuse.write_reuse(staging, reuse.shared_passages(segments, min_chars=settings.reuse_min_chars))

    def adoption_stage() -> None:
        compare.write_adoption(
            staging,
            compare.iter_adoption(segments, found.hit_table, found.phrases, include_zero=False, counts=counts),
            compare.adoption_matrix(segments, found.hit_table, found.phrases, counts=counts),
            table_format=settings.table_format,
        )

    def keyness_stage() -> None:
        # Only phrases a region uses: over-use is what distinguishes it (and 30,000 phrases × 31
        # regions of mostly negative scores would bury it).
        compare.write_keyness(
            staging, compare.iter_keyness(segments, found.hit_table, found.phrases, min_count=1, counts=counts)
        )
        compare.write_diffusion(
            staging,
            compare.iter_diffusion(segments, found.hit_table, found.phrases, counts=counts),
            centre_first_year=echoes.centre_first_years() if echoes else None,
        )

    def cluster_stage() -> int:
        overall, by_year = cluster.cluster_regions_and_years(
            segments, analysed.sentences, found.hit_table, **cluster.options_of(settings)
        )
        cluster.write_cluster_outputs(staging, overall, by_year)
        return overall.n_clusters

    def graph_stage() -> tuple[int, int]:
        options = api.graph_settings(settings)
        cooccurrence = result.graph
        graph.write_graphml(cooccurrence, staging / "cooccurrence.graphml")
        graph.write_gexf(cooccurrence, staging / "cooccurrence.gexf")
        graph.write_dynamic_gexf(cooccurrence, staging / "cooccurrence_dynamic.gexf")
        graph.write_themes(staging, *graph.theme_tables(cooccurrence, found.hit_table, segments))
        graph.draw_preview(cooccurrence, staging / "cooccurrence.png")
        bipartite = graph.build_bipartite_graph(found.phrases, found.hit_table, segments, settings=options)
        graph.write_graphml(bipartite, staging / "region_phrase.graphml")
        return cooccurrence.number_of_nodes(), cooccurrence.number_of_edges()

    table_format = settings.table_format  # csv or parquet: the large tables (pipeline/tables.py)

    def texts_stage() -> None:
        outputs.write_segments(
            staging / "segments.csv",
            segments,
            analysed.sentences,
            level=settings.level,
            table_format=table_format,
        )
        if settings.write_texts:
            outputs.write_texts(
                staging / "texts.jsonl", segments, ingested.original_text, table_format=table_format
            )

    def write_stage() -> None:
        outputs.write_phrases(staging / "phrases.csv", found.phrases, table_format=table_format)
        outputs.write_hits(staging / "hits.csv", found.hit_table, segments, table_format=table_format)
        # not counted: for audit
        outputs.write_hits(staging / "in_word_hits.csv", found.in_word, segments, table_format=table_format)

    on_done = timings.log.done if timings.log else None  # a line on stderr as each stage finishes
    with parallel.Stages(settings.resolved_workers(), on_done=on_done) as stages:
        stages.start("reuse", reuse_stage)
        stages.start("texts", texts_stage)
        with timings.stage("phrases"):  # the library's path, with the segmentation done above
            result = api.extract_phrases(
                api.Corpus(ingested),
                settings,
                user_phrases=user_phrases,
                analysed=analysed,
                grams=grams[0] if grams else None,
                reference_phrases=centre.surfaces if centre else None,
            )
        grams.clear()  # the n-gram counts (several arrays per character) are not needed after this
        parallel.release_free_memory()  # before the later stages are forked beside this process
        found, counts = result.found, result.counts  # counted once, for adoption, keyness and diffusion
        echoes = None
        if centre is not None:
            with timings.stage("echo"):
                echoes = echo.echo_tables(centre, found.phrases, counts)
                if echoes is not None:
                    echo.write_echo(staging, echoes)
        for name, stage in (  # longest first: the last to start are the shortest
            ("cluster", cluster_stage),
            ("adoption", adoption_stage),
            ("write", write_stage),
            ("keyness", keyness_stage),
            ("graph", graph_stage),
        ):
            stages.start(name, stage)
        done = stages.wait()
    timings.seconds.update({name: seconds for name, (_, seconds) in done.items()})
    if settings.level == "city":  # every table keeps the province of its cities
        outputs.add_province(staging, {segment.region: segment.province for segment in segments})
    n_clusters_found = done["cluster"][0]
    graph_nodes, graph_edges = done["graph"][0]
    problems = _problems(ingested, settings, referenced)
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
            "hits": len(found.hit_table),
            "graph_nodes": graph_nodes,
            "graph_edges": graph_edges,
            "clusters": n_clusters_found,
            "phrase_thresholds": found.thresholds,
        },
        "settings": {k: v for k, v in asdict(settings).items() if k not in echo.REFERENCE_SETTINGS},
        "user_phrases": list(user_phrases),
        "run_key": key,
        "versions": _versions(model_dir),
    }
    if centre is not None:  # listed apart from the corpus's inputs
        manifest["reference"] = echo.manifest_entry(reference, centre, echoes, settings)
    outputs.write_manifest(staging / "manifest.json", manifest, timings.seconds)
    if settings.write_report:  # last: the report is built from the files above, manifest included
        from pipeline.report import ReportLimits, write_report

        if timings.log is not None:
            timings.log.start("report")
        hits_of = functools.partial(outputs.table_hits_of, found.hit_table, segments)  # not hits.csv again
        write_report(staging, ReportLimits(phrases=settings.report_phrases), hits_of, settings.resolved_workers())
    outputs.swap_into_place(staging, out_dir)
    if timings.log is not None:
        timings.log.say("outputs in place")
    return RunSummary(
        out_dir=out_dir,
        documents=manifest["counts"]["documents"],
        segments=len(segments),
        sentences=len(analysed.sentences),
        phrases=len(found.phrases),
        skipped=manifest["counts"]["skipped"],
        problems=problems,
    )


# Settings that change how the work is done, not what comes out (outputs are the same either way).
_EXECUTION_ONLY = frozenset({"workers", "batch_size", "engine", "scheduler", "cache", "cache_dir"})


def run_key(
    ingested: ingest.IngestResult,
    settings: Settings,
    user_phrases: Sequence[str],
    model_dir: Path | None,
    reference: ingest.IngestResult | None = None,
) -> str:
    """A digest of everything the outputs depend on: inputs, settings, phrase list, code, model."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(cache.fingerprint(model_path(model_dir)).encode())  # $TIFA_MODEL too
    package = Path(__file__).parent
    for path in sorted([*package.glob("*.py"), *package.glob("data/*")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())

    def described(result: ingest.IngestResult) -> dict[str, list]:
        return {
            "inputs": [asdict(report) for report in result.inputs],
            "segments": [
                [
                    s.segment_id,
                    s.source,
                    s.region,
                    s.speaker,
                    s.title,
                    s.year,
                    s.date,
                    result.original_text(s),
                ]
                + ([s.city_code] if s.city_code else [])  # the city decides the unit at --level city
                for s in result.segments
            ],
        }

    record = {
        **described(ingested),
        "settings": {
            name: value
            for name, value in asdict(settings).items()
            if name not in _EXECUTION_ONLY and name not in echo.REFERENCE_SETTINGS
        },
        "user_phrases": list(user_phrases),
    }
    if reference is not None:  # its texts, not its path, and the settings only it uses
        record["reference"] = {
            **described(reference),
            "settings": {name: getattr(settings, name) for name in echo.REFERENCE_SETTINGS[1:]},
        }
    digest.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()


def _unchanged(
    out_dir: Path,
    key: str,
    ingested: ingest.IngestResult,
    settings: Settings,
    reference: ingest.IngestResult | None = None,
) -> RunSummary | None:
    """The summary of the run already in ``out_dir`` when it was made from exactly this input, else None.

    Outputs are a deterministic function of what ``run_key`` digests, so a rerun with nothing
    changed keeps them instead of computing the same bytes again (``--no-cache`` recomputes).
    """
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("run_key") != key or not tables.locate(out_dir / "phrases.csv").is_file():
        return None
    counts = manifest.get("counts", {})
    return RunSummary(
        out_dir=out_dir,
        documents=counts.get("documents", 0),
        segments=counts.get("segments", 0),
        sentences=counts.get("sentences", 0),
        phrases=counts.get("phrases", 0),
        skipped=counts.get("skipped", 0),
        problems=_problems(ingested, settings, reference),
        unchanged=True,
    )


def _problems(
    ingested: ingest.IngestResult, settings: Settings, reference: ingest.IngestResult | None = None
) -> tuple[str, ...]:
    """The warnings of a run: settings it cannot honour, then each input's problems and skips, then
    (with a reference) the reference's, prefixed, and what the reference lacks."""
    warnings = _setting_warnings(ingested, settings) + ingested.problems
    if reference is not None:
        warnings += tuple(f"reference {p}" for p in reference.problems) + echo.warnings(reference)
    return warnings


def _setting_warnings(ingested: ingest.IngestResult, settings: Settings) -> tuple[str, ...]:
    """Settings the corpus cannot honour, said rather than silently changed."""
    regions = len({segment.region for segment in ingested.segments if segment.region})
    if regions and settings.n_clusters > regions:
        return (
            f"n_clusters={settings.n_clusters} but only {regions} region(s) have text: capped at "
            f"{regions} clusters (in clusters_by_year.csv, at the regions with text that year)",
        )
    return ()


def _progress_bar(total: int, enabled: bool, log: progress_log.StageLog | None = None):  # a callback or None
    if not enabled:
        return None
    tenths = log.segmenting(total) if log is not None else None
    if tenths is not None:  # not a terminal: lines at each tenth instead of a bar
        return tenths
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
