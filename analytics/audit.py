"""The append-only audit trail, each row chained to the previous one by its sha256, authenticated by
an HMAC made with a key kept outside the store, and its head anchored outside the store.

A row's hash covers its own content and the previous row's hash, so editing, deleting, inserting or
reordering any row breaks the chain from that row on. A plain chain can be recomputed by whoever
can write the store file; the row's HMAC (``row_mac``, see :mod:`analytics.audit_key`) cannot without
the key, so a re-chained or forged row is found too. Deleting the last rows leaves a valid shorter
chain: the anchor file beside the store (:mod:`analytics.audit_anchor`) still names the deleted head.
:func:`verify` names the first bad row. :func:`record` is called inside the same transaction as the
state change it documents. Rows written before authentication began (an upgraded store) carry no
HMAC: they are "only chained", and :func:`verify` says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import duckdb

from analytics import audit_anchor, audit_key, config
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, Refused
from analytics.roles import ROLES, Actor, require

if TYPE_CHECKING:
    import pandas as pd

GENESIS_HASH = "0" * 64
_ROW_PURPOSE = "audit-row"


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


def row_mac(digest: str) -> str:
    """The row's authentication code: HMAC-SHA256 of its hash with the audit key (made on first use)."""
    return audit_key.load_or_create().sign(_ROW_PURPOSE, digest)


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
    when = at or utc_now()
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
    mac = row_mac(digest)
    con.execute(
        "INSERT INTO audit_log (seq, occurred_at, actor, role, action, object_type, object_id, details, prev_hash, row_hash, row_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, when, actor.username, actor.role, action, object_type, object_id, details_json, prev, digest, mac],
    )
    return seq


#: At most this many refusal rows per actor and action (and this many failed sign-ins of unknown names
#: in all) are recorded per :data:`REFUSAL_WINDOW`: a script that retries cannot flood the trail.
REFUSALS_PER_WINDOW = 5
UNKNOWN_SIGN_INS_PER_WINDOW = 10
REFUSAL_WINDOW = timedelta(minutes=1)


def _recent(con: duckdb.DuckDBPyConnection, action: str, actor: str | None, reason: str | None) -> int:
    since = utc_now() - REFUSAL_WINDOW
    where, params = ["action = ?", "occurred_at >= ?"], [action, since]
    if actor is not None:
        where.append("actor = ?")
        params.append(actor)
    if reason is not None:
        where.append("json_extract_string(details, '$.reason') = ?")
        params.append(reason)
    return con.execute(f"SELECT count(*) FROM audit_log WHERE {' AND '.join(where)}", params).fetchone()[0]


def record_refusal(con: duckdb.DuckDBPyConnection, refused: Refused, reason: str) -> int | None:
    """Record a refused attempt (a permission denial, a four-eyes refusal), rate-limited.

    Called by :func:`analytics.store.write` in a transaction of its own, after the attempt was rolled
    back. Returns the row's sequence number, or None when the actor's refusals of this kind already
    reached :data:`REFUSALS_PER_WINDOW` in the last :data:`REFUSAL_WINDOW`.
    """
    if _recent(con, refused.action, refused.actor, None) >= REFUSALS_PER_WINDOW:
        return None
    role = refused.role if refused.role in (*ROLES, "system") else "viewer"
    return record(con, Actor(refused.actor, role), refused.action, refused.object_type, refused.object_id,
                  {"refused": True, "reason": reason[:500]})


def record_unknown_sign_in(con: duckdb.DuckDBPyConnection, username: object) -> int | None:
    """Record a failed sign-in under a name no user has, unless :data:`UNKNOWN_SIGN_INS_PER_WINDOW` such
    rows were written in the last :data:`REFUSAL_WINDOW` (whatever the names): guessed names cannot flood
    the trail. Failed sign-ins of existing users are always recorded (see :mod:`analytics.users`)."""
    if _recent(con, "auth.login_failed", None, "unknown user") >= UNKNOWN_SIGN_INS_PER_WINDOW:
        return None
    name = username if isinstance(username, str) and username else "?"
    return record(con, Actor(name[:64], "viewer"), "auth.login_failed", "user", name[:64], {"reason": "unknown user"})


