"""Text clean-up shared by every input format, the Chinese sentence splitter, and script conversion.

Normalisation makes the same phrase look the same everywhere, whatever the source: full-width
digits and letters become ASCII (NFKC), while Chinese punctuation stays full-width, and ASCII
punctuation written between Chinese characters (the seed article has "报告,充分") becomes the
full-width form. Control, format and zero-width characters, variation selectors and HTML tags are
removed. :func:`normalize` is idempotent and runs in time linear in the length of its input, whatever
the input (a scraped page with ten thousand unclosed ``<script`` tags or a line of a million colons
included). :func:`to_simplified` converts traditional characters to simplified ones one for one, so
offsets into the converted text are offsets into the original.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import cache

# Chinese punctuation that NFKC would fold to ASCII; we keep these full-width.
_KEEP_FULL_WIDTH = "，。：；！？（）、“”‘’「」『』【】《》〈〉…—～·"
_PROTECT = re.compile(f"[{re.escape(_KEEP_FULL_WIDTH)}]+")
_TO_FULL_WIDTH = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"}

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_CJK_OR_PUNCT = _CJK + re.escape(_KEEP_FULL_WIDTH)
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CJK_OR_PUNCT_CHAR = re.compile(f"[{_CJK_OR_PUNCT}]")
_ASCII_PUNCT_RUN = re.compile(r"[,:;!?()]+")
_ASCII_QUOTED = re.compile(r'"([^"\n]{1,80})"')
_ASCII_SINGLE_QUOTED = re.compile(r"'([^'\n]{1,80})'")

# Line breaks of every kind (VT, FF, FS/GS/RS, NEL, LS, PS: what str.splitlines() splits at) become \n.
_LINE_BREAK = re.compile("\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Removed: C0/C1 controls but tab and newline, every format character (Cf: zero-width spaces and
# joiners, bidi marks and isolates, soft hyphen, BOM, tag characters …), surrogates, non-characters,
# variation selectors and the combining grapheme joiner. All of these are invisible, break matching
# ("两个\u200b确立"), and most are illegal in XML 1.0.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufdd0-\ufdef"
    "\ufe00-\ufe0f\ufeff\ufff9-\ufffb\ufffe\uffff\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(1, 17))
    + "]"
)

# Terminal colour and cursor codes (ESC [ 31 m) from logs and console captures: removed whole.
_ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]{0,32}[ -/]{0,8}[@-~]")

_LOOKS_HTML = re.compile(r"<(html|body|p|div|br|span|script|a|table|meta|!doctype)\b", re.IGNORECASE)
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_AMP_CHAIN = re.compile(r"&(?:amp;)+", re.IGNORECASE)  # &amp;amp;lt; (escaped twice) is &lt;
_TAG_OPEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)|<[!?]")
_TAG_MAX = 2000  # a "<" with no ">" within this many characters is a literal "<"
_RAW_TEXT = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "noscript")}
_BREAK_OPEN = frozenset({"br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6"})
_BREAK_CLOSE = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

_SPACES = re.compile(r"[ \t\u3000]+")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK_OR_PUNCT}]) (?=[{_CJK_OR_PUNCT}])")

SENTENCE_END = "。！？；…"
CLOSERS = "”’」』）》】〉\"'"
_SENTENCE = re.compile(rf"[^{SENTENCE_END}\n]*(?:[{SENTENCE_END}]+[{re.escape(CLOSERS)}]*|\n|$)")


# --------------------------------------------------------------------------- markup


def strip_html(text: str) -> str:
    """Decode HTML entities; then, in text that looks like HTML, remove tags, scripts, styles and comments.

    Entities are decoded first, so text escaped twice by a CMS (``&lt;p&gt;``) loses its tags too.
    Block tags (``<p>``, ``<br>``, ``</div>`` …) become line breaks. Linear time: a ``<`` with no
    ``>`` before the next ``<`` (or within 2,000 characters) is kept as a literal character.

    >>> strip_html("<p>高质量发展</p><script>alert(1)</script>&amp;")
    '\\n高质量发展\\n&'
    """
    if _ENTITY.search(text):
        text = html.unescape(_AMP_CHAIN.sub("&", text))
    if _LOOKS_HTML.search(text):
        text = _strip_tags(text)
    return text


def _strip_tags(text: str) -> str:
    pieces: list[str] = []
    position, size = 0, len(text)
    # Searches for a closing "-->" or "</script>" that failed from some offset fail from any later one:
    # remembering where keeps ten thousand unclosed comments linear rather than quadratic.
    no_close_after: dict[str, int] = {}
    while True:
        lt = text.find("<", position)
        if lt < 0:
            pieces.append(text[position:])
            return "".join(pieces)
        pieces.append(text[position:lt])
        if text.startswith("<!--", lt):
            end = -1 if lt >= no_close_after.get("--", size + 1) else text.find("-->", lt + 4)
            if end < 0:
                no_close_after["--"] = min(lt, no_close_after.get("--", lt))
                position = lt + 4  # an unclosed comment: drop the marker, keep the text
            else:
                position = end + 3
            continue
        match = _TAG_OPEN.match(text, lt)
        following = text.find("<", lt + 1, lt + _TAG_MAX)
        gt = text.find(">", lt + 1, following if following >= 0 else lt + _TAG_MAX)
        if match is None or gt < 0:
            pieces.append("<")
            position = lt + 1
            continue
        closing, name = match.group(1), (match.group(2) or "").lower()
        position = gt + 1
        if name in _RAW_TEXT and not closing and not text.startswith("/>", gt - 1):
            close = None
            if position < no_close_after.get(name, size + 1):
                close = _RAW_TEXT[name].search(text, position)
            if close is None:  # an unclosed script: drop the tag, keep what follows
                no_close_after[name] = min(position, no_close_after.get(name, position))
            else:
                position = close.end()
            continue
        if (name in _BREAK_CLOSE) if closing else (name in _BREAK_OPEN):
            pieces.append("\n")


def _inert_markup(text: str) -> str:
    """Defuse what a second pass would read as markup: a space after ``<`` of a tag, after ``&`` of an entity.

    Only text that was itself escaped (``&amp;lt;p&amp;gt;`` decodes to ``&lt;p&gt;``) or nested
    (``<<p>p>``) can still hold such sequences after clean-up; defusing them makes :func:`normalize`
    idempotent.
    """
    if "<" in text:
        text = _LOOKS_HTML.sub(lambda m: "< " + m.group()[1:], text)
    if "&" in text:
        text = _ENTITY.sub(lambda m: "& " + m.group()[1:], text)
    return text


# --------------------------------------------------------------------------- characters


def _nfkc_outside_chinese_punctuation(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for match in _PROTECT.finditer(text):
        pieces.append(unicodedata.normalize("NFKC", text[last : match.start()]))
        pieces.append(match.group())
        last = match.end()
    pieces.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(pieces)


def _clean_characters(text: str) -> str:
    """Invisible characters out, NFKC outside Chinese punctuation, repeated until stable.

    Removing a zero-width character can bring a combining mark next to the letter it composes with
    (``e\\u200b\\u0301``), and NFKC can produce a character that is removed: one more round settles it.
    """
    for _ in range(4):
        cleaned = _INVISIBLE.sub("", _nfkc_outside_chinese_punctuation(_INVISIBLE.sub("", text)))
        if cleaned == text:
            break
        text = cleaned
    return text


def _curly_if_chinese(match: re.Match[str]) -> str:
    """ "…" becomes “…” when the quote is Chinese: Chinese inside, or a Chinese character just outside."""
    text, start, end = match.string, match.start(), match.end()
    outside = text[start - 1 : start] + text[end : end + 1]
    if any(is_cjk(char) for char in match.group(1) + outside):
        return f"“{match.group(1)}”"
    return match.group()


def _curly_single_if_chinese(match: re.Match[str]) -> str:
    return f"‘{match.group(1)}’" if _CJK_CHAR.search(match.group(1)) else match.group()


def _full_width_punctuation(match: re.Match[str]) -> str:
    """A run of ASCII , : ; ! ? ( ) touching Chinese: after a Chinese character or Chinese punctuation
    the whole run becomes full-width (日:, → 日：，); before a Chinese character only its last mark does
    (3,000亿 keeps its comma: a digit precedes it)."""
    text, start, end = match.string, match.start(), match.end()
    run = match.group()
    if start > 0 and _CJK_OR_PUNCT_CHAR.match(text, start - 1):
        return "".join(_TO_FULL_WIDTH[char] for char in run)
    if end < len(text) and _CJK_CHAR.match(text, end):
        return run[:-1] + _TO_FULL_WIDTH[run[-1]]
    return run


def _is_letter_spaced(line: str) -> bool:
    gaps = len(_SPACE_BETWEEN_CJK.findall(line))
    return gaps >= 3 and gaps * 3 >= len(line) - gaps


def normalize(text: str) -> str:
    """Return ``text`` cleaned for matching: the same phrase always has the same characters.

    Lines are kept (they carry paragraph and header structure); blank lines are dropped.
    ``normalize(normalize(text)) == normalize(text)`` for every string.

    >>> normalize("报告,充分体现了“两个确立”，ＧＤＰ增长７.５％")
    '报告，充分体现了“两个确立”，GDP增长7.5%'
    """
    text = strip_html(text)
    text = _LINE_BREAK.sub("\n", text)
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    text = _clean_characters(text)
    text = _ASCII_QUOTED.sub(_curly_if_chinese, text)
    text = _ASCII_SINGLE_QUOTED.sub(_curly_single_if_chinese, text)
    text = _ASCII_PUNCT_RUN.sub(_full_width_punctuation, text)
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if _is_letter_spaced(line):  # "政 府 工 作 报 告" from PDF extraction; elsewhere a space separates
            line = _SPACE_BETWEEN_CJK.sub("", line)
        if line:
            lines.append(line)
    return _inert_markup("\n".join(lines))


def clean_field(value: object) -> str:
    """A one-line metadata value (title, speaker, region …): normalised, line breaks become spaces."""
    if value is None:
        return ""
    return " ".join(normalize(str(value)).split("\n"))


# --------------------------------------------------------------------------- script


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional characters → simplified (OpenCC ``t2s``), one character for one.

    The result has the same length as ``text``, so an offset into one is an offset into the other and
    a phrase found in the simplified text can be shown in the original script. OpenCC's t2s
    dictionaries map every entry to one of equal length (checked against OpenCC 1.1–1.4); should a
    conversion ever change the length, the text is converted character by character instead.

    >>> to_simplified("堅持「兩個確立」，推動高質量發展")
    '坚持「两个确立」，推动高质量发展'
    """
    if text.isascii():
        return text
    converter = _t2s()
    try:
        converted = converter.convert(text)
    except UnicodeError:  # lone surrogates cannot cross into OpenCC's UTF-8
        converted = ""
    if len(converted) == len(text):
        return converted
    return "".join(_simplified_char(converter, char) for char in text)


