"""The ``vigil`` command refuses bad input with a message that says what is wrong (issue 13, items 13-16, 22)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics import logschema, users
from analytics.cli import main
from analytics.errors import InvalidInputError

ANALYTICS = Path(__file__).resolve().parents[1] / "analytics"


@pytest.mark.parametrize("command", [["info"], ["audit", "verify"], ["governance", "status"], ["users", "list"],
                                     ["kpis", "show", "m"], ["drift", "--model", "m", "--start", "2026-01-01",
                                                             "--end", "2026-01-02"],
                                     ["fairness", "--model", "m"], ["explain", "errors", "m"]])
def test_a_missing_store_is_refused_and_named_not_created(tmp_path, capsys, command):
    typo = tmp_path / "typo.duckdb"
    assert main(["--db", str(typo), *command]) == 1
    err = capsys.readouterr().err
    assert f"there is no store at {typo}" in err and "vigil" in err and "init" in err
    assert not typo.exists()


def test_init_creates_the_store_and_a_directory_is_refused(tmp_path, capsys):
    target = tmp_path / "new" / "vigil.duckdb"
    assert main(["--db", str(target), "init"]) == 0
    assert target.exists() and "(created)" in capsys.readouterr().out
    assert main(["--db", str(tmp_path), "info"]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("check", [logschema.check_identifier, logschema.check_model_name, users.check_username])
def test_identifier_checks_refuse_a_trailing_newline(check):
    with pytest.raises(InvalidInputError):
        check("credit\n")


def test_every_insert_names_its_columns():
    """``INSERT INTO t VALUES``/``SELECT *`` breaks silently when a migration reorders or adds columns."""
    missing = []
    for path in ANALYTICS.rglob("*.py"):
        text = path.read_text()
        for match in re.finditer(r"INSERT\s+INTO\s+(\{[^}]+\}|[\w.]+)\s*(\S)", text):
            if match.group(2) != "(":
                missing.append(f"{path.relative_to(ANALYTICS)}: {match.group(0)}")
    assert not missing, missing
