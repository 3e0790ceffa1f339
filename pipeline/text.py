"""Text clean-up shared by every input format, and the Chinese sentence splitter.

Normalisation makes the same phrase look the same everywhere, whatever the source: full-width
digits and letters become ASCII (NFKC), while Chinese punctuation stays full-width, and ASCII
punctuation written between Chinese characters (the seed article has "报告,充分") becomes the
full-width form. Control characters, zero-width characters and HTML tags are removed.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Chinese punctuation that NFKC would fold to ASCII; we keep these full-width.
_KEEP_FULL_WIDTH = "，。：；！？（）、“”‘’「」『』【】《》〈〉…—～·"
_PROTECT = re.compile(f"[{re.escape(_KEEP_FULL_WIDTH)}]+")
_TO_FULL_WIDTH = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"}

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_CJK_OR_PUNCT = _CJK + re.escape(_KEEP_FULL_WIDTH)
# ASCII punctuation touching a Chinese character on at least one side (but not inside 3,000 or 3:1).
_ASCII_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{_CJK_OR_PUNCT}])[,:;!?()]|[,:;!?()](?=[{_CJK}])")
_ASCII_QUOTED = re.compile(r'"([^"\n]{1,80})"')
_ASCII_SINGLE_QUOTED = re.compile(rf"'([^'\n]*[{_CJK}][^'\n]*)'")

# C0/C1 controls except tab and newline, zero-width and bidi marks, BOM, non-characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufff9-\ufffb"
    "\ufffe\uffff\ud800-\udfff]"
)
_HTML_DROP = re.compile(r"<(script|style|noscript)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_BREAK = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr|p|div|li|h[1-6])\b[^<>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<!--.*?-->|<[a-zA-Z/!][^<>]{0,2000}>", re.DOTALL)
_LOOKS_HTML = re.compile(r"<(html|body|p|div|br|span|script|a|table|meta|!doctype)\b", re.IGNORECASE)
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_SPACES = re.compile(r"[ \t\u3000]+")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK_OR_PUNCT}]) (?=[{_CJK_OR_PUNCT}])")

SENTENCE_END = "。！？；…"
CLOSERS = "”’」』）》】〉\"'"
_SENTENCE = re.compile(rf"[^{SENTENCE_END}\n]*(?:[{SENTENCE_END}]+[{re.escape(CLOSERS)}]*|\n|$)")


def strip_html(text: str) -> str:
    """Remove tags, scripts and styles from text that looks like HTML; decode entities."""
    if _LOOKS_HTML.search(text):
        text = _HTML_DROP.sub("", text)
        text = _HTML_BREAK.sub("\n", text)
        text = _HTML_TAG.sub("", text)
    if _ENTITY.search(text):
        text = html.unescape(text)
    return text


def _nfkc_outside_chinese_punctuation(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for match in _PROTECT.finditer(text):
        pieces.append(unicodedata.normalize("NFKC", text[last : match.start()]))
        pieces.append(match.group())
        last = match.end()
    pieces.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(pieces)


def _curly_if_chinese(match: re.Match[str]) -> str:
    """ "…" becomes “…” when the quote is Chinese: Chinese inside, or a Chinese character just outside."""
    text, start, end = match.string, match.start(), match.end()
    outside = text[start - 1 : start] + text[end : end + 1]
    if any(is_cjk(char) for char in match.group(1) + outside):
        return f"“{match.group(1)}”"
    return match.group()


def _is_letter_spaced(line: str) -> bool:
    gaps = len(_SPACE_BETWEEN_CJK.findall(line))
    return gaps >= 3 and gaps * 3 >= len(line) - gaps


def normalize(text: str) -> str:
    """Return ``text`` cleaned for matching: the same phrase always has the same characters.

    Lines are kept (they carry paragraph and header structure); blank lines are dropped.

    >>> normalize("报告,充分体现了“两个确立”，ＧＤＰ增长７.５％")
    '报告，充分体现了“两个确立”，GDP增长7.5%'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = strip_html(text)
    text = _INVISIBLE.sub("", text)
    text = _nfkc_outside_chinese_punctuation(text)
    text = _INVISIBLE.sub("", text)  # NFKC can expose new ones (e.g. from compatibility forms)
    text = _ASCII_QUOTED.sub(_curly_if_chinese, text)
    text = _ASCII_SINGLE_QUOTED.sub(r"‘\1’", text)
    # A converted mark can make its ASCII neighbour convertible (日:, → 日：，): repeat until stable.
    while (converted := _ASCII_PUNCT_NEAR_CJK.sub(lambda m: _TO_FULL_WIDTH[m.group()], text)) != text:
        text = converted
    lines = []
    for line in text.split("\n"):
        line = _SPACES.sub(" ", line).strip()
        if _is_letter_spaced(line):  # "政 府 工 作 报 告" from PDF extraction; elsewhere a space separates
            line = _SPACE_BETWEEN_CJK.sub("", line)
        if line:
            lines.append(line)
    return "\n".join(lines)


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


_CJK_CHAR = re.compile(f"[{_CJK}]")


def is_cjk(char: str) -> bool:
    return bool(_CJK_CHAR.match(char))
