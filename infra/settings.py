"""Settings from the environment (prefix ``SCENELEDGER_``), passed explicitly, never global."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_DATABASES: dict[str, str] = {
    "event_store": "event_store",
    "scene": "scene_service",
    "movie": "movie_service",
    "actor": "actor_service",
    "user": "user_service",
    "review": "review_service",
}
"""Database (and migrations folder) of the event store and of each service."""


def with_database(dsn: str, database: str) -> str:
    """Return ``dsn`` pointing at ``database`` on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


class Settings(BaseSettings):
    """Runtime configuration. Each service's database can be moved to its own server."""

    model_config = SettingsConfigDict(env_prefix="SCENELEDGER_", frozen=True, extra="ignore")

    pg_dsn: str | None = Field(default=None, description="server-level DSN; databases derived")
    kafka_bootstrap: str | None = None
    event_store_dsn: str | None = None
    scene_db_dsn: str | None = None
    movie_db_dsn: str | None = None
    actor_db_dsn: str | None = None
    user_db_dsn: str | None = None
    review_db_dsn: str | None = None
    namespace: str = Field(
        default="",
        pattern=r"^[a-z0-9_]*$",
        description="prefix for database and topic names (isolates test runs)",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    relay_batch_size: int = Field(default=1000, ge=1)
    relay_poll_interval: float = Field(default=0.01, gt=0)
    # Most records a projector applies in one transaction (only a backlog fills a batch). 2,000:
    # the quick benchmark's projector drained 3,053-3,374 events/s against 2,387-2,449 with 500,
    # alternated, at 168 against 138 MB peak.
    projector_batch_size: int = Field(default=2000, ge=1)
    log_level: str = "INFO"

    def database_name(self, service: str) -> str:
        """Return the (namespaced) database name of ``service``."""
        base = SERVICE_DATABASES[service]
        return f"{self.namespace}_{base}" if self.namespace else base

    def dsn_for(self, service: str) -> str:
        """Return the DSN of ``service``'s database: its own setting, else derived from pg_dsn."""
        own = {
            "event_store": self.event_store_dsn,
            "scene": self.scene_db_dsn,
            "movie": self.movie_db_dsn,
            "actor": self.actor_db_dsn,
            "user": self.user_db_dsn,
            "review": self.review_db_dsn,
        }[service]
        if own:
            return own
        if not self.pg_dsn:
            raise RuntimeError(
                "no PostgreSQL configured: run `sceneledger stack start` or set SCENELEDGER_PG_DSN",
            )
        return with_database(self.pg_dsn, self.database_name(service))

    def topic(self, name: str) -> str:
        """Return the (namespaced) Kafka topic called ``name``."""
        return f"{self.namespace}.{name}" if self.namespace else name

    def require_kafka(self) -> str:
        """Return the Kafka bootstrap servers or explain how to get them."""
        if not self.kafka_bootstrap:
            raise RuntimeError(
                "no Kafka configured: run `sceneledger stack start` or set SCENELEDGER_KAFKA_BOOTSTRAP",
            )
        return self.kafka_bootstrap
