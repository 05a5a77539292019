"""The declared log schema of a model: which typed columns its prediction log carries.

A model registers its schema once. Every prediction row then carries the fixed columns
(:data:`PREDICTION_COLUMNS`) plus one typed column per declared :class:`Column`. Outcomes carry
:data:`OUTCOME_COLUMNS`. Reference data carries the declared feature columns plus ``label``,
``score`` and ``decision``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Literal

from analytics.errors import InvalidInputError

ColumnType = Literal["double", "integer", "categorical", "boolean"]
ColumnRole = Literal["feature", "segment", "attribute"]
Mutability = Literal["free", "immutable", "increase_only"]

COLUMN_TYPES: dict[str, str] = {
    "double": "DOUBLE",
    "integer": "BIGINT",
    "categorical": "VARCHAR",
    "boolean": "BOOLEAN",
}
DEPLOYMENT_ROLES = ("champion", "challenger", "shadow", "canary")

#: Columns every prediction row carries, with their DuckDB types, in log order.
PREDICTION_COLUMNS: dict[str, str] = {
    "prediction_id": "VARCHAR",
    "predicted_at": "TIMESTAMP",
    "model_version": "VARCHAR",
    "deployment_role": "VARCHAR",
    "score": "DOUBLE",
    "decision": "TINYINT",
    "latency_ms": "DOUBLE",
    "cost": "DOUBLE",
}
#: Columns a prediction row may carry (NULL when the source leaves them out), with their DuckDB types.
#: ``request_id`` names the serving request: a shadow version's row and the champion's row of the same
#: request carry the same value, which pairs them for a paired comparison (:mod:`analytics.deployments`).
OPTIONAL_PREDICTION_COLUMNS: dict[str, str] = {"request_id": "VARCHAR"}
#: A declared input column of this name holds the decision a human reviewer made on the row (empty where
#: nobody reviewed it): the model-risk pack's overrides and the records export read it.
OVERRIDE_COLUMN = "human_decision"
#: Columns every outcome row carries.
OUTCOME_COLUMNS: dict[str, str] = {
    "prediction_id": "VARCHAR",
    "observed_at": "TIMESTAMP",
    "label": "TINYINT",
    "business_value": "DOUBLE",
}
#: Columns a reference row carries besides the declared columns.
REFERENCE_COLUMNS: dict[str, str] = {"label": "TINYINT", "score": "DOUBLE", "decision": "TINYINT"}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MODEL_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")


def check_identifier(name: str, what: str = "column") -> str:
    """Return ``name`` if it is a safe SQL identifier, else raise :class:`InvalidInputError`."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise InvalidInputError(
            f"{what} name {name!r} is not allowed: use letters, digits and underscores, "
            "starting with a letter or underscore (at most 63 characters)"
        )
    return name


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name (lower-case letters, digits and hyphens)."""
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise InvalidInputError(
            f"model name {name!r} is not allowed: use lower-case letters, digits and hyphens, "
            "starting with a letter (for example 'credit-default')"
        )
    return name


def quote(name: str) -> str:
    """Quote a checked identifier for DuckDB SQL."""
    return '"' + check_identifier(name) + '"'


def quote_any(name: str) -> str:
    """Quote any column name of a user's file for DuckDB SQL (``default-payment-next-month``, ``LIMIT BAL``).

    The name is quoted, never pasted: a double quote inside it is doubled, so the name cannot end
    the identifier. Declared names stay restricted (:func:`check_identifier`); a file's own column
    names are whatever the file holds.

    Raises
    ------
    InvalidInputError
        For a name that is not a string, is empty, or holds a NUL character.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InvalidInputError(f"column name {name!r} cannot be used: it is empty or holds a NUL character")
    return '"' + name.replace('"', '""') + '"'


def text_literal(text: str) -> str:
    """A DuckDB SQL string literal of any text: a quote inside it doubled, a NUL character (which a literal
    cannot hold) joined in as ``chr(0)``.

    Where a query must run without parameters: DuckDB's conversion of a Python parameter imports pandas
    (about a quarter of a second of the ``vigil drift`` gate's start).
    """
    parts = ["'" + part.replace("'", "''") + "'" for part in text.split("\x00")]
    return parts[0] if len(parts) == 1 else "(" + " || chr(0) || ".join(parts) + ")"


