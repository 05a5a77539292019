"""``vigil governance`` (the approval workflow, deployments, dossiers) and ``vigil audit list|export``.

Commands that change anything act for a proven person (:mod:`analytics.cli_identity`): a personal
API token in ``VIGIL_TOKEN`` or ``--token-file FILE``, or ``--as USER`` with a password prompt. Nobody
acts as a name typed on the command line, and there is no all-powerful command-line identity. Four
eyes apply by username, whichever channel a person uses.

Examples::

    vigil governance status credit-default
    export VIGIL_TOKEN=$(cat ~/.vigil-token)          # issued by an admin: vigil users token NAME
    vigil governance submit credit-default v4 --justification "quarterly retrain"
    vigil governance review credit-default v4 --as rita.reviewer --finding "AUC stable"   # asks for the password
    vigil governance approve credit-default v4 --token-file ~/.vigil-token --comment "ok" [--override-reason "..."]
    vigil governance canary credit-default v4 --share 0.1
    vigil governance promote credit-default v4
    vigil governance rollback credit-default --reason "loss spike"
    vigil governance dossier credit-default v4 --html dossier.html --pdf dossier.pdf
    vigil audit list --actor paul.approver --action version. --since 2026-01-01
    vigil audit export --format csv --output audit.csv
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from analytics import audit, cli_identity, governance, registry, store
from analytics.input_files import output_file, read_text
from analytics.business import NOT_COMPUTABLE
from analytics.cli_support import checked_float, checked_int, records, store_path, write_json
from analytics.cli_tables import TextColumn, text_table
from analytics.errors import InvalidInputError
from analytics.roles import Actor


def _actor(args: argparse.Namespace) -> Actor:
    """The proven person a command acts for (established by ``vigil``'s main for a command declared with
    :func:`analytics.cli_identity.needs_person`)."""
    return getattr(args, "actor", None) or cli_identity.person(args)


def _done(message: str) -> int:
    print(message)
    return 0


#: Columns of ``vigil governance status``: the versions, then a model's deployment history.
_VERSION_COLUMNS = (TextColumn("model", "model"), TextColumn("version", "version"), TextColumn("status", "status"),
                    TextColumn("risk_tier", "risk tier"), TextColumn("serving_role", "serving as"),
                    TextColumn("traffic_share", "traffic", right=True),
                    TextColumn("validation_roc_auc", "validation ROC AUC", right=True),
                    TextColumn("parent_version", "parent"), TextColumn("created_at", "created (UTC)"))
_HISTORY_COLUMNS = (TextColumn("version", "version"), TextColumn("role", "role"),
                    TextColumn("traffic_share", "traffic", right=True), TextColumn("started_at", "from (UTC)"),
                    TextColumn("ended_at", "until (UTC)"))


def _missing(value) -> bool:
    return value is None or value != value or value.__class__.__name__ in ("NaTType", "NAType")


def _cell(column: str, value) -> str:
    """One cell of the status tables as people read it."""
    if column == "ended_at" and _missing(value):
        return "serving now"
    if _missing(value):
        return {"serving_role": "not serving", "traffic_share": "", "risk_tier": "not assessed",
                "validation_roc_auc": f"{NOT_COMPUTABLE} not recorded", "parent_version": ""}.get(column, NOT_COMPUTABLE)
    if column == "status":
        return registry.status_text(value)
    if column == "traffic_share":
        return f"{value:.0%}" if round(value * 100) == value * 100 else f"{value:.1%}"
    if column == "validation_roc_auc":
        return f"{value:.3f}"
    if column in ("created_at", "started_at", "ended_at"):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _cells(frame, columns) -> list[dict[str, str]]:
    return [{c.key: _cell(c.key, row[c.key]) for c in columns} for row in frame.to_dict("records")]


def cmd_status(args: argparse.Namespace) -> int:
    db = store_path(args)

    def work(con):
        if args.model:
            registry.get_model(con, args.model)  # an unknown model is named, not shown as an empty table
        return governance.registry_table(con), governance.deployment_history(con, args.model)

    frame, history = store.read(work, db)
    if args.model:
        frame = frame[frame["model"] == args.model]
    if args.format == "json":
        write_json({"versions": records(frame),
                    "deployment_history": records(history) if args.model else None})
        return 0
    print(text_table(_cells(frame, _VERSION_COLUMNS), _VERSION_COLUMNS) if not frame.empty
          else "no versions registered")
    if args.model:
        print("\ndeployment history:")
        print(text_table(_cells(history, _HISTORY_COLUMNS), _HISTORY_COLUMNS) if not history.empty
              else "  never deployed")
    return 0


def cmd_evidence(args: argparse.Namespace) -> int:
    pack = store.read(lambda con: governance.assemble(con, args.model, args.version), store_path(args))
    frame = pack.frame()
    if args.json:
        write_json(records(frame))
    else:
        for _, r in frame.iterrows():
            print(f"{r['status'].upper():<14} {r['title']}: {r['detail']}")
    return 1 if pack.failed else 0


def cmd_submit(args: argparse.Namespace) -> int:
    actor, db = _actor(args), store_path(args)
    pack = store.read(lambda con: governance.assemble(con, args.model, args.version), db)
    pack_id = store.write(lambda con: governance.submit(con, actor, args.model, args.version, args.justification,
                                                        evidence=pack), db)
    failed = ", ".join(r.title for r in pack.failed) or "none"
    return _done(f"submitted {args.model}:{args.version} as {actor.username}; evidence pack #{pack_id} "
                 f"({len(pack.results)} checks, failing: {failed})")


def cmd_review(args: argparse.Namespace) -> int:
    actor, db = _actor(args), store_path(args)

    def work(con):
        if registry.get_version(con, args.model, args.version)["status"] == "submitted":
            governance.start_review(con, actor, args.model, args.version)
        if args.finding:
            governance.record_finding(con, actor, args.model, args.version, args.finding, severity=args.severity,
                                      topic=args.topic or "")

    store.write(work, db)
    return _done(f"{args.model}:{args.version} is in review by {actor.username}"
                 + ("; finding recorded" if args.finding else ""))


def cmd_approve(args: argparse.Namespace) -> int:
    actor = _actor(args)
    store.write(lambda con: governance.approve(con, actor, args.model, args.version, args.comment,
                                               override_reason=args.override_reason), store_path(args))
    return _done(f"approved {args.model}:{args.version} as {actor.username}")


def cmd_reject(args: argparse.Namespace) -> int:
    actor = _actor(args)
    store.write(lambda con: governance.reject(con, actor, args.model, args.version, args.comment), store_path(args))
    return _done(f"rejected {args.model}:{args.version} as {actor.username}")


def cmd_deploy(args: argparse.Namespace) -> int:
    actor, db = _actor(args), store_path(args)
    if args.governance_command == "shadow":
        store.write(lambda con: governance.deploy_shadow(con, actor, args.model, args.version), db)
        return _done(f"{args.model}:{args.version} now runs as shadow")
    if args.governance_command == "canary":
        store.write(lambda con: governance.start_canary(con, actor, args.model, args.version, args.share), db)
        return _done(f"{args.model}:{args.version} now serves {args.share:.0%} of traffic as canary")
    if args.governance_command == "promote":
        store.write(lambda con: governance.promote(con, actor, args.model, args.version, reason=args.reason or ""), db)
        return _done(f"{args.model}:{args.version} is the champion")
    if args.governance_command == "retire":
        store.write(lambda con: governance.retire(con, actor, args.model, args.version, reason=args.reason), db)
        return _done(f"{args.model}:{args.version} is retired")
    store.write(lambda con: governance.rollback(con, actor, args.model, reason=args.reason), db)
    champion = store.read(lambda con: governance.registry_table(con), db)
    current = champion[(champion["model"] == args.model) & (champion["status"] == "champion")]["version"].tolist()
    return _done(f"rolled back {args.model}; champion is now {', '.join(current)}")


def cmd_dossier(args: argparse.Namespace) -> int:
    if not args.html and not args.pdf:
        raise InvalidInputError("name an output: --html FILE and/or --pdf FILE")
    for path, what in ((args.html, "--html"), (args.pdf, "--pdf")):
        if path:
            output_file(path, what)
    document = store.read(lambda con: governance.dossier_html(con, args.model, args.version), store_path(args))
    if args.html:
        Path(args.html).write_text(document, encoding="utf-8")
        print(f"wrote {args.html} ({len(document):,} characters, self-contained)")
    if args.pdf:
        governance.html_to_pdf(document, args.pdf)
        print(f"wrote {args.pdf}")
    return 0


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date or time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)") from None


def _audit_frame(args: argparse.Namespace):
    return store.read(lambda con: audit.search(con, actor=args.actor, action=args.action, object_id=args.object,
                                               since=_time(args.since), until=_time(args.until),
                                               limit=args.limit), store_path(args))


def cmd_audit_list(args: argparse.Namespace) -> int:
    frame = _audit_frame(args)
    print(frame.to_string(index=False, max_colwidth=80) if not frame.empty else "no audit rows match")
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    if args.output:
        output_file(args.output, "--output")
    frame = _audit_frame(args)
    text = audit.export(frame, args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(frame):,} audit rows to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _model_version(parser: argparse.ArgumentParser, version: bool = True, *, person: bool = True) -> None:
    parser.add_argument("model")
    if version:
        parser.add_argument("version")
    if person:
        cli_identity.needs_person(parser)


def _audit_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", help="exact username")
    parser.add_argument("--action", help="action or its prefix (version., user.add)")
    parser.add_argument("--object", help="object id or its prefix (credit-default:v2)")
    parser.add_argument("--since", help="from this UTC time (YYYY-MM-DD[THH:MM])")
    parser.add_argument("--until", help="before this UTC time")
    parser.add_argument("--limit", type=checked_int(1, 100_000_000), default=100_000, help="at most this many rows, newest first")


def cmd_model_card(args: argparse.Namespace) -> int:
    if args.file is None:
        def show(con) -> str:
            registry.get_model(con, args.model)
            return governance.card_to_toml(con, args.model, args.version)

        text = store.read(show, store_path(args))
        print(text if text else f"# {args.model} has no model card yet; write one (docs/model-card.md) and run\n"
              f"# vigil models card {args.model} --file card.toml")
        return 0
    card = governance.parse_card(read_text(args.file, "card file"))
    actor = _actor(args)
    changed = store.write(lambda con: governance.apply_card(con, actor, args.model, card, version=args.version),
                          store_path(args))
    return _done("; ".join(changed) + " (audited)" if changed else f"nothing changed: the card of {args.model} is "
                 "already as in the file")


def add_model_card(actions) -> None:
    """``vigil models card MODEL [--file card.toml] [--version V]``: show or write a model card (docs/model-card.md)."""
    p = actions.add_parser("card", help="show a model's card as TOML, or write it (and its risk tier) from a file",
                           description="Without --file, print the model card and risk tier as a card file. With "
                                       "--file, write the card (and a [risk] table's tier) from it; audited.")
    p.add_argument("model")
    p.add_argument("--file", help="a card file (.toml); see docs/model-card.md")
    p.add_argument("--version", help="the card of this version (its fields override the model's)")
    cli_identity.identity_options(p)  # writing a card (--file) acts for a proven person
    p.set_defaults(func=cmd_model_card)


def add_commands(sub) -> None:
    """Add ``vigil governance ...`` and ``vigil audit list|export``."""
    gov = sub.add_parser("governance", help="approval workflow, deployments and dossiers")
    g = gov.add_subparsers(dest="governance_command", required=True, metavar="ACTION")
    status = g.add_parser("status", help="versions with status, risk tier and serving role")
    status.add_argument("model", nargs="?")
    status.add_argument("--format", choices=("table", "json"), default="table",
                        help="json: every column at full precision, times as ISO 8601 (UTC)")
    status.set_defaults(func=cmd_status)
    ev = g.add_parser("evidence", help="assemble the evidence pack now (exit 1 if a check fails)")
    _model_version(ev, person=False)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_evidence)
    sm = g.add_parser("submit", help="submit a draft version for review with its evidence pack")
    _model_version(sm)
    sm.add_argument("--justification", required=True)
    sm.set_defaults(func=cmd_submit)
    rv = g.add_parser("review", help="take a submitted version into review and/or record a finding")
    _model_version(rv)
    rv.add_argument("--finding")
    rv.add_argument("--severity", choices=governance.SEVERITIES, default="observation")
    rv.add_argument("--topic")
    rv.set_defaults(func=cmd_review)
    ap = g.add_parser("approve", help="approve a version in review")
    _model_version(ap)
    ap.add_argument("--comment", required=True)
    ap.add_argument("--override-reason", help="required when a check of the evidence pack failed")
    ap.set_defaults(func=cmd_approve)
    rj = g.add_parser("reject", help="reject a version in review")
    _model_version(rj)
    rj.add_argument("--comment", required=True)
    rj.set_defaults(func=cmd_reject)
    for name, text in (("shadow", "deploy an approved version as shadow"),
                       ("canary", "give a version a share of live traffic"),
                       ("promote", "make a version champion (retires the current one)"),
                       ("retire", "retire a version")):
        p = g.add_parser(name, help=text)
        _model_version(p)
        if name == "canary":
            p.add_argument("--share", type=checked_float(0, 1), required=True, help="share of traffic, between 0 and 1")
        if name in ("promote", "retire"):
            p.add_argument("--reason", required=name == "retire")
        p.set_defaults(func=cmd_deploy)
    rb = g.add_parser("rollback", help="retire the champion and restore the previous one")
    _model_version(rb, version=False)
    rb.add_argument("--reason", required=True)
    rb.set_defaults(func=cmd_deploy)
    do = g.add_parser("dossier", help="export a version's governance dossier as HTML and/or PDF")
    do.add_argument("model")
    do.add_argument("version")
    do.add_argument("--html")
    do.add_argument("--pdf")
    do.set_defaults(func=cmd_dossier)

    if "audit" not in sub.choices:  # the parser of a later feature's command alone (see analytics.cli.build_parser)
        return
    audit_parser = sub.choices["audit"]
    audit_sub = next(a for a in audit_parser._actions if isinstance(a, argparse._SubParsersAction))
    lst = audit_sub.add_parser("list", help="audit rows, newest first, filtered")
    _audit_filters(lst)
    lst.set_defaults(func=cmd_audit_list)
    exp = audit_sub.add_parser("export", help="export audit rows (with their hashes) as CSV or JSON")
    _audit_filters(exp)
    exp.add_argument("--format", choices=["csv", "json"], default="csv")
    exp.add_argument("--output", help="file (default: standard output)")
    exp.set_defaults(func=cmd_audit_export)
