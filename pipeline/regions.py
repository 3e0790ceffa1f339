"""Gazetteer of China's 34 province-level units and name resolution against it.

The data lives in ``pipeline/data/regions.csv`` (package data, read with :mod:`importlib.resources`):
one row per unit with its GB/T 2260 code, short name (上海, 内蒙古), full name (上海市, 内蒙古自治区),
English name, type, primary one-character abbreviation (简称: 沪) and ``;``-joined aliases. In the CSV,
one-character aliases are alternative abbreviations (贵州: 贵 beside 黔) and end up in
:attr:`Region.abbreviations`; longer ones (内蒙, 香港特区, 臺灣, Macau) end up in :attr:`Region.aliases`.

Two ways in:

* :func:`lookup` resolves one name of any kind (short, full, English, code, alias, abbreviation), e.g. a
  ``region`` column in a metadata sidecar.
* :func:`find_regions` / :func:`first_region` find mentions in running text, by Chinese names of two or
  more characters only: a one-character abbreviation (京, 新, 青, 港 …) would match everywhere.

Ambiguities: 吉林 is both a province and its second city; a mention is taken as the province. 山西
(Shanxi) and 陕西 (Shaanxi) are distinct names and never confused. Matching is by string, not by word,
so names hiding inside other place names are handled explicitly: a short list of known strings is
skipped (青海's 海南藏族自治州 and 河南蒙古族自治县, 贺兰山东麓, 珠江西岸, 长江西路, 川西藏区 …), as is a
compass-final short name directly followed by 岸 or 麓 (鄱阳湖南岸, 黄河北岸); left-to-right matching
keeps 浙江西部 as 浙江, not 江西. Other embeddings of this kind remain possible false positives.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "CITY_TYPES",
    "REGION_TYPES",
    "City",
    "Region",
    "cities",
    "city_by_code",
    "find_cities",
    "find_regions",
    "first_region",
    "gazetteer",
    "lookup",
    "lookup_cities",
    "near_names",
    "resolve_city",
]

REGION_TYPES: frozenset[str] = frozenset({"province", "municipality", "autonomous_region", "sar"})
"""The values of :attr:`Region.type`."""

_PACKAGE = "pipeline"
_COLUMNS = ("code", "short", "full", "english", "type", "abbreviation", "aliases")

# Strings that contain a province's short name but denote something else. They join the alternation
# so that, being longer, they win at their position and are then skipped. Mostly found by reading the
# mentions in 183 provincial government work reports (2012-2017); extend as new ones turn up.
_NOT_REGIONS: tuple[str, ...] = (
    "海南藏族自治州",  # 青海's 海南 prefecture
    "海南州",
    "河南蒙古族自治县",  # a county in 青海
    "贺兰山东",  # 贺兰山东麓, 宁夏
    "庐山西海",  # a lake in 江西
    "珠江西",  # 珠江西岸 (广东)
    "长江西",  # 长江西路 (上海), 长江西岸
    "川西藏",  # 川西藏区 (四川); 四川西藏 still gives 四川, 西藏 (leftmost match first)
    "红河南",  # 红河南部 (云南)
    "威海南",  # 威海南海新区 (山东)
    "鞍山西",  # 鞍山西柳 (辽宁)
    "眉山东坡",  # 眉山市东坡区 (四川)
    "中山东路",  # street names in many cities
    "中山西路",
)

# A short name ending in a compass point followed by 岸 (bank) or 麓 (foot of a mountain) is a place
# on a river, lake or mountain (洞庭湖南岸, 黄河北岸, 太行山西麓), not the province; 岸线 (shoreline,
# as in 海南岸线) is the exception.
_COMPASS = frozenset("东西南北")
_FEATURE_AFTER = re.compile(r"[岸麓](?!线)")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True, slots=True)
class Region:
    """One province-level unit.

    ``code`` is the six-digit GB/T 2260 code (``"310000"``); ``short`` the name used throughout the
    outputs (``"上海"``); ``full`` the official name (``"上海市"``); ``type`` one of
    :data:`REGION_TYPES`. ``abbreviations`` holds the one-character 简称, primary first
    (``("黔", "贵")`` for 贵州); ``aliases`` the other multi-character names (``("内蒙", …)``).
    """

    code: str
    short: str
    full: str
    english: str
    type: str
    abbreviations: tuple[str, ...]
    aliases: tuple[str, ...]

    @property
    def abbreviation(self) -> str:
        """The primary one-character abbreviation (沪, 陇, 黔 …)."""
        return self.abbreviations[0]

    def names(self) -> tuple[str, ...]:
        """Every name this unit can be looked up by, in CSV order (code and abbreviations included)."""
        return (self.code, self.short, self.full, self.english, *self.abbreviations, *self.aliases)


def _key(name: str) -> str:
    """Normalise a name for exact lookup: NFKC (full-width digits and letters), trimmed, case-folded."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _parse_row(row: dict[str, str], line: int) -> Region:
    """Build and validate one :class:`Region` from a CSV row; ``line`` is used in error messages."""
    values = {column: (row.get(column) or "").strip() for column in _COLUMNS}
    code, short, full, english, kind, abbreviation = (values[c] for c in _COLUMNS[:-1])
    where = f"regions.csv line {line}"
    if not (len(code) == 6 and code.isascii() and code.isdigit() and code.endswith("0000")):
        raise ValueError(f"{where}: code {code!r} is not a province-level GB/T 2260 code")
    if not (short and full and english):
        raise ValueError(f"{where}: short, full and english names are required")
    if kind not in REGION_TYPES:
        raise ValueError(f"{where}: type {kind!r} is not one of {sorted(REGION_TYPES)}")
    if len(abbreviation) != 1:
        raise ValueError(f"{where}: abbreviation {abbreviation!r} must be one character")
    extra = [alias.strip() for alias in values["aliases"].split(";") if alias.strip()]
    abbreviations = (abbreviation, *(a for a in extra if len(a) == 1 and a != abbreviation))
    aliases = tuple(a for a in extra if len(a) > 1)
    return Region(code, short, full, english, kind, abbreviations, aliases)


