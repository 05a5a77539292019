"""E-mail addresses: one rule for users, notification channels and report recipients."""

from __future__ import annotations

import re

from analytics.errors import InvalidInputError

#: A local part and a domain, each without spaces or a second '@' (what an SMTP server can route).
_EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def check_email_address(text: str) -> str:
    """Return ``text`` stripped if it is an e-mail address (``name@domain``).

    Raises
    ------
    InvalidInputError
        If it has no ``@``, more than one, a space, or an empty side.
    """
    address = text.strip() if isinstance(text, str) else ""
    if not _EMAIL_ADDRESS.fullmatch(address):
        raise InvalidInputError(f"{text!r} is not an e-mail address: write it as name@domain")
    return address
