"""A model declared from a spec file with ``vigil models``, as a user does it (issue 14, section 1)."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from analytics import audit, fairness, registry, store
from analytics.cli import main
from analytics.ingest import ingest
from analytics.logschema import Column, LogSchema
from analytics.modelspec import InvalidSpecError, parse_spec, spec_to_toml

SPEC = """\
name = "loan-default"
description = "Probability that an applicant defaults within a year."
owner = "credit-risk team"
positive_class = "default"
favourable_decision = 0
decision_labels = {0 = "approved", 1 = "declined"}
outcome_labels = {0 = "repaid", 1 = "defaulted"}

[notes]
currency = "EUR"

[[columns]]
name = "AGE"
type = "integer"
sensitive = true
mutability = "increase_only"
description = "age in years"

[[columns]]
name = "income"
type = "double"
title = "yearly income"

[[columns]]
name = "sex"
type = "categorical"
role = "attribute"
sensitive = true
mutability = "immutable"

[[columns]]
name = "region"
type = "categorical"
role = "segment"
"""


def _vigil(db, *args: str) -> int:
    return main(["--db", str(db), *args])


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "loan-default.toml"
    path.write_text(SPEC)
    return path


def _rows(n: int, start: int = 0, **extra) -> pd.DataFrame:
    idx = range(start, start + n)
    return pd.DataFrame({
        "prediction_id": [f"p{i:05d}" for i in idx],
        "predicted_at": [datetime(2025, 3, 1, 8) + pd.Timedelta(minutes=i) for i in idx],
        "model_version": "v1", "deployment_role": "champion",
        "score": [0.1 + (i % 8) / 10 for i in idx], "decision": [int(0.1 + (i % 8) / 10 >= 0.5) for i in idx],
        "latency_ms": 5.0, "cost": 0.001,
        "AGE": [20 + i % 40 for i in idx], "income": [1000.0 + i for i in idx],
        "sex": ["f" if i % 2 else "m" for i in idx], "region": ["north" if i % 3 else "south" for i in idx],
        **extra,
    })


def test_register_list_show_round_trip(db, spec_file, tmp_path, capsys):
    assert _vigil(db, "models", "register", str(spec_file)) == 0
    assert "registered model loan-default" in capsys.readouterr().out
    assert _vigil(db, "models", "list") == 0
    listed = capsys.readouterr().out
    assert "loan-default" in listed and "credit-risk team" in listed
    assert _vigil(db, "models", "show", "loan-default") == 0
    shown = capsys.readouterr().out
    # the spec back out reads as the same spec, and registering it changes nothing
    assert parse_spec(shown) == parse_spec(SPEC)
    again = tmp_path / "shown.toml"
    again.write_text(shown)
    assert _vigil(db, "models", "register", str(again)) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert _vigil(db, "models", "show", "loan-default") == 0
    assert capsys.readouterr().out == shown  # exact round trip
    assert _vigil(db, "models", "show", "loan-default", "--format", "json") == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["favourable_decision"] == 0 and as_json["decision_labels"] == {"0": "approved", "1": "declined"}
    info = store.read(lambda con: registry.get_model(con, "loan-default"), db)
    assert info.schema.favourable_decision == 0
    assert info.schema.decision_text(0) == "approved" and info.schema.outcome_text(1) == "defaulted"
    assert info.schema.column("income").display_name == "yearly income"


def test_bad_spec_lists_every_problem_and_changes_nothing(created_db, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "loan-default"\nowner = "me"\npositive_class = "default"\n'
                   '[[columns]]\nname = "AGE"\ntype = "int"\n'
                   '[[columns]]\nname = "income"\ntype = "double"\nrole = "input"\n'
                   '[[columns]]\nname = "income"\ntype = "double"\n'
                   '[[columns]]\nname = "Score"\ntype = "double"\n'
                   '[[columns]]\nname = "region\\n"\ntype = "categorical"\n')
    assert _vigil(created_db, "models", "register", str(bad)) == 1
    err = capsys.readouterr().err
    assert "6 problems; nothing was changed" in err
    for words in ("favourable_decision is missing", "type 'int' is unknown", "role 'input' is unknown",
                  "'income' is declared more than once", "'Score' is reserved", "'region\\n' is not allowed"):
        assert words in err, words
    assert store.read(lambda con: con.execute("SELECT count(*) FROM models").fetchone()[0], created_db) == 0


def test_toml_syntax_error_names_its_line(tmp_path):
    with pytest.raises(InvalidSpecError, match=r"line 3"):
        parse_spec('name = "m"\nowner = "me"\npositive_class = = "x"\n')


def test_changed_spec_compatible_changes_audited_incompatible_refused(db, spec_file, tmp_path, capsys):
    assert _vigil(db, "models", "register", str(spec_file)) == 0
    store.write(lambda con: registry.register_version(con, audit_actor(), "loan-default", "v1", threshold=0.5,
                                                      owner="me"), db)
    assert ingest("loan-default", _rows(20), db=db).status == "committed"

    changed = SPEC.replace('owner = "credit-risk team"', 'owner = "model risk"') + (
        '\n[[columns]]\nname = "channel"\ntype = "categorical"\nrole = "segment"\n')
    spec_file.write_text(changed)
    assert _vigil(db, "models", "register", str(spec_file)) == 0
    out = capsys.readouterr().out
    assert "2 changes applied" in out and "owner: 'credit-risk team' -> 'model risk'" in out
    updates = store.read(lambda con: con.execute(
        "SELECT details FROM audit_log WHERE action = 'model.update' ORDER BY seq").fetchall(), db)
    assert [json.loads(d)["change"] for (d,) in updates] == ["owner", "column channel"]
    # old segments lack the new column: it reads as NULL there; new rows carry it
    assert ingest("loan-default", _rows(10, start=20, channel="web"), db=db).status == "committed"
    counts = store.read(lambda con: con.execute(
        "SELECT count(*) FILTER (WHERE channel IS NULL), count(*) FILTER (WHERE channel = 'web') "
        "FROM predictions_loan_default").fetchone(), db)
    assert counts == (20, 10)

    incompatible = changed.replace('type = "double"', 'type = "integer"').replace(
        'owner = "model risk"', 'owner = "someone else"')
    incompatible = incompatible.replace('[[columns]]\nname = "sex"\ntype = "categorical"\nrole = "attribute"\n'
                                        'sensitive = true\nmutability = "immutable"\n', '')
    spec_file.write_text(incompatible)
    assert _vigil(db, "models", "register", str(spec_file)) == 1
    err = capsys.readouterr().err
    assert "column 'income': type double -> integer" in err and "column 'sex' removed" in err
    assert store.read(lambda con: registry.get_model(con, "loan-default").owner, db) == "model risk"
    assert store.read(audit.verify, db).intact


def audit_actor():
    from analytics.roles import system_actor
    return system_actor()


def test_fairness_uses_the_declared_favourable_decision_never_a_guess(db):
    """A 'default' model that declares decision 1 favourable is read as declared (the name-list
    heuristic read every 'default' model as 0 favourable); a model that declares none is refused."""
    columns = (Column("x", "double"), Column("sex", "categorical", role="attribute", sensitive=True))
    declared = LogSchema(columns=columns, positive_class="default", favourable_decision=1)
    assert fairness.favourable_decision(declared) == 1
    with pytest.raises(Exception, match="favourable_decision = 0 or 1"):
        fairness.favourable_decision(LogSchema(columns=columns, positive_class="default"))


def test_spec_to_toml_is_read_back_equal():
    spec = parse_spec(SPEC)
    assert parse_spec(spec_to_toml(spec)) == spec
