"""The library: what ``import tifa`` gives a notebook, and the path ``tifa run`` takes too.

``Corpus`` holds segments as ingest makes them (from folders, or from strings in memory);
``extract_phrases`` segments them and finds the phrases; ``compare`` adds the regional tables.
A ``Result`` keeps the records of each stage and shows them as pandas DataFrames (built on first
use) and the co-occurrence graph as a networkx graph::

    import tifa
    result = tifa.compare(tifa.Corpus.from_folder("corpus/"))
    result.phrases.head()                    # phrases.csv as a DataFrame
    result.adoption.query("phrase == '一带一路'")
    result.graph.number_of_nodes()

``Settings`` (the keys of ``tifa.toml``) check themselves when built: ``tifa.Settings(min_count=3)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import compare as comparing
from pipeline import engine, graph, ingest, outputs, phrases
from pipeline.config import Settings
from pipeline.records import NlpResult, Segment

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd


@dataclass(frozen=True)
class Corpus:
    """Segments with the report on every input they came from (``ingest.IngestResult``)."""

    ingested: ingest.IngestResult = field(repr=False)

    @classmethod
    def from_folder(cls, *paths: str | Path) -> Corpus:
        """Every input under ``paths`` (folders or files), read as ``tifa run`` reads them."""
        return cls(ingest.ingest(paths))

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        *,
        regions: Sequence[str | None] | None = None,
        years: Sequence[int | str | None] | None = None,
    ) -> Corpus:
        """Strings in memory, one document each, with their region and year (lists as long as
        ``texts``; a region may be written any way, a year may be ``None``). See
        :func:`segments_from_texts`."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        columns = {"region": regions, "year": years}
        records: list[dict[str, object]] = [{"text": text} for text in texts]
        for name, values in columns.items():
            if values is None:
                continue
            if isinstance(values, str) or len(values) != len(texts):
                raise ValueError(f"{name}s: give one value per text ({len(texts)}), as a list")
            for record, value in zip(records, values, strict=True):
                record[name] = value
        return cls(ingest.ingest_records(records))

    @classmethod
    def from_segments(cls, segments: Iterable[Segment]) -> Corpus:
        """Segments built elsewhere (no input report)."""
        return cls(ingest.IngestResult(tuple(segments), ()))

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.ingested.segments

    @property
    def problems(self) -> tuple[str, ...]:
        """What ingest warned about: each input's problems, and why an input was skipped."""
        return self.ingested.problems

    def __len__(self) -> int:
        return len(self.segments)

    def __repr__(self) -> str:
        regions = len({segment.region for segment in self.segments if segment.region})
        return f"Corpus({len(self.segments)} segments, {regions} regions)"


def segments_from_texts(
    texts: Iterable[str],
    *,
    regions: Sequence[str | None] | None = None,
    years: Sequence[int | str | None] | None = None,
) -> tuple[Segment, ...]:
    """Segments of strings in memory, made as ingest makes them from files: the text normalised
    (full-width digits and letters to ASCII, ASCII punctuation between Chinese characters to
    full-width), traditional characters converted to simplified, regions resolved from any of their
    names, and an article quoting several officials split at each speaker header.

    >>> [(s.region, s.year, s.text) for s in segments_from_texts(["堅持“兩個確立”，ＡＢ"], regions=["沪"], years=[2021])]
    [('上海', 2021, '坚持“两个确立”，AB')]
    >>> [(s.region, s.speaker) for s in segments_from_texts(["本报讯\\n上海市经济信息化委主任吴金城：\\n推动高端化。"])]
    [('', ''), ('上海', '吴金城')]
    """
    return Corpus.from_texts(texts, regions=regions, years=years).segments


Data = Corpus | Iterable[str] | Iterable[Segment] | str


def as_corpus(data: Data | Result) -> Corpus:
    """``data`` as a ``Corpus``: a Corpus, a Result's corpus, strings (one text each) or segments."""
    if isinstance(data, Corpus):
        return data
    if isinstance(data, Result):
        return data.corpus
    if isinstance(data, ingest.IngestResult):
        return Corpus(data)
    items = [data] if isinstance(data, str) else list(data)
    if all(isinstance(item, str) for item in items):
        return Corpus.from_texts(items)
    if all(isinstance(item, Segment) for item in items):
        return Corpus.from_segments(items)
    raise TypeError("give texts (strings), segments (tifa.segments_from_texts) or a tifa.Corpus")


def graph_settings(settings: Settings) -> graph.GraphSettings:
    """The graph options of the run's settings (the ``graph_*`` keys)."""
    return graph.GraphSettings(
        window=settings.graph_window,  # type: ignore[arg-type]
        association=settings.graph_association,  # type: ignore[arg-type]
        min_association=settings.graph_min_association,
        top_edges=settings.graph_top_edges,
        min_node_count=settings.graph_min_count,
        min_edge_weight=settings.graph_min_edge_weight,
        max_phrases=settings.graph_phrases,
        min_llr=settings.graph_min_llr,
        edges_per_node=settings.graph_edges_per_node,
        join_gap=settings.graph_join_gap,
        resolution=settings.graph_resolution,
    )


