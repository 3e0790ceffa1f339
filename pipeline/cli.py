"""Command line: ``tifa run INPUT... --out DIR`` and friends. A thin layer over the stages."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipeline import __version__
from pipeline.config import load_settings
from pipeline.errors import Errors, TifaError
from pipeline.records import Segment


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
    run.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="DIR_OR_FILE",
        help="the centre's texts (with years): searched for every phrase and used for discovery, never a "
        "region; writes echo.csv, echo_regions.csv, local_first.csv (default: the reference setting)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    _add_lookup_commands(commands)
    _add_map_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(_csv_flag_alone(sys.argv[1:] if argv is None else argv))
    args.said = threading.Lock()  # "interrupted" is said once
    before = _run_key(args.out) if args.command == "run" else None
    try:
        if args.command == "run":
            with _exit_soon_after_ctrl_c(args, before):
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
        _say_interrupted(args, before)
        return 130
    return 1


GRACE_SECONDS = 0.5  # Ctrl-C: how long the main thread has to stop by itself before the watcher ends it


def _say_interrupted(args: argparse.Namespace, before: str | None) -> None:
    """Say once (from the main thread or the watcher, whichever comes first) what --out holds."""
    if args.said.acquire(blocking=False):
        print(f"tifa: interrupted{_left_behind(args, before)}", file=sys.stderr, flush=True)


@contextmanager
def _exit_soon_after_ctrl_c(args: argparse.Namespace, before: str | None) -> Iterator[None]:
    """Make ``tifa run`` end within about a second of Ctrl-C.

    Python raises KeyboardInterrupt only between bytecodes, and the main process can spend seconds
    inside one NumPy call while the workers segment. The C-level signal handler writes the signal
    to a pipe at once (``signal.set_wakeup_fd``); a watcher thread reading it gives the main thread
    ``GRACE_SECONDS`` to stop by itself, then stops the child processes, removes the staging folder
    and lock, says what ``--out`` holds and exits with 130.
    """
    read, write = os.pipe()
    os.set_blocking(write, False)
    try:
        previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    except ValueError:  # not the main thread: Ctrl-C is not this call's to handle
        os.close(read)
        os.close(write)
        yield
        return
    watcher = threading.Thread(target=_watch, args=(read, args, before), name="tifa-ctrl-c", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.close(write)  # the watcher reads the end of the pipe and stops, unless Ctrl-C came first


def _watch(read: int, args: argparse.Namespace, before: str | None) -> None:
    import multiprocessing
    import time

    from pipeline import io_utils

    with os.fdopen(read, "rb", buffering=0) as pipe:
        while (byte := pipe.read(1)) and byte[0] != signal.SIGINT:
            pass
    if not byte:
        return
    time.sleep(GRACE_SECONDS)
    for child in multiprocessing.active_children():  # stage processes and segmentation workers
        child.kill()
    io_utils.abandon_staging(io_utils.staging_folder(args.out), args.out)
    _say_interrupted(args, before)
    sys.stderr.flush()
    os._exit(130)


def _csv_flag_alone(argv: list[str]) -> list[str]:
    """``tifa kwic --csv 一带一路``: a ``--csv`` followed by a word that is not a .csv file name means
    CSV on standard output, and the word is the phrase (argparse would take it as the file)."""
    if argv[:1] != ["kwic"]:
        return argv
    argv = list(argv)
    for i, arg in enumerate(argv[:-1]):
        following = argv[i + 1]
        if arg == "--csv" and not following.startswith("-") and not following.lower().endswith(".csv"):
            argv[i] = "--csv=-"
    return argv


def _run_key(out: Path) -> str | None:
    """The run key of the complete run in ``out`` (its manifest), None when there is none."""
    import json

    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(manifest.get("run_key", "")) if isinstance(manifest, dict) else None


def _left_behind(args: argparse.Namespace, before: str | None) -> str:
    """What an interrupted ``tifa run`` left in ``--out``, as it is now (the partial files are gone)."""
    if args.command != "run":
        return ""
    now = _run_key(args.out)
    if now is None:
        return f" — nothing was written: {args.out}/ holds no run"
    if now == before:
        return f" — {args.out}/ still holds the previous complete run"
    return f" — {args.out}/ holds this run, complete (it finished as you interrupted)"


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
            raise Errors.E022(path=args.phrases, reason=exc) from exc
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
        reference=args.reference,
        on_warnings=_print_warnings,  # at the end of ingest, not after the whole run
    )
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
    kwic.add_argument(
        "--region", help="only this region (any name: 上海, 上海市, 沪, Shanghai; a city at --level city: 三明, 350400)"
    )
    kwic.add_argument("--year", type=int, help="only this year")
    kwic.add_argument("--limit", type=_count, default=0, help="at most this many lines (default: all)")
    kwic.add_argument(
        "--csv",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write CSV instead of a table: to FILE (a name ending in .csv), or to stdout when FILE "
        "is left out",
    )
    kwic.add_argument("--exact", action="store_true", help="search PHRASE as typed, not its variants")

    phrases = commands.add_parser(
        "phrases",
        help="top phrases of the last run",
        description="The best phrases of the last run as a table, optionally of one family (--kind) "
        "or used in one region (--region, the most distinctive there first).",
    )
    phrases.add_argument("--out", type=Path, default=Path("out"), help=out_help)
    phrases.add_argument(
        "--kind",
        choices=["quoted", "quotation", "numbered", "enumeration", "item", "statistical", "user", "reference"],
        help="only phrases of this family",
    )
    phrases.add_argument(
        "--region", help="only phrases used in this region, the most distinctive there first (see --sort)"
    )
    phrases.add_argument(
        "--sort",
        choices=("keyness", "rank"),
        default="keyness",
        help="with --region: keyness (most distinctive of the region first, keyness.csv; default) "
        "or rank (the run's ranking)",
    )
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
    from pipeline import kwic, tables
    from pipeline.text import normalize

    query = normalize(args.phrase).strip()
    if not query:
        raise Errors.E064()
    phrase_csv = tables.locate(args.out / "phrases.csv")  # or phrases.parquet
    if args.inputs:
        from pipeline.ingest import ingest

        if not Path(args.inputs[0]).exists() and not any(c in args.inputs[0] for c in "/.\\"):
            raise Errors.E066(word=args.inputs[0], phrase=args.phrase)  # tifa kwic 大众创业 万众创新

        segments = list(ingest(args.inputs).segments)
        where = ", ".join(args.inputs)
    else:
        texts = tables.locate(args.out / "texts.jsonl")  # or texts.parquet
        if not texts.is_file() and (args.out / "manifest.json").is_file():
            raise Errors.E061(path=args.out)
        if not texts.is_file():
            raise kwic.missing_run(args.out, "texts.jsonl")
        segments = kwic.load_texts(texts)
        where = str(texts)
    rows = list(kwic.read_rows(phrase_csv)) if not args.exact and phrase_csv.is_file() else []
    canonical, forms = kwic.phrase_forms(query, rows) if rows else (query, (query,))
    listed = canonical != query or forms != (query,) or any(row["phrase"] == query for row in rows)
    region = kwic.resolve_region(args.region, None if args.inputs else args.out) if args.region else ""
    # In the run's own texts, a listed phrase shows its counted uses: not the matches inside a longer
    # word (新发展理念 in 创新发展理念), which in_word_hits.csv keeps for audit.
    in_word = kwic.in_word_matches(args.out, canonical) if listed and not args.inputs else set()
    lines = kwic.kwic(
        segments,
        forms,
        width=args.width,
        region=region,
        year=args.year,
        limit=args.limit,
        loose=not args.exact and not listed,  # a phrase the run did not list: punctuation ignored
        skip=in_word,
    )
    if args.csv is None:
        if lines:
            sys.stdout.write(kwic.format_kwic(lines, args.width, kwic.terminal_width()))
    elif args.csv == "-":
        sys.stdout.write(kwic.kwic_csv(lines))
    else:
        from pipeline.io_utils import atomic_write

        atomic_write(Path(args.csv), "\ufeff" + kwic.kwic_csv(lines))
    # Forms are listed with | between them: 、 and ， occur inside the forms themselves.
    shown = f" (forms: {' | '.join(forms)})" if len(forms) > 1 else ""
    limit = " (--limit reached)" if args.limit and len(lines) >= args.limit else ""
    hidden = f"; {len(in_word)} match(es) inside longer words not counted (in_word_hits.csv)" if in_word else ""
    print(f"{len(lines)} line(s) for {canonical}{shown} in {where}{limit}{hidden}", file=sys.stderr)
    if not lines:
        for hint in _kwic_hints(args, segments, region, query, listed, phrase_csv):
            print(f"tifa: hint: {hint}", file=sys.stderr)
    return 0


def _kwic_hints(
    args: argparse.Namespace,
    segments: list[Segment],
    region: str,
    query: str,
    listed: bool,
    phrase_csv: Path,
) -> list[str]:
    """Why a look-up found nothing: a region or year without text, or a phrase the run did not list."""
    from pipeline import kwic

    hints = []
    in_region = [s for s in segments if not region or s.region == region]
    if region and not in_region:
        regions = sorted({s.region for s in segments if s.region})
        hints.append(f"no text from {region}; regions with text: {'、'.join(regions) or 'none'}")
    years = {s.year for s in in_region if s.year is not None}
    if args.year is not None and in_region and args.year not in years:
        where = f" from {region}" if region else ""
        hints.append(f"no text{where} in {args.year}; years with text: {kwic.year_runs(years) or 'none'}")
    if not listed and not args.exact and phrase_csv.is_file():
        near = kwic.near_phrases(query, kwic.read_rows(phrase_csv))
        found = f"; near phrases: {' | '.join(near)}" if near else ""
        hints.append(f"{query} is not a phrase of the run in {args.out}{found}")
    return hints


def _phrases(args: argparse.Namespace) -> int:
    from pipeline import kwic, tables

    region = kwic.resolve_region(args.region, args.out) if args.region else ""
    rows, total = kwic.top_phrases(
        args.out, kind=args.kind or "", region=region, limit=args.limit, sort=args.sort
    )
    header = ["rank", "phrase", "family", "count", "segments", "regions"]
    table = [[r.rank, r.phrase, r.kind, r.count, r.segments, r.regions_n] for r in rows]
    if region:  # the region's own figures take the place of the segment count
        order = "most distinctive first (z: keyness z-score)" if args.sort == "keyness" else "in rank order"
        print(f"phrases used in {region}, {order}")
        header[4:] = ["regions", f"in {region}", "per 10k", "z"]
        for line, r in zip(table, rows, strict=True):
            z = "" if r.region_score is None else f"{r.region_score:.1f}"
            line[4:] = [r.regions_n, r.region_count, f"{r.region_per_10k:.2f}", z]
    sys.stdout.write(
        kwic.format_table(header, table, align="><<>>>>>>", columns=kwic.terminal_width(), fit=1)
    )
    print(f"{len(rows)} of {total} phrase(s) — all in {tables.locate(args.out / 'phrases.csv')}", file=sys.stderr)
    return 0


def _regions(args: argparse.Namespace) -> int:
    from pipeline import kwic

    region = kwic.resolve_region(args.region, args.out) if args.region else ""
    top = args.top if args.top is not None else (20 if region else 5)
    rows = kwic.region_overview(args.out, top=top, region=region)
    columns = kwic.terminal_width()
    if region and not rows:
        others = [r.region for r in kwic.region_overview(args.out, top=0)]
        hint = f"; regions with text: {'、'.join(others)}" if others else ""
        raise Errors.E065(region=region, path=args.out, hint=hint)
    from pipeline.echo import describe_echo, read_echo_regions

    echoes = read_echo_regions(args.out)  # runs with --reference only
    if region:
        row = rows[0]
        print(
            f"{row.region}: cluster {row.cluster or '-'}, {row.segments} segment(s), {row.chars:,} characters;"
            f" most similar: {row.nearest or '-'}"
        )
        print(f"years with text: {row.years or '-'}" + (f" — gaps: {row.gaps}" if row.gaps else ""))
        if row.region in echoes:
            print(describe_echo(echoes[row.region], len(echoes)))
        table = [
            [i, phrase, count, f"{score:.1f}"] for i, (phrase, count, score) in enumerate(row.distinctive, 1)
        ]
        sys.stdout.write(
            kwic.format_table(
                ["#", "distinctive phrase", "count", "z"], table, align="><>>", columns=columns, fit=1
            )
        )
        _print_clusters(args.out, only=row.cluster)
        return 0
    table = [
        [
            r.region,
            r.cluster,
            r.segments,
            f"{r.chars:,}",
            r.years,
            r.nearest,
            [p for p, _, _ in r.distinctive],
        ]
        for r in rows
    ]
    header = ["region", "cluster", "segments", "chars", "years", "most similar", "distinctive phrases"]
    align = "<>>><<<"
    if echoes:  # the region's echo of the centre: rank, rate, median lag (echo_regions.csv)
        header[6:6] = ["echo rank", "echo rate", "median lag"]
        align = "<>>><<>>><"
        for line, r in zip(table, rows, strict=True):
            figures = echoes.get(r.region, {})
            rate = figures.get("echo_rate", "")
            line[6:6] = [
                figures.get("rank", ""),
                f"{float(rate) * 100:.0f}%" if rate else "",
                figures.get("median_lag", ""),
            ]
    sys.stdout.write(kwic.format_table(header, table, align=align, columns=columns, wrap=6))
    _print_clusters(args.out)
    return 0


def _print_clusters(out: Path, only: str = "") -> None:
    """Each cluster (or cluster ``only``): members, bootstrap support, what sets it apart."""
    from pipeline import kwic
    from pipeline.cluster import read_clusters

    clusters = read_clusters(out, top=8)
    width = (kwic.terminal_width() or 10_000) - 4  # lists wrap to the terminal, indented
    for c in clusters if len(clusters) > 1 else ():
        if only and c.cluster != only:
            continue
        support = "" if c.support is None else f", support {100 * c.support:.0f}%"
        print(f"\ncluster {c.cluster} ({len(c.regions)} regions{support}):")
        for label, items in (("regions", c.regions), ("distinctive phrases", c.phrases), ("distinctive words", c.words)):
            first, *rest = kwic._wrap(list(items), width - len(label)) or ["-"]
            print(f"  {label}: {first}" + "".join(f"\n    {line}" for line in rest))


def _print_warnings(problems: Sequence[str]) -> None:
    for problem in problems:
        print(f"tifa: warning: {problem}", file=sys.stderr)


def _report(args: argparse.Namespace) -> int:
    from pipeline import kwic, parallel
    from pipeline.report import write_report

    if not (args.out / "manifest.json").is_file():
        raise kwic.missing_run(args.out, "manifest.json")
    workers = parallel.available_cores()  # the maps are drawn side by side
    print(f"wrote {write_report(args.out, workers=workers)}", file=sys.stderr)
    return 0


_LOOKUPS = {"kwic": _kwic, "phrases": _phrases, "regions": _regions, "report": _report}


# ---------------------------------------------------------------------------------------------
# tifa map


def _add_map_command(commands: argparse._SubParsersAction) -> None:
    from pipeline.maps import KINDS, LEVELS

    draw = commands.add_parser(
        "map",
        help="draw a map of China: a phrase's rate or first year by region, the clusters, the echo",
        description="Draw a phrase's rate per 10,000 characters (--kind rate) or its first year "
        "(--kind first-year) by region on the map of China, or the clusters (--kind clusters) or each "
        "region's echo of the centre (--kind echo, from echo_regions.csv), from the files of the last "
        "run (--out). Needs the maps extra: pip install -e '.[maps]'.",
    )
    draw.add_argument("phrase", nargs="?", default="", metavar="PHRASE", help="the phrase, e.g. 一带一路")
    draw.add_argument("--kind", choices=KINDS, default="rate", help="what the colours show (default: rate)")
    draw.add_argument("--level", choices=LEVELS, help="provinces or cities (default: the run's level)")
    draw.add_argument("--year", type=int, help="rate: that year only; first-year: adoption up to that year")
    draw.add_argument(
        "--out", type=Path, default=Path("out"), help="folder of the last `tifa run` (default: out)"
    )
    draw.add_argument("--column", help="--kind echo: the column of echo_regions.csv to show")
    where = draw.add_mutually_exclusive_group()
    where.add_argument(
        "--png", type=Path, metavar="FILE", help="write a PNG here (default: map_<kind>_<phrase>.png)"
    )
    where.add_argument("--svg", type=Path, metavar="FILE", help="write an SVG here instead")


def _map(args: argparse.Namespace) -> int:
    import json

    from pipeline import kwic, maps
    from pipeline.io_utils import atomic_write

    manifest = args.out / "manifest.json"
    if not manifest.is_file():
        raise kwic.missing_run(args.out, "manifest.json")
    level = args.level or json.loads(manifest.read_text(encoding="utf-8")).get("settings", {}).get("level")
    level = level if level in maps.LEVELS else "province"
    if args.kind in ("rate", "first-year"):
        if not args.phrase.strip():
            raise Errors.E087(kind=args.kind)
        data = maps.phrase_map(args.out, args.phrase, kind=args.kind, level=level, year=args.year)
    elif args.kind == "clusters":
        data = maps.cluster_map(args.out, level=level)
    else:
        found = maps.echo_map(args.out, level=level, column=args.column or maps.ECHO_COLUMN)
        if found is None:
            raise Errors.E086(name=maps.ECHO_FILE, path=args.out)
        data = found
    fmt = "svg" if args.svg else "png"
    path = args.svg or args.png or Path(maps.file_name(args.phrase, args.kind, level, args.year, fmt))
    image, drawn = maps.draw(data, fmt=fmt)
    atomic_write(path, image)
    rows = [
        [name, f"{value:g}" if args.kind != "rate" else f"{value:.2f}"]
        for name, value in drawn.coloured.items()
    ]
    sys.stdout.write(kwic.format_table(["region", data.legend or args.kind], rows, align="<>"))
    if drawn.grey:
        print(f"grey (text, no use): {'、'.join(drawn.grey)}")
    if drawn.uncovered:
        print(f"not on the map (no boundary): {'、'.join(drawn.uncovered)}")
    print(f"wrote {path} ({len(drawn.coloured)} region(s) coloured)", file=sys.stderr)
    return 0


_LOOKUPS["map"] = _map


if __name__ == "__main__":
    sys.exit(main())