@dataclass(frozen=True)
class Column:
    """One declared column of a model's log.

    Parameters
    ----------
    name : str
        Column name as it appears in log files (a SQL identifier).
    dtype : {"double", "integer", "categorical", "boolean"}
        Logical type; categorical values are stored as text.
    role : {"feature", "segment", "attribute"}, default "feature"
        ``feature`` is an input of the model; ``segment`` a business dimension such as region;
        ``attribute`` a logged attribute that is not an input (for example a protected attribute
        kept out of the model but needed for fairness).
    sensitive : bool, default False
        A protected attribute: used for fairness, hidden from roles that may not see it per row.
    nullable : bool, default True
        Whether a missing value (NULL) is accepted. NaN and infinities are never accepted.
    mutability : {"free", "immutable", "increase_only"}, default "free"
        Constraint for counterfactual search.
    description : str, default ""
        Human-readable meaning, shown in the registry.
    title : str, default ""
        Short title shown on pages and in the dossier instead of the column's name (``"credit
        limit"`` for ``LIMIT_BAL``); empty means the name is shown.
    """

    name: str
    dtype: ColumnType
    role: ColumnRole = "feature"
    sensitive: bool = False
    nullable: bool = True
    mutability: Mutability = "free"
    description: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        check_identifier(self.name)
        if not isinstance(self.title, str) or self.title != self.title.strip() or "\n" in self.title:
            raise InvalidInputError(
                f"column {self.name!r}: title {self.title!r} must be one line of text without leading "
                "or trailing spaces"
            )
        if (self.name in PREDICTION_COLUMNS or self.name in OPTIONAL_PREDICTION_COLUMNS or self.name in OUTCOME_COLUMNS
                or self.name == "ingest_id"):
            raise InvalidInputError(f"column name {self.name!r} is reserved by Vigil; rename it")
        if self.dtype not in COLUMN_TYPES:
            raise InvalidInputError(
                f"column {self.name!r}: type {self.dtype!r} is unknown; use one of {sorted(COLUMN_TYPES)}"
            )
        if self.role not in ("feature", "segment", "attribute"):
            raise InvalidInputError(f"column {self.name!r}: role {self.role!r} is unknown")
        if self.mutability not in ("free", "immutable", "increase_only"):
            raise InvalidInputError(f"column {self.name!r}: mutability {self.mutability!r} is unknown")

    @property
    def sql_type(self) -> str:
        """The DuckDB type that stores this column."""
        return COLUMN_TYPES[self.dtype]

    @property
    def display_name(self) -> str:
        """What a page calls this column: its title, or its name when it has none."""
        return self.title or self.name


def _binary_words(labels: object, what: str) -> dict[int, str]:
    """Check a mapping of 0/1 to words (keys may be text, as TOML and JSON keys are) and return it."""
    if not isinstance(labels, dict):
        raise InvalidInputError(f"{what} must map 0 and 1 to words, for example {{0: 'approved', 1: 'declined'}}")
    checked: dict[int, str] = {}
    for key, words in labels.items():
        value = key if isinstance(key, int) and not isinstance(key, bool) else None
        if isinstance(key, str) and key.strip() in ("0", "1"):
            value = int(key.strip())
        if value not in (0, 1):
            raise InvalidInputError(f"{what}: key {key!r} is not a value of a binary model; use 0 and 1")
        if not isinstance(words, str) or not words.strip() or "\n" in words:
            raise InvalidInputError(f"{what}: the words for {value} must be one non-empty line of text")
        checked[value] = words.strip()
    if len(checked) == 2 and checked[0].casefold() == checked[1].casefold():
        raise InvalidInputError(f"{what}: 0 and 1 both read {checked[0]!r}; give each its own words")
    return dict(sorted(checked.items()))


