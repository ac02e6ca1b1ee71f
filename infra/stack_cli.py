"""`sceneledger stack start|stop|status`: run the local PostgreSQL + Kafka and show how to reach them."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from infra import stack

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

stack_app = typer.Typer(
    name="stack",
    help="Local PostgreSQL 15 + single-node Kafka, run from the repository (no Docker).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the settings as JSON.")]


@stack_app.command()
def start(json_output: JsonFlag = False) -> None:
    """Start the local stack (idempotent) and print its connection settings."""
    external = stack.env_endpoints()
    if external is not None:
        _print_external(external, json_output=json_output)
        return
    with _cli_errors():
        stack.start_local_stack()
        current = stack.local_stack_status()
    _print_status(current, json_output=json_output)


@stack_app.command()
def stop() -> None:
    """Stop the local stack; its data is kept for the next start."""
    with _cli_errors():
        stack.stop_local_stack()
    typer.echo(f"Local stack stopped (data kept in {stack.StackPaths(stack.stack_root()).state_dir}).")
    if stack.env_endpoints() is not None:
        typer.echo(
            f"Note: {stack.PG_DSN_ENV} / {stack.KAFKA_BOOTSTRAP_ENV} are set; "
            "those external services are not affected.",
        )


@stack_app.command()
def status(json_output: JsonFlag = False) -> None:
    """Print whether the local stack runs, and its DSN, bootstrap servers, pids and folders."""
    external = stack.env_endpoints()
    if external is not None:
        _print_external(external, json_output=json_output)
        return
    with _cli_errors():
        current = stack.local_stack_status()
    _print_status(current, json_output=json_output)


@contextlib.contextmanager
def _cli_errors() -> Iterator[None]:
    """Turn stack errors into one message on stderr and exit code 1.

    While the stack works, anything it prints (log lines) goes to stderr, so stdout carries
    only the result (clean JSON with ``--json``).
    """
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except (stack.PrerequisiteMissing, stack.StackError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None


def _print_external(endpoints: stack.Endpoints, *, json_output: bool) -> None:
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "source": endpoints.source,
                    "running": None,
                    "pg_dsn": endpoints.pg_dsn,
                    "kafka_bootstrap": endpoints.kafka_bootstrap,
                },
                indent=2,
            ),
        )
        return
    typer.echo(
        f"Using the external endpoints from {stack.PG_DSN_ENV} and {stack.KAFKA_BOOTSTRAP_ENV}; "
        "the local stack is not started.",
    )
    typer.echo(f"  PostgreSQL DSN   {endpoints.pg_dsn}")
    typer.echo(f"  Kafka bootstrap  {endpoints.kafka_bootstrap}")


def _print_status(status: Mapping[str, object], *, json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(status, indent=2))
        return
    pg = _section(status, "postgres")
    kafka = _section(status, "kafka")
    overall = "running" if status.get("running") else "not (fully) running"
    typer.echo(f"Local stack in {status.get('root')}/.stack: {overall}")
    typer.echo("")
    typer.echo(f"  PostgreSQL  {_state_line(pg)}")
    _field("DSN", status.get("pg_dsn"))
    _field("data", pg.get("data_dir"))
    _field("socket dir", pg.get("socket_dir"))
    _field("log", pg.get("log_file"))
    typer.echo("")
    controller = f", controller port {kafka.get('controller_port')}"
    typer.echo(f"  Kafka       {_state_line(kafka)}{controller if kafka.get('port') else ''}")
    _field("bootstrap", status.get("kafka_bootstrap"))
    _field("cluster id", kafka.get("cluster_id"))
    _field("data", kafka.get("data_dir"))
    _field("config", kafka.get("config_file"))
    _field("log", kafka.get("log_file"))
    if status.get("pg_dsn") and status.get("kafka_bootstrap"):
        typer.echo("")
        typer.echo("  To point other tools at it:")
        typer.echo(f"    export {stack.PG_DSN_ENV}={status['pg_dsn']}")
        typer.echo(f"    export {stack.KAFKA_BOOTSTRAP_ENV}={status['kafka_bootstrap']}")
    if not status.get("running"):
        typer.echo("")
        typer.echo("  Start it with: sceneledger stack start")


def _section(status: Mapping[str, object], name: str) -> Mapping[str, object]:
    section = status.get(name)
    return section if isinstance(section, dict) else {}


def _state_line(section: Mapping[str, object]) -> str:
    if section.get("running"):
        return f"running, pid {section.get('pid')}, port {section.get('port')}"
    port = section.get("port")
    return f"stopped (last port {port})" if port else "stopped (never started)"


def _field(label: str, value: object) -> None:
    typer.echo(f"    {label:<11} {value if value is not None else '-'}")
