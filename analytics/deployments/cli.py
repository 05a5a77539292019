"""``vigil deployments``: compare two versions with significance, and run a guarded rollout.

Examples::

    vigil deployments compare credit-default --baseline v1 --candidate v2 [--start 2026-10-01 --end 2026-11-01]
    vigil deployments compare employment --baseline v1 --candidate v3 --fixed-horizon --format json
    vigil deployments plan employment v3 --steps 0.1:24:1000,0.25:24:2000,0.5:24:5000 \\
        --guardrail latency_ms=5 --guardrail cost_per_decision --as paul.approver
    vigil deployments step employment [--dry-run] --as paul.approver
    vigil deployments promote employment --comment "guardrails held" --as paul.approver
    vigil deployments cancel employment --reason "..." --as paul.approver
    vigil deployments status employment
    vigil deployments refresh [credit-default]

``compare`` exits 1 when the overall verdict is worse (so a pipeline can stop on it).
"""

from __future__ import annotations

import argparse
import json


from analytics import cli_identity, deployments, store
from analytics.deployments import _rollout
from analytics.errors import InvalidInputError
from analytics.window import Window
from analytics.cli_support import store_path
from analytics.governance.cli import _actor, _time

EXIT_WORSE = 1


def _number(x) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def format_comparison(r: deployments.DeploymentComparison) -> str:
    """The comparison as a text table with the overall verdict first."""
    lines = [f"{r.model}: {r.candidate} against {r.baseline} ({r.design}, "
             f"{'sequential (always-valid)' if r.sequential else 'fixed-horizon'}, alpha {r.alpha:g})",
             f"window (UTC): {r.start or 'start'} to {r.end or 'end'}; rows: "
             + ", ".join(f"{k} {v:,}" for k, v in r.rows.items()),
             f"VERDICT: {r.verdict.upper()} — {r.reason}"]
    if r.ratio is not None:
        lines.append(f"sample ratio: {' / '.join(f'{o:,}' for o in r.ratio.observed)} against planned "
                     f"{' / '.join(f'{s:.0%}' for s in r.ratio.expected_share)}, chi-square p = {r.ratio.p_value:.3g}")
    if r.coverage is not None:
        lines.append(("WARNING: " if r.coverage.low else "") + "shadow coverage: " + r.coverage.message())
    if r.power.get("rows_needed_baseline"):
        days = r.power.get("days_needed_at_current_traffic")
        lines.append(f"power: {r.power['rows_needed_baseline']:,} baseline rows (and "
                     f"{r.power['rows_needed_candidate']:,} candidate rows) detect a difference of "
                     f"{r.power['detectable_difference']:.4g} in {r.power['measure']} with power 0.8"
                     + (f", about {days:,.1f} days at this traffic" if days else ""))
    table = r.table
    if not table.empty:
        cols = ["measure", "unit", "baseline", "candidate", "difference", "ci_low", "ci_high", "p_value", "adjusted_p",
                "margin", "verdict"]
        rows = [cols] + [[_number(v) for v in rec] for rec in table[cols].itertuples(index=False)]
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(cols))]
        lines.append("")
        lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    db = store_path(args)
    window = Window.of_model(db, args.model, start=_time(args.start), end=_time(args.end))
    r = deployments.compare(db, args.model, baseline=args.baseline, candidate=args.candidate, window=window,
                            design=args.design, sequential=not args.fixed_horizon)
    print(json.dumps(r.to_dict(), indent=2, default=str) if args.format == "json" else format_comparison(r))
    return EXIT_WORSE if r.verdict == "worse" else 0


def parse_steps(text: str) -> tuple[_rollout.RolloutStep, ...]:
    """``share[:hours[:rows]],...`` -> steps (``0.1:24:1000,0.5``)."""
    steps = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        fields = part.split(":")
        try:
            share = float(fields[0])
            hours = float(fields[1]) if len(fields) > 1 and fields[1] else 24.0
            rows = int(fields[2]) if len(fields) > 2 and fields[2] else 1_000
        except ValueError:
            raise InvalidInputError(f"step {part!r} is not share[:hours[:rows]] (for example 0.1:24:1000)") from None
        steps.append(_rollout.RolloutStep(share, hours, rows))
    return tuple(steps)