@dataclass(frozen=True)
class ChainStatus:
    """Result of :func:`verify`: ``intact`` with the row count, or the first bad row and why.

    ``authenticated_rows`` counts the rows whose HMAC matched the key (the rows before them, written
    before authentication began, are only chained); ``anchored_seq`` is the last head the anchor file
    recorded (None when there is no anchor file).
    """

    intact: bool
    rows: int
    first_bad_seq: int | None = None
    problem: str | None = None
    authenticated_rows: int = 0
    anchored_seq: int | None = None

    @property
    def assurance(self) -> str:
        """What the verification proves, in words: ``"authenticated and anchored"``,
        ``"authenticated, not anchored"``, or ``"only chained"``."""
        if self.rows and self.authenticated_rows == 0:
            return "only chained"
        return "authenticated and anchored" if self.anchored_seq is not None else "authenticated, not anchored"

    def summary(self) -> str:
        """One line for a reader: intact (and how strongly) or where it breaks."""
        if not self.intact:
            where = f" at row {self.first_bad_seq}" if self.first_bad_seq is not None else ""
            return f"audit trail BROKEN{where}: {self.problem}"
        legacy = self.rows - self.authenticated_rows
        text = f"audit trail intact: {self.rows:,} row{'' if self.rows == 1 else 's'}, {self.assurance}"
        if legacy and self.authenticated_rows:
            text += f" (rows 1-{legacy:,}, written before authentication began, are only chained)"
        if self.anchored_seq is not None and self.anchored_seq < self.rows:
            text += f"; rows after {self.anchored_seq:,} are not anchored yet"
        return text


def verify(con: duckdb.DuckDBPyConnection, *, exported_anchors: tuple[str, ...] = ()) -> ChainStatus:
    """Walk the whole chain: links, hashes, each row's HMAC, and the heads anchored outside the store.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The store.
    exported_anchors : tuple of str
        Copies of the anchor file kept elsewhere (``vigil audit anchor export``), checked like the
        anchor file itself: a store and anchor file truncated together are found against them.

    Returns
    -------
    ChainStatus
        The first row (or anchored head) that does not match, and why.
    """
    rows = con.execute(
        "SELECT seq, occurred_at, actor, role, action, object_type, object_id, details, prev_hash, row_hash, row_mac "
        "FROM audit_log ORDER BY seq"
    ).fetchall()
    key = audit_key.load()
    prev = GENESIS_HASH
    expected_seq = 1
    authenticated = 0
    hashes = {0: GENESIS_HASH}

    def broken(seq: int | None, problem: str) -> ChainStatus:
        return ChainStatus(False, len(rows), seq, problem, authenticated)

    for seq, at, actor, role, action, object_type, object_id, details, prev_hash, digest, mac in rows:
        if seq != expected_seq:
            return broken(seq, f"sequence jumps from {expected_seq - 1} to {seq} (a row is missing or was inserted)")
        if prev_hash != prev:
            return broken(seq, "its link to the previous row does not match (a row before it was changed, removed or reordered)")
        if row_hash(seq, at, actor, role, action, object_type, object_id, details, prev_hash) != digest:
            return broken(seq, "its content does not match its hash (the row was edited)")
        if mac is None and authenticated:
            return broken(seq, "it carries no authentication code although earlier rows do (a row added by "
                               "someone without the audit key)")
        if mac is not None:
            if key is None:
                return broken(seq, f"the audit key ({audit_key_location()}) is missing, so its authentication "
                                   "code cannot be checked; restore the key file or point VIGIL_AUDIT_KEY_FILE at it")
            if not key.check(_ROW_PURPOSE, digest, mac):
                return broken(seq, "its authentication code does not match the audit key (the row was forged, or "
                                   "edited and re-chained, or written with another key)")
            authenticated += 1
        hashes[seq] = digest
        prev = digest
        expected_seq += 1
    db = audit_anchor.database_file(con)
    if db is None:
        return ChainStatus(True, len(rows), authenticated_rows=authenticated)
    anchor = audit_anchor.anchor_path(db)
    if not anchor.is_file():
        if authenticated:
            return broken(None, f"the anchor file {anchor} is missing (deleted?); the trail's head cannot "
                                     "be checked against it")
        return ChainStatus(True, len(rows), authenticated_rows=authenticated)
    anchored = None
    for source in (str(anchor), *exported_anchors):
        problem = _anchor_problem(source, hashes, len(rows), key)
        if problem is not None:
            return broken(*problem)
        if source == str(anchor):
            lines = audit_anchor.read(anchor)
            anchored = max((line.seq for line in lines), default=None)
    return ChainStatus(True, len(rows), authenticated_rows=authenticated, anchored_seq=anchored)


