"""Multivariate drift on bounded, seeded samples: a domain classifier and PCA reconstruction error.

Both need rows, so both read a deterministic sample of at most :data:`SAMPLE_ROWS` rows per side
(the rows with the smallest seeded hash of their id; the reference table's row number stands in
for an id), and the result states the sample sizes.

Domain classifier (as Evidently and NannyML do): label reference rows 0 and current rows 1, fit a
gradient-boosted classifier (:class:`sklearn.ensemble.HistGradientBoostingClassifier`) and read
the ROC AUC of a stratified 5-fold cross-validation (:func:`sklearn.model_selection.cross_val_score`).
An AUC near 0.5 means the two samples cannot be told apart; outside NannyML 0.13's default band
(``ConstantThreshold(lower=0.45, upper=0.65)`` of its ``DomainClassifierCalculator``; settings
``drift.domain_classifier_auc_lower`` and ``drift.domain_classifier_auc_upper``) they have drifted.
A band rather than a fixed 0.55: on samples of a few thousand rows a cross-validated AUC of two
samples of one population moves by a few hundredths by chance.

PCA reconstruction error (NannyML's ``DataReconstructionDriftCalculator``): impute (numeric mean,
categorical most frequent), encode categories by their reference frequency, standardise and fit a
PCA keeping 65 % of the variance on the reference sample. The error of a set of rows is the mean
Euclidean distance between a row and its reconstruction. The reference sample is cut into 10
chunks; the current error drifts when it leaves mean +/- 3 standard deviations of the chunks' errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError
from analytics.logschema import quote
from analytics.store import DbLike, run
from analytics.window import Window
from analytics.registry import champion_version, get_model
from analytics.settings import declare
from analytics.drift._segment import segment_baseline, window_left_out
from analytics.store import predictions_view

SAMPLE_ROWS = 5_000
SEED = 42
CV_FOLDS = 5
PCA_VARIANCE = 0.65
REFERENCE_CHUNKS = 10
DOMAIN_AUC_LOWER = declare("drift.domain_classifier_auc_lower", 0.45,
                           "cross-validated ROC AUC of the domain classifier below which the inputs have drifted "
                           "(NannyML's default band 0.45-0.65)", minimum=0.0, maximum=0.5)
DOMAIN_AUC_UPPER = declare("drift.domain_classifier_auc_upper", 0.65,
                           "cross-validated ROC AUC of the domain classifier above which the inputs have drifted "
                           "(NannyML's default band 0.45-0.65)", minimum=0.5, maximum=1.0)


@dataclass(frozen=True)
class MultivariateResult:
    """Multivariate drift of one window: the classifier's AUC and the reconstruction error, with samples."""

    domain_auc: float
    domain_auc_folds: tuple[float, ...]
    domain_lower: float
    domain_upper: float
    domain_drifted: bool | None
    reconstruction_error: float
    reconstruction_reference_mean: float
    reconstruction_lower: float
    reconstruction_upper: float
    reconstruction_drifted: bool | None
    pca_components: int
    n_reference_sample: int
    n_current_sample: int
    n_reference_rows: int
    n_current_rows: int
    columns: tuple[str, ...]
    seed: int
    left_out: dict[str, str] = field(default_factory=dict)

    def as_frame(self) -> pd.DataFrame:
        """Two rows (one per method) for a table."""
        return pd.DataFrame([
            {"method": "domain classifier (ROC AUC, 5-fold CV)", "statistic": self.domain_auc,
             "threshold": f"outside [{self.domain_lower:.2f}, {self.domain_upper:.2f}]",
             "drifted": self.domain_drifted},
            {"method": f"PCA reconstruction error ({self.pca_components} components)",
             "statistic": self.reconstruction_error,
             "threshold": f"outside [{self.reconstruction_lower:.3f}, {self.reconstruction_upper:.3f}]",
             "drifted": self.reconstruction_drifted},
        ])


def _encode(ref: pd.DataFrame, cur: pd.DataFrame, numeric: list[str], categorical: list[str]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Impute and encode both samples with the reference's statistics (numeric mean, category frequency)."""
    def encode(frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for c in numeric:
            values = pd.to_numeric(frame[c], errors="coerce").astype(float)
            parts.append(values.fillna(means[c]).to_numpy())
        for c in categorical:
            values = frame[c].astype("string").fillna(modes[c])
            parts.append(values.map(freqs[c]).astype(float).fillna(0.0).to_numpy())
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))

    means = {c: float(pd.to_numeric(ref[c], errors="coerce").mean()) if ref[c].notna().any() else 0.0
             for c in numeric}
    modes, freqs = {}, {}
    for c in categorical:
        values = ref[c].astype("string")
        modes[c] = values.mode().iloc[0] if values.notna().any() else "(missing)"
        freqs[c] = values.fillna(modes[c]).value_counts(normalize=True).to_dict()
    return encode(ref), encode(cur)


