"""NLP stage: segments → sentences with pkuseg tokens, and the formula spans the rules find.

The only module that imports spaCy. The pipeline is the spaCy ``Chinese`` language with the pkuseg
segmenter loaded from ``models/`` (built by ``make models``), plus two registered components:
``tifa_sentencizer`` (Chinese sentence ends, closing quotes kept with their sentence) and
``tifa_formulas`` (the form-based phrase rules of ``pipeline.rules``, written to ``doc.spans``).
Later stages receive plain ``Sentence`` and ``RuleSpan`` records.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline import rules
from pipeline.errors import TifaError, model_missing
from pipeline.records import Segment, Sentence
from pipeline.text import split_sentences

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "zh_pkuseg"
FORMULA_SPANS = "formulas"
# Long documents are cut at line breaks into pieces of about this size, so one huge report
# cannot stall a worker and memory stays bounded by the piece, not the document.
CHUNK_CHARS = 4000


@dataclass(frozen=True, slots=True)
class RuleSpan:
    """A formula found by a form rule: offsets into ``Segment.text``; ``label`` is the rule's kind."""

    segment_id: str
    sentence_index: int
    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class NlpResult:
    sentences: tuple[Sentence, ...]
    spans: tuple[RuleSpan, ...]


@Language.component("tifa_sentencizer", assigns=["token.is_sent_start"])
def tifa_sentencizer(doc: Doc) -> Doc:
    """Mark sentence starts from the character-level Chinese splitter in ``pipeline.text``."""
    boundaries = [start for start, _ in split_sentences(doc.text)]
    pointer = 0
    for token in doc:
        is_start = token.i == 0
        # A boundary falling inside the previous token (rare: one token spanning 。”) moves here.
        while pointer < len(boundaries) and boundaries[pointer] <= token.idx:
            is_start = is_start or (token.i > 0 and boundaries[pointer] > doc[token.i - 1].idx)
            pointer += 1
        token.is_sent_start = is_start
    return doc


if not Doc.has_extension("formula_chars"):
    Doc.set_extension("formula_chars", default=())


@Language.component(
    "tifa_formulas", assigns=["doc.spans", "doc._.formula_chars"], requires=["token.is_sent_start"]
)
def tifa_formulas(doc: Doc) -> Doc:
    """Find quoted slogans, numbered formulas and enumerations in each sentence.

    ``doc.spans["formulas"]`` holds them widened to token boundaries (for spaCy users);
    ``doc._.formula_chars`` keeps the exact ``(start_char, end_char, label)`` the rules found,
    which need not fall on token boundaries (服务链 inside the token 服务链贯通).
    """
    exact: list[tuple[int, int, str]] = []
    for sent in doc.sents:
        token_starts = [token.idx - sent.start_char for token in sent if not token.is_space]
        for start, end, label in rules.find_formulas(sent.text, token_starts):
            exact.append((sent.start_char + start, sent.start_char + end, label))
    doc._.formula_chars = tuple(exact)
    spans = [doc.char_span(start, end, label=label, alignment_mode="expand") for start, end, label in exact]
    doc.spans[FORMULA_SPANS] = [span for span in spans if span is not None]
    return doc


def load_nlp(model_dir: Path | None = None) -> Language:
    """Load the segmenter from ``models/`` and add the sentence and formula components.

    Raises ``TifaError`` (E010) naming the fix when the model has not been built.
    """
    path = Path(model_dir or os.environ.get("TIFA_MODEL") or DEFAULT_MODEL)
    if not (path / "config.cfg").is_file() or not (path / "tokenizer").exists():
        raise model_missing(str(path))
    try:
        nlp = spacy.load(path)
    except (OSError, ValueError, TypeError) as exc:  # pkuseg raises TypeError on a half-built model
        raise TifaError(
            "E011", f"the model at {path} cannot be loaded ({exc}) — rebuild it with `make models`"
        ) from exc
    nlp.add_pipe("tifa_sentencizer")
    nlp.add_pipe("tifa_formulas")
    return nlp


def chunks(text: str, max_chars: int = CHUNK_CHARS) -> list[tuple[int, str]]:
    """Cut ``text`` at line breaks into ``(offset, piece)`` of at most about ``max_chars`` characters.

    A single line longer than ``max_chars`` is cut after a sentence end (or hard, as a last resort).
    """
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            cut = text.rfind("\n", start + 1, end)
            if cut <= start:
                cut = max(text.rfind(mark, start + 1, end) for mark in "。！？；")
                cut = cut + 1 if cut > start else end
            end = cut
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def analyse(
    segments: Sequence[Segment],
    nlp: Language,
    *,
    workers: int = 1,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> NlpResult:
    """Segment every segment into sentences and tokens through ``nlp.pipe``; collect rule spans.

    >>> nlp = load_nlp()  # doctest: +SKIP
    >>> result = analyse([segment], nlp)  # doctest: +SKIP
    >>> result.sentences[0].tokens  # doctest: +SKIP
    ('深刻', '领悟', '“', '两', '个', '确立', '”')
    """
    sentences: list[Sentence] = []
    spans: list[RuleSpan] = []
    for segment, records, found in _pipe(segments, nlp, workers=workers, batch_size=batch_size):
        sentences.extend(records)
        spans.extend(found)
        if progress is not None:
            progress(len(segment.text))
    return NlpResult(tuple(sentences), tuple(spans))


def _pipe(
    segments: Sequence[Segment], nlp: Language, *, workers: int, batch_size: int
) -> Iterator[tuple[Segment, list[Sentence], list[RuleSpan]]]:
    """Yield each segment with its sentences and spans, in input order, streaming over pieces."""
    tasks: Iterable[tuple[str, tuple[int, int]]] = (
        (piece, (number, offset))
        for number, segment in enumerate(segments)
        for offset, piece in chunks(segment.text)
    )
    current, sentences, spans = -1, [], []
    docs = nlp.pipe(tasks, as_tuples=True, batch_size=batch_size, n_process=max(1, workers))
    for doc, (number, offset) in docs:
        if number != current:
            if current >= 0:
                yield segments[current], sentences, spans
            # Segments with no text produce no pieces: report them too so progress adds up.
            for skipped in range(current + 1, number):
                yield segments[skipped], [], []
            current, sentences, spans = number, [], []
        segment_id = segments[number].segment_id
        first_sentence = len(sentences)
        text = doc.text  # Doc.text joins every token on each access: read it once
        for sent in doc.sents:
            tokens = tuple(token.text for token in sent if not token.is_space)
            if not tokens:
                continue
            start = sent.start_char + len(sent.text) - len(sent.text.lstrip())
            end = sent.end_char - (len(sent.text) - len(sent.text.rstrip()))
            sentences.append(
                Sentence(segment_id, len(sentences), offset + start, offset + end, text[start:end], tokens)
            )
        sentence_starts = [sentence.start - offset for sentence in sentences[first_sentence:]]
        for start, end, label in doc._.formula_chars:
            index = first_sentence + max(0, bisect_right(sentence_starts, start) - 1)
            spans.append(RuleSpan(segment_id, index, offset + start, offset + end, label, text[start:end]))
    if current >= 0:
        yield segments[current], sentences, spans
    for skipped in range(current + 1, len(segments)):
        yield segments[skipped], [], []
