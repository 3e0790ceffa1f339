"""The report's sections, in page order: each is a function that gathers what its template shows.

A section is a :class:`Section` in :data:`SECTIONS`: a key (the anchor and the template
``templates/<key>.html.j2``), a title for the navigation, and a function ``run -> dict | None`` that
returns the template's variables (None leaves the section out). Templates receive those variables
plus ``run`` (:class:`~pipeline.report.data.Run`) and ``limits``, and write HTML with autoescape on:
every value is escaped unless it is markup a macro made. See the package docstring for a recipe.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline import outputs, tables
from pipeline.report.data import (
    Run,
    blue,
    clip_list,
    number,
    spread,
    to_float,
    to_int,
    year_ranges,
)

Context = dict[str, Any]

KIND_NOTES = {
    "quoted": "slogans written in quotation marks (“四个意识”)",
    "quotation": "longer quoted passages that recur",
    "numbered": "numbered formulas (两个确立, 四个全面, 3+6)",
    "enumeration": "、-lists and chains of four-character words (高端化、智能化、绿色化)",
    "item": "items of 、-lists met in several lists (去产能 of 去产能、去库存、去杠杆)",
    "statistical": "recurring word sequences found by corpus statistics (cohesion, boundaries, spread)",
    "user": "phrases you listed with --phrases",
    "reference": "phrases the reference (--reference) establishes, said here too",
}

OUTPUT_NOTES = [
    ("manifest.json", "every input file with its status and reason if skipped; counts; settings; versions"),
    ("segments.csv", "one row per segment (a document, or one official's statement) with region, year, size"),
    ("texts.jsonl", "the text of every segment, for tifa kwic and these contexts without re-segmenting"),
    ("phrases.csv", "one row per phrase: kind, count, segments, regions, variants, rank"),
    ("hits.csv", "every occurrence of every phrase: surface form, segment, character offsets"),
    ("adoption.csv", "long table region × year × phrase: count and rate per 10,000 characters"),
    ("adoption_matrix.csv", "wide table phrase × region of counts"),
    ("keyness.csv", "distinctive phrases per region (log-odds z-score, Monroe et al. 2008)"),
    ("diffusion.csv", "per phrase and year: regions using it, share of regions adopted so far"),
    ("reuse.csv", "passages shared verbatim between regions"),
    ("echo.csv", "per phrase shared with the reference: the centre's first year, each region's first year and lag"),
    ("echo_regions.csv", "per region: share of the centre's new phrases used by Y, Y+1, Y+2; median lag; rank"),
    ("local_first.csv", "phrases regions used before the centre's first use"),
    ("similarity.csv", "region × region cosine similarity of their language"),
    ("clusters.csv", "region → cluster, with the cluster's bootstrap support"),
    ("cluster_keyness.csv", "per cluster, the phrases and words it uses more than the other clusters"),
    ("cluster_stability.csv", "agreement (ARI) of each year's clusters with the previous and all years'"),
    ("clusters_by_year.csv", "region → cluster, year by year"),
    ("similarity_heatmap.svg", "the similarity matrix as a figure"),
    ("dendrogram.svg", "hierarchical clustering of the regions"),
    ("cooccurrence.graphml", "phrase co-occurrence graph for Gephi (also .gexf)"),
    ("cooccurrence_dynamic.gexf", "the same graph with years, for Gephi's timeline (GEXF 1.3)"),
    ("themes.csv", "themes of the graph: name, phrases, size, regions using them most, uses by year"),
    ("theme_adoption.csv", "per region (and year): share of its formula uses in each theme"),
    ("region_phrase.graphml", "two-mode graph regions — phrases for Gephi"),
    ("cooccurrence.png", "a preview drawing of the co-occurrence graph"),
    ("similarity_<year>.csv", "the similarity matrix of each year's texts"),
    ("similarity_heatmap_<year>.svg", "the similarity heatmap of each year"),
    ("dendrogram_<year>.svg", "the clustering of each year"),
]  # fmt: skip


@dataclass(frozen=True)
class Section:
    key: str  # anchor, and the template templates/<key>.html.j2
    title: str
    build: Callable[[Run], Context | None]  # the template's variables; None: no section


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def heat(value: float, peak: float) -> tuple[str, str]:
    """Background and ink of a heat cell: ``value`` relative to the column's ``peak``."""
    t = value / peak if peak > 0 else 0.0
    return (blue(t), "#fff" if t > 0.55 else "#222") if value else ("#ffffff", "#222")


# ---------------------------------------------------------------------------------------------