@cache
def gazetteer() -> tuple[Region, ...]:
    """All 34 province-level units, sorted by code (read once from the packaged CSV)."""
    resource = resources.files(_PACKAGE) / "data" / "regions.csv"
    text = resource.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = set(_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"regions.csv lacks columns {sorted(missing)}")
    regions = [_parse_row(row, reader.line_num) for row in reader]
    return tuple(sorted(regions, key=lambda region: region.code))


@cache
def _index() -> dict[str, Region]:
    """Map every normalised name to its region; a name claimed by two regions is a data error."""
    index: dict[str, Region] = {}
    for region in gazetteer():
        for name in region.names():
            key = _key(name)
            other = index.setdefault(key, region)
            if other is not region:
                raise ValueError(f"regions.csv: name {name!r} is claimed by {other.short} and {region.short}")
    return index


def lookup(name: str) -> Region | None:
    """Resolve one name to its region, or None.

    Exact match after trimming (and NFKC, so full-width digits work) on the short name, full name,
    English name (case-insensitive), GB/T 2260 code, any alias, or a one-character abbreviation:
    ``lookup("沪")``, ``lookup("上海市")``, ``lookup("310000")`` and ``lookup("shanghai")`` all give 上海.
    """
    if not isinstance(name, str):
        return None
    key = _key(name)
    return _index().get(key) if key else None


@cache
def _matcher() -> tuple[re.Pattern[str], dict[str, Region | None]]:
    """One compiled alternation of every Chinese name of two or more characters, longest first.

    The mapping sends each alternative to its region, or to None for the names in ``_NOT_REGIONS``.
    """
    targets: dict[str, Region | None] = {}
    for region in gazetteer():
        for name in (region.short, region.full, *region.aliases):
            if len(name) > 1 and _CJK.search(name):
                targets[name] = region
    for name in _NOT_REGIONS:
        targets.setdefault(name, None)
    alternatives = sorted(targets, key=lambda name: (-len(name), name))
    return re.compile("|".join(map(re.escape, alternatives))), targets


