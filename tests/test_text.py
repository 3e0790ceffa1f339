from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.text import normalize, split_sentences


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # The seed writes ASCII , and : between Chinese characters.
        ("报告,充分体现了", "报告，充分体现了"),
        ("主任吴金城:", "主任吴金城："),
        ("增长7.5%,达到3,000亿元", "增长7.5%，达到3,000亿元"),
        ("ＧＤＰ增长７．５％", "GDP增长7.5%"),  # full-width letters and digits → ASCII
        ("坚定“四个自信”，做到“两个维护”。", "坚定“四个自信”，做到“两个维护”。"),  # Chinese punctuation kept
        ('发力"3+6"新型产业体系', "发力“3+6”新型产业体系"),
        ("两个\u200b确立\u00a0和\x07四个意识", "两个确立 和四个意识"),
        ("<p>高质量发展</p><script>alert(1)</script>&amp;", "高质量发展\n&"),
        ("政 府 工 作 报 告", "政府工作报告"),  # letter-spaced PDF text
        ("踔厉奋发勇毅前行 推动高质量发展", "踔厉奋发勇毅前行 推动高质量发展"),  # a real separator stays
        ("第一行\r\n\r\n第二行", "第一行\n第二行"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("他说：“要落实。”然后走了。", ["他说：“要落实。”", "然后走了。"]),
        ("真的吗？！是的……好；再见", ["真的吗？！", "是的……", "好；", "再见"]),
        ("标题\n正文第一句。", ["标题", "正文第一句。"]),
        ("（括号里的话。）后文", ["（括号里的话。）", "后文"]),
        ("「引号」里。『另一种』。", ["「引号」里。", "『另一种』。"]),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert [text[start:end] for start, end in split_sentences(text)] == sentences


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text(alphabet=st.sampled_from(list("两个确立。！？；…”」）\n 高质量发展"))))
def test_sentence_spans_cover_text_in_order(text: str) -> None:
    spans = split_sentences(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert text[start:end].strip() == text[start:end]
        previous_end = end
    covered = "".join(text[start:end] for start, end in spans)
    assert "".join(covered.split()) == "".join(text.split())  # only whitespace is left out
