"""The demo portfolio: tables and row counts, late labels, the two drift episodes, governance history,
users, and models that really produced the logged scores."""

from __future__ import annotations

import json

import stat
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analytics import artifacts, audit, audit_reconcile, registry, settings, store, summaries
from analytics.demo import DEMO_USERS, build_demo
from analytics.demo import _credit as credit
from analytics import deployments
from analytics.business._definitions import get_definition
from analytics.deployments import _paired as _pairs
from analytics.demo import _employment as employment
from analytics.errors import InvalidInputError


def _frame(demo, sql: str, params=()) -> pd.DataFrame:
    return store.read(lambda con: con.execute(sql, list(params)).df(), demo.db)


@pytest.fixture(scope="module")
def credit_log(demo_store) -> pd.DataFrame:
    """Champion predictions of credit-default with their outcome (if known) and day of the window."""
    frame = _frame(demo_store, """
        SELECT p.*, o.label, o.observed_at, o.business_value
        FROM predictions_credit_default p LEFT JOIN outcomes_credit_default o USING (prediction_id)""")
    start = credit.window_start(demo_store.end)
    frame["day"] = (frame["predicted_at"] - pd.Timestamp(start)).dt.days
    return frame


def test_tables_and_row_counts(demo_store):
    """Both models are registered, the credit log has the asked size, employment all 2016-2018 adults."""
    assert store.read(store.schema_version, demo_store.db) == store.LATEST_VERSION
    counts = _frame(demo_store, """
        SELECT (SELECT count(*) FROM predictions_credit_default) AS credit,
               (SELECT count(*) FROM predictions_employment) AS employment,
               (SELECT count(*) FROM outcomes_credit_default) AS credit_outcomes,
               (SELECT count(*) FROM reference_credit_default WHERE model_version = 'v1') AS credit_reference,
               (SELECT count(*) FROM reference_employment WHERE model_version = 'v1') AS employment_reference""").iloc[0]
    assert abs(counts["credit"] - 60_000) <= credit.DAYS  # per-day rounding of the traffic plan
    assert counts["employment"] == 175_670  # ACS MA 2016-2018, AGEP >= 16
    assert 0 < counts["credit_outcomes"] < counts["credit"]
    assert counts["credit_reference"] == 3_000
    assert counts["employment_reference"] == 17_322  # 30% of the 57,738 adults of 2015
    assert demo_store.rows == {"credit-default": counts["credit"], "employment": 175_670}


def test_labels_arrive_30_to_60_days_late(demo_store, credit_log):
    """Every outcome is observed 30-60 days after its prediction and before the window's end."""
    labelled = credit_log.dropna(subset=["label"])
    delay = labelled["observed_at"] - labelled["predicted_at"]
    assert delay.min() >= timedelta(days=30) and delay.max() <= timedelta(days=60)
    assert labelled["observed_at"].max() <= pd.Timestamp(demo_store.end)
    assert credit_log.loc[credit_log["day"] >= credit.DAYS - 30, "label"].isna().all()
    assert credit_log.loc[credit_log["day"] < credit.DAYS - 60, "label"].notna().all()


def test_covariate_episode_moves_inputs_not_performance(credit_log):
    """Days 60-89: younger applicants, lower limits, mostly online; the model's ROC AUC stays put."""
    champion = credit_log[credit_log["deployment_role"] == "champion"]
    episode = champion["day"].between(*credit.COVARIATE_DAYS, inclusive="left")
    before = champion["day"] < credit.COVARIATE_DAYS[0]
    assert champion.loc[before, "AGE"].mean() - champion.loc[episode, "AGE"].mean() > 5
    assert champion.loc[episode, "LIMIT_BAL"].mean() < 0.75 * champion.loc[before, "LIMIT_BAL"].mean()
    assert (champion.loc[episode, "channel"] == "online").mean() > 0.6
    assert (champion.loc[before, "channel"] == "online").mean() < 0.5
    auc = {name: roc_auc_score(champion.loc[mask, "label"], champion.loc[mask, "score"])
           for name, mask in (("before", before), ("episode", episode))}
    assert abs(auc["episode"] - auc["before"]) < 0.04


