"""The command line: ``vigil audit verify`` finds each kind of tampering and names the first bad row;
``vigil audit list|export``; ``vigil governance`` runs the workflow and refuses what the state machine refuses."""

from __future__ import annotations

import json
import shutil

import duckdb
import pandas as pd
import pytest

from analytics import audit, store
from analytics.cli import main
from gov_support import MODEL, loan_template, private_copy  # noqa: F401 - fixture


@pytest.fixture
def loan(tmp_path, loan_template):
    return private_copy(loan_template, tmp_path)


def vigil(db, *args):
    return main(["--db", str(db), *args])


def _rows(db) -> pd.DataFrame:
    return store.read(lambda con: con.execute("SELECT * FROM audit_log ORDER BY seq").df(), db)


def _rewrite(db, tmp_path, name, change) -> str:
    """Copy the store, let ``change`` edit its audit rows as a frame (as someone with file access could), write back."""
    target = tmp_path / name
    shutil.copytree(db.parent, target)
    path = target / db.name
    con = duckdb.connect(str(path))
    frame = con.execute("SELECT * FROM audit_log ORDER BY seq").df()
    frame = change(frame)
    con.execute("DELETE FROM audit_log")
    con.register("tampered", frame)
    con.execute("INSERT INTO audit_log SELECT * FROM tampered")
    con.close()
    return str(path)


def test_verify_intact_exits_zero_with_the_count(loan, capsys):
    n = len(_rows(loan))
    assert vigil(loan, "audit", "verify") == 0
    assert f"intact: {n:,} rows" in capsys.readouterr().out


def _edit(f):
    f.loc[f["seq"] == 5, "details"] = '{"owner":"mallory"}'
    return f


def _delete(f):
    return f[f["seq"] != 5]


def _insert(f):
    extra = f[f["seq"] == 5].copy()
    extra["actor"] = "mallory"
    f.loc[f["seq"] >= 5, "seq"] += 1
    return pd.concat([f, extra]).sort_values("seq")


def _reorder(f):
    a, b = f.index[f["seq"] == 5][0], f.index[f["seq"] == 6][0]
    cols = [c for c in f.columns if c != "seq"]
    f.loc[a, cols], f.loc[b, cols] = f.loc[b, cols].to_numpy(), f.loc[a, cols].to_numpy()
    return f


def _delete_last(f):
    return f[f["seq"] != f["seq"].max()]


@pytest.mark.parametrize("change, first_bad, why", [
    (_edit, 5, "content does not match"),
    (_delete, 6, "sequence jumps from 4 to 6"),
    (_insert, 5, "content does not match"),   # the inserted row cannot carry a valid hash
    (_reorder, 5, "link to the previous row"),
], ids=["edit", "delete", "insert", "reorder"])
def test_verify_names_the_first_bad_row_and_exits_non_zero(loan, tmp_path, capsys, change, first_bad, why):
    path = _rewrite(loan, tmp_path, change.__name__, change)
    assert vigil(path, "audit", "verify") == 1
    err = capsys.readouterr().err
    assert f"BROKEN at row {first_bad}:" in err and why in err


def test_an_insert_with_recomputed_hashes_is_caught_by_its_missing_authentication(loan, tmp_path, capsys):
    def forge(f):
        f = _insert(f)
        row = f[f["seq"] == 5].iloc[0]
        f.loc[f["seq"] == 5, "row_hash"] = audit.row_hash(5, row["occurred_at"].to_pydatetime(), row["actor"],
                                                          row["role"], row["action"], row["object_type"],
                                                          row["object_id"], row["details"], row["prev_hash"])
        return f

    path = _rewrite(loan, tmp_path, "forge", forge)
    assert vigil(path, "audit", "verify") == 1
    err = capsys.readouterr().err
    assert "BROKEN at row 5" in err and "authentication code" in err


