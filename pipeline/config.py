"""Settings: one frozen record, defaults documented here, validated once before any work starts.

A settings file is TOML with the same keys (``tifa run --config tifa.toml``); single values can be
overridden on the command line (``--set min_count=3``). Unknown keys and wrong types stop the run
with the file and key named.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import Errors, TifaError


@dataclass(frozen=True)
class Settings:
    # NLP
    workers: int = 0  # processes for segmentation; 0 = all cores
    batch_size: int = 32  # pieces per task sent to a worker (a task also stops at ~32,000 characters)
    chunk_chars: int = 4000  # long texts are segmented in pieces of about this many characters
    engine: str = "local"  # where segmentation runs: "local" (worker processes) or "dask"
    scheduler: str = ""  # engine "dask": address of a running scheduler; "" = start a local cluster
    cache: bool = True  # reuse the segmentation of texts seen before (pipeline/cache.py)
    cache_dir: str = ""  # "" = .cache/nlp beside the model (models/.cache/nlp), else ~/.cache/tifa/nlp
    # Phrases
    min_count: int = 0  # statistical phrases: occurrences needed; 0 = auto, max(2, one per 500,000 chars)
    rule_min_count: int = (
        0  # quoted/numbered/enumerations: occurrences needed; 0 = auto, 1 up to 500,000 chars, else 2
    )
    min_spread: int = 2  # statistical phrases: regions (or segments, when texts have no region) needed
    min_chars: int = 3  # statistical phrases: shortest
    max_chars: int = 20  # statistical phrases: longest
    max_neighbour_share: float = 0.9  # one same left/right neighbour more often than this: a fragment
    min_token_alignment: float = 0.5  # more than this share of occurrences start and end on word boundaries
    min_cohesion: float = 3.0  # statistical phrases: PMI (bits) of the weakest word split, at least
    quoted_min_share: float = 0.1  # a quoted slogan is quoted in at least this share of its occurrences
    quotation_min_count: int = 2  # long quotations are kept only when they recur
    # Reference: the centre's texts (pipeline/echo.py); --reference on the command line wins
    reference: str = ""  # "" = none; else a folder or file of reference texts (relative to the cwd)
    # Compare
    level: str = "province"  # regions compared: "province" or "city" (prefecture-level units, province kept)
    reuse_min_chars: int = 15  # shortest passage reported as shared between regions
    # Cluster
    n_clusters: int = 0  # 0 = chosen by cluster_criterion
    cluster_criterion: str = "stability"  # or "silhouette": how the number of clusters is chosen
    cluster_features: str = "both"  # what region vectors are built from: "words", "phrases" or "both"
    cluster_max_doc_share: float = 1.0  # features in more than this share of the documents are left out
    cluster_resamples: int = 20  # bootstrap resamples for branch support (0 = none; 1000 recommended)
    cluster_seed: int = 1  # seed of the bootstrap resampling
    # Graph (see pipeline.graph.GraphSettings)
    graph_window: str = "sentence"  # or "segment": what counts as occurring together
    graph_association: str = "npmi"  # or "jaccard", "llr": the score edges are ranked and filtered by
    graph_min_association: float = 0.0  # edges scoring below are dropped (0: no pair below chance)
    graph_top_edges: int = 1000  # keep at most the strongest N edges
    graph_min_count: int = 2  # phrases seen fewer times are not nodes
    graph_min_edge_weight: int = 3  # pairs seen together (apart) in fewer windows are not edges
    graph_phrases: int = 300  # the best-ranked phrases considered as nodes
    graph_min_llr: float = 10.83  # pairs with a lower log-likelihood ratio are not edges (p < 0.001)
    graph_edges_per_node: int = 5  # each phrase keeps its strongest N edges (0: all that pass)
    graph_join_gap: int = 2  # hits at most this many characters apart are parts of one longer phrase
    graph_resolution: float = 1.0  # Louvain resolution: higher gives more, smaller themes
    # Outputs
    write_report: bool = True  # report.html: the self-contained report
    write_texts: bool = True  # texts.jsonl: segment texts, for `tifa kwic` and the report's contexts
    report_phrases: int = 200  # rows in the report's phrase table (phrases.csv has them all)
    table_format: str = "csv"  # or "parquet" (pyarrow): hits, adoption, phrases, segments, texts

    def __post_init__(self) -> None:
        """Every value checked on construction (``Settings(min_chars=1)`` raises E030), as from a file.

        >>> Settings(min_chars=1)
        Traceback (most recent call last):
        pipeline.errors.TifaError: E030 Settings: setting 'min_chars' must be between 2 and 40, got 1
        """
        for field in fields(self):
            value = getattr(self, field.name)
            checked = _coerce("Settings", field.name, value, type(field.default))
            if checked is not value:  # 3 for a float setting: stored as 3.0, as a file would give it
                object.__setattr__(self, field.name, checked)
        if self.min_chars > self.max_chars:
            raise _bad("Settings", "min_chars", "must not exceed max_chars")

    def resolved_workers(self) -> int:
        from pipeline.parallel import available_cores

        return self.workers or available_cores()


_CHOICES = {
    "graph_window": {"sentence", "segment"},
    "graph_association": {"npmi", "jaccard", "llr"},
    "engine": {"local", "dask"},
    "cluster_criterion": {"stability", "silhouette"},
    "cluster_features": {"words", "phrases", "both"},
    "level": {"province", "city"},
    "table_format": {"csv", "parquet"},
}
_BOUNDS: dict[str, tuple[float, float]] = {
    "workers": (0, 256),
    "batch_size": (1, 10_000),
    "chunk_chars": (200, 1_000_000),
    "min_count": (0, 10**9),
    "rule_min_count": (0, 10**9),
    "min_spread": (1, 10**6),
    "min_chars": (2, 40),
    "max_chars": (2, 60),
    "max_neighbour_share": (0.0, 1.0),
    "min_token_alignment": (0.0, 1.0),
    "quotation_min_count": (1, 10**9),
    "min_cohesion": (-100.0, 100.0),
    "quoted_min_share": (0.0, 1.0),
    "reuse_min_chars": (5, 10_000),
    "n_clusters": (0, 1000),
    "cluster_max_doc_share": (0.01, 1.0),
    "cluster_resamples": (0, 100_000),
    "cluster_seed": (0, 2**32 - 1),
    "graph_top_edges": (1, 10**6),
    "graph_min_count": (1, 10**9),
    "graph_min_edge_weight": (1, 10**9),
    "graph_min_association": (-1.0, 1.0),
    "graph_phrases": (2, 100_000),
    "graph_min_llr": (0.0, 1e9),
    "graph_edges_per_node": (0, 10_000),
    "graph_join_gap": (-1, 100),
    "graph_resolution": (0.01, 100.0),
    "report_phrases": (1, 100_000),
}
_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_BOOLEANS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def _coerce(source: str, key: str, value: Any, kind: type) -> Any:
    expected = _TYPE_NAMES.get(kind, kind.__name__)
    if kind is bool:
        if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
            value = _BOOLEANS[value.strip().lower()]
        if not isinstance(value, bool):
            raise _bad(source, key, f"must be {expected}, got {value!r}")
        return value
    if isinstance(value, str) and kind is not str:
        try:
            value = kind(value)
        except ValueError:
            raise _bad(source, key, f"must be {expected}, got '{value}'") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(source, key, f"must be {expected}, got {value!r}")
    if key in _BOUNDS:
        low, high = _BOUNDS[key]
        if not low <= value <= high:
            raise _bad(source, key, f"must be between {low:g} and {high:g}, got {value}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise _bad(source, key, f"must be one of {', '.join(sorted(_CHOICES[key]))}, got '{value}'")
    return value


def _bad(source: str, key: str, problem: str) -> TifaError:
    return Errors.E030(source=source, key=key, problem=problem)


def _unknown(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "the keys are listed in tifa.toml"
    return f"is unknown — {hint}"


def load_settings(path: Path | None = None, overrides: list[str] | None = None) -> Settings:
    """Defaults, then the TOML file, then ``key=value`` overrides; every value checked."""
    types = {field.name: type(getattr(Settings(), field.name)) for field in fields(Settings)}
    values: dict[str, Any] = {}
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise Errors.E031(path=source) from None
        except OSError as exc:
            raise Errors.E032(path=source, reason=exc.strerror) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise Errors.E033(path=source, reason=exc) from None
        for key, value in raw.items():
            if isinstance(value, dict):
                raise _bad(source, key, "is a [table]; settings are plain top-level keys (see tifa.toml)")
            if key not in types:
                raise _bad(source, key, _unknown(key, types))
            values[key] = _coerce(source, key, value, types[key])
    for item in overrides or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise _bad("--set", item, "is not key=value (e.g. --set min_count=3)")
        if key not in types:
            raise _bad("--set", key, _unknown(key, types))
        values[key] = _coerce("--set", key, value.strip(), types[key])
    chars = {"min_chars": Settings.min_chars, "max_chars": Settings.max_chars, **values}
    if chars["min_chars"] > chars["max_chars"]:  # said with the file's name, before Settings says it
        raise _bad(str(path or "--set"), "min_chars", "must not exceed max_chars")
    settings = replace(Settings(), **values)
    if settings.table_format == "parquet":  # before any work, not when the tables are written
        from pipeline.tables import check_format

        check_format(settings.table_format)
    return settings
