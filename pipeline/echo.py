"""Echoes of the centre: a reference corpus (the centre's texts) and how fast regions take up its phrases.

The reference (``tifa run CORPUS --reference DIR``) is read by the same ingest and segmented with the same
cache as the corpus, but it is never a region: its segments carry no region and never enter the region
tables, keyness, similarity or clusters. It serves twice:

- **discovery**: the phrase stage runs on the reference alone (:func:`reference_phrases`); every surface
  form it keeps is handed to the corpus's extraction (``phrases.extract(reference_phrases=...)``), where it
  is a phrase whenever the corpus says it at least once;
- **timing**: every phrase is searched in the reference texts (:func:`centre_counts`: a plain substring
  count of every surface form, as in the corpus), which gives the centre's first year of each phrase.

Outputs (written only when a reference is given):

- ``echo.csv`` (:func:`echo_rows`): one row per phrase the corpus and the reference share and per region
  that used it in dated text — the centre's first year and uses per year, the region's first year, uses
  per year and lag (region's first year − centre's first year; negative: the region said it first);
- ``echo_regions.csv`` (:func:`echo_regions`): per region, of the phrases the centre introduced in a year
  Y within the corpus's years, the share the region had used by the end of Y, Y+1, Y+2; the median lag;
  the rank by echo rate (the mean of the three shares);
- ``local_first.csv`` (:func:`local_first`): shared phrases regions used before the centre's first use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pipeline import phrases as phrase_stage
from pipeline.compare import LIST_SEPARATOR, HitCounts
from pipeline.config import Settings
from pipeline.errors import Errors
from pipeline.ingest import IngestResult, ingest
from pipeline.io_utils import write_csv
from pipeline.records import NlpResult, Phrase, Segment, Sentence

ECHO_YEARS = 3  # shares by the end of Y, Y+1, Y+2
# Settings only a run with a reference uses: manifest.json lists them under "reference", not "settings",
# so a run without a reference records exactly what it did before there was one.
REFERENCE_SETTINGS = ("reference",)


# --------------------------------------------------------------------------- reading the reference


def _inside(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def read_reference(paths: Sequence[str], corpus_paths: Sequence[str], corpus: IngestResult) -> IngestResult:
    """Ingest the reference: its segments without regions, and its file reports.

    Raises ``TifaError``: E071 when a reference path is, holds or lies in a corpus path, or a reference
    text is also a corpus text; E070 when the reference has no readable text.
    """
    for raw in paths:
        for corpus_raw in corpus_paths:
            here, there = Path(raw).resolve(), Path(corpus_raw).resolve()
            if _inside(here, there) or _inside(there, here):
                raise Errors.E071(what=f"{raw} overlaps the corpus input {corpus_raw}")
    result = ingest(paths)
    if not result.segments:
        skipped = [f"{r.source}: {r.reason}" for r in result.inputs if r.reason]
        why = f" ({'; '.join(skipped[:3])}{' …' if len(skipped) > 3 else ''})" if skipped else ""
        raise Errors.E070(paths=", ".join(paths), why=why)
    corpus_texts = {_digest(s.text): s.source for s in corpus.segments}
    for segment in result.segments:
        if (source := corpus_texts.get(_digest(segment.text))) is not None:
            raise Errors.E071(what=f"{segment.source} has the same text as the corpus file {source}")
    return dataclasses.replace(
        result, segments=tuple(dataclasses.replace(s, region="") for s in result.segments)
    )


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def warnings(reference: IngestResult) -> tuple[str, ...]:
    """What the user should know about the reference: texts without a year cannot time anything."""
    undated = [s for s in reference.segments if s.year is None]
    if not undated:
        return ()
    if len(undated) == len(reference.segments):
        return (
            "reference: no text has a year (metadata.csv year, a file name such as 2015_报告.txt, or a date "
            "in the opening lines) — its phrases still help discovery, but echo.csv, echo_regions.csv and "
            "local_first.csv are not written",
        )
    return (
        f"reference: {len(undated)} of {len(reference.segments)} text(s) have no year — they help discovery "
        "but not the centre's first years",
    )


def reference_phrases(found: Sequence[Phrase]) -> dict[str, float | None]:
    """Every surface form of the formulas the reference's own extraction kept (``role`` formula: not
    its statistics labels, boilerplate, fragments or verb frames), sorted, with the phrase's cohesion
    there (None for forms no statistics measured)."""
    forms = {form: phrase.cohesion for phrase in found if phrase.role == "formula" for form in phrase.variants}
    return dict(sorted(forms.items()))


# --------------------------------------------------------------------------- the centre's counts


@dataclass(frozen=True, eq=False)  # arrays: compare fields with numpy, not ==
class CentreCounts:
    """Uses of each phrase in the reference: ``by_year[p, y]`` in the texts of ``years[y]``,
    ``total[p]`` in all of them (texts without a year included)."""

    vocabulary: tuple[str, ...]
    years: tuple[int, ...]
    by_year: np.ndarray  # (phrases, years) int64
    total: np.ndarray  # (phrases,) int64
    in_word_by_year: np.ndarray  # (phrases, years): matches inside a longer word, not counted

    def first_year(self) -> list[int | None]:
        used = self.by_year > 0
        first = used.argmax(axis=1).tolist()
        return [self.years[t] if ok else None for t, ok in zip(first, used.any(axis=1).tolist(), strict=True)]


def centre_counts(
    forms: Mapping[str, Sequence[str]], segments: Sequence[Segment], sentences: Sequence[Sentence] = ()
) -> CentreCounts:
    """Count every surface form of every phrase (``phrase → forms``) in the reference ``segments``.

    The count of a phrase is what it is in the corpus: the matches of its forms that cut no word of
    the reference's segmentation (``sentences``) that general Chinese knows (``phrases`` module: a
    match of 新发展理念 inside 创新发展理念 is no use of it, however early the centre wrote it).
    """
    vocabulary = tuple(forms)
    years = tuple(sorted({s.year for s in segments if s.year is not None}))
    all_forms = sorted({form for surfaces in forms.values() for form in surfaces if form})
    corpus = phrase_stage._Corpus.of_texts(segments)
    if sentences:
        corpus = corpus.with_tokens(segments, sentences)
    located, in_word = phrase_stage.occurrences(all_forms, corpus).split(corpus)
    form_at = {form: index for index, form in enumerate(located.forms)}
    owner_form, owner_phrase = [], []
    for number, surfaces in enumerate(forms.values()):
        for form in set(surfaces):
            if form in form_at:
                owner_form.append(form_at[form])
                owner_phrase.append(number)
    year_at = {year: index for index, year in enumerate(years)}
    segment_year = np.asarray([year_at.get(s.year, -1) for s in segments], dtype=np.int64)  # type: ignore[arg-type]

    def per_phrase(found: phrase_stage._Located) -> np.ndarray:
        by_form = np.zeros((len(found.forms), len(years) + 1), dtype=np.int64)  # last column: undated
        np.add.at(by_form, (found.form, segment_year[found.segment]), 1)
        by_year = np.zeros((len(vocabulary), len(years) + 1), dtype=np.int64)
        np.add.at(
            by_year, np.asarray(owner_phrase, dtype=np.int64), by_form[np.asarray(owner_form, dtype=np.int64)]
        )
        return by_year

    by_year, rejected = per_phrase(located), per_phrase(in_word)
    return CentreCounts(vocabulary, years, by_year[:, :-1], by_year.sum(axis=1), rejected[:, :-1])


# --------------------------------------------------------------------------- the regions' counts


@dataclass(frozen=True)
class _RegionUse:
    """From ``HitCounts``: per phrase, each region's uses by year (dated, attributed text only)."""

    uses: dict[int, dict[int, dict[int, int]]]  # phrase index → region index → year → uses
    text_years: list[list[int]]  # per region: the years it has text, sorted

    @classmethod
    def of(cls, counts: HitCounts) -> _RegionUse:
        uses: dict[int, dict[int, dict[int, int]]] = {}
        region, year, phrase = counts.decode()
        for r, y, p, n in zip(
            region.tolist(), year.tolist(), phrase.tolist(), counts.cell_counts.tolist(), strict=True
        ):
            uses.setdefault(p, {}).setdefault(r, {})[counts.years[y]] = n
        text_years = [
            [counts.years[y] for y in np.flatnonzero(row).tolist()] for row in (counts.year_chars > 0)
        ]
        return cls(uses, text_years)


