"""Where the segmentation model is: the one place that decides which model folder a run uses.

``model_path`` is what the NLP stage loads, what the cache fingerprints and what ``run_key`` digests,
so ``$TIFA_MODEL`` is honoured by all three alike.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import Errors

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "zh_pkuseg"


def model_path(model_dir: Path | str | None = None) -> Path:
    """The model folder in force: ``model_dir``, else ``$TIFA_MODEL``, else ``models/zh_pkuseg`` of the
    project — beside the package in a checkout, or in the current folder when the package was
    installed with ``pip install .`` from the project folder (the model is built there, not shipped).

    >>> model_path("elsewhere/zh")
    PosixPath('elsewhere/zh')
    """
    if model_dir or os.environ.get("TIFA_MODEL"):
        return Path(model_dir or os.environ["TIFA_MODEL"])
    here = Path("models") / "zh_pkuseg"
    if not DEFAULT_MODEL.is_dir() and (here / "config.cfg").is_file():
        return here.resolve()
    return DEFAULT_MODEL


def check_model(model_dir: Path | str | None = None) -> Path:
    """The model folder, or ``TifaError`` (E010) naming the fix when it has not been built."""
    path = model_path(model_dir)
    if not (path / "config.cfg").is_file() or not (path / "tokenizer").exists():
        raise Errors.E010(path=path)
    return path
