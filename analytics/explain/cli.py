"""``vigil explain``: global SHAP, a prediction's trace, counterfactuals, error analysis, logged attributions.

    vigil explain global credit-default [--version v1] [--days 30] [--rows 5000] [--seed 0]
    vigil explain trace credit-default cd-000000042
    vigil explain counterfactuals credit-default cd-000000042 [--answers 3]
    vigil explain errors credit-default [--target false_negative] [--depth 3]
    vigil explain log-attributions credit-default attributions.parquet   (admin/system: ingest)
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

import pandas as pd

from analytics import cli_identity, explain, store
from analytics.clock import utc_now
from analytics.input_files import read_table
from analytics.cli_support import EXIT_ERROR, EXIT_NOT_COMPUTABLE, checked_int, records, store_path, write_json
from analytics.roles import system_actor
from analytics.window import Window


def _window(args, db) -> Window:
    """The window of ``--days`` (default all time) on ``--version`` (default the champion), checked."""
    start = utc_now() - timedelta(days=args.days) if args.days else None
    version = explain.default_version(db, args.model, args.version)
    return Window.of_model(db, args.model, start=start, version=version)


def _print(frame: pd.DataFrame, as_json: bool) -> None:
    if as_json:
        write_json(records(frame))
    else:
        with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 80):
            print(frame.to_string(index=False))


def cmd_global(args) -> int:
    db = store_path(args)
    chosen = _window(args, db)
    version = chosen.version
    compared = explain.drift_for(db, args.model, chosen, sample_rows=args.rows, seed=args.seed)
    window, reference, drift = compared.window, compared.reference, compared.drift
    if window.rows == 0:  # nothing to explain is not attribution drift (it printed "Spearman nan; ATTRIBUTION DRIFT")
        where = f"in the last {args.days} days" if args.days else "in its log"
        print(f"error: no prediction of {args.model}:{version} {where}, so there is nothing to explain or compare; "
              "choose a longer window (--days) or another version", file=sys.stderr)
        return EXIT_NOT_COMPUTABLE if args.fail_on_drift else EXIT_ERROR
    print(f"{args.model} {version}: mean |SHAP| (log-odds) on a seeded sample of {window.rows:,} of "
          f"{window.window_rows:,} predictions (seed {args.seed}); reference {reference.rows:,} rows; "
          f"Spearman {drift.spearman:.3f}; {'ATTRIBUTION DRIFT' if drift.flagged else 'no attribution drift'}")
    _print(drift.table[["feature", "rank_window", "rank_reference", "share_window", "share_reference", "flagged",
                        "reason"]], args.json)
    return 1 if drift.flagged and args.fail_on_drift else 0


def cmd_trace(args) -> int:
    # Raw sensitive values of the row only for a proven person whose role may see them.
    traced = explain.trace(store_path(args), args.model, args.prediction_id, actor=cli_identity.reader(args),
                           with_counterfactuals=True)
    if args.json:
        write_json({"record": traced.record, "version": traced.version,
                          "explanation": None if traced.explanation is None else {
                              "base_value": traced.explanation.base_value, "raw_output": traced.explanation.raw_output,
                              "additivity_error": traced.explanation.additivity_error,
                              "contributions": records(traced.explanation.table[["feature", "contribution"]])},
                          "counterfactuals": None if traced.counterfactuals is None else
                          records(traced.counterfactuals.changes)})
        return 0
    for key, value in traced.record.items():
        print(f"{key:>22}: {value}")
    print(f"\nexplanation: {traced.explanation_note}")
    if traced.explanation is not None:
        e = traced.explanation
        print(f"base {e.base_value:.4f} + contributions {e.table['contribution'].sum():+.4f} = raw {e.raw_output:.4f} "
              f"(additivity error {e.additivity_error:.1e}); score {e.score:.4f}")
        _print(e.table.head(10)[["feature", "value", "contribution"]], False)
    print(f"\ncounterfactuals: {traced.counterfactual_note}")
    if traced.counterfactuals is not None and len(traced.counterfactuals.answers):
        _print(traced.counterfactuals.answers, False)
        _print(traced.counterfactuals.changes, False)
    print(f"\naudit entries of {traced.record['model']}:{traced.record['model_version']}: {len(traced.audit)}")
    _print(traced.audit[["seq", "occurred_at", "actor", "action"]].head(20), False)
    return 0


def cmd_counterfactuals(args) -> int:
    db = store_path(args)
    result = explain.counterfactuals_for(db, args.model, args.prediction_id, answers=args.answers)
    result = explain.mask_counterfactuals(db, args.model, result, cli_identity.reader(args))
    print(f"score {result.original_score:.4f}, threshold {result.threshold}, decision {result.original_decision}; "
          f"{len(result.answers)} answer(s), validity {result.validity:.0%} (re-scored by the model)")
    _print(result.answers, args.json)
    _print(result.changes, args.json)
    return 0


def cmd_errors(args) -> int:
    db = store_path(args)
    window = _window(args, db)
    version = window.version
    reader = cli_identity.reader(args)
    result = explain.error_analysis(db, args.model, window, target=args.target,
                                    depth=args.depth, seed=args.seed,
                                    sensitive_inputs=reader.can("see_sensitive_rows"))
    print(f"{args.model} {version}: {result.target} rate {result.error_rate:.2%} on {result.rows:,} labelled "
          f"predictions (seeded sample, seed {result.seed}); tree depth {result.depth}")
    if result.left_out:
        print(f"sensitive attributes left out of the tree's inputs ({', '.join(result.left_out)}): they need a role "
              "that may see sensitive rows (give your API token: $VIGIL_TOKEN or --token-file)")
    _print(result.leaves if args.json else result.leaves.drop(columns="rule_text"), args.json)
    return 0


def cmd_log_attributions(args) -> int:
    frame = read_table(args.file, "attributions file")
    rows = store.write(lambda con: explain.record_attributions(con, system_actor(), args.model, frame), store_path(args))
    print(f"stored {rows:,} attributions of {frame['prediction_id'].nunique():,} predictions")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``vigil explain ...`` to the command line."""
    parser = subparsers.add_parser("explain", help="SHAP, prediction trace, counterfactuals, error analysis")
    sub = parser.add_subparsers(dest="explain_command", required=True, metavar="ACTION")

    def common(p, *, window=True):
        p.add_argument("model")
        p.add_argument("--json", action="store_true", help="print JSON records")
        if window:
            p.add_argument("--version", help="default: the champion")
            p.add_argument("--days", type=checked_int(1, 36_500), help="window: the last N days (default: all time)")
            p.add_argument("--seed", type=checked_int(0, 2**32 - 1), default=0)

    g = sub.add_parser("global", help="global SHAP ranking and attribution drift against the reference")
    common(g)
    g.add_argument("--rows", type=checked_int(1, 10_000_000), help="sample size (default: setting explain.sample_rows)")
    g.add_argument("--fail-on-drift", action="store_true", help="exit 1 when attribution drift is flagged")
    g.set_defaults(func=cmd_global)
    t = sub.add_parser("trace", help="everything about one prediction")
    common(t, window=False)
    t.add_argument("prediction_id")
    cli_identity.identity_options(t)  # sensitive values only for a proven role that may see them
    t.set_defaults(func=cmd_trace)
    c = sub.add_parser("counterfactuals", help="smallest changes that flip one decision")
    common(c, window=False)
    c.add_argument("prediction_id")
    c.add_argument("--answers", type=checked_int(1, 50), default=3)
    cli_identity.identity_options(c)  # sensitive values only for a proven role that may see them
    c.set_defaults(func=cmd_counterfactuals)
    e = sub.add_parser("errors", help="error analysis: a shallow decision tree on the model's errors")
    common(e)
    e.add_argument("--target", choices=sorted(explain.ERROR_TARGETS), default="error")
    e.add_argument("--depth", type=checked_int(1, 20))
    cli_identity.identity_options(e)  # sensitive attributes among the tree's inputs only for a proven role
    e.set_defaults(func=cmd_errors)
    a = sub.add_parser("log-attributions", help="store attributions logged by a serving system (.parquet/.csv)")
    a.add_argument("model")
    a.add_argument("file")
    a.set_defaults(func=cmd_log_attributions)
