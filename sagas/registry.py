"""Every saga type the system runs, by name (``saga_events.saga_type``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagas.definition import SagaDefinition
from sagas.movie_removal import MOVIE_REMOVAL
from sagas.scene_creation import SCENE_CREATION
from sagas.user_erasure import USER_ERASURE

ALL_SAGAS: Mapping[str, SagaDefinition[Any]] = {
    d.saga_type: d for d in (SCENE_CREATION, MOVIE_REMOVAL, USER_ERASURE)
}
"""Saga definitions by saga type."""
