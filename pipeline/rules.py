"""Form rules for formulaic phrases: quoted slogans, numbered formulas and enumerations.

Pure functions over one sentence's text and its token start offsets (from the segmenter); the NLP
stage runs them as the ``tifa_formulas`` spaCy component. Each returns ``(start, end, label)``
character spans. Labels:

- ``quoted``: a short quotation that works as a slogan (“走在前、开新局”, “小巨人”, “3+6”): at most
  ``SLOGAN_MAX`` characters and no clause punctuation (，。；：！？). The span excludes the quotes.
- ``quotation``: a longer quotation (a sentence quoted from a report). Kept as its own kind: the phrase
  stage keeps it only when it recurs, so one-off citations do not crowd the ranking.
- ``numbered``: number + classifier + short head (两个确立, 四个意识, 三大工程, 三化联动, 10个专项行动计划)
  or a number pattern like 3+6. Several extents of the head may be emitted for the same start
  (两个确立 / 两个确立转化); the phrase stage keeps the one that recurs.
- ``enumeration``: parallel items joined by 、 (高端化、智能化、绿色化), or pairs of equal-length items
  joined by ， (高屋建瓴、思想深邃，气势恢宏、统揽全局). The outer items are trimmed at token boundaries to
  the length of the inner items, so 制造业高端化、智能化 yields 高端化、智能化.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Sequence
from statistics import median

from pipeline import regions

SLOGAN_MAX = 12
ITEM_MIN, ITEM_MAX = 2, 10
HEAD_MAX_CHARS, HEAD_MAX_TOKENS = 6, 3

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
# Function characters that neither start nor end a formula item or head.
FUNCTION_CHARS = frozenset(
    "的了和与及并是在为把将对等也就都而被从向以于之其或要让由着过我你他她它这那该此各每"
)
_QUOTE = re.compile(r"“([^“”\n]{1,80})”|「([^「」\n]{1,80})」|『([^『』\n]{1,80})』")
_CLAUSE_PUNCT = re.compile(r"[，。；：！？,;:!?]")
_NUMBER = r"(?:[二两三四五六七八九]?十[一二三四五六七八九]?|[二两三四五六七八九]|\d{1,2})"
# No ordinals (第二个), no "一个" (an article), no number inside a longer number or a date.
_NUMBERED = re.compile(
    rf"(?<![第\d.一二两三四五六七八九十百千万零〇几这那每各])"
    rf"(?:{_NUMBER}[个项条种化位类批张]|[两二三四五六七八九]大)(?=[{_CJK}])"
)
_NUMBER_PLUS = re.compile(r"(?<![\d.])\d{1,2}(?:\+\d{1,2})+(?![\d.%])")
# A quoted number needs a head that is not itself a numeral: “五量”, not “十一” or “六五”.
_QUOTED_NUMBERED = re.compile(rf"^{_NUMBER}(?![一二两三四五六七八九十百千万零〇])[{_CJK}]{{1,6}}$")
# Quantities, not formulas: 3个百分点, 5个县, 两个月.
_UNIT_HEAD = re.compile(
    r"百分|亿|万|千|平方|公里|公顷|亩|吨|元|人|户|家|所|座|月|年|日|小时|倍|县|市|乡|镇|村|省|国家级"
)
_ENUMERATION = re.compile(rf"[{_CJK}]+(?:、[{_CJK}]+)+")
_PAIR_JOIN = "，"
# Items joined inside by these are clauses (部署和省委), not parallel formula items.
_LINKING_CHARS = frozenset("的和与及或")
_CJK_ONLY = re.compile(f"[{_CJK}]+")


# Every rule needs one of these characters: quotes (quoted), a digit or numeral (numbered), 、
# (enumerations). A sentence without any has no rule span, so the NLP stage skips it. Keep this in
# step with the patterns above when a rule changes.
_TRIGGERS = re.compile(r"[、“「『\d二两三四五六七八九十]")


def could_match(text: str) -> bool:
    """Whether any rule can find a span in ``text`` (a cheap test before ``find_formulas``)."""
    return _TRIGGERS.search(text) is not None


def find_formulas(text: str, token_starts: Sequence[int]) -> list[tuple[int, int, str]]:
    """All rule spans in one sentence, sorted by position.

    >>> text = "深刻领悟“两个确立”的决定性意义"
    >>> [(text[s:e], label) for s, e, label in find_formulas(text, [0, 2, 4, 5, 6, 7, 9, 10, 11, 14])]
    [('两个确立', 'numbered')]
    """
    if not could_match(text):
        return []
    starts = sorted(set(token_starts) | {len(text)})
    spans = quoted(text) + numbered(text, starts) + enumerations(text, starts)
    return sorted(set(spans))


def quoted(text: str) -> list[tuple[int, int, str]]:
    """Quoted slogans (``quoted``, or ``numbered`` when they start with a number) and long ``quotation``s."""
    found = []
    for match in _QUOTE.finditer(text):
        group = next(index for index in (1, 2, 3) if match.group(index) is not None)
        content = match.group(group).strip().rstrip("。！？；!?;…")
        if len(content) < 2 or not (re.search(f"[{_CJK}]", content) or _NUMBER_PLUS.fullmatch(content)):
            continue
        if re.fullmatch(rf"[一二两三四五六七八九十百千万零〇]+|{_NUMBER}[个项条种化位类批张大]", content):
            continue  # a bare numeral (“十一”, “六五”) or count (“四个”) is a number, not a slogan
        start = match.start(group) + match.group(group).index(content)
        end = start + len(content)
        if _QUOTED_NUMBERED.match(content) or _NUMBER_PLUS.fullmatch(content):
            label = "numbered"
        elif len(content) <= SLOGAN_MAX and not _CLAUSE_PUNCT.search(content):
            label = "quoted"
        else:
            label = "quotation"
        found.append((start, end, label))
    return found


def numbered(text: str, token_starts: Sequence[int]) -> list[tuple[int, int, str]]:
    """Number + classifier + head, one span per plausible head extent; and number patterns like 3+6."""
    found = [(m.start(), m.end(), "numbered") for m in _NUMBER_PLUS.finditer(text)]
    for match in _NUMBERED.finditer(text):
        head_start = match.end()
        if _UNIT_HEAD.match(text, head_start):
            continue
        for head_end in _head_ends(text, head_start, token_starts):
            found.append((match.start(), head_end, "numbered"))
    return found


def _head_ends(text: str, start: int, token_starts: Sequence[int]) -> list[int]:
    """Candidate ends of a numbered formula's head: token ends, stopping at punctuation or a function word."""
    ends: list[int] = []
    position = bisect_right(token_starts, start)
    while position < len(token_starts) and len(ends) < HEAD_MAX_TOKENS:
        end = token_starts[position]
        token = text[max(start, token_starts[position - 1]) : end]
        if not _CJK_ONLY.fullmatch(token) or token in FUNCTION_CHARS or end - start > HEAD_MAX_CHARS:
            break
        ends.append(end)
        position += 1
    return [end for end in ends if text[end - 1] not in FUNCTION_CHARS]


