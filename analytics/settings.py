"""Settings: thresholds and targets, global or per model, kept in the store and changed by admins.

A feature declares each of its settings once with :func:`declare` (key, default, description and a
validation range); the store keeps only values that differ from the default. :func:`get` resolves
a value for a model (model value, else global value, else default). :func:`set_value` checks the
role, validates, and writes the change with its audit row in the caller's transaction.

Example
-------
>>> PSI_THRESHOLD = declare("drift.psi_threshold", 0.25, "PSI above which a feature has drifted",
...                         minimum=0.0)                                         # doctest: +SKIP
>>> get(con, "drift.psi_threshold", model="credit-default")                     # doctest: +SKIP
0.25
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb
import pandas as pd

from analytics import audit
from analytics.errors import InvalidInputError
from analytics.roles import Actor, require

GLOBAL = "*"


@dataclass(frozen=True)
class Setting:
    """A declared setting: its key, default, meaning, unit and allowed range."""

    key: str
    default: float | int | str | bool
    description: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to the default's type, or raise :class:`InvalidInputError`."""
        kind = type(self.default)
        try:
            if kind is bool:
                if not isinstance(value, bool):
                    raise ValueError
                converted = value
            else:
                converted = kind(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{self.key}: {value!r} is not a {kind.__name__}") from None
        if self.minimum is not None and converted < self.minimum:
            raise InvalidInputError(f"{self.key}: {converted} is below the minimum {self.minimum}")
        if self.maximum is not None and converted > self.maximum:
            raise InvalidInputError(f"{self.key}: {converted} is above the maximum {self.maximum}")
        if self.choices and converted not in self.choices:
            raise InvalidInputError(f"{self.key}: {converted!r} is not one of {', '.join(self.choices)}")
        return converted


_DECLARED: dict[str, Setting] = {}


def declare(key: str, default: float | int | str | bool, description: str, *, unit: str = "",
            minimum: float | None = None, maximum: float | None = None, choices: tuple[str, ...] = ()) -> Setting:
    """Declare a setting (once, at import of the feature that uses it) and return it."""
    setting = Setting(key, default, description, unit, minimum, maximum, choices)
    existing = _DECLARED.get(key)
    if existing is not None and existing != setting:
        raise ValueError(f"setting {key!r} is declared twice with different definitions")
    _DECLARED[key] = setting
    return setting


def declared() -> dict[str, Setting]:
    """Every declared setting, by key."""
    return dict(_DECLARED)


def _setting(key: str) -> Setting:
    try:
        return _DECLARED[key]
    except KeyError:
        raise InvalidInputError(f"setting {key!r} is unknown; known: {', '.join(sorted(_DECLARED))}") from None


def get(con: duckdb.DuckDBPyConnection, key: str, *, model: str | None = None) -> Any:
    """Return the value of ``key`` for ``model`` (its own, else the global one, else the default)."""
    setting = _setting(key)
    scopes = [model, GLOBAL] if model else [GLOBAL]
    rows = dict(con.execute(
        f"SELECT scope, value FROM settings WHERE key = ? AND scope IN ({', '.join('?' * len(scopes))})",
        [key, *scopes]).fetchall())
    for scope in scopes:
        if scope in rows:
            return setting.validate(json.loads(rows[scope]))
    return setting.default


def set_value(con: duckdb.DuckDBPyConnection, actor: Actor, key: str, value: Any, *,
              model: str | None = None) -> Any:
    """Change a setting (admins only), globally or for one model; the change is audited."""
    require(actor, "change_settings")
    setting = _setting(key)
    converted = setting.validate(value)
    scope = model or GLOBAL
    before = get(con, key, model=model)
    con.execute(
        "INSERT OR REPLACE INTO settings VALUES (?, ?, ?, ?, ?)",
        [scope, key, json.dumps(converted), datetime.now(timezone.utc).replace(tzinfo=None), actor.username])
    audit.record(con, actor, "setting.change", "setting", f"{scope}:{key}", {"from": before, "to": converted})
    return converted


def table(con: duckdb.DuckDBPyConnection, *, model: str | None = None) -> pd.DataFrame:
    """Every declared setting with its effective value for ``model`` and where that value comes from."""
    stored = {(scope, key): (json.loads(value), at, by) for scope, key, value, at, by in con.execute(
        "SELECT scope, key, value, updated_at, updated_by FROM settings").fetchall()}
    rows = []
    for key, setting in sorted(_DECLARED.items()):
        source, value, at, by = "default", setting.default, None, None
        for scope in ([model, GLOBAL] if model else [GLOBAL]):
            if (scope, key) in stored:
                value, at, by = stored[(scope, key)]
                source = "this model" if scope == model else "global"
                break
        rows.append({"key": key, "value": value, "unit": setting.unit, "default": setting.default,
                     "source": source, "description": setting.description, "updated_at": at, "updated_by": by})
    return pd.DataFrame(rows)
