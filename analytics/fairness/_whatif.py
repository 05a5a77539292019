"""What-if: per-group decision thresholds that would equalise selection rates or true-positive rates.

An exhaustive search equivalent to fairlearn's :class:`~fairlearn.postprocessing.ThresholdOptimizer`
with deterministic thresholds (ThresholdOptimizer may randomise between two thresholds; a lender
cannot): for each target rate on a grid, each judged group takes the score threshold whose rate is
closest to the target; the target with the best objective (accuracy, or business value) wins. It runs
on score histograms per group and label counted in DuckDB (scores in bins of 1/1000), so it costs the
same whatever the log size. Nothing changes production: the result is a recommendation a reviewer
may attach to a review (:func:`attach_recommendation`).

Business value under a changed decision is not observed. A row whose decision is unchanged keeps its
realised value; a row whose decision would flip is given the mean realised value of its group's rows
with that decision and the same outcome (the overall mean when the group has none). This is an
estimate, and is labelled as one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb
import numpy as np
import pandas as pd

from analytics import audit
from analytics.errors import InvalidInputError
from analytics.roles import Actor, require
from analytics.store import run

CONSTRAINTS = {"demographic_parity": "selection rate", "true_positive_rate_parity": "true-positive rate"}
OBJECTIVES = ("accuracy", "business_value")


@dataclass(frozen=True)
class GroupThresholdWhatIf:
    """Result of :func:`search`: per-group thresholds and what they would cost."""

    constraint: str
    objective: str
    groups: pd.DataFrame
    rows: int
    accuracy_before: float
    accuracy_after: float
    value_before: float
    value_after: float
    disparity_before: float
    disparity_after: float

    @property
    def accuracy_cost(self) -> float:
        """Accuracy lost (negative: gained)."""
        return self.accuracy_before - self.accuracy_after

    @property
    def value_cost(self) -> float:
        """Business value lost (negative: gained), estimated."""
        return self.value_before - self.value_after

    def to_dict(self) -> dict:
        """A JSON-ready summary (for the CLI and for a recommendation's audit row)."""
        out = {k: v for k, v in asdict(self).items() if k != "groups"}
        out["groups"] = [{k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
                         for r in self.groups.to_dict("records")]
        out["accuracy_cost"], out["value_cost"] = self.accuracy_cost, self.value_cost
        return out


def _suffix(a: np.ndarray) -> np.ndarray:
    """s[k] = sum(a[k:]) for k = 0..len(a) (last entry 0)."""
    return np.concatenate([np.cumsum(a[::-1])[::-1], [0.0]])


def search(hist: pd.DataFrame, *, favourable: int, constraint: str = "demographic_parity",
           objective: str = "accuracy", min_group_size: int = 30, bins: int = 1000,
           grid: int = 201) -> GroupThresholdWhatIf:
    """Find per-group thresholds on a score histogram (see :func:`analytics.fairness.score_histogram`).

    Parameters
    ----------
    hist : DataFrame
        ``group``, ``y_true`` (1 = favourable), ``bin``, ``decision`` (raw, 1 = score above the
        threshold), ``n``, ``value``; labelled rows only.
    favourable : int
        The raw decision favourable to the person (1 or 0).
    constraint : {"demographic_parity", "true_positive_rate_parity"}
        Which rate to equalise across groups; rates are of the favourable decision.
    objective : {"accuracy", "business_value"}
        What the chosen target maximises.
    min_group_size : int
        Groups with fewer labelled rows keep their current decisions.
    """
    if constraint not in CONSTRAINTS:
        raise InvalidInputError(f"constraint {constraint!r} is unknown; use one of {', '.join(CONSTRAINTS)}")
    if objective not in OBJECTIVES:
        raise InvalidInputError(f"objective {objective!r} is unknown; use one of {', '.join(OBJECTIVES)}")
    if hist.empty:
        raise InvalidInputError("no labelled predictions with a score in this window: the what-if needs outcomes")
    # Mean realised value per (decision, outcome): per group, with the overall mean as fallback.
    cell = hist.groupby(["group", "decision", "y_true"])[["n", "value"]].sum()
    overall = hist.groupby(["decision", "y_true"])[["n", "value"]].sum()

    def mean_value(g: str, d: int, y: int) -> float:
        for frame, key in ((cell, (g, d, y)), (overall, (d, y))):
            if key in frame.index and frame.loc[key, "n"] > 0:
                return float(frame.loc[key, "value"] / frame.loc[key, "n"])
        return 0.0

    names = sorted(hist["group"].unique())
    per = {}
    for g in names:
        part = hist[hist["group"] == g]
        arr = {}
        for y in (0, 1):
            for d in (0, 1):
                sel = part[(part["y_true"] == y) & (part["decision"] == d)]
                arr[("n", y, d)] = np.bincount(sel["bin"], weights=sel["n"], minlength=bins)[:bins].astype(float)
                arr[("v", y, d)] = np.bincount(sel["bin"], weights=sel["value"], minlength=bins)[:bins]
        totals = {y: arr[("n", y, 0)].sum() + arr[("n", y, 1)].sum() for y in (0, 1)}
        # raw decision 1 <=> bin >= k; counts of raw-1 rows per outcome for every k
        raw1 = {y: _suffix(arr[("n", y, 0)] + arr[("n", y, 1)]) for y in (0, 1)}
        fav = {y: raw1[y] if favourable == 1 else totals[y] - raw1[y] for y in (0, 1)}
        tp, fp = fav[1], fav[0]
        tn = totals[0] - fp
        value = np.zeros(bins + 1)
        for y in (0, 1):
            keep1 = _suffix(arr[("v", y, 1)])                       # raw 1 stays raw 1 (bins >= k)
            flip_to1 = _suffix(arr[("n", y, 0)]) * mean_value(g, 1, y)
            keep0 = arr[("v", y, 0)].sum() - _suffix(arr[("v", y, 0)])  # raw 0 stays raw 0 (bins < k)
            flip_to0 = (arr[("n", y, 1)].sum() - _suffix(arr[("n", y, 1)])) * mean_value(g, 0, y)
            value += keep1 + flip_to1 + keep0 + flip_to0
        n_all = totals[0] + totals[1]
        cur_fav = {y: arr[("n", y, favourable)].sum() for y in (0, 1)}
        per[g] = {
            "n": n_all, "tp": tp, "correct": tp + tn, "value": value,
            "rate": (tp + fp) / n_all if constraint == "demographic_parity" else
                    (tp / totals[1] if totals[1] else np.full(bins + 1, np.nan)),
            "current_rate": ((cur_fav[0] + cur_fav[1]) / n_all) if constraint == "demographic_parity" else
                            (cur_fav[1] / totals[1] if totals[1] else np.nan),
            "current_correct": cur_fav[1] + (totals[0] - cur_fav[0]),
            "current_value": float(sum(arr[("v", y, d)].sum() for y in (0, 1) for d in (0, 1))),
            "judged": bool(n_all >= min_group_size and totals[0] > 0 and totals[1] > 0),
        }
    judged = [g for g in names if per[g]["judged"]]
    if len(judged) < 2:
        raise InvalidInputError(f"fewer than two groups have {min_group_size} labelled predictions with both "
                                "outcomes: there is nothing to equalise")
    fixed_correct = sum(per[g]["current_correct"] for g in names if g not in judged)
    fixed_value = sum(per[g]["current_value"] for g in names if g not in judged)
    best = None
    for target in np.linspace(0.0, 1.0, grid):
        choice = {g: int(np.nanargmin(np.abs(per[g]["rate"] - target))) for g in judged}
        correct = fixed_correct + sum(per[g]["correct"][choice[g]] for g in judged)
        value = fixed_value + sum(per[g]["value"][choice[g]] for g in judged)
        score = correct if objective == "accuracy" else value
        if best is None or score > best[0] + 1e-9:
            best = (score, target, choice, correct, value)
    _, target, choice, correct, value = best
    rows = sum(per[g]["n"] for g in names)
    table = pd.DataFrame([{
        "group": g, "labelled": int(per[g]["n"]), "judged": g in judged,
        "threshold": (choice[g] / bins) if g in judged else np.nan,
        "rate_before": float(per[g]["current_rate"]),
        "rate_after": float(per[g]["rate"][choice[g]]) if g in judged else float(per[g]["current_rate"]),
        "accuracy_before": float(per[g]["current_correct"] / per[g]["n"]),
        "accuracy_after": float(per[g]["correct"][choice[g]] / per[g]["n"]) if g in judged
        else float(per[g]["current_correct"] / per[g]["n"]),
        "value_before": per[g]["current_value"],
        "value_after": float(per[g]["value"][choice[g]]) if g in judged else per[g]["current_value"],
    } for g in names])
    j = table[table["judged"]]
    return GroupThresholdWhatIf(
        constraint=constraint, objective=objective, groups=table, rows=int(rows),
        accuracy_before=float(sum(per[g]["current_correct"] for g in names) / rows),
        accuracy_after=float(correct / rows),
        value_before=float(sum(per[g]["current_value"] for g in names)), value_after=float(value),
        disparity_before=float(j["rate_before"].max() - j["rate_before"].min()),
        disparity_after=float(j["rate_after"].max() - j["rate_after"].min()),
    )


ACTION = "fairness.recommendation"


def attach_recommendation(con: duckdb.DuckDBPyConnection, actor: Actor, model: str, version: str,
                          result: dict, *, note: str = "") -> int:
    """Attach a what-if result to a version's review as a recommendation (reviewers); returns its audit row.

    Nothing in production changes: the recommendation is an audited record for the review.
    """
    require(actor, "review")
    return audit.record(con, actor, ACTION, "model_version", f"{model}:{version}",
                        {"recommendation": result, "note": note.strip()[:2000]})


def recommendations(db, model: str) -> pd.DataFrame:
    """Recommendations attached to any version of ``model``, newest first (``db``: a path or a connection)."""
    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        frame = audit.entries(con, object_type="model_version", object_id_prefix=f"{model}:")
        return frame[frame["action"] == ACTION].reset_index(drop=True)

    return run(db, work)
