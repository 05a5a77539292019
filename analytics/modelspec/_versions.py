"""``vigil models add-version``: a version from its reference data and, optionally, its model artifact.

Everything is checked before anything is written: the reference file like an ingest (columns,
types, ranges), its decisions against the threshold, and the artifact (format, trusted types, inputs,
and that it re-scores the reference rows to their logged ``score``). Then, in one transaction, the
version (with validation metrics computed from the reference, never typed in), its reference rows,
and, with ``serving_since``, the onboarding declaration, each with its audit row.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics import config, registry, store
from analytics.artifacts import artifact_format, load_artifact, model_frame
from analytics.input_files import check_csv_header
from analytics.errors import InvalidInputError
from analytics.governance import onboard
from analytics.performance import evaluate_scores
from analytics.registry import sha256_of_file
from analytics.roles import Actor

#: Largest |artifact score - reference score| accepted, per format. ONNX models compute in float32.
TOLERANCE: dict[str, float] = {"lightgbm": 1e-6, "xgboost": 1e-6, "skops": 1e-6, "onnx": 1e-4}


@dataclass(frozen=True)
class VersionAdded:
    """What ``add-version`` registered.

    Attributes
    ----------
    model, version : str
    status : str
        ``draft``, or ``champion`` after an onboarding declaration.
    reference_rows : int
    validation_metrics : dict
        Computed from the reference with scikit-learn.
    artifact_format : str or None
    artifact_sha256 : str or None
    max_score_difference : float or None
        Largest |artifact score - reference score| over the reference rows.
    """

    model: str
    version: str
    status: str
    reference_rows: int
    validation_metrics: dict = field(hash=False)
    artifact_format: str | None = None
    artifact_sha256: str | None = None
    max_score_difference: float | None = None

    def summary(self) -> str:
        """What was registered, for the command line."""
        m = self.validation_metrics
        lines = [f"registered {self.model}:{self.version} ({self.status}) with {self.reference_rows:,} reference rows",
                 f"  validation (computed from the reference): ROC AUC {m['roc_auc']:.4f}, accuracy "
                 f"{m['accuracy']:.4f}, Brier {m['brier']:.4f}"]
        if self.artifact_sha256:
            lines.append(f"  artifact: {self.artifact_format}, sha256 {self.artifact_sha256[:12]}…, re-scores the "
                         f"reference to within {self.max_score_difference:.2g}")
        else:
            lines.append("  no artifact: explanations use attributions logged by the serving system, if any")
        if self.status == "champion":
            lines.append("  declared champion from its serving date (onboarding declaration, not an approval)")
        return "\n".join(lines)


def read_table_file(path: str | Path) -> pd.DataFrame:
    """Read a Parquet or CSV file with DuckDB (CSV types sniffed; empty cells are missing).

    Raises
    ------
    InvalidInputError
        If the file is missing, has another ending, or cannot be read.
    """
    target = Path(path)
    if not target.is_file():
        raise InvalidInputError(f"{target} does not exist")
    suffix = target.suffix.lower()
    reader = {".parquet": "read_parquet(?)", ".csv": "read_csv(?, header = true)"}.get(suffix)
    if reader is None:
        raise InvalidInputError(f"{target.name}: use a .parquet or .csv file")
    if suffix == ".csv":
        check_csv_header(target)
    try:
        with config.cap_threads(duckdb.connect()) as con:
            return con.execute(f"SELECT * FROM {reader}", [str(target)]).df()
    except duckdb.Error as exc:
        raise InvalidInputError(f"{target.name} cannot be read: {str(exc).splitlines()[0][:300]}") from None


def _check_decisions(reference: pd.DataFrame, threshold: float, given: bool) -> None:
    score = pd.to_numeric(reference["score"], errors="coerce").to_numpy(dtype=float)
    decision = pd.to_numeric(reference["decision"], errors="coerce").to_numpy(dtype=float)
    wrong = int(np.sum(((score >= threshold).astype(float) != decision) & ~np.isnan(score) & ~np.isnan(decision)))
    if wrong:
        hint = "" if given else " (the default threshold; give the version's own with --threshold)"
        raise InvalidInputError(f"the reference's decision is not score >= {threshold}{hint} in {wrong:,} of "
                                f"{len(reference):,} rows")


def rescore(artifact, reference: pd.DataFrame, schema) -> float:
    """The largest |artifact score - reference score| over the reference rows."""
    inputs = model_frame(reference, schema)[artifact.features]
    scores = artifact.score(inputs)
    return float(np.max(np.abs(scores - reference["score"].to_numpy(dtype=float))))


def _store_dir(db: Path) -> Path:
    return Path(db).resolve().parent / "artifacts" / "models"


def add_version(db: str | Path, actor: Actor, model: str, version: str, *, reference: str | Path,
                artifact: str | Path | None = None, threshold: float | None = None,
                serving_since: date | None = None, description: str = "",
                parent_version: str | None = None) -> VersionAdded:
    """Register a version of a registered model from its reference file and optional artifact.

    Parameters
    ----------
    db : str or Path
        The store.
    actor : Actor
        Who registers (needs ``register_model``).
    model, version : str
    reference : str or Path
        Parquet or CSV: the declared columns plus ``label``, ``score`` and ``decision``.
    artifact : str or Path, optional
        The model (see :data:`analytics.artifacts.FORMATS`); copied beside the store, sha256 pinned.
    threshold : float, optional
        The decision threshold (default 0.5); the reference's decisions must be ``score >= threshold``.
    serving_since : date, optional
        The version already serves: declare it champion from this day (UTC), an onboarding
        declaration. Without it the version starts as a draft.

    Raises
    ------
    InvalidInputError
        With what is wrong: the reference (columns, types, ranges, decisions), the artifact
        (format, untrusted types, inputs, scores that do not reproduce the reference's, by how much).
    """
    db = Path(db)
    given = threshold is not None
    threshold = 0.5 if threshold is None else float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInputError(f"threshold {threshold} must lie between 0 and 1")
    info = store.read(lambda con: registry.get_model(con, model), db)
    frame = read_table_file(reference)
    expected = info.schema.reference_columns()
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"{Path(reference).name} lacks columns the spec of {model} declares (or a reference "
                                f"carries): {', '.join(missing)}")
    _check_decisions(frame, threshold, given)
    kind = sha = None
    difference = None
    target = None
    if artifact is not None:
        source = Path(artifact)
        if not source.is_file():
            raise InvalidInputError(f"artifact {source} does not exist")
        kind = artifact_format(source)
        sha = sha256_of_file(source)
        loaded = load_artifact(source, sha, info.schema)
        try:
            difference = rescore(loaded, frame, info.schema)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"the reference rows cannot be scored by {source.name}: {str(exc)[:300]}") from None
        tolerance = TOLERANCE[kind]
        if not difference <= tolerance:
            raise InvalidInputError(
                f"the artifact {source.name} does not reproduce the reference's scores: they differ by up to "
                f"{difference:.3g} (tolerance {tolerance:g} for {kind}); register the model that produced the "
                "log and its reference scores")
        target = _store_dir(db) / model / f"{version}{source.suffix.lower()}"
        if target.exists() and sha256_of_file(target) != sha:
            raise InvalidInputError(f"{target} exists with other content; is {model}:{version} registered already?")
    metrics = evaluate_scores(pd.to_numeric(frame["label"]).to_numpy(), pd.to_numeric(frame["score"]).to_numpy(),
                              pd.to_numeric(frame["decision"]).to_numpy())
    since = datetime.combine(serving_since, time()) if serving_since else None

    def work(con):
        registry.register_version(con, actor, model, version, threshold=threshold, owner=info.owner,
                                  validation_metrics=metrics, artifact_path=str(target) if target else None,
                                  artifact_sha256=sha, description=description, parent_version=parent_version)
        rows = registry.load_reference(con, actor, model, version, frame[list(expected)])
        if since is not None:
            onboard(con, actor, model, version, since)
        return rows

    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        copied = not target.exists()
        if copied:
            shutil.copyfile(artifact, target)
    try:
        rows = store.write(work, db)
    except BaseException:
        if target is not None and copied:
            target.unlink(missing_ok=True)
        raise
    return VersionAdded(model, version, "champion" if since else "draft", rows, metrics, kind, sha, difference)
