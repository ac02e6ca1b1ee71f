from __future__ import annotations

import json
import os
import stat
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from infra import stack
from infra.stack_cli import stack_app

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.unit


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds one empty folder; no JAVA_HOME; no PostgreSQL under the Debian lib folder."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(stack, "PG_LIB_DIR", tmp_path / "no-postgresql")
    return bindir


def _fake_program(folder: Path, name: str, output: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\necho '{output}'\n", encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return program


@pytest.mark.parametrize(
    ("finder", "name", "hint"),
    [
        (stack.find_java, "java", "apt-get install openjdk-17-jre-headless"),
        (stack.find_maven, "mvn", "apt-get install maven"),
        (stack.find_pg_bindir, "initdb", "apt-get install postgresql-15"),
    ],
)
@pytest.mark.usefixtures("bare_path")
def test_missing_program_is_one_line_with_install_hint(
    finder: Callable[[], Path],
    name: str,
    hint: str,
) -> None:
    with pytest.raises(stack.PrerequisiteMissing) as caught:
        finder()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{name} not found: install ")
    assert hint in message


def test_programs_are_found_on_path(bare_path: Path) -> None:
    java = _fake_program(bare_path, "java")
    mvn = _fake_program(bare_path, "mvn")
    assert stack.find_java() == java
    assert stack.find_maven() == mvn


def test_java_home_wins_over_path(
    bare_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_program(bare_path, "java")
    home_java = _fake_program(tmp_path / "jdk" / "bin", "java")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert stack.find_java() == home_java


def test_pg_bindir_prefers_major_15(bare_path: Path, tmp_path: Path) -> None:
    del bare_path
    lib = tmp_path / "no-postgresql"
    for major in ("14", "15", "16"):
        for tool in ("initdb", "pg_ctl", "postgres"):
            _fake_program(lib / major / "bin", tool, f"pg_ctl (PostgreSQL) {major}.1")
    assert stack.find_pg_bindir() == lib / "15" / "bin"
    assert stack.find_pg_bindir("16") == lib / "16" / "bin"


def test_pg_bindir_missing_pg_ctl_names_it(bare_path: Path, tmp_path: Path) -> None:
    del bare_path
    lib = tmp_path / "no-postgresql"
    _fake_program(lib / "15" / "bin", "initdb")
    _fake_program(lib / "15" / "bin", "postgres")
    with pytest.raises(stack.PrerequisiteMissing, match=r"^pg_ctl not found: install PostgreSQL"):
        stack.find_pg_bindir()


def test_pg_bindir_of_other_major_than_the_data_folder(bare_path: Path, tmp_path: Path) -> None:
    del bare_path
    for tool in ("initdb", "pg_ctl", "postgres"):
        _fake_program(tmp_path / "no-postgresql" / "15" / "bin", tool, "pg_ctl (PostgreSQL) 15.1")
    with pytest.raises(stack.PrerequisiteMissing) as caught:
        stack.find_pg_bindir("13")
    assert "\n" not in str(caught.value)
    assert "postgresql-13" in str(caught.value)


@pytest.mark.usefixtures("bare_path")
def test_start_checks_prerequisites_before_starting_anything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.raises(stack.PrerequisiteMissing) as caught:
        stack.start_local_stack(home)
    assert "\n" not in str(caught.value)
    assert " not found: install " in str(caught.value)
    assert not (home / ".stack" / "pg").exists()
    assert not (home / ".stack" / "kafka").exists()


@pytest.mark.usefixtures("bare_path")
def test_cli_start_prints_the_missing_prerequisite_and_exits_1(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(stack.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(stack.PG_DSN_ENV, raising=False)
    monkeypatch.delenv(stack.KAFKA_BOOTSTRAP_ENV, raising=False)
    result = CliRunner().invoke(stack_app, ["start"])
    assert result.exit_code == 1
    assert result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if " not found: install " in line]
    assert len(error_lines) == 1


def test_cli_with_env_endpoints_starts_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(stack.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(stack.PG_DSN_ENV, "postgresql://u@db.example:5432/postgres")
    monkeypatch.setenv(stack.KAFKA_BOOTSTRAP_ENV, "kafka.example:9092")
    result = CliRunner().invoke(stack_app, ["start"])
    assert result.exit_code == 0
    assert "external endpoints" in result.stdout
    assert "postgresql://u@db.example:5432/postgres" in result.stdout
    assert not (tmp_path / "home" / ".stack").exists()
    as_json = CliRunner().invoke(stack_app, ["status", "--json"])
    assert '"source": "env"' in as_json.stdout


def test_env_endpoints_need_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(stack.PG_DSN_ENV, "postgresql://u@h:1/postgres")
    monkeypatch.delenv(stack.KAFKA_BOOTSTRAP_ENV, raising=False)
    assert stack.env_endpoints() is None
    monkeypatch.setenv(stack.KAFKA_BOOTSTRAP_ENV, "h:2")
    assert stack.env_endpoints() == stack.Endpoints(
        pg_dsn="postgresql://u@h:1/postgres",
        kafka_bootstrap="h:2",
        source="env",
    )


def test_untraversable_ancestor_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    inner = locked / "inner"
    inner.mkdir(parents=True)
    locked.chmod(0o700)
    nobody_uid, nobody_gids = 65534, {65534}
    blocked = stack.untraversable_ancestor(inner, nobody_uid, nobody_gids)
    assert blocked is not None
    assert inner.is_relative_to(blocked)
    assert stack.untraversable_ancestor(inner, os.geteuid(), set(os.getgroups())) is None


def test_cluster_id_is_22_chars_base64url() -> None:
    cluster_id = stack.new_kafka_cluster_id()
    assert len(cluster_id) == 22
    assert set(cluster_id) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    )
    assert not cluster_id.startswith("-")


def test_server_properties_use_the_ports_and_absolute_log_dirs(tmp_path: Path) -> None:
    paths = stack.StackPaths(tmp_path)
    text = stack.kafka_server_properties(paths, 40001, 40002)
    settings = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert settings["listeners"] == ("PLAINTEXT://127.0.0.1:40001,CONTROLLER://127.0.0.1:40002")
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:40002"
    assert settings["log.dirs"] == str(tmp_path / ".stack" / "kafka" / "data")
    assert settings["auto.create.topics.enable"] == "false"


def test_cli_status_json_of_a_never_started_stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(stack.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(stack.PG_DSN_ENV, raising=False)
    monkeypatch.delenv(stack.KAFKA_BOOTSTRAP_ENV, raising=False)
    result = CliRunner().invoke(stack_app, ["status", "--json"])
    assert result.exit_code == 0
    status = json.loads(result.stdout)
    assert status["source"] == "local"
    assert status["running"] is False
    assert status["pg_dsn"] is None
    assert status["postgres"]["data_dir"] == str(tmp_path / "home" / ".stack" / "pg" / "data")
