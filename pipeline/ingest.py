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
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline import regions
from pipeline.errors import input_not_found
from pipeline.records import Segment
from pipeline.text import normalize

TEXT_SUFFIXES = {".txt", ".md", ".text", ".html", ".htm"}
RECORD_SUFFIXES = {".jsonl", ".csv"}
SIDECAR = "metadata.csv"
TEXT_FIELDS = ("text", "content", "body", "正文", "内容")
FILE_FIELDS = ("file", "filename", "path", "文件")
MAX_FILE_BYTES = 200 * 1024 * 1024


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


@dataclass(frozen=True, slots=True)
class IngestResult:
    segments: tuple[Segment, ...]
    inputs: tuple[InputReport, ...]


@dataclass(frozen=True, slots=True)
class _Document:
    key: str
    text: str
    region: str
    year: int | None
    title: str = ""
    speaker: str = ""
    date: str = ""


class InputProblem(Exception):
    """A file or record that cannot be used; the message says why, for the manifest."""


# --------------------------------------------------------------------------- reading bytes


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes of unknown encoding: BOMs, UTF-8, then the likeliest of GB18030, Big5 and UTF-16.

    Raises ``InputProblem`` for binary or undecodable data.

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
            if _plausibility(text) >= PLAUSIBLE:
                return text, name
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" not in text[:65536]:
            return text, "utf-8"
    candidates = []
    for name in ("gb18030", "big5", "utf-16-le", "utf-16-be"):
        if name.startswith("utf-16") and len(data) % 2:
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
    if b"\x00" in data[:65536]:
        raise InputProblem("binary file (contains NUL bytes), not text")
    raise InputProblem("undecodable: not UTF-8, UTF-16, GB18030/GBK or Big5 — convert it to UTF-8")


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


def _plausibility(text: str) -> float:
    """Share of characters that are frequent Chinese characters, ASCII or common punctuation."""
    sample = text[:20000]
    if not sample:
        return 1.0
    frequent = sum(char in _FREQUENT for char in sample)
    return (frequent + len(_PLAIN.findall(sample))) / len(sample)


# --------------------------------------------------------------------------- attribution

_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_NAME_PARTS = re.compile(r"[_\-\s.·、，,]+")


def region_and_year_from_name(name: str) -> tuple[str, int | None]:
    """``2015_广东.txt`` → ("广东", 2015); parts that are neither give ("", None)."""
    stem = Path(name).stem
    region, year = "", None
    for part in _NAME_PARTS.split(stem):
        if not part:
            continue
        if year is None and (match := _YEAR.fullmatch(part)):
            year = int(match.group())
        elif not region and (found := regions.lookup(part)) is not None and len(part) > 1:
            region = found.short
    if not region and (found := regions.first_region(stem)) is not None:
        region = found.short
    if year is None and (match := _YEAR.search(stem)):
        year = int(match.group())
    return region, year


def parse_year(value: object) -> int | None:
    if value is None:
        return None
    match = _YEAR.search(str(value))
    return int(match.group()) if match else None


def resolve_region(value: str, *, where: str, problems: list[str]) -> str:
    """A region written any way (上海市, 沪, Shanghai, 310000) → its short name; unknown ones are reported."""
    value = value.strip()
    if not value:
        return ""
    found = regions.lookup(value)
    if found is None:
        problems.append(f"{where}: unknown region '{value}' — left without region")
        return ""
    return found.short


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


def _speaker_header(line: str) -> tuple[str, str, str] | None:
    """(region, speaker, role) if ``line`` is a speaker header naming a province-level region."""
    if len(line) > 100:
        return None
    match = _HEADER_TITLE_FIRST.match(line) or _HEADER_NAME_FIRST.match(line)
    if match is None:
        return None
    role = match.group("role")
    if _HEADER_NAME_FIRST.match(line) is None and not re.search(f"(?:{_TITLES})$", role):
        return None
    found = regions.first_region(role)
    if found is None:
        return None
    return found.short, match.group("name"), role


def _region_from_opening(lines: list[str]) -> str:
    """A report's opening lines name its author: "广东省省长 朱小丹", "2015年广东省政府工作报告"."""
    for line in lines[:_REPORT_OPENING_LINES]:
        if len(line) > 60:
            continue
        found = regions.first_region(line)
        if found and re.search(f"(?:{_TITLES}|政府工作报告|人民政府)", line):
            return found.short
    return ""