def domain_classifier_auc(x_ref: np.ndarray, x_cur: np.ndarray, seed: int = SEED) -> np.ndarray:
    """Cross-validated ROC AUC per fold of a classifier telling reference (0) from current (1) rows.

    The classifier runs on one OpenMP thread: on samples of a few thousand rows its many short
    parallel sections cost more than they save (the same folds took 4.2 CPU-s on two threads and
    1.35 CPU-s on one, with identical AUCs: the histograms are summed per feature, whatever the
    thread count).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    x = np.vstack([x_ref, x_cur])
    y = np.r_[np.zeros(len(x_ref)), np.ones(len(x_cur))]
    folds = min(CV_FOLDS, len(x_ref), len(x_cur))
    if folds < 2:
        return np.array([math.nan])
    model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    with threadpool_limits(limits=1, user_api="openmp"):
        return cross_val_score(model, x, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                               scoring="roc_auc")


def reconstruction(x_ref: np.ndarray, x_cur: np.ndarray, seed: int = SEED) -> tuple[float, float, float, float, int]:
    """PCA reconstruction error of the current rows, and the reference chunks' mean, bounds and components."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_ref)
    pca = PCA(n_components=PCA_VARIANCE, random_state=seed).fit(scaler.transform(x_ref))

    def error(x: np.ndarray) -> float:
        z = scaler.transform(x)
        return float(np.mean(np.linalg.norm(z - pca.inverse_transform(pca.transform(z)), axis=1)))

    chunks = [error(c) for c in np.array_split(x_ref, REFERENCE_CHUNKS) if len(c)]
    mean, std = float(np.mean(chunks)), float(np.std(chunks))
    return error(x_cur), mean, mean - 3 * std, mean + 3 * std, int(pca.n_components_)


def multivariate_drift(db: DbLike, model: str, *, window: Window,
                       baseline_start: datetime | None = None, baseline_end: datetime | None = None,
                       sample_rows: int = SAMPLE_ROWS, seed: int = SEED) -> MultivariateResult:
    """Multivariate drift of the model's inputs (features and segments) in ``window``.

    Against the version's reference data, or, given ``baseline_start`` and ``baseline_end``, against
    that earlier window of the log (same version and segment). Parameters otherwise as
    :func:`analytics.drift.drift_summary`; ``sample_rows`` bounds each side's sample.
    """
    if sample_rows < 50:
        raise InvalidInputError("the multivariate drift needs samples of at least 50 rows")

    def work(con: duckdb.DuckDBPyConnection) -> MultivariateResult:
        info = get_model(con, model)
        ver = window.version or champion_version(con, model)
        if ver is None:
            raise InvalidInputError(f"{model} has no champion version; choose a version")
        current = replace(window, version=ver)
        if baseline_start is not None and baseline_end is not None:
            left_out = window_left_out(current)
        else:
            chosen = segment_baseline(con, info, current)
            left_out = chosen.left_out
        used = [c for c in info.schema.columns if c.role in ("feature", "segment") and c.name not in left_out]
        cols = ", ".join(quote(c.name) for c in used)
        def window_sample(a, b):
            sampled = current.between(a, b).where(info.schema)
            where, params = sampled.sql, sampled.params
            n = con.execute(f"SELECT count(*) FROM {predictions_view(info.stem)} p WHERE {where}", params).fetchone()[0]
            rows = con.execute(
                f"SELECT {cols} FROM {predictions_view(info.stem)} p WHERE {where} "
                f"ORDER BY hash(prediction_id || '{int(seed)}'), prediction_id LIMIT {int(sample_rows)}", params).df()
            return n, rows

        if baseline_start is not None and baseline_end is not None:
            n_ref, ref = window_sample(baseline_start, baseline_end)
        else:
            side = chosen.reference
            n_ref = con.execute(f"SELECT count(*) {side.source}", list(side.params)).fetchone()[0]
            ref = con.execute(
                f"SELECT {cols} FROM (SELECT *, row_number() OVER () AS _rn {side.source}) "
                f"ORDER BY hash(_rn + {int(seed)}), _rn LIMIT {int(sample_rows)}", list(side.params)).df()
        n_cur, cur = window_sample(window.start, window.end)
        threshold = (float(settings.get(con, DOMAIN_AUC_LOWER.key, model=model)),
                     float(settings.get(con, DOMAIN_AUC_UPPER.key, model=model)))
        return ref, cur, n_ref, n_cur, threshold, used, left_out

    ref, cur, n_ref, n_cur, threshold, used, left_out = run(db, work)
    if len(ref) < 10 or len(cur) < 10:
        raise InvalidInputError(f"the multivariate drift needs at least 10 rows on each side; the window has "
                                f"{len(cur)} and the reference {len(ref)}")
    numeric = [c.name for c in used if c.dtype in ("double", "integer")]
    categorical = [c.name for c in used if c.dtype not in ("double", "integer")]
    x_ref, x_cur = _encode(ref, cur, numeric, categorical)
    folds = domain_classifier_auc(x_ref, x_cur, seed)
    auc = float(np.mean(folds))
    err, mean, lower, upper, components = reconstruction(x_ref, x_cur, seed)
    return MultivariateResult(
        domain_auc=auc, domain_auc_folds=tuple(float(f) for f in folds), domain_lower=threshold[0],
        domain_upper=threshold[1],
        domain_drifted=None if math.isnan(auc) else bool(not threshold[0] <= auc <= threshold[1]),
        reconstruction_error=err, reconstruction_reference_mean=mean, reconstruction_lower=lower,
        reconstruction_upper=upper, reconstruction_drifted=bool(err < lower or err > upper),
        pca_components=components, n_reference_sample=len(ref), n_current_sample=len(cur),
        n_reference_rows=int(n_ref), n_current_rows=int(n_cur), columns=tuple(numeric + categorical), seed=seed,
        left_out=left_out)
