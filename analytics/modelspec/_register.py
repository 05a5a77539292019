"""Registering a model from its spec, and applying a changed spec to a registered model.

A changed spec is compared with the registered model. Compatible changes (owner, description,
favourable decision, decision and outcome words, notes, a column's description, title, sensitivity,
mutability, a column becoming nullable, a new nullable column) are applied, each with its own audit
row (old and new value) in the same transaction. Incompatible changes (a removed column, a changed
type or role, a column becoming required, a new required column, a changed positive class or task)
would misread the rows already logged: the spec is refused with one line per change and nothing
changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import duckdb

from analytics import audit, registry
from analytics.errors import InvalidInputError
from analytics.logschema import Column, quote
from analytics.modelspec._spec import InvalidSpecError, ModelSpec
from analytics.roles import Actor, require
from analytics.store import define_predictions_view, log_table, reference_table

#: Column fields a changed spec may change for a registered column.
_COLUMN_COMPATIBLE = ("description", "title", "sensitive", "mutability")


@dataclass(frozen=True)
class Change:
    """One compatible change of a registered model: what changed, from what, to what."""

    what: str
    old: object
    new: object

    def __str__(self) -> str:
        return f"{self.what}: {self.old!r} -> {self.new!r}"


@dataclass(frozen=True)
class Registration:
    """What ``vigil models register`` did: created the model, changed it (``changes``), or nothing."""

    model: str
    created: bool
    changes: tuple[Change, ...]

    def summary(self) -> str:
        """One line per change, for the command line."""
        if self.created:
            return f"registered model {self.model}"
        if not self.changes:
            return f"model {self.model} is registered and matches the spec; nothing changed"
        lines = [f"model {self.model}: {len(self.changes)} change{'s' if len(self.changes) != 1 else ''} applied"]
        return "\n".join([*lines, *(f"  {c}" for c in self.changes)])


def compare(old: ModelSpec, new: ModelSpec) -> tuple[list[Change], list[str]]:
    """The compatible changes from ``old`` to ``new``, and the incompatible ones (as sentences)."""
    changes: list[Change] = []
    refused: list[str] = []
    for field in ("owner", "description"):
        if getattr(old, field) != getattr(new, field):
            changes.append(Change(field, getattr(old, field), getattr(new, field)))
    a, b = old.schema, new.schema
    for field in ("favourable_decision", "decision_labels", "outcome_labels", "notes"):
        if getattr(a, field) != getattr(b, field):
            changes.append(Change(field, getattr(a, field), getattr(b, field)))
    if a.positive_class != b.positive_class:
        refused.append(f"positive_class {a.positive_class!r} -> {b.positive_class!r}: the logged scores and labels "
                       "would change meaning")
    if a.task != b.task:
        refused.append(f"task {a.task!r} -> {b.task!r}")
    before = {c.name: c for c in a.columns}
    after = {c.name: c for c in b.columns}
    for name, column in before.items():
        if name not in after:
            refused.append(f"column {name!r} removed: logged rows hold it (keep it in the spec)")
            continue
        new_column = after[name]
        if column.dtype != new_column.dtype:
            refused.append(f"column {name!r}: type {column.dtype} -> {new_column.dtype}")
        if column.role != new_column.role:
            refused.append(f"column {name!r}: role {column.role} -> {new_column.role}")
        if column.nullable and not new_column.nullable:
            refused.append(f"column {name!r}: nullable true -> false (logged rows may hold NULL)")
        elif column.nullable != new_column.nullable:
            changes.append(Change(f"column {name}.nullable", column.nullable, new_column.nullable))
        for field in _COLUMN_COMPATIBLE:
            if getattr(column, field) != getattr(new_column, field):
                changes.append(Change(f"column {name}.{field}", getattr(column, field), getattr(new_column, field)))
    for name, column in after.items():
        if name in before:
            continue
        if not column.nullable:
            refused.append(f"new column {name!r} has nullable = false: rows logged before it have no value "
                           "(declare it nullable)")
        else:
            changes.append(Change(f"column {name}", None, column.dtype))
    kept_old = [c.name for c in a.columns if c.name in after]
    kept_new = [c.name for c in b.columns if c.name in before]
    if kept_old != kept_new:
        changes.append(Change("column order", kept_old, kept_new))
    return changes, refused


def registered_spec(con: duckdb.DuckDBPyConnection, model: str) -> ModelSpec:
    """The spec of a registered model, as ``vigil models show`` prints it."""
    info = registry.get_model(con, model)
    return ModelSpec(name=info.name, owner=info.owner, description=info.description, schema=info.schema)


def register_spec(con: duckdb.DuckDBPyConnection, actor: Actor, spec: ModelSpec, *,
                  at: datetime | None = None) -> Registration:
    """Register the model a spec declares, or apply the spec's compatible changes to it.

    Call inside :func:`analytics.store.write`: the model, its tables and every audit row are written
    in one transaction.

    Raises
    ------
    InvalidSpecError
        If the spec changes the registered model incompatibly (one line per change).
    PermissionDeniedError
        If the actor's role may not register models.
    """
    require(actor, "register_model")
    exists = con.execute("SELECT 1 FROM models WHERE model_name = ?", [spec.name]).fetchone()
    if not exists:
        registry.register_model(con, actor, spec.name, spec.schema, owner=spec.owner, description=spec.description,
                                at=at)
        return Registration(spec.name, True, ())
    old = registered_spec(con, spec.name)
    changes, refused = compare(old, spec)
    if refused:
        raise InvalidSpecError(
            f"model {spec.name}", [f"incompatible change: {r}" for r in refused],
            "Keep these as registered, or register the changed model under a new name.")
    if not changes:
        return Registration(spec.name, False, ())
    info = registry.get_model(con, spec.name)
    added = [c for c in spec.schema.columns if c.name not in {o.name for o in old.schema.columns}]
    for column in added:
        _add_column(con, info.stem, column)
    con.execute("UPDATE models SET owner = ?, description = ?, log_schema = ? WHERE model_name = ?",
                [spec.owner, spec.description, spec.schema.to_json(), spec.name])
    define_predictions_view(con, spec.name, info.stem, spec.schema)
    for change in changes:
        details = {"change": change.what, "old": change.old, "new": change.new}
        if change.what.startswith("column ") and change.old is None:
            details["column"] = asdict(next(c for c in added if f"column {c.name}" == change.what))
        audit.record(con, actor, "model.update", "model", spec.name, details, at=at)
    return Registration(spec.name, False, tuple(changes))


def _add_column(con: duckdb.DuckDBPyConnection, stem: str, column: Column) -> None:
    """A new nullable column on the model's tables (its view is redefined by the caller)."""
    if not column.nullable:  # compare() refuses it; a guard against another caller
        raise InvalidInputError(f"a new column must be nullable: {column.name}")
    for table in (log_table(stem), reference_table(stem)):
        con.execute(f"ALTER TABLE {table} ADD COLUMN {quote(column.name)} {column.sql_type}")
