"""A model spec: the TOML file that declares a model once (name, owner, log schema, favourable decision).

The file is read with Python's :mod:`tomllib` and checked as a whole: every problem found is
reported, one per line, and nothing is registered while any remains. :func:`spec_to_toml` writes
a spec back out so that reading its output gives the same spec (``vigil models show``).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.errors import InvalidInputError
from analytics.logschema import (
    COLUMN_TYPES, OPTIONAL_PREDICTION_COLUMNS, OUTCOME_COLUMNS, PREDICTION_COLUMNS, REFERENCE_COLUMNS, Column,
    LogSchema, check_identifier, check_model_name,
)

ROLES = ("feature", "attribute", "segment")
MUTABILITIES = ("free", "immutable", "increase_only")
#: Column names a log already carries (compared without regard to case, as DuckDB does).
RESERVED = frozenset(n.lower() for n in (*PREDICTION_COLUMNS, *OPTIONAL_PREDICTION_COLUMNS, *OUTCOME_COLUMNS,
                                         *REFERENCE_COLUMNS, "ingest_id"))

_TOP_KEYS = {"name", "description", "owner", "positive_class", "favourable_decision", "decision_labels",
             "outcome_labels", "task", "notes", "columns"}
_COLUMN_KEYS = {"name", "type", "role", "sensitive", "nullable", "mutability", "description", "title"}
_REQUIRED = ("name", "owner", "positive_class", "favourable_decision", "columns")


class InvalidSpecError(InvalidInputError):
    """A model spec with one or more problems; ``problems`` lists each of them.

    Parameters
    ----------
    source : str
        Where the spec came from (a file name), named in the message.
    problems : list of str
        One sentence per problem.
    hint : str, optional
        What to do, printed after the problems.
    """

    def __init__(self, source: str, problems: list[str], hint: str = "") -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}; "
                         f"nothing was changed:\n{lines}" + (f"\n{hint}" if hint else ""))


@dataclass(frozen=True)
class ModelSpec:
    """A model as its spec declares it.

    Attributes
    ----------
    name : str
        Model name: lower-case letters, digits and hyphens.
    owner : str
        Who answers for the model.
    description : str
        What the model does, in a sentence or two.
    schema : LogSchema
        The log schema: columns, positive class, favourable decision, decision and outcome words.
    """

    name: str
    owner: str
    description: str
    schema: LogSchema


def _text(value: Any, where: str, problems: list[str], *, one_line: bool = True) -> str:
    if not isinstance(value, str):
        problems.append(f"{where} must be text, not {type(value).__name__} {value!r}")
        return ""
    if one_line and ("\n" in value or value != value.strip()):
        problems.append(f"{where} {value!r} must be one line without leading or trailing spaces or newlines")
    return value


def _flag(value: Any, where: str, problems: list[str]) -> bool:
    if not isinstance(value, bool):
        problems.append(f"{where} must be true or false, not {value!r}")
        return False
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str, problems: list[str]) -> str:
    if value not in allowed:
        problems.append(f"{where} {value!r} is unknown; use one of {', '.join(allowed)}")
    return value


def _check(check, value: Any, problems: list[str]) -> None:
    try:
        check(value)
    except InvalidInputError as exc:
        problems.append(str(exc))


def _column(raw: Any, index: int, problems: list[str]) -> Column | None:
    """One ``[[columns]]`` table checked field by field (every problem noted), or None."""
    if not isinstance(raw, dict):
        problems.append(f"columns[{index}] must be a table ([[columns]]), not {raw!r}")
        return None
    before = len(problems)
    name = raw.get("name")
    where = f"column {name!r}" if isinstance(name, str) else f"columns[{index}]"
    if name is None:
        problems.append(f"columns[{index}] has no name")
    else:
        _check(lambda v: check_identifier(v, "column"), name, problems)
        if isinstance(name, str) and name.lower() in RESERVED:
            problems.append(f"column name {name!r} is reserved by Vigil (every log carries "
                            f"{', '.join(sorted(RESERVED))}); rename it")
    for key in sorted(set(raw) - _COLUMN_KEYS):
        problems.append(f"{where}: key {key!r} is unknown; use {', '.join(sorted(_COLUMN_KEYS))}")
    if "type" not in raw:
        problems.append(f"{where} has no type; use one of {', '.join(COLUMN_TYPES)}")
    else:
        _choice(raw["type"], tuple(COLUMN_TYPES), f"{where}: type", problems)
    role = _choice(raw.get("role", "feature"), ROLES, f"{where}: role", problems)
    mutability = _choice(raw.get("mutability", "free"), MUTABILITIES, f"{where}: mutability", problems)
    sensitive = _flag(raw.get("sensitive", False), f"{where}: sensitive", problems)
    nullable = _flag(raw.get("nullable", True), f"{where}: nullable", problems)
    description = _text(raw.get("description", ""), f"{where}: description", problems, one_line=False)
    title = _text(raw.get("title", ""), f"{where}: title", problems)
    if len(problems) > before:
        return None
    return Column(name, raw["type"], role=role, sensitive=sensitive, nullable=nullable, mutability=mutability,
                  description=description, title=title)


def _labels(raw: Any, key: str, problems: list[str]) -> dict:
    if not isinstance(raw, dict):
        problems.append(f"{key} must be a table such as {{0 = \"approved\", 1 = \"declined\"}}, not {raw!r}")
        return {}
    return raw


def parse_spec(text: str, source: str = "model spec") -> ModelSpec:
    """Read a model spec from TOML text.

    Parameters
    ----------
    text : str
        The TOML document.
    source : str
        Its name in messages (the file name).

    Returns
    -------
    ModelSpec

    Raises
    ------
    InvalidSpecError
        With one line per problem: a TOML syntax error (with its line and column), a missing or
        unknown key, an unknown type, role or mutability, a duplicate or reserved column name, a
        name with a trailing newline, a ``favourable_decision`` other than 0 or 1, ...
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidSpecError(source, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    for key in _REQUIRED:
        if key not in raw:
            hint = " (0 or 1: the decision value that is good for the person)" if key == "favourable_decision" else ""
            problems.append(f"{key} is missing{hint}")
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(f"key {key!r} is unknown; use {', '.join(sorted(_TOP_KEYS))}")
    name = raw.get("name", "")
    if "name" in raw:
        _check(check_model_name, name, problems)
    owner = _text(raw.get("owner", ""), "owner", problems)
    description = _text(raw.get("description", ""), "description", problems, one_line=False)
    positive_class = _text(raw.get("positive_class", ""), "positive_class", problems)
    if "positive_class" in raw and isinstance(positive_class, str) and not positive_class.strip():
        problems.append("positive_class is empty; say in words what a score is the probability of")
    favourable = raw.get("favourable_decision")
    if "favourable_decision" in raw and (isinstance(favourable, bool) or favourable not in (0, 1)):
        problems.append(f"favourable_decision {favourable!r} must be 0 or 1 (the decision value that is good "
                        "for the person)")
    task = raw.get("task", "binary_classification")
    if task != "binary_classification":
        problems.append(f"task {task!r} is not supported yet; use binary_classification")
    notes = raw.get("notes", {})
    if not isinstance(notes, dict):
        problems.append(f"notes must be a table, not {notes!r}")
        notes = {}
    labels = {key: _labels(raw.get(key, {}), key, problems) for key in ("decision_labels", "outcome_labels")}
    columns: list[Column] = []
    raw_columns = raw.get("columns", [])
    if not isinstance(raw_columns, list):
        problems.append("columns must be an array of tables ([[columns]])")
        raw_columns = []
    elif "columns" in raw and not raw_columns:
        problems.append("columns is empty; declare at least one [[columns]]")
    seen: dict[str, str] = {}
    for index, item in enumerate(raw_columns):
        column = _column(item, index, problems)
        name_of = item.get("name") if isinstance(item, dict) else None
        if isinstance(name_of, str):
            if name_of.lower() in seen:
                problems.append(f"column {name_of!r} is declared more than once"
                                + (f" (as {seen[name_of.lower()]!r}; names are compared without case)"
                                   if seen[name_of.lower()] != name_of else ""))
            seen.setdefault(name_of.lower(), name_of)
        if column is not None:
            columns.append(column)
    schema = None
    if not problems:
        try:
            schema = LogSchema(columns=tuple(columns), positive_class=positive_class, task=task, notes=notes,
                               decision_labels=labels["decision_labels"], outcome_labels=labels["outcome_labels"],
                               favourable_decision=favourable)
        except InvalidInputError as exc:
            problems.append(str(exc))
    if problems:
        raise InvalidSpecError(source, problems)
    return ModelSpec(name=name, owner=owner, description=description, schema=schema)


def load_spec(path: str | Path) -> ModelSpec:
    """Read a model spec file (see :func:`parse_spec`).

    Raises
    ------
    InvalidInputError
        If the file cannot be read or is not UTF-8.
    InvalidSpecError
        If the spec has problems.
    """
    target = Path(path)
    if not target.is_file():
        raise InvalidInputError(f"model spec {target} does not exist")
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"model spec {target} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_spec(text, target.name)


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    """The spec as plain data in the file's layout (every key written, defaults included)."""
    schema = spec.schema
    data: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "owner": spec.owner,
        "task": schema.task,
        "positive_class": schema.positive_class,
        "favourable_decision": schema.favourable_decision,
    }
    for key in ("decision_labels", "outcome_labels"):
        words = getattr(schema, key)
        if words:
            data[key] = {str(k): v for k, v in words.items()}
    if schema.notes:
        data["notes"] = schema.notes
    data["columns"] = [
        {"name": c.name, "type": c.dtype, "role": c.role, "sensitive": c.sensitive, "nullable": c.nullable,
         "mutability": c.mutability, "description": c.description, "title": c.title}
        for c in schema.columns]
    if data["favourable_decision"] is None:  # a model registered before specs: the key is left for its owner
        del data["favourable_decision"]
    return data


def spec_to_toml(spec: ModelSpec) -> str:
    """The spec as TOML text; :func:`parse_spec` of it gives the same spec."""
    import tomli_w

    return tomli_w.dumps(spec_to_dict(spec), multiline_strings=True)


def spec_to_json(spec: ModelSpec) -> str:
    """The spec as JSON text (the layout of the TOML file; valid against ``docs/model-spec.schema.json``)."""
    return json.dumps(spec_to_dict(spec), indent=2, ensure_ascii=False)
