"""Model cards and risk tiers as a TOML file, so a person edits them without Python (docs/model-card.md).

A card file holds any of the card's fields (:data:`analytics.governance.CARD_FIELDS`), the data
sources as ``[[data]]`` tables, and optionally the model's risk tier in a ``[risk]`` table::

    intended_use = "Pre-screening of consumer loan applications by the credit team."
    limitations = "Not validated for applicants under 21."
    [[data]]
    name = "applications 2024"
    source = "core banking export"
    licence = "internal"
    role = "training"
    [risk]
    tier = "high"
    rationale = "Automated credit decisions about people (EU AI Act Annex III 5(b))."

:func:`parse_card` checks a file and returns a :class:`CardFile` (every problem in one message);
:func:`apply_card` writes it with :func:`set_model_card` and :func:`set_risk_tier`, each audited,
in the caller's transaction; :func:`card_to_toml` writes the stored card back out.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

import duckdb
import tomli_w

from analytics.errors import InvalidInputError
from analytics.governance._records import (CARD_FIELDS, RISK_TIERS, model_card, risk_tier, set_model_card,
                                           set_risk_tier)
from analytics.roles import Actor

DATA_KEYS: tuple[str, ...] = ("name", "source", "licence", "role", "rows")


@dataclass(frozen=True)
class CardFile:
    """A checked card file.

    Attributes
    ----------
    card : dict
        The card's fields (text; ``data`` a list of tables with :data:`DATA_KEYS`).
    tier, rationale : str or None
        The ``[risk]`` table's tier and rationale, when the file sets them.
    """

    card: dict[str, Any] = field(default_factory=dict)
    tier: str | None = None
    rationale: str | None = None


def parse_card(text: str) -> CardFile:
    """Check the text of a card file and return it as a :class:`CardFile`.

    Raises
    ------
    InvalidInputError
        Naming every problem (a TOML syntax error with its line, an unknown field, a field that is
        not text, a data source that is not a table, an unknown risk tier, a tier without rationale).
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"the card file is not valid TOML: {exc}") from None
    problems = []
    risk = raw.pop("risk", None)
    for key in sorted(set(raw) - set(CARD_FIELDS)):
        problems.append(f"unknown field {key!r} (fields: {', '.join(CARD_FIELDS)}, and a [risk] table)")
    card = {}
    for key in CARD_FIELDS:
        if key not in raw:
            continue
        value = raw[key]
        if key == "data":
            if not isinstance(value, list) or not all(isinstance(d, dict) for d in value):
                problems.append("data: write each source as a [[data]] table (name, source, licence, role, rows)")
                continue
            for i, source in enumerate(value, 1):
                unknown = sorted(set(source) - set(DATA_KEYS))
                if unknown:
                    problems.append(f"data source {i}: unknown keys {', '.join(unknown)} (use {', '.join(DATA_KEYS)})")
                if not str(source.get("name", "")).strip():
                    problems.append(f"data source {i}: a name is required")
        elif not isinstance(value, str):
            problems.append(f"{key}: write it as text in quotes")
            continue
        card[key] = value
    tier = rationale = None
    if risk is not None:
        if not isinstance(risk, dict):
            problems.append("risk: write it as a [risk] table with tier and rationale")
        else:
            tier, rationale = risk.get("tier"), risk.get("rationale")
            for key in sorted(set(risk) - {"tier", "rationale"}):
                problems.append(f"risk: unknown key {key!r} (use tier and rationale)")
            if tier not in RISK_TIERS:
                problems.append(f"risk: tier {tier!r} is unknown; use one of {', '.join(RISK_TIERS)}")
            if not isinstance(rationale, str) or not rationale.strip():
                problems.append("risk: a tier needs a rationale (text)")
    if problems:
        raise InvalidInputError(f"the card file has {len(problems)} problem{'s' * (len(problems) > 1)}; nothing was "
                                "changed:\n  " + "\n  ".join(problems))
    return CardFile(card, tier, rationale)


def apply_card(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, card: CardFile, *,
               version: str | None = None) -> list[str]:
    """Write a checked card (and its risk tier, if set) in the caller's transaction; return what changed.

    The card needs a role that may register models, the risk tier one that may approve; each write is
    audited (``card.update``, ``model.risk_tier``).
    """
    changed = []
    if card.card and card.card != model_card(con, model, version):
        set_model_card(con, actor, model, card.card, version=version)
        changed.append(f"card of {model}{' ' + version if version else ''}: {', '.join(sorted(card.card))}")
    if card.tier is not None:
        before = risk_tier(con, model)
        if before is None or (before["risk_tier"], before["rationale"]) != (card.tier, card.rationale.strip()):
            set_risk_tier(con, actor, model, card.tier, card.rationale)
            changed.append(f"risk tier of {model}: {before['risk_tier'] if before else 'unset'} -> {card.tier}")
    return changed


def card_to_toml(con: duckdb.DuckDBPyConnection, model: str, version: str | None = None) -> str:
    """The stored card of a model (or version) and its risk tier as the text of a card file."""
    document: dict[str, Any] = {k: v for k, v in model_card(con, model, version).items() if k != "data"}
    card = model_card(con, model, version)
    if card.get("data"):
        document["data"] = card["data"]
    tier = risk_tier(con, model)
    if tier is not None:
        document["risk"] = {"tier": tier["risk_tier"], "rationale": tier["rationale"]}
    return tomli_w.dumps(document, multiline_strings=True)
