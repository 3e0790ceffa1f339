"""Where the NLP work runs: in this process, in a pool of worker processes, or on Dask.

``analyse`` (and ``analyse_corpus``, with the run's settings and cache) is how the NLP stage is
called: it cuts the segments into pieces, has ``pipeline.nlp`` segment them where the work runs,
joins the pieces and keeps them in ``pipeline.cache``. Imports go one way: engine → nlp, cache →
records, model.

The unit of work is a *task*: a few pieces of segments (``nlp.chunks``), at most ``batch_size``
pieces and about ``TASK_CHARS`` characters, so many short texts travel together and one huge report
is spread over several tasks. A worker runs ``nlp.pipe`` over the task's pieces and sends back one
``records.Analysis`` per piece (integer offsets, never a ``Doc``).

Tasks are submitted lazily with a bounded number in flight (``window``) and their results are read
in submission order, so the output does not depend on which worker finished first, and memory holds
a few tasks, not the corpus's Docs. Both engines run the same task function, which is why their
outputs are the same byte for byte.

- ``local``: ``workers`` processes (forked on Linux: a model already loaded here is inherited,
  otherwise each worker loads it once); one worker runs in this process.
- ``dask``: ``dask.distributed`` — a ``LocalCluster`` of ``workers`` single-threaded processes, or an
  existing cluster at ``scheduler`` (``tcp://host:8786``). Every Dask worker must have this package
  installed and the model at the same path (or ``TIFA_MODEL`` set); the cache stays with the client.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline import nlp as nlp_stage
from pipeline.cache import NlpCache
from pipeline.errors import Errors
from pipeline.model import check_model
from pipeline.parallel import die_with_parent
from pipeline.records import Analysis, NlpResult, Segment, SentenceBuilder

if TYPE_CHECKING:
    from spacy.language import Language

    from pipeline.config import Settings

ENGINES = ("local", "dask")
# A task holds at most this many characters (about a second of one core's work): enough to make
# the cost of sending it negligible, small enough to keep every worker busy until the end.
TASK_CHARS = 32_000
WINDOW_PER_WORKER = 4  # tasks in flight per worker

# The model a worker process uses, by model folder. A forked worker inherits the parent's entry.
_MODELS: dict[str, Language] = {}


def process_task(model_dir: str, texts: Sequence[str]) -> list[Analysis]:
    """Run the pipeline over ``texts`` in this (worker) process; one ``Analysis`` per text."""
    language = _MODELS.get(model_dir)
    if language is None:
        language = _MODELS[model_dir] = nlp_stage.load_nlp(model_dir)
    docs = (nlp_stage.make_doc(language, text) for text in texts)
    return [nlp_stage.doc_analysis(doc) for doc in language.pipe(docs, batch_size=max(1, len(texts)))]


# --------------------------------------------------------------------------- executors


class _Future(Protocol):
    def result(self) -> Any: ...


class Executor(Protocol):
    slots: int  # tasks that can run at once

    def submit(self, texts: Sequence[str]) -> _Future: ...


class _Done:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class InProcess:
    """Runs each task at once in this process (one worker, and the tests)."""

    def __init__(self, model_dir: str) -> None:
        self.model_dir, self.slots = model_dir, 1

    def submit(self, texts: Sequence[str]) -> _Future:
        return _Done(process_task(self.model_dir, texts))


class Pool:
    """A pool of worker processes on this machine."""

    def __init__(self, model_dir: str, executor: ProcessPoolExecutor, workers: int) -> None:
        self.model_dir, self.executor, self.slots = model_dir, executor, workers

    def submit(self, texts: Sequence[str]) -> _Future:
        return self.executor.submit(process_task, self.model_dir, list(texts))


class Dask:
    """Tasks on a ``dask.distributed`` cluster."""

    def __init__(self, model_dir: str, client: Any) -> None:
        self.model_dir, self.client = model_dir, client
        workers = client.scheduler_info().get("workers", {}).values()
        self.slots = max(1, sum(int(worker.get("nthreads", 1)) for worker in workers))

    def submit(self, texts: Sequence[str]) -> _Future:
        return self.client.submit(process_task, self.model_dir, list(texts), pure=False)


def _start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "fork" if "fork" in methods and sys.platform.startswith("linux") else "spawn"


@contextmanager
def open_executor(
    engine: str, workers: int, model_dir: str, language: Language | None, scheduler: str = ""
) -> Iterator[Executor]:
    """The executor for ``engine``, shut down on exit."""
    if engine not in ENGINES:
        raise Errors.E050(engine=engine, choices=", ".join(ENGINES))
    if engine == "dask":
        with _dask_client(workers, scheduler) as client:
            yield Dask(model_dir, client)
        return
    if language is not None:
        _MODELS[model_dir] = language  # forked workers inherit it; no reload
    if workers <= 1:
        yield InProcess(model_dir)
        return
    # Workers load the model themselves, in parallel, unless this process holds it already: a
    # model loaded here first would be copied page by page into every worker as they touch it.
    context = multiprocessing.get_context(_start_method())
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )
    try:
        yield Pool(model_dir, executor, workers)
    except KeyboardInterrupt:  # Ctrl-C: stop the workers now, not after the tasks in flight
        for process in list((executor._processes or {}).values()):  # no public way before 3.14
            process.kill()
        raise
    except BrokenProcessPool as exc:
        raise Errors.E051(reason=exc) from exc
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _dask_client(workers: int, scheduler: str) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise Errors.E052() from exc
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise Errors.E053(address=scheduler, reason=exc) from exc
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=max(1, workers),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client


def _start_worker(parent: int) -> None:
    """Workers leave Ctrl-C to the main process, which cancels what is left and shuts them down, and
    die with it when it is killed (else they would go on segmenting for nobody)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)


