"""A model registered the way a user registers one, with eight days of traffic, and real local receivers.

``churn-scorer`` (not a demo model): three declared columns, a champion with reference data, 240
predictions a day from 2025-03-01; ``tenure`` shifts on 03-04 and 03-05, latency is 300 ms on 03-06,
and traffic stops on 03-08 at 06:00. Receivers: an HTTP server recording every POST (webhook, Slack
and PagerDuty shapes) and an SMTP server (aiosmtpd) recording every message (``smtp_receiver``, in tests/conftest.py).
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import registry, store
from analytics.ingest import ingest
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from lifecycle_support import put_in_status

ADMIN = Actor("cli:tests", "system")
MODEL = "churn-scorer"
START = datetime(2025, 3, 1)
SCHEMA = LogSchema(columns=(Column("tenure", "double"), Column("plan", "categorical", role="segment"),
                            Column("region", "categorical", role="attribute", sensitive=True)),
                   positive_class="churn", favourable_decision=0)


def _rows(n: int, rng: np.random.Generator, tenure_mean: float) -> dict:
    return {"tenure": np.round(rng.normal(tenure_mean, 6.0, n), 2), "plan": rng.choice(["basic", "pro"], n),
            "region": rng.choice(["east", "west"], n)}


def traffic() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    frames = []
    for day in range(8):
        n = 240 if day < 7 else 60  # the last day stops at 06:00
        cols = _rows(n, rng, 40.0 if day in (3, 4) else 24.0)
        at = START + timedelta(days=day) + pd.to_timedelta(np.arange(n) * 6, unit="min")
        frames.append(pd.DataFrame({
            "prediction_id": [f"d{day}-{i}" for i in range(n)], "predicted_at": at, "model_version": "v1",
            "deployment_role": "champion", "score": np.round(rng.uniform(0, 1, n), 4),
            "decision": (rng.uniform(0, 1, n) > 0.5).astype("int64"),
            "latency_ms": np.round(rng.uniform(280, 320, n) if day == 5 else rng.uniform(10, 60, n), 2),
            "cost": np.full(n, 0.001), **cols}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def churn_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with ``churn-scorer`` registered, its reference, and its eight days of predictions, built once
    per test process (copy it per test: :func:`churn`)."""
    db = tmp_path_factory.mktemp("churn") / "vigil.duckdb"
    rng = np.random.default_rng(3)

    def register(con):
        registry.register_model(con, ADMIN, MODEL, SCHEMA, owner="retention team", description="churn")
        registry.register_version(con, ADMIN, MODEL, "v1", threshold=0.5, owner="retention team",
                                  validation_metrics={"roc_auc": 0.8}, at=datetime(2025, 1, 1))
        put_in_status(con, MODEL, "v1", "champion", at=datetime(2025, 1, 1))
        ref = pd.DataFrame(_rows(800, rng, 24.0))
        ref["label"] = rng.integers(0, 2, 800)
        ref["score"] = np.round(rng.uniform(0, 1, 800), 4)
        ref["decision"] = (ref["score"] > 0.5).astype("int64")
        registry.load_reference(con, ADMIN, MODEL, "v1", ref, at=datetime(2025, 1, 1))

    store.write(register, db)
    report = ingest(MODEL, traffic(), db=db, actor=ADMIN)
    assert report.status == "committed", report.summary()
    return db


@pytest.fixture
def churn(db: Path, churn_template: Path) -> Path:
    """A fresh store with ``churn-scorer`` registered, its reference, and its eight days of predictions: a
    private copy of :func:`churn_template` at ``db`` (the store, its log segments and audit anchor)."""
    shutil.copytree(churn_template.parent, db.parent, dirs_exist_ok=True)
    return db


@dataclass
class HttpReceiver:
    """A local HTTP server recording each POST: path, headers and JSON body. ``fail`` answers 500."""

    url: str
    posts: list[dict] = field(default_factory=list)
    fail: bool = False

    def bodies(self, path: str) -> list[dict]:
        return [p["body"] for p in self.posts if p["path"] == path]


@pytest.fixture
def http_receiver():
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            receiver = holder["r"]
            receiver.posts.append({"path": self.path, "headers": dict(self.headers), "raw": raw,
                                   "body": json.loads(raw)})
            self.send_response(500 if receiver.fail else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = HttpReceiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def churn_traffic():
    """The eight days of ``churn-scorer`` predictions as a frame (a fresh copy each call)."""
    return traffic
