"""Bad files and out-of-range days get a message saying what is wrong and what to do, never the generic
"error: unexpected <Exception>" line (issue 13 item 14): each case runs ``vigil`` in-process."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics import ingest, store, tokens, users
from analytics.cli import main
from analytics.roles import Actor


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A store (``vigil init``) and a folder of broken inputs beside it."""
    root = tmp_path_factory.mktemp("cli_files")
    db = root / "vigil.duckdb"
    assert main(["--db", str(db), "init"]) == 0
    admin = Actor("cli:tests", "system")
    store.write(lambda con: users.add_user(con, admin, "ada", "admin"), db)
    (root / "token").write_text(store.write(lambda con: tokens.issue_token(con, admin, "ada", label="tests"), db).text)
    (root / "bad.json").write_text("{not json")
    (root / "array.json").write_text("[1, 2]")
    (root / "wrong.json").write_text(json.dumps({"currency": "USD", "nope": 1}))
    (root / "types.json").write_text(json.dumps({
        "currency": 5, "selected_decision": 0, "selected_label": "approved", "bad_label": 1, "bad_name": "default",
        "amount_column": None, "value_selected_good": "much", "value_selected_bad": -1, "value_rejected_good": 0,
        "targets": [0.8]}))
    (root / "latin1.json").write_bytes('{"currency": "\xe9"}'.encode("latin-1"))
    (root / "folder").mkdir()
    (root / "garbage.duckdb").write_text("not a database\n" * 50)
    (root / "empty.duckdb").write_bytes(b"")
    (root / "short.parquet").write_bytes(b"junk")
    with open(root / "wide.csv", "w") as handle:  # a 5 MB header line
        handle.write(",".join(f"c{i}" for i in range(700_000))[:5_000_000] + "\n1,2\n")
    return root


