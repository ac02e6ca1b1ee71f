"""The whole system as a user runs it: `sceneledger up`, then HTTP and the CLI against it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from infra.auth import TokenAuthority, bearer_headers
from infra.settings import Settings

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


AUTH_SECRET = "e2e secret shared with the API process, 32+ bytes"  # noqa: S105  test input
ACTOR = uuid4()


def _auth(**headers: str) -> dict[str, str]:
    """A fresh admin token the API process accepts (same secret), with any other headers."""
    return {**bearer_headers(ACTOR, "admin", TokenAuthority(AUTH_SECRET)), **headers}


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SCENELEDGER_PG_DSN": settings.pg_dsn or "",
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.require_kafka(),
        "SCENELEDGER_NAMESPACE": settings.namespace,
        "SCENELEDGER_AUTH_SECRET": AUTH_SECRET,
    }


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(name="system_url", scope="module")
def fx_system_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sceneledger up` running in the session namespace on a free port."""
    port = _free_port()
    log: Path = tmp_path_factory.mktemp("up") / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "up", "--port", str(port)],
            env=_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"sceneledger up did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield url
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("sceneledger up did not stop within 30 s of Ctrl-C")
    assert code == 0, log.read_text()[-3000:]


def _movie(url: str) -> str:
    """Register a movie through the Movie service's route: scenes may only be created for one."""
    response = httpx.post(f"{url}/movies", json={"title": "時をかける少女"}, headers=_auth())
    assert response.status_code == 202, response.text
    return str(response.json()["stream_id"])


def _actor(url: str) -> str:
    """Register an actor (unique name: the Actor service claims names) through its route."""
    response = httpx.post(f"{url}/actors", json={"name": f"仲里依紗 {uuid4().hex[:8]}"}, headers=_auth())
    assert response.status_code == 202, response.text
    return str(response.json()["stream_id"])


def _wait_for_scene(url: str, scene_id: str, version: int = 1) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = httpx.get(f"{url}/scenes/{scene_id}", headers=_auth())
        if response.status_code == 200 and response.json()["version"] >= version:
            return dict(response.json())
        time.sleep(0.05)
    pytest.fail(f"scene {scene_id} v{version} never reached the read model")


def test_http_create_then_read(system_url: str) -> None:
    movie = _movie(system_url)
    response = httpx.post(
        f"{system_url}/scenes",
        json={"movie_id": movie, "start": "012345", "end": "+105", "classification": "L2-3", "tags": ["雨"]},
        headers=_auth(),
    )
    assert response.status_code == 202, response.text
    scene_id = response.json()["stream_id"]
    scene = _wait_for_scene(system_url, scene_id)
    assert (scene["start_time_seconds"], scene["end_time_seconds"]) == (5025, 5090)
    listed = httpx.get(f"{system_url}/movies/{movie}/scenes", headers=_auth()).json()
    assert [s["id"] for s in listed] == [scene_id]


def test_http_invalid_time_is_422_naming_the_field(system_url: str) -> None:
    response = httpx.post(
        f"{system_url}/scenes",
        json={"movie_id": str(uuid4()), "start": "0175", "end": "+5", "classification": "L2"},
        headers=_auth(),
    )
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "start"]
    assert "seconds must be below 60" in detail["msg"]


def test_http_malformed_body_is_422(system_url: str) -> None:
    response = httpx.post(
        f"{system_url}/scenes", json={"movie_id": "not-a-uuid", "start": "1"}, headers=_auth()
    )
    assert response.status_code == 422
    fields = {tuple(d["loc"]) for d in response.json()["detail"]}
    assert ("body", "movie_id") in fields


def test_http_stale_version_is_409(system_url: str) -> None:
    created = httpx.post(
        f"{system_url}/scenes",
        json={"movie_id": _movie(system_url), "start": "10", "end": "20", "classification": "S1"},
        headers=_auth(),
    ).json()
    scene_id = created["stream_id"]
    assert (
        httpx.put(
            f"{system_url}/scenes/{scene_id}/time", json={"start": "11", "end": "21"}, headers=_auth()
        ).status_code
        == 202
    )
    stale = httpx.put(
        f"{system_url}/scenes/{scene_id}/classification",
        json={"classification": "A1", "expected_version": 1},
        headers=_auth(),
    )
    assert stale.status_code == 409


def test_http_unknown_scene_is_404(system_url: str) -> None:
    assert httpx.get(f"{system_url}/scenes/{uuid4()}", headers=_auth()).status_code == 404
    assert httpx.delete(f"{system_url}/scenes/{uuid4()}", headers=_auth()).status_code == 404


def test_http_retry_with_same_idempotency_key_applies_once(system_url: str) -> None:
    created = httpx.post(
        f"{system_url}/scenes",
        json={"movie_id": _movie(system_url), "start": "10", "end": "20", "classification": "S1"},
        headers=_auth(),
    ).json()
    key = str(uuid4())
    first = httpx.put(
        f"{system_url}/scenes/{created['stream_id']}/time",
        json={"start": "30", "end": "40"},
        headers=_auth(**{"Idempotency-Key": key}),
    ).json()
    again = httpx.put(
        f"{system_url}/scenes/{created['stream_id']}/time",
        json={"start": "30", "end": "40"},
        headers=_auth(**{"Idempotency-Key": key}),
    ).json()
    assert again["duplicate"] is True
    assert again["stream_version"] == first["stream_version"] == 2


