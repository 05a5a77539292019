"""``vigil monitor``, ``vigil rules``, ``vigil channels`` and ``vigil alerts`` (as the operator, audited).

Usage::

    vigil monitor [--model M] [--at TIME]                # one pass: the last complete window of each rule
    vigil monitor --replay START END                     # every window from START to END, in order
    vigil monitor --loop SECONDS                         # a pass every SECONDS until interrupted
    vigil rules list [--model M] [--format table|json]
    vigil rules add FILE                                 # a JSON rule file: one rule object or a list
    vigil rules defaults MODEL                           # the default rules of a model (docs/alerts.md)
    vigil rules edit RULE_ID --set FIELD=VALUE ...       # e.g. --set min_rows=500 --set warning='{"k": 4}'
    vigil rules disable|enable RULE_ID
    vigil channels add NAME --kind webhook|slack|email|pagerduty --target URL_OR_ADDRESS [--secret-env VAR]
                           [--option KEY=VALUE ...]
    vigil channels list | test NAME | remove NAME
    vigil alerts list [--model M] [--all] | ack ID --assignee USER --comment TEXT | resolve ID --note TEXT
    vigil alerts silence MODEL --hours H --reason TEXT [--rule RULE_ID]

Secrets are read from an environment variable (``--secret-env``), never from the command line, and
never printed back.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime
from pathlib import Path

from analytics import alerts, registry, store
from analytics.input_files import read_text
from analytics.cli_support import checked_float, checked_int, store_path
from analytics.alerts._rules import Rule
from analytics.errors import InvalidInputError
from analytics.cli_identity import needs_person
from analytics.timebounds import check_day


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)") from None
    check_day(value, "the time")
    return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone().replace(tzinfo=None)


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _known_model(db, model: str | None) -> None:
    """Refuse ``--model`` naming no registered model (it evaluated 0 windows, or listed 'no alerts', and exited 0)."""
    if model:
        store.read(lambda con: registry.get_model(con, model), db)


def cmd_monitor(args: argparse.Namespace) -> int:
    """Run ``vigil monitor``."""
    db = store_path(args)
    _known_model(db, args.model)
    if args.replay:
        start, end = (_time(t) for t in args.replay)
        if end <= start:
            raise InvalidInputError("--replay START END needs END after START")
        print(alerts.monitor(db, at=end, since=start, model=args.model).summary())
        return 0
    if args.loop:
        if args.loop < 10:
            raise InvalidInputError("--loop needs at least 10 seconds between passes")
        while True:
            print(alerts.monitor(db, model=args.model).summary(), flush=True)
            time.sleep(args.loop)
    at = _time(args.at) if args.at else None
    print(alerts.monitor(db, at=at, model=args.model).summary())
    return 0


def _load_rules(path: str) -> list[Rule]:
    try:
        data = json.loads(read_text(path, "rule file"))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}") from None
    return [Rule.from_dict(d) for d in (data if isinstance(data, list) else [data])]


def cmd_rules(args: argparse.Namespace) -> int:
    """Run one ``vigil rules`` action."""
    db, actor = store_path(args), getattr(args, "actor", None)
    if args.action == "list":
        frame = store.read(lambda con: alerts.rules_table(con, model=args.model), db)
        if args.format == "json":
            rules = store.read(lambda con: alerts.rules(con, model=args.model), db)
            print(json.dumps([r.to_dict() for r in rules], indent=2))
        else:
            print(frame.drop(columns=["runbook", "updated_at"]).to_string(index=False) if len(frame) else "no rules yet")
        return 0
    if args.action in ("add", "defaults"):
        def work(con):
            rules = _load_rules(args.file) if args.action == "add" else alerts.default_rules(con, args.model)
            return [(r.rule_id, alerts.save_rule(con, actor, r)) for r in rules]

        for rule_id, what in store.write(work, db):
            print(f"{what} rule {rule_id}")
        return 0
    if args.action == "edit":
        changes = {}
        for item in args.set or []:
            key, sep, raw = item.partition("=")
            if not sep:
                raise InvalidInputError(f"--set {item!r}: use FIELD=VALUE")
            changes[key.strip()] = _value(raw)

        def edit(con):
            rule = alerts.get_rule(con, args.rule_id)
            merged = Rule.from_dict({**rule.to_dict(), **changes})
            return alerts.save_rule(con, actor, merged)

        store.write(edit, db)
        print(f"edited rule {args.rule_id}: {', '.join(sorted(changes)) or 'nothing changed'}")
        return 0
    enabled = args.action == "enable"
    store.write(lambda con: alerts.set_enabled(con, actor, args.rule_id, enabled), db)
    print(f"{args.action}d rule {args.rule_id}")
    return 0


def cmd_channels(args: argparse.Namespace) -> int:
    """Run one ``vigil channels`` action."""
    db, actor = store_path(args), getattr(args, "actor", None)
    if args.action == "list":
        frame = store.read(lambda con: alerts.channels_table(con, actor), db)
        print(frame.drop(columns=["created_at"]).to_string(index=False) if len(frame) else "no channels yet")
    elif args.action == "add":
        secret = None
        if args.secret_env:
            secret = os.environ.get(args.secret_env)
            if not secret:
                raise InvalidInputError(f"environment variable {args.secret_env} is empty or unset")
        options = {}
        for item in args.option or []:
            key, sep, raw = item.partition("=")
            if not sep:
                raise InvalidInputError(f"--option {item!r}: use KEY=VALUE")
            options[key.strip()] = _value(raw)
        store.write(lambda con: alerts.add_channel(con, actor, args.name, args.kind, args.target, secret=secret,
                                                   options=options), db)
        print(f"added channel {args.name} ({args.kind})")
    elif args.action == "test":
        print(f"channel {args.name}: {alerts.try_channel(db, actor, args.name)}")
    elif args.action == "remove":
        store.write(lambda con: alerts.remove_channel(con, actor, args.name), db)
        print(f"removed channel {args.name}")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """Run one ``vigil alerts`` action."""
    db, actor = store_path(args), getattr(args, "actor", None)
    if args.action == "list":
        _known_model(db, args.model)
        states = None if args.all else ("pending", "firing", "acknowledged")
        frame = store.read(lambda con: alerts.alerts_table(con, model=args.model, states=states), db)
        columns = ["alert_id", "state", "severity", "model", "version", "rule_id", "value", "bound", "window_end",
                   "assignee", "muted_by"]
        shown = frame[columns].astype(object).where(frame[columns].notna(), "")
        print(shown.to_string(index=False) if len(frame) else "no alerts")
    elif args.action == "ack":
        store.write(lambda con: alerts.acknowledge(con, actor, args.alert_id, assignee=args.assignee,
                                                   comment=args.comment), db)
        print(f"acknowledged alert {args.alert_id} (assigned to {args.assignee})")
    elif args.action == "resolve":
        store.write(lambda con: alerts.resolve(con, actor, args.alert_id, note=args.note), db)
        print(f"resolved alert {args.alert_id}")
    elif args.action == "silence":
        sid = store.write(lambda con: alerts.silence(con, actor, args.model, hours=args.hours, reason=args.reason,
                                                     rule_id=args.rule), db)
        print(f"silence {sid}: {args.model}{' rule ' + args.rule if args.rule else ''} for {args.hours:g} h")
    if args.action in ("ack", "resolve"):
        alerts.dispatch(db)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``monitor``, ``rules``, ``channels`` and ``alerts`` to the ``vigil`` parser."""
    mon = sub.add_parser("monitor", help="evaluate every alert rule once (idempotent per window)")
    mon.add_argument("--model", help="only this model's rules")
    mode = mon.add_mutually_exclusive_group()
    mode.add_argument("--at", help="evaluate as of this UTC time (default now)")
    mode.add_argument("--replay", nargs=2, metavar=("START", "END"), help="evaluate every window from START to END")
    mode.add_argument("--loop", type=checked_float(1, 7 * 86_400), metavar="SECONDS", help="a pass every SECONDS until interrupted")
    mon.set_defaults(func=cmd_monitor)

    rules = sub.add_parser("rules", help="alert rules")
    rsub = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = rsub.add_parser("list", help="list rules")
    lst.add_argument("--model")
    lst.add_argument("--format", choices=["table", "json"], default="table")
    needs_person(rsub.add_parser("add", help="add or replace rules from a JSON rule file")).add_argument("file")
    needs_person(rsub.add_parser("defaults", help="add a model's default rules")).add_argument("model")
    edit = needs_person(rsub.add_parser("edit", help="change fields of a rule"))
    edit.add_argument("rule_id")
    edit.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a field and its JSON value")
    for action in ("disable", "enable"):
        needs_person(rsub.add_parser(action, help=f"{action} a rule")).add_argument("rule_id")
    rules.set_defaults(func=cmd_rules)

    ch = sub.add_parser("channels", help="notification channels")
    csub = ch.add_subparsers(dest="action", required=True, metavar="ACTION")
    needs_person(csub.add_parser("list", help="list channels (secrets never shown)"))
    add = needs_person(csub.add_parser("add", help="add a channel"))
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=list(alerts.KINDS))
    add.add_argument("--target", required=True, help="URL, or e-mail address for email")
    add.add_argument("--secret-env", help="environment variable holding the secret (HMAC key, routing key, password)")
    add.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="models, min_severity, escalation, host, port, sender, starttls, username")
    for action in ("test", "remove"):
        needs_person(csub.add_parser(action, help=f"{action} a channel")).add_argument("name")
    ch.set_defaults(func=cmd_channels)

    al = sub.add_parser("alerts", help="alerts: list, acknowledge, resolve, silence")
    asub = al.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = asub.add_parser("list", help="open alerts (--all: also resolved)")
    lst.add_argument("--model")
    lst.add_argument("--all", action="store_true")
    ack = needs_person(asub.add_parser("ack", help="acknowledge a firing alert"))
    ack.add_argument("alert_id", type=checked_int(1))
    ack.add_argument("--assignee", required=True)
    ack.add_argument("--comment", required=True)
    res = needs_person(asub.add_parser("resolve", help="resolve an alert with a note"))
    res.add_argument("alert_id", type=checked_int(1))
    res.add_argument("--note", required=True)
    sil = needs_person(asub.add_parser("silence", help="mute a model's notifications for a time"))
    sil.add_argument("model")
    sil.add_argument("--hours", type=checked_float(0, 366 * 24), required=True)
    sil.add_argument("--reason", required=True)
    sil.add_argument("--rule")
    al.set_defaults(func=cmd_alerts)