def _uses(by_year: Mapping[int, int]) -> str:
    """'2014:2;2016:5' — uses per year, years with a use only."""
    return LIST_SEPARATOR.join(f"{year}:{n}" for year, n in sorted(by_year.items()) if n)


# --------------------------------------------------------------------------- echo.csv


class EchoRow(NamedTuple):
    """One phrase shared by the corpus and the reference, and one region that used it (in dated text).

    ``lag`` = ``region_first_year`` − ``centre_first_year`` (negative: the region said it first);
    ``centre_new``: the centre's first year falls within the corpus's years. A shared phrase no region
    used in dated text has one row with the region columns empty.
    """

    phrase: str
    kind: str
    reference_phrase: bool  # the reference's own extraction keeps it (echo_regions counts only these)
    centre_first_year: int | None
    centre_count: int
    centre_uses: str
    centre_in_word: str  # the centre's matches inside a longer word per year, not counted (audit)
    centre_new: bool
    region: str
    region_first_year: int | None
    lag: int | None
    region_count: int
    region_uses: str


def echo_rows(
    found: Sequence[Phrase], counts: HitCounts, centre: CentreCounts, reference_keys: Iterable[str]
) -> list[EchoRow]:
    """``echo.csv``: every phrase of ``found`` the reference uses, region by region (sorted by phrase)."""
    use = _RegionUse.of(counts)
    keys = set(reference_keys)
    kind = {p.phrase: p.kind for p in found}
    centre_at = {name: index for index, name in enumerate(centre.vocabulary)}
    first_years = centre.first_year()
    corpus_years = [year for years in use.text_years for year in years]
    window = (min(corpus_years), max(corpus_years)) if corpus_years else (0, -1)
    rows: list[EchoRow] = []
    for p, name in enumerate(counts.vocabulary):
        c = centre_at.get(name)
        if c is None or not centre.total[c]:
            continue
        first = first_years[c]
        head = (
            name,
            kind.get(name, ""),
            phrase_stage.phrase_key(name) in keys,
            first,
            int(centre.total[c]),
            _uses(dict(zip(centre.years, centre.by_year[c].tolist(), strict=True))),
            _uses(dict(zip(centre.years, centre.in_word_by_year[c].tolist(), strict=True))),
            first is not None and window[0] <= first <= window[1],
        )
        by_region = use.uses.get(p, {})
        if not by_region:
            rows.append(EchoRow(*head, "", None, None, 0, ""))
        for r in sorted(by_region):  # region indices follow the sorted region names
            years = by_region[r]
            region_first = min(years)
            lag = None if first is None else region_first - first
            rows.append(
                EchoRow(*head, counts.regions[r], region_first, lag, sum(years.values()), _uses(years))
            )
    return rows


