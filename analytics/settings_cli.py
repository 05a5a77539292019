"""``vigil settings``: list, read, change and reset the thresholds and targets, globally or per model.

Examples::

    vigil settings list                                  # every setting: value, default, range
    vigil settings list --model loan-default             # as in effect for one model
    vigil settings get fairness.dp_ratio_threshold --model loan-default
    vigil settings set fairness.dp_ratio_threshold 0.85 --model loan-default
    vigil settings unset fairness.dp_ratio_threshold --model loan-default

Changes need a proven admin (an API token in ``VIGIL_TOKEN`` or ``--token-file``, or ``--as USER`` with
a password prompt; see :mod:`analytics.cli_identity`); each is audited with its old and new value in the same transaction. A bad value is refused with the range
the setting allows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analytics import cli_identity, settings, store
from analytics.cli_support import store_path
from analytics.governance.cli import _actor
from analytics.registry import get_model
from analytics.settings_catalog import catalog, lookup


def _db(args: argparse.Namespace) -> Path:
    return store_path(args)


def _scope(model: str | None) -> str:
    return f"for model {model}" if model else "globally"


def cmd_list(args: argparse.Namespace) -> int:
    known = catalog()

    def work(con):
        if args.model:
            get_model(con, args.model)
        return settings.table(con, model=args.model)

    frame = store.read(work, _db(args))
    rows = [(key, settings.format_value(known[key], value), source, settings.format_value(known[key], default),
             known[key].allowed()) for key, value, source, default in
            zip(frame["key"], frame["value"], frame["source"], frame["default"])]
    header = ("setting", "value", "from", "default", "allowed")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"settings {'for model ' + args.model if args.model else '(global)'}:")
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    setting = lookup(args.key)

    def work(con):
        if args.model:
            get_model(con, args.model)
        return settings.get(con, args.key, model=args.model)

    value = store.read(work, _db(args))
    print(f"{args.key} = {settings.format_value(setting, value)} {_scope(args.model)}")
    print(f"  {setting.description}")
    print(f"  default {settings.format_value(setting, setting.default)}; allowed: {setting.allowed()}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    setting = lookup(args.key)
    value = setting.parse(args.value)
    actor = _actor(args)

    after = store.write(lambda con: settings.set_value(con, actor, args.key, value, model=args.model), _db(args))
    print(f"{args.key} = {settings.format_value(setting, after)} {_scope(args.model)} (audited)")
    return 0


def cmd_unset(args: argparse.Namespace) -> int:
    setting = lookup(args.key)
    actor = _actor(args)
    after = store.write(lambda con: settings.unset(con, actor, args.key, model=args.model), _db(args))
    falls_back = "the global value" if args.model else "the default"
    print(f"{args.key} unset {_scope(args.model)}; now {settings.format_value(setting, after)} ({falls_back}; audited)")
    return 0


def add_commands(sub) -> None:
    """Add ``vigil settings`` with its actions list, get, set and unset."""
    parser = sub.add_parser("settings", help="thresholds and targets, globally or per model",
                            description="List, read, change or reset settings. Changes need an admin and are audited.")
    actions = parser.add_subparsers(dest="settings_command", required=True, metavar="ACTION")
    p = actions.add_parser("list", help="every setting with its value, default and allowed range")
    p.add_argument("--model", help="show the values in effect for this model")
    p.set_defaults(func=cmd_list)
    p = actions.add_parser("get", help="one setting's value, meaning, default and range")
    p.add_argument("key")
    p.add_argument("--model")
    p.set_defaults(func=cmd_get)
    p = actions.add_parser("set", help="change a setting globally or for one model (admins; audited)")
    p.add_argument("key")
    p.add_argument("value")
    p.add_argument("--model", help="set it for this model only")
    cli_identity.needs_person(p)
    p.set_defaults(func=cmd_set)
    p = actions.add_parser("unset", help="remove a global value (back to the default) or a model's override")
    p.add_argument("key")
    p.add_argument("--model")
    cli_identity.needs_person(p)
    p.set_defaults(func=cmd_unset)
