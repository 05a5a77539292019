"""The registered model of a version, loaded only when its artifact's sha256 matches the registry.

A version's ``artifact_path`` is absolute to where it was registered. When the store has moved
(a copied demo, a restored backup), the artifact is found at the same place relative to the
store: ``<store folder>/artifacts/models/<model>/<file name>``, which is tried first. Wherever it is found, its sha256
must equal ``artifact_sha256`` in the registry, or it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics import config, registry
from analytics.artifacts import ModelArtifact, check_sha256, load_artifact, model_frame
from analytics.errors import InvalidInputError, NotFoundError
from analytics.logschema import LogSchema
from analytics.memo import Memo
from analytics.registry import sha256_of_file
from analytics.store import DbLike, run

#: Reference rows (seeded sample) kept as background for model-agnostic explainers.
BACKGROUND_ROWS = 100

#: Loaded artifacts by the sha256 of their verified file.
_ARTIFACTS: Memo[ModelArtifact] = Memo(8)


@dataclass(frozen=True)
class VersionInfo:
    """What explaining a version needs from the registry (no model loaded yet)."""

    model: str
    version: str
    stem: str
    schema: LogSchema
    threshold: float
    artifact_path: str | None
    artifact_sha256: str | None


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A version's model artifact (any supported format), checked against the registry, with its
    schema and threshold.

    Scores follow the log's convention: ``score`` is the probability of the positive class and the
    decision is 1 when ``score >= threshold``. The raw output is the log-odds of that score.
    ``background`` holds reference rows for model-agnostic explainers (None for tree models).
    """

    info: VersionInfo
    artifact: ModelArtifact
    path: Path
    background: pd.DataFrame | None = None

    @property
    def features(self) -> list[str]:
        """The model's input columns, in the order the model expects."""
        return list(self.artifact.features)

    @property
    def size(self) -> dict[str, int]:
        """The model's size (trees and leaves for tree models), stated with every timing."""
        return self.artifact.size

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input frame for rows of the log (categoricals as pandas categories)."""
        return model_frame(frame, self.info.schema)[self.features]

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw model output (log-odds of the positive class) for each row."""
        return self.artifact.raw(self.inputs(frame))

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class for each row."""
        return self.artifact.score(self.inputs(frame))

    def contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, float]:
        """SHAP values (log-odds) of each row and input, and the base value (see the artifact's explainer)."""
        background = None if self.background is None else self.inputs(self.background)
        return self.artifact.contributions(self.inputs(frame), background)

    def decide(self, score: np.ndarray | float) -> np.ndarray:
        """The decision (1 = positive class) at the version's threshold."""
        return (np.asarray(score) >= self.info.threshold).astype(np.int8)


def version_info(db: DbLike, model: str, version: str) -> VersionInfo:
    """Return the registry facts of ``model`` ``version`` needed to explain it."""

    def work(con):
        info = registry.get_model(con, model)
        row = registry.get_version(con, model, version)
        return VersionInfo(model, version, info.stem, info.schema, float(row["threshold"]),
                           row.get("artifact_path") or None, row.get("artifact_sha256") or None)

    return run(db, work)


def store_path(db: DbLike) -> Path:
    """The store file's path (the configured store when ``db`` is None or a connection)."""
    if isinstance(db, (str, Path)):
        return Path(db)
    if isinstance(db, duckdb.DuckDBPyConnection):
        row = db.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
        if row and row[0]:
            return Path(row[0])
    return config.db_path()


def resolve_artifact(info: VersionInfo, db: DbLike) -> Path:
    """Where the version's artifact is: the same file beside the store, else the registered path.

    The store's own copy comes first, so a copied store (a restored backup, a test's private copy)
    uses its own artifacts; either way the file's sha256 is checked before it is loaded.

    Raises
    ------
    NotFoundError
        If the version has no registered artifact, or the file is in neither place.
    """
    if not info.artifact_path or not info.artifact_sha256:
        raise NotFoundError(f"{info.model}:{info.version} has no registered model artifact (with its sha256), "
                            "so it cannot be loaded here; log attributions from the serving system instead")
    registered = Path(info.artifact_path)
    beside = store_path(db).parent / "artifacts" / "models" / info.model / registered.name
    for candidate in (beside, registered):
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"the artifact of {info.model}:{info.version} is missing: looked at {registered} "
                        f"and {beside}")


@dataclass(frozen=True)
class VerifiedArtifact:
    """A version's artifact file whose sha256 is the registry's (nothing loaded yet).

    Attributes
    ----------
    path : Path
        Where the file was found (:func:`resolve_artifact`).
    sha256 : str
        Its sha256, computed when it was verified.
    """

    path: Path
    sha256: str


def verify_artifact(db: DbLike, info: VersionInfo) -> VerifiedArtifact:
    """The version's artifact file and its sha256, once the hash is the registry's (nothing is loaded).

    Parameters
    ----------
    db : path or connection
        The store (its folder is searched first, see :func:`resolve_artifact`).
    info : VersionInfo
        The version's registry facts.

    Returns
    -------
    VerifiedArtifact
        The file and its sha256.

    Raises
    ------
    NotFoundError
        No artifact registered, or the file is missing.
    InvalidInputError
        The file's sha256 differs from the registry's (the artifact was changed).
    """
    path = resolve_artifact(info, db)
    actual = sha256_of_file(path)
    if actual != info.artifact_sha256:
        check_sha256(path, info.artifact_sha256)  # raises with the standard message
    return VerifiedArtifact(path, actual)


def load_model(db: DbLike, model: str, version: str, *, info: VersionInfo | None = None) -> LoadedModel:
    """Load the registered artifact of a version after checking its sha256.

    The file's hash is computed on every call; a booster parsed before is reused only for the same
    hash, so a file changed after a first load is refused like any other.

    Raises
    ------
    NotFoundError
        As :func:`verify_artifact`; or the version's model needs reference rows (a model-agnostic
        explainer's background) and has none.
    InvalidInputError
        As :func:`verify_artifact`; or the artifact expects inputs the schema does not declare.
    """
    info = info or version_info(db, model, version)
    verified = verify_artifact(db, info)
    artifact = _ARTIFACTS.get(verified.sha256, lambda: load_artifact(verified.path, info.artifact_sha256, info.schema))
    missing = [f for f in artifact.features if f not in {c.name for c in info.schema.features}]
    if missing:
        raise InvalidInputError(f"the artifact of {model}:{version} expects inputs the schema does not declare: "
                                f"{', '.join(missing)}")
    background = None
    if artifact.needs_background:
        reference = run(db, lambda con: registry.reference_frame(con, model, version))
        if reference.empty:
            raise NotFoundError(f"{model}:{version} has no reference rows, which explaining this model needs")
        background = reference.sample(n=min(BACKGROUND_ROWS, len(reference)), random_state=0)
    return LoadedModel(info, artifact, verified.path, background)


def can_load(db: DbLike, info: VersionInfo) -> bool:
    """Whether the version has a registered artifact file (its hash is checked when it is loaded)."""
    try:
        resolve_artifact(info, db)
    except NotFoundError:
        return False
    return True


def default_version(db: DbLike, model: str, version: str | None = None) -> str:
    """The version to explain: ``version`` if given, else the champion, else the latest registered."""
    if version:
        return version

    def work(con):
        champion = registry.champion_version(con, model)
        if champion:
            return champion
        versions = registry.list_versions(con, model)
        if versions.empty:
            raise NotFoundError(f"model {model!r} has no registered version")
        return str(versions["version"].iloc[-1])

    return run(db, work)