def test_cli_create_is_projected(system_url: str, settings: Settings) -> None:
    movie = _movie(system_url)
    done = _cli(
        settings, "scenes", "create", "--movie", movie, "--start", "1:00:00", "--end", "+30", "--class", "R2"
    )
    assert done.returncode == 0, done.stderr
    scene_id = json.loads(done.stdout)["stream_id"]
    scene = _wait_for_scene(system_url, scene_id)
    assert scene["level2_classification"] == "R2"
    shown = _cli(settings, "scenes", "get", scene_id)
    assert json.loads(shown.stdout)["start_time_seconds"] == 3600


def test_cli_invalid_input_exits_2_naming_the_field(settings: Settings) -> None:
    done = _cli(
        settings, "scenes", "create", "--movie", str(uuid4()), "--start", "5", "--end", "+5", "--class", "L"
    )
    assert done.returncode == 2
    assert "classification:" in done.stderr
    assert "level 2" in done.stderr


def test_cli_bad_uuid_exits_2(settings: Settings) -> None:
    done = _cli(
        settings, "scenes", "create", "--movie", "nope", "--start", "5", "--end", "6", "--class", "L2"
    )
    assert done.returncode == 2


def test_http_scene_of_an_unknown_movie_is_422(system_url: str) -> None:
    response = httpx.post(
        f"{system_url}/scenes",
        json={"movie_id": str(uuid4()), "start": "10", "end": "20", "classification": "S1"},
        headers=_auth(),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "movie_id"]


def test_http_cast_and_dialogue_show_on_the_scene(system_url: str) -> None:
    movie, actor = _movie(system_url), _actor(system_url)
    scene_id = httpx.post(
        f"{system_url}/scenes",
        json={"movie_id": movie, "start": "10", "end": "+100", "classification": "R1"},
        headers=_auth(),
    ).json()["stream_id"]
    cast = httpx.post(
        f"{system_url}/scenes/{scene_id}/actors",
        json={"actor_id": actor, "role_type": "primary"},
        headers=_auth(),
    )
    assert cast.status_code == 202, cast.text
    line = httpx.post(
        f"{system_url}/scenes/{scene_id}/dialogues",
        json={"actor_id": actor, "dialogue_text": "未来で待ってる", "is_memorable_quote": True},
        headers=_auth(),
    )
    assert line.status_code == 202, line.text
    scene = _wait_for_scene(system_url, scene_id, version=3)
    actors, dialogues = scene["actors"], scene["dialogues"]
    assert isinstance(actors, list)
    assert isinstance(dialogues, list)
    assert [a["actor_id"] for a in actors] == [actor]
    assert [d["dialogue_text"] for d in dialogues] == ["未来で待ってる"]
    stats = httpx.get(f"{system_url}/movies/{movie}/scene-stats", headers=_auth()).json()
    assert (stats["total_scenes"], stats["memorable_quotes_count"]) == (1, 1)


def test_openapi_document_is_served(system_url: str) -> None:
    spec = httpx.get(f"{system_url}/openapi.json", headers=_auth()).json()
    assert {
        "/scenes",
        "/scenes/{scene_id}",
        "/movies/{movie_id}/scenes",
        "/scenes/{scene_id}/actors",
        "/scenes/{scene_id}/dialogues",
        "/movies/{movie_id}/scene-stats",
        "/parallel-groups",
        "/movies/{movie_id}/parallel-groups",
    } <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/scenes/{scene_id}/time"]["put"]["parameters"]}
    assert "Idempotency-Key" in params


def test_cli_registers_a_movie_then_a_scene_on_it(system_url: str, settings: Settings) -> None:
    registered = _cli(settings, "movies", "register", "--title", "七人の侍", "--year", "1954")
    assert registered.returncode == 0, registered.stderr
    movie = json.loads(registered.stdout)["stream_id"]
    done = _cli(
        settings, "scenes", "create", "--movie", movie, "--start", "012345", "--end", "+105", "--class", "A1"
    )
    assert done.returncode == 0, done.stderr
    scene = _wait_for_scene(system_url, json.loads(done.stdout)["stream_id"])
    assert (scene["start_time_seconds"], scene["end_time_seconds"]) == (5025, 5090)


def test_cli_scene_of_an_unknown_movie_exits_2_naming_the_field(settings: Settings) -> None:
    done = _cli(
        settings, "scenes", "create", "--movie", str(uuid4()), "--start", "5", "--end", "+5", "--class", "L2"
    )
    assert done.returncode == 2
    assert "movie_id:" in done.stderr


def test_schema_driven_fuzzing_finds_no_server_error(system_url: str) -> None:
    # Bounded and seeded, so the run is repeatable; every operation of the OpenAPI document.
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{system_url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--phases",
            "examples,fuzzing",
            "--seed",
            "20261126",
            "--workers",
            "2",
            # Under a loaded CI machine a slow response is not what this test is about.
            "--request-timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = "\n".join(
        line for line in done.stdout.splitlines() if not line.startswith(("  - ", "💡", "No links"))
    )[-12000:]
    # The check is "no server error" (ST101). A request the fuzzer itself could not complete (a
    # "Runtime Error", e.g. a client-side timeout on a loaded machine) is not a server error,
    # but the server must still be up and answering afterwards.
    assert "Server error" not in done.stdout, report
    assert "Test cases:" in done.stdout or "generated" in done.stdout, report
    assert httpx.get(f"{system_url}/health", timeout=10).status_code == 200
