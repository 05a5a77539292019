"""Prediction lookup and trace: everything an investigation needs about one prediction.

:func:`find_predictions` finds predictions by id or filters (newest first, bounded);
:func:`trace` gathers one prediction's inputs, version and deployment role, score, threshold and
decision, latency and cost, its outcome once known, its explanation (from the model, else as logged
by the serving system), its counterfactuals and the audit entries of its version. Raw values of
sensitive attributes are masked unless the actor may see them (``see_sensitive_rows``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from analytics import audit, business, registry
from analytics.errors import NotFoundError, VigilError
from analytics.explain import _attributions as logged
from analytics.explain._counterfactual import (ANSWERS, CounterfactualSet, FeatureSpace, counterfactuals,
                                               feature_space)
from analytics.explain._model import DbLike, LoadedModel, VersionInfo, load_model, version_info
from analytics.store import run
from analytics.explain._sample import sample_reference
from analytics.explain._shap import LocalExplanation, explain_logged, explain_row
from analytics.logschema import LogSchema
from analytics.roles import Actor
from analytics.store import outcomes_view, predictions_view

MASK = "•••"
LOOKUP_LIMIT = 500
_SPACES: dict[tuple, dict[str, FeatureSpace]] = {}
_SPACES_LOCK = threading.Lock()


def mask_sensitive(frame: pd.DataFrame, schema: LogSchema, actor: Actor, *,
                   feature_column: str | None = None, value_columns: tuple[str, ...] = ("value",)) -> pd.DataFrame:
    """Hide raw sensitive values of single rows from actors without ``see_sensitive_rows``.

    A wide frame (one column per attribute) has its sensitive columns replaced by ``•••``; a long
    frame (``feature_column`` names the attribute) has ``value_columns`` replaced on sensitive rows.
    """
    if actor.can("see_sensitive_rows"):
        return frame
    sensitive = {c.name for c in schema.sensitive}
    out = frame.copy()
    if feature_column is None:
        for name in sensitive & set(out.columns):
            out[name] = MASK
        return out
    rows = out[feature_column].isin(sensitive)
    for column in value_columns:
        if column in out:
            out[column] = out[column].astype(object)
            out.loc[rows, column] = MASK
    return out


def find_predictions(db: DbLike, model: str, *, prediction_id: str | None = None, version: str | None = None,
                     start: datetime | None = None, end: datetime | None = None, decision: int | None = None,
                     score_min: float | None = None, score_max: float | None = None,
                     labelled: bool | None = None, limit: int = 100) -> pd.DataFrame:
    """Predictions matching the filters, newest first (at most ``limit``, itself at most 500).

    Columns: ``prediction_id``, ``predicted_at``, ``model_version``, ``deployment_role``, ``score``,
    ``decision``, ``latency_ms``, ``label`` (NULL until the outcome is known).

    The newest predictions lie in the window's last hours: the serving summary says from which hour on
    the window holds ``limit`` predictions of the version and decision (:func:`analytics.business.newest_hours`),
    and only those hours of the log are read; when they give fewer than ``limit`` rows (a filter on the score,
    or summaries behind the log), the whole window is. Without a filter on the outcome (which reads the whole
    window joined with its outcomes), the outcomes are joined to the rows found, not to the window.
    """
    limit = max(1, min(int(limit), LOOKUP_LIMIT))

    def query(con, info, since):
        where, params = ["TRUE"], []
        for clause, value in (("p.prediction_id = ?", prediction_id), ("p.model_version = ?", version),
                              ("p.predicted_at >= ?", since), ("p.predicted_at < ?", end),
                              ("p.decision = ?", decision), ("p.score >= ?", score_min),
                              ("p.score <= ?", score_max)):
            if value is not None:
                where.append(clause)
                params.append(value)
        columns = "p.prediction_id, p.predicted_at, p.model_version, p.deployment_role, p.score, p.decision, p.latency_ms"
        order = "ORDER BY p.predicted_at DESC, p.prediction_id LIMIT ?"
        joined = f"LEFT JOIN {outcomes_view(info.stem)} o USING (prediction_id)"
        if labelled is not None:  # a filter on the outcome: the join comes first
            where.append("o.label IS NOT NULL" if labelled else "o.label IS NULL")
            return con.execute(f"SELECT {columns}, o.label FROM {predictions_view(info.stem)} p {joined} "
                               f"WHERE {' AND '.join(where)} {order}", [*params, limit]).df()
        return con.execute(f"SELECT p.*, o.label FROM (SELECT {columns} FROM {predictions_view(info.stem)} p "
                           f"WHERE {' AND '.join(where)} {order}) p {joined} {order}", [*params, limit, limit]).df()

    def work(con):
        info = registry.get_model(con, model)
        # Not for one id, nor with a filter on the outcome: the last hours hold none of the labelled rows for weeks.
        since = None if prediction_id is not None or labelled is not None else business.newest_hours(
            con, model, limit, version=version, decision=decision, start=start, end=end)
        if since is not None:
            found = query(con, info, since)
            if len(found) == limit:
                return found
        return query(con, info, start)

    return run(db, work)


def prediction_row(db: DbLike, model: str, prediction_id: str) -> pd.Series:
    """One logged prediction with its outcome columns (``label``, ``observed_at``, ``business_value``)."""

    def work(con):
        info = registry.get_model(con, model)
        # Two point lookups (each pruned by the segments' id statistics) instead of a join of the two logs.
        found = con.execute(f"SELECT * FROM {predictions_view(info.stem)} WHERE prediction_id = ? "
                            "ORDER BY predicted_at LIMIT 1", [prediction_id]).df()
        outcome = con.execute(f"SELECT label, observed_at, business_value FROM {outcomes_view(info.stem)} "
                              "WHERE prediction_id = ? ORDER BY observed_at LIMIT 1", [prediction_id]).fetchone()
        return found, outcome

    frame, outcome = run(db, work)
    if frame.empty:
        raise NotFoundError(f"no prediction {prediction_id!r} in the log of {model}")
    row = frame.iloc[0].copy()
    row["label"], row["observed_at"], row["business_value"] = outcome if outcome else (None, None, None)
    return row


@dataclass(frozen=True, eq=False)
class ReferenceSpace:
    """A version's loaded model and the counterfactual feature space of its reference data.

    Attributes
    ----------
    model : LoadedModel
        The version's registered artifact, its sha256 checked.
    space : dict of str to FeatureSpace
        Per model input, the values a counterfactual may give it (:func:`feature_space`).
    """

    model: LoadedModel
    space: dict[str, FeatureSpace]


def reference_space(db: DbLike, model: str, version: str) -> ReferenceSpace:
    """The loaded model (hash checked) and its counterfactual feature space (kept per artifact hash).

    Parameters
    ----------
    db : path or connection
        The store.
    model, version : str
        A registered model and version with a loadable artifact.

    Returns
    -------
    ReferenceSpace
        The model and its feature space.

    Raises
    ------
    NotFoundError, InvalidInputError
        As :func:`~analytics.explain.load_model`.
    """
    info = version_info(db, model, version)
    loaded = load_model(db, model, version, info=info)
    key = (model, version, info.artifact_sha256)
    with _SPACES_LOCK:
        space = _SPACES.get(key)
    if space is None:
        reference = run(db, lambda con: sample_reference(con, info, 1_000_000, 0))
        space = feature_space(loaded, reference)
        with _SPACES_LOCK:
            _SPACES[key] = space
    return ReferenceSpace(loaded, space)


def counterfactuals_for(db: DbLike, model: str, prediction_id: str, *, answers: int | None = None,
                        changes: dict[str, Any] | None = None) -> CounterfactualSet:
    """Counterfactuals of a logged prediction (optionally after the what-if ``changes``)."""
    row = prediction_row(db, model, prediction_id)
    ref = reference_space(db, model, str(row["model_version"]))
    if changes:
        row = row.copy()
        for name, value in changes.items():
            row[name] = value
    return counterfactuals(ref.model, row, ref.space, answers=answers or ANSWERS.default)


@dataclass(frozen=True)
class PredictionTrace:
    """One prediction, traced (see :func:`trace`). Sensitive values already masked when ``masked``."""

    record: dict[str, Any]
    inputs: pd.DataFrame
    version: dict[str, Any]
    audit: pd.DataFrame
    explanation: LocalExplanation | None
    explanation_note: str
    counterfactuals: CounterfactualSet | None
    counterfactual_note: str
    masked: bool


def _version_facts(con, info: VersionInfo) -> tuple[dict[str, Any], pd.DataFrame]:
    row = registry.get_version(con, info.model, info.version)
    facts = {k: row.get(k) for k in ("version", "status", "threshold", "owner", "created_at", "parent_version",
                                     "artifact_sha256", "training_fingerprint")}
    entries = audit.entries(con, object_type="model_version", object_id_prefix=f"{info.model}:{info.version}")
    return facts, entries[entries["object_id"] == f"{info.model}:{info.version}"].reset_index(drop=True)


def _masked_counterfactuals(cfs: CounterfactualSet, schema: LogSchema, actor: Actor) -> CounterfactualSet:
    return CounterfactualSet(cfs.answers, mask_sensitive(cfs.changes, schema, actor, feature_column="feature",
                                                         value_columns=("before", "after")),
                             mask_sensitive(cfs.rows, schema, actor), cfs.original_score, cfs.original_decision,
                             cfs.threshold)


def mask_counterfactuals(db: DbLike, model: str, cfs: CounterfactualSet, actor: Actor) -> CounterfactualSet:
    """``cfs`` with the raw sensitive values of its row hidden unless ``actor`` may see them."""
    if actor.can("see_sensitive_rows"):
        return cfs
    return _masked_counterfactuals(cfs, run(db, lambda con: registry.get_model(con, model).schema), actor)


def trace(db: DbLike, model: str, prediction_id: str, *, actor: Actor, with_counterfactuals: bool = True,
          answers: int | None = None) -> PredictionTrace:
    """Trace one prediction for an investigation (see the module docstring)."""
    row = prediction_row(db, model, prediction_id)
    version = str(row["model_version"])
    info = version_info(db, model, version)
    facts, entries = run(db, lambda con: _version_facts(con, info))
    threshold = float(info.threshold)
    label = row.get("label")
    record = {
        "prediction_id": prediction_id, "predicted_at": row["predicted_at"], "model": model, "model_version": version,
        "deployment_role": row["deployment_role"], "score": float(row["score"]), "threshold": threshold,
        "decision": int(row["decision"]), "decision_at_threshold": int(float(row["score"]) >= threshold),
        "latency_ms": float(row["latency_ms"]), "cost": float(row["cost"]),
        "label": None if pd.isna(label) else int(label),
        "observed_at": None if pd.isna(row.get("observed_at")) else row["observed_at"],
        "business_value": None if pd.isna(row.get("business_value")) else float(row["business_value"]),
        "positive_class": info.schema.positive_class, "decision_note": info.schema.notes.get("decision", ""),
        "decision_text": info.schema.decision_text(int(row["decision"])),
        "outcome_text": None if pd.isna(label) else info.schema.outcome_text(int(label)),
    }
    inputs = pd.DataFrame([{"column": c.name, "role": c.role, "sensitive": c.sensitive, "value": row[c.name]}
                           for c in info.schema.columns])
    explanation, note, cfs, cf_note = None, "", None, ""
    try:
        loaded = load_model(db, model, version, info=info)
        explanation = explain_row(loaded, row.to_frame().T)
        record["rescored_score"] = explanation.score
        note = (f"TreeSHAP from the registered artifact (sha256 {info.artifact_sha256[:12]}… verified); re-scored "
                f"{explanation.score:.6f} against {float(row['score']):.6f} logged")
    except VigilError as exc:
        attributions = run(db, lambda con: logged.for_predictions(con, model, [prediction_id]))
        if attributions.empty:
            note = f"No explanation: {exc}"
        else:
            explanation = explain_logged(row, attributions, [c.name for c in info.schema.features])
            note = f"Attributions logged by the serving system (the model is not loaded here: {exc})"
    if with_counterfactuals and explanation is not None and explanation.source == "model":
        try:
            cfs = counterfactuals_for(db, model, prediction_id, answers=answers)
            cf_note = f"{len(cfs.answers)} counterfactual(s) found" if len(cfs.answers) else \
                "No change within the constraints flips this decision"
        except VigilError as exc:
            cf_note = f"No counterfactuals: {exc}"
    elif with_counterfactuals:
        cf_note = "Counterfactuals need the model itself (its registered artifact)"
    masked = not actor.can("see_sensitive_rows")
    schema = info.schema
    inputs = mask_sensitive(inputs, schema, actor, feature_column="column", value_columns=("value",))
    if explanation is not None and masked:
        explanation = LocalExplanation(mask_sensitive(explanation.table, schema, actor, feature_column="feature"),
                                       explanation.base_value, explanation.raw_output, explanation.score,
                                       explanation.source)
    if cfs is not None and masked:
        cfs = _masked_counterfactuals(cfs, schema, actor)
    return PredictionTrace(record, inputs, facts, entries, explanation, note, cfs, cf_note, masked)
