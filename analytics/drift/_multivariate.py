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

Kept per version and UTC day (the summaries engine, :data:`SAMPLES`; table ``multivariate_sample``):
each day's first :data:`DAY_SAMPLE_ROWS` rows by the sample's seeded hash, with the values the
methods read. A window's sample (its first rows by that hash) lies among its days' first rows, so a
window of whole days is sampled from them, exactly: a day that kept fewer rows than the window needs
from it (a window of a few days) is read from the log, as are the window's partial edge days, the
days not summarised yet and any window with a segment filter. The same rows, the same numbers: only
the log scan is saved (about 1.5 CPU-s on 90 days of the 10 M-row demo). The reference's sample and
the PCA fit cost a few hundredths of a second and are not kept.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from analytics import settings, summaries
from analytics.drift._calculator import _day_runs, _rolled_versions, checked_baseline
from analytics.drift._segment import segment_baseline, window_left_out
from analytics.errors import InvalidInputError
from analytics.logschema import quote
from analytics.registry import champion_version, get_model
from analytics.settings import declare
from analytics.store import DbLike, predictions_view, run
from analytics.window import Window, split_interval

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_ROWS = 5_000
SEED = 42
CV_FOLDS = 5
PCA_VARIANCE = 0.65
REFERENCE_CHUNKS = 10
#: Rows kept per version and UTC day for the window samples: the day's first rows by the seeded hash.
DAY_SAMPLE_ROWS = 1_000
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
    unsummarised_days: tuple[date, ...] = ()

    @property
    def summary_note(self) -> str:
        """A sentence for the page when some whole days were read from the log (empty when none were)."""
        return summaries.unsummarised_note(self.unsummarised_days)

    def as_frame(self) -> pd.DataFrame:
        """Two rows (one per method) for a table."""
        import pandas as pd

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
    import pandas as pd

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

    What :func:`sklearn.model_selection.cross_val_score` computes (scoring ``roc_auc``, stratified
    shuffled folds), its folds fitted two at a time in threads, each classifier on one OpenMP thread:
    on samples of a few thousand rows a classifier's many short parallel sections cost more than they
    save (the same folds took 4.2 CPU-s on two OpenMP threads and 1.35 CPU-s on one, with identical
    AUCs), while two folds at once keep both cores busy.
    """
    from concurrent.futures import ThreadPoolExecutor

    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    x = np.vstack([x_ref, x_cur])
    y = np.r_[np.zeros(len(x_ref)), np.ones(len(x_cur))]
    folds = min(CV_FOLDS, len(x_ref), len(x_cur))
    if folds < 2:
        return np.array([math.nan])
    model, scorer = HistGradientBoostingClassifier(max_iter=100, random_state=seed), get_scorer("roc_auc")

    def score(split: tuple[np.ndarray, np.ndarray]) -> float:
        train, test = split
        with threadpool_limits(limits=1, user_api="openmp"):  # this thread's OpenMP sections
            return float(scorer(clone(model).fit(x[train], y[train]), x[test], y[test]))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.array(list(pool.map(score, StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))))


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


def _used_columns(info, left_out: dict[str, str]) -> list:
    """The columns the methods read: the declared features and segments, but those left out."""
    return [c for c in info.schema.columns if c.role in ("feature", "segment") and c.name not in left_out]


def _values_sql(used) -> str:
    """SQL of a row's values as two lists: the numeric columns as DOUBLE, the others as text."""
    numbers = ", ".join(f"CAST({quote(c.name)} AS DOUBLE)" for c in used if c.dtype in ("double", "integer"))
    texts = ", ".join(f"CAST({quote(c.name)} AS VARCHAR)" for c in used if c.dtype not in ("double", "integer"))
    return f"[{numbers}]::DOUBLE[] AS numbers, [{texts}]::VARCHAR[] AS texts"


def _frame(rows, used) -> pd.DataFrame:
    """A sample's rows (``numbers``, ``texts`` lists, in order) as a frame of the used columns."""
    import pandas as pd

    numeric = [c.name for c in used if c.dtype in ("double", "integer")]
    categorical = [c.name for c in used if c.dtype not in ("double", "integer")]
    frame = pd.DataFrame({c: pd.Series([r[-2][i] for r in rows], dtype=float) for i, c in enumerate(numeric)})
    for i, c in enumerate(categorical):
        frame[c] = pd.Series([r[-1][i] for r in rows], dtype=object)
    return frame.reindex(columns=[c.name for c in used]) if rows else pd.DataFrame(columns=[c.name for c in used])


