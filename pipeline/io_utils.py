"""File writing at the pipeline's edge: every output is written whole or not at all."""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # not on Windows: runs are then not locked against each other
    fcntl = None  # type: ignore[assignment]


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place.

    A reader (or a run killed mid-write) never sees a half-written file.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_file(path) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """A file opened for writing that appears at ``path`` complete or not at all (written beside it,
    synced, renamed into place; removed on any error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes files private; outputs are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Render rows as CSV text: UTF-8, ``\\n`` line ends, None as an empty cell, floats rounded."""
    rows = list(rows)
    return columns_csv_text(header, list(zip(*rows, strict=True)) if rows else [[] for _ in header])


def columns_csv_text(header: Sequence[str], columns: Sequence[Sequence[Any]]) -> str:
    """``csv_text`` of the table given column by column (equally long columns, in header order)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    # A column of plain cells is written as it is and a column of floats is formatted in one call,
    # instead of a Python step per cell (costly at a million rows).
    writer.writerows(zip(*(_cells(column) for column in columns), strict=True))
    return buffer.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a CSV atomically, with a UTF-8 BOM so Excel shows Chinese intact (pandas and R skip it)."""
    atomic_write(path, "\ufeff" + csv_text(header, rows))


def write_csv_columns(path: Path, header: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
    """``write_csv`` of a table given column by column."""
    atomic_write(path, "\ufeff" + columns_csv_text(header, columns))


# Cells the csv module writes as they should appear (None as an empty cell); floats get 6 digits.
_PLAIN = frozenset({str, int, bool, type(None)})
_SIX_DIGITS = "{:.6g}".format


def _cells(column: Sequence[Any]) -> Sequence[Any]:
    kinds = set(map(type, column))
    if kinds <= _PLAIN:
        return column
    if kinds == {float}:
        return list(map(_SIX_DIGITS, column))
    return [format(value, ".6g") if isinstance(value, float) else value for value in column]


# --------------------------------------------------------------------------- whole output folders
#
# A run builds every file in a staging folder beside ``out/`` (``.out.partial``) and swaps it in at the
# end. On Linux the swap is one atomic renameat2(RENAME_EXCHANGE): there is no moment at which ``out/``
# is missing or mixed, and a kill at any point leaves the previous run or the new one. Where the
# exchange is not available (another OS, a file system without it) the swap is two renames,
# ``out`` → ``.out.previous`` then ``.out.partial`` → ``out``; a run killed between them leaves ``out/``
# missing for a moment, and the next run (or :func:`recover_folder`) puts ``.out.previous`` back first.

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_held_locks: dict[Path, int] = {}


def _sibling(folder: Path, role: str) -> Path:
    return folder.with_name(f".{folder.name}.{role}")


def output_folder(out_dir: Path) -> Path:
    """The folder a run replaces: absolute, and the target when ``out_dir`` is a symbolic link."""
    return Path(os.path.realpath(out_dir))


def check_out_dir(out_dir: Path) -> None:
    """Refuse an ``--out`` that a run must not replace: a file, or a folder holding files tifa did not
    write (``--out ~/Documents`` must never move a user's files away). Raises ``TifaError`` (E040,
    E041, E043)."""
    from pipeline.errors import Errors

    folder = output_folder(out_dir)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise Errors.E040(path=out_dir)
    try:
        entries = sorted(os.listdir(folder))
    except OSError as exc:
        raise Errors.E043(path=out_dir, reason=exc.strerror) from exc
    if not entries or _is_tifa_output(folder):
        return
    shown = ", ".join(entries[:3]) + (" …" if len(entries) > 3 else "")
    raise Errors.E041(path=out_dir, shown=shown)


def _is_tifa_output(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "tifa" in (manifest.get("versions") or {})


def prepare_staging(out_dir: Path) -> Path:
    """An empty staging folder beside ``out_dir``, after recovering from a run killed mid-swap.

    Holds an exclusive lock (``.out.lock``) until :func:`replace_folder`, so two runs writing the same
    ``--out`` at once fail cleanly (E042) instead of mixing their files.
    """
    folder = output_folder(out_dir)
    check_out_dir(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _lock(folder)
    recover_folder(folder)
    staging = staging_folder(folder)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def tidy_beside(out_dir: Path) -> None:
    """Remove what a run killed around its swap left beside ``out_dir`` (its lock, its staging folder,
    the previous outputs) when a rerun keeps the outputs as they are and so does not swap: a
    finished run leaves nothing beside ``out_dir``. Raises E042 while another run is writing there."""
    folder = output_folder(out_dir)
    if not any(_sibling(folder, name).exists() for name in ("lock", "partial", "previous")):
        return
    abandon_staging(prepare_staging(folder), folder)  # locked, recovered, cleared, released


def staging_folder(out_dir: Path) -> Path:
    """Where a run builds its outputs before the swap: ``.NAME.partial`` beside ``out_dir``."""
    return _sibling(output_folder(out_dir), "partial")


def recover_folder(folder: Path) -> None:
    """Finish or undo a swap a killed run left half done; remove what it left beside ``folder``."""
    previous = _sibling(folder, "previous")
    if previous.is_dir():
        if not folder.exists():  # killed between the two renames: the previous run goes back
            os.replace(previous, folder)
        else:  # killed after the swap: the previous run is no longer needed
            shutil.rmtree(previous, ignore_errors=True)


def replace_folder(staging: Path, out_dir: Path) -> None:
    """Put the finished ``staging`` folder in the place of ``out_dir`` in one step, then release the lock."""
    folder = output_folder(out_dir)
    _fsync_dir(staging)
    try:
        if folder.is_dir() and not folder.is_symlink() and _exchange(staging, folder):
            shutil.rmtree(staging, ignore_errors=True)  # it now holds the previous run
        else:
            previous = _sibling(folder, "previous")
            shutil.rmtree(previous, ignore_errors=True)
            if folder.exists():
                os.replace(folder, previous)
            os.replace(staging, folder)
            shutil.rmtree(previous, ignore_errors=True)
        _fsync_dir(folder.parent)
    finally:
        _unlock(folder)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc before 2.28, musl
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(error, os.strerror(error), str(a))


def _lock(folder: Path) -> None:
    from pipeline.errors import Errors

    _unlock(folder)  # a run in this process that failed before its swap left it held
    if fcntl is None:
        return
    path = _sibling(folder, "lock")
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise Errors.E042(path=folder) from exc
        try:  # the lock file is removed when a run ends: a lock on a removed file locks nothing
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    _held_locks[folder] = fd


def _unlock(folder: Path) -> None:
    """Release the lock on ``folder`` and remove its lock file (while still holding it)."""
    fd = _held_locks.pop(folder, None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.unlink(_sibling(folder, "lock"))
        os.close(fd)


def abandon_staging(staging: Path, out_dir: Path) -> None:
    """Remove the staging folder of a run that stopped before its swap and release its lock: a
    failed or interrupted run leaves nothing beside ``out_dir``. Only the process holding the lock
    does so (another run may be writing there)."""
    folder = output_folder(out_dir)
    if fcntl is None or folder in _held_locks:
        shutil.rmtree(staging, ignore_errors=True)
        _unlock(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
