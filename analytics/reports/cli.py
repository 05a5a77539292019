"""``vigil reports`` (scheduled reports), ``vigil retention`` (record-keeping) and ``vigil records export``.

Definitions, retention policies and exports act for a proven person (an API token, or ``--as NAME`` with the
password: :mod:`analytics.cli_identity`). ``reports run`` and ``retention apply`` run from cron as the service
process of the OS account (as ``vigil monitor`` does): they carry out what approvers and admins decided.
Examples::

    vigil reports add weekly-portfolio --portfolio --schedule weekly --recipient risk@example.com --channel mail
    vigil reports run --due                     # from cron: each due period once
    vigil reports run --due --as-of 2026-09-01  # as if it were that day (UTC)
    vigil reports runs
    vigil reports verify weekly-portfolio 2026-W35
    vigil retention show
    vigil retention set credit-default --predictions-days 184 --outcomes-days 365 --audit-days 3653
    vigil retention apply --dry-run
    vigil records export --model credit-default --start 2026-08-01 --end 2026-09-01 --out export/
"""

from __future__ import annotations

import argparse

from analytics import reports, store
from analytics.cli_identity import needs_person
from analytics.cli_support import UsageError, checked_int, checked_time, store_path
from analytics.roles import system_actor

def _show(frame, empty: str) -> None:
    print(frame.to_string(index=False, max_colwidth=70) if not frame.empty else empty)


def cmd_reports(args: argparse.Namespace) -> int:
    db = store_path(args)
    actor = getattr(args, "actor", None) or system_actor()  # a proven person where the command needs one
    if args.action == "list":
        _show(store.read(reports.definitions_table, db), "no report definitions ('vigil reports add' creates one)")
    elif args.action == "add":
        if bool(args.model) == bool(args.portfolio):
            raise UsageError("name the scope: --model MODEL or --portfolio")
        sections = tuple(s.strip() for s in args.sections.split(",")) if args.sections else tuple(reports.SECTIONS)
        definition = reports.ReportDefinition(args.name, args.model, args.schedule, sections,
                                              tuple(args.recipient or ()), args.channel, not args.disabled)
        saved = store.write(lambda con: reports.save_definition(con, actor, definition), db)
        print(f"saved report {saved.name}: {saved.scope}, {saved.schedule}, sections {', '.join(saved.sections)}; "
              f"recipients {', '.join(saved.recipients) or 'none (kept, not sent)'}")
    elif args.action == "remove":
        store.write(lambda con: reports.delete_definition(con, actor, args.name), db)
        print(f"removed report definition {args.name} (its past reports are kept)")
    elif args.action == "run":
        runs = reports.run_reports(db, actor, as_of=args.as_of, names=tuple(args.report or ()), pdf=not args.no_pdf,
                                   send=not args.no_send)
        for run in runs:
            if not (args.due and run.status == reports.ALREADY_RUN):
                print(run.line())
        if not runs:
            print("no enabled report definition")
        if any(r.delivery.startswith(reports.FAILED) for r in runs):
            return 1
    elif args.action == "runs":
        frame = reports.runs_table(db)
        _show(frame.drop(columns=["folder", "verification_detail"], errors="ignore"), "no report has been run yet")
    elif args.action == "verify":
        check = reports.verify_run(db, args.name, args.period)
        print(f"{check.name} {check.period_label}: {check.status.upper()} ({check.detail})")
        return 0 if check.status == reports.VERIFIED else 1
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    db = store_path(args)
    actor = getattr(args, "actor", None) or system_actor()
    if args.action == "show":
        _show(store.read(reports.policies_table, db), "no model registered")
        print(f"(legal floor {reports.LEGAL_FLOOR_DAYS} days: EU AI Act Art. 19(1) and 26(6), logs kept at least six "
              "months; the audit trail is never deleted by retention)")
    elif args.action == "set":
        before = store.read(lambda con: reports.get_policy(con, args.model), db)
        policy = store.write(lambda con: reports.set_policy(
            con, actor, args.model,
            predictions_days=args.predictions_days if args.predictions_days is not None else before.predictions_days,
            outcomes_days=args.outcomes_days if args.outcomes_days is not None else before.outcomes_days,
            audit_days=args.audit_days if args.audit_days is not None else before.audit_days,
            override_reason=args.override_reason), db)
        print(f"{policy.model}: predictions {policy.predictions_days} days, outcomes {policy.outcomes_days} days, "
              f"audit trail {policy.audit_days} days" + (f" (override: {policy.override_reason})"
                                                         if policy.override_reason else ""))
    elif args.action == "apply":
        removals = reports.apply_retention(db, actor, dry_run=args.dry_run)
        for removal in removals:
            print(removal.line(args.dry_run))
        if args.dry_run:
            print("dry run: nothing was removed")
    return 0


