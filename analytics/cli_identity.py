"""Who a ``vigil`` command acts for: a person who proved it, never a name typed on the command line.

A command that changes governance state or administers the store declares it with
:func:`needs_person` when its parser is built; :func:`analytics.cli.main` then establishes the
person before the command runs and hands it over as ``args.actor``. The person proves who they are
with, in this order:

1. ``--token-file FILE``: a file holding a personal API token (``vigil users token NAME``);
2. the ``VIGIL_TOKEN`` environment variable, holding such a token;
3. ``--as NAME``: NAME's password, asked at a prompt (never taken from the command line).

With ``--as NAME`` and a token, the token must be NAME's. Without any of them the command is refused
with a message saying how to get a token. Read-only analysis commands need no identity.

Three identities are not persons, and say so in every audit row they write:

- :func:`store_owner`: whoever owns the store file sets it up: creates it (``init``, ``demo``) and,
  until it has an admin, adds the first admin and registers models (:func:`needs_person`'s
  ``owner_during_setup``);
- :func:`analytics.roles.system_actor`: a service process of the OS account (``ingest``,
  ``monitor``), which writes data and evaluations but no governance decision;
- a command that shows more to a role allowed to see it (:func:`optional_person`) shows the
  least without a proven identity.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Callable
from pathlib import Path

from analytics import tokens, users
from analytics.cli_support import UsageError, store_path
from analytics.errors import AuthenticationError
from analytics.roles import Actor, os_user

#: The environment variable read for a personal API token.
TOKEN_VARIABLE = "VIGIL_TOKEN"

_NO_IDENTITY = ("this command acts for a person: give your personal API token in ${var} or with --token-file FILE "
                "(an admin issues one with 'vigil users token NAME'), or sign in with --as NAME (asks for the "
                "password)")


def needs_person(parser: argparse.ArgumentParser, *,
                 owner_during_setup: Callable[[argparse.Namespace], bool] | None = None) -> argparse.ArgumentParser:
    """Declare that a (sub)command acts for a proven person, and give it ``--as`` and ``--token-file``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's own (leaf) parser.
    owner_during_setup : callable, optional
        For the steps that set a store up (``vigil users add`` of the first admin, ``vigil models
        register``): while the store has no enabled admin (so there is nobody to prove), the owner of
        the store file may take the step when ``owner_during_setup(args)`` is true; it is audited as
        the owner. From the first admin on, the command needs a person like any other.

    Returns
    -------
    argparse.ArgumentParser
        ``parser``, for chaining.
    """
    identity_options(parser)
    parser.set_defaults(needs_person=True, owner_during_setup=owner_during_setup, resolve_actor=resolve)
    return parser


def identity_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give a command ``--as NAME`` and ``--token-file FILE`` without requiring them.

    For a command that needs a person only on some paths (``vigil models card`` writes only with
    ``--file``) or shows more to a proven role (``vigil explain trace``); it calls :func:`person` or
    :func:`optional_person` itself.
    """
    parser.add_argument("--as", dest="as_user", metavar="NAME",
                        help="sign in as this local user (asks for the password); or use an API token")
    parser.add_argument("--token-file", metavar="FILE",
                        help=f"a file holding your personal API token (default: ${TOKEN_VARIABLE})")
    return parser


def _token_text(args: argparse.Namespace) -> str | None:
    path = getattr(args, "token_file", None)
    if path:
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"--token-file {path} does not exist or is not a file")
        return file.read_text(encoding="utf-8").strip()
    return os.environ.get(TOKEN_VARIABLE, "").strip() or None


def person(args: argparse.Namespace) -> Actor:
    """The person a command acts for, proven by an API token or a password (see the module docstring).

    Raises
    ------
    AuthenticationError
        Without any credential, with an invalid, revoked or expired token, with a wrong password, or
        when ``--as`` names someone other than the token's holder.
    """
    db = store_path(args)
    named = getattr(args, "as_user", None)
    text = _token_text(args)
    if text is not None:
        actor = tokens.authenticate_token(text, db=db, channel="cli")
        if named and named != actor.username:
            raise AuthenticationError(f"the API token is {actor.username}'s, not {named}'s: a token acts only "
                                      "for its holder")
        return actor
    if named:
        password = getpass.getpass(f"password of {named}: ")
        return users.authenticate(named, password, db=db, channel="cli")
    raise AuthenticationError(_NO_IDENTITY.replace("${var}", TOKEN_VARIABLE))


def optional_person(args: argparse.Namespace) -> Actor | None:
    """The proven person when a credential is given (as :func:`person`), else None (nothing proven)."""
    if getattr(args, "as_user", None) or _token_text(args) is not None:
        return person(args)
    return None


def reader(args: argparse.Namespace) -> Actor:
    """Who reads: the proven person if a credential is given, else an unproven reader with the least role.

    For commands that show more to a role allowed to see it (raw sensitive values of single rows):
    without a proven identity they show what a viewer sees.
    """
    proven = optional_person(args)
    if proven is not None:
        return proven
    return Actor(f"cli:{os_user()}", "viewer", channel="cli", proof="none (no identity given: least access)")


def store_owner(path: str | Path) -> Actor:
    """The owner of the store file (or, before it exists, of its folder), acting to set the store up.

    Raises
    ------
    AuthenticationError
        When this process's OS account does not own the file (or its folder).
    """
    target = Path(path)
    owned = target if target.exists() else target.parent
    if hasattr(os, "getuid") and owned.exists() and owned.stat().st_uid != os.getuid():
        raise AuthenticationError(f"{owned} belongs to another OS account; only its owner may set the store up "
                                  "(other people act with their own API token)")
    return Actor(f"owner:{os_user()}", "system", channel="cli", proof="owner of the store file")


def in_setup(db: str | Path) -> bool:
    """Whether the store is still being set up: it does not exist yet, or it has no enabled admin."""
    return not Path(db).exists() or not users.has_admin(db)


def resolve(args: argparse.Namespace) -> Actor:
    """The actor of a command declared with :func:`needs_person` (called by :func:`analytics.cli.main`)."""
    setup_step = getattr(args, "owner_during_setup", None)
    if setup_step is not None and setup_step(args):
        db = store_path(args, must_exist=False)
        if in_setup(db):
            return store_owner(db)
    return person(args)
