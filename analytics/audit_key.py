"""The secret that authenticates the audit trail: an HMAC-SHA256 key kept outside the store.

Someone who can write the store file can recompute a plain hash chain after editing it; they cannot
recompute an HMAC without this key. The key lives in a file of its own (``VIGIL_AUDIT_KEY_FILE``,
default ``~/.config/vigil/audit.key``, see :func:`analytics.config.audit_key_path`), readable only by
its owner, never in ``data/`` and never in git. It is generated on first use, so the demo and
``make run`` need no setup; :func:`load` never generates one (a verifier that made a new key would
call every row forged).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from analytics import config
from analytics.errors import InvalidInputError

_KEY_BYTES = 32
_cache: dict[tuple[Path, int, int], "AuditKey"] = {}  # by path, modification time and size
_started: dict[tuple[bytes, str], "hmac.HMAC"] = {}


@dataclass(frozen=True)
class AuditKey:
    """The key's bytes and where they came from."""

    secret: bytes
    path: Path

    @property
    def fingerprint(self) -> str:
        """A short public identifier of the key (the first 16 hex digits of its sha256), safe to print."""
        return hashlib.sha256(self.secret).hexdigest()[:16]

    def sign(self, purpose: str, text: str) -> str:
        """HMAC-SHA256 (hex) of ``text`` for one ``purpose`` (a row and an anchor line never share a code)."""
        started = _started.get((self.secret, purpose))
        if started is None:  # the keyed state after the purpose prefix, copied per code (verify checks many)
            started = _started[(self.secret, purpose)] = hmac.new(self.secret, f"vigil:{purpose}\t".encode(),
                                                                  hashlib.sha256)
        code = started.copy()
        code.update(text.encode())
        return code.hexdigest()

    def check(self, purpose: str, text: str, code: str | None) -> bool:
        """Whether ``code`` is this key's HMAC of ``text`` (compared in constant time)."""
        return code is not None and hmac.compare_digest(self.sign(purpose, text), code)


def _read(path: Path) -> AuditKey:
    text = path.read_text().strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise InvalidInputError(f"the audit key file {path} does not hold a key (64 hex digits expected); "
                                "restore it from your backup, or point VIGIL_AUDIT_KEY_FILE at the right file")
    return AuditKey(secret, path)


def load(path: Path | None = None) -> AuditKey | None:
    """The audit key, or None when its file does not exist (never creates one)."""
    target = (path or config.audit_key_path()).resolve()
    try:
        seen = target.stat()
    except FileNotFoundError:
        return None
    version = (target, seen.st_mtime_ns, seen.st_size)
    if version not in _cache:
        _cache[version] = _read(target)
    return _cache[version]


def load_or_create(path: Path | None = None) -> AuditKey:
    """The audit key, generated on first use: 32 random bytes, written hex-encoded with mode 0600."""
    target = (path or config.audit_key_path()).resolve()
    key = load(target)
    if key is not None:
        return key
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return load(target)  # type: ignore[return-value]
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(_KEY_BYTES) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return load(target)  # type: ignore[return-value]
