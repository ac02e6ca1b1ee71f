"""The message that begins a read acting as a caller: fixed text but the user id, written from a UUID."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from read_models.rls import DATABASE_ROLES, _begin_as

pytestmark = pytest.mark.unit

USER = UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize("role", list(DATABASE_ROLES))
def test_the_message_begins_the_transaction_then_sets_the_role_and_user(role: Any) -> None:
    assert _begin_as(role, USER, "REPEATABLE READ") == (
        "BEGIN ISOLATION LEVEL REPEATABLE READ; "
        f"SELECT set_config('app.current_role', '{role}', true), "
        f"set_config('role', 'sceneledger_{role}', true), "
        f"set_config('app.current_user_id', '{USER}', true)"
    )


def test_an_anonymous_caller_sets_an_empty_user() -> None:
    assert _begin_as("viewer", None, "READ COMMITTED").endswith("set_config('app.current_user_id', '', true)")


def test_a_uuid_subclass_is_written_as_its_canonical_text() -> None:
    class Sneaky(UUID):
        def __str__(self) -> str:
            return "x', true), set_config('role', 'sceneledger_admin"

    assert f"'{USER}', true)" in _begin_as("viewer", Sneaky(str(USER)), "READ COMMITTED")


@pytest.mark.parametrize(
    ("role", "isolation"),
    [("owner", "READ COMMITTED"), ("viewer", "SERIALIZABLE"), ("viewer', true) --", "READ COMMITTED")],
)
def test_a_role_or_isolation_outside_the_fixed_table_is_refused(role: Any, isolation: Any) -> None:
    with pytest.raises(KeyError):
        _begin_as(role, USER, isolation)


def test_a_read_asking_for_generic_plans_sets_the_plan_cache_mode_for_its_transaction() -> None:
    assert _begin_as("viewer", USER, "READ COMMITTED", generic_plans=True) == (
        _begin_as("viewer", USER, "READ COMMITTED")
        + ", set_config('plan_cache_mode', 'force_generic_plan', true)"
    )
