"""KPI definitions kept in the store: the value matrix of a model's decisions and its business targets.

A definition is a :class:`KpiDefinition`, one JSON row per model in ``kpi_definitions``. Admins
change it (:func:`save_definition`, capability ``change_settings``), audited in the same
transaction. The formulas of the KPIs live in code; every number they use (the values, the
amount column, which decision is the "accept", the targets) lives in the store.

The value matrix
----------------
Each prediction is *selected* (the business accepts it: a credit application approved) or not,
and its outcome is *good* or *bad* (a client repays or defaults). The four cells hold the value of
one decision, in the model's currency; when ``amount_column`` is set, the cell is a multiple of that
column of the row (credit-default: a share of the credit limit ``LIMIT_BAL``, in NT$).

================  ===================================================================
selected, good    value earned (credit: +5% of the limit, the margin of a good client)
selected, bad     value lost, negative (credit: -25% of the limit, the loss given default)
rejected, good    opportunity cost, negative (credit: -5% of the limit: the margin forgone)
rejected, bad     usually 0 (a loss avoided is not income)
================  ===================================================================

Realised **profit** is the sum of the two *selected* cells (revenue minus loss) over labelled
predictions; the **opportunity cost** is reported beside it and not netted into profit.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, replace
from dataclasses import fields as fields_of
from datetime import datetime, timezone
from typing import Any

import duckdb

from analytics import audit
from analytics.store import run
from analytics.errors import InvalidInputError, NotFoundError
from analytics.logschema import LogSchema
from analytics.registry import get_model
from analytics.roles import Actor, require

#: KPI keys that may carry a target, with whether higher is better.
TARGET_KPIS: dict[str, bool] = {
    "selection_rate": True,
    "bad_rate_selected": False,
    "profit_per_decision": True,
    "expected_loss_rate": False,
    "demographic_parity_ratio": True,
}


@dataclass(frozen=True)
class KpiDefinition:
    """What a model's decisions are worth and what the business case promises.

    Parameters
    ----------
    model : str
        The registered model.
    currency : str
        Currency of the values (``"NT$"``, ``"USD"``).
    selected_decision : int
        The decision value the business acts on as "accepted" (credit-default: 0, approved).
    selected_label : str
        What selection is called (``"approved"``, ``"offered outreach"``).
    bad_label : int
        The outcome label that is bad for a selected case (credit-default: 1, default).
    bad_name : str
        What a bad outcome is called (``"default"``).
    amount_column : str or None
        A numeric log column the values multiply (``"LIMIT_BAL"``); None for absolute values.
    value_selected_good, value_selected_bad, value_rejected_good, value_rejected_bad : float
        The value matrix (see the module docstring).
    fairness_attribute : str or None
        The attribute whose groups' selection rates give the demographic parity ratio.
    targets : dict
        Targets of the business case by KPI key (:data:`TARGET_KPIS`).
    source : str
        Where the numbers come from (a business case, a finance memo).
    """

    model: str
    currency: str
    selected_decision: int
    selected_label: str
    bad_label: int
    bad_name: str
    amount_column: str | None
    value_selected_good: float
    value_selected_bad: float
    value_rejected_good: float
    value_rejected_bad: float = 0.0
    fairness_attribute: str | None = None
    targets: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.selected_decision not in (0, 1) or self.bad_label not in (0, 1):
            raise InvalidInputError("selected_decision and bad_label must be 0 or 1")
        unknown = set(self.targets) - set(TARGET_KPIS)
        if unknown:
            raise InvalidInputError(f"targets for unknown KPIs: {', '.join(sorted(unknown))}; "
                                    f"known: {', '.join(TARGET_KPIS)}")
        if self.value_selected_bad > 0 or self.value_rejected_good > 0:
            raise InvalidInputError("a loss (selected and bad) and an opportunity cost (rejected and good) are "
                                    "entered as negative values or zero")

    def unit(self, schema: LogSchema) -> str:
        """How a cell value reads, the amount column by its title: ``'× credit limit (NT$)'`` or ``'NT$'``."""
        if not self.amount_column:
            return self.currency
        return f"× {schema.display_name(self.amount_column)} ({self.currency})"

    def to_json(self) -> str:
        """The definition as stored."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "KpiDefinition":
        """Read a stored definition."""
        return cls(**json.loads(text))