def overview(run: Run) -> Context:
    counts = run.manifest.get("counts", {})
    segments = run.segments
    years = Counter(row["year"] for row in segments if row["year"])
    chars = sum(to_int(row["chars"]) for row in segments)
    inputs = run.manifest.get("inputs", [])
    skipped = [entry for entry in inputs if entry.get("status") != "processed"]
    problems = [(entry.get("source", ""), p) for entry in inputs for p in entry.get("problems", [])]
    limit = run.limits.problems
    by_region: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    region_years: dict[str, set[str]] = defaultdict(set)
    per_year: dict[str, list[Any]] = defaultdict(lambda: [0, 0, set()])
    for row in segments:
        if row["region"]:
            by_region[row["region"]][0] += 1
            by_region[row["region"]][1] += to_int(row["chars"])
            if row["year"]:
                region_years[row["region"]].add(row["year"])
        if row["year"]:
            per_year[row["year"]][0] += 1
            per_year[row["year"]][1] += to_int(row["chars"])
            if row["region"]:
                per_year[row["year"]][2].add(row["region"])
    settings = run.manifest.get("settings", {})
    versions = run.manifest.get("versions", {})
    return {
        "cards": [
            ("documents", number(to_int(counts.get("documents"), len(segments)))),
            ("segments", number(len(segments))),
            ("sentences", number(to_int(counts.get("sentences")))),
            ("characters", number(chars)),
            ("regions", number(len(by_region))),
            ("years", year_ranges(years) or "—"),
            ("phrases", number(to_int(counts.get("phrases")))),
            ("occurrences", number(to_int(counts.get("hits")))),
            ("files skipped", number(to_int(counts.get("skipped")))),
        ],
        "unattributed": sum(1 for row in segments if not row["region"]),
        "inputs": inputs,
        "skipped": skipped[:limit],
        "problems": problems[:limit],
        "more_problems": max(0, len(skipped) - limit) + max(0, len(problems) - limit),
        "regions": [
            (region, *by_region[region], year_ranges(region_years[region]))
            for region in (run.order(by_region) if run.by_province else sorted(by_region))
        ],
        "biggest": max((v[1] for v in by_region.values()), default=0),
        "years": [(year, n, c, len(r)) for year, (n, c, r) in sorted(per_year.items())],
        "segments": segments[: run.limits.documents],
        "more_segments": len(segments) - run.limits.documents,
        "settings": [(k, json.dumps(v, ensure_ascii=False)) for k, v in settings.items()]
        + [(k, v) for k, v in versions.items()]
        + [("used " + k, v) for k, v in counts.get("phrase_thresholds", {}).items()],
        "has_settings": bool(settings or versions),
    }


def phrases(run: Run) -> Context:
    by_kind: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in run.phrases:
        by_kind[row["kind"]].append(row)
    kinds = sorted(by_kind, key=lambda k: (-len(by_kind[k]), k))
    top = run.phrases[: run.limits.phrases]
    rows = []
    for row in top:
        used = [r for r in row["regions"].split(";") if r]
        rows.append(
            {
                "rank": to_int(row.get("rank")),
                "phrase": row["phrase"],
                "kind": row["kind"],
                "role": row.get("role", ""),
                "count": to_int(row["count"]),
                "segments": to_int(row["segments"]),
                "regions_n": to_int(row["regions_n"]),
                "where": spread(used, run.regions),
                "variants": "；".join(
                    v for v in row.get("variants", "").split(";") if v and v != row["phrase"]
                ),
            }
        )
    return {
        "families": [
            (
                kind,
                KIND_NOTES.get(kind, ""),
                len(by_kind[kind]),
                sum(to_int(r["count"]) for r in by_kind[kind]),
                [r["phrase"] for r in by_kind[kind][:6]],
            )
            for kind in kinds
        ],
        "kinds": kinds,
        "rows": rows,
        "most": max((row["regions_n"] for row in rows), default=0),
        "total": len(run.phrases),
    }


def adoption(run: Run) -> Context:
    heat_phrases = run.heat_phrases
    if not heat_phrases or not run.regions or not tables.locate(run.out_dir / "adoption.csv").is_file():
        return {"groups": []}
    values = outputs.read_overall_adoption(run.out_dir, set(heat_phrases))
    peak = {p: max((values.get((r, p), (0, 0.0))[1] for r in run.regions), default=0.0) for p in heat_phrases}
    groups = []
    for province, regions in run.groups(run.regions):
        rows = []
        for region in regions:
            cells = []
            for phrase in heat_phrases:
                count, rate = values.get((region, phrase), (0, 0.0))
                colour, ink = heat(rate, peak[phrase]) if count else ("#ffffff", "#222")
                cells.append((phrase, count, rate, colour, ink))
            rows.append((region, run.clusters.get(region, ""), cells))
        groups.append((province, rows))
    return {"phrases": heat_phrases, "groups": groups}


