"""Run the local dev stack (PostgreSQL 15 + single-node KRaft Kafka) from the repo, no Docker."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

log = structlog.get_logger(__name__)

PG_DSN_ENV = "SCENELEDGER_PG_DSN"
KAFKA_BOOTSTRAP_ENV = "SCENELEDGER_KAFKA_BOOTSTRAP"
HOME_ENV = "SCENELEDGER_HOME"

PG_MAJOR = "15"
PG_SYSTEM_USER = "postgres"
PG_SUPERUSER = "postgres"
# Debian/Ubuntu install each major version's server binaries under <PG_LIB_DIR>/<major>/bin.
PG_LIB_DIR = Path("/usr/lib/postgresql")
PG_TIMEOUT_S = 60.0
# Server settings for a small dev box (2 cores, 24 GB): enough connections for every service,
# its tests and a pool per worker; memory well below what the box has.
PG_SETTINGS: Mapping[str, str] = {
    "max_connections": "300",
    "shared_buffers": "256MB",
    "effective_cache_size": "4GB",
    "work_mem": "8MB",
    "maintenance_work_mem": "256MB",
    "wal_buffers": "16MB",
    "min_wal_size": "256MB",
    "max_wal_size": "2GB",
    "checkpoint_completion_target": "0.9",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    "max_parallel_workers_per_gather": "1",
    "max_parallel_maintenance_workers": "1",
    "timezone": "UTC",
    "log_timezone": "UTC",
}

KAFKA_ASSETS = Path(__file__).resolve().parent / "kafka"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
MAVEN_TIMEOUT_S = 900.0
KAFKA_FORMAT_TIMEOUT_S = 120.0
KAFKA_READY_TIMEOUT_S = 90.0
KAFKA_STOP_TIMEOUT_S = 30.0
KAFKA_JVM_OPTIONS: Sequence[str] = (
    "-Xms256m",
    # Headroom for many partitions: a development broker outlives many test runs.
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-XX:-CreateCoredumpOnCrash",
)
_KAFKA_MAIN_CLASS = "kafka.Kafka"
_LOCALHOST = "127.0.0.1"
# sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
_UNIX_SOCKET_PATH_MAX = 107
_LOG_TAIL_LINES = 40

_APT_POSTGRES = f"install PostgreSQL {PG_MAJOR} (apt-get install postgresql-{PG_MAJOR})"
_INSTALL_HINTS: Mapping[str, str] = {
    "java": "install OpenJDK 17 (apt-get install openjdk-17-jre-headless)",
    "mvn": "install Maven (apt-get install maven)",
    "initdb": _APT_POSTGRES,
    "pg_ctl": _APT_POSTGRES,
    "postgres": _APT_POSTGRES,
    "runuser": "install util-linux (apt-get install util-linux)",
}
_PG_SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class Endpoints:
    """Where the services of the stack answer."""

    pg_dsn: str
    kafka_bootstrap: str
    source: Literal["env", "docker", "local"]


class PrerequisiteMissing(RuntimeError):  # noqa: N818  public name fixed by the callers' contract
    """A program the local stack needs is not installed; the message says what to install."""


class StackError(RuntimeError):
    """The local stack could not be started, stopped or inspected."""


class StackNotRunningError(StackError):
    """The local stack is needed but not running (and was not asked to start)."""


@dataclass(frozen=True)
class StackPaths:
    """Every file and folder of one local stack (state in ``<root>/.stack``, jars in ``.cache``)."""

    root: Path

    @property
    def state_dir(self) -> Path:
        """Folder holding all state of the stack."""
        return self.root / ".stack"

    @property
    def lock_file(self) -> Path:
        """File locked while the stack is started or stopped."""
        return self.state_dir / "stack.lock"

    @property
    def state_file(self) -> Path:
        """JSON file with ports, pids and the Kafka cluster id."""
        return self.state_dir / "stack.json"

    @property
    def pg_dir(self) -> Path:
        """PostgreSQL folder (owned by the ``postgres`` user when we run as root)."""
        return self.state_dir / "pg"

    @property
    def pg_data(self) -> Path:
        """PostgreSQL data folder (PGDATA)."""
        return self.pg_dir / "data"

    @property
    def pg_run(self) -> Path:
        """Folder of PostgreSQL's Unix socket."""
        return self.pg_dir / "run"

    @property
    def pg_log(self) -> Path:
        """PostgreSQL server log."""
        return self.pg_dir / "pg.log"

    @property
    def pg_initialized(self) -> Path:
        """Marker written once initdb succeeded."""
        return self.pg_dir / "initdb.done"

    @property
    def kafka_dir(self) -> Path:
        """Kafka folder."""
        return self.state_dir / "kafka"

    @property
    def kafka_data(self) -> Path:
        """Kafka log.dirs (topic data and KRaft metadata)."""
        return self.kafka_dir / "data"

    @property
    def kafka_logs(self) -> Path:
        """Folder given to the broker as ``kafka.logs.dir``."""
        return self.kafka_dir / "logs"

    @property
    def kafka_config(self) -> Path:
        """Generated server.properties."""
        return self.kafka_dir / "server.properties"

    @property
    def kafka_log(self) -> Path:
        """Broker console output (log4j2 console appender)."""
        return self.kafka_dir / "kafka.log"

    @property
    def kafka_pid(self) -> Path:
        """Pid file of the broker."""
        return self.kafka_dir / "pid"

    @property
    def kafka_libs(self) -> Path:
        """Broker jars resolved by Maven."""
        return self.root / ".cache" / "kafka" / "libs"

    @property
    def kafka_libs_marker(self) -> Path:
        """Written after a complete Maven copy; holds the hash of the pom it came from."""
        return self.root / ".cache" / "kafka" / "libs.resolved"


