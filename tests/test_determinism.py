"""Determinism and whole outputs.

- Two runs on the same input give byte-identical files (manifest timings aside), whatever the hash
  seed and whether the segmentation cache is cold or warm.
- A run SIGKILLed at a random moment leaves out/ holding the previous complete run or the new one,
  never a mix; a rerun completes and equals the uninterrupted run (the fast version of
  ``python -m pipeline.killtest`` on the 183 reports).
- A kill at each step of the swap itself leaves a whole out/ (or one the next run restores).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import SEEDS

from pipeline import killtest
from pipeline.errors import TifaError
from pipeline.io_utils import check_out_dir, prepare_staging, replace_folder

pytestmark = pytest.mark.slow  # whole runs, killed and not


@pytest.fixture(scope="module")
def two_runs(seed_run: Path) -> tuple[Path, Path, float]:
    """The seed article run twice: other hash seeds, a cold then a warm cache (the first is the
    session's seed run)."""
    work = seed_run.parent
    second = killtest.run_to_end(
        killtest.tifa_command([SEEDS], work / "two", work / "cache", "--workers", "1"), hash_seed="2"
    )
    return seed_run, work / "two", min(float((work / "seconds").read_text()), second)


def test_two_runs_give_byte_identical_outputs(two_runs) -> None:
    one, two, _ = two_runs
    names = sorted(path.name for path in one.iterdir())
    assert names == sorted(path.name for path in two.iterdir())
    assert {"manifest.json", "cooccurrence.graphml", "cooccurrence.gexf", "cooccurrence.png"} <= set(names)
    for name in names:
        a, b = (one / name).read_bytes(), (two / name).read_bytes()
        if name == "manifest.json":  # byte for byte up to the timings, the last field
            assert a.split(b'\n  "timings"')[0] == b.split(b'\n  "timings"')[0]
            assert list(json.loads(a))[-1] == "timings"
        else:
            assert a == b, f"{name} differs between two runs"


def test_two_worker_processes_give_the_same_outputs(two_runs, tmp_path: Path) -> None:
    one, _, _ = two_runs
    parallel = tmp_path / "parallel"
    command = killtest.tifa_command([SEEDS], parallel, one.parent / "cache", "--workers", "2", "--no-cache")
    killtest.run_to_end(command, hash_seed="3")
    # The settings differ (workers, cache) and are recorded in the manifest and shown in the report.
    assert killtest.differences(killtest.snapshot(one), killtest.snapshot(parallel)) == [
        "manifest.json",
        "report.html",
    ]

    def manifest(folder: Path) -> dict:
        document = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return {key: value for key, value in document.items() if key not in ("settings", "timings")}

    assert manifest(one) == manifest(parallel)


# --------------------------------------------------------------------------- kills during a run


def _small_corpus(folder: Path) -> Path:
    folder.mkdir()
    texts = {
        "2016_浙江.txt": "浙江省政府工作报告\n坚持“八八战略”，推动高质量发展，建设共同富裕示范区。深化“最多跑一次”改革。",
        "2016_江苏.txt": "江苏省政府工作报告\n推动高质量发展走在前列，深化“放管服”改革，建设“强富美高”新江苏。",
        "2016_福建.txt": "福建省政府工作报告\n推动高质量发展超越，深化“放管服”改革，建设“机制活、产业优”的新福建。",
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_killed_runs_leave_the_previous_or_the_new_output(two_runs, tmp_path: Path) -> None:
    _, reference, seconds = two_runs
    new = killtest.snapshot(reference)
    out, cache = tmp_path / "out", reference.parent / "cache"
    previous_dir = tmp_path / "previous"
    killtest.run_to_end(
        killtest.tifa_command([_small_corpus(tmp_path / "small")], previous_dir, cache, "--workers", "1"),
        hash_seed="2",
    )
    previous = killtest.snapshot(previous_dir)
    command = killtest.tifa_command([SEEDS], out, cache, "--workers", "1")
    rng = random.Random(20240601)
    states = []
    for after in sorted(rng.uniform(0.3, seconds * 1.05) for _ in range(3)):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(previous_dir, out)
        _, _, orphans = killtest.kill_at(command, after, out, hash_seed="2")
        assert orphans == 0  # one worker: no process pool to leave behind
        state = killtest.classify(killtest.snapshot(out), previous, new)
        states.append((round(after, 2), state))
        assert state in ("previous", "new"), states
    # And once at the end of the run: the moment the staging folder is complete, around the swap.
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(previous_dir, out)
    killtest.kill_at(command, seconds * 3, out, hash_seed="2", when_staged=len(new))
    states.append(("staged", killtest.classify(killtest.snapshot(out), previous, new)))
    assert states[-1][1] in ("previous", "new"), states
    killtest.run_to_end(command, hash_seed="2")
    assert killtest.differences(killtest.snapshot(out), new) == [], states
    assert killtest.leftovers(out) == ()


# --------------------------------------------------------------------------- kills inside the swap

_SWAP_SCRIPT = textwrap.dedent(
    """
    import os, shutil, signal, sys
    from pathlib import Path
    from pipeline import io_utils

    out, step, exchange = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    staging = io_utils.prepare_staging(out)
    (staging / "manifest.json").write_text('{"versions": {"tifa": "new"}}')
    (staging / "data.csv").write_text("new")
    calls = 0

    def dying(real):
        def call(*args, **kwargs):
            global calls
            calls += 1
            if calls == step:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return call

    io_utils.os = type("os", (), {"replace": staticmethod(dying(os.replace)), **{
        name: getattr(os, name) for name in ("open", "close", "fsync", "O_RDONLY", "path", "fsencode", "unlink")}})
    io_utils.shutil = type("shutil", (), {"rmtree": staticmethod(dying(shutil.rmtree))})
    io_utils._exchange = dying(io_utils._exchange) if exchange else (lambda a, b: False)
    io_utils.replace_folder(staging, out)
    """
)


def _folder(path: Path) -> dict[str, str] | None:
    return {p.name: p.read_text() for p in path.iterdir()} if path.is_dir() else None


@pytest.mark.parametrize(("exchange", "steps"), [(True, 3), (False, 5)])
def test_a_kill_at_any_step_of_the_swap_leaves_a_whole_output(
    tmp_path: Path, exchange: bool, steps: int
) -> None:
    old = {"manifest.json": '{"versions": {"tifa": "old"}}', "data.csv": "old"}
    new = {"manifest.json": '{"versions": {"tifa": "new"}}', "data.csv": "new"}
    for step in range(1, steps + 1):
        out = tmp_path / f"step{step}" / "out"
        out.mkdir(parents=True)
        for name, text in old.items():
            (out / name).write_text(text)
        done = subprocess.run(
            [sys.executable, "-c", _SWAP_SCRIPT, str(out), str(step), "1" if exchange else "0"],
            capture_output=True,
            text=True,
            check=False,
        )
        killed = done.returncode == -9
        assert killed or done.returncode == 0, done.stderr
        state = _folder(out)
        if exchange or state is not None:
            assert state in (old, new), (step, state)  # the atomic exchange: never missing
        else:
            assert killed  # only between the two renames of the fallback, and the next run restores it
        prepare_staging(out)  # what the next run does first
        assert _folder(out) in (old, new), (step, _folder(out))
        assert not out.with_name(".out.previous").exists()
        replace_folder(out.with_name(".out.partial"), out)  # an (empty) new run completes


def test_the_output_folder_is_only_replaced_when_tifa_wrote_it(tmp_path: Path) -> None:
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(TifaError, match="E041"):
        check_out_dir(tmp_path / "documents")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(TifaError, match="E040"):
        check_out_dir(tmp_path / "a_file")
    check_out_dir(tmp_path / "new")  # absent: fine
    (tmp_path / "empty").mkdir()
    check_out_dir(tmp_path / "empty")


def test_two_runs_into_one_folder_at_once_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    staging = prepare_staging(out)
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from pipeline.io_utils import prepare_staging; prepare_staging({str(out)!r})",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert other.returncode != 0 and "E042" in other.stderr
    replace_folder(staging, out)
    assert out.is_dir() and not staging.exists()
