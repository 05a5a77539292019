"""Group metrics, disparities and verdicts from confusion-matrix cells.

Every number here is a ratio of summed cell counts. Tests pin each one to fairlearn's
:class:`~fairlearn.metrics.MetricFrame` and disparity functions on the rows the cells count.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Per-group metrics, in display order. Selection rate counts every prediction; the rest need labels.
GROUP_METRICS: tuple[str, ...] = (
    "count", "selection_rate", "labelled", "true_positive_rate", "false_positive_rate", "precision", "accuracy",
)
RATE_METRICS: tuple[str, ...] = ("selection_rate", "true_positive_rate", "false_positive_rate", "precision",
                                 "accuracy")
PASS, FAIL, TOO_SMALL = "pass", "fail", "too small to judge"
#: Group statuses besides :data:`TOO_SMALL` (see :func:`group_status`).
JUDGED, SUPPRESSED = "judged", "suppressed"
SEP = " × "


#: The demographic parity ratio of the four-fifths rule (US EEOC Uniform Guidelines, 29 CFR 1607.4(D)).
FOUR_FIFTHS = 0.8


@dataclass(frozen=True)
class Thresholds:
    """What a verdict compares against (see the ``fairness.*`` settings)."""

    dp_ratio: float = FOUR_FIFTHS
    eo_difference: float = 0.1
    min_group_size: int = 30
    suppress_below: int = 10

    @property
    def dp_ratio_rule(self) -> str:
        """The parity threshold's name for a reader: ``'the four-fifths rule'`` at 0.8, else a ratio set
        apart from it (``'a ratio of 0.9, stricter than the four-fifths rule'``)."""
        if self.dp_ratio == FOUR_FIFTHS:
            return "the four-fifths rule"
        return (f"a ratio of {self.dp_ratio:g}, {'stricter' if self.dp_ratio > FOUR_FIFTHS else 'laxer'} "
                f"than the four-fifths rule ({FOUR_FIFTHS:g})")


def _safe(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def counts_by_group(cells: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Confusion-matrix counts per group: ``count``, ``selected``, ``labelled``, ``tp``, ``fp``, ``fn``, ``tn``, ``value``."""
    y, p, n = cells["y_true"].to_numpy(), cells["y_pred"].to_numpy(), cells["n"].to_numpy()
    parts = pd.DataFrame({
        **{k: cells[k].to_numpy() for k in keys},
        "count": n, "selected": n * (p == 1), "labelled": n * (y >= 0),
        "tp": n * ((y == 1) & (p == 1)), "fp": n * ((y == 0) & (p == 1)),
        "fn": n * ((y == 1) & (p == 0)), "tn": n * ((y == 0) & (p == 0)),
        "value": cells["value"].to_numpy(),
    })
    return parts.groupby(keys, sort=True, dropna=False, observed=True).sum().reset_index()