def cmd_records(args: argparse.Namespace) -> int:
    db = store_path(args)
    done = reports.export_records(db, args.actor, args.model, start=args.start, end=args.end, out=args.out)
    print(f"exported {done.rows:,} records of {args.model} from {args.start:%Y-%m-%d %H:%M} to "
          f"{args.end:%Y-%m-%d %H:%M} UTC into {done.folder}: {', '.join(f.name for f in done.files)}; manifest "
          f"sha256 {done.manifest_sha256} (audit row {done.audit_seq})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``reports``, ``retention`` and ``records`` to the ``vigil`` parser."""
    rep = sub.add_parser("reports", help="scheduled reports (HTML, PDF and a hashed manifest, e-mailed)")
    rsub = rep.add_subparsers(dest="action", required=True, metavar="ACTION")
    rsub.add_parser("list", help="the report definitions")
    add = needs_person(rsub.add_parser("add", help="create or replace a report definition (approvers, admins)"))
    add.add_argument("name")
    scope = add.add_mutually_exclusive_group()
    scope.add_argument("--model", help="one model")
    scope.add_argument("--portfolio", action="store_true", help="every registered model")
    add.add_argument("--schedule", required=True, choices=list(reports.SCHEDULES))
    add.add_argument("--sections", help=f"comma-separated, from {','.join(reports.SECTIONS)} (default all)")
    add.add_argument("--recipient", action="append", metavar="ADDRESS", help="an e-mail address (repeat)")
    add.add_argument("--channel", help="the email channel whose SMTP server sends it ('vigil channels list')")
    add.add_argument("--disabled", action="store_true", help="keep the definition but do not run it")
    rm = needs_person(rsub.add_parser("remove", help="remove a definition (its past reports stay)"))
    rm.add_argument("name")
    run = rsub.add_parser("run", help="render and send each report's last closed period once (idempotent)")
    run.add_argument("--due", action="store_true", help="quiet about periods already reported (for cron)")
    run.add_argument("--as-of", type=checked_time, metavar="DATE", help="decide the periods as of this UTC date")
    run.add_argument("--report", action="append", metavar="NAME", help="only this definition (repeat)")
    run.add_argument("--no-pdf", action="store_true", help="HTML and manifest only (no Chromium)")
    run.add_argument("--no-send", action="store_true", help="render but do not e-mail")
    rsub.add_parser("runs", help="past reports, each verified against its manifest hash")
    ver = rsub.add_parser("verify", help="check a past report's files against the audit trail's manifest hash")
    ver.add_argument("name")
    ver.add_argument("period", help="its period label (2026-W35, 2026-08, 2026-08-31)")
    rep.set_defaults(func=cmd_reports)

    ret = sub.add_parser("retention", help="how long each model's records are kept, and removing expired ones")
    tsub = ret.add_subparsers(dest="action", required=True, metavar="ACTION")
    tsub.add_parser("show", help="every model's retention policy")
    st = needs_person(tsub.add_parser("set", help="set a model's policy (admins)"))
    st.add_argument("model")
    for kind in ("predictions", "outcomes", "audit"):
        st.add_argument(f"--{kind}-days", type=checked_int(1, 36_525), metavar="DAYS")
    st.add_argument("--override-reason", help=f"why a period under {reports.LEGAL_FLOOR_DAYS} days is lawful here")
    ap = tsub.add_parser("apply", help="remove whole expired prediction segments and outcome ingests (audited)")
    ap.add_argument("--dry-run", action="store_true", help="show what would be removed; change nothing")
    ret.set_defaults(func=cmd_retention)

    rec = sub.add_parser("records", help="records of a window for an authority")
    rcsub = rec.add_subparsers(dest="action", required=True, metavar="ACTION")
    ex = needs_person(rcsub.add_parser("export", help="predictions, inputs, outputs and outcomes as Parquet + CSV + "
                                                      "manifest (reviewers, approvers, admins)"))
    ex.add_argument("--model", required=True)
    ex.add_argument("--start", required=True, type=checked_time, help="UTC, included")
    ex.add_argument("--end", required=True, type=checked_time, help="UTC, excluded")
    ex.add_argument("--out", required=True, help="a new or empty folder")
    rec.set_defaults(func=cmd_records)


__all__ = ["add_commands"]
