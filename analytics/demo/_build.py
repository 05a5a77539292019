"""``vigil demo``: build the demo portfolio into a fresh store, deterministically for a seed.

The store is built in a temporary file beside the target and moved into place only when complete,
so an interrupted build never leaves a half-built database behind.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import (business, config, deployments, drift, explain, fairness, governance, performance, registry,
                       settings, settings_catalog, store, summaries, users)
from analytics.artifacts import model_frame
from analytics.demo import _alerts as demo_alerts
from analytics.demo import _credit as credit
from analytics.demo import _employment as employment
from analytics.demo._business import seed_business
from analytics.demo._cards import write_cards
from analytics.demo._datasets import credit_card_clients, employment_massachusetts
from analytics.demo._training import TrainedModel, train
from analytics.errors import InvalidInputError
from analytics.governance import transition
from analytics.ingest import ingest
from analytics.roles import Actor

Progress = Callable[[str, float], None]
PIPELINE = Actor("svc:training-pipeline", "system")
SERVING = Actor("svc:serving-gateway", "system")

#: The demo's people, one per role.
DEMO_USERS = (
    ("vera.viewer", "viewer", "Vera Lindqvist (business owner)"),
    ("arthur.analyst", "analyst", "Arthur Mensah (model analyst)"),
    ("rita.reviewer", "reviewer", "Rita Okafor (model validation)"),
    ("paul.approver", "approver", "Paul Nakamura (model risk committee)"),
    ("ada.admin", "admin", "Ada Brennan (platform admin)"),
)


@dataclass(frozen=True)
class DemoSummary:
    """What the demo build produced (its row counts are filled in per model as the build runs)."""

    db: Path
    end: datetime
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    credentials_file: Path | None = None
    seconds: float = 0.0


def credentials_path(db: Path) -> Path:
    """Where the demo users' passwords are written (beside the store, git-ignored)."""
    return db.parent / "demo-credentials.txt"


def default_end() -> datetime:
    """Midnight UTC of today: the end of the demo's production window."""
    now = datetime.now(timezone.utc)
    return datetime(now.year, now.month, now.day)


def _artifact_dir(db: Path) -> Path:
    return db.parent / "artifacts"


def _people(con, at: datetime) -> dict[str, str]:
    passwords = {}
    admin = Actor("svc:provisioning", "system")
    for username, role, name in DEMO_USERS:
        passwords[username] = users.add_user(con, admin, username, role, display_name=name,
                                             email=f"{username}@vigil.example", at=at)
    return passwords


def _actor(username: str) -> Actor:
    return Actor(username, dict((u, r) for u, r, _ in DEMO_USERS)[username])


# The lifecycle steps of the demo's governance history: (status, actor, capability, details).
_APPROVED_PATH = [
    ("submitted", "arthur.analyst", "submit_for_review",
     {"justification": "quarterly retraining; validation metrics at or above the current version"}),
    ("in_review", "rita.reviewer", "review",
     {"findings": "performance, stability and fairness checks reviewed; documentation complete"}),
    ("approved", "paul.approver", "approve", {"comment": "approved for production"}),
]


def _history(con, model: str, version: str, start: datetime, steps: list[tuple], days_apart: float = 2.0) -> None:
    for i, (status, username, capability, details) in enumerate(steps):
        transition(con, _actor(username), model, version, status, capability=capability,
                                    details=details, at=start + timedelta(days=days_apart * (i + 1)))


def _replay_pending(db: Path, model: str, version: str, start: datetime, steps: list[tuple],
                    days_apart: float = 2.0) -> None:
    """Replay the steps of a version still under review through the real submission: its evidence pack
    is assembled as the log stood on the day of submission (``as_of``) and stored, frozen with its sha256,
    like any version a user submits; a review step is :func:`analytics.governance.start_review`."""
    for i, (status, username, _capability, details) in enumerate(steps):
        when = start + timedelta(days=days_apart * (i + 1))
        actor = _actor(username)
        if status == "submitted":
            pack = store.read(lambda con: governance.assemble(con, model, version, as_of=when), db)
            store.write(lambda con: governance.submit(con, actor, model, version, details["justification"],
                                                      evidence=pack, at=when), db)
        elif status == "in_review":
            store.write(lambda con: governance.start_review(con, actor, model, version, at=when), db)
        else:
            raise InvalidInputError(f"the demo replays only pending steps, not {status!r}")


