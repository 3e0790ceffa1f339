"""Shared passages (pipeline/reuse.py): hand-built inputs, and a brute-force search to agree with."""

from __future__ import annotations

import csv
import itertools
import random

import numpy as np
import pytest

from pipeline import reuse
from pipeline.records import Segment
from pipeline.reuse import shared_passages, write_reuse


def seg(segment_id: str, region: str, year: int | None, text: str) -> Segment:
    return Segment(segment_id, f"{segment_id}.txt", region, "", "", year, text)


# ---------------------------------------------------------------------------------------------
# shared passages

SHARED = "党的二十大报告高屋建瓴、思想深邃，气势恢宏、统揽全局"  # 26 characters
WITHIN = "上海实践上海实践上海实践上海实践上海实践"  # 20 characters, only in 上海


def test_shared_passage_found_across_regions_once_and_maximal() -> None:
    segments = [
        seg("sh", "上海", None, f"我们认为{SHARED}。{WITHIN}"),
        seg("hb", "河北", None, f"大家表示{SHARED}！"),
        seg("sh2", "上海", None, f"另外{WITHIN}。"),
    ]
    rows = shared_passages(segments)
    assert [r.passage for r in rows] == [SHARED]
    row = rows[0]
    assert (row.length, row.regions, row.segments, row.regions_n, row.unattributed) == (
        26,
        ("上海", "河北"),
        ("hb", "sh"),
        2,
        0,
    )


def test_shared_passage_with_unattributed_text_counts_and_two_leads_do_not() -> None:
    clause = "为各地工业和信息化系统今后一段时期工作指明了方向、提供了遵循"
    segments = [
        seg("lead", "", None, f"会议{clause}。"),
        seg("hb", "河北", None, f"报告{clause}！"),
        seg("lead2", "", None, "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"),
        seg("lead3", "", None, "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"),
    ]
    rows = shared_passages(segments)
    assert [(r.passage, r.regions, r.unattributed) for r in rows] == [(clause, ("河北",), 1)]


def test_nested_passage_reported_when_more_regions_share_it() -> None:
    core = "加快建设制造强国、质量强国、网络强国"  # 18 characters, in three regions
    segments = [
        seg("a", "上海", None, f"甲{core}、数字中国。"),
        seg("b", "江苏", None, f"乙{core}、数字中国。"),
        seg("c", "浙江", None, f"丙{core}！"),
    ]
    rows = shared_passages(segments)
    assert [(r.passage, r.regions) for r in rows] == [
        (f"{core}、数字中国。", ("上海", "江苏")),
        (core, ("上海", "江苏", "浙江")),
    ]


def test_punctuation_only_passages_and_short_ones_are_excluded() -> None:
    rule = "——————————————————————"
    segments = [seg("a", "上海", None, f"甲{rule}乙两个确立"), seg("b", "江西", None, f"丙{rule}丁两个确立")]
    assert shared_passages(segments) == []
    assert [r.passage for r in shared_passages(segments, min_chars=4)] == ["两个确立"]
    with pytest.raises(ValueError, match="min_chars"):
        shared_passages(segments, min_chars=0)


def _brute_force(segments: list[Segment], k: int) -> dict[str, frozenset[str]]:
    """Every label-maximal shared passage, by checking all substrings (tiny inputs only)."""

    def labels(sub: str) -> frozenset[str]:
        return frozenset(s.region for s in segments if sub in s.text)

    found = {}
    for s in segments:
        for i in range(len(s.text)):
            for j in range(i + k, len(s.text) + 1):
                sub = s.text[i:j]
                own = labels(sub)
                if sub in found or len(own) < 2:
                    continue
                longer = {
                    t.text[p + d : p + d + len(sub) + 1]
                    for t in segments
                    for p in range(len(t.text))
                    if t.text.startswith(sub, p)
                    for d in (-1, 0)
                    if p + d >= 0 and p + d + len(sub) + 1 <= len(t.text)
                }
                if all(labels(ext) != own for ext in longer):
                    found[sub] = own
    return found


def _agrees_with_brute_force(rng: random.Random, alphabet: str, longest: int, k: int) -> None:
    """2–4 random texts over ``alphabet`` in random regions (or none): the passages brute force finds."""
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, longest))) for _ in range(rng.randint(2, 4))]
    segments = [seg(f"s{i}", rng.choice(["上海", "江西", ""]), None, t) for i, t in enumerate(texts)]
    got = {
        r.passage: frozenset(r.regions) | ({""} if r.unattributed else set())
        for r in shared_passages(segments, min_chars=k)
    }
    assert got == _brute_force(segments, k), segments


def test_shared_passages_agree_with_brute_force() -> None:
    rng = random.Random(4)
    for _ in range(60):
        k = rng.randint(2, 4)
        alphabet = rng.choice(["甲乙", "甲乙丙", "ab"])
        _agrees_with_brute_force(rng, alphabet, 18, k)


