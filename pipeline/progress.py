"""Progress of a long run on stderr: each stage as it starts and ends, segmentation with time left.

A run of tens of minutes says where it is::

    tifa: [0:04] ingest done (4.1 s)
    tifa: [0:04] 1,203 segments, 12.1 M characters
    tifa: [0:04] segmentation started
    tifa: [1:31] segmentation 10% (1.2 of 12.1 M characters), about 13:05 left
    ...
    tifa: [14:40] segmentation done (876.0 s)
    tifa: [14:40] phrases started
    tifa: [16:02] phrases done (82.1 s); the stages after it take about 2:50
    tifa: [16:40] reuse done (96.3 s)

Lines go to stderr only when it is a terminal (beside the segmentation bar) or when
``TIFA_PROGRESS=1`` (a log file, a batch job's output); ``--quiet`` turns them off. On a terminal the
segmentation bar gives the time left and the tenths are not printed.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

# The stages after the phrase stage (side by side on 2 cores) took about this share of the
# segmentation's time in the benchmark's runs (README: Speed, scale and reruns); an estimate only.
LATER_SHARE = 0.25


def wanted(enabled: bool, stream: TextIO | None = None) -> bool:
    """Print stage lines? Not when ``enabled`` is false (``--quiet``); else on a terminal or when
    ``TIFA_PROGRESS`` is set to anything but 0."""
    stream = stream or sys.stderr
    if not enabled:
        return False
    forced = os.environ.get("TIFA_PROGRESS", "") not in ("", "0")
    return forced or stream.isatty()


def size(chars: int) -> str:
    """``12.1 M`` characters from a million, else the number (``4,210``)."""
    return f"{chars / 1e6:.1f} M" if chars >= 1_000_000 else f"{chars:,}"


def clock(seconds: float) -> str:
    """``M:SS`` (``H:MM:SS`` from an hour)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class StageLog:
    """Stage lines with the run's elapsed time; silent when not ``enabled`` (see ``wanted``)."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = wanted(enabled, self.stream)
        self.tenths = self.enabled and not self.stream.isatty()  # a terminal has the bar instead
        self.started = time.perf_counter()
        self.segmentation_seconds = 0.0

    def say(self, message: str) -> None:
        if self.enabled:
            elapsed = clock(time.perf_counter() - self.started)
            print(f"tifa: [{elapsed}] {message}", file=self.stream, flush=True)

    def start(self, name: str) -> None:
        self.say(f"{name} started")

    def done(self, name: str, seconds: float, note: str = "") -> None:
        if name == "segmentation":
            self.segmentation_seconds = seconds
        if name == "phrases" and self.segmentation_seconds:
            note = note or f"the stages after it take about {clock(LATER_SHARE * self.segmentation_seconds)}"
        self.say(f"{name} done ({seconds:.1f} s)" + (f"; {note}" if note else ""))

    def segmenting(self, total: int):  # returns a callback taking the characters just segmented
        """A callback for the segmentation: a line at each tenth of ``total`` characters, with time left."""
        if not self.tenths or total <= 0:
            return None
        done = 0
        next_tenth = 1
        began = time.perf_counter()

        def advance(chars: int) -> None:
            nonlocal done, next_tenth
            done += chars
            if done * 10 < next_tenth * total:
                return
            while next_tenth * total <= done * 10:
                next_tenth += 1
            spent = time.perf_counter() - began
            left = spent * (total - done) / done if done else 0.0
            self.say(
                f"segmentation {100 * done // total}% ({size(done)} of {size(total)} characters),"
                f" about {clock(left)} left"
            )

        return advance
