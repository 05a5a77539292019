"""The ``vigil`` command line. Every command prints a clear message and a non-zero exit code on error.

Exit codes: see :mod:`analytics.cli_support` (0 success; 1 error, rejected input or a failed gate;
2 wrong usage; 3 an ingest landed with quarantined rows; 4 a gate that cannot be judged; 141 SIGPIPE).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from analytics import __version__, config
from analytics.cli_support import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_USAGE, UsageError
from analytics.errors import VigilError
from analytics.input_files import os_error_text

#: The module of the core commands (``init``, ``info``, ``demo``, ``ingest``, ``refresh``, ``users``, ``audit``),
#: listed first by ``vigil --help``; it has ``add_commands(subparsers)`` as a feature module has.
CORE_COMMANDS_MODULE = "analytics.cli_core"
#: The core module's command names, so that a feature's command is parsed without importing the core module
#: (the ingest, users, tokens); ``tests/test_cli_files.py`` checks them against what the module adds.
CORE_COMMANDS: tuple[str, ...] = ("init", "info", "demo", "ingest", "refresh", "users", "audit")
#: Feature modules that add their own subcommands: each has ``add_commands(subparsers)``, which adds
#: parsers whose ``func(args) -> int`` receives ``args.db`` (a path or None). Add a feature with one line.
FEATURE_COMMANDS: tuple[str, ...] = ("analytics.drift.cli", "analytics.scaleout.cli", "analytics.compliance.cli", "analytics.fairness.cli", "analytics.explain.cli",
                                   "analytics.governance.cli", "analytics.business.cli",
                                   "analytics.modelspec.cli", "analytics.alerts.cli", "analytics.deployments.cli",
                                   "analytics.settings_cli", "analytics.reports.cli",
                                   "analytics.backup_cli")


def _command_name(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is neither an option nor ``--db``'s value)."""
    words = iter(argv)
    for word in words:
        if word == "--db":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``vigil`` command.

    For a feature's ``command``, only the feature modules up to the one that adds it are imported
    (neither the core commands' module, but for ``governance``'s ``demo-cards``, nor the later
    features): ``vigil drift``, the CI gate, pays for neither the ingest nor LightGBM, SHAP or
    fairlearn. For a core command, no command or an unknown one, every module is (``vigil --help``
    lists every command).
    """
    parser = argparse.ArgumentParser(prog="vigil", description="Govern and monitor models in production.")
    parser.add_argument("--version", action="version", version=f"vigil {__version__}")
    parser.add_argument("--db", help="DuckDB store (default: $VIGIL_DB or data/vigil.duckdb)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    if command is not None and command not in CORE_COMMANDS:
        for module in FEATURE_COMMANDS:
            importlib.import_module(module).add_commands(sub)
            if command in sub.choices:
                break
        else:  # not a command: the full parser names every command in its message
            return build_parser()
        if command != "governance":  # only governance's own parser needs the core module's demo-cards
            return parser
    else:
        for module in (CORE_COMMANDS_MODULE, *FEATURE_COMMANDS):
            importlib.import_module(module).add_commands(sub)
    importlib.import_module(CORE_COMMANDS_MODULE).add_demo_cards(sub.choices["governance"])
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vigil`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    config.share_cores()
    parser = build_parser(_command_name(argv))
    args = parser.parse_args(argv)
    try:
        if getattr(args, "needs_person", False):
            args.actor = args.resolve_actor(args)
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc} (see 'vigil {args.command} --help')", file=sys.stderr)
        return EXIT_USAGE
    except VigilError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # Nobody reads stdout any more; point it at /dev/null so that Python's final flush stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # a file the command reads or writes: name it and say what to do
        print(f"error: {os_error_text(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - last resort: a short message, the traceback on request
        if os.environ.get("VIGIL_DEBUG"):
            traceback.print_exc()
        print(f"error: unexpected {type(exc).__name__}: {exc} (set VIGIL_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR


def _no_teardown(argv: list[str]) -> bool:
    """The command in ``argv`` opens no store and leaves nothing to tidy once its output is written: the file gate,
    ``vigil drift REFERENCE CURRENT`` (not ``--model``)."""
    return _command_name(argv) == "drift" and not any(a == "--model" or a.startswith("--model=") for a in argv)


def run() -> None:
    """Entry point of the ``vigil`` console script: :func:`main`, then exit with its code.

    After the file gate (:func:`_no_teardown`) the process ends once its output is flushed, without Python's
    teardown of numpy, pyarrow and DuckDB (``os._exit``): about 50 ms of a one-second gate, several times that
    on a loaded machine. Every other command exits as usual (its store's connections and files closed).
    """
    argv = sys.argv[1:]
    code = main(argv)
    if _no_teardown(argv):
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            code = EXIT_BROKEN_PIPE
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