def enumerations(text: str, token_starts: Sequence[int]) -> list[tuple[int, int, str]]:
    """Enumerations joined by 、, trimmed to parallel items; pairs of them joined by ， merged."""
    found: list[tuple[int, int, list[tuple[int, int]]]] = []
    for match in _ENUMERATION.finditer(text):
        items = _trim_items(text, match.start(), match.end(), token_starts)
        if items is None or _all_places(text, items):
            continue
        found.append((items[0][0], items[-1][1], items))
    spans = [(start, end, "enumeration") for start, end, _ in found]
    for (start_a, end_a, items_a), (start_b, end_b, items_b) in itertools.pairwise(found):
        lengths = {end - start for start, end in items_a + items_b}
        parallel = len(items_a) == len(items_b) and len(lengths) == 1 and lengths <= {4, 5, 6}
        if parallel and text[end_a:start_b] == _PAIR_JOIN:
            spans.append((start_a, end_b, "enumeration"))
    return spans


def _trim_items(text: str, start: int, end: int, token_starts: Sequence[int]) -> list[tuple[int, int]] | None:
    """Items of a 、-run with the first and last trimmed to be parallel to the others.

    Outer items may start (first) or end (last) at token boundaries. With inner items, the outer
    ones share the inner items' common first/last character when they can (新目标、新任务、新举措;
    产业链、创新链、服务链) and otherwise come closest to their length. With two items, the most
    parallel pair wins: a shared last character, then equal lengths, the whole clause, four characters.
    """
    bounds = []
    cursor = start
    for piece in text[start:end].split("、"):
        bounds.append((cursor, cursor + len(piece)))
        cursor += len(piece) + 1
    inner = [text[a:b] for a, b in bounds[1:-1]]
    if not all(_ok(item) for item in inner):
        return None
    (first_start, first_end), (last_start, last_end) = bounds[0], bounds[-1]
    boundaries = set(token_starts) | {start, end}
    common_first = inner[0][0] if inner and all(item[0] == inner[0][0] for item in inner) else ""
    common_last = inner[0][-1] if inner and all(item[-1] == inner[0][-1] for item in inner) else ""
    first_options = [
        first_end - s
        for s in range(first_start, first_end)
        if (s in boundaries or text[s] == common_first) and _ok(text[s:first_end])
    ]
    last_options = [
        e - last_start
        for e in range(last_start + 1, last_end + 1)
        if (e in boundaries or text[e - 1] == common_last) and _ok(text[last_start:e])
    ]
    if common_first and any(text[first_end - n] == common_first for n in first_options):
        first_options = [n for n in first_options if text[first_end - n] == common_first]
    if common_last and any(text[last_start + n - 1] == common_last for n in last_options):
        last_options = [n for n in last_options if text[last_start + n - 1] == common_last]
    if not first_options or not last_options:
        return None
    if inner:
        target = median(len(item) for item in inner)
        first = min(first_options, key=lambda n: (abs(n - target), -n))
        last = min(last_options, key=lambda n: (abs(n - target), -n))
    else:
        whole_first, whole_last = first_end - first_start, last_end - last_start

        def parallel(pair: tuple[int, int]) -> tuple[int, int, int, int, int]:
            a, b = pair
            whole = (a == whole_first) + (b == whole_last)
            same_end = text[first_end - 1] == text[last_start + b - 1]
            return (0 if same_end else 1, abs(a - b), -whole, abs(a - 4) + abs(b - 4), -(a + b))

        first, last = min(((a, b) for a in first_options for b in last_options), key=parallel)
        # Two items with nothing parallel about them are a clause, not a formula.
        differs_at_end, length_gap, minus_whole = parallel((first, last))[:3]
        if differs_at_end and (length_gap or first < 3 or minus_whole == 0):
            return None
    return [
        (first_end - first, first_end),
        *[(a, b) for a, b in bounds[1:-1]],
        (last_start, last_start + last),
    ]


