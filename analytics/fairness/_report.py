"""The fairness assessment of a model's log or of a file: :class:`FairnessReport` and the functions that make it.

Its thresholds are settings (:data:`DP_RATIO`, :data:`EO_DIFFERENCE`, :data:`MIN_GROUP`, :data:`SUPPRESS`);
the package's docstring (:mod:`analytics.fairness`) describes what is computed and its conventions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError
from analytics.fairness._cells import (
    Attribute, cached_daily_cells, day_range, favourable_decision, file_cells, file_score_histogram,
    score_histogram, sensitive_attributes,
)
from analytics.fairness._cells import window as window_cells
from analytics.fairness._metrics import (
    FAIL, PASS, TOO_SMALL, AttributeResult, Thresholds, assess_attribute, demographic_parity, disparity,
)
from analytics.fairness._whatif import GroupThresholdWhatIf, search
from analytics.registry import champion_version, get_model
from analytics.store import run
from analytics.window import Window

DP_RATIO = settings.declare(
    "fairness.dp_ratio_threshold", 0.8,
    "Demographic parity ratio (lowest over highest group approval rate) below which an attribute fails the "
    "four-fifths rule (US EEOC Uniform Guidelines, 29 CFR 1607.4(D))", minimum=0.0, maximum=1.0)
EO_DIFFERENCE = settings.declare(
    "fairness.eo_difference_threshold", 0.1,
    "Equalized odds difference (largest gap in true- or false-positive rate between groups) above which an "
    "attribute fails", minimum=0.0, maximum=1.0)
MIN_GROUP = settings.declare(
    "fairness.min_group_size", 30, "Groups with fewer predictions (or labelled predictions, for rates that need "
    "outcomes) are reported as too small to judge", unit="predictions", minimum=1)
SUPPRESS = settings.declare(
    "fairness.suppress_below", 10, "Groups with fewer predictions are suppressed in every fairness view "
    "(privacy)", unit="predictions", minimum=1)

N_BOOT = 500

@dataclass(frozen=True)
class FairnessReport:
    """Fairness of one model version over one window.

    Attributes
    ----------
    results : list of AttributeResult
        One per sensitive attribute, then the intersections.
    rows, labelled : int
        Predictions in the window, and how many have an outcome.
    favourable : int
        The decision value counted as favourable (selection).
    thresholds : Thresholds
        What the verdicts compared against.
    """

    model: str | None
    version: str | None
    first_day: object
    last_day: object
    rows: int
    labelled: int
    favourable: int
    thresholds: Thresholds
    results: list[AttributeResult] = field(default_factory=list)

    def verdicts(self) -> pd.DataFrame:
        """One row per attribute: verdicts and disparities, failures first."""
        rows = [{"attribute": r.name, "verdict": r.disparity.verdict,
                 "four_fifths_verdict": r.disparity.four_fifths_verdict,
                 "equalized_odds_verdict": r.disparity.equalized_odds_verdict,
                 "demographic_parity_ratio": r.disparity.demographic_parity_ratio,
                 "demographic_parity_difference": r.disparity.demographic_parity_difference,
                 "equalized_odds_difference": r.disparity.equalized_odds_difference,
                 "equal_opportunity_difference": r.disparity.equal_opportunity_difference,
                 "judged_groups": r.disparity.judged_groups, "groups": len(r.groups)} for r in self.results]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        order = {FAIL: 0, TOO_SMALL: 1, PASS: 2}
        return frame.sort_values("verdict", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)

    def result(self, name: str) -> AttributeResult:
        """The result of one attribute or intersection (``"SEX × AGE_BAND"``)."""
        for r in self.results:
            if r.name == name:
                return r
        raise InvalidInputError(f"{name!r} was not assessed; assessed: {', '.join(r.name for r in self.results)}")

    def to_dict(self) -> dict:
        """The CLI's JSON."""
        return {
            "model": self.model, "version": self.version,
            "first_day": None if self.first_day is None else str(self.first_day),
            "last_day": None if self.last_day is None else str(self.last_day),
            "rows": self.rows, "labelled": self.labelled, "favourable_decision": self.favourable,
            "thresholds": vars(self.thresholds) if not hasattr(self.thresholds, "__dataclass_fields__")
            else {k: getattr(self.thresholds, k) for k in self.thresholds.__dataclass_fields__},
            "attributes": [r.to_dict() for r in self.results],
        }


