"""``vigil models``: declare a model from its spec file, list and show models, add versions.

Examples::

    vigil models register loan-default.toml
    vigil models list
    vigil models show loan-default --format toml > loan-default.toml
    vigil models add-version loan-default v1 --reference reference.parquet --artifact model.txt --threshold 0.5

Each action is added by one function named in :data:`MODEL_ACTIONS`; another feature adds its own
action (``vigil models card``) by naming its function there.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from analytics import config, registry, store
from analytics.governance.cli import _actor
from analytics.modelspec._register import register_spec, registered_spec
from analytics.modelspec._spec import load_spec, spec_to_json, spec_to_toml

#: The actions of ``vigil models``, as ``"module:function"``; each function receives the actions'
#: subparsers and adds one parser whose ``func(args) -> int`` runs it (``args.db``: a path or None).
MODEL_ACTIONS: tuple[str, ...] = (
    "analytics.modelspec.cli:add_register",
    "analytics.modelspec.cli:add_list",
    "analytics.modelspec.cli:add_show",
)


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else config.db_path()


def _as_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help="act as this local user in their role (default: the system identity cli:<os user>)")


def cmd_register(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    actor = _actor(args)
    result = store.write(lambda con: register_spec(con, actor, spec), _db(args))
    print(result.summary())
    return 0


def add_register(actions) -> None:
    """``vigil models register SPEC.toml``."""
    p = actions.add_parser("register", help="register a model from its spec file, or apply a changed spec",
                           description="Register the model a TOML spec declares. Run again with a changed spec "
                                       "to apply compatible changes (each audited); incompatible ones are refused.")
    p.add_argument("spec", help="the model spec (.toml); see docs/model-spec.md")
    _as_option(p)
    p.set_defaults(func=cmd_register)


def cmd_list(args: argparse.Namespace) -> int:
    def work(con):
        rows = []
        for info in registry.list_models(con):
            versions = registry.list_versions(con, info.name)
            rows.append((info.name, info.owner, len(info.schema.columns), len(versions),
                         registry.champion_version(con, info.name) or "-"))
        return rows

    rows = store.read(work, _db(args))
    if not rows:
        print("no model is registered yet; declare one in a spec file and run 'vigil models register SPEC.toml'")
        return 0
    header = ("model", "owner", "columns", "versions", "champion")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0


def add_list(actions) -> None:
    """``vigil models list``."""
    actions.add_parser("list", help="the registered models").set_defaults(func=cmd_list)


def cmd_show(args: argparse.Namespace) -> int:
    spec = store.read(lambda con: registered_spec(con, args.model), _db(args))
    text = spec_to_toml(spec) if args.format == "toml" else spec_to_json(spec) + "\n"
    print(text, end="")
    return 0


def add_show(actions) -> None:
    """``vigil models show NAME [--format toml|json]``."""
    p = actions.add_parser("show", help="a registered model's spec (register it again to round-trip)")
    p.add_argument("model", help="registered model name")
    p.add_argument("--format", choices=["toml", "json"], default="toml")
    p.set_defaults(func=cmd_show)


def add_commands(sub) -> None:
    """Add ``vigil models`` and each of :data:`MODEL_ACTIONS`."""
    models = sub.add_parser("models", help="declare your own models: register a spec, list, show, add versions")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    for name in MODEL_ACTIONS:
        module, function = name.split(":")
        getattr(importlib.import_module(module), function)(actions)
