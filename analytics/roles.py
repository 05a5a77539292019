"""Roles and what each may do. Every write in analytics calls :func:`require` first.

The five human roles, from least to most trusted: ``viewer`` (a business owner: reads aggregates),
``analyst`` (investigates incidents), ``reviewer`` (validates models, sees sensitive attributes),
``approver`` (approves or rejects versions), ``admin`` (users, settings, thresholds). ``system`` is
the identity of command-line and service processes run by an operator on the server; no user can
be given it.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

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
    "change_settings": frozenset({"admin"}),
    "view_audit": frozenset({"reviewer", "approver", "admin"}),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a username and the role they act in."""

    username: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES and self.role != "system":
            raise InvalidInputError(f"role {self.role!r} is unknown; use one of {', '.join(ROLES)}")

    def can(self, capability: str) -> bool:
        """Whether this actor holds ``capability``."""
        if capability not in CAPABILITIES:
            raise InvalidInputError(f"capability {capability!r} is unknown")
        return self.role == "system" or self.role in CAPABILITIES[capability]


def system_actor() -> Actor:
    """The actor of a command-line or service process: ``cli:<operating-system user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = "unknown"
    return Actor(f"cli:{user}", "system")


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
