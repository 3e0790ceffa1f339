"""On-disk cache of the NLP stage: a rerun segments only the texts it has not seen.

One file per segment text, holding its ``records.Analysis`` (sentence, token and rule-span offsets as
int32 arrays plus the span labels, zlib-compressed — about a third of the text's size in UTF-8)::

    <cache dir>/<fingerprint>/<key[:2]>/<key>.nlp

- ``key``: BLAKE2b of the normalised segment text (what ingest hands on). Same text, same entry,
  whatever the file is called or wherever it moved.
- ``fingerprint``: BLAKE2b of everything that decides the stage's output — the contents of every
  file of the model folder (pkuseg weights and features, its user dictionary, meta.json, config),
  the spaCy and spacy-pkuseg versions, the source of the modules that segment, split sentences
  and run the rules (``nlp``, ``rules``, ``text``, ``regions`` and the gazetteer), the entry format
  and the settings in ``nlp.OUTPUT_SETTINGS``. Any change there starts a new folder, so nothing
  stale is ever read; settings that do not change the output (workers, batch size, engine) do not
  count.

Default location: ``.cache/nlp`` beside the model folder (``models/.cache/nlp`` for the built-in
model; git-ignored, removed by ``make clean``), else ``$XDG_CACHE_HOME/tifa/nlp``
(``~/.cache/tifa/nlp``) when that folder cannot be written. ``$TIFA_CACHE_DIR`` or the
``cache_dir`` setting choose another; ``--no-cache`` turns it off. Only the ``KEEP_VERSIONS`` most
recently used fingerprint folders are kept; deleting the whole folder is always safe.

Writes go to a temporary file renamed into place, so concurrent runs sharing a cache never see a
half-written entry; an unreadable entry counts as missing and is written again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import tempfile
import time
import zlib
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from pipeline.model import check_model, model_path
from pipeline.records import Analysis

FORMAT = b"TIFA-NLP-1\n"
KEEP_VERSIONS = 4  # fingerprint folders kept (the most recently used)
_FINGERPRINT = re.compile(r"[0-9a-f]{40}")
_HEADER = struct.Struct("<5I")  # text length, sentences, tokens, spans, bytes of labels
_SOURCES = ("nlp.py", "rules.py", "text.py", "regions.py", "data/regions.csv")


def _digest() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=20)


@lru_cache(maxsize=8)
def _model_digest(model_dir: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    """Contents of every file of the model (``stamp`` — names, sizes, mtimes — keys the memo)."""
    digest = _digest()
    root = Path(model_dir)
    for name, _, _ in stamp:
        digest.update(name.encode() + b"\0")
        with open(root / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def fingerprint(model_dir: Path | str, settings: dict[str, object] | None = None) -> str:
    """The version of the NLP stage's output for this model, code and settings (see module doc)."""
    root = Path(model_dir).resolve()
    files = sorted(
        Path(folder, name)
        for folder, _, names in os.walk(root, followlinks=True)  # a linked folder's files count too
        for name in names
        if Path(folder, name).is_file()
    )
    stamp = tuple(
        (path.relative_to(root).as_posix(), path.stat().st_size, path.stat().st_mtime_ns) for path in files
    )
    digest = _digest()
    digest.update(FORMAT)
    digest.update(_model_digest(str(root), stamp).encode())
    for package in ("spacy", "spacy-pkuseg"):
        try:
            digest.update(f"{package}={version(package)}\n".encode())
        except PackageNotFoundError:
            digest.update(f"{package}=?\n".encode())
    package_dir = Path(__file__).parent
    for name in _SOURCES:
        path = package_dir / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-"))
    for name, value in sorted((settings or {}).items()):
        digest.update(f"{name}={value!r}\n".encode())
    return digest.hexdigest()


