"""Command line: ``tifa run INPUT... --out DIR`` and friends. A thin layer over the stages."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline import __version__
from pipeline.config import load_settings
from pipeline.errors import TifaError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tifa",
        description="Find the formulaic phrases (提法) of Chinese official texts and compare regions.",
    )
    parser.add_argument("--version", action="version", version=f"tifa {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="process texts into out/: segments, phrases, adoption, clusters, graph, report",
        description="Process texts (files or folders of .txt/.md/.html/.jsonl/.csv, with an optional "
        "metadata.csv sidecar) and write every output into --out.",
    )
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders to read")
    run.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    run.add_argument("--config", type=Path, help="settings file (TOML); every key is in tifa.toml")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    run.add_argument("--workers", type=int, help="processes for segmentation (default: all cores)")
    run.add_argument(
        "--engine",
        choices=("local", "dask"),
        help="where segmentation runs: local worker processes (default) or a Dask cluster",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: a running scheduler (tcp://host:8786); default: a local cluster",
    )
    run.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reuse the segmentation of texts seen before (default: on; models/.cache/nlp)",
    )
    run.add_argument(
        "--level",
        choices=("province", "city"),
        help="compare provinces (default) or prefecture-level cities, with their province kept",
    )
    run.add_argument("--model", type=Path, help="segmentation model folder (default: models/zh_pkuseg)")
    run.add_argument(
        "--phrases",
        type=Path,
        metavar="FILE",
        help="phrases of interest, one per line: always counted, marked kind=user",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    _add_lookup_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command in _LOOKUPS:
            return _LOOKUPS[args.command](args)
    except BrokenPipeError:  # `tifa kwic … | head`: the reader has gone, nothing is wrong
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep Python from failing on flush at exit
        return 0
    except TifaError as error:
        print(f"tifa: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tifa: interrupted — out/ still holds the previous complete run", file=sys.stderr)
        return 130
    return 1


def _run(args: argparse.Namespace) -> int:
    from pipeline.run import run

    overrides = list(args.set)
    if args.workers is not None:
        overrides.append(f"workers={args.workers}")
    if args.engine is not None:
        overrides.append(f"engine={args.engine}")
    if args.scheduler is not None:
        overrides.append(f"scheduler={args.scheduler}")
        if args.engine is None:
            overrides.append("engine=dask")
    if args.cache is not None:
        overrides.append(f"cache={args.cache}")
    if args.level is not None:
        overrides.append(f"level={args.level}")
    settings = load_settings(args.config, overrides)
    user_phrases: list[str] = []
    if args.phrases is not None:
        try:
            user_phrases = [
                line.strip() for line in args.phrases.read_text(encoding="utf-8-sig").splitlines()
            ]
        except (OSError, UnicodeDecodeError) as exc:
            raise TifaError(
                "E022", f"cannot read the phrase list {args.phrases} ({exc}) — give a UTF-8 text file"
            ) from exc
        # Cleaned like the corpus (full-width forms, traditional characters) so that they can match it.
        from pipeline.text import normalize, simplify_if_traditional

        user_phrases = [
            simplify_if_traditional(normalize(line))
            for line in user_phrases
            if line and not line.startswith("#")
        ]
    summary = run(
        args.inputs,
        args.out,
        settings,
        model_dir=args.model,
        user_phrases=user_phrases,
        progress=not args.quiet,
    )
    for problem in summary.problems:
        print(f"tifa: warning: {problem}", file=sys.stderr)
    if not args.quiet:
        print(
            f"{summary.documents} documents, {summary.segments} segments, {summary.sentences} sentences,"
            f" {summary.phrases} phrases"
            f" → {summary.out_dir}/"
            + (f" ({summary.skipped} files skipped, see manifest.json)" if summary.skipped else "")
            + (
                " — nothing changed since the last run: outputs kept (--no-cache recomputes)"
                if summary.unchanged
                else ""
            ),
            file=sys.stderr,
        )
    return 0


# ---------------------------------------------------------------------------------------------
# look-ups on the last run: tifa kwic, tifa phrases, tifa regions, tifa report


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{value}'") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {number}")
    return number


def _add_lookup_commands(commands: argparse._SubParsersAction) -> None:
    out_help = "folder of the last `tifa run` (default: out)"
    kwic = commands.add_parser(
        "kwic",
        help="keyword in context: every line where a phrase occurs",
        description="Show every occurrence of PHRASE with its left and right context, region, year and "
        "source. Reads the texts saved by the last run (--out) without segmenting again, and searches "
        "every surface form of the phrase (its variants in phrases.csv). With INPUT, reads those files "
        "or folders instead.",
    )
    kwic.add_argument("phrase", metavar="PHRASE", help="the phrase to look for, e.g. 四个意识")
    kwic.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="files or folders to search instead of the last run"
    )
    kwic.add_argument("--out", type=Path, default=Path("out"), help=out_help)
    kwic.add_argument(
        "--width", type=_count, default=20, help="characters of context on each side (default: 20)"
    )
    kwic.add_argument("--region", help="only this region (any name: 上海, 上海市, 沪, Shanghai)")
    kwic.add_argument("--year", type=int, help="only this year")
    kwic.add_argument("--limit", type=_count, default=0, help="at most this many lines (default: all)")
    kwic.add_argument(
        "--csv",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write CSV instead of a table: to FILE, or to stdout when FILE is left out",
    )
    kwic.add_argument("--exact", action="store_true", help="search PHRASE as typed, not its variants")

    phrases = commands.add_parser(
        "phrases",
        help="top phrases of the last run",
        description="The best phrases of the last run as a table, optionally of one family (--kind) "
        "or used in one region (--region, ordered by their use there).",
    )
    phrases.add_argument("--out", type=Path, default=Path("out"), help=out_help)
    phrases.add_argument(
        "--kind",
        choices=["quoted", "quotation", "numbered", "enumeration", "statistical", "user"],
        help="only phrases of this family",
    )
    phrases.add_argument("--region", help="only phrases used in this region, most used there first")
    phrases.add_argument("--limit", type=_count, default=30, help="rows to show (default: 30; 0: all)")

    regions = commands.add_parser(
        "regions",
        help="regions of the last run with their cluster and distinctive phrases",
        description="Every region of the last run: cluster, segments, characters, years, most similar "
        "region and its most distinctive phrases (keyness.csv). With --region, that region in detail.",
    )
    regions.add_argument("--out", type=Path, default=Path("out"), help=out_help)
    regions.add_argument(
        "--top", type=_count, help="distinctive phrases per region (default: 5, or 20 with --region)"
    )
    regions.add_argument(
        "--region", help="one region in detail (its top 20 distinctive phrases unless --top)"
    )

    report = commands.add_parser(
        "report",
        help="rebuild report.html from the files of a finished run",
        description="Write report.html again from the files in --out (no re-processing).",
    )
    report.add_argument("--out", type=Path, default=Path("out"), help=out_help)


def _kwic(args: argparse.Namespace) -> int:
    from pipeline import kwic
    from pipeline.text import normalize

    query = normalize(args.phrase).strip()
    if not query:
        raise TifaError("E043", "give a phrase to look for, e.g. tifa kwic 四个意识")
    phrase_csv = args.out / "phrases.csv"
    if args.inputs:
        from pipeline.ingest import ingest

        segments = list(ingest(args.inputs).segments)
        where = ", ".join(args.inputs)
    else:
        texts = args.out / "texts.jsonl"
        if not texts.is_file() and (args.out / "manifest.json").is_file():
            raise TifaError(
                "E041",
                f"the run in {args.out} did not save its texts (write_texts = false) — "
                "give the INPUT files to search, or run again with --set write_texts=true",
            )
        if not texts.is_file():
            raise kwic.missing_run(args.out, "texts.jsonl")
        segments = kwic.load_texts(texts)
        where = str(texts)
    canonical, forms = query, (query,)
    if not args.exact and phrase_csv.is_file():
        canonical, forms = kwic.phrase_forms(query, kwic.read_rows(phrase_csv))
    region = kwic.resolve_region(args.region) if args.region else ""
    lines = kwic.kwic(segments, forms, width=args.width, region=region, year=args.year, limit=args.limit)
    if args.csv is None:
        if lines:
            sys.stdout.write(kwic.format_kwic(lines, args.width))
    elif args.csv == "-":
        sys.stdout.write(kwic.kwic_csv(lines))
    else:
        from pipeline.io_utils import atomic_write

        atomic_write(Path(args.csv), "\ufeff" + kwic.kwic_csv(lines))
    shown = f" (forms: {'、'.join(forms)})" if len(forms) > 1 else ""
    limit = " (--limit reached)" if args.limit and len(lines) >= args.limit else ""
    print(f"{len(lines)} line(s) for {canonical}{shown} in {where}{limit}", file=sys.stderr)
    return 0


def _phrases(args: argparse.Namespace) -> int:
    from pipeline import kwic

    region = kwic.resolve_region(args.region) if args.region else ""
    rows, total = kwic.top_phrases(args.out, kind=args.kind or "", region=region, limit=args.limit)
    header = ["rank", "phrase", "family", "count", "segments", "regions"]
    if region:
        header += [f"in {region}", "per 10k"]
    table = [
        [r.rank, r.phrase, r.kind, r.count, r.segments, r.regions_n]
        + ([r.region_count, f"{r.region_per_10k:.2f}"] if region else [])
        for r in rows
    ]
    sys.stdout.write(kwic.format_table(header, table, align="><<>>>>>", max_width={1: 40}))
    print(f"{len(rows)} of {total} phrase(s) — all in {args.out / 'phrases.csv'}", file=sys.stderr)
    return 0


def _regions(args: argparse.Namespace) -> int:
    from pipeline import kwic

    region = kwic.resolve_region(args.region) if args.region else ""
    top = args.top if args.top is not None else (20 if region else 5)
    rows = kwic.region_overview(args.out, top=top, region=region)
    if region and not rows:
        raise TifaError("E044", f"no text from {region} in the last run ({args.out})")
    if region:
        row = rows[0]
        print(
            f"{row.region}: cluster {row.cluster or '-'}, {row.segments} segment(s), {row.chars:,} characters,"
            f" years {row.years or '-'}; most similar: {row.nearest or '-'}"
        )
        table = [
            [i, phrase, count, f"{score:.1f}"] for i, (phrase, count, score) in enumerate(row.distinctive, 1)
        ]
        sys.stdout.write(kwic.format_table(["#", "distinctive phrase", "count", "z"], table, align="><>>"))
        return 0
    table = [
        [
            r.region,
            r.cluster,
            r.segments,
            f"{r.chars:,}",
            r.years,
            r.nearest,
            " · ".join(kwic.clip(p, 24) for p, _, _ in r.distinctive),
        ]
        for r in rows
    ]
    header = ["region", "cluster", "segments", "chars", "years", "most similar", "distinctive phrases"]
    sys.stdout.write(kwic.format_table(header, table, align="<>>><<<", max_width={6: 100}))
    return 0


def _report(args: argparse.Namespace) -> int:
    from pipeline import kwic
    from pipeline.report import write_report

    if not (args.out / "manifest.json").is_file():
        raise kwic.missing_run(args.out, "manifest.json")
    print(f"wrote {write_report(args.out)}", file=sys.stderr)
    return 0


_LOOKUPS = {"kwic": _kwic, "phrases": _phrases, "regions": _regions, "report": _report}


if __name__ == "__main__":
    sys.exit(main())
