"""Password hashing with scrypt: only the salted hash is ever stored, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from commands.errors import InvalidCommandError

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 64
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
"""Longer inputs buy no security and would let a client make the server hash megabytes."""

# Bounds on the cost parameters read back from a stored hash, so a tampered row cannot make
# a log-in allocate gigabytes; the current parameters sit well inside them.
_MAX_N = 2**20
_MAX_R = 32
_MAX_P = 16
_MAXMEM = 256 * 1024 * 1024


def check_password(password: str, *, field: str = "password") -> None:
    """Reject a password that is too short or too long; the message never repeats the password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidCommandError(field, f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidCommandError(field, f"must be at most {MAX_PASSWORD_LENGTH} characters long")


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=dklen)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """Return ``scrypt$n$r$p$<b64 salt>$<b64 hash>`` of ``password`` with a fresh random salt.

    Raises :class:`InvalidCommandError` (field ``password``) when the password is too short
    or too long.
    """
    check_password(password)
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:  # noqa: PLR2004  six fields of the format
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    power_of_two = n > 1 and (n & (n - 1)) == 0
    if not (power_of_two and n <= _MAX_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P and salt and key):
        return None
    return n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (from :func:`hash_password`).

    The comparison takes constant time. A malformed ``encoded`` value never matches.
    """
    parsed = _parse(encoded)
    if parsed is None or len(password) > MAX_PASSWORD_LENGTH:
        return False
    n, r, p, salt, key = parsed
    candidate = _scrypt(password, salt, n=n, r=r, p=p, dklen=len(key))
    return hmac.compare_digest(candidate, key)
