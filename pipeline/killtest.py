"""Kill test: SIGKILL ``tifa run`` at chosen moments and check that ``out/`` is always whole.

    python -m pipeline.killtest CORPUS [--previous SMALL_CORPUS] [--at 0.05 0.3 ...] [--work DIR]

1. ``--previous`` (default: the seed article) is run into ``out/``: that is the previous complete run, A.
2. ``CORPUS`` is run once, uninterrupted, into a reference folder: the new complete run, B.
3. For each moment (a fraction of B's run time, seconds, or "when the staging folder holds N files",
   which reaches the file writing and the swap itself): ``out/`` is reset to A,
   the cache emptied, ``tifa run CORPUS --out out`` started and SIGKILLed at that moment. ``out/`` must
   then be A or B, byte for byte (manifest timings aside), never missing and never a mix. Then the run
   is repeated to the end, and ``out/`` must be B.

Every run gets the same ``PYTHONHASHSEED``, so what is compared is the effect of the kill alone. The
functions here are also used by the fast version in ``tests/test_determinism.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

Snapshot = dict[str, bytes]

HASH_SEED = "0"


def snapshot(folder: Path) -> Snapshot | None:
    """Every file under ``folder`` (relative path → bytes), manifest timings taken out; None if absent."""
    if not folder.is_dir():
        return None
    files: Snapshot = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "manifest.json" and path.parent == folder:
                data = without_timings(data)
            files[str(path.relative_to(folder))] = data
    return files


def without_timings(manifest: bytes) -> bytes:
    document = json.loads(manifest)
    document.pop("timings", None)
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode()


def differences(a: Snapshot, b: Snapshot) -> list[str]:
    """Files present in one only, or with different bytes."""
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


def tifa_command(inputs: list[Path], out: Path, cache: Path, *extra: str) -> list[str]:
    tifa = Path(sys.executable).with_name("tifa")
    command = [str(tifa)] if tifa.exists() else [sys.executable, "-m", "pipeline.cli"]
    return [
        *command,
        "run",
        *map(str, inputs),
        "--out",
        str(out),
        "--quiet",
        "--set",
        f"cache_dir={cache}",
        *extra,
    ]


def environment(hash_seed: str = HASH_SEED) -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": hash_seed}


def run_to_end(command: list[str], *, hash_seed: str = HASH_SEED) -> float:
    """Run a command to completion; return its wall time. Raises if it fails."""
    started = time.perf_counter()
    completed = subprocess.run(
        command, env=environment(hash_seed), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr}")
    return time.perf_counter() - started


@dataclass(frozen=True)
class Kill:
    after: float  # seconds after the start
    staging_files: int  # files in the staging folder at the moment of the kill (-1: no staging folder)
    finished_first: bool  # the run ended before the kill came
    state: str  # what out/ held afterwards: "previous", "new", "missing" or "MIXED"
    rerun_same: bool | None  # the completed rerun equals the uninterrupted run
    leftovers: tuple[str, ...]  # staging or previous folders left after the rerun
    orphans: int = 0  # worker processes the killed run left running


def kill_at(
    command: list[str], after: float, out: Path, *, hash_seed: str = HASH_SEED, when_staged: int = 0
) -> tuple[int, bool, int]:
    """Start ``command`` and SIGKILL it ``after`` seconds later — or, with ``when_staged``, as soon as
    its staging folder holds that many files (``after`` is then only a ceiling).

    Returns (files in the staging folder at the kill or -1, whether the run ended first, worker
    processes the killed run left behind). Those orphans are killed here, by their ids.
    """
    staging = out.with_name(f".{out.name}.partial")
    process = subprocess.Popen(
        command, env=environment(hash_seed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + after
    while True:
        if process.poll() is not None:
            return -1, True, 0
        staged = _staged(staging)
        if time.monotonic() >= deadline or (when_staged and staged >= when_staged):
            break
        time.sleep(0.002 if when_staged else 0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.5)
    orphans = _orphans(command)
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    return staged, False, len(orphans)


def _staged(staging: Path) -> int:
    """Finished files in the staging folder (temporary ``.name.tmp`` files not counted), -1 if none."""
    try:
        return sum(not name.startswith(".") for name in os.listdir(staging))
    except OSError:
        return -1


def _orphans(command: list[str]) -> list[int]:
    """Processes running ``command`` whose parent is gone (re-parented to init): left-over workers."""
    wanted = "\0".join(command[1:]).encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().rstrip(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == 1 and cmdline.endswith(wanted):
            found.append(int(entry.name))
    return found


def classify(state: Snapshot | None, previous: Snapshot, new: Snapshot) -> str:
    if state is None:
        return "missing"
    if state == previous:
        return "previous"
    if state == new:
        return "new"
    return "MIXED"


def leftovers(out: Path) -> tuple[str, ...]:
    """What runs left beside ``out`` (staging, previous, lock): nothing once a run has finished."""
    return tuple(sorted(path.name for path in out.parent.iterdir() if path.name.startswith(f".{out.name}.")))


def kill_test(
    corpus: list[Path],
    previous_corpus: list[Path],
    work: Path,
    moments: list[str],
    *,
    extra: tuple[str, ...] = (),
    log=print,
) -> tuple[float, list[Kill]]:
    """Run the whole test in ``work``; return the uninterrupted run time and one ``Kill`` per moment.

    A moment is a fraction of the uninterrupted run time (``0.3``), seconds (``12s``), or the moment
    the staging folder holds N finished files (``files:20``).
    """
    out, cache = work / "out", work / "cache"
    saved_previous, reference = work / "previous", work / "reference"
    for folder in (out, cache, saved_previous, reference):
        shutil.rmtree(folder, ignore_errors=True)
    run_to_end(tifa_command(previous_corpus, saved_previous, cache, *extra))
    previous = snapshot(saved_previous)
    shutil.rmtree(cache, ignore_errors=True)
    seconds = run_to_end(tifa_command(corpus, reference, cache, *extra))
    new = snapshot(reference)
    assert previous is not None and new is not None
    log(
        f"previous run: {len(previous)} files; uninterrupted run: {seconds:.1f} s, {len(new)} files",
        flush=True,
    )
    kills = []
    for moment in moments:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(saved_previous, out)
        shutil.rmtree(cache, ignore_errors=True)  # each killed run starts as cold as the reference
        command = tifa_command(corpus, out, cache, *extra)
        when_staged = int(moment.split(":")[1]) if moment.startswith("files:") else 0
        if when_staged:
            after = seconds * 3
        elif moment.endswith("s"):
            after = float(moment[:-1])
        else:
            after = float(moment) * seconds
        started = time.monotonic()
        staged, finished, orphans = kill_at(command, after, out, when_staged=when_staged)
        after = time.monotonic() - started
        state = classify(snapshot(out), previous, new)
        run_to_end(command)
        rerun = snapshot(out)
        kill = Kill(after, staged, finished, state, rerun == new, leftovers(out), orphans)
        log(
            f"{moment:>9}: killed at {after:6.1f} s (staging files: {staged:>3}): out/ = {state:8} "
            f"rerun identical: {kill.rerun_same}  leftovers: {list(kill.leftovers)}  orphans: {orphans}",
            flush=True,
        )
        kills.append(kill)
    return seconds, kills


@dataclass(frozen=True)
class Resume:
    uninterrupted: float  # seconds of the cold run, uninterrupted
    uninterrupted_nlp: float  # its segmentation's seconds
    killed_after: float  # seconds from the start of the killed run to the kill
    killed_at: str  # the killed run's last progress line
    resumed: float  # seconds of the resumed run, start to end
    resumed_nlp: float  # its segmentation's seconds
    resumed_line: str  # its line "N segments segmented, M read from the cache"
    same: bool  # the resumed run's outputs are the uninterrupted run's


def resume_test(inputs: list[Path], work: Path, share: float = 0.5) -> Resume:
    """Kill a cold run when its segmentation has done ``share`` of the characters, run it again with
    the same cache, and time both against an uninterrupted cold run (the outputs must be the same)."""

    def nlp_seconds(out: Path) -> float:
        return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["timings"]["nlp"]

    def shown(command: list[str]) -> list[str]:  # progress lines on stderr
        return [part for part in command if part != "--quiet"]

    progress = {**environment(), "TIFA_PROGRESS": "1"}
    for name in ("cache", "cache-cold", "out-cold", "out-resume"):
        shutil.rmtree(work / name, ignore_errors=True)
    cold = run_to_end(tifa_command(inputs, work / "out-cold", work / "cache"))
    (work / "cache").rename(work / "cache-cold")  # the same cache_dir setting, empty again
    command = shown(tifa_command(inputs, work / "out-resume", work / "cache"))
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=progress, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    last = ""
    for line in process.stderr:  # type: ignore[union-attr]
        if line.startswith("tifa: [") and " segmentation " in line and "%" in line:
            last = line.strip()
            if int(last.split(" segmentation ")[1].split("%")[0]) >= 100 * share:
                process.send_signal(signal.SIGKILL)
                break
    killed_after = time.perf_counter() - started
    process.wait()
    process.stderr.close()  # type: ignore[union-attr]
    started = time.perf_counter()
    completed = subprocess.run(command, env=progress, capture_output=True, text=True, check=True)
    resumed = time.perf_counter() - started
    line = next((x for x in completed.stderr.splitlines() if "read from the cache" in x), "")
    return Resume(
        uninterrupted=cold,
        uninterrupted_nlp=nlp_seconds(work / "out-cold"),
        killed_after=killed_after,
        killed_at=last,
        resumed=resumed,
        resumed_nlp=nlp_seconds(work / "out-resume"),
        resumed_line=line.strip(),
        same=not differences(snapshot(work / "out-cold") or {}, snapshot(work / "out-resume") or {}),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.killtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, nargs="+")
    parser.add_argument("--previous", type=Path, nargs="+", default=[Path("seeds")])
    parser.add_argument(
        "--at",
        nargs="+",
        default=["0.02", "0.1", "0.3", "0.5", "0.7", "0.9", "files:1", "files:12", "files:24", "files:26"],
        help="moments: a fraction of the uninterrupted run time, seconds (12s), or files:N (when the "
        "staging folder holds N finished files)",
    )
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument(
        "--resume",
        type=float,
        metavar="SHARE",
        help="instead: kill a cold run when segmentation has done SHARE (0.5) of the characters, run it "
        "again on the same cache, and time both against an uninterrupted cold run",
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="tifa-killtest-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.resume is not None:
        found = resume_test(args.corpus, work, args.resume)
        print(
            f"uninterrupted cold run   {found.uninterrupted:8.1f} s (segmentation {found.uninterrupted_nlp:.1f} s)"
        )
        print(f"killed after             {found.killed_after:8.1f} s   last line: {found.killed_at}")
        print(
            f"resumed run              {found.resumed:8.1f} s (segmentation {found.resumed_nlp:.1f} s)   {found.resumed_line}"
        )
        print(f"killed + resumed         {found.killed_after + found.resumed:8.1f} s")
        print(f"resumed outputs = uninterrupted outputs: {found.same}")
        return 0 if found.same else 1
    seconds, kills = kill_test(args.corpus, args.previous, work, args.at)
    print()
    print(
        "| kill after | staging files | out/ after the kill | rerun = uninterrupted | leftovers | orphaned workers |"
    )
    print("|---|---|---|---|---|---|")
    for kill in kills:
        moment = f"{kill.after:.1f} s ({kill.after / seconds:.0%})" + (
            " (the run had ended)" if kill.finished_first else ""
        )
        staged = "none yet" if kill.staging_files < 0 else str(kill.staging_files)
        print(
            f"| {moment} | {staged} | {kill.state} | {kill.rerun_same} | {', '.join(kill.leftovers) or '—'} "
            f"| {kill.orphans} |"
        )
    bad = [
        kill
        for kill in kills
        if kill.state not in ("previous", "new") or not kill.rerun_same or kill.leftovers or kill.orphans
    ]
    print(f"\n{len(kills)} kills, {len(bad)} bad; uninterrupted run {seconds:.1f} s; work folder {work}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
