"""The evidence pack of a version: Vigil's own analyses, each check with pass, fail or not evaluated.

Checks are plug-ins: a function ``check(con, ctx) -> list[CheckResult]`` registered under a key with
:func:`register_check`. The pack runs every registered check, on the version's reference data and on
the recent window of the log (:class:`EvidenceContext` says which), and is stored with its sha256
when a version is submitted, so that the decision and the dossier cite exactly what was seen.

Registered here:

``performance.reference``
    ROC AUC of the version on its reference (validation) data, :func:`sklearn.metrics.roc_auc_score`,
    against ``governance.min_roc_auc``.
``performance.vs_champion``
    The same against the champion's reference ROC AUC, minus ``governance.champion_auc_tolerance``.
``performance.recent``
    Realised ROC AUC on the recent labelled window (:func:`analytics.performance.realised_metrics`),
    against ``governance.min_roc_auc``; not evaluated with fewer than ``governance.min_labelled_rows`` labels.
``drift.recent``
    :func:`analytics.drift.drift_summary` of the recent window against the reference: fails if any
    column drifted by its method's own threshold.
``fairness.recent``
    :func:`analytics.fairness.assess` of the recent window: fails if any attribute's verdict fails.

Extension point: an explanation summary (``explain.summary``) is not registered yet; a module adds
one with ``@register_check("explain.summary", ...)`` and the pack, page and dossier show it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from analytics import settings
from analytics.clock import utc_now
from analytics.errors import VigilError
from analytics.registry import champion_version, get_model, get_version, reference_frame
from analytics.store import outcomes_view, predictions_view, run
from analytics.window import Window

PASS, FAIL, NOT_EVALUATED = "pass", "fail", "not_evaluated"

MIN_ROC_AUC = settings.declare(
    "governance.min_roc_auc", 0.70, "Lowest ROC AUC a version may show on its reference data and on the recent "
    "labelled window (0.70 = Gini 0.40, a common floor for credit scorecards)", minimum=0.5, maximum=1.0)
CHAMPION_TOLERANCE = settings.declare(
    "governance.champion_auc_tolerance", 0.01, "How far a candidate's reference ROC AUC may fall below the "
    "champion's", minimum=0.0, maximum=0.5)
WINDOW_DAYS = settings.declare(
    "governance.evidence_window_days", 30, "Length of the recent window the evidence pack analyses", unit="days",
    minimum=1, maximum=365)
MIN_LABELLED = settings.declare(
    "governance.min_labelled_rows", 200, "Fewest labelled predictions for a recent-window performance verdict",
    unit="rows", minimum=1)


@dataclass(frozen=True)
class CheckResult:
    """One verdict of the evidence pack.

    ``value`` is compared with ``threshold`` by ``comparison`` (``">="`` or ``"<="``); ``chart`` is an
    optional small series (``{"kind": "line"|"bars", "title", "x_label", "y_label", "x", "y"}``) and
    ``table`` optional rows (list of dicts) that the page and the dossier draw.
    """

    key: str
    title: str
    scope: str
    status: str
    detail: str
    metric: str = ""
    value: float | None = None
    threshold: float | None = None
    comparison: str = ">="
    rows: int | None = None
    chart: dict[str, Any] | None = None
    table: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class EvidenceContext:
    """What a check analyses: the version, the champion, and the recent windows (naive UTC, ``[start, end)``)."""

    model: str
    version: str
    champion: str | None
    window_start: datetime | None
    window_end: datetime | None
    labelled_start: datetime | None
    labelled_end: datetime | None
    version_rows: int


@dataclass(frozen=True)
class EvidenceCheck:
    """A registered check: key, title, what it does, and the function."""

    key: str
    title: str
    description: str
    func: Callable[[duckdb.DuckDBPyConnection, EvidenceContext], list[CheckResult]]


CHECKS: dict[str, EvidenceCheck] = {}


def register_check(key: str, title: str, description: str):
    """Decorator: register ``func(con, ctx) -> list[CheckResult]`` as evidence check ``key``."""
    def decorate(func):
        CHECKS[key] = EvidenceCheck(key, title, description, func)
        return func
    return decorate


@dataclass(frozen=True)
class EvidencePack:
    """The checks of one version, assembled at one time."""

    model: str
    version: str
    assembled_at: datetime
    context: EvidenceContext
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        """The failing checks."""
        return [r for r in self.results if r.status == FAIL]

    def frame(self) -> pd.DataFrame:
        """One row per check: key, title, scope, status, metric, value, comparison, threshold, rows, detail."""
        cols = ["key", "title", "scope", "status", "metric", "value", "comparison", "threshold", "rows", "detail"]
        return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in self.results], columns=cols)

    def checks_json(self) -> str:
        """The results as canonical JSON (what is stored and hashed)."""
        return json.dumps([asdict(r) for r in self.results], sort_keys=True, default=_json_default,
                          separators=(",", ":"))

    def sha256(self) -> str:
        """The sha256 of :meth:`checks_json`."""
        return hashlib.sha256(self.checks_json().encode()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def context_for(con: duckdb.DuckDBPyConnection, model: str, version: str, *,
                as_of: datetime | None = None) -> EvidenceContext:
    """The windows a pack analyses: the last ``governance.evidence_window_days`` of the log, and the same
    length ending at the latest labelled prediction (labels arrive late).

    With ``as_of`` (naive UTC) the log is read as it stood then: only predictions made before ``as_of``,
    and only outcomes observed before it, place the windows and count the version's rows.
    """
    info = get_model(con, model)
    get_version(con, model, version)
    days = int(settings.get(con, WINDOW_DAYS.key, model=model))
    before = "" if as_of is None else " AND p.predicted_at < $as_of"
    known = "" if as_of is None else " AND o.observed_at < $as_of"
    params = {} if as_of is None else {"as_of": as_of}
    last = con.execute(f"SELECT max(predicted_at) FROM {predictions_view(info.stem)} p WHERE true{before}",
                       params).fetchone()[0]
    last_labelled = con.execute(
        f"SELECT max(p.predicted_at) FROM {predictions_view(info.stem)} p JOIN {outcomes_view(info.stem)} o "
        f"USING (prediction_id) WHERE true{before}{known}", params).fetchone()[0]
    rows = con.execute(f"SELECT count(*) FROM {predictions_view(info.stem)} p WHERE model_version = $version{before}",
                       {**params, "version": version}).fetchone()[0]

    def window(end):
        if end is None:
            return None, None
        stop = pd.Timestamp(end).to_pydatetime() + timedelta(microseconds=1)
        return stop - timedelta(days=days), stop

    start, end = window(last)
    lstart, lend = window(last_labelled)
    return EvidenceContext(model, version, champion_version(con, model), start, end, lstart, lend, int(rows))


def _roc_points(labels: np.ndarray, scores: np.ndarray, points: int = 60) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    idx = np.unique(np.linspace(0, len(fpr) - 1, min(points, len(fpr))).astype(int))
    return {"x": [round(float(v), 4) for v in fpr[idx]], "y": [round(float(v), 4) for v in tpr[idx]]}


def reference_auc(con: duckdb.DuckDBPyConnection, model: str, version: str) -> tuple[float | None, int, dict | None]:
    """ROC AUC of a version on its reference data (scikit-learn), the row count, and its ROC curve points."""
    from sklearn.metrics import roc_auc_score

    frame = reference_frame(con, model, version)
    if frame.empty or frame["label"].nunique() < 2:
        return None, len(frame), None
    labels, scores = frame["label"].to_numpy(), frame["score"].to_numpy()
    return float(roc_auc_score(labels, scores)), len(frame), _roc_points(labels, scores)


@register_check("performance.reference", "Reference ROC AUC",
                "ROC AUC on the version's reference (validation) data against the minimum")
def _check_reference(con: duckdb.DuckDBPyConnection, ctx: EvidenceContext) -> list[CheckResult]:
    floor = float(settings.get(con, MIN_ROC_AUC.key, model=ctx.model))
    auc, n, roc = reference_auc(con, ctx.model, ctx.version)
    key, title = "performance.reference", "Reference ROC AUC"
    if auc is None:
        labels = reference_frame(con, ctx.model, ctx.version)["label"] if n else None
        why = (f"not evaluable: all labels are {int(labels.iloc[0])} ({n:,} reference rows)" if n
               else "no reference data: load it with the version")
        return [CheckResult(key, title, "reference", NOT_EVALUATED, why, "roc_auc", None, floor, rows=n)]
    chart = {"kind": "line", "title": f"ROC curve on the reference data ({n:,} rows)", "x_label": "false positive rate",
             "y_label": "true positive rate", **roc}
    return [CheckResult(key, title, "reference", PASS if auc >= floor else FAIL,
                        f"ROC AUC {auc:.4f} on {n:,} reference rows; minimum {floor:.2f}", "roc_auc", auc, floor,
                        rows=n, chart=chart)]


@register_check("performance.vs_champion", "Reference ROC AUC against the champion",
                "The candidate's reference ROC AUC is not below the champion's by more than the tolerance")
def _check_champion(con: duckdb.DuckDBPyConnection, ctx: EvidenceContext) -> list[CheckResult]:
    key, title = "performance.vs_champion", "ROC AUC against the champion"
    if ctx.champion is None or ctx.champion == ctx.version:
        why = "the model has no champion" if ctx.champion is None else "this version is the champion"
        return [CheckResult(key, title, "comparison", NOT_EVALUATED, f"nothing to compare: {why}", "roc_auc")]
    tolerance = float(settings.get(con, CHAMPION_TOLERANCE.key, model=ctx.model))
    mine, n, _ = reference_auc(con, ctx.model, ctx.version)
    theirs, m, _ = reference_auc(con, ctx.model, ctx.champion)
    if mine is None or theirs is None:
        return [CheckResult(key, title, "comparison", NOT_EVALUATED,
                            "reference data missing for this version or the champion", "roc_auc")]
    floor = theirs - tolerance
    return [CheckResult(
        key, title, "comparison", PASS if mine >= floor else FAIL,
        f"ROC AUC {mine:.4f} ({n:,} rows) against champion {ctx.champion}'s {theirs:.4f} ({m:,} rows) "
        f"minus tolerance {tolerance:.3f}", "roc_auc", mine, floor, rows=n,
        chart={"kind": "bars", "title": "Reference ROC AUC: candidate and champion", "x_label": "version",
               "y_label": "ROC AUC", "x": [f"{ctx.version} (candidate)", f"{ctx.champion} (champion)"],
               "y": [round(mine, 4), round(theirs, 4)]})]


@register_check("performance.recent", "Realised ROC AUC, recent labelled window",
                "Realised ROC AUC of the version's own predictions on the recent labelled window")
def _check_recent(con: duckdb.DuckDBPyConnection, ctx: EvidenceContext) -> list[CheckResult]:
    from analytics.performance import not_evaluable, realised_metrics

    key, title = "performance.recent", "Realised ROC AUC, recent labelled window"
    floor = float(settings.get(con, MIN_ROC_AUC.key, model=ctx.model))
    minimum = int(settings.get(con, MIN_LABELLED.key, model=ctx.model))
    if ctx.version_rows == 0 or ctx.labelled_start is None:
        return [CheckResult(key, title, "recent", NOT_EVALUATED,
                            "the version has served no traffic with labels yet (evaluate it in shadow first)",
                            "roc_auc", None, floor, rows=0)]
    recent = Window(ctx.labelled_start, ctx.labelled_end, ctx.version)
    whole = realised_metrics(con, ctx.model, window=recent, freq=None)
    labelled = int(whole["labelled"].sum()) if not whole.empty else 0
    window = f"{ctx.labelled_start:%Y-%m-%d %H:%M} to {ctx.labelled_end:%Y-%m-%d %H:%M} UTC"
    positives = int(whole["positives"].sum()) if not whole.empty else 0
    auc = float(whole["roc_auc"].iloc[0]) if not whole.empty else math.nan
    why = not_evaluable(labelled, positives, minimum)
    if why or not math.isfinite(auc):   # an undefined metric is never a failure
        return [CheckResult(key, title, "recent", NOT_EVALUATED, f"{why or 'not evaluable: ROC AUC undefined'} "
                            f"({window})", "roc_auc", None, floor, rows=labelled)]
    weekly = realised_metrics(con, ctx.model, window=recent, freq="week")
    weekly = weekly[weekly["labelled"] > 0]
    chart = {"kind": "line", "title": f"Weekly realised ROC AUC, {window}", "x_label": "week (UTC)",
             "y_label": "ROC AUC", "x": [f"{pd.Timestamp(p):%Y-%m-%d}" for p in weekly["period"]],
             "y": [round(float(v), 4) if pd.notna(v) else None for v in weekly["roc_auc"]], "threshold": floor}
    return [CheckResult(key, title, "recent", PASS if auc >= floor else FAIL,
                        f"ROC AUC {auc:.4f} on {labelled:,} labelled predictions, {window}; minimum {floor:.2f}",
                        "roc_auc", auc, floor, rows=labelled, chart=chart)]


@register_check("drift.recent", "Input drift, recent window",
                "Every declared column and the score of the recent window against the version's reference")
def _check_drift(con: duckdb.DuckDBPyConnection, ctx: EvidenceContext) -> list[CheckResult]:
    from analytics.drift import drift_summary

    key, title = "drift.recent", "Input drift, recent window"
    if ctx.window_start is None:
        return [CheckResult(key, title, "recent", NOT_EVALUATED, "the log holds no predictions yet", "drifted columns")]
    version = ctx.version if ctx.version_rows else ctx.champion
    if version is None:
        return [CheckResult(key, title, "recent", NOT_EVALUATED,
                            "the version has no traffic and the model no champion", "drifted columns")]
    result = drift_summary(con, ctx.model, window=Window(ctx.window_start, ctx.window_end, version))
    table = result.table
    judged = table[table["drifted"].notna()]
    drifted = judged[judged["drifted"].astype(bool)]
    whose = "its own traffic" if version == ctx.version else f"the champion {version}'s traffic and reference"
    window = f"{ctx.window_start:%Y-%m-%d %H:%M} to {ctx.window_end:%Y-%m-%d %H:%M} UTC"
    if judged.empty:
        return [CheckResult(key, title, "recent", NOT_EVALUATED, f"no column could be judged ({whose}, {window})",
                            "drifted columns")]
    rows = [{"column": r["column"], "method": r["method"], "statistic": _num(r["statistic"]),
             "p_value": _num(r["p_value"]), "threshold": _num(r["threshold"]), "drifted": bool(r["drifted"])}
            for _, r in judged.iterrows()]
    names = ", ".join(drifted["column"]) or "none"
    return [CheckResult(key, title, "recent", FAIL if len(drifted) else PASS,
                        f"{len(drifted)} of {len(judged)} columns drifted ({names}); {whose}, {window}; "
                        "each column by its method's threshold", "drifted columns", float(len(drifted)), 0.0,
                        comparison="<=", rows=int(judged["n_current"].max()), table=rows)]


@register_check("fairness.recent", "Fairness, recent window",
                "Four-fifths rule and equalized odds per sensitive attribute on the recent window")
def _check_fairness(con: duckdb.DuckDBPyConnection, ctx: EvidenceContext) -> list[CheckResult]:
    key, title = "fairness.recent", "Fairness, recent window"
    try:
        from analytics.fairness import assess
    except ImportError:
        return [CheckResult(key, title, "recent", NOT_EVALUATED, "the fairness module is not installed", "")]
    if ctx.version_rows == 0 or ctx.window_start is None:
        return [CheckResult(key, title, "recent", NOT_EVALUATED,
                            "the version has served no traffic yet: fairness is judged on its own decisions",
                            "failing attributes")]
    try:
        report = assess(con, ctx.model, window=Window(ctx.window_start, ctx.window_end, ctx.version), n_boot=0)
    except VigilError as exc:
        return [CheckResult(key, title, "recent", NOT_EVALUATED, str(exc), "failing attributes")]
    verdicts = report.verdicts()
    if verdicts.empty:
        return [CheckResult(key, title, "recent", NOT_EVALUATED, "no attribute could be assessed", "failing attributes")]
    failing = verdicts[verdicts["verdict"] == FAIL]
    judged = verdicts[verdicts["verdict"] != "too_small"] if "too_small" in set(verdicts["verdict"]) else verdicts
    table = [{k: (_num(v) if isinstance(v, float) else v) for k, v in row.items()}
             for row in verdicts.to_dict("records")]
    return [CheckResult(key, title, "recent", FAIL if len(failing) else (PASS if len(judged) else NOT_EVALUATED),
                        f"{len(failing)} of {len(verdicts)} attributes fail "
                        f"({', '.join(failing['attribute']) or 'none'}); {report.rows:,} predictions, "
                        f"{report.labelled:,} labelled", "failing attributes", float(len(failing)), 0.0,
                        comparison="<=", rows=report.rows, table=table)]


def assemble(con: duckdb.DuckDBPyConnection, model: str, version: str, *,
             checks: tuple[str, ...] | None = None, as_of: datetime | None = None) -> EvidencePack:
    """Run the registered checks (or those named) on one version and return the pack.

    A check that raises a :class:`~analytics.errors.VigilError` is reported as not evaluated, with the
    message, rather than stopping the pack.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        An open connection.
    model, version : str
        The version.
    checks : tuple of str, optional
        Keys of :data:`CHECKS` to run (default: all).
    as_of : datetime, optional
        Assemble the pack as it would have been at this time (naive UTC): the recent windows end
        there (:func:`context_for`) and the pack is dated then. For replaying a governance history
        (the demo's); a pack assembled for a submission today leaves it out.
    """
    ctx = context_for(con, model, version, as_of=as_of)
    results: list[CheckResult] = []
    for key in checks or tuple(CHECKS):
        check = CHECKS[key]
        try:
            results.extend(check.func(con, ctx))
        except VigilError as exc:
            results.append(CheckResult(key, check.title, "", NOT_EVALUATED, f"could not be evaluated: {exc}"))
    return EvidencePack(model, version, as_of or utc_now(), ctx, results)


def store_pack(con: duckdb.DuckDBPyConnection, pack: EvidencePack, assembled_by: str) -> int:
    """Store a pack (in the caller's transaction) and return its id."""
    pack_id = con.execute("SELECT nextval('evidence_id_seq')").fetchone()[0]
    con.execute("INSERT INTO evidence_packs (pack_id, model_name, version, assembled_at, assembled_by, checks, failed, pack_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [pack_id, pack.model, pack.version, pack.assembled_at, assembled_by, pack.checks_json(),
                 len(pack.failed), pack.sha256()])
    return int(pack_id)


def latest_pack(con: duckdb.DuckDBPyConnection, model: str, version: str) -> dict[str, Any] | None:
    """The version's latest stored pack: id, time, who, sha256 and its checks as :class:`CheckResult`."""
    row = con.execute("SELECT pack_id, assembled_at, assembled_by, checks, pack_sha256 FROM evidence_packs "
                      "WHERE model_name = ? AND version = ? ORDER BY pack_id DESC LIMIT 1", [model, version]).fetchone()
    if row is None:
        return None
    checks = [CheckResult(**c) for c in json.loads(row[3])]
    intact = hashlib.sha256(row[3].encode()).hexdigest() == row[4] if isinstance(row[3], str) else None
    return {"pack_id": row[0], "assembled_at": row[1], "assembled_by": row[2], "results": checks,
            "sha256": row[4], "hash_matches": intact}


def evidence_for(db, model: str, version: str) -> EvidencePack:
    """:func:`assemble` on a store path or an open connection (the form the app's query cache calls)."""
    return run(db, lambda con: assemble(con, model, version))
