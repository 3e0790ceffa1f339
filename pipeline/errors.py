"""Every error a user can cause, in one place, each with a code and what to do about it."""

from __future__ import annotations


class TifaError(Exception):
    """An error the user can fix; the CLI prints it as one line and exits non-zero."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code, self.message = code, message

    def __reduce__(self) -> tuple[type[TifaError], tuple[str, str]]:  # raised in a stage process too
        return type(self), (self.code, self.message)


def model_missing(path: str) -> TifaError:
    return TifaError("E010", f"no segmentation model at {path} — run `make models` (or pass --model DIR)")


def no_inputs(paths: list[str]) -> TifaError:
    return TifaError(
        "E020", f"no readable input among {', '.join(paths)} — give .txt/.md/.jsonl/.csv files or folders"
    )


def input_not_found(path: str) -> TifaError:
    return TifaError("E021", f"input {path} does not exist — check the path")


def bad_config(source: str, key: str, problem: str) -> TifaError:
    return TifaError("E030", f"{source}: setting '{key}' {problem}")


def reference_empty(paths: list[str], skipped: list[str]) -> TifaError:
    why = f" ({'; '.join(skipped[:3])}{' …' if len(skipped) > 3 else ''})" if skipped else ""
    return TifaError(
        "E050",
        f"no readable text in the reference {', '.join(paths)}{why} — give a folder of .txt/.md/.jsonl/.csv "
        "files (with a metadata.csv giving each file's year)",
    )


def reference_overlaps(what: str) -> TifaError:
    return TifaError(
        "E051",
        f"the reference and the corpus overlap: {what} — give the centre's texts apart from the corpus",
    )