TRADITIONAL_SHARE = 0.05
_NOT_CJK = re.compile(f"[^{_CJK}]+")


def simplify_if_traditional(text: str) -> str:
    """``text`` in simplified characters if it is written in traditional ones, else ``text`` unchanged.

    t2s is not harmless on text that is already simplified: its longest-match phrase table reads
    一批覆盖面 as 批覆 (批复) + 盖面, and 审批覆盖 becomes 审批复盖. So a text is converted only when at
    least ``TRADITIONAL_SHARE`` of its Chinese characters change — traditional text changes by 20–40 %,
    a simplified report with a few stray 於 or 銜 by well under 1 %.

    >>> simplify_if_traditional("深刻領悟「兩個確立」")
    '深刻领悟「两个确立」'
    >>> simplify_if_traditional("推进网上审批覆盖全省各市县，提高政务服务效率和群众满意度")
    '推进网上审批覆盖全省各市县，提高政务服务效率和群众满意度'
    """
    converted = to_simplified(text)
    if converted is text or converted == text:
        return text
    changed = sum(map(str.__ne__, text, converted))
    chinese = len(text) - sum(len(run) for run in _NOT_CJK.findall(text))
    return converted if changed >= TRADITIONAL_SHARE * max(chinese, 1) else text


def _simplified_char(converter, char: str) -> str:
    try:
        converted = converter.convert(char)
    except UnicodeError:
        return char
    return converted if len(converted) == 1 else char


# --------------------------------------------------------------------------- sentences


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split text into sentences: ``(start, end)`` character offsets, ends exclusive, no empty ones.

    Sentences end at 。！？；… or a line break; closing quotes and brackets stay with the sentence
    they close. Leading and trailing spaces are left out of the span.

    >>> text = "他说：“要落实。”然后走了。"
    >>> [text[s:e] for s, e in split_sentences(text)]
    ['他说：“要落实。”', '然后走了。']
    """
    spans: list[tuple[int, int]] = []
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def is_cjk(char: str) -> bool:
    return bool(_CJK_CHAR.match(char))
