"""Settings for a process: explicit environment endpoints, else the local stack's."""

from __future__ import annotations

from infra.settings import Settings
from infra.stack import resolve_endpoints


def load_settings(*, start_stack: bool) -> Settings:
    """Return settings with PostgreSQL and Kafka endpoints filled in.

    ``SCENELEDGER_PG_DSN`` / ``SCENELEDGER_KAFKA_BOOTSTRAP`` win; otherwise the local stack
    is used (started first when ``start_stack``).
    """
    base = Settings()
    if base.pg_dsn and base.kafka_bootstrap:
        return base
    endpoints = resolve_endpoints(start=start_stack)
    return base.model_copy(
        update={"pg_dsn": endpoints.pg_dsn, "kafka_bootstrap": endpoints.kafka_bootstrap},
    )
