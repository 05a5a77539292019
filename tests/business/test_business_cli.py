"""``vigil kpis``: show, define and infra-cost (acting for a proven admin, audited), on a store in ``tmp_path``."""

from __future__ import annotations

import json
from analytics import audit, business, registry, store, users
from analytics.cli import main
from analytics.logschema import Column, LogSchema
from analytics.roles import Actor
from analytics.window import Window
from lifecycle_support import put_in_status


def test_define_show_and_infra_cost(tmp_path, capsys, as_person):
    db = tmp_path / "vigil.duckdb"
    schema = LogSchema(columns=(Column("LIMIT_BAL", "double"), Column("SEX", "categorical", role="attribute")),
                       positive_class="default", favourable_decision=0)

    def setup(con):
        registry.register_model(con, Actor("cli:t", "system"), "m", schema, owner="t")
        users.add_user(con, Actor("cli:t", "system"), "ada", "admin")

    store.write(setup, db)
    spec = tmp_path / "def.json"
    assert main(["--db", str(db), "kpis", "define", "m", "--file", str(spec)]) == 1
    assert "acts for a person" in capsys.readouterr().err  # no credential: refused, nothing stored
    spec.write_text(json.dumps({"currency": "NT$", "selected_decision": 0, "selected_label": "approved", "bad_label": 1,
                                "bad_name": "default", "amount_column": "LIMIT_BAL", "value_selected_good": 0.05,
                                "value_selected_bad": -0.25, "value_rejected_good": -0.05,
                                "fairness_attribute": "SEX", "targets": {"selection_rate": 0.8}}))
    assert main(["--db", str(db), "kpis", "define", "m", "--file", str(spec), *as_person(db, "ada")]) == 0
    assert store.read(lambda con: business.get_definition(con, "m"), db).targets == {"selection_rate": 0.8}
    assert "stored the KPI definition" in capsys.readouterr().out
    assert main(["--db", str(db), "kpis", "show", "m", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert main(["--db", str(db), "kpis", "show", "m", "--version", "v9"]) == 1  # not a table of zeros
    assert "v9" in capsys.readouterr().err
    assert {r["key"] for r in shown} >= {"selection_rate", "profit"}
    assert main(["--db", str(db), "kpis", "infra-cost", "m", "--amount", "30", "--from", "2026-11-01",
                 "--to", "2026-11-30", *as_person(db, "ada")]) == 0
    assert business.infra_costs(db, "m")["amount_usd"].tolist() == [30.0]
    actions = store.read(lambda con: audit.entries(con), db)["action"].tolist()
    assert "kpi_definition.save" in actions and "infra_cost.add" in actions
    assert main(["--db", str(db), "kpis", "infra-cost", "m", "--amount", "1", "--from", "2026-11-30",
                 "--to", "2026-11-01", *as_person(db, "ada")]) != 0  # a clear error, not a traceback
    assert "ends before" in capsys.readouterr().err


def test_refresh_builds_the_summaries_of_new_days_only(tmp_path, capsys):
    from datetime import datetime, timedelta

    import numpy as np
    import pandas as pd

    from analytics import ingest

    db = tmp_path / "vigil.duckdb"
    actor = Actor("cli:t", "system")
    schema = LogSchema(columns=(Column("LIMIT_BAL", "double"), Column("SEX", "categorical", role="attribute")),
                       positive_class="default", favourable_decision=0)

    def register(con):
        registry.register_model(con, actor, "m", schema, owner="t")
        registry.register_version(con, actor, "m", "v1", threshold=0.5, owner="t",
                                  at=datetime(2025, 1, 1))
        put_in_status(con, "m", "v1", "champion", at=datetime(2025, 1, 1))
        business.save_definition(con, Actor("ada", "admin"), business.KpiDefinition(
            model="m", currency="USD", selected_decision=0, selected_label="approved", bad_label=1, bad_name="default",
            amount_column="LIMIT_BAL", value_selected_good=0.05, value_selected_bad=-0.25, value_rejected_good=-0.05,
            value_rejected_bad=0.0, fairness_attribute="SEX", targets={}, source="tests"))

    store.write(register, db)
    rng = np.random.default_rng(1)
    score = rng.uniform(0, 1, 48)
    rows = pd.DataFrame({
        "prediction_id": [f"p{i}" for i in range(48)],
        "predicted_at": [datetime(2025, 2, 1) + timedelta(hours=i) for i in range(48)],
        "model_version": "v1", "deployment_role": "champion", "score": score, "decision": (score >= 0.5).astype(int),
        "latency_ms": np.round(rng.uniform(10, 50, 48), 2), "cost": 0.001, "LIMIT_BAL": 1000.0,
        "SEX": rng.choice(["f", "m"], 48)})
    assert ingest.ingest("m", rows, actor=actor, db=db).ok
    assert main(["--db", str(db), "kpis", "refresh", "m"]) == 0
    assert "rebuilt 2 day(s) of serving summaries and 2 day(s) of KPI rollups" in capsys.readouterr().out
    assert main(["--db", str(db), "kpis", "refresh", "m"]) == 0
    assert "rebuilt 0 day(s) of serving summaries and 0 day(s) of KPI rollups" in capsys.readouterr().out
    _check_kpis_show_is_readable(db, capsys)


def _check_kpis_show_is_readable(db, capsys):
    """Issue 13 item 20: ``vigil kpis show`` prints %, whole counts, whole money and "—" with a reason, never
    scientific notation or NaN; ``--format json`` carries the values of :func:`business.kpis` unrounded."""
    from datetime import datetime, timedelta, timezone

    import math

    assert main(["--db", str(db), "kpis", "show", "m", "--days", "36500"]) == 0
    out = capsys.readouterr().out
    assert not any(raw in out for raw in ("e+0", "e-0", "NaN", "None", "nan"))
    rate = next(line for line in out.splitlines() if line.startswith("Approved rate"))
    assert "%" in rate and "0." not in rate.split()[2]
    assert next(line for line in out.splitlines() if line.startswith("Predictions  ")).split()[1] == "48"
    assert "— not computable: no prediction in the window has an outcome yet" in out
    assert main(["--db", str(db), "kpis", "show", "m", "--days", "36500", "--format", "json"]) == 0
    shown = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    now = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
    expected = business.kpis(db, "m", now=now, window=Window(start=now - timedelta(days=36500))).table.set_index("key")
    for key, row in shown.items():
        value = expected.loc[key, "value"]
        assert (row["value"] is None and math.isnan(value)) or row["value"] == value
        assert (row["not_computable"] is None) == (row["value"] is not None)
