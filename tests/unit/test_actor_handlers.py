from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest

from commands.actor import (
    AddFilmographyEntry,
    CastCharacter,
    RegisterActor,
    RelateActors,
    RemoveActor,
    RemoveFilmographyEntry,
    ReviseActorProfile,
    ReviseFilmographyEntry,
    UncastCharacter,
    UnrelateActors,
)
from commands.actor_handlers import ACTOR_HANDLERS
from commands.base import HandlerDeps
from commands.errors import InvalidCommandError, StreamNotFoundError, UniqueKeyTakenError
from commands.handlers import CommandBus
from events.actor import ActorsRelated, ActorsUnrelated, FilmographyEntryAdded
from events.base import EventMetadata
from events.movie import MovieRegistered, MovieRemoved
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit

BIRTH = date(1980, 4, 1)


def _bus() -> tuple[CommandBus, InMemoryEventStore]:
    store = InMemoryEventStore()
    return CommandBus(HandlerDeps(event_store=store), ACTOR_HANDLERS), store


async def _movie(store: InMemoryEventStore, *, removed: bool = False) -> UUID:
    movie_id = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title="x")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    if removed:
        await store.append(
            [MovieRemoved(stream_id=movie_id, stream_version=2)], expected_version=1, metadata=EventMetadata()
        )
    return movie_id


async def _actor(bus: CommandBus, name: str = "山田太郎", birth_date: date | None = BIRTH) -> UUID:
    result = await bus.dispatch(RegisterActor(name=name, birth_date=birth_date))
    return result.stream_id


# --- uniqueness of name + birth date ---


async def test_same_name_and_birth_date_is_taken() -> None:
    bus, store = _bus()
    await _actor(bus)
    twin = RegisterActor(name="山田太郎", birth_date=BIRTH)
    with pytest.raises(UniqueKeyTakenError):
        await bus.dispatch(twin)
    assert await store.read_stream(twin.actor_id) == []


async def test_same_name_without_birth_dates_is_allowed() -> None:
    bus, _ = _bus()
    first = await _actor(bus, birth_date=None)
    second = await _actor(bus, birth_date=None)
    assert first != second


async def test_same_name_with_other_birth_date_is_allowed() -> None:
    bus, _ = _bus()
    await _actor(bus)
    assert await _actor(bus, birth_date=date(1990, 1, 1))


async def test_renamed_actor_frees_the_old_key() -> None:
    bus, _ = _bus()
    first = await _actor(bus)
    await bus.dispatch(ReviseActorProfile(actor_id=first, name="山田花子"))
    assert await _actor(bus)


async def test_removed_actor_frees_the_key() -> None:
    bus, _ = _bus()
    first = await _actor(bus)
    await bus.dispatch(RemoveActor(actor_id=first))
    assert await _actor(bus)


async def test_revising_into_a_taken_key_is_rejected() -> None:
    bus, store = _bus()
    await _actor(bus)
    other = await _actor(bus, name="山田次郎")
    with pytest.raises(UniqueKeyTakenError):
        await bus.dispatch(ReviseActorProfile(actor_id=other, name="山田太郎"))
    assert len(await store.read_stream(other)) == 1


async def test_command_on_a_missing_actor_is_not_found() -> None:
    bus, _ = _bus()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(RemoveActor(actor_id=uuid4()))
    assert (err.value.field, err.value.referenced) == ("actor_id", False)


# --- filmography needs a live movie ---


async def test_filmography_entry_for_a_registered_movie_is_added() -> None:
    bus, store = _bus()
    actor, movie = await _actor(bus), await _movie(store)
    await bus.dispatch(AddFilmographyEntry(actor_id=actor, movie_id=movie, role_type="lead"))
    events = [r.event for r in await store.read_stream(actor)]
    assert isinstance(events[-1], FilmographyEntryAdded)
    assert events[-1].movie_id == movie


async def test_filmography_entry_for_an_unknown_movie_is_rejected() -> None:
    bus, store = _bus()
    actor = await _actor(bus)
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(AddFilmographyEntry(actor_id=actor, movie_id=uuid4()))
    assert (err.value.field, err.value.referenced) == ("movie_id", True)
    assert len(await store.read_stream(actor)) == 1


async def test_filmography_entry_for_a_removed_movie_is_rejected() -> None:
    bus, store = _bus()
    actor, movie = await _actor(bus), await _movie(store, removed=True)
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(AddFilmographyEntry(actor_id=actor, movie_id=movie))


async def test_entry_of_a_removed_movie_can_still_be_revised_and_removed() -> None:
    bus, store = _bus()
    actor, movie = await _actor(bus), await _movie(store)
    await bus.dispatch(AddFilmographyEntry(actor_id=actor, movie_id=movie))
    await store.append(
        [MovieRemoved(stream_id=movie, stream_version=2)], expected_version=1, metadata=EventMetadata()
    )
    await bus.dispatch(ReviseFilmographyEntry(actor_id=actor, movie_id=movie, billing_order=3))
    result = await bus.dispatch(RemoveFilmographyEntry(actor_id=actor, movie_id=movie))
    assert result.stream_version == 4


