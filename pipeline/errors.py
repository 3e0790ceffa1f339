"""Every error a user can cause, in one place: one code, one meaning, each with what to do about it.

The catalogue is :class:`Errors` (as in spaCy's ``Errors``): every code is defined once, with its
message template; a raise site fills the template in::

    raise Errors.E021(path=path)  # TifaError: "E021 input corpus/ does not exist — check the path"

Codes are grouped by tens: E01x the model, E02x inputs, E03x settings, E04x the output folder,
E05x the processes doing the work, E06x the look-ups on a finished run (``tifa kwic`` …), E07x
the reference corpus, E08x maps.
``tests/test_errors.py`` keeps the codes unique and every code used in ``pipeline/`` defined here.
"""

from __future__ import annotations

from enum import Enum, unique


class TifaError(Exception):
    """An error the user can fix; the CLI prints it as one line and exits non-zero."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message = code, message

    def __reduce__(self) -> tuple[type[TifaError], tuple[str, str]]:  # raised in a stage process too
        return type(self), (self.code, self.message)


@unique  # two codes with the same message would be one meaning under two codes
class Errors(Enum):
    """The catalogue: code → message template (``str.format`` fields filled in by the raise site)."""

    # the segmentation model
    E010 = "no segmentation model at {path} — run `make models` (or pass --model DIR, or set $TIFA_MODEL)"
    E011 = "the model at {path} cannot be loaded ({reason}) — rebuild it with `make models`"
    # inputs
    E020 = "no readable input among {paths} — give .txt/.md/.jsonl/.csv files or folders"
    E021 = "input {path} does not exist — check the path"
    E022 = "cannot read the phrase list {path} ({reason}) — give a UTF-8 text file"
    # settings
    E030 = "{source}: setting '{key}' {problem}"
    E031 = "settings file {path} not found — check the path given to --config"
    E032 = "cannot read settings file {path} ({reason})"
    E033 = "{path}: not valid TOML ({reason}) — see tifa.toml for the format"
    E034 = "Parquet tables need pyarrow — pip install pyarrow (or pip install -e '.[parquet]')"
    # the output folder (--out)
    E040 = "--out {path} is a file, not a folder — give a folder for the outputs"
    E041 = (
        "--out {path} holds files tifa did not write ({shown}); a run replaces its output folder "
        "whole — give a new or empty folder"
    )
    E042 = "another tifa run is writing {path} — wait for it or give another --out"
    E043 = "--out {path} cannot be read ({reason}) — choose another"
    # the processes doing the work
    E050 = "unknown engine '{engine}' — use one of {choices}"
    E051 = "a segmentation worker died ({reason}) — out of memory? try fewer --workers"
    E052 = "--engine dask needs dask.distributed: pip install 'dask[distributed]'"
    E053 = "cannot reach the Dask scheduler at {address} ({reason}) — is it running?"
    E054 = "the {stage} stage process died (exit code {exit_code}) — out of memory? try --workers 1"
    # look-ups on a finished run: tifa kwic, tifa phrases, tifa regions, tifa report
    E060 = "no {name} in {path} — run `tifa run INPUT... --out {path}` first (or pass --out DIR)"
    E061 = (
        "the run in {path} did not save its texts (write_texts = false) — "
        "give the INPUT files to search, or run again with --set write_texts=true"
    )
    E062 = "{path}: line {line} is not a segment record ({reason}) — rerun `tifa run`"
    E063 = "unknown region '{name}' — use a province-level name such as 上海 or 内蒙古{hint}"
    E064 = "give a phrase to look for, e.g. tifa kwic 四个意识"
    E065 = "no text from {region} in the last run ({path}){hint}"
    E066 = (
        "{word} is neither a file nor a folder to search — a phrase with a space goes in quotes: "
        'tifa kwic "{phrase} {word}"'
    )
    E067 = (
        "unknown or ambiguous city '{name}' in a city-level run — use a city (三明, 三明市, 大理州, "
        "350400) or a province{hint}"
    )

    # the reference corpus (--reference)
    E070 = (
        "no readable text in the reference {paths}{why} — give a folder of .txt/.md/.jsonl/.csv "
        "files (with a metadata.csv giving each file's year)"
    )
    E071 = "the reference and the corpus overlap: {what} — give the centre's texts apart from the corpus"
    # maps (tifa map, the report's maps)
    E080 = "no maps: {reason}"
    E081 = (
        "'{phrase}' is not a phrase of the run in {path} — `tifa phrases` lists them "
        "(`tifa run --phrases FILE` counts your own)"
    )
    E082 = (
        "{path} has no city_code column — the run was not made at city level; "
        "use --level province (or run again with the city gazetteer, --level city)"
    )
    E083 = "no texts of {year} in {path} (years: {have}) — pick one of the run's years"
    E084 = "the texts of {path} have no years — a first-year map needs them"
    E085 = "{path} has no column '{column}' (it has: {have}) — pick one with --column"
    E086 = "no {name} in {path} — it is written by a run with a reference corpus"
    E087 = "give a phrase for --kind {kind}, e.g. tifa map 一带一路 --kind {kind}"

    def __call__(self, **fields: object) -> TifaError:
        """The error with this code, its template filled with ``fields``."""
        return TifaError(self.name, self.value.format(**fields))