def audit_key_location() -> str:
    """Where the audit key is looked for (for messages)."""
    return str(config.audit_key_path())


def _anchor_problem(source: str, hashes: dict[int, str], rows: int,
                    key: audit_key.AuditKey | None) -> tuple[int | None, str] | None:
    """(seq, why) of the first anchored head the trail contradicts, or None."""
    try:
        lines = audit_anchor.read(source)
    except FileNotFoundError:
        return None, f"the anchor file {source} is missing"
    except InvalidInputError as exc:
        return None, str(exc)
    for line in lines:
        if key is not None and not audit_anchor.authentic(line, key):
            return line.seq, (f"{source} line {line.line_no} is not authenticated by the audit key (the anchor "
                              "file was edited)")
        if line.seq > rows:
            return rows + 1, (f"the trail ends at row {rows} but {source} line {line.line_no} anchored row "
                          f"{line.seq}: rows {rows + 1}-{line.seq} were deleted")
        if hashes[line.seq] != line.row_hash:
            return line.seq, (f"row {line.seq} differs from the head anchored in {source} line {line.line_no} "
                              "(the trail was rewritten from that row back)")
    return None


def restart_anchor(con: duckdb.DuckDBPyConnection, actor: Actor, reason: str) -> int:
    """Start a new anchor file at the trail's current head after the old one was lost; return the
    sequence number of the audit row that says so (admins only). Call it through
    :func:`analytics.store.write`, which anchors that row after the commit.

    Raises
    ------
    InvalidInputError
        When the store still has its anchor file, the audit key is missing (a new key would make every
        row look forged), the reason is empty, or the trail itself does not verify.
    """
    require(actor, "manage_users")
    db = audit_anchor.database_file(con)
    if db is None or audit_anchor.anchor_path(db).exists():
        raise InvalidInputError("the store has its anchor file; nothing to restart")
    if audit_key.load() is None:
        raise InvalidInputError(f"the audit key ({audit_key_location()}) is missing; restore it before restarting "
                                "the anchor")
    if not reason.strip():
        raise InvalidInputError("say why the anchor was lost (--reason)")
    status = verify(con)
    if status.first_bad_seq is not None:
        raise InvalidInputError(f"the trail does not verify ({status.summary()}); investigate before restarting "
                                "the anchor")
    # The committed head starts the file; the restart row itself is anchored after its commit (store.write).
    audit_anchor.anchor_head(con, db, create=True)
    return record(con, actor, "audit.anchor_restart", "store", db.name, {"reason": reason.strip(), "rows": status.rows})


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


@dataclass(frozen=True)
class SearchChoices:
    """What the audit trail can be filtered by: the result of :func:`search_choices`.

    ``first`` and ``last`` are the times (naive UTC) of the oldest and newest row, None when the trail
    is empty (``rows`` 0).
    """

    actors: tuple[str, ...]
    actions: tuple[str, ...]
    first: datetime | None
    last: datetime | None
    rows: int

    @property
    def action_families(self) -> tuple[str, ...]:
        """The actions' families with their dot (``"approval."``), which :func:`search` takes as a prefix."""
        return tuple(sorted({a.split(".")[0] + "." for a in self.actions}))


def search_choices(con: duckdb.DuckDBPyConnection) -> SearchChoices:
    """The actors, actions and time span recorded in the audit trail, to offer as :func:`search` filters.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open store.

    Returns
    -------
    SearchChoices
        Distinct actors and actions in order, the first and last time and the number of rows.
    """
    actors = tuple(r[0] for r in con.execute("SELECT DISTINCT actor FROM audit_log ORDER BY 1").fetchall())
    actions = tuple(r[0] for r in con.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1").fetchall())
    first, last, rows = con.execute("SELECT min(occurred_at), max(occurred_at), count(*) FROM audit_log").fetchone()
    return SearchChoices(actors=actors, actions=actions, first=first, last=last, rows=int(rows))


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
    import pandas as pd

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
