"""NLP stage: segments → sentences with pkuseg tokens, and the formula spans the rules find.

The only stage that imports spaCy. The pipeline is the spaCy ``Chinese`` language with the pkuseg
segmenter loaded from ``models/`` (built by ``make models``), plus two registered components:
``tifa_sentencizer`` (Chinese sentence ends, closing quotes kept with their sentence) and
``tifa_formulas`` (the form-based phrase rules of ``pipeline.rules``, written to ``doc.spans``).
Later stages receive plain ``Sentence`` and ``RuleSpan`` records.

The stage is run by ``pipeline.engine.analyse`` (``analyse_corpus`` for ``tifa run``), which this
module does not import. How the work is spread: long segments are cut at line breaks into pieces of
about ``CHUNK_CHARS`` characters (``chunks``), pieces are grouped into tasks, and each task runs in a
worker process (or on a Dask worker) through ``nlp.pipe``. A worker turns each ``Doc`` into an
``Analysis`` — a few integer arrays of offsets — so no ``Doc`` crosses a process boundary. The main
process joins the pieces of a segment, stores the result in the on-disk cache (``pipeline.cache``)
and turns it into records.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline import rules
from pipeline.errors import Errors
from pipeline.model import check_model
from pipeline.records import Analysis
from pipeline.text import split_sentences

if TYPE_CHECKING:  # spaCy is imported only where a model is loaded or a Doc is handled
    from spacy.language import Language
    from spacy.tokens import Doc

FORMULA_SPANS = "formulas"
# Long documents are cut at line breaks into pieces of about this size, so one huge report
# cannot stall a worker and memory stays bounded by the piece, not the document.
CHUNK_CHARS = 4000
# Settings whose value changes what this stage outputs: part of the cache's fingerprint.
OUTPUT_SETTINGS = ("chunk_chars",)


# --------------------------------------------------------------------------- spaCy components


def _token_arrays(doc: Doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Character offset, length and is-space of every token, as NumPy arrays."""
    from spacy.attrs import IDX, IS_SPACE, LENGTH

    if not len(doc):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty.astype(bool)
    values = doc.to_array([IDX, LENGTH, IS_SPACE]).astype(np.int64)
    return values[:, 0], values[:, 1], values[:, 2].astype(bool)


def _sentence_starts(doc: Doc) -> np.ndarray:
    """Indices of the tokens that start a sentence (the first token always does)."""
    from spacy.attrs import SENT_START

    if not len(doc):
        return np.zeros(0, dtype=np.int64)
    flags = doc.to_array(SENT_START).astype(np.int64)
    flags[0] = 1
    return np.flatnonzero(flags == 1)


_TEXT = "tifa_text"  # doc.user_data key: the Doc's text, kept while the components run


def make_doc(nlp: Language, text: str) -> Doc:
    """``nlp.make_doc(text)`` that remembers ``text``, so the components need not rebuild it.

    ``Doc.text`` joins the text of every token, creating a Python object for each: asked for once
    per component, it cost a fifth of the stage. ``nlp.pipe`` takes such Docs as it takes texts.
    """
    doc = nlp.make_doc(text)
    doc.user_data[_TEXT] = text
    return doc


def _text_of(doc: Doc) -> str:
    """The Doc's text: the one ``make_doc`` kept when it still fits the tokens, else ``doc.text``."""
    text = doc.user_data.get(_TEXT)
    end = doc[-1].idx + len(doc[-1].text_with_ws) if len(doc) else 0
    if not isinstance(text, str) or len(text) != end:
        text = doc.user_data[_TEXT] = doc.text
    return text


def tifa_sentencizer(doc: Doc) -> Doc:
    """Mark sentence starts from the character-level Chinese splitter in ``pipeline.text``.

    A token starts a sentence when a sentence boundary falls after the previous token's start and at
    or before its own (so a boundary inside a token, rare with 。”, moves to the next token).
    Written with ``Doc.from_array``: setting ``token.is_sent_start`` one by one costs a scan of
    the whole Doc each time.
    """
    from spacy.attrs import SENT_START

    if not len(doc):
        return doc
    idx, _, _ = _token_arrays(doc)
    boundaries = np.asarray([start for start, _ in split_sentences(_text_of(doc))], dtype=np.int64)
    first_token = np.searchsorted(idx, boundaries, side="left")
    flags = np.full(len(doc), -1, dtype=np.int64)
    flags[first_token[first_token < len(doc)]] = 1
    flags[0] = 1
    doc.from_array([SENT_START], flags.astype(np.uint64).reshape(-1, 1))
    return doc


