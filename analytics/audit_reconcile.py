"""Reconcile the governance state with the audit trail: every change in the tables must be explained.

An intact, authenticated trail proves that its rows are genuine; it does not prove that nothing
changed *beside* it. Someone who can write the store file can run ``UPDATE model_versions SET status
= 'champion'`` and add no row at all. :func:`reconcile` replays the trail's rows for version statuses,
users (role, enabled), settings and deployments, and names every table row whose current state no
audit row explains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb


@dataclass(frozen=True)
class Unexplained:
    """A table row whose state no audit row explains."""

    table: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.problem}"


def _rows(con: duckdb.DuckDBPyConnection, object_type: str) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(seq, action, object_id, details) of one object type's audit rows, oldest first."""
    return [(seq, action, object_id, json.loads(details) if details else {}) for seq, action, object_id, details in
            con.execute("SELECT seq, action, object_id, details FROM audit_log WHERE object_type = ? ORDER BY seq",
                        [object_type]).fetchall()]


def _version_statuses(con: duckdb.DuckDBPyConnection) -> list[Unexplained]:
    expected: dict[str, str] = {}
    for _, action, object_id, details in _rows(con, "model_version"):
        if action == "version.register":
            expected[object_id] = details.get("status") or "draft"
        elif action.startswith("version.") and "from" in details and "to" in details:
            expected[object_id] = details["to"]
    out = []
    for model, version, status in con.execute(
            "SELECT model_name, version, status FROM model_versions ORDER BY model_name, version").fetchall():
        key = f"{model}:{version}"
        if key not in expected:
            out.append(Unexplained("model_versions", key, f"status {status!r}, but no audit row registered it"))
        elif expected[key] != status:
            out.append(Unexplained("model_versions", key, f"status {status!r}, but the audit trail's last step for "
                                                          f"it left it {expected[key]!r}"))
    return out


def _users(con: duckdb.DuckDBPyConnection) -> list[Unexplained]:
    role: dict[str, str] = {}
    disabled: dict[str, bool] = {}
    for _, action, username, details in _rows(con, "user"):
        if action == "user.add":
            role[username], disabled[username] = details.get("role"), False
        elif action == "user.set_role":
            role[username] = details.get("to")
        elif action in ("user.disable", "user.enable"):
            disabled[username] = action == "user.disable"
    out = []
    for username, current_role, is_disabled in con.execute(
            "SELECT username, role, disabled FROM users ORDER BY username").fetchall():
        if username not in role:
            out.append(Unexplained("users", username, f"exists (role {current_role!r}), but no audit row added it"))
            continue
        if role[username] != current_role:
            out.append(Unexplained("users", username, f"role {current_role!r}, but the audit trail's last role "
                                                      f"change made it {role[username]!r}"))
        if disabled.get(username, False) != bool(is_disabled):
            state = "disabled" if is_disabled else "enabled"
            out.append(Unexplained("users", username, f"{state}, but no audit row {state[:-1]}ed it"))
    return out


def _settings(con: duckdb.DuckDBPyConnection) -> list[Unexplained]:
    expected: dict[str, tuple[bool, Any]] = {}
    for _, action, object_id, details in _rows(con, "setting"):
        if action == "setting.change":
            expected[object_id] = (True, details.get("to"))
        elif action == "setting.unset":
            expected[object_id] = (False, None)
    out = []
    present = set()
    for scope, key, value in con.execute("SELECT scope, key, value FROM settings ORDER BY scope, key").fetchall():
        name = f"{scope}:{key}"
        present.add(name)
        is_set, audited = expected.get(name, (False, None))
        if not is_set:
            out.append(Unexplained("settings", name, f"holds {value}, but no audit row set it"))
        elif json.loads(value) != audited:
            out.append(Unexplained("settings", name, f"holds {value}, but the audit trail's last change set "
                                                     f"{json.dumps(audited)}"))
    for name, (is_set, audited) in sorted(expected.items()):
        if is_set and name not in present:
            out.append(Unexplained("settings", name, f"was removed, but no audit row unset it (last audited value "
                                                     f"{json.dumps(audited)})"))
    return out


def _deployments(con: duckdb.DuckDBPyConnection) -> list[Unexplained]:
    """Each deployment row's start and end must point at an audit row about the same model (a canary's
    start also re-opens the champion at the remaining share, under the canary's row)."""
    out = []
    for model, version, role, started, start_obj, ended, end_obj in con.execute(
            "SELECT d.model_name, d.version, d.role, d.started_at, s.object_id, d.ended_at, e.object_id "
            "FROM deployments d LEFT JOIN audit_log s ON s.seq = d.start_seq "
            "LEFT JOIN audit_log e ON e.seq = d.end_seq ORDER BY d.model_name, d.version, d.started_at").fetchall():
        key = f"{model}:{version}"
        what = f"{role} from {started:%Y-%m-%d %H:%M} UTC"
        if not str(start_obj or "").startswith(f"{model}:"):
            out.append(Unexplained("deployments", key, f"{what}: its start is explained by no audit row of {model}"))
        if ended is not None and not str(end_obj or "").startswith(f"{model}:"):
            out.append(Unexplained("deployments", key, f"{what}: its end ({ended:%Y-%m-%d %H:%M} UTC) is explained "
                                                       f"by no audit row of {model}"))
    return out


def reconcile(con: duckdb.DuckDBPyConnection) -> list[Unexplained]:
    """Every version status, user, setting and deployment whose state no audit row explains.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The store.

    Returns
    -------
    list of Unexplained
        Empty when the tables agree with the trail.
    """
    return [*_version_statuses(con), *_deployments(con), *_users(con), *_settings(con)]
