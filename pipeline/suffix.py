"""Suffix array and LCP of an integer text, by libdivsufsort and Kasai's algorithm (pydivsufsort), in an
interpreter of their own.

libdivsufsort runs on GNU OpenMP, and a process whose libgomp has started its thread pool cannot fork
safely: the child waits for ever on threads a fork does not copy. tifa forks its stages, and test runners
and notebooks fork too, so the library is loaded only in a fresh interpreter started for the one call
(``python -m pipeline.suffix FOLDER``, a fraction of a second) that never forks. The arrays pass through
``.npy`` files in a temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["suffix_array"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # so the child imports this same pipeline


def suffix_array(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Suffix array of ``text`` (int64) and ``lcp[i] = LCP(sa[i-1], sa[i])`` with ``lcp[0] = 0``.

    Raises:
        RuntimeError: the child interpreter failed (its error output is in the message).
    """
    if len(text) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="tifa-suffix-") as folder:
        np.save(Path(folder) / "text.npy", np.ascontiguousarray(text))
        env = dict(os.environ, OMP_NUM_THREADS="1")  # it runs beside the phrase stage: one core
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.suffix", folder],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"the suffix array's child process failed ({done.returncode}): {done.stderr[-2000:]}"
            )
        return np.load(Path(folder) / "sa.npy"), np.load(Path(folder) / "lcp.npy")


def _build(folder: Path) -> None:
    from pydivsufsort import divsufsort, kasai  # only here: see the module's docstring

    text = np.load(folder / "text.npy")
    sa = divsufsort(text)
    lcp = kasai(text, sa)  # kasai's lcp[i] is LCP(sa[i], sa[i+1]): shifted by one here
    lcp[1:] = lcp[:-1].copy()
    lcp[:1] = 0
    np.save(folder / "sa.npy", sa.astype(np.int64, copy=False))
    np.save(folder / "lcp.npy", lcp)


if __name__ == "__main__":
    _build(Path(sys.argv[1]))