# --------------------------------------------------------------------------- local first


class LocalFirstRow(NamedTuple):
    """A shared phrase regions used before the centre's first use: bottom-up diffusion."""

    phrase: str
    kind: str
    centre_first_year: int
    first_year: int
    first_regions: tuple[str, ...]
    lead: int  # years between the regions' first use and the centre's
    regions_before: int  # regions that used it before the centre did
    regions_using: int  # regions that used it at all (dated text)
    rank: int  # the phrase's rank in phrases.csv (0: not ranked)


def local_first(
    rows: Sequence[EchoRow], reference_years: Sequence[int], ranks: Mapping[str, int] | None = None
) -> list[LocalFirstRow]:
    """Phrases of ``echo.csv`` some region used before the centre, in the order of ``ranks`` (phrases.csv's
    ranking: fixed formulas before common words that the centre merely said late), then by name.

    Only phrases whose first central use comes after the reference's first year: before that, the
    reference cannot say when the centre first used a phrase.
    """
    by_phrase: dict[str, list[EchoRow]] = {}
    for row in rows:
        if row.region and row.lag is not None:
            by_phrase.setdefault(row.phrase, []).append(row)
    found = []
    for phrase, users in by_phrase.items():
        centre_first = users[0].centre_first_year
        assert centre_first is not None  # a lag needs it
        if not reference_years or centre_first <= min(reference_years):
            continue
        before = [row for row in users if row.lag is not None and row.lag < 0]
        if not before:
            continue
        first = min(row.region_first_year or 0 for row in before)
        found.append(
            LocalFirstRow(
                phrase,
                users[0].kind,
                centre_first,
                first,
                tuple(sorted(row.region for row in before if row.region_first_year == first)),
                centre_first - first,
                len(before),
                len(users),
                (ranks or {}).get(phrase, 0),
            )
        )
    found.sort(key=lambda row: (row.rank or float("inf"), row.phrase))
    return found


# --------------------------------------------------------------------------- echo_regions.csv