def parallel_items(items: Sequence[str]) -> bool:
    """Whether 、-joined items look like one enumeration rather than the cut ends of two.

    Outer items are at least as long as the shortest inner one; two items share their last
    character or have the same length of three or more.

    >>> parallel_items(["高端化", "智能化", "绿色化"]), parallel_items(["强国", "网络强国", "数字中国"])
    (True, False)
    """
    if len(items) < 2 or any(len(item) < ITEM_MIN for item in items):
        return False
    inner = items[1:-1]
    if inner:
        shortest = min(len(item) for item in inner)
        return len(items[0]) >= shortest and len(items[-1]) >= shortest
    first, last = items
    return first[-1] == last[-1] or (len(first) == len(last) >= 3)


def _ok(item: str) -> bool:
    return (
        ITEM_MIN <= len(item) <= ITEM_MAX
        and not (len(item) == 2 and item[0] in "一二两三四五六七八九十")  # 三中、四中 (全会): cut numerals
        and item[0] not in FUNCTION_CHARS
        and item[-1] not in FUNCTION_CHARS
        and not any(char in _LINKING_CHARS for char in item)
    )


def _all_places(text: str, items: list[tuple[int, int]]) -> bool:
    """An enumeration of place names (上海、江苏、浙江) is a list, not a formula."""
    return all(
        regions.lookup(text[a:b]) is not None or text[a:b].endswith(("省", "市", "县", "区"))
        for a, b in items
    )