def _sample_key_sql(seed: int) -> str:
    """The sample's order: a seeded hash of the prediction id (ties by the id)."""
    return f"hash(prediction_id || '{int(seed)}')"


def _log_sample(con: duckdb.DuckDBPyConnection, info, window: Window, used, seed: int, limit: int) -> list[tuple]:
    """The first ``limit`` rows of ``window`` by the seeded hash, read from the log: ``(h, id, numbers, texts)``."""
    where = window.where(info.schema)
    return con.execute(f"SELECT {_sample_key_sql(seed)} AS h, prediction_id, {_values_sql(used)} "
                       f"FROM {predictions_view(info.stem)} p WHERE {where.sql} ORDER BY h, prediction_id "
                       f"LIMIT {int(limit)}", list(where.params)).fetchall()


def _sample_key(con: duckdb.DuckDBPyConnection, model: str, scope: str) -> str | None:
    """What the kept samples depend on besides the log: the seed, the rows per day, the columns, DuckDB's hash."""
    used = _used_columns(get_model(con, model), {})
    if not used:
        return None
    spec = [SEED, DAY_SAMPLE_ROWS, [[c.name, c.dtype] for c in used], duckdb.__version__]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def _build_samples(con: duckdb.DuckDBPyConnection, model: str, scope: str, days: list[date]) -> None:
    """Insert each day's first :data:`DAY_SAMPLE_ROWS` rows of version ``scope`` by the seeded hash."""
    info = get_model(con, model)
    on_days = summaries.days_filter(days)
    row = "{'h': h, 'prediction_id': prediction_id, 'numbers': numbers, 'texts': texts}"
    con.execute(
        f"""
        INSERT INTO multivariate_sample (model_name, version, day, h, prediction_id, numbers, texts)
        SELECT ?, ?, day, s.h, s.prediction_id, s.numbers, s.texts
        FROM (SELECT day, unnest(first) AS s
              FROM (SELECT CAST(predicted_at AS DATE) AS day,
                           min_by({row}, {{'h': h, 'id': prediction_id}}, {DAY_SAMPLE_ROWS}) AS first
                    FROM (SELECT predicted_at, prediction_id, {_sample_key_sql(SEED)} AS h, {_values_sql(_used_columns(info, {}))}
                          FROM {predictions_view(info.stem)} p WHERE p.model_version = ? AND {on_days.sql})
                    GROUP BY 1))
        """, [model, scope, scope, *on_days.params])


#: The window samples kept per version and UTC day, declared to the summaries engine (scoped by version,
#: the champion by default, as the drift rollups).
SAMPLES = summaries.register(summaries.Declaration(
    name="multivariate", tables=(summaries.SummaryTable("multivariate_sample", scope_column="version"),),
    build=_build_samples, key=_sample_key, scopes=_rolled_versions))