def default_dir(model_dir: Path | str | None = None) -> Path:
    """``.cache/nlp`` beside the model, or the user's cache folder when that cannot be written."""
    if os.environ.get("TIFA_CACHE_DIR"):
        return Path(os.environ["TIFA_CACHE_DIR"])
    beside = model_path(model_dir).resolve().parent / ".cache" / "nlp"
    if _writable(beside):
        return beside
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "tifa" / "nlp"


def _writable(path: Path) -> bool:
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return os.access(existing, os.W_OK)


class NlpCache:
    """Segment analyses on disk under ``directory/fingerprint``."""

    def __init__(self, directory: Path | str, fingerprint: str) -> None:
        self.root = Path(directory) / fingerprint
        self.fingerprint = fingerprint
        self.writes_failed = 0

    @classmethod
    def open(
        cls,
        model_dir: Path | str | None = None,
        settings: dict[str, object] | None = None,
        directory: Path | str | None = None,
    ) -> NlpCache:
        model = check_model(model_dir)
        store = cls(directory or default_dir(model), fingerprint(model, settings))
        store.prune()
        return store

    def prune(self, keep: int = KEEP_VERSIONS) -> None:
        """Mark this version used now; remove all but the ``keep`` most recently used versions."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            now = time.time()
            os.utime(self.root, (now, now))
            versions = [
                p for p in self.root.parent.iterdir() if p.is_dir() and _FINGERPRINT.fullmatch(p.name)
            ]
        except OSError:
            return
        versions.sort(key=_used, reverse=True)
        for old in versions[keep:]:
            if old != self.root:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.nlp"

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str, text_length: int) -> Analysis | None:
        """The stored analysis, or None when absent, unreadable or not for a text of this length."""
        try:
            data = self.path(key).read_bytes()
            return decode(data, text_length)
        except (OSError, ValueError, zlib.error, struct.error):
            return None

    def put(self, key: str, analysis: Analysis, text_length: int) -> None:
        """Store an analysis (atomically); a failure to write only costs the next run time."""
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(encode(analysis, text_length))
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            self.writes_failed += 1


def _used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile by another run
        return 0.0


def encode(analysis: Analysis, text_length: int) -> bytes:
    labels = "\n".join(analysis.labels).encode("utf-8")
    body = b"".join(
        [
            _HEADER.pack(
                text_length, len(analysis.sentences), len(analysis.tokens), len(analysis.spans), len(labels)
            ),
            np.ascontiguousarray(analysis.sentences, dtype="<i4").tobytes(),
            np.ascontiguousarray(analysis.sentence_tokens, dtype="<i4").tobytes(),
            np.ascontiguousarray(analysis.tokens, dtype="<i4").tobytes(),
            np.ascontiguousarray(analysis.spans, dtype="<i4").tobytes(),
            labels,
        ]
    )
    return FORMAT + zlib.compress(body, 1)


def decode(data: bytes, text_length: int) -> Analysis:
    if not data.startswith(FORMAT):
        raise ValueError("not a tifa NLP cache entry")
    body = zlib.decompress(data[len(FORMAT) :])
    length, n_sentences, n_tokens, n_spans, n_labels = _HEADER.unpack_from(body)
    if length != text_length:
        raise ValueError("entry is for a text of another length")
    sizes = (n_sentences * 2, n_sentences, n_tokens * 2, n_spans * 3)
    position = _HEADER.size
    arrays = []
    for size in sizes:
        arrays.append(np.frombuffer(body, dtype="<i4", count=size, offset=position).astype(np.int32))
        position += size * 4
    labels_bytes = body[position : position + n_labels]
    if len(labels_bytes) != n_labels or position + n_labels != len(body):
        raise ValueError("truncated entry")
    labels = tuple(labels_bytes.decode("utf-8").split("\n")) if n_spans else ()
    if len(labels) != n_spans:
        raise ValueError("labels do not match spans")
    sentences, sentence_tokens, tokens, spans = arrays
    return Analysis(
        sentences.reshape(-1, 2), tokens.reshape(-1, 2), sentence_tokens, spans.reshape(-1, 3), labels
    )
