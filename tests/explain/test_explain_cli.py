"""``vigil explain``: the command line prints what analytics computes."""

from __future__ import annotations

from explain_support import MODEL, lite_template  # noqa: F401 - fixtures

from analytics import cli, explain


def test_trace_counterfactuals_errors_and_global(lite_template, capsys):
    db = str(lite_template)
    pid = explain.find_predictions(db, MODEL, version="v1", decision=1, limit=1)["prediction_id"].iloc[0]
    assert cli.main(["--db", db, "explain", "trace", MODEL, pid]) == 0
    out = capsys.readouterr().out
    assert "additivity error" in out and "audit entries of credit-lite:v1" in out
    assert cli.main(["--db", db, "explain", "counterfactuals", MODEL, pid, "--answers", "2"]) == 0
    assert "validity 100%" in capsys.readouterr().out
    assert cli.main(["--db", db, "explain", "errors", MODEL, "--depth", "2"]) == 0
    assert "error rate" in capsys.readouterr().out
    assert cli.main(["--db", db, "explain", "global", MODEL, "--rows", "500", "--fail-on-drift"]) == 0
    assert "no attribution drift" in capsys.readouterr().out
    assert cli.main(["--db", db, "explain", "trace", MODEL, "nope"]) == 1