def _register(con, model: str, version: str, trained: TrainedModel, threshold: float, at: datetime,
              parent: str | None, description: str) -> None:
    registry.register_version(
        con, PIPELINE, model, version, threshold=threshold, owner="arthur.analyst",
        parent_version=parent, training_fingerprint=trained.training_fingerprint,
        hyperparameters=trained.hyperparameters, validation_metrics=trained.validation_metrics,
        artifact_path=str(trained.artifact_path), artifact_sha256=trained.artifact_sha256,
        description=description, at=at)
    registry.load_reference(con, PIPELINE, model, version, trained.reference, at=at)


def _credit_models(split: credit.CreditSplit, artifacts: Path, seed: int) -> dict[str, TrainedModel]:
    newer = pd.concat([split.train, split.pool.iloc[:3_000]], ignore_index=True)
    specs = {
        "v0": (split.train, {"num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 100}, 40),
        "v1": (split.train, {"num_leaves": 15, "learning_rate": 0.05, "min_data_in_leaf": 50,
                             "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1}, 250),
        "v2": (newer, {"num_leaves": 20, "learning_rate": 0.05, "min_data_in_leaf": 40,
                       "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1}, 300),
        "v3": (split.train, {"num_leaves": 127, "learning_rate": 0.1, "min_data_in_leaf": 5}, 400),
        "v4": (newer, {"num_leaves": 15, "learning_rate": 0.03, "min_data_in_leaf": 60,
                       "feature_fraction": 0.7, "bagging_fraction": 0.8, "bagging_freq": 1}, 450),
    }
    return {version: train(frame, split.validation, "default", credit.SCHEMA, params=params, rounds=rounds,
                           threshold=credit.THRESHOLD, artifact_path=artifacts / credit.MODEL / f"{version}.txt",
                           seed=seed)
            for version, (frame, params, rounds) in specs.items()}


def _build_credit(db: Path, seed: int, end: datetime, rows: int, progress: Progress, summary: DemoSummary) -> None:
    start = credit.window_start(end)
    progress("credit-default: training five LightGBM versions", 0.12)
    split = credit.split(credit_card_clients(), seed)
    models = _credit_models(split, _artifact_dir(db) / "models", seed)

    def governance(con) -> None:
        registry.register_model(con, PIPELINE, credit.MODEL, credit.SCHEMA, owner="vera.viewer",
                                description="Probability that a credit-card client defaults next month; "
                                            "applications at or above the threshold are declined.",
                                at=start - timedelta(days=420))
        write_cards(con, PIPELINE, at=start - timedelta(days=420), models=(credit.MODEL,))
        _register(con, credit.MODEL, "v0", models["v0"], credit.THRESHOLD, start - timedelta(days=400), None,
                  "first production model: a small tree ensemble")
        _history(con, credit.MODEL, "v0", start - timedelta(days=400), _APPROVED_PATH)
        transition(con, _actor("paul.approver"), credit.MODEL, "v0", "champion", capability="deploy",
                                    details={"traffic_share": 1.0}, at=start - timedelta(days=390))
        _register(con, credit.MODEL, "v1", models["v1"], credit.THRESHOLD, start - timedelta(days=30), "v0",
                  "retrained with more trees and bagging")
        _history(con, credit.MODEL, "v1", start - timedelta(days=30), _APPROVED_PATH, days_apart=7)
        transition(con, _actor("paul.approver"), credit.MODEL, "v0", "retired", capability="deploy",
                                    details={"replaced_by": "v1"}, at=start)
        transition(con, _actor("paul.approver"), credit.MODEL, "v1", "champion", capability="deploy",
                                    details={"traffic_share": 1.0, "previous_champion": "v0"}, at=start)
        _register(con, credit.MODEL, "v3", models["v3"], credit.THRESHOLD, start + timedelta(days=95), "v1",
                  "deep trees, tuned for ROC AUC")
        _history(con, credit.MODEL, "v3", start + timedelta(days=95), _APPROVED_PATH[:2])
        transition(
            con, _actor("paul.approver"), credit.MODEL, "v3", "rejected", capability="approve",
            details={"comment": "overfits: validation ROC AUC below the champion's and unstable across "
                                "segments; not approved"}, at=start + timedelta(days=102))
        _register(con, credit.MODEL, "v2", models["v2"], credit.THRESHOLD, start + timedelta(days=110), "v1",
                  "retrained on the lab data plus 3,000 newer clients")
        _history(con, credit.MODEL, "v2", start + timedelta(days=110), _APPROVED_PATH, days_apart=3)
        transition(con, _actor("paul.approver"), credit.MODEL, "v2", "shadow", capability="deploy",
                                    details={"traffic_share": 1.0, "mode": "mirrors champion traffic"},
                                    at=start + timedelta(days=credit.SHADOW_FROM_DAY))
        _register(con, credit.MODEL, "v4", models["v4"], credit.THRESHOLD, start + timedelta(days=170), "v2",
                  "slower learning rate, more trees")
        # v4's submission is replayed once its traffic is logged (_replay_pending), with a stored pack.

    store.write(governance, db)
    counts = credit.traffic_plan(rows, start)
    variants = None
    if rows > credit.VARIANTS_ABOVE_ROWS:
        progress("credit-default: scoring each client's jittered versions once per model", 0.18)
        variants = credit.jitter_variants(split.pool, seed)
    score = _Scores(models, variants)
    rng = np.random.default_rng(seed + 3)
    next_id = 1
    summary.rows[credit.MODEL] = summary.outcomes[credit.MODEL] = 0
    for chunk in credit.simulate(split.pool, counts, start, seed, variants=variants):
        day = int(chunk["day"].iloc[-1])
        progress(f"credit-default: logging traffic up to day {day + 1} of {credit.DAYS}",
                 0.2 + 0.5 * (day + 1) / credit.DAYS)
        label = chunk["default"].to_numpy()
        champion = credit.log_rows(chunk, score("v1", chunk), "v1", "champion", credit.THRESHOLD, rng, "cd-", next_id)
        logs, outcomes = [champion], [credit.outcome_rows(champion, label, end, rng, with_value=True)]
        shadow_rows = chunk["day"].to_numpy() >= credit.SHADOW_FROM_DAY
        if shadow_rows.any():
            mirrored = chunk[shadow_rows]
            shadow = credit.log_rows(mirrored, score("v2", mirrored), "v2", "shadow", credit.THRESHOLD, rng, "cd-s",
                                     next_id)
            logs.append(shadow)
            outcomes.append(credit.outcome_rows(shadow, label[shadow_rows], end, rng, with_value=False))
        next_id += len(chunk)
        summary.rows[credit.MODEL] += _ingest(db, credit.MODEL, pd.concat(logs, ignore_index=True), "predictions")
        summary.outcomes[credit.MODEL] += _ingest(db, credit.MODEL, pd.concat(outcomes, ignore_index=True), "outcomes")
    progress("credit-default: submitting v4 for review with its evidence pack", 0.71)
    _replay_pending(db, credit.MODEL, "v4", start + timedelta(days=170), _APPROVED_PATH[:1])


class _Scores:
    """A credit-default version's scores of simulated applicants: predicted row by row, or, with jitter
    variants (:func:`analytics.demo._credit.jitter_variants`), predicted once per variant and looked up."""

    def __init__(self, models: dict[str, TrainedModel], variants: pd.DataFrame | None) -> None:
        self.models = models
        self.variants = variants
        self.by_variant: dict[str, np.ndarray] = {}

    def __call__(self, version: str, applicants: pd.DataFrame) -> np.ndarray:
        booster = self.models[version].booster
        if self.variants is None:
            return booster.predict(_inputs(applicants, credit.SCHEMA))
        if version not in self.by_variant:
            self.by_variant[version] = booster.predict(_inputs(self.variants, credit.SCHEMA))
        return self.by_variant[version][applicants["variant"].to_numpy()]


def _inputs(frame: pd.DataFrame, schema) -> pd.DataFrame:
    return model_frame(frame, schema)


def _ingest(db: Path, model: str, frame: pd.DataFrame, kind: str) -> int:
    if frame.empty:
        return 0
    report = ingest(model, frame, kind=kind, actor=SERVING, db=db)
    if not report.ok:
        raise InvalidInputError(f"the demo's own {kind} for {model} failed validation:\n{report.summary()}")
    return report.rows_loaded


def _build_employment(db: Path, seed: int, end: datetime, progress: Progress, summary: DemoSummary) -> None:
    start = end - timedelta(days=employment.DAYS_PER_YEAR * len(employment.PRODUCTION_YEARS))
    progress("employment: training on the 2015 survey", 0.72)
    training, validation, production = employment.split(employment_massachusetts(), seed)
    artifacts = _artifact_dir(db) / "models" / employment.MODEL
    params = {"num_leaves": 31, "learning_rate": 0.08, "min_data_in_leaf": 50}
    v1 = train(training, validation, "employed", employment.SCHEMA, params=params, rounds=200,
               threshold=employment.THRESHOLD, artifact_path=artifacts / "v1.txt", seed=seed)
    newer = pd.concat([training, production[production["year"] == 2016]], ignore_index=True)
    v2 = train(newer, validation, "employed", employment.SCHEMA, params=params, rounds=250,
               threshold=employment.THRESHOLD, artifact_path=artifacts / "v2.txt", seed=seed)
    newest = pd.concat([newer, production[production["year"] == 2017]], ignore_index=True)
    v3 = train(newest, validation, "employed", employment.SCHEMA, params=params, rounds=250,
               threshold=employment.THRESHOLD, artifact_path=artifacts / "v3.txt", seed=seed)
    canary_from = start + timedelta(days=employment.CANARY_FROM_DAY)

    def governance(con) -> None:
        registry.register_model(con, PIPELINE, employment.MODEL, employment.SCHEMA, owner="vera.viewer",
                                description="Probability that a Massachusetts resident aged 16+ is employed "
                                            "(ACS public-use microdata).",
                                at=start - timedelta(days=60))
        write_cards(con, PIPELINE, at=start - timedelta(days=60), models=(employment.MODEL,))
        _register(con, employment.MODEL, "v1", v1, employment.THRESHOLD, start - timedelta(days=40), None,
                  "trained on the 2015 survey")
        _history(con, employment.MODEL, "v1", start - timedelta(days=40), _APPROVED_PATH, days_apart=5)
        transition(con, _actor("paul.approver"), employment.MODEL, "v1", "champion",
                                    capability="deploy", details={"traffic_share": 1.0}, at=start)
        _register(con, employment.MODEL, "v2", v2, employment.THRESHOLD, start + timedelta(days=150), "v1",
                  "retrained on the 2015 and 2016 surveys")
        # v2's submission and review are replayed once the traffic is logged (_replay_pending).
        _register(con, employment.MODEL, "v3", v3, employment.THRESHOLD, start + timedelta(days=135), "v1",
                  "retrained on the 2015, 2016 and 2017 surveys")
        _history(con, employment.MODEL, "v3", start + timedelta(days=135), _APPROVED_PATH, days_apart=3)
        # A guarded rollout: 10% first, then 25% and 50% while latency (within 2 ms) and cost hold.
        plan = deployments.RolloutPlan(
            steps=(deployments.RolloutStep(employment.CANARY_SHARE, 72, 2_000), deployments.RolloutStep(0.25, 72, 5_000),
                   deployments.RolloutStep(0.5, 72, 10_000)),
            guardrails={"latency_ms": 2.0, "cost_per_decision": None})
        deployments.start_rollout(con, _actor("paul.approver"), employment.MODEL, "v3", plan, at=canary_from)

    store.write(governance, db)
    rng = np.random.default_rng(seed + 4)
    next_id = 1
    summary.rows[employment.MODEL] = summary.outcomes[employment.MODEL] = 0
    for i, year_frame in enumerate(employment.simulate(production, start, seed)):
        progress(f"employment: logging survey year {employment.PRODUCTION_YEARS[i]}", 0.78 + 0.06 * (i + 1))
        to_canary = ((year_frame["predicted_at"] >= pd.Timestamp(canary_from)).to_numpy()
                     & (rng.random(len(year_frame)) < employment.CANARY_SHARE))
        log = employment.log_rows(year_frame, v1.booster.predict(_inputs(year_frame, employment.SCHEMA)), "v1",
                                  rng, next_id)
        if to_canary.any():
            moved = year_frame[to_canary]
            canary = employment.log_rows(moved, v3.booster.predict(_inputs(moved, employment.SCHEMA)), "v3", rng,
                                         next_id, role="canary", median_latency_ms=employment.CANARY_MEDIAN_LATENCY_MS,
                                         cost=employment.CANARY_COST_PER_CALL)
            # The canary's rows replace the champion's for those requests, in place (the labels follow the rows).
            for column in ("model_version", "deployment_role", "score", "decision", "latency_ms", "cost"):
                log.loc[to_canary, column] = canary[column].to_numpy()
        next_id += len(log)
        outcomes = credit.outcome_rows(log.assign(LIMIT_BAL=0.0), year_frame["employed"].to_numpy(), end, rng,
                                       with_value=False)
        summary.rows[employment.MODEL] += _ingest(db, employment.MODEL, log, "predictions")
        summary.outcomes[employment.MODEL] += _ingest(db, employment.MODEL, outcomes, "outcomes")
    progress("employment: submitting v2 for review with its evidence pack", 0.95)
    _replay_pending(db, employment.MODEL, "v2", start + timedelta(days=150), _APPROVED_PATH[:2], days_apart=5)


def build_demo(db: str | Path | None = None, *, seed: int = 7, rows: int | None = None,
               end: datetime | None = None, progress: Progress | None = None,
               setting_values: Mapping[str, object] | None = None) -> DemoSummary:
    """Build the demo portfolio into ``db`` (replacing it) and return a summary.

    Parameters
    ----------
    db : str or Path, optional
        Target store; defaults to ``VIGIL_DB``.
    seed : int, default 7
        Seed of every random choice: the same seed and end date give the same data.
    rows : int, optional
        Rows of the credit-default log (champion plus shadow); default 240,000. Scale up (for
        example to 10,000,000 for benchmarks) by resampling clients with jitter.
    end : datetime, optional
        End of the production window (UTC, naive); defaults to today's midnight UTC.
    progress : callable, optional
        Called with a message and the fraction done (0 to 1).
    setting_values : mapping, optional
        Store-wide setting values (key to value, as ``vigil settings set`` takes them) set by the demo's
        admin before anything is logged, so that the build's summaries follow them; for example
        ``{"explain.kept_shap_rows_per_day": 20}`` keeps fewer SHAP values per day and builds faster.

    Raises
    ------
    InvalidInputError
        If ``rows`` is below 10,000, or a setting is unknown or its value out of range (before anything is built).
    """
    import time

    started = time.perf_counter()
    target = Path(db) if db is not None else config.db_path()
    end = end or default_end()
    rows = rows or credit.DEFAULT_ROWS
    if rows < 10_000:
        raise InvalidInputError("the demo needs at least 10,000 credit-default rows")
    for key, value in (setting_values or {}).items():
        settings_catalog.lookup(key).validate(value)  # set below by settings.set_value, which needs it declared
    report = progress or (lambda message, fraction: None)
    building = target.with_name(target.name + ".building")
    for leftover in (building, Path(f"{building}.wal"), Path(f"{building}.anchor")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(_logs_dir(building), ignore_errors=True)
    summary = DemoSummary(db=target, end=end, seed=seed)
    report("fetching the public data sets", 0.02)
    credit_card_clients()
    employment_massachusetts()
    report("creating the store and the demo users", 0.08)
    passwords = store.write(lambda con: _people(con, end - timedelta(days=600)), building)
    with store.held(building):  # one DuckDB instance for the whole build, not one per unit of work
        store.write(lambda con: [settings.set_value(con, _actor("ada.admin"), key, value)
                                 for key, value in (setting_values or {}).items()], building)
        _build_credit(building, seed, end, rows, report, summary)
        _build_employment(building, seed, end, report, summary)
        store.write(lambda con: seed_business(con, _actor("ada.admin"), end), building)  # value matrices, budgets, SLAs
        for model in (credit.MODEL, employment.MODEL):
            report(f"{model}: summarising each day for the drift page", 0.96)
            drift.refresh_rollups(building, model)
        report("keeping each day's sample for the multivariate drift", 0.962)
        summaries.refresh_store(building, names=(drift.MULTIVARIATE_SAMPLES.name,))
        report("summarising each day for the KPI and cost pages", 0.965)
        business.refresh_summaries(building)
        report("summarising each day for the fairness page", 0.967)
        summaries.refresh_store(building, names=(fairness.FAIRNESS_CELLS.name,))
        report("keeping each day's explanation sample with its SHAP values", 0.968)
        summaries.refresh_store(building, names=(explain.EXPLAIN_SAMPLE.name,))
        report("summarising each day for the performance page", 0.969)
        summaries.refresh_store(building, names=(performance.PERFORMANCE_CELLS.name,))
        report("pairing the shadow v2 with the champion, per day", 0.97)
        deployments.refresh_paired(building)
        report("replaying the alert monitor over the production window", 0.975)
        demo_alerts.replay(building, end)
    report("moving the finished store into place", 0.98)
    _move_into_place(building, target)
    credentials = {u: (r, passwords[u]) for u, r, _ in DEMO_USERS}
    summary = replace(summary, credentials=credentials, credentials_file=_write_credentials(target, credentials),
                      seconds=time.perf_counter() - started)
    report("done", 1.0)
    return summary


def _logs_dir(db: Path) -> Path:
    """The folder of a store's Parquet log segments (see analytics.store._segments)."""
    return store.logs_dir(db)


def _move_into_place(building: Path, target: Path) -> None:
    """Replace the target store and its log folder by the finished build, and re-point its views."""
    store.release(building)  # no instance of this process may stay on a file that is moved or removed
    store.release(target)
    for suffix in ("", ".wal", ".anchor"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(_logs_dir(target), ignore_errors=True)
    os.replace(building, target)
    os.replace(f"{building}.anchor", f"{target}.anchor")  # the audit trail's head travels with the store
    if _logs_dir(building).exists():
        os.replace(_logs_dir(building), _logs_dir(target))
    Path(f"{building}.ingest.lock").unlink(missing_ok=True)
    store.write(lambda con: store.rename_logs_folder(con, _logs_dir(building).name, _logs_dir(target).name), target)


def _write_credentials(db: Path, credentials: dict[str, tuple[str, str]]) -> Path:
    path = credentials_path(db)
    lines = ["# Vigil demo users: one per role. Random passwords, made when the demo was built.",
             "# Keep this file private; it is git-ignored. username  role  password"]
    lines += [f"{username}  {role}  {password}" for username, (role, password) in credentials.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
