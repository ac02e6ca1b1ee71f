"""Access tokens: what they claim, how long they live, and that nothing else passes for one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import jwt
import pytest

from commands.authorization import (
    require_admin,
    require_scene_owner,
    require_scene_writer,
    require_self,
    require_self_or_admin,
)
from commands.errors import PermissionDeniedError
from events.base import EventMetadata
from infra.auth import (
    ALGORITHM,
    TOKEN_LIFETIME,
    InvalidTokenError,
    TokenAuthority,
    default_authority,
)

pytestmark = pytest.mark.unit

SECRET = "unit-test secret, at least 32 bytes long"  # noqa: S105  test input, not a credential
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(name="authority")
def fx_authority() -> TokenAuthority:
    return TokenAuthority(SECRET)


@pytest.fixture(name="fresh_default")
def fx_fresh_default() -> Iterator[None]:
    default_authority.cache_clear()
    yield
    default_authority.cache_clear()


def test_a_token_names_its_user_and_role(authority: TokenAuthority) -> None:
    user = uuid4()
    identity = authority.verify(authority.issue(user, "professional"))
    assert (identity.user_id, identity.role, identity.authenticated) == (user, "professional", True)


def test_a_token_claims_sub_role_iat_and_exp_fifteen_minutes_apart() -> None:
    user = uuid4()
    token = TokenAuthority(SECRET, clock=lambda: NOW).issue(user, "viewer")
    claims = jwt.decode(token, SECRET, algorithms=[ALGORITHM], options={"verify_exp": False})
    assert set(claims) == {"sub", "role", "iat", "exp"}
    assert (claims["sub"], claims["role"]) == (str(user), "viewer")
    assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME.total_seconds() == 900
    assert claims["iat"] == NOW.timestamp()


def test_an_expired_token_is_refused() -> None:
    issued_16_minutes_ago = TokenAuthority(SECRET, clock=lambda: datetime.now(UTC) - timedelta(minutes=16))
    token = issued_16_minutes_ago.issue(uuid4(), "admin")
    with pytest.raises(InvalidTokenError, match="expired"):
        TokenAuthority(SECRET).verify(token)


def test_a_token_14_minutes_old_is_still_valid() -> None:
    issued = TokenAuthority(SECRET, clock=lambda: datetime.now(UTC) - timedelta(minutes=14))
    user = uuid4()
    assert TokenAuthority(SECRET).verify(issued.issue(user, "admin")).user_id == user


def test_a_token_signed_with_another_secret_is_refused(authority: TokenAuthority) -> None:
    other = TokenAuthority("another secret that is 32 bytes or more")
    with pytest.raises(InvalidTokenError):
        authority.verify(other.issue(uuid4(), "admin"))


def test_a_tampered_token_is_refused(authority: TokenAuthority) -> None:
    user = uuid4()
    header, _, signature = authority.issue(user, "viewer").split(".")
    # A well-formed payload promoting the same user to admin, under the viewer token's signature.
    forged_payload = (
        TokenAuthority("another secret that is 32 bytes or more").issue(user, "admin").split(".")[1]
    )
    with pytest.raises(InvalidTokenError, match=r"[Ss]ignature"):
        authority.verify(f"{header}.{forged_payload}.{signature}")


def test_an_unsigned_token_is_refused(authority: TokenAuthority) -> None:
    exp = datetime.now(UTC) + timedelta(minutes=5)
    unsigned = jwt.encode(
        {"sub": str(uuid4()), "role": "admin", "iat": datetime.now(UTC), "exp": exp}, "", algorithm="none"
    )
    with pytest.raises(InvalidTokenError):
        authority.verify(unsigned)


@pytest.mark.parametrize("missing", ["sub", "role", "exp", "iat"])
def test_a_token_missing_a_claim_is_refused(authority: TokenAuthority, missing: str) -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(uuid4()), "role": "viewer", "iat": now, "exp": now + timedelta(minutes=5)}
    del claims[missing]
    with pytest.raises(InvalidTokenError):
        authority.verify(jwt.encode(claims, SECRET, algorithm=ALGORITHM))


def test_a_token_with_an_unknown_role_is_refused(authority: TokenAuthority) -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(uuid4()), "role": "root", "iat": now, "exp": now + timedelta(minutes=5)}
    with pytest.raises(InvalidTokenError, match="role"):
        authority.verify(jwt.encode(claims, SECRET, algorithm=ALGORITHM))


def test_a_token_whose_subject_is_not_a_user_id_is_refused(authority: TokenAuthority) -> None:
    now = datetime.now(UTC)
    claims = {"sub": "alice", "role": "viewer", "iat": now, "exp": now + timedelta(minutes=5)}
    with pytest.raises(InvalidTokenError, match="subject"):
        authority.verify(jwt.encode(claims, SECRET, algorithm=ALGORITHM))


def test_issuing_for_an_unknown_role_is_refused(authority: TokenAuthority) -> None:
    with pytest.raises(ValueError, match="role"):
        authority.issue(uuid4(), "root")  # type: ignore[arg-type]  # an unknown role is the point


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenAuthority("too short")


@pytest.mark.usefixtures("fresh_default")
def test_the_default_authority_uses_the_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENELEDGER_AUTH_SECRET", SECRET)
    token = default_authority().issue(uuid4(), "viewer")
    assert TokenAuthority(SECRET).verify(token).role == "viewer"


@pytest.mark.usefixtures("fresh_default")
def test_without_a_configured_secret_the_default_authority_makes_a_random_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCENELEDGER_AUTH_SECRET", raising=False)
    first = default_authority().issue(uuid4(), "viewer")
    default_authority.cache_clear()
    with pytest.raises(InvalidTokenError):
        default_authority().verify(first)


# --- role rules of write commands --------------------------------------------------------------


def _meta(role: str | None, user: UUID | None = None) -> EventMetadata:
    return EventMetadata(user_id=user or (uuid4() if role else None), user_role=role)


@pytest.mark.parametrize("role", [None, "viewer"])
def test_viewers_may_not_write_scenes(role: str | None) -> None:
    with pytest.raises(PermissionDeniedError):
        require_scene_writer(_meta(role))


@pytest.mark.parametrize("role", ["contributor", "professional", "admin"])
def test_contributors_and_up_may_write_scenes(role: str) -> None:
    require_scene_writer(_meta(role))


def test_a_professional_may_change_only_their_own_scenes() -> None:
    me = uuid4()
    require_scene_owner(_meta("professional", me), created_by=me)
    with pytest.raises(PermissionDeniedError):
        require_scene_owner(_meta("professional", me), created_by=uuid4())


def test_an_admin_may_change_any_scene() -> None:
    require_scene_owner(_meta("admin"), created_by=uuid4())
    require_scene_owner(_meta("admin"), created_by=None)


def test_a_scene_without_a_creator_is_changed_by_admins_only() -> None:
    with pytest.raises(PermissionDeniedError):
        require_scene_owner(_meta("contributor"), created_by=None)


def test_acting_on_ones_own_account() -> None:
    me = uuid4()
    require_self_or_admin(_meta("viewer", me), me)
    require_self_or_admin(_meta("admin"), me)
    with pytest.raises(PermissionDeniedError):
        require_self_or_admin(_meta("professional"), me)


def test_watch_lists_are_written_in_ones_own_name_even_by_admins() -> None:
    me = uuid4()
    require_self(_meta("viewer", me), me)
    with pytest.raises(PermissionDeniedError):
        require_self(_meta("admin"), me)
    with pytest.raises(PermissionDeniedError):
        require_self(_meta(None), me)


def test_only_admins_change_roles() -> None:
    require_admin(_meta("admin"), "change roles")
    with pytest.raises(PermissionDeniedError, match="professional may not change roles"):
        require_admin(_meta("professional"), "change roles")
