"""Helpers of the governance tests: a small store with one model, reference data, traffic, outcomes, people.

Not a conftest (``tests/conftest.py`` is imported as ``conftest`` elsewhere); test modules import from here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import pandas as pd

from analytics import ingest, registry, store, users
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from shared_build import store_built_once

SYSTEM = Actor("cli:gov-tests", "system")
MODEL = "loan"
SCHEMA = LogSchema(columns=(Column("amount", "double"), Column("region", "categorical", role="segment"),
                            Column("gender", "categorical", role="attribute", sensitive=True)),
                   positive_class="default", favourable_decision=0)
START = datetime(2026, 1, 1)
PEOPLE = {"ana": "analyst", "ann": "analyst", "rob": "reviewer", "rae": "reviewer", "pat": "approver",
          "pia": "approver", "val": "viewer", "adm": "admin"}
PASSWORD = "correct-horse-battery"


def person(name: str) -> Actor:
    """The actor of a test person (their role from :data:`PEOPLE`)."""
    return Actor(name, PEOPLE[name])


def reference(n: int, seed: int, strength: float) -> pd.DataFrame:
    """Reference rows whose score separates the labels with ``strength`` (0: none, 1: strong)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    score = np.clip(0.5 + strength * (label - 0.5) + rng.normal(0, 0.25, n), 0, 1)
    return pd.DataFrame({"amount": rng.uniform(100, 5000, n), "region": rng.choice(["north", "south"], n),
                         "gender": rng.choice(["f", "m"], n), "label": label, "score": score,
                         "decision": (score >= 0.5).astype(int)})


def build(path: Path, *, versions: dict[str, float] | None = None, traffic: str | None = "v1",
          n: int = 2000) -> Path:
    """One model ``loan`` with draft versions (name -> reference strength), the people, and, if
    ``traffic`` names a version, ``n`` predictions of it over 40 days with outcomes for the first 30."""
    versions = versions or {"v1": 0.6, "v2": 0.6, "v3": 0.0}

    def work(con):
        registry.register_model(con, SYSTEM, MODEL, SCHEMA, owner="risk", description="test model",
                                at=START - timedelta(days=100))
        parent = None
        for i, (version, strength) in enumerate(versions.items()):
            registry.register_version(con, SYSTEM, MODEL, version, threshold=0.5, owner="ana", parent_version=parent,
                                      validation_metrics={"roc_auc": 0.8}, at=START - timedelta(days=90 - i))
            registry.load_reference(con, SYSTEM, MODEL, version, reference(1500, 10 + i, strength))
            parent = version
        for name, role in PEOPLE.items():
            users.add_user(con, SYSTEM, name, role, password=PASSWORD)

    store.write(work, path)
    if traffic:
        rng = np.random.default_rng(3)
        ref = reference(n, 99, 0.6)
        preds = pd.DataFrame({
            "prediction_id": [f"p{i:05d}" for i in range(n)],
            "predicted_at": pd.Timestamp(START) + pd.to_timedelta(np.sort(rng.integers(0, 40 * 86400, n)), unit="s"),
            "model_version": traffic, "deployment_role": "champion", "score": ref["score"].round(4),
            "decision": ref["decision"], "latency_ms": 10.0, "cost": 0.001, "amount": ref["amount"],
            "region": ref["region"], "gender": ref["gender"]})
        ingest.ingest(MODEL, preds, actor=SYSTEM, db=path)
        done = preds["predicted_at"] < pd.Timestamp(START + timedelta(days=30))
        ingest.ingest(MODEL, pd.DataFrame({
            "prediction_id": preds.loc[done, "prediction_id"], "observed_at": preds.loc[done, "predicted_at"]
            + pd.Timedelta(days=5), "label": ref.loc[done, "label"].astype("int64"), "business_value": 0.0}),
            kind="outcomes", actor=SYSTEM, db=path)
    return path


def private_copy(template: Path, target_dir: Path) -> Path:
    """Copy a store with its Parquet log segments and re-point its views."""
    return store.copy_store(template, target_dir / "store")

@pytest.fixture(scope="session")
def loan_template(tmp_path_factory) -> Path:
    """The store of :func:`build` with traffic of v1, built once per test run (``shared_build.store_built_once``;
    copy it per test)."""
    return store_built_once(tmp_path_factory, "loan", build, "loan.duckdb")