def find_regions(text: str) -> list[tuple[int, int, Region]]:
    """Every mention of a region in ``text`` as ``(start, end, region)``, left to right.

    Mentions are by short name, full name or a multi-character Chinese alias, never by a
    one-character abbreviation. At each position the longest name wins and matches do not overlap,
    so "上海市经济和信息化工作党委" gives one match ``(0, 3, 上海)``.
    """
    return list(_mentions(text))


def _mentions(text: str) -> Iterator[tuple[int, int, Region]]:
    """Generate the mentions find_regions returns, lazily."""
    pattern, targets = _matcher()
    for match in pattern.finditer(text):
        name = match.group()
        region = targets[name]
        if region is None:
            continue
        end = match.end()
        if name == region.short and name[-1] in _COMPASS and _FEATURE_AFTER.match(text, end):
            continue
        yield match.start(), end, region


def first_region(text: str) -> Region | None:
    """The region of the first mention in ``text`` (as :func:`find_regions` finds them), or None."""
    return next((region for _, _, region in _mentions(text)), None)


# --------------------------------------------------------------------------- prefecture level

CITY_TYPES: frozenset[str] = frozenset(
    {"city", "autonomous_prefecture", "prefecture", "league", "direct_county", "county"}
)
"""The values of :attr:`City.type`: 地级市, 自治州, 地区, 盟; a county-level unit governed directly by its
province (济源, 仙桃, 五指山 …); a county whose name is also a prefecture-level unit's (大理市, 长沙县)."""

_CITY_COLUMNS = (
    "code",
    "short",
    "full",
    "label",
    "type",
    "province",
    "parent",
    "aliases",
    "former",
    "status",
)


@dataclass(frozen=True, slots=True)
class City:
    """One unit below the province, from ``pipeline/data/cities.csv`` (built by ``data/build_cities.py``).

    ``code`` is the six-digit GB/T 2260 code; ``short`` the name without its suffix (三明, 大理);
    ``full`` the official name (三明市, 大理白族自治州); ``label`` the name used in outputs (the short
    name, or 吉林市 and 海南州 where a province has the short name); ``province`` the province-level
    unit it lies in. ``former`` holds earlier names and codes (襄樊市, 思茅地区, 522400); ``status``
    is ``abolished`` for a unit that no longer exists (巢湖市, 莱芜市). A ``county`` row is not a
    comparison unit of its own: :attr:`unit` is the prefecture-level unit it lies in (``parent``), or
    None for a district of a municipality.
    """

    code: str
    short: str
    full: str
    label: str
    type: str
    province: Region
    parent: str
    aliases: tuple[str, ...]
    former: tuple[str, ...]
    status: str

    @property
    def unit(self) -> City | None:
        """The prefecture-level unit a document from here is compared under (itself, unless a county)."""
        return self if self.type != "county" else city_by_code(self.parent) if self.parent else None

    def names(self) -> tuple[str, ...]:
        """Every name this unit is looked up by: a county only by its full name and code."""
        if self.type == "county":
            return (self.code, self.full)
        return (self.code, self.short, self.full, self.label, *self.aliases, *self.former)


@cache
def cities() -> tuple[City, ...]:
    """Every unit of ``cities.csv`` (prefecture-level, provincially governed counties, homonym counties)."""
    text = (resources.files(_PACKAGE) / "data" / "cities.csv").read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    if set(_CITY_COLUMNS) - set(reader.fieldnames or ()):
        raise ValueError(
            f"cities.csv lacks columns {sorted(set(_CITY_COLUMNS) - set(reader.fieldnames or ()))}"
        )
    provinces = {region.code: region for region in gazetteer()}
    found = []
    for row in reader:
        if row["type"] not in CITY_TYPES or row["province"] not in provinces:
            raise ValueError(f"cities.csv line {reader.line_num}: bad type or province in {row}")
        found.append(
            City(
                code=row["code"],
                short=row["short"],
                full=row["full"],
                label=row["label"],
                type=row["type"],
                province=provinces[row["province"]],
                parent=row["parent"],
                aliases=tuple(filter(None, row["aliases"].split(";"))),
                former=tuple(filter(None, row["former"].split(";"))),
                status=row["status"],
            )
        )
    return tuple(found)


