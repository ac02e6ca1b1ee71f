"""A projection's declaration: a batch apply function needs its one-by-one counterpart."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest

from events.base import DomainEvent
from events.scene import SceneCreated, SceneRetimed
from infra.services.scene import SCENES_PROJECTION
from projections.runner import Projection

pytestmark = pytest.mark.unit


async def _noop(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    del conn, events


def test_a_batch_function_without_its_one_by_one_function_is_refused() -> None:
    with pytest.raises(ValueError, match="SceneRetimed"):
        Projection(name="p", handlers={SceneCreated: _noop}, batch_handlers={SceneRetimed: _noop})


def test_every_batch_function_of_the_registered_projections_has_its_one_by_one_function() -> None:
    assert set(SCENES_PROJECTION.batch_handlers) <= set(SCENES_PROJECTION.handlers)
    assert SCENES_PROJECTION.batch_handlers, "the scenes projection declares its batch functions"