def ordered_results(
    executor: Executor,
    tasks: Iterable[Sequence[str]],
    window: int,
    while_waiting: Callable[[], None] | None = None,
) -> Iterator[Any]:
    """Submit ``tasks`` with at most ``window`` in flight; yield their results in submission order.

    ``while_waiting`` runs once here, when the first ``window`` tasks are in flight: work of this
    process that needs no results, done while the workers are busy.
    """
    pending: deque[_Future] = deque()
    for texts in tasks:
        pending.append(executor.submit(texts))
        if len(pending) >= window:
            if while_waiting is not None:
                while_waiting, call = None, while_waiting
                call()
            yield pending.popleft().result()
    if while_waiting is not None and pending:
        while_waiting()
    while pending:
        yield pending.popleft().result()


# --------------------------------------------------------------------------- the stage


Piece = tuple[int, int, bool]  # segment number, offset in its text, last piece of the segment


def _tasks(
    segments: Sequence[Segment],
    numbers: Iterable[int],
    batch_size: int,
    chunk_chars: int,
    meta: deque[list[Piece]],
) -> Iterator[list[str]]:
    """Group the pieces of the segments ``numbers`` into tasks; each task's pieces go to ``meta``."""
    texts: list[str] = []
    pieces: list[Piece] = []
    size = 0
    for number in numbers:
        parts = nlp_stage.chunks(segments[number].text, chunk_chars)
        for position, (offset, piece) in enumerate(parts):
            if texts and (len(texts) >= batch_size or size + len(piece) > TASK_CHARS):
                meta.append(pieces)
                yield texts
                texts, pieces, size = [], [], 0
            texts.append(piece)
            pieces.append((number, offset, position == len(parts) - 1))
            size += len(piece)
    if texts:
        meta.append(pieces)
        yield texts


