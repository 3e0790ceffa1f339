"""Settings: tifa.toml documents every default; bad settings stop `tifa run` before any work."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, fields
from pathlib import Path

import pytest
from conftest import ROOT

import pipeline.run
from pipeline.cli import main
from pipeline.config import Settings, load_settings
from pipeline.errors import TifaError

EXAMPLE = ROOT / "tifa.toml"


def test_example_file_has_every_key_with_its_default() -> None:
    documented = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    defaults = asdict(Settings())
    missing = sorted(set(defaults) - set(documented))
    unknown = sorted(set(documented) - set(defaults))
    assert not missing, f"add these keys to tifa.toml, with their default and a comment: {missing}"
    assert not unknown, f"tifa.toml has keys Settings does not know: {unknown}"
    assert documented == defaults, "tifa.toml's values must be Settings' defaults"
    assert load_settings(EXAMPLE) == Settings()


def test_example_file_comments_every_key() -> None:
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            assert "#" in line.partition("=")[2], f"no comment on: {line}"


def test_overrides_and_booleans(tmp_path: Path) -> None:
    path = tmp_path / "my.toml"
    path.write_text("min_count = 5\nwrite_report = false\ngraph_window = 'segment'\n", encoding="utf-8")
    settings = load_settings(path, ["min_count=7", "write_texts=no", "max_neighbour_share=0.8"])
    assert (settings.min_count, settings.write_report, settings.write_texts) == (7, False, False)
    assert settings.graph_window == "segment" and settings.max_neighbour_share == 0.8
    assert load_settings(None, ["write_report=TRUE"]).write_report is True
    names = {field.name for field in fields(Settings)}
    assert {"write_report", "write_texts", "report_phrases"} <= names


BAD_FILES = [
    # (file content, words the one-line message must contain)
    ("min_cont = 3\n", ["bad.toml", "min_cont", "unknown", "min_count"]),
    ('min_count = "many"\n', ["bad.toml", "min_count", "integer", "many"]),
    ("min_count = 2.5\n", ["bad.toml", "min_count", "integer"]),
    ("min_chars = 1\n", ["bad.toml", "min_chars", "between 2 and 40"]),
    ("max_neighbour_share = 1.5\n", ["bad.toml", "max_neighbour_share", "between 0 and 1"]),
    ('graph_window = "paragraph"\n', ["bad.toml", "graph_window", "sentence"]),
    ('write_report = "maybe"\n', ["bad.toml", "write_report", "true or false"]),
    ("min_count = = 3\n", ["E033", "bad.toml", "not valid TOML", "line 1"]),
    ("[graph]\ntop_edges = 3\n", ["bad.toml", "graph", "table"]),
    ("min_chars = 30\nmax_chars = 20\n", ["bad.toml", "min_chars", "max_chars"]),
]


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch) -> Path:
    """A readable input, and a pipeline that fails loudly if it is ever started."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("坚持稳中求进工作总基调。", encoding="utf-8")

    def no_work(*args, **kwargs):
        raise AssertionError("the pipeline started despite bad settings")

    monkeypatch.setattr(pipeline.run, "run", no_work)
    return folder


def _fails_cleanly(capsys, argv: list[str], out: Path, words: list[str]) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0
    assert len(lines) == 1, err
    code = next((word for word in words if word.startswith("E0")), "E030")  # E030: a setting's value
    assert lines[0].startswith(f"tifa: error: {code} ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not out.exists() and not out.with_name(f".{out.name}.partial").exists()


@pytest.mark.parametrize(("content", "words"), BAD_FILES, ids=[c.split("=")[0].strip() for c, _ in BAD_FILES])
def test_bad_settings_file(corpus: Path, tmp_path: Path, capsys, content: str, words: list[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    _fails_cleanly(capsys, ["run", str(corpus), "--out", str(out), "--config", str(config)], out, words)


def test_missing_settings_file(corpus: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["run", str(corpus), "--out", str(out), "--config", str(tmp_path / "absent.toml")]
    _fails_cleanly(capsys, argv, out, ["E031", "absent.toml", "not found"])


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("min_count=x", ["--set", "min_count", "integer"]),
        ("nokey=1", ["--set", "nokey", "unknown"]),
        ("min_count", ["--set", "min_count", "key=value"]),
        ("report_phrases=0", ["--set", "report_phrases", "between"]),
    ],
)
def test_bad_override(corpus: Path, tmp_path: Path, capsys, override: str, words: list[str]) -> None:
    out = tmp_path / "out"
    _fails_cleanly(capsys, ["run", str(corpus), "--out", str(out), "--set", override], out, words)


def test_bad_file_is_named_even_with_good_overrides(tmp_path: Path) -> None:
    config = tmp_path / "x.toml"
    config.write_text("n_clusters = -1\n", encoding="utf-8")
    with pytest.raises(TifaError, match=r"x\.toml: setting 'n_clusters' must be between 0 and 1000"):
        load_settings(config, ["min_count=3"])


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"min_chars": 1}, ["E030", "min_chars", "between 2 and 40"]),
        ({"graph_window": "paragraph"}, ["graph_window", "sentence"]),
        ({"n_clusters": True}, ["n_clusters", "integer"]),
        ({"write_report": "maybe"}, ["write_report", "true or false"]),
        ({"min_chars": 30, "max_chars": 20}, ["min_chars", "max_chars"]),
    ],
)
def test_settings_check_themselves_when_built_in_python(values: dict, words: list[str]) -> None:
    with pytest.raises(TifaError) as raised:
        Settings(**values)
    assert all(word in str(raised.value) for word in words), str(raised.value)


def test_settings_built_in_python_store_values_as_a_file_would() -> None:
    settings = Settings(min_cohesion=4, write_texts="no")
    assert settings.min_cohesion == 4.0 and isinstance(settings.min_cohesion, float)
    assert settings.write_texts is False
    assert settings == load_settings(None, ["min_cohesion=4", "write_texts=no"])
