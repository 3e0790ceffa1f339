"""General-language word frequencies of Chinese, from the ``wordfreq`` package (offline data).

The phrase stage asks two things of ordinary Chinese that a corpus of official texts cannot tell:

- is a string an ordinary word? A match of 新发展理念 inside 创新发展理念 cuts the word 创新 and is no
  use of the phrase; a match cut by a segmentation slip (深感习近平总书记 segmented 深/感习/近平) cuts no
  real word and is one;
- how common is a short phrase in general language? 新常态 and 去产能 are rare outside official
  texts, 经济 and 发展 are everywhere: only the first are formulas.

wordfreq's list loads in about a second; a copy of it is kept as a pickle in the user's cache folder
(``$XDG_CACHE_HOME/tifa`` or ``~/.cache/tifa``), which loads in a tenth of that.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path

import wordfreq


def _cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "tifa" / f"wordfreq-{importlib.metadata.version('wordfreq')}-zh.pickle"


@functools.lru_cache(maxsize=1)
def general_frequencies() -> Mapping[str, float]:
    """Word → frequency in general written Chinese (simplified), as a share of all words.

    >>> general_frequencies()["发展"] > 1e-4 > general_frequencies().get("新常态", 0.0)
    True
    """
    path = _cache_file()
    try:
        return pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError):
        pass
    frequencies = dict(wordfreq.get_frequency_dict("zh", wordlist="large"))
    try:  # written whole or not at all: a concurrent reader never sees half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(pickle.dumps(frequencies, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only home: the list is simply read from wordfreq each time
    return frequencies
