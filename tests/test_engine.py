"""The NLP engines: worker pools, tasks, ordering, and records equal to a plain reading of the Docs."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque

import pytest

from pipeline import engine, rules
from pipeline.engine import analyse
from pipeline.nlp import chunks, doc_analysis
from pipeline.records import Analysis, Segment
from pipeline.text import split_sentences

TEXTS = [
    "我们要深刻领悟“两个确立”的决定性意义。他说：“坚定不移推动高质量发展！”\n下一步，加快建设制造强国。",
    "推动制造业高端化、智能化、绿色化发展，  实施“3+6”行动。\n\n  GDP 增长 7.5% ，完成“十三五”目标。  ",
    "第一句没有规则。第二句也没有\n第三句：「小巨人」企业、专精特新企业；四个意识。” 尾巴",
    "   ",
    "",
    "山东省工业和信息化厅党组书记、厅长张海波：全力推进“六个一”工程，落地生根、开花结果，高屋建瓴、思想深邃。",
]


def _segment(text: str, segment_id: str) -> Segment:
    return Segment(
        segment_id=segment_id, source="t", region="上海", speaker="", title="", year=None, text=text
    )


def _reference(segments, nlp):
    """Records the way the first version of the stage built them: token by token from each Doc."""
    sentences, spans = [], []
    for segment in segments:
        found_sentences: list[tuple] = []
        for offset, piece in chunks(segment.text):
            doc = nlp(piece)
            first = len(found_sentences)
            for sent in doc.sents:
                tokens = tuple(token.text for token in sent if not token.is_space)
                if not tokens:
                    continue
                start = sent.start_char + len(sent.text) - len(sent.text.lstrip())
                end = sent.end_char - (len(sent.text) - len(sent.text.rstrip()))
                found_sentences.append(
                    (
                        segment.segment_id,
                        len(found_sentences),
                        offset + start,
                        offset + end,
                        piece[start:end],
                        tokens,
                    )
                )
            starts = [sentence[2] - offset for sentence in found_sentences[first:]]
            for start, end, label in doc._.formula_chars:
                index = first + max(0, bisect_right(starts, start) - 1)
                spans.append(
                    (segment.segment_id, index, offset + start, offset + end, label, piece[start:end])
                )
        sentences.extend(found_sentences)
    return sentences, spans


def _plain(result):
    sentences = [(s.segment_id, s.index, s.start, s.end, s.text, s.tokens) for s in result.sentences]
    spans = [(s.segment_id, s.sentence_index, s.start, s.end, s.label, s.text) for s in result.spans]
    return sentences, spans


def test_records_match_a_token_by_token_reading(nlp, seed_segments) -> None:
    segments = [_segment(text, f"t{number}") for number, text in enumerate(TEXTS)] + list(seed_segments)
    assert _plain(analyse(segments, nlp)) == _reference(segments, nlp)


def test_pool_gives_the_same_records_as_one_process(nlp, seed_segments) -> None:
    segments = [_segment(text, f"t{number}") for number, text in enumerate(TEXTS)] + list(seed_segments)
    alone = analyse(segments, nlp, workers=1)
    pooled = analyse(segments, nlp, workers=2, batch_size=2, chunk_chars=300)
    small_pieces = analyse(segments, nlp, workers=1, chunk_chars=300)
    assert _plain(pooled) == _plain(small_pieces)
    # Cutting at line breaks changes nothing here: every line of these texts is under 300 characters.
    assert _plain(alone)[1] == _plain(small_pieces)[1]
    assert pooled.processed == len([s for s in segments if s.text]) and pooled.cached == 0


def test_sentencizer_marks_the_token_after_each_boundary(nlp) -> None:
    for text in [*TEXTS, "他说：“要落实。”然后走了。", "甲。。乙！？丙……丁"]:
        doc = nlp(text)
        boundaries = [start for start, _ in split_sentences(text)]
        expected, pointer = [], 0
        for token in doc:  # the first version's loop, without setting anything
            is_start = token.i == 0
            while pointer < len(boundaries) and boundaries[pointer] <= token.idx:
                is_start = is_start or (token.i > 0 and boundaries[pointer] > doc[token.i - 1].idx)
                pointer += 1
            expected.append(is_start)
        assert [bool(token.is_sent_start) for token in doc] == expected
        formulas = []  # and the formula component, sentence by sentence as the first version did
        for sent in doc.sents:
            token_starts = [token.idx - sent.start_char for token in sent if not token.is_space]
            for start, end, label in rules.find_formulas(sent.text, token_starts):
                formulas.append((sent.start_char + start, sent.start_char + end, label))
        assert list(doc._.formula_chars) == formulas


def test_rules_skip_only_sentences_they_cannot_match(seed_segments) -> None:
    sentences = [seed.text[a:b] for seed in seed_segments for a, b in split_sentences(seed.text)] + TEXTS
    for text in sentences:
        starts = list(range(len(text) + 1))
        everything = sorted(
            set(rules.quoted(text) + rules.numbered(text, starts) + rules.enumerations(text, starts))
        )
        if not rules.could_match(text):
            assert everything == []
        assert rules.find_formulas(text, starts) == everything


def test_doc_analysis_of_an_empty_doc(nlp) -> None:
    analysis = doc_analysis(nlp(""))
    assert analysis.sentences.shape == (0, 2) and analysis.labels == ()


def test_join_shifts_offsets_and_sentence_indices(nlp) -> None:
    text = "第一句“两个确立”。\n第二句：高端化、智能化、绿色化。"
    whole = doc_analysis(nlp(text))
    cut = text.index("\n") + 1
    joined = Analysis.join([(0, doc_analysis(nlp(text[:cut]))), (cut, doc_analysis(nlp(text[cut:])))])
    assert joined.sentences.tolist() == whole.sentences.tolist()
    assert joined.tokens.tolist() == whole.tokens.tolist()
    assert joined.spans.tolist() == whole.spans.tolist()
    assert joined.labels == whole.labels


def test_tasks_group_short_texts_and_split_long_ones() -> None:
    segments = [_segment("短文。", f"s{n}") for n in range(10)] + [
        _segment("长句。" * 3000 + "\n" + "尾。", "long")
    ]
    meta: deque = deque()
    tasks = list(engine._tasks(segments, range(len(segments)), 4, 1000, meta))
    assert len(tasks) == len(meta)
    assert [len(task) for task in tasks[:2]] == [4, 4]  # ten short texts travel four at a time
    assert all(sum(map(len, task)) <= engine.TASK_CHARS for task in tasks)
    long_pieces = [piece for pieces in meta for piece in pieces if piece[0] == 10]
    assert len(long_pieces) > 5 and long_pieces[-1][2] and not any(last for _, _, last in long_pieces[:-1])
    assert (
        "".join(
            text
            for task, pieces in zip(tasks, meta, strict=True)
            for text, p in zip(task, pieces, strict=True)
            if p[0] == 10
        )
        == segments[10].text
    )


class _CountingExecutor:
    def __init__(self) -> None:
        self.in_flight = self.most = 0

    def submit(self, texts):
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        executor = self

        class Future:
            def result(self):
                executor.in_flight -= 1
                return list(texts)

        return Future()


def test_results_come_back_in_order_with_a_bounded_window() -> None:
    executor = _CountingExecutor()
    tasks = ([str(n)] for n in range(50))
    results = list(engine.ordered_results(executor, tasks, window=3))
    assert results == [[str(n)] for n in range(50)]
    assert executor.most == 3


@pytest.mark.parametrize("n_tasks", [0, 2, 50])
def test_work_while_waiting_runs_once_with_the_window_in_flight(n_tasks: int) -> None:
    executor = _CountingExecutor()
    seen: list[int] = []
    tasks = ([str(n)] for n in range(n_tasks))
    results = list(engine.ordered_results(executor, tasks, 3, lambda: seen.append(executor.in_flight)))
    assert results == [[str(n)] for n in range(n_tasks)]
    assert seen == ([min(n_tasks, 3)] if n_tasks else [])  # called once, tasks running; never for none


def test_unknown_engine_is_an_error(nlp) -> None:
    from pipeline.errors import TifaError

    with pytest.raises(TifaError, match="E050"):
        analyse([_segment("一句。", "a")], nlp, engine="spark")


_KILLED_RUN = """
import os, sys, time
from pathlib import Path
from pipeline import engine

with engine.open_executor("local", 2, "no-model-needed", None) as pool:
    Path(sys.argv[1]).write_text(str(pool.executor.submit(os.getpid).result()))
    time.sleep(60)
"""


def test_workers_die_with_a_killed_run(tmp_path) -> None:
    """SIGKILL of the main process (no chance to shut the pool down) leaves no worker segmenting."""
    from conftest import child_outlives_killed_run

    assert not child_outlives_killed_run(_KILLED_RUN, tmp_path), "the worker outlived its run"
