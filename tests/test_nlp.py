from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.engine import analyse
from pipeline.errors import TifaError
from pipeline.nlp import chunks, load_nlp
from pipeline.records import Segment


def _segment(text: str, segment_id: str = "t#1") -> Segment:
    return Segment(
        segment_id=segment_id, source="t", region="上海", speaker="", title="", year=None, text=text
    )


def test_sentences_and_tokens(nlp) -> None:
    text = (
        "我们要深刻领悟“两个确立”的决定性意义。他说：“坚定不移推动高质量发展！”\n下一步，加快建设制造强国。"
    )
    result = analyse([_segment(text)], nlp)
    assert [s.text for s in result.sentences] == [
        "我们要深刻领悟“两个确立”的决定性意义。",
        "他说：“坚定不移推动高质量发展！”",
        "下一步，加快建设制造强国。",
    ]
    for sentence in result.sentences:
        assert text[sentence.start : sentence.end] == sentence.text
        assert "".join(sentence.tokens) == sentence.text.replace(" ", "")
    assert "领悟" in result.sentences[0].tokens and "确立" in result.sentences[0].tokens
    assert [(s.label, s.text) for s in result.spans] == [
        ("numbered", "两个确立"),
        ("quoted", "坚定不移推动高质量发展"),
    ]
    assert [s.sentence_index for s in result.spans] == [0, 1]


def test_long_segments_are_cut_into_pieces_and_offsets_stay_true(nlp) -> None:
    paragraph = "推动制造业高端化、智能化、绿色化发展。" * 40
    text = "\n".join([paragraph] * 6)
    pieces = chunks(text, max_chars=1000)
    assert len(pieces) > 1 and "".join(piece for _, piece in pieces) == text
    result = analyse([_segment(text)], nlp)
    assert len(result.sentences) == 240
    assert [s.index for s in result.sentences] == list(range(240))
    assert all(text[s.start : s.end] == s.text for s in result.sentences)
    assert all(text[span.start : span.end] == "高端化、智能化、绿色化" for span in result.spans)
    assert len(result.spans) == 240


def test_empty_and_whitespace_segments_do_not_break_order(nlp) -> None:
    segments = [_segment("第一。", "a"), _segment("   ", "b"), _segment("第三。", "c")]
    result = analyse(segments, nlp)
    assert [s.segment_id for s in result.sentences] == ["a", "c"]


def test_saved_pipeline_gives_same_tokens(nlp, tmp_path: Path) -> None:
    import spacy

    text = "完整、准确、全面贯彻新发展理念，加快构建新发展格局，着力推动高质量发展。"
    nlp.to_disk(tmp_path / "copy")  # the session's pipeline: one model load fewer
    again = spacy.load(tmp_path / "copy")
    assert [t.text for t in again(text)] == [t.text for t in nlp(text)]
    assert len(list(nlp(text))) > 10  # a real segmenter, not one token per character or per text


def test_missing_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TifaError) as error:
        load_nlp(tmp_path / "nowhere")
    assert "E010" in str(error.value) and "make models" in str(error.value)


def _conllu_sentences(path: Path) -> list[list[str]]:
    """Gold words of each sentence (multiword-token ranges and empty nodes skipped)."""
    sentences, words = [], []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if words:
                sentences.append(words)
            words = []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit():
                words.append(cols[1])
    return sentences


def _spans(words: list[str]) -> set[tuple[int, int]]:
    spans, position = set(), 0
    for word in words:
        spans.add((position, position + len(word)))
        position += len(word)
    return spans


def test_segmenter_f1_on_ud_gsdsimp(nlp) -> None:
    from conftest import shared_path

    gold = _conllu_sentences(shared_path("data", "ud_zh_gsdsimp", "zh_gsdsimp-ud-test.conllu"))
    tokenizer = nlp.tokenizer
    correct = predicted = expected = 0
    for words in gold:
        guess = [t.text for t in tokenizer("".join(words)) if not t.is_space]
        gold_spans, guess_spans = _spans(words), _spans(guess)
        correct += len(gold_spans & guess_spans)
        predicted += len(guess_spans)
        expected += len(gold_spans)
    precision, recall = correct / predicted, correct / expected
    f1 = 2 * precision * recall / (precision + recall)
    print(f"UD GSDSimp test: {len(gold)} sentences, token F1 {f1:.3f}")
    assert f1 >= 0.78