@dataclass(frozen=True)
class LogSchema:
    """The declared schema of a model's prediction log.

    Parameters
    ----------
    columns : tuple of Column
        Declared columns (features, segments and logged attributes), in log order.
    positive_class : str
        What a label (and a decision) of 1 means, e.g. ``"default"``.
    task : str, default "binary_classification"
        The model's task; only binary classification is supported so far.
    notes : dict, optional
        Free notes (currency, orderings, ...); not compared.
    decision_labels : dict of {int: str}, optional
        The model's decisions in its owner's words, e.g. ``{0: "approved", 1: "declined"}``. Keys
        may be given as text (``"0"``), as a TOML or JSON file gives them. A value without words is
        described from ``positive_class`` (see :meth:`decision_text`).
    outcome_labels : dict of {int: str}, optional
        The observed outcomes (the ``label`` column) in words, e.g. ``{0: "repaid", 1: "defaulted"}``.
    favourable_decision : {0, 1} or None, default None
        The decision value that is good for the person (for a default model, 0: approved). Fairness
        rates are of this decision. It is declared, never guessed: a model spec requires it, and
        fairness refuses a model whose schema leaves it out.
    """

    columns: tuple[Column, ...]
    positive_class: str
    task: str = "binary_classification"
    notes: dict = field(default_factory=dict, compare=False)
    decision_labels: dict = field(default_factory=dict, hash=False)
    outcome_labels: dict = field(default_factory=dict, hash=False)
    favourable_decision: int | None = None

    def __post_init__(self) -> None:
        if self.favourable_decision is not None and (
                isinstance(self.favourable_decision, bool) or self.favourable_decision not in (0, 1)):
            raise InvalidInputError(
                f"favourable_decision {self.favourable_decision!r} is not a decision of a binary model; use 0 or 1")
        object.__setattr__(self, "decision_labels", _binary_words(self.decision_labels, "decision_labels"))
        object.__setattr__(self, "outcome_labels", _binary_words(self.outcome_labels, "outcome_labels"))
        names = [c.name for c in self.columns]
        if not names:
            raise InvalidInputError("a log schema needs at least one declared column")
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InvalidInputError(f"columns declared more than once: {', '.join(duplicated)}")
        if self.task != "binary_classification":
            raise InvalidInputError(f"task {self.task!r} is not supported yet (binary_classification only)")

    @property
    def features(self) -> tuple[Column, ...]:
        """The model's inputs."""
        return tuple(c for c in self.columns if c.role == "feature")

    @property
    def segments(self) -> tuple[Column, ...]:
        """Business dimensions (region, channel, ...)."""
        return tuple(c for c in self.columns if c.role == "segment")

    @property
    def sensitive(self) -> tuple[Column, ...]:
        """Protected attributes."""
        return tuple(c for c in self.columns if c.sensitive)

    def column(self, name: str) -> Column:
        """Return the declared column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise InvalidInputError(f"column {name!r} is not declared in this model's schema")

    def display_name(self, name: str) -> str:
        """What a page calls column ``name``: a declared column's title, else the name itself."""
        for c in self.columns:
            if c.name == name:
                return c.display_name
        return name

    def decision_text(self, value: int) -> str:
        """A decision value in the model's words.

        Parameters
        ----------
        value : int
            0 or 1, as logged in ``decision``.

        Returns
        -------
        str
            The declared words (``"declined"``), else ``"predicted <positive class>"`` for 1 and
            ``"predicted not <positive class>"`` for 0.
        """
        value = int(value)
        if value in self.decision_labels:
            return self.decision_labels[value]
        return f"predicted {self.positive_class}" if value == 1 else f"predicted not {self.positive_class}"

    def outcome_text(self, value: int) -> str:
        """An observed outcome (``label``) in the model's words: the declared words, else
        ``"<positive class>"`` for 1 and ``"not <positive class>"`` for 0."""
        value = int(value)
        if value in self.outcome_labels:
            return self.outcome_labels[value]
        return self.positive_class if value == 1 else f"not {self.positive_class}"

    def prediction_columns(self) -> dict[str, str]:
        """All columns of a prediction row with their DuckDB types, in log order (optional ones included)."""
        return {**PREDICTION_COLUMNS, **OPTIONAL_PREDICTION_COLUMNS, **{c.name: c.sql_type for c in self.columns}}

    def reference_columns(self) -> dict[str, str]:
        """All columns of a reference row with their DuckDB types."""
        return {**{c.name: c.sql_type for c in self.columns}, **REFERENCE_COLUMNS}

    def to_json(self) -> str:
        """Serialise to JSON (stored in the registry)."""
        return json.dumps(
            {
                "task": self.task,
                "positive_class": self.positive_class,
                "columns": [asdict(c) for c in self.columns],
                "notes": self.notes,
                "decision_labels": {str(k): v for k, v in self.decision_labels.items()},
                "outcome_labels": {str(k): v for k, v in self.outcome_labels.items()},
                "favourable_decision": self.favourable_decision,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> "LogSchema":
        """Rebuild a schema from :meth:`to_json` output."""
        data = json.loads(text)
        return cls(
            columns=tuple(Column(**c) for c in data["columns"]),
            positive_class=data["positive_class"],
            task=data.get("task", "binary_classification"),
            notes=data.get("notes", {}),
            decision_labels=data.get("decision_labels", {}),
            outcome_labels=data.get("outcome_labels", {}),
            favourable_decision=data.get("favourable_decision"),
        )
