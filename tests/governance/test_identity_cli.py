"""Identities cannot be borrowed on the command line (issue 18, section 2): each test performs an attack.

Before: ``vigil governance approve ... --as pat`` approved as pat with no credential at all, and every
other command ran as an all-powerful ``cli:<os user>``. Now a governance or admin command acts for a
person who proved it with a personal API token or a password, and its audit row says so.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from analytics import governance, store, tokens
from analytics.cli import build_parser, main
from gov_support import MODEL, PASSWORD, SYSTEM, loan_template, person, private_copy  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def loan(tmp_path_factory, loan_template):
    """One private copy of the loan store for this module (tests use distinct versions and users)."""
    return private_copy(loan_template, tmp_path_factory.mktemp("identity"))


@pytest.fixture
def no_token(monkeypatch):
    monkeypatch.delenv("VIGIL_TOKEN", raising=False)


def vigil(db, *args) -> int:
    return main(["--db", str(db), *args])


def _status(db, version: str) -> str:
    return store.read(lambda con: con.execute("SELECT status FROM model_versions WHERE model_name = ? AND "
                                              "version = ?", [MODEL, version]).fetchone()[0], db)


def _last_audit(db, action: str) -> tuple[str, str, dict]:
    actor, role, details = store.read(lambda con: con.execute(
        "SELECT actor, role, details FROM audit_log WHERE action = ? ORDER BY seq DESC LIMIT 1", [action]).fetchone(), db)
    return actor, role, json.loads(details)


def _token_file(db, tmp_path: Path, username: str, **kwargs) -> tuple[str, int]:
    issued = store.write(lambda con: tokens.issue_token(con, SYSTEM, username, **kwargs), db)
    path = tmp_path / f"tok-{issued.token_id}"
    path.write_text(issued.text)
    return str(path), issued.token_id


def test_a_name_on_the_command_line_is_not_an_identity(loan, no_token, capsys, monkeypatch):
    """The attack of the review: ``--as pat`` with nothing else. It used to act as pat."""
    assert vigil(loan, "governance", "submit", MODEL, "v2", "--justification", "x") == 1
    assert "acts for a person" in capsys.readouterr().err
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "a guess")
    assert vigil(loan, "governance", "submit", MODEL, "v2", "--as", "ana", "--justification", "x") == 1
    assert "unknown user or wrong password" in capsys.readouterr().err
    assert _status(loan, "v2") == "draft"


def test_a_password_at_the_prompt_proves_the_person_and_the_audit_row_says_so(loan, no_token, monkeypatch):
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": prompts.append(prompt) or PASSWORD)
    assert vigil(loan, "settings", "set", "fairness.dp_ratio_threshold", "0.9", "--as", "adm") == 0
    assert prompts == ["password of adm: "]
    actor, role, details = _last_audit(loan, "setting.change")
    assert (actor, role, details["via"]) == ("adm", "admin", {"channel": "cli", "proof": "password"})


def test_a_token_acts_for_its_holder_only_and_is_recorded(loan, no_token, tmp_path, capsys, monkeypatch):
    store.write(lambda con: governance.transition(con, person("ana"), MODEL, "v2", "submitted"), loan)
    path, token_id = _token_file(loan, tmp_path, "rob")
    assert vigil(loan, "governance", "review", MODEL, "v2", "--token-file", path, "--as", "rae") == 1
    assert "token is rob's, not rae's" in capsys.readouterr().err
    monkeypatch.setenv("VIGIL_TOKEN", Path(path).read_text())
    assert vigil(loan, "governance", "review", MODEL, "v2", "--finding", "fine") == 0
    actor, role, details = _last_audit(loan, "version.in_review")
    assert (actor, role, details["via"]) == ("rob", "reviewer", {"channel": "cli", "proof": f"API token #{token_id}"})


def test_only_the_hash_of_a_token_is_kept_and_the_secret_is_shown_once(loan, no_token, tmp_path, capsys):
    admin, _ = _token_file(loan, tmp_path, "adm")
    assert vigil(loan, "users", "token", "val", "--days", "7", "--token-file", admin) == 0
    shown = capsys.readouterr()
    text = shown.out.strip()
    assert text.startswith("vigil_") and "shown once" in shown.err
    secret = text.split("_", 2)[2]
    stored = store.read(lambda con: str(con.execute("SELECT * FROM api_tokens").fetchall())
                        + str(con.execute("SELECT * FROM audit_log").fetchall()), loan)
    assert secret not in stored and tokens._digest(secret) in stored
    assert vigil(loan, "users", "tokens", "--token-file", admin) == 0
    assert secret not in capsys.readouterr().out


def test_revoked_expired_and_disabled_tokens_are_refused(loan, no_token, tmp_path, capsys):
    admin, _ = _token_file(loan, tmp_path, "adm")
    revoked, revoked_id = _token_file(loan, tmp_path, "pia")
    assert vigil(loan, "users", "revoke-token", str(revoked_id), "--token-file", admin) == 0
    expired, _ = _token_file(loan, tmp_path, "pia", days=1,
                             at=datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=2))
    ann, _ = _token_file(loan, tmp_path, "ann")
    assert vigil(loan, "users", "disable", "ann", "--token-file", admin) == 0
    capsys.readouterr()
    for path, why in ((revoked, "was revoked"), (expired, "expired on"), (ann, "is disabled")):
        assert vigil(loan, "governance", "submit", MODEL, "v3", "--token-file", path, "--justification", "x") == 1
        assert why in capsys.readouterr().err
    forged = tmp_path / "forged"
    forged.write_text(f"vigil_{revoked_id + 100}_" + "A" * 43)
    assert vigil(loan, "governance", "submit", MODEL, "v3", "--token-file", str(forged), "--justification", "x") == 1
    assert "not valid" in capsys.readouterr().err
    assert _status(loan, "v3") == "draft"
    refused = store.read(lambda con: con.execute(
        "SELECT actor, object_id, json_extract_string(details, '$.reason') FROM audit_log "
        "WHERE action = 'auth.token_refused' ORDER BY seq").fetchall(), loan)
    assert refused == [("pia", str(revoked_id), "revoked"), ("pia", str(revoked_id + 1), "expired"),
                       ("ann", str(revoked_id + 2), "account disabled"),
                       ("unknown token", str(revoked_id + 100), "unknown or wrong token")]


def test_a_token_acts_in_the_role_its_user_has_now(loan, no_token, tmp_path, capsys):
    admin, _ = _token_file(loan, tmp_path, "adm")
    val, _ = _token_file(loan, tmp_path, "val")
    assert vigil(loan, "users", "token", "val", "--token-file", val) == 1  # a viewer issues no token
    assert "may not manage users" in capsys.readouterr().err
    assert vigil(loan, "users", "set-role", "val", "admin", "--token-file", admin) == 0
    assert vigil(loan, "users", "list", "--token-file", val) == 0
    assert vigil(loan, "users", "set-role", "val", "viewer", "--token-file", admin) == 0
    assert vigil(loan, "users", "list", "--token-file", val) == 1


def test_the_owner_of_the_file_sets_the_store_up_and_only_until_it_has_an_admin(tmp_path, no_token, capsys):
    db = tmp_path / "new.duckdb"
    assert vigil(db, "init") == 0
    assert "no admin yet" in capsys.readouterr().out
    assert vigil(db, "users", "add", "eve", "--role", "analyst") == 1  # the first user is an admin
    assert vigil(db, "users", "add", "ada", "--role", "admin") == 0
    assert vigil(db, "users", "add", "mal", "--role", "admin") == 1  # set-up is over
    assert "acts for a person" in capsys.readouterr().err
    rows = store.read(lambda con: con.execute("SELECT action, actor, role, details FROM audit_log ORDER BY seq")
                      .fetchall(), db)
    assert [(a, r) for a, _, r, _ in rows] == [("store.init", "system"), ("user.add", "system")]
    assert all(actor.startswith("owner:") for _, actor, _, _ in rows)
    assert all(json.loads(d)["via"] == {"channel": "cli", "proof": "owner of the store file"} for *_, d in rows)


#: Commands that act for nobody in particular: they read (the user's own files or the store), write data
#: as the service process of the OS account (ingest, monitor, refresh, logged attributions), or set the
#: store up as its owner (init, demo). Every other command must be declared with ``needs_person``.
NO_PERSON = {
    "init", "info", "demo", "ingest", "audit verify", "audit list", "audit export", "audit anchor export", "drift", "fairness",
    "explain global", "explain trace", "explain counterfactuals", "explain errors", "explain log-attributions",
    "governance status", "governance evidence", "governance dossier", "models list", "models show", "models card",
    "monitor", "rules list", "alerts list", "refresh", "summarise", "deployments refresh", "kpis", "deployments compare", "deployments status",
    "settings list", "settings get",
    # compliance: reads; ``plan --record`` proves a person itself (as ``models card --file``); ``remind`` queues
    # and sends notifications as the service process, like ``monitor``.
    "compliance plan", "compliance clocks", "compliance report", "compliance risk", "compliance calendar",
    "compliance remind",
    # reports and retention: reads, and the cron side (render and send each due report once; remove what an
    # admin's policy says has expired) as the service process, like ``monitor``.
    "reports list", "reports runs", "reports verify", "reports run", "retention show", "retention apply",
    # backup and restore copy and put back the store's files: the owner of the files does it (whoever can read
    # them can copy them anyway), audited as the owner, like init.
    "backup", "restore",
}


def _leaves(parser: argparse.ArgumentParser, prefix: str = ""):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix.strip(), parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaves(child, f"{prefix} {name}")


def test_every_command_that_is_not_read_only_needs_a_person():
    """A new command is either declared with ``cli_identity.needs_person`` or listed in :data:`NO_PERSON`
    (with the reason it needs nobody). ``channels list`` shows targets, so it needs a person as well."""
    unlisted = []
    for name, parser in _leaves(build_parser()):
        needs = parser.get_default("needs_person")
        if not needs and name not in NO_PERSON and name.split(" ")[0] not in NO_PERSON:
            unlisted.append(name)
        if needs:
            assert parser.get_default("as_user") is None and "--token-file" in parser._option_string_actions, name
    assert not unlisted, f"commands that change state without a proven person: {unlisted}"
    assert {"governance approve", "users add", "users token", "settings set", "rules add",
            "deployments plan"} <= {n for n, p in _leaves(build_parser()) if p.get_default("needs_person")}
