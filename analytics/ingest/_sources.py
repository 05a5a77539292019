"""Reading ingest sources as a stream of Arrow record batches, so no large file sits whole in memory.

Parquet files are read row group by row group; CSV files are parsed block by block with every
column read as text (types are checked later, row by row, with messages that name the row);
DataFrames and Arrow tables are sliced.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analytics.errors import InvalidInputError
from analytics.input_files import check_csv_header


def _widened(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with half-precision float columns as 32-bit floats (exactly; DuckDB cannot read float16)."""
    if not any(pa.types.is_float16(f.type) for f in batch.schema):
        return batch
    arrays = [c.cast(pa.float32()) if pa.types.is_float16(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

SUPPORTED_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@dataclass
class Source:
    """A readable ingest source: its description, column names, and a way to stream it.

    ``batches(columns)`` may be called more than once (the duplicate-id pre-pass reads only the id
    column); each call starts from the first row. ``rows`` is the number of rows where it is known
    without reading them (rows in memory, a Parquet file's footer), else None (CSV).
    """

    description: str
    columns: list[str]
    batches: Callable[[list[str] | None, int], Iterator[pa.RecordBatch]]
    rows: int | None = None


def _unreadable(path: Path, kind: str, exc: Exception) -> InvalidInputError:
    hint = " (is the file truncated or not really Parquet?)" if kind == "parquet" else ""
    return InvalidInputError(f"could not read {path.name} as {kind.upper()}{hint}: {exc}")


def _parquet_source(path: Path) -> Source:
    try:
        handle = pq.ParquetFile(path)
        names, rows = handle.schema_arrow.names, handle.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, "parquet", exc) from exc

    def batches(columns: list[str] | None, size: int) -> Iterator[pa.RecordBatch]:
        try:
            # pre_buffer would keep every column chunk read so far: memory would grow with the file.
            reader = pq.ParquetFile(path, pre_buffer=False)
            for batch in reader.iter_batches(batch_size=size, columns=columns):
                yield _widened(batch)
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(path, "parquet", exc) from exc

    return Source(str(path), names, batches, rows)


def _csv_header(path: Path) -> list[str]:
    check_csv_header(path)
    try:
        # utf-8-sig: a byte-order mark (as Excel writes) is not part of the first column's name.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path.name} is not UTF-8 text, so it cannot be read as CSV: {exc}") from exc
    if not header:
        raise InvalidInputError(f"{path.name} is empty: a CSV file needs a header line and at least one row")
    return [h.strip() for h in header]


def _csv_source(path: Path) -> Source:
    names = _csv_header(path)

    def batches(columns: list[str] | None, size: int) -> Iterator[pa.RecordBatch]:
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            include_columns=columns,
            strings_can_be_null=True,
            null_values=[""],
        )
        # Name the columns as the header check saw them (trimmed, without a byte-order mark).
        read = pacsv.ReadOptions(block_size=max(1 << 20, size * 64), column_names=names, skip_rows=1)
        try:
            reader = pacsv.open_csv(path, read_options=read, convert_options=convert)
            for batch in reader:
                # CSV blocks vary in size; re-slice them so callers get bounded batches.
                for offset in range(0, batch.num_rows, size):
                    yield batch.slice(offset, size)
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(path, "csv", exc) from exc

    return Source(str(path), names, batches)


def _table_source(table: pa.Table, description: str) -> Source:
    def batches(columns: list[str] | None, size: int) -> Iterator[pa.RecordBatch]:
        selected = table.select(columns) if columns else table
        for batch in selected.to_batches(max_chunksize=size):
            yield _widened(batch)

    return Source(description, table.column_names, batches, table.num_rows)


def with_missing_columns(source: Source, missing: dict[str, pa.DataType]) -> Source:
    """The source with each column of ``missing`` it lacks added as all NULL (optional log columns)."""
    absent = {name: kind for name, kind in missing.items() if name not in source.columns}
    if not absent:
        return source

    def batches(columns: list[str] | None, size: int) -> Iterator[pa.RecordBatch]:
        wanted = [c for c in columns if c not in absent] if columns is not None else None
        names = columns if columns is not None else [*source.columns, *absent]
        for batch in source.batches(wanted, size):
            arrays = {name: batch.column(name) for name in batch.schema.names}
            arrays.update({name: pa.nulls(batch.num_rows, kind) for name, kind in absent.items() if name in names})
            yield pa.RecordBatch.from_arrays([arrays[n] for n in names], names=names)

    return Source(source.description, [*source.columns, *absent], batches, source.rows)


def open_source(data: Any) -> Source:
    """Return a :class:`Source` for a file path, a DataFrame, an Arrow table or record batch.

    Raises
    ------
    InvalidInputError
        For a missing file, an unsupported file type or an unreadable file.
    """
    if isinstance(data, (str, Path)):
        path = Path(data)
        kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise InvalidInputError(
                f"{path.name}: file type {path.suffix or '(none)'!r} is not supported; give a .parquet or .csv file"
            )
        if not path.is_file():
            raise InvalidInputError(f"{path} does not exist or is not a file")
        if path.stat().st_size == 0:
            raise InvalidInputError(f"{path.name} is empty (0 bytes)")
        return _parquet_source(path) if kind == "parquet" else _csv_source(path)
    if isinstance(data, pd.DataFrame):
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the DataFrame cannot be converted to Arrow: {exc}") from exc
        return _table_source(table, "DataFrame")
    if isinstance(data, pa.RecordBatch):
        return _table_source(pa.Table.from_batches([data]), "Arrow record batch")
    if isinstance(data, pa.Table):
        return _table_source(data, "Arrow table")
    raise InvalidInputError(
        f"cannot ingest an object of type {type(data).__name__}: give a file path, a pandas DataFrame or an Arrow table"
    )
