"""The append-only audit trail, each row chained to the previous one by its sha256.

A row's hash covers its own content and the previous row's hash, so editing, deleting, inserting or
reordering any row breaks the chain from that row on; :func:`verify` names the first bad row.
:func:`record` is called inside the same transaction as the state change it documents.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb
import pandas as pd

from analytics.roles import Actor

GENESIS_HASH = "0" * 64


def _canonical(seq: int, at: datetime, actor: str, role: str, action: str, object_type: str,
               object_id: str, details: str, prev_hash: str) -> bytes:
    payload = [seq, at.isoformat(timespec="microseconds"), actor, role, action, object_type, object_id,
               details, prev_hash]
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(seq: int, at: datetime, actor: str, role: str, action: str, object_type: str,
             object_id: str, details: str, prev_hash: str) -> str:
    """Return the sha256 (hex) that chains one audit row to its predecessor."""
    return hashlib.sha256(
        _canonical(seq, at, actor, role, action, object_type, object_id, details, prev_hash)
    ).hexdigest()


def record(con: duckdb.DuckDBPyConnection, actor: Actor, action: str, object_type: str,
           object_id: str, details: dict[str, Any] | None = None, *, at: datetime | None = None) -> int:
    """Append one audit row in the caller's transaction and return its sequence number.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection inside the transaction that makes the audited change.
    actor : Actor
        Who acted, and in which role; its channel and proof, when known, are kept in ``details["via"]``.
    action : str
        What was done, as a dotted verb (``"user.add"``, ``"version.approve"``).
    object_type, object_id : str
        What it was done to (``"model_version"``, ``"credit-default:v2"``).
    details : dict, optional
        Anything else worth keeping (JSON-serialisable).
    at : datetime, optional
        When (UTC); defaults to now. Given explicitly only when replaying history (the demo).
    """
    when = at or datetime.now(timezone.utc)
    if when.tzinfo is None:
        # A naive time is already UTC (as everywhere in the store); astimezone() would read it as local time.
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc).replace(tzinfo=None)
    provenance = actor.provenance()  # the channel and how the identity was proven, when known
    details = {**(details or {}), "via": provenance} if provenance else details
    details_json = json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)
    last = con.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    digest = row_hash(seq, when, actor.username, actor.role, action, object_type, object_id, details_json, prev)
    con.execute(
        "INSERT INTO audit_log (seq, occurred_at, actor, role, action, object_type, object_id, details, prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, when, actor.username, actor.role, action, object_type, object_id, details_json, prev, digest],
    )
    return seq


@dataclass(frozen=True)
class ChainStatus:
    """Result of :func:`verify`: ``intact`` with the row count, or the first bad row and why."""

    intact: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(con: duckdb.DuckDBPyConnection) -> ChainStatus:
    """Walk the whole chain and report the first row whose content or link does not match."""
    rows = con.execute(
        "SELECT seq, occurred_at, actor, role, action, object_type, object_id, details, prev_hash, row_hash "
        "FROM audit_log ORDER BY seq"
    ).fetchall()
    prev = GENESIS_HASH
    expected_seq = 1
    for seq, at, actor, role, action, object_type, object_id, details, prev_hash, digest in rows:
        if seq != expected_seq:
            return ChainStatus(False, len(rows), seq, f"sequence jumps from {expected_seq - 1} to {seq} (a row is missing or was inserted)")
        if prev_hash != prev:
            return ChainStatus(False, len(rows), seq, "its link to the previous row does not match (a row before it was changed, removed or reordered)")
        if row_hash(seq, at, actor, role, action, object_type, object_id, details, prev_hash) != digest:
            return ChainStatus(False, len(rows), seq, "its content does not match its hash (the row was edited)")
        prev = digest
        expected_seq += 1
    return ChainStatus(True, len(rows))


def entries(con: duckdb.DuckDBPyConnection, *, object_type: str | None = None,
            object_id_prefix: str | None = None, limit: int = 10_000) -> pd.DataFrame:
    """Return audit rows, newest first, optionally for one object type and id prefix."""
    where, params = [], []
    if object_type:
        where.append("object_type = ?")
        params.append(object_type)
    if object_id_prefix:
        where.append("starts_with(object_id, ?)")
        params.append(object_id_prefix)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return con.execute(
        f"SELECT seq, occurred_at, actor, role, action, object_type, object_id, details FROM audit_log {clause} "
        "ORDER BY seq DESC LIMIT ?",
        [*params, limit],
    ).df()


#: Columns of :func:`search` and of the exports, in order (the hashes let a reader re-check the chain).
EXPORT_COLUMNS: tuple[str, ...] = ("seq", "occurred_at", "actor", "role", "action", "object_type", "object_id",
                                   "details", "prev_hash", "row_hash")


def search(con: duckdb.DuckDBPyConnection, *, actor: str | None = None, action: str | None = None,
           object_id: str | None = None, object_type: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 100_000) -> pd.DataFrame:
    """Audit rows, newest first, filtered by exact actor, action prefix, object id prefix, object type
    and time ``[since, until)`` (naive UTC). Read-only: no function here edits or deletes a row.

    Returns
    -------
    pandas.DataFrame
        :data:`EXPORT_COLUMNS`.
    """
    where, params = [], []
    for clause, value in (("actor = ?", actor), ("starts_with(action, ?)", action),
                          ("starts_with(object_id, ?)", object_id), ("object_type = ?", object_type),
                          ("occurred_at >= ?", since), ("occurred_at < ?", until)):
        if value not in (None, ""):
            where.append(clause)
            params.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return con.execute(f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_log {clause} ORDER BY seq DESC LIMIT ?",
                       [*params, int(limit)]).df()


def export(frame: pd.DataFrame, fmt: str) -> str:
    """Audit rows as CSV or JSON text (times as ISO 8601 UTC, details as their stored JSON text)."""
    out = frame.copy()
    if "occurred_at" in out:
        out["occurred_at"] = [pd.Timestamp(t).isoformat(timespec="microseconds") + "Z" for t in out["occurred_at"]]
    if fmt == "csv":
        return out.to_csv(index=False)
    if fmt == "json":
        return json.dumps(out.to_dict("records"), indent=2, ensure_ascii=False, default=str) + "\n"
    raise ValueError(f"format {fmt!r} is unknown; use csv or json")


def details_text(details: str | dict[str, Any] | None) -> str:
    """An audit row's details as a reader wants them: ``key: value`` pairs, not JSON.

    Parameters
    ----------
    details : str or dict or None
        The stored JSON text (or the dict it holds).

    Returns
    -------
    str
        ``"threshold: 0.5 · status: draft"``; nested objects in parentheses, lists joined by commas,
        missing values as "none", true/false as yes/no; text that is not a JSON object as it is.

    >>> details_text('{"to_status": "in_review", "checks": ["auc", "psi"], "override": null, "x": {"a": true}}')
    'to status: in_review · checks: auc, psi · override: none · x: (a: yes)'
    """
    if details is None:
        return ""
    if isinstance(details, str):
        try:
            details = json.loads(details) if details.strip() else {}
        except ValueError:
            return details
    if not isinstance(details, dict):
        return _value_text(details)
    return " · ".join(f"{str(k).replace('_', ' ')}: {_value_text(v)}" for k, v in details.items())


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{str(k).replace('_', ' ')}: {_value_text(v)}" for k, v in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(v) for v in value) or "none"
    return str(value)
