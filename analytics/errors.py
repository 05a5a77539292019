"""Errors that Vigil raises on purpose: each says what is wrong and what to do."""

from __future__ import annotations

from dataclasses import dataclass


class VigilError(Exception):
    """Base class of the errors Vigil explains to its user (never shown as a traceback)."""


class StoreBusyError(VigilError):
    """The store stayed locked by another process longer than the configured wait."""


class StoreVersionError(VigilError):
    """The store's schema version is newer than this Vigil knows."""


class NotFoundError(VigilError):
    """A model, version, user or other object does not exist."""


@dataclass(frozen=True)
class Refused:
    """What a refused attempt was, for its audit row: who tried (``actor`` in ``role``), the row's
    ``action`` (``"refused.approve"``) and the object tried on."""

    actor: str
    role: str
    action: str
    object_type: str
    object_id: str


class PermissionDeniedError(VigilError):
    """The acting user's role does not allow the action.

    ``refused`` (when given) describes the attempt; :func:`analytics.store.write` records it in the
    audit trail after rolling the attempt back, so a refusal leaves a trace.
    """

    def __init__(self, message: str, *, refused: Refused | None = None) -> None:
        super().__init__(message)
        self.refused = refused


class InvalidInputError(VigilError):
    """An argument or a file cannot be used as given."""


class AuthenticationError(VigilError):
    """Sign-in failed (wrong credentials, disabled or locked account)."""