@dataclass(frozen=True)
class _PgTools:
    bindir: Path
    as_user: pwd.struct_passwd | None  # the system user to run as (we are root), else None
    runuser: Path | None


@dataclass(frozen=True)
class _KafkaTools:
    java: Path
    mvn: Path | None  # None when the jars are already resolved


@dataclass(frozen=True)
class _PgProcess:
    pid: int
    port: int


@dataclass(frozen=True)
class _KafkaProcess:
    pid: int
    port: int
    controller_port: int


# Brokers spawned by this process: reaped here when they exit, so they leave no zombie.
_SPAWNED: set[int] = set()


# --------------------------------------------------------------------------- prerequisites


def find_executable(name: str, *, extra_dirs: Sequence[Path] = ()) -> Path:
    """Return the path of program ``name`` (``extra_dirs`` first, then PATH).

    Raises PrerequisiteMissing with a one-line install hint when it is nowhere.
    """
    for directory in extra_dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is not None:
        return Path(found)
    hint = _INSTALL_HINTS.get(name, f"install {name}")
    raise PrerequisiteMissing(f"{name} not found: {hint}")


def find_java() -> Path:
    """Return the ``java`` launcher ($JAVA_HOME/bin first, then PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    return find_executable("java", extra_dirs=[Path(java_home) / "bin"] if java_home else [])


def find_maven() -> Path:
    """Return the ``mvn`` launcher."""
    return find_executable("mvn")


def find_pg_bindir(major: str | None = None) -> Path:
    """Return the folder with PostgreSQL's server programs (initdb, pg_ctl, postgres).

    Looks at ``<PG_LIB_DIR>/<major>/bin`` (PG_MAJOR first), ``pg_config --bindir`` and PATH.
    With ``major`` only a folder of that major version qualifies.
    """
    candidates = _pg_bindir_candidates()
    for bindir in candidates:
        if all(_is_executable(bindir / tool) for tool in _PG_SERVER_TOOLS) and (
            major is None or _pg_bindir_major(bindir) == major
        ):
            return bindir
    if major is not None and any((c / "initdb").exists() for c in candidates):
        raise PrerequisiteMissing(
            f"PostgreSQL {major} server not found (the existing data folder was created by "
            f"{major}): install postgresql-{major} or delete the data folder",
        )
    missing = next(
        (t for t in _PG_SERVER_TOOLS if not any(_is_executable(c / t) for c in candidates)),
        "initdb",
    )
    raise PrerequisiteMissing(f"{missing} not found: {_INSTALL_HINTS[missing]}")


def _pg_bindir_candidates() -> list[Path]:
    def version_key(bindir: Path) -> tuple[int, int]:
        name = bindir.parent.name
        return (name == PG_MAJOR, int(name) if name.isdigit() else -1)

    candidates = sorted(PG_LIB_DIR.glob("*/bin"), key=version_key, reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(  # noqa: S603  trusted program, argument list
                [pg_config, "--bindir"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    on_path = shutil.which("initdb")
    if on_path is not None:
        candidates.append(Path(on_path).parent)
    return list(dict.fromkeys(candidates))


def _pg_bindir_major(bindir: Path) -> str | None:
    try:
        out = subprocess.run(  # noqa: S603  trusted program, argument list
            [str(bindir / "pg_ctl"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return match.group(1) if match else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _postgres_tools(paths: StackPaths) -> _PgTools:
    version_file = paths.pg_data / "PG_VERSION"
    major = None
    if paths.pg_initialized.exists() and version_file.exists():
        major = version_file.read_text(encoding="utf-8").strip()
    bindir = find_pg_bindir(major)
    if os.geteuid() != 0:
        return _PgTools(bindir=bindir, as_user=None, runuser=None)
    try:
        user = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        raise PrerequisiteMissing(
            f"system user {PG_SYSTEM_USER!r} not found (needed to run PostgreSQL as root): "
            f"{_APT_POSTGRES} or run as a normal user",
        ) from None
    runuser = find_executable("runuser", extra_dirs=[Path("/usr/sbin"), Path("/sbin")])
    # .stack itself is ours; .stack/pg will belong to the postgres user.
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    blocked = untraversable_ancestor(
        paths.state_dir,
        user.pw_uid,
        set(os.getgrouplist(user.pw_name, user.pw_gid)),
    )
    if blocked is not None:
        raise StackError(
            f"PostgreSQL runs as user {user.pw_name!r} (we are root) but it cannot enter "
            f"{blocked} (mode {blocked.stat().st_mode & 0o777:o}): run `chmod o+x {blocked}` "
            f"or set {HOME_ENV} to a folder it can reach",
        )
    return _PgTools(bindir=bindir, as_user=user, runuser=runuser)


def _kafka_libs_ready(paths: StackPaths) -> bool:
    marker = paths.kafka_libs_marker
    return (
        marker.is_file()
        and marker.read_text(encoding="utf-8").strip() == _pom_digest()
        and any(paths.kafka_libs.glob("*.jar"))
    )


def _kafka_tools(paths: StackPaths) -> _KafkaTools:
    java = find_java()
    mvn = None if _kafka_libs_ready(paths) else find_maven()
    return _KafkaTools(java=java, mvn=mvn)


def untraversable_ancestor(path: Path, uid: int, gids: set[int]) -> Path | None:
    """Return the first folder on the way to ``path`` that ``uid`` cannot enter, else None.

    Judges by mode bits (owner, group, others), the way the kernel does without ACLs.
    """
    for folder in [*reversed(path.parents), path]:
        try:
            st = folder.stat()
        except OSError:
            return folder
        if st.st_uid == uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid in gids:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            return folder
    return None


# --------------------------------------------------------------------------- endpoints


def stack_root(root: Path | None = None) -> Path:
    """Return the folder holding ``.stack``/``.cache``: ``root``, $SCENELEDGER_HOME or the repo."""
    if root is not None:
        return root.resolve()
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).resolve()
    return Path(__file__).resolve().parents[1]


def pg_dsn_for(port: int) -> str:
    """Return the server-level DSN (database ``postgres``) of a local server on ``port``."""
    return f"postgresql://{PG_SUPERUSER}@{_LOCALHOST}:{port}/postgres"


def kafka_bootstrap_for(port: int) -> str:
    """Return the bootstrap servers string of a local broker on ``port``."""
    return f"{_LOCALHOST}:{port}"


def env_endpoints() -> Endpoints | None:
    """Return the endpoints set in the environment (both variables set), else None."""
    dsn = os.environ.get(PG_DSN_ENV, "").strip()
    bootstrap = os.environ.get(KAFKA_BOOTSTRAP_ENV, "").strip()
    if dsn and bootstrap:
        return Endpoints(pg_dsn=dsn, kafka_bootstrap=bootstrap, source="env")
    if dsn or bootstrap:
        log.warning(
            "stack.env.partial",
            detail=f"only one of {PG_DSN_ENV} / {KAFKA_BOOTSTRAP_ENV} is set; ignoring it",
        )
    return None


def docker_available() -> bool:
    """Return True when a Docker engine answers (False quickly when there is none)."""
    try:
        import docker  # noqa: PLC0415  optional and slow to import; only needed here
        from docker.errors import DockerException  # noqa: PLC0415  same as above
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (DockerException, OSError):
        return False


@contextlib.contextmanager
def testcontainers_endpoints() -> Iterator[Endpoints]:
    """Run PostgreSQL 15 and a KRaft Kafka in Docker (testcontainers) for the ``with`` block."""
    if not docker_available():
        raise PrerequisiteMissing(
            "Docker engine not reachable: start Docker or run `sceneledger stack start`",
        )
    from testcontainers.community.kafka import KafkaContainer  # noqa: PLC0415  optional
    from testcontainers.community.postgres import PostgresContainer  # noqa: PLC0415  optional

    postgres = PostgresContainer(
        "postgres:15",
        username=PG_SUPERUSER,
        password=PG_SUPERUSER,
        dbname="postgres",
        driver=None,
    )
    with postgres as pg, KafkaContainer().with_kraft() as kafka:
        yield Endpoints(
            pg_dsn=pg.get_connection_url(),
            kafka_bootstrap=kafka.get_bootstrap_server(),
            source="docker",
        )


def resolve_endpoints(*, start: bool = True) -> Endpoints:
    """Return the endpoints to use: the environment's, else the local stack's.

    With ``start`` the local stack is started when needed; without it a stopped stack raises
    StackNotRunningError.
    """
    external = env_endpoints()
    if external is not None:
        return external
    if start:
        return start_local_stack()
    paths = StackPaths(stack_root())
    pg = _postgres_process(paths)
    kafka = _kafka_process(paths)
    if pg is None or kafka is None or not _port_answers(pg.port) or not _port_answers(kafka.port):
        raise StackNotRunningError(
            "the local stack is not running: run `sceneledger stack start` "
            f"(or set {PG_DSN_ENV} and {KAFKA_BOOTSTRAP_ENV})",
        )
    return Endpoints(
        pg_dsn=pg_dsn_for(pg.port),
        kafka_bootstrap=kafka_bootstrap_for(kafka.port),
        source="local",
    )


# --------------------------------------------------------------------------- start / stop


def start_local_stack(root: Path | None = None) -> Endpoints:
    """Start PostgreSQL and Kafka under ``<root>/.stack`` (idempotent) and return their endpoints.

    Running services are reused, existing data folders are kept, and the ports of earlier
    starts are reused when still free, so DSNs stay stable.
    """
    paths = StackPaths(stack_root(root))
    began = time.monotonic()
    with _locked(paths):
        state = _load_state(paths)
        pg = _reusable_postgres(paths)
        kafka = _reusable_kafka(paths)

        # Every prerequisite is checked before anything is started.
        pg_tools = _postgres_tools(paths) if pg is None else None
        kafka_tools = _kafka_tools(paths) if kafka is None else None

        taken: set[int] = set()
        if pg is not None:
            pg_port = pg.port
        else:
            pg_port = _reuse_or_pick(_stored_port(state, "postgres", "port"), taken)
        taken.add(pg_port)
        if kafka is not None:
            kafka_port, controller_port = kafka.port, kafka.controller_port
        else:
            kafka_port = _reuse_or_pick(_stored_port(state, "kafka", "port"), taken)
            taken.add(kafka_port)
            controller_port = _reuse_or_pick(
                _stored_port(state, "kafka", "controller_port"),
                taken,
            )
        cluster_id = _kafka_cluster_id(paths, state) or new_kafka_cluster_id()

        tasks: dict[str, Callable[[], int]] = {}
        if pg_tools is not None:
            tasks["postgres"] = functools.partial(_start_postgres, paths, pg_tools, pg_port)
        if kafka_tools is not None:
            tasks["kafka"] = functools.partial(
                _start_kafka,
                paths,
                kafka_tools,
                kafka_port,
                controller_port,
                cluster_id,
            )
        pids: dict[str, int | None] = {
            "postgres": pg.pid if pg else None,
            "kafka": kafka.pid if kafka else None,
        }
        started, errors = _run_concurrently(tasks)
        pids.update(started)
        _save_state(
            paths,
            {
                "postgres": {"port": pg_port, "pid": pids["postgres"]},
                "kafka": {
                    "port": kafka_port,
                    "controller_port": controller_port,
                    "pid": pids["kafka"],
                    "cluster_id": cluster_id,
                },
                "pg_dsn": pg_dsn_for(pg_port),
                "kafka_bootstrap": kafka_bootstrap_for(kafka_port),
            },
        )
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise StackError("\n".join(str(error) for error in errors))
    endpoints = Endpoints(
        pg_dsn=pg_dsn_for(pg_port),
        kafka_bootstrap=kafka_bootstrap_for(kafka_port),
        source="local",
    )
    log.info(
        "stack.ready",
        pg_dsn=endpoints.pg_dsn,
        kafka_bootstrap=endpoints.kafka_bootstrap,
        started=sorted(tasks),
        seconds=round(time.monotonic() - began, 1),
    )
    return endpoints


def _reusable_postgres(paths: StackPaths) -> _PgProcess | None:
    """Return the running server; one that runs but does not answer is stopped first."""
    pg = _postgres_process(paths)
    if pg is not None and not _port_answers(pg.port):
        log.warning("stack.postgres.unresponsive", pid=pg.pid, action="restart")
        _stop_postgres(paths)
        return None
    return pg


def _reusable_kafka(paths: StackPaths) -> _KafkaProcess | None:
    """Return the running broker; one that runs but does not answer is stopped first."""
    kafka = _kafka_process(paths)
    if kafka is not None and not _port_answers(kafka.port):
        log.warning("stack.kafka.unresponsive", pid=kafka.pid, action="restart")
        _stop_kafka(paths)
        return None
    return kafka


def _run_concurrently(
    tasks: Mapping[str, Callable[[], int]],
) -> tuple[dict[str, int], list[Exception]]:
    """Run the start ``tasks`` side by side; return their results and the stack errors raised."""
    results: dict[str, int] = {}
    errors: list[Exception] = []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stack") as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except (StackError, PrerequisiteMissing) as exc:
                errors.append(exc)
    return results, errors


def stop_local_stack(root: Path | None = None) -> None:
    """Stop the local PostgreSQL and Kafka (data is kept); a stopped stack is left as is."""
    paths = StackPaths(stack_root(root))
    if not paths.state_dir.is_dir():
        return
    with _locked(paths):
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="stack-stop") as pool:
            stops = [pool.submit(_stop_postgres, paths), pool.submit(_stop_kafka, paths)]
            for future in stops:
                future.result()
        state = _load_state(paths)
        for service in ("postgres", "kafka"):
            section = state.get(service)
            if isinstance(section, dict):
                section["pid"] = None
        if state:
            _save_state(paths, state)
    log.info("stack.stopped", root=str(paths.root))


def local_stack_status(root: Path | None = None) -> dict[str, object]:
    """Describe the local stack: running flags, pids, ports, DSN, bootstrap and folders."""
    paths = StackPaths(stack_root(root))
    state = _load_state(paths)
    pg = _postgres_process(paths)
    kafka = _kafka_process(paths)
    pg_port = pg.port if pg else _stored_port(state, "postgres", "port")
    kafka_port = kafka.port if kafka else _stored_port(state, "kafka", "port")
    controller_port = kafka.controller_port if kafka else _stored_port(state, "kafka", "controller_port")
    pg_running = pg is not None and _port_answers(pg.port)
    kafka_running = kafka is not None and _port_answers(kafka.port)
    return {
        "source": "local",
        "root": str(paths.root),
        "running": pg_running and kafka_running,
        "pg_dsn": pg_dsn_for(pg_port) if pg_port else None,
        "kafka_bootstrap": kafka_bootstrap_for(kafka_port) if kafka_port else None,
        "postgres": {
            "running": pg_running,
            "pid": pg.pid if pg else None,
            "port": pg_port,
            "data_dir": str(paths.pg_data),
            "socket_dir": str(paths.pg_run),
            "log_file": str(paths.pg_log),
        },
        "kafka": {
            "running": kafka_running,
            "pid": kafka.pid if kafka else None,
            "port": kafka_port,
            "controller_port": controller_port,
            "cluster_id": _kafka_cluster_id(paths, state),
            "data_dir": str(paths.kafka_data),
            "config_file": str(paths.kafka_config),
            "log_file": str(paths.kafka_log),
        },
    }


# --------------------------------------------------------------------------- PostgreSQL


def _start_postgres(paths: StackPaths, tools: _PgTools, port: int) -> int:
    paths.pg_dir.mkdir(parents=True, exist_ok=True)
    paths.pg_run.mkdir(exist_ok=True)
    if tools.as_user is not None:
        for folder in (paths.pg_dir, paths.pg_run):
            os.chown(folder, tools.as_user.pw_uid, tools.as_user.pw_gid)
    if not paths.pg_initialized.exists():
        _initdb(paths, tools)
    _remove_stale_postmaster_pid(paths)

    socket_dir = str(paths.pg_run)
    if len(f"{socket_dir}/.s.PGSQL.{port}") > _UNIX_SOCKET_PATH_MAX:
        log.warning("stack.postgres.no_unix_socket", reason="socket path too long", dir=socket_dir)
        socket_dir = ""
    server_options = ["-p", str(port), "-k", socket_dir, "-c", f"listen_addresses={_LOCALHOST}"]
    for name, value in PG_SETTINGS.items():
        server_options += ["-c", f"{name}={value}"]
    log.info("stack.postgres.starting", port=port, data_dir=str(paths.pg_data))
    _run(
        _as_pg_user(
            tools,
            [
                str(tools.bindir / "pg_ctl"),
                "-D",
                str(paths.pg_data),
                # pg_ctl hands the options to /bin/sh, hence the quoting.
                "-o",
                shlex.join(server_options),
                "-l",
                str(paths.pg_log),
                "-w",
                "-t",
                str(int(PG_TIMEOUT_S)),
                "start",
            ],
        ),
        what="pg_ctl start",
        cwd=paths.pg_dir,
        timeout=PG_TIMEOUT_S + 10,
        log_file=paths.pg_log,
    )
    running = _postgres_process(paths)
    if running is None or not _port_answers(port):
        raise StackError(
            f"PostgreSQL did not come up on port {port}; last lines of {paths.pg_log}:\n"
            f"{_tail(paths.pg_log)}",
        )
    log.info("stack.postgres.started", pid=running.pid, port=port)
    return running.pid


def _initdb(paths: StackPaths, tools: _PgTools) -> None:
    if paths.pg_data.exists():
        # A data folder without the marker is a half-finished initdb: start over.
        log.warning("stack.postgres.reinit", data_dir=str(paths.pg_data))
        shutil.rmtree(paths.pg_data)
    log.info("stack.postgres.initdb", data_dir=str(paths.pg_data))
    _run(
        _as_pg_user(
            tools,
            [
                str(tools.bindir / "initdb"),
                "-D",
                str(paths.pg_data),
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-A",
                "trust",
                "-U",
                PG_SUPERUSER,
            ],
        ),
        what="initdb",
        cwd=paths.pg_dir,
        timeout=PG_TIMEOUT_S * 2,
    )
    paths.pg_initialized.write_text(f"{paths.pg_data}\n", encoding="utf-8")


def _as_pg_user(tools: _PgTools, command: list[str]) -> list[str]:
    if tools.as_user is None or tools.runuser is None:
        return command
    return [str(tools.runuser), "-u", tools.as_user.pw_name, "--", *command]


def _read_postmaster_pid(paths: StackPaths) -> list[str] | None:
    try:
        return (paths.pg_data / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise StackError(
            f"cannot read {paths.pg_data}/postmaster.pid ({exc.strerror}): the stack was "
            "created by another user; run as that user or delete .stack/pg",
        ) from None


def _postgres_process(paths: StackPaths) -> _PgProcess | None:
    lines = _read_postmaster_pid(paths)
    if not lines or len(lines) < 4 or not lines[0].strip().isdigit():  # noqa: PLR2004  4th line: port
        return None
    pid = int(lines[0])
    if not _process_alive(pid) or not _cmdline_contains(pid, b"postgres"):
        return None
    port_text = lines[3].strip()
    if not port_text.isdigit():
        return None
    return _PgProcess(pid=pid, port=int(port_text))


def _remove_stale_postmaster_pid(paths: StackPaths) -> None:
    pid_file = paths.pg_data / "postmaster.pid"
    lines = _read_postmaster_pid(paths)
    if lines is None:
        return
    if _postgres_process(paths) is None:
        # The pid may now belong to an unrelated process (after a reboot, in a container),
        # which would make the postmaster refuse to start.
        log.info("stack.postgres.stale_pid_file", path=str(pid_file))
        pid_file.unlink(missing_ok=True)


def _stop_postgres(paths: StackPaths) -> None:
    running = _postgres_process(paths)
    if running is None:
        return
    log.info("stack.postgres.stopping", pid=running.pid)
    # SIGINT is PostgreSQL's "fast" shutdown, the same signal `pg_ctl stop -m fast` sends.
    if _signal_and_wait(running.pid, signal.SIGINT, PG_TIMEOUT_S):
        return
    log.warning("stack.postgres.immediate_shutdown", pid=running.pid)
    if not _signal_and_wait(running.pid, signal.SIGQUIT, 10.0):
        raise StackError(f"PostgreSQL (pid {running.pid}) did not stop")


# --------------------------------------------------------------------------- Kafka


def new_kafka_cluster_id() -> str:
    """Return a fresh KRaft cluster id: base64url of a random UUID, 22 chars, no padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):  # Kafka avoids ids that look like CLI flags too
            return cluster_id