def cmd_plan(args: argparse.Namespace) -> int:
    guardrails: dict[str, float | None] = {}
    for g in args.guardrail or ["latency_ms", "cost_per_decision"]:
        key, _, margin = g.partition("=")
        try:
            guardrails[key.strip()] = float(margin) if margin else None
        except ValueError:
            raise InvalidInputError(f"guardrail {g!r} is not measure[=margin]") from None
    plan = _rollout.RolloutPlan(parse_steps(args.steps), guardrails,
                                tuple(r.strip() for r in args.promoters.split(",") if r.strip()))
    actor = _actor(args)
    plan_id = store.write(lambda con: _rollout.start_rollout(con, actor, args.model, args.version, plan), store_path(args))
    print(f"rollout plan {plan_id}: {args.model}:{args.version} serves {plan.steps[0].share:.0%} as a canary "
          f"(step 1 of {len(plan.steps)})")
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    evaluation = _rollout.evaluate(store_path(args), args.model)
    print(f"step {evaluation.rollout.step_index + 1} of {len(evaluation.rollout.plan.steps)} "
          f"({evaluation.rollout.share:.0%}, {evaluation.hours:.1f} h): {evaluation.decision.upper()}")
    for reason in evaluation.reasons:
        print(f"  - {reason}")
    if args.dry_run:
        return 0
    actor = _actor(args)
    print(store.write(lambda con: _rollout.step(con, actor, evaluation), store_path(args)))
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    actor = _actor(args)
    store.write(lambda con: _rollout.promote(con, actor, args.model, comment=args.comment), store_path(args))
    print(f"{args.model}: the rollout's version is now the champion")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    actor = _actor(args)
    store.write(lambda con: _rollout.cancel(con, actor, args.model, reason=args.reason), store_path(args))
    print(f"{args.model}: rollout cancelled; the champion serves all traffic")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    history = store.read(lambda con: _rollout.rollout_history(con, args.model), store_path(args))
    if history.empty:
        print(f"{args.model} has no rollout plan")
        return 0
    print("rollout timeline (UTC):")
    print(history.to_string(index=False))
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    done = deployments.refresh_paired(store_path(args), args.model)
    if not done:
        print("no shadow deployment to summarise" + (f" for {args.model}" if args.model else ""))
    for model, pairs in done.items():
        print(f"{model}: shadow comparison summaries up to date: "
              + ", ".join(f"{pair} {n} days rebuilt" for pair, n in pairs.items()))
    return 0


def add_commands(sub) -> None:
    """Add ``vigil deployments``."""
    d = sub.add_parser("deployments", help="compare versions with significance; guarded canary rollouts")
    actions = d.add_subparsers(dest="deployments_command", required=True, metavar="ACTION")
    c = actions.add_parser("compare", help="a baseline against a candidate: tests, intervals, verdicts")
    c.add_argument("model")
    c.add_argument("--baseline", required=True)
    c.add_argument("--candidate", required=True)
    c.add_argument("--start", help="UTC, YYYY-MM-DD[THH:MM] (default: the start of the log)")
    c.add_argument("--end", help="UTC, exclusive (default: the end of the log)")
    c.add_argument("--design", choices=["auto", "paired", "unpaired"], default="auto",
                   help="auto pairs the versions when the candidate's rows carry a request_id")
    c.add_argument("--fixed-horizon", action="store_true",
                   help="fixed-horizon tests for a pre-registered sample (default: always-valid, sequential)")
    c.add_argument("--format", choices=["table", "json"], default="table")
    c.set_defaults(func=cmd_compare)
    p = actions.add_parser("plan", help="store a rollout plan and start its first canary step")
    p.add_argument("model")
    p.add_argument("version")
    p.add_argument("--steps", required=True, help="share[:hours[:rows]],... for example 0.1:24:1000,0.5:24:5000")
    p.add_argument("--guardrail", action="append", help="measure[=margin], repeatable (default: latency_ms, "
                   "cost_per_decision with the settings' margins)")
    p.add_argument("--promoters", default="approver,admin", help="roles that may promote (comma-separated)")
    cli_identity.needs_person(p)
    p.set_defaults(func=cmd_plan)
    s = actions.add_parser("step", help="evaluate the current step and apply it (continue, pause, roll back, ready)")
    s.add_argument("model")
    s.add_argument("--dry-run", action="store_true", help="evaluate only")
    cli_identity.needs_person(s)
    s.set_defaults(func=cmd_step)
    pr = actions.add_parser("promote", help="promote a rollout that passed its last step")
    pr.add_argument("model")
    pr.add_argument("--comment", required=True)
    cli_identity.needs_person(pr)
    pr.set_defaults(func=cmd_promote)
    ca = actions.add_parser("cancel", help="cancel a rollout (the canary ends)")
    ca.add_argument("model")
    ca.add_argument("--reason", required=True)
    cli_identity.needs_person(ca)
    ca.set_defaults(func=cmd_cancel)
    st = actions.add_parser("status", help="a model's rollout timeline")
    st.add_argument("model")
    st.set_defaults(func=cmd_status)
    r = actions.add_parser("refresh", help="bring the stored shadow comparison summaries up to date (ingest does it)")
    r.add_argument("model", nargs="?", help="one model (default: every model)")
    r.set_defaults(func=cmd_refresh)



