"""What the report shows, read from an output folder: :class:`Run` loads it once for every section.

Everything is read through the readers beside the writers (:mod:`pipeline.outputs`) and the
everyday look-ups (:mod:`pipeline.kwic`, :func:`pipeline.cluster.read_clusters`), so the report
depends on the output contract only, never on the stages' records.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import outputs, tables
from pipeline.kwic import top_keyness, year_runs
from pipeline.regions import lookup

UNPLACED = 10**6  # sorts a region without cluster (or province) last


@dataclass(frozen=True)
class ReportLimits:
    """Caps on what the report shows; the CSVs always hold everything."""

    phrases: int = 200  # rows in the phrase table
    heatmap_phrases: int = 40  # columns of the adoption heatmap
    keyness_per_region: int = 15  # distinctive phrases listed per region
    contexts_per_phrase: int = 6  # KWIC lines per phrase (spread over regions)
    context_chars: int = 24  # characters of context on each side
    context_phrases: int = 700  # phrases with contexts (the best-ranked of those named in the report)
    diffusion_charts: int = 12  # small line charts
    diffusion_rows: int = 60  # rows in the diffusion table
    maps: int = 6  # first-year maps (of the phrases that spread most)
    reuse_rows: int = 100  # shared passages listed
    documents: int = 500  # rows in the document table
    problems: int = 200  # skipped files / problems listed
    nearest: int = 5  # most similar units listed per unit (city level)
    figure_units: int = 60  # above this many units, similarity is shown by province, not as a figure


def number(value: int | float) -> str:
    """``1,234`` for an int, ``1,234.50`` for a float."""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def to_int(value: object, default: int = 0) -> int:
    """An integer from a table cell or a manifest value (``default`` when empty or not a number)."""
    return outputs.cell_int(None if value is None else str(value), default)


to_float = outputs.cell_float


def year_ranges(years: Iterable[str]) -> str:
    """'2012–2015, 2017' for a set of years given as text."""
    return year_runs(int(y) for y in years if str(y).isdigit())


def spread(regions: Sequence[str], all_regions: Sequence[str]) -> str:
    """A short description of which regions use a phrase: the list, or 'all but …' when nearly all."""
    total = len(all_regions)
    if total and len(regions) == total:
        return f"all {total}"
    missing = [r for r in all_regions if r not in set(regions)]
    if total > 10 and len(missing) <= 5:
        return "all but " + "、".join(missing)
    shown = "、".join(regions[:10])
    return shown + (f" … (+{len(regions) - 10})" if len(regions) > 10 else "")


def clip_list(names: Sequence[str], keep: int = 6) -> str:
    shown = "、".join(names[:keep])
    return shown + (f" +{len(names) - keep}" if len(names) > keep else "")


_BLUES = ((247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107))


def blue(t: float) -> str:
    """The colour of ``t`` (0 … 1) on a white-to-dark-blue scale."""
    t = max(0.0, min(1.0, t)) * (len(_BLUES) - 1)
    low = min(int(t), len(_BLUES) - 2)
    frac = t - low
    rgb = (round(a + (b - a) * frac) for a, b in zip(_BLUES[low], _BLUES[low + 1], strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# ---------------------------------------------------------------------------------------------
# diffusion: the phrases that spread most


@dataclass(frozen=True)
class Diffusion:
    years: list[int]
    spreading: list[tuple[str, int]]  # the phrases shown, with the regions they gained
    curves: dict[str, dict[int, outputs.DiffusionPoint]]  # phrase -> year -> point, of those shown
    first: dict[str, tuple[str, str]]  # phrase -> (first_year, first_regions), of those shown


def spreading(ends: Iterable[outputs.DiffusionEnd], ranks: dict[str, int], n: int) -> list[tuple[str, int]]:
    """The ``n`` phrases that spread most, from ``(phrase, regions adopted in the first year, by the last
    year, share adopted by the last year)``: regions gained, then the share reached, then rank."""
    gains = [(phrase, last - first, share) for phrase, first, last, share in ends if last > first]
    if len(gains) > n > 0:  # only phrases that gained as much as the n-th most can be shown
        least = sorted([gained for _, gained, _ in gains], reverse=True)[n - 1]
        gains = [item for item in gains if item[1] >= least]
    gains.sort(key=lambda item: (-item[1], -round(item[2], 6), ranks.get(item[0], 10**9), item[0]))
    return [(phrase, gained) for phrase, gained, _ in gains[:n]]


def diffusion(out_dir: Path, ranks: dict[str, int], n: int) -> Diffusion:
    """The years of ``diffusion.csv`` and the ``n`` phrases that spread most, with their curves."""
    found = outputs.read_diffusion(out_dir, lambda ends: spreading(ends, ranks, n))
    return Diffusion(found.years, found.picked, found.curves, found.first)


# ---------------------------------------------------------------------------------------------
# contexts (KWIC)


@dataclass(frozen=True)
class Line:
    left: str
    match: str
    right: str
    region: str
    year: str
    source: str


HitsOf = Callable[[set[str]], Iterable[outputs.HitRow]]  # the hits of the phrases wanted, in hits.csv's order


def contexts(
    out_dir: Path,
    wanted: set[str],
    ranks: dict[str, int],
    per: int,
    width: int,
    hits_of: HitsOf | None = None,
) -> dict[str, list[Line]]:
    """Up to ``per`` lines per wanted phrase, taken in turn from the regions using it most.

    The hits are read from ``hits.csv`` unless ``hits_of`` gives them (``tifa run``: from memory)."""
    texts_path = tables.locate(out_dir / "texts.jsonl")  # or texts.parquet (table_format)
    if not wanted or not texts_path.is_file() or not tables.locate(out_dir / "hits.csv").is_file():
        return {}
    picked: dict[str, dict[str, list[tuple[str, int, int]]]] = defaultdict(lambda: defaultdict(list))
    region_hits: dict[str, Counter[str]] = defaultdict(Counter)
    hits = hits_of(wanted) if hits_of else outputs.read_hits_of(out_dir, wanted, ranks)
    for phrase, region, segment_id, start, end in hits:
        region_hits[phrase][region] += 1
        if len(picked[phrase][region]) < per:
            picked[phrase][region].append((segment_id, start, end))
    needed = {seg for regions in picked.values() for hits in regions.values() for seg, _, _ in hits}
    texts: dict[str, dict[str, Any]] = {}
    for _, record in tables.read_texts(texts_path):
        if record["segment_id"] in needed:
            texts[record["segment_id"]] = record
    found: dict[str, list[Line]] = {}
    for phrase, by_region in picked.items():
        order = sorted(by_region, key=lambda r: (-region_hits[phrase][r], r))
        chosen: list[tuple[str, int, int]] = []
        for turn in range(per):
            for region in order:
                if turn < len(by_region[region]) and len(chosen) < per:
                    chosen.append(by_region[region][turn])
        lines = []
        for segment_id, start, end in chosen:
            record = texts.get(segment_id)
            if record is None:
                continue
            text = record["text"]
            lines.append(
                Line(
                    left=text[max(0, start - width) : start].replace("\n", " "),
                    match=text[start:end],
                    right=text[end : end + width].replace("\n", " "),
                    region=record.get("region", ""),
                    year="" if record.get("year") is None else str(record.get("year")),
                    source=record.get("source", ""),
                )
            )
        if lines:
            found[phrase] = lines
    return found


# ---------------------------------------------------------------------------------------------
# the run


@dataclass
class Run:
    """An output folder read once: what several sections share. Sections read the rest themselves
    through :mod:`pipeline.outputs`."""

    out_dir: Path
    limits: ReportLimits
    manifest: dict[str, Any]
    segments: list[dict[str, str]]
    phrases: list[dict[str, str]]  # best first
    ranks: dict[str, int]
    clusters: dict[str, str]  # region -> cluster
    regions: list[str]  # sorted
    province_of: dict[str, str]  # region -> province, at city level ({} at province level)
    keyness: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    diffusion: Diffusion = field(default_factory=lambda: Diffusion([], [], {}, {}))
    contexts: dict[str, list[Line]] = field(default_factory=dict)
    workers: int = 1  # processes that may draw the maps side by side

    @classmethod
    def load(cls, out_dir: Path, limits: ReportLimits, hits_of: HitsOf | None = None, workers: int = 1) -> Run:
        out_dir = Path(out_dir)
        segments = outputs.read_segments(out_dir)
        phrases = outputs.read_phrase_rows(out_dir)
        ranks = {row["phrase"]: to_int(row.get("rank"), index + 1) for index, row in enumerate(phrases)}
        phrases.sort(key=lambda row: ranks[row["phrase"]])  # best first, as phrases.csv promises
        manifest = outputs.read_manifest(out_dir)
        city = manifest.get("settings", {}).get("level") == "city"
        run = cls(
            out_dir=out_dir,
            limits=limits,
            manifest=manifest,
            segments=segments,
            phrases=phrases,
            ranks=ranks,
            clusters={row["region"]: row["cluster"] for row in outputs.read_table(out_dir, "clusters.csv")},
            regions=sorted({row["region"] for row in segments if row["region"]}),
            province_of={
                row["region"]: row.get("province", "") for row in segments if row["region"] and city
            },
            workers=workers,
        )
        run.keyness = top_keyness(out_dir, limits.keyness_per_region) if limits.keyness_per_region else {}
        run.diffusion = diffusion(out_dir, ranks, max(limits.diffusion_rows, limits.diffusion_charts))
        run.contexts = contexts(
            out_dir, run.context_phrases(), ranks, limits.contexts_per_phrase, limits.context_chars, hits_of
        )
        return run

    def context_phrases(self) -> set[str]:
        """The phrases whose contexts the report embeds: those named in the phrase table, the heatmap,
        the diffusion section and the distinctive phrases, the best-ranked ``context_phrases``."""
        wanted = {row["phrase"] for row in self.phrases[: self.limits.phrases]}
        wanted |= set(self.heat_phrases)
        wanted |= {phrase for items in self.keyness.values() for phrase, _, _ in items}
        wanted |= {phrase for phrase, _ in self.diffusion.spreading}
        ordered = sorted(wanted & set(self.ranks), key=lambda p: (self.ranks[p], p))
        return set(ordered[: self.limits.context_phrases])

    @property
    def heat_phrases(self) -> list[str]:
        return [row["phrase"] for row in self.phrases[: self.limits.heatmap_phrases]]

    @property
    def level(self) -> str:
        return str(self.manifest.get("settings", {}).get("level", "province"))

    @property
    def by_province(self) -> bool:
        """Units are cities: tables gain a province column and are grouped by province."""
        return bool(self.province_of)

    def cluster_key(self, region: str) -> tuple[int, str]:
        return to_int(self.clusters.get(region), UNPLACED), region

    def order(self, regions: Iterable[str]) -> list[str]:
        """Regions in the order of the report's region tables: by cluster (province level) or by
        province (GB/T 2260 order), then cluster (city level)."""
        if not self.by_province:
            return sorted(regions, key=self.cluster_key)
        return sorted(regions, key=lambda r: (province_key(self.province_of.get(r, "")), self.cluster_key(r)))

    def groups(self, regions: Iterable[str]) -> list[tuple[str, list[str]]]:
        """``(province, its regions)`` in :meth:`order`; one group ``("", all)`` at province level."""
        ordered = self.order(regions)
        if not self.by_province:
            return [("", ordered)]
        found: dict[str, list[str]] = {}
        for region in ordered:
            found.setdefault(self.province_of.get(region, ""), []).append(region)
        return list(found.items())


def province_key(name: str) -> tuple[str, str]:
    """Provinces in GB/T 2260 order (北京 first), unknown names after them."""
    region = lookup(name) if name else None
    return (region.code if region else "999999", name)
