"""``vigil compliance``: monitoring plans, serious incidents and their reports, the model-risk pack, reviews.

Usage::

    vigil compliance plan --model M [--version V] [--format markdown|json] [--record]
    vigil compliance serious INCIDENT --category general|widespread|death --rationale TEXT
                             [--aware-at TIME]                     # approvers and admins; audited
    vigil compliance clocks [--format table|json]                  # serious incidents and their deadlines (UTC)
    vigil compliance report INCIDENT [--format markdown|html|json] [--output FILE]   # the draft to the authority
    vigil compliance reported INCIDENT --reference TEXT            # the report was sent
    vigil compliance risk --model M [--period month|week] [--format table|json]      # the model-risk pack
    vigil compliance review --model M --outcome satisfactory|needs_action|unsatisfactory --note TEXT
    vigil compliance calendar [--format table|json]                # the review calendar by risk tier
    vigil compliance remind [--at TIME]                            # queue and send due reminders (cron)

A command that changes anything (``plan --record``, ``serious``, ``reported``, ``review``) acts for a
proven person (:mod:`analytics.cli_identity`: ``VIGIL_TOKEN``, ``--token-file FILE``, or ``--as NAME``
with a password prompt), in that person's role. ``remind`` is a service process like ``vigil monitor``:
it queues and sends notifications only. Times are UTC.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics import alerts, cli_identity, compliance, governance, store
from analytics.alerts.cli import _time
from analytics.cli_support import checked_int, records, store_path, write_json
from analytics.roles import Actor


def _actor(args: argparse.Namespace) -> Actor:
    """The proven person a command acts for (set by ``vigil``'s main for commands declared with
    :func:`analytics.cli_identity.needs_person`; proven here for ``plan --record``)."""
    return getattr(args, "actor", None) or cli_identity.person(args)


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _table(frame: pd.DataFrame, fmt: str, empty: str) -> int:
    if fmt == "json":
        write_json(records(frame))
    else:
        print(frame.to_string(index=False) if not frame.empty else empty)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    db = store_path(args)
    plan = store.read(lambda con: compliance.monitoring_plan(con, args.model, args.version), db)
    if args.record:
        actor = _actor(args)
        kept = store.write(lambda con: governance.record_plan(con, actor, plan), db)
        print(f"{'recorded' if kept else 'already recorded'}: plan of {plan.model}:{plan.version}, sha256 "
              f"{plan.sha256}", file=sys.stderr)
    _emit(plan.to_json() if args.format == "json" else plan.to_markdown(), args.output)
    return 0


def cmd_serious(args: argparse.Namespace) -> int:
    actor, db = _actor(args), store_path(args)
    aware = _time(args.aware_at) if args.aware_at else None
    deadline = store.write(lambda con: compliance.classify_serious(
        con, actor, args.incident, category=args.category, rationale=args.rationale, aware_at=aware), db)
    category = compliance.CATEGORIES[args.category]
    print(f"incident #{args.incident} classified serious ({category.label}) by {actor.username}; report to the "
          f"authority due by {deadline:%Y-%m-%d %H:%M} UTC ({category.article}, {category.days} days)")
    return 0


def cmd_clocks(args: argparse.Namespace) -> int:
    frame = store.read(lambda con: compliance.reporting_clocks(con), store_path(args))
    return _table(frame, args.format, "no serious incident")


def cmd_report(args: argparse.Namespace) -> int:
    report = store.read(lambda con: compliance.draft_report(con, args.incident), store_path(args))
    text = {"markdown": report.to_markdown, "html": report.to_html, "json": report.to_json}[args.format]()
    _emit(text, args.output)
    return 0


def cmd_reported(args: argparse.Namespace) -> int:
    actor = _actor(args)
    store.write(lambda con: compliance.record_reported(con, actor, args.incident, reference=args.reference),
                store_path(args))
    print(f"incident #{args.incident} recorded as reported by {actor.username}")
    return 0


def cmd_risk(args: argparse.Namespace) -> int:
    pack = compliance.model_risk_pack(store_path(args), args.model, period=args.period)
    if args.format == "json":
        write_json(pack.to_dict())
        return 0
    print(f"Model-risk pack: {args.model}\n")
    bt = pack.backtest
    if bt is None or bt.table.empty:
        print(f"Back-testing: {pack.backtest_note}")
    else:
        print(f"Back-testing of {bt.version} by {bt.period} (UTC; {bt.labelled:,} labelled of {bt.predictions:,} "
              f"predictions; alpha {bt.alpha:g}; {bt.flagged} period(s) flagged):")
        print(bt.table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"\nBenchmarking: {pack.benchmark.note}")
    if pack.benchmark.comparison is not None:
        print(pack.benchmark.comparison.table[["measure", "baseline", "candidate", "difference", "p_value",
                                               "verdict"]].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"\nHuman overrides: {pack.overrides.note}")
    if pack.overrides.available:
        print(pack.overrides.table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    r = pack.review
    print(f"\nReview calendar: risk tier {r['risk_tier']}, every {r['interval_months']} months; last "
          f"{r['last_review_kind']} {pd.Timestamp(r['last_review_at']):%Y-%m-%d}; "
          f"due {pd.Timestamp(r['due_at']):%Y-%m-%d}"
          f" UTC ({r['status']})")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    actor = _actor(args)
    review_id = store.write(lambda con: compliance.record_review(con, actor, args.model, outcome=args.outcome,
                                                                 note=args.note), store_path(args))
    print(f"review #{review_id} of {args.model} recorded by {actor.username}")
    return 0


def cmd_calendar(args: argparse.Namespace) -> int:
    frame = store.read(lambda con: compliance.review_calendar(con), store_path(args))
    return _table(frame, args.format, "no model registered")


def cmd_remind(args: argparse.Namespace) -> int:
    db = store_path(args)
    now = _time(args.at) if args.at else None
    queued = store.write(lambda con: compliance.remind(con, now=now), db)
    for r in queued:
        print(f"{r.summary} — {r.notifications} notification(s) queued")
    sent = alerts.dispatch(db, now=now) if queued else None
    print(f"{len(queued)} reminder(s) queued" + (f"; {sent.sent} sent, {sent.failed} failed" if sent else ""))
    for message in (sent.messages if sent else []):
        print(message, file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``vigil compliance`` to the ``vigil`` parser."""
    comp = sub.add_parser("compliance", help="monitoring plans, serious incidents, the model-risk pack, reviews")
    cs = comp.add_subparsers(dest="compliance_command", required=True, metavar="ACTION")

    p = cs.add_parser("plan", help="the post-market monitoring plan of a model (EU AI Act Art. 72)")
    p.add_argument("--model", required=True)
    p.add_argument("--version", help="default: the champion, else the newest version")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.add_argument("--output", help="write to this file instead of standard output")
    p.add_argument("--record", action="store_true", help="keep the plan with the version (approvers, admins; "
                                                          "acts for a proven person)")
    cli_identity.identity_options(p)
    p.set_defaults(func=cmd_plan)

    p = cs.add_parser("serious", help="classify an incident as serious (Art. 73): starts the reporting clock")
    p.add_argument("incident", type=checked_int(1))
    p.add_argument("--category", required=True, choices=sorted(compliance.CATEGORIES))
    p.add_argument("--rationale", required=True, help="the harm and the suspected causal link")
    p.add_argument("--aware-at", help="when the provider became aware (UTC, default now)")
    cli_identity.needs_person(p)
    p.set_defaults(func=cmd_serious)

    p = cs.add_parser("clocks", help="serious incidents and their reporting deadlines (UTC)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_clocks)

    p = cs.add_parser("report", help="draft the report of a serious incident to the authority")
    p.add_argument("incident", type=checked_int(1))
    p.add_argument("--format", choices=["markdown", "html", "json"], default="markdown")
    p.add_argument("--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_report)

    p = cs.add_parser("reported", help="record that a serious incident was reported to the authority")
    p.add_argument("incident", type=checked_int(1))
    p.add_argument("--reference", required=True, help="the authority's reference, or to whom and how it was sent")
    cli_identity.needs_person(p)
    p.set_defaults(func=cmd_reported)

    p = cs.add_parser("risk", help="the model-risk pack: back-testing, benchmark, overrides, review")
    p.add_argument("--model", required=True)
    p.add_argument("--period", choices=["month", "week"], default="month")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_risk)

    p = cs.add_parser("review", help="record a periodic review of a model (reviewers, admins)")
    p.add_argument("--model", required=True)
    p.add_argument("--outcome", required=True, choices=list(compliance.OUTCOMES))
    p.add_argument("--note", required=True)
    cli_identity.needs_person(p)
    p.set_defaults(func=cmd_review)

    p = cs.add_parser("calendar", help="the review calendar by risk tier")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_calendar)

    p = cs.add_parser("remind", help="queue and send due reminders (deadlines nearing, reviews due); for cron")
    p.add_argument("--at", help="as if now were this time (UTC); default now")
    p.set_defaults(func=cmd_remind)