def keyness(run: Run) -> Context:
    sizes = Counter(row["region"] for row in run.segments if row["region"])
    return {
        "cards": [
            (
                region,
                run.province_of.get(region, ""),
                run.clusters.get(region, ""),
                sizes.get(region, 0),
                items,
            )
            for region in run.order(run.keyness)
            for items in [run.keyness[region]]
        ]
    }


def chart(years: list[int], curve: dict[int, tuple[float, float, int]]) -> Context:
    """Coordinates of a small chart: cumulative share adopted (line) and share using each year (bars)."""
    width, height, left, right, top, bottom = 240, 96, 30, 8, 8, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(years) - 1)

    def x(i: int) -> str:
        return f"{left + i * step:.1f}"

    def y(v: float) -> str:
        return f"{top + plot_h * (1 - v):.1f}"

    bar_w = max(2.0, min(14.0, step * 0.5))
    points = [curve.get(year, (0.0, 0.0, 0)) for year in years]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right_x": width - right,
        "y0": y(0),
        "y1": y(1),
        "y0_label": f"{top + plot_h + 4:.1f}",
        "y1_label": f"{top + 4:.1f}",
        "first": years[0],
        "last": years[-1],
        "bars": [
            (f"{left + i * step - bar_w / 2:.1f}", y(p[1]), f"{bar_w:.1f}", f"{plot_h * p[1]:.1f}")
            for i, p in enumerate(points)
        ],
        "line": " ".join(f"{x(i)},{y(p[0])}" for i, p in enumerate(points)),
        "dots": [(x(i), y(p[0])) for i, p in enumerate(points)],
    }


def diffusion(run: Run) -> Context:
    found = run.diffusion
    if len(found.years) < 2 or not found.spreading:
        return {"years": found.years, "charts": [], "rows": []}
    years, limits = found.years, run.limits
    charts, rows = [], []
    for phrase, _gain in found.spreading[: limits.diffusion_charts]:
        first_year, first_regions = found.first.get(phrase, ("", ""))
        curve = found.curves[phrase]
        adopted = curve.get(years[-1], (0.0, 0.0, 0))[2]
        charts.append((phrase, chart(years, curve), first_year, clip_list(first_regions.split(";")), adopted))
    for phrase, _gain in found.spreading[: limits.diffusion_rows]:
        first_year, first_regions = found.first.get(phrase, ("", ""))
        curve = found.curves[phrase]
        points = [curve.get(y, (0.0, 0.0, 0)) for y in years]
        cells = [(f"{p[2]} ({p[0] * 100:.0f}%)", f"{p[0]:.6f}") for p in points]
        rows.append((phrase, first_year, to_int(first_year), clip_list(first_regions.split(";"), 12), cells))
    header = [("phrase", ""), ("first year", "num"), ("first regions", "")] + [(str(y), "num") for y in years]
    return {"years": years, "charts": charts, "rows": rows, "header": header}


def maps(run: Run) -> Context:
    from pipeline import maps as drawing

    missing = drawing.unavailable()
    if missing:
        return {"missing": missing, "figures": []}
    level = run.level if run.level in drawing.LEVELS else "province"
    phrases = [phrase for phrase, _ in run.diffusion.spreading[: run.limits.maps]]
    drawn = drawing.report_maps(run.out_dir, phrases, level=level, workers=run.workers)
    return {
        "missing": "",
        "figures": [
            (
                data.title,
                data_uri(image, "image/png"),
                f" Not on the map (no boundary): {'、'.join(what.uncovered)}." if what.uncovered else "",
            )
            for data, image, what in drawn
        ],
    }


LAG_BUCKETS = (("before", "#238b45"), ("same year", "#08519c"), ("+1", "#4292c6"), ("+2", "#9ecae1"))
LAG_KEY = (*LAG_BUCKETS, ("+3 or later", "#d9d9d9"))


def lag_bar(lags: list[int], width: int = 160) -> list[tuple[str, str, str, int]]:
    """``(x, width, colour, count)`` of a stacked bar of a region's echoes by lag."""
    counts = [sum(lag < 0 for lag in lags), lags.count(0), lags.count(1), lags.count(2)]
    counts.append(len(lags) - sum(counts))
    x, parts = 0.0, []
    for n, (label, colour) in zip(counts, LAG_KEY, strict=True):
        w = width * n / max(1, len(lags))
        parts.append((f"{x:.1f}", f"{w:.1f}", colour, label, n))
        x += w
    return parts