def analyse(
    segments: Sequence[Segment],
    language: Language | None = None,
    *,
    workers: int = 1,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    model_dir: Path | str | None = None,
    engine: str = "local",
    scheduler: str = "",
    cache: NlpCache | None = None,
    chunk_chars: int = nlp_stage.CHUNK_CHARS,
    while_waiting: Callable[[], None] | None = None,
) -> NlpResult:
    """Segment every segment into sentences and tokens and collect rule spans.

    ``workers`` processes (1: in this process) or, with ``engine="dask"``, tasks on a Dask cluster
    (a local one, or the one at ``scheduler``). With a ``cache`` (``pipeline.cache.NlpCache``) only
    segments it does not hold are processed. ``language`` (from ``nlp.load_nlp``) is used in this
    process and by forked workers; it is loaded from ``model_dir`` when needed and not given.
    ``while_waiting`` is called once, in this process, while the first tasks run (not at all when
    there is nothing to segment).

    >>> result = analyse([segment], load_nlp())  # doctest: +SKIP
    >>> result.sentences[0].tokens  # doctest: +SKIP
    ('深刻', '领悟', '“', '两', '个', '确立', '”')
    """
    if language is not None and model_dir is None:
        model_dir = language.meta.get("tifa_model_dir")
    model = str(check_model(model_dir).resolve())
    keys = [cache.key(segment.text) if cache is not None else "" for segment in segments]
    # Segments to process: not cached, not empty, and the first of any repeated text.
    seen: set[str] = set()
    todo: list[int] = []
    for number, segment in enumerate(segments):
        key = keys[number]
        if not segment.text or (cache is not None and (key in seen or cache.has(key))):
            continue
        seen.add(key)
        todo.append(number)
    sentences, spans = SentenceBuilder(), []
    processed = cached = 0
    with open_executor(engine, workers, model, language, scheduler) if todo else _nothing() as executor:
        window = WINDOW_PER_WORKER * (executor.slots if executor is not None else 1)
        pieces = _stream(executor, segments, todo, batch_size, chunk_chars, window, while_waiting)
        wanted = set(todo)
        for number, segment in enumerate(segments):
            if number in wanted:
                analysis = Analysis.join(_pieces_of(number, pieces))
                if cache is not None:
                    cache.put(keys[number], analysis, len(segment.text))
                processed += 1
            elif not segment.text:
                analysis = Analysis.empty()
            else:
                analysis = cache.get(keys[number], len(segment.text)) if cache is not None else None
                if analysis is None:  # vanished or unreadable since it was checked: process it here
                    with open_executor("local", 1, model, language) as alone:
                        analysis = Analysis.join(_whole(alone, segment.text, chunk_chars))
                    cache.put(keys[number], analysis, len(segment.text))  # type: ignore[union-attr]
                    processed += 1
                else:
                    cached += 1
            sentences.add(segment, analysis)
            spans.extend(analysis.rule_spans(segment))
            if progress is not None:
                progress(len(segment.text))
    return NlpResult(sentences.done(), tuple(spans), processed=processed, cached=cached)


def analyse_corpus(
    segments: Sequence[Segment],
    settings: Settings,
    *,
    model_dir: Path | str | None = None,
    progress: Callable[[int], None] | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> NlpResult:
    """``analyse`` as ``tifa run`` calls it: workers, engine, cache and pieces from ``settings``.

    The model is loaded only if some segment is not in the cache (and then where the work runs).
    """
    model = check_model(model_dir)
    cache = None
    if settings.cache:
        output_settings = {name: getattr(settings, name) for name in nlp_stage.OUTPUT_SETTINGS}
        cache = NlpCache.open(model, output_settings, settings.cache_dir or None)
    return analyse(
        segments,
        None,
        workers=settings.resolved_workers(),
        batch_size=settings.batch_size,
        progress=progress,
        model_dir=model,
        engine=settings.engine,
        scheduler=settings.scheduler,
        cache=cache,
        chunk_chars=settings.chunk_chars,
        while_waiting=while_waiting,
    )


def _stream(
    executor: Executor | None,
    segments: Sequence[Segment],
    todo: Sequence[int],
    batch_size: int,
    chunk_chars: int,
    window: int,
    while_waiting: Callable[[], None] | None = None,
) -> Iterator[tuple[Piece, Analysis]]:
    """Every piece of the segments ``todo`` with its analysis, in order."""
    if executor is None or not todo:
        return
    meta: deque[list[Piece]] = deque()
    tasks = _tasks(segments, todo, batch_size, chunk_chars, meta)
    for analyses in ordered_results(executor, tasks, max(1, window), while_waiting):
        yield from zip(meta.popleft(), analyses, strict=True)


def _pieces_of(number: int, pieces: Iterator[tuple[Piece, Analysis]]) -> list[tuple[int, Analysis]]:
    """The next pieces from the stream, up to the last piece of segment ``number``."""
    parts = []
    for (piece_number, offset, last), analysis in pieces:
        if piece_number != number:
            raise RuntimeError(f"piece of segment {piece_number} arrived while waiting for {number}")
        parts.append((offset, analysis))
        if last:
            break
    return parts


def _whole(executor: Executor, text: str, chunk_chars: int) -> list[tuple[int, Analysis]]:
    pieces = nlp_stage.chunks(text, chunk_chars)
    analyses = executor.submit([piece for _, piece in pieces]).result()
    return [(offset, analysis) for (offset, _), analysis in zip(pieces, analyses, strict=True)]


@contextmanager
def _nothing() -> Iterator[Any]:
    yield None
