"""The error catalogue: one code, one meaning, every code used defined once (pipeline/errors.py)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

from conftest import ROOT

from pipeline.errors import Errors, TifaError

PIPELINE = ROOT / "pipeline"
CODE = re.compile(r"\bE\d{3}\b")


def _sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(PIPELINE.glob("*.py"))}


def test_every_code_is_defined_once_with_its_own_message() -> None:
    defined = re.findall(r"^    (E\d{3}) = ", (PIPELINE / "errors.py").read_text(encoding="utf-8"), re.M)
    assert defined == sorted(set(defined)), "a code defined twice, or out of order"
    assert [error.name for error in Errors] == defined  # no alias: @unique refuses equal messages
    assert len({error.value for error in Errors}) == len(defined)


def test_every_code_used_in_the_package_is_in_the_catalogue() -> None:
    defined = {error.name for error in Errors}
    for path, text in _sources().items():
        if path.name == "errors.py":
            continue
        assert set(CODE.findall(text)) <= defined, (path.name, set(CODE.findall(text)) - defined)
        # raise sites take the message from the catalogue: no code written by hand beside a message
        assert not re.search(r"TifaError\(\s*[\"']E\d", text), path.name


def test_every_code_in_the_catalogue_is_raised_somewhere() -> None:
    used = {
        code
        for path, text in _sources().items()
        if path.name != "errors.py"
        for code in re.findall(r"Errors\.(E\d{3})\b", text)
    }
    assert used == {error.name for error in Errors}


def test_the_readme_lists_the_codes_of_the_catalogue() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(E\d{3})` \|", readme, re.M))
    assert table == {error.name for error in Errors}


def test_an_error_is_its_code_and_filled_message_and_travels_between_processes() -> None:
    error = Errors.E021(path="corpus/")
    assert isinstance(error, TifaError) and error.code == "E021"
    assert str(error) == "E021 input corpus/ does not exist — check the path"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message) == (error.code, error.message)
