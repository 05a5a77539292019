"""The core ``vigil`` commands: ``init``, ``info``, ``demo``, ``ingest``, ``refresh``, ``users`` and ``audit``.

Registered by :mod:`analytics.cli` as the first of its command modules, like a feature's ``add_commands``;
kept apart from :mod:`analytics.cli` so that a feature's command (``vigil drift``, the CI gate) does not
import the ingest, the audit trail's checks, users and API tokens to build its parser.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from datetime import datetime

from analytics import (audit, audit_anchor, audit_reconcile, cli_identity, config, registry, settings_catalog, store,
                       tokens, users)
from analytics.cli_support import EXIT_ERROR, EXIT_NOT_COMPUTABLE, EXIT_PARTIAL, checked_day, checked_float, checked_int, store_path
from analytics.errors import InvalidInputError
from analytics.ingest import DEFAULT_BATCH_ROWS, ingest_files, watch
from analytics.roles import ROLES, require

class _ProgressBar:
    """A one-line text progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, width: int = 30) -> None:
        self.width = width
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()

    def __call__(self, message: str, fraction: float) -> None:
        filled = int(round(self.width * fraction))
        minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} {minutes:3d}:{seconds:02d}  {message}"
        if self.tty:
            sys.stderr.write("\r\033[K" + line + ("\n" if fraction >= 1 else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _audit_setup(target, action: str, details: dict) -> None:
    """Audit a set-up step (``init``, ``demo``) as the owner of the store file, who alone may take it."""
    owner = cli_identity.store_owner(target)
    store.write(lambda con: audit.record(con, owner, action, "store", target.name, details), target)


def cmd_init(args: argparse.Namespace) -> int:
    target = store_path(args, must_exist=False)
    cli_identity.store_owner(target)
    existed = target.exists()
    version = store.create(target)
    _audit_setup(target, "store.init", {"schema_version": version, "created": not existed})
    print(f"store {target} is at schema version {version}" + ("" if existed else " (created)"))
    if not users.has_admin(target):
        print("no admin yet: add the first one with 'vigil users add NAME --role admin' (as the owner of this "
              "file), then issue API tokens with 'vigil users token NAME --as NAME'")
    _print_trust_files(target)
    return 0


def _print_trust_files(target) -> None:
    """Say where the audit trail's key and anchor are (see docs/security.md)."""
    print(f"audit key (keep it apart from the store, back it up): {config.audit_key_path()}")
    print(f"audit anchor (append-only; export a copy with 'vigil audit anchor export FILE'): "
          f"{audit_anchor.anchor_path(target)}")


def cmd_info(args: argparse.Namespace) -> int:
    def work(con):
        lines = [f"store: {store_path(args)} (schema version {store.schema_version(con)})"]
        for info in registry.list_models(con):
            n = con.execute(f"SELECT count(*) FROM {store.predictions_view(info.stem)}").fetchone()[0]
            m = con.execute(f"SELECT count(*) FROM {store.outcomes_view(info.stem)}").fetchone()[0]
            versions = registry.list_versions(con, info.name)
            listed = ", ".join(f"{v} ({s})" for v, s in zip(versions["version"], versions["status"]))
            lines.append(f"  {info.name}: {n:,} predictions, {m:,} outcomes; versions: {listed}")
        users_count = con.execute("SELECT count(*) FROM users").fetchone()[0]
        lines.append(f"  users: {users_count}; audit rows: {con.execute('SELECT count(*) FROM audit_log').fetchone()[0]}")
        return lines

    print("\n".join(store.read(work, store_path(args))))
    return 0


def _setting_values(assignments: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` arguments as setting values, each parsed as ``vigil settings set`` parses it."""
    values = {}
    for assignment in assignments:
        key, equals, text = assignment.partition("=")
        if not equals:
            raise InvalidInputError(f"--set {assignment!r}: write KEY=VALUE, e.g. explain.kept_shap_rows_per_day=20")
        values[key.strip()] = settings_catalog.lookup(key.strip()).parse(text)
    return values


def cmd_demo(args: argparse.Namespace) -> int:
    from analytics.demo import build_demo  # imported when run: the demo package loads LightGBM and the data sets

    target = store_path(args, must_exist=False)
    if target.exists() and args.if_missing:
        print(f"{target} exists; keeping it (use 'vigil demo --force' to rebuild)")
        return 0
    if target.exists() and not args.force:
        print(f"error: {target} exists; use --force to replace it with a fresh demo, or --if-missing to keep it",
              file=sys.stderr)
        return EXIT_ERROR
    cli_identity.store_owner(target)
    end = datetime.combine(args.end, datetime.min.time()) if args.end else None
    summary = build_demo(target, seed=args.seed, rows=args.rows, end=end, progress=_ProgressBar(),
                         setting_values=_setting_values(args.set))
    _audit_setup(target, "store.demo", {"seed": summary.seed, "end": f"{summary.end:%Y-%m-%d}"})
    print(f"Built the demo portfolio in {summary.seconds:.1f} s: {target}")
    print(f"Production window ends {summary.end:%Y-%m-%d} 00:00 UTC (seed {summary.seed}).")
    for model, rows in summary.rows.items():
        print(f"  {model}: {rows:,} predictions, {summary.outcomes[model]:,} outcomes")
    print("\nDemo users (passwords shown once; also written to "
          f"{summary.credentials_file}, readable only by you):")
    for username, (role, password) in summary.credentials.items():
        print(f"  {username:<16} {role:<9} {password}")
    print("\nGovernance and admin commands act for a person: add --as NAME (asks for the password), or issue "
          "a personal API token with 'vigil users token NAME --as admin' and put it in $VIGIL_TOKEN.")
    _print_trust_files(target)
    return 0


class _StopOnCtrlC:
    """The first Ctrl-C asks a loop to stop after its current step; a second one interrupts at once."""

    def __init__(self) -> None:
        self._asked = False
        self._previous = signal.signal(signal.SIGINT, self._ask)

    def _ask(self, signum: int, frame: object) -> None:
        self._asked = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("stopping after the file being taken (Ctrl-C again stops at once)", flush=True)

    def keep_going(self) -> bool:
        return not self._asked

    def restore(self) -> None:
        signal.signal(signal.SIGINT, self._previous)


def cmd_demo_cards(args: argparse.Namespace) -> int:
    """``vigil governance demo-cards``: the demo's cards, added here so that governance knows nothing of the demo."""
    from analytics.demo import write_cards  # imported when run: the demo package loads LightGBM and the data sets

    store.write(lambda con: write_cards(con, args.actor), store_path(args))
    print("wrote the model cards and risk tiers of the demo models registered in the store")
    return 0


def add_demo_cards(governance: argparse.ArgumentParser) -> None:
    """Add ``vigil governance demo-cards`` to the governance parser (governance knows nothing of the demo)."""
    actions = next(a for a in governance._actions if isinstance(a, argparse._SubParsersAction))
    cards = actions.add_parser("demo-cards", help="write the demo models' cards and risk tiers into an existing store")
    cli_identity.needs_person(cards)
    cards.set_defaults(func=cmd_demo_cards)


def cmd_ingest(args: argparse.Namespace) -> int:
    from analytics.refresh import refresh_after_ingest  # imported when run: it loads every feature (5 s)

    db = store_path(args)

    def refreshed(model: str) -> None:
        if args.no_refresh:
            print("summaries not refreshed (--no-refresh); pages read the days not summarised from the log "
                  "until 'vigil refresh' runs")
        else:
            print(refresh_after_ingest(db, model).summary())

    if args.watch:
        def on_file(report) -> None:
            print(report.summary(), flush=True)
            if report.status == "committed" and report.rows_loaded:
                refreshed(args.model)

        print(f"watching {args.path} for new {args.kind} files of {args.model} every {args.interval:g} s "
              "(Ctrl-C stops after the file being taken; files are never moved or deleted)", flush=True)
        stop = _StopOnCtrlC()
        try:
            watch(args.model, args.path, kind=args.kind, on_error=args.on_error, db=db, interval=args.interval,
                  keep_going=stop.keep_going, on_file=on_file)
        except KeyboardInterrupt:
            print("stopped at once (second Ctrl-C): an ingest not yet committed left nothing behind; a restarted watch "
                  "takes the file again")
            return EXIT_ERROR
        finally:
            stop.restore()
        print("stopped watching")
        return 0
    bar = _ProgressBar()
    result = ingest_files(args.model, args.path, kind=args.kind, on_error=args.on_error, batch_rows=args.batch_rows,
                          db=db, progress=lambda rows: bar(f"{rows:,} rows read", 0.0) if args.progress else None)
    print(result.summary() if len(result.reports) + len(result.skipped) > 1 or result.skipped
          else result.reports[0].summary())
    if result.total("rows_loaded"):
        refreshed(args.model)
    if result.rejected:
        return EXIT_ERROR
    return EXIT_PARTIAL if result.total("rows_quarantined") else 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from analytics.refresh import refresh_after_ingest

    db = store_path(args)
    models = [args.model] if args.model else store.read(
        lambda con: [r[0] for r in con.execute("SELECT model_name FROM models ORDER BY 1").fetchall()], db)
    for model in models:
        print(refresh_after_ingest(db, model).summary())
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    actor, db = args.actor, store_path(args)
    if args.users_command == "list":
        require(actor, "manage_users")
        frame = store.read(users.list_users, db)
        print(frame.to_string(index=False) if not frame.empty else "no users yet")
    elif args.users_command == "add":
        password = store.write(lambda con: users.add_user(con, actor, args.username, args.role, email=args.email,
                                                         display_name=args.name), db)
        print(f"added {args.username} ({args.role}). Password (shown once): {password}")
    elif args.users_command == "disable":
        store.write(lambda con: users.set_disabled(con, actor, args.username, True), db)
        print(f"disabled {args.username}")
    elif args.users_command == "enable":
        store.write(lambda con: users.set_disabled(con, actor, args.username, False), db)
        print(f"enabled {args.username}")
    elif args.users_command == "set-role":
        store.write(lambda con: users.set_role(con, actor, args.username, args.role), db)
        print(f"{args.username} is now {args.role}")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    actor, db = args.actor, store_path(args)
    if args.users_command == "token":
        issued = store.write(lambda con: tokens.issue_token(con, actor, args.username, days=args.days,
                                                           label=args.label or ""), db)
        print(f"API token #{issued.token_id} of {issued.username}, valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC "
              "(shown once; only its hash is kept):", file=sys.stderr)
        print(issued.text)
        print(f"keep it in a file readable only by {issued.username} (--token-file FILE) or in "
              f"${cli_identity.TOKEN_VARIABLE}; revoke it with 'vigil users revoke-token {issued.token_id}'",
              file=sys.stderr)
    elif args.users_command == "tokens":
        if args.username != actor.username:
            require(actor, "manage_users")
        frame = store.read(lambda con: tokens.list_tokens(con, args.username), db)
        print(frame.to_string(index=False) if not frame.empty else "no API tokens")
    else:
        store.write(lambda con: tokens.revoke_token(con, actor, args.token_id), db)
        print(f"revoked API token #{args.token_id}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    db = store_path(args)
    if args.audit_command == "anchor":
        return _cmd_anchor(args, db)

    def work(con):
        return audit.verify(con, exported_anchors=tuple(args.anchor or ())), audit_reconcile.reconcile(con)

    status, unexplained = store.read(work, db)
    if not status.intact:
        print(status.summary(), file=sys.stderr)
    else:
        print(status.summary())
    for problem in unexplained:
        print(f"unexplained change: {problem}", file=sys.stderr)
    if unexplained:
        print(f"{len(unexplained)} change(s) in the tables have no audit row", file=sys.stderr)
    if not status.intact or unexplained:
        return EXIT_ERROR
    if status.assurance != "authenticated and anchored":
        print(f"the trail is {status.assurance}: it cannot prove that rows were not edited and re-chained or "
              "that its last rows were not deleted (see docs/security.md)", file=sys.stderr)
        return EXIT_NOT_COMPUTABLE
    return 0


def _cmd_anchor(args: argparse.Namespace, db) -> int:
    if args.anchor_command == "export":
        lines = audit_anchor.export(db, args.file)
        print(f"copied {lines:,} anchored heads to {args.file}; keep it where the store's writers cannot write, "
              f"and check the store against it with 'vigil audit verify --anchor {args.file}'")
        return 0
    seq = store.write(lambda con: audit.restart_anchor(con, args.actor, args.reason), db)
    print(f"anchor {audit_anchor.anchor_path(db)} restarted at row {seq} (audited)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the core commands (those :data:`analytics.cli.CORE_COMMANDS` names)."""
    sub.add_parser("init", help="create the store, or upgrade it in place").set_defaults(func=cmd_init)
    sub.add_parser("info", help="what the store holds").set_defaults(func=cmd_info)

    demo = sub.add_parser("demo", help="build the demo portfolio from real public data")
    demo.add_argument("--seed", type=checked_int(0, 2**32 - 1), default=7, help="random seed (default 7)")
    demo.add_argument("--rows", type=checked_int(1, 100_000_000), help="rows of the credit-default log (default 240,000)")
    demo.add_argument("--end", type=checked_day, help="last day of the production window, YYYY-MM-DD (default today, UTC)")
    demo.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="a store-wide setting the build follows (repeatable; 'vigil settings list' names them), "
                           "e.g. explain.kept_shap_rows_per_day=20 keeps fewer SHAP values and builds faster")
    group = demo.add_mutually_exclusive_group()
    group.add_argument("--force", action="store_true", help="replace an existing store")
    group.add_argument("--if-missing", action="store_true", help="do nothing if the store exists")
    demo.set_defaults(func=cmd_demo)

    ing = sub.add_parser("ingest", help="load predictions or outcomes from Parquet or CSV files, or follow a folder")
    ing.add_argument("model", help="registered model name")
    ing.add_argument("path", help="a .parquet or .csv file, a folder of them, or a glob such as 'logs/*.parquet' "
                                  "(quote it); each file is taken once")
    ing.add_argument("--watch", action="store_true",
                     help="follow the folder: ingest each new file once it stops growing (restart-safe)")
    ing.add_argument("--interval", type=checked_float(0.1, 86_400), default=5.0, help="seconds between looks at the folder (--watch)")
    ing.add_argument("--no-refresh", action="store_true",
                     help="do not bring the pages' summaries (drift rollups, serving and KPI summaries) up to date")
    ing.add_argument("--kind", choices=["predictions", "outcomes"], default="predictions")
    ing.add_argument("--on-error", choices=["reject", "quarantine"], default="reject",
                     help="reject: nothing lands if a row fails (default); quarantine: load the valid rows")
    ing.add_argument("--batch-rows", type=checked_int(1, 10_000_000), default=DEFAULT_BATCH_ROWS, help="rows per streamed batch")
    ing.add_argument("--progress", action="store_true", help="print rows read as the file streams")
    ing.set_defaults(func=cmd_ingest)

    ref = sub.add_parser("refresh", help="bring the summaries the pages read up to date (the ingest does it after "
                                         "its commit; pages read days not yet summarised from the log)")
    ref.add_argument("model", nargs="?", help="one registered model (default: every model)")
    ref.set_defaults(func=cmd_refresh)

    usr = sub.add_parser("users", help="manage local users and their API tokens")
    usr_sub = usr.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    cli_identity.needs_person(usr_sub.add_parser("list", help="list users"))
    add = cli_identity.needs_person(usr_sub.add_parser(
        "add", help="add a user; prints a generated password once (the store file's owner adds the first admin)"),
        owner_during_setup=lambda args: args.role == "admin")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--email")
    add.add_argument("--name", help="display name")
    for action in ("disable", "enable"):
        cli_identity.needs_person(usr_sub.add_parser(action, help=f"{action} a user")).add_argument("username")
    set_role = cli_identity.needs_person(usr_sub.add_parser("set-role", help="change a user's role"))
    set_role.add_argument("username")
    set_role.add_argument("role", choices=ROLES)
    usr.set_defaults(func=cmd_users)
    tok = cli_identity.needs_person(usr_sub.add_parser(
        "token", help="issue a personal API token for a user (admins; shown once, stored hashed)"))
    tok.add_argument("username")
    tok.add_argument("--days", type=checked_int(1, tokens.MAX_DAYS), default=tokens.DEFAULT_DAYS,
                     help=f"lifetime in days (default {tokens.DEFAULT_DAYS})")
    tok.add_argument("--label", help="what the token is for (shown in 'vigil users tokens')")
    tok.set_defaults(func=cmd_tokens)
    lst = cli_identity.needs_person(usr_sub.add_parser("tokens", help="list API tokens (never their secrets)"))
    lst.add_argument("username", nargs="?", help="only this user's tokens (default: all; admins only)")
    lst.set_defaults(func=cmd_tokens)
    rev = cli_identity.needs_person(usr_sub.add_parser("revoke-token", help="revoke an API token by its number"))
    rev.add_argument("token_id", type=checked_int(1))
    rev.set_defaults(func=cmd_tokens)

    aud = sub.add_parser("audit", help="the audit trail")
    aud_sub = aud.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    ver = aud_sub.add_parser("verify", help="check the chain, each row's authentication code, the anchored heads and "
                                            "that every state change has its audit row; exit 1 naming the first "
                                            "problem, 4 if the trail is only chained (not authenticated and anchored)")
    ver.add_argument("--anchor", action="append", metavar="FILE",
                     help="also check against an anchor exported earlier (repeatable)")
    anchor = aud_sub.add_parser("anchor", help="the anchor file that keeps the trail's head outside the store")
    anchor_sub = anchor.add_subparsers(dest="anchor_command", required=True, metavar="ACTION")
    anchor_sub.add_parser("export", help="copy the anchor file to FILE, to keep elsewhere").add_argument("file")
    restart = cli_identity.needs_person(anchor_sub.add_parser("restart", help="start a new anchor file at the current head after the old one "
                                                    "was lost (admins; needs the audit key; audited)"))
    restart.add_argument("--reason", required=True, help="why the anchor was lost (kept in the audit row)")
    aud.set_defaults(func=cmd_audit)