def test_shared_passages_deterministic_and_written(tmp_path) -> None:
    segments = [seg("b", "河北", None, f"大家表示{SHARED}！"), seg("a", "上海", None, f"我们认为{SHARED}。")]
    rows = shared_passages(segments)
    assert rows == shared_passages(list(reversed(segments)))
    write_reuse(tmp_path, rows)
    with open(tmp_path / "reuse.csv", encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    assert table[0]["passage"] == SHARED
    assert table[0]["regions"] == "上海;河北"
    assert table[0]["segments"] == "a;b"


# ---------------------------------------------------------------------------------------------
# shared passages: chunks, hash collisions, single characters


def test_running_count_in_chunks_equals_cumsum(monkeypatch) -> None:
    monkeypatch.setattr(reuse, "_CHUNK", 3)
    flags = np.array([True, False, True, True, False, False, True, True])
    assert reuse._running_count(flags, np.int32).tolist() == [0, *np.cumsum(flags).tolist()]
    assert reuse._running_count(flags[:0], np.int32).tolist() == [0]


@pytest.mark.parametrize("chunk", [1, 2, 1 << 20])
def test_shared_passages_in_small_chunks_and_of_single_characters(monkeypatch, chunk: int) -> None:
    monkeypatch.setattr(reuse, "_CHUNK", chunk)  # every chunked loop runs several times
    monkeypatch.setattr(reuse, "_LIST_ROWS", chunk)  # and the interval walk reads the rows in pieces
    rng = random.Random(chunk)
    for _ in range(30):
        k = rng.randint(1, 3)  # k = 1: windows at the end of a segment are eligible
        _agrees_with_brute_force(rng, "甲乙丙", 12, k)


def _four_reports():
    """Four reports sharing a sentence, a passage said within others, and a core list."""
    core = "加快建设制造强国、质量强国、网络强国"
    return core, [
        seg("sh", "上海", None, f"我们认为{SHARED}。{WITHIN}甲{core}、数字中国。"),
        seg("hb", "河北", None, f"大家表示{SHARED}！"),
        seg("js", "江苏", None, f"乙{core}、数字中国。另外{WITHIN}。"),
        seg("zj", "浙江", None, f"丙{core}！"),
    ]


def test_hash_collisions_do_not_change_shared_passages(monkeypatch) -> None:
    core, segments = _four_reports()
    expected = shared_passages(segments)
    assert [r.passage for r in expected] == [SHARED, f"{core}、数字中国。", WITHIN, core]
    monkeypatch.setattr(reuse, "_mix", lambda x: x.fill(0))  # every window hashes alike
    assert shared_passages(segments) == expected  # more text indexed, the same passages


@pytest.mark.parametrize("part_windows", [1, 7])
def test_shared_passages_in_several_passes_are_those_of_one(monkeypatch, part_windows: int) -> None:
    _, segments = _four_reports()
    expected = shared_passages(segments)
    monkeypatch.setattr(reuse, "_PART_WINDOWS", part_windows)  # many passes over the hash space
    monkeypatch.setattr(reuse, "_CHUNK", 5)
    assert shared_passages(segments) == expected
    rng = random.Random(part_windows)
    for _ in range(20):
        _agrees_with_brute_force(rng, "甲乙丙", 12, rng.randint(1, 3))


def test_suffix_array_is_exact_and_leaves_the_process_safe_to_fork() -> None:
    import os
    import threading
    import time

    from pipeline.suffix import suffix_array

    rng = np.random.default_rng(0)
    small = rng.integers(0, 3, 300).astype(np.int32)
    sa, lcp = suffix_array(small)
    expected = sorted(range(len(small)), key=lambda i: small[i:].tolist())
    assert sa.tolist() == expected
    def common_prefix(a: int, b: int) -> int:
        pairs = zip(small[a:].tolist(), small[b:].tolist(), strict=False)
        return next((k for k, (x, y) in enumerate(pairs) if x != y), len(small) - max(a, b))

    common = [0] + [common_prefix(a, b) for a, b in itertools.pairwise(expected)]
    assert lcp.tolist() == common
    # libdivsufsort's OpenMP pool, once started in a process, hangs any child forked after it; tifa
    # forks its stages, so the library runs in an interpreter of its own: search here, in a thread,
    # then in a forked child, which must finish.
    text = rng.integers(0, 50, 50_000).astype(np.int32)
    whole = suffix_array(text)
    worker = threading.Thread(target=suffix_array, args=(text,))
    worker.start()
    worker.join()
    pid = os.fork()
    if pid == 0:
        same = False
        try:
            same = all(np.array_equal(a, b) for a, b in zip(suffix_array(text), whole, strict=True))
        finally:
            os._exit(0 if same else 3)
    deadline = time.monotonic() + 120
    while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if ended[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in the suffix array")
    assert os.waitstatus_to_exitcode(ended[1]) == 0
