"""The ``sceneledger`` process: what it loads, how it ends, and the status it ends with."""

from __future__ import annotations

import subprocess
import sys

import pytest

from infra.cli import exit_status
from infra.http.routes import SERVICE_ROUTERS
from infra.services import ALL_SERVICES

pytestmark = pytest.mark.unit


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_the_command_line_loads_no_web_framework() -> None:
    # The operators' commands (replay, ops) import the CLI whole: the API's framework is the
    # largest import there is, and only `up` needs it (it imports it when it serves HTTP).
    done = _python("import sys, infra.cli; print([m for m in ('fastapi', 'starlette') if m in sys.modules])")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_service_has_its_routes_and_no_route_names_an_unknown_service() -> None:
    assert set(SERVICE_ROUTERS) == {spec.name for spec in ALL_SERVICES}


def test_output_written_before_the_fast_exit_is_not_lost() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
    assert "replay" in done.stdout


def test_an_unknown_command_ends_with_clicks_usage_status() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "no-such-command"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "no-such-command" in done.stderr


def test_exit_status_of_an_exit_without_code_is_success() -> None:
    assert exit_status(SystemExit(None)) == 0


def test_exit_status_keeps_an_integer_code() -> None:
    assert exit_status(SystemExit(4)) == 4


def test_exit_status_of_a_message_prints_it_and_is_failure(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(SystemExit("cannot go on")) == 1
    assert "cannot go on" in capsys.readouterr().err
