"""``vigil kpis``: business KPIs, the KPI definition, and infrastructure cost entries from the command line.

Usage::

    vigil kpis show MODEL [--days 90] [--version V] [--format table|json]
    vigil kpis define MODEL --file DEFINITION.json        # acts for a proven person (VIGIL_TOKEN), audited
    vigil kpis infra-cost MODEL --category compute --amount 120 --from 2026-11-01 --to 2026-11-30 [--description TEXT]
    vigil kpis refresh MODEL                              # bring the business summaries up to date (after an ingest)

A definition file holds the fields of :class:`analytics.business.KpiDefinition` except ``model``.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta, timezone

from analytics import cli_identity, store
from analytics.input_files import read_json_object
from analytics.cli_support import checked_float, checked_int, records, store_path, write_json
from analytics.cli_tables import TextColumn, text_table
from analytics.business._cost import INFRA_CATEGORIES, add_infra_cost
from analytics.business._definitions import definition_from_fields, save_definition
from analytics.business._format import NOT_COMPUTABLE, format_measure
from analytics.business._kpis import KpiResult, kpis
from analytics.business._serving import refresh_store
from analytics.errors import InvalidInputError
from analytics.window import Window


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date (YYYY-MM-DD)") from None


#: Columns of ``vigil kpis show``.
_KPI_COLUMNS = (TextColumn("kpi", "KPI"), TextColumn("value", "value", right=True),
                TextColumn("previous", "previous period", right=True), TextColumn("change", "change", right=True),
                TextColumn("target", "target", right=True), TextColumn("meets", "target met"),
                TextColumn("basis", "computed on"))


def kpi_records(result: KpiResult) -> list[dict]:
    """The KPI table for machines: every number at full precision, shares as fractions, with the reason of a
    value that could not be computed (``not_computable``, else null)."""
    rows = records(result.table)
    for row in rows:
        row["not_computable"] = result.why_not_computable(row["key"])
    return rows


def kpi_table(result: KpiResult) -> str:
    """The KPI table for people: percentages as %, counts whole, money in whole units, "—" with a reason below."""
    rows, notes = [], {}  # reason -> its footnote number
    for row in result.table.to_dict("records"):
        unit, why = row["unit"], result.why_not_computable(row["key"])
        if why:
            notes.setdefault(why, len(notes) + 1)
        rows.append({"kpi": row["kpi"] + (f" [{notes[why]}]" if why else ""),
                     "value": format_measure(row["value"], unit),
                     "previous": format_measure(row["previous"], unit),
                     "change": format_measure(row["change"], unit, signed=True),
                     "target": format_measure(row["target"], unit, missing=""),
                     "meets": {True: "yes", False: "NO"}.get(row["meets_target"], ""),
                     "basis": row["basis"]})
    return "\n".join([text_table(rows, _KPI_COLUMNS),
                      *(f"[{n}] {NOT_COMPUTABLE} not computable: {why}" for why, n in notes.items())])


def cmd_kpis(args: argparse.Namespace) -> int:
    """Run one ``vigil kpis`` action."""
    db = store_path(args)
    if args.action == "show":
        now = datetime.now(timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
        # an unknown version is refused here, not shown as zeros
        window = Window.of_model(db, args.model, start=now - timedelta(days=args.days), version=args.version)
        result = kpis(db, args.model, now=now, window=window)
        if args.format == "json":
            write_json(kpi_records(result))
        else:
            print(f"{args.model}: last {args.days} days to {now:%Y-%m-%d %H:%M} UTC; {result.rows:,} predictions, "
                  f"{result.labelled:,} with an outcome; money in {result.definition.currency}")
            print(kpi_table(result))
        return 0
    if args.action == "refresh":
        started = time.perf_counter()
        done = refresh_store(db, args.model).get(args.model, {})
        print(f"{args.model}: rebuilt {done.get('serving', 0)} day(s) of serving summaries and "
              f"{done.get('kpi', 0)} day(s) of KPI rollups in {time.perf_counter() - started:.1f} s"
              + ("" if done else " (its log is not in segments: pages read the log directly)"))
        return 0
    actor = cli_identity.person(args)  # defining KPIs and recording costs act for a proven person
    if args.action == "define":
        if not args.file:
            raise InvalidInputError("define needs --file DEFINITION.json")
        fields = read_json_object(args.file, "KPI definition file")
        definition = definition_from_fields(args.model, fields)
        store.write(lambda con: save_definition(con, actor, definition), db)
        print(f"stored the KPI definition of {args.model} (audited as {actor.username})")
        return 0
    if args.amount is None or not args.date_from or not args.date_to:
        raise InvalidInputError("infra-cost needs --amount, --from and --to")
    entry = store.write(lambda con: add_infra_cost(
        con, actor, model=args.model, category=args.category, amount_usd=args.amount,
        period_start=_day(args.date_from), period_end=_day(args.date_to), description=args.description), db)
    print(f"recorded infrastructure cost entry {entry} for {args.model}")
    return 0


def add_commands(subparsers) -> None:
    """Add ``vigil kpis`` to the ``vigil`` command."""
    p = subparsers.add_parser("kpis", help="business KPIs, the KPI definition, infrastructure costs")
    p.add_argument("action", choices=("show", "define", "infra-cost", "refresh"))
    p.add_argument("model")
    p.add_argument("--days", type=checked_int(1, 36_500), default=90)
    p.add_argument("--version")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--file", help="definition JSON (define)")
    p.add_argument("--category", choices=INFRA_CATEGORIES, default="compute")
    p.add_argument("--amount", type=checked_float(0, 1e12), help="USD for the whole period (infra-cost)")
    p.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD (infra-cost)")
    p.add_argument("--to", dest="date_to", help="last day, inclusive (infra-cost)")
    p.add_argument("--description", default="")
    cli_identity.identity_options(p)  # define and infra-cost act for a proven person
    p.set_defaults(func=cmd_kpis)