def _year_from_opening(lines: list[str]) -> int | None:
    for line in lines[:_REPORT_OPENING_LINES]:
        if len(line) <= 80 and (match := re.search(r"(19[5-9]\d|20\d\d)年", line)):
            return int(match.group(1))
    return None


def split_speakers(doc: _Document) -> list[Segment]:
    """Split a document at speaker headers; one segment per speaker plus the lead before the first."""
    lines = doc.text.split("\n")
    headers = [(index, found) for index, line in enumerate(lines) if (found := _speaker_header(line))]
    region = doc.region or _region_from_opening(lines)
    year = doc.year if doc.year is not None else _year_from_opening(lines)
    base = {"source": doc.key.split("#")[0], "year": year, "date": doc.date}
    if not headers:
        title = doc.title or (lines[0] if lines and len(lines[0]) <= 80 else "")
        return [
            Segment(
                segment_id=doc.key, region=region, speaker=doc.speaker, title=title, text=doc.text, **base
            )
        ]
    segments: list[Segment] = []
    first = headers[0][0]
    if first > 0:
        lead_lines = lines[:first]
        segments.append(
            Segment(
                segment_id=f"{doc.key}#0",
                region="",
                speaker="",
                title=doc.title or lead_lines[0],
                text="\n".join(lead_lines),
                **base,
            )
        )
    bounds = [index for index, _ in headers] + [len(lines)]
    for number, ((index, (speaker_region, speaker, _role)), end) in enumerate(
        zip(headers, bounds[1:], strict=True), start=1
    ):
        body = lines[index + 1 : end]
        headline = body[0] if body and len(body[0]) <= 60 and not body[0].endswith("。") else ""
        segments.append(
            Segment(
                segment_id=f"{doc.key}#{number}",
                region=speaker_region,
                speaker=speaker,
                title=headline,
                text="\n".join(body),
                **base,
            )
        )
    return [segment for segment in segments if segment.text.strip()]


# --------------------------------------------------------------------------- formats


def _read_records_jsonl(text: str, problems: list[str]) -> Iterator[tuple[str, dict[str, object]]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: broken JSON ({exc.msg}) — record skipped")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {number}: not a JSON object — record skipped")
            continue
        yield f"line {number}", record


