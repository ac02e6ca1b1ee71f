"""Read-side database handles, one SQLAlchemy engine per service database."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

ReadEngines = Mapping[str, AsyncEngine]
"""Engines by service name (``scene``, ``movie``, ...)."""
