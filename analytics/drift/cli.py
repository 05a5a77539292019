"""``vigil drift``: drift between two files (a CI gate) or of a model's window in the store.

Usage::

    vigil drift REFERENCE CURRENT [--columns A B ...] [--method auto|psi|ks|chisquare|jensenshannon|wasserstein]
                [--format json|table] [--fail-on-drift]
    vigil drift --model NAME [--version V] [--segment COLUMN=VALUE] --start YYYY-MM-DD --end YYYY-MM-DD
                [same options]

The JSON is a list with one object per column: column, kind, method, statistic, p_value, threshold,
drifted (true, false, or null when not computable), n_reference, n_current; numbers at full precision.

Exit codes with ``--fail-on-drift``: 1 when any column drifted; 4 when the comparison cannot be judged
(a file or window without rows, or a column without a value on one side) and no column drifted:
an empty export never passes the gate. ``--allow-not-computable`` lets such a comparison pass.
Wrong usage (``--start`` without ``--end``, files and ``--model`` together) exits 2.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta

from typing import TYPE_CHECKING

from analytics.drift._methods import METHOD_KEYS
from analytics.cli_support import EXIT_NOT_COMPUTABLE, UsageError, store_path, write_json
from analytics.drift._result import verdict_word
from analytics.errors import InvalidInputError
from analytics.timebounds import FIRST_DAY, LAST_DAY, day_in_range
from analytics.window import Window

if TYPE_CHECKING:
    from analytics.drift._result import DriftResult

EXIT_DRIFT = 1


def _day(text: str) -> datetime:
    try:
        value = datetime.strptime(text, "%Y-%m-%d") if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD) or a timestamp (YYYY-MM-DDTHH:MM)") from None
    if not day_in_range(value):
        raise UsageError(f"{text!r} is out of range: use a day from {FIRST_DAY} to {LAST_DAY}")
    return value


def format_table(result: DriftResult) -> str:
    """A plain-text table of the verdicts, with what was compared."""
    lines = [f"reference: {result.reference_label} ({result.n_reference_rows:,} rows)",
             f"current:   {result.current_label} ({result.n_current_rows:,} rows)"]
    lines += [f"left out:  {column}: {why}" for column, why in result.left_out.items()]
    lines.append("")
    header = f"{'column':<24} {'kind':<12} {'method':<14} {'statistic':>10} {'p_value':>9} {'threshold':>9}  verdict"
    lines += [header, "-" * len(header)]
    for row in result.rows:
        p = "" if row["p_value"] != row["p_value"] else f"{row['p_value']:.4f}"
        stat = "" if row["statistic"] != row["statistic"] else f"{row['statistic']:.4f}"
        verdict = verdict_word(row["drifted"])
        note = f"  ({row['note']})" if row["note"] else ""
        lines.append(f"{row['column'][:24]:<24} {row['kind']:<12} {row['method']:<14} {stat:>10} {p:>9} "
                     f"{row['threshold']:>9.4g}  {verdict}{note}")
    lines += ["", f"{len(result.drifted_columns)} of {len(result.rows)} columns drifted"
              + (f": {', '.join(result.drifted_columns)}" if result.drifted_columns else "")]
    if result.not_computable_columns:
        lines.append(f"not computable: {', '.join(result.not_computable_columns)}")
    return "\n".join(lines)


def cmd_drift(args: argparse.Namespace) -> int:
    """Run the drift comparison the arguments describe and print it."""
    from analytics.drift._calculator import DriftConfig, drift_summary
    from analytics.drift._files import compare_files

    columns = tuple(args.columns) if args.columns else None
    if args.model:
        if args.reference or args.current:
            raise UsageError("give either two files or --model, not both")
        if not args.start or not args.end:
            raise UsageError("--model needs --start and --end (YYYY-MM-DD; --end is inclusive)")
        start, end = _day(args.start), _day(args.end)
        end = end + timedelta(days=1) if len(args.end) == 10 else end
        db = str(store_path(args))
        segment, _, segment_value = (args.segment or "").partition("=")
        if args.segment and not (segment and segment_value):
            raise UsageError(f"--segment {args.segment!r}: write COLUMN=VALUE, e.g. --segment region=north")
        window = Window.of_model(db, args.model, start=start, end=end, version=args.version,
                                 segment=segment or None, segment_value=segment_value or None)
        result = drift_summary(db, args.model, window=window, columns=columns, method=args.method)
        if result.n_current_rows == 0 and not args.fail_on_drift:
            raise InvalidInputError(f"{args.model} has no predictions from {args.start} to {args.end}")
    else:
        if args.segment:
            raise UsageError("--segment filters a model's rows in the store: use it with --model")
        if not args.reference or not args.current:
            raise UsageError("give REFERENCE and CURRENT files, or --model NAME --start ... --end ...")
        result = compare_files(args.reference, args.current, columns=list(columns) if columns else None,
                               config=DriftConfig(method=args.method), histograms=False)
    if args.format == "json":
        write_json(result.to_records())
    else:
        print(format_table(result))
    if not args.fail_on_drift:
        return 0
    if result.any_drift:
        return EXIT_DRIFT
    return _not_computable_exit(result, args.allow_not_computable)


def _not_computable_exit(result: DriftResult, allowed: bool) -> int:
    """0 when the gate could judge every column (or ``allowed``); else 4, with the reason on stderr."""
    reasons = []
    for side, rows in (("reference", result.n_reference_rows), ("current", result.n_current_rows)):
        if rows == 0:
            reasons.append(f"the {side} ({getattr(result, side + '_label')}) has no rows")
    if result.not_computable_columns and not reasons:
        reasons.append(f"no values to compare in: {', '.join(result.not_computable_columns)}")
    if not reasons:
        return 0
    message = "drift not computable: " + "; ".join(reasons)
    if allowed:
        print(f"warning: {message} (passing: --allow-not-computable)", file=sys.stderr)
        return 0
    print(f"error: {message}. The gate cannot pass what it cannot judge (exit {EXIT_NOT_COMPUTABLE}); "
          "use --allow-not-computable to let it pass", file=sys.stderr)
    return EXIT_NOT_COMPUTABLE


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vigil drift``."""
    p = subparsers.add_parser("drift", help="data drift between two files, or of a model's window in the store",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reference", nargs="?", help="reference .parquet or .csv file")
    p.add_argument("current", nargs="?", help="current .parquet or .csv file")
    p.add_argument("--model", help="a registered model (instead of files)")
    p.add_argument("--version", help="the version (default: the champion)")
    p.add_argument("--start", help="first day of the window, YYYY-MM-DD (UTC)")
    p.add_argument("--end", help="last day of the window, YYYY-MM-DD, inclusive (UTC)")
    p.add_argument("--segment", metavar="COLUMN=VALUE",
                   help="only rows of one segment (with --model), compared with the reference rows of that segment")
    p.add_argument("--columns", nargs="+", help="only these columns")
    p.add_argument("--method", default="auto", choices=["auto", *METHOD_KEYS], help="drift method (default auto)")
    p.add_argument("--format", default="table", choices=["table", "json"])
    p.add_argument("--fail-on-drift", action="store_true",
                   help="exit 1 when any column drifted, 4 when drift cannot be judged (a CI gate)")
    p.add_argument("--allow-not-computable", action="store_true",
                   help="with --fail-on-drift: let a comparison that cannot be judged pass (exit 0, with a warning)")
    p.set_defaults(func=cmd_drift)