async def test_casting_in_an_unknown_movie_is_rejected() -> None:
    bus, _ = _bus()
    actor = await _actor(bus)
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(CastCharacter(actor_id=actor, movie_id=uuid4(), character_name="X"))
    assert err.value.referenced


async def test_cast_and_uncast_a_character() -> None:
    bus, store = _bus()
    actor, movie = await _actor(bus), await _movie(store)
    await bus.dispatch(AddFilmographyEntry(actor_id=actor, movie_id=movie))
    cast = CastCharacter(actor_id=actor, movie_id=movie, character_name="X")
    await bus.dispatch(cast)
    result = await bus.dispatch(UncastCharacter(actor_id=actor, role_id=cast.role_id))
    assert result.stream_version == 4


# --- relationships ---


async def test_relating_to_an_unknown_actor_is_rejected() -> None:
    bus, store = _bus()
    actor = await _actor(bus)
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(RelateActors(actor_id=actor, related_actor_id=uuid4(), relation_type="rival"))
    assert (err.value.field, err.value.referenced) == ("related_actor_id", True)
    assert len(await store.read_stream(actor)) == 1


async def test_relating_to_a_removed_actor_is_rejected() -> None:
    bus, _ = _bus()
    actor, other = await _actor(bus), await _actor(bus, name="B")
    await bus.dispatch(RemoveActor(actor_id=other))
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(RelateActors(actor_id=actor, related_actor_id=other, relation_type="rival"))


async def test_relating_to_oneself_is_invalid() -> None:
    bus, _ = _bus()
    actor = await _actor(bus)
    with pytest.raises(InvalidCommandError):
        await bus.dispatch(RelateActors(actor_id=actor, related_actor_id=actor, relation_type="rival"))


async def test_the_reverse_pair_of_the_same_type_is_taken() -> None:
    bus, store = _bus()
    a, b = await _actor(bus, name="A"), await _actor(bus, name="B")
    await bus.dispatch(RelateActors(actor_id=a, related_actor_id=b, relation_type="spouse"))
    with pytest.raises(UniqueKeyTakenError):
        await bus.dispatch(RelateActors(actor_id=b, related_actor_id=a, relation_type="spouse"))
    assert len(await store.read_stream(b)) == 1


async def test_the_reverse_pair_of_another_type_is_allowed() -> None:
    bus, _ = _bus()
    a, b = await _actor(bus, name="A"), await _actor(bus, name="B")
    await bus.dispatch(RelateActors(actor_id=a, related_actor_id=b, relation_type="mentor"))
    result = await bus.dispatch(RelateActors(actor_id=b, related_actor_id=a, relation_type="rival"))
    assert result.stream_id == b


async def test_unrelate_from_the_other_side_writes_on_the_recording_stream() -> None:
    bus, store = _bus()
    a, b = await _actor(bus, name="A"), await _actor(bus, name="B")
    await bus.dispatch(RelateActors(actor_id=a, related_actor_id=b, relation_type="sibling"))
    result = await bus.dispatch(UnrelateActors(actor_id=b, related_actor_id=a, relation_type="sibling"))
    assert result.stream_id == a
    [*_, last] = [r.event for r in await store.read_stream(a)]
    assert isinstance(last, ActorsUnrelated)
    assert last.related_actor_id == b


async def test_unrelated_pair_can_be_related_again_from_the_other_side() -> None:
    bus, store = _bus()
    a, b = await _actor(bus, name="A"), await _actor(bus, name="B")
    await bus.dispatch(RelateActors(actor_id=a, related_actor_id=b, relation_type="spouse"))
    await bus.dispatch(UnrelateActors(actor_id=a, related_actor_id=b, relation_type="spouse"))
    await bus.dispatch(RelateActors(actor_id=b, related_actor_id=a, relation_type="spouse"))
    [*_, last] = [r.event for r in await store.read_stream(b)]
    assert isinstance(last, ActorsRelated)


async def test_unrelate_an_unknown_relationship_is_not_found() -> None:
    bus, _ = _bus()
    a, b = await _actor(bus, name="A"), await _actor(bus, name="B")
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(UnrelateActors(actor_id=a, related_actor_id=b, relation_type="rival"))
    assert err.value.field == "related_actor_id"


async def test_unrelate_by_a_missing_actor_is_not_found() -> None:
    bus, _ = _bus()
    b = await _actor(bus, name="B")
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(UnrelateActors(actor_id=uuid4(), related_actor_id=b, relation_type="rival"))
    assert err.value.field == "actor_id"


async def test_removing_an_actor_frees_the_pairs_it_recorded() -> None:
    bus, store = _bus()
    a, b = await _actor(bus, name="A"), await _actor(bus, name="B")
    await bus.dispatch(RelateActors(actor_id=a, related_actor_id=b, relation_type="rival"))
    await bus.dispatch(RemoveActor(actor_id=a))
    claims = {key for key, owner in store._claims.items() if owner == a}
    assert claims == set()