@cache
def _city_index() -> dict[str, tuple[City, ...]]:
    """Normalised name → the units that have it (several for 朝阳区: 北京's and 长春's)."""
    index: dict[str, list[City]] = {}
    for city in cities():
        for name in dict.fromkeys(city.names()):
            index.setdefault(_key(name), []).append(city)
    return {key: tuple(found) for key, found in index.items()}


@cache
def _by_code() -> dict[str, City]:
    return {city.code: city for city in cities()}


def city_by_code(code: str) -> City | None:
    """The unit with this GB/T 2260 code, or the unit a former code now belongs to (522400 → 毕节), or None."""
    found = _by_code().get(code) or (lookup_cities(code) if code.isdigit() else None)
    return found if isinstance(found, City) else (found[0] if found else None)


def lookup_cities(name: str) -> tuple[City, ...]:
    """Every unit ``name`` denotes exactly: short, full or output name, alias, former name or code.

    Short names denote prefecture-level units only (大理 is 大理白族自治州; 大理市, the county-level
    city in it, is found by its full name). One name can denote several units (朝阳区 in 北京 and 长春):
    :func:`resolve_city` chooses by province.
    """
    if not isinstance(name, str):
        return ()
    key = _key(name)
    return _city_index().get(key, ()) if key else ()


def resolve_city(name: str, province: Region | None = None) -> tuple[City | None, tuple[City, ...]]:
    """(the unit ``name`` denotes, candidates when it is ambiguous).

    A name found in several provinces is decided by ``province`` when given; a current unit is
    preferred over an abolished one of the same name. ``(None, ())`` when the name is unknown.
    """
    found = lookup_cities(name)
    if province is not None and any(city.province == province for city in found):
        found = tuple(city for city in found if city.province == province)
    if len(found) > 1 and len(current := [c for c in found if c.status == "current"]) == 1:
        found = tuple(current)
    if len(found) == 1:
        return found[0], ()
    return None, found


@cache
def _city_matcher() -> tuple[re.Pattern[str], dict[str, tuple[City, ...]]]:
    """Alternation of the names that can stand in running text: full names, aliases (大理州) and
    former full names, never a bare short name (三明 could be a street, 大理 a county-level city)."""
    targets: dict[str, list[City]] = {}
    for city in cities():
        names = (city.full,) if city.type == "county" else (city.full, *city.aliases, *city.former)
        for name in names:
            if len(name) > 2 and _CJK.search(name) and name not in (city.short,):
                targets.setdefault(name, []).append(city)
    alternatives = sorted(targets, key=lambda name: (-len(name), name))
    return re.compile("|".join(map(re.escape, alternatives))), {k: tuple(v) for k, v in targets.items()}


def find_cities(text: str) -> list[tuple[int, int, tuple[City, ...]]]:
    """Every mention of a unit below the province by full name, alias or former full name, left to
    right, longest first at each position: ``(start, end, units)`` (several for 朝阳区)."""
    pattern, targets = _city_matcher()
    return [(m.start(), m.end(), targets[m.group()]) for m in pattern.finditer(text)]


def near_names(name: str, *, n: int = 4) -> list[str]:
    """The known names closest to a misspelled one, best first (广栋 → 广东, 广西), for hints.

    Province names first; city names when no province name is close. Every
    name as close as the closest is given (up to ``n``): one changed character is one changed
    character, whichever name it is.
    """
    import difflib

    def closest(names: set[str]) -> list[str]:
        scored = sorted(
            ((difflib.SequenceMatcher(None, name, known).ratio(), known) for known in names),
            key=lambda pair: (-pair[0], pair[1]),
        )
        best = scored[0][0] if scored else 0.0
        return [known for score, known in scored if score == best >= 0.5][:n]

    found = closest({region.short for region in gazetteer()} | {region.full for region in gazetteer()})
    if not found:
        found = closest({city.full for city in cities()} | {city.label for city in cities()})
    return found