def thresholds_for(con: duckdb.DuckDBPyConnection, model: str | None) -> Thresholds:
    """The model's fairness thresholds from the store's settings."""
    return Thresholds(
        dp_ratio=float(settings.get(con, DP_RATIO.key, model=model)),
        eo_difference=float(settings.get(con, EO_DIFFERENCE.key, model=model)),
        min_group_size=int(settings.get(con, MIN_GROUP.key, model=model)),
        suppress_below=int(settings.get(con, SUPPRESS.key, model=model)),
    )


def default_intersections(keys: list[str]) -> list[tuple[str, str]]:
    """The first attribute that is not an age band crossed with the age band (``SEX × AGE_BAND``), else the
    first two attributes."""
    if len(keys) < 2:
        return []
    bands = [k for k in keys if k.upper().endswith("_BAND")]
    others = [k for k in keys if k not in bands]
    if bands and others:
        return [(others[0], bands[0])]
    return [(keys[0], keys[1])]


def assess_cells(cells: pd.DataFrame, attributes: list[str], intersections: list[tuple[str, ...]],
                 thresholds: Thresholds, *, n_boot: int = N_BOOT, seed: int = 0,
                 with_time: bool = True) -> list[AttributeResult]:
    """Assess each attribute and intersection of a frame of cells."""
    return [assess_attribute(cells, list(keys), thresholds, n_boot=n_boot, seed=seed, with_time=with_time)
            for keys in [(a,) for a in attributes] + [tuple(i) for i in intersections]]


def assess(db, model: str, *, window: Window = Window(), attributes: tuple[str, ...] | None = None,
           intersections: tuple[tuple[str, ...], ...] | None = None, n_boot: int = N_BOOT,
           seed: int = 0) -> FairnessReport:
    """Fairness of a model version (default: the champion) over the whole UTC days covering ``window``.

    Parameters
    ----------
    db : path or connection
        The store.
    window : Window
        The time span and version (default: the champion's whole log). Every row of the version is
        assessed: a window with a segment is refused (the groups are the sensitive attributes').
    attributes : tuple of str, optional
        Attribute keys (default: every declared sensitive attribute; ages as ``<name>_band`` unless a
        banded twin is declared).
    intersections : tuple of tuples, optional
        Attribute pairs to cross (default: :func:`default_intersections`).
    n_boot : int
        Bootstrap resamples for the intervals (0: none).
    """
    window.require_no_filter("the fairness assessment", version_allowed=True)

    def work(con: duckdb.DuckDBPyConnection) -> FairnessReport:
        info = get_model(con, model)
        chosen = window.version or champion_version(con, model)
        keys = [a.key for a in sensitive_attributes(info.schema)]
        if not keys:
            raise InvalidInputError(f"{model} declares no sensitive attribute; mark columns sensitive=True in "
                                    "its log schema to assess fairness")
        attrs = list(attributes) if attributes else keys
        crosses = [tuple(i) for i in intersections] if intersections is not None else default_intersections(keys)
        unknown = sorted({a for a in attrs + [k for i in crosses for k in i]} - set(keys))
        if unknown:
            raise InvalidInputError(f"{', '.join(unknown)}: not a sensitive attribute of {model}; "
                                    f"use {', '.join(keys)}")
        favourable = favourable_decision(info.schema, model)
        thresholds = thresholds_for(con, model)
        db_key = str(db) if not isinstance(db, duckdb.DuckDBPyConnection) else str(id(db))
        daily = cached_daily_cells(con, db_key, model, info.stem, info.schema, favourable)
        cells = window_cells(daily, start=window.start, end=window.end, version=chosen)
        return _report(model, chosen, cells, window.start, window.end, attrs, crosses, thresholds, favourable,
                       n_boot, seed)

    return run(db, work)


