"""Progress lines of a long run (pipeline/progress.py): on stderr when forced or on a terminal, never
with --quiet; segmentation by tenths with the time left."""

from __future__ import annotations

import io

from pipeline.progress import StageLog, clock, size


def test_lines_only_when_asked_for(monkeypatch) -> None:
    monkeypatch.delenv("TIFA_PROGRESS", raising=False)
    quiet = io.StringIO()
    StageLog(True, quiet).start("phrases")  # not a terminal, not forced
    assert quiet.getvalue() == ""
    monkeypatch.setenv("TIFA_PROGRESS", "1")
    StageLog(False, quiet).start("phrases")  # --quiet wins
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    log = StageLog(True, shown)
    log.start("segmentation")
    log.done("segmentation", 400.0)
    log.done("phrases", 30.0)
    lines = shown.getvalue().splitlines()
    assert lines[0] == "tifa: [0:00] segmentation started"
    assert lines[1] == "tifa: [0:00] segmentation done (400.0 s)"
    assert lines[2].startswith("tifa: [0:00] phrases done (30.0 s); the stages after it take about 1:40")


def test_segmentation_tenths_with_time_left(monkeypatch) -> None:
    monkeypatch.setenv("TIFA_PROGRESS", "1")
    stream = io.StringIO()
    advance = StageLog(True, stream).segmenting(2_000_000)
    assert advance is not None
    for _ in range(8):
        advance(250_000)  # a tenth is crossed at most once: 8 calls, 8 lines (12.5 % each)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8
    assert lines[0].endswith("segmentation 12% (250,000 of 2.0 M characters), about 0:00 left")
    assert "segmentation 100% (2.0 M of 2.0 M characters)" in lines[-1]


def test_clock_and_size() -> None:
    assert [clock(5), clock(65), clock(3725)] == ["0:05", "1:05", "1:02:05"]
    assert [size(4210), size(12_100_000)] == ["4,210", "12.1 M"]
