"""``vigil fairness``: fairness of a file of predictions, or of a model's log in the store.

    vigil fairness DATA --y-true COL --y-pred COL [--score COL] --sensitive COL [--sensitive COL ...]
    vigil fairness --model NAME [--version V] [--start YYYY-MM-DD] [--end YYYY-MM-DD]

``--format json`` prints, per sensitive attribute (and their intersection when several are given),
the per-group metrics with counts and intervals, demographic_parity_difference,
demographic_parity_ratio, equalized_odds_difference, equal_opportunity_difference and the
four_fifths_verdict. Exit code 0 whatever the verdicts (read them from the output); 1 on an error.
"""

from __future__ import annotations

import argparse
import math
from datetime import datetime, timedelta

from analytics import fairness, store
from analytics.cli_support import UsageError, checked_day, checked_int, store_path, write_json
from analytics.errors import InvalidInputError
from analytics.window import Window


def _day(text: str) -> datetime:
    return datetime.combine(checked_day(text), datetime.min.time())


def add_commands(subparsers) -> None:
    """Add ``vigil fairness``."""
    p = subparsers.add_parser("fairness", help="group fairness of a predictions file or a model's log",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="?", help="a .parquet or .csv file of predictions (or use --model)")
    p.add_argument("--y-true", help="column of true labels (0/1; 1 = favourable outcome; empty = unknown)")
    p.add_argument("--y-pred", help="column of decisions (0/1; 1 = favourable decision)")
    p.add_argument("--score", help="column of scores, with decisions = score >= threshold: adds a what-if per "
                                   "sensitive column (per-group thresholds, see --equalise)")
    p.add_argument("--equalise", choices=sorted(fairness.CONSTRAINTS), default="demographic_parity",
                   help="the rate the what-if equalises (default demographic_parity)")
    p.add_argument("--sensitive", action="append", default=[], metavar="COL",
                   help="a sensitive column (repeat for several; their intersection is assessed too)")
    p.add_argument("--model", help="a registered model: assess its prediction log in the store")
    p.add_argument("--version", help="model version (default: the champion)")
    p.add_argument("--start", type=_day, help="first UTC day, inclusive (default: the log's first)")
    p.add_argument("--end", type=_day, help="last UTC day, inclusive (default: the log's last)")
    p.add_argument("--n-boot", type=checked_int(0, 100_000), default=fairness.N_BOOT, help="bootstrap resamples (0: no intervals)")
    p.add_argument("--seed", type=checked_int(0, 2**32 - 1), default=0, help="bootstrap seed (default 0)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=run)


def _report(args: argparse.Namespace) -> fairness.FairnessReport:
    if args.model:
        if args.data:
            raise InvalidInputError("give either a DATA file or --model, not both")
        ignored = [flag for flag, value in (("--sensitive", args.sensitive), ("--y-true", args.y_true),
                                            ("--y-pred", args.y_pred), ("--score", args.score)) if value]
        if ignored:  # they were silently ignored: the model's spec names its attributes, its log the columns
            raise UsageError(f"{', '.join(ignored)} {'applies' if len(ignored) == 1 else 'apply'} only to a DATA "
                             "file; with --model the sensitive attributes come from the model's spec "
                             "(vigil models show MODEL)")
        if args.start and args.end and args.start > args.end:
            raise UsageError(f"--start {args.start:%Y-%m-%d} is after --end {args.end:%Y-%m-%d}")
        db = store_path(args)
        end = args.end + timedelta(days=1) if args.end else None
        return store.read(lambda con: fairness.assess(
            con, args.model, window=Window.of_model(con, args.model, start=args.start, end=end, version=args.version),
            n_boot=args.n_boot, seed=args.seed), db)
    if not args.data:
        raise InvalidInputError("give a DATA file (with --y-true, --y-pred and --sensitive) or --model NAME")
    if not args.y_true or not args.y_pred:
        raise InvalidInputError("a DATA file needs --y-true COL and --y-pred COL")
    return fairness.assess_file(args.data, y_true=args.y_true, y_pred=args.y_pred, sensitive=args.sensitive,
                                n_boot=args.n_boot, seed=args.seed)


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _table(report: fairness.FairnessReport) -> str:
    lines = [f"{report.model or 'file'}{' ' + report.version if report.version else ''}: {report.rows:,} predictions, "
             f"{report.labelled:,} with outcomes; "
             + (f"days {report.first_day} to {report.last_day} (UTC); " if report.first_day else "") +
             f"favourable decision = {report.favourable}"]
    t = report.thresholds
    lines.append(f"thresholds: demographic parity ratio >= {t.dp_ratio}, equalized odds difference <= "
                 f"{t.eo_difference}, min group {t.min_group_size}, suppressed below {t.suppress_below}")
    for r in report.results:
        d = r.disparity
        lines.append("")
        lines.append(f"{r.name}: {d.verdict.upper()}  four-fifths {d.four_fifths_verdict}, equalized odds "
                     f"{d.equalized_odds_verdict}; DP ratio {_fmt(d.demographic_parity_ratio)}, DP difference "
                     f"{_fmt(d.demographic_parity_difference)}, EO difference {_fmt(d.equalized_odds_difference)}, "
                     f"EOpp difference {_fmt(d.equal_opportunity_difference)}")
        lines.append(f"  {'group':<28}{'count':>10}{'labelled':>10}{'select':>8}{'TPR':>8}{'FPR':>8}{'prec':>8}"
                     f"{'acc':>8}  status")
        for _, g in r.groups.iterrows():
            count = "<" + str(t.suppress_below) if g["status"] == "suppressed" else f"{int(g['count']):,}"
            labelled = "" if g["status"] == "suppressed" else f"{int(g['labelled']):,}"
            lines.append(f"  {str(g['group'])[:27]:<28}{count:>10}{labelled:>10}" + "".join(
                f"{_fmt(g[m]):>8}" for m in ("selection_rate", "true_positive_rate", "false_positive_rate",
                                             "precision", "accuracy")) + f"  {g['status']}")
    return "\n".join(lines)


def _what_ifs(args: argparse.Namespace) -> dict:
    if not args.score or args.model:
        return {}
    return {s: fairness.what_if_file(args.data, y_true=args.y_true, y_pred=args.y_pred, score=args.score,
                                     sensitive=s, constraint=args.equalise) for s in args.sensitive}


def run(args: argparse.Namespace) -> int:
    """Run ``vigil fairness``."""
    report = _report(args)
    what_ifs = _what_ifs(args)
    if args.format == "json":
        payload = report.to_dict()
        if what_ifs:
            payload["what_if"] = {s: w.to_dict() for s, w in what_ifs.items()}
        write_json(payload)
        return 0
    print(_table(report))
    for name, w in what_ifs.items():
        print(f"\nwhat-if on {name} (equalise {fairness.CONSTRAINTS[w.constraint]}, nothing changes): accuracy "
              f"{w.accuracy_before:.4f} -> {w.accuracy_after:.4f}; gap {w.disparity_before:.3f} -> "
              f"{w.disparity_after:.3f}; thresholds: " + ", ".join(
                  f"{g} {t:.3f}" for g, t in zip(w.groups["group"], w.groups["threshold"]) if t == t))
    return 0
