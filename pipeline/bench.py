"""Benchmark the pipeline on a corpus and print its figures (a script, not a test).

    python -m pipeline.bench ../shared/corpora/gov_work_reports [--workers 2]

Prints, from one run in this process: characters; wall time and characters per second of the NLP
stage and of the phrase stage; the phrase stage's time as a ratio of the NLP stage's; the phrase
stage's peak traced memory; the process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from pathlib import Path

from pipeline import ingest, nlp, phrases
from pipeline.config import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, default=0, help="processes for the NLP stage (0: all cores)")
    args = parser.parse_args(argv)
    settings = Settings(workers=args.workers)

    segments = ingest.ingest([args.corpus]).segments
    chars = sum(len(segment.text) for segment in segments)
    language = nlp.load_nlp()
    started = time.perf_counter()
    analysed = nlp.analyse(
        segments, language, workers=settings.resolved_workers(), batch_size=settings.batch_size
    )
    nlp_seconds = time.perf_counter() - started

    tracemalloc.start()
    started = time.perf_counter()
    found = phrases.extract(segments, analysed.sentences, analysed.spans, settings)
    phrase_seconds = time.perf_counter() - started
    _, phrase_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus            {args.corpus} — {len(segments)} segments, {chars:,} characters")
    print(
        f"nlp stage         {nlp_seconds:8.2f} s  {chars / nlp_seconds:10,.0f} chars/s  ({settings.resolved_workers()} workers)"
    )
    print(f"phrase stage      {phrase_seconds:8.2f} s  {chars / phrase_seconds:10,.0f} chars/s")
    print(f"phrase / nlp      {phrase_seconds / nlp_seconds:8.3f}  (target ≤ 0.30)")
    print(f"phrase peak mem   {phrase_peak / 2**20:8.1f} MB traced")
    print(f"process peak RSS  {peak_rss_mb:8.1f} MB")
    print(f"phrases, hits     {len(found.phrases):,}, {len(found.hits):,}")


if __name__ == "__main__":
    main()
