"""Independent stages run side by side in forked processes, with the results of a serial run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline import parallel
from pipeline.errors import TifaError


def _run(stages: list[parallel.Stage], workers: int) -> dict:
    """Start ``stages`` in order and wait for them all, as ``tifa run`` does."""
    with parallel.Stages(workers) as running:
        for name, task in stages:
            running.start(name, task)
        return running.wait()


def _stages(folder: Path) -> list[parallel.Stage]:
    def write(name: str, text: str):
        def task() -> int:
            (folder / name).write_text(text, encoding="utf-8")
            return len(text)

        return task

    return [
        ("a", write("a.txt", "两个确立")),
        ("b", write("b.txt", "四个意识")),
        ("c", write("c.txt", "高端化、智能化、绿色化")),
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_stage_runs_once_and_returns_its_result(tmp_path: Path, workers: int) -> None:
    done = _run(_stages(tmp_path), workers)
    assert list(done) == ["a", "b", "c"]  # the order given, whichever finished first
    assert {name: value for name, (value, _) in done.items()} == {"a": 4, "b": 4, "c": 11}
    assert all(seconds >= 0 for _, seconds in done.values())
    assert (tmp_path / "c.txt").read_text(encoding="utf-8") == "高端化、智能化、绿色化"


def test_stages_run_in_other_processes_when_there_are_workers() -> None:
    here = os.getpid()
    done = _run([("a", os.getpid), ("b", os.getpid)], 2)
    pids = {value for value, _ in done.values()}
    assert here not in pids and len(pids) == 2


def test_a_failing_stage_raises_its_own_error_in_the_main_process() -> None:
    def broken() -> None:
        raise TifaError("E030", "phrases.txt: line 3 is not UTF-8")

    with pytest.raises(TifaError, match=r"phrases\.txt: line 3"):
        _run([("ok", lambda: 1), ("broken", broken)], 2)


def test_an_exception_that_cannot_be_pickled_arrives_as_its_text() -> None:
    class Local(Exception):  # defined in a function: pickle cannot find it by name
        pass

    def broken() -> None:
        raise Local("两个维护")

    with pytest.raises(RuntimeError, match="两个维护"):
        _run([("ok", lambda: 1), ("broken", broken)], 2)


def test_a_stage_process_that_dies_is_reported_not_waited_for() -> None:
    with pytest.raises(TifaError, match="the dies stage process died") as caught:
        _run([("ok", lambda: 1), ("dies", lambda: os._exit(9))], 2)
    assert caught.value.code == "E054"


def test_stages_run_while_this_process_works(tmp_path: Path) -> None:
    with parallel.Stages(workers=2) as stages:
        stages.start(
            "early", lambda: (tmp_path / "early.txt").write_text("供给侧结构性改革", encoding="utf-8")
        )
        here = "四个全面"  # this process goes on meanwhile
        stages.start("late", lambda: here)
        done = stages.wait()
    assert list(done) == ["early", "late"]
    assert done["late"][0] == "四个全面"
    assert (tmp_path / "early.txt").read_text(encoding="utf-8") == "供给侧结构性改革"


_ORPHAN_SCRIPT = """
import os, sys, time
from pathlib import Path
from pipeline import parallel

def stage():
    Path(sys.argv[1]).write_text(str(os.getpid()))
    time.sleep(60)

with parallel.Stages(workers=2) as stages:
    stages.start("slow", stage)
    time.sleep(60)
"""


def test_stage_processes_die_with_a_killed_run(tmp_path: Path) -> None:
    """A killed run leaves no stage process writing into a staging folder the next run reuses."""
    from conftest import child_outlives_killed_run

    assert not child_outlives_killed_run(_ORPHAN_SCRIPT, tmp_path), "the stage process outlived its run"
