"""Sealing personal fields for the log and opening them again, with and without the person's key."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

import pytest

from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.user import (
    ERASED_EMAIL,
    ERASED_PASSWORD_HASH,
    SceneInteractionRecorded,
    UserErased,
    UserProfileUpdated,
    UserRegistered,
)
from infra import pii
from infra.cloudevents import event_headers
from infra.services import build_registry

pytestmark = pytest.mark.unit

EMAIL = "hanako.yamada@example.jp"
NAME = "山田花子"
HASH = "scrypt$16384$8$1$c2FsdA==$aGFzaA=="


class FakeKeys:
    """An in-memory key store: keys by subject, ``None`` for an erased subject."""

    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}
        self.lookups = 0

    async def for_sealing(self, subjects: Iterable[UUID]) -> dict[UUID, bytes]:
        found: dict[UUID, bytes] = {}
        for subject in subjects:
            key = self.keys.setdefault(subject, secrets.token_bytes(pii.KEY_BYTES))
            if key is None:
                raise pii.PersonalDataErasedError(subject)
            found[subject] = key
        return found

    async def for_opening(self, subjects: Iterable[UUID]) -> dict[UUID, bytes | None]:
        self.lookups += 1
        return {s: self.keys[s] for s in subjects if s in self.keys}


def _registered(user_id: UUID | None = None) -> UserRegistered:
    return UserRegistered(
        stream_id=user_id or uuid4(),
        stream_version=1,
        email=EMAIL,
        password_hash=HASH,
        display_name=NAME,
        avatar_url="https://example.jp/hanako.png",
    )


def _load(event: DomainEvent, payload: dict[str, Any]) -> DomainEvent:
    return build_registry().load(
        event_type=event.event_type,
        schema_version=event.schema_version,
        payload=payload,
        event_id=event.event_id,
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        occurred_at=event.occurred_at,
    )


def _open(event: DomainEvent, stored: dict[str, Any], keys: dict[UUID, bytes | None]) -> dict[str, Any]:
    return pii.open_payload(
        stored,
        event_id=event.event_id,
        event_type=event.event_type,
        keys=keys,
        erased_values=pii.personal_fields(type(event)),
    )


def test_sealed_payload_holds_no_personal_field_in_clear() -> None:
    event = _registered()
    stored = json.dumps(pii.seal(event, secrets.token_bytes(32)), ensure_ascii=False)
    assert EMAIL not in stored
    assert NAME not in stored
    assert "example.jp/hanako" not in stored
    assert "scrypt$" not in stored


def test_non_personal_fields_stay_readable_in_the_log() -> None:
    stored = pii.seal(_registered(), secrets.token_bytes(32))
    assert stored["role"] == "viewer"
    assert stored["language"] == "ja"


def test_sealed_event_opens_back_to_the_same_event() -> None:
    event = _registered()
    key = secrets.token_bytes(32)
    stored = pii.seal(event, key)
    assert _load(event, _open(event, stored, {event.stream_id: key})) == event


def test_sealing_twice_gives_different_ciphertexts() -> None:
    event = _registered()
    key = secrets.token_bytes(32)
    assert pii.seal(event, key)[pii.SEALED]["data"] != pii.seal(event, key)[pii.SEALED]["data"]


def test_without_the_key_a_sign_up_reads_as_erased() -> None:
    event = _registered()
    stored = pii.seal(event, secrets.token_bytes(32))
    loaded = _load(event, _open(event, stored, {}))
    assert isinstance(loaded, UserRegistered)
    assert loaded.email == ERASED_EMAIL
    assert loaded.password_hash == ERASED_PASSWORD_HASH
    assert loaded.display_name is None
    assert loaded.avatar_url is None
    assert loaded.role == "viewer"


def test_a_deleted_key_reads_as_erased_like_a_missing_one() -> None:
    event = _registered()
    stored = pii.seal(event, secrets.token_bytes(32))
    assert _open(event, stored, {event.stream_id: None})["email"] == ERASED_EMAIL


def test_without_the_key_every_profile_field_reads_as_erased() -> None:
    event = UserProfileUpdated(
        stream_id=uuid4(),
        stream_version=2,
        display_name=NAME,
        bio="京都生まれ",
        birth_year=1990,
        country="JP",
    )
    loaded = _load(event, _open(event, pii.seal(event, secrets.token_bytes(32)), {}))
    assert isinstance(loaded, UserProfileUpdated)
    assert (loaded.display_name, loaded.bio, loaded.birth_year, loaded.country) == (None, None, None, None)


def test_without_the_key_interaction_metadata_reads_as_empty() -> None:
    event = SceneInteractionRecorded(
        stream_id=uuid4(),
        stream_version=2,
        interaction_id=uuid4(),
        scene_id=uuid4(),
        interaction_type="comment",
        metadata={"text": "最高のシーン"},
    )
    loaded = _load(event, _open(event, pii.seal(event, secrets.token_bytes(32)), {}))
    assert isinstance(loaded, SceneInteractionRecorded)
    assert loaded.metadata == {}


def test_a_tampered_block_does_not_open() -> None:
    event = _registered()
    key = secrets.token_bytes(32)
    stored = pii.seal(event, key)
    raw = bytearray(base64.b64decode(stored[pii.SEALED]["data"]))
    raw[-1] ^= 1
    stored[pii.SEALED] = {**stored[pii.SEALED], "data": base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(pii.SealedPayloadError):
        _open(event, stored, {event.stream_id: key})


def test_a_block_moved_to_another_event_does_not_open() -> None:
    user_id = uuid4()
    key = secrets.token_bytes(32)
    original = _registered(user_id)
    other = original.model_copy(update={"event_id": uuid4()})
    with pytest.raises(pii.SealedPayloadError):
        _open(other, pii.seal(original, key), {user_id: key})


def test_another_persons_key_does_not_open_a_block() -> None:
    event = _registered()
    stored = pii.seal(event, secrets.token_bytes(32))
    with pytest.raises(pii.SealedPayloadError):
        _open(event, stored, {event.stream_id: secrets.token_bytes(32)})


def test_an_erasing_event_is_marked_for_the_key_to_be_shredded() -> None:
    event = UserErased(stream_id=uuid4(), stream_version=3)
    stored = pii.seal(event, None)
    assert stored[pii.SHRED] == str(event.stream_id)
    assert _load(event, _open(event, stored, {})) == event


def test_an_event_without_personal_data_is_stored_as_it_is() -> None:
    event = MovieRegistered(stream_id=uuid4(), stream_version=1, title="千と千尋の神隠し")
    assert pii.seal(event, None) == event.payload()
    assert pii.subject_of(event) is None


async def test_sealing_a_batch_looks_keys_up_only_for_personal_events() -> None:
    keys = FakeKeys()
    movie = MovieRegistered(stream_id=uuid4(), stream_version=1, title="x")
    payloads = await pii.seal_events(keys, [movie])
    assert payloads == [movie.payload()]
    assert keys.keys == {}


async def test_sealing_for_an_erased_person_is_refused() -> None:
    keys = FakeKeys()
    event = _registered()
    keys.keys[event.stream_id] = None
    with pytest.raises(pii.PersonalDataErasedError):
        await pii.seal_events(keys, [event])


async def test_kafka_values_open_with_the_key_and_read_erased_without() -> None:
    keys = FakeKeys()
    event = _registered()
    [stored] = await pii.seal_events(keys, [event])
    headers = event_headers(
        event_id=event.event_id,
        stream_type="user",
        event_type=event.event_type,
        schema_version=1,
        stream_id=event.stream_id,
        stream_version=1,
        position=1,
        occurred_at=event.occurred_at,
        metadata=EventMetadata(),
    )
    value = json.dumps(stored).encode()
    [opened] = await pii.open_values(keys, [(headers, value)], build_registry())
    assert json.loads(opened)["email"] == EMAIL
    keys.keys[event.stream_id] = None
    [erased] = await pii.open_values(keys, [(headers, value)], build_registry())
    assert json.loads(erased)["email"] == ERASED_EMAIL


async def test_kafka_values_without_sealed_data_need_no_key_lookup() -> None:
    keys = FakeKeys()
    value = b'{"title": "x"}'
    assert await pii.open_values(keys, [((), value)], build_registry()) == [value]
    assert keys.lookups == 0