def _read_records_csv(text: str, problems: list[str]) -> Iterator[tuple[str, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [name.strip().lower() for name in reader.fieldnames or []]
    if not any(name in TEXT_FIELDS for name in fields):
        raise InputProblem(
            f"no text column (expected one of {', '.join(TEXT_FIELDS)}; found {', '.join(fields) or 'none'})"
        )
    for number, row in enumerate(reader, start=2):
        if None in row:
            problems.append(f"row {number}: more cells than columns — extra cells ignored")
        yield f"row {number}", {(key or "").strip().lower(): value for key, value in row.items() if key}


def _record_documents(
    key: str, records: Iterable[tuple[str, dict[str, object]]], problems: list[str]
) -> Iterator[_Document]:
    for where, record in records:
        raw_text = next((record[name] for name in TEXT_FIELDS if record.get(name)), None)
        if not isinstance(raw_text, str) or not raw_text.strip():
            problems.append(f"{where}: no text (fields {', '.join(TEXT_FIELDS)}) — record skipped")
            continue
        text = normalize(raw_text)
        if not text:
            problems.append(f"{where}: text is empty after clean-up — record skipped")
            continue
        record_id = str(record.get("id") or where.replace(" ", "")).strip()
        yield _Document(
            key=f"{key}#{_safe_key(record_id)}",
            text=text,
            region=resolve_region(str(record.get("region") or ""), where=where, problems=problems),
            year=parse_year(record.get("year")) or parse_year(record.get("date")),
            title=str(record.get("title") or "").strip(),
            speaker=str(record.get("speaker") or "").strip(),
            date=str(record.get("date") or "").strip(),
        )


def _safe_key(value: str) -> str:
    return re.sub(r"[\s#]+", "_", value)[:80]


def read_sidecar(path: Path) -> dict[str, dict[str, str]]:
    """Read a ``metadata.csv`` sidecar: file name → its fields (region, year, title, date, speaker…)."""
    text, _ = decode(path.read_bytes())
    reader = csv.DictReader(io.StringIO(text, newline=""))
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


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` in sorted order; symlinked folders are not followed (no loops)."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _display_name(path: Path, root: Path) -> str:
    base = root.name if root.is_dir() else ""
    relative = path.relative_to(root) if root.is_dir() else Path(path.name)
    return str(Path(base) / relative) if base else str(relative)


def ingest(paths: Iterable[str | Path]) -> IngestResult:
    """Read every input and return the segments with a report on every file met.

    Raises ``TifaError`` only when a path does not exist; bad files are reported, not raised.

    >>> result = ingest(["seeds"])  # doctest: +SKIP
    >>> sorted({s.region for s in result.segments})  # doctest: +SKIP
    ['', '上海', '安徽', '山东', '山西', '江西', '河北', '甘肃', '重庆']
    """
    segments: list[Segment] = []
    reports: list[InputReport] = []
    seen_texts: dict[str, str] = {}
    for raw in paths:
        root = Path(raw)
        if not root.exists() and not root.is_symlink():
            raise input_not_found(str(raw))
        sidecars: dict[Path, dict[str, dict[str, str]] | InputReport] = {}
        for path in _walk(root):
            source = _display_name(path, root)
            folder = path.parent
            if folder not in sidecars:
                sidecars[folder] = _load_sidecar(folder, root)
            sidecar = sidecars[folder]
            if path.name == SIDECAR:
                reports.append(
                    sidecar
                    if isinstance(sidecar, InputReport)
                    else InputReport(source, "processed", "metadata sidecar", format="metadata", documents=0)
                )
                continue
            meta = sidecar.get(path.name) if isinstance(sidecar, dict) else None
            if isinstance(sidecar, dict) and sidecar and meta is None and path != root:
                reports.append(InputReport(source, "skipped", f"not listed in {SIDECAR} of its folder"))
                continue
            report, new_segments = _ingest_file(path, source, meta or {}, seen_texts)
            reports.append(report)
            segments.extend(new_segments)
    return IngestResult(tuple(segments), tuple(reports))


def _load_sidecar(folder: Path, root: Path) -> dict[str, dict[str, str]] | InputReport:
    path = folder / SIDECAR
    if not path.is_file():
        return {}
    try:
        return read_sidecar(path)
    except (InputProblem, OSError, csv.Error) as exc:
        return InputReport(_display_name(path, root), "skipped", f"metadata sidecar unusable: {exc}")


def _ingest_file(
    path: Path, source: str, meta: dict[str, str], seen_texts: dict[str, str]
) -> tuple[InputReport, list[Segment]]:
    suffix = path.suffix.lower()
    fmt = suffix.lstrip(".")
    if suffix not in TEXT_SUFFIXES | RECORD_SUFFIXES:
        return InputReport(source, "skipped", f"unsupported file type '{suffix or path.name}'"), []
    problems: list[str] = []
    try:
        if path.is_symlink() and not path.exists():
            raise InputProblem("broken or looping symbolic link")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputProblem(f"larger than {MAX_FILE_BYTES // 2**20} MB — split it into smaller files")
        data = path.read_bytes()
        if not data.strip():
            raise InputProblem("empty file")
        raw_text, encoding = decode(data)
        if suffix in TEXT_SUFFIXES:
            text = normalize(raw_text)
            if not text:
                raise InputProblem("no text left after clean-up (only markup, spaces or control characters)")
            name_region, name_year = region_and_year_from_name(path.name)
            region = resolve_region(meta.get("region", ""), where=SIDECAR, problems=problems) or name_region
            documents: list[_Document] = [
                _Document(
                    key=source,
                    text=text,
                    region=region,
                    year=parse_year(meta.get("year")) or parse_year(meta.get("date")) or name_year,
                    title=meta.get("title", ""),
                    speaker=meta.get("speaker", ""),
                    date=meta.get("date", ""),
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
        return InputReport(source, "skipped", str(exc), format=fmt, problems=tuple(problems)), []
    except OSError as exc:
        return InputReport(source, "skipped", f"cannot read: {exc.strerror or exc}", format=fmt), []

    segments: list[Segment] = []
    kept = 0
    for document in documents:
        digest = hashlib.sha1(document.text.encode("utf-8")).hexdigest()
        if digest in seen_texts:
            problems.append(f"{document.key}: same text as {seen_texts[digest]} — counted once, skipped here")
            continue
        seen_texts[digest] = document.key
        kept += 1
        segments.extend(split_speakers(document))
    if not kept:
        return InputReport(source, "skipped", problems[-1], format=fmt, encoding=encoding), []
    return (
        InputReport(
            source,
            "processed",
            format=fmt,
            encoding=encoding,
            documents=kept,
            segments=len(segments),
            chars=sum(len(segment.text) for segment in segments),
            problems=tuple(problems),
        ),
        segments,
    )