def metrics_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Add the rates of :data:`GROUP_METRICS` to a frame of counts (NaN where a denominator is 0)."""
    out = counts.copy()
    out["selection_rate"] = _safe(out["selected"], out["count"])
    out["true_positive_rate"] = _safe(out["tp"], out["tp"] + out["fn"])
    out["false_positive_rate"] = _safe(out["fp"], out["fp"] + out["tn"])
    out["precision"] = _safe(out["tp"], out["tp"] + out["fp"])
    out["accuracy"] = _safe(out["tp"] + out["tn"], out["labelled"])
    return out


def group_status(count, thresholds: Thresholds = Thresholds()) -> np.ndarray:
    """The small-group rule, the same in every view that shows groups.

    Parameters
    ----------
    count : array-like
        Predictions per group (NaN for a group whose count is already blanked).
    thresholds : Thresholds
        ``suppress_below`` and ``min_group_size``.

    Returns
    -------
    ndarray of str
        ``"suppressed"`` under ``suppress_below`` predictions (no count, rate or interval is shown,
        and the group takes no part in a disparity), ``"too small to judge"`` under
        ``min_group_size`` (shown, but left out of disparities), else ``"judged"``.
    """
    count = np.asarray(count, dtype=float)
    suppressed = ~(count >= thresholds.suppress_below)  # NaN: already blanked, so suppressed
    return np.where(suppressed, SUPPRESSED, np.where(count < thresholds.min_group_size, TOO_SMALL, JUDGED))


@dataclass(frozen=True)
class Parity:
    """Demographic parity between the groups large enough to judge.

    Attributes
    ----------
    difference : float
        Largest minus smallest selection rate (fairlearn's ``demographic_parity_difference``).
    ratio : float
        Smallest over largest selection rate (fairlearn's ``demographic_parity_ratio``).
    judged_groups : int
        Groups that took part; with fewer than two both values are NaN.
    """

    difference: float
    ratio: float
    judged_groups: int


def demographic_parity(count, selected, thresholds: Thresholds = Thresholds()) -> Parity:
    """Demographic parity of groups from their sizes and selected counts, judged groups only.

    The one implementation behind the Fairness page, the evidence pack and the KPIs: groups that
    :func:`group_status` does not call ``judged`` take no part.

    Parameters
    ----------
    count, selected : array-like
        Predictions per group, and of them those with the decision whose rate is compared.
    thresholds : Thresholds
        The small-group rule.
    """
    count, selected = np.asarray(count, dtype=float), np.asarray(selected, dtype=float)
    judged = group_status(count, thresholds) == JUDGED
    difference, ratio = _spread(pd.Series(selected[judged] / count[judged]))
    return Parity(difference, ratio, int(judged.sum()))


def group_metrics(cells: pd.DataFrame, keys: list[str], thresholds: Thresholds = Thresholds()) -> pd.DataFrame:
    """Per-group metrics with each group's status: ``judged``, ``too small to judge`` or ``suppressed``.

    A group with fewer than ``suppress_below`` predictions is suppressed: its counts and rates are
    blanked (privacy), and it takes no part in any disparity.
    """
    frame = metrics_from_counts(counts_by_group(cells, keys))
    label = pd.Series("all", index=frame.index)
    for i, key in enumerate(keys):
        part = frame[key].astype(str).to_numpy(dtype=object)
        label = pd.Series(part, index=frame.index) if i == 0 else label + SEP + part
    frame.insert(0, "group", label.astype(object))
    frame["status"] = group_status(frame["count"], thresholds)
    blanked = ["count", "selected", "labelled", "tp", "fp", "fn", "tn", "value", *RATE_METRICS]
    frame[blanked] = frame[blanked].astype(float)
    frame.loc[frame["status"] == SUPPRESSED, blanked] = np.nan
    return frame


def _spread(values: pd.Series) -> tuple[float, float]:
    """(max - min, min / max) of the defined values; NaN when fewer than two."""
    v = values.dropna()
    if len(v) < 2:
        return float("nan"), float("nan")
    hi, lo = float(v.max()), float(v.min())
    return hi - lo, (lo / hi if hi > 0 else float("nan"))


@dataclass(frozen=True)
class Disparity:
    """Disparities of one attribute (or intersection) between its judged groups, and the verdicts."""

    demographic_parity_difference: float
    demographic_parity_ratio: float
    equalized_odds_difference: float
    equal_opportunity_difference: float
    four_fifths_verdict: str
    equalized_odds_verdict: str
    judged_groups: int
    judged_labelled_groups: int

    @property
    def verdict(self) -> str:
        """``fail`` if any test fails, ``pass`` if the four-fifths test passes and none fails, else too small."""
        verdicts = (self.four_fifths_verdict, self.equalized_odds_verdict)
        if FAIL in verdicts:
            return FAIL
        return PASS if self.four_fifths_verdict == PASS else TOO_SMALL


def disparity(groups: pd.DataFrame, thresholds: Thresholds = Thresholds()) -> Disparity:
    """Disparities between the groups of :func:`group_metrics` large enough to judge.

    Demographic parity uses groups with at least ``min_group_size`` predictions; equalized odds and
    equal opportunity use groups with at least ``min_group_size`` labelled predictions holding both
    outcomes (so that both rates exist). Difference = largest minus smallest group value (fairlearn's
    ``between_groups``); ratio = smallest over largest.
    """
    parity = demographic_parity(groups["count"], groups["selected"], thresholds)
    dpd, dpr = parity.difference, parity.ratio
    judged = groups[group_status(groups["count"], thresholds) == JUDGED]
    labelled = judged[(judged["labelled"] >= thresholds.min_group_size)
                      & judged["true_positive_rate"].notna() & judged["false_positive_rate"].notna()]
    tprd = _spread(labelled["true_positive_rate"])[0]
    fprd = _spread(labelled["false_positive_rate"])[0]
    eod = max(tprd, fprd) if len(labelled) >= 2 else float("nan")
    four_fifths = TOO_SMALL if np.isnan(dpr) else (PASS if dpr >= thresholds.dp_ratio else FAIL)
    eo = TOO_SMALL if np.isnan(eod) else (PASS if eod <= thresholds.eo_difference else FAIL)
    return Disparity(dpd, dpr, eod, tprd if len(labelled) >= 2 else float("nan"), four_fifths, eo,
                     len(judged), len(labelled))


# --------------------------------------------------------------------------------------------------
# Bootstrap intervals


def bootstrap_intervals(cells: pd.DataFrame, keys: list[str], *, n_boot: int = 500, seed: int = 0,
                        quantiles: tuple[float, float] = (0.025, 0.975)) -> pd.DataFrame:
    """Percentile bootstrap intervals of each group's rates, resampling rows with replacement.

    Resampling N rows with replacement is a multinomial draw over the cells (each cell a distinct
    row value), so the bootstrap runs on counts, whatever N is; this is the scheme of fairlearn's
    ``MetricFrame(n_boot=...)`` (rows drawn with replacement from all rows), to which a test pins it.

    Returns one row per group with ``<metric>_low`` and ``<metric>_high`` for :data:`RATE_METRICS`.
    """
    cells = cells.groupby([*keys, "y_true", "y_pred"], sort=True, dropna=False, observed=True)["n"].sum().reset_index()
    base = counts_by_group(cells.assign(value=0.0), keys)
    out = base[keys].copy()
    group_of_cell = (cells.groupby(keys, sort=True, dropna=False, observed=True).ngroup().to_numpy() if keys
                     else np.zeros(len(cells), dtype=int))
    n = cells["n"].to_numpy().astype("int64")
    total = int(n.sum())
    if total == 0 or n_boot <= 0:
        return out
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(total, n / total, size=n_boot).astype(float)  # (n_boot, cells)
    y, p = cells["y_true"].to_numpy(), cells["y_pred"].to_numpy()
    member = np.zeros((len(cells), len(base)))
    member[np.arange(len(cells)), group_of_cell] = 1.0

    def per_group(mask: np.ndarray) -> np.ndarray:
        return draws @ (member * mask[:, None])

    count = per_group(np.ones(len(cells), bool))
    selected = per_group(p == 1)
    labelled = per_group(y >= 0)
    tp, fp = per_group((y == 1) & (p == 1)), per_group((y == 0) & (p == 1))
    fn, tn = per_group((y == 1) & (p == 0)), per_group((y == 0) & (p == 0))
    rates = {
        "selection_rate": _safe(selected, count), "true_positive_rate": _safe(tp, tp + fn),
        "false_positive_rate": _safe(fp, fp + tn), "precision": _safe(tp, tp + fp),
        "accuracy": _safe(tp + tn, labelled),
    }
    for name, values in rates.items():
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a group without positives has no rate
            low, high = np.nanquantile(values, quantiles, axis=0)
        out[f"{name}_low"], out[f"{name}_high"] = low, high
    return out


# --------------------------------------------------------------------------------------------------
# Over time


def over_time(cells: pd.DataFrame, keys: list[str], thresholds: Thresholds = Thresholds(),
              freq: str = "W-SUN") -> pd.DataFrame:
    """Disparities per window (UTC weeks, Monday to Sunday, by default) for one attribute or intersection.

    Returns ``window_start``, ``rows``, ``labelled``, the four disparities and both verdicts.
    """
    if cells.empty:
        return pd.DataFrame(columns=["window_start", "rows", "labelled", "demographic_parity_difference",
                                     "demographic_parity_ratio", "equalized_odds_difference",
                                     "equal_opportunity_difference", "four_fifths_verdict",
                                     "equalized_odds_verdict"])
    periods = cells["week"] if "week" in cells else pd.to_datetime(cells["day"]).dt.to_period(freq).dt.start_time
    counts = metrics_from_counts(counts_by_group(cells.assign(window_start=periods.to_numpy()),
                                                 ["window_start", *keys]))
    judged = pd.Series(group_status(counts["count"], thresholds) == JUDGED, index=counts.index)
    both = (judged & (counts["labelled"] >= thresholds.min_group_size)
            & counts["true_positive_rate"].notna() & counts["false_positive_rate"].notna())
    frame = pd.DataFrame({
        "window_start": counts["window_start"],
        "rows": counts["count"], "labelled_rows": counts["labelled"],
        "sel": counts["selection_rate"].where(judged),
        "tpr": counts["true_positive_rate"].where(both), "fpr": counts["false_positive_rate"].where(both),
        "judged": judged.astype(int), "both": both.astype(int),
    })
    agg = frame.groupby("window_start", sort=True).agg(
        rows=("rows", "sum"), labelled=("labelled_rows", "sum"), sel_max=("sel", "max"), sel_min=("sel", "min"),
        tpr_max=("tpr", "max"), tpr_min=("tpr", "min"), fpr_max=("fpr", "max"), fpr_min=("fpr", "min"),
        judged=("judged", "sum"), both=("both", "sum")).reset_index()
    enough, enough_l = agg["judged"] >= 2, agg["both"] >= 2
    out = pd.DataFrame({"window_start": agg["window_start"], "rows": agg["rows"].astype(int),
                        "labelled": agg["labelled"].astype(int)})
    out["demographic_parity_difference"] = (agg["sel_max"] - agg["sel_min"]).where(enough)
    out["demographic_parity_ratio"] = pd.Series(_safe(agg["sel_min"], agg["sel_max"])).where(enough)
    tprd = (agg["tpr_max"] - agg["tpr_min"]).where(enough_l)
    out["equalized_odds_difference"] = np.fmax(tprd, agg["fpr_max"] - agg["fpr_min"]).where(enough_l)
    out["equal_opportunity_difference"] = tprd
    ratio, eod = out["demographic_parity_ratio"], out["equalized_odds_difference"]
    out["four_fifths_verdict"] = np.where(ratio.isna(), TOO_SMALL, np.where(ratio >= thresholds.dp_ratio, PASS, FAIL))
    out["equalized_odds_verdict"] = np.where(eod.isna(), TOO_SMALL,
                                             np.where(eod <= thresholds.eo_difference, PASS, FAIL))
    return out


@dataclass(frozen=True)
class AttributeResult:
    """The assessment of one attribute or intersection: its groups, intervals and disparities."""

    name: str
    keys: tuple[str, ...]
    groups: pd.DataFrame
    disparity: Disparity
    over_time: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict:
        """The JSON shape of the CLI: groups with counts, the four disparities and the verdicts."""
        d = self.disparity

        def num(v):
            return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)

        groups = []
        for _, row in self.groups.iterrows():
            entry = {"group": row["group"], "values": {k: row[k] for k in self.keys}, "status": row["status"],
                     "suppressed": row["status"] == "suppressed"}
            for col in GROUP_METRICS:
                v = row[col]
                entry[col] = None if pd.isna(v) else (int(v) if col in ("count", "labelled") else num(v))
            for col in RATE_METRICS:
                if f"{col}_low" in row:
                    entry[f"{col}_ci"] = [num(row[f"{col}_low"]), num(row[f"{col}_high"])] \
                        if row["status"] != "suppressed" else None
            groups.append(entry)
        return {
            "attribute": self.name, "groups": groups,
            "demographic_parity_difference": num(d.demographic_parity_difference),
            "demographic_parity_ratio": num(d.demographic_parity_ratio),
            "equalized_odds_difference": num(d.equalized_odds_difference),
            "equal_opportunity_difference": num(d.equal_opportunity_difference),
            "four_fifths_verdict": d.four_fifths_verdict,
            "equalized_odds_verdict": d.equalized_odds_verdict,
            "verdict": d.verdict,
        }


def assess_attribute(cells: pd.DataFrame, keys: list[str], thresholds: Thresholds = Thresholds(), *,
                     n_boot: int = 0, seed: int = 0, with_time: bool = False) -> AttributeResult:
    """Group metrics (with bootstrap intervals when ``n_boot`` > 0), disparities and verdicts of one attribute."""
    groups = group_metrics(cells, keys, thresholds)
    if n_boot:
        ci = bootstrap_intervals(cells, keys, n_boot=n_boot, seed=seed)
        groups = groups.merge(ci, on=keys, how="left")
        bounds = [c for c in ci.columns if c not in keys]
        groups.loc[groups["status"] == SUPPRESSED, bounds] = np.nan  # no interval gives a suppressed rate away
    trend = over_time(cells, keys, thresholds) if with_time and ("week" in cells or "day" in cells) else pd.DataFrame()
    return AttributeResult(SEP.join(keys), tuple(keys), groups, disparity(groups, thresholds), trend)