def tifa_formulas(doc: Doc) -> Doc:
    """Find quoted slogans, numbered formulas and enumerations in each sentence.

    ``doc.spans["formulas"]`` holds them widened to token boundaries (for spaCy users);
    ``doc._.formula_chars`` keeps the exact ``(start_char, end_char, label)`` the rules found,
    which need not fall on token boundaries (服务链 inside the token 服务链贯通).
    """
    exact: list[tuple[int, int, str]] = []
    if len(doc):
        text = _text_of(doc)
        idx, length, space = _token_arrays(doc)
        starts = _sentence_starts(doc)
        ends = np.append(starts[1:], len(doc))
        for first, stop in zip(starts.tolist(), ends.tolist(), strict=True):
            sent_start, sent_end = int(idx[first]), int(idx[stop - 1] + length[stop - 1])
            sent_text = text[sent_start:sent_end]
            if not rules.could_match(sent_text):
                continue
            token_starts = (idx[first:stop][~space[first:stop]] - sent_start).tolist()
            for start, end, label in rules.find_formulas(sent_text, token_starts):
                exact.append((sent_start + start, sent_start + end, label))
    doc.user_data.pop(_TEXT, None)  # the last component: do not store the text twice with the Doc
    doc._.formula_chars = tuple(exact)
    spans = [doc.char_span(start, end, label=label, alignment_mode="expand") for start, end, label in exact]
    doc.spans[FORMULA_SPANS] = [span for span in spans if span is not None]
    return doc


_REGISTERED = False


def _register_components() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    from spacy.language import Language
    from spacy.tokens import Doc

    if not Doc.has_extension("formula_chars"):
        Doc.set_extension("formula_chars", default=())
    if "tifa_sentencizer" not in Language.factories:
        Language.component("tifa_sentencizer", assigns=["token.is_sent_start"], func=tifa_sentencizer)
    if "tifa_formulas" not in Language.factories:
        Language.component(
            "tifa_formulas",
            assigns=["doc.spans", "doc._.formula_chars"],
            requires=["token.is_sent_start"],
            func=tifa_formulas,
        )
    _REGISTERED = True


def load_nlp(model_dir: Path | str | None = None) -> Language:
    """Load the segmenter from ``models/`` and add the sentence and formula components.

    Raises ``TifaError`` (E010) naming the fix when the model has not been built.
    """
    path = check_model(model_dir)
    import spacy

    _register_components()
    try:
        nlp = spacy.load(path)
    except (OSError, ValueError, TypeError) as exc:  # pkuseg raises TypeError on a half-built model
        raise Errors.E011(path=path, reason=exc) from exc
    nlp.add_pipe("tifa_sentencizer")
    nlp.add_pipe("tifa_formulas")
    nlp.meta["tifa_model_dir"] = str(path.resolve())
    return nlp


# --------------------------------------------------------------------------- pieces and records


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


def doc_analysis(doc: Doc) -> Analysis:
    """The offsets of a processed ``Doc``: sentences (those with a word), words, rule spans.

    Runs where the Doc was made (in the worker), so only these arrays travel.
    """
    idx, length, space = _token_arrays(doc)
    formula_chars = doc._.formula_chars
    if not len(idx) or space.all():
        return Analysis.empty()
    starts = _sentence_starts(doc)
    is_start = np.zeros(len(idx), dtype=np.int64)
    is_start[starts] = 1
    sentence_of = np.cumsum(is_start) - 1
    words = ~space
    per_sentence = np.bincount(sentence_of[words], minlength=len(starts))
    word_sentence = sentence_of[words]
    word_start, word_end = idx[words], idx[words] + length[words]
    kept = per_sentence > 0
    # A sentence runs from its first word to its last: spaces around it are left out.
    first_word = np.searchsorted(word_sentence, np.flatnonzero(kept), side="left")
    last_word = np.searchsorted(word_sentence, np.flatnonzero(kept), side="right") - 1
    sentences = np.stack([word_start[first_word], word_end[last_word]], axis=1).astype(np.int32)
    tokens = np.stack([word_start, word_end], axis=1).astype(np.int32)
    sentence_starts = sentences[:, 0].tolist()
    spans = np.asarray(
        [(start, end, max(0, bisect_right(sentence_starts, start) - 1)) for start, end, _ in formula_chars],
        dtype=np.int32,
    ).reshape(-1, 3)
    labels = tuple(label for _, _, label in formula_chars)
    return Analysis(sentences, tokens, per_sentence[kept].astype(np.int32), spans, labels)
