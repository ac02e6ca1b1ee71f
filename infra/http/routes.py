"""Which HTTP routes each service serves: the API's wiring, apart from the service declarations.

:mod:`infra.services` declares what every process needs (topics, events, commands,
projections); only a process that serves HTTP imports this module, and the web framework with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import APIRouter

from commands.handlers import CommandBus
from infra.http.actors import actor_router
from infra.http.movies import movie_router
from infra.http.reviews import review_router
from infra.http.scenes import scene_router
from infra.http.search import search_router
from infra.http.text_search import text_search_router
from infra.http.users import user_router
from read_models.engines import ReadEngines

RouterFactory = Callable[[CommandBus, ReadEngines], APIRouter]
"""Builds a service's router around the command bus and the read engines."""

SERVICE_ROUTERS: Mapping[str, tuple[RouterFactory, ...]] = {
    "scene": (search_router, text_search_router, scene_router),
    "movie": (movie_router,),
    "actor": (actor_router,),
    "user": (user_router,),
    "review": (review_router,),
}
"""The routers of each service by its name (``ServiceSpec.name``), mounted in this order.

Order matters within a service: FastAPI matches the first route that fits, so the search
routes (``/scenes/search``) come before ``/scenes/{scene_id}``.
"""
