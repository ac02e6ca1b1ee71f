"""Functions that run with their owner's rights (SECURITY DEFINER, past row-level security) are the API's."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bootstrap import System

pytestmark = pytest.mark.integration

_CALLERS = Path(__file__).resolve().parents[2] / "read_models"
"""Where the read API's statements live: the only code meant to call such a function."""


@pytest.mark.parametrize("service", ["scene", "movie", "actor", "user", "review"])
async def test_every_definer_function_has_a_caller_in_the_read_models(system: System, service: str) -> None:
    # A definer function reads rows whatever the policies say; one nobody calls is only an
    # opening for a role that can run it (0021 dropped search_dialogue_ids for that reason).
    names = [
        r["proname"]
        for r in await system.pools[service].fetch(
            "SELECT proname FROM pg_proc WHERE prosecdef AND pronamespace = 'public'::regnamespace"
        )
    ]
    source = "\n".join(p.read_text() for p in _CALLERS.glob("*.py"))
    assert [n for n in names if f"{n}(" not in source and f"func.{n}" not in source] == []
