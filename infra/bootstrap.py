"""The one place that wires settings, pools, stores, bus, relay, workers and API together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import structlog
import uvicorn
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from commands.base import HandlerDeps
from commands.handlers import CommandBus
from events.registry import EventRegistry
from infra.db import SESSION_SETTINGS, create_pool
from infra.migrate import migrate_all
from infra.pg_event_store import PostgresEventStore
from infra.pii import PersonalDataKeys
from infra.publisher import EventPublisher, KafkaPublisher
from infra.relay import OutboxRelay
from infra.runtime import freeze_startup
from infra.services import ALL_SERVICES, ServiceSpec, build_registry, command_handlers, topic_by_stream_type
from infra.services.saga import SAGAS
from infra.settings import Settings
from infra.topics import ensure_topics
from infra.workers import register_command_consumer, register_projectors
from projections.runner import ProjectionRunner
from read_models.scenes import SceneQueries
from sagas.runner import SagaRunner

log = structlog.get_logger(__name__)


def sqlalchemy_url(dsn: str) -> str:
    """Return the SQLAlchemy asyncpg URL of a libpq-style DSN."""
    return "postgresql+asyncpg://" + dsn.split("://", 1)[1]


def create_read_engine(dsn: str, *, pool_size: int) -> AsyncEngine:
    """Return the SQLAlchemy engine the read API queries ``dsn`` through (our session settings)."""
    return create_async_engine(
        sqlalchemy_url(dsn), pool_size=pool_size, connect_args={"server_settings": SESSION_SETTINGS}
    )


@dataclass(slots=True)
class System:
    """Everything a process of SceneLedger uses, built once."""

    settings: Settings
    services: tuple[ServiceSpec, ...]
    registry: EventRegistry
    event_pool: asyncpg.Pool
    pools: dict[str, asyncpg.Pool]
    engines: dict[str, AsyncEngine]
    event_store: PostgresEventStore
    bus: CommandBus

    @property
    def scene_pool(self) -> asyncpg.Pool:
        """The Scene service's database."""
        return self.pools["scene"]

    @property
    def scenes(self) -> SceneQueries:
        """Reads of the Scene service's read model."""
        return SceneQueries(self.engines["scene"])

    async def close(self) -> None:
        """Release every pool."""
        for engine in self.engines.values():
            await engine.dispose()
        for pool in self.pools.values():
            await pool.close()
        await self.event_pool.close()


async def open_system(settings: Settings, services: tuple[ServiceSpec, ...] = ALL_SERVICES) -> System:
    """Open pools and build the command side and read side (migrations must have run)."""
    registry = build_registry()
    event_pool = await create_pool(settings.dsn_for("event_store"), max_size=20)
    pools = {spec.name: await create_pool(settings.dsn_for(spec.name), max_size=5) for spec in services}
    engines = {
        name: create_read_engine(settings.dsn_for(name), pool_size=5)
        for name in ("event_store", *(spec.name for spec in services))
    }
    store = PostgresEventStore(event_pool, registry)
    return System(
        settings=settings,
        services=services,
        registry=registry,
        event_pool=event_pool,
        pools=pools,
        engines=engines,
        event_store=store,
        bus=CommandBus(HandlerDeps(event_store=store), command_handlers()),
    )


def build_broker(system: System, *, projector: bool = True, commands: bool = True) -> KafkaBroker:
    """Return a FastStream broker with the projectors and/or the command consumer subscribed."""
    settings = system.settings
    # FastStream logs every message it receives and processes: that belongs at DEBUG.
    broker = KafkaBroker(settings.require_kafka(), logger=log, log_level=logging.DEBUG, graceful_timeout=15.0)
    if projector:
        # One consumer per topic for all the projections of this process (see register_projectors).
        register_projectors(
            broker,
            settings,
            [
                (ProjectionRunner(system.pools[spec.name], p.projection), p.topics)
                for spec in system.services
                for p in spec.projections
            ],
            system.registry,
            keys=PersonalDataKeys(system.event_pool),
        )
    if commands:
        scene_commands = [
            cmd for spec in system.services if spec.name == "scene" for cmd in spec.command_handlers
        ]
        register_command_consumer(broker, settings, system.bus, scene_commands)
    return broker


def build_relay(system: System, publisher: EventPublisher) -> OutboxRelay:
    """Return the outbox relay from this system's log to its topics, woken by the system's appends."""
    settings = system.settings
    topics = topic_by_stream_type()
    relay = OutboxRelay(
        system.event_pool,
        publisher,
        topic_for=lambda stream_type: settings.topic(topics[stream_type]),
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_interval,
    )
    # This process's own appends need not wait for the relay's next poll.
    system.event_store.on_appended(relay.wake)
    return relay


def run_saga_runner(system: System, stop: asyncio.Event) -> asyncio.Task[None]:
    """Start the saga runner (one consumer group per namespace) as a task that runs until ``stop``."""
    settings = system.settings
    runner = SagaRunner(
        event_store=system.event_store, bus=system.bus, registry=system.registry, pools=system.pools
    )
    return asyncio.create_task(
        runner.run(
            stop,
            bootstrap=settings.require_kafka(),
            topic=settings.topic(SAGAS.topic),
            group_id=f"{settings.namespace or 'sceneledger'}.sagas",
        ),
        name="sagas",
    )


async def prepare(settings: Settings) -> None:
    """Apply migrations and create topics (idempotent)."""
    await asyncio.gather(migrate_all(settings), ensure_topics(settings))


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our loop: shutdown is driven by our signal handlers, not uvicorn's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def run_services(
    settings: Settings,
    *,
    relay: bool = True,
    projector: bool = True,
    commands: bool = True,
    api: bool = True,
    sagas: bool = True,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the chosen parts in this process until SIGINT/SIGTERM (or ``stop``), then shut down."""
    stop = stop or asyncio.Event()
    _install_signal_handlers(stop)
    await prepare(settings)
    system = await open_system(settings)
    tasks: list[asyncio.Task[None]] = []
    publisher: KafkaPublisher | None = None
    broker: KafkaBroker | None = None
    server: uvicorn.Server | None = None
    try:
        if relay:
            publisher = KafkaPublisher(settings.require_kafka())
            await publisher.start()
            tasks.append(asyncio.create_task(build_relay(system, publisher).run(stop), name="relay"))
        tasks.extend([run_saga_runner(system, stop)] if sagas else [])
        if projector or commands:
            broker = build_broker(system, projector=projector, commands=commands)
            await broker.start()
        if api:
            # The web framework loads only in a process that serves HTTP: the operators' commands
            # (replay, ops) import this module and start that much sooner without it.
            from infra.api import create_app  # noqa: PLC0415

            config = uvicorn.Config(
                create_app(system.bus, system.engines, system.services),
                host=settings.api_host,
                port=settings.api_port,
                log_config=None,
                lifespan="off",
            )
            server = _EmbeddedServer(config)
            tasks.append(asyncio.create_task(server.serve(), name="api"))
        freeze_startup()  # start-up is done: later full collections skip what it built
        log.info(
            "sceneledger.up",
            relay=relay,
            projector=projector,
            commands=commands,
            sagas=sagas,
            api=f"http://{settings.api_host}:{settings.api_port}" if api else None,
        )
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        stop.set()
        log.info("sceneledger.stopping")
        if server is not None:
            server.should_exit = True
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=20)
        if broker is not None:
            await broker.stop()
        if publisher is not None:
            await publisher.stop()
        await system.close()
        log.info("sceneledger.stopped")