class EchoRegionRow(NamedTuple):
    """How fast one region echoes the centre's new phrases.

    For k = 0, 1, 2: ``introduced_k`` phrases the centre introduced in a year Y of the corpus's years
    such that the region has text in Y or before and in Y+k or later; ``echoed_k`` of them it had used
    by the end of Y+k (a use before Y counts); ``share_k`` their ratio (empty when none is introduced).
    ``median_lag``: over the introduced phrases it used, median of (its first year − Y). ``echo_rate``:
    mean of the shares there are; ``rank`` 1 = the fastest (ties: smaller median lag, then name).
    ``local_first``: shared phrases it used before the centre did.
    """

    region: str
    rank: int
    echo_rate: float | None
    share_0: float | None
    share_1: float | None
    share_2: float | None
    median_lag: float | None
    introduced_0: int
    echoed_0: int
    introduced_1: int
    echoed_1: int
    introduced_2: int
    echoed_2: int
    local_first: int


def echo_regions(
    counts: HitCounts,
    centre: CentreCounts,
    centre_phrases: Iterable[str],
    rows: Sequence[EchoRow],
) -> list[EchoRegionRow]:
    """``echo_regions.csv``: every region with dated text, ranked by echo rate.

    ``centre_phrases``: the names (in ``centre.vocabulary``) of the phrases the reference's own
    extraction kept — the centre's vocabulary, whether or not any region echoes it.
    """
    use = _RegionUse.of(counts)
    corpus_years = sorted({year for years in use.text_years for year in years})
    if not corpus_years:
        return []
    centre_at = {name: index for index, name in enumerate(centre.vocabulary)}
    corpus_at = {name: index for index, name in enumerate(counts.vocabulary)}
    first_years = centre.first_year()
    introduced = [  # (corpus phrase index or -1, year the centre introduced it)
        (corpus_at.get(name, -1), year)
        for name in sorted(set(centre_phrases))
        if name in centre_at
        and (year := first_years[centre_at[name]]) is not None
        and corpus_years[0] <= year <= corpus_years[-1]
    ]
    ahead = {
        region: sum(1 for row in rows if row.region == region and row.lag is not None and row.lag < 0)
        for region in counts.regions
    }
    found = []
    for r, region in enumerate(counts.regions):
        years = use.text_years[r]
        if not years:
            continue
        introduced_k, echoed_k, lags = [0] * ECHO_YEARS, [0] * ECHO_YEARS, []
        for p, year in introduced:
            if year < years[0]:
                continue
            first = min(use.uses.get(p, {}).get(r, {}) or [None]) if p >= 0 else None  # type: ignore[type-var]
            if first is not None:
                lags.append(first - year)
            for k in range(ECHO_YEARS):
                if year + k <= years[-1]:
                    introduced_k[k] += 1
                    echoed_k[k] += first is not None and first <= year + k
        shares = [round(e / i, 6) if i else None for e, i in zip(echoed_k, introduced_k, strict=True)]
        known = [share for share in shares if share is not None]
        found.append(
            (
                region,
                round(sum(known) / len(known), 6) if known else None,
                shares,
                statistics.median(lags) if lags else None,
                introduced_k,
                echoed_k,
                ahead[region],
            )
        )
    last = float("inf")
    found.sort(key=lambda f: (-f[1] if f[1] is not None else last, f[3] if f[3] is not None else last, f[0]))
    return [
        EchoRegionRow(
            region,
            rank,
            rate,
            *shares,
            lag,
            *(value for pair in zip(introduced_k, echoed_k, strict=True) for value in pair),
            ahead_n,
        )
        for rank, (region, rate, shares, lag, introduced_k, echoed_k, ahead_n) in enumerate(found, 1)
    ]


# --------------------------------------------------------------------------- writing and reading


def write_echo(out_dir: Path, tables: EchoTables) -> None:
    """Write ``echo.csv``, ``echo_regions.csv`` and ``local_first.csv``."""
    out_dir = Path(out_dir)
    write_csv(out_dir / "echo.csv", EchoRow._fields, tables.rows)
    write_csv(out_dir / "echo_regions.csv", EchoRegionRow._fields, tables.regions)
    write_csv(
        out_dir / "local_first.csv",
        LocalFirstRow._fields,
        ((*row[:4], LIST_SEPARATOR.join(row.first_regions), *row[5:]) for row in tables.local_first),
    )


