from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def nlp():
    from pipeline.nlp import load_nlp

    return load_nlp()


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory) -> Path:
    """`tifa run seeds --out out` through the installed console script, once per session, shared by
    the tests that read a whole run's files (read them, never write). One worker, hash seed 1 and a
    cold cache of its own (``cache`` beside ``out``): test_determinism compares it with a warm rerun.
    Its wall time is in ``seconds`` beside ``out``."""
    from pipeline import killtest

    work = tmp_path_factory.mktemp("seed_run")
    command = killtest.tifa_command([SEEDS], work / "out", work / "cache", "--workers", "1")
    (work / "seconds").write_text(str(killtest.run_to_end(command, hash_seed="1")))
    return work / "out"


@pytest.fixture(scope="session")
def seed_segments():
    from pipeline.ingest import ingest

    return ingest([SEEDS]).segments


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test cleanly where the shared data is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data beside the project)")
    return path


def child_outlives_killed_run(script: str, tmp_path: Path) -> bool:
    """Run ``script`` (it writes a child process's pid to the file ``sys.argv[1]``), SIGKILL it once
    the pid is there, and say whether that child is still running 10 s later."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file, program = tmp_path / "child.pid", tmp_path / "run.py"
    program.write_text(script, encoding="utf-8")
    run = subprocess.Popen(
        [sys.executable, str(program), str(pid_file)], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and run.poll() is None, "the child never started"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 10
        while _running(child):
            if time.monotonic() > deadline:
                return True
            time.sleep(0.05)
        return False
    finally:
        run.kill()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (it waits only to be reaped)
