"""Run independent stages side by side in forked processes, so the later stages use every core.

After the phrase stage, comparison, clustering, the graph and the plain outputs need only what is
already in memory and write files of their own: each can run in a child process forked from the main
one (which shares the main process's memory until it is written to) and send back a small result.
What each writes does not depend on which finishes first, so the outputs are the same as a serial run.

A child dies with the main process (``PR_SET_PDEATHSIG``): a killed run leaves no stage still writing
into a staging folder that the next run reuses.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from pipeline.errors import TifaError

Stage = tuple[str, Callable[[], Any]]  # a name and what to run; the result must pickle
_PR_SET_PDEATHSIG = 1


def run_stages(stages: Sequence[Stage], workers: int) -> dict[str, tuple[Any, float]]:
    """Run ``stages``, at most ``workers`` at once; ``{name: (result, seconds)}``.

    Stages start in the order given (put the longest first). With one worker, or where processes
    cannot be forked, they run one after the other in this process. A stage's exception is raised
    here, after the other running stages have been stopped.
    """
    if workers <= 1 or len(stages) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return {name: _timed(task) for name, task in stages}
    context = multiprocessing.get_context("fork")
    parent = os.getpid()
    waiting = list(stages)
    running: dict[Connection, tuple[str, multiprocessing.process.BaseProcess]] = {}
    results: dict[str, tuple[Any, float]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                name, task = waiting.pop(0)
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_child, args=(task, send, parent), name=f"tifa-{name}", daemon=True
                )
                process.start()
                send.close()  # the child holds the writing end: end of file here means it is gone
                running[receive] = (name, process)
            for connection in wait(list(running)):
                name, process = running.pop(connection)  # type: ignore[index]
                try:
                    status, value, seconds = connection.recv()
                except EOFError:
                    process.join()
                    raise TifaError(
                        "E045",
                        f"the {name} stage process died (exit code {process.exitcode}) — out of memory? "
                        "try --workers 1",
                    ) from None
                finally:
                    connection.close()
                process.join()
                if status == "error":
                    raise value
                results[name] = (value, seconds)
    finally:
        for connection, (_, process) in running.items():
            process.kill()
            process.join()
            connection.close()
    return {name: results[name] for name, _ in stages}


def _timed(task: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = task()
    return value, round(time.perf_counter() - started, 3)


def _child(task: Callable[[], Any], send: Connection, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    try:
        value, seconds = _timed(task)
        send.send(("ok", value, seconds))
    except BaseException as exc:  # every failure goes back to the main process
        send.send(("error", _picklable(exc), 0.0))
    finally:
        send.close()
        sys.stdout.flush()
        sys.stderr.flush()


def _picklable(exc: BaseException) -> BaseException:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # an exception that cannot travel becomes its text
        return RuntimeError("".join(traceback.format_exception(exc)).strip())


def _die_with_parent(parent: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: the child just finishes
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