def read_echo_regions(out_dir: Path) -> dict[str, dict[str, str]]:
    """``echo_regions.csv`` of a finished run by region (empty when the run had no reference)."""
    import csv

    path = Path(out_dir) / "echo_regions.csv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["region"]: row for row in csv.DictReader(handle)}


# --------------------------------------------------------------------------- as tifa run uses it


@dataclass(frozen=True)
class Centre:
    """The reference as ``tifa run`` carries it: its texts, their segmentation, its own phrases."""

    ingested: IngestResult
    sentences: int  # sentences of the reference
    phrases: tuple[Phrase, ...]  # what the phrase stage finds in the reference alone
    segmentation: Sequence[Sentence] = ()  # its sentences and words: uses are counted on word boundaries

    @property
    def surfaces(self) -> dict[str, float | None]:
        return reference_phrases(self.phrases)


def centre_of(ingested: IngestResult, analysed: NlpResult, settings: Settings) -> Centre:
    """The reference with the phrases the phrase stage finds in it alone (``analysed``: its segmentation,
    by ``engine.analyse_corpus`` through the same cache as the corpus)."""
    segments = ingested.segments
    found = phrase_stage.extract(segments, analysed.sentences, analysed.spans, settings)
    return Centre(ingested, len(analysed.sentences), found.phrases, analysed.sentences)


@dataclass(frozen=True)
class EchoTables:
    rows: tuple[EchoRow, ...]
    regions: tuple[EchoRegionRow, ...]
    local_first: tuple[LocalFirstRow, ...]

    def centre_first_years(self) -> dict[str, int | None]:
        """Each shared phrase's first central year (the column ``diffusion.csv`` gains)."""
        return {row.phrase: row.centre_first_year for row in self.rows}


def echo_tables(centre: Centre, found: Sequence[Phrase], counts: HitCounts) -> EchoTables | None:
    """The three echo tables of a run, or None when the reference has no dated text."""
    segments = centre.ingested.segments
    if all(s.year is None for s in segments):
        return None
    forms = {p.phrase: p.variants for p in found}
    corpus_keys = {phrase_stage.phrase_key(name) for name in forms}
    own = [p for p in centre.phrases if phrase_stage.phrase_key(p.phrase) not in corpus_keys]
    forms.update({p.phrase: p.variants for p in own})  # the centre's phrases the corpus never says
    centre_count = centre_counts(forms, segments, centre.segmentation)
    reference_keys = {phrase_stage.phrase_key(p.phrase) for p in centre.phrases}
    rows = echo_rows(found, counts, centre_count, reference_keys)
    centre_names = [name for name in forms if phrase_stage.phrase_key(name) in reference_keys]
    return EchoTables(
        tuple(rows),
        tuple(echo_regions(counts, centre_count, centre_names, rows)),
        tuple(local_first(rows, centre_count.years, {p.phrase: n for n, p in enumerate(found, 1)})),
    )


def manifest_entry(
    paths: Sequence[str], centre: Centre, tables: EchoTables | None, settings: Settings
) -> dict[str, object]:
    """``manifest.json``'s ``reference``: its files apart from the corpus's, with counts and settings."""
    segments = centre.ingested.segments
    return {
        "paths": list(paths),
        "settings": {name: getattr(settings, name) for name in REFERENCE_SETTINGS[1:]},
        "inputs": [dataclasses.asdict(report) for report in centre.ingested.inputs],
        "counts": {
            "segments": len(segments),
            "sentences": centre.sentences,
            "characters": sum(len(s.text) for s in segments),
            "years": sorted({s.year for s in segments if s.year is not None}),
            "phrases": len(centre.phrases),
            "shared_phrases": len({row.phrase for row in tables.rows}) if tables else 0,
            "local_first": len(tables.local_first) if tables else 0,
        },
    }


def describe_echo(row: Mapping[str, str], regions: int) -> str:
    """One line of a region's echo figures, for ``tifa regions --region``."""

    def share(k: int) -> str:
        value = row[f"share_{k}"]
        return f"{float(value) * 100:.0f}% of {row[f'introduced_{k}']}" if value else "–"

    rate = f"{float(row['echo_rate']) * 100:.0f}%" if row["echo_rate"] else "–"
    return (
        f"echo of the centre: rank {row['rank']} of {regions}, echo rate {rate}; the centre's new phrases used "
        f"by Y {share(0)}, by Y+1 {share(1)}, by Y+2 {share(2)}; median lag {row['median_lag'] or '–'} "
        f"year(s); {row['local_first']} phrase(s) used before the centre"
    )
