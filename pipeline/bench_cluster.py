"""Peak memory and seconds of the cluster stage alone (a script, not a test).

    python -m pipeline.bench_cluster ../shared/corpora/gov_work_reports ../shared/corpora/city_work_reports \\
        --set cache_dir=/tmp/b15scale/cache-scale1 --save /tmp/clu12.pkl
    python -m pipeline.bench_cluster --load /tmp/clu12.pkl [--out DIR] [--tracemalloc]

The stage's inputs (segments, sentences, hit table) are made as ``tifa run`` makes them — ingest,
segmentation (read from the NLP cache when it is warm), the phrase stage — or loaded from a pickle
``--save`` wrote, which takes seconds instead of minutes. Then, in this process,
:func:`pipeline.cluster.cluster_regions_and_years` runs with the settings' options and the script
prints its wall seconds, the resident memory before it, the peak during it (``VmHWM`` after
``/proc/self/clear_refs`` reset it, Linux only) and the difference. ``--tracemalloc`` adds the peak
of the memory Python and NumPy allocated during the stage (it slows the stage: its seconds are then
not comparable). ``--out`` writes the cluster files there, to compare two versions with ``diff -r``.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import time
import tracemalloc
from pathlib import Path
from typing import Any


def _inputs(corpora: list[Path], overrides: list[str]) -> tuple[Any, ...]:
    """Segments, sentences, hit table and cluster options, as ``tifa run`` hands them to the stage."""
    from pipeline import api, cluster, engine, ingest, phrases
    from pipeline.config import load_settings

    settings = load_settings(None, overrides)
    segments = ingest.at_level(api.Corpus.from_folder(*corpora).ingested.segments, settings.level)
    analysed = engine.analyse_corpus(segments, settings)
    found = phrases.extract(segments, analysed.sentences, analysed.spans, settings)
    return segments, analysed.sentences, found.hit_table, cluster.options_of(settings)


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="*", help="corpora to read (or --load)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting")
    parser.add_argument("--save", type=Path, help="pickle the stage's inputs here")
    parser.add_argument("--load", type=Path, help="the stage's inputs from a pickle --save wrote")
    parser.add_argument("--out", type=Path, help="write the cluster files into this folder")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python's allocations")
    args = parser.parse_args(argv)
    if args.load:
        with args.load.open("rb") as handle:
            inputs = pickle.load(handle)
    elif args.corpus:
        started = time.perf_counter()
        inputs = _inputs(args.corpus, args.set)
        print(f"inputs made in {time.perf_counter() - started:.1f} s", flush=True)
    else:
        raise SystemExit("give corpora or --load")
    if args.save:
        with args.save.open("wb") as handle:
            pickle.dump(inputs, handle, protocol=pickle.HIGHEST_PROTOCOL)
    segments, sentences, hits, options = inputs
    from pipeline import cluster
    from pipeline.records import Sentences

    # as the NLP stage hands them on (a pickle of an older version may hold Sentence records)
    sentences = Sentences.of(sentences, {segment.segment_id: segment.text for segment in segments})

    chars = sum(len(segment.text) for segment in segments)
    tokens = len(sentences.token_word)
    print(
        f"{chars:,} characters, {len(segments):,} segments, {len(sentences):,} sentences, {tokens:,} tokens, "
        f"{len(hits):,} hits; options {options}",
        flush=True,
    )
    gc.collect()
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5", encoding="ascii")  # VmHWM := VmRSS
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    overall, by_year = cluster.cluster_regions_and_years(segments, sentences, hits, **options)
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    peak = _status_mb("VmHWM")
    print(
        f"cluster_regions_and_years: {seconds:.1f} s; RSS before {before:,.0f} MB, peak {peak:,.0f} MB "
        f"(+{peak - before:,.0f} MB)"
        + (f"; tracemalloc peak {traced:,.0f} MB" if traced is not None else ""),
        flush=True,
    )
    print(f"{len(overall.regions)} regions, {overall.n_clusters} clusters, {len(by_year)} years", flush=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        cluster.write_cluster_outputs(args.out, overall, by_year)


if __name__ == "__main__":
    main()
