"""Form rules (pipeline.rules) on single sentences: what each rule finds, labels, and what it leaves alone."""

from __future__ import annotations

import pytest

from pipeline import rules


def tokens(*words: str) -> tuple[str, list[int]]:
    """The sentence the words make and their start offsets, as the segmenter hands them over."""
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word)
    return "".join(words), starts


def found(text: str, starts: list[int]) -> list[tuple[str, str]]:
    return [(text[start:end], label) for start, end, label in rules.find_formulas(text, starts)]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (("打造", "“", "小巨人", "”", "企业"), [("小巨人", "quoted")]),
        (("构建", "“", "3+6", "”", "产业", "体系"), [("3+6", "numbered")]),
        (("增强", "“", "四", "个", "意识", "”"), [("四个意识", "numbered")]),
        (("落实", "两", "个", "确立", "的", "要求"), [("两个确立", "numbered")]),
        (("他", "说", "“", "坚持", "以", "人民", "为", "中心", "，", "推动", "高质量", "发展", "”"),
         [("坚持以人民为中心，推动高质量发展", "quotation")]),
        (("推动", "制造业", "高端化", "、", "智能化", "、", "绿色化", "发展"),
         [("高端化、智能化、绿色化", "enumeration")]),
        (("高屋建瓴", "、", "思想", "深邃", "，", "气势", "恢宏", "、", "统揽", "全局"),
         [("高屋建瓴、思想深邃", "enumeration"), ("高屋建瓴、思想深邃，气势恢宏、统揽全局", "enumeration"),
          ("气势恢宏、统揽全局", "enumeration")]),
    ],
)  # fmt: skip
def test_each_rule_finds_its_formula(words: tuple[str, ...], expected: list[tuple[str, str]]) -> None:
    assert found(*tokens(*words)) == expected


@pytest.mark.parametrize(
    "words",
    [
        ("没有", "规则", "的", "一", "句", "话"),  # nothing any rule could start from
        ("庆祝", "“", "十一", "”"),  # a quoted numeral is a date, not a slogan
        ("要", "做到", "“", "四", "个", "”"),  # a quoted count
        ("增长", "3", "个", "百分点"),  # a quantity
        ("上海", "、", "江苏", "、", "浙江", "携手"),  # a list of places
    ],
)
def test_what_is_not_a_formula(words: tuple[str, ...]) -> None:
    assert found(*tokens(*words)) == []


def test_could_match_is_a_safe_shortcut() -> None:
    """A sentence ``could_match`` rejects has no span: the NLP stage may skip it."""
    for text in ("没有规则的一句话", "推动高质量发展"):
        assert not rules.could_match(text) and rules.find_formulas(text, list(range(len(text)))) == []
    assert rules.could_match("高端化、智能化") and rules.could_match("“小巨人”") and rules.could_match("3+6")


def test_spans_are_offsets_into_the_sentence() -> None:
    text, starts = tokens("要", "深刻", "领悟", "“", "两", "个", "确立", "”")
    assert rules.find_formulas(text, starts) == [(6, 10, "numbered")]
    assert rules.quoted(text) == [(6, 10, "numbered")]  # quotes left out of the span


@pytest.mark.parametrize(
    ("items", "parallel"),
    [
        (["高端化", "智能化", "绿色化"], True),
        (["去产能", "去库存", "去杠杆", "降成本", "补短板"], True),
        (["强国", "网络强国", "数字中国"], False),  # the first item is the cut end of a longer one
        (["稳增长", "调结构"], True),  # two items of three characters
        (["改革", "发展稳定"], False),
        (["一"], False),
    ],
)
def test_parallel_items(items: list[str], parallel: bool) -> None:
    assert rules.parallel_items(items) is parallel
