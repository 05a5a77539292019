"""The ``vigil`` command refuses bad input with a message that says what is wrong (issue 13, items 13-16, 22)."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
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
        for match in re.finditer(r"INSERT\s+(?:OR\s+(?:REPLACE|IGNORE)\s+)?INTO\s+(\{[^}]+\}|[\w.]+)\s*(\S)", text):
            if match.group(2) != "(":
                missing.append(f"{path.relative_to(ANALYTICS)}: {match.group(0)}")
    assert not missing, missing


def _numeric_options(parser, path=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _numeric_options(sub, (*path, name))
        elif action.type in (int, float):
            yield " ".join(path), action.option_strings or action.dest


def test_every_numeric_option_is_checked():
    """``--amount inf``, ``--days -1``, ``--days 1e9``, ``--limit -1``, ``--depth -1``: refused by the parser (item 13)."""
    from analytics.cli import build_parser

    assert not list(_numeric_options(build_parser()))


@pytest.mark.parametrize("argv", [["kpis", "infra-cost", "m", "--amount", "inf"], ["kpis", "show", "m", "--days", "-1"],
                                  ["kpis", "show", "m", "--days", "1e9"], ["audit", "list", "--limit", "-1"],
                                  ["explain", "errors", "m", "--depth", "-1"]])
def test_out_of_range_numbers_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and ("out of range" in err or "not a" in err)


def _commands(parser) -> dict:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_command_parses_from_its_own_parser_and_the_full_one_lists_them_all():
    """``vigil --help`` lists every command, the core ones (:data:`analytics.cli.CORE_COMMANDS`, exactly those
    :mod:`analytics.cli_core` adds) first; each command's own parser (``vigil COMMAND --help``) has it with the
    same actions as the full parser's."""
    from analytics import cli

    full = _commands(cli.build_parser())
    core = [name for name in full if name in cli.CORE_COMMANDS]
    assert tuple(list(full)[:len(cli.CORE_COMMANDS)]) == cli.CORE_COMMANDS == tuple(core)
    for name, parser in full.items():
        own = _commands(cli.build_parser(name))[name]
        assert own.format_help() == parser.format_help(), name


def test_the_drift_gate_builds_its_parser_without_the_core_commands():
    """``vigil drift`` (the CI gate) imports neither the core commands' module nor the ingest, users or tokens."""
    code = ("import sys; from analytics.cli import build_parser; build_parser('drift'); "
            "print(sorted(m for m in ('analytics.cli_core', 'analytics.ingest', 'analytics.users', 'analytics.tokens', "
            "'analytics.governance') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["monitor", "backup"])
def test_a_command_of_a_module_after_governance_builds_its_parser_without_the_core_commands(command):
    """Only governance's own parser takes the core module's ``demo-cards``: the command of a feature module
    listed after governance (alerts, the backup) does not import the core commands' module."""
    code = ("import argparse, sys; from analytics.cli import build_parser; "
            f"sub = next(a for a in build_parser({command!r})._actions if isinstance(a, argparse._SubParsersAction)); "
            f"print({command!r} in sub.choices, 'analytics.cli_core' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split() == ["True", "False"]