def test_audit_list_and_export_filter_and_carry_the_hashes(loan, tmp_path, capsys):
    assert vigil(loan, "audit", "list", "--action", "user.add", "--object", "ana") == 0
    out = capsys.readouterr().out
    assert "user.add" in out and "ann" not in out.replace("ana", "")
    target = tmp_path / "audit.json"
    assert vigil(loan, "audit", "export", "--format", "json", "--output", str(target)) == 0
    exported = json.loads(target.read_text())
    rows = _rows(loan)
    assert len(exported) == len(rows) and exported[0]["seq"] == rows["seq"].max()
    assert {e["row_hash"] for e in exported} == set(rows["row_hash"])
    assert vigil(loan, "audit", "export", "--format", "csv", "--actor", "nobody") == 0
    assert capsys.readouterr().out.strip().split(",")[0] == "seq"  # a header, no rows


def test_the_workflow_from_the_command_line(loan, tmp_path, capsys, as_person):
    assert vigil(loan, "governance", "submit", MODEL, "v1", *as_person(loan, "ana"), "--justification", "retrained") == 0
    assert "evidence pack #1" in capsys.readouterr().out
    assert vigil(loan, "governance", "review", MODEL, "v1", *as_person(loan, "ana")) == 1
    assert "ana (role analyst) may not review" in capsys.readouterr().err
    assert vigil(loan, "governance", "review", MODEL, "v1", *as_person(loan, "rob"), "--finding", "stable",
                 "--severity", "minor") == 0
    assert vigil(loan, "governance", "approve", MODEL, "v1", *as_person(loan, "val"), "--comment", "ok") == 1
    assert "may not approve" in capsys.readouterr().err
    assert vigil(loan, "governance", "approve", MODEL, "v1", *as_person(loan, "pat"), "--comment", "ok") == 0
    assert vigil(loan, "governance", "submit", MODEL, "v2", *as_person(loan, "pia"), "--justification", "x") == 0
    assert vigil(loan, "governance", "review", MODEL, "v2", *as_person(loan, "rob")) == 0
    assert vigil(loan, "governance", "approve", MODEL, "v2", *as_person(loan, "pia"), "--comment", "mine") == 1
    assert "four eyes: pia submitted loan:v2" in capsys.readouterr().err
    assert vigil(loan, "governance", "approve", MODEL, "v1", *as_person(loan, "pia"), "--comment", "again") == 1
    assert "is approved and cannot become approved" in capsys.readouterr().err
    assert vigil(loan, "governance", "promote", MODEL, "v1", *as_person(loan, "pat")) == 0
    assert vigil(loan, "governance", "status", MODEL) == 0
    assert "champion" in capsys.readouterr().out
    html_path, pdf_path = tmp_path / "d.html", tmp_path / "d.pdf"
    assert vigil(loan, "governance", "dossier", MODEL, "v1", "--html", str(html_path)) == 0
    assert "Governance dossier" in html_path.read_text()
    assert vigil(loan, "audit", "verify") == 0


def test_status_is_a_readable_table_and_json_keeps_full_precision(loan, capsys):
    """Issue 13 item 20: statuses in words, ROC AUC to 3 decimals, no NaN/NaT; ``--format json`` unrounded."""
    from datetime import datetime

    from analytics import governance, registry
    from gov_support import SYSTEM
    from lifecycle_support import put_in_status

    auc = 0.8123456789012345
    store.write(lambda con: (registry.register_version(
        con, SYSTEM, MODEL, "v9", threshold=0.5, owner="ana", parent_version="v3",
        validation_metrics={"roc_auc": auc}, at=datetime(2026, 2, 1)),
        put_in_status(con, MODEL, "v9", "in_review", at=datetime(2026, 2, 1))), loan)
    assert vigil(loan, "governance", "status", MODEL) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(f"{MODEL}  ") and " v9 " in line)
    assert "in review" in row and "0.812 " in row + " " and "not serving" in row and "2026-02-01 00:00" in row
    assert "validation ROC AUC" in out and "never deployed" in out
    assert not any(raw in out for raw in ("NaN", "NaT", "None", "in_review", "0.8123"))
    assert vigil(loan, "governance", "status", MODEL, "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    expected = store.read(governance.registry_table, loan)
    assert [v["version"] for v in shown["versions"]] == expected["version"].tolist()
    assert next(v for v in shown["versions"] if v["version"] == "v9")["validation_roc_auc"] == auc
    assert shown["deployment_history"] == []
    assert vigil(loan, "governance", "status", "nomodel") == 1
    assert "'nomodel' is not registered" in capsys.readouterr().err
