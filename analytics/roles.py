"""Roles and what each may do. Every write in analytics calls :func:`require` first.

The five human roles, from least to most trusted: ``viewer`` (a business owner: reads aggregates),
``analyst`` (investigates incidents), ``reviewer`` (validates models, sees sensitive attributes),
``approver`` (approves or rejects versions), ``admin`` (users, settings, thresholds). ``system`` is
the identity of command-line and service processes run by an operator on the server; no user can
be given it.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

from analytics.errors import InvalidInputError, PermissionDeniedError, Refused

ROLES: tuple[str, ...] = ("viewer", "analyst", "reviewer", "approver", "admin")

#: Capability -> roles that hold it. ``system`` holds every capability.
CAPABILITIES: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "investigate": frozenset({"analyst", "reviewer", "approver", "admin"}),
    "see_sensitive_rows": frozenset({"reviewer", "approver", "admin"}),
    "ingest": frozenset({"admin"}),
    "register_model": frozenset({"admin"}),
    "submit_for_review": frozenset({"analyst", "reviewer", "approver", "admin"}),
    "review": frozenset({"reviewer", "admin"}),
    "approve": frozenset({"approver", "admin"}),
    "deploy": frozenset({"approver", "admin"}),
    "acknowledge_alert": frozenset({"analyst", "reviewer", "approver", "admin"}),
    "manage_rules": frozenset({"approver", "admin"}),
    "manage_channels": frozenset({"admin"}),
    "manage_users": frozenset({"admin"}),
    "backup_store": frozenset({"admin"}),
    "change_settings": frozenset({"admin"}),
    "view_audit": frozenset({"reviewer", "approver", "admin"}),
    "manage_reports": frozenset({"approver", "admin"}),
    "manage_retention": frozenset({"admin"}),
}


#: Channels an identity acts through (recorded with every audit row it writes).
CHANNELS: tuple[str, ...] = ("app", "cli", "api")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a username and the role they act in.

    ``channel`` (app, cli, api) and ``proof`` (how the identity was established: ``"password"``,
    ``"oidc"``, ``"token #12"``, ``"owner of the store file"``) are recorded with every audit row the
    actor writes; they do not take part in equality (the same person through two channels is one
    person, for four eyes as everywhere). Both are None for code that calls the library directly.
    """

    username: str
    role: str
    channel: str | None = field(default=None, compare=False)
    proof: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES and self.role != "system":
            raise InvalidInputError(f"role {self.role!r} is unknown; use one of {', '.join(ROLES)}")
        if self.channel is not None and self.channel not in CHANNELS:
            raise InvalidInputError(f"channel {self.channel!r} is unknown; use one of {', '.join(CHANNELS)}")

    def provenance(self) -> dict[str, str] | None:
        """``{"channel": ..., "proof": ...}`` as recorded in an audit row, or None when neither is known."""
        if self.channel is None and self.proof is None:
            return None
        return {"channel": self.channel or "unknown", "proof": self.proof or "unknown"}

    def can(self, capability: str) -> bool:
        """Whether this actor holds ``capability``."""
        if capability not in CAPABILITIES:
            raise InvalidInputError(f"capability {capability!r} is unknown")
        return self.role == "system" or self.role in CAPABILITIES[capability]


def os_user() -> str:
    """The operating-system login name of this process (``"unknown"`` when there is none)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def system_actor() -> Actor:
    """The actor of a service process (ingest, monitor) run by an operator: ``cli:<operating-system user>``.

    It is not a person: governance and admin commands of the CLI never act as it
    (see :mod:`analytics.cli_identity`).
    """
    return Actor(f"cli:{os_user()}", "system", channel="cli", proof="service process of the OS account")


def require(actor: Actor, capability: str) -> None:
    """Raise :class:`PermissionDeniedError` unless ``actor`` holds ``capability``."""
    if not actor.can(capability):
        allowed = ", ".join(sorted(CAPABILITIES[capability]))
        raise PermissionDeniedError(
            f"{actor.username} (role {actor.role}) may not {capability.replace('_', ' ')}; "
            f"this needs one of: {allowed}",
            refused=Refused(actor.username, actor.role, f"refused.{capability}", "capability", capability),
        )


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`."""
    if role not in ROLES:
        raise InvalidInputError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}")
    return role