def echo(run: Run) -> Context | None:
    """Echoes of the centre, when the run had a reference with years (else no section)."""
    if not (run.out_dir / "echo_regions.csv").is_file():
        return None
    regions = outputs.read_table(run.out_dir, "echo_regions.csv")
    lags: dict[str, list[int]] = defaultdict(list)
    for row in outputs.read_table(run.out_dir, "echo.csv"):
        if row["region"] and row["lag"] and row["centre_new"] == "True" and row["reference_phrase"] == "True":
            lags[row["region"]].append(int(row["lag"]))

    def share(value: str) -> str:
        return f"{to_float(value) * 100:.0f}%" if value else "–"

    ranking = [
        {
            "rank": row["rank"],
            "region": row["region"],
            "rate": (share(row["echo_rate"]), to_float(row["echo_rate"], -1)),
            "shares": [
                (f"{share(row[f'share_{k}'])} of {row[f'introduced_{k}']}", to_float(row[f"share_{k}"], -1))
                for k in range(3)
            ],
            "median_lag": (row["median_lag"] or "–", to_float(row["median_lag"], 99)),
            "lags": lag_bar(lags.get(row["region"], [])),
            "local_first": row["local_first"],
        }
        for row in regions
    ]
    first = [
        {**row, "first_regions": clip_list(row["first_regions"].split(";"), 12)}
        for row in outputs.read_table(run.out_dir, "local_first.csv")[: run.limits.diffusion_rows]
    ]
    return {"ranking": ranking, "first": first, "key": LAG_KEY}


def reuse(run: Run) -> Context:
    rows = outputs.read_table(run.out_dir, "reuse.csv")
    rows.sort(key=lambda r: (-to_int(r["regions_n"]), -to_int(r["length"]), r["passage"]))
    shown = []
    for row in rows[: run.limits.reuse_rows]:
        passage = row["passage"].replace("\n", " ")
        unattributed = to_int(row.get("unattributed"))
        where = spread([r for r in row["regions"].split(";") if r], run.regions)
        shown.append(
            {
                "passage": passage if len(passage) <= 300 else passage[:300] + "…",
                "length": to_int(row["length"]),
                "regions_n": to_int(row["regions_n"]),
                "where": where + (f" + {unattributed} without region" if unattributed else ""),
                "occurrences": to_int(row["occurrences"]),
            }
        )
    return {"rows": shown, "total": len(rows)}


def similarity(run: Run) -> Context:
    from pipeline.cluster import read_clusters

    many = len(run.regions) > run.limits.figure_units and run.by_province
    figures = []
    for name, caption in (
        ("similarity_heatmap.svg", "Similarity between regions"),
        ("dendrogram.svg", "Clustering of regions"),
    ):
        path = run.out_dir / name
        if path.is_file() and not (many and name == "similarity_heatmap.svg"):
            figures.append((caption, name, data_uri(path.read_bytes(), "image/svg+xml")))
    by_year: dict[str, dict[str, str]] = defaultdict(dict)
    years: set[str] = set()
    for row in outputs.read_table(run.out_dir, "clusters_by_year.csv"):
        by_year[row["region"]][row["year"]] = row["cluster"]
        years.add(row["year"])
    stability: dict[str, dict[str, str]] = defaultdict(dict)
    for row in outputs.read_table(run.out_dir, "cluster_stability.csv"):
        column = "all" if row["compared_with"] == "all" else "previous"
        stability[row["year"]][column] = row["ari"]
        stability[row["year"]][column + "_k"] = f"{row['clusters']} / {row['other_clusters']}"
    return {
        "figures": figures,
        "tall": many,
        "clusters": read_clusters(run.out_dir) if run.clusters else [],
        "resamples": to_int(run.manifest.get("settings", {}).get("cluster_resamples"), 0),
        "years": sorted(years),
        "year_header": [(year, "num") for year in sorted(years)],
        "by_year": [(region, by_year[region]) for region in run.order(by_year)],
        "stability": sorted(stability.items()),
        **(province_similarity(run) if many else {"grid": [], "provinces": [], "nearest": []}),
    }