def kafka_server_properties(
    paths: StackPaths,
    port: int,
    controller_port: int,
) -> str:
    """Return the server.properties of the single-node, combined-roles KRaft broker."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{_LOCALHOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{_LOCALHOST}:{port},CONTROLLER://{_LOCALHOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{_LOCALHOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(paths.kafka_data),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "auto.create.topics.enable": "false",
    }
    lines = ["# Generated by infra/stack.py on each start; edits are overwritten.\n"]
    lines += [f"{key}={value}\n" for key, value in settings.items()]
    return "".join(lines)


def _start_kafka(
    paths: StackPaths,
    tools: _KafkaTools,
    port: int,
    controller_port: int,
    cluster_id: str,
) -> int:
    if tools.mvn is not None:
        _resolve_kafka_libs(paths, tools.mvn)
    for folder in (paths.kafka_dir, paths.kafka_logs):
        folder.mkdir(parents=True, exist_ok=True)
    paths.kafka_config.write_text(
        kafka_server_properties(paths, port, controller_port),
        encoding="utf-8",
    )
    classpath = f"{paths.kafka_libs}/*"
    log4j = f"-Dlog4j2.configurationFile={KAFKA_ASSETS / 'log4j2.properties'}"
    if not (paths.kafka_data / "meta.properties").exists():
        log.info("stack.kafka.format", cluster_id=cluster_id, data_dir=str(paths.kafka_data))
        _run(
            [
                str(tools.java),
                "-Xmx256m",
                log4j,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(paths.kafka_config),
                "--ignore-formatted",
            ],
            what="kafka storage format",
            cwd=paths.kafka_dir,
            timeout=KAFKA_FORMAT_TIMEOUT_S,
        )
    if paths.kafka_log.exists():
        paths.kafka_log.replace(paths.kafka_log.with_name(paths.kafka_log.name + ".1"))
    command = [
        str(tools.java),
        *KAFKA_JVM_OPTIONS,
        f"-Dkafka.logs.dir={paths.kafka_logs}",
        f"-XX:ErrorFile={paths.kafka_logs}/hs_err_pid%p.log",
        log4j,
        "-cp",
        classpath,
        _KAFKA_MAIN_CLASS,
        str(paths.kafka_config),
    ]
    log.info("stack.kafka.starting", port=port, controller_port=controller_port)
    pid = _spawn_detached(command, paths.kafka_log)
    paths.kafka_pid.write_text(f"{pid}\n", encoding="utf-8")
    try:
        _wait_kafka_ready(paths, pid, port)
    except StackError:
        _stop_kafka(paths)
        raise
    log.info("stack.kafka.started", pid=pid, port=port)
    return pid


def _spawn_detached(command: Sequence[str], output: Path) -> int:
    """Start ``command`` in its own session with stdout/stderr to ``output``; return its pid.

    posix_spawn rather than Popen: the broker outlives this process, and a Popen object of a
    still-running child only warns when it is collected.
    """
    with output.open("wb") as out:
        pid = os.posix_spawn(
            command[0],
            list(command),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
            ],
            setsid=True,
        )
    _SPAWNED.add(pid)
    return pid


def _resolve_kafka_libs(paths: StackPaths, mvn: Path) -> None:
    libs = paths.kafka_libs
    partial = libs.with_name(libs.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    log.info("stack.kafka.resolve_jars", pom=str(KAFKA_ASSETS / "pom.xml"), into=str(libs))
    _run(
        [
            str(mvn),
            "-B",
            "-q",
            "-f",
            str(KAFKA_ASSETS / "pom.xml"),
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        what="maven (resolving the Kafka jars)",
        cwd=paths.root,
        timeout=MAVEN_TIMEOUT_S,
    )
    if not any(partial.glob("*.jar")):
        raise StackError(f"maven copied no jars into {partial}")
    # Swap the complete copy in, then mark it; an interrupted resolve is redone next time.
    paths.kafka_libs_marker.unlink(missing_ok=True)
    if libs.exists():
        stale = libs.with_name(libs.name + ".stale")
        shutil.rmtree(stale, ignore_errors=True)
        libs.rename(stale)
        shutil.rmtree(stale, ignore_errors=True)
    partial.rename(libs)
    paths.kafka_libs_marker.write_text(f"{_pom_digest()}\n", encoding="utf-8")


def _pom_digest() -> str:
    return hashlib.sha256((KAFKA_ASSETS / "pom.xml").read_bytes()).hexdigest()


def _kafka_cluster_id(paths: StackPaths, state: Mapping[str, object]) -> str | None:
    meta = paths.kafka_data / "meta.properties"
    if meta.exists():
        for line in meta.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id" and value.strip():
                return value.strip()
    section = state.get("kafka")
    if isinstance(section, dict) and isinstance(section.get("cluster_id"), str):
        return str(section["cluster_id"])
    return None


def _kafka_process(paths: StackPaths) -> _KafkaProcess | None:
    try:
        pid_text = paths.kafka_pid.read_text(encoding="utf-8").strip()
        config = paths.kafka_config.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if not (
        _process_alive(pid)
        and _cmdline_contains(pid, _KAFKA_MAIN_CLASS.encode())
        and _cmdline_contains(pid, str(paths.kafka_config).encode())
    ):
        return None
    listeners = re.search(
        r"^listeners=PLAINTEXT://[^:]+:(\d+),CONTROLLER://[^:]+:(\d+)\s*$",
        config,
        re.MULTILINE,
    )
    if listeners is None:
        return None
    return _KafkaProcess(
        pid=pid,
        port=int(listeners.group(1)),
        controller_port=int(listeners.group(2)),
    )


def _wait_kafka_ready(paths: StackPaths, pid: int, port: int) -> None:
    from aiokafka.errors import KafkaError  # noqa: PLC0415  heavy import, only needed here

    bootstrap = kafka_bootstrap_for(port)
    deadline = time.monotonic() + KAFKA_READY_TIMEOUT_S
    last_error = "the broker port never answered"
    while True:
        if not _process_alive(pid):
            raise StackError(
                f"the Kafka broker exited during startup; last lines of {paths.kafka_log}:\n"
                f"{_tail(paths.kafka_log)}",
            )
        if _port_answers(port):
            try:
                asyncio.run(_probe_kafka(bootstrap))
            except (KafkaError, OSError, TimeoutError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                return
        if time.monotonic() > deadline:
            raise StackError(
                f"the Kafka broker was not ready within {KAFKA_READY_TIMEOUT_S:.0f}s "
                f"({last_error}); last lines of {paths.kafka_log}:\n{_tail(paths.kafka_log)}",
            )
        time.sleep(0.5)


async def _probe_kafka(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient  # noqa: PLC0415  heavy import

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), timeout=10)
        await asyncio.wait_for(admin.list_topics(), timeout=10)
    finally:
        await admin.close()


def _stop_kafka(paths: StackPaths) -> None:
    try:
        pid_text = paths.kafka_pid.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return
    if pid_text.isdigit():
        pid = int(pid_text)
        if _process_alive(pid) and _cmdline_contains(pid, _KAFKA_MAIN_CLASS.encode()):
            log.info("stack.kafka.stopping", pid=pid)
            if not _signal_and_wait(pid, signal.SIGTERM, KAFKA_STOP_TIMEOUT_S):
                log.warning("stack.kafka.kill", pid=pid, after_s=KAFKA_STOP_TIMEOUT_S)
                _signal_and_wait(pid, signal.SIGKILL, 10.0)
    paths.kafka_pid.unlink(missing_ok=True)


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _locked(paths: StackPaths) -> Iterator[None]:
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with paths.lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("stack.lock.waiting", lock=str(paths.lock_file))
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_state(paths: StackPaths) -> dict[str, object]:
    try:
        data = json.loads(paths.state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("stack.state.unreadable", path=str(paths.state_file))
        return {}
    return data if isinstance(data, dict) else {}


def _save_state(paths: StackPaths, state: Mapping[str, object]) -> None:
    temporary = paths.state_file.with_name(paths.state_file.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(paths.state_file)


def _stored_port(state: Mapping[str, object], service: str, key: str) -> int | None:
    section = state.get(service)
    if isinstance(section, dict):
        value = section.get(key)
        if isinstance(value, int) and 0 < value < 65536:  # noqa: PLR2004  TCP port range
            return value
    return None


def _reuse_or_pick(stored: int | None, taken: set[int]) -> int:
    if stored is not None and stored not in taken and _port_free(stored):
        return stored
    if stored is not None:
        log.warning("stack.port.taken", port=stored, detail="picking a new port")
    while True:
        port = _free_port()
        if port not in taken:
            return port


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_free(port: int) -> bool:
    # SO_REUSEADDR as the servers use it: a port in TIME_WAIT is free, a listener is not.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_LOCALHOST, port))
        except OSError:
            return False
        return True


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection((_LOCALHOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _process_alive(pid: int) -> bool:
    if pid in _SPAWNED:
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            _SPAWNED.discard(pid)
        else:
            if reaped == 0:
                return True
            _SPAWNED.discard(pid)
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:
        return _signal_zero(pid)
    # The state follows the parenthesised command name; a zombie has exited already.
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline_contains(pid: int, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc to look at: trust the pid


def _signal_and_wait(pid: int, signum: signal.Signals, timeout: float) -> bool:
    """Send ``signum`` to ``pid`` and wait until it exits; True if it did within ``timeout``."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _process_alive(pid):
            return True
        time.sleep(0.1)
    return not _process_alive(pid)


def _run(
    command: Sequence[str],
    *,
    what: str,
    cwd: Path,
    timeout: float,
    log_file: Path | None = None,
) -> str:
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    try:
        result = subprocess.run(  # noqa: S603  trusted programs, argument list
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what} timed out after {timeout:.0f}s") from exc
    if result.returncode != 0:
        output = _tail_text(result.stdout + result.stderr)
        if log_file is not None:
            output += f"\nlast lines of {log_file}:\n{_tail(log_file)}"
        raise StackError(f"{what} failed (exit code {result.returncode}):\n{output}")
    return result.stdout


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"
    return _tail_text(text, lines) or "(empty)"


def _tail_text(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
