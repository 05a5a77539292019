"""A small store with a real LightGBM model for the explanation tests (and the page tests).

``credit-lite``: a synthetic credit model with the constraints of the real one (immutable and
increase-only inputs, an ordered education, a sensitive attribute that is not an input), trained
with LightGBM in a second, saved as a text model, registered with its sha256, with reference
data, 4,000 predictions of v1 over 40 days and labels for the first 30 days. Built once per
session (and xdist worker); tests copy it when they write.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from analytics import ingest, registry, store, users
from analytics.artifacts import model_frame, save_lightgbm
from analytics.explain import _attributions
from analytics.logschema import Column, LogSchema
from analytics.roles import ROLES, Actor
from lifecycle_support import put_in_status
from shared_build import store_built_once

SYSTEM = Actor("cli:explain-tests", "system")
MODEL = "credit-lite"
PASSWORD = "correct-horse-battery"
EDUCATION = ["unknown", "high school", "university", "graduate school"]
SCHEMA = LogSchema(
    columns=(
        Column("income", "double", description="monthly income"),
        Column("debt", "double", description="outstanding debt"),
        Column("late", "integer", description="months late"),
        Column("AGE", "integer", sensitive=True, mutability="increase_only"),
        Column("EDUCATION", "categorical", sensitive=True, mutability="increase_only"),
        Column("MARRIAGE", "categorical", sensitive=True, mutability="immutable"),
        Column("SEX", "categorical", role="attribute", sensitive=True, mutability="immutable"),
        Column("region", "categorical", role="segment"),
    ),
    positive_class="default", favourable_decision=0,
    notes={"education_order": EDUCATION, "decision": "1 = predicted default: declined"},
)


def applicants(n: int, seed: int) -> pd.DataFrame:
    """``n`` synthetic applicants with their true label ``default``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": np.round(rng.lognormal(8, 0.5, n), 2),
        "debt": np.round(rng.lognormal(7.5, 0.8, n), 2),
        "late": rng.choice([-1, 0, 1, 2, 3, 4], n, p=[0.3, 0.35, 0.15, 0.1, 0.06, 0.04]),
        "AGE": rng.integers(21, 70, n),
        "EDUCATION": rng.choice(EDUCATION, n, p=[0.05, 0.3, 0.45, 0.2]),
        "MARRIAGE": rng.choice(["married", "single", "others"], n, p=[0.45, 0.5, 0.05]),
        "SEX": rng.choice(["female", "male"], n),
        "region": rng.choice(["north", "south", "east"], n),
    })
    edu = frame["EDUCATION"].map({e: i for i, e in enumerate(EDUCATION)}).to_numpy()
    logit = (-1.0 + 0.9 * frame["late"] + 0.6 * np.log(frame["debt"] / frame["income"]) - 0.02 * (frame["AGE"] - 40)
             - 0.25 * edu + 0.3 * (frame["MARRIAGE"] == "single"))
    frame["default"] = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def build(path: Path) -> Path:
    """Build the store at ``path`` (artifact beside it); return the artifact path."""
    train, validation = applicants(4000, 1), applicants(1500, 2)
    booster = lgb.train({"objective": "binary", "verbose": -1, "seed": 3, "deterministic": True, "num_threads": 1,
                         "num_leaves": 15, "learning_rate": 0.1},
                        lgb.Dataset(model_frame(train, SCHEMA), label=train["default"]), num_boost_round=60)
    artifact = path.parent / "artifacts" / "models" / MODEL / "v1.txt"
    sha = save_lightgbm(booster, artifact)
    reference = validation[[c.name for c in SCHEMA.columns]].copy()
    reference["label"] = validation["default"].astype(np.int8)
    reference["score"] = booster.predict(model_frame(validation, SCHEMA))
    reference["decision"] = (reference["score"] >= 0.5).astype(np.int8)
    now = datetime.now(timezone.utc).replace(tzinfo=None, minute=0, second=0, microsecond=0)

    def register(con):
        registry.register_model(con, SYSTEM, MODEL, SCHEMA, owner="risk")
        registry.register_version(con, SYSTEM, MODEL, "v1", threshold=0.5, owner="risk",
                                  artifact_path=str(artifact), artifact_sha256=sha, at=now - timedelta(days=60))
        put_in_status(con, MODEL, "v1", "champion", at=now - timedelta(days=60))
        registry.register_version(con, SYSTEM, MODEL, "v2", threshold=0.5, owner="risk",
                                  parent_version="v1", at=now - timedelta(days=50))  # no artifact: logged only
        put_in_status(con, MODEL, "v2", "shadow", at=now - timedelta(days=50))
        registry.load_reference(con, SYSTEM, MODEL, "v1", reference)
        for role in ROLES:
            users.add_user(con, SYSTEM, role, role, password=PASSWORD)
        assert _attributions.present(con)  # created by the store's migration 8

    store.write(register, path)
    traffic = applicants(4000, 5)
    score = booster.predict(model_frame(traffic, SCHEMA))
    stamps = pd.Timestamp(now - timedelta(days=40)) + pd.to_timedelta(np.sort(
        np.random.default_rng(6).integers(0, 40 * 86_400, len(traffic))), unit="s")
    preds = traffic.drop(columns="default").assign(
        prediction_id=[f"cl{i:06d}" for i in range(len(traffic))], predicted_at=stamps, model_version="v1",
        deployment_role="champion", score=score, decision=(score >= 0.5).astype(int),
        latency_ms=12.5, cost=0.001)
    shadow = preds.iloc[:300].assign(prediction_id=[f"cs{i:06d}" for i in range(300)], model_version="v2",
                                     deployment_role="shadow", score=score[:300])
    shadow["decision"] = (shadow["score"] >= 0.5).astype(int)
    ingest.ingest(MODEL, pd.concat([preds, shadow], ignore_index=True), actor=SYSTEM, db=path)
    done = preds["predicted_at"] < pd.Timestamp(now - timedelta(days=10))
    ingest.ingest(MODEL, pd.DataFrame({"prediction_id": preds.loc[done, "prediction_id"],
                                       "observed_at": preds.loc[done, "predicted_at"] + pd.Timedelta(days=7),
                                       "label": traffic.loc[done, "default"], "business_value": 0.0}),
                  kind="outcomes", actor=SYSTEM, db=path)
    # The serving system of v2 logs its own attributions (v2's artifact is not available here).
    features = [c.name for c in SCHEMA.features]
    contrib = booster.predict(model_frame(shadow, SCHEMA), pred_contrib=True)
    logged = pd.DataFrame([{"prediction_id": pid, "feature": f, "contribution": float(contrib[i, j]),
                            "base_value": float(contrib[i, -1])}
                           for i, pid in enumerate(shadow["prediction_id"]) for j, f in enumerate(features)])
    store.write(lambda con: _attributions.record(con, SYSTEM, MODEL, logged), path)
    return artifact


def copy_store(template: Path, target_dir: Path) -> Path:
    """A private copy of the store with its artifacts and log segments, views re-pointed."""
    return store.copy_store(template, target_dir / "store")

@pytest.fixture(scope="session")
def lite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store of :func:`build`, built once per test run (``shared_build.store_built_once``); tests copy it."""
    return store_built_once(tmp_path_factory, "explain-store", build)


@pytest.fixture
def lite_db(lite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the credit-lite store; ``VIGIL_DB`` points at it, local sign-in forced."""
    path = copy_store(lite_template, tmp_path)
    monkeypatch.setenv("VIGIL_DB", str(path))
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIL_AUTH", "local")
    monkeypatch.setenv("VIGIL_LOCK_TIMEOUT", "60")
    return path
