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
import gc
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from pipeline.errors import Errors

Stage = tuple[str, Callable[[], Any]]  # a name and what to run; the result must pickle
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one), at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


class Stages:
    """Stages running in forked processes, at most ``workers`` at once, while this process goes on.

    ``start`` forks a stage at once when a slot is free (else it waits its turn, in order); ``wait``
    returns ``{name: (result, seconds)}`` of every stage started, in the order started. With one
    worker, or where processes cannot be forked, ``start`` runs the stage here and then. A stage's
    exception is raised by ``wait`` (or by a later ``start``), after the running stages are stopped.

    >>> with Stages(workers=2) as stages:  # doctest: +SKIP
    ...     stages.start("reuse", write_reuse)   # runs beside what this process does next
    ...     found = extract_phrases()
    ...     stages.start("graph", lambda: write_graph(found))
    ...     done = stages.wait()
    """

    def __init__(self, workers: int, on_done: Callable[[str, float], None] | None = None) -> None:
        self.workers = workers
        self.on_done = on_done  # told each stage's name and seconds as it finishes (progress lines)
        self.forking = workers > 1 and "fork" in multiprocessing.get_all_start_methods()
        self._context = multiprocessing.get_context("fork") if self.forking else None
        self._parent = os.getpid()
        self._order: list[str] = []
        self._waiting: list[Stage] = []
        self._running: dict[Connection, tuple[str, multiprocessing.process.BaseProcess]] = {}
        self._results: dict[str, tuple[Any, float]] = {}

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()

    def start(self, name: str, task: Callable[[], Any]) -> None:
        self._order.append(name)
        if not self.forking:
            self._results[name] = _timed(task)
            if self.on_done is not None:
                self.on_done(name, self._results[name][1])
            return
        self._waiting.append((name, task))
        self._fill()

    def wait(self) -> dict[str, tuple[Any, float]]:
        try:
            while self._waiting or self._running:
                self._collect(block=True)
                self._fill()
        except BaseException:
            self._stop()
            raise
        return {name: self._results[name] for name in self._order}

    def _fill(self) -> None:
        self._collect(block=False)
        while self._waiting and len(self._running) < self.workers:
            name, task = self._waiting.pop(0)
            # The objects made so far stay out of the collector's passes, here and in the child:
            # a full pass over millions of records costs time and, in a child, copies every page.
            gc.freeze()
            receive, send = self._context.Pipe(duplex=False)  # type: ignore[union-attr]
            process = self._context.Process(  # type: ignore[union-attr]
                target=_child, args=(task, send, self._parent), name=f"tifa-{name}", daemon=True
            )
            process.start()
            send.close()  # the child holds the writing end: end of file here means it is gone
            self._running[receive] = (name, process)

    def _collect(self, *, block: bool) -> None:
        """Take the results of finished stages (waiting for one at least when ``block``)."""
        if not self._running:
            return
        for connection in wait(list(self._running), timeout=None if block else 0):
            name, process = self._running.pop(connection)  # type: ignore[index]
            try:
                status, value, seconds = connection.recv()
            except EOFError:
                process.join()
                self._stop()
                raise Errors.E054(stage=name, exit_code=process.exitcode) from None
            finally:
                connection.close()
            process.join()
            if status == "error":
                self._stop()
                raise value
            self._results[name] = (value, seconds)
            if self.on_done is not None:
                self.on_done(name, seconds)

    def _stop(self) -> None:
        for connection, (_, process) in self._running.items():
            process.kill()
            process.join()
            connection.close()
        self._running.clear()
        self._waiting.clear()


def _timed(task: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = task()
    return value, round(time.perf_counter() - started, 3)


def _child(task: Callable[[], Any], send: Connection, parent: int) -> None:
    die_with_parent(parent)
    _name_process(multiprocessing.current_process().name)
    gc.disable()  # a short-lived stage that builds rows, not cycles: the collector only costs time
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


def _name_process(name: str) -> None:
    """Show the stage's name (``tifa-graph``) as the process's name in ``ps`` and ``/proc/PID/comm``,
    so memory can be told apart per stage (``pipeline.bench``)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: the name stays python
        return


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this (child) process when ``parent``, the process that forked it, dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: the child just finishes
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def release_free_memory() -> None:
    """Give the memory freed since the last call back to the system (glibc's ``malloc_trim``).

    Freed arrays below malloc's mmap threshold, and the pages between live Python objects, stay in
    the process otherwise: after the phrase stage a third of the main process (250 MB at 12 M
    characters), which every stage forked later would sit beside.
    """
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc: nothing to give back this way
        return
