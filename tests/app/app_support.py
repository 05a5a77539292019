"""Helpers and fixtures of the AppTest tests: a synthetic store, signed-in AppTest instances.

The store holds two models and one user per role; it is built once per test session (and per
xdist worker) with analytics.registry and analytics.ingest, and each test gets its own copy, so a
test that adds users or signs in never affects another. Predictions run up to the current hour,
so every preset window has data.

This is deliberately not a ``conftest.py``: ``tests/conftest.py`` is imported as the module
``conftest`` by other test files, and a second conftest module would shadow it. Test modules
import the fixtures from here by name.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import ingest, registry, store, users
from analytics.logschema import Column, LogSchema
from analytics.roles import ROLES, Actor
from lifecycle_support import put_in_status
from shared_build import store_built_once

SYSTEM = Actor("cli:app-tests", "system")
REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "app" / "main.py"
PASSWORD = "correct-horse-battery"  # every test user's password (>= 12 characters)
TIMEOUT = 60

SCHEMA = LogSchema(
    columns=(
        Column("amount", "double"),
        Column("region", "categorical", role="segment"),
        Column("gender", "categorical", role="attribute", sensitive=True),
    ),
    positive_class="default", favourable_decision=0,
)


def build_store(path: Path) -> None:
    """Two models (loan-risk with outcomes, churn without), one user per role named after the role."""
    rng = np.random.default_rng(7)
    now = datetime.now(timezone.utc).replace(tzinfo=None, minute=0, second=0, microsecond=0) - timedelta(hours=1)

    def register(con):
        registry.register_model(con, SYSTEM, "loan-risk", SCHEMA, owner="risk", description="synthetic")
        registry.register_version(con, SYSTEM, "loan-risk", "v1", threshold=0.5, owner="risk",
                                  validation_metrics={"roc_auc": 0.8}, at=now - timedelta(days=200))
        put_in_status(con, "loan-risk", "v1", "retired", at=now - timedelta(days=200))
        registry.register_version(con, SYSTEM, "loan-risk", "v2", threshold=0.5, owner="risk",
                                  parent_version="v1", validation_metrics={"roc_auc": 0.78},
                                  at=now - timedelta(days=100))
        put_in_status(con, "loan-risk", "v2", "champion", at=now - timedelta(days=100))
        registry.register_model(con, SYSTEM, "churn", SCHEMA, owner="growth", description="synthetic, no outcomes")
        registry.register_version(con, SYSTEM, "churn", "c1", threshold=0.5, owner="growth",
                                  at=now - timedelta(days=50))
        put_in_status(con, "churn", "c1", "in_review", at=now - timedelta(days=50))
        for role in ROLES:
            users.add_user(con, SYSTEM, role, role, password=PASSWORD, email=f"{role}@example.com")

    store.write(register, path)
    for model, prefix, versions, n in (("loan-risk", "l", ["v1", "v2"], 3000), ("churn", "c", ["c1"], 800)):
        seconds = np.sort(rng.integers(0, 60 * 86_400, n))
        preds = pd.DataFrame({
            "prediction_id": [f"{prefix}{i:05d}" for i in range(n)],
            "predicted_at": pd.Timestamp(now - timedelta(days=60)) + pd.to_timedelta(seconds, unit="s"),
            "model_version": rng.choice(versions, n),
            "deployment_role": "champion",
            "score": np.round(rng.uniform(0, 1, n), 3),
            "decision": rng.integers(0, 2, n),
            "latency_ms": np.round(rng.uniform(5, 50, n), 1),
            "cost": 0.001,
            "amount": np.round(rng.uniform(100, 5000, n), 2),
            "region": rng.choice(["north", "south"], n),
            "gender": rng.choice(["f", "m"], n),
        })
        ingest.ingest(model, preds, actor=SYSTEM, db=path)
        if model == "loan-risk":
            done = preds[preds["predicted_at"] < pd.Timestamp(now - timedelta(days=10))]
            ingest.ingest(model, pd.DataFrame({
                "prediction_id": done["prediction_id"].to_numpy(),
                "observed_at": done["predicted_at"] + pd.Timedelta(days=7),
                "label": (rng.uniform(0, 1, len(done)) < done["score"].to_numpy()).astype("int64"),
                "business_value": 1.0,
            }), kind="outcomes", actor=SYSTEM, db=path)


def new_app() -> AppTest:
    """An AppTest of the entry script."""
    return AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)


def signed_in(role: str, **query: str) -> AppTest:
    """An AppTest signed in through the sign-in form as the test user of ``role``, after its first run."""
    at = new_app()
    at.query_params.update(query)
    at.run()
    at.text_input(key="vigil_sign_in_username").input(role)
    at.text_input(key="vigil_sign_in_password").input(PASSWORD)
    at.button(key="vigil_sign_in_submit").click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="session")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store of :func:`build_store`, built once per test run (``shared_build.store_built_once``); tests copy it."""
    return store_built_once(tmp_path_factory, "app-store", build_store)