def test_concept_episode_moves_performance_not_inputs(credit_log):
    """Days 120+: the same applicants, more defaults, and a clearly worse ROC AUC."""
    champion = credit_log[credit_log["deployment_role"] == "champion"]
    labelled = champion.dropna(subset=["label"])
    episode = labelled["day"] >= credit.CONCEPT_DAYS[0]
    stable = labelled["day"].between(credit.COVARIATE_DAYS[1], credit.CONCEPT_DAYS[0], inclusive="left")
    assert episode.sum() > 1_000
    assert abs(champion.loc[champion["day"] >= credit.CONCEPT_DAYS[0], "AGE"].mean()
               - champion.loc[champion["day"] < credit.COVARIATE_DAYS[0], "AGE"].mean()) < 1
    assert labelled.loc[episode, "label"].mean() > labelled.loc[stable, "label"].mean() + 0.1
    auc_episode = roc_auc_score(labelled.loc[episode, "label"], labelled.loc[episode, "score"])
    auc_stable = roc_auc_score(labelled.loc[stable, "label"], labelled.loc[stable, "score"])
    assert auc_stable - auc_episode > 0.1


def test_shadow_challenger_mirrors_champion_traffic(credit_log):
    """v2 runs in shadow from day 120 on exactly the champion's applicants."""
    shadow = credit_log[credit_log["deployment_role"] == "shadow"]
    champion = credit_log[credit_log["deployment_role"] == "champion"]
    assert set(shadow["model_version"]) == {"v2"} and set(champion["model_version"]) == {"v1"}
    assert shadow["day"].min() == credit.SHADOW_FROM_DAY
    assert len(shadow) == (champion["day"] >= credit.SHADOW_FROM_DAY).sum()
    assert shadow["business_value"].isna().all()


def test_business_value_follows_the_decision(credit_log):
    """Approved and repaid earns 5% of the limit, approved and defaulted loses 25%, declined is 0."""
    rows = credit_log[(credit_log["deployment_role"] == "champion")].dropna(subset=["label"])
    expected = credit.business_value(rows["decision"].to_numpy(), rows["label"].to_numpy(), rows["LIMIT_BAL"].to_numpy())
    np.testing.assert_allclose(rows["business_value"].to_numpy(), expected)


def test_logged_scores_come_from_the_registered_models(demo_store, credit_log):
    """Loading each serving version's artifact (hash checked) and re-scoring its logged inputs gives the logged score."""
    for version, role in (("v1", "champion"), ("v2", "shadow")):
        row = store.read(lambda con: registry.get_version(con, "credit-default", version), demo_store.db)
        booster = artifacts.load_lightgbm(row["artifact_path"], row["artifact_sha256"])
        sample = credit_log[credit_log["deployment_role"] == role].sample(500, random_state=1)
        rescored = artifacts.predict_proba(booster, sample, credit.SCHEMA)
        np.testing.assert_allclose(rescored, sample["score"].to_numpy(), rtol=0, atol=1e-12)
        assert (sample["decision"].to_numpy() == (rescored >= row["threshold"])).all()


def test_tampered_artifact_is_not_loaded(demo_store, tmp_path):
    """A model file whose bytes differ from the registered sha256 is refused."""
    row = store.read(lambda con: registry.get_version(con, "credit-default", "v1"), demo_store.db)
    copy = tmp_path / "v1.txt"
    copy.write_bytes(open(row["artifact_path"], "rb").read().replace(b"tree", b"tref", 1))
    with pytest.raises(InvalidInputError, match="sha256"):
        artifacts.load_lightgbm(copy, row["artifact_sha256"])


