"""Check a run's ``echo.csv`` against a plain substring count of the texts, year by year.

The run counts only the matches that cut no word (README, *Counting rule*) and lists the others: the
corpus's in ``in_word_hits.csv``, the centre's in ``echo.csv``'s ``centre_in_word``. The check expects
each count to be the plain count less those listed matches.

    python -m pipeline.echo_check OUT CORPUS REFERENCE --phrase 河长制 --phrase 一带一路 [--all]

Reads the corpus and the reference with the same ingest as ``tifa run`` (so the texts are normalised as
tifa counts them), then, for every phrase of ``echo.csv``, counts each of its surface forms
(``phrases.csv`` ``variants``) with ``str.count`` in the reference's texts of each year and in each region's
texts of each year (the named phrases, or with ``--all`` every phrase: minutes on a large corpus), and compares: the centre's uses per year and first year, each region's uses per year,
first year and lag, and that no phrase the reference says and no region that used one is missing.
Prints the named phrases in full (the centre's first year, each region's first year) and whether each is
local-first. Exits 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.ingest import ingest
from pipeline.kwic import read_rows
from pipeline.records import Segment

_JOIN = "\x00"  # never inside a phrase: counting in joined texts = the sum of the counts in each


def _rows(path: Path) -> list[dict[str, str]]:
    return list(read_rows(path))


def _by_year(segments: Iterable[Segment]) -> dict[int, str]:
    texts: dict[int, list[str]] = defaultdict(list)
    for segment in segments:
        if segment.year is not None:
            texts[segment.year].append(segment.text)
    return {year: _JOIN.join(parts) for year, parts in sorted(texts.items())}


def _counts(forms: Sequence[str], texts: dict[int, str]) -> dict[int, int]:
    return {year: n for year, text in texts.items() if (n := sum(text.count(form) for form in forms))}


def _uses(counts: dict[int, int]) -> str:
    return ";".join(f"{year}:{n}" for year, n in sorted(counts.items()))


def check(
    out_dir: Path, corpus: Sequence[str], reference: Sequence[str], phrases: Sequence[str] = ()
) -> list[str]:
    """Every disagreement between ``echo.csv`` and plain counting (empty: all agree) for ``phrases``
    (default: every phrase of ``phrases.csv``)."""
    forms = {row["phrase"]: row["variants"].split(";") for row in _rows(out_dir / "phrases.csv")}
    if phrases:
        forms = {phrase: forms.get(phrase, [phrase]) for phrase in phrases}
    corpus_segments = [s for s in ingest(corpus).segments if s.region]
    centre = _by_year(ingest(reference).segments)
    regions = sorted({s.region for s in corpus_segments})
    region_texts = {r: _by_year(s for s in corpus_segments if s.region == r) for r in regions}
    by_phrase: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _rows(out_dir / "echo.csv"):
        if row["phrase"] in forms:
            by_phrase[row["phrase"]].append(row)
    rejected: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    in_word_path = out_dir / "in_word_hits.csv"
    for row in _rows(in_word_path) if in_word_path.is_file() else []:
        if row["phrase"] in forms and row["region"] and row["year"]:
            rejected[(row["phrase"], row["region"])][int(row["year"])] += 1
    centre_rejected = {
        row["phrase"]: {int(y): int(n) for y, n in (u.split(":") for u in row["centre_in_word"].split(";") if u)}
        for row in _rows(out_dir / "echo.csv")
    }

    def _less(counts: dict[int, int], listed: dict[int, int]) -> dict[int, int]:
        return {year: n for year in counts if (n := counts[year] - listed.get(year, 0))}

    problems = []
    for phrase, surfaces in forms.items():
        centre_counts = _less(_counts(surfaces, centre), centre_rejected.get(phrase, {}))
        if bool(centre_counts) != (phrase in by_phrase):
            problems.append(
                f"{phrase}: the centre says it {sum(centre_counts.values())} time(s), "
                f"echo.csv {'has' if phrase in by_phrase else 'lacks'} it"
            )
    for phrase, listed in by_phrase.items():
        surfaces = forms[phrase]
        centre_counts = _less(_counts(surfaces, centre), centre_rejected.get(phrase, {}))
        expected_first = str(min(centre_counts)) if centre_counts else ""
        region_counts = {r: _less(_counts(surfaces, region_texts[r]), rejected[(phrase, r)]) for r in regions}
        used = {r for r, counts in region_counts.items() if counts}
        if {row["region"] for row in listed if row["region"]} != used:
            problems.append(f"{phrase}: regions in echo.csv differ from the regions that say it")
        for row in listed:
            if row["centre_uses"] != _uses(centre_counts) or row["centre_first_year"] != expected_first:
                problems.append(f"{phrase}: centre {row['centre_uses']} ≠ {_uses(centre_counts)}")
            if not row["region"]:
                continue
            counts = region_counts[row["region"]]
            first = min(counts) if counts else None
            lag = "" if first is None or not expected_first else str(first - int(expected_first))
            if (row["region_uses"], row["region_first_year"], row["lag"]) != (_uses(counts), str(first), lag):
                problems.append(f"{phrase} in {row['region']}: {row['region_uses']} ≠ {_uses(counts)}")
    return problems


def describe(out_dir: Path, phrases: Sequence[str]) -> str:
    """The named phrases as echo.csv and local_first.csv give them."""
    rows = _rows(out_dir / "echo.csv")
    local = {row["phrase"]: row for row in _rows(out_dir / "local_first.csv")}
    lines = []
    for phrase in phrases:
        listed = [row for row in rows if row["phrase"] == phrase]
        if not listed:
            lines.append(f"{phrase}: not in echo.csv")
            continue
        head = listed[0]
        regions = sorted((int(r["region_first_year"]), r["region"]) for r in listed if r["region"])
        firsts = ", ".join(f"{region} {year}" for year, region in regions)
        status = "local-first" if phrase in local else "not local-first"
        lines.append(
            f"{phrase}: centre first {head['centre_first_year']} (uses {head['centre_uses']}); "
            f"{len(regions)} region(s) — {status}; regions' first years: {firsts}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.echo_check", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="the output folder of `tifa run ... --reference ...`")
    parser.add_argument("corpus", help="the corpus given to that run")
    parser.add_argument("reference", help="the reference given to that run")
    parser.add_argument("--phrase", action="append", default=[], help="a phrase to check and print in full")
    parser.add_argument("--all", action="store_true", help="check every phrase (slow on a large corpus)")
    args = parser.parse_args(argv)
    if not args.phrase and not args.all:
        parser.error("give --phrase PHRASE (one or more) or --all")
    problems = check(args.out, [args.corpus], [args.reference], () if args.all else args.phrase)
    rows = [r for r in _rows(args.out / "echo.csv") if args.all or r["phrase"] in args.phrase]
    print(
        f"echo.csv: {len({r['phrase'] for r in rows})} phrase(s), {len(rows)} row(s) checked against "
        f"str.count by year: {len(problems)} disagreement(s)"
    )
    for problem in problems[:50]:
        print("  " + problem)
    if args.phrase:
        print(describe(args.out, args.phrase))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