def _report(model, version, cells, start, end, attrs, crosses, thresholds, favourable, n_boot, seed):
    first, stop = day_range(start, end)
    if "day" in cells and not cells.empty:
        first = first or pd.Timestamp(cells["day"].min()).date()
        last = (stop - pd.Timedelta(days=1)) if stop else pd.Timestamp(cells["day"].max()).date()
    else:
        last = None
    if "week" in cells and not cells.empty:
        # one pass to weekly cells of the attributes in use: every later sum runs on ~7x fewer rows
        used = list(dict.fromkeys([*attrs, *(k for c in crosses for k in c)]))
        cells = cells.groupby(["week", *used, "y_true", "y_pred"], observed=True, sort=False)[["n", "value"]] \
            .sum().reset_index()
        cells = cells[cells["n"] > 0]
    return FairnessReport(
        model=model, version=version, first_day=first, last_day=last, rows=int(cells["n"].sum()),
        labelled=int(cells.loc[cells["y_true"] >= 0, "n"].sum()), favourable=favourable, thresholds=thresholds,
        results=assess_cells(cells, attrs, crosses, thresholds, n_boot=n_boot, seed=seed)
        if not cells.empty else [])


def assess_file(path: str | Path, *, y_true: str, y_pred: str, sensitive: list[str],
                thresholds: Thresholds = Thresholds(), n_boot: int = N_BOOT, seed: int = 0) -> FairnessReport:
    """Fairness of the predictions in a Parquet or CSV file (``y_pred`` = 1 is the favourable decision)."""
    if not sensitive:
        raise InvalidInputError("name at least one sensitive column with --sensitive")
    cells = file_cells(path, y_true=y_true, y_pred=y_pred, sensitive=list(sensitive))
    crosses = [tuple(sensitive)] if len(sensitive) > 1 else []
    return _report(None, None, cells, None, None, list(sensitive), crosses, thresholds, 1, n_boot, seed)


def what_if_file(path: str | Path, *, y_true: str, y_pred: str, score: str, sensitive: str,
                 constraint: str = "demographic_parity", objective: str = "accuracy",
                 min_group_size: int = Thresholds().min_group_size) -> GroupThresholdWhatIf:
    """:func:`what_if` on a file whose decisions are ``score >= threshold`` (1 = favourable)."""
    hist = file_score_histogram(path, y_true=y_true, y_pred=y_pred, score=score, sensitive=sensitive)
    return search(hist, favourable=1, constraint=constraint, objective=objective, min_group_size=min_group_size)


def what_if(db, model: str, attribute: str, *, window: Window = Window(), constraint: str = "demographic_parity",
            objective: str = "accuracy") -> GroupThresholdWhatIf:
    """Per-group thresholds for one attribute of a model version that equalise ``constraint``; see :func:`search`.

    ``window``: the time span and version (default the champion), every row (a segment is refused).
    """
    window.require_no_filter("the fairness what-if", version_allowed=True)

    def work(con: duckdb.DuckDBPyConnection) -> GroupThresholdWhatIf:
        info = get_model(con, model)
        chosen = window.version or champion_version(con, model)
        attrs = {a.key: a for a in sensitive_attributes(info.schema)}
        if attribute not in attrs:
            raise InvalidInputError(f"{attribute!r} is not a sensitive attribute of {model}; use {', '.join(attrs)}")
        favourable = favourable_decision(info.schema, model)
        hist = score_histogram(con, info.stem, attrs[attribute], start=window.start, end=window.end, version=chosen,
                               favourable=favourable)
        return search(hist, favourable=favourable, constraint=constraint, objective=objective,
                      min_group_size=int(settings.get(con, MIN_GROUP.key, model=model)))

    return run(db, work)