def test_governance_history(demo_store):
    """Versions in several lifecycle states, decided by different people, on an intact audit chain."""
    versions = store.read(registry.list_versions, demo_store.db)
    states = dict(zip(versions["model_name"] + ":" + versions["version"], versions["status"]))
    assert states == {
        "credit-default:v0": "retired", "credit-default:v1": "champion", "credit-default:v2": "shadow",
        "credit-default:v3": "rejected", "credit-default:v4": "submitted",
        "employment:v1": "champion", "employment:v2": "in_review", "employment:v3": "canary",
    }
    log = store.read(lambda con: audit.entries(con, object_type="model_version"), demo_store.db)
    approved = log[log["action"] == "version.approved"]
    submitted = log[log["action"] == "version.submitted"]
    assert set(approved["actor"]) == {"paul.approver"} and set(submitted["actor"]) == {"arthur.analyst"}
    assert "version.rejected" in set(log["action"])
    status = store.read(audit.verify, demo_store.db)
    assert status.intact and status.rows > 50
    # authenticated (key outside the store) and anchored (<store>.anchor moved into place with it), and every
    # status, deployment, user and setting of the demo is explained by its audit rows
    assert status.assurance == "authenticated and anchored" and status.authenticated_rows == status.rows
    assert store.read(audit_reconcile.reconcile, demo_store.db) == []


def test_versions_under_review_carry_their_frozen_evidence_pack(demo_store):
    """Issue 13 item 11: the demo's submitted and in-review versions went through the real submission, so
    each has a stored pack, dated at its submission, whose sha256 matches its content and the audit row."""
    from analytics import governance

    for model, version in (("credit-default", "v4"), ("employment", "v2")):
        pack = store.read(lambda con: governance.latest_pack(con, model, version), demo_store.db)
        assert pack is not None, f"{model}:{version} has no stored evidence pack"
        assert pack["hash_matches"] and pack["assembled_by"] == "arthur.analyst"
        log = store.read(lambda con: audit.entries(con, object_type="model_version"), demo_store.db)
        row = log[(log["action"] == "version.submitted") & (log["object_id"] == f"{model}:{version}")].iloc[-1]
        details = json.loads(row["details"]) if isinstance(row["details"], str) else row["details"]
        assert details["evidence_sha256"] == pack["sha256"] and details["evidence_pack"] == pack["pack_id"]
        assert pack["assembled_at"] == row["occurred_at"] < demo_store.end
        keys = {r.key for r in pack["results"]}
        assert {"performance.reference", "drift.recent"} <= keys


def test_users_one_per_role_with_private_random_passwords(demo_store):
    """One user per role; passwords are random, stored only as argon2 hashes, in a private file."""
    users = _frame(demo_store, "SELECT username, role, password_hash FROM users ORDER BY role")
    assert sorted(users["role"]) == sorted(r for _, r, _ in DEMO_USERS)
    assert users["password_hash"].str.startswith("$argon2").all()
    passwords = [p for _, p in demo_store.credentials.values()]
    assert len(set(passwords)) == len(passwords) and min(map(len, passwords)) >= 20
    assert not any(p in h for p, h in zip(passwords, users["password_hash"]))
    path = demo_store.credentials_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert all(f"{user}  {role}  {password}" in text for user, (role, password) in demo_store.credentials.items())


def test_sensitive_attributes_declared(demo_store):
    """The declared sensitive attributes are the ones the issue names."""
    models = {m.name: m for m in store.read(registry.list_models, demo_store.db)}
    assert {c.name for c in models["credit-default"].schema.sensitive} == {"SEX", "AGE", "AGE_BAND", "MARRIAGE",
                                                                            "EDUCATION"}
    assert {c.name for c in models["employment"].schema.sensitive} == {"SEX", "RAC1P", "AGEP"}
    assert models["credit-default"].schema.column("SEX").role == "attribute"  # logged, not a model input


