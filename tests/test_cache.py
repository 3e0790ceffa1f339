"""The NLP cache: what a rerun reuses, and what invalidates it."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline import cache as nlp_cache
from pipeline.cache import NlpCache, decode, encode, fingerprint
from pipeline.config import Settings
from pipeline.engine import analyse, analyse_corpus
from pipeline.model import DEFAULT_MODEL
from pipeline.records import Analysis, Segment

TEXTS = [
    "我们要深刻领悟“两个确立”的决定性意义。\n推动制造业高端化、智能化、绿色化发展。",
    "增强“四个意识”、坚定“四个自信”、做到“两个维护”。",
    "没有规则的一句话。",
]


def _segments(texts: list[str]) -> list[Segment]:
    return [
        Segment(segment_id=f"s{n}", source="t", region="上海", speaker="", title="", year=None, text=text)
        for n, text in enumerate(texts)
    ]


def _records(result):
    return (
        [(s.segment_id, s.index, s.start, s.end, s.text, s.tokens) for s in result.sentences],
        [(s.segment_id, s.sentence_index, s.start, s.end, s.label, s.text) for s in result.spans],
    )


@pytest.fixture()
def store(tmp_path: Path) -> NlpCache:
    return NlpCache.open(directory=tmp_path / "cache")


def test_entries_round_trip_and_bad_ones_read_as_missing(nlp, store: NlpCache) -> None:
    text = TEXTS[0]
    result = analyse(_segments([text]), nlp, cache=store)
    key = store.key(text)
    stored = store.get(key, len(text))
    assert stored is not None and stored.labels and len(stored.tokens) > 5
    again = decode(encode(stored, len(text)), len(text))
    for name in ("sentences", "tokens", "sentence_tokens", "spans"):
        assert np.array_equal(getattr(again, name), getattr(stored, name))
    assert store.get(key, len(text) + 1) is None  # an entry for a text of another length is not trusted
    store.path(key).write_bytes(store.path(key).read_bytes()[:-7])
    assert store.get(key, len(text)) is None
    rerun = analyse(_segments([text]), nlp, cache=store)  # a broken entry is processed again
    assert rerun.processed == 1 and _records(rerun) == _records(result)
    assert store.get(key, len(text)) is not None


def test_a_rerun_processes_only_new_or_changed_texts(nlp, store: NlpCache) -> None:
    first = analyse(_segments(TEXTS), nlp, cache=store)
    assert (first.processed, first.cached) == (3, 0)
    warm = analyse(_segments(TEXTS), nlp, cache=store, workers=2)
    assert (warm.processed, warm.cached) == (0, 3)
    assert _records(warm) == _records(first)
    changed = [*TEXTS[:2], TEXTS[2] + "新增一句：“两个确立”。", "全新的文档。"]
    partly = analyse(_segments(changed), nlp, cache=store)
    assert (partly.processed, partly.cached) == (2, 2)
    assert _records(partly) == _records(analyse(_segments(changed), nlp))


def test_repeated_texts_are_processed_once(nlp, store: NlpCache) -> None:
    result = analyse(_segments([TEXTS[0], TEXTS[1], TEXTS[0]]), nlp, cache=store)
    assert (result.processed, result.cached) == (2, 1)
    sentences = _records(result)[0]
    assert [s[1:] for s in sentences if s[0] == "s0"] == [s[1:] for s in sentences if s[0] == "s2"]


def _fake_model(root: Path) -> Path:
    model = root / "model"
    (model / "tokenizer" / "pkuseg_model").mkdir(parents=True)
    (model / "config.cfg").write_text("[nlp]\nlang = zh\n")
    (model / "meta.json").write_text('{"name": "m", "version": "1"}')
    (model / "tokenizer" / "pkuseg_processors").write_text("user dict: 两个确立", encoding="utf-8")
    (model / "tokenizer" / "pkuseg_model" / "weights.npz").write_bytes(b"\x00" * 64)
    return model


def test_fingerprint_follows_the_model_and_output_settings_only(tmp_path: Path) -> None:
    model = _fake_model(tmp_path)
    base = fingerprint(model, {"chunk_chars": 4000})
    assert fingerprint(model, {"chunk_chars": 4000}) == base
    assert fingerprint(model, {"chunk_chars": 2000}) != base
    copy = shutil.copytree(model, tmp_path / "elsewhere")
    assert fingerprint(copy, {"chunk_chars": 4000}) == base  # contents count, not place or time
    (model / "tokenizer" / "pkuseg_processors").write_text("user dict: 两个确立\n四个意识", encoding="utf-8")
    changed_dict = fingerprint(model, {"chunk_chars": 4000})
    assert changed_dict != base
    (model / "meta.json").write_text('{"name": "m", "version": "2"}')
    assert fingerprint(model, {"chunk_chars": 4000}) not in {base, changed_dict}


def test_settings_that_do_not_change_output_share_the_cache(tmp_path: Path) -> None:
    from pipeline.nlp import OUTPUT_SETTINGS

    assert set(OUTPUT_SETTINGS) == {"chunk_chars"}
    output = {
        name: getattr(Settings(workers=1, batch_size=3, engine="dask"), name) for name in OUTPUT_SETTINGS
    }
    assert output == {name: getattr(Settings(), name) for name in OUTPUT_SETTINGS}


def test_a_changed_output_setting_misses_and_a_changed_model_file_misses(nlp, tmp_path: Path) -> None:
    segments = _segments(TEXTS[:2])
    settings = Settings(workers=1, cache_dir=str(tmp_path / "c"))
    assert analyse_corpus(segments, settings).processed == 2
    assert (
        analyse_corpus(segments, Settings(workers=2, batch_size=1, cache_dir=str(tmp_path / "c"))).cached == 2
    )
    assert (
        analyse_corpus(
            segments, Settings(workers=1, chunk_chars=500, cache_dir=str(tmp_path / "c"))
        ).processed
        == 2
    )
    model = shutil.copytree(DEFAULT_MODEL, tmp_path / "model", ignore=shutil.ignore_patterns("pkuseg_model"))
    (model / "tokenizer" / "pkuseg_model").symlink_to(DEFAULT_MODEL / "tokenizer" / "pkuseg_model")
    assert analyse_corpus(segments, settings, model_dir=model).cached == 2  # same contents: same entries
    meta = model / "meta.json"
    meta.write_text(meta.read_text(encoding="utf-8").replace('"version":"0.0.0"', '"version":"0.0.1"'))
    assert analyse_corpus(segments, settings, model_dir=model).processed == 2


def test_cache_off_writes_nothing(nlp, tmp_path: Path) -> None:
    result = analyse_corpus(
        _segments(TEXTS[:1]), Settings(workers=1, cache=False, cache_dir=str(tmp_path / "c"))
    )
    assert result.processed == 1 and not (tmp_path / "c").exists()


def test_default_location_is_beside_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIFA_CACHE_DIR", raising=False)
    assert nlp_cache.default_dir(DEFAULT_MODEL) == DEFAULT_MODEL.parent / ".cache" / "nlp"
    monkeypatch.setenv("TIFA_CACHE_DIR", str(tmp_path / "mine"))
    assert nlp_cache.default_dir(DEFAULT_MODEL) == tmp_path / "mine"


def test_cache_location_is_git_ignored() -> None:
    ignored = (Path(__file__).resolve().parent.parent / ".gitignore").read_text(encoding="utf-8").split()
    assert "models/.cache/" in ignored


def test_empty_analysis_round_trips() -> None:
    empty = Analysis.empty()
    again = decode(encode(empty, 3), 3)
    assert again.sentences.shape == (0, 2) and again.spans.shape == (0, 3) and again.labels == ()


def test_cli_flags_reach_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pipeline import cli, run

    seen = {}

    def fake_run(inputs, out_dir, settings, **_):
        seen["settings"] = settings
        return SimpleNamespace(problems=())  # --quiet: the CLI reads nothing else

    monkeypatch.setattr(run, "run", fake_run)
    assert cli.main(["run", "x", "--out", str(tmp_path), "--quiet", "--no-cache", "--workers", "3"]) == 0
    assert (seen["settings"].cache, seen["settings"].workers, seen["settings"].engine) == (False, 3, "local")
    assert (
        cli.main(["run", "x", "--out", str(tmp_path), "--quiet", "--scheduler", "tcp://127.0.0.1:8786"]) == 0
    )
    assert (seen["settings"].engine, seen["settings"].scheduler, seen["settings"].cache) == (
        "dask",
        "tcp://127.0.0.1:8786",
        True,
    )


@pytest.mark.slow
def test_tifa_run_fills_the_cache_only_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from conftest import SEEDS

    from pipeline import cli

    monkeypatch.setenv("TIFA_CACHE_DIR", str(tmp_path / "cache"))
    base = ["run", str(SEEDS), "--quiet", "--workers", "1", "--set", "write_report=false"]
    assert cli.main([*base, "--out", str(tmp_path / "a"), "--no-cache"]) == 0
    assert not (tmp_path / "cache").exists()
    assert cli.main([*base, "--out", str(tmp_path / "b")]) == 0
    assert len(list((tmp_path / "cache").rglob("*.nlp"))) > 1
    assert (tmp_path / "a" / "phrases.csv").read_bytes() == (tmp_path / "b" / "phrases.csv").read_bytes()


def test_only_the_latest_versions_are_kept(tmp_path: Path) -> None:
    model = _fake_model(tmp_path)
    versions = []
    for chunk in range(nlp_cache.KEEP_VERSIONS + 2):
        store = NlpCache.open(model, {"chunk_chars": 1000 + chunk}, tmp_path / "c")
        store.put(store.key("文本"), Analysis.empty(), 2)
        versions.append(store.root)
    (tmp_path / "c" / "not-a-version").mkdir()
    NlpCache.open(model, {"chunk_chars": 1000}, tmp_path / "c")  # the oldest, used again
    kept = {path.name for path in (tmp_path / "c").iterdir()}
    assert versions[0].name in kept and versions[-1].name in kept and "not-a-version" in kept
    assert len(kept) == nlp_cache.KEEP_VERSIONS + 1


def test_run_key_follows_tifa_model_like_the_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Switching models with $TIFA_MODEL changes the run key, so a rerun does not keep stale outputs."""
    from pipeline.ingest import ingest
    from pipeline.model import model_path
    from pipeline.run import run_key

    corpus = tmp_path / "2016_上海.txt"
    corpus.write_text("我们要深刻领悟“两个确立”的决定性意义。", encoding="utf-8")
    ingested = ingest([corpus])
    monkeypatch.delenv("TIFA_MODEL", raising=False)
    default = run_key(ingested, Settings(), (), None)
    model = tmp_path / "model"  # another model: run_key only fingerprints its files
    model.mkdir()
    (model / "meta.json").write_text('{"name": "other", "version": "0.0.1"}', encoding="utf-8")
    monkeypatch.setenv("TIFA_MODEL", str(model))
    assert model_path() == model
    assert run_key(ingested, Settings(), (), None) != default
    assert run_key(ingested, Settings(), (), None) == run_key(ingested, Settings(), (), model)
    monkeypatch.delenv("TIFA_MODEL")
    assert run_key(ingested, Settings(), (), None) == default


def test_an_installed_package_finds_the_model_built_in_the_project_folder(tmp_path, monkeypatch) -> None:
    """After `pip install .` the package has no models/ beside it: the project folder's model is used
    when the command runs there, $TIFA_MODEL and an explicit folder still come first."""
    from pipeline import model

    built = tmp_path / "models" / "zh_pkuseg"
    built.mkdir(parents=True)
    (built / "config.cfg").write_text("[nlp]\n", encoding="utf-8")
    monkeypatch.setattr(model, "DEFAULT_MODEL", tmp_path / "site-packages" / "models" / "zh_pkuseg")
    monkeypatch.delenv("TIFA_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert model.model_path() == built.resolve()
    monkeypatch.setenv("TIFA_MODEL", "/elsewhere/zh")
    assert model.model_path() == Path("/elsewhere/zh")
    monkeypatch.chdir(tmp_path / "models")  # nothing built here: the default, which E010 names
    monkeypatch.delenv("TIFA_MODEL")
    assert model.model_path() == model.DEFAULT_MODEL