_TEXT_FIELDS = ("currency", "selected_label", "bad_name", "source")
_OPTIONAL_TEXT_FIELDS = ("amount_column", "fairness_attribute")
_BINARY_FIELDS = ("selected_decision", "bad_label")
_VALUE_FIELDS = ("value_selected_good", "value_selected_bad", "value_rejected_good", "value_rejected_bad")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def definition_from_fields(model: str, fields: dict[str, Any]) -> KpiDefinition:
    """A :class:`KpiDefinition` of ``model`` from the fields of a definition file, every field checked.

    Raises
    ------
    InvalidInputError
        Naming each unknown or missing field and each field of the wrong type, with the fields known.
    """
    known = [f.name for f in fields_of(KpiDefinition) if f.name != "model"]
    required = [f.name for f in fields_of(KpiDefinition)
                if f.name != "model" and f.default is MISSING and f.default_factory is MISSING]
    problems = [f"unknown field {name!r}" for name in fields if name not in known]
    problems += [f"missing field {name!r}" for name in required if name not in fields]
    for name, value in fields.items():
        if name in _TEXT_FIELDS and not isinstance(value, str):
            problems.append(f"{name} must be text")
        elif name in _OPTIONAL_TEXT_FIELDS and value is not None and not isinstance(value, str):
            problems.append(f"{name} must be a column name or null")
        elif name in _BINARY_FIELDS and (not _is_number(value) or value not in (0, 1)):
            problems.append(f"{name} must be 0 or 1")
        elif name in _VALUE_FIELDS and not _is_number(value):
            problems.append(f"{name} must be a finite number")
        elif name == "targets" and not (isinstance(value, dict) and all(_is_number(v) for v in value.values())):
            problems.append("targets must be an object of KPI keys and numbers, for example {\"selection_rate\": 0.8}")
    if problems:
        raise InvalidInputError("the KPI definition cannot be used: " + "; ".join(problems)
                                + f". Fields: {', '.join(known)} (required: {', '.join(required)})")
    return KpiDefinition(model=model, **fields)


def get_definition(con: duckdb.DuckDBPyConnection, model: str) -> KpiDefinition:
    """The stored KPI definition of ``model``.

    Raises
    ------
    NotFoundError
        When no definition is stored (an admin enters one on the KPIs page or with ``vigil kpis define``).
    """
    row = con.execute("SELECT definition FROM kpi_definitions WHERE model_name = ?", [model]).fetchone()
    if row is None:
        raise NotFoundError(f"no business KPI definition is stored for {model!r}: an admin enters its value "
                            "matrix and targets on the KPIs page (or `vigil kpis define`)")
    return KpiDefinition.from_json(row[0])


def has_definition(con: duckdb.DuckDBPyConnection, model: str) -> bool:
    """Whether ``model`` has a stored KPI definition."""
    return con.execute("SELECT count(*) FROM kpi_definitions WHERE model_name = ?", [model]).fetchone()[0] > 0


def definition_models(db) -> list[str]:
    """Models with a stored KPI definition."""
    return run(db, lambda con: [r[0] for r in con.execute(
        "SELECT model_name FROM kpi_definitions ORDER BY model_name").fetchall()])


def save_definition(con: duckdb.DuckDBPyConnection, actor: Actor, definition: KpiDefinition, *,
                    at: datetime | None = None) -> KpiDefinition:
    """Store (insert or replace) a model's KPI definition; admins only, audited in the caller's transaction."""
    require(actor, "change_settings")
    info = get_model(con, definition.model)
    names = {c.name for c in info.schema.columns}
    for column in (definition.amount_column, definition.fairness_attribute):
        if column is not None and column not in names:
            raise InvalidInputError(f"{column!r} is not a column of {definition.model}")
    before = con.execute("SELECT definition FROM kpi_definitions WHERE model_name = ?",
                         [definition.model]).fetchone()
    when = (at or datetime.now(timezone.utc)).replace(tzinfo=None)
    con.execute("INSERT OR REPLACE INTO kpi_definitions (model_name, definition, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?)",
                [definition.model, definition.to_json(), when, actor.username])
    audit.record(con, actor, "kpi_definition.save", "kpi_definition", definition.model,
                 {"from": json.loads(before[0]) if before else None, "to": asdict(definition)}, at=at)
    return definition


def with_changes(definition: KpiDefinition, **changes: Any) -> KpiDefinition:
    """A copy of ``definition`` with fields changed (validated again)."""
    return replace(definition, **changes)
