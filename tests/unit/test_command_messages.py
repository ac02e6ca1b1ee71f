from __future__ import annotations

import json
from uuid import uuid4

import pytest

from commands.scene import CreateScene
from commands.scene_handlers import SCENE_HANDLERS
from infra.workers import CommandMessageError, parse_command_message

pytestmark = pytest.mark.unit

TYPES = {cls.__name__: cls for cls in SCENE_HANDLERS}


def test_valid_message_becomes_its_command_and_metadata() -> None:
    user = uuid4()
    body = {
        "type": "CreateScene",
        "data": {"movie_id": str(uuid4()), "start": "5", "end": "+5", "classification": "L2"},
        "metadata": {"user_id": str(user)},
    }
    cmd, meta = parse_command_message(json.dumps(body).encode(), TYPES)
    assert isinstance(cmd, CreateScene)
    assert meta.user_id == user


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (b"\xff not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"type": "LaunchRocket", "data": {}}', "type"),
        (b'{"type": "CreateScene", "data": {"start": "5"}}', "movie_id"),
        (
            (
                b'{"type": "CreateScene", "data": '
                b'{"movie_id": "x", "start": "5", "end": "6", "classification": "L2"}}'
            ),
            "movie_id",
        ),
        (
            b'{"type": "DeleteScene", "data": {"scene_id": "%s"}, "metadata": {"user_id": 5}}'
            % str(uuid4()).encode(),
            "user_id",
        ),
    ],
)
def test_bad_message_names_the_field(value: bytes, field: str) -> None:
    with pytest.raises(CommandMessageError) as err:
        parse_command_message(value, TYPES)
    assert err.value.field == field