CASES = {
    "kpis define, missing file": (["kpis", "define", "m", "--file", "{root}/missing.json"], "does not exist"),
    "kpis define, invalid JSON": (["kpis", "define", "m", "--file", "{root}/bad.json"], "is not valid JSON"),
    "kpis define, an array": (["kpis", "define", "m", "--file", "{root}/array.json"], "holds a list"),
    "kpis define, wrong fields": (["kpis", "define", "m", "--file", "{root}/wrong.json"], "unknown field 'nope'"),
    "kpis define, wrong types": (["kpis", "define", "m", "--file", "{root}/types.json"],
                                 "value_selected_good must be a finite number"),
    "kpis define, not UTF-8": (["kpis", "define", "m", "--file", "{root}/latin1.json"], "is not UTF-8 text"),
    "kpis define, a folder": (["kpis", "define", "m", "--file", "{root}/folder"], "is a folder"),
    "dossier to a folder": (["governance", "dossier", "m", "v1", "--html", "{root}/folder"], "is a folder"),
    "dossier PDF to a folder": (["governance", "dossier", "m", "v1", "--pdf", "{root}/folder"], "is a folder"),
    "dossier into a missing folder": (["governance", "dossier", "m", "v1", "--html", "{root}/nowhere/d.html"],
                                      "does not exist"),
    "audit export to a folder": (["audit", "export", "--output", "{root}/folder"], "is a folder"),
    "--db a garbage file": (["--db", "{root}/garbage.duckdb", "info"], "is not a Vigil store"),
    "--db an empty file": (["--db", "{root}/empty.duckdb", "info"], "is not a Vigil store"),
    "init over a garbage file": (["--db", "{root}/garbage.duckdb", "init"], "is not a Vigil store"),
    "drift, a 5 MB CSV header": (["drift", "{root}/wide.csv", "{root}/wide.csv"], "header line of wide.csv is longer"),
    "fairness, a 5 MB CSV header": (["fairness", "{root}/wide.csv", "--y-true", "c0", "--y-pred", "c1",
                                     "--sensitive", "c2"], "header line of wide.csv is longer"),
    "drift of a window from year 1": (["drift", "--model", "m", "--start", "0001-01-01", "--end", "9999-12-31"],
                                      "out of range"),
    "monitor at year 1": (["monitor", "--at", "0001-01-01"], "out of range"),
    "rules add, not UTF-8": (["rules", "add", "{root}/latin1.json"], "is not UTF-8 text"),
    "rules add, a folder": (["rules", "add", "{root}/folder"], "is a folder"),
    "model card, not UTF-8": (["models", "card", "m", "--file", "{root}/latin1.json"], "is not UTF-8 text"),
    "fairness, --start after --end": (["fairness", "--model", "m", "--start", "2026-10-05", "--end", "2026-10-01"],
                                      "--start 2026-10-05 is after --end 2026-10-01"),
    "fairness, --sensitive with --model": (["fairness", "--model", "m", "--sensitive", "nope"],
                                           "--sensitive applies only to a DATA file"),
    "monitor of an unknown model": (["monitor", "--model", "nomodel"], "model 'nomodel' is not registered"),
    "alerts of an unknown model": (["alerts", "list", "--model", "nomodel"], "model 'nomodel' is not registered"),
    "silence of an unknown model": (["alerts", "silence", "nomodel", "--hours", "1", "--reason", "r"],
                                    "model 'nomodel' is not registered"),
    "attributions, missing file": (["explain", "log-attributions", "m", "{root}/missing.parquet"], "does not exist"),
    "attributions, not Parquet": (["explain", "log-attributions", "m", "{root}/short.parquet"],
                                  "cannot be read as PARQUET"),
    "attributions, a 5 MB CSV header": (["explain", "log-attributions", "m", "{root}/wide.csv"],
                                        "header line of wide.csv is longer"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_explained(files, capsys, monkeypatch, case):
    """Commands that act for a person run as the admin ada: the file is what is wrong, not the identity."""
    monkeypatch.setenv("VIGIL_TOKEN", (files / "token").read_text())
    argv, expected = CASES[case]
    argv = [a.format(root=files) for a in argv]
    if argv[0] != "--db":
        argv = ["--db", str(files / "vigil.duckdb"), *argv]
    code = main(argv)
    err = capsys.readouterr().err
    assert code in (1, 2) and "unexpected" not in err, err
    assert expected in err, err
    assert len(err) < 1_000, "a message, not a page of parser output"


def test_demo_end_out_of_range_is_a_usage_error(capsys):
    for day in ("garbage", "0001-01-01"):
        with pytest.raises(SystemExit) as exit_:
            main(["--db", "/nonexistent/x.duckdb", "demo", "--end", day])
        assert exit_.value.code == 2 and "--end" in capsys.readouterr().err


def test_an_os_error_names_the_file(tmp_path, capsys, monkeypatch):
    """The last-resort handler: a file error the commands did not foresee still names the file."""
    from analytics import cli_core

    def fails(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked.csv"))

    monkeypatch.setattr(cli_core, "cmd_info", fails)
    assert main(["--db", str(tmp_path / "x.duckdb"), "info"]) == 1
    err = capsys.readouterr().err
    assert "locked.csv" in err and "permission denied" in err and "unexpected" not in err


def test_a_float16_column_is_ingested(toy, tmp_path, capsys):
    rows = toy.predictions(20)
    rows["income"] = rows["income"].astype(np.float16)
    rows["score"] = rows["score"].astype(np.float16)
    path = tmp_path / "half.parquet"
    rows.to_parquet(path)
    assert main(["--db", str(toy.db), "ingest", toy.name, str(path), "--no-refresh"]) == 0, capsys.readouterr().err
    assert toy.counts()["visible"] == 20


def test_a_header_with_many_unknown_columns_is_refused_quickly(toy):
    """Counting repeats was quadratic in the columns (a 5 MB header took minutes); only 20 are named."""
    frame = toy.predictions(2)
    extra = pd.DataFrame(np.zeros((2, 3_000)), columns=[f"x{i}" for i in range(3_000)])
    with pytest.raises(Exception) as refused:
        ingest.ingest(toy.name, pd.concat([frame, extra], axis=1), db=toy.db)
    assert "and 2,980 more unexpected columns" in str(refused.value)


def test_a_fairness_file_has_no_days_to_print(tmp_path, capsys):
    """A file has no time window: its header said 'days None to None (UTC)'."""
    data = tmp_path / "fair.csv"
    data.write_text("y,p,s\n" + "1,1,a\n0,0,b\n" * 40)
    assert main(["fairness", str(data), "--y-true", "y", "--y-pred", "p", "--sensitive", "s", "--n-boot", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("file: 80 predictions, 80 with outcomes; favourable decision = 1") and "None" not in out
