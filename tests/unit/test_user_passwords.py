"""Password hashing: scrypt format, random salt, verification and the length rules."""

from __future__ import annotations

import base64

import pytest

from commands.errors import InvalidCommandError
from commands.passwords import (
    KEY_BYTES,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    SALT_BYTES,
    check_password,
    hash_password,
    verify_password,
)

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential


def test_hash_has_the_scrypt_format() -> None:
    scheme, n, r, p, salt, key = hash_password(PASSWORD).split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt, validate=True)) == SALT_BYTES
    assert len(base64.b64decode(key, validate=True)) == KEY_BYTES


def test_hash_fits_the_password_hash_column() -> None:
    assert len(hash_password(PASSWORD)) <= 255


def test_hash_never_contains_the_password() -> None:
    assert PASSWORD not in hash_password(PASSWORD)


def test_same_password_hashes_differently_each_time() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert first.split("$")[4] != second.split("$")[4]


def test_right_password_verifies() -> None:
    assert verify_password(PASSWORD, hash_password(PASSWORD))


def test_wrong_password_does_not_verify() -> None:
    assert not verify_password(PASSWORD + "!", hash_password(PASSWORD))


def test_password_differing_in_case_does_not_verify() -> None:
    assert not verify_password(PASSWORD.upper(), hash_password(PASSWORD))


def test_non_ascii_password_round_trips() -> None:
    password = "パスワードは秘密です"  # noqa: S105  test input, not a credential
    assert verify_password(password, hash_password(password))


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-text-password",
        "bcrypt$16384$8$1$c2FsdA==$a2V5",
        "scrypt$16384$8$1$c2FsdA==",
        "scrypt$abc$8$1$c2FsdA==$a2V5",
        "scrypt$16384$8$1$not base64!$a2V5",
        "scrypt$1000$8$1$c2FsdA==$a2V5",
        "scrypt$1073741824$8$1$c2FsdA==$a2V5",
        "scrypt$16384$8$1$$a2V5",
    ],
)
def test_malformed_hash_never_verifies(encoded: str) -> None:
    assert not verify_password(PASSWORD, encoded)


def test_tampered_hash_does_not_verify() -> None:
    scheme, n, r, p, salt, key = hash_password(PASSWORD).split("$")
    raw = bytearray(base64.b64decode(key))
    raw[0] ^= 1
    tampered = "$".join([scheme, n, r, p, salt, base64.b64encode(bytes(raw)).decode()])
    assert not verify_password(PASSWORD, tampered)


def test_short_password_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(InvalidCommandError) as err:
        hash_password("x" * (MIN_PASSWORD_LENGTH - 1))
    assert err.value.field == "password"
    assert f"at least {MIN_PASSWORD_LENGTH}" in err.value.reason


def test_password_of_minimum_length_is_accepted() -> None:
    check_password("x" * MIN_PASSWORD_LENGTH)


def test_overlong_password_is_rejected() -> None:
    with pytest.raises(InvalidCommandError, match="at most"):
        check_password("x" * (MAX_PASSWORD_LENGTH + 1))


def test_error_names_the_given_field_and_never_the_password() -> None:
    with pytest.raises(InvalidCommandError) as err:
        check_password("s3cret", field="new_password")
    assert err.value.field == "new_password"
    assert "s3cret" not in str(err.value)
