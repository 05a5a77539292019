"""Errors that Vigil raises on purpose: each says what is wrong and what to do."""

from __future__ import annotations


class VigilError(Exception):
    """Base class of the errors Vigil explains to its user (never shown as a traceback)."""


class StoreBusyError(VigilError):
    """The store stayed locked by another process longer than the configured wait."""


class StoreVersionError(VigilError):
    """The store's schema version is newer than this Vigil knows."""


class NotFoundError(VigilError):
    """A model, version, user or other object does not exist."""


class PermissionDeniedError(VigilError):
    """The acting user's role does not allow the action."""


class InvalidInputError(VigilError):
    """An argument or a file cannot be used as given."""


class AuthenticationError(VigilError):
    """Sign-in failed (wrong credentials, disabled or locked account)."""
