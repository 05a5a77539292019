"""``vigil models``: declare a model from its spec file, list and show models, add versions.

Examples::

    vigil models register loan-default.toml
    vigil models list
    vigil models show loan-default --format toml > loan-default.toml
    vigil models add-version loan-default v1 --reference reference.parquet --artifact model.txt --threshold 0.5
    vigil models add-version loan-default v1 --reference reference.csv --serving-since 2026-01-15

Each action is added by one function named in :data:`MODEL_ACTIONS`; another feature adds its own
action (``vigil models card``) by naming its function there.
"""

from __future__ import annotations

import argparse
import importlib
from datetime import date, datetime

from analytics import cli_identity, registry, store
from analytics.cli_support import checked_float, store_path
from analytics.governance.cli import _actor
from analytics.modelspec._register import register_spec, registered_spec
from analytics.modelspec._spec import load_spec, spec_to_json, spec_to_toml

#: The actions of ``vigil models``, as ``"module:function"``; each function receives the actions'
#: subparsers and adds one parser whose ``func(args) -> int`` runs it (``args.db``: a path or None).
MODEL_ACTIONS: tuple[str, ...] = (
    "analytics.modelspec.cli:add_register",
    "analytics.modelspec.cli:add_list",
    "analytics.modelspec.cli:add_show",
    "analytics.modelspec.cli:add_add_version",
    "analytics.governance.cli:add_model_card",
)




def cmd_register(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    actor = _actor(args)
    # Declaring a model is the first step with one's own model, so it creates the store like 'vigil init'.
    result = store.write(lambda con: register_spec(con, actor, spec), store_path(args, must_exist=False))
    print(result.summary())
    return 0


def add_register(actions) -> None:
    """``vigil models register SPEC.toml``."""
    p = actions.add_parser("register", help="register a model from its spec file, or apply a changed spec",
                           description="Register the model a TOML spec declares. Run again with a changed spec "
                                       "to apply compatible changes (each audited); incompatible ones are refused.")
    p.add_argument("spec", help="the model spec (.toml); see docs/model-spec.md")
    # A person (an admin); while the store has no admin yet, the owner of the store file sets it up.
    cli_identity.needs_person(p, owner_during_setup=lambda args: True)
    p.set_defaults(func=cmd_register)


def cmd_list(args: argparse.Namespace) -> int:
    def work(con):
        rows = []
        for info in registry.list_models(con):
            versions = registry.list_versions(con, info.name)
            rows.append((info.name, info.owner, len(info.schema.columns), len(versions),
                         registry.champion_version(con, info.name) or "-"))
        return rows

    rows = store.read(work, store_path(args))
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
    spec = store.read(lambda con: registered_spec(con, args.model), store_path(args))
    text = spec_to_toml(spec) if args.format == "toml" else spec_to_json(spec) + "\n"
    print(text, end="")
    return 0


def add_show(actions) -> None:
    """``vigil models show NAME [--format toml|json]``."""
    p = actions.add_parser("show", help="a registered model's spec (register it again to round-trip)")
    p.add_argument("model", help="registered model name")
    p.add_argument("--format", choices=["toml", "json"], default="toml")
    p.set_defaults(func=cmd_show)


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day as YYYY-MM-DD") from None


def cmd_add_version(args: argparse.Namespace) -> int:
    from analytics.modelspec._versions import add_version  # imported when run: it loads the artifact formats

    result = add_version(store_path(args), _actor(args), args.model, args.version, reference=args.reference,
                         artifact=args.artifact, threshold=args.threshold, serving_since=args.serving_since,
                         description=args.description or "", parent_version=args.parent)
    print(result.summary())
    return 0


def add_add_version(actions) -> None:
    """``vigil models add-version MODEL VERSION --reference FILE [--artifact FILE] ...``."""
    p = actions.add_parser(
        "add-version", help="register a version from its reference data and (optionally) its model artifact",
        description="Register a version. The reference (Parquet or CSV: the declared columns plus label, score "
                    "and decision) is checked like an ingest and gives the validation metrics. An artifact "
                    "(LightGBM text, XGBoost .json/.ubj, scikit-learn .skops, .onnx) must re-score the "
                    "reference rows to their score.")
    p.add_argument("model", help="registered model name")
    p.add_argument("version", help="version name, e.g. v1")
    p.add_argument("--reference", required=True, help="validation rows: .parquet or .csv")
    p.add_argument("--artifact", help="the model file (.txt LightGBM, .json/.ubj XGBoost, .skops, .onnx)")
    p.add_argument("--threshold", type=checked_float(0, 1), help="decision threshold: decision = score >= T (default 0.5)")
    p.add_argument("--serving-since", type=_day, metavar="YYYY-MM-DD",
                   help="the version already serves: declare it champion from this day (an onboarding "
                        "declaration, not an approval); without it the version starts as a draft")
    p.add_argument("--parent", help="the version it was derived from")
    p.add_argument("--description", help="what changed in this version")
    cli_identity.needs_person(p, owner_during_setup=lambda args: True)
    p.set_defaults(func=cmd_add_version)


def add_commands(sub) -> None:
    """Add ``vigil models`` and each of :data:`MODEL_ACTIONS`."""
    models = sub.add_parser("models", help="declare your own models: register a spec, list, show, add versions")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    for name in MODEL_ACTIONS:
        module, function = name.split(":")
        getattr(importlib.import_module(module), function)(actions)
