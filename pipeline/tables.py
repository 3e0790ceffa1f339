"""The large tables of ``out/`` as CSV or Parquet, written and read in chunks.

``hits``, ``in_word_hits``, ``adoption``, ``phrases``, ``segments`` and ``texts`` are written as
``NAME.csv`` (``texts.jsonl``) by default, or as ``NAME.parquet`` with ``--set table_format=parquet``
(pyarrow, the ``parquet`` extra). Parquet keeps types (``year`` an integer column with nulls,
``per_10k`` a float64 with all its digits), is compressed, and pandas, R (arrow) and DuckDB read it
directly; the other CSVs of a run stay CSV.

Writers take the table as chunks of columns and write each chunk as it comes (a Parquet row group,
or the CSV lines of those rows), so a table of tens of millions of rows never exists as one string.
CSV output is byte for byte what ``io_utils.write_csv`` writes.

Readers find either form: ``locate(out / "hits.csv")`` is ``hits.csv`` when it exists, else
``hits.parquet``; ``read_rows`` yields the rows of either as the ``csv`` module would (every value a
string, empty for a null, floats with 6 significant digits as in the CSV).

>>> write_columns(Path("t.csv"), ["a", "b"], [[[1, 2], ["x", None]]])  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from pipeline.errors import Errors
from pipeline.io_utils import _cells, atomic_file

FORMATS = ("csv", "parquet")
CHUNK_ROWS = 200_000  # rows per chunk (CSV lines rendered at once; a Parquet row group)

# Columns that are not strings, per table (every other column is a string column).
_INT, _FLOAT = "int64", "float64"
SCHEMAS: dict[str, dict[str, str]] = {
    "hits": {"year": _INT, "sentence_index": _INT, "start": _INT, "end": _INT},
    "in_word_hits": {"year": _INT, "sentence_index": _INT, "start": _INT, "end": _INT},
    "adoption": {"year": _INT, "count": _INT, "per_10k": _FLOAT, "chars": _INT},
    "phrases": {
        "count": _INT,
        "segments": _INT,
        "regions_n": _INT,
        "rank": _INT,
        "score": _FLOAT,
        "cohesion": _FLOAT,
        "in_word": _INT,
    },
    "segments": {"year": _INT, "chars": _INT, "sentences": _INT},
    "texts": {"year": _INT},
}


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise Errors.E034() from None
    return pa, pq


def check_format(table_format: str) -> None:
    """Raise E034 when ``table_format`` is parquet and pyarrow is missing (before any work starts)."""
    if table_format == "parquet":
        _pyarrow()


def path_for(path: Path, table_format: str) -> Path:
    """Where a table named by its CSV (or JSONL) path is written in ``table_format``."""
    return Path(path).with_suffix(".parquet") if table_format == "parquet" else Path(path)


def locate(path: Path) -> Path:
    """``path`` when it exists, else the Parquet file of the same table when that exists, else ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    parquet = path.with_suffix(".parquet")
    return parquet if parquet.is_file() else path


def chunked(columns: Sequence[Sequence[Any]], size: int = CHUNK_ROWS) -> Iterator[list[Sequence[Any]]]:
    """Whole columns as chunks of at most ``size`` rows (one empty chunk for an empty table)."""
    rows = len(columns[0]) if columns else 0
    for start in range(0, max(rows, 1), size):
        yield [column[start : start + size] for column in columns]


def rows_to_columns(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    """Rows as chunks of columns of at most ``CHUNK_ROWS`` rows."""
    batch: list[Sequence[Any]] = []
    sent = False
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK_ROWS:
            yield [list(column) for column in zip(*batch, strict=True)]
            batch, sent = [], True
    if batch or not sent:
        yield [list(column) for column in zip(*batch, strict=True)] if batch else [[] for _ in header]


def write_rows(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], *, table_format: str = "csv"
) -> Path:
    """Write a table given row by row (see ``write_columns``)."""
    return write_columns(path, header, rows_to_columns(header, rows), table_format=table_format)


