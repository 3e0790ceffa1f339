"""Ingest stage: input paths → normalised, region-attributed ``Segment`` records and a report per file.

Accepted inputs, in any mix of files and folders (folders are read recursively, in sorted order):

- ``.txt`` / ``.md`` / ``.html``: one document per file;
- ``.jsonl``: one document per line, a JSON object with a text field;
- ``.csv``: one document per row, with a text column;
- ``metadata.csv`` beside the files of a folder: a sidecar giving each file's region, year, title….
  When a folder has one, only the files it lists are documents; the others are reported as skipped.

Region and year come from the sidecar or the record first, then from the file name (``2015_广东.txt``),
then from the text (a speaker header, or a report's opening lines). A document quoting several
officials is split at each speaker header ("山东省工业和信息化厅党组书记、厅长张海波：") into one
segment per speaker, attributed to the speaker's region; the text before the first header is a
segment with no region.

Hostile input is expected (scraped corpora): every file met is reported as processed or skipped with
a reason, and nothing raises but a path that does not exist. Encodings are detected; HTML, control and
zero-width characters are cleaned away (:func:`pipeline.text.normalize`); symbolic links to folders are
not followed (no loops) and links that loop or dangle are reported; FIFOs and devices are never opened.

Script: ``Segment.text`` is in simplified characters (OpenCC t2s, one character for one), so a phrase
matches whether a text was written in traditional or simplified characters. Where conversion changed a
segment, :attr:`IngestResult.originals` keeps its text in the original script, of the same length, so
any offset into ``Segment.text`` shows the original with ``result.original_text(segment)[start:end]``.

Duplicates: a document whose (normalised, simplified) text, region, city and year equal an earlier
one's is counted once; the later one is reported as a duplicate in the manifest, naming the first.
The same text under another region or city is kept with its own attribution (two governments
publishing one text is reuse, the signal studied: ``reuse.csv`` shows the pair) and noted.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import errno
import hashlib
import io
import json
import multiprocessing
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import parallel, regions
from pipeline.errors import Errors
from pipeline.records import Segment
from pipeline.text import clean_field, normalize, simplify_if_traditional, to_simplified

TEXT_SUFFIXES = {".txt", ".md", ".text", ".html", ".htm"}
RECORD_SUFFIXES = {".jsonl", ".csv"}
SIDECAR = "metadata.csv"
TEXT_FIELDS = ("text", "content", "body", "正文", "内容")
FILE_FIELDS = ("file", "filename", "path", "文件")
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_PROBLEMS_LISTED = 20  # per file; the rest are counted (a JSONL with 10,000 broken lines)

# A whole document may sit in one CSV cell: lift the csv module's 128 KiB cell limit to the file limit.
csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE_BYTES))


@dataclass(frozen=True, slots=True)
class InputReport:
    """What happened to one input file, for ``manifest.json``: nothing is dropped without a reason."""

    source: str
    status: str  # "processed" or "skipped"
    reason: str = ""
    format: str = ""
    encoding: str = ""
    documents: int = 0
    segments: int = 0
    chars: int = 0
    problems: tuple[str, ...] = ()  # records skipped inside a processed file, warnings
    problems_total: int = 0  # problems found, of which the first MAX_PROBLEMS_LISTED are listed
    traditional: int = 0  # documents written in traditional characters, matched in simplified ones


@dataclass(frozen=True, slots=True)
class IngestResult:
    segments: tuple[Segment, ...]
    inputs: tuple[InputReport, ...]
    # segment_id → the segment's text in its original script, only where t2s conversion changed it.
    originals: Mapping[str, str] = field(default_factory=dict)

    def original_text(self, segment: Segment) -> str:
        """``segment.text`` as written (traditional characters kept); offsets are the same."""
        return self.originals.get(segment.segment_id, segment.text)

    @property
    def problems(self) -> tuple[str, ...]:
        """Each input's problems, then each skipped input with the reason: the run's warnings."""
        return tuple(
            f"{report.source}: {problem}" for report in self.inputs for problem in report.problems
        ) + tuple(
            f"{report.source}: skipped — {report.reason}"
            for report in self.inputs
            if report.status != "processed"
        )


@dataclass(frozen=True, slots=True)
class _Document:
    key: str
    text: str  # normalised, simplified
    region: str
    year: int | None
    title: str = ""
    speaker: str = ""
    date: str = ""
    original: str = ""  # normalised text in its original script, when that differs from ``text``
    city: str = ""  # GB/T 2260 code of the prefecture-level unit, "" when none
    found_in: str = ""  # where the region came from: metadata.csv, the record, the file name, the text
    unresolved: str = ""  # an unusable region or city value, reported once the other sources are tried


class InputProblem(Exception):
    """A file or record that cannot be used; the message says why, for the manifest."""


# --------------------------------------------------------------------------- reading bytes


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes of unknown encoding: BOMs, UTF-8, then the likeliest of GB18030, Big5 and UTF-16.

    UTF-8 with a few bad bytes (a truncated download, a stray byte) is kept, the bad bytes replaced,
    and the encoding says so. Raises ``InputProblem`` for binary or undecodable data.

    >>> decode("两个确立".encode("gbk"))
    ('两个确立', 'gb18030')
    """
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(name)
            except UnicodeDecodeError:
                continue
            # Valid UTF-8 after a UTF-8 BOM is conclusive; FF FE can start binary data too.
            if name == "utf-8-sig" or _plausibility(text) >= PLAUSIBLE or _all_text_like(text):
                return text, name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" not in text[:65536]:
            return text, "utf-8"
    binary = b"\x00" in data[:65536] and not _utf16_shaped(data)
    candidates = []
    for name in ("gb18030", "big5", "utf-16-le", "utf-16-be"):
        if name.startswith("utf-16") and len(data) % 2:
            continue
        if binary and not name.startswith("utf-16"):
            continue
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        candidates.append((_plausibility(text), name, text))
    if candidates:
        score, name, text = max(candidates, key=lambda candidate: candidate[0])
        if score >= PLAUSIBLE:
            return text, name
    if binary:
        raise InputProblem("binary file (contains NUL bytes), not text")
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    if bad <= max(3, len(text) // 1000) and _plausibility(text) >= PLAUSIBLE:
        return text, f"utf-8 ({bad} invalid byte sequence{'s' if bad != 1 else ''} replaced)"
    raise InputProblem("undecodable: not UTF-8, UTF-16, GB18030/GBK or Big5 — convert it to UTF-8")


def _utf16_shaped(data: bytes) -> bool:
    """UTF-16 without a BOM has NUL bytes too: in ASCII-heavy text, every other byte."""
    sample = data[:4096]
    return len(sample) >= 2 and (
        sample[0::2].count(0) > len(sample) // 4 or sample[1::2].count(0) > len(sample) // 4
    )


# The 300 most frequent Chinese characters (simplified and traditional forms) make up well over
# half of any real Chinese text, and a small share of what a wrong decoding produces.
_FREQUENT = frozenset(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种"
    "面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本"
    "去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比"
    "或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
    "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做"
    "必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权"
    "收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信"
    "马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连"
    "断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存"
    "候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
    "這為個國們時來會說對發動業過當從與麼實點體現產經學後進種開無關長問頭變間還動將戰給門義導"
)
_PLAIN = re.compile(r"[\x20-\x7e\n\t，。、；：！？“”‘’（）《》…—·\u3000]")
PLAUSIBLE = 0.3
_TEXT_LIKE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff00-\uffef\u2000-\u206f\x20-\x7e\s]*")


