"""``vigil explain``: the command line prints what analytics computes."""

from __future__ import annotations

from explain_support import MODEL, lite_db, lite_template  # noqa: F401 - fixtures

from analytics import cli, explain, store
from analytics.explain._trace import MASK


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


def test_global_of_a_version_without_predictions_is_not_drift(lite_db, capsys):
    """It printed "Spearman nan; ATTRIBUTION DRIFT" and failed the gate; nothing to compare cannot be judged (exit 4)."""
    from analytics import registry, store
    from analytics.roles import Actor

    def twin(con):  # v3: v1's model and reference, never served
        v1, actor = registry.get_version(con, MODEL, "v1"), Actor("cli:tests", "system")
        registry.register_version(con, actor, MODEL, "v3", threshold=0.5, owner="risk",
                                  artifact_path=v1["artifact_path"], artifact_sha256=v1["artifact_sha256"])
        registry.load_reference(con, actor, MODEL, "v3", registry.reference_frame(con, MODEL, "v1"))

    store.write(twin, lite_db)
    assert cli.main(["--db", str(lite_db), "explain", "global", MODEL, "--version", "v3", "--rows", "200",
                     "--fail-on-drift"]) == 4
    assert "no prediction of credit-lite:v3 in its log, so there is nothing to explain" in capsys.readouterr().err


SENSITIVE = ("AGE", "EDUCATION", "MARRIAGE", "SEX")


def _masked_lines(out: str) -> dict[str, bool]:
    """Whether each sensitive feature's row of the printed explanation shows the mask instead of a value."""
    return {line.split()[0]: MASK in line for line in out.splitlines()
            if line.split() and line.split()[0] in SENSITIVE}


def test_row_level_sensitive_values_only_for_a_proven_role_that_may_see_them(lite_template, tmp_path, capsys,
                                                                            as_person):
    """The attack: ``vigil explain trace`` printed a row's AGE and EDUCATION to whoever ran it, and
    ``vigil explain errors`` grew its tree on them. Now: masked and left out unless a token proves a
    role with ``see_sensitive_rows``."""
    db = str(store.copy_store(lite_template, tmp_path / "copy"))
    pid = explain.find_predictions(db, MODEL, version="v1", decision=1, limit=1)["prediction_id"].iloc[0]
    for who, masked in ((None, True), ("analyst", True), ("reviewer", False)):
        proof = as_person(db, who) if who else []
        if who != "analyst":  # (the analyst's trace masks as the anonymous one does; one trace less to compute)
            assert cli.main(["--db", db, "explain", "trace", MODEL, pid, *proof]) == 0
            shown = _masked_lines(capsys.readouterr().out)
            assert shown and set(shown.values()) == {masked}, (who, shown)
        assert cli.main(["--db", db, "explain", "errors", MODEL, "--depth", "3", *proof]) == 0
        out = capsys.readouterr().out
        assert ("left out of the tree's inputs" in out) == masked, who
        rules = out.split("tree depth", 1)[1]
        assert any(f" {name} " in rules for name in SENSITIVE) != masked, (who, rules)
