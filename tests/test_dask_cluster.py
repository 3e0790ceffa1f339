"""A real Dask cluster: ``dask scheduler`` and ``dask worker --nworkers 2`` started as separate
processes, as a research group would start them by hand; the seed run on it gives the local engine's
outputs byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from conftest import SEEDS
from test_scale import SMALL_TASKS, assert_same_outputs

from pipeline.config import Settings
from pipeline.run import run

pytest.importorskip("distributed")

START_SECONDS = 90  # the scheduler's address file and both workers, on a busy machine


def _dask_command(*args: str) -> list[str]:
    """The ``dask`` command of this environment (the script beside the interpreter, else ``python -m dask``)."""
    script = Path(sys.executable).with_name("dask")
    return [str(script), *args] if script.is_file() else [sys.executable, "-m", "dask", *args]


@contextmanager
def _process(command: list[str], log: Path) -> Iterator[subprocess.Popen]:
    """``command`` in a session of its own (its children too), killed with them on exit, whatever happened."""
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _without_address(name: str, data: bytes, address: str) -> bytes:
    """The cluster's outputs with the scheduler setting as the local run's (empty)."""
    if name == "manifest.json":
        manifest = json.loads(data)
        manifest["settings"]["scheduler"] = ""
        return json.dumps(manifest, ensure_ascii=False, indent=2).encode() + b"\n"
    if name == "report.html":
        return data.replace(address.encode(), b"")
    return data


def _wait_for(condition, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            shown = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}" for log in logs)
            pytest.fail(f"the Dask cluster did not start ({what}):\n{shown}")
        time.sleep(0.5)


@pytest.mark.slow
def test_a_cluster_of_separate_processes_gives_the_local_engines_outputs(tmp_path: Path) -> None:
    from distributed import Client

    address_file = tmp_path / "scheduler.json"
    logs = [tmp_path / "scheduler.log", tmp_path / "workers.log"]
    with ExitStack() as stack:
        # --port 0: the scheduler takes a free port and writes its address into the file
        stack.enter_context(
            _process(
                _dask_command(
                    "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(address_file),
                ),
                logs[0],
            )
        )  # fmt: skip
        _wait_for(address_file.is_file, "no scheduler address", logs)
        _wait_for(lambda: json.loads(address_file.read_text() or "{}").get("address"), "no address", logs)
        address = json.loads(address_file.read_text())["address"]
        stack.enter_context(
            _process(
                _dask_command(
                    "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                    "--host", "127.0.0.1", "--local-directory", str(tmp_path / "dask-worker-space"),
                ),
                logs[1],
            )
        )  # fmt: skip
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
            assert len(client.scheduler_info()["workers"]) == 2
        on_cluster = run(
            [str(SEEDS)],
            tmp_path / "cluster",
            Settings(engine="dask", scheduler=address, **SMALL_TASKS),
            progress=False,
        )
    local = run([str(SEEDS)], tmp_path / "local", Settings(engine="local", **SMALL_TASKS), progress=False)
    assert local.segments == on_cluster.segments > 1 and local.sentences == on_cluster.sentences > 10
    assert_same_outputs(
        tmp_path / "local", tmp_path / "cluster", lambda name, data: _without_address(name, data, address)
    )
    manifest = json.loads((tmp_path / "cluster" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["engine"] == "dask" and manifest["settings"]["scheduler"] == address
    shutil.rmtree(tmp_path / "dask-worker-space", ignore_errors=True)
