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
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.registry import get_model
from analytics.roles import Actor, require

if TYPE_CHECKING:
    import pandas as pd

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

    @property
    def kind(self) -> str:
        """The type of the setting's values, in words: ``number``, ``integer``, ``text`` or ``boolean``."""
        return {bool: "boolean", int: "integer", float: "number", str: "text"}[type(self.default)]

    def allowed(self) -> str:
        """The values the setting accepts, in words (``a number from 0.5 to 1``, ``one of p50, p95, p99``)."""
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        if self.kind == "boolean":
            return "true or false"
        low = None if self.minimum is None else format_number(self.minimum)
        high = None if self.maximum is None else format_number(self.maximum)
        if low is not None and high is not None:
            return f"{'an' if self.kind == 'integer' else 'a'} {self.kind} from {low} to {high}"
        if low is not None:
            return f"{'an' if self.kind == 'integer' else 'a'} {self.kind} of at least {low}"
        if high is not None:
            return f"{'an' if self.kind == 'integer' else 'a'} {self.kind} of at most {high}"
        return f"{'an' if self.kind == 'integer' else 'a'} {self.kind}"

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to the default's type, or raise :class:`InvalidInputError` naming the range."""
        kind = type(self.default)
        refused = InvalidInputError(f"{self.key}: {value!r} is refused; allowed: {self.allowed()}")
        try:
            if kind is bool:
                if not isinstance(value, bool):
                    raise ValueError
                converted = value
            elif kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            elif kind in (int, float) and isinstance(value, bool):
                raise ValueError
            else:
                converted = kind(value)
        except (TypeError, ValueError):
            raise refused from None
        if kind is float and not math.isfinite(converted):  # NaN, inf and 1e400 (a threshold nothing can reach)
            raise refused
        if self.minimum is not None and converted < self.minimum:
            raise refused
        if self.maximum is not None and converted > self.maximum:
            raise refused
        if self.choices and converted not in self.choices:
            raise refused
        return converted

    def parse(self, text: str) -> Any:
        """Convert a value typed by a person (CLI argument, text field) and validate it.

        Raises
        ------
        InvalidInputError
            When ``text`` is not a value of the setting's type or lies outside its range; the
            message names the allowed values.
        """
        raw = text.strip()
        if self.kind == "boolean":
            words = {"true": True, "yes": True, "on": True, "1": True,
                     "false": False, "no": False, "off": False, "0": False}
            if raw.lower() not in words:
                raise InvalidInputError(f"{self.key}: {text!r} is refused; allowed: {self.allowed()}")
            return self.validate(words[raw.lower()])
        if self.kind == "integer":
            try:
                return self.validate(int(raw.replace("_", "")))
            except ValueError:
                raise InvalidInputError(f"{self.key}: {text!r} is refused; allowed: {self.allowed()}") from None
        if self.kind == "number":
            try:
                return self.validate(float(raw.replace("_", "")))
            except ValueError:
                raise InvalidInputError(f"{self.key}: {text!r} is refused; allowed: {self.allowed()}") from None
        return self.validate(text)


def format_number(value: float) -> str:
    """A number as a person writes it: ``0.8``, ``100``, ``20,000`` (no trailing zeros, no exponent)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.6g}"


def format_value(setting: Setting, value: Any) -> str:
    """A setting's value as text (``0.8``, ``20,000 rows``, ``p95``, ``true``, ``(empty)``)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = format_number(value)
    else:
        text = str(value) if str(value) != "" else "(empty)"
    return f"{text} {setting.unit}" if setting.unit and not isinstance(value, (bool, str)) else text


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


def lookup(key: str) -> Setting:
    """The declared setting ``key``.

    Raises
    ------
    InvalidInputError
        If no setting of that key is declared (the message lists the known keys).
    """
    try:
        return _DECLARED[key]
    except KeyError:
        raise InvalidInputError(f"setting {key!r} is unknown; known: {', '.join(sorted(_DECLARED))}") from None


def get(con: duckdb.DuckDBPyConnection, key: str, *, model: str | None = None) -> Any:
    """Return the value of ``key`` for ``model`` (its own, else the global one, else the default)."""
    setting = lookup(key)
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
    """Change a setting (admins only), globally or for one model; audited with the old and new value.

    The audit row (action ``setting.change``, details ``from``/``to``) is written in the caller's
    transaction, so the change and its record land together or not at all.
    """
    require(actor, "change_settings")
    setting = lookup(key)
    converted = setting.validate(value)
    if model is not None:
        get_model(con, model)
    scope = model or GLOBAL
    before = get(con, key, model=model)
    con.execute(
        "INSERT OR REPLACE INTO settings (scope, key, value, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)",
        [scope, key, json.dumps(converted), utc_now(), actor.username])
    audit.record(con, actor, "setting.change", "setting", f"{scope}:{key}", {"from": before, "to": converted})
    return converted


def unset(con: duckdb.DuckDBPyConnection, actor: Actor, key: str, *, model: str | None = None) -> Any:
    """Remove a setting's global value (back to the default) or one model's override (back to the global
    value); audited with the old and new effective value. Returns the value now in effect.

    Raises
    ------
    InvalidInputError
        When the setting has no value at that scope (nothing to remove).
    """
    require(actor, "change_settings")
    lookup(key)
    if model is not None:
        get_model(con, model)
    scope = model or GLOBAL
    if con.execute("SELECT count(*) FROM settings WHERE scope = ? AND key = ?", [scope, key]).fetchone()[0] == 0:
        where = f"for model {model!r}" if model else "globally"
        raise InvalidInputError(f"{key} has no value set {where}; nothing to unset")
    before = get(con, key, model=model)
    con.execute("DELETE FROM settings WHERE scope = ? AND key = ?", [scope, key])
    after = get(con, key, model=model)
    audit.record(con, actor, "setting.unset", "setting", f"{scope}:{key}", {"from": before, "to": after})
    return after


def overrides(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Any]:
    """The models that set ``key`` for themselves, with their values, by model name."""
    setting = lookup(key)
    return {scope: setting.validate(json.loads(value)) for scope, value in con.execute(
        "SELECT scope, value FROM settings WHERE key = ? AND scope <> ? ORDER BY scope", [key, GLOBAL]).fetchall()}


def table(con: duckdb.DuckDBPyConnection, *, model: str | None = None) -> pd.DataFrame:
    """Every declared setting with its effective value for ``model`` and where that value comes from."""
    import pandas as pd

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