def test_the_shadow_pairs_by_request_and_the_canary_takes_its_share(demo_store):
    """Credit v2 shadows v1 on the same requests (request_id); employment v3 serves about 10% from day 150."""
    shares = store.read(lambda con: con.execute("""
        SELECT (SELECT count(*) FROM predictions_credit_default s JOIN predictions_credit_default c USING (request_id)
                WHERE s.model_version = 'v2' AND c.model_version = 'v1') AS pairs,
               (SELECT count(*) FROM predictions_credit_default WHERE model_version = 'v2') AS shadow,
               (SELECT count(*) FILTER (WHERE model_version = 'v3') / count(*) FROM predictions_employment
                WHERE predicted_at >= (SELECT min(predicted_at) FROM predictions_employment WHERE model_version = 'v3'))
                AS canary""").fetchone(), demo_store.db)
    assert shares[0] == shares[1] > 0
    assert abs(shares[2] - employment.CANARY_SHARE) < 0.01
    rollout = store.read(lambda con: deployments.active_rollout(con, "employment"), demo_store.db)
    assert rollout.version == "v3" and rollout.share == employment.CANARY_SHARE and len(rollout.plan.steps) == 3
    # the demo keeps the shadow's paired summaries: a comparison reads every day from them, covering each pair
    summary = store.read(lambda con: _pairs.stored(con, registry.get_model(con, "credit-default"),
                                                   get_definition(con, "credit-default"), "v1", "v2", None, None),
                         demo_store.db)
    assert summary is not None and summary.pairs == shares[0] and summary.stored_days > 0


def test_employment_years_replay_in_order(demo_store):
    """Each ACS survey year fills 60 consecutive days, in year order."""
    spans = _frame(demo_store, """
        SELECT survey_year, min(predicted_at) AS first, max(predicted_at) AS last, count(*) AS n
        FROM predictions_employment GROUP BY 1 ORDER BY 1""")
    assert list(spans["survey_year"]) == [str(y) for y in employment.PRODUCTION_YEARS]
    assert (spans["last"] - spans["first"]).max() < timedelta(days=employment.DAYS_PER_YEAR)
    assert (spans["first"].iloc[1:].to_numpy() > spans["last"].iloc[:-1].to_numpy()).all()


#: The end of the test demo's window (tests/conftest.py builds the shared demo to it).
DEMO_END = datetime(2026, 11, 1)


def _credit_draws(seed: int, artifacts) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Every random draw behind the credit-default log for ``seed``: the client split, the simulated
    applicants of every day and a trained version's scores (the v1 recipe of the demo)."""
    from analytics.demo._datasets import credit_card_clients
    from analytics.demo._training import train

    split = credit.split(credit_card_clients(), seed)
    start = credit.window_start(DEMO_END)
    applicants = pd.concat(credit.simulate(split.pool, credit.traffic_plan(60_000, start), start, seed),
                           ignore_index=True)
    model = train(split.train, split.validation, "default", credit.SCHEMA, rounds=60, threshold=credit.THRESHOLD,
                  params={"num_leaves": 15, "learning_rate": 0.05, "feature_fraction": 0.8,
                          "bagging_fraction": 0.8, "bagging_freq": 1},
                  artifact_path=artifacts / "model.txt", seed=seed)
    return split.pool, applicants, model.reference["score"].to_numpy()


def test_same_seed_same_data(tmp_path):
    """The same seed draws the same clients, applicants and model scores; another seed does not.

    (A whole second demo build took ~30 s of the suite; these are the draws its prediction log is made of.)
    """
    first = _credit_draws(7, tmp_path / "a")
    again = _credit_draws(7, tmp_path / "b")
    other = _credit_draws(8, tmp_path / "c")
    for mine, twin in zip(first, again):
        pd.testing.assert_frame_equal(mine, twin) if isinstance(mine, pd.DataFrame) else np.testing.assert_array_equal(
            mine, twin)
    assert not first[1].equals(other[1]) and not np.array_equal(first[2], other[2])