def write_columns(
    path: Path,
    header: Sequence[str],
    chunks: Iterable[Sequence[Sequence[Any]]],
    *,
    table_format: str = "csv",
) -> Path:
    """Write the table named by its CSV path ``path`` from ``chunks`` of columns; returns the file.

    CSV: UTF-8 with BOM, as ``io_utils.write_csv``. Parquet: ``path`` with the suffix ``.parquet``,
    one row group per chunk, zstd-compressed, typed by ``SCHEMAS`` (nulls where the CSV has an empty
    cell). Either is written to a temporary name and renamed into place.
    """
    target = path_for(path, table_format)
    with atomic_file(target) as handle:
        if table_format == "parquet":
            _write_parquet(handle, target.stem, header, chunks)
        else:
            _write_csv(handle, header, chunks)
    return target


def _write_csv(handle: IO[bytes], header: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    handle.write(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    for columns in chunks:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows(zip(*(_cells(column) for column in columns), strict=True))
        handle.write(buffer.getvalue().encode("utf-8"))


def _schema(name: str, header: Sequence[str]) -> Any:
    pa, _ = _pyarrow()
    types = SCHEMAS.get(name, {})
    kinds = {_INT: pa.int64(), _FLOAT: pa.float64()}
    return pa.schema([(column, kinds.get(types.get(column, ""), pa.string())) for column in header])


def _parquet_column(values: Sequence[Any], kind: Any) -> list[Any]:
    pa, _ = _pyarrow()
    if kind == pa.string():
        return [None if value is None else str(value) for value in values]
    # An empty cell of a number column (year unknown, no cohesion) is a null.
    return [None if value is None or value == "" else value for value in values]


def _write_parquet(
    handle: IO[bytes], name: str, header: Sequence[str], chunks: Iterable[Sequence[Sequence[Any]]]
) -> None:
    pa, pq = _pyarrow()
    schema = _schema(name, header)
    with pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        for columns in chunks:
            arrays = [
                pa.array(_parquet_column(column, field.type), type=field.type)
                for column, field in zip(columns, schema, strict=True)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


# --------------------------------------------------------------------------- reading


def _as_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def parquet_batches(path: Path, columns: Sequence[str] | None = None) -> Iterator[dict[str, list[Any]]]:
    """The columns of a Parquet table, one row group (chunk) at a time, as Python values."""
    _, pq = _pyarrow()
    table = pq.ParquetFile(path)
    for batch in table.iter_batches(batch_size=CHUNK_ROWS, columns=list(columns) if columns else None):
        yield batch.to_pydict()


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of a table (CSV or Parquet, see ``locate``) as the ``csv`` module reads the CSV."""
    path = locate(path)
    if path.suffix != ".parquet":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from csv.DictReader(handle)
        return
    for batch in parquet_batches(path):
        names = list(batch)
        for values in zip(*batch.values(), strict=True):
            yield dict(zip(names, map(_as_cell, values), strict=True))


class BrokenLine(ValueError):
    """A line of ``texts.jsonl`` that is not JSON."""

    def __init__(self, line: int, reason: Exception) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


def read_texts(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of every segment in ``texts.jsonl`` or ``texts.parquet``, in corpus order.

    A record is the JSON object of the line (``original`` only where the run wrote one); a line that
    is no JSON raises ``BrokenLine`` with its number.
    """
    path = locate(path)
    if path.suffix != ".parquet":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except ValueError as exc:
                        raise BrokenLine(number, exc) from None
                    yield number, record
        return
    number = 0
    for batch in parquet_batches(path):
        names = list(batch)
        for values in zip(*batch.values(), strict=True):
            number += 1
            record = dict(zip(names, values, strict=True))
            if record.get("original") is None:
                record.pop("original", None)
            yield number, record


def add_after(path: Path, after: dict[str, str], value: Callable[[str], str]) -> None:
    """Give the Parquet table ``path`` a string column ``after[name]`` right after each column ``name``
    it has, holding ``value`` of that column's cell (``outputs.add_province`` at level city)."""
    pa, pq = _pyarrow()
    source = pq.ParquetFile(path)
    names = source.schema_arrow.names
    if not any(name in after for name in names):
        return
    fields = []
    for field in source.schema_arrow:
        fields.append(field)
        if field.name in after:
            fields.append(pa.field(after[field.name], pa.string()))
    schema = pa.schema(fields)
    with atomic_file(path) as handle, pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        for batch in source.iter_batches(batch_size=CHUNK_ROWS):
            arrays = []
            for name, column in zip(names, batch.columns, strict=True):
                arrays.append(column)
                if name in after:
                    arrays.append(pa.array([value(cell or "") for cell in column.to_pylist()], pa.string()))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
