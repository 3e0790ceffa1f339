"""Command line: ``tifa run INPUT... --out DIR`` and friends. A thin layer over the stages."""

from __future__ import annotations

import argparse
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
    run.add_argument("--config", type=Path, help="settings file (TOML); see pipeline/config.py for keys")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    run.add_argument("--workers", type=int, help="processes for segmentation (default: all cores)")
    run.add_argument("--model", type=Path, help="segmentation model folder (default: models/zh_pkuseg)")
    run.add_argument(
        "--phrases",
        type=Path,
        metavar="FILE",
        help="phrases of interest, one per line: always counted, marked kind=user",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
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
        user_phrases = [line for line in user_phrases if line and not line.startswith("#")]
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
            + (f" ({summary.skipped} files skipped, see manifest.json)" if summary.skipped else ""),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