def test_big_logs_are_simulated_a_day_at_a_time_from_jittered_versions_of_each_client():
    """Up to 10 M rows a chunk is 15 days as before; at 100 M one day. Above 10 M rows a drawn client is one
    of its jittered versions, made once (so scored once): the row carries that version's inputs exactly."""
    from analytics.demo._datasets import credit_card_clients

    start = credit.window_start(DEMO_END)
    assert [credit.chunk_days(credit.traffic_plan(rows, start)) for rows in (10_000_000, 100_000_000)] == [15, 1]
    pool = credit.split(credit_card_clients(), 7).pool.iloc[:40]
    variants = credit.jitter_variants(pool, 7, variants=3)
    counts = np.zeros(credit.DAYS, dtype=int)
    counts[:2] = 200
    frame = pd.concat(credit.simulate(pool, counts, start, 7, variants=variants), ignore_index=True)
    chosen = variants.iloc[frame["variant"].to_numpy()].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame[credit.AMOUNT_COLUMNS + ["LIMIT_BAL", "AGE", "PAY_0"]],
                                  chosen[credit.AMOUNT_COLUMNS + ["LIMIT_BAL", "AGE", "PAY_0"]])
    assert frame["variant"].nunique() > len(pool)  # several versions of a client are drawn
    assert (variants["BILL_AMT1"].to_numpy() != pool["BILL_AMT1"].repeat(3).to_numpy()).mean() > 0.5


def test_too_small_a_demo_is_refused(tmp_path):
    """Fewer than 10,000 rows cannot hold the story; the message says so."""
    with pytest.raises(InvalidInputError, match="at least 10,000"):
        build_demo(tmp_path / "small.duckdb", rows=500)