def province_similarity(run: Run) -> Context:
    """Many units: the mean similarity of the units of each pair of provinces (a heat table), and each
    unit's most similar units (a searchable table), instead of a figure too dense to read."""
    matrix = outputs.read_table(run.out_dir, "similarity.csv")
    names = [row["region"] for row in matrix]
    provinces = [province for province, _ in run.groups(names)]
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    nearest = []
    for row in matrix:
        region = row["region"]
        others = sorted(
            ((to_float(row.get(other)), other) for other in names if other != region),
            key=lambda item: (-item[0], item[1]),
        )
        nearest.append((region, run.province_of.get(region, ""), run.clusters.get(region, ""), others))
        for value, other in others:
            pair = sums[run.province_of.get(region, ""), run.province_of.get(other, "")]
            pair[0] += value
            pair[1] += 1
    mean = {pair: total / n for pair, (total, n) in sums.items() if n}
    low = min(mean.values(), default=0.0)
    span = max(mean.values(), default=0.0) - low  # the colour spreads the range the means take

    def cell(a: str, b: str) -> tuple[str, float | None, str, str]:
        value = mean.get((a, b))
        if value is None:
            return b, None, "#ffffff", "#222"
        t = (value - low) / span if span > 0 else 0.0
        return b, value, blue(t), "#fff" if t > 0.55 else "#222"

    grid = [(a, [cell(a, b) for b in provinces]) for a in provinces]
    shown = run.limits.nearest
    order = {region: index for index, region in enumerate(run.order(names))}
    nearest.sort(key=lambda item: order[item[0]])
    return {
        "provinces": provinces,
        "grid": grid,
        "nearest": [(r, p, c, [(o, f"{v:.2f}", run.province_of.get(o, "")) for v, o in others[:shown]])
                    for r, p, c, others in nearest],
    }  # fmt: skip


def graph(run: Run) -> Context:
    png = run.out_dir / "cooccurrence.png"
    found: Context = {"png": data_uri(png.read_bytes(), "image/png") if png.is_file() else "", "size": None}
    graphml = run.out_dir / "cooccurrence.graphml"
    if graphml.is_file():
        import networkx as nx

        drawn = nx.read_graphml(graphml)
        components = sorted((len(c) for c in nx.connected_components(drawn)), reverse=True)
        found["size"] = (
            drawn.number_of_nodes(),
            drawn.number_of_edges(),
            len(components),
            f"{components[0] / drawn.number_of_nodes() if components else 0.0:.0%}",
        )
    themes = outputs.read_table(run.out_dir, "themes.csv")
    found["themes"] = themes
    found["profile"] = theme_profile(run, themes) if themes else None
    return found


def theme_profile(run: Run, themes: list[dict[str, str]], shown: int = 12) -> Context | None:
    """Region × theme table of shares of each region's formula uses (all years), coloured by column."""
    numbers = [row["theme"] for row in themes[:shown]]
    share: dict[tuple[str, str], float] = {}
    for row in outputs.read_table(run.out_dir, "theme_adoption.csv"):
        if not row["year"] and row["theme"] in numbers:
            share[row["region"], row["theme"]] = to_float(row["share"])
    regions = sorted({region for region, _ in share})
    if not regions:
        return None
    peak = {n: max((share.get((r, n), 0.0) for r in regions), default=0.0) for n in numbers}
    return {
        "themes": themes[:shown],
        "groups": [
            (
                province,
                [
                    (region, [(round(v * 100) or "", *heat(v, peak[n])) for n in numbers for v in [share.get((region, n), 0.0)]])
                    for region in members
                ],
            )
            for province, members in (run.groups(regions) if run.by_province else [("", regions)])
        ],
    }  # fmt: skip


def contexts(run: Run) -> Context:
    info = {row["phrase"]: row for row in run.phrases}
    return {
        "blocks": [
            (phrase, run.ranks[phrase], info.get(phrase, {}), run.contexts[phrase])
            for phrase in sorted(run.contexts, key=lambda p: run.ranks[p])
        ]
    }


def files(run: Run) -> Context:
    out_dir = run.out_dir
    return {
        "rows": [
            (tables.locate(out_dir / name).name, note)  # hits.parquet with table_format parquet
            for name, note in OUTPUT_NOTES
            if tables.locate(out_dir / name).is_file()
            or ("<year>" in name and any(out_dir.glob(name.replace("<year>", "*"))))
        ]
    }


SECTIONS = [
    Section("overview", "Corpus", overview),
    Section("phrases", "Phrases", phrases),
    Section("adoption", "Adoption", adoption),
    Section("keyness", "Distinctive phrases", keyness),
    Section("diffusion", "Diffusion", diffusion),
    Section("maps", "Maps", maps),
    Section("echo", "Echoes of the centre", echo),
    Section("reuse", "Shared passages", reuse),
    Section("similarity", "Similarity & clusters", similarity),
    Section("graph", "Co-occurrence graph", graph),
    Section("contexts", "Contexts", contexts),
    Section("files", "Files", files),
]
