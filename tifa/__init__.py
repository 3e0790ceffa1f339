"""tifa as a library: formulaic phrases (提法) of Chinese official texts, in pandas and networkx.

>>> import tifa
>>> result = tifa.extract_phrases(["……", "……"])          # doctest: +SKIP
>>> result.phrases.head()                                # doctest: +SKIP

The code lives in the ``pipeline`` package (``pipeline.api``); this package only names its public
part. See the README's section *Python API*.
"""

from pipeline import __version__
from pipeline.api import (
    Corpus,
    Result,
    compare,
    extract_phrases,
    segments_from_texts,
)
from pipeline.config import Settings, load_settings
from pipeline.errors import TifaError
from pipeline.records import Hit, Phrase, Segment, Sentence

__all__ = [
    "Corpus",
    "Hit",
    "Phrase",
    "Result",
    "Segment",
    "Sentence",
    "Settings",
    "TifaError",
    "__version__",
    "compare",
    "extract_phrases",
    "load_settings",
    "segments_from_texts",
]
