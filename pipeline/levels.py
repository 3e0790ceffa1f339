"""Check that a run at province level and one at city level of the same corpus agree.

At city level ``adoption.csv`` has a ``province`` column; summing its rows by province (the province's
cities plus the province's own documents, whose unit is the province) must give the province-level
``adoption.csv`` exactly: counts, and characters of text per province and year. Phrases are found
anew at each level (spread across regions is one criterion, and there are more cities than
provinces), so the counts are compared for the phrases both runs found; the others are counted.

    python -m pipeline.levels OUT_PROVINCE OUT_CITY

prints the provinces, cities and phrase counts compared and every disagreement (exit 1 if any).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

__all__ = ["compare_levels", "main"]


def _rows(path: Path) -> Iterable[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def compare_levels(province_out: Path, city_out: Path) -> tuple[dict[str, int], list[str]]:
    """(figures, disagreements) of the two runs' ``adoption.csv`` summed to (province, year, phrase)."""
    found = [{row["phrase"] for row in _rows(out / "phrases.csv")} for out in (province_out, city_out)]
    both = found[0] & found[1]
    by_province: Counter[tuple[str, str, str]] = Counter()
    chars_province: dict[tuple[str, str], int] = {}
    for row in _rows(province_out / "adoption.csv"):
        chars_province[row["region"], row["year"]] = int(row["chars"])
        if row["phrase"] in both:
            by_province[row["region"], row["year"], row["phrase"]] += int(row["count"])
    summed: Counter[tuple[str, str, str]] = Counter()
    chars_units: dict[tuple[str, str, str], int] = {}
    units: dict[str, set[str]] = {}
    for row in _rows(city_out / "adoption.csv"):
        if row["phrase"] in both:
            summed[row["province"], row["year"], row["phrase"]] += int(row["count"])
        chars_units[row["province"], row["year"], row["region"]] = int(row["chars"])
        units.setdefault(row["province"], set()).add(row["region"])
    chars_summed: Counter[tuple[str, str]] = Counter()
    for (province, year, _unit), chars in chars_units.items():
        chars_summed[province, year] += chars
    problems = [
        f"{province} {year or 'all years'} {phrase}: province level {count}, cities + own documents "
        f"{summed.get((province, year, phrase), 0)}"
        for (province, year, phrase), count in sorted(by_province.items())
        if summed.get((province, year, phrase), 0) != count
    ]
    problems += [
        f"{province} {year or 'all years'} {phrase}: only at city level ({count})"
        for (province, year, phrase), count in sorted(summed.items())
        if (province, year, phrase) not in by_province
    ]
    problems += [
        f"{province} {year or 'all years'}: {chars} characters at province level, "
        f"{chars_summed.get((province, year), 0)} summed over its cities and own documents"
        for (province, year), chars in sorted(chars_province.items())
        if chars_summed.get((province, year), 0) != chars
    ]
    segments = [
        Counter(row[column] for row in _rows(out / "segments.csv"))
        for out, column in ((province_out, "region"), (city_out, "province"))
    ]
    problems += [
        f"{province or 'no region'}: {n} segments at province level, {segments[1].get(province, 0)} at city level"
        for province, n in sorted(segments[0].items())
        if segments[1].get(province, 0) != n
    ]
    figures = {
        "segments": sum(segments[0].values()),
        "phrases_compared": len(both),
        "phrases_only_at_province_level": len(found[0] - both),
        "phrases_only_at_city_level": len(found[1] - both),
        "provinces": len({province for province, _ in chars_province}),
        "units_at_city_level": sum(len(names) for names in units.values()),
        "province_phrase_year_counts": len(by_province),
        "hits": sum(count for (_, year, _), count in by_province.items() if not year),
    }
    return figures, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("province_out", type=Path, help="output folder of a run with level = province")
    parser.add_argument(
        "city_out", type=Path, help="output folder of a run of the same inputs with level = city"
    )
    args = parser.parse_args(argv)
    figures, problems = compare_levels(args.province_out, args.city_out)
    print(", ".join(f"{name} {value:,}" for name, value in figures.items()))
    for problem in problems[:50]:
        print(problem)
    print("consistent" if not problems else f"{len(problems)} disagreement(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
