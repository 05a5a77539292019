"""The fast path of validation: a batch whose Arrow columns already carry the declared types.

A Parquet file (or a DataFrame) usually arrives typed: its ``double`` column of a double feature
needs no parsing, and an integer column cannot hold NaN. For such a batch every check of
:func:`analytics.ingest._checks.typed_select` reduces to a fact about a whole column that Arrow
computes in one vectorised pass: no null in a required column; a finite sum of a double column (a
NaN or an infinity makes it non-finite); the minimum and maximum within the declared range; every
text value among the allowed ones; the latest timestamp not in the future.

The fast path only ever answers "every row of this batch passes, and here are its typed values".
When it cannot say so (a type it does not convert exactly as DuckDB's casts would, a text value
with spaces to trim or empty, a failing or doubtful value, a sum that overflows) it answers
``None`` and the batch goes through the SQL checks, which name each failing row, column and
problem. So the fast path changes the speed of an ingest, never its outcome.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics.ingest._checks import Rules

#: The Arrow type of each declared DuckDB type, as DuckDB returns it (and as segments store it).
ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "TINYINT": pa.int8(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
}

# DuckDB's trim() removes the Unicode space separators (category Zs) from both ends; this pattern
# matches a superset of them (all of \p{Z} and ASCII white space), so it never misses a value to trim.
_EDGE_SPACE = r"^[\s\p{Z}]|[\s\p{Z}]$"


def checked_schema(rules: Rules) -> pa.Schema:
    """Schema of a checked batch: ``__row`` and every declared column with its Arrow type."""
    return pa.schema([pa.field("__row", pa.int64())] + [pa.field(n, ARROW_TYPES[t]) for n, t in rules.columns.items()])


def typed_batch(rules: Rules, batch: pa.RecordBatch, *, latest: datetime) -> pa.Table | None:
    """Return the batch with every column in its declared type if every row certainly passes.

    Parameters
    ----------
    rules : Rules
        What the rows must satisfy.
    batch : pyarrow.RecordBatch
        The source batch with its ``__row`` column.
    latest : datetime
        The latest acceptable time (naive UTC) of ``not_in_future`` columns.

    Returns
    -------
    pyarrow.Table or None
        ``__row`` and the typed columns (the values the SQL checks would give), or ``None`` when
        some row fails or might fail, or a column is of a type this path does not convert.
    """
    if not all(_convertible(batch.schema.field(name).type, sql_type) for name, sql_type in rules.columns.items()):
        return None  # e.g. CSV text: decided on the types alone, before touching a value
    arrays = [batch.column("__row")]
    for name, sql_type in rules.columns.items():
        typed = _typed(batch.column(name), sql_type)
        if typed is None or not _passes(typed, name, sql_type, rules, latest):
            return None
        arrays.append(typed)
    return pa.Table.from_arrays(arrays, schema=checked_schema(rules))


def _convertible(kind: pa.DataType, sql_type: str) -> bool:
    """Whether this path converts an Arrow type to the declared type (values permitting)."""
    if sql_type == "VARCHAR":
        return pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if sql_type == "DOUBLE":
        return (pa.types.is_float32(kind) or pa.types.is_float64(kind) or pa.types.is_integer(kind)
                or pa.types.is_decimal128(kind))
    if sql_type in ("BIGINT", "TINYINT"):
        return pa.types.is_integer(kind)
    if sql_type == "BOOLEAN":
        return pa.types.is_boolean(kind)
    if sql_type == "TIMESTAMP":
        return pa.types.is_timestamp(kind)
    return False


def _typed(values: pa.Array, sql_type: str) -> pa.Array | None:
    """The column (of a convertible type) in its declared type, as the SQL casts give it; None if not sure."""
    kind = values.type
    try:
        if sql_type == "VARCHAR" and (first_invalid_text(values) is not None or not nothing_to_trim(values)):
            return None
        if pa.types.is_decimal128(kind):
            return _decimal_to_double(values)
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            values = values.cast(pa.timestamp(kind.unit))  # the UTC wall time, as timezone('UTC', ...)
        # A safe cast raises rather than overflow, truncate a timestamp or round an integer to a
        # double; the SQL path then reports (or converts) the value.
        return values.cast(ARROW_TYPES[sql_type], safe=True)
    except pa.ArrowException:
        return None


def first_invalid_text(values: pa.Array) -> int | None:
    """Index of the first value of a text column that is not valid UTF-8 (or whose offsets are damaged); None if none.

    Arrow's Parquet reader does not check the encoding of text, and DuckDB refuses to read a segment
    holding such a value: it must never reach one.
    """
    try:
        values.validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    low, high = 0, len(values)  # the first bad value lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            values.slice(low, middle - low).validate(full=True)
            low = middle
        except pa.ArrowInvalid:
            high = middle
    return low


def nothing_to_trim(values: pa.Array) -> bool:
    """Whether no text value is empty or starts or ends with a space that DuckDB's trim() would remove.

    Reads the first and last byte of every value straight from the Arrow buffers; only values
    whose edge byte is a space or part of a multi-byte character are matched against the pattern.
    """
    if len(values) == values.null_count:
        return True
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type, count=len(values) + 1,
                            offset=values.offset * np.dtype(offset_type).itemsize)
    starts, ends = offsets[:-1], offsets[1:]
    if values.null_count:
        valid = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))
        starts, ends = starts[valid], ends[valid]
    if np.any(ends <= starts):
        return False  # an empty value is a missing one for the SQL checks
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    first, last = data[starts], data[ends - 1]
    suspect = (first == 0x20) | (first >= 0x80) | (last == 0x20) | (last >= 0x80)
    if not suspect.any():
        return True
    rows = np.flatnonzero(suspect)
    if values.null_count:
        rows = valid[rows]
    return not pc.any(pc.match_substring_regex(values.take(pa.array(rows)), _EDGE_SPACE)).as_py()


def _decimal_to_double(values: pa.Array) -> pa.Array | None:
    """A decimal column as doubles, rounded as DuckDB rounds: unscaled integer / 10^scale.

    Arrow's own decimal-to-double cast differs from DuckDB's in the last bit for many values, so
    the division is done here. DuckDB divides only when the unscaled integer is exact as a double
    (at most 2^53 in magnitude); a wider decimal or a larger value is left to the SQL path.
    """
    kind = values.type
    if kind.precision > 18:
        return None
    words = np.frombuffer(values.buffers()[1], dtype=np.int64, count=2 * (values.offset + len(values)))
    unscaled = words[2 * values.offset::2]  # the low word holds the whole value when it has <= 18 digits
    mask = None if values.null_count == 0 else values.is_null().to_numpy(zero_copy_only=False)
    if np.any(np.abs(unscaled if mask is None else unscaled[~mask]) >= 2**53):
        return None
    doubles = unscaled.astype(np.float64) / (10.0 ** kind.scale)
    return pa.array(doubles, pa.float64(), mask=mask)


def _passes(typed: pa.Array, name: str, sql_type: str, rules: Rules, latest: datetime) -> bool:
    """Whether every value of the typed column certainly passes the column's checks."""
    nulls = typed.null_count
    if name in rules.required and nulls:
        return False
    if nulls == len(typed):
        return True  # nothing else is checked on a missing value
    if sql_type == "DOUBLE":
        # NaN or an infinity makes the sum non-finite; so does an overflow, which the SQL path settles.
        if not np.isfinite(pc.sum(typed).as_py()):
            return False
    if name in rules.ranges:
        low, high = rules.ranges[name]
        extremes = pc.min_max(typed)
        if (low is not None and extremes["min"].as_py() < low) or (high is not None and extremes["max"].as_py() > high):
            return False
    if name in rules.allowed:
        allowed = rules.allowed[name]
        if not allowed or not pc.all(pc.is_in(pc.drop_null(typed), value_set=pa.array(allowed, typed.type))).as_py():
            return False
    if name in rules.not_in_future:
        if pc.greater(pc.max(typed), pa.scalar(latest, ARROW_TYPES["TIMESTAMP"])).as_py():
            return False
    return True