def _all_text_like(text: str) -> bool:
    """Every character is Chinese, ASCII, whitespace or punctuation: a short text with a BOM is text."""
    return bool(_TEXT_LIKE.fullmatch(text[:20000]))


def _plausibility(text: str) -> float:
    """Share of characters that are frequent Chinese characters, ASCII or common punctuation."""
    sample = text[:20000]
    if not sample:
        return 1.0
    frequent = sum(char in _FREQUENT for char in sample)
    return (frequent + len(_PLAIN.findall(sample))) / len(sample)


# --------------------------------------------------------------------------- names shown to people

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: str) -> str:
    """``value`` safe to show on one line and to write as UTF-8: control characters, line breaks, bidi
    controls and undecodable file-name bytes (surrogate escapes) become visible escapes like ``\\x1b``."""
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], value)


def _cut(value: str, limit: int = 80) -> str:
    value = printable(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --------------------------------------------------------------------------- attribution

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_NAME_PARTS = re.compile(r"[_\-\s.·、，,]+")


def region_and_year_from_name(name: str) -> tuple[str, int | None]:
    """``2015_广东.txt`` → ("广东", 2015); parts that are neither give ("", None).

    A name that names two regions (``广东_广西_对比.txt``) gives no region: the text decides.
    """
    region, _, year, _ = _attribution_from_name(name)
    return region, year


def _attribution_from_name(name: str) -> tuple[str, str, int | None, str]:
    """(region, city code, year, problem): ``2016_三明市.txt`` → ("福建", "350400", 2016, "").

    A part that is a province's name gives the province (吉林, 海南); a part that is a city's
    (三明市, 大理州, 吉林市) gives the city and its province. The problem says why a name naming
    several regions or cities gave none.
    """
    stem = to_simplified(clean_field(Path(name).stem))
    named: list[str] = []
    units: list[regions.City] = []
    year = None
    for part in _NAME_PARTS.split(stem):
        if not part:
            continue
        if year is None and (match := _YEAR.fullmatch(part)):
            year = int(match.group())
        elif (found := regions.lookup(part)) is not None and len(part) > 1:
            named.append(found.short)
        elif len(part) > 1 and (city := _unit(regions.resolve_city(part)[0])) is not None:
            units.append(city)
    if not named and not units:
        named = [found.short for _, _, found in regions.find_regions(stem)]
        units = [unit for _, _, found in regions.find_cities(stem) if (unit := _unit(_single(found)))]
    named = list(dict.fromkeys(named))
    units = list(dict.fromkeys(units))
    if year is None and (match := _YEAR.search(stem)):
        year = int(match.group())
    if len(units) > 1:
        listed = ", ".join(unit.label for unit in units)
        return "", "", year, f"file name names several cities ({listed}) — region taken from the text"
    city = units[0] if units and (not named or named == [units[0].province.short]) else None
    if city is not None:
        return city.province.short, city.code, year, ""
    if len(named) > 1:
        return (
            "",
            "",
            year,
            f"file name names several regions ({', '.join(named)}) — region taken from the text",
        )
    return (named[0] if named else ""), "", year, ""


def _single(found: tuple[regions.City, ...]) -> regions.City | None:
    return found[0] if len(found) == 1 else None


def _unit(city: regions.City | None) -> regions.City | None:
    """The prefecture-level unit a city or county name stands for (大理市 → 大理州), or None."""
    return city.unit if city is not None else None


def parse_year(value: object) -> int | None:
    if value is None:
        return None
    match = _YEAR.search(str(value))
    return int(match.group()) if match else None


def resolve_region(value: object, *, where: str, problems: list[str]) -> str:
    """A region written any way (上海市, 沪, Shanghai, 310000, 廣東, 广东省人民政府) → its short name.

    Unknown names and names of several regions (广东/广西, 江浙) are reported and give no region.
    """
    attribution = _from_fields(value, "", where=where, problems=problems)
    if attribution.unresolved:
        problems.append(f"{attribution.unresolved} — left without region")
    return attribution.region


def _province(value: str) -> regions.Region | list[str] | None:
    """The province ``value`` names exactly, None, or the several it names (广东/广西)."""
    simplified = to_simplified(value)
    found = regions.lookup(value) or regions.lookup(simplified)
    if found is not None:
        return found
    if regions.lookup_cities(simplified):  # 吉林市, 海南州: a city, not the province in its name
        return None
    named = list(dict.fromkeys(region.short for _, _, region in regions.find_regions(simplified)))
    if len(named) == 1:
        return regions.lookup(named[0])
    return named or None


def _city(
    value: str, province: regions.Region | None
) -> tuple[regions.City | None, tuple[regions.City, ...]]:
    """(the city ``value`` names, candidates when ambiguous): exact names first, then a mention."""
    simplified = to_simplified(value)
    city, candidates = regions.resolve_city(simplified, province)
    if city is None and not candidates:
        mentioned = {units for _, _, units in regions.find_cities(simplified)}
        if len(mentioned) == 1:
            city, candidates = regions.resolve_city(next(iter(mentioned))[0].full, province)
    return city, candidates


@dataclass(frozen=True, slots=True)
class _Attribution:
    region: str = ""
    city: str = ""  # code of the prefecture-level unit
    unresolved: str = ""  # "metadata.csv: unknown city '三名市' (did you mean 三明市?)", completed later


def _from_fields(
    region_value: object, city_value: object, *, where: str, problems: list[str]
) -> _Attribution:
    """Region and city from a sidecar row or a record: ``region`` names a province or a city,
    ``city`` a city (its province from the gazetteer). An unknown or ambiguous value is returned in
    ``unresolved`` (the caller says what became of the region); a county name is noted."""
    region_text, city_text = clean_field(region_value), clean_field(city_value)
    province: regions.Region | None = None
    city: regions.City | None = None
    unresolved: list[str] = []
    if region_text:
        found = _province(region_text)
        if isinstance(found, list):
            unresolved.append(f"{where}: ambiguous region '{_cut(region_text)}' (names {', '.join(found)})")
        elif found is not None:
            province = found
        else:
            city, candidates = _city(region_text, None)
            if city is None:
                unresolved.append(_unusable(where, "region", region_text, candidates))
    if city_text:
        named, candidates = _city(city_text, province)
        if named is None:
            unresolved.append(_unusable(where, "city", city_text, candidates))
        elif province is not None and named.province != province:
            problems.append(
                f"{where}: city '{_cut(city_text)}' is in {named.province.short}, not {province.short} "
                "— city left empty, region kept"
            )
        else:
            city = named
    if city is not None and city.type == "county":
        unit = city.unit
        within = f"{unit.full} ({unit.label})" if unit else city.province.short
        problems.append(f"{where}: {city.full} is a county-level unit of {within} — compared under it")
        province, city = city.province, unit
    region = city.province.short if city is not None else province.short if province else ""
    return _Attribution(region, city.code if city else "", "; ".join(unresolved))


def _unusable(where: str, what: str, value: str, candidates: tuple[regions.City, ...]) -> str:
    if candidates:
        listed = ", ".join(f"{city.full} in {city.province.short}" for city in candidates[:6])
        return f"{where}: ambiguous {what} '{_cut(value)}' ({listed}; give the province)"
    near = regions.near_names(to_simplified(value))
    return f"{where}: unknown {what} '{_cut(value)}'" + (
        f" (did you mean {', '.join(near)}?)" if near else ""
    )


# A speaker header: "<region …><title><name>：", e.g. 山东省工业和信息化厅党组书记、厅长张海波：
_TITLES = (
    "副书记|书记|副主任|主任|副厅长|厅长|副局长|局长|副省长|省长|副市长|市长|副主席|主席|副区长|区长|"
    "副县长|县长|副部长|部长|副司长|司长|副院长|院长|秘书长|总经理|董事长|巡视员|负责人|发言人|常委|委员|州长|盟长|代表"
)
_HEADER_TITLE_FIRST = re.compile(
    rf"^(?P<role>.{{2,80}}?(?:{_TITLES}))\s?(?P<name>[\u4e00-\u9fff·]{{2,4}})\s?：$"
)
_HEADER_NAME_FIRST = re.compile(r"^(?P<name>[\u4e00-\u9fff·]{2,4})\s?（(?P<role>[^（）]{2,80})）\s?：$")
_REPORT_OPENING_LINES = 6


def _speaker_header(line: str) -> tuple[str, str, str, str] | None:
    """(region, city code, speaker, role) if ``line`` is a speaker header naming a province-level
    region or a city (三明市市长杜源生：, the city's province from the gazetteer)."""
    if len(line) > 100:
        return None
    match = _HEADER_TITLE_FIRST.match(line) or _HEADER_NAME_FIRST.match(line)
    if match is None:
        return None
    role = match.group("role")
    if _HEADER_NAME_FIRST.match(line) is None and not re.search(f"(?:{_TITLES})$", role):
        return None
    found = regions.first_region(role)
    city = _first_city(role, found)
    if city is not None:
        return city.province.short, city.code, match.group("name"), role
    if found is None:
        return None
    return found.short, "", match.group("name"), role


def _first_city(text: str, province: regions.Region | None) -> regions.City | None:
    """The prefecture-level unit of the first city mention in ``text`` that lies in ``province``
    (any province when None); a name shared by several units counts only where ``province`` decides."""
    for _, _, units in regions.find_cities(text):
        if province is not None:
            units = tuple(unit for unit in units if unit.province == province)
        if len(units) == 1 and (unit := units[0].unit) is not None:
            return unit
    return None


def _region_from_opening(lines: list[str]) -> str:
    """A report's opening lines name its author: "广东省省长 朱小丹", "2015年广东省政府工作报告"."""
    for line in lines[:_REPORT_OPENING_LINES]:
        if len(line) > 60:
            continue
        found = regions.first_region(line)
        if found and re.search(f"(?:{_TITLES}|政府工作报告|人民政府)", line):
            return found.short
    return ""


def _city_from_opening(lines: list[str], province: regions.Region | None) -> regions.City | None:
    """A city report's opening lines name its city: "三明市人民政府市长 杜源生", "在淮安市第七届人民代表大会"."""
    for line in lines[:_REPORT_OPENING_LINES]:
        title = len(line) <= 60 and re.search(f"(?:{_TITLES}|政府工作报告|人民政府)", line)
        if title and (city := _first_city(line, province)) is not None:
            return city
    return None


def _attributed(doc: _Document, source: str, problems: list[str]) -> _Document:
    """``doc`` with its region and city completed from its opening lines, and the warning about an
    unusable value or a missing region (naming where the region came from) added to ``problems``."""
    lines = doc.text.split("\n", _REPORT_OPENING_LINES)
    region, city, found_in = doc.region, doc.city, doc.found_in
    known = regions.lookup(region) if region else None
    in_text = _city_from_opening(lines, None if city else known)  # with a city given: any, to compare
    if in_text is not None and city and in_text.code != city:
        named = regions.city_by_code(city)
        problems.append(
            f"{_record_prefix(doc, source)}its opening lines name {in_text.full}, not {named.full if named else city} "
            f"({found_in}) — {found_in} kept"
        )
    elif in_text is not None and not city:
        city = in_text.code
        region, found_in = in_text.province.short, found_in or "the text"
    if not region and (region := _region_from_opening(lines)):
        found_in = "the text"
    if doc.unresolved:
        outcome = f"region {region} taken from {found_in}" if region else "left without region"
        problems.append(f"{doc.unresolved} — {outcome}")
    elif not region and not any(_speaker_header(line) for line in doc.text.split("\n")):
        problems.append(
            f"{_record_prefix(doc, source)}no region in the metadata, the file name or the text "
            "— kept without region"
        )
    return dataclasses.replace(doc, region=region, city=city, found_in=found_in)


def _record_prefix(doc: _Document, source: str) -> str:
    """ "" for a file's one document, "KEY: " for a record of a JSONL or CSV file."""
    return "" if doc.key == source else f"{doc.key}: "


def _year_from_opening(lines: list[str]) -> int | None:
    for line in lines[:_REPORT_OPENING_LINES]:
        if len(line) <= 80 and (match := re.search(r"(19[5-9]\d|20\d\d)年", line)):
            return int(match.group(1))
    return None


def split_speakers(doc: _Document) -> list[Segment]:
    """Split a document at speaker headers; one segment per speaker plus the lead before the first."""
    return [segment for segment, _ in _split_speakers(doc)]


def _split_speakers(doc: _Document) -> list[tuple[Segment, str]]:
    """Segments with their text in the original script ("" where it is the same as ``Segment.text``).

    t2s conversion keeps lengths and never touches a line break, so the original's lines line up.
    """
    lines = doc.text.split("\n")
    original_lines = doc.original.split("\n") if doc.original else []

    def original(start: int, end: int) -> str:
        if not original_lines:
            return ""
        text = "\n".join(original_lines[start:end])
        return "" if text == "\n".join(lines[start:end]) else text

    headers = [(index, found) for index, line in enumerate(lines) if (found := _speaker_header(line))]
    region = doc.region
    year = doc.year if doc.year is not None else _year_from_opening(lines)
    base = {"source": doc.key.split("#")[0], "year": year, "date": doc.date}
    if not headers:
        title = doc.title or (lines[0] if lines and len(lines[0]) <= 80 else "")
        segment = Segment(
            segment_id=doc.key,
            region=region,
            speaker=doc.speaker,
            title=title,
            text=doc.text,
            **base,
            **_city_fields(doc.city),
        )
        return [(segment, doc.original)]
    segments: list[tuple[Segment, str]] = []
    first = headers[0][0]
    if first > 0:
        lead_lines = lines[:first]
        lead = Segment(
            segment_id=f"{doc.key}#0",
            region="",
            speaker="",
            title=doc.title or lead_lines[0],
            text="\n".join(lead_lines),
            **base,
        )
        segments.append((lead, original(0, first)))
    bounds = [index for index, _ in headers] + [len(lines)]
    for number, ((index, (speaker_region, speaker_city, speaker, _role)), end) in enumerate(
        zip(headers, bounds[1:], strict=True), start=1
    ):
        body = lines[index + 1 : end]
        headline = body[0] if body and len(body[0]) <= 60 and not body[0].endswith("。") else ""
        segment = Segment(
            segment_id=f"{doc.key}#{number}",
            region=speaker_region,
            speaker=speaker,
            title=headline,
            text="\n".join(body),
            **base,
            **_city_fields(speaker_city),
        )
        segments.append((segment, original(index + 1, end)))
    return [(segment, text) for segment, text in segments if segment.text.strip()]


def _city_fields(code: str) -> dict[str, str]:
    city = regions.city_by_code(code) if code else None
    return {"city": city.label, "city_code": city.code} if city else {}


def at_level(segments: Iterable[Segment], level: str) -> tuple[Segment, ...]:
    """The segments as the comparison stages see them at ``level``: ``province`` as ingested; at
    ``city`` each segment's ``region`` is its city (a province's own report keeps the province), and
    ``province`` holds the province, so tables can add it and provinces can be summed from cities.

    >>> at_level([Segment("a", "a.txt", "福建", "", "", 2016, "…", city="三明", city_code="350400")], "city")[0].region
    '三明'
    """
    if level == "province":
        return tuple(segments)
    return tuple(
        dataclasses.replace(segment, region=segment.city or segment.region, province=segment.region)
        for segment in segments
    )


# --------------------------------------------------------------------------- formats


def _clean_text(raw: str) -> tuple[str, str]:
    """(normalised simplified text, normalised original-script text or "" when they are the same)."""
    text = normalize(raw)
    simplified = simplify_if_traditional(text)
    return simplified, ("" if simplified == text else text)


def _read_records_jsonl(text: str, problems: list[str]) -> Iterator[tuple[str, dict[str, object]]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: broken JSON ({exc.msg}) — record skipped")
            continue
        except (ValueError, RecursionError) as exc:  # 5,000-digit numbers, nesting 100,000 deep
            problems.append(f"line {number}: unreadable JSON ({_cut(str(exc), 60)}) — record skipped")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {number}: not a JSON object — record skipped")
            continue
        yield f"line {number}", record


def _read_records_csv(text: str, problems: list[str]) -> Iterator[tuple[str, dict[str, object]]]:
    if "\x00" in text:
        problems.append("NUL characters removed")
        text = text.replace("\x00", "")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise InputProblem(f"malformed CSV header ({exc})") from exc
    fields = [name.strip().lower() for name in header]
    if not any(name in TEXT_FIELDS for name in fields):
        raise InputProblem(
            f"no text column (expected one of {', '.join(TEXT_FIELDS)}; found {_cut(', '.join(fields), 120) or 'none'})"
        )
    number = 1
    try:
        for number, row in enumerate(reader, start=2):
            if None in row:
                problems.append(f"row {number}: more cells than columns — extra cells ignored")
            if any(value is None for key, value in row.items() if key is not None):
                problems.append(f"row {number}: fewer cells than columns — the missing ones left empty")
            yield f"row {number}", {(key or "").strip().lower(): value for key, value in row.items() if key}
    except csv.Error as exc:
        problems.append(
            f"row {number + 1}: malformed CSV ({_cut(str(exc), 60)}) — the rest of the file skipped"
        )


def _record_documents(
    key: str, records: Iterable[tuple[str, dict[str, object]]], problems: list[str]
) -> Iterator[_Document]:
    for where, record in records:
        raw_text = next((record[name] for name in TEXT_FIELDS if record.get(name)), None)
        if not isinstance(raw_text, str) or not raw_text.strip():
            problems.append(f"{where}: no text (fields {', '.join(TEXT_FIELDS)}) — record skipped")
            continue
        text, original = _clean_text(raw_text)
        if not text:
            problems.append(f"{where}: text is empty after clean-up — record skipped")
            continue
        record_id = clean_field(record.get("id")) or where.replace(" ", "")
        attribution = _from_fields(record.get("region"), record.get("city"), where=where, problems=problems)
        yield _Document(
            key=f"{key}#{_safe_key(record_id)}",
            text=text,
            original=original,
            region=attribution.region,
            city=attribution.city,
            found_in="the record" if attribution.region else "",
            unresolved=attribution.unresolved,
            year=parse_year(record.get("year")) or parse_year(record.get("date")),
            title=clean_field(record.get("title")),
            speaker=clean_field(record.get("speaker")),
            date=clean_field(record.get("date")),
        )


def _safe_key(value: str) -> str:
    return re.sub(r"[\s#]+", "_", printable(value))[:80]


def read_sidecar(path: Path) -> dict[str, dict[str, str]]:
    """Read a ``metadata.csv`` sidecar: file name → its fields (region, year, title, date, speaker…)."""
    text, _ = decode(path.read_bytes())
    reader = csv.DictReader(io.StringIO(text.replace("\x00", ""), newline=""))
    fields = [name.strip().lower() for name in reader.fieldnames or []]
    file_field = next((name for name in FILE_FIELDS if name in fields), None)
    if file_field is None:
        raise InputProblem(f"sidecar has no file column (expected one of {', '.join(FILE_FIELDS)})")
    table: dict[str, dict[str, str]] = {}
    for row in reader:
        clean = {(key or "").strip().lower(): (value or "").strip() for key, value in row.items() if key}
        if clean.get(file_field):
            table[Path(clean[file_field]).name] = clean
    return table


# --------------------------------------------------------------------------- walking inputs


@dataclass(frozen=True, slots=True)
class _Met:
    """A path met while walking: a file to read, or something reported without being read."""

    path: Path
    skip: str = ""  # the reason, for what is reported without being read


def _walk(root: Path) -> Iterator[_Met]:
    """Files under ``root`` in sorted order, and what is not read, with the reason.

    Symbolic links to folders are reported, not followed (no loops, no file read twice); hidden files
    and folders (``.git``) and folders holding a previous tifa output are reported and not read;
    folders that cannot be listed are reported.
    """
    if not root.is_dir():  # a file, or a link that loops or dangles: _ingest_file says which
        yield _Met(root)
        return
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append, followlinks=False):
        folder = Path(dirpath)
        while errors:
            error = errors.pop(0)
            yield _Met(Path(error.filename or folder), f"cannot read folder: {error.strerror or error}")
        keep, met = [], []
        for name in dirnames:
            path = folder / name
            if name.startswith("."):
                met.append(_Met(path, "hidden folder — not read"))
            elif path.is_symlink():
                met.append(_Met(path))  # _ingest_file reports it as a link to a folder
            elif _is_tifa_output(path):
                met.append(_Met(path, "a tifa output folder (has manifest.json) — not read"))
            else:
                keep.append(name)
        dirnames[:] = sorted(keep)
        for name in filenames:
            met.append(_Met(folder / name, "hidden file — not read" if name.startswith(".") else ""))
        yield from sorted(met, key=lambda item: item.path.name)
    for error in errors:
        yield _Met(Path(error.filename or root), f"cannot read folder: {error.strerror or error}")


def _is_tifa_output(folder: Path) -> bool:
    return (folder / "manifest.json").is_file() and (folder / "segments.csv").is_file()


def _display_name(path: Path, root: Path) -> str:
    base = root.name if root.is_dir() else ""
    relative = path.relative_to(root) if root.is_dir() else Path(path.name)
    return printable(str(Path(base) / relative) if base else str(relative))


@dataclass
class _Seen:
    """What earlier files contributed: texts (for duplicates), segment ids (kept unique), originals."""

    texts: dict[object, str] = field(default_factory=dict)  # digest, and (digest, region, city, year) → key
    ids: set[str] = field(default_factory=set)
    originals: dict[str, str] = field(default_factory=dict)


def ingest(paths: Iterable[str | Path]) -> IngestResult:
    """Read every input and return the segments with a report on every file met.

    Raises ``TifaError`` only when a path does not exist; bad files are reported, not raised.

    >>> result = ingest(["seeds"])  # doctest: +SKIP
    >>> sorted({s.region for s in result.segments})  # doctest: +SKIP
    ['', '上海', '安徽', '山东', '山西', '江西', '河北', '甘肃', '重庆']
    """
    segments: list[Segment] = []
    reports: list[InputReport] = []
    seen = _Seen()
    walks: list[tuple[Path, list[_Met]]] = []
    for raw in paths:
        root = Path(raw)
        if not root.exists() and not root.is_symlink():
            raise Errors.E021(path=raw)
        walks.append((root, list(_walk(root))))
    cleaned = _cleaned_in_parallel([met.path for _, found in walks for met in found if not met.skip])
    for root, found in walks:
        sidecars: dict[Path, tuple[dict[str, dict[str, str]], InputReport | None]] = {}
        for met in found:
            path = met.path
            source = _display_name(path, root)
            if met.skip:
                reports.append(InputReport(source, "skipped", met.skip))
                continue
            folder = path.parent
            if folder not in sidecars:
                sidecars[folder] = _load_sidecar(folder, root)
            table, sidecar_report = sidecars[folder]
            if path.name == SIDECAR:
                reports.append(sidecar_report or InputReport(source, "skipped", "sidecar unreadable"))
                continue
            meta = table.get(path.name)
            if table and meta is None and path != root:
                reports.append(InputReport(source, "skipped", f"not listed in {SIDECAR} of its folder"))
                continue
            report, new_segments = _ingest_file(path, source, meta or {}, seen, cleaned)
            reports.append(report)
            segments.extend(new_segments)
    return IngestResult(tuple(segments), tuple(reports), seen.originals)


def ingest_records(records: Iterable[Mapping[str, object]], source: str = "texts") -> IngestResult:
    """Records in memory read as the records of one JSONL file named ``source``: same normalisation,
    traditional → simplified, region and city resolution, speaker splitting and duplicate check.

    A record has ``text`` and optional ``region``, ``city``, ``year``, ``title``, ``speaker``,
    ``date``, ``id``; its segments are ``source#id`` (``id``: the record's number from 0 when absent).

    >>> [(s.segment_id, s.region, s.year) for s in ingest_records([{"text": "堅持“兩個確立”。", "region": "沪"}]).segments]
    [('texts#0', '上海', None)]
    """
    problems: list[str] = []
    documents = list(
        _record_documents(
            source, ((f"text {n}", {"id": str(n), **record}) for n, record in enumerate(records)), problems
        )
    )
    if not documents:
        reason = "no usable records" + (f" ({problems[0]})" if problems else "")
        return IngestResult((), (_report(source, "skipped", reason, "texts", "", problems),))
    seen = _Seen()
    report, segments = _segmented(documents, source, "texts", "", problems, seen)
    return IngestResult(tuple(segments), (report,), seen.originals)


def _load_sidecar(folder: Path, root: Path) -> tuple[dict[str, dict[str, str]], InputReport | None]:
    path = folder / SIDECAR
    if not path.is_file():
        return {}, None
    source = _display_name(path, root)
    try:
        table = read_sidecar(path)
    except (InputProblem, OSError, csv.Error) as exc:
        return {}, InputReport(source, "skipped", f"metadata sidecar unusable: {_cut(str(exc), 120)}")
    try:
        present = set(os.listdir(folder))
    except OSError:
        present = set(table)
    problems = [f"lists '{_cut(name)}', which is not in its folder" for name in sorted(set(table) - present)]
    report = InputReport(
        source,
        "processed",
        "metadata sidecar",
        format="metadata",
        problems=tuple(problems[:MAX_PROBLEMS_LISTED]),
        problems_total=len(problems),
    )
    return table, report


def _unreadable(path: Path, exc: OSError) -> str:
    if path.is_symlink():
        if exc.errno == errno.ELOOP:
            return "symbolic link loop — not read"
        if exc.errno == errno.ENOENT:
            return "broken symbolic link (its target does not exist)"
    return f"cannot read: {exc.strerror or exc}"


PARALLEL_CLEAN_BYTES = 32 * 2**20  # text files above this in all are cleaned by a pool of processes


def _cleaned_in_parallel(paths: list[Path]) -> dict[Path, tuple[bytes, str, str]]:
    """Plain-text files cleaned up by a pool of processes, when there is a lot of text and more than
    one core: path → (digest of the decoded text, :func:`_clean_text` of it). The clean-up is most of
    ingest's time (40 M characters: 17 s), and the segmenter's cores are idle until ingest ends.
    The files are read again where they are ingested; a digest that no longer matches (a file
    changed meanwhile), or a file that failed here, is cleaned there as always."""
    jobs, size = [], 0
    for path in paths:
        with contextlib.suppress(OSError):
            if path.suffix.lower() in TEXT_SUFFIXES and path.is_file():
                jobs.append(path)
                size += path.stat().st_size
    cores = parallel.available_cores()
    if size < PARALLEL_CLEAN_BYTES or cores < 2 or len(jobs) < 2:
        return {}
    with multiprocessing.get_context("fork").Pool(min(cores, 4)) as pool:
        return {path: done for path, done in pool.imap(_clean_file, jobs, chunksize=4) if done is not None}


def _clean_file(path: Path) -> tuple[Path, tuple[bytes, str, str] | None]:
    try:
        data = path.read_bytes()
        if len(data) > MAX_FILE_BYTES:
            return path, None
        raw_text, _ = decode(data)
        return path, (_digest(raw_text), *_clean_text(raw_text))
    except Exception:  # whatever it is, _ingest_file meets it again and reports it
        return path, None


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _ingest_file(
    path: Path,
    source: str,
    meta: dict[str, str],
    seen: _Seen,
    cleaned: Mapping[Path, tuple[bytes, str, str]] | None = None,
) -> tuple[InputReport, list[Segment]]:
    suffix = path.suffix.lower()
    fmt = suffix.lstrip(".")
    try:
        info = path.stat()
    except OSError as exc:
        return InputReport(source, "skipped", _unreadable(path, exc), format=fmt), []
    if stat.S_ISDIR(info.st_mode):
        return InputReport(
            source, "skipped", "symbolic link to a folder — not followed (give the folder itself)"
        ), []
    if not stat.S_ISREG(info.st_mode):
        return InputReport(source, "skipped", "not a regular file (a FIFO, socket or device) — not read"), []
    if suffix not in TEXT_SUFFIXES | RECORD_SUFFIXES:
        return InputReport(source, "skipped", f"unsupported file type '{_cut(suffix or path.name)}'"), []
    problems: list[str] = []
    encoding = ""
    try:
        if info.st_size > MAX_FILE_BYTES:
            raise InputProblem(f"larger than {MAX_FILE_BYTES // 2**20} MB — split it into smaller files")
        data = path.read_bytes()
        if not data.strip():
            raise InputProblem("empty file")
        raw_text, encoding = decode(data)
        if "replaced" in encoding:
            problems.append(f"decoded as {encoding} by �")
        if suffix in TEXT_SUFFIXES:
            ready = (cleaned or {}).get(path)
            text, original = ready[1:] if ready and ready[0] == _digest(raw_text) else _clean_text(raw_text)
            if not text:
                raise InputProblem("no text left after clean-up (only markup, spaces or control characters)")
            name_region, name_city, name_year, name_problem = _attribution_from_name(path.name)
            given = _from_fields(meta.get("region"), meta.get("city"), where=SIDECAR, problems=problems)
            if not given.region and name_problem:
                problems.append(name_problem)
            if given.region and not given.city and name_region == given.region:
                given = dataclasses.replace(given, city=name_city)  # 福建 in metadata, 2016_三明市.txt
            documents: list[_Document] = [
                _Document(
                    key=source,
                    text=text,
                    original=original,
                    region=given.region or name_region,
                    city=given.city if given.region else name_city,
                    found_in=SIDECAR if given.region else "the file name" if name_region else "",
                    unresolved=given.unresolved,
                    year=parse_year(meta.get("year")) or parse_year(meta.get("date")) or name_year,
                    title=clean_field(meta.get("title")),
                    speaker=clean_field(meta.get("speaker")),
                    date=clean_field(meta.get("date")),
                )
            ]
        else:
            records = (
                _read_records_jsonl(raw_text, problems)
                if suffix == ".jsonl"
                else _read_records_csv(raw_text, problems)
            )
            documents = list(_record_documents(source, records, problems))
            if not documents:
                raise InputProblem("no usable records" + (f" ({problems[0]})" if problems else ""))
    except InputProblem as exc:
        return _report(source, "skipped", str(exc), fmt, encoding, problems), []
    except OSError as exc:
        return _report(source, "skipped", f"cannot read: {exc.strerror or exc}", fmt, encoding, problems), []
    return _segmented(documents, source, fmt, encoding, problems, seen)


def _segmented(
    documents: list[_Document], source: str, fmt: str, encoding: str, problems: list[str], seen: _Seen
) -> tuple[InputReport, list[Segment]]:
    """The documents of one input attributed, checked for duplicates and split at speaker headers."""
    segments: list[Segment] = []
    kept = traditional = 0
    for document in documents:
        document = _attributed(document, source, problems)
        digest = hashlib.sha1(document.text.encode("utf-8")).hexdigest()
        copy = (digest, document.region, document.city, document.year)
        where = _record_prefix(document, source)
        if copy in seen.texts:
            problems.append(f"{where}same text as {seen.texts[copy]} — counted once, skipped here")
            continue
        if digest in seen.texts:  # another region published the same text: reuse, kept (reuse.csv)
            problems.append(f"{where}same text as {seen.texts[digest]}, under another region — both kept")
        seen.texts[copy] = document.key
        seen.texts.setdefault(digest, document.key)
        kept += 1
        traditional += bool(document.original)
        for segment, original in _split_speakers(document):
            segment = _unique_id(segment, seen, problems)
            if original:
                seen.originals[segment.segment_id] = original
            segments.append(segment)
    if not kept:
        return _report(source, "skipped", problems[-1], fmt, encoding, problems[:-1]), []
    report = _report(source, "processed", "", fmt, encoding, problems)
    return (
        InputReport(
            report.source,
            report.status,
            format=fmt,
            encoding=encoding,
            documents=kept,
            segments=len(segments),
            chars=sum(len(segment.text) for segment in segments),
            problems=report.problems,
            problems_total=report.problems_total,
            traditional=traditional,
        ),
        segments,
    )


def _unique_id(segment: Segment, seen: _Seen, problems: list[str]) -> Segment:
    """Segment ids key every later stage: a repeated one (two records with the same ``id``, two inputs
    with the same folder name) gets a suffix, and the report says so."""
    if segment.segment_id not in seen.ids:
        seen.ids.add(segment.segment_id)
        return segment
    number = 2
    while f"{segment.segment_id}~{number}" in seen.ids:
        number += 1
    renamed = f"{segment.segment_id}~{number}"
    problems.append(f"segment id {segment.segment_id} used before — this one is {renamed}")
    seen.ids.add(renamed)
    return dataclasses.replace(segment, segment_id=renamed)


def _report(
    source: str, status: str, reason: str, fmt: str, encoding: str, problems: list[str]
) -> InputReport:
    listed = problems[:MAX_PROBLEMS_LISTED]
    if len(problems) > MAX_PROBLEMS_LISTED:
        listed.append(f"… and {len(problems) - MAX_PROBLEMS_LISTED} more problems of this file")
    return InputReport(
        source,
        status,
        reason,
        format=fmt,
        encoding=encoding,
        problems=tuple(listed),
        problems_total=len(problems),
    )