def test_a_setting_the_build_cannot_take_is_refused_before_anything_is_built(tmp_path, capsys):
    """An unknown key or a value out of range ends the build before it starts, in Python and on the CLI."""
    from analytics.cli import main

    target = tmp_path / "demo.duckdb"
    with pytest.raises(InvalidInputError, match="unknown"):
        build_demo(target, setting_values={"explain.no_such_setting": 1})
    with pytest.raises(InvalidInputError, match="refused"):
        build_demo(target, setting_values={"explain.kept_shap_rows_per_day": -1})
    assert main(["--db", str(target), "demo", "--set", "explain.kept_shap_rows_per_day"]) != 0
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["--db", str(target), "demo", "--set", "explain.kept_shap_rows_per_day=many"]) != 0
    assert "explain.kept_shap_rows_per_day" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_setting_of_a_module_the_build_does_not_import_is_taken(tmp_path):
    """``vigil demo --set`` and ``build_demo`` know every setting ``vigil settings list`` names, also one whose
    module neither imports (``auth.session_idle_timeout``, :mod:`analytics.sessions`): in a fresh interpreter
    the value is parsed, and one out of range is refused for its range, not as an unknown setting."""
    code = ("import sys\n"
            "from analytics.cli_core import _setting_values\n"
            "from analytics.demo import build_demo\n"
            "from analytics.errors import InvalidInputError\n"
            "print('analytics.sessions' in sys.modules)\n"
            "print(_setting_values(['auth.session_idle_timeout=30']))\n"
            "try:\n"
            f"    build_demo({str(tmp_path / 'demo.duckdb')!r}, setting_values={{'auth.session_idle_timeout': 0}})\n"
            "except InvalidInputError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[:2] == ["False", "{'auth.session_idle_timeout': 30}"]
    assert "refused" in out[2] and "unknown" not in out[2], out[2]
    assert list(tmp_path.iterdir()) == []


def test_the_builds_setting_values_are_the_stores_set_by_its_admin_and_followed(demo_store):
    """The test demo is built keeping 20 SHAP values per day (``setting_values``): the value is the store's, its
    audit row names the demo's admin, and no kept day holds more SHAP values than that."""
    key = "explain.kept_shap_rows_per_day"
    value, by, audited, most = store.read(lambda con: (
        settings.get(con, key),
        con.execute("SELECT updated_by FROM settings WHERE key = ?", [key]).fetchone()[0],
        con.execute("SELECT actor, details FROM audit_log WHERE action = 'setting.change' AND object_id = ?",
                    [f"{settings.GLOBAL}:{key}"]).fetchall(),
        con.execute("SELECT max(n) FROM (SELECT count(shap) AS n FROM explain_sample GROUP BY model_name, version, day)").fetchone()[0],
    ), demo_store.db)
    assert value == 20 and by == "ada.admin"
    assert [(actor, json.loads(details)["to"]) for actor, details in audited] == [("ada.admin", 20)]
    assert 0 < most <= 20


def test_the_build_keeps_every_summary_the_pages_read(demo_store):
    """Every declared summary (the multivariate drift's samples among them) answers every day of both logs: a
    freshly built demo's pages read no day from the log that ``vigil refresh`` would have summarised."""
    def stale(con):
        left = {}
        for decl in summaries.declarations():
            for model in ("credit-default", "employment"):
                for scope in decl.scopes(con, model):
                    if decl.key(con, model, scope) is None:  # this model keeps no such summary
                        continue
                    days = summaries.stale_days(con, decl.name, model, scope=scope)
                    if any(days):
                        left[(decl.name, model, scope)] = days
        return left

    names = {d.name for d in summaries.declarations()}
    assert {"multivariate", "explain", "drift", "serving", "performance", "fairness"} <= names
    assert store.read(stale, demo_store.db) == {}


def test_credit_clients_decoded_as_uci_documents():
    """SEX, EDUCATION and MARRIAGE decode to the UCI counts: 11,888 men and 18,112 women, nothing missing."""
    from analytics.demo._datasets import credit_card_clients

    clients = credit_card_clients()
    assert clients["SEX"].value_counts().to_dict() == {"female": 18_112, "male": 11_888}
    assert clients[["SEX", "EDUCATION", "MARRIAGE"]].notna().all().all()
    assert clients["EDUCATION"].value_counts()["university"] == 14_030
    assert clients["MARRIAGE"].value_counts()["single"] == 15_964


def test_finished_store_and_logs_moved_into_place(demo_store):
    """The build leaves the store, its log folder beside it (every segment the view reads in it), no leftovers."""
    folder = demo_store.db.parent
    assert not list(folder.glob("*.building*"))
    logs = folder / f"{demo_store.db.stem}.logs"
    paths = store.read(lambda con: con.execute(
        "SELECT path FROM log_segments").fetchall(), demo_store.db)
    assert paths and all((folder / p).is_file() and (folder / p).is_relative_to(logs) for (p,) in paths)
    view = store.read(lambda con: con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = 'predictions_credit_default'").fetchone()[0], demo_store.db)
    assert f"'{logs.name}/credit_default/" in view and str(folder) not in view and ".building" not in view


def test_the_inbox_is_replayed_from_the_monitor(demo_store):
    """The covariate episode's drift incident was acknowledged and resolved with a note; the concept episode's
    critical performance alert escalated and is still open; a retraining request is open."""
    from analytics import alerts

    def inbox(con):
        return (alerts.alerts_table(con), alerts.incidents_table(con, text="campaign", resolved_only=True),
                alerts.retrain_requests(con), alerts.timeline(con, alert_id=int(
                    alerts.alerts_table(con, states=("firing",), severity="critical")["alert_id"].iloc[0])))

    table, knowledge, requests, events = store.read(inbox, demo_store.db)
    drift_alerts = table[(table["family"] == "drift") & (table["model"] == "credit-default")]
    assert "arthur.analyst" in drift_alerts["assignee"].tolist()
    assert len(knowledge) == 1 and knowledge["family"].iloc[0] == "drift"
    performance = table[(table["family"] == "performance") & (table["state"] == "firing")]
    assert performance["severity"].tolist() == ["critical"]
    assert {"firing", "escalated"} <= set(events["kind"])
    assert requests["state"].tolist() == ["open"]  # one open request per model: the first critical AUC alert's
    assert store.read(audit.verify, demo_store.db).intact
