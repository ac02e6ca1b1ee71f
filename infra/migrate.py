"""Versioned SQL migrations per database, recorded with checksums in the design's schema_migrations."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

from infra.settings import SERVICE_DATABASES, Settings, with_database

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Same lock id in every database: two processes migrating at once take turns.
_LOCK_ID = 0x5CE7E1ED

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR(20) PRIMARY KEY,
    description TEXT,
    executed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    execution_time_ms INTEGER,
    checksum VARCHAR(64)
)
"""


class MigrationChecksumError(RuntimeError):
    """An applied migration's file changed afterwards: the database and the code disagree."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file: ``NNNN_description.sql``."""

    version: str
    description: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(folder: Path) -> list[Migration]:
    """Return the folder's migrations in version order."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        version, _, rest = path.stem.partition("_")
        found.append(Migration(version, rest.replace("_", " "), path.read_text(encoding="utf-8")))
    return found


async def ensure_database(dsn: str) -> None:
    """Create the database named in ``dsn`` if it does not exist."""
    name = dsn.rsplit("/", 1)[1].split("?", 1)[0]
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Identifiers cannot be bound; the name is checked by Settings' namespace pattern.
            await admin.execute(f'CREATE DATABASE "{name}"')
            log.info("migrate.database_created", database=name)
    except asyncpg.DuplicateDatabaseError:
        pass  # another process created it first
    finally:
        await admin.close()


async def drop_databases(dsn: str, names: Sequence[str]) -> None:
    """Drop the databases ``names`` (throw-away ones: test and benchmark namespaces), all at once.

    Each ``DROP DATABASE`` waits for a checkpoint; issued together their checkpoint requests are
    merged, so dropping a namespace's six databases takes about one checkpoint instead of six.
    """

    async def drop(name: str) -> None:
        admin = await asyncpg.connect(with_database(dsn, "postgres"))
        try:
            # Identifiers cannot be bound; the names come from Settings' checked namespace pattern.
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    await asyncio.gather(*(drop(name) for name in names))


SHARED_PROJECTION_MIGRATIONS = MIGRATIONS_DIR / "_projections"
"""Applied to every service database before its own folder: the projection bookkeeping tables."""


async def migrate_database(dsn: str, folder: Path, *, shared: Path | None = None) -> list[str]:
    """Apply pending migrations (``shared`` first, then the folder's) to ``dsn``; return those applied."""
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        await conn.execute(_CREATE_TABLE)
        applied = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        migrations = [*(load_migrations(shared) if shared else []), *load_migrations(folder)]
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationChecksumError(
                        f"{folder.name} migration {migration.version} changed after it was "
                        "applied; add a new migration instead of editing an applied one",
                    )
                continue
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations "
                    "(version, description, execution_time_ms, checksum) VALUES ($1, $2, $3, $4)",
                    migration.version,
                    migration.description,
                    int((time.perf_counter() - started) * 1000),
                    migration.checksum,
                )
            applied_now.append(migration.version)
            log.info("migrate.applied", folder=folder.name, version=migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        await conn.close()
    return applied_now


async def migrate_all(settings: Settings) -> dict[str, list[str]]:
    """Migrate the event store and every service database; return what was applied, by database."""
    # The databases are independent (each may even live on its own server): migrate them at once.
    applied = await asyncio.gather(
        *(
            migrate_database(
                settings.dsn_for(service),
                MIGRATIONS_DIR / database,
                shared=None if service == "event_store" else SHARED_PROJECTION_MIGRATIONS,
            )
            for service, database in SERVICE_DATABASES.items()
        )
    )
    return dict(zip(SERVICE_DATABASES.values(), applied, strict=True))
