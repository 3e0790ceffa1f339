"""The sentence columns the NLP stage hands on: the same records as before, at a fraction of the memory."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.records import Analysis, Segment, Sentence, SentenceBuilder, Sentences

TEXT = "深刻领悟两个确立。 坚持新发展理念。"


def _analysis() -> Analysis:
    # two sentences (the space between them left out), tokens as a segmenter would give them
    tokens = [(0, 2), (2, 4), (4, 5), (5, 6), (6, 8), (8, 9), (10, 12), (12, 13), (13, 17), (17, 18)]
    return Analysis(
        sentences=np.asarray([(0, 9), (10, 18)], dtype=np.int32),
        tokens=np.asarray(tokens, dtype=np.int32),
        sentence_tokens=np.asarray([6, 4], dtype=np.int32),
        spans=np.zeros((0, 3), np.int32),
        labels=(),
    )


def _built() -> Sentences:
    builder = SentenceBuilder()
    builder.add(Segment("a", "a.txt", "上海", "", "", 2017, TEXT), _analysis())
    builder.add(Segment("empty", "b.txt", "北京", "", "", 2017, ""), Analysis.empty())
    builder.add(Segment("c", "c.txt", "北京", "", "", 2017, "坚持新发展理念。"), Analysis(
        np.asarray([(0, 8)], np.int32),
        np.asarray([(0, 2), (2, 3), (3, 7), (7, 8)], np.int32),
        np.asarray([4], np.int32),
        np.zeros((0, 3), np.int32),
        (),
    ))
    return builder.done()


def test_columns_give_the_records_of_each_sentence() -> None:
    sentences = _built()
    assert len(sentences) == 3
    assert list(sentences) == [
        Sentence("a", 0, 0, 9, "深刻领悟两个确立。", ("深刻", "领悟", "两", "个", "确立", "。")),
        Sentence("a", 1, 10, 18, "坚持新发展理念。", ("坚持", "新", "发展理念", "。")),
        Sentence("c", 0, 0, 8, "坚持新发展理念。", ("坚持", "新", "发展理念", "。")),
    ]
    assert sentences[-1] == sentences[2] and sentences[1:] == (sentences[1], sentences[2])
    with pytest.raises(IndexError):
        sentences[3]
    assert len(sentences.words) == 9  # 深刻 领悟 两 个 确立 。 坚持 新 发展理念: each once
    assert sentences.per_segment() == {"a": 2, "empty": 0, "c": 1}
    assert sentences.token_end[6:10].tolist() == [12, 13, 17, 18]
    assert sentences.token_sentence.tolist() == [0] * 6 + [1] * 4 + [2] * 4


def test_records_make_the_same_columns() -> None:
    built = _built()
    again = Sentences.of(list(built), {"a": TEXT, "c": "坚持新发展理念。"})
    assert list(again) == list(built)
    assert again.token_start.tolist() == built.token_start.tolist()
    assert again.token_end.tolist() == built.token_end.tolist()
    assert Sentences.of(built) is built
    # without the texts, each segment's text is rebuilt from its sentences (spaces between them)
    assert list(Sentences.of(list(built))) == list(built)


def test_no_sentences() -> None:
    empty = SentenceBuilder().done()
    assert len(empty) == 0 and list(empty) == [] and empty.per_segment() == {}
    assert Sentences.of([]).token_end.tolist() == []
