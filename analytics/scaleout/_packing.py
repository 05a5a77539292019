"""Several summary queries run as one: their rows unioned on shared columns, and split again on return.

Spark pays a fixed cost per job (planning, scheduling, the driver's round trips: seconds on a busy
machine), so the queries of every stale summary (drift rollups, serving, KPI, fairness and performance
rows) are sent as one union. The queries have different columns, so each query's columns are laid out on shared
columns of the same kind (``s0, s1, ...`` strings, ``i0, ...`` integers, ``f0, ...`` doubles, ``t0, ...``
timestamps, ``d0, ...`` dates), the ones it does not use NULL, with a ``part`` column naming the query;
:func:`unpack` turns the returned rows back into one Arrow table per query, with its own names and types.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

#: The column naming each row's query.
PART = "part"
#: The shared columns' kinds: (prefix, Ibis type of the shared column).
_KINDS: dict[str, str] = {"s": "string", "i": "int64", "f": "float64", "t": "timestamp", "d": "date"}


def _kind(dtype: dt.DataType) -> str:
    if dtype.is_string():
        return "s"
    if dtype.is_integer() or dtype.is_boolean():
        return "i"
    if dtype.is_floating() or dtype.is_decimal():
        return "f"
    if dtype.is_timestamp():
        return "t"
    if dtype.is_date():
        return "d"
    raise TypeError(f"no shared column for {dtype}")


@dataclass(frozen=True)
class Packed:
    """The union of several queries (:attr:`query`) and where each query's columns went (:attr:`layouts`).

    Attributes
    ----------
    query : ibis Table
        One row per row of each query: ``part`` and the shared columns.
    layouts : dict
        Per query name, its columns in order as ``(name, shared column, Arrow type)``.
    """

    query: ir.Table
    layouts: dict[str, tuple[tuple[str, str, pa.DataType], ...]]


def pack(queries: dict[str, ir.Table]) -> Packed:
    """Lay ``queries`` (name -> query) out on shared columns and union them into one query."""
    layouts: dict[str, tuple[tuple[str, str, pa.DataType], ...]] = {}
    width: dict[str, int] = {k: 0 for k in _KINDS}
    for name, query in queries.items():
        used = {k: 0 for k in _KINDS}
        layout = []
        for column, dtype in query.schema().items():
            kind = _kind(dtype)
            layout.append((column, f"{kind}{used[kind]}", dtype.to_pyarrow()))
            used[kind] += 1
        layouts[name] = tuple(layout)
        width = {k: max(width[k], used[k]) for k in _KINDS}
    shared = [(f"{k}{i}", kind) for k, kind in _KINDS.items() for i in range(width[k])]
    parts = []
    for name, query in queries.items():
        placed = {slot: column for column, slot, _ in layouts[name]}
        parts.append(query.select(**{PART: ibis.literal(name)},
                                  **{slot: query[placed[slot]].cast(kind) if slot in placed else ibis.null(kind)
                                     for slot, kind in shared}))
    return Packed(ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0], layouts)


def unpack(packed: Packed, rows: pa.Table) -> dict[str, pa.Table]:
    """Split the rows of :attr:`Packed.query` into one table per query, with its own column names and types."""
    out = {}
    for name, layout in packed.layouts.items():
        mine = rows.filter(pc.equal(rows[PART], name))
        out[name] = pa.table({column: _as(mine[slot], kind) for column, slot, kind in layout})
    return out


def _as(values: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """``values`` as ``kind``; a UTC timestamp loses its zone (the store's timestamps are naive UTC)."""
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        values = values.cast(pa.timestamp(values.type.unit))
    return values.cast(kind)