def _private_copy(template: Path, target_dir: Path) -> Path:
    """Copy the store with everything beside it (its Parquet log segments) and re-point its views."""
    return store.copy_store(template, target_dir / "store")

@pytest.fixture
def vigil_db(template_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the synthetic store; ``VIGIL_DB`` points at it, local sign-in is forced."""
    path = _private_copy(template_store, tmp_path)
    monkeypatch.setenv("VIGIL_DB", str(path))
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIL_AUTH", "local")
    return path


@pytest.fixture
def empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with one admin and no model."""
    path = tmp_path / "empty.duckdb"
    store.write(lambda con: users.add_user(con, SYSTEM, "admin", "admin", password=PASSWORD), path)
    monkeypatch.setenv("VIGIL_DB", str(path))
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIL_AUTH", "local")
    return path


def register_card_limits(path: Path) -> None:
    """Register ``card-limits`` as a user would: column titles, decision and outcome words, one champion
    ``v1`` with 400 predictions 20 days ago (ids ``cl0000``...) and their outcomes, and a KPI definition
    whose approval-rate target (99%) it misses."""
    from analytics import business

    schema = LogSchema(columns=(Column("LIMIT_BAL", "double", title="credit limit"),
                                Column("SEX", "categorical", role="attribute", sensitive=True, title="sex")),
                       positive_class="default", favourable_decision=0,
                       decision_labels={0: "approved", 1: "declined"},
                       outcome_labels={0: "repaid", 1: "defaulted"})
    now = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)

    def register(con):
        registry.register_model(con, SYSTEM, "card-limits", schema, owner="risk")
        registry.register_version(con, SYSTEM, "card-limits", "v1", threshold=0.5, owner="risk",
                                  at=now - timedelta(days=60))
        put_in_status(con, "card-limits", "v1", "champion", at=now - timedelta(days=60))
        business.save_definition(con, Actor("admin", "admin"), business.KpiDefinition(
            model="card-limits", currency="NT$", selected_decision=0, selected_label="approved", bad_label=1,
            bad_name="default", amount_column="LIMIT_BAL", value_selected_good=0.05, value_selected_bad=-0.25,
            value_rejected_good=-0.05, fairness_attribute="SEX", targets={"selection_rate": 0.99}))

    store.write(register, path)
    rng = np.random.default_rng(5)
    n = 400
    score = rng.uniform(0, 1, n).round(3)
    preds = pd.DataFrame({
        "prediction_id": [f"cl{i:04d}" for i in range(n)],
        "predicted_at": [now - timedelta(days=20, minutes=i) for i in range(n)], "model_version": "v1",
        "deployment_role": "champion", "score": score, "decision": (score >= 0.5).astype(int), "latency_ms": 9.0,
        "cost": 0.001, "LIMIT_BAL": rng.choice([20_000.0, 50_000.0], n), "SEX": rng.choice(["1", "2"], n)})
    assert ingest.ingest("card-limits", preds, actor=SYSTEM, db=path).ok
    assert ingest.ingest("card-limits", pd.DataFrame({
        "prediction_id": preds["prediction_id"], "observed_at": preds["predicted_at"] + pd.Timedelta(days=5),
        "label": (rng.uniform(0, 1, n) < score).astype(int), "business_value": 0.0}),
        kind="outcomes", actor=SYSTEM, db=path).ok