@dataclass(frozen=True, eq=False)
class Result:
    """The records of a run and its tables as pandas DataFrames, each built on first use.

    ``segments`` are the units compared (at ``settings.level``), ``analysed`` the NLP stage's
    sentences and rule spans, ``found`` the phrase stage's phrases and hits.
    """

    corpus: Corpus
    segments: tuple[Segment, ...]
    analysed: NlpResult = field(repr=False)
    found: phrases.PhraseResult = field(repr=False)
    settings: Settings = field(repr=False)

    @cached_property
    def counts(self) -> comparing.HitCounts:
        """Hits per phrase, region and year, counted once for adoption, keyness and diffusion."""
        return comparing.count_hits(self.segments, self.found.hit_table, self.found.phrases)

    @cached_property
    def phrases(self) -> pd.DataFrame:
        """``phrases.csv``: one row per canonical phrase, best first (lists joined with ``;``)."""
        table = _frame(*outputs.phrase_table(self.found.phrases))
        table["cohesion"] = table["cohesion"].replace("", None).astype(float)  # NaN where not measured
        return table

    @cached_property
    def hits(self) -> pd.DataFrame:
        """``hits.csv``: every counted occurrence, with character offsets into the segment's text."""
        (columns,) = outputs.hit_column_chunks(self.found.hit_table, self.segments, rows=len(self.found.hit_table) or 1)
        return _frame(outputs.HIT_HEADER, list(zip(*columns, strict=True)))

    @cached_property
    def adoption(self) -> pd.DataFrame:
        """``adoption.csv``: uses and rate per 10,000 characters by region (and year; NaN: all years)."""
        rows = comparing.adoption(
            self.segments, self.found.hit_table, self.found.phrases, include_zero=False, counts=self.counts
        )
        return _frame(comparing.AdoptionRow._fields, rows)

    @cached_property
    def keyness(self) -> pd.DataFrame:
        """``keyness.csv``: phrases distinctive of each region (log-odds z-score, ``score``)."""
        rows = comparing.keyness(
            self.segments, self.found.hit_table, self.found.phrases, min_count=1, counts=self.counts
        )
        return _frame(comparing.KeynessRow._fields, rows)

    @cached_property
    def diffusion(self) -> pd.DataFrame:
        """``diffusion.csv``: per phrase and year, how many regions use it (region lists as tuples)."""
        rows = comparing.diffusion(
            self.segments, self.found.hit_table, self.found.phrases, counts=self.counts
        )
        return _frame(comparing.DiffusionRow._fields, rows)

    @cached_property
    def graph(self) -> nx.Graph:
        """The phrase co-occurrence graph of ``cooccurrence.graphml`` (networkx)."""
        return graph.build_graph(
            self.found.phrases, self.found.hit_table, self.segments, settings=graph_settings(self.settings)
        )

    def __repr__(self) -> str:
        return f"Result({len(self.segments)} segments, {len(self.found.phrases)} phrases)"


def _frame(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(header))


def extract_phrases(
    data: Data,
    settings: Settings | None = None,
    *,
    user_phrases: Sequence[str] = (),
    model_dir: Path | str | None = None,
    reference_phrases: Mapping[str, float | None] | None = None,
    analysed: NlpResult | None = None,
    grams: phrases.GramCounts | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Segment texts and find their formulaic phrases: a ``Result`` whose ``phrases`` and ``hits`` are
    the tables of ``phrases.csv`` and ``hits.csv``.

    ``data``: strings (one text each), segments, or a ``Corpus``. ``settings``: ``tifa.Settings``
    (default: those of ``tifa.toml``). ``user_phrases`` are always counted (kind ``user``);
    ``model_dir`` overrides ``$TIFA_MODEL`` and ``models/zh_pkuseg``. ``tifa run`` also passes the
    reference's phrases, and the NLP result and n-gram counts it computed side by side.

    >>> result = extract_phrases(["推动高端化、智能化、绿色化。", "坚持高端化、智能化、绿色化。"])  # doctest: +SKIP
    >>> result.phrases[["phrase", "kind", "count"]].head(1)  # doctest: +SKIP
                 phrase         kind  count
    0  高端化、智能化、绿色化  enumeration      2
    """
    settings = settings or Settings()
    corpus = as_corpus(data)
    segments = ingest.at_level(corpus.segments, settings.level)
    if analysed is None:
        counted: list[phrases.GramCounts] = []
        analysed = engine.analyse_corpus(
            segments,
            settings,
            model_dir=model_dir,
            progress=progress,
            while_waiting=lambda: counted.append(phrases.count_grams(segments, settings)),
        )
        grams = counted[0] if counted else grams
    found = phrases.extract(
        segments,
        analysed.sentences,
        analysed.spans,
        settings,
        user_phrases=user_phrases,
        grams=grams,
        reference_phrases=reference_phrases,
    )
    return Result(corpus, segments, analysed, found, settings)


def compare(data: Data | Result, settings: Settings | None = None, **options: Any) -> Result:
    """``extract_phrases`` (unless ``data`` is its result already), then the regional tables:
    ``adoption``, ``keyness`` and ``diffusion`` computed at once; ``graph`` on first use.

    >>> result = compare(Corpus.from_folder("seeds"))  # doctest: +SKIP
    >>> result.keyness.nlargest(3, "score")[["region", "phrase"]]  # doctest: +SKIP
    """
    result = data if isinstance(data, Result) else extract_phrases(data, settings, **options)
    for table in ("adoption", "keyness", "diffusion"):
        getattr(result, table)
    return result
