"""``vigil settings`` and the role check of ingest, on a model registered from a spec as a user does it
(issue 14, sections 2 and 3)."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from analytics import settings, store
from analytics.cli import main
from analytics.ingest import ingest
from analytics.settings_catalog import SETTING_MODULES, catalog, thresholds

SPEC = """\
name = "churn"
owner = "retention team"
positive_class = "leaves within 90 days"
favourable_decision = 0
[[columns]]
name = "tenure"
type = "integer"
[[columns]]
name = "plan"
type = "categorical"
role = "segment"
"""


def _vigil(db, *args: str) -> int:
    return main(["--db", str(db), *args])


def _rows(n: int, *, start: int = 0, day: int = 10, version: str = "v1", role: str = "champion") -> pd.DataFrame:
    idx = range(start, start + n)
    return pd.DataFrame({
        "prediction_id": [f"c{i:05d}" for i in idx],
        "predicted_at": [datetime(2026, 3, day, 8) + pd.Timedelta(minutes=i) for i in idx],
        "model_version": version, "deployment_role": role,
        "score": [(i % 10) / 10 + 0.05 for i in idx], "decision": [int((i % 10) / 10 + 0.05 >= 0.5) for i in idx],
        "latency_ms": 4.0, "cost": 0.001, "tenure": [i % 50 for i in idx], "plan": ["basic" if i % 2 else "pro" for i in idx],
    })


@pytest.fixture(scope="module")
def churn_template(tmp_path_factory):
    """The store set up by its owner (the model, its versions, the first admin ``ada``), built once per module."""
    tmp_path = tmp_path_factory.mktemp("churn")
    db = tmp_path / "store" / "vigil.duckdb"
    db.parent.mkdir()
    spec = tmp_path / "churn.toml"
    spec.write_text(SPEC)
    assert _vigil(db, "models", "register", str(spec)) == 0
    reference = tmp_path / "reference.csv"
    frame = _rows(200).drop(columns=["prediction_id", "predicted_at", "model_version", "deployment_role",
                                     "latency_ms", "cost"])
    frame["label"] = [i % 3 == 0 for i in range(200)]
    frame["label"] = frame["label"].astype(int)
    frame.to_csv(reference, index=False)
    assert _vigil(db, "models", "add-version", "churn", "v1", "--reference", str(reference),
                  "--serving-since", "2026-03-01") == 0
    assert _vigil(db, "models", "add-version", "churn", "v2", "--reference", str(reference)) == 0
    assert _vigil(db, "users", "add", "ada", "--role", "admin") == 0
    return db


@pytest.fixture
def churn(db, tmp_path, act_as, churn_template, monkeypatch):
    """A private copy of :func:`churn_template`; commands then act for ada through her API token in VIGIL_TOKEN."""
    path = store.copy_store(churn_template, tmp_path / "churn-store")
    monkeypatch.setenv("VIGIL_DB", str(path))
    act_as(path, "ada")
    return path


def test_set_get_unset_list_audited_with_old_and_new_values(churn, capsys):
    db = churn
    capsys.readouterr()
    assert _vigil(db, "settings", "set", "fairness.dp_ratio_threshold", "0.85", "--model", "churn") == 0
    assert _vigil(db, "settings", "set", "fairness.dp_ratio_threshold", "0.75") == 0
    assert _vigil(db, "settings", "get", "fairness.dp_ratio_threshold", "--model", "churn") == 0
    assert "fairness.dp_ratio_threshold = 0.85 for model churn" in capsys.readouterr().out
    assert thresholds(db, "churn").dp_ratio == 0.85 and thresholds(db).dp_ratio == 0.75
    assert _vigil(db, "settings", "list", "--model", "churn") == 0
    listed = capsys.readouterr().out
    line = next(l for l in listed.splitlines() if l.startswith("fairness.dp_ratio_threshold"))
    assert "0.85" in line and "this model" in line and "a number from 0 to 1" in line
    assert _vigil(db, "settings", "unset", "fairness.dp_ratio_threshold", "--model", "churn") == 0
    assert "now 0.75 (the global value" in capsys.readouterr().out
    assert _vigil(db, "settings", "unset", "fairness.dp_ratio_threshold") == 0
    assert thresholds(db, "churn").dp_ratio == 0.8
    rows = store.read(lambda con: con.execute(
        "SELECT action, object_id, details FROM audit_log WHERE action LIKE 'setting.%' ORDER BY seq").fetchall(), db)
    details = [json.loads(d) for _, _, d in rows]
    assert all(d.pop("via")["channel"] == "cli" for d in details)  # who acted, through which channel, how proven
    assert [(a, o, d) for (a, o, _), d in zip(rows, details)] == [
        ("setting.change", "churn:fairness.dp_ratio_threshold", {"from": 0.8, "to": 0.85}),
        ("setting.change", "*:fairness.dp_ratio_threshold", {"from": 0.8, "to": 0.75}),
        ("setting.unset", "churn:fairness.dp_ratio_threshold", {"from": 0.85, "to": 0.75}),
        ("setting.unset", "*:fairness.dp_ratio_threshold", {"from": 0.75, "to": 0.8}),
    ]


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("fairness.dp_ratio_threshold", "1.5", "allowed: a number from 0 to 1"),
    ("fairness.dp_ratio_threshold", "high", "allowed: a number from 0 to 1"),
    ("explain.error_tree_depth", "2.5", "allowed: an integer from 1 to 6"),
    ("business.latency_sla_percentile", "p90", "allowed: one of p50, p95, p99"),
    ("drift.psi_threshold", "inf", "allowed: a number of at least 0"),  # a threshold nothing reaches (item 13)
    ("drift.psi_threshold", "1e400", "allowed: a number of at least 0"),
])
def test_a_bad_value_is_refused_with_the_allowed_range_and_changes_nothing(churn, capsys, key, value, allowed):
    assert _vigil(churn, "settings", "set", key, value) == 1
    assert allowed in capsys.readouterr().err
    assert store.read(lambda con: con.execute("SELECT count(*) FROM settings").fetchone()[0], churn) == 0


def test_unknown_setting_model_and_non_admin_are_refused(churn, capsys, as_person):
    assert _vigil(churn, "settings", "set", "fairness.nope", "1") == 1
    assert "'vigil settings list'" in capsys.readouterr().err
    assert _vigil(churn, "settings", "set", "fairness.dp_ratio_threshold", "0.9", "--model", "chrun") == 1
    assert ("model 'chrun' is not registered; registered models: churn (register one with 'vigil models register "
            "SPEC.toml')") in capsys.readouterr().err
    assert _vigil(churn, "users", "add", "bob", "--role", "analyst") == 0
    assert _vigil(churn, "settings", "set", "fairness.dp_ratio_threshold", "0.9", *as_person(churn, "bob")) == 1
    assert "may not change settings" in capsys.readouterr().err


def test_the_catalog_names_every_module_that_declares_a_setting():
    root = Path(settings.__file__).parent
    declaring = {".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
                 for path in root.rglob("*.py") if re.search(r"^\w+ = (settings\.)?declare\(", path.read_text(), re.M)}
    assert declaring == set(SETTING_MODULES)


def test_every_setting_declares_a_description_and_a_default_within_its_range():
    for key, setting in catalog().items():
        assert setting.description, key
        assert setting.validate(setting.default) == setting.default, key
        assert setting.parse(settings.format_value(setting, setting.default).split(" ")[0].replace(",", "")
                             .replace("(empty)", "")) == setting.default, key


def test_ingest_warns_and_counts_rows_whose_role_disagrees_with_the_deployment_history(churn):
    # v1 is champion since 2026-03-01 (onboarding declaration); v2 is a draft, never deployed.
    rows = pd.concat([_rows(30), _rows(5, start=30, version="v2", role="shadow"),
                      _rows(4, start=35, role="canary"), _rows(3, start=39, day=1).assign(
                          predicted_at=lambda f: f["predicted_at"] - pd.Timedelta(days=1))], ignore_index=True)
    report = ingest("churn", rows, db=churn)
    assert report.status == "committed" and report.rows_loaded == 42
    assert report.rows_role_mismatch == 12
    assert "12 rows have a deployment_role that disagrees" in report.summary()
    assert any("version 'v2' was 'not deployed'" in w for w in report.role_warnings)
    assert any("'canary' disagrees" in w and "was 'champion'" in w for w in report.role_warnings)


def test_quarantine_policy_keeps_disagreeing_rows_out(churn):
    assert _vigil(churn, "settings", "set", "ingest.role_mismatch_policy", "quarantine", "--model", "churn") == 0
    rows = pd.concat([_rows(30), _rows(5, start=30, version="v2", role="shadow")], ignore_index=True)
    report = ingest("churn", rows, db=churn, on_error="quarantine")
    assert (report.rows_loaded, report.rows_quarantined, report.rows_role_mismatch) == (30, 5, 5)
    reasons = store.read(lambda con: con.execute("SELECT reasons FROM quarantine").fetchall(), churn)
    assert len(reasons) == 5 and all("disagrees with the deployment history" in r[0][0] for r in reasons)
    rejected = ingest("churn", _rows(3, start=50, version="v2", role="shadow"), db=churn)
    assert rejected.status == "rejected" and rejected.rows_loaded == 0


CARD = """\
intended_use = "Retention offers for customers likely to leave."
limitations = "Not validated for business accounts."
[[data]]
name = "customers 2025"
source = "CRM export"
licence = "internal"
role = "training"
[risk]
tier = "medium"
rationale = "Decides which customers get an offer; no legal effect."
"""


def test_model_card_and_risk_tier_from_a_toml_file_audited_and_shown_back(churn, tmp_path, capsys):
    card = tmp_path / "card.toml"
    card.write_text(CARD)
    assert _vigil(churn, "models", "card", "churn", "--file", str(card)) == 0
    out = capsys.readouterr().out
    assert "card of churn: data, intended_use, limitations" in out and "risk tier of churn: unset -> medium" in out
    assert _vigil(churn, "models", "card", "churn", "--file", str(card)) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert _vigil(churn, "models", "card", "churn") == 0
    shown = capsys.readouterr().out
    assert tomllib.loads(shown) == tomllib.loads(CARD)
    actions = store.read(lambda con: [r[0] for r in con.execute(
        "SELECT action FROM audit_log WHERE action IN ('card.update', 'model.risk_tier')").fetchall()], churn)
    assert actions == ["card.update", "model.risk_tier"]


def test_a_bad_card_names_every_problem_and_changes_nothing(churn, tmp_path, capsys, as_person):
    card = tmp_path / "card.toml"
    card.write_text('intended_use = 3\nmotto = "x"\n[risk]\ntier = "extreme"\n')
    assert _vigil(churn, "models", "card", "churn", "--file", str(card)) == 1
    err = capsys.readouterr().err
    for words in ("4 problems; nothing was changed", "unknown field 'motto'", "intended_use: write it as text",
                  "tier 'extreme' is unknown; use one of high, medium, low", "a tier needs a rationale"):
        assert words in err, words
    assert _vigil(churn, "users", "add", "ann", "--role", "analyst") == 0
    card.write_text(CARD)
    assert _vigil(churn, "models", "card", "churn", "--file", str(card), *as_person(churn, "ann")) == 1
    assert "may not" in capsys.readouterr().err
    assert store.read(lambda con: con.execute("SELECT count(*) FROM model_cards").fetchone()[0], churn) == 0


def test_the_domain_classifier_band_is_named_only_at_its_default():
    """The Drift page quotes the band from the thresholds: NannyML's name only for NannyML's band."""
    from dataclasses import fields, replace

    from analytics.settings_catalog import Thresholds

    known = catalog()
    default = Thresholds(**{f.name: 0.0 for f in fields(Thresholds)})
    default = replace(default, domain_classifier_auc_lower=known["drift.domain_classifier_auc_lower"].default,
                      domain_classifier_auc_upper=known["drift.domain_classifier_auc_upper"].default)
    assert default.domain_classifier_band == "0.45-0.65 (NannyML's default band)"
    assert replace(default, domain_classifier_auc_upper=0.7).domain_classifier_band == (
        "0.45-0.7 (set in the settings; NannyML's default band is 0.45-0.65)")