def _window_sample(con: duckdb.DuckDBPyConnection, info, window: Window, used, seed: int, limit: int,
                   stored: bool) -> tuple[list[tuple], tuple[date, ...]]:
    """The first ``limit`` rows of ``window`` by the seeded hash, and the whole days read from the log
    because they were not summarised.

    With ``stored`` (no segment filter, the default seed), the window's whole days that are fresh in
    :data:`SAMPLES` come from the kept rows: their first ``limit`` rows together. A day that kept
    :data:`DAY_SAMPLE_ROWS` rows (it had more) whose last kept row comes before the window's
    ``limit``-th may hold more of the window's sample: it is read from the log too. Every other row
    of such a day comes after its kept ones, so the rows of the days not re-read that were not kept
    come after the ``limit``-th and the sample is exact.
    """
    days, edges = split_interval(window.start, window.end, unit="day")
    kept_columns = used == _used_columns(info, {})  # the kept rows hold every feature and segment
    if not stored or days is None or seed != SEED or window.segment is not None or not kept_columns:
        return _log_sample(con, info, window, used, seed, limit), ()
    key = _sample_key(con, info.name, window.version)
    cover = summaries.coverage(con, SAMPLES.name, info.name, scope=window.version, key=key,
                               start=days[0].date() if days[0] else None, end=days[1].date() if days[1] else None)
    if not cover.summarised:
        return _log_sample(con, info, window, used, seed, limit), cover.unsummarised_before_today
    kept_days = sorted(cover.summarised)
    rows = con.execute("SELECT h, prediction_id, numbers, texts FROM multivariate_sample WHERE model_name = ? AND "
                       "version = ? AND list_contains(?, day) ORDER BY h, prediction_id LIMIT ?",
                       [info.name, window.version, kept_days, int(limit)]).fetchall()
    last_kept = con.execute("SELECT day, max({'h': h, 'id': prediction_id}) FROM multivariate_sample WHERE "
                            "model_name = ? AND version = ? AND list_contains(?, day) GROUP BY day HAVING count(*) >= ?",
                            [info.name, window.version, kept_days, DAY_SAMPLE_ROWS]).fetchall()
    ranges = [*edges, *_day_runs(cover.unsummarised)]
    for a, b in ranges:
        rows += _log_sample(con, info, window.between(a, b), used, seed, limit)
    rows = sorted(rows, key=lambda r: (r[0], r[1]))[:limit]
    cut = (rows[-1][0], rows[-1][1]) if len(rows) == limit else None
    short = tuple(day for day, last in last_kept if cut is None or (last["h"], last["id"]) < cut)
    if short:
        for a, b in _day_runs(short):
            rows += _log_sample(con, info, window.between(a, b), used, seed, limit)
        unique = {r[1]: r for r in rows}
        rows = sorted(unique.values(), key=lambda r: (r[0], r[1]))[:limit]
    return rows, cover.unsummarised_before_today


def multivariate_drift(db: DbLike, model: str, *, window: Window, baseline: Window | None = None,
                       sample_rows: int = SAMPLE_ROWS, seed: int = SEED, use_summaries: bool = True
                       ) -> MultivariateResult:
    """Multivariate drift of the model's inputs (features and segments) in ``window``.

    Against the version's reference data, or, given ``baseline``, against those rows of the log (the
    window's version and segment over another span). Parameters otherwise as
    :func:`analytics.drift.drift_summary`; ``sample_rows`` bounds each side's sample;
    ``use_summaries`` False reads every window sample from the log (the same rows; see the module
    docstring).
    """
    if sample_rows < 50:
        raise InvalidInputError("the multivariate drift needs samples of at least 50 rows")
    baseline = checked_baseline(window, baseline)

    def work(con: duckdb.DuckDBPyConnection):
        info = get_model(con, model)
        ver = window.version or champion_version(con, model)
        if ver is None:
            raise InvalidInputError(f"{model} has no champion version; choose a version")
        current = replace(window, version=ver)
        if baseline is not None:
            left_out = window_left_out(current)
        else:
            chosen = segment_baseline(con, info, current)
            left_out = chosen.left_out
        used = _used_columns(info, left_out)
        stored = use_summaries and summaries.has_segments(con, model)

        def sample(a, b):
            part = current.between(a, b)
            from analytics import business  # here: the file gate imports this module without pandas

            n = business.window_count(con, info, part)
            rows, unsummarised = _window_sample(con, info, part, used, seed, sample_rows, stored)
            return n, _frame(rows, used), unsummarised

        if baseline is not None:
            n_ref, ref, ref_unsummarised = sample(baseline.start, baseline.end)
        else:
            side, ref_unsummarised = chosen.reference, ()
            n_ref = con.execute(f"SELECT count(*) {side.source}", list(side.params)).fetchone()[0]
            ref = _frame(con.execute(
                f"SELECT {_values_sql(used)} FROM (SELECT *, row_number() OVER () AS _rn {side.source}) "
                f"ORDER BY hash(_rn + {int(seed)}), _rn LIMIT {int(sample_rows)}", list(side.params)).fetchall(), used)
        n_cur, cur, cur_unsummarised = sample(window.start, window.end)
        threshold = (float(settings.get(con, DOMAIN_AUC_LOWER.key, model=model)),
                     float(settings.get(con, DOMAIN_AUC_UPPER.key, model=model)))
        unsummarised = tuple(sorted(set(ref_unsummarised) | set(cur_unsummarised)))
        return ref, cur, n_ref, n_cur, threshold, used, left_out, unsummarised

    ref, cur, n_ref, n_cur, threshold, used, left_out, unsummarised = run(db, work)
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
        left_out=left_out, unsummarised_days=unsummarised)
